//! What a dry run reports: the plan, and the conflicts the store would hold once it were
//! applied.

use std::collections::BTreeMap;

use super::LinkReport;
use crate::plan::{Action, Plan};
use crate::records::ConflictRecord;

/// The report of a dry run of `plan` on a link of `mapped` pairs: nothing is written.
pub(super) fn dry_run(
    mut report: LinkReport,
    plan: Plan,
    mapped: usize,
    recorded: &[ConflictRecord],
) -> LinkReport {
    report.mapped = mapped;
    report.conflicts_open = conflicts_after(recorded, &plan.actions);
    report.plan = Some(plan);
    report
}

/// How many conflicts the store would hold once `actions` were applied: the recorded ones,
/// plus those the plan opens, minus those it settles or replaces (what `--dry-run` reports).
fn conflicts_after(recorded: &[ConflictRecord], actions: &[Action]) -> usize {
    // Conflict id -> the gid of its pair.
    let mut open: BTreeMap<&str, &str> = recorded
        .iter()
        .map(|c| (c.id.as_str(), c.asana_gid.as_str()))
        .collect();
    for action in actions {
        match action {
            Action::Sync(pair) => {
                for id in &pair.resolved {
                    open.remove(id.as_str());
                }
                for c in &pair.conflicts {
                    open.insert(&c.id, &c.asana_gid);
                }
            }
            Action::HoldDeletion {
                conflict,
                superseded,
                ..
            } => {
                for id in superseded {
                    open.remove(id.as_str());
                }
                open.insert(&conflict.id, &conflict.asana_gid);
            }
            // A pair forgotten takes its conflicts with it.
            Action::DeleteTarget { record, .. }
            | Action::DeleteAsana { record, .. }
            | Action::Forget { record }
            | Action::Unlink { record, .. }
            | Action::CreateTarget {
                replaces: Some(record),
                ..
            }
            | Action::CreateAsana {
                replaces: Some(record),
                ..
            } => open.retain(|_, gid| *gid != record.asana_gid),
            Action::CreateTarget { .. }
            | Action::CreateAsana { .. }
            | Action::DropIntent { .. } => {}
        }
    }
    open.len()
}
