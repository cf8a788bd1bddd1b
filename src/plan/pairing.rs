//! Which target item is the counterpart of which Asana task (pure): the identity rules of
//! the contract's Safety section.
//!
//! The bridge's records come first: a target item whose id is recorded belongs to that
//! record's task. Beyond that, what an item says about itself counts as the target's
//! [`Identity`] allows:
//!
//! - [`Identity::Partner`] (a Markdown folder: files are renamed and moved, their
//!   `asana_gid` travels with them): a file naming a gid claims that task, so a moved file
//!   keeps its pair. A recorded file whose `asana_gid` now names another task, or that
//!   lost its front matter, is an error naming the file and the fix, and its task is left
//!   alone: an edit to a file is never a reason to delete or clear a task. A second file
//!   naming a task whose recorded file is still there is a copy, reported; the original
//!   keeps syncing.
//! - [`Identity::Record`] (GitHub: issue numbers never change): the records pair items;
//!   a partner (the footer line of an issue body) only re-adopts an issue for an Asana
//!   task that has no pair and was never let go (a create the bridge made and a crash
//!   kept it from recording, or records that were lost). Anywhere else it is text: a
//!   copied or pasted footer changes nothing in Asana. Symmetrically, a task the bridge
//!   made from an issue names that issue at the end of its description (read as the
//!   Asana item's `partner`, resolved to the issue's id by [`resolve_hints`]): after lost
//!   records, it re-adopts an issue that nothing else pairs and that carries no footer
//!   (an issue opened on GitHub), when exactly one unpaired task names it. Two or more
//!   (a copied task) pair none of them, and say so.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use asana_bridge_connector::{Identity, Item};

use crate::records::{LetGo, PairRecord, Side, Tombstone};

use super::{Problem, Unreadable};

/// The lookups pairing needs.
pub struct Known<'m, 'a> {
    pub identity: Identity,
    /// What the target calls its items in messages (`file`, `issue`).
    pub noun: &'m str,
    pub asana_by_gid: &'m HashMap<&'a str, &'a Item>,
    pub records_by_gid: &'m HashMap<&'a str, &'a PairRecord>,
    pub records_by_target: &'m HashMap<&'a str, &'a PairRecord>,
    pub tombstones: &'m HashMap<&'a str, &'a Tombstone>,
}

/// The pairing of one run's target items.
#[derive(Default)]
pub struct Pairing<'a> {
    /// Asana gid -> its target item.
    pub target_for: HashMap<&'a str, &'a Item>,
    /// Target items that belong to no task: new (or to be recovered from an intent).
    pub unclaimed: Vec<&'a Item>,
    /// Gids whose pair is left entirely alone this run.
    pub blocked: BTreeSet<String>,
    /// Set when an unreadable target item could not be tied to a pair: it might be any
    /// of the "missing" ones, so no deletion is planned from the target's side.
    pub deletions_held: bool,
    pub problems: Vec<Problem>,
}

impl<'a> Pairing<'a> {
    fn problem(&mut self, item: &Item, message: String) {
        self.problems.push(Problem {
            side: Side::Target,
            id: item.id.clone(),
            message,
        });
    }
}

/// Pairs `target` items with Asana tasks.
#[must_use]
pub fn pair<'a>(
    known: &Known<'_, 'a>,
    target: &[&'a Item],
    unreadable: &[Unreadable],
) -> Pairing<'a> {
    let mut out = Pairing::default();
    // Pairs whose target item cannot be read are left alone entirely.
    for bad in unreadable {
        let by_partner = bad.partner.as_deref();
        let by_id = bad
            .id
            .as_deref()
            .and_then(|id| known.records_by_target.get(id))
            .map(|r| r.asana_gid.as_str());
        match by_partner.or(by_id) {
            Some(gid) => {
                out.blocked.insert(gid.to_owned());
            }
            None => out.deletions_held = true,
        }
    }
    match known.identity {
        Identity::Partner => by_partner(known, target, &mut out),
        Identity::Record => by_record(known, target, &mut out),
    }
    for gid in &out.blocked {
        out.target_for.remove(gid.as_str());
    }
    out
}

