//! Fuzz target: the webhook receiver's checks (`asana_bridge::watch::webhook`). The input is
//! `secret \n path \n signature header \n body` (split at the first three newlines; fewer
//! fields leave the header absent and the body empty). Nothing may panic, and:
//! - `verify_delivery` accepts a header exactly when it is the hex HMAC-SHA256 of the body
//!   keyed with the secret (checked against an independent computation);
//! - the right signature, in lower- or upper-case hex, always verifies;
//! - that signature with any single byte changed never does, nor does it under the secret
//!   with one byte changed;
//! - `link_of` takes the name from the last segment only: a `/` of the path never reaches
//!   it (one does only when the segment spells `%2F`), a trailing `/` changes nothing, and
//!   every name it yields (and every non-empty string) round-trips through
//!   `encode_segment`, whose output is one segment without `/`.

#![no_main]

use asana_bridge::watch::webhook::{encode_segment, link_of, verify_delivery};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

/// HMAC-SHA256 of `body` keyed with `secret`, computed here rather than by the module.
fn mac(secret: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(4, |b| *b == b'\n');
    let secret = fields.next().unwrap_or_default();
    let path = fields.next().unwrap_or_default();
    let header = fields.next();
    let body = fields.next().unwrap_or_default();

    // Signatures.
    let expected = mac(secret, body);
    let verdict = verify_delivery(secret, body, header);
    let decodes_to_mac = header.and_then(|h| hex::decode(h).ok()) == Some(expected.clone());
    assert_eq!(verdict, decodes_to_mac, "header {header:?}");
    let lower = hex::encode(&expected);
    assert!(verify_delivery(secret, body, Some(lower.as_bytes())));
    let upper = lower.to_ascii_uppercase();
    assert!(verify_delivery(secret, body, Some(upper.as_bytes())));
    assert!(!verify_delivery(secret, body, None));
    // One byte changed, at a position and by a mask the input picks (never zero).
    let pick = data.iter().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(*b))
    });
    let mask = u8::try_from(pick % 255).unwrap_or(0) + 1;
    let mut flipped = expected.clone();
    flipped[pick % expected.len()] ^= mask;
    assert!(!verify_delivery(
        secret,
        body,
        Some(hex::encode(&flipped).as_bytes())
    ));
    // One hex digit replaced by another digit: a different signature.
    let mut text = lower.clone().into_bytes();
    let at = pick % text.len();
    text[at] = if text[at] == b'0' { b'1' } else { b'0' };
    assert!(!verify_delivery(secret, body, Some(&text)));
    // Truncated or extended by a byte: refused.
    assert!(!verify_delivery(
        secret,
        body,
        Some(&lower.as_bytes()[..lower.len() - 2])
    ));
    assert!(!verify_delivery(
        secret,
        body,
        Some(format!("{lower}00").as_bytes())
    ));
    if !secret.is_empty() {
        let mut other = secret.to_vec();
        other[pick % secret.len()] ^= mask;
        assert!(!verify_delivery(&other, body, Some(lower.as_bytes())));
    }

    // Link names.
    let path = String::from_utf8_lossy(path);
    let name = link_of(&path);
    assert_eq!(name, link_of(&format!("{path}/")), "{path:?}");
    let segment = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    assert_eq!(name, link_of(segment), "{path:?}");
    if let Some(name) = &name {
        assert!(!name.is_empty());
        if !segment.to_ascii_lowercase().contains("%2f") {
            assert!(!name.contains('/'), "{path:?} -> {name:?}");
        }
        let encoded = encode_segment(name);
        assert!(!encoded.contains('/'), "{encoded:?}");
        assert_eq!(
            link_of(&format!("/asana/hooks/{encoded}")).as_deref(),
            Some(name.as_str())
        );
    }
    for text in [
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(secret),
    ] {
        let encoded = encode_segment(&text);
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{encoded:?}"
        );
        let back = link_of(&format!("/{encoded}"));
        if text.is_empty() {
            assert_eq!(back, None);
        } else {
            assert_eq!(back.as_deref(), Some(text.as_ref()), "{encoded:?}");
        }
    }
});
