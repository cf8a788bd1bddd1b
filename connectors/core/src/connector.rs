//! The [`Connector`] trait: what the engine needs from any system it mirrors.
//!
//! Asana is one side of every link; a target (Markdown folder, GitHub repository, ...) is
//! the other. Both implement this trait.
//!
//! A target crate also offers itself to the bridge as a plug-in: a [`TargetKind`] (the key
//! of its table in a `[[link]]`, read and checked into a [`TargetSpec`]), which builds the
//! link's connector and says what else the bridge may ask of it (a folder, a service URL,
//! webhooks through [`TargetHooks`], its credential's [`Access`]). The bridge registers a
//! kind with one line and knows no target by name.

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
    /// (Markdown front matter, GitHub body line). For Asana, it names the target item the
    /// task is made from (as the target's `describe` does), for a target paired by
    /// [`Identity::Record`] only: a GitHub issue `owner/name#12` is written as a line at
    /// the end of the description, a recovery hint read back as the item's `partner`.
    async fn create(
        &self,
        fields: &TaskFields,
        partner: Option<&str>,
    ) -> Result<Item, ConnectorError>;

    /// How many creates one [`Connector::create_many`] call should carry: more than 1
    /// where a batch saves real work (a folder writes a batch of files in one blocking
    /// task instead of one hand-off per file); 1, the default, where each create is its
    /// own request anyway and the engine runs several at once.
    fn create_batch(&self) -> usize {
        1
    }

    /// Creates several items, each as [`Connector::create`] would from its `(fields,
    /// partner)`, and answers one result per entry, in order. A failed create does not
    /// stop the others, but after an error [fatal for the
    /// link](ConnectorError::is_fatal_for_link), or one that stopped the whole batch, the
    /// rest are not tried: the answer then ends with that error, shorter than `new`, and
    /// the entries past its end were not created. The default creates them one after the
    /// other.
    async fn create_many(
        &self,
        new: &[(&TaskFields, Option<&str>)],
    ) -> Vec<Result<Item, ConnectorError>> {
        let mut out = Vec::with_capacity(new.len());
        for (fields, partner) in new {
            if !push_answer(&mut out, self.create(fields, *partner).await) {
                break;
            }
        }
        out
    }

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

    /// The service's subtasks and comments as entities of their own (Asana), or `None`
    /// for a system that has none.
    fn threads(&self) -> Option<&dyn crate::Threads> {
        None
    }

    /// Whether this system's items keep subtasks and comments in their own text (see
    /// [`Connector::read_thread`]).
    fn keeps_threads(&self) -> bool {
        false
    }

    /// The subtasks and comments the item `id` keeps in its own text (a Markdown file's
    /// `## Subtasks` and `## Comments` sections), read now (or as this connector last
    /// read them, where that is as good: a GitHub issue listed this run); `None` for a
    /// system that keeps none there. Its notes never include them.
    async fn read_thread(&self, _id: &str) -> Result<Option<crate::TargetThread>, ConnectorError> {
        Ok(None)
    }

    /// Rewrites the subtasks and comments `item` keeps in its own text as `thread`,
    /// leaving its fields and description as they are. Returns the item as it is now.
    async fn write_thread(
        &self,
        item: &Item,
        _thread: &crate::TargetThread,
    ) -> Result<Item, ConnectorError> {
        Err(ConnectorError::InvalidData(format!(
            "{} keeps no subtasks or comments in its items ({})",
            self.kind(),
            self.describe(&item.id)
        )))
    }
}

// ---------------------------------------------------------------------------------------
// Targets as plug-ins: what a target crate offers the bridge besides its `Connector`.
// ---------------------------------------------------------------------------------------

/// A kind of target an Asana project can be mirrored into, as its crate offers it to the
/// bridge: the key of its table in a `[[link]]` (`markdown = { dir = "roadmap" }`) and
/// how that table is read. The bridge keeps one list of these (its target registry);
/// adding a target is adding its crate and one entry there.
pub trait TargetKind: Send + Sync {
    /// The key of the link's table: `markdown`, `github`.
    fn key(&self) -> &'static str;

