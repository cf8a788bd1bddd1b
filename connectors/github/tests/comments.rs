//! The connector's issue comments against the GitHub simulator: an issue's comments over
//! several pages, the repository's changed since a cursor (an idle poll is one `304`, in
//! the same process and in the next one), post, edit and delete as the token's user,
//! someone else's comment refused before anything is sent (and GitHub's `403` behind it),
//! a deleted comment, and writes paced, waited out and kept within the creation budget.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asana_bridge_connector::http::{HttpClient, RetryPolicy};
use asana_bridge_connector::{Comment, ConnectorError, ErrorKind};
use asana_bridge_github::comments::{self, CommentFeed};
use asana_bridge_github::{GithubConnector, GithubSettings, http_config};
use github_sim::{APP_BOT, Fault, GithubSim, IssueSeed, RecordedRequest, Role};
use secrecy::SecretString;

fn settings() -> GithubSettings {
    GithubSettings::new("acme/app", "42")
        .expect("valid repo")
        .with_users(&BTreeMap::new())
}

fn connector_with(sim: &GithubSim, settings: GithubSettings) -> GithubConnector {
    let mut config = http_config(&sim.base_url(), SecretString::from(sim.token()));
    config.retry = RetryPolicy::fast(Duration::from_secs(10));
    let http = HttpClient::new(config).expect("valid config");
    GithubConnector::new(http, settings)
}

fn connector(sim: &GithubSim) -> GithubConnector {
    let mut settings = settings();
    settings.mutation_spacing = Duration::ZERO;
    connector_with(sim, settings)
}

fn issue(sim: &GithubSim, title: &str) -> u64 {
    sim.add_issue(IssueSeed {
        title: title.to_owned(),
        ..IssueSeed::default()
    })
}

/// Waits past the current whole second, so a later change gets a later timestamp.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// `METHOD path?query -> status` of each request since the last clear.
fn seen(sim: &GithubSim) -> Vec<String> {
    sim.requests()
        .iter()
        .map(|r: &RecordedRequest| {
            let query = if r.query.is_empty() {
                String::new()
            } else {
                format!("?{}", r.query)
            };
            format!("{} {}{query} -> {}", r.method, r.path, r.status)
        })
        .collect()
}

fn bodies(comments: &[Comment]) -> Vec<&str> {
    comments.iter().map(|c| c.body.as_str()).collect()
}

