//! Issue comments: list an issue's (`GET /repos/{o}/{r}/issues/{n}/comments`), list the
//! repository's changed since a time (`GET /repos/{o}/{r}/issues/comments?since=`), post one
//! (`POST /issues/{n}/comments`), edit one (`PATCH /issues/comments/{id}`) and delete one
//! (`DELETE /issues/comments/{id}`).
//!
//! Each comment is read into the shared [`Comment`]: `remote_id` is the comment's id, the
//! author is the GitHub login (`remote_id` its numeric user id, no e-mail), the body is
//! GitHub's Markdown as it is, `own` says the token's user wrote it (its login read once
//! per connector, `GET /user`; for a GitHub App's installation token, which is no user,
//! the App's bot as the first comment the connector posts names it: [`Me`]), and `edited`
//! that `updated_at` differs from `created_at` (GitHub's whole seconds: an edit within the
//! second of the post does not show).
//!
//! Request budget:
//! - listings are conditional GETs through the connector's `ETag` cache, one per page of
//!   100, following `Link`: an unchanged listing costs `304`s, which GitHub does not count
//!   against the rate limit. [`changed_since`] asks with the same `since` until something
//!   changes (its [`CommentFeed::cursor`]), so an idle poll is one `304`.
//! - post, edit and delete go through the connector's [`Pacer`](crate::pacer::Pacer),
//!   serial and spaced like every issue write; a post is content creation and also takes a
//!   slot of the creation budget (postponed beyond it, like a new issue).
//!
//! Only the author may change a comment as far as the bridge is concerned (the contract:
//! others' comments are read-only), even where GitHub would let a maintainer: [`edit`]
//! and [`delete`] refuse someone else's comment before sending anything, and GitHub's own
//! `403` (a token user without write access) or `404` (the comment is gone) is the
//! backstop.

use asana_bridge_connector::http::{Idempotency, Request};
use asana_bridge_connector::{Author, Comment, ConnectorError};
use jiff::Timestamp;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tracing::debug;

use crate::GithubConnector;
use crate::connector::PAGE_SIZE;
use crate::limits::MAX_BODY_CHARS;
use crate::links;

/// A comment on one of the repository's issues: the issue's number beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueComment {
    /// The number of the issue (or pull request) it is on.
    pub issue: u64,
    /// When it was last changed (its post, or its latest edit), whole seconds.
    pub updated_at: Timestamp,
    /// The comment itself.
    pub comment: Comment,
}

/// What [`changed_since`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommentFeed {
    /// The comments updated at or after the `since` asked, oldest change first. GitHub
    /// lists comments on pull requests here too; a caller keeps those of issues it knows.
    pub comments: Vec<IssueComment>,
    /// The `since` to ask next time: the latest `updated_at` listed (or the `since` asked
    /// when nothing was). It moves only when something changed, so that an idle poll asks
    /// the same URL and costs a `304`; the comments updated in that second are listed
    /// again (GitHub's `since` is inclusive), to be recognised by id and `updated_at`.
    pub cursor: Option<Timestamp>,
}

/// An `issue-comment`, as far as the bridge reads it.
#[derive(Debug, Deserialize)]
struct WireComment {
    id: u64,
    /// Absent for an empty comment.
    #[serde(default)]
    body: Option<String>,
    /// `null` for a deleted account (GitHub shows it as `ghost`).
    #[serde(default)]
    user: Option<WireUser>,
    created_at: String,
    updated_at: String,
    /// `https://api.github.com/repos/{o}/{r}/issues/{n}`.
    issue_url: String,
}

/// A `simple-user`, as far as the bridge reads it.
#[derive(Debug, Deserialize)]
struct WireUser {
    login: String,
    id: u64,
}

/// The login GitHub shows for a deleted account.
const GHOST: &str = "ghost";

fn decode(message: String) -> ConnectorError {
    ConnectorError::Decode {
        service: "github",
        message,
    }
}

fn timestamp(comment: u64, field: &str, raw: &str) -> Result<Timestamp, ConnectorError> {
    raw.parse()
        .map_err(|e| decode(format!("comment {comment}: {field} {raw:?}: {e}")))
}

