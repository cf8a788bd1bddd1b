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
//!
//! Records can grow without a migration: fingerprints are stored keyed by field name, and a
//! field a record does not have yet (added by a later release) reads as "never seen": its
//! value and digest are those of the side as the record remembers it (`base` with the new
//! field's default), so the first run after an upgrade takes a new value from whichever
//! side has one. A field name a record has but this build does not know is ignored.
//! Changes of shape that are not additions are migrations of the state store's schema
//! (`asana_bridge_state`), which also keeps that shape's history.

use std::collections::BTreeMap;

use asana_bridge_connector::{Field, Item, TaskFields};

mod custom;
use custom::custom_digests;
pub use custom::{CUSTOM_PREFIX, custom_hash, custom_hashes};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// How many fields a fingerprint holds: one digest per [`Field`].
const FIELDS: usize = Field::ALL.len();

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
///
/// Stored as `{"fields": {"title": digest, ..., "fields.Priority": digest}, "revision": ...}`
/// (a custom field under its name after `fields.`); read back only as part of a
/// [`PairRecord`], which fills in the digest of a field it does not have yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// One hash per [`Field`], indexed by [`Field::index`]; [`Fingerprint::UNSYNCED`] for
    /// a field held unsynced.
    pub fields: [u64; FIELDS],
    /// The item's revision when it was last seen or written (for quick echo checks).
    pub revision: Option<String>,
    /// One hash per custom field with a value (or held unsynced), by field name; a name
    /// without one had no value.
    pub custom: BTreeMap<String, u64>,
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct ByName<'a>(&'a Fingerprint);
        impl Serialize for ByName<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let core = Field::ALL
                    .iter()
                    .map(|f| (f.name().to_owned(), self.0.fields[f.index()]));
                let custom = self
                    .0
                    .custom
                    .iter()
                    .map(|(n, d)| (format!("{CUSTOM_PREFIX}{n}"), *d));
                s.collect_map(core.chain(custom))
            }
        }
        let mut st = s.serialize_struct("Fingerprint", 2)?;
        st.serialize_field("fields", &ByName(self))?;
        st.serialize_field("revision", &self.revision)?;
        st.end()
    }
}

impl Fingerprint {
    /// The digest of a field held unsynced (a held conflict, a refused value): no value
    /// hashes to it, so the field reads as changed on every run until its conflict is resolved.
    pub const UNSYNCED: u64 = 0;

    /// The fingerprint of `item` as it is now.
    #[must_use]
    pub fn of(item: &Item) -> Self {
        Self {
            fields: field_hashes(&item.fields),
            revision: item.revision.clone(),
            custom: custom_hashes(&item.fields),
        }
    }

    /// The fingerprint of `item`, whose fields are `like`'s when they are equal to them:
    /// `known`, the fingerprint of `like`, then gives the digests without hashing the
    /// fields again (a new pair's two sides hold the same fields; hashing 2 KB of notes
    /// twice was a visible share of an import).
    #[must_use]
    pub fn of_like(item: &Item, like: &Item, known: &Fingerprint) -> Self {
        if item.fields == like.fields {
            Self {
                fields: known.fields,
                revision: item.revision.clone(),
                custom: known.custom.clone(),
            }
        } else {
            Self::of(item)
        }
    }

    /// Whether custom field `name` of `fields` differs from what this fingerprint remembers.
    #[must_use]
    pub fn custom_changed(&self, fields: &TaskFields, name: &str) -> bool {
        let now = custom_hash(fields.custom.get(name));
        self.custom
            .get(name)
            .map_or(now != custom_hash(None), |d| *d != now)
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
            || self
                .custom
                .keys()
                .chain(fields.custom.keys())
                .any(|n| self.custom_changed(fields, n))
    }

    /// One 128-bit digest of the whole fingerprint: equal digests mean equal field
    /// hashes and an equal revision.
    #[must_use]
    pub fn digest(&self) -> u128 {
        digest(&self.fields, self.revision.as_deref(), &self.custom)
    }
}

