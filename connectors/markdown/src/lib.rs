//! The Markdown folder connector of asana-bridge: one `*.md` file per task, directly in
//! one folder, with the synced fields in a YAML front matter and the notes as the body.
//!
//! - [`connector`]: [`MarkdownConnector`], the [`Connector`](asana_bridge_connector::Connector)
//!   implementation (ids, revisions, listing, the write operations).
//! - [`frontmatter`]: reading a file's text into fields (pure, no I/O), with clear errors.
//! - [`render`]: rendering new files and editing existing ones byte-preservingly.
//! - [`names`]: which names are task files, and safe names for new files.
//! - [`fs`]: atomic writes, no-clobber creates, no-follow reads, the trash folder.

pub mod connector;
pub mod frontmatter;
pub mod fs;
pub mod names;
pub mod render;

pub use connector::{DEFAULT_PAGE_SIZE, MarkdownConnector};
pub use frontmatter::{FormatError, MAX_FILE_BYTES};
pub use fs::TRASH_DIR;
