//! The command line, as the contract fixes it (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The version `--version` prints: the package version and the git commit it was built
/// from (short hash; `unknown` outside a git checkout), set by `build.rs`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ASANA_BRIDGE_GIT_COMMIT"),
    ")"
);

/// Two-way sync between an Asana project and a Markdown folder or GitHub issues.
#[derive(Debug, Parser)]
#[command(name = "asana-bridge", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// Config file.
    #[arg(
        long,
        global = true,
        default_value = "asana-bridge.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Colour in messages on stderr: `auto` only on a terminal and never when `NO_COLOR`
    /// is set, `always`, or `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Log lines on stderr as `text`, or `json`: one JSON object a line, for journald and
    /// log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT", env = "ASANA_BRIDGE_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// What a deletion does, for `sync --help` and `watch --help`.
const DELETIONS: &str = "\
Deletions: a task is deleted in Asana only when its file is gone from a full listing of the
folder (under `watch`, for longer than the link's `delete_grace`, 60 s by default), the task
did not change in Asana since the last sync, and the link's `on_delete` is \"delete\" (the
default; \"complete\" marks the task complete instead, \"ignore\" leaves it). Before a delete
the task is saved, as a task file without `asana_gid`, to <dir>/.asana-bridge-trash/ (for a
GitHub link, trash/<link>/ in the state folder). To undo: restore the task from Asana's trash
(its comments and history come back and the file links again), or move the saved file back
into the folder to create the task anew. An edited `asana_gid`, an emptied file or a lost
front matter never changes the task: the file is reported with the fix.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter config (never overwrites an existing one).
    Init(InitArgs),
    /// Reconcile every link (or one) once, then exit.
    #[command(after_help = DELETIONS)]
    Sync(SyncArgs),
    /// Keep links mirrored until SIGINT/SIGTERM (clean shutdown exits 0).
    #[command(after_help = DELETIONS)]
    Watch(WatchArgs),
    /// Per link: mapped items, last successful sync, pending conflicts, cursor age.
    Status(LinkArg),
    /// List unresolved conflicts with a diff of both sides, or settle one.
    Conflicts(ConflictsArgs),
    /// Who the bridge acts as on each service; sign in to Asana (OAuth) or out.
    Auth(AuthArgs),
    /// List the workspaces and projects the Asana token can see, with their gids.
    Projects(ProjectsArgs),
    /// Check the setup in one go, one line per check: the config, the token, each linked
    /// project and repository, the folders, the state, the clock, webhooks. Exit 1 on any
    /// failure.
    Doctor(DoctorArgs),
    /// Print a shell completion script to stdout.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout, or write one page per command into a folder.
    Man(ManArgs),
}

/// How to install completions, for `completions --help`.
const COMPLETIONS_HELP: &str = "\
Install:
  bash:       asana-bridge completions bash > ~/.local/share/bash-completion/completions/asana-bridge
  zsh:        asana-bridge completions zsh > \"${fpath[1]}/_asana-bridge\"
  fish:       asana-bridge completions fish > ~/.config/fish/completions/asana-bridge.fish
  PowerShell: asana-bridge completions powershell | Out-String | Invoke-Expression  (in $PROFILE)";

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Link this Asana project in the new config: its name (as `asana-bridge projects`
    /// lists it), its URL (https://app.asana.com/0/<gid>/list, .../project/<gid>/...) or its
    /// gid.
    #[arg(long, value_name = "NAME_OR_URL")]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProjectsArgs {
    /// Only this workspace (its gid or name).
    #[arg(long, value_name = "GID_OR_NAME")]
    pub workspace: Option<String>,
    /// Leave out archived projects.
    #[arg(long)]
    pub no_archived: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The public URL `watch --webhook-url` is given: check that it reaches a receiver.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Warn when the machine's clock and Asana's differ by more than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub clock_tolerance: u64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `asana-bridge.1` and one page per subcommand (`asana-bridge-sync.1`, ...)
    /// into this folder instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub action: AuthAction,
}