/// The [`Fingerprint::digest`] `item` would have.
#[must_use]
pub fn item_digest(item: &Item) -> u128 {
    digest(
        &field_hashes(&item.fields),
        item.revision.as_deref(),
        &custom_hashes(&item.fields),
    )
}

fn digest(fields: &[u64; FIELDS], revision: Option<&str>, custom: &BTreeMap<String, u64>) -> u128 {
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.to_le_bytes());
    }
    hash_opt(&mut h, revision);
    // Nothing for no custom fields: digests of records without any stay as they were.
    for (name, d) in custom {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(d.to_le_bytes());
    }
    let digest = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

/// Stable hashes of every field (the same across runs, machines and Rust versions).
#[must_use]
pub fn field_hashes(fields: &TaskFields) -> [u64; FIELDS] {
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
        Field::Due => hash_opt(&mut h, fields.due.as_deref()),
        Field::Assignee => hash_opt(&mut h, fields.assignee.as_deref()),
        Field::Tags => {
            for tag in &fields.tags {
                h.update(tag.as_bytes());
                h.update([0]);
            }
        }
        Field::Section => hash_opt(&mut h, fields.section.as_deref()),
        Field::StartOn => hash_opt(&mut h, fields.start_on.as_deref()),
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

/// [`TaskFields`] as stored, read tolerantly: a field the stored value lacks (added since it
/// was written) takes its default, a field this build does not know is ignored.
fn tolerant_fields<'de, D: Deserializer<'de>>(d: D) -> Result<TaskFields, D::Error> {
    let stored = serde_json::Value::deserialize(d)?;
    fill_defaults(stored).map_err(serde::de::Error::custom)
}

fn tolerant_fields_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Box<TaskFields>>, D::Error> {
    let stored = Option::<serde_json::Value>::deserialize(d)?;
    stored
        .map(|v| fill_defaults(v).map(Box::new))
        .transpose()
        .map_err(serde::de::Error::custom)
}

fn fill_defaults(stored: serde_json::Value) -> Result<TaskFields, serde_json::Error> {
    let serde_json::Value::Object(stored) = stored else {
        return serde_json::from_value(stored);
    };
    let mut all = match serde_json::to_value(TaskFields::default())? {
        serde_json::Value::Object(defaults) => defaults,
        other => return serde_json::from_value(other),
    };
    all.extend(stored);
    serde_json::from_value(serde_json::Value::Object(all))
}

/// One mapped task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredPair")]
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
    /// cannot hold, a held conflict). Lets a run that reads only Asana's changes plan an
    /// unchanged task without fetching it.
    /// Boxed: usually `None`, and a record per task must stay small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asana_fields: Option<Box<TaskFields>>,
    /// The same for the target side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_fields: Option<Box<TaskFields>>,
    /// A side known to be gone while the pair is held in a deletion conflict: observed
    /// unchanged, it is still gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Side>,
}

/// A [`PairRecord`] as stored, before the fields it lacks are filled in.
#[derive(Deserialize)]
struct StoredPair {
    asana_gid: String,
    target_id: String,
    #[serde(deserialize_with = "tolerant_fields")]
    base: TaskFields,
    asana: StoredFingerprint,
    target: StoredFingerprint,
    #[serde(default, deserialize_with = "tolerant_fields_opt")]
    asana_fields: Option<Box<TaskFields>>,
    #[serde(default, deserialize_with = "tolerant_fields_opt")]
    target_fields: Option<Box<TaskFields>>,
    #[serde(default)]
    missing: Option<Side>,
}

#[derive(Deserialize)]
struct StoredFingerprint {
    fields: BTreeMap<String, u64>,
    revision: Option<String>,
}

impl StoredFingerprint {
    /// The fingerprint, a field it has no digest of taken as `remembered` has it.
    fn complete(self, remembered: &TaskFields) -> Fingerprint {
        Fingerprint {
            fields: Field::ALL.map(|f| {
                self.fields
                    .get(f.name())
                    .copied()
                    .unwrap_or_else(|| field_hash(remembered, f))
            }),
            revision: self.revision,
            custom: custom_digests(&self.fields, remembered),
        }
    }
}

