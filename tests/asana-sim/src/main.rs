//! The `asana-sim` binary: runs the simulator as a process for the demo and for tests that
//! spawn it. Prints one JSON line `{"base_url", "token", "project", "workspace", "root_url"}`
//! on stdout once it is listening, then serves until SIGINT/SIGTERM.
//!
//! Usage: `asana-sim [--port P] [--tasks N] [--latency-ms L] [--rpm R] [--rate-window-ms W] [--demo]`

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use asana_sim::{SimOptions, Simulator, seed};

/// Parsed command line.
#[derive(Debug, Default)]
struct Args {
    port: Option<u16>,
    tasks: usize,
    latency_ms: u64,
    rpm: Option<u32>,
    rate_window_ms: Option<u64>,
    demo: bool,
}

const USAGE: &str = "usage: asana-sim [--port P] [--tasks N] [--latency-ms L] [--rpm R] [--rate-window-ms W] [--demo]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--port" => {
                args.port = Some(
                    value("--port")?
                        .parse()
                        .map_err(|e| format!("--port: {e}"))?,
                )
            }
            "--tasks" => {
                args.tasks = value("--tasks")?
                    .parse()
                    .map_err(|e| format!("--tasks: {e}"))?
            }
            "--latency-ms" => {
                args.latency_ms = value("--latency-ms")?
                    .parse()
                    .map_err(|e| format!("--latency-ms: {e}"))?;
            }
            "--rpm" => args.rpm = Some(value("--rpm")?.parse().map_err(|e| format!("--rpm: {e}"))?),
            "--rate-window-ms" => {
                args.rate_window_ms = Some(
                    value("--rate-window-ms")?
                        .parse()
                        .map_err(|e| format!("--rate-window-ms: {e}"))?,
                );
            }
            "--demo" => args.demo = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let mut sim = Simulator::start_with(SimOptions {
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        rate_limit_per_minute: args.rpm,
        rate_window: args.rate_window_ms.map(Duration::from_millis),
        ..SimOptions::default()
    });
    // Its callers read unexpected requests through `/_sim/unexpected`; exiting is no test.
    sim.tolerate_unexpected_requests();
    let project = if args.demo {
        seed::demo(&sim)
    } else {
        sim.create_project("Generated tasks")
    };
    seed::generated(&sim, &project, args.tasks);
    let line = serde_json::json!({
        "base_url": sim.base_url(),
        "root_url": sim.root_url(),
        "token": sim.token(),
        "project": project,
        "workspace": sim.workspace_gid(),
    });
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    drop(stdout);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("asana-sim: cannot build a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(wait_for_signal());
    drop(sim);
    ExitCode::SUCCESS
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
