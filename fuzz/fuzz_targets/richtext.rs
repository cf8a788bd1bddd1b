//! Fuzz target: rich text. Any bytes are read both as `html_notes` and as Markdown; nothing
//! may panic. `html_notes` that converts comes back from its Markdown as its normal form
//! when it is exact (always, when the guard accepts it), and is marked not exact otherwise;
//! every `html_notes` written from Markdown passes the guard, and converts back to
//! Markdown that is stable from then on.

#![no_main]

use asana_bridge_richtext::{
    is_valid_html_notes, normalize_html_notes, read_exact, to_html_notes, to_markdown,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // As html_notes.
    if let Ok(md) = to_markdown(text) {
        let normal = normalize_html_notes(text).expect("what converts normalises");
        let (read, exact) = read_exact(text).expect("what converts reads");
        assert_eq!(read, md, "read_exact and to_markdown disagree on {text:?}");
        let back = to_html_notes(&md).expect("the conversion's Markdown reads back");
        assert!(is_valid_html_notes(&back), "invalid html_notes {back:?} from {md:?}");
        // Exact (the reader may write over it) exactly when the Markdown gives the normal
        // form back; what the guard accepts always is.
        assert_eq!(exact, back == normal, "html_notes -> Markdown -> html_notes changed {text:?} (Markdown {md:?})");
        if is_valid_html_notes(text) {
            assert!(exact, "valid html_notes does not come back: {text:?} (Markdown {md:?})");
        }
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
