//! `asana-bridge conflicts`: list open conflicts with a diff of both sides, and
//! `conflicts resolve ID --keep asana|target` to settle one (the next sync applies it).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::anyhow;
use asana_bridge_state::Store;
use serde_json::json;

use super::{Output, load_config};
use crate::cli::{ConflictsAction, ConflictsArgs, Keep};
use crate::exit::{CliError, Exit};
use crate::linkstate::LinkState;
use crate::records::{ConflictRecord, Side};

pub fn run(config_path: &Path, args: &ConflictsArgs, out: Output) -> Result<Exit, CliError> {
    let config = load_config(config_path)?;
    let links = config.select(args.link.as_deref())?;
    match &args.action {
        None => {
            let store = Store::open_snapshot(&config.state_dir)?;
            let mut docs = Vec::new();
            let mut total = 0;
            for link in links {
                let state = LinkState::open(&store, &link.name)?;
                for c in state.conflict_list()? {
                    total += 1;
                    out.line(&render(&link.name, &c));
                    docs.push(json!({
                        "link": link.name,
                        "id": c.id,
                        "asana_gid": c.asana_gid,
                        "target_id": c.target_id,
                        "title": c.title,
                        "field": c.what(),
                        "asana": c.asana_value,
                        "target": c.target_value,
                        "base": c.base_value,
                        "detected_at": c.detected_at,
                        "resolution": c.resolution,
                    }));
                }
            }
            if out.json {
                println!("{}", json!({ "conflicts": docs }));
            } else if total == 0 {
                out.line("no unresolved conflicts");
            }
            Ok(if total > 0 {
                Exit::Conflicts
            } else {
                Exit::Success
            })
        }
        Some(ConflictsAction::Resolve { id, keep }) => {
            let store = Store::open(&config.state_dir)?;
            for link in links {
                let state = LinkState::open(&store, &link.name)?;
                if let Some(mut c) = state.conflicts.get(id)? {
                    c.resolution = Some(match keep {
                        Keep::Asana => Side::Asana,
                        Keep::Target => Side::Target,
                    });
                    state.conflicts.put(id, &c)?;
                    store.flush()?;
                    let what = c.what().unwrap_or_else(|| "the deletion".to_owned());
                    if out.json {
                        println!(
                            "{}",
                            json!({ "link": link.name, "id": id, "keep": c.resolution })
                        );
                    }
                    out.line(&format!(
                        "conflict {id} (link \"{}\", \"{}\", {what}): the {} version will be kept at the next sync",
                        link.name,
                        c.title,
                        match keep {
                            Keep::Asana => "Asana",
                            Keep::Target => "target",
                        }
                    ));
                    return Ok(Exit::Success);
                }
            }
            Err(CliError::usage(anyhow!(
                "no conflict with id \"{id}\" (list them with `asana-bridge conflicts`)"
            )))
        }
    }
}

fn render(link: &str, c: &ConflictRecord) -> String {
    let mut s = String::new();
    let what = c.what().map_or_else(
        || "deleted on one side, edited on the other".to_owned(),
        |f| format!("{f} changed on both sides"),
    );
    let _ = writeln!(
        s,
        "conflict {} (link \"{link}\"): \"{}\": {what}",
        c.id, c.title
    );
    let _ = writeln!(s, "  Asana task {} <-> {}", c.asana_gid, c.target_id);
    if let Some(r) = c.resolution {
        let _ = writeln!(
            s,
            "  resolved: keep {} (applied at the next sync)",
            match r {
                Side::Asana => "asana",
                Side::Target => "target",
            }
        );
    }
    let a = c
        .asana_value
        .clone()
        .unwrap_or_else(|| "(deleted)\n".to_owned());
    let t = c
        .target_value
        .clone()
        .unwrap_or_else(|| "(deleted)\n".to_owned());
    let diff = similar::TextDiff::from_lines(&a, &t);
    for line in diff
        .unified_diff()
        .context_radius(3)
        .header("asana", "target")
        .to_string()
        .lines()
    {
        let _ = writeln!(s, "    {line}");
    }
    let _ = write!(
        s,
        "  settle it: asana-bridge conflicts resolve {} --keep asana|target",
        c.id
    );
    s
}
