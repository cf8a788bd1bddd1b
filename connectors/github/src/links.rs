//! The `Link` response header: where the next page is. GitHub's pagination is followed
//! through it, never by computing page numbers.

/// The URL of `rel="next"` in a `Link` header, if any.
#[must_use]
pub fn next(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let url = pieces.next()?.trim();
        let url = url.strip_prefix('<')?.strip_suffix('>')?;
        pieces
            .any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| url.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_other_relations() {
        let link = "<https://api.github.com/repositories/1/issues?page=1>; rel=\"prev\", <https://api.github.com/repositories/1/issues?page=3>; rel=\"next\", <https://api.github.com/repositories/1/issues?page=9>; rel=\"last\"";
        assert_eq!(
            next(link).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=3")
        );
        assert_eq!(next("<https://x/y?page=1>; rel=\"first\""), None);
        assert_eq!(next(""), None);
    }
}
