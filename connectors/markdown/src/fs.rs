//! File-system primitives of the task folder, all blocking `std::fs`: reading a task file
//! without following a symlink and without reading an oversized file whole, replacing a
//! file atomically (a temp dot-file in the same folder, then a rename), creating a file
//! without ever clobbering an existing one, and moving a file into the trash folder.
//!
//! No fsync: a crash may lose the last write, never leave a half-written task file (the
//! rename is atomic), and the next sync redoes what was lost. A crash may leave a
//! `.asana-bridge-tmp-*` dot-file behind, which listing ignores (on Linux a new file is
//! written unnamed first and leaves nothing).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::SystemTime;

use crate::frontmatter::MAX_FILE_BYTES;

/// The folder, inside the task folder, where deleted task files go.
pub const TRASH_DIR: &str = ".asana-bridge-trash";

/// Prefix of the temp files of atomic writes (a dot-file: never listed).
pub const TMP_PREFIX: &str = ".asana-bridge-tmp-";

/// How much of an oversized file is read, to still find its `asana_gid`.
const HEAD_BYTES: usize = 64 * 1024;

/// A task file's bytes and what the bridge needs of its metadata.
#[derive(Debug)]
pub struct FileBytes {
    /// The whole content.
    pub bytes: Vec<u8>,
    /// Last modification time, when the OS says.
    pub modified: Option<SystemTime>,
    /// Permissions, carried over when the file is replaced.
    pub permissions: Permissions,
}

/// Why a task file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the file does not exist")]
    NotFound,
    #[error("is a symbolic link; not followed")]
    Symlink,
    #[error("is not a regular file; skipped")]
    NotRegular,
    #[error("file is {size} bytes, larger than the limit")]
    TooLarge {
        size: u64,
        /// The first bytes, enough to find an `asana_gid`.
        head: Vec<u8>,
    },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Opens `path` for reading, refusing a symlink at the last component and never blocking
/// on a FIFO.
#[cfg(unix)]
fn open_no_follow(path: &Path) -> Result<File, ReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => ReadError::Symlink,
            _ if e.kind() == io::ErrorKind::NotFound => ReadError::NotFound,
            _ => ReadError::Io(e),
        })
}

/// Opens `path` for reading. Without `O_NOFOLLOW` the caller's `symlink_metadata` check
/// is the guard.
#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> Result<File, ReadError> {
    File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e),
    })
}

