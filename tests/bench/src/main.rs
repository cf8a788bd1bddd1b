//! `asana-bridge-bench`: runs the real `asana-bridge` binary against the in-process Asana
//! simulator and prints, per scenario, the requests by kind, wall time, CPU time and peak
//! RSS of the child, and the ratio of requests to the target of issue 4.
//!
//! ```text
//! cargo build --release -p asana-bridge
//! cargo run --release -p asana-bridge-bench -- [--scenario NAME]... [--quick]
//! ```
//!
//! See `BENCHMARKS.md` at the repository root for the scenarios, targets and figures.

mod measure;
mod requests;
mod scenarios;
mod watch;
mod world;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::scenarios::{Outcome, Params, SCENARIOS};

/// Benchmark of asana-bridge's request economy and overhead.
#[derive(Parser, Debug)]
#[command(name = "asana-bridge-bench")]
struct Args {
    /// Run only this scenario (repeatable); `--list` shows them. Default: all but `import`.
    #[arg(long, value_name = "NAME")]
    scenario: Vec<String>,
    /// Smaller sizes (10k -> 3k import, 100k -> 10k no-op, 500 -> 100 creates).
    #[arg(long)]
    quick: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// The binary to measure (default: `asana-bridge` next to this one, i.e.
    /// `target/release/asana-bridge` under `cargo run --release`).
    #[arg(long, value_name = "PATH", env = "ASANA_BRIDGE_BIN")]
    bin: Option<PathBuf>,
    /// Task count of the custom `import` scenario.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Simulated latency per request, for scenarios that do not set their own.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// The simulator's per-minute quota, for scenarios that do not set their own.
    #[arg(long, value_name = "RPM")]
    sim_rate_limit: Option<u32>,
    /// The client budget (`asana.requests_per_minute`), for scenarios that do not set their own.
    #[arg(long, value_name = "RPM")]
    rpm: Option<u32>,
    /// Task count of `noop-100k` (default 100,000; 10,000 with --quick).
    #[arg(long, value_name = "N")]
    big_n: Option<usize>,
    /// Length in bytes of each task's notes in `noop-100k` and the custom `import`
    /// (default: two short lines). The no-op's memory must not grow with it.
    #[arg(long, value_name = "BYTES")]
    notes_bytes: Option<usize>,
    /// Seconds the setup import of `noop-100k` may take before it is killed and reported.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    setup_limit: u64,
    /// Exit 1 when a target (not a reference figure) is missed.
    #[arg(long)]
    strict: bool,
    /// Measure `watch` instead: edit-to-arrival latency each way (polling and webhooks)
    /// and the requests an idle watch spends per hour.
    #[arg(long)]
    watch: bool,
    /// With `--watch`: seconds of idling to count requests over.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    idle_secs: u64,
}

fn main() -> Result<()> {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw.get(1).is_some_and(|a| a == measure::HELPER_ARG) {
        let code = measure::helper_main(&raw[2..])?;
        std::process::exit(code.clamp(0, 255));
    }
    let args = Args::parse();
    if args.list {
        for (name, what) in SCENARIOS {
            println!("{name:22} {what}");
        }
        return Ok(());
    }
    let bin = match args.bin.clone() {
        Some(b) => b,
        None => std::env::current_exe()
            .context("where is this binary")?
            .with_file_name("asana-bridge"),
    };
    if !bin.is_file() {
        bail!(
            "{} not found; build it first: cargo build --release -p asana-bridge (or pass --bin)",
            bin.display()
        );
    }
    let names: Vec<String> = if args.scenario.is_empty() {
        SCENARIOS
            .iter()
            .map(|s| s.0.to_owned())
            .filter(|s| s != "import")
            .collect()
    } else {
        args.scenario.clone()
    };
    let params = Params {
        bin: bin.clone(),
        quick: args.quick,
        n: args.n,
        latency: Duration::from_millis(args.latency_ms),
        sim_rate_limit: args.sim_rate_limit,
        rpm: args.rpm,
        big_n: args.big_n,
        notes_bytes: args.notes_bytes,
        setup_limit: Duration::from_secs(args.setup_limit),
    };

    print_machine(&bin);
    warn_if_stale(&bin);
    if args.watch {
        return watch::run(&bin, Duration::from_secs(args.idle_secs));
    }
    let mut rows: Vec<Outcome> = Vec::new();
    for name in &names {
        eprintln!("running {name} ...");
        let out = scenarios::run(name, &params).with_context(|| format!("scenario {name}"))?;
        for o in &out {
            eprintln!(
                "  {}: {} requests, {:.2} s wall, {:.2} s CPU, {:.1} MiB",
                o.name,
                o.sample.requests.total,
                o.sample.run.wall.as_secs_f64(),
                o.sample.run.cpu.as_secs_f64(),
                o.sample.run.max_rss_mib()
            );
        }
        rows.extend(out);
    }
    print_table(&rows);
    let missed = rows
        .iter()
        .flat_map(|r| r.checks.iter())
        .any(|c| !c.met && !c.reference);
    if args.strict && missed {
        std::process::exit(1);
    }
    Ok(())
}

