//! From what a run observed to what the planner is given: the quiet pairs are left out,
//! the others' full records are read back, and fields a side cannot express read as last
//! seen.

use std::collections::{HashMap, HashSet};

use asana_bridge_connector::{Connector, Field, Item};
use asana_bridge_state::StateError;

use super::Connectors;
use crate::failure::ItemFailure;
use crate::linkstate::LinkState;
use crate::observe::SideView;
use crate::plan::quiet::{self, SummaryIndex};
use crate::plan::{Observation, Observed, Unreadable};
use crate::records::{ConflictRecord, PairRecord, Side};

/// A run's observations, sorted for the steps after observing.
pub(super) struct Gathered {
    /// What the planner is given.
    pub planned: Planned,
    /// The tasks this run read from Asana as changed, gone or unreadable: a pair blocked by
    /// a problem must see them again once the problem is fixed.
    pub asana_named: HashSet<String>,
    /// Items that could not be read. Asana's keep the cursor where it is (those tasks
    /// must be read again); the target's are seen again by listing it.
    pub asana_failures: Vec<ItemFailure>,
    pub target_failures: Vec<ItemFailure>,
}

/// The planner's share of a run's observations.
#[derive(Default)]
pub(super) struct Planned {
    /// The recorded pairs that are not quiet, with how each side was observed.
    pub pairs: Vec<Observation>,
    /// Asana tasks no record pairs.
    pub new_asana: Vec<Item>,
    /// Target items that are no pair's own item.
    pub other_target: Vec<Item>,
    pub target_unreadable: Vec<Unreadable>,
    /// Fields read as last seen, by side and item id (see [`read_unknown_as_last_seen`]).
    pub filled_in: HashMap<(Side, String), Vec<Field>>,
}

/// Gathers the pairs to plan: every recorded pair but the quiet ones (see
/// [`quiet::untouched`]), each with its full record read back.
pub(super) fn pairs_to_plan(
    state: &LinkState,
    index: &SummaryIndex<'_>,
    asana: SideView,
    target: SideView,
    conflicts: &[ConflictRecord],
    connectors: &Connectors<'_>,
) -> Result<Gathered, StateError> {
    let quiet = quiet::untouched(
        index,
        &asana.pairs,
        &target.pairs,
        &target.others,
        &target.unreadable,
        conflicts,
    );
    let summaries = index.summaries();
    let asana_named: HashSet<String> = asana
        .others
        .iter()
        .map(|i| i.id.clone())
        .chain(
            summaries
                .iter()
                .zip(&asana.pairs)
                .filter(|(_, o)| **o != Observed::Unchanged)
                .map(|(s, _)| s.asana_gid.to_string()),
        )
        .collect();
    let mut pairs = Vec::new();
    let mut filled_in = HashMap::new();
    let sides = asana.pairs.into_iter().zip(target.pairs);
    for ((summary, quiet), (asana_seen, target_seen)) in summaries.iter().zip(quiet).zip(sides) {
        if quiet {
            continue;
        }
        let Some(record) = state.pairs.get(&summary.asana_gid)? else {
            continue;
        };
        let mut observation = Observation {
            record,
            asana: asana_seen,
            target: target_seen,
        };
        read_unknown_as_last_seen(
            &mut observation,
            Side::Asana,
            connectors.asana,
            &mut filled_in,
        );
        read_unknown_as_last_seen(
            &mut observation,
            Side::Target,
            connectors.target,
            &mut filled_in,
        );
        pairs.push(observation);
    }
    Ok(Gathered {
        planned: Planned {
            pairs,
            new_asana: asana.others,
            other_target: target.others,
            target_unreadable: target.unreadable,
            filled_in,
        },
        asana_named,
        asana_failures: asana.failures,
        target_failures: target.failures,
    })
}

/// A field a side holds but cannot express (see [`Connector::unknown_fields`]: a GitHub
/// issue assigned only to people `[users]` does not map, an Asana assignee whose e-mail is
/// hidden) reads as the pair's record last saw it there: it never clears the other side.
/// (The plan never carries such a value into a new counterpart: `filled_in` says which.)
fn read_unknown_as_last_seen(
    observation: &mut Observation,
    side: Side,
    connector: &dyn Connector,
    filled_in: &mut HashMap<(Side, String), Vec<Field>>,
) {
    let Observation {
        record,
        asana,
        target,
    } = observation;
    let Observed::Changed(item) = (match side {
        Side::Asana => asana,
        Side::Target => target,
    }) else {
        return;
    };
    let unknown = connector.unknown_fields(item);
    if unknown.is_empty() {
        return;
    }
    let Some(last) = PairRecord::remembered(record, side) else {
        return;
    };
    for field in &unknown {
        item.fields.copy_field(last, *field);
    }
    filled_in.insert((side, item.id.clone()), unknown);
}
