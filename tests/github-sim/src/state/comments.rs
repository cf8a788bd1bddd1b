//! Issue comments: each one's author, text and times, and the rules GitHub keeps for them.
//!
//! A comment belongs to one issue (or pull request) and is listed in creation order (ids
//! increase). Posting one raises the issue's `comments` count and moves its `updated_at`;
//! deleting one lowers the count and moves it too; editing one moves only the comment's
//! own `updated_at` (when the text changed). Its author may always edit or delete it;
//! anyone else needs write access to the repository ([`Role::may_moderate`]): the token's
//! user with less (`read`, `triage`) is refused with GitHub's `403 Must have admin rights
//! to Repository.`, and a comment that does not exist (never did, or was deleted) is a
//! `404`. Each change queues its `issue_comment` webhook event (`created`, `edited` with
//! `changes.body.from`, `deleted`).

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::{Outgoing, State, now};
use crate::error::{ApiError, ApiResult};
use crate::model::{Role, SimComment};
use crate::repr;

/// GitHub refuses comment bodies longer than this (in characters).
pub const MAX_COMMENT_CHARS: usize = 65_536;

/// One issue comment.
#[derive(Clone, Debug)]
pub struct IssueComment {
    pub id: u64,
    /// The number of the issue (or pull request) it is on.
    pub issue: u64,
    /// The author's login.
    pub user: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Changes made through the API (the create included).
    pub api_writes: u32,
}

impl IssueComment {
    /// The flattened view tests assert on.
    pub fn sim_comment(&self) -> SimComment {
        SimComment {
            id: self.id,
            issue: self.issue,
            user: self.user.clone(),
            body: self.body.clone(),
            created_at: super::iso(self.created_at),
            updated_at: super::iso(self.updated_at),
            api_writes: self.api_writes,
        }
    }
}

impl Role {
    /// Whether this role may edit and delete other people's comments (write access and
    /// above, as GitHub's repository roles have it).
    #[must_use]
    pub fn may_moderate(self) -> bool {
        matches!(self, Role::Write | Role::Maintain | Role::Admin)
    }
}

/// `422` for an empty body or one over [`MAX_COMMENT_CHARS`].
fn check_comment_body(body: &str) -> ApiResult<()> {
    if body.trim().is_empty() {
        return Err(ApiError::invalid(
            "IssueComment",
            "body",
            "missing_field",
            None,
        ));
    }
    if body.chars().count() > MAX_COMMENT_CHARS {
        return Err(ApiError::custom(
            "IssueComment",
            Some("body"),
            &format!("body is too long (maximum is {MAX_COMMENT_CHARS} characters)"),
        ));
    }
    Ok(())
}

impl State {
    /// The comment `id`, `404` when there is none.
    pub fn issue_comment(&self, id: u64) -> ApiResult<&IssueComment> {
        self.comments.get(&id).ok_or_else(ApiError::not_found)
    }

    /// Posts a comment on issue `number` as `actor`; returns its id. The issue's comment
    /// count rises and its `updated_at` moves.
    pub fn add_comment(&mut self, actor: &str, number: u64, body: &str) -> ApiResult<u64> {
        check_comment_body(body)?;
        if !self.issues.contains_key(&number) {
            return Err(ApiError::not_found());
        }
        let id = self.id();
        let at = now();
        if let Some(issue) = self.issues.get_mut(&number) {
            issue.comments += 1;
            issue.updated_at = at;
        }
        self.comments.insert(
            id,
            IssueComment {
                id,
                issue: number,
                user: actor.to_owned(),
                body: body.to_owned(),
                created_at: at,
                updated_at: at,
                api_writes: 0,
            },
        );
        self.emit_comment(actor, id, "created", Map::new());
        Ok(id)
    }

