//! The line the bridge ends the description of a task it created from a GitHub issue
//! with: a short visible link to that issue, the Asana side's counterpart of the GitHub
//! footer. It is only a recovery hint: when the bridge's records are lost, it tells which
//! issue a task was made from (an issue opened on GitHub carries no footer, since the
//! bridge writes nothing on issues it adopts).
//!
//! ```text
//! <body><notes as rich text>
//! Mirrored from GitHub: <a href="https://github.com/acme/app/issues/12">acme/app#12</a></body>
//! ```
//!
//! It costs no request: it goes out with the `POST /tasks` that creates the task. On read
//! it is split off the description ([`split_html`]), so it is never part of the task's
//! notes; a notes update puts it back at the end ([`append_html`]). Only the
//! description's *last* line counts, and only in exactly this shape (a reference
//! `owner/name#number` and the link made from it), so text a person writes is never taken
//! for it. A person may delete it in Asana: then it is gone, and nothing else changes.

/// What the line starts with (in rich text and in Asana's plain `notes` alike).
const LEAD: &str = "Mirrored from GitHub: ";

/// Tags that end a block in Asana's rich text: the line may follow one directly.
const BLOCK_ENDS: &[&str] = &[
    "</ul>",
    "</ol>",
    "</h1>",
    "</h2>",
    "</blockquote>",
    "</pre>",
    "<hr/>",
];

/// A reference to one GitHub issue: `owner/name#number`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRef {
    owner: String,
    name: String,
    number: u64,
}

impl IssueRef {
    /// Reads `owner/name#number` (as the GitHub connector names an issue). Anything else
    /// (a Markdown file's name) is `None`: only issues get the line.
    #[must_use]
    pub fn parse(reference: &str) -> Option<Self> {
        let (repo, number) = reference.split_once('#')?;
        let (owner, name) = repo.split_once('/')?;
        let part = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        let digits = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
        if !(part(owner) && part(name) && digits) {
            return None;
        }
        Some(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
            number: number.parse().ok().filter(|n| *n > 0)?,
        })
    }

    /// `owner/name#number`.
    #[must_use]
    pub fn reference(&self) -> String {
        format!("{}/{}#{}", self.owner, self.name, self.number)
    }

    /// The issue's page on github.com.
    #[must_use]
    pub fn url(&self) -> String {
        format!(
            "https://github.com/{}/{}/issues/{}",
            self.owner, self.name, self.number
        )
    }

    /// The line as rich text (nothing in it needs escaping: `parse` allows no `<`, `&`
    /// or `"`).
    #[must_use]
    pub fn html_line(&self) -> String {
        format!("{LEAD}<a href=\"{}\">{}</a>", self.url(), self.reference())
    }

    /// The line as Asana's plain `notes` show it.
    #[must_use]
    pub fn plain_line(&self) -> String {
        format!("{LEAD}{}", self.reference())
    }
}

/// `html_notes` (`<body>...</body>`, as the rich-text converter writes it) with the line
/// of `issue` added at its end, on a line of its own.
#[must_use]
pub fn append_html(html_notes: &str, issue: &IssueRef) -> String {
    let line = issue.html_line();
    match html_notes
        .strip_prefix("<body>")
        .and_then(|rest| rest.strip_suffix("</body>"))
    {
        Some("") | None => format!("<body>{line}</body>"),
        Some(inner) => format!("<body>{inner}\n{line}</body>"),
    }
}

