//! The target registry: every kind of target a `[[link]]` can name, each offered by its
//! own crate as a [`TargetKind`] (its config table, checks, connector, webhooks and
//! access check). Adding a target is adding its crate and one line to [`BUILTIN`];
//! `connectors/memory` shows the whole of it (its tests register it with
//! [`Registry::with`]).

use asana_bridge_connector::connector::TargetKind;

/// The targets this build knows, one line each.
pub static BUILTIN: &[&dyn TargetKind] = &[
    &asana_bridge_markdown::MarkdownTarget,
    &asana_bridge_github::GithubTarget,
];

/// The target kinds a config is read with.
#[derive(Clone)]
pub struct Registry {
    kinds: Vec<&'static dyn TargetKind>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys()).finish()
    }
}

impl Registry {
    /// The targets of [`BUILTIN`].
    #[must_use]
    pub fn builtin() -> Self {
        Self {
            kinds: BUILTIN.to_vec(),
        }
    }

    /// The same registry knowing `kind` too (a kind with a key already known replaces it).
    #[must_use]
    pub fn with(mut self, kind: &'static dyn TargetKind) -> Self {
        self.kinds.retain(|k| k.key() != kind.key());
        self.kinds.push(kind);
        self
    }

    /// The kind whose table is called `key`.
    #[must_use]
    pub fn find(&self, key: &str) -> Option<&'static dyn TargetKind> {
        self.kinds.iter().copied().find(|k| k.key() == key)
    }

    /// The keys of the known kinds, in registration order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.iter().map(|k| k.key())
    }

    /// The known kinds.
    pub fn kinds(&self) -> impl Iterator<Item = &'static dyn TargetKind> + '_ {
        self.kinds.iter().copied()
    }
}

/// The tracing targets of every built-in target crate, for the log filter.
pub fn log_targets() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|k| k.log_target())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in kind is found by its key, and its crate's logs are let through.
    #[test]
    fn builtin_kinds_are_known() {
        let r = Registry::builtin();
        assert_eq!(r.keys().collect::<Vec<_>>(), ["markdown", "github"]);
        assert_eq!(r.find("github").map(|k| k.key()), Some("github"));
        assert!(r.find("jira").is_none());
        assert!(log_targets().any(|t| t == "asana_bridge_github"));
    }
}