/// 130 comments on one issue (and one on another) come back oldest first over two pages of
/// 100, read into the shared model: the author's login as name, `own` for the token's
/// user's, nothing edited. Read again unchanged, every page is a `304` and `/user` is not
/// asked twice.
#[tokio::test]
async fn an_issues_comments_every_page_oldest_first() {
    let sim = GithubSim::start();
    let n = issue(&sim, "A");
    let other = issue(&sim, "B");
    let bot = sim.token_login();
    for i in 0..130 {
        let who = if i % 10 == 0 { bot.as_str() } else { "alice" };
        sim.add_comment(n, who, &format!("**comment** {i}"));
    }
    sim.add_comment(other, "bob", "elsewhere");
    let c = connector(&sim);

    let listed = comments::list(&c, n).await.expect("listed");
    assert_eq!(listed.len(), 130);
    assert_eq!(
        listed[0].body, "**comment** 0",
        "Markdown as GitHub keeps it"
    );
    assert_eq!(listed[129].body, "**comment** 129");
    let ids: Vec<u64> = listed
        .iter()
        .map(|c| c.remote_id.parse().expect("numeric"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert_eq!(
        sim.comments(n)
            .iter()
            .map(|s| s.id.to_string())
            .collect::<Vec<_>>(),
        listed
            .iter()
            .map(|c| c.remote_id.clone())
            .collect::<Vec<_>>()
    );
    for (i, comment) in listed.iter().enumerate() {
        let mine = i % 10 == 0;
        assert_eq!(comment.own, mine, "#{i}");
        assert_eq!(
            comment.author.name,
            if mine { bot.as_str() } else { "alice" }
        );
        assert!(!comment.author.remote_id.is_empty());
        assert_eq!(comment.author.email, None);
        assert!(!comment.edited);
    }
    let pages: Vec<String> = seen(&sim)
        .into_iter()
        .filter(|r| r.contains("/comments"))
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages.iter().all(|p| p.ends_with("-> 200")), "{pages:?}");

    sim.clear_requests();
    let again = comments::list(&c, n).await.expect("listed again");
    assert_eq!(again, listed);
    assert_eq!(
        seen(&sim)
            .iter()
            .map(|r| r.rsplit(' ').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>(),
        ["304", "304"],
        "{:?}",
        seen(&sim)
    );
    assert_eq!(
        c.http().requests_sent().get,
        2 + 2 + 1,
        "one GET /user in all"
    );
}

/// The repository's comments since a cursor: the first poll lists every comment of every
/// issue (two pages) with its issue number; an idle poll with the cursor is one `304`
/// (also from a new connector sharing the `ETag` file: the next `sync`); an edit and a new
/// comment show up on the next poll, with the cursor moved to their time.
#[tokio::test]
async fn the_repository_feed_since_a_cursor() {
    let sim = GithubSim::start();
    let a = issue(&sim, "A");
    let b = issue(&sim, "B");
    let mut ids = Vec::new();
    for i in 0..120 {
        ids.push(sim.add_comment(if i < 100 { a } else { b }, "alice", &format!("c{i}")));
    }
    // The latest change alone in its second, as changes mostly are.
    next_second().await;
    ids.push(sim.add_comment(b, "alice", "c120"));
    let dir = std::env::temp_dir().join(format!("gh-comments-feed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut shared = settings();
    shared.mutation_spacing = Duration::ZERO;
    shared.etag_cache = Some(dir.join("etags.json"));
    let c = connector_with(&sim, shared.clone());

    let first = comments::changed_since(&c, None).await.expect("feed");
    assert_eq!(first.comments.len(), 121);
    assert_eq!(
        first
            .comments
            .iter()
            .filter(|f| f.issue == b)
            .map(|f| f.comment.body.clone())
            .collect::<Vec<_>>(),
        (100..121).map(|i| format!("c{i}")).collect::<Vec<_>>()
    );
    assert!(first.comments[..100].iter().all(|f| f.issue == a));
    let cursor = first.cursor.expect("a cursor");
    assert_eq!(
        Some(cursor),
        first.comments.iter().map(|f| f.updated_at).max()
    );

    // The first poll with the cursor lists again what changed in the cursor's second
    // (GitHub's `since` is inclusive); from then on, while nothing changes, one 304.
    let boundary = comments::changed_since(&c, Some(cursor))
        .await
        .expect("boundary");
    assert_eq!(
        boundary
            .comments
            .iter()
            .map(|f| f.comment.body.as_str())
            .collect::<Vec<_>>(),
        ["c120"],
        "only the cursor's second comes again"
    );
    assert_eq!(boundary.cursor, Some(cursor));
    sim.clear_requests();
    let idle = comments::changed_since(&c, Some(cursor))
        .await
        .expect("idle");
    let requests: Vec<RecordedRequest> = sim.requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [304],
        "{:?}",
        seen(&sim)
    );
    assert!(!requests[0].counted, "free of rate limit");
    assert!(
        requests[0].query.contains("since="),
        "{}",
        requests[0].query
    );
    assert_eq!(idle, boundary, "the cursor stays while idle");

    // The next process (a new connector with the same ETag file) polls idle for free too.
    let next_run = connector_with(&sim, shared);
    sim.clear_requests();
    let idle_again = comments::changed_since(&next_run, Some(cursor))
        .await
        .expect("idle in a new process");
    assert_eq!(idle_again.comments, idle.comments);
    assert_eq!(
        sim.requests()
            .iter()
            .filter(|r| r.path.ends_with("/issues/comments"))
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [304]
    );

    next_second().await;
    sim.edit_comment(ids[3], "alice", Role::Read, "c3, edited");
    let new = sim.add_comment(b, "carol", "new");
    let changed: CommentFeed = comments::changed_since(&c, Some(cursor))
        .await
        .expect("changes");
    let fresh: Vec<(u64, String, bool)> = changed
        .comments
        .iter()
        .filter(|f| f.updated_at > cursor)
        .map(|f| (f.issue, f.comment.body.clone(), f.comment.edited))
        .collect();
    assert_eq!(
        fresh,
        vec![
            (a, "c3, edited".to_owned(), true),
            (b, "new".to_owned(), false)
        ]
    );
    assert_eq!(
        changed.comments.last().map(|f| f.comment.remote_id.clone()),
        Some(new.to_string())
    );
    assert!(changed.cursor > Some(cursor));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Post (the issue's count rises, `own`), edit (`edited` once a second has passed), delete
/// (gone from GitHub; deleting it again is not an error), each one paced request.
#[tokio::test]
async fn post_edit_and_delete_own_comments() {
    let sim = GithubSim::start();
    let n = issue(&sim, "A");
    let c = connector(&sim);

    let posted = comments::post(&c, n, "Seen on *Safari* too.")
        .await
        .expect("posted");
    assert_eq!(posted.issue, n);
    assert!(posted.comment.own);
    assert!(!posted.comment.edited);
    assert_eq!(posted.comment.author.name, sim.token_login());
    let id: u64 = posted.comment.remote_id.parse().expect("numeric");
    let on_github = sim.comment(id).expect("on GitHub");
    assert_eq!(
        (on_github.body.as_str(), on_github.api_writes),
        ("Seen on *Safari* too.", 1)
    );

    next_second().await;
    let edited = comments::edit(&c, &posted.comment, "Seen on Safari 16 too.")
        .await
        .expect("edited");
    assert!(edited.comment.edited);
    assert_eq!(edited.comment.remote_id, posted.comment.remote_id);
    assert_eq!(edited.comment.created_at, posted.comment.created_at);
    assert_eq!(
        sim.comment(id).map(|s| s.body),
        Some("Seen on Safari 16 too.".to_owned())
    );
    assert_eq!(
        bodies(&comments::list(&c, n).await.expect("listed")),
        ["Seen on Safari 16 too."]
    );

    comments::delete(&c, &edited.comment)
        .await
        .expect("deleted");
    assert!(sim.comment(id).is_none());
    comments::delete(&c, &edited.comment)
        .await
        .expect("already gone is not an error");
    assert_eq!(
        sim.writes(),
        [
            format!("POST /repos/acme/app/issues/{n}/comments"),
            format!("PATCH /repos/acme/app/issues/comments/{id}"),
            format!("DELETE /repos/acme/app/issues/comments/{id}"),
            format!("DELETE /repos/acme/app/issues/comments/{id}"),
        ]
    );

    let err = comments::edit(&c, &edited.comment, "too late")
        .await
        .expect_err("gone");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = comments::post(&c, n, "  ").await.expect_err("empty");
    assert!(matches!(err, ConnectorError::InvalidData(_)), "{err}");
    let err = comments::post(&c, 999, "x").await.expect_err("no issue");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

/// Someone else's comment is read-only: edit and delete are refused before anything is
/// sent. Behind that check, GitHub's `403` (a token user with only read access) is a
/// `Forbidden` too, and the comment stays as it was.
#[tokio::test]
async fn someone_elses_comment_is_refused() {
    let sim = GithubSim::start();
    let n = issue(&sim, "A");
    let theirs = sim.add_comment(n, "alice", "Alice's words");
    let c = connector(&sim);
    let listed = comments::list(&c, n).await.expect("listed");
    let alice = listed[0].clone();
    assert!(!alice.own);

    sim.clear_requests();
    let err = comments::edit(&c, &alice, "rewritten")
        .await
        .expect_err("not ours");
    assert!(
        matches!(&err, ConnectorError::Forbidden(m) if m.contains("alice")),
        "{err}"
    );
    let err = comments::delete(&c, &alice).await.expect_err("not ours");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(sim.writes().is_empty(), "nothing sent: {:?}", sim.writes());

    // A record that wrongly says "ours": GitHub's 403 answers for a read-only token user.
    sim.set_token_role(Role::Read);
    let mut forged = alice.clone();
    forged.own = true;
    let err = comments::edit(&c, &forged, "rewritten")
        .await
        .expect_err("403");
    assert!(
        matches!(&err, ConnectorError::Forbidden(m) if m.contains("Must have admin rights")),
        "{err}"
    );
    let err = comments::delete(&c, &forged).await.expect_err("403");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(
        sim.comment(theirs).map(|s| (s.body, s.api_writes)),
        Some(("Alice's words".to_owned(), 0))
    );
    assert_eq!(sim.writes().len(), 2, "one try each: a 403 is not retried");

    // Alice deletes her comment: it leaves the listing.
    sim.delete_comment(theirs, "alice", Role::Read);
    assert!(comments::list(&c, n).await.expect("listed").is_empty());
}

/// Writes are serial and spaced like issue writes; a secondary-limit refusal of a post is
/// waited out and the comment is made once; a post takes a slot of the creation budget,
/// and one beyond it is postponed without being sent.
#[tokio::test]
async fn writes_are_paced_and_within_githubs_limits() {
    let sim = GithubSim::start();
    let n = issue(&sim, "A");
    let mut paced = settings();
    paced.mutation_spacing = Duration::from_millis(200);
    let c = Arc::new(connector_with(&sim, paced));
    let started = Instant::now();
    let posts: Vec<_> = (0..3)
        .map(|i| {
            let c = Arc::clone(&c);
            tokio::spawn(async move { comments::post(&c, n, &format!("burst {i}")).await })
        })
        .collect();
    for p in posts {
        p.await.expect("task").expect("posted");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sim.peak_mutations_in_flight(), 1);
    assert_eq!(sim.comments(n).len(), 3);

    sim.inject(Fault::SecondaryRateLimit {
        status: 403,
        retry_after_secs: Some(1),
        count: 1,
        method: Some("POST".into()),
        path_contains: Some("/comments".into()),
    });
    let started = Instant::now();
    comments::post(&c, n, "patient").await.expect("posted");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        sim.comments(n)
            .iter()
            .filter(|s| s.body == "patient")
            .count(),
        1,
        "made once"
    );

    let mut spent = settings();
    spent.mutation_spacing = Duration::ZERO;
    spent.creates_per_hour = 1;
    let broke = connector_with(&sim, spent);
    comments::post(&broke, n, "the hour's one")
        .await
        .expect("posted");
    sim.clear_requests();
    let err = comments::post(&broke, n, "later")
        .await
        .expect_err("postponed");
    assert_eq!(err.kind(), ErrorKind::Postponed, "{err}");
    assert!(sim.writes().is_empty());
}

/// A GitHub App's installation token is no user (`GET /user` answers `403`): comments
/// still list, and the App's bot, named by the first comment the connector posts, is its
/// own from then on (that comment, and the same author's on a later read), while others'
/// stay read-only.
#[tokio::test]
async fn an_apps_installation_token_learns_its_bot_from_its_first_post() {
    let sim = GithubSim::start();
    let n = issue(&sim, "A");
    sim.add_comment(n, "alice", "Alice's words");
    let mut config = http_config(
        &sim.base_url(),
        SecretString::from(sim.installation_token()),
    );
    config.retry = RetryPolicy::fast(Duration::from_secs(10));
    let mut settings = settings();
    settings.mutation_spacing = Duration::ZERO;
    let c = GithubConnector::new(HttpClient::new(config).expect("valid config"), settings);

    let before = comments::list(&c, n).await.expect("listed without /user");
    assert_eq!(before.len(), 1);
    assert!(!before[0].own);
    let posted = comments::post(&c, n, "From the App.")
        .await
        .expect("posted");
    assert_eq!(posted.comment.author.name, APP_BOT);
    assert!(posted.comment.own);
    let after = comments::list(&c, n).await.expect("listed");
    assert_eq!(
        after
            .iter()
            .map(|c| (c.author.name.as_str(), c.own))
            .collect::<Vec<_>>(),
        [("alice", false), (APP_BOT, true)]
    );
    comments::edit(&c, &after[1], "From the App, edited.")
        .await
        .expect("its own to edit");
    assert!(comments::edit(&c, &after[0], "no").await.is_err());
    let users: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/user")
        .map(|r| r.status)
        .collect();
    assert_eq!(users, [403], "asked once");
}