    /// The tracing target of the crate's logs (`asana_bridge_github`), which `--verbose`
    /// turns up with the bridge's own.
    fn log_target(&self) -> &'static str;

    /// The table as a one-line example, for the message of a link without a target:
    /// `markdown = { dir = "..." }`.
    fn example(&self) -> &'static str;

    /// Reads and validates the link's table (given as JSON: the config's TOML value
    /// converted). An error is the message the user reads after `link "<name>": `,
    /// naming the setting (`github.repo must look like "owner/name"`).
    ///
    /// # Errors
    /// A message saying what is wrong with the table.
    fn parse(
        &self,
        table: TargetTable,
        link: &LinkSetup<'_>,
    ) -> Result<std::sync::Arc<dyn TargetSpec>, String>;
}

/// A link's target table as its [`TargetKind`] reads it (deserialize from it with
/// `T::deserialize(table)`: the value is a serde deserializer).
pub type TargetTable = serde_json::Value;

/// What a target's table is read with: the link around it and the config's shared
/// tables.
#[derive(Clone, Copy, Debug)]
pub struct LinkSetup<'a> {
    /// The link's name.
    pub name: &'a str,
    /// The Asana project's gid.
    pub asana_project: &'a str,
    /// The config file's folder: relative paths are relative to it.
    pub config_dir: &'a std::path::Path,
    /// The config's `[users]` table: Asana e-mail -> the target's own login, for targets
    /// that map people.
    pub users: &'a std::collections::BTreeMap<String, String>,
}

impl LinkSetup<'_> {
    /// `path` resolved against the config file's folder.
    #[must_use]
    pub fn resolve(&self, path: &std::path::Path) -> std::path::PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.config_dir.join(path)
        }
    }
}

/// Where a link's connector is built: its name and what the run may keep on disk.
#[derive(Clone, Copy, Debug)]
pub struct ConnectSetup<'a> {
    /// The link's name (for messages).
    pub link: &'a str,
    /// The link's name as one safe path component, for files of its own.
    pub file_stem: &'a str,
    /// The state folder, where a target may keep caches (under a folder named after its
    /// kind).
    pub state_dir: &'a std::path::Path,
    /// A real sync: the connector may create what it needs (a missing folder) and keep
    /// caches on disk. `false` (a dry run, or a connector only for webhook calls) writes
    /// nothing.
    pub persist: bool,
}

/// Why a target could not be set up or checked.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The configuration or the environment is wrong (exit code 2): a token variable
    /// that is empty, a URL the client refuses.
    #[error("{0}")]
    Usage(String),
    /// Something failed at run time (exit code 1): a folder that cannot be created.
    #[error("{0}")]
    Runtime(String),
}

/// What a target's credential can do, as `auth status` and `doctor` report it.
#[derive(Debug)]
pub struct Access {
    /// The service, for messages: `GitHub`.
    pub service: &'static str,
    /// What the link reaches on it: `repository`.
    pub noun: &'static str,
    /// Which one: `acme/app`.
    pub scope: String,
    /// The environment variable the credential came from, e.g. `GITHUB_TOKEN`.
    pub token_env: String,
    /// Whose the credential is and whether it reaches the scope, or why that is unknown.
    pub outcome: Result<Reach, AccessError>,
}

/// Whose a credential is and whether it reaches a link's scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// Who the credential acts as (`None`: no user, e.g. an app installation token).
    pub login: Option<String>,
    /// Whether it sees the scope.
    pub visible: bool,
}

/// Why a target's access could not be told.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The credential is missing or the client cannot be set up.
    #[error("{0}")]
    Setup(String),
    /// The service refused the credential.
    #[error("{service} refuses the token in {token_env}: {source}")]
    Refused {
        service: &'static str,
        token_env: String,
        #[source]
        source: ConnectorError,
    },
    /// Asking failed otherwise.
    #[error(transparent)]
    Failed(ConnectorError),
}