/// Cores, CPU model, memory and the binary measured.
/// Warns when the measured binary is older than the workspace's sources: `cargo run -p
/// asana-bridge-bench` does not rebuild `asana-bridge`.
fn warn_if_stale(bin: &std::path::Path) {
    fn newest(dir: &std::path::Path, best: &mut Option<std::time::SystemTime>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if !path.ends_with("target") {
                    newest(&path, best);
                }
            } else if path.extension().is_some_and(|x| x == "rs")
                && let Ok(m) = e.metadata().and_then(|m| m.modified())
            {
                *best = Some(best.map_or(m, |b| b.max(m)));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut latest = None;
    for part in ["src", "connectors", "state"] {
        newest(&root.join(part), &mut latest);
    }
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok();
    if let (Some(src), Some(built)) = (latest, built)
        && src > built
    {
        eprintln!(
            "warning: {} is older than the sources; rebuild it first: cargo build --release -p asana-bridge",
            bin.display()
        );
    }
}

fn print_machine(bin: &std::path::Path) {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown", |v| v.trim_start_matches([' ', '\t', ':']));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map_or("unknown", str::trim);
    println!("machine: {cores} cores, {model}, {mem} RAM");
    println!("binary:  {}", bin.display());
    println!();
}

fn print_table(rows: &[Outcome]) {
    println!(
        "{:<34} {:>20} {:>6} {:>6} {:>4} {:>8} {:>6} {:>8} {:>7} {:>8}  verdict",
        "scenario",
        "size",
        "reqs",
        "writes",
        "429",
        "target",
        "ratio",
        "wall s",
        "CPU s",
        "RSS MiB",
    );
    for r in rows {
        let (target, ratio) = match r.bound {
            Some((b, reference)) => {
                #[allow(clippy::cast_precision_loss)] // small counts
                let ratio = r.sample.requests.total as f64 / b as f64;
                (
                    format!("≤{b}{}", if reference { "*" } else { "" }),
                    format!("{ratio:.2}"),
                )
            }
            None => ("-".to_owned(), "-".to_owned()),
        };
        if let Some(why) = &r.skipped {
            println!("{:<34} {:>20}  {why}", r.name, r.size);
            continue;
        }
        let missed = r.checks.iter().filter(|c| !c.met && !c.reference).count();
        let verdict = if missed == 0 {
            "met".to_owned()
        } else {
            format!("MISSED {missed}")
        };
        println!(
            "{:<34} {:>20} {:>6} {:>6} {:>4} {:>8} {:>6} {:>8.2} {:>7.2} {:>8.1}  {}",
            r.name,
            r.size,
            r.sample.requests.total,
            r.sample.requests.writes,
            r.sample.requests.throttled,
            target,
            ratio,
            r.sample.run.wall.as_secs_f64(),
            r.sample.run.cpu.as_secs_f64(),
            r.sample.run.max_rss_mib(),
            verdict
        );
    }
    println!("(* = reference bound, not a target of the issue; ratio = requests / bound)");
    println!();
    println!("requests by kind:");
    for r in rows {
        println!("  {:<34} {}", r.name, r.sample.requests.breakdown());
    }
    println!();
    println!("targets:");
    for r in rows {
        for c in &r.checks {
            let mark = match (c.met, c.reference) {
                (true, _) => "met   ",
                (false, false) => "MISSED",
                (false, true) => "over* ",
            };
            println!(
                "  {mark} {:<34} {} — measured {}",
                r.name, c.target, c.actual
            );
        }
        for n in &r.notes {
            println!("  note   {:<34} {n}", r.name);
        }
    }
}
