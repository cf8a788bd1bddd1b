//! One module per command; [`run`] dispatches.

mod auth;
mod completions;
mod conflicts;
mod doctor;
mod init;
mod man;
mod projects;
mod status;
mod sync;
mod watch;

use crate::cli::{Cli, Command};
use crate::exit::{CliError, Exit};
pub use crate::output::Output;

/// Runs the parsed command line; `Ok` carries the exit code of a command that ran to its
/// end (which may still be 1 or 3), `Err` one that could not run.
pub async fn run(cli: Cli) -> Result<Exit, CliError> {
    let out = Output {
        json: cli.json,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Init(args) => init::run(&cli.config, &args, out).await,
        Command::Sync(args) => sync::run(&cli.config, &args, out).await,
        Command::Watch(args) => watch::run(&cli.config, &args, out).await,
        Command::Status(args) => status::run(&cli.config, args.link.as_deref(), out),
        Command::Conflicts(args) => conflicts::run(&cli.config, &args, out),
        Command::Auth(args) => auth::run(&cli.config, &args.action, out).await,
        Command::Projects(args) => projects::run(&cli.config, &args, out).await,
        Command::Doctor(args) => doctor::run(&cli.config, &args, out).await,
        Command::Completions(args) => completions::run(args.shell),
        Command::Man(args) => man::run(args.out.as_deref(), out),
    }
}

/// Loads the config, honouring `ASANA_BASE_URL`.
pub(crate) fn load_config(path: &std::path::Path) -> Result<crate::config::Config, CliError> {
    let base_url = std::env::var("ASANA_BASE_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let config = crate::config::Config::load(path, base_url)?;
    for warning in crate::exposure::config_warnings(&config) {
        tracing::warn!("{warning}");
    }
    Ok(config)
}