/// [`Identity::Partner`]: records first, then what each file says.
fn by_partner<'a>(known: &Known<'_, 'a>, target: &[&'a Item], out: &mut Pairing<'a>) {
    let noun = known.noun;
    // Files naming a gid, and recorded files naming none, by gid.
    let mut naming: BTreeMap<&'a str, Vec<&'a Item>> = BTreeMap::new();
    let mut unnamed: BTreeMap<&'a str, &'a Item> = BTreeMap::new();
    for &item in target {
        let recorded = known.records_by_target.get(item.id.as_str()).copied();
        match (item.partner.as_deref(), recorded) {
            (Some(gid), Some(r)) if gid != r.asana_gid => {
                out.problem(
                    item,
                    format!(
                        "its asana_gid was changed from {} to {gid}; both tasks are left untouched. Put back asana_gid: \"{}\" (or, to make this {noun} a new task, remove the asana_gid line)",
                        r.asana_gid, r.asana_gid
                    ),
                );
                out.blocked.insert(r.asana_gid.clone());
            }
            (Some(gid), _) => naming.entry(gid).or_default().push(item),
            (None, Some(r)) if item.bare => {
                out.problem(
                    item,
                    format!(
                        "this {noun} of task {} is empty or lost its front matter; the task is left untouched. Restore the {noun} (undo, or `git checkout` it), or delete the {noun} to let the task go",
                        r.asana_gid
                    ),
                );
                out.blocked.insert(r.asana_gid.clone());
            }
            (None, Some(r)) => {
                unnamed.insert(r.asana_gid.as_str(), item);
            }
            (None, None) => out.unclaimed.push(item),
        }
    }
    for (gid, items) in naming {
        let recorded_at = known.records_by_gid.get(gid).map(|r| r.target_id.as_str());
        let original = items
            .iter()
            .find(|i| Some(i.id.as_str()) == recorded_at)
            .copied();
        let claimant = match (original, items.as_slice()) {
            (Some(original), _) => {
                for copy in items.iter().filter(|i| i.id != original.id) {
                    out.problem(
                        copy,
                        format!(
                            "asana_gid {gid} belongs to {}; this {noun} looks like a copy of it and is left as it is. Remove its asana_gid line to make it a new task",
                            original.id
                        ),
                    );
                }
                original
            }
            (None, [only]) => *only,
            (None, _) => {
                let names: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
                for item in &items {
                    out.problem(
                        item,
                        format!(
                            "asana_gid {gid} appears in more than one {noun} ({}); none of them is synced until only one keeps it",
                            names.join(", ")
                        ),
                    );
                }
                out.blocked.insert(gid.to_owned());
                continue;
            }
        };
        // A recorded file at its old name that no longer names its task: a new file
        // written where the claimant used to be.
        if let Some(item) = unnamed.remove(gid)
            && item.id != claimant.id
        {
            out.unclaimed.push(item);
        }
        if known.asana_by_gid.contains_key(gid) || known.records_by_gid.contains_key(gid) {
            out.target_for.insert(gid, claimant);
            continue;
        }
        let message = match known.tombstones.get(gid) {
            Some(t) => match &t.how {
                LetGo::Deleted { trash } => format!(
                    "its task {gid} was deleted in Asana by asana-bridge at {} because {} was removed{}. To get the task back with its comments and history, restore it from Asana's trash (the {noun} links again on the next sync); or remove the asana_gid line to make this {noun} a new task",
                    t.at,
                    t.target_id,
                    trash
                        .as_deref()
                        .map(|p| format!(" (a copy was saved as {p})"))
                        .unwrap_or_default()
                ),
                _ => format!(
                    "its task {gid} is no longer in this link's Asana project (it was let go at {} when {} was removed); the {noun} is left as it is. Remove the asana_gid line to make it a new task",
                    t.at, t.target_id
                ),
            },
            None => format!(
                "asana_gid {gid} is not a task of this link's Asana project (a typo? another project's task?); the {noun} is left as it is. Fix the asana_gid, or remove the line to make the {noun} a new task"
            ),
        };
        out.problem(claimant, message);
        out.blocked.insert(gid.to_owned());
        // It may be a missing file with a mistyped gid: no task is deleted for a missing
        // file while it is unexplained.
        out.deletions_held = true;
    }
    for (gid, item) in unnamed {
        if !out.blocked.contains(gid) {
            out.target_for.entry(gid).or_insert(item);
        }
    }
    lost_front_matter(known, out);
}

