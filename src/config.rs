//! The configuration file (TOML), as the contract describes it: parsing, defaults,
//! validation, and paths resolved relative to the file. Tokens are never read from here:
//! the file names the environment variables that hold them.
//!
//! A link's target table (`markdown = { … }`, `github = { … }`) is read by its target
//! crate, found by its key in the [target registry](crate::targets); this module only
//! checks that a link names exactly one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use asana_bridge_connector::connector::{LinkSetup, TargetSpec};
use serde::Deserialize;

use crate::merge::Policy;
use crate::targets::Registry;

/// Default Asana API root.
pub const DEFAULT_ASANA_URL: &str = asana_bridge_asana::DEFAULT_BASE_URL;

/// Default of `link.delete_grace`, in seconds.
pub const DEFAULT_DELETE_GRACE_SECS: u64 = 60;

/// The loopback port `auth login` listens on unless configured (register
/// `http://127.0.0.1:8976/callback` as a redirect URL of the Asana app).
pub const DEFAULT_REDIRECT_PORT: u16 = 8976;

/// A configuration problem: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source} (create one with `asana-bridge init`)", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("config file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_state_dir")]
    state_dir: PathBuf,
    #[serde(default)]
    asana: RawAsana,
    #[serde(default, rename = "link")]
    links: Vec<RawLink>,
    #[serde(default)]
    users: BTreeMap<String, String>,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from(".asana-bridge")
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsana {
    base_url: Option<String>,
    token_env: Option<String>,
    requests_per_minute: Option<u32>,
    retry_max_seconds: Option<u64>,
    token_file: Option<PathBuf>,
    keyring: Option<bool>,
    oauth: Option<RawOAuth>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOAuth {
    client_id: Option<String>,
    client_secret_env: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    revoke_url: Option<String>,
    redirect_port: Option<u16>,
    scopes: Option<Vec<String>>,
}

/// A `[[link]]`. Its other keys are target tables, read by the registry's kinds (unknown
/// keys are refused there, as serde would).
#[derive(Debug, Deserialize)]
struct RawLink {
    name: String,
    asana_project: String,
    #[serde(default)]
    conflict: Policy,
    #[serde(default)]
    on_delete: OnDelete,
    poll_interval: Option<u64>,
    delete_grace: Option<u64>,
    comments: Option<bool>,
    #[serde(flatten)]
    targets: BTreeMap<String, toml::Value>,
}

/// The keys of a `[[link]]` besides its target tables, for the unknown-key message.
const LINK_KEYS: [&str; 7] = [
    "name",
    "asana_project",
    "conflict",
    "on_delete",
    "poll_interval",
    "delete_grace",
    "comments",
];

/// What a deleted target item (a file, an issue) does to its Asana task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// The task is deleted in Asana (saved to the trash first).
    #[default]
    Delete,
    /// The task is marked complete in Asana and left there.
    Complete,
    /// The task is left as it is; the pair is forgotten.
    Ignore,
}

/// The whole configuration, validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the config file is.
    pub path: PathBuf,
    /// The state store's directory (absolute or relative to the working directory).
    pub state_dir: PathBuf,
    pub asana: AsanaSettings,
    pub links: Vec<LinkConfig>,
    /// The `[users]` table: Asana e-mail -> a target's login (GitHub), handed to every
    /// target's table as it is read.
    pub users: BTreeMap<String, String>,
}

/// The `[asana]` section with defaults and environment overrides applied.
#[derive(Clone, Debug)]
pub struct AsanaSettings {
    pub base_url: String,
    pub token_env: String,
    pub requests_per_minute: u32,
    /// How long a request is retried on server errors and dropped connections before the
    /// run reports the service as unreachable (a 429 is always waited out: it is an
    /// instruction, not a failure).
    pub retry_max_seconds: u64,
    /// The owner-only credentials file `auth login` writes (default
    /// `$XDG_CONFIG_HOME/asana-bridge/credentials.json`).
    pub token_file: Option<PathBuf>,
    /// Keep credentials in the OS keyring when this build has one (feature `keyring`).
    pub keyring: bool,
    /// `[asana.oauth]`: the user's own OAuth app for `auth login`.
    pub oauth: OAuthSettings,
}

