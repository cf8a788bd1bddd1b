//! What the engine remembers about a link, as stored in the state store.
//!
//! - [`PairRecord`]: one mapped task: the Asana gid, the target id, the base (last agreed
//!   field values) and, per side, a fingerprint of every field as the bridge last wrote or saw
//!   it there. A side "changed a field" exactly when its current value no longer matches its
//!   fingerprint: this is the origin tagging that keeps the bridge from echoing its own writes.
//! - [`Intent`]: a create about to be sent, recorded (and flushed) before the request so a
//!   crash between the create and its record never yields a duplicate on the next run.
//! - [`ConflictRecord`]: a both-sided change the link's policy left to the user.
//! - [`Tombstone`]: a pair let go because its target item went away (the task deleted,
//!   completed or left alone in Asana), remembered after the pair is forgotten.
//! - [`LinkMeta`]: last successful sync, cursors.
//! - [`PairSummary`]: the little of a [`PairRecord`] a run holds for every pair while it
//!   reads both sides, before it knows which pairs need planning.

use asana_bridge_connector::{Field, Item, TaskFields};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which side of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Asana,
    Target,
}

impl Side {
    /// The other side.
    #[must_use]
    pub fn other(self) -> Side {
        match self {
            Side::Asana => Side::Target,
            Side::Target => Side::Asana,
        }
    }
}

/// Per-field fingerprints of one side of a pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// One hash per [`Field`], indexed by [`Field::index`].
    pub fields: [u64; 7],
    /// The item's revision when it was last seen or written (for quick echo checks).
    pub revision: Option<String>,
}

impl Fingerprint {
    /// The fingerprint of `item` as it is now.
    #[must_use]
    pub fn of(item: &Item) -> Self {
        Self {
            fields: field_hashes(&item.fields),
            revision: item.revision.clone(),
        }
    }

    /// Whether `field` of `fields` differs from what this fingerprint remembers.
    #[must_use]
    pub fn changed(&self, fields: &TaskFields, field: Field) -> bool {
        self.fields[field.index()] != field_hash(fields, field)
    }

    /// Whether any field of `fields` differs from this fingerprint.
    #[must_use]
    pub fn any_changed(&self, fields: &TaskFields) -> bool {
        Field::ALL.iter().any(|f| self.changed(fields, *f))
    }

    /// One 128-bit digest of the whole fingerprint: equal digests mean equal field
    /// hashes and an equal revision.
    #[must_use]
    pub fn digest(&self) -> u128 {
        digest(&self.fields, self.revision.as_deref())
    }
}

/// The [`Fingerprint::digest`] `item` would have.
#[must_use]
pub fn item_digest(item: &Item) -> u128 {
    digest(&field_hashes(&item.fields), item.revision.as_deref())
}

fn digest(fields: &[u64; 7], revision: Option<&str>) -> u128 {
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.to_le_bytes());
    }
    hash_opt(&mut h, revision);
    let digest = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

/// Stable hashes of every field (the same across runs, machines and Rust versions).
#[must_use]
pub fn field_hashes(fields: &TaskFields) -> [u64; 7] {
    Field::ALL.map(|f| field_hash(fields, f))
}