impl From<StoredPair> for PairRecord {
    fn from(s: StoredPair) -> Self {
        let asana = s
            .asana
            .complete(s.asana_fields.as_deref().unwrap_or(&s.base));
        let target = s
            .target
            .complete(s.target_fields.as_deref().unwrap_or(&s.base));
        Self {
            asana_gid: s.asana_gid,
            target_id: s.target_id,
            base: s.base,
            asana,
            target,
            asana_fields: s.asana_fields,
            target_fields: s.target_fields,
            missing: s.missing,
        }
    }
}

impl PairRecord {
    /// The values `side` held when this record last wrote or saw it; `None` when the
    /// record knows that side gone (a deletion held against an edit).
    #[must_use]
    pub fn remembered(&self, side: Side) -> Option<&TaskFields> {
        let apart = match side {
            Side::Asana => self.asana_fields.as_deref(),
            Side::Target => self.target_fields.as_deref(),
        };
        (self.missing != Some(side)).then(|| apart.unwrap_or(&self.base))
    }

    /// `side`'s item as this record remembers it: what the planner works with for a side
    /// a run observed [`crate::plan::Observed::Unchanged`] (a task the change feed did not
    /// name, a file its watcher saw no change of, an item read and found as recorded).
    /// `None` when the record knows that side gone.
    #[must_use]
    pub fn recalled(&self, side: Side) -> Option<Item> {
        let fields = self.remembered(side)?.clone();
        Some(match side {
            Side::Asana => Item {
                id: self.asana_gid.clone(),
                fields,
                modified_at: None,
                partner: None,
                revision: self.asana.revision.clone(),
                bare: false,
            },
            Side::Target => Item {
                id: self.target_id.clone(),
                fields,
                modified_at: None,
                partner: Some(self.asana_gid.clone()),
                revision: self.target.revision.clone(),
                bare: false,
            },
        })
    }

    /// This record as it must stand while a deletion on `deleted_on` is held against an
    /// edit of `survivor`: the survivor's values are remembered as last seen (so a run that
    /// finds that side unchanged sees the edit), its fingerprint is not (so the edit stays
    /// unsynced), and the deleted side is remembered gone.
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
        // Both sides usually remember the base: its digests are taken once, not per side
        // (2 KB of notes each time).
        let base = std::cell::OnceCell::new();
        let exact = |side: Side| {
            let Some(fields) = self.remembered(side) else {
                return false;
            };
            let seen = self.seen(side);
            if std::ptr::eq(fields, &self.base) {
                let (hashes, custom) =
                    base.get_or_init(|| (field_hashes(fields), custom_hashes(fields)));
                *hashes == seen.fields && *custom == seen.custom
            } else {
                field_hashes(fields) == seen.fields && custom_hashes(fields) == seen.custom
            }
        };
        PairSummary {
            asana_gid: self.asana_gid.as_str().into(),
            target_id: self.target_id.as_str().into(),
            asana: self.asana.digest(),
            target: self.target.digest(),
            asana_exact: exact(Side::Asana),
            target_exact: exact(Side::Target),
        }
    }
}

/// The little of a [`PairRecord`] a run holds for every pair while it reads both sides:
/// enough to tell an item that is exactly as the record remembers it (observed
/// [`crate::plan::Observed::Unchanged`] and dropped at once) from one that must be kept. A mapped link
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
    /// Whether the record remembers Asana's values exactly as its fingerprint hashes them
    /// ([`PairRecord::remembered`]; false while a conflict is held or the task is known
    /// gone): only then does an item matching the fingerprint equal what the record
    /// recalls of it.
    #[serde(rename = "af")]
    pub asana_exact: bool,
    /// The same for the target side.
    #[serde(rename = "bf")]
    pub target_exact: bool,
}

