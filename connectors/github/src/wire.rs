//! The API's JSON shapes, as far as the connector reads them (`issue`, `label`,
//! `simple-user` in GitHub's description); everything else in an answer is ignored.

use serde::Deserialize;

/// An issue, or a pull request (which `/issues` also lists, with a `pull_request` key).
#[derive(Clone, Debug, Deserialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    /// `null` for an issue opened without text.
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    #[serde(default)]
    pub labels: Vec<LabelRef>,
    #[serde(default)]
    pub assignees: Option<Vec<UserRef>>,
    #[serde(default)]
    pub assignee: Option<UserRef>,
    /// RFC 3339.
    pub updated_at: String,
    /// How many comments it has: part of its revision, since `updated_at` has whole
    /// seconds and a comment posted in the second of the last read would not show.
    #[serde(default)]
    pub comments: Option<u64>,
    /// Present on pull requests only.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
    /// `https://api.github.com/repos/{owner}/{name}`: the repository it belongs to now.
    #[serde(default)]
    pub repository_url: Option<String>,
    /// `https://github.com/{owner}/{name}/issues/{number}`.
    #[serde(default)]
    pub html_url: Option<String>,
}

impl Issue {
    /// Whether this is a pull request.
    #[must_use]
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }

    /// Label names.
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(LabelRef::name)
    }

    /// Assignee logins, in GitHub's order (`assignees`, else the closing-down `assignee`).
    #[must_use]
    pub fn assignee_logins(&self) -> Vec<String> {
        match &self.assignees {
            Some(list) => list.iter().map(|u| u.login.clone()).collect(),
            None => self.assignee.iter().map(|u| u.login.clone()).collect(),
        }
    }
}

/// A label on an issue: the description allows a bare name or a label object.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum LabelRef {
    Name(String),
    Object { name: String },
}

impl LabelRef {
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            LabelRef::Name(n) | LabelRef::Object { name: n } => n,
        }
    }
}

/// A user, by login.
#[derive(Clone, Debug, Deserialize)]
pub struct UserRef {
    pub login: String,
}

/// A repository label.
#[derive(Clone, Debug, Deserialize)]
pub struct Label {
    pub name: String,
}