#[derive(Debug, Subcommand)]
pub enum AuthAction {
    /// Who the bridge acts as on Asana and GitHub, what it can see, and a warning for
    /// every linked project or repository it cannot see (exit 1).
    Status,
    /// Sign in to Asana with OAuth (PKCE, loopback redirect) and keep the refresh token
    /// in the OS keyring or an owner-only file.
    Login {
        /// Instead of OAuth, read a personal access token or service-account token from
        /// stdin and keep it in the keyring or owner-only file.
        #[arg(long)]
        with_token: bool,
        /// Print the sign-in URL without trying to open a browser.
        #[arg(long)]
        no_browser: bool,
        /// Seconds to wait for the sign-in.
        #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
    },
    /// Revoke the stored OAuth sign-in at Asana and delete every stored credential.
    Logout,
}

#[derive(Debug, Args)]
pub struct LinkArg {
    /// Only this link.
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this link.
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// Print what would change, with diffs; write nothing anywhere (no API write, no file,
    /// no state).
    #[arg(long)]
    pub dry_run: bool,
    /// Allow a run to delete more than half of a link's items.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// List every Asana task instead of reading only what changed since the last sync.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only this link.
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// Seconds between polls of Asana's change feed (default 10, or the link's
    /// `poll_interval`).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_interval: Option<u64>,
    /// Seconds between full reconciles, the safety net for anything an event source missed.
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub full_interval: u64,
    /// Seconds between backup polls of a link that a webhook speeds up.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub backup_poll_interval: u64,
    /// Serve an Asana webhook receiver on this address (e.g. 127.0.0.1:8787), as a
    /// real-time accelerator; polling goes on as the backup.
    #[arg(long, value_name = "ADDR", requires = "webhook_url")]
    pub webhook_listen: Option<std::net::SocketAddr>,
    /// The public https URL that reaches the receiver; each link's webhook target is this
    /// URL plus `/<link name>`.
    #[arg(long, value_name = "URL", requires = "webhook_listen")]
    pub webhook_url: Option<String>,
    /// Serve Prometheus metrics at /metrics and a health check at /healthz on this address
    /// (e.g. 127.0.0.1:9187).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Run only the links whose name hashes to shard K of N (K from 0 to N-1), so that N
    /// processes, each with its own state directory, split one config.
    #[arg(long, value_name = "K/N", conflicts_with = "link")]
    pub shard: Option<crate::watch::shard::Shard>,
}

#[derive(Debug, Args)]
pub struct ConflictsArgs {
    /// Only this link.
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    #[command(subcommand)]
    pub action: Option<ConflictsAction>,
}

#[derive(Debug, Subcommand)]
pub enum ConflictsAction {
    /// Settle one conflict; the next sync applies it.
    Resolve {
        /// The conflict's id, as `asana-bridge conflicts` shows it.
        id: String,
        /// Which side's version to keep.
        #[arg(long, value_enum)]
        keep: Keep,
    },
}

/// When to colour messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour: `auto` when stderr is a terminal and `NO_COLOR` is unset or
    /// empty (<https://no-color.org>).
    #[must_use]
    pub fn enabled(self, stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => stderr_is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty),
        }
    }
}

/// How log lines on stderr are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A side to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Keep {
    Asana,
    Target,
}

#[cfg(test)]
mod tests {
    use super::ColorChoice;
    use std::ffi::OsStr;

    /// `auto` colours a terminal only, and never with a non-empty `NO_COLOR`.
    #[test]
    fn colour_follows_the_terminal_and_no_color() {
        assert!(ColorChoice::Auto.enabled(true, None));
        assert!(ColorChoice::Auto.enabled(true, Some(OsStr::new(""))));
        assert!(!ColorChoice::Auto.enabled(true, Some(OsStr::new("1"))));
        assert!(!ColorChoice::Auto.enabled(false, None));
        assert!(ColorChoice::Always.enabled(false, Some(OsStr::new("1"))));
        assert!(!ColorChoice::Never.enabled(true, None));
    }
}
