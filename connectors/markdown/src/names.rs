//! File names: which names in the folder are task files, and the name of a new file made
//! from its title (a lowercase ASCII slug, safe on every OS, `-2`, `-3`… on collision).

/// The longest slug, in bytes (ASCII), before `-N` and `.md`: long enough to read, short
/// enough for every file system and for paths under deep folders.
pub const MAX_SLUG_BYTES: usize = 80;

/// The name used when a title gives no usable slug (empty, punctuation only…).
const FALLBACK: &str = "task";

/// Device names Windows reserves whatever the extension (`con.md` cannot be created).
const WINDOWS_RESERVED: [&str; 24] = [
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Whether `name` is a task file name: `*.md`, not a dot-file, one plain path component.
#[must_use]
pub fn is_task_file_name(name: &str) -> bool {
    name.len() > 3 && name.ends_with(".md") && is_plain_component(name)
}

/// Whether `component` is one plain, visible path component: not empty, not a dot-name
/// (which also rules out `.` and `..`), no separator of any OS, no NUL.
#[must_use]
pub fn is_plain_component(component: &str) -> bool {
    !component.is_empty() && !component.starts_with('.') && !component.contains(['/', '\\', '\0'])
}

/// Whether `id` is a task id: the relative path of a task file inside the folder, with
/// `/` separators (`fix-login.md`, `archive/2026/fix-login.md`): every folder component
/// plain and visible, the last a task file name. Never absolute, never `..`, never through
/// a dot-folder, no backslash, no empty component. The guard on every id the engine hands
/// back, so an id never leaves the folder.
#[must_use]
pub fn is_task_id(id: &str) -> bool {
    let (folders, file) = match id.rsplit_once('/') {
        Some((folders, file)) => (Some(folders), file),
        None => (None, id),
    };
    is_task_file_name(file)
        && folders.is_none_or(|f| f.split('/').all(is_plain_component))
        // A Windows drive or verbatim prefix (`C:`) is not a plain component either.
        && !(cfg!(windows) && id.contains(':'))
}

/// The file stem of a task file name or id (`archive/fix-login.md` -> `fix-login`).
#[must_use]
pub fn stem(name: &str) -> &str {
    let file = name.rsplit_once('/').map_or(name, |(_, file)| file);
    file.strip_suffix(".md").unwrap_or(file)
}

/// The slug of a title: lowercase ASCII letters, digits and single dashes, at most
/// [`MAX_SLUG_BYTES`], never empty, never a Windows device name.
#[must_use]
pub fn slug_for(title: &str) -> String {
    let mut slug = slug::slugify(title);
    if slug.len() > MAX_SLUG_BYTES {
        // The slug is ASCII, so any byte index is a char boundary.
        slug.truncate(MAX_SLUG_BYTES);
        // Prefer cutting between words when a dash is near the end.
        if let Some(dash) = slug.rfind('-').filter(|&d| d >= MAX_SLUG_BYTES / 2) {
            slug.truncate(dash);
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        return FALLBACK.to_owned();
    }
    if WINDOWS_RESERVED.contains(&slug.as_str()) {
        return format!("{slug}-{FALLBACK}");
    }
    slug
}

/// The candidate file names for a title, in order: `slug.md`, `slug-2.md`, `slug-3.md`…
pub fn candidates(title: &str) -> impl Iterator<Item = String> + use<> {
    let slug = slug_for(title);
    (1u32..).map(move |n| {
        if n == 1 {
            format!("{slug}.md")
        } else {
            format!("{slug}-{n}.md")
        }
    })
}

/// The first candidate for `title` not taken in `taken`, compared case-insensitively
/// (macOS and Windows folders are case-insensitive). `taken` holds lowercase names.
#[must_use]
pub fn free_name(title: &str, taken: &std::collections::HashSet<String>) -> String {
    candidates(title)
        .find(|c| !taken.contains(&c.to_lowercase()))
        .unwrap_or_else(|| FALLBACK.to_owned()) // the iterator is infinite: never reached
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Titles become lowercase ASCII dashed slugs.
    #[test]
    fn slugs() {
        assert_eq!(slug_for("Fix the login page"), "fix-the-login-page");
        assert_eq!(slug_for("Café  déjà-vu!"), "cafe-deja-vu");
        assert_eq!(slug_for("../../x"), "x");
        assert_eq!(slug_for("a/b\\c:d"), "a-b-c-d");
    }

    /// Hostile or empty titles still give a safe, non-empty name.
    #[test]
    fn hostile_titles() {
        for t in ["", "/", "\\", ":", "..", "...", "-", "???", "\u{0}", "   "] {
            assert_eq!(slug_for(t), "task", "{t:?}");
        }
        // Emoji-only titles give a slug or the fallback, always plain ASCII.
        for t in ["🎉🎉", "💩"] {
            let s = slug_for(t);
            assert!(
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            );
        }
        assert_eq!(slug_for("CON"), "con-task");
        assert_eq!(slug_for("nul"), "nul-task");
        assert_eq!(slug_for("Com1"), "com1-task");
        assert_eq!(slug_for("console"), "console");
    }

    /// Long titles are cut to a sane length, between words when possible.
    #[test]
    fn long_titles() {
        let long = "word ".repeat(60);
        let s = slug_for(&long);
        assert!(s.len() <= MAX_SLUG_BYTES && !s.ends_with('-'), "{s}");
        assert!(s.starts_with("word-word"));
        let s = slug_for(&"x".repeat(300));
        assert_eq!(s.len(), MAX_SLUG_BYTES);
    }

    /// Collisions get `-2`, `-3`…, case-insensitively.
    #[test]
    fn collisions() {
        let taken: HashSet<String> = ["fix.md", "fix-2.md"].map(String::from).into();
        assert_eq!(free_name("Fix", &taken), "fix-3.md");
        assert_eq!(free_name("Other", &taken), "other.md");
    }

    /// Only plain `*.md` names are task files.
    #[test]
    fn task_file_names() {
        assert!(is_task_file_name("a.md"));
        for bad in [
            ".md",
            ".hidden.md",
            "a.txt",
            "../a.md",
            "a/b.md",
            "a\\b.md",
            "a.MD",
        ] {
            assert!(!is_task_file_name(bad), "{bad}");
        }
    }

    /// Task ids are relative paths inside the folder, never anything that leaves it.
    #[test]
    fn task_ids() {
        for good in [
            "a.md",
            "archive/a.md",
            "x/y/z/a.md",
            "a.md/b.md",
            "2026 notes/a b.md",
        ] {
            assert!(is_task_id(good), "{good}");
        }
        for bad in [
            "",
            ".md",
            "/a.md",
            "/etc/x.md",
            "../a.md",
            "a/../b.md",
            "./a.md",
            "a/./b.md",
            ".git/a.md",
            "x/.obsidian/a.md",
            ".asana-bridge-trash/a.md",
            "a//b.md",
            "a/b.md/",
            "a\\b.md",
            "a/b\\c.md",
            "a/.hidden.md",
            "a/b.txt",
            "a\0/b.md",
        ] {
            assert!(!is_task_id(bad), "{bad}");
        }
        assert_eq!(stem("archive/fix-login.md"), "fix-login");
        assert_eq!(stem("fix-login.md"), "fix-login");
    }
}