impl PairSummary {
    /// The version of [`PairRecord::summary`]: raise it whenever what a summary holds or
    /// how it is computed changes (a [`Field`] added changes every digest), and stores
    /// rebuild their index on the next open.
    pub const VERSION: u32 = 2;
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

    /// Whether the record remembers `side`'s values exactly (see [`Self::asana_exact`]).
    #[must_use]
    pub fn exact(&self, side: Side) -> bool {
        match side {
            Side::Asana => self.asana_exact,
            Side::Target => self.target_exact,
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
    #[serde(deserialize_with = "tolerant_fields")]
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
    /// The field in conflict; `None` when one side deleted the task and the other edited it
    /// (or a custom field is in conflict).
    pub field: Option<Field>,
    /// The custom field in conflict, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_field: Option<String>,
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

    /// The stable id of a conflict on custom field `name` of the task `asana_gid`.
    #[must_use]
    pub fn make_custom_id(asana_gid: &str, name: &str) -> String {
        let mut h = Sha256::new();
        h.update(asana_gid.as_bytes());
        h.update([0]);
        h.update(CUSTOM_PREFIX.as_bytes());
        h.update(name.as_bytes());
        let digest = h.finalize();
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether one side deleted the task and the other edited it.
    #[must_use]
    pub fn is_deletion(&self) -> bool {
        self.field.is_none() && self.custom_field.is_none()
    }

    /// What is in conflict, for messages: the field's name, `fields.<name>` for a custom
    /// field, `None` for a deletion.
    #[must_use]
    pub fn what(&self) -> Option<String> {
        match (&self.field, &self.custom_field) {
            (Some(f), _) => Some(f.to_string()),
            (None, Some(n)) => Some(format!("{CUSTOM_PREFIX}{n}")),
            (None, None) => None,
        }
    }
}

/// What the bridge did to an Asana task when its target item went away, kept after the
/// pair is forgotten: so that a task let go is not mirrored back as new, and a file that
/// returns after its task was deleted is told what happened instead of "not a task".
/// On a link paired by records (GitHub) a task deleted in Asana, whose issue the bridge
/// closed as deleted, gets one too (`Deleted`, no trash): restored, the task gets that
/// issue back, and a footer copied from it into another issue does not claim it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The Asana task's gid (the key).
    pub asana_gid: String,
    /// The target item it was paired with, as the target describes it (`acme/app#12`).
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
    /// `trash` (a path) in the trash folder; or, with no trash, deleted there by a person
    /// while its GitHub issue stays (closed as deleted).
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn fields(title: &str) -> TaskFields {
        TaskFields {
            title: title.into(),
            notes: "Two pages.".into(),
            due: Some("2026-12-24".into()),
            tags: vec!["docs".into()],
            ..TaskFields::default()
        }
    }

    fn record() -> PairRecord {
        let item = |id: &str, title: &str| Item {
            id: id.into(),
            fields: fields(title),
            modified_at: None,
            partner: None,
            revision: Some(format!("rev-{id}")),
            bare: false,
        };
        let (a, t) = (item("7", "Spec"), item("spec.md", "Spec (file)"));
        let mut target = Fingerprint::of(&t);
        target.fields[Field::Notes.index()] = Fingerprint::UNSYNCED;
        PairRecord {
            asana_gid: "7".into(),
            target_id: "spec.md".into(),
            base: a.fields.clone(),
            asana: Fingerprint::of(&a),
            target,
            asana_fields: None,
            target_fields: Some(Box::new(t.fields)),
            missing: None,
        }
    }

    /// A fingerprint taken from another item's equals the one hashed afresh, whether the
    /// fields are the same (digests reused, own revision) or not (hashed).
    #[test]
    fn a_fingerprint_of_like_fields_is_the_same_as_hashed() {
        let item = |id: &str, title: &str| Item {
            id: id.into(),
            fields: TaskFields {
                custom: [(
                    "Points".to_owned(),
                    asana_bridge_connector::CustomValue::One("3".into()),
                )]
                .into(),
                ..fields(title)
            },
            modified_at: None,
            partner: None,
            revision: Some(format!("rev-{id}")),
            bare: false,
        };
        let asana = item("7", "Spec");
        let known = Fingerprint::of(&asana);
        for other in [item("spec.md", "Spec"), item("spec.md", "Spec (file)")] {
            assert_eq!(
                Fingerprint::of_like(&other, &asana, &known),
                Fingerprint::of(&other)
            );
        }
    }

    #[test]
    fn fingerprints_are_stored_by_field_name_and_read_back_whole() {
        let r = record();
        let stored = serde_json::to_value(&r).unwrap();
        let names: Vec<&str> = stored["asana"]["fields"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        want.sort_unstable();
        assert_eq!(names, want);
        assert_eq!(
            stored["asana"]["fields"]["due_on"],
            json!(r.asana.fields[Field::Due.index()])
        );
        // An unsynced field stays unsynced: it is not "never seen".
        assert_eq!(stored["target"]["fields"]["notes"], json!(0));
        let back: PairRecord = serde_json::from_value(stored).unwrap();
        assert_eq!(back, r);
    }

    /// What a record of a release that did not have `field` yet looks like.
    fn without(mut stored: Value, field: &str) -> Value {
        for side in ["asana", "target"] {
            stored[side]["fields"]
                .as_object_mut()
                .unwrap()
                .remove(field);
        }
        for values in ["base", "asana_fields", "target_fields"] {
            if let Some(v) = stored.get_mut(values).and_then(Value::as_object_mut) {
                v.remove(field);
            }
        }
        stored
    }

    #[test]
    fn a_field_the_record_does_not_have_reads_as_never_seen_not_corrupt() {
        let mut r = record();
        // As a release without `due_on` would have written it: no value, no digest.
        r.base.due = None;
        r.target_fields.as_mut().unwrap().due = None;
        let stored = without(serde_json::to_value(&r).unwrap(), "due_on");
        let back: PairRecord = serde_json::from_value(stored).unwrap();
        assert_eq!(back.base.due, None, "the new field takes its default");
        // Each side's digest is that of the side as the record remembers it: a side still
        // without a value has not changed, a side that has one now has changed it.
        let unset = TaskFields {
            due: None,
            ..fields("Spec")
        };
        assert!(!back.asana.changed(&unset, Field::Due));
        assert!(back.asana.changed(&fields("Spec"), Field::Due));
        assert!(!back.target.changed(&unset, Field::Due));
        // The fields it had are as they were.
        for f in Field::ALL.into_iter().filter(|f| *f != Field::Due) {
            assert_eq!(
                back.asana.fields[f.index()],
                r.asana.fields[f.index()],
                "{f}"
            );
            assert_eq!(
                back.target.fields[f.index()],
                r.target.fields[f.index()],
                "{f}"
            );
        }
        assert_eq!(
            back.target.fields[Field::Notes.index()],
            Fingerprint::UNSYNCED
        );
    }

    #[test]
    fn a_field_this_build_does_not_know_is_ignored() {
        let r = record();
        let mut stored = serde_json::to_value(&r).unwrap();
        stored["asana"]["fields"]["due_at"] = json!(12345);
        stored["base"]["due_at"] = json!("2026-12-24T10:00:00Z");
        stored["target_fields"]["subtasks"] = json!([]);
        let back: PairRecord = serde_json::from_value(stored).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn a_record_upgraded_from_version_1_reads_as_version_1_meant_it() {
        // A version 1 record of `tests/fixtures/state-v1`, as the store's 1 -> 2 upgrade
        // rewrites it (digests in the order of `Field::ALL`, then keyed by name).
        let stored = json!({
            "asana_gid": "1200000000000008", "target_id": "ship-it.md",
            "base": {"title": "Ship it", "notes": "", "completed": false,
                     "due_on": "2026-12-24", "assignee": null, "tags": [], "section": null},
            "asana": {"fields": {"title": 7_121_588_424_554_810_668_u64,
                                 "notes": 1_449_310_910_991_872_227_u64,
                                 "completed": 10_987_292_151_339_758_702_u64,
                                 "due_on": 10_492_127_973_943_879_679_u64,
                                 "assignee": 10_987_292_151_339_758_702_u64,
                                 "tags": 1_449_310_910_991_872_227_u64,
                                 "section": 10_987_292_151_339_758_702_u64},
                      "revision": "2026-12-07T05:24:35.634Z~f402b348f4eb7db1"},
            "target": {"fields": {"title": 0, "notes": 1_449_310_910_991_872_227_u64,
                                  "completed": 10_987_292_151_339_758_702_u64,
                                  "due_on": 10_492_127_973_943_879_679_u64,
                                  "assignee": 10_987_292_151_339_758_702_u64,
                                  "tags": 1_449_310_910_991_872_227_u64,
                                  "section": 10_987_292_151_339_758_702_u64},
                       "revision": "92f4"}
        });
        let r: PairRecord = serde_json::from_value(stored).unwrap();
        // The digests are today's digests of the base: nothing reads as changed.
        assert_eq!(r.asana.fields, field_hashes(&r.base));
        assert!(!r.asana.any_changed(&r.base));
        assert!(
            r.target.changed(&r.base, Field::Title),
            "unsynced stays unsynced"
        );
        assert!(!r.target.changed(&r.base, Field::Due));
    }

    #[test]
    fn an_intent_of_an_older_release_reads_with_defaults() {
        let stored = json!({
            "id": "45558a42-2c06-4600-98df-224918662f28", "on": "asana",
            "source_id": "local-idea.md", "fields": {"title": "A local idea", "notes": "",
            "completed": false, "tags": []}
        });
        let intent: Intent = serde_json::from_value(stored).unwrap();
        assert_eq!(intent.fields.title, "A local idea");
        assert_eq!(intent.fields.due, None);
    }

    /// A summary says a side is exact only when the record remembers the values its
    /// fingerprint hashes: per side, whether it remembers the base or values of its own.
    #[test]
    fn a_summary_is_exact_per_side() {
        let r = record();
        // Asana remembers the base as hashed; the target its own values, one held unsynced.
        let s = r.summary();
        assert!(s.asana_exact);
        assert!(!s.target_exact);
        let mut both = r.clone();
        both.target = Fingerprint::of(&r.recalled(Side::Target).unwrap());
        assert!(both.summary().asana_exact && both.summary().target_exact);
        // Both sides on the base, the target's fingerprint of other values.
        let mut on_base = r.clone();
        on_base.target_fields = None;
        assert!(on_base.summary().asana_exact);
        assert!(!on_base.summary().target_exact);
        on_base.target.fields = on_base.asana.fields;
        on_base.target.custom = on_base.asana.custom.clone();
        assert!(on_base.summary().target_exact);
        // Asana's own values, the base's fingerprint: not exact.
        let mut apart = on_base.clone();
        let mut other = r.base.clone();
        other.title = "Elsewhere".into();
        apart.asana_fields = Some(Box::new(other));
        assert!(!apart.summary().asana_exact);
        assert!(apart.summary().target_exact);
        // A side known gone is never exact.
        let mut gone = on_base;
        gone.missing = Some(Side::Target);
        assert!(gone.summary().asana_exact && !gone.summary().target_exact);
    }

    #[test]
    fn the_summary_version_moves_with_the_fields() {
        // Every summary digest hashes every field: a field added or removed changes them
        // all, and the stores' indexes must then be rebuilt. When this fails, raise
        // `PairSummary::VERSION` and write the new list here.
        let at_version_2 = [
            "title",
            "notes",
            "completed",
            "due_on",
            "assignee",
            "tags",
            "section",
            "start_on",
        ];
        let now: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            (PairSummary::VERSION, now.as_slice()),
            (2, &at_version_2[..])
        );
    }
}
