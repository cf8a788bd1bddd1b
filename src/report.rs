//! What the user sees: the summary of a run, the dry-run plan with unified diffs, error
//! lines on stderr, and the `--json` document on stdout.

use std::fmt::Write as _;

use asana_bridge_connector::{Field, Item, TaskFields, TaskPatch};
use serde_json::{Value, json};

use crate::config::OnDelete;
use crate::engine::LinkReport;
use crate::merge::{Decision, SyncPair};
use crate::plan::{Action, Plan};
use crate::records::Side;

/// Names for the two sides of a link in messages.
pub struct SideNames<'a> {
    /// e.g. `markdown`
    pub target_kind: &'a str,
    /// Describes a target item by id, e.g. `roadmap/x.md`.
    pub target: &'a dyn Fn(&str) -> String,
}

/// The one-line summary of a link's run.
#[must_use]
pub fn summary_line(r: &LinkReport, target_kind: &str) -> String {
    if let Some(plan) = &r.plan
        && r.dry_run
    {
        let writes = plan.write_count();
        return format!(
            "link \"{}\" (dry run): {} change{} planned, nothing written",
            r.link,
            writes,
            if writes == 1 { "" } else { "s" }
        );
    }
    let c = &r.counts;
    let mut parts = Vec::new();
    let mut push = |n: usize, what: &str| {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    };
    push(c.created_asana, "created in Asana");
    push(c.created_target, &format!("created in {target_kind}"));
    push(c.updated_asana, "updated in Asana");
    push(c.updated_target, &format!("updated in {target_kind}"));
    push(c.deleted_asana, "deleted in Asana");
    push(c.deleted_target, &format!("deleted in {target_kind}"));
    push(c.threads.subtasks_asana, "subtask changes in Asana");
    push(c.threads.comments_asana, "comments written in Asana");
    push(
        c.threads.target_items,
        &format!("subtasks or comments updated in {target_kind}"),
    );
    push(
        c.postponed,
        &format!("postponed in {target_kind} (creation budget; done on a later run)"),
    );
    if parts.is_empty() {
        parts.push("no changes".to_owned());
    }
    let mut line = format!(
        "link \"{}\": {}; {} mapped",
        r.link,
        parts.join(", "),
        r.mapped
    );
    if r.conflicts_open > 0 {
        let _ = write!(
            line,
            "; {} unresolved conflict{} (see `asana-bridge conflicts`)",
            r.conflicts_open,
            if r.conflicts_open == 1 { "" } else { "s" }
        );
    }
    if !r.failures.is_empty() {
        let _ = write!(
            line,
            "; {} item{} failed",
            r.failures.len(),
            if r.failures.len() == 1 { "" } else { "s" }
        );
    }
    line
}

/// The error lines of a link's run (`error: link "x": item: cause`).
#[must_use]
pub fn error_lines(r: &LinkReport) -> Vec<String> {
    let mut out: Vec<String> = r
        .failures
        .iter()
        .map(|f| format!("error: link \"{}\": {}: {}", r.link, f.item, f.message))
        .collect();
    if let Some(fatal) = &r.fatal {
        out.push(format!("error: link \"{}\": {fatal}", r.link));
    }
    out
}

/// The plan in words, with unified diffs of changed text.
#[must_use]
pub fn render_plan(plan: &Plan, names: &SideNames<'_>) -> String {
    let mut out = String::new();
    let target = |id: &str| (names.target)(id);
    for action in &plan.actions {
        match action {
            Action::CreateAsana {
                target: t,
                replaces,
            } => {
                let _ = writeln!(
                    out,
                    "  + create Asana task \"{}\" from {}{}",
                    t.fields.title,
                    target(&t.id),
                    if replaces.is_some() {
                        " (it was deleted in Asana while edited here)"
                    } else {
                        ""
                    }
                );
                describe_new(&mut out, &t.fields);
            }
            Action::CreateTarget { asana, replaces } => {
                let _ = writeln!(
                    out,
                    "  + create {} item for Asana task {} \"{}\"{}",
                    names.target_kind,
                    asana.id,
                    asana.fields.title,
                    if replaces.is_some() {
                        " (it was deleted here while edited in Asana)"
                    } else {
                        ""
                    }
                );
                describe_new(&mut out, &asana.fields);
            }
            Action::Sync(pair) => render_pair(&mut out, pair, &target(&pair.target.id)),
            Action::DeleteAsana {
                asana, how, record, ..
            } => {
                let what = match how {
                    OnDelete::Delete => "save to the trash, then delete",
                    OnDelete::Complete => "complete",
                    OnDelete::Ignore => "let go (left as it is)",
                };
                let _ = writeln!(
                    out,
                    "  - {what} Asana task {} \"{}\" ({} was removed)",
                    asana.id,
                    asana.fields.title,
                    target(&record.target_id)
                );
            }
            Action::Unlink { record, title, to } => {
                let _ = writeln!(
                    out,
                    "  ~ let go of Asana task {} \"{title}\": {} moved to {to} (the task is left as it is)",
                    record.asana_gid,
                    target(&record.target_id)
                );
            }
            Action::DeleteTarget { target: t, .. } => {
                let _ = writeln!(
                    out,
                    "  - move {} to the trash (its Asana task was deleted)",
                    target(&t.id)
                );
            }
            Action::HoldDeletion { conflict, .. } => {
                let _ = writeln!(
                    out,
                    "  ! conflict {}: \"{}\" was deleted on one side and edited on the other; left for `conflicts resolve`",
                    conflict.id, conflict.title
                );
            }
            Action::Forget { .. } | Action::DropIntent { .. } => {}
        }
    }
    out
}