/// A stable 64-bit hash of one field's value.
#[must_use]
pub fn field_hash(fields: &TaskFields, field: Field) -> u64 {
    let mut h = Sha256::new();
    match field {
        Field::Title => h.update(fields.title.as_bytes()),
        Field::Notes => h.update(fields.notes.as_bytes()),
        Field::Completed => h.update([u8::from(fields.completed)]),
        Field::DueOn => hash_opt(&mut h, fields.due_on.as_deref()),
        Field::Assignee => hash_opt(&mut h, fields.assignee.as_deref()),
        Field::Tags => {
            for tag in &fields.tags {
                h.update(tag.as_bytes());
                h.update([0]);
            }
        }
        Field::Section => hash_opt(&mut h, fields.section.as_deref()),
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

fn hash_opt(h: &mut Sha256, v: Option<&str>) {
    match v {
        None => h.update([0]),
        Some(s) => {
            h.update([1]);
            h.update(s.as_bytes());
        }
    }
}

/// One mapped task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRecord {
    /// The Asana task's gid (the key of the record).
    pub asana_gid: String,
    /// The target item's id (file name, issue number) when last seen.
    pub target_id: String,
    /// The last agreed values.
    pub base: TaskFields,
    /// The Asana side as last written or seen.
    pub asana: Fingerprint,
    /// The target side as last written or seen.
    pub target: Fingerprint,
    /// Asana's values as last written or seen, where they differ from `base` (a value Asana
    /// cannot hold, a held conflict). Lets a run that reads only Asana's changes stand in
    /// the unchanged tasks without fetching them.
    /// Boxed: usually `None`, and a record per task must stay small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asana_fields: Option<Box<TaskFields>>,
    /// The same for the target side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_fields: Option<Box<TaskFields>>,
    /// A side known to be gone while the pair is held in a deletion conflict: it is never
    /// stood in from this record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Side>,
}

impl PairRecord {
    /// Asana's task as it was when last written or seen (for tasks its change feed says
    /// did not change since); `None` when it is known to be gone.
    #[must_use]
    pub fn asana_item(&self) -> Option<Item> {
        (self.missing != Some(Side::Asana)).then(|| Item {
            id: self.asana_gid.clone(),
            fields: self.asana_fields.as_deref().unwrap_or(&self.base).clone(),
            modified_at: None,
            partner: None,
            revision: self.asana.revision.clone(),
            bare: false,
        })
    }

    /// The target item as it was when last written or seen (for a target known not to have
    /// changed since, e.g. a folder whose watcher reported nothing); `None` when it is
    /// known to be gone.
    #[must_use]
    pub fn target_item(&self) -> Option<Item> {
        (self.missing != Some(Side::Target)).then(|| Item {
            id: self.target_id.clone(),
            fields: self.target_fields.as_deref().unwrap_or(&self.base).clone(),
            modified_at: None,
            partner: Some(self.asana_gid.clone()),
            revision: self.target.revision.clone(),
            bare: false,
        })
    }

    /// This record as it must stand while a deletion on `deleted_on` is held against an
    /// edit of `survivor`: the survivor's values are remembered as last seen (so a run that
    /// stands them in sees the edit), its fingerprint is not (so the edit stays unsynced),
    /// and the deleted side is never stood in.
    #[must_use]
    pub fn held_deletion(&self, deleted_on: Side, survivor: &TaskFields) -> Self {
        let mut held = self.clone();
        held.missing = Some(deleted_on);
        let seen = (survivor != &self.base).then(|| Box::new(survivor.clone()));
        match deleted_on {
            Side::Asana => held.target_fields = seen,
            Side::Target => held.asana_fields = seen,
        }
        held
    }

    /// The fingerprint of `side`.
    #[must_use]
    pub fn seen(&self, side: Side) -> &Fingerprint {
        match side {
            Side::Asana => &self.asana,
            Side::Target => &self.target,
        }
    }

    /// What a run keeps of this record while it reads both sides.
    #[must_use]
    pub fn summary(&self) -> PairSummary {
        let faithful = |side: Side, fields: Option<&TaskFields>| {
            self.missing != Some(side)
                && field_hashes(fields.unwrap_or(&self.base)) == self.seen(side).fields
        };
        PairSummary {
            asana_gid: self.asana_gid.as_str().into(),
            target_id: self.target_id.as_str().into(),
            asana: self.asana.digest(),
            target: self.target.digest(),
            asana_faithful: faithful(Side::Asana, self.asana_fields.as_deref()),
            target_faithful: faithful(Side::Target, self.target_fields.as_deref()),
        }
    }
}

/// The little of a [`PairRecord`] a run holds for every pair while it reads both sides:
/// enough to tell an item that is exactly as the record remembers it (and can be dropped
/// at once, the record standing in for it) from one that must be planned. A mapped link
/// of 100,000 tasks is read in a few tens of megabytes this way, not hundreds.
///
/// The store keeps one beside every record (the pairs' index), so that reading them pages
/// no record in; the short field names keep that index small.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairSummary {
    #[serde(rename = "g")]
    pub asana_gid: Box<str>,
    #[serde(rename = "t")]
    pub target_id: Box<str>,
    /// [`Fingerprint::digest`] of the Asana side.
    #[serde(rename = "a")]
    pub asana: u128,
    /// [`Fingerprint::digest`] of the target side.
    #[serde(rename = "b")]
    pub target: u128,
    /// Whether the record's stand-in for Asana's task ([`PairRecord::asana_item`]) has
    /// exactly the fields its fingerprint remembers (false while a conflict is held or
    /// the task is known gone).
    #[serde(rename = "af")]
    pub asana_faithful: bool,
    /// The same for the target side ([`PairRecord::target_item`]).
    #[serde(rename = "bf")]
    pub target_faithful: bool,
}