/// Reads a task file: a regular file, not a symlink, at most [`MAX_FILE_BYTES`].
///
/// # Errors
/// A [`ReadError`] saying why not.
pub fn read(path: &Path) -> Result<FileBytes, ReadError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::NotFound),
        Err(e) => return Err(ReadError::Io(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(ReadError::Symlink);
    }
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    let file = open_no_follow(path)?;
    // The checks again on what was opened: the path may have changed in between.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    let mut limited = file.take(MAX_FILE_BYTES + 1);
    if meta.len() > MAX_FILE_BYTES {
        let mut head = Vec::new();
        limited
            .by_ref()
            .take(HEAD_BYTES as u64)
            .read_to_end(&mut head)?;
        return Err(ReadError::TooLarge {
            size: meta.len(),
            head,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    limited.read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        // It grew while being read.
        bytes.truncate(HEAD_BYTES);
        return Err(ReadError::TooLarge {
            size: MAX_FILE_BYTES + 1,
            head: bytes,
        });
    }
    Ok(FileBytes {
        bytes,
        modified: meta.modified().ok(),
        permissions: meta.permissions(),
    })
}

/// Writes `bytes` to a new temp dot-file in `dir`, returning its path and its
/// modification time as written (a link or a rename to its name keeps it).
fn write_temp(
    dir: &Path,
    bytes: &[u8],
    permissions: Option<&Permissions>,
) -> io::Result<(std::path::PathBuf, Option<SystemTime>)> {
    let tmp = dir.join(format!("{TMP_PREFIX}{}", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        // Born with the target's mode (the umask may narrow it, never widen it): a private
        // file's new content is never readable by others, not even for an instant.
        #[cfg(unix)]
        if let Some(p) = permissions {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(p.mode() & 0o777);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        let meta = f.metadata()?;
        if let Some(p) = permissions {
            // Only where the umask narrowed it (or for bits `mode` does not set): back to
            // exactly the target's mode, which is no wider than the target already was.
            if meta.permissions() != *p {
                f.set_permissions(p.clone())?;
            }
        }
        Ok(meta.modified().ok())
    })();
    match written {
        Ok(modified) => Ok((tmp, modified)),
        Err(e) => {
            // Best effort: a leftover dot-file is harmless, the write error matters more.
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Replaces `dir/name` with `bytes` atomically: readers see the old or the new content,
/// never a mix. The rename replaces a symlink at that name rather than writing through it.
///
/// # Errors
/// The I/O error of the write or the rename; the target is then unchanged.
pub fn replace(dir: &Path, name: &str, bytes: &[u8], permissions: &Permissions) -> io::Result<()> {
    let (tmp, _) = write_temp(dir, bytes, Some(permissions))?;
    fs::rename(&tmp, dir.join(name)).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Creates `dir/name` with `bytes`, failing with [`io::ErrorKind::AlreadyExists`] when the
/// name is taken (by a file, a folder or a symlink, even a dangling one), so two creates
/// never clobber each other or a user's file.
///
/// The content goes to a temp file first and is then hard-linked to its name, which is both
/// atomic and no-clobber. On file systems without hard links the file is created with
/// `create_new` and written in place.
///
/// Returns the new file's modification time, when the file system tells it.
///
/// # Errors
/// `AlreadyExists` when the name is taken, or the I/O error.
pub fn create_new(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<Option<SystemTime>> {
    let target = dir.join(name);
    #[cfg(target_os = "linux")]
    if let Some(created) = create_unnamed_first(dir, &target, bytes) {
        return created;
    }
    let (tmp, modified) = write_temp(dir, bytes, None)?;
    let linked = fs::hard_link(&tmp, &target);
    let _ = fs::remove_file(&tmp); // best effort, as above
    match linked {
        Ok(()) => Ok(modified),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)?;
            f.write_all(bytes)
                .and_then(|()| f.metadata())
                .map(|m| m.modified().ok())
                .inspect_err(|_| {
                    let _ = fs::remove_file(&target);
                })
        }
    }
}

/// [`create_new`] the Linux way: the file is made without a name in `dir` (`O_TMPFILE`),
/// written, and then linked to its name ([`link_unnamed`]), which fails when the name is
/// taken. Atomic and no-clobber like a temp file and a hard link, in fewer steps (no temp
/// name to make and remove: a visible share of an import's system time), and a crash
/// leaves nothing behind. `None` where that cannot be done (a file system without
/// `O_TMPFILE`, neither way of linking allowed): the caller goes the portable way, which
/// also reports a folder that cannot be written.
#[cfg(target_os = "linux")]
fn create_unnamed_first(
    dir: &Path,
    target: &Path,
    bytes: &[u8],
) -> Option<io::Result<Option<SystemTime>>> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::Ordering;

    let first = usize::from(FIRST_WAY.load(Ordering::Relaxed));
    if first >= LinkWay::ALL.len() {
        return None;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
        .ok()?;
    // An error now is the write's own (a full disk): the unnamed file goes with the fd.
    let modified = match file.write_all(bytes).and_then(|()| file.metadata()) {
        Ok(meta) => meta.modified().ok(),
        Err(e) => return Some(Err(e)),
    };
    for (i, way) in LinkWay::ALL.iter().enumerate().skip(first) {
        match link_unnamed(&file, target, *way) {
            Ok(()) => return Some(Ok(modified)),
            Err(rustix::io::Errno::EXIST) => {
                return Some(Err(io::ErrorKind::AlreadyExists.into()));
            }
            Err(e) if way.refused(e, target) => {
                FIRST_WAY.store(u8::try_from(i + 1).unwrap_or(u8::MAX), Ordering::Relaxed);
            }
            Err(_) => return None,
        }
    }
    None
}

/// The first way of [`LinkWay::ALL`] still worth trying: a way refused once (an older
/// kernel, no `/proc`) is not tried again; past the last, none is.
#[cfg(target_os = "linux")]
static FIRST_WAY: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// How an unnamed (`O_TMPFILE`) file gets its name.
#[cfg(target_os = "linux")]
#[derive(Clone, Copy, Debug)]
enum LinkWay {
    /// The fd itself (`AT_EMPTY_PATH`): no path to resolve. Allowed to the file's opener
    /// from Linux 6.10 on, and before that only with `CAP_DAC_READ_SEARCH`.
    Fd,
    /// The fd's path under `/proc/self/fd`, followed (`AT_SYMLINK_FOLLOW`): any kernel
    /// with `O_TMPFILE` and `/proc` mounted.
    Proc,
}

#[cfg(target_os = "linux")]
impl LinkWay {
    /// Tried in this order.
    const ALL: [LinkWay; 2] = [LinkWay::Fd, LinkWay::Proc];

    /// Whether `e` says this way is not allowed here, rather than that this one link to
    /// `target` failed (its folder gone, say).
    fn refused(self, e: rustix::io::Errno, target: &Path) -> bool {
        use rustix::io::Errno;
        match self {
            // An older kernel without the capability answers `ENOENT`, as for a folder
            // that is not there.
            LinkWay::Fd => {
                e == Errno::PERM || (e == Errno::NOENT && target.parent().is_some_and(Path::is_dir))
            }
            LinkWay::Proc => e == Errno::NOENT && !Path::new("/proc/self/fd").is_dir(),
        }
    }
}

/// Gives the unnamed `file` the name `target`, the given way; `EEXIST` when it is taken.
#[cfg(target_os = "linux")]
fn link_unnamed(file: &File, target: &Path, way: LinkWay) -> rustix::io::Result<()> {
    use rustix::fs::{AtFlags, CWD, linkat};
    use std::os::unix::io::AsRawFd;
    match way {
        LinkWay::Fd => linkat(file, "", CWD, target, AtFlags::EMPTY_PATH),
        LinkWay::Proc => linkat(
            CWD,
            format!("/proc/self/fd/{}", file.as_raw_fd()).as_str(),
            CWD,
            target,
            AtFlags::SYMLINK_FOLLOW,
        ),
    }
}

/// Moves the task file `dir/id` (`id` may be a relative path with `/` separators, as
/// `archive/fix-login.md`) into `dir/.asana-bridge-trash/` (created as needed). The trash
/// is flat: the file keeps its own name, or gets `stem-2.md`, `stem-3.md`… when the trash
/// already holds that name, whichever subfolder it came from. Never unlinks. Returns the
/// name in the trash.
///
/// # Errors
/// The I/O error; also when the trash path exists but is not a real folder.
pub fn move_to_trash(dir: &Path, id: &str) -> io::Result<String> {
    let trash = dir.join(TRASH_DIR);
    ensure_folder(&trash)?;
    let source = id.split('/').fold(dir.to_path_buf(), |p, c| p.join(c));
    let name = id.rsplit_once('/').map_or(id, |(_, name)| name);
    let stem = name.strip_suffix(".md").unwrap_or(name);
    for n in 1..10_000u32 {
        let candidate = if n == 1 {
            name.to_owned()
        } else {
            format!("{stem}-{n}.md")
        };
        let dest = trash.join(&candidate);
        match fs::symlink_metadata(&dest) {
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::rename(&source, &dest)?;
                return Ok(candidate);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{} holds too many files named like {name}",
        trash.display()
    )))
}

/// Makes sure `folder` is a real folder (not a symlink), creating it and its parents when
/// missing.
///
/// # Errors
/// The I/O error; also when the path exists but is not a real folder.
pub fn ensure_folder(folder: &Path) -> io::Result<()> {
    match fs::symlink_metadata(folder) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::other(format!(
            "{} exists but is not a folder",
            folder.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir_all(folder) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    /// Replacing writes the new content and leaves no temp file behind.
    #[test]
    fn replace_is_clean() {
        let d = tmp();
        fs::write(d.path().join("a.md"), "old").expect("write");
        let perms = fs::metadata(d.path().join("a.md"))
            .expect("meta")
            .permissions();
        replace(d.path(), "a.md", b"new", &perms).expect("replace");
        assert_eq!(fs::read(d.path().join("a.md")).expect("read"), b"new");
        assert_eq!(fs::read_dir(d.path()).expect("ls").count(), 1);
    }

    /// On Linux a new file is made unnamed and then named: the same content and mode as
    /// the portable way gives, no other name on the way, and a taken name refused.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_unnamed_way_makes_the_same_file() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmp();
        let made = create_unnamed_first(d.path(), &d.path().join("a.md"), b"one")
            .expect("O_TMPFILE and a way to link here")
            .expect("created");
        assert!(made.is_some(), "the modification time is told");
        create_new(d.path(), "b.md", b"two").expect("create");
        let (tmp_file, _) = write_temp(d.path(), b"three", None).expect("portable way");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode();
        assert_eq!(mode(&d.path().join("a.md")), mode(&tmp_file));
        assert_eq!(mode(&d.path().join("b.md")), mode(&tmp_file));
        fs::remove_file(&tmp_file).expect("rm");
        assert_eq!(fs::read(d.path().join("a.md")).expect("read"), b"one");
        let mut names: Vec<_> = fs::read_dir(d.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["a.md", "b.md"]);
        let taken = create_unnamed_first(d.path(), &d.path().join("a.md"), b"x")
            .expect("O_TMPFILE and a way to link here")
            .expect_err("taken");
        assert_eq!(taken.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(d.path().join("a.md")).expect("read"), b"one");
    }

    /// Both ways of naming an unnamed file give it its content, and refuse a taken name.
    #[cfg(target_os = "linux")]
    #[test]
    fn both_ways_of_linking_an_unnamed_file_work_and_never_clobber() {
        use std::os::unix::fs::OpenOptionsExt;
        let d = tmp();
        for (i, way) in LinkWay::ALL.into_iter().enumerate() {
            let unnamed = || {
                let mut f = OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_TMPFILE)
                    .open(d.path())
                    .expect("O_TMPFILE here");
                f.write_all(format!("way {i}").as_bytes()).expect("write");
                f
            };
            let name = d.path().join(format!("{i}.md"));
            link_unnamed(&unnamed(), &name, way).unwrap_or_else(|e| panic!("{way:?}: {e}"));
            assert_eq!(fs::read_to_string(&name).expect("read"), format!("way {i}"));
            assert_eq!(
                link_unnamed(&unnamed(), &name, way),
                Err(rustix::io::Errno::EXIST),
                "{way:?} never clobbers"
            );
            assert_eq!(fs::read_to_string(&name).expect("read"), format!("way {i}"));
        }
        assert_eq!(
            fs::read_dir(d.path()).expect("ls").count(),
            LinkWay::ALL.len()
        );
    }

    /// A link that fails because the name's folder is not there does not give up a way
    /// of linking for the rest of the process (a `watch` would create files the slower
    /// way from then on).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_missing_folder_is_not_taken_for_a_refused_way() {
        use std::sync::atomic::Ordering;
        let d = tmp();
        let target = d.path().join("gone").join("a.md");
        assert!(create_unnamed_first(d.path(), &target, b"x").is_none());
        assert_eq!(FIRST_WAY.load(Ordering::Relaxed), 0, "the fd way is kept");
        assert!(create_new(d.path(), "gone/a.md", b"x").is_err());
    }

    /// `create_new` never clobbers, whatever holds the name.
    #[test]
    fn create_new_never_clobbers() {
        let d = tmp();
        create_new(d.path(), "a.md", b"one").expect("create");
        let e = create_new(d.path(), "a.md", b"two").expect_err("taken");
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(d.path().join("a.md")).expect("read"), b"one");
        fs::create_dir(d.path().join("dir.md")).expect("mkdir");
        assert!(create_new(d.path(), "dir.md", b"x").is_err());
        assert_eq!(fs::read_dir(d.path()).expect("ls").count(), 2);
    }

    /// Files go to the trash with `-2` on collision; nothing is unlinked.
    #[test]
    fn trash_collisions() {
        let d = tmp();
        for content in ["first", "second"] {
            fs::write(d.path().join("a.md"), content).expect("write");
            move_to_trash(d.path(), "a.md").expect("trash");
        }
        let t = d.path().join(TRASH_DIR);
        assert_eq!(fs::read(t.join("a.md")).expect("read"), b"first");
        assert_eq!(fs::read(t.join("a-2.md")).expect("read"), b"second");
        assert!(!d.path().join("a.md").exists());
        // A file from a subfolder lands flat in the trash, with the same collision rule.
        fs::create_dir(d.path().join("archive")).expect("mkdir");
        fs::write(d.path().join("archive/a.md"), "third").expect("write");
        assert_eq!(
            move_to_trash(d.path(), "archive/a.md").expect("trash"),
            "a-3.md"
        );
        assert_eq!(fs::read(t.join("a-3.md")).expect("read"), b"third");
        assert!(!d.path().join("archive/a.md").exists());
        assert!(d.path().join("archive").is_dir(), "the subfolder stays");
    }

    /// Oversized files are refused with only their head read.
    #[test]
    fn too_large() {
        let d = tmp();
        let p = d.path().join("big.md");
        let f = File::create(&p).expect("create");
        f.set_len(MAX_FILE_BYTES + 1).expect("grow");
        match read(&p) {
            Err(ReadError::TooLarge { size, head }) => {
                assert_eq!(size, MAX_FILE_BYTES + 1);
                assert_eq!(head.len(), HEAD_BYTES);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    /// A symlink is never read, even to a readable file.
    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_read() {
        let d = tmp();
        fs::write(d.path().join("target.txt"), "secret").expect("write");
        std::os::unix::fs::symlink(d.path().join("target.txt"), d.path().join("l.md"))
            .expect("symlink");
        assert!(matches!(
            read(&d.path().join("l.md")),
            Err(ReadError::Symlink)
        ));
        assert!(matches!(
            read(&d.path().join("none.md")),
            Err(ReadError::NotFound)
        ));
    }
}
