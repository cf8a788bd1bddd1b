//! [`MarkdownConnector`]: the [`Connector`] over one folder of Markdown task files.
//!
//! Ids are the files' paths relative to the folder, `/`-separated (`fix-login.md`,
//! `archive/fix-login.md`); every `*.md` in the folder or a subfolder is a task, dot-files
//! and dot-folders aside, symlinks never followed. New files go directly in the folder. The
//! partner is the front matter's `asana_gid`; the revision is the SHA-256 of the file's
//! bytes, so an update or delete never clobbers an edit made since the listing.
//!
//! Blocking I/O runs on tokio's blocking pool (`spawn_blocking`): one call is a few small
//! file operations, but a listing reads and hashes every file, and in `watch` the runtime's
//! workers must stay free for the other links' network I/O.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use asana_bridge_connector::connector::create_each;
use asana_bridge_connector::{
    Connector, ConnectorError, Item, ItemError, Page, PageToken, TargetThread, TaskFields,
    TaskPatch,
};
use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::body;
use crate::frontmatter::{self, FormatError, MAX_FILE_BYTES};
use crate::fs::{self as taskfs, FileBytes, ReadError};
use crate::names;
use crate::render::{self, Change};

/// Files per listing page.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// Files one [`Connector::create_many`] call is asked to create: a page of 100 Asana tasks
/// is four batches, so that two cores both write while the next page is read, and a
/// batch's hand-off to the blocking pool is paid once for 25 files.
const CREATE_BATCH: usize = 25;

/// The Markdown folder side of a link: one `*.md` file per task, in `dir` or a subfolder.
///
/// The folder must exist: listing a missing folder is an error for the whole link (an
/// emptied side must never read as "every task was deleted"). On a link's first sync the
/// engine calls [`MarkdownConnector::ensure_dir`] to create it.
#[derive(Clone, Debug)]
pub struct MarkdownConnector {
    folder: Arc<Folder>,
}

/// The folder and the blocking implementation of every operation.
#[derive(Debug)]
struct Folder {
    /// The task folder.
    dir: PathBuf,
    /// How items are named in messages: the folder's own name (`roadmap`).
    label: String,
    /// Files per listing page.
    page_size: usize,
    /// Whether a missing folder lists as empty instead of failing.
    missing_is_empty: bool,
    /// The folder's names, lower-cased, as far as this connector knows them: read once at
    /// the first create, then kept up to date by its own creates (so that importing N
    /// tasks reads the folder once, not N times). A name taken behind its back still
    /// fails `create_new` and the next candidate is tried.
    taken: std::sync::Mutex<Option<HashSet<String>>>,
    /// The folder's entries as the listing in progress read them at its first page: a
    /// listing reads the directory once, not once per page. Page tokens are file names,
    /// so a page is right against any sorted snapshot; dropped after the last page.
    listing: std::sync::Mutex<Option<Arc<Vec<Entry>>>>,
}

