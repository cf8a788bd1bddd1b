//! The Markdown folder as a target kind of the bridge: a link's `markdown = { dir = "…" }`
//! table, read and checked, and the connector it builds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use asana_bridge_connector::Connector;
use asana_bridge_connector::connector::{
    ConnectSetup, LinkSetup, TargetError, TargetKind, TargetSpec, TargetTable,
};
use serde::Deserialize;

use crate::MarkdownConnector;

/// The `markdown` target kind (register it with the bridge).
#[derive(Clone, Copy, Debug, Default)]
pub struct MarkdownTarget;

/// The link's `markdown` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarkdown {
    dir: PathBuf,
}

/// A link's Markdown folder, resolved against the config file's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkdownSpec {
    /// The folder of the link's task files.
    pub dir: PathBuf,
}

impl TargetKind for MarkdownTarget {
    fn key(&self) -> &'static str {
        "markdown"
    }

    fn log_target(&self) -> &'static str {
        "asana_bridge_markdown"
    }

    fn example(&self) -> &'static str {
        "markdown = { dir = \"...\" }"
    }

    fn parse(
        &self,
        table: TargetTable,
        link: &LinkSetup<'_>,
    ) -> Result<Arc<dyn TargetSpec>, String> {
        let raw = RawMarkdown::deserialize(table).map_err(|e| format!("markdown: {e}"))?;
        let dir = link.resolve(&raw.dir);
        if let Ok(m) = std::fs::metadata(&dir)
            && !m.is_dir()
        {
            return Err(format!(
                "markdown.dir {} is a file, not a folder; point it at a folder (it is created on the first sync if missing)",
                dir.display()
            ));
        }
        Ok(Arc::new(MarkdownSpec { dir }))
    }
}

impl TargetSpec for MarkdownSpec {
    fn kind(&self) -> &'static str {
        "markdown"
    }

    fn folder(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    /// A real sync creates a missing folder; otherwise a missing folder reads as empty
    /// (a dry run writes nothing).
    fn connect(&self, setup: &ConnectSetup<'_>) -> Result<Box<dyn Connector>, TargetError> {
        let md = MarkdownConnector::new(self.dir.clone());
        if !setup.persist {
            return Ok(Box::new(md.with_missing_dir_as_empty(true)));
        }
        md.ensure_dir().map_err(|e| {
            TargetError::Runtime(format!(
                "link \"{}\": cannot create the folder {}: {e}",
                setup.link,
                self.dir.display()
            ))
        })?;
        Ok(Box::new(md))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn setup<'a>(dir: &'a Path, users: &'a BTreeMap<String, String>) -> LinkSetup<'a> {
        LinkSetup {
            name: "roadmap",
            asana_project: "1",
            config_dir: dir,
            users,
        }
    }

    /// The folder is resolved against the config's folder; a file there, or an unknown
    /// key, is refused with a message naming the setting.
    #[test]
    fn table_is_read_and_checked() {
        let root = tempfile::tempdir().expect("dir");
        let users = BTreeMap::new();
        let s = setup(root.path(), &users);
        let spec = MarkdownTarget
            .parse(serde_json_value(r#"{"dir": "roadmap"}"#), &s)
            .expect("valid");
        assert_eq!(spec.folder(), Some(root.path().join("roadmap").as_path()));
        assert_eq!(spec.kind(), "markdown");
        std::fs::write(root.path().join("file"), "x").expect("write");
        let err = MarkdownTarget
            .parse(serde_json_value(r#"{"dir": "file"}"#), &s)
            .expect_err("a file");
        assert!(
            err.starts_with("markdown.dir ") && err.contains("is a file, not a folder"),
            "{err}"
        );
        let err = MarkdownTarget
            .parse(serde_json_value(r#"{"dir": "d", "folder": "e"}"#), &s)
            .expect_err("unknown key");
        assert!(err.contains("unknown field `folder`"), "{err}");
    }

    fn serde_json_value(text: &str) -> TargetTable {
        serde_json::from_str(text).expect("json")
    }
}
