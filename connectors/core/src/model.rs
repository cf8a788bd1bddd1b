//! The common task model: what the bridge syncs, whatever the system.
//!
//! Every connector reads its system into [`Item`]s carrying [`TaskFields`], and writes
//! [`TaskPatch`]es back. Values are kept in a canonical form (tags sorted and de-duplicated,
//! emails lower-case, dates `YYYY-MM-DD`, due times in UTC) so that equal tasks compare
//! equal across systems.

use serde::{Deserialize, Serialize};

use crate::custom::{CustomFields, CustomValue, canonical_fields};
use crate::due::Due;

/// The fields the bridge keeps mirrored, in their canonical form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskFields {
    /// Task name (Asana `name`, Markdown `title`, GitHub issue title).
    pub title: String,
    /// Plain-text description (Asana `notes`, Markdown body, GitHub issue body).
    pub notes: String,
    /// Done or not (GitHub: closed or open).
    pub completed: bool,
    /// When the task is due: a day or a moment (Asana `due_on` or `due_at`; the record
    /// key stays `due_on`, as in states written before due times).
    #[serde(rename = "due_on")]
    pub due: Option<Due>,
    /// Start date as `YYYY-MM-DD` (Asana `start_on`; needs a due date).
    #[serde(default)]
    pub start_on: Option<String>,
    /// Assignee by e-mail address, lower-case.
    pub assignee: Option<String>,
    /// Tag names, sorted and without duplicates (set semantics).
    pub tags: Vec<String>,
    /// Section name within the Asana project.
    pub section: Option<String>,
    /// The project's custom fields by name (Markdown `fields:`), canonical; empty for a
    /// system that has none (GitHub). Merged and fingerprinted key by key.
    #[serde(default, skip_serializing_if = "CustomFields::is_empty")]
    pub custom: CustomFields,
}

impl TaskFields {
    /// Brings the values into canonical form: tags sorted and de-duplicated, e-mail
    /// lower-cased and trimmed, empty optional strings turned into `None`.
    #[must_use]
    pub fn canonical(mut self) -> Self {
        self.tags = canonical_tags(self.tags);
        self.assignee = self
            .assignee
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty());
        self.due = self
            .due
            .map(|d| Due::from(d.as_str()))
            .filter(|d| !d.is_empty());
        self.start_on = self
            .start_on
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        self.section = self
            .section
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        self.custom = canonical_fields(std::mem::take(&mut self.custom));
        self
    }

    /// The names of the custom fields either of `self` and `other` has a value for.
    #[must_use]
    pub fn custom_names<'a>(&'a self, other: &'a Self) -> std::collections::BTreeSet<&'a str> {
        self.custom
            .keys()
            .chain(other.custom.keys())
            .map(String::as_str)
            .collect()
    }

    /// The value of one field, rendered for messages and diffs.
    #[must_use]
    pub fn display(&self, field: Field) -> String {
        fn opt(v: Option<&String>) -> String {
            v.cloned().unwrap_or_default()
        }
        match field {
            Field::Title => self.title.clone(),
            Field::Notes => self.notes.clone(),
            Field::Completed => self.completed.to_string(),
            Field::Due => self.due.as_ref().map(Due::to_string).unwrap_or_default(),
            Field::StartOn => opt(self.start_on.as_ref()),
            Field::Assignee => opt(self.assignee.as_ref()),
            Field::Tags => self.tags.join(", "),
            Field::Section => opt(self.section.as_ref()),
        }
    }

    /// Whether `field` holds the same value in `self` and `other`.
    #[must_use]
    pub fn same(&self, other: &Self, field: Field) -> bool {
        match field {
            Field::Title => self.title == other.title,
            Field::Notes => self.notes == other.notes,
            Field::Completed => self.completed == other.completed,
            Field::Due => self.due == other.due,
            Field::StartOn => self.start_on == other.start_on,
            Field::Assignee => self.assignee == other.assignee,
            Field::Tags => self.tags == other.tags,
            Field::Section => self.section == other.section,
        }
    }

    /// Copies one field's value from `other` into `self`.
    pub fn copy_field(&mut self, other: &Self, field: Field) {
        match field {
            Field::Title => self.title.clone_from(&other.title),
            Field::Notes => self.notes.clone_from(&other.notes),
            Field::Completed => self.completed = other.completed,
            Field::Due => self.due.clone_from(&other.due),
            Field::StartOn => self.start_on.clone_from(&other.start_on),
            Field::Assignee => self.assignee.clone_from(&other.assignee),
            Field::Tags => self.tags.clone_from(&other.tags),
            Field::Section => self.section.clone_from(&other.section),
        }
    }
}

/// Sorts and de-duplicates tag names, dropping empty ones.
#[must_use]
pub fn canonical_tags(tags: Vec<String>) -> Vec<String> {
    let mut tags: Vec<String> = tags
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// One synced field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Notes,
    Completed,
    /// The due day or moment; `due_on` in records and conflicts, as before due times.
    #[serde(rename = "due_on")]
    Due,
    Assignee,
    Tags,
    Section,
    StartOn,
}