impl MarkdownConnector {
    /// A connector over the folder `dir`. Nothing is read or created yet.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let label = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self {
            folder: Arc::new(Folder {
                dir,
                label,
                page_size: DEFAULT_PAGE_SIZE,
                missing_is_empty: false,
                taken: std::sync::Mutex::default(),
                listing: std::sync::Mutex::default(),
            }),
        }
    }

    /// The same connector listing `page_size` files per page (at least one).
    #[must_use]
    pub fn with_page_size(self, page_size: usize) -> Self {
        self.reconfigured(|f| f.page_size = page_size.max(1))
    }

    /// The same connector, listing a missing folder as empty instead of failing. Only for
    /// a link that has never synced (e.g. a dry run of the first sync, which must not
    /// create the folder): on a link with history, an empty listing would read as "every
    /// file was deleted".
    #[must_use]
    pub fn with_missing_dir_as_empty(self, missing_is_empty: bool) -> Self {
        self.reconfigured(|f| f.missing_is_empty = missing_is_empty)
    }

    fn reconfigured(self, change: impl FnOnce(&mut Folder)) -> Self {
        let mut folder = Folder {
            dir: self.folder.dir.clone(),
            label: self.folder.label.clone(),
            page_size: self.folder.page_size,
            missing_is_empty: self.folder.missing_is_empty,
            taken: std::sync::Mutex::default(),
            listing: std::sync::Mutex::default(),
        };
        change(&mut folder);
        Self {
            folder: Arc::new(folder),
        }
    }

    /// The task folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.folder.dir
    }

    /// The trash folder, `<dir>/.asana-bridge-trash`: where deleted task files go, and
    /// where [`save_to_trash`](crate::save_to_trash) should save a task before the bridge
    /// deletes it in Asana.
    #[must_use]
    pub fn trash_dir(&self) -> PathBuf {
        self.folder.dir.join(taskfs::TRASH_DIR)
    }

    /// Creates the folder (and its parents) if it is missing; for a link's first sync only.
    /// Returns whether it was created.
    ///
    /// # Errors
    /// [`ConnectorError::Io`] when it cannot be created or exists but is not a folder.
    pub fn ensure_dir(&self) -> Result<bool, ConnectorError> {
        let dir = &self.folder.dir;
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => Ok(false),
            Ok(_) => Err(ConnectorError::io(
                format!("{} exists but is not a folder", dir.display()),
                io::Error::from(io::ErrorKind::AlreadyExists),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map(|()| true).map_err(|e| {
                    ConnectorError::io(format!("cannot create folder {}", dir.display()), e)
                })
            }
            Err(e) => Err(ConnectorError::io(
                format!("cannot read folder {}", dir.display()),
                e,
            )),
        }
    }

    /// Runs a blocking operation on tokio's blocking pool.
    async fn blocking<T, F>(&self, op: F) -> Result<T, ConnectorError>
    where
        T: Send + 'static,
        F: FnOnce(&Folder) -> Result<T, ConnectorError> + Send + 'static,
    {
        let folder = Arc::clone(&self.folder);
        match tokio::task::spawn_blocking(move || op(&folder)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(ConnectorError::io(
                "a file operation was cancelled (the runtime is shutting down)",
                io::Error::other(e),
            )),
        }
    }
}

#[async_trait]
impl Connector for MarkdownConnector {
    fn kind(&self) -> &'static str {
        "markdown"
    }

    fn describe(&self, id: &str) -> String {
        format!("{}/{id}", self.folder.label)
    }

    async fn list_page(&self, token: Option<PageToken>) -> Result<Page, ConnectorError> {
        self.blocking(move |f| f.list_page(token.as_ref().map(|t| t.0.as_str())))
            .await
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<Item>, ConnectorError> {
        let ids = ids.to_vec();
        self.blocking(move |f| f.get_many(&ids)).await
    }

    async fn create(
        &self,
        fields: &TaskFields,
        partner: Option<&str>,
    ) -> Result<Item, ConnectorError> {
        let fields = fields.clone();
        let partner = partner.map(str::to_owned);
        self.blocking(move |f| f.create(fields, partner.as_deref()))
            .await
    }

    fn create_batch(&self) -> usize {
        CREATE_BATCH
    }

    async fn create_many(
        &self,
        new: &[(&TaskFields, Option<&str>)],
    ) -> Vec<Result<Item, ConnectorError>> {
        let new: Vec<(TaskFields, Option<String>)> = new
            .iter()
            .map(|(fields, partner)| ((*fields).clone(), partner.map(str::to_owned)))
            .collect();
        // One hand-off to the blocking pool for the whole batch.
        let created = self
            .blocking(move |f| {
                Ok(create_each(new, |(fields, partner)| {
                    f.create(fields, partner.as_deref())
                }))
            })
            .await;
        // The batch did not run at all (the runtime is shutting down): nothing was created.
        created.unwrap_or_else(|e| vec![Err(e)])
    }

    async fn update(&self, item: &Item, patch: &TaskPatch) -> Result<Item, ConnectorError> {
        let (item, patch) = (item.clone(), patch.clone());
        self.blocking(move |f| f.update(&item, &patch)).await
    }

    async fn delete(&self, item: &Item) -> Result<(), ConnectorError> {
        let item = item.clone();
        self.blocking(move |f| f.delete(&item)).await
    }

    async fn set_partner(&self, item: &Item, partner: &str) -> Result<Item, ConnectorError> {
        let (item, partner) = (item.clone(), partner.to_owned());
        self.blocking(move |f| f.set_partner(&item, &partner)).await
    }

    fn keeps_threads(&self) -> bool {
        true
    }

    async fn read_thread(&self, id: &str) -> Result<Option<TargetThread>, ConnectorError> {
        let id = id.to_owned();
        self.blocking(move |f| f.read_thread(&id).map(Some)).await
    }

    async fn write_thread(
        &self,
        item: &Item,
        thread: &TargetThread,
    ) -> Result<Item, ConnectorError> {
        let (item, thread) = (item.clone(), thread.clone());
        self.blocking(move |f| f.write_thread(&item, &thread)).await
    }
}