/// `[asana.oauth]` with Asana's endpoints as defaults. Never holds a secret: the client
/// secret comes from the environment variable it names.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    /// The app's client id (else `ASANA_CLIENT_ID`).
    pub client_id: Option<String>,
    /// The environment variable holding the client secret.
    pub client_secret_env: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    /// The loopback port of the redirect (`0`: any free port).
    pub redirect_port: u16,
    pub scopes: Vec<String>,
}

/// One `[[link]]`.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    pub name: String,
    pub asana_project: String,
    pub conflict: Policy,
    pub target: TargetConfig,
    /// Seconds between polls in `watch`.
    pub poll_interval: Option<u64>,
    /// What a deleted target item does in Asana.
    pub on_delete: OnDelete,
    /// Whether completed tasks and closed items create counterparts when unmapped
    /// (the target says: GitHub's `import = "all"`; Markdown links always do).
    pub import_completed: bool,
    /// Under `watch`, how long a target item must stay missing before its absence counts
    /// as a deletion (editors' atomic saves, `git checkout` of another branch).
    pub delete_grace: std::time::Duration,
    /// Whether comments are mirrored (`comments = false` leaves them out of files and
    /// issues, and reads none).
    pub comments: bool,
}

impl LinkConfig {
    /// The link's name as one safe path component (ASCII letters, digits, `-` and `_`;
    /// anything else becomes `_`), for the link's own files and folders in the state
    /// folder.
    #[must_use]
    pub fn path_component(&self) -> String {
        self.name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// The system an Asana project is mirrored into: a link's target table as its target
/// crate read it (see [`crate::targets`]). Derefs to the [`TargetSpec`].
#[derive(Clone, Debug)]
pub struct TargetConfig(Arc<dyn TargetSpec>);

impl TargetConfig {
    /// A target from its crate's spec (e.g. `MarkdownSpec { dir }`).
    pub fn new(spec: impl TargetSpec + 'static) -> Self {
        Self(Arc::new(spec))
    }

    /// The spec behind it.
    #[must_use]
    pub fn spec(&self) -> &Arc<dyn TargetSpec> {
        &self.0
    }
}

impl From<Arc<dyn TargetSpec>> for TargetConfig {
    fn from(spec: Arc<dyn TargetSpec>) -> Self {
        Self(spec)
    }
}

impl std::ops::Deref for TargetConfig {
    type Target = dyn TargetSpec;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl Config {
    /// Reads and validates the config file at `path`. `ASANA_BASE_URL` (read by the
    /// caller and passed as `base_url_override`) beats `asana.base_url`.
    pub fn load(path: &Path, base_url_override: Option<String>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text, base_url_override)
    }

    /// Parses and validates config text that was read from `path`, with the built-in
    /// targets.
    pub fn parse(
        path: &Path,
        text: &str,
        base_url_override: Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::parse_with(path, text, base_url_override, &Registry::builtin())
    }

    /// Parses and validates config text that was read from `path`, with the targets of
    /// `registry`.
    pub fn parse_with(
        path: &Path,
        text: &str,
        base_url_override: Option<String>,
        registry: &Registry,
    ) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        let rpm = raw.asana.requests_per_minute.unwrap_or(1500);
        if rpm == 0 {
            return Err(invalid(
                "asana.requests_per_minute must be at least 1".into(),
            ));
        }
        let asana = AsanaSettings {
            base_url: base_url_override
                .or(raw.asana.base_url)
                .unwrap_or_else(|| DEFAULT_ASANA_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            token_env: raw.asana.token_env.unwrap_or_else(|| "ASANA_TOKEN".into()),
            requests_per_minute: rpm,
            retry_max_seconds: raw.asana.retry_max_seconds.unwrap_or(60),
            token_file: raw.asana.token_file.as_deref().map(resolve),
            keyring: raw.asana.keyring.unwrap_or(true),
            oauth: {
                let o = raw.asana.oauth.unwrap_or_default();
                OAuthSettings {
                    client_id: o.client_id.filter(|s| !s.trim().is_empty()),
                    client_secret_env: o
                        .client_secret_env
                        .unwrap_or_else(|| "ASANA_CLIENT_SECRET".into()),
                    authorize_url: o
                        .authorize_url
                        .unwrap_or_else(|| asana_bridge_asana::OAUTH_AUTHORIZE_URL.into()),
                    token_url: o
                        .token_url
                        .unwrap_or_else(|| asana_bridge_asana::OAUTH_TOKEN_URL.into()),
                    revoke_url: o
                        .revoke_url
                        .unwrap_or_else(|| asana_bridge_asana::OAUTH_REVOKE_URL.into()),
                    redirect_port: o.redirect_port.unwrap_or(DEFAULT_REDIRECT_PORT),
                    scopes: o.scopes.unwrap_or_default(),
                }
            },
        };

        let mut links = Vec::new();
        for (index, link) in raw.links.into_iter().enumerate() {
            if link.name.trim().is_empty() {
                return Err(invalid("a [[link]] has an empty name".into()));
            }
            if links.iter().any(|l: &LinkConfig| l.name == link.name) {
                return Err(invalid(format!("two links are named \"{}\"", link.name)));
            }
            if link.asana_project.is_empty()
                || !link.asana_project.chars().all(|c| c.is_ascii_digit())
            {
                return Err(invalid(format!(
                    "link \"{}\": asana_project must be a project gid (digits), got \"{}\"",
                    link.name, link.asana_project
                )));
            }
            let target = read_target(registry, base, &raw.users, &link)
                .map_err(|mistake| invalid(mistake.located(text, index)))?;
            if link.poll_interval == Some(0) {
                return Err(invalid(format!(
                    "link \"{}\": poll_interval must be at least 1 second",
                    link.name
                )));
            }
            links.push(LinkConfig {
                name: link.name,
                asana_project: link.asana_project,
                conflict: link.conflict,
                poll_interval: link.poll_interval,
                on_delete: link.on_delete,
                import_completed: target.import_completed(),
                target,
                delete_grace: std::time::Duration::from_secs(
                    link.delete_grace.unwrap_or(DEFAULT_DELETE_GRACE_SECS),
                ),
                comments: link.comments.unwrap_or(true),
            });
        }

        check_folders_apart(&links).map_err(invalid)?;

        Ok(Self {
            path: path.to_path_buf(),
            state_dir: resolve(&raw.state_dir),
            asana,
            links,
            users: raw.users,
        })
    }

    /// The links selected by `--link` (all when `None`).
    pub fn select(&self, name: Option<&str>) -> Result<Vec<&LinkConfig>, ConfigError> {
        match name {
            None => Ok(self.links.iter().collect()),
            Some(n) => self
                .links
                .iter()
                .find(|l| l.name == n)
                .map(|l| vec![l])
                .ok_or_else(|| ConfigError::Invalid {
                    path: self.path.clone(),
                    message: format!(
                        "no link named \"{n}\" (links: {})",
                        self.links
                            .iter()
                            .map(|l| l.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
        }
    }
}

/// Reads `link`'s one target table with its registered kind.
fn read_target(
    registry: &Registry,
    config_dir: &Path,
    users: &BTreeMap<String, String>,
    link: &RawLink,
) -> Result<TargetConfig, TargetMistake> {
    if let Some(unknown) = link.targets.keys().find(|k| registry.find(k).is_none()) {
        let expected: Vec<String> = LINK_KEYS
            .into_iter()
            .chain(registry.keys())
            .map(|k| format!("`{k}`"))
            .collect();
        return Err(TargetMistake {
            message: format!(
                "link \"{}\": unknown field `{unknown}`, expected one of {}",
                link.name,
                expected.join(", ")
            ),
            key: Some(unknown.clone()),
        });
    }
    let mut tables = link.targets.iter();
    let (Some((key, table)), None) = (tables.next(), tables.next()) else {
        return Err(if link.targets.is_empty() {
            let examples: Vec<&str> = registry.kinds().map(|k| k.example()).collect();
            TargetMistake {
                message: format!(
                    "link \"{}\" needs a target: {}",
                    link.name,
                    examples.join(" or ")
                ),
                key: None,
            }
        } else {
            let keys: Vec<&str> = registry
                .keys()
                .filter(|k| link.targets.contains_key(*k))
                .collect();
            TargetMistake {
                message: format!(
                    "link \"{}\" has both a {} target; use one per link",
                    link.name,
                    keys.join(" and a ")
                ),
                key: keys.last().map(|k| (*k).to_owned()),
            }
        });
    };
    let in_table = |message: String| TargetMistake {
        message: format!("link \"{}\": {message}", link.name),
        key: Some(key.clone()),
    };
    let kind = registry
        .find(key)
        .unwrap_or_else(|| unreachable!("unknown keys were refused above"));
    let table = serde_json::to_value(table).map_err(|e| in_table(format!("{key}: {e}")))?;
    let setup = LinkSetup {
        name: &link.name,
        asana_project: &link.asana_project,
        config_dir,
        users,
    };
    kind.parse(table, &setup)
        .map(TargetConfig::from)
        .map_err(in_table)
}

/// A mistake in a link's target keys, and the key it is about (`None`: the link as a
/// whole), so that it can be shown where it is in the file.
struct TargetMistake {
    /// The whole message, naming the link (and the table).
    message: String,
    /// The key of the link it is about: a target table, or an unknown key.
    key: Option<String>,
}

impl TargetMistake {
    /// The message with the place in `text` (the config file) it is about, as the TOML
    /// parser shows its own mistakes: line, column, the line itself and a marker. For a
    /// target table, the place is the table's key the message names (`` `colour` ``,
    /// `github.repo`), else the table.
    fn located(self, text: &str, link: usize) -> String {
        match self.span(text, link) {
            Some(span) => toml_style(text, span, &self.message),
            None => self.message,
        }
    }

    /// Where the mistake is in `text`, the `link`-th `[[link]]`.
    fn span(&self, text: &str, link: usize) -> Option<std::ops::Range<usize>> {
        let doc = toml::de::DeTable::parse(text).ok()?;
        let link = doc.get_ref().get("link")?.get_ref().as_array()?.get(link)?;
        let Some(key) = &self.key else {
            return Some(link.span());
        };
        let link = link.get_ref().as_table()?;
        let (name, value) = link.get_key_value(key.as_str())?;
        let Some(table) = value.get_ref().as_table() else {
            return Some(name.span());
        };
        // The key the message names first (`unknown field `colour`, expected one of `dir``).
        let named = table
            .iter()
            .filter_map(|(inner, _)| {
                let word: &str = inner.get_ref();
                [format!("`{word}`"), format!("{key}.{word}")]
                    .iter()
                    .filter_map(|mention| self.message.find(mention.as_str()))
                    .min()
                    .map(|at| (at, inner.span()))
            })
            .min_by_key(|(at, _)| *at);
        Some(named.map_or_else(|| name.span(), |(_, span)| span))
    }
}

/// `message` about `span` of `text`, in the TOML parser's words (on one line, as
/// [`ConfigError::Parse`] shows them): `TOML parse error at line 4, column 12 | 4 |
/// github = { repo = "app" } | ^^^^ message`.
fn toml_style(text: &str, span: std::ops::Range<usize>, message: &str) -> String {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..line_start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let content = text[line_start..].lines().next().unwrap_or_default();
    let width = text
        .get(start..span.end.min(line_start + content.len()).max(start))
        .map_or(1, |s| s.chars().count().max(1));
    let gutter = " ".repeat(line.to_string().len() + 1);
    format!(
        "TOML parse error at line {line}, column {column} {gutter}| {line} | {content} {gutter}|{}{} {message}",
        " ".repeat(column),
        "^".repeat(width)
    )
}

/// Fails when two links with folders (Markdown) share a folder, or one's folder is inside the other's:
/// every `*.md` under a link's folder is that link's task, so a file there would belong to
/// both links (each run would report it, or worse, mirror it into both projects).
fn check_folders_apart(links: &[LinkConfig]) -> Result<(), String> {
    let folders: Vec<(&str, &Path, PathBuf)> = links
        .iter()
        .filter_map(|l| {
            let dir = l.target.folder()?;
            Some((l.name.as_str(), dir, real_path(dir)))
        })
        .collect();
    for (i, (a, a_dir, a_real)) in folders.iter().enumerate() {
        for (b, b_dir, b_real) in &folders[i + 1..] {
            let message = if a_real == b_real {
                format!(
                    "links \"{a}\" and \"{b}\" use the same folder ({}); give each link its own folder",
                    a_dir.display()
                )
            } else if a_real.starts_with(b_real) || b_real.starts_with(a_real) {
                let ((inner, inner_dir), (outer, outer_dir)) = if a_real.starts_with(b_real) {
                    ((a, a_dir), (b, b_dir))
                } else {
                    ((b, b_dir), (a, a_dir))
                };
                format!(
                    "the folder of link \"{inner}\" ({}) is inside the folder of link \"{outer}\" \
                     ({}), whose subfolders are its tasks too; give each link its own folder, side by side",
                    inner_dir.display(),
                    outer_dir.display()
                )
            } else {
                continue;
            };
            return Err(message);
        }
    }
    Ok(())
}

/// `path` made absolute with symlinks and `..` resolved as far as it exists (the
/// canonical form of its longest existing ancestor), the rest resolved lexically.
fn real_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let mut out = loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            break real;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => break PathBuf::new(),
        }
    };
    for component in rest.into_iter().rev() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The starter config `asana-bridge init` writes.
pub const STARTER: &str = r#"# asana-bridge configuration.
# Docs: README.md. Tokens are never written here: they come from environment variables.

# Where the bridge keeps its memory (mappings, last synced values, conflicts).
# Relative paths are relative to this file.
state_dir = ".asana-bridge"

[asana]
# base_url = "https://app.asana.com/api/1.0"   # ASANA_BASE_URL overrides it
# requests_per_minute = 1500                   # 150 on free workspaces
# retry_max_seconds = 60                       # how long to retry 5xx/network errors
token_env = "ASANA_TOKEN"                      # env var holding a PAT or service-account token
# Without that variable set, the token `asana-bridge auth login` stored is used: from the
# OS keyring (builds with the `keyring` feature) or this owner-only file.
# token_file = "secrets/asana.json"         # default $XDG_CONFIG_HOME/asana-bridge/credentials.json
# keyring = true

# Your own Asana app, for `auth login` with OAuth. A table of its own: every setting
# below its header belongs to it, so keep [asana]'s own settings above.
# [asana.oauth]
# client_id = "1200000000000000"
# client_secret_env = "ASANA_CLIENT_SECRET"    # env var holding the client secret
# redirect_port = 8976                         # register http://127.0.0.1:8976/callback

# One [[link]] per Asana project to mirror.
[[link]]
name = "roadmap"
asana_project = "1200000000000001"   # the number in the project's URL
conflict = "newest"                  # newest | asana | target | manual
markdown = { dir = "roadmap" }       # one .md file per task
# on_delete = "delete"               # a removed file: delete the task (saved to the trash
#                                    # first) | complete | ignore
# delete_grace = 60                  # watch: seconds a file may be missing before that counts
# comments = true                    # mirror comments (false: leave them out, read none)

# [[link]]
# name = "bugs"
# asana_project = "1200000000000002"
# github = { repo = "acme/app", token_env = "GITHUB_TOKEN" }

# [users]                            # Asana e-mail -> GitHub login, for assignees
# "alice@example.com" = "alice-gh"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/cfg/asana-bridge.toml"), text, None)
    }

    #[test]
    fn starter_config_is_valid() {
        let cfg = parse(STARTER).unwrap();
        assert_eq!(cfg.links.len(), 1);
        assert_eq!(cfg.state_dir, PathBuf::from("/cfg/.asana-bridge"));
        assert_eq!(cfg.asana.token_env, "ASANA_TOKEN");
        assert_eq!(cfg.asana.requests_per_minute, 1500);
        assert_eq!(
            cfg.links[0].target.folder(),
            Some(Path::new("/cfg/roadmap"))
        );
    }

    #[test]
    fn contract_example_parses() {
        let cfg = parse(
            r#"
state_dir = ".asana-bridge"
[asana]
base_url = "https://app.asana.com/api/1.0/"
token_env = "ASANA_TOKEN"
[[link]]
name = "roadmap"
asana_project = "1200000000000001"
conflict = "manual"
markdown = { dir = "roadmap" }
[[link]]
name = "bugs"
asana_project = "1200000000000002"
github = { repo = "acme/app", token_env = "GITHUB_TOKEN", api_url = "https://api.github.com" }
[users]
"alice@example.com" = "alice-gh"
"#,
        )
        .unwrap();
        assert_eq!(cfg.asana.base_url, "https://app.asana.com/api/1.0");
        assert_eq!(cfg.links[0].conflict, Policy::Manual);
        assert_eq!(cfg.links[1].target.kind(), "github");
        assert!(
            !cfg.links[1].import_completed,
            "import = \"open\" by default"
        );
        assert_eq!(cfg.users["alice@example.com"], "alice-gh");
    }

    #[test]
    fn env_override_beats_file() {
        let cfg = Config::parse(
            Path::new("c.toml"),
            "[asana]\nbase_url = \"http://file\"\n",
            Some("http://env".into()),
        )
        .unwrap();
        assert_eq!(cfg.asana.base_url, "http://env");
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                "[[link]]\nname = \"a\"\nasana_project = \"1\"\n",
                "needs a target",
            ),
            (
                "[[link]]\nname = \"a\"\nasana_project = \"x1\"\nmarkdown = { dir = \"d\" }\n",
                "project gid",
            ),
            (
                "[[link]]\nname = \"a\"\nasana_project = \"1\"\nconflict = \"sometimes\"\nmarkdown = { dir = \"d\" }\n",
                "sometimes",
            ),
            ("[asana]\ntoken = \"secret\"\n", "unknown field"),
            (
                "[[link]]\nname = \"a\"\nasana_project = \"1\"\nmarkdown = { dir = \"d\" }\n[[link]]\nname = \"a\"\nasana_project = \"2\"\nmarkdown = { dir = \"e\" }\n",
                "two links",
            ),
        ];
        for (text, needle) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }

    #[test]
    fn oauth_section_defaults_and_overrides() {
        let cfg = parse("[asana]\ntoken_file = \"creds.json\"\nkeyring = false\n[asana.oauth]\nclient_id = \"77\"\ntoken_url = \"http://127.0.0.1:1/-/oauth_token\"\n").unwrap();
        assert_eq!(
            cfg.asana.token_file.as_deref(),
            Some(Path::new("/cfg/creds.json"))
        );
        assert!(!cfg.asana.keyring);
        assert_eq!(cfg.asana.oauth.client_id.as_deref(), Some("77"));
        assert_eq!(
            cfg.asana.oauth.token_url,
            "http://127.0.0.1:1/-/oauth_token"
        );
        assert_eq!(
            cfg.asana.oauth.authorize_url,
            "https://app.asana.com/-/oauth_authorize"
        );
        assert_eq!(cfg.asana.oauth.client_secret_env, "ASANA_CLIENT_SECRET");
        let starter = parse(STARTER).unwrap();
        assert!(starter.asana.keyring && starter.asana.token_file.is_none());
        let err = parse("[asana.oauth]\nclient_secret = \"s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    /// A link's keys besides its own are target tables, each read by its registered
    /// kind: an unknown key, two targets or a bad table is named as before.
    #[test]
    fn target_tables_are_read_by_their_kind() {
        let link =
            |target: &str| format!("[[link]]\nname = \"a\"\nasana_project = \"1\"\n{target}\n");
        let cases = [
            (
                link("folder = { dir = \"d\" }"),
                "link \"a\": unknown field `folder`, expected one of `name`",
            ),
            (
                link("markdown = { dir = \"d\" }\ngithub = { repo = \"o/r\" }"),
                "link \"a\" has both a markdown and a github target; use one per link",
            ),
            (
                link("github = { repo = \"app\" }"),
                "link \"a\": github.repo must look like \"owner/name\"",
            ),
            (
                link("markdown = { dir = \"d\", colour = 1 }"),
                "link \"a\": markdown: unknown field `colour`",
            ),
            (
                link(""),
                "needs a target: markdown = { dir = \"...\" } or github = { repo = \"owner/name\" }",
            ),
        ];
        for (text, needle) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
        let cfg = parse(&link("github = { repo = \"o/r\", import = \"all\", api_url = \"http://gh/\" }\n[users]\n\"A@x.org\" = \"a\""))
            .unwrap();
        assert!(cfg.links[0].import_completed);
        assert_eq!(cfg.users["A@x.org"], "a");
        let timed = parse(&link(
            "poll_interval = 5\ndelete_grace = 7\non_delete = \"complete\"\nmarkdown = { dir = \"d\" }",
        ))
        .unwrap();
        assert_eq!(timed.links[0].poll_interval, Some(5));
        assert_eq!(
            timed.links[0].delete_grace,
            std::time::Duration::from_secs(7)
        );
        assert_eq!(timed.links[0].on_delete, OnDelete::Complete);
        let err = parse(&link(
            "poll_interval = \"often\"\nmarkdown = { dir = \"d\" }",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("often") || err.contains("invalid type"),
            "{err}"
        );
        assert_eq!(
            cfg.links[0].target.service_url(),
            Some(("the GitHub API URL", "http://gh"))
        );
    }

    /// A mistake in a link's target keys is shown where it is in the file: the key the
    /// message names inside the table, else the table's key (line, column, the line and a
    /// marker under it, as the TOML parser shows its own mistakes).
    #[test]
    fn target_mistakes_name_their_line_and_column() {
        let text = |target: &str| {
            format!(
                "[[link]]\nname = \"ok\"\nasana_project = \"1\"\nmarkdown = {{ dir = \"d\" }}\n\n\
                 [[link]]\nname = \"a\"\nasana_project = \"2\"\n{target}\n"
            )
        };
        let cases = [
            (
                text("github = { repo = \"nope\" }"),
                "TOML parse error at line 9, column 12 ",
                "| 9 | github = { repo = \"nope\" }",
                "|            ^^^^ link \"a\": github.repo must look like \"owner/name\"",
            ),
            (
                text("markdown = { dir = \"d\", colour = 1 }"),
                "TOML parse error at line 9, column 25 ",
                "| 9 | markdown = { dir = \"d\", colour = 1 }",
                "^^^^^^ link \"a\": markdown: unknown field `colour`",
            ),
            (
                text("github = { repo = 5 }"),
                "TOML parse error at line 9, column 1 ",
                "| 9 | github = { repo = 5 }",
                "^^^^^^ link \"a\": github: invalid type",
            ),
            (
                text("folder = { dir = \"d\" }"),
                "TOML parse error at line 9, column 1 ",
                "| 9 | folder = { dir = \"d\" }",
                "^^^^^^ link \"a\": unknown field `folder`",
            ),
            (
                text("[link.github]\nrepo = \"acme\"\ntoken_env = \"T\""),
                "TOML parse error at line 10, column 1 ",
                "| 10 | repo = \"acme\"",
                "^^^^ link \"a\": github.repo must look like",
            ),
        ];
        for (text, at, line, marked) in cases {
            let err = parse(&text).unwrap_err().to_string();
            for needle in [at, line, marked] {
                assert!(err.contains(needle), "{needle:?} not in {err:?}");
            }
        }
    }

    #[test]
    fn select_unknown_link_lists_the_known_ones() {
        let cfg = parse(STARTER).unwrap();
        let err = cfg.select(Some("nope")).unwrap_err().to_string();
        assert!(err.contains("roadmap"), "{err}");
    }
}

#[cfg(test)]
mod folder_tests {
    use super::*;

    fn two_links(root: &Path, a: &str, b: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[[link]]\nname = \"a\"\nasana_project = \"1\"\nmarkdown = {{ dir = \"{a}\" }}\n\
             [[link]]\nname = \"b\"\nasana_project = \"2\"\nmarkdown = {{ dir = \"{b}\" }}\n"
        );
        Config::parse(&root.join("asana-bridge.toml"), &text, None)
    }

    fn message(r: Result<Config, ConfigError>) -> String {
        r.expect_err("refused").to_string()
    }

    /// Folders side by side are fine; the same folder (however spelled) or one inside the
    /// other (through `..` or a symlink, existing or not) is refused naming both links.
    #[test]
    fn link_folders_must_be_apart() {
        let root = tempfile::tempdir().expect("dir");
        let r = root.path();
        two_links(r, "roadmap", "bugs").expect("side by side");
        two_links(r, "roadmap", "roadmap-2").expect("a common prefix is not nesting");
        let m = message(two_links(r, "roadmap", "./x/../roadmap/"));
        assert!(
            m.contains("links \"a\" and \"b\" use the same folder"),
            "{m}"
        );
        let m = message(two_links(r, "roadmap", "roadmap/archive"));
        assert!(
            m.contains("the folder of link \"b\"") && m.contains("inside the folder of link \"a\""),
            "{m}"
        );
        let m = message(two_links(r, "notes/roadmap", "notes"));
        assert!(
            m.contains("the folder of link \"a\"") && m.contains("inside the folder of link \"b\""),
            "{m}"
        );
        #[cfg(unix)]
        {
            std::fs::create_dir_all(r.join("real/sub")).expect("mkdir");
            std::os::unix::fs::symlink(r.join("real"), r.join("alias")).expect("symlink");
            let m = message(two_links(r, "real", "alias"));
            assert!(m.contains("use the same folder"), "{m}");
            let m = message(two_links(r, "alias/sub/new", "real"));
            assert!(m.contains("inside the folder of link \"b\""), "{m}");
            two_links(r, "alias/sub", "real-2").expect("apart");
        }
    }

    /// A Markdown folder that is a file is a config error.
    #[test]
    fn markdown_dir_that_is_a_file() {
        let root = tempfile::tempdir().expect("dir");
        std::fs::write(root.path().join("roadmap"), "x").expect("write");
        let text = "[[link]]\nname = \"roadmap\"\nasana_project = \"1\"\nmarkdown = { dir = \"roadmap\" }\n";
        let m = message(Config::parse(
            &root.path().join("asana-bridge.toml"),
            text,
            None,
        ));
        assert!(
            m.contains("link \"roadmap\": markdown.dir") && m.contains("is a file, not a folder"),
            "{m}"
        );
    }
}