    /// Refuses `actor` a change to someone else's comment unless `role` may make it.
    fn check_moderation(&self, actor: &str, id: u64, role: Role) -> ApiResult<()> {
        let comment = self.issue_comment(id)?;
        if comment.user == actor || role.may_moderate() {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "Must have admin rights to Repository.",
            ))
        }
    }

    /// Replaces the text of comment `id` as `actor` (whose repository role is `role`);
    /// `updated_at` moves when the text changed. Returns whether it did.
    pub fn edit_comment(
        &mut self,
        actor: &str,
        role: Role,
        id: u64,
        body: &str,
    ) -> ApiResult<bool> {
        self.check_moderation(actor, id, role)?;
        check_comment_body(body)?;
        let at = now();
        let comment = self.comments.get_mut(&id).ok_or_else(ApiError::not_found)?;
        if comment.body == body {
            return Ok(false);
        }
        let from = std::mem::replace(&mut comment.body, body.to_owned());
        comment.updated_at = at;
        let mut extra = Map::new();
        extra.insert("changes".to_owned(), json!({"body": {"from": from}}));
        self.emit_comment(actor, id, "edited", extra);
        Ok(true)
    }

    /// Deletes comment `id` as `actor` (whose repository role is `role`). The issue's
    /// comment count falls and its `updated_at` moves.
    pub fn delete_comment(&mut self, actor: &str, role: Role, id: u64) -> ApiResult<()> {
        self.check_moderation(actor, id, role)?;
        let wanted = self.hooks.iter().any(|h| h.wants("issue_comment"));
        let shape = self.comment_json(id).ok();
        let comment = self.comments.remove(&id).ok_or_else(ApiError::not_found)?;
        let Some(issue) = self.issues.get_mut(&comment.issue) else {
            return Ok(());
        };
        issue.comments = issue.comments.saturating_sub(1);
        issue.updated_at = now();
        if let (true, Some(shape)) = (wanted, shape) {
            // The issue as of the deletion, the comment as it was.
            let mut extra = Map::new();
            extra.insert("comment".to_owned(), shape);
            let payload = self.issue_payload(actor, &self.issues[&comment.issue], "deleted", extra);
            self.outbox.push(Outgoing {
                event: "issue_comment",
                action: Some("deleted".to_owned()),
                only_hook: None,
                payload,
            });
        }
        Ok(())
    }

    /// `issue-comment` of comment `id`.
    pub fn comment_json(&self, id: u64) -> ApiResult<Value> {
        let comment = self.issue_comment(id)?;
        let issue = self
            .issues
            .get(&comment.issue)
            .ok_or_else(ApiError::not_found)?;
        Ok(repr::comment(self, issue, comment))
    }

    /// The `issue_comment` payload of a change to comment `id`, if a hook wants it.
    fn comment_payload(
        &self,
        actor: &str,
        id: u64,
        action: &str,
        mut extra: Map<String, Value>,
    ) -> Option<Value> {
        if !self.hooks.iter().any(|h| h.wants("issue_comment")) {
            return None;
        }
        let comment = self.comments.get(&id)?;
        let issue = self.issues.get(&comment.issue)?;
        let mut all = Map::new();
        all.insert("comment".to_owned(), repr::comment(self, issue, comment));
        all.append(&mut extra);
        Some(self.issue_payload(actor, issue, action, all))
    }

    /// Queues an `issue_comment` event about comment `id`, if a hook wants it.
    fn emit_comment(&mut self, actor: &str, id: u64, action: &str, extra: Map<String, Value>) {
        if let Some(payload) = self.comment_payload(actor, id, action, extra) {
            self.outbox.push(Outgoing {
                event: "issue_comment",
                action: Some(action.to_owned()),
                only_hook: None,
                payload,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Posting counts on the issue; only the author or someone with write access may edit
    /// or delete; a deleted comment is a 404.
    #[test]
    fn authors_and_moderators() {
        let mut st = State::new("acme/app");
        let n = st
            .create_issue("bob", "T", None, &[], &[], false)
            .expect("issue");
        let id = st.add_comment("bob", n, "first").expect("comment");
        assert_eq!(st.issues[&n].comments, 1);
        let err = st
            .edit_comment("eve", Role::Read, id, "mine now")
            .expect_err("403");
        assert_eq!(err.status.as_u16(), 403);
        assert_eq!(
            st.edit_comment("bob", Role::Read, id, "edited").ok(),
            Some(true)
        );
        assert_eq!(
            st.edit_comment("eve", Role::Write, id, "edited").ok(),
            Some(false),
            "the same text changes nothing"
        );
        assert_eq!(
            st.delete_comment("eve", Role::Triage, id)
                .expect_err("403")
                .status
                .as_u16(),
            403
        );
        st.delete_comment("eve", Role::Maintain, id)
            .expect("deleted");
        assert_eq!(st.issues[&n].comments, 0);
        assert_eq!(
            st.edit_comment("bob", Role::Admin, id, "again")
                .expect_err("404")
                .status
                .as_u16(),
            404
        );
        let err = st.add_comment("bob", n, " ").expect_err("422");
        assert_eq!(err.errors[0]["code"], "missing_field");
    }
}
