//! Fuzz target: reading a task file. Any bytes go through the Markdown connector's pure
//! reading path (`decode`, `split`, `key_blocks`, `parse`, `scan_partner`) the way a listing
//! does; none may panic, and a file that parses reads back the same way twice.

#![no_main]

use asana_bridge_markdown::frontmatter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = frontmatter::scan_partner(data);
    let Ok(text) = frontmatter::decode(data) else {
        return;
    };
    if let Ok(layout) = frontmatter::split(text) {
        if let Some(front) = &layout.front {
            let yaml = &text[front.yaml.clone()];
            for block in frontmatter::key_blocks(yaml) {
                assert!(block.range.end <= yaml.len(), "key block out of bounds");
            }
        }
        let _ = frontmatter::notes_from_body(&text[layout.body_start..], layout.eol);
    }
    if let Ok(parsed) = frontmatter::parse(text, "fuzzed") {
        let again = frontmatter::parse(text, "fuzzed").expect("parses twice");
        assert_eq!(parsed, again, "parsing is deterministic");
        // Canonical fields stay canonical.
        assert_eq!(parsed.fields.clone().canonical(), parsed.fields);
    }
});
