//! Fuzz target: rich text. Any bytes are read both as `html_notes` and as Markdown; nothing
//! may panic. `html_notes` that converts comes back from its Markdown as its normal form;
//! every `html_notes` written from Markdown passes the guard, and converts back to
//! Markdown that is stable from then on.

#![no_main]

use asana_bridge_richtext::{
    is_valid_html_notes, normalize_html_notes, to_html_notes, to_markdown,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // As html_notes.
    if let Ok(md) = to_markdown(text) {
        let normal = normalize_html_notes(text).expect("what converts normalises");
        let back = to_html_notes(&md).expect("the conversion's Markdown reads back");
        assert_eq!(back, normal, "html_notes -> Markdown -> html_notes changed {text:?} (Markdown {md:?})");
    } else {
        assert!(!is_valid_html_notes(text), "the guard accepts what does not convert");
    }

    // As Markdown.
    if let Ok(html) = to_html_notes(text) {
        assert!(is_valid_html_notes(&html), "invalid html_notes {html:?} from {text:?}");
        let md = to_markdown(&html).expect("valid html_notes converts");
        let again = to_html_notes(&md).expect("the conversion's Markdown reads back");
        assert_eq!(again, html, "Markdown -> html_notes is not stable after one round: {text:?} -> {md:?}");
    }
});