/// A new file with no front matter whose body is exactly what a mapped file that went
/// missing last held: that file, moved and stripped of its front matter. Neither is a
/// reason to create or delete a task; both are reported.
fn lost_front_matter<'a>(known: &Known<'_, 'a>, out: &mut Pairing<'a>) {
    let noun = known.noun;
    let missing: Vec<(&str, &PairRecord)> = known
        .records_by_gid
        .iter()
        .filter(|(gid, _)| !out.target_for.contains_key(*gid) && !out.blocked.contains(**gid))
        .map(|(gid, r)| (*gid, *r))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut kept = Vec::new();
    for item in std::mem::take(&mut out.unclaimed) {
        let last = item.bare.then(|| {
            missing.iter().find(|(_, r)| {
                r.remembered(Side::Target)
                    .is_some_and(|last| !last.notes.is_empty() && last.notes == item.fields.notes)
            })
        });
        match last.flatten() {
            Some((gid, r)) => {
                out.problem(
                    item,
                    format!(
                        "this {noun} has no front matter and holds what {} held (task {gid}): moved and stripped of its front matter? Both are left as they are. Restore the front matter (undo, or `git checkout`), or add a title to make it a new task",
                        r.target_id
                    ),
                );
                out.blocked.insert((*gid).to_owned());
            }
            None => kept.push(item),
        }
    }
    out.unclaimed = kept;
}

/// [`Identity::Record`]: records only; a partner re-adopts an item for an unpaired task.
fn by_record<'a>(known: &Known<'_, 'a>, target: &[&'a Item], out: &mut Pairing<'a>) {
    let mut hinted: BTreeMap<&'a str, Vec<&'a Item>> = BTreeMap::new();
    for &item in target {
        if let Some(r) = known.records_by_target.get(item.id.as_str()) {
            out.target_for.insert(r.asana_gid.as_str(), item);
        } else if let Some(gid) = item.partner.as_deref() {
            hinted.entry(gid).or_default().push(item);
        } else {
            out.unclaimed.push(item);
        }
    }
    for (gid, mut items) in hinted {
        let unpaired = known.asana_by_gid.contains_key(gid)
            && !known.records_by_gid.contains_key(gid)
            && !out.target_for.contains_key(gid);
        // The oldest item is the original; later ones are copies of its text.
        items.sort_by(|a, b| natural(&a.id).cmp(&natural(&b.id)));
        let original = match known.tombstones.get(gid) {
            None => unpaired.then_some(0),
            // A task the bridge let go (its issue moved away, or deleted on one side) is
            // not taken back by a footer: the footer is then a copy's text. Only the issue
            // the task was deleted from (restored with it, its deletion label removed by
            // hand) is still its own.
            Some(t) => items
                .iter()
                .position(|i| unpaired && !t.how.task_kept() && names_item(&t.target_id, &i.id)),
        };
        if let Some(at) = original {
            out.target_for.insert(gid, items.remove(at));
        }
        out.unclaimed.extend(items);
    }
    by_task_hint(known, out);
}

/// Turns what Asana items say they were made from (their `partner`: `owner/name#12`, as
/// the target's `describe` names an item) into the id of this link's target item it
/// names, or `None` when it names another repository's item or the target is not paired
/// by its records (a Markdown link never uses the line). Names compare ignoring ASCII
/// case, as GitHub's owner and repository names do.
pub fn resolve_hints(asana: &mut [Item], identity: Identity, describe: impl Fn(&str) -> String) {
    for item in asana {
        item.partner = item.partner.take().and_then(|hint| {
            let (_, id) = hint.rsplit_once('#')?;
            (identity == Identity::Record && describe(id).eq_ignore_ascii_case(&hint))
                .then(|| id.to_owned())
        });
    }
}

