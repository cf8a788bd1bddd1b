//! The Markdown folder connector of asana-bridge: one `*.md` file per task, anywhere in
//! one folder or its subfolders (dot-folders aside), with the synced fields in a YAML front matter and the notes as the body.
//!
//! - [`connector`]: [`MarkdownConnector`], the [`Connector`](asana_bridge_connector::Connector)
//!   implementation (ids, revisions, listing, the write operations).
//! - [`body`]: a file's body, its description and the bridge's sections after it.
//! - [`frontmatter`]: reading a file's text into fields (pure, no I/O), with clear errors.
//! - [`render`]: rendering new files and editing existing ones byte-preservingly.
//! - [`names`]: which names are task files, and safe names for new files.
//! - [`fs`]: atomic writes, no-clobber creates, no-follow reads, the trash folder.
//! - [`trash`]: [`save_to_trash`], a task saved as a task file before it is deleted.
//! - [`target`]: [`MarkdownTarget`], the `markdown = { dir = "…" }` table of a link, for
//!   the bridge's target registry.
//!
//! Conventions of the format, beyond the contract:
//! - notes = the body's description (before the bridge's `## Subtasks` and `## Comments`
//!   sections, see [`body`]) with one trailing line ending removed; non-empty notes are
//!   written with one line ending added, so notes survive a write and a read exactly (notes
//!   that themselves end with `\n` included). A CRLF file keeps CRLF; notes read from it
//!   use `\n`. Field and notes edits keep the sections byte for byte; `create` writes none.
//! - a key whose value becomes empty (`due_on`, `assignee`, `section`, and `tags: []`) is
//!   removed from the front matter; new files omit empty keys and always write `completed`.
//! - a field patched to the value it already has is left exactly as written.
//! - ids are relative paths with `/` separators (`archive/fix-login.md`); files the bridge
//!   creates go directly in the folder; the trash is flat (see [`fs::move_to_trash`]).
//! - the folder must exist for listing; [`MarkdownConnector::ensure_dir`] creates it on a
//!   link's first sync.

pub mod body;
pub mod connector;
pub mod frontmatter;
pub mod fs;
pub mod names;
pub mod render;
pub mod target;
pub mod trash;

pub use connector::{DEFAULT_PAGE_SIZE, MarkdownConnector};
pub use frontmatter::{FormatError, MAX_FILE_BYTES};
pub use fs::TRASH_DIR;
pub use target::{MarkdownSpec, MarkdownTarget};
pub use trash::save_to_trash;
