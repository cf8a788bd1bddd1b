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