/// A directory entry that may be a task file.
#[derive(Debug)]
struct Entry {
    name: String,
    kind: EntryKind,
}

#[derive(Debug)]
enum EntryKind {
    File,
    Symlink,
    Other,
    /// The name is not valid UTF-8 (`name` is its lossy form).
    BadName,
    /// A subfolder whose name is not valid UTF-8 (`name` is its lossy form, ending in `/`):
    /// its files cannot have ids.
    BadFolderName,
}

/// The hex SHA-256 of a file's bytes: its revision.
fn revision(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

fn timestamp(t: Option<SystemTime>) -> Option<jiff::Timestamp> {
    t.and_then(|t| jiff::Timestamp::try_from(t).ok())
}

fn invalid(e: FormatError) -> ConnectorError {
    ConnectorError::InvalidData(e.to_string())
}

fn check_gid(gid: &str) -> Result<(), ConnectorError> {
    if !gid.is_empty() && gid.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConnectorError::InvalidData(format!(
            "`{gid}` is not an Asana task id (digits only)"
        )))
    }
}

impl Folder {
    /// The path of the task file `id` (a relative, `/`-separated path inside the folder).
    fn path(&self, id: &str) -> PathBuf {
        if id.contains('/') {
            let mut path = self.dir.clone();
            path.extend(id.split('/'));
            path
        } else {
            self.dir.join(id)
        }
    }

