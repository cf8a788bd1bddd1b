//! `asana-bridge status`: per link, mapped items, last successful sync, pending conflicts
//! and creates, cursor age. Reads only the state store: no network.

use std::path::Path;

use asana_bridge_state::Store;
use serde_json::json;

use super::{Output, load_config};
use crate::exit::{CliError, Exit};
use crate::linkstate::LinkState;

pub fn run(config_path: &Path, link: Option<&str>, out: Output) -> Result<Exit, CliError> {
    let config = load_config(config_path)?;
    let links = config.select(link)?;
    if Store::is_in_use(&config.state_dir) {
        return live(&config.state_dir, &links, out);
    }
    // A snapshot: status never writes, and works on a state nobody synced yet.
    let store = Store::open_snapshot(&config.state_dir)?;
    let now = jiff::Timestamp::now();
    let mut docs = Vec::new();
    for link in links {
        let state = LinkState::open(&store, &link.name)?;
        let meta = state.meta()?;
        let mapped = state.pairs.len();
        let conflicts = state.conflicts.len();
        let pending = state.intents.len();
        let cursor_age = meta
            .asana_cursor_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| (now - t).as_secs());
        docs.push(json!({
            "link": link.name,
            "mapped": mapped,
            "last_success": meta.last_success,
            "last_attempt": meta.last_attempt,
            "conflicts": conflicts,
            "pending_creates": pending,
            "cursor_age_seconds": cursor_age,
        }));
        out.line(&format!("link \"{}\"", link.name));
        out.line(&format!("  mapped items:         {mapped}"));
        out.line(&format!(
            "  last successful sync: {}",
            meta.last_success
                .as_deref()
                .map_or_else(|| "never".to_owned(), |t| ago(now, t))
        ));
        if meta.last_attempt != meta.last_success
            && let Some(t) = &meta.last_attempt
        {
            out.line(&format!(
                "  last attempt:         {} (had errors)",
                ago(now, t)
            ));
        }
        out.line(&format!(
            "  pending conflicts:    {conflicts}{}",
            if conflicts > 0 {
                " (see `asana-bridge conflicts`)"
            } else {
                ""
            }
        ));
        if pending > 0 {
            out.line(&format!(
                "  unfinished creates:   {pending} (the next sync settles them)"
            ));
        }
        out.line(&format!(
            "  events cursor age:    {}",
            cursor_age.map_or_else(|| "none".to_owned(), |s| format!("{s}s"))
        ));
    }
    if out.json {
        println!("{}", json!({ "links": docs }));
    }
    Ok(Exit::Success)
}

/// Status from what a running `watch` publishes (it holds the store).
fn live(
    state_dir: &Path,
    links: &[&crate::config::LinkConfig],
    out: Output,
) -> Result<Exit, CliError> {
    let Some(published) = crate::watch::published::read(state_dir) else {
        return Err(CliError::usage(anyhow::anyhow!(
            "the state in {} is in use by another asana-bridge process that publishes no status (a `sync` in progress?); try again in a moment",
            state_dir.display()
        )));
    };
    let now = jiff::Timestamp::now();
    let mut docs = Vec::new();
    out.line(&format!(
        "live status from the running watch (pid {}, started {})",
        published.pid,
        ago(now, &published.started_at)
    ));
    for link in links {
        let Some(s) = published.links.get(&link.name) else {
            out.line(&format!("link \"{}\": not watched by it", link.name));
            continue;
        };
        let cursor_age = s
            .cursor_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| (now - t).as_secs());
        out.line(&format!("link \"{}\"", link.name));
        out.line(&format!("  mapped items:         {}", s.mapped));
        out.line(&format!(
            "  last poll:            {}",
            s.last_poll
                .as_deref()
                .map_or_else(|| "not yet".to_owned(), |t| ago(now, t))
        ));
        out.line(&format!(
            "  last successful sync: {}",
            s.last_success
                .as_deref()
                .map_or_else(|| "never".to_owned(), |t| ago(now, t))
        ));
        out.line(&format!("  pending conflicts:    {}", s.conflicts));
        if s.pending_creates > 0 {
            out.line(&format!("  unfinished creates:   {}", s.pending_creates));
        }
        out.line(&format!(
            "  events cursor age:    {}",
            cursor_age.map_or_else(|| "none".to_owned(), |s| format!("{s}s"))
        ));
        if let Some(o) = &s.outage {
            out.line(&format!("  OUTAGE:               {o}"));
        }
        docs.push(json!({
            "link": link.name,
            "mapped": s.mapped,
            "last_poll": s.last_poll,
            "last_success": s.last_success,
            "conflicts": s.conflicts,
            "pending_creates": s.pending_creates,
            "cursor_age_seconds": cursor_age,
            "outage": s.outage,
            "webhook": s.webhook,
        }));
    }
    if out.json {
        println!(
            "{}",
            json!({ "live": true, "pid": published.pid, "links": docs })
        );
    }
    Ok(Exit::Success)
}

fn ago(now: jiff::Timestamp, t: &str) -> String {
    match t.parse::<jiff::Timestamp>() {
        Ok(ts) => {
            let secs = (now - ts).as_secs();
            let rel = match secs {
                s if s < 60 => format!("{s}s ago"),
                s if s < 3600 => format!("{}m ago", s / 60),
                s if s < 86_400 => format!("{}h ago", s / 3600),
                s => format!("{}d ago", s / 86_400),
            };
            format!("{t} ({rel})")
        }
        Err(_) => t.to_owned(),
    }
}
