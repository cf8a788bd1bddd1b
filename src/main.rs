//! The `asana-bridge` binary: parse the command line, set up logging, run the command,
//! turn the outcome into the contract's exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use asana_bridge::cli::{Cli, LogFormat};
use asana_bridge::commands;
use asana_bridge::exit::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Success.into()
            };
        }
    };
    let color = cli.color.enabled(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let json_logs = cli.log_format == LogFormat::Json;
    if json_logs {
        asana_bridge::watch::log_messages_as_json();
    }
    init_logging(cli.verbose, cli.quiet, color, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Runtime.into();
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(exit) => exit.into(),
        Err(failure) if json_logs => {
            // A log shipper reads stderr as JSON lines: the final error is one of them.
            tracing::error!("{}", one_line(&failure.error));
            failure.exit.into()
        }
        Err(failure) => {
            eprintln!("error: {}", one_line(&failure.error));
            failure.exit.into()
        }
    }
}

/// An error and its causes on one line, each cause said once: an error whose message
/// already quotes its source (`cannot read config file x: No such file ...`) does not get
/// it appended again.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Logs on stderr at the level `-v`/`-q` choose, as text or as one JSON object a line.
fn init_logging(verbose: u8, quiet: bool, color: bool, format: LogFormat) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = log_filter(level, verbose);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => builder.with_ansi(color).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// The log filter: our crates, every registered target crate included, at `level`;
/// dependencies one notch quieter unless -vvv. sled's own logs stay out: what it finds
/// wrong is reported as one clear error (a damaged state folder), not as its internal
/// warnings.
fn log_filter(level: &str, verbose: u8) -> String {
    if verbose >= 3 {
        return level.to_owned();
    }
    let targets: String = asana_bridge::targets::log_targets()
        .map(|t| format!(",{t}={level}"))
        .collect();
    format!(
        "warn,asana_bridge={level},asana_bridge_connector={level},asana_bridge_asana={level},asana_bridge_state={level}{targets},sled=off"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-v` reaches every target crate (the GitHub connector's logs were once left at
    /// `warn`), and the filter parses.
    #[test]
    fn verbose_reaches_every_target_crate() {
        let filter = log_filter("debug", 2);
        for crate_name in ["asana_bridge_markdown", "asana_bridge_github"] {
            assert!(filter.contains(&format!(",{crate_name}=debug")), "{filter}");
        }
        tracing_subscriber::EnvFilter::try_new(&filter).expect("a valid filter");
        assert_eq!(log_filter("trace", 3), "trace");
    }
}