fn describe_new(out: &mut String, f: &TaskFields) {
    for field in Field::ALL {
        if field == Field::Title {
            continue;
        }
        let v = f.display(field);
        if v.is_empty() || (field == Field::Completed && !f.completed) {
            continue;
        }
        if field == Field::Notes {
            let _ = writeln!(out, "      notes: {} line(s)", v.lines().count());
        } else {
            let _ = writeln!(out, "      {field}: {v}");
        }
    }
}

fn render_pair(out: &mut String, pair: &SyncPair, target_name: &str) {
    if !pair.writes()
        && !pair
            .decisions
            .iter()
            .any(|d| matches!(d, Decision::Held { .. } | Decision::CustomHeld { .. }))
    {
        return;
    }
    let _ = writeln!(
        out,
        "  ~ {target_name} <-> Asana task {} \"{}\"",
        pair.asana.id, pair.asana.fields.title
    );
    for decision in &pair.decisions {
        match decision {
            Decision::Settled { field, winner, by } => {
                let _ = writeln!(
                    out,
                    "      conflict on {field}: {} wins ({by})",
                    side_name(*winner)
                );
            }
            Decision::Held { field } => {
                let _ = writeln!(
                    out,
                    "      conflict on {field}: left as it is on both sides (manual)"
                );
            }
            Decision::CustomSettled { name, winner, by } => {
                let _ = writeln!(
                    out,
                    "      conflict on fields.{name}: {} wins ({by})",
                    side_name(*winner)
                );
            }
            Decision::CustomHeld { name } => {
                let _ = writeln!(
                    out,
                    "      conflict on fields.{name}: left as it is on both sides (manual)"
                );
            }
            Decision::Flow { .. }
            | Decision::Merged { .. }
            | Decision::CustomFlow { .. }
            | Decision::CustomMerged { .. } => {}
        }
    }
    render_patch(out, "Asana", &pair.asana.fields, &pair.to_asana);
    render_patch(out, target_name, &pair.target.fields, &pair.to_target);
    if pair.stamp_partner && pair.to_target.is_empty() {
        let _ = writeln!(
            out,
            "      {target_name}: record asana_gid {}",
            pair.asana.id
        );
    }
}

fn render_patch(out: &mut String, side: &str, before: &TaskFields, patch: &TaskPatch) {
    if patch.is_empty() {
        return;
    }
    let after = patch.applied_to(before);
    for field in patch.fields() {
        let old = before.display(field);
        let new = after.display(field);
        if field == Field::Notes || old.contains('\n') || new.contains('\n') {
            let _ = writeln!(out, "      {side}: {field}:");
            let diff = similar::TextDiff::from_lines(&old, &new);
            let text = diff
                .unified_diff()
                .context_radius(2)
                .header(&format!("{field} (before)"), &format!("{field} (after)"))
                .to_string();
            for line in text.lines() {
                let _ = writeln!(out, "        {line}");
            }
        } else {
            let _ = writeln!(out, "      {side}: {field}: {old:?} -> {new:?}");
        }
    }
    for name in patch.custom.keys() {
        let show = |f: &TaskFields| asana_bridge_connector::custom::display_opt(f.custom.get(name));
        let (old, new) = (show(before), show(&after));
        let _ = writeln!(out, "      {side}: fields.{name}: {old:?} -> {new:?}");
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Asana => "Asana",
        Side::Target => "the target",
    }
}

/// The `--json` document of one link's run.
#[must_use]
pub fn link_json(r: &LinkReport) -> Value {
    let mut v = json!({
        "link": r.link,
        "dry_run": r.dry_run,
        "counts": r.counts,
        "mapped": r.mapped,
        "conflicts": r.conflicts_open,
        "errors": r.failures,
        "fatal": r.fatal,
        "notes": r.notes,
    });
    if let Some(plan) = &r.plan {
        v["plan"] = Value::Array(plan.actions.iter().filter_map(action_json).collect());
    }
    v
}

fn item_ref(item: &Item) -> Value {
    json!({ "id": item.id, "title": item.fields.title })
}

fn action_json(a: &Action) -> Option<Value> {
    Some(match a {
        Action::CreateAsana { target, .. } => {
            json!({"action": "create", "side": "asana", "from": item_ref(target)})
        }
        Action::CreateTarget { asana, .. } => {
            json!({"action": "create", "side": "target", "from": item_ref(asana)})
        }
        Action::Sync(p) if p.writes() || !p.held.is_empty() || !p.held_custom.is_empty() => {
            json!({
                "action": "update",
                "asana": item_ref(&p.asana),
                "target": item_ref(&p.target),
                "asana_fields": p.to_asana.fields(),
                "target_fields": p.to_target.fields(),
                "asana_custom_fields": p.to_asana.custom.keys().collect::<Vec<_>>(),
                "target_custom_fields": p.to_target.custom.keys().collect::<Vec<_>>(),
                "conflicts": p.held,
                "custom_conflicts": p.held_custom,
            })
        }
        Action::DeleteAsana { asana, how, .. } => match how {
            OnDelete::Delete => {
                json!({"action": "delete", "side": "asana", "item": item_ref(asana)})
            }
            OnDelete::Complete => {
                json!({"action": "complete", "side": "asana", "item": item_ref(asana)})
            }
            OnDelete::Ignore => {
                json!({"action": "let_go", "side": "asana", "item": item_ref(asana)})
            }
        },
        Action::Unlink { record, to, .. } => json!({
            "action": "let_go", "side": "asana",
            "item": {"id": record.asana_gid}, "moved_to": to
        }),
        Action::DeleteTarget { target, .. } => {
            json!({"action": "delete", "side": "target", "item": item_ref(target)})
        }
        Action::HoldDeletion { conflict, .. } => {
            json!({"action": "conflict", "id": conflict.id, "title": conflict.title})
        }
        _ => return None,
    })
}