    /// Checks that `id` is a task id ([`names::is_task_id`]) whose folders, if any, are
    /// real folders (not symlinks: an operation never reaches outside the folder).
    fn check_id(&self, id: &str) -> Result<(), ConnectorError> {
        if !names::is_task_id(id) {
            return Err(ConnectorError::InvalidData(format!(
                "`{id}` is not the relative path of a Markdown file inside the folder"
            )));
        }
        let mut at = self.dir.clone();
        let mut folders = id.split('/');
        folders.next_back(); // the file itself: `read` refuses a symlink there
        for folder in folders {
            at.push(folder);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(ConnectorError::InvalidData(format!(
                        "{} is a symbolic link; not followed",
                        at.display()
                    )));
                }
                Ok(m) if !m.is_dir() => {
                    return Err(ConnectorError::NotFound(format!(
                        "{} is not a folder",
                        at.display()
                    )));
                }
                Ok(_) => {}
                // The folder is gone, so is the file: the read says so.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => {
                    return Err(ConnectorError::io(
                        format!("cannot read {}", at.display()),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    fn dir_error(&self, e: io::Error) -> ConnectorError {
        let context = if e.kind() == io::ErrorKind::NotFound {
            format!("the folder {} does not exist", self.dir.display())
        } else {
            format!("cannot list the folder {}", self.dir.display())
        };
        ConnectorError::io(context, e)
    }

    /// Reads a task file, turning every failure into the error to report.
    fn read(&self, name: &str) -> Result<FileBytes, ConnectorError> {
        taskfs::read(&self.path(name)).map_err(|e| self.read_error(name, e))
    }

    fn read_error(&self, name: &str, e: ReadError) -> ConnectorError {
        match e {
            ReadError::NotFound => ConnectorError::NotFound("the file no longer exists".into()),
            ReadError::Symlink | ReadError::NotRegular => {
                ConnectorError::InvalidData(e.to_string())
            }
            ReadError::TooLarge { size, .. } => invalid(FormatError::TooLarge {
                size,
                limit: MAX_FILE_BYTES,
            }),
            ReadError::Io(e) => {
                ConnectorError::io(format!("cannot read {}", self.path(name).display()), e)
            }
        }
    }

    /// The item a file's bytes hold.
    fn item(name: &str, bytes: &[u8], modified: Option<SystemTime>) -> Result<Item, FormatError> {
        let text = frontmatter::decode(bytes)?;
        let parsed = frontmatter::parse(text, names::stem(name))?;
        Ok(Item {
            id: name.to_owned(),
            fields: parsed.fields,
            modified_at: timestamp(modified),
            partner: parsed.partner,
            revision: Some(revision(bytes)),
            bare: parsed.layout.front.is_none(),
        })
    }

    /// Fails when the file's bytes are no longer those `item` was read from.
    fn check_unchanged(item: &Item, bytes: &[u8], what: &str) -> Result<(), ConnectorError> {
        match &item.revision {
            Some(r) if *r != revision(bytes) => Err(ConnectorError::ChangedMeanwhile(format!(
                "the file changed since it was listed; {what}, the next run will pick up the change"
            ))),
            _ => Ok(()),
        }
    }

    /// The entries a listing page is cut from: read afresh for a first page (or when no
    /// listing is in progress), else the snapshot its first page read.
    fn listing_snapshot(&self, first: bool) -> Result<Arc<Vec<Entry>>, ConnectorError> {
        if !first && let Some(entries) = self.lock_listing().as_ref() {
            return Ok(Arc::clone(entries));
        }
        let entries = Arc::new(self.entries()?);
        *self.lock_listing() = Some(Arc::clone(&entries));
        Ok(entries)
    }

    fn lock_listing(&self) -> std::sync::MutexGuard<'_, Option<Arc<Vec<Entry>>>> {
        // The snapshot is only a cache: one left by a panicked holder is still sorted.
        self.listing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The candidate task files of the folder and its subfolders, sorted by id (their
    /// relative path, `/`-separated). Dot-files and dot-folders are skipped; symlinks are
    /// never followed: one named `*.md` is reported, a symlinked folder is skipped (what it
    /// leads to is outside the folder, maybe another link's, maybe a loop).
    fn entries(&self) -> Result<Vec<Entry>, ConnectorError> {
        let mut out = Vec::new();
        // Folders still to read: their path and their id prefix (`""`, `archive/`…).
        let mut pending: Vec<(PathBuf, String)> = vec![(self.dir.clone(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let top = prefix.is_empty();
            let list_error = |e: io::Error| {
                if top {
                    self.dir_error(e)
                } else if e.kind() == io::ErrorKind::NotFound {
                    // Moved while listed: a partial listing could read as deletions.
                    ConnectorError::io(
                        format!(
                            "the folder {} disappeared while it was listed; the next run lists again",
                            dir.display()
                        ),
                        e,
                    )
                } else {
                    ConnectorError::io(format!("cannot list the folder {}", dir.display()), e)
                }
            };
            for entry in std::fs::read_dir(&dir).map_err(list_error)? {
                // A failing entry fails the whole listing: a partial listing could read as
                // deletions.
                let entry = entry.map_err(list_error)?;
                let os_name = entry.file_name();
                let lossy = os_name.to_string_lossy();
                if lossy.starts_with('.') {
                    continue;
                }
                // The type of the entry itself (a symlink is a symlink, never followed).
                let file_type = entry.file_type().map_err(list_error)?;
                if file_type.is_dir() {
                    if os_name.to_str().is_none() {
                        out.push(Entry {
                            name: format!("{prefix}{lossy}/"),
                            kind: EntryKind::BadFolderName,
                        });
                    } else {
                        pending.push((entry.path(), format!("{prefix}{lossy}/")));
                    }
                    continue;
                }
                if !lossy.ends_with(".md") {
                    continue;
                }
                let kind = if os_name.to_str().is_none() {
                    EntryKind::BadName
                } else if file_type.is_symlink() {
                    EntryKind::Symlink
                } else if file_type.is_file() {
                    EntryKind::File
                } else {
                    EntryKind::Other
                };
                let name = if top {
                    lossy.into_owned()
                } else {
                    format!("{prefix}{lossy}")
                };
                out.push(Entry { name, kind });
            }
        }
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn list_page(&self, after: Option<&str>) -> Result<Page, ConnectorError> {
        if self.missing_is_empty
            && matches!(std::fs::metadata(&self.dir), Err(e) if e.kind() == io::ErrorKind::NotFound)
        {
            return Ok(Page::default());
        }
        let entries = self.listing_snapshot(after.is_none())?;
        let start = after.map_or(0, |a| entries.partition_point(|e| e.name.as_str() <= a));
        let rest = &entries[start..];
        let page = &rest[..rest.len().min(self.page_size)];
        let mut out = Page {
            next: (rest.len() > page.len())
                .then(|| page.last().map(|e| PageToken(e.name.clone())))
                .flatten(),
            ..Page::default()
        };
        if out.next.is_none() {
            self.lock_listing().take();
        }
        for entry in page {
            let name = &entry.name;
            let item_error = |error, partner| ItemError {
                id: Some(name.clone()),
                partner,
                error,
            };
            match entry.kind {
                EntryKind::Symlink => out.errors.push(item_error(
                    ConnectorError::InvalidData(ReadError::Symlink.to_string()),
                    None,
                )),
                EntryKind::Other => out.errors.push(item_error(
                    ConnectorError::InvalidData(ReadError::NotRegular.to_string()),
                    None,
                )),
                EntryKind::BadName => out.errors.push(item_error(
                    ConnectorError::InvalidData(
                        "the file name is not valid UTF-8; rename the file".into(),
                    ),
                    None,
                )),
                EntryKind::BadFolderName => out.errors.push(item_error(
                    ConnectorError::InvalidData(
                        "the folder name is not valid UTF-8, so its files are not read; \
                         rename the folder"
                            .into(),
                    ),
                    None,
                )),
                EntryKind::File => match taskfs::read(&self.path(name)) {
                    // Gone since the directory was read: absent, like any deleted file.
                    Err(ReadError::NotFound) => {}
                    Err(ReadError::TooLarge { size, head }) => out.errors.push(item_error(
                        invalid(FormatError::TooLarge {
                            size,
                            limit: MAX_FILE_BYTES,
                        }),
                        frontmatter::scan_partner(&head),
                    )),
                    Err(e) => out.errors.push(item_error(self.read_error(name, e), None)),
                    Ok(file) => match Self::item(name, &file.bytes, file.modified) {
                        Ok(item) => out.items.push(item),
                        Err(e) => out.errors.push(item_error(
                            invalid(e),
                            frontmatter::scan_partner(&file.bytes),
                        )),
                    },
                },
            }
        }
        Ok(out)
    }

    fn get_many(&self, ids: &[String]) -> Result<Vec<Item>, ConnectorError> {
        let mut out = Vec::with_capacity(ids.len());
        for name in ids {
            match self.check_id(name) {
                Ok(()) => {}
                // In a folder that is gone (or is now a file): absent, like a deleted file.
                Err(ConnectorError::NotFound(_)) => continue,
                Err(e) => return Err(prefixed(&self.label, name, e)),
            }
            let file = match taskfs::read(&self.path(name)) {
                Err(ReadError::NotFound) => continue,
                // An unreadable file must not look absent (deleted): fail the call.
                Err(e) => {
                    return Err(prefixed(&self.label, name, self.read_error(name, e)));
                }
                Ok(file) => file,
            };
            let item = Self::item(name, &file.bytes, file.modified)
                .map_err(|e| prefixed(&self.label, name, invalid(e)))?;
            out.push(item);
        }
        Ok(out)
    }

    fn create(&self, fields: TaskFields, partner: Option<&str>) -> Result<Item, ConnectorError> {
        if let Some(gid) = partner {
            check_gid(gid)?;
        }
        let fields = fields.canonical();
        let text = render::render_new(&fields, partner);
        // The rendering is checked like every edit: what is written reads back as given.
        render::check_new(&text, &fields, partner).map_err(invalid)?;
        // Held across the name choice and the create, so that concurrent creates of the
        // same title pick different names. A poisoned lock only means another create
        // panicked; the set is still a sound hint (create_new is the real guard).
        let mut guard = self
            .taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            let mut names = HashSet::new();
            for entry in std::fs::read_dir(&self.dir).map_err(|e| self.dir_error(e))? {
                let entry = entry.map_err(|e| self.dir_error(e))?;
                names.insert(entry.file_name().to_string_lossy().to_lowercase());
            }
            *guard = Some(names);
        }
        let taken = guard.get_or_insert_with(HashSet::new);
        for name in names::candidates(&fields.title).take(10_000) {
            if taken.contains(&name.to_lowercase()) {
                continue;
            }
            taken.insert(name.to_lowercase());
            match taskfs::create_new(&self.dir, &name, text.as_bytes()) {
                Ok(modified) => {
                    tracing::debug!(file = %self.path(&name).display(), "created task file");
                    return Ok(Item {
                        id: name,
                        fields,
                        modified_at: timestamp(modified),
                        partner: partner.map(str::to_owned),
                        revision: Some(revision(text.as_bytes())),
                        bare: false,
                    });
                }
                // Taken since the folder was read: next candidate.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(ConnectorError::io(
                        format!("cannot create {}", self.path(&name).display()),
                        e,
                    ));
                }
            }
        }
        Err(ConnectorError::InvalidData(format!(
            "no free file name for the title `{}`",
            fields.title
        )))
    }

    fn update(&self, item: &Item, patch: &TaskPatch) -> Result<Item, ConnectorError> {
        self.check_id(&item.id)?;
        let file = self.read(&item.id)?;
        Self::check_unchanged(item, &file.bytes, "not updated")?;
        self.edit(
            &item.id,
            &file,
            Change {
                patch: Some(patch),
                partner: None,
            },
            None,
        )
    }

    fn set_partner(&self, item: &Item, gid: &str) -> Result<Item, ConnectorError> {
        self.check_id(&item.id)?;
        check_gid(gid)?;
        // No revision check: the gid must be recorded even if the user edited the file
        // since it was listed, or the next run would create a second task from it.
        let file = self.read(&item.id)?;
        self.edit(
            &item.id,
            &file,
            Change {
                patch: None,
                partner: Some(gid),
            },
            item.partner.as_deref(),
        )
    }

    /// Applies `change` to the file as read in `file`, and writes it if anything changed.
    fn edit(
        &self,
        name: &str,
        file: &FileBytes,
        change: Change<'_>,
        listed_partner: Option<&str>,
    ) -> Result<Item, ConnectorError> {
        let stem = names::stem(name);
        let text = frontmatter::decode(&file.bytes).map_err(invalid)?;
        let parsed = frontmatter::parse(text, stem).map_err(invalid)?;
        // Replacing a recorded gid is the engine's call (a task deleted in Asana is
        // recreated from its edited file), but only the gid it listed: one that a person
        // wrote in since is not overwritten.
        if let (Some(new), Some(old)) = (change.partner, parsed.partner.as_deref())
            && new != old
            && Some(old) != listed_partner
        {
            return Err(ConnectorError::InvalidData(format!(
                "the file now records asana_gid {old}; not replaced by {new}"
            )));
        }
        let new_text = render::edit(text, &parsed, stem, change).map_err(invalid)?;
        self.write(name, file, &new_text)
    }

    /// The subtasks and comments the file `name` holds now (empty lists for a section it
    /// does not have).
    fn read_thread(&self, name: &str) -> Result<TargetThread, ConnectorError> {
        self.check_id(name)?;
        let file = self.read(name)?;
        let text = frontmatter::decode(&file.bytes).map_err(invalid)?;
        let layout = frontmatter::split(text).map_err(invalid)?;
        let sections = body::read(&text[layout.body_start..], layout.eol);
        Ok(TargetThread {
            subtasks: sections.subtasks.unwrap_or_default(),
            comments: sections.comments.unwrap_or_default(),
        })
    }

    /// Rewrites the sections of the file `item` was read from as `thread`, front matter
    /// and description kept byte for byte; refused when the file changed since.
    fn write_thread(&self, item: &Item, thread: &TargetThread) -> Result<Item, ConnectorError> {
        self.check_id(&item.id)?;
        let file = self.read(&item.id)?;
        Self::check_unchanged(item, &file.bytes, "its subtasks and comments not written")?;
        let text = frontmatter::decode(&file.bytes).map_err(invalid)?;
        let parsed = frontmatter::parse(text, names::stem(&item.id)).map_err(invalid)?;
        let layout = &parsed.layout;
        let old_body = &text[layout.body_start..];
        let Some(new_body) = body::with_thread(old_body, layout.eol, thread).map_err(invalid)?
        else {
            return Self::item(&item.id, &file.bytes, file.modified).map_err(invalid);
        };
        let mut new_text = text[..layout.body_start].to_owned();
        // A closing `---` that ends the file gets its line ending before the sections.
        if layout.front.is_some() && !new_text.ends_with('\n') {
            new_text.push_str(layout.eol.as_str());
        }
        new_text.push_str(&new_body);
        let back = frontmatter::parse(&new_text, names::stem(&item.id)).map_err(invalid)?;
        if back.fields != parsed.fields || back.partner != parsed.partner {
            return Err(invalid(FormatError::UnsafeEdit {
                reason: "writing its subtasks and comments would change its fields".into(),
            }));
        }
        self.write(&item.id, &file, &new_text)
    }

    /// Replaces the file `name`, read as `file`, with `new_text` (nothing when equal),
    /// unless it changed since it was read; returns the item it now holds.
    fn write(&self, name: &str, file: &FileBytes, new_text: &str) -> Result<Item, ConnectorError> {
        if new_text.as_bytes() == file.bytes.as_slice() {
            return Self::item(name, &file.bytes, file.modified).map_err(invalid);
        }
        // Last look right before the rename, to keep the window for a lost user edit small.
        let again = self.read(name)?;
        if again.bytes != file.bytes {
            return Err(ConnectorError::ChangedMeanwhile(
                "the file changed while the bridge was writing it; left as it is, the next \
                 run will pick up the change"
                    .into(),
            ));
        }
        // The temp file goes next to the file, so that the rename stays in one folder.
        let path = self.path(name);
        let (folder, file_name) = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
            (Some(folder), Some(file_name)) => (folder, file_name),
            _ => (self.dir.as_path(), name),
        };
        taskfs::replace(folder, file_name, new_text.as_bytes(), &file.permissions)
            .map_err(|e| ConnectorError::io(format!("cannot write {}", path.display()), e))?;
        tracing::debug!(file = %self.path(name).display(), "updated task file");
        let modified = std::fs::symlink_metadata(self.path(name))
            .and_then(|m| m.modified())
            .ok();
        Self::item(name, new_text.as_bytes(), modified).map_err(invalid)
    }

    fn delete(&self, item: &Item) -> Result<(), ConnectorError> {
        match self.check_id(&item.id) {
            Ok(()) => {}
            // Its folder is gone, so is the file: done.
            Err(ConnectorError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        let file = match taskfs::read(&self.path(&item.id)) {
            // Already gone (a rerun after a crash, or the user deleted it): done.
            Err(ReadError::NotFound) => return Ok(()),
            Err(e) => return Err(self.read_error(&item.id, e)),
            Ok(file) => file,
        };
        Self::check_unchanged(item, &file.bytes, "not moved to the trash")?;
        let in_trash = taskfs::move_to_trash(&self.dir, &item.id).map_err(|e| {
            ConnectorError::io(
                format!(
                    "cannot move {} to {}",
                    self.path(&item.id).display(),
                    self.dir.join(taskfs::TRASH_DIR).display()
                ),
                e,
            )
        })?;
        tracing::debug!(file = %self.path(&item.id).display(), trash = %in_trash, "moved task file to the trash");
        Ok(())
    }
}

/// An error about one file of a multi-file call, with the file named in it.
fn prefixed(label: &str, name: &str, e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::InvalidData(m) => {
            ConnectorError::InvalidData(format!("{label}/{name}: {m}"))
        }
        ConnectorError::NotFound(m) => ConnectorError::NotFound(format!("{label}/{name}: {m}")),
        other => other,
    }
}