/// Splits the line off the end of `html_notes`: the description without it (and without
/// the line break before it), and the issue it names. A description whose last line is
/// not exactly the line comes back as it is.
#[must_use]
pub fn split_html(html_notes: &str) -> (std::borrow::Cow<'_, str>, Option<IssueRef>) {
    let whole = (std::borrow::Cow::Borrowed(html_notes), None);
    let Some(before_end) = html_notes.strip_suffix("</body>") else {
        return whole;
    };
    let Some(at) = before_end.rfind(LEAD) else {
        return whole;
    };
    let (before, line) = before_end.split_at(at);
    let Some(issue) = line
        .strip_prefix(LEAD)
        .and_then(|rest| rest.strip_suffix("</a>"))
        .and_then(|rest| rest.rsplit_once("\">"))
        .and_then(|(href, text)| {
            let issue = IssueRef::parse(text)?;
            (href.strip_prefix("<a href=\"") == Some(issue.url().as_str())).then_some(issue)
        })
    else {
        return whole;
    };
    let Some(inner) = before.strip_prefix("<body>") else {
        return whole;
    };
    let kept = if inner.is_empty() || BLOCK_ENDS.iter().any(|end| inner.ends_with(end)) {
        inner
    } else if let Some(rest) = inner.strip_suffix('\n') {
        rest
    } else {
        // Inside a line of text: not the line.
        return whole;
    };
    (format!("<body>{kept}</body>").into(), Some(issue))
}

/// Asana's plain `notes` without the line's plain text at their end (when the rich text
/// had the line).
#[must_use]
pub fn strip_plain(notes: &str, issue: &IssueRef) -> String {
    let line = issue.plain_line();
    let trimmed = notes.trim_end_matches('\n');
    match trimmed.strip_suffix(&line) {
        Some(rest) => rest.strip_suffix('\n').unwrap_or(rest).to_owned(),
        None => notes.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue() -> IssueRef {
        IssueRef::parse("acme/app#12").expect("a reference")
    }

    /// Whatever the description, splitting what `append_html` wrote gives it back with
    /// the issue.
    #[test]
    fn round_trips() {
        for html in [
            "<body></body>",
            "<body>a</body>",
            "<body>a\nb</body>",
            "<body><ul><li>x</li></ul></body>",
            "<body>see <a href=\"https://x.y\">x</a></body>",
        ] {
            let written = append_html(html, &issue());
            let (kept, found) = split_html(&written);
            assert_eq!(kept, html, "{written}");
            assert_eq!(found, Some(issue()), "{written}");
        }
        assert_eq!(
            append_html("<body>a</body>", &issue()),
            "<body>a\nMirrored from GitHub: <a href=\"https://github.com/acme/app/issues/12\">acme/app#12</a></body>"
        );
    }

    /// A block closed right before the line (as an editor may keep it) still counts.
    #[test]
    fn follows_a_block() {
        let html = format!("<body><ul><li>x</li></ul>{}</body>", issue().html_line());
        let (kept, found) = split_html(&html);
        assert_eq!(kept, "<body><ul><li>x</li></ul></body>");
        assert_eq!(found, Some(issue()));
    }

    /// Text that only looks like the line stays part of the description: inside a line,
    /// not last, a link that does not match its text, a reference that is no issue.
    #[test]
    fn lookalikes_are_text() {
        let line = issue().html_line();
        for html in [
            format!("<body>x {line}</body>"),
            format!("<body>{line}\nmore</body>"),
            "<body>Mirrored from GitHub: <a href=\"https://github.com/acme/app/issues/13\">acme/app#12</a></body>".to_owned(),
            "<body>Mirrored from GitHub: <a href=\"https://github.com/acme/issues/12\">acme#12</a></body>".to_owned(),
            "<body>Mirrored from GitHub: acme/app#12</body>".to_owned(),
        ] {
            let (kept, found) = split_html(&html);
            assert_eq!(found, None, "{html}");
            assert_eq!(kept, html);
        }
    }

    #[test]
    fn references_are_issues_only() {
        assert_eq!(issue().reference(), "acme/app#12");
        for bad in [
            "notes/a.md",
            "acme/app#",
            "acme/app#0",
            "acme#1",
            "a b/c#1",
            "a/b#1x",
        ] {
            assert_eq!(IssueRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn plain_notes_lose_the_line() {
        assert_eq!(
            strip_plain("a\nMirrored from GitHub: acme/app#12", &issue()),
            "a"
        );
        assert_eq!(
            strip_plain("Mirrored from GitHub: acme/app#12\n", &issue()),
            ""
        );
        assert_eq!(strip_plain("a", &issue()), "a");
    }
}