/// One link's target, read from its table: everything the bridge asks of a target
/// besides the items themselves.
#[async_trait]
pub trait TargetSpec: std::fmt::Debug + Send + Sync {
    /// The kind's key (`markdown`, `github`).
    fn kind(&self) -> &'static str;

    /// Whether completed tasks and closed items create counterparts when unmapped.
    fn import_completed(&self) -> bool {
        true
    }

    /// The local folder the items live in, if any: watched for changes under `watch`,
    /// kept apart from other links' folders, and where deleted tasks are saved.
    fn folder(&self) -> Option<&std::path::Path> {
        None
    }

    /// The URL of the service the target talks to, if any, with what to call it in a
    /// message (`the GitHub API URL`): warned of when it is cleartext.
    fn service_url(&self) -> Option<(&'static str, &str)> {
        None
    }

    /// Builds the link's connector.
    ///
    /// # Errors
    /// A missing token, a client that cannot be set up, a folder that cannot be created.
    fn connect(&self, setup: &ConnectSetup<'_>) -> Result<Box<dyn Connector>, TargetError>;

    /// The target's webhooks, for `watch --webhook-url`: `None` when it has none (its
    /// changes are seen otherwise: a folder watcher, polling).
    ///
    /// # Errors
    /// As for [`TargetSpec::connect`].
    fn hooks(
        &self,
        _setup: &ConnectSetup<'_>,
    ) -> Result<Option<std::sync::Arc<dyn TargetHooks>>, TargetError> {
        Ok(None)
    }

    /// What the target's credential can do (`auth status`, `doctor`), retrying for at most
    /// `retry`; `None` for a target without a credential (a folder).
    async fn access(&self, _link: &str, _retry: std::time::Duration) -> Option<Access> {
        None
    }
}

/// A webhook on a target's service, as far as the bridge reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteHook {
    /// The service's id of the hook.
    pub id: u64,
    /// Where it delivers, when the service says.
    pub url: Option<String>,
    /// Whether the service has it switched on.
    pub active: bool,
}

/// A target's webhooks: created when a watch starts, deleted when it stops, and asked
/// after to remove those a crashed run left.
#[async_trait]
pub trait TargetHooks: Send + Sync {
    /// The service, in messages: `GitHub` (`GitHub webhook registered`).
    fn service(&self) -> &'static str;

    /// What the hooks are on, in messages: `repository`.
    fn scope_noun(&self) -> &'static str;

    /// What the hooks are on, for records and messages (`acme/app`).
    fn scope(&self) -> String;

    /// How the service marks, signs and names its deliveries.
    fn deliveries(&self) -> std::sync::Arc<dyn DeliveryRules>;

    /// Creates a hook delivering to `url`, signed with `secret`.
    async fn create(
        &self,
        url: &str,
        secret: &secrecy::SecretString,
    ) -> Result<RemoteHook, ConnectorError>;

    /// The hook `id`, or `None` when it is gone.
    async fn get(&self, id: u64) -> Result<Option<RemoteHook>, ConnectorError>;

    /// Every hook of the scope.
    async fn list(&self) -> Result<Vec<RemoteHook>, ConnectorError>;

    /// Deletes the hook `id`; `false` when it was already gone.
    async fn delete(&self, id: u64) -> Result<bool, ConnectorError>;
}

/// The head of a webhook request (its headers), as [`DeliveryRules`] read it.
pub type DeliveryHeaders = reqwest::header::HeaderMap;

/// How a service marks, signs and names the deliveries of its webhooks: the checks of
/// one delivery, from its headers and body to what changed, nothing to act on, or a
/// refusal. The bridge keeps the secret, routes the request to its link, drops repeats
/// and prompts the link's poll; what a delivery of this service looks like is the
/// target crate's.
pub trait DeliveryRules: Send + Sync {
    /// Whether a request with these headers is one of the service's deliveries (and not
    /// Asana's, which share the receiver).
    fn claims(&self, headers: &DeliveryHeaders) -> bool;

