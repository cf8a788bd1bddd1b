//! The [`Connector`] trait: what the engine needs from any system it mirrors.
//!
//! Asana is one side of every link; a target (Markdown folder, GitHub repository, ...) is
//! the other. Both implement this trait, so adding a target is adding one implementation.

use async_trait::async_trait;

use crate::error::{ConnectorError, FieldError, ItemError};
use crate::model::{Field, Item, TaskFields, TaskPatch};

/// An opaque continuation token from one [`Page`] to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageToken(pub String);

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    /// The items read on this page.
    pub items: Vec<Item>,
    /// Items that could not be read: reported, left untouched, never taken for deleted.
    pub errors: Vec<ItemError>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageToken>,
}

/// What changed since a cursor, for systems that can say.
#[derive(Debug, PartialEq, Eq)]
pub enum Changes {
    /// The system has no change feed: list everything.
    Unsupported,
    /// The cursor was missing or too old: list everything, then go on from `cursor`.
    Reset { cursor: String },
    /// The ids of the items that changed (created, updated or deleted) since the cursor,
    /// de-duplicated, and the cursor to ask from next time.
    Since {
        changed: Vec<String>,
        cursor: String,
    },
}

/// What makes a target item the counterpart of an Asana task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The item itself names its task ([`Item::partner`], e.g. Markdown's `asana_gid`),
    /// and ids are not stable (files are renamed and moved): a partner is the item's
    /// identity, and an edited partner is an error the user must look at.
    Partner,
    /// Ids are stable (GitHub issue numbers): the bridge's records pair items, and a
    /// partner is only a hint for recovering a create the bridge itself made and did not
    /// record (a crash), or for re-adopting after the records were lost. Anywhere else it
    /// is just text (a copied issue body).
    Record,
}

/// What became of an item that a full listing no longer shows.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one answer per missing item, never stored
pub enum Whereabouts {
    /// Still there after all (filtered out of the listing, or listed in a race).
    Present(Item),
    /// Deleted on its system.
    Deleted,
    /// Moved out of this link's reach (a GitHub issue transferred to another repository):
    /// not a deletion. `to` names where, for the message.
    Moved { to: String },
}

/// A system the bridge mirrors.
///
/// Every method is one logical operation on the system; retries, rate limits and
/// pagination of the transport are the connector's business, decisions are the engine's.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Short name of the system for messages: `asana`, `markdown`, `github`.
    fn kind(&self) -> &'static str;

    /// How to name an item in a message, e.g. `roadmap/fix-login.md` or `task 1200…`.
    fn describe(&self, id: &str) -> String;

    /// Reads one page of items; start with `None` and follow [`Page::next`].
    async fn list_page(&self, token: Option<PageToken>) -> Result<Page, ConnectorError>;

    /// Reads the current state of the items with these ids (those that no longer exist are
    /// simply absent). Used after a change feed named them.
    async fn get_many(&self, ids: &[String]) -> Result<Vec<Item>, ConnectorError>;

    /// Creates an item. `partner` is the Asana gid it mirrors, for targets that record it
    /// (Markdown front matter, GitHub body line); Asana ignores it.
    async fn create(
        &self,
        fields: &TaskFields,
        partner: Option<&str>,
    ) -> Result<Item, ConnectorError>;

    /// Changes the fields set in `patch` of `item` (as last listed), leaving every other
    /// field and any data the bridge does not sync untouched. Returns the item as it is now.
    async fn update(&self, item: &Item, patch: &TaskPatch) -> Result<Item, ConnectorError>;

    /// Deletes `item` (a Markdown file goes to the trash folder, never unlinked).
    async fn delete(&self, item: &Item) -> Result<(), ConnectorError>;

    /// Records on `item` the Asana gid it mirrors, after the Asana task was created from it.
    /// Returns the item as it is now.
    async fn set_partner(&self, item: &Item, partner: &str) -> Result<Item, ConnectorError>;

    /// What changed since `cursor` (`None`: start a feed). Systems without a change feed
    /// answer [`Changes::Unsupported`].
    async fn changes(&self, _cursor: Option<&str>) -> Result<Changes, ConnectorError> {
        Ok(Changes::Unsupported)
    }

    /// What pairs this system's items with Asana's tasks (see [`Identity`]).
    fn identity(&self) -> Identity {
        Identity::Partner
    }

    /// What became of the item `id`, which a full listing no longer shows. Asked before
    /// its absence is taken for a deletion. Systems whose listing is the whole truth (a
    /// folder) answer [`Whereabouts::Deleted`].
    async fn whereabouts(&self, _id: &str) -> Result<Whereabouts, ConnectorError> {
        Ok(Whereabouts::Deleted)
    }

    /// How far this system's clock is ahead of the local one (negative: behind), as its
    /// answers' `Date` headers tell; `None` when it cannot say. Used to compare
    /// modification times across systems (the `newest` policy).
    fn clock_offset(&self) -> Option<jiff::SignedDuration> {
        None
    }

    /// The field errors of the writes since the last call, drained: fields a `create` or
    /// `update` that otherwise succeeded did not write (the returned [`Item`] shows them
    /// as they are on the system). The engine reports each as one error line, and must not
    /// take the field as agreed: the record keeps the value it asked for as pending, so
    /// that it is tried again when either side changes it.
    fn take_field_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }

    /// Fields of `item` (as last listed or read) whose value this system holds but cannot
    /// express in the common model: a GitHub issue assigned only to logins the `[users]`
    /// table does not map, or an Asana task assigned to someone whose e-mail Asana hides,
    /// reads as `assignee: None`, which is not "unassigned". The
    /// engine must read such a field as unchanged since the last sync (never clear the
    /// other side from it), and may still write it (a mapped person replaces only mapped
    /// ones).
    fn unknown_fields(&self, _item: &Item) -> Vec<Field> {
        Vec::new()
    }

    /// Whether tag names match ignoring case on this system (GitHub labels: `Bug` and
    /// `bug` are one label). The engine must then compare tags case-insensitively
    /// between the sides and never rewrite the other side's spelling: a task with `Bug`
    /// and `bug` keeps both, and an issue labelled `bug` agrees with it.
    fn tags_ignore_case(&self) -> bool {
        false
    }
}