/// After the records and footers: an unpaired item without a footer that exactly one
/// unpaired task names (the line the bridge ends a task made from an issue with) is that
/// task's. Several tasks naming it (a task copied with its line) pair none: all are left
/// alone and reported, so that nothing is duplicated while it is unclear.
fn by_task_hint<'a>(known: &Known<'_, 'a>, out: &mut Pairing<'a>) {
    let noun = known.noun;
    let mut naming: BTreeMap<&str, Vec<&'a str>> = BTreeMap::new();
    for (gid, task) in known.asana_by_gid {
        let Some(id) = task.partner.as_deref() else {
            continue;
        };
        let unpaired = !known.records_by_gid.contains_key(gid)
            && !known.tombstones.contains_key(gid)
            && !out.target_for.contains_key(gid);
        if unpaired {
            naming.entry(id).or_default().push(gid);
        }
    }
    if naming.is_empty() {
        return;
    }
    let mut kept = Vec::new();
    for item in std::mem::take(&mut out.unclaimed) {
        let gids = naming
            .get_mut(item.id.as_str())
            .filter(|_| item.partner.is_none());
        match gids.map(|g| g.as_mut_slice()) {
            Some([gid]) => {
                out.target_for.insert(gid, item);
            }
            Some(gids) if !gids.is_empty() => {
                gids.sort_by(|a, b| natural(a).cmp(&natural(b)));
                out.problem(
                    item,
                    format!(
                        "Asana tasks {} all say they were made from this {noun} (the line \"Mirrored from GitHub\" at the end of their description: a copied task?); none of them is paired with it and nothing is created for them until only one keeps that line",
                        gids.join(", ")
                    ),
                );
                out.blocked.extend(gids.iter().map(|g| (*g).to_owned()));
            }
            _ => kept.push(item),
        }
    }
    out.unclaimed = kept;
}

/// Whether `described` (a tombstone's target item, as the target describes it:
/// `acme/app#12`) is the item `id` (`12`).
fn names_item(described: &str, id: &str) -> bool {
    described
        .rsplit_once('#')
        .map_or(described == id, |(_, n)| n == id)
}

/// A sort key that orders numeric ids as numbers (`9` before `10`).
fn natural(id: &str) -> (usize, &str) {
    (id.len(), id)
}

#[cfg(test)]
mod tests {
    use asana_bridge_connector::TaskFields;

    use super::*;

    fn item(id: &str, partner: Option<&str>) -> Item {
        Item {
            id: id.to_owned(),
            fields: TaskFields {
                title: format!("Item {id}"),
                ..TaskFields::default()
            },
            modified_at: None,
            partner: partner.map(str::to_owned),
            revision: None,
            bare: false,
        }
    }