    /// Reads a delivery's head, with the hook's secret: the check its body must stream
    /// through, or why it is refused before a byte of the body is read.
    ///
    /// # Errors
    /// A [`DeliveryRefusal`]: a missing or malformed signature, an unnamed event.
    fn open(
        &self,
        headers: &DeliveryHeaders,
        secret: &secrecy::SecretString,
    ) -> Result<Box<dyn DeliveryCheck>, DeliveryRefusal>;
}

/// One delivery's body on its way through its signature check.
pub trait DeliveryCheck: Send {
    /// The next bytes of the body.
    fn update(&mut self, chunk: &[u8]);

    /// The verdict once the whole body went through, in constant time.
    ///
    /// # Errors
    /// [`DeliveryRefusal::BadSignature`] when the signature is not the body's.
    fn finish(self: Box<Self>) -> Result<CheckedDelivery, DeliveryRefusal>;
}

/// A delivery whose signature matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedDelivery {
    /// The SHA-256 of the body (which the signature covers): a replay under another
    /// delivery id is known by it.
    pub digest: [u8; 32],
    /// The service's id of the delivery, when it gives one (a redelivery keeps it; the
    /// signature may not cover it).
    pub id: Option<String>,
    /// What it tells.
    pub news: DeliveryNews,
}

/// What a verified delivery tells the bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryNews {
    /// Something the link mirrors may have changed: poll now. `event` names it (logs).
    Changed { event: String },
    /// Nothing to act on: the hook's `ping`, an event the link does not mirror. `what`
    /// says which (logs).
    Nothing { what: String },
}

/// Why a delivery is refused (answered 401, changing nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryRefusal {
    /// The signature header is missing.
    #[error("deliveries without a signature")]
    MissingSignature,
    /// The signature header is not in the service's format.
    #[error("signatures that are not in the service's format")]
    MalformedSignature,
    /// The delivery does not name its event.
    #[error("deliveries that do not name their event")]
    MissingEvent,
    /// The secret cannot key the signature.
    #[error("unusable secret")]
    UnusableSecret,
    /// The signature is not the body's.
    #[error("signatures that do not match")]
    BadSignature,
}

impl DeliveryRefusal {
    /// What is refused, as the receiver counts refusals (the `Display` text).
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingSignature => "deliveries without a signature",
            Self::MalformedSignature => "signatures that are not in the service's format",
            Self::MissingEvent => "deliveries that do not name their event",
            Self::UnusableSecret => "unusable secret",
            Self::BadSignature => "signatures that do not match",
        }
    }
}

/// Creates each entry of a batch with `create`, one after the other, and answers as
/// [`Connector::create_many`] does: one result per entry, stopping after an error fatal
/// for the link. For a connector whose creates are blocking calls.
pub fn create_each<T>(
    new: impl IntoIterator<Item = T>,
    mut create: impl FnMut(T) -> Result<Item, ConnectorError>,
) -> Vec<Result<Item, ConnectorError>> {
    let mut out = Vec::new();
    for entry in new {
        if !push_answer(&mut out, create(entry)) {
            break;
        }
    }
    out
}

/// Adds one create's answer to a batch's; `false` when the batch must stop there (an
/// error fatal for the link).
fn push_answer(
    out: &mut Vec<Result<Item, ConnectorError>>,
    answer: Result<Item, ConnectorError>,
) -> bool {
    let go_on = !answer
        .as_ref()
        .is_err_and(ConnectorError::is_fatal_for_link);
    out.push(answer);
    go_on
}

/// Reads a token from the environment variable `var`, which the config's `setting`
/// names (`link "bugs" github.token_env`). The message never holds the token.
///
/// # Errors
/// [`TargetError::Usage`] when the variable is unset or blank.
pub fn read_token(var: &str, setting: &str) -> Result<secrecy::SecretString, TargetError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(secrecy::SecretString::from(v.trim().to_owned())),
        _ => Err(TargetError::Usage(format!(
            "the environment variable {var} (named by {setting} in the config) holds no token; export it with a personal access token or service-account token"
        ))),
    }
}
