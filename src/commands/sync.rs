//! `asana-bridge sync`: one-shot reconcile of every link (or one).

use std::path::Path;

use asana_bridge_state::Store;

use super::{Output, load_config};
use crate::cli::SyncArgs;
use crate::connect::Connectors;
use crate::engine::{self, SyncOptions};
use crate::exit::{CliError, Exit};
use crate::report;

pub async fn run(config_path: &Path, args: &SyncArgs, out: Output) -> Result<Exit, CliError> {
    let config = load_config(config_path)?;
    let links = config.select(args.link.as_deref())?;
    let connectors = Connectors::new(&config, args.dry_run)?;
    let store = if args.dry_run {
        Store::open_snapshot(&config.state_dir)?
    } else {
        Store::open(&config.state_dir)?
    };
    let options = SyncOptions {
        dry_run: args.dry_run,
        allow_mass_delete: args.allow_mass_delete,
        full: args.full,
        ..SyncOptions::default()
    };

    let mut reports = Vec::new();
    for link in links {
        let crate::connect::LinkConnectors { asana, target } =
            connectors.for_link(link, !args.dry_run)?;
        let bar = if out.progress() {
            let style =
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> ");
            indicatif::ProgressBar::new(0)
                .with_style(style)
                .with_message(format!("link \"{}\"", link.name))
        } else {
            indicatif::ProgressBar::hidden()
        };
        let result = engine::sync_link(
            link,
            asana.as_ref(),
            target.as_ref(),
            &store,
            options,
            &bar,
            None,
        )
        .await;
        bar.finish_and_clear();
        let r = result?;
        for line in report::error_lines(&r) {
            eprintln!("{line}");
        }
        if !out.json && !out.quiet {
            for note in &r.notes {
                println!("link \"{}\": {note}", r.link);
            }
            if let Some(plan) = r.plan.as_ref().filter(|_| r.dry_run) {
                let describe = |id: &str| target.describe(id);
                let text = report::render_plan(
                    plan,
                    &report::SideNames {
                        target_kind: target.kind(),
                        target: &describe,
                    },
                );
                print!("{text}");
            }
            println!("{}", report::summary_line(&r, target.kind()));
        }
        reports.push(r);
    }
    if !args.dry_run {
        store.flush()?;
    }
    if out.json {
        let doc = serde_json::json!({
            "dry_run": args.dry_run,
            "links": reports.iter().map(report::link_json).collect::<Vec<_>>(),
        });
        println!("{doc}");
    }

    Ok(if reports.iter().any(engine::LinkReport::has_errors) {
        Exit::Runtime
    } else if reports.iter().any(|r| r.conflicts_open > 0) {
        Exit::Conflicts
    } else {
        Exit::Success
    })
}
