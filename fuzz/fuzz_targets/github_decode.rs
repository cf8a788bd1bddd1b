//! Fuzz target: GitHub's answers. Any bytes are decoded as an issue and as a page of
//! issues and converted into the common model; any text is read as an issue body (the
//! footer line) and as a `Link` header. Nothing may panic, and a body the bridge renders
//! splits back into exactly its notes and gid.

#![no_main]

use std::collections::HashMap;

use asana_bridge_github::{convert, footer, links, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let emails = HashMap::from([("alice-gh".to_owned(), "alice@example.com".to_owned())]);
    if let Ok(issue) = serde_json::from_slice::<wire::Issue>(data) {
        let _ = convert::is_deleted(&issue);
        let _ = convert::to_item(&issue, &emails);
    }
    if let Ok(issues) = serde_json::from_slice::<Vec<wire::Issue>>(data) {
        for issue in &issues {
            let _ = convert::to_item(issue, &emails);
        }
    }
    let _ = serde_json::from_slice::<Vec<wire::Label>>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = links::next(text);
        let _ = footer::split(text);
        let body = footer::render(text, Some("1200000000000123"), "https://app.asana.com/0/1/");
        let (notes, gid) = footer::split(&body);
        assert_eq!(gid.as_deref(), Some("1200000000000123"), "{body:?}");
        assert_eq!(notes, text, "{body:?}");
    }
});