impl PairSummary {
    /// The version of [`PairRecord::summary`]: raise it whenever what a summary holds or
    /// how it is computed changes, and stores rebuild their index on the next open.
    pub const VERSION: u32 = 1;
}

impl PairSummary {
    /// The digest of `side`.
    #[must_use]
    pub fn digest(&self, side: Side) -> u128 {
        match side {
            Side::Asana => self.asana,
            Side::Target => self.target,
        }
    }

    /// Whether the record stands in faithfully for `side`.
    #[must_use]
    pub fn faithful(&self, side: Side) -> bool {
        match side {
            Side::Asana => self.asana_faithful,
            Side::Target => self.target_faithful,
        }
    }
}

/// A create about to be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// Unique id of this attempt.
    pub id: uuid::Uuid,
    /// The side the item is being created on.
    pub on: Side,
    /// The id of the item it is created from (target id when `on` is Asana, gid otherwise).
    pub source_id: String,
    /// What is being sent: recovery recognises the created item by these values.
    pub fields: TaskFields,
}

/// A change on both sides that the policy left to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictRecord {
    /// Short stable id users type in `conflicts resolve`.
    pub id: String,
    pub asana_gid: String,
    pub target_id: String,
    /// Human name of the task (its title when detected).
    pub title: String,
    /// The field in conflict; `None` when one side deleted the task and the other edited it.
    pub field: Option<Field>,
    /// Asana's value (`None`: deleted in Asana).
    pub asana_value: Option<String>,
    /// The target's value (`None`: deleted in the target).
    pub target_value: Option<String>,
    /// The last agreed value.
    pub base_value: Option<String>,
    /// RFC 3339 time it was first detected.
    pub detected_at: String,
    /// Set by `conflicts resolve`; the next sync applies it.
    pub resolution: Option<Side>,
}

impl ConflictRecord {
    /// The stable id of a conflict on `field` (or a deletion) of the task `asana_gid`.
    #[must_use]
    pub fn make_id(asana_gid: &str, field: Option<Field>) -> String {
        let mut h = Sha256::new();
        h.update(asana_gid.as_bytes());
        h.update([0]);
        h.update(field.map_or("deletion", Field::name).as_bytes());
        let digest = h.finalize();
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What the bridge did to an Asana task when its target item went away, kept after the
/// pair is forgotten: so that a task let go is not mirrored back as new, and a file that
/// returns after its task was deleted is told what happened instead of "not a task".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The Asana task's gid (the key).
    pub asana_gid: String,
    /// The target item it was paired with.
    pub target_id: String,
    /// The task's name then.
    pub title: String,
    /// RFC 3339 time it happened.
    pub at: String,
    pub how: LetGo,
}

/// How a pair was let go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetGo {
    /// The task was deleted in Asana (`on_delete = "delete"`), after being saved to
    /// `trash` (a path) in the trash folder.
    Deleted { trash: Option<String> },
    /// The task was marked complete and left in Asana (`on_delete = "complete"`).
    Completed,
    /// The task was left as it was (`on_delete = "ignore"`).
    Ignored,
    /// The target item moved out of the link's reach (a transferred issue), to `to`.
    Moved { to: String },
}

impl LetGo {
    /// Whether the Asana task still exists and must not be mirrored back as new.
    #[must_use]
    pub fn task_kept(&self) -> bool {
        !matches!(self, LetGo::Deleted { .. })
    }
}

/// Link-level bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkMeta {
    /// RFC 3339 time of the last sync that finished without errors.
    pub last_success: Option<String>,
    /// RFC 3339 time of the last sync attempt.
    pub last_attempt: Option<String>,
    /// Asana events sync token and when it was taken.
    pub asana_cursor: Option<String>,
    pub asana_cursor_at: Option<String>,
    /// RFC 3339 time of the last run that listed every Asana task.
    #[serde(default)]
    pub last_full_scan: Option<String>,
    /// Mapped target items found missing under `watch`, by Asana gid, with the RFC 3339
    /// time they were first missed: their absence counts as a deletion only once it has
    /// lasted the link's grace period.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub missing_since: std::collections::BTreeMap<String, String>,
}