    /// Pairs `issues` with `tasks`, no records and no tombstones (a lost state), and
    /// returns "issue with task" pairs, the unclaimed issues, the blocked tasks and the
    /// problems' messages.
    fn lost_state(
        tasks: &[Item],
        issues: &[Item],
    ) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
        let asana_by_gid: HashMap<&str, &Item> = tasks.iter().map(|t| (t.id.as_str(), t)).collect();
        let none_records = HashMap::new();
        let none_tombstones = HashMap::new();
        let known = Known {
            identity: Identity::Record,
            noun: "issue",
            asana_by_gid: &asana_by_gid,
            records_by_gid: &none_records,
            records_by_target: &none_records,
            tombstones: &none_tombstones,
        };
        let issues: Vec<&Item> = issues.iter().collect();
        let out = pair(&known, &issues, &[]);
        let mut pairs: Vec<String> = out
            .target_for
            .iter()
            .map(|(gid, i)| format!("{} with {gid}", i.id))
            .collect();
        pairs.sort();
        let mut unclaimed: Vec<String> = out.unclaimed.iter().map(|i| i.id.clone()).collect();
        unclaimed.sort();
        (
            pairs,
            unclaimed,
            out.blocked.into_iter().collect(),
            out.problems.into_iter().map(|p| p.message).collect(),
        )
    }

    /// A task naming an issue without a footer is its pair; a task naming an issue that a
    /// footer already pairs, or that carries a footer, or that is not listed, pairs nothing.
    #[test]
    fn a_task_naming_an_issue_re_adopts_it_after_lost_records() {
        let tasks = [
            item("1", Some("12")),
            item("2", Some("13")),
            item("3", Some("14")),
            item("4", Some("99")),
            item("5", None),
        ];
        // 13 carries task 5's footer; 14 carries a footer naming a task not in the
        // project (a pasted one).
        let issues = [
            item("12", None),
            item("13", Some("5")),
            item("14", Some("777")),
            item("15", None),
        ];
        let (pairs, unclaimed, blocked, problems) = lost_state(&tasks, &issues);
        assert_eq!(pairs, ["12 with 1", "13 with 5"]);
        assert_eq!(unclaimed, ["14", "15"]);
        assert!(blocked.is_empty() && problems.is_empty(), "{problems:?}");
    }

    /// Two tasks naming one issue (a task copied with its line): neither is paired,
    /// nothing is created for them or the issue, and the message names both.
    #[test]
    fn two_tasks_naming_one_issue_pair_neither() {
        let tasks = [item("10", Some("12")), item("9", Some("12"))];
        let issues = [item("12", None)];
        let (pairs, unclaimed, blocked, problems) = lost_state(&tasks, &issues);
        assert!(
            pairs.is_empty() && unclaimed.is_empty(),
            "{pairs:?} {unclaimed:?}"
        );
        assert_eq!(blocked, ["10", "9"]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("Asana tasks 9, 10 all say"),
            "{}",
            problems[0]
        );
    }

    /// A task whose issue is recorded with another task (a copy while the records
    /// stand) takes nothing.
    #[test]
    fn a_recorded_issue_is_not_taken_by_a_copied_line() {
        let tasks = [item("1", None), item("2", Some("12"))];
        let issues = [item("12", None)];
        let asana_by_gid: HashMap<&str, &Item> = tasks.iter().map(|t| (t.id.as_str(), t)).collect();
        let rec = PairRecord {
            asana_gid: "1".into(),
            target_id: "12".into(),
            base: TaskFields::default(),
            asana: crate::records::Fingerprint::of(&tasks[0]),
            target: crate::records::Fingerprint::of(&issues[0]),
            asana_fields: None,
            target_fields: None,
            missing: None,
        };
        let by_gid = HashMap::from([("1", &rec)]);
        let by_target = HashMap::from([("12", &rec)]);
        let none_tombstones = HashMap::new();
        let known = Known {
            identity: Identity::Record,
            noun: "issue",
            asana_by_gid: &asana_by_gid,
            records_by_gid: &by_gid,
            records_by_target: &by_target,
            tombstones: &none_tombstones,
        };
        let issues: Vec<&Item> = issues.iter().collect();
        let out = pair(&known, &issues, &[]);
        assert_eq!(out.target_for.get("1").map(|i| i.id.as_str()), Some("12"));
        assert!(!out.target_for.contains_key("2"));
        assert!(out.problems.is_empty() && out.blocked.is_empty());
    }

    /// A task deleted in Asana (its issue closed as deleted, a tombstone kept) and
    /// restored is not claimed by a copy of its footer in another issue; its own issue,
    /// back in the listing (its deletion label removed by hand), still is its own.
    #[test]
    fn a_restored_task_is_claimed_only_by_its_own_issue() {
        let tasks = [item("1", None)];
        let asana_by_gid: HashMap<&str, &Item> = tasks.iter().map(|t| (t.id.as_str(), t)).collect();
        let none_records = HashMap::new();
        let stone = Tombstone {
            asana_gid: "1".into(),
            target_id: "acme/app#3".into(),
            title: "Item 1".into(),
            at: "2026-12-01T00:00:00Z".into(),
            how: LetGo::Deleted { trash: None },
        };
        let tombstones = HashMap::from([("1", &stone)]);
        let known = Known {
            identity: Identity::Record,
            noun: "issue",
            asana_by_gid: &asana_by_gid,
            records_by_gid: &none_records,
            records_by_target: &none_records,
            tombstones: &tombstones,
        };
        let copy = [item("6", Some("1"))];
        let copy: Vec<&Item> = copy.iter().collect();
        let out = pair(&known, &copy, &[]);
        assert!(out.target_for.is_empty());
        assert_eq!(out.unclaimed.len(), 1);
        let both = [item("6", Some("1")), item("3", Some("1"))];
        let both: Vec<&Item> = both.iter().collect();
        let out = pair(&known, &both, &[]);
        assert_eq!(out.target_for.get("1").map(|i| i.id.as_str()), Some("3"));
        let unclaimed: Vec<&str> = out.unclaimed.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(unclaimed, ["6"]);
    }

    /// Hints become this link's ids only for a target paired by its records, and only
    /// when they name this repository (ignoring case).
    #[test]
    fn hints_resolve_to_this_repositorys_issues() {
        let describe = |id: &str| format!("Acme/App#{id}");
        let mut tasks = vec![
            item("1", Some("acme/app#12")),
            item("2", Some("other/app#12")),
            item("3", None),
        ];
        resolve_hints(&mut tasks, Identity::Record, describe);
        let hints: Vec<Option<&str>> = tasks.iter().map(|t| t.partner.as_deref()).collect();
        assert_eq!(hints, [Some("12"), None, None]);
        let mut tasks = vec![item("1", Some("acme/app#12"))];
        resolve_hints(&mut tasks, Identity::Partner, describe);
        assert_eq!(tasks[0].partner, None);
    }
}
