//! The line the bridge ends a comment with when it mirrors, into Asana, a comment someone
//! wrote in a target's own conversation (a GitHub issue comment): who wrote it, where,
//! and which comment it is (`— @octocat on GitHub (comment 123456)`). Written when
//! posting; read back to pair the two comments (also after the state was lost) and
//! stripped before texts are compared.

/// `body` with the attribution line of the target comment `id` written by `who` (as the
/// target names its author: `@octocat on GitHub`).
#[must_use]
pub fn attributed(body: &str, who: &str, id: &str) -> String {
    format!("{}\n\n— {} (comment {id})", body.trim_end(), who.trim())
}

/// The target comment an Asana comment's text says it mirrors, and the text without
/// that line; `(None, body)` for a comment without one.
#[must_use]
pub fn strip(body: &str) -> (Option<&str>, &str) {
    let trimmed = body.trim_end();
    let Some(at) = trimmed.rfind("\n\n— ") else {
        return (None, body);
    };
    let last = &trimmed[at + 2..];
    if last.contains('\n') {
        return (None, body);
    }
    let Some(rest) = last.strip_suffix(')') else {
        return (None, body);
    };
    let Some(open) = rest.rfind(" (comment ") else {
        return (None, body);
    };
    let id = &rest[open + " (comment ".len()..];
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return (None, body);
    }
    (Some(id), trimmed[..at].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attributed_text_reads_back_and_others_are_left_alone() {
        let text = attributed("Looks good.\n\nShip it.", "@octocat on GitHub", "123456");
        assert_eq!(
            text,
            "Looks good.\n\nShip it.\n\n— @octocat on GitHub (comment 123456)"
        );
        assert_eq!(strip(&text), (Some("123456"), "Looks good.\n\nShip it."));
        for plain in [
            "No line here.",
            "A quote\n\n— Someone (comment abc)",
            "Two lines\n\n— @x on GitHub (comment 1)\nmore",
            "— @x on GitHub (comment 1)",
        ] {
            assert_eq!(strip(plain), (None, plain), "{plain:?}");
        }
    }
}