/// The issue number at the end of an `issue_url`.
fn issue_of(comment: u64, issue_url: &str) -> Result<u64, ConnectorError> {
    issue_url
        .trim_end_matches('/')
        .rsplit_once("/issues/")
        .and_then(|(_, n)| n.parse().ok())
        .ok_or_else(|| decode(format!("comment {comment}: issue_url {issue_url:?}")))
}

fn read(wire: WireComment, me: Option<&str>) -> Result<IssueComment, ConnectorError> {
    let created_at = timestamp(wire.id, "created_at", &wire.created_at)?;
    let updated_at = timestamp(wire.id, "updated_at", &wire.updated_at)?;
    let issue = issue_of(wire.id, &wire.issue_url)?;
    let author = match wire.user {
        Some(user) => Author {
            remote_id: user.id.to_string(),
            name: user.login,
            email: None,
        },
        None => Author {
            remote_id: String::new(),
            name: GHOST.to_owned(),
            email: None,
        },
    };
    Ok(IssueComment {
        issue,
        updated_at,
        comment: Comment {
            remote_id: wire.id.to_string(),
            own: is_me(me, &author),
            author,
            created_at,
            body: wire.body.unwrap_or_default(),
            edited: updated_at != created_at,
        },
    })
}

/// Whether `author` is the token's user `me` (nobody's when unknown). Logins compare
/// ignoring case, as GitHub's do; a deleted account is nobody's.
fn is_me(me: Option<&str>, author: &Author) -> bool {
    !author.remote_id.is_empty() && me.is_some_and(|me| author.name.eq_ignore_ascii_case(me))
}

/// Who the token's user is, as far as comments need it: the login `GET /user` names, read
/// once per connector; for a GitHub App's installation token, which `/user` refuses
/// (`403`), the author of the first comment this connector posts (until then no comment is
/// read as its own).
#[derive(Debug, Default)]
pub struct Me {
    /// `GET /user`'s login; `None` when the token is no user (an App).
    asked: tokio::sync::OnceCell<Option<String>>,
    /// The author of a comment this connector posted, when `/user` named nobody.
    posted_as: std::sync::Mutex<Option<String>>,
}

