//! The two refusals of a run: an emptied side, and a plan that would delete too much. An
//! emptied side is an accident (a wrong project, a token that cannot see it, a wrong
//! folder) far more often than a wish.

use super::{Observations, Stop, SyncOptions};
use crate::config::LinkConfig;
use crate::plan::{Action, Plan};

/// Refuses a run in which either side shows nothing while pairs are mapped.
pub(super) fn neither_side_emptied(
    link: &LinkConfig,
    target_kind: &str,
    mapped: usize,
    seen: &Observations,
) -> Result<(), Stop> {
    if mapped > 0 && seen.asana.present() == 0 {
        return Err(Stop::refusal(format!(
            "the Asana project {} lists no tasks while {mapped} are mapped; refusing to mirror that as a mass deletion (wrong project, or a token that cannot see it?)",
            link.asana_project,
        )));
    }
    if mapped > 0 && seen.target.present() == 0 && seen.target.unreadable.is_empty() {
        return Err(Stop::refusal(format!(
            "the {target_kind} target is empty while {mapped} items are mapped; refusing to mirror that as a mass deletion (wrong folder?)",
        )));
    }
    Ok(())
}

/// Refuses a plan that deletes more than the link's share of its `mapped` items, unless
/// the run allows it.
pub(super) fn no_mass_deletion(
    plan: &Plan,
    mapped: usize,
    options: SyncOptions,
) -> Result<(), Stop> {
    let deletions = plan
        .actions
        .iter()
        .filter(|a| matches!(a, Action::DeleteAsana { .. } | Action::DeleteTarget { .. }))
        .count();
    #[allow(clippy::cast_precision_loss)] // item counts are far below 2^52
    let too_many = deletions > 2 && deletions as f64 > options.mass_delete_share * mapped as f64;
    if too_many && !options.allow_mass_delete {
        return Err(Stop::refusal(format!(
            "this run would delete {deletions} of {mapped} mapped items (more than {:.0}%); nothing was changed. Check both sides, then run again with --allow-mass-delete if that is what you want",
            options.mass_delete_share * 100.0
        )));
    }
    Ok(())
}