impl Field {
    /// Every field, in display order.
    pub const ALL: [Field; 8] = [
        Field::Title,
        Field::Notes,
        Field::Completed,
        Field::Due,
        Field::Assignee,
        Field::Tags,
        Field::Section,
        Field::StartOn,
    ];

    /// The field's name as the Markdown front matter spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Notes => "notes",
            Field::Completed => "completed",
            Field::Due => "due_on",
            Field::StartOn => "start_on",
            Field::Assignee => "assignee",
            Field::Tags => "tags",
            Field::Section => "section",
        }
    }

    /// Position in [`Field::ALL`].
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A partial update: only the fields that are `Some` change. For optional fields the inner
/// `None` clears the value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub notes: Option<String>,
    pub completed: Option<bool>,
    pub due: Option<Option<Due>>,
    pub assignee: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub section: Option<Option<String>>,
    pub start_on: Option<Option<String>>,
    /// Custom fields to set (`Some`) or clear (`None`), by name; others are left alone.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub custom: std::collections::BTreeMap<String, Option<CustomValue>>,
}

impl TaskPatch {
    /// A patch that sets `fields` of `from`.
    #[must_use]
    pub fn from_fields(from: &TaskFields, fields: impl IntoIterator<Item = Field>) -> Self {
        let mut patch = Self::default();
        for field in fields {
            patch.set(from, field);
        }
        patch
    }

    /// Sets one field of the patch to its value in `from`.
    pub fn set(&mut self, from: &TaskFields, field: Field) {
        match field {
            Field::Title => self.title = Some(from.title.clone()),
            Field::Notes => self.notes = Some(from.notes.clone()),
            Field::Completed => self.completed = Some(from.completed),
            Field::Due => self.due = Some(from.due.clone()),
            Field::StartOn => self.start_on = Some(from.start_on.clone()),
            Field::Assignee => self.assignee = Some(from.assignee.clone()),
            Field::Tags => self.tags = Some(from.tags.clone()),
            Field::Section => self.section = Some(from.section.clone()),
        }
    }

    /// Sets one custom field of the patch to its value in `from` (cleared when absent).
    pub fn set_custom(&mut self, from: &TaskFields, name: &str) {
        self.custom
            .insert(name.to_owned(), from.custom.get(name).cloned());
    }

    /// Whether the patch changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields().is_empty() && self.custom.is_empty()
    }

    /// The fields this patch sets, in display order.
    #[must_use]
    pub fn fields(&self) -> Vec<Field> {
        let mut out = Vec::new();
        if self.title.is_some() {
            out.push(Field::Title);
        }
        if self.notes.is_some() {
            out.push(Field::Notes);
        }
        if self.completed.is_some() {
            out.push(Field::Completed);
        }
        if self.due.is_some() {
            out.push(Field::Due);
        }
        if self.assignee.is_some() {
            out.push(Field::Assignee);
        }
        if self.tags.is_some() {
            out.push(Field::Tags);
        }
        if self.section.is_some() {
            out.push(Field::Section);
        }
        if self.start_on.is_some() {
            out.push(Field::StartOn);
        }
        out
    }

    /// `fields` with this patch applied.
    #[must_use]
    pub fn applied_to(&self, fields: &TaskFields) -> TaskFields {
        let mut out = fields.clone();
        if let Some(v) = &self.title {
            out.title.clone_from(v);
        }
        if let Some(v) = &self.notes {
            out.notes.clone_from(v);
        }
        if let Some(v) = self.completed {
            out.completed = v;
        }
        if let Some(v) = &self.due {
            out.due.clone_from(v);
        }
        if let Some(v) = &self.start_on {
            out.start_on.clone_from(v);
        }
        if let Some(v) = &self.assignee {
            out.assignee.clone_from(v);
        }
        if let Some(v) = &self.tags {
            out.tags.clone_from(v);
        }
        if let Some(v) = &self.section {
            out.section.clone_from(v);
        }
        for (name, value) in &self.custom {
            match value {
                Some(v) => out.custom.insert(name.clone(), v.clone()),
                None => out.custom.remove(name),
            };
        }
        out.canonical()
    }
}

/// One task as one system holds it right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The system's own id: an Asana gid, a Markdown file name, a GitHub issue number.
    pub id: String,
    /// The synced fields, canonical.
    pub fields: TaskFields,
    /// When the item last changed on its system, if the system says.
    pub modified_at: Option<jiff::Timestamp>,
    /// The Asana gid a target item says it mirrors (Markdown `asana_gid`, the GitHub body's
    /// link line). For an Asana item, the target item its description's recovery line
    /// names (`owner/name#12` for a task made from a GitHub issue), if it has one.
    pub partner: Option<String>,
    /// An opaque revision of the whole item (Asana `modified_at`, a hash of the file's
    /// bytes, GitHub `updated_at`): equal revisions mean nothing changed.
    pub revision: Option<String>,
    /// The item carries none of the bridge's data: a Markdown file that is empty or has
    /// no front matter. Unmapped, it is a new task named after the file; mapped, it is an
    /// accident (an emptied file, a lost front-matter block) and never a reason to clear
    /// the task's fields.
    pub bare: bool,
}