impl Me {
    fn posted_as(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        // One `Option` assigned at once: consistent whatever panicked.
        self.posted_as
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers `login` as the App's own, when `/user` named nobody.
    fn learn(&self, login: &str) {
        if matches!(self.asked.get(), Some(None)) {
            self.posted_as().get_or_insert_with(|| login.to_owned());
        }
    }
}

/// The token's login, if known (see [`Me`]).
async fn me(c: &GithubConnector) -> Result<Option<String>, ConnectorError> {
    #[derive(Deserialize)]
    struct User {
        login: String,
    }
    let asked = c
        .me
        .asked
        .get_or_try_init(|| async {
            match c.http().send(Request::get("/user")).await {
                Ok(response) => Ok(Some(response.json::<User>()?.login)),
                Err(ConnectorError::Forbidden(message)) => {
                    debug!("GET /user refused ({message}): an App's token; its comments are known once it posts one");
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok(asked.clone().or_else(|| c.me.posted_as().clone()))
}

/// Every comment of every page from `url` (following `Link`), each through the `ETag`
/// cache; saves the cache at the end.
async fn walk(
    c: &GithubConnector,
    url: String,
    mine: bool,
) -> Result<Vec<IssueComment>, ConnectorError> {
    // Who "we" are costs a request (`GET /user`, once per connector): asked only when
    // the caller needs `own`.
    let me = if mine { me(c).await? } else { None };
    let mut out = Vec::new();
    let mut next = Some(url);
    while let Some(current) = next.take() {
        let fetched = c.fetch(&current).await?;
        let page: Vec<WireComment> = serde_json::from_str(&fetched.body)
            .map_err(|e| decode(format!("GET {current}: not a comment list: {e}")))?;
        for wire in page {
            out.push(read(wire, me.as_deref())?);
        }
        next = fetched.link.as_deref().and_then(links::next);
    }
    c.cache.save();
    Ok(out)
}

/// The comments on issue `issue`, oldest first, every page read.
///
/// # Errors
/// `NotFound` when there is no such issue, `Api` with status `410` when it was deleted
/// (or `301` when it moved, if the HTTP layer does not follow it), or any transport error.
pub async fn list(c: &GithubConnector, issue: u64) -> Result<Vec<Comment>, ConnectorError> {
    let url = format!(
        "{}/issues/{issue}/comments?per_page={PAGE_SIZE}",
        c.repo_path()
    );
    Ok(walk(c, url, true)
        .await?
        .into_iter()
        .map(|found| found.comment)
        .collect())
}

/// The repository's comments updated at or after `since` (all of them for `None`), oldest
/// change first, in one paged request sequence (`sort=updated&direction=asc`), and the
/// cursor to pass next time ([`CommentFeed::cursor`]). A comment deleted meanwhile is not
/// listed: deletions do not show here. Its comments' `own` is not asked (always `false`):
/// the listing tells what changed, not whose it is.
///
/// # Errors
/// Any transport error.
pub async fn changed_since(
    c: &GithubConnector,
    since: Option<Timestamp>,
) -> Result<CommentFeed, ConnectorError> {
    let mut url = format!(
        "{}/issues/comments?sort=updated&direction=asc&per_page={PAGE_SIZE}",
        c.repo_path()
    );
    if let Some(since) = since {
        // GitHub's form, `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, as its timestamps are).
        url.push_str(&format!("&since={}", since.strftime("%Y-%m-%dT%H:%M:%SZ")));
    }
    let comments = walk(c, url, false).await?;
    let cursor = comments.iter().map(|f| f.updated_at).max().or(since);
    Ok(CommentFeed { comments, cursor })
}

/// `InvalidData` for a body GitHub would refuse (empty, or over 65,536 characters).
fn check_body(body: &str) -> Result<(), ConnectorError> {
    if body.trim().is_empty() {
        return Err(ConnectorError::InvalidData(
            "a GitHub comment cannot be empty".to_owned(),
        ));
    }
    let n = body.chars().count();
    if n > MAX_BODY_CHARS {
        return Err(ConnectorError::InvalidData(format!(
            "comment is too long for GitHub ({n} characters; at most {MAX_BODY_CHARS})"
        )));
    }
    Ok(())
}

/// The comment id of `comment`, checked to be one.
fn comment_id(comment: &Comment) -> Result<u64, ConnectorError> {
    comment.remote_id.parse().map_err(|_| {
        ConnectorError::InvalidData(format!(
            "{:?} is not a GitHub comment id",
            comment.remote_id
        ))
    })
}

fn decode_comment(body: &[u8], me: Option<&str>) -> Result<IssueComment, ConnectorError> {
    let wire: WireComment =
        serde_json::from_slice(body).map_err(|e| decode(format!("not an issue comment: {e}")))?;
    read(wire, me)
}

/// Posts `body` (Markdown) on issue `issue` as the token's user. Sent once: a lost answer
/// is `Ambiguous`, never a second comment. Paced, and within the creation budget.
///
/// # Errors
/// `InvalidData` for a body GitHub would refuse (nothing sent), `Postponed` when the
/// creation budget is spent, `NotFound` when there is no such issue, `Ambiguous` when the
/// answer was lost, or any transport error.
pub async fn post(
    c: &GithubConnector,
    issue: u64,
    body: &str,
) -> Result<IssueComment, ConnectorError> {
    check_body(body)?;
    me(c).await?;
    let request = Request::post(
        format!("{}/issues/{issue}/comments", c.repo_path()),
        json!({ "body": body }),
    )
    .idempotency(Idempotency::CreateOnce);
    let response = c.post(request).await?;
    // What this connector just posted is its own, whoever GitHub names (an App's bot).
    let mut posted = decode_comment(&response.body, None)?;
    c.me.learn(&posted.comment.author.name);
    posted.comment.own = true;
    debug!(issue, comment = %posted.comment.remote_id, "posted comment");
    Ok(posted)
}

/// Replaces the text of `comment`, which the token's user must have written (checked
/// before anything is sent); returns it as GitHub now has it. Paced.
///
/// # Errors
/// `Forbidden` for someone else's comment (nothing sent; GitHub's own `403` if it
/// disagrees), `InvalidData` for a body GitHub would refuse, `NotFound` when the comment
/// is gone, or any transport error.
pub async fn edit(
    c: &GithubConnector,
    comment: &Comment,
    body: &str,
) -> Result<IssueComment, ConnectorError> {
    comment.check_own()?;
    let id = comment_id(comment)?;
    check_body(body)?;
    let me = me(c).await?;
    let request = Request::new(
        Method::PATCH,
        format!("{}/issues/comments/{id}", c.repo_path()),
    )
    .json(json!({ "body": body }))
    // A PATCH sets the text: sending it twice is sending it once.
    .idempotency(Idempotency::Safe);
    let response = c.pacer().run(c.http().send(request)).await?;
    decode_comment(&response.body, me.as_deref())
}

/// Deletes `comment`, which the token's user must have written. One already gone is not
/// an error. Paced.
///
/// # Errors
/// `Forbidden` for someone else's comment (nothing sent; GitHub's own `403` if it
/// disagrees), or any transport error but `NotFound`.
pub async fn delete(c: &GithubConnector, comment: &Comment) -> Result<(), ConnectorError> {
    comment.check_own()?;
    let id = comment_id(comment)?;
    let request = Request::delete(format!("{}/issues/comments/{id}", c.repo_path()));
    match c.pacer().run(c.http().send(request)).await {
        Ok(_) | Err(ConnectorError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(login: Option<&str>, created: &str, updated: &str) -> WireComment {
        WireComment {
            id: 7,
            body: Some("text".to_owned()),
            user: login.map(|l| WireUser {
                login: l.to_owned(),
                id: 42,
            }),
            created_at: created.to_owned(),
            updated_at: updated.to_owned(),
            issue_url: "https://api.github.com/repos/acme/app/issues/12".to_owned(),
        }
    }

    /// A comment reads into the shared model: its issue from `issue_url`, `own` by login
    /// ignoring case, `edited` when the times differ, a deleted account as `ghost`.
    #[test]
    fn reads_into_the_shared_comment() {
        let t = "2026-12-07T10:00:00Z";
        let mine = read(wire(Some("Bridge-Bot"), t, t), Some("bridge-bot")).expect("valid");
        assert_eq!(mine.issue, 12);
        assert_eq!(mine.comment.remote_id, "7");
        assert_eq!(mine.comment.author.remote_id, "42");
        assert!(mine.comment.own && !mine.comment.edited);
        let theirs = read(
            wire(Some("alice"), t, "2026-12-07T10:00:01Z"),
            Some("bridge-bot"),
        )
        .expect("valid");
        assert!(!theirs.comment.own && theirs.comment.edited);
        let ghost = read(wire(None, t, t), Some("ghost")).expect("valid");
        assert_eq!(ghost.comment.author.name, "ghost");
        assert!(!ghost.comment.own, "a deleted account is nobody's");
        let unknown = read(wire(Some("bridge-bot"), t, t), None).expect("valid");
        assert!(
            !unknown.comment.own,
            "nobody's while the token's user is unknown"
        );
        let mut bad = wire(Some("alice"), t, t);
        bad.issue_url = "https://api.github.com/repos/acme/app".to_owned();
        assert!(matches!(
            read(bad, None),
            Err(ConnectorError::Decode { .. })
        ));
    }

    /// Bodies GitHub would refuse are refused before sending.
    #[test]
    fn bodies_are_checked() {
        assert!(check_body("ok").is_ok());
        assert!(check_body(" \n").is_err());
        assert!(check_body(&"x".repeat(MAX_BODY_CHARS)).is_ok());
        assert!(check_body(&"x".repeat(MAX_BODY_CHARS + 1)).is_err());
    }
}
