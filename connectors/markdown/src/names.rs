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
/// Also the guard on every id the engine hands back, so an id never leaves the folder.
#[must_use]
pub fn is_task_file_name(name: &str) -> bool {
    name.len() > 3
        && name.ends_with(".md")
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
}

/// The file stem of a task file name (`fix-login.md` -> `fix-login`).
#[must_use]
pub fn stem(name: &str) -> &str {
    name.strip_suffix(".md").unwrap_or(name)
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
}
