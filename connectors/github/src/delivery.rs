//! What a delivery of a repository webhook looks like ([`GithubDeliveries`], the
//! [`DeliveryRules`] the bridge's receiver asks): it carries `X-GitHub-Event` (which
//! sets it apart from Asana's on the same receiver), is signed in
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` keyed with the hook's
//! secret, names itself in `X-GitHub-Delivery` (which the signature does not cover), and
//! matters only for the events the bridge's hooks ask for ([`HOOK_EVENTS`]); a `ping`
//! (sent when a hook is created) tells nothing.
//!
//! The signature is checked as the body streams in, in constant time; a missing or
//! malformed header is refused before the body is read. Secrets and signatures are never
//! logged, put into errors or printed by `Debug`.

use asana_bridge_connector::connector::{
    CheckedDelivery, DeliveryCheck, DeliveryHeaders, DeliveryNews, DeliveryRefusal, DeliveryRules,
};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::hooks::HOOK_EVENTS;

/// The header that marks a GitHub delivery and names its event.
pub const EVENT_HEADER: &str = "x-github-event";

/// The header of the body's signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The header of the delivery's id (a GUID; redeliveries keep it).
pub const DELIVERY_HEADER: &str = "x-github-delivery";

/// The event GitHub sends when a hook is created.
const PING: &str = "ping";

/// GitHub's webhook deliveries, as the bridge's receiver checks them.
#[derive(Clone, Copy, Debug, Default)]
pub struct GithubDeliveries;

impl DeliveryRules for GithubDeliveries {
    fn claims(&self, headers: &DeliveryHeaders) -> bool {
        headers.contains_key(EVENT_HEADER)
    }

    fn open(
        &self,
        headers: &DeliveryHeaders,
        secret: &SecretString,
    ) -> Result<Box<dyn DeliveryCheck>, DeliveryRefusal> {
        let event = headers
            .get(EVENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(DeliveryRefusal::MissingEvent)?
            .to_owned();
        let header = headers
            .get(SIGNATURE_HEADER)
            .ok_or(DeliveryRefusal::MissingSignature)?
            .as_bytes();
        let expected = header
            .strip_prefix(b"sha256=")
            .and_then(|hex| hex::decode(hex).ok())
            .filter(|s| s.len() == 32)
            .ok_or(DeliveryRefusal::MalformedSignature)?;
        let mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|_| DeliveryRefusal::UnusableSecret)?;
        Ok(Box::new(GithubCheck {
            event,
            id: headers
                .get(DELIVERY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            mac,
            expected,
            digest: Sha256::new(),
        }))
    }
}

/// One delivery's body on its way through the check.
struct GithubCheck {
    event: String,
    id: Option<String>,
    mac: Hmac<Sha256>,
    expected: Vec<u8>,
    digest: Sha256,
}

impl DeliveryCheck for GithubCheck {
    fn update(&mut self, chunk: &[u8]) {
        self.mac.update(chunk);
        self.digest.update(chunk);
    }

    fn finish(self: Box<Self>) -> Result<CheckedDelivery, DeliveryRefusal> {
        let this = *self;
        this.mac
            .verify_slice(&this.expected)
            .map_err(|_| DeliveryRefusal::BadSignature)?;
        let news = if this.event == PING {
            DeliveryNews::Nothing {
                what: "ping".to_owned(),
            }
        } else if HOOK_EVENTS.contains(&this.event.as_str()) {
            DeliveryNews::Changed { event: this.event }
        } else {
            DeliveryNews::Nothing {
                what: format!("an event the bridge does not follow ({})", this.event),
            }
        };
        Ok(CheckedDelivery {
            digest: this.digest.finalize().into(),
            id: this.id,
            news,
        })
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderName, HeaderValue};

    use super::*;

    const SECRET: &str = "s3cr3t-of-the-hook";
    const BODY: &[u8] = br#"{"action":"edited","issue":{"number":1}}"#;

    fn signature(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> DeliveryHeaders {
        let mut headers = DeliveryHeaders::new();
        for (name, value) in pairs {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        headers
    }

    /// The delivery with head `head` and body `body` (streamed in two chunks), checked
    /// with the hook's secret.
    fn check(head: &DeliveryHeaders, body: &[u8]) -> Result<CheckedDelivery, DeliveryRefusal> {
        let mut check = GithubDeliveries.open(head, &SecretString::from(SECRET))?;
        let (a, b) = body.split_at(body.len() / 2);
        check.update(a);
        check.update(b);
        check.finish()
    }

    fn signed(event: &str, body: &[u8]) -> DeliveryHeaders {
        headers(&[
            (EVENT_HEADER, event),
            (SIGNATURE_HEADER, &signature(SECRET, body)),
            (DELIVERY_HEADER, "guid-1"),
        ])
    }

    #[test]
    fn a_signed_issues_event_is_news_with_its_digest_and_id() {
        let got = check(&signed("issues", BODY), BODY).expect("verified");
        assert_eq!(
            got.news,
            DeliveryNews::Changed {
                event: "issues".into()
            }
        );
        assert_eq!(got.id.as_deref(), Some("guid-1"));
        assert_eq!(got.digest, <[u8; 32]>::from(Sha256::digest(BODY)));
        let comment = check(&signed("issue_comment", BODY), BODY).expect("verified");
        assert!(matches!(comment.news, DeliveryNews::Changed { .. }));
    }

    #[test]
    fn only_deliveries_naming_an_event_are_githubs() {
        assert!(GithubDeliveries.claims(&signed("issues", BODY)));
        let asana = headers(&[("x-hook-signature", "00")]);
        assert!(!GithubDeliveries.claims(&asana));
        // Opened anyway (a caller that did not ask): refused before the body.
        let unnamed = headers(&[(SIGNATURE_HEADER, &signature(SECRET, BODY))]);
        assert_eq!(
            check(&unnamed, BODY).err(),
            Some(DeliveryRefusal::MissingEvent)
        );
        let empty = headers(&[
            (EVENT_HEADER, ""),
            (SIGNATURE_HEADER, &signature(SECRET, BODY)),
        ]);
        assert_eq!(
            check(&empty, BODY).err(),
            Some(DeliveryRefusal::MissingEvent)
        );
    }

    #[test]
    fn a_bad_signature_is_refused() {
        // Another secret, another body, a flipped byte: never verified.
        let other_secret = headers(&[
            (EVENT_HEADER, "issues"),
            (SIGNATURE_HEADER, &signature("another secret", BODY)),
        ]);
        assert_eq!(
            check(&other_secret, BODY).err(),
            Some(DeliveryRefusal::BadSignature)
        );
        let mut tampered = BODY.to_vec();
        tampered[3] ^= 1;
        assert_eq!(
            check(&signed("issues", BODY), &tampered).err(),
            Some(DeliveryRefusal::BadSignature)
        );
        // Asana's way of signing (bare hex) is not GitHub's.
        let bare = signature(SECRET, BODY).replace("sha256=", "");
        let unprefixed = headers(&[(EVENT_HEADER, "issues"), (SIGNATURE_HEADER, &bare)]);
        assert_eq!(
            check(&unprefixed, BODY).err(),
            Some(DeliveryRefusal::MalformedSignature)
        );
    }

    #[test]
    fn a_missing_or_malformed_signature_header_is_refused_before_the_body() {
        let missing = headers(&[(EVENT_HEADER, "issues")]);
        let secret = SecretString::from(SECRET);
        assert_eq!(
            GithubDeliveries.open(&missing, &secret).err(),
            Some(DeliveryRefusal::MissingSignature)
        );
        for bad in ["sha256=zz", "sha256=abcd", "sha1=00", ""] {
            let head = headers(&[(EVENT_HEADER, "issues"), (SIGNATURE_HEADER, bad)]);
            assert_eq!(
                GithubDeliveries.open(&head, &secret).err(),
                Some(DeliveryRefusal::MalformedSignature),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_ping_tells_nothing() {
        let got = check(&signed("ping", BODY), BODY).expect("verified");
        assert_eq!(
            got.news,
            DeliveryNews::Nothing {
                what: "ping".into()
            }
        );
    }

    #[test]
    fn an_event_the_hooks_do_not_ask_for_tells_nothing() {
        for event in ["push", "pull_request", "Issues"] {
            let got = check(&signed(event, BODY), BODY).expect("verified");
            assert!(
                matches!(&got.news, DeliveryNews::Nothing { what } if what.contains(event)),
                "{event}: {:?}",
                got.news
            );
        }
    }

    #[test]
    fn a_refusal_never_holds_the_secret_or_the_signature() {
        let head = headers(&[
            (EVENT_HEADER, "issues"),
            (SIGNATURE_HEADER, &signature("another secret", BODY)),
        ]);
        let refusal = check(&head, BODY).expect_err("refused");
        let text = format!("{refusal} {refusal:?} {}", refusal.reason());
        assert!(
            !text.contains(SECRET) && !text.contains("sha256="),
            "{text}"
        );
        // What the receiver counts is what the refusal says.
        for refusal in [
            DeliveryRefusal::MissingSignature,
            DeliveryRefusal::MalformedSignature,
            DeliveryRefusal::MissingEvent,
            DeliveryRefusal::UnusableSecret,
            DeliveryRefusal::BadSignature,
        ] {
            assert_eq!(refusal.to_string(), refusal.reason());
        }
    }
}
