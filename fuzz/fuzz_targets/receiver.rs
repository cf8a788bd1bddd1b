//! Fuzz target: the webhook receiver's request handling (`asana_bridge::watch::webhook::
//! Receiver`, served by `watch::receiver` with its real limits), one connection per input,
//! over an in-memory stream. Links: `roadmap` (an Asana secret), `pending` (a registration
//! in progress), `gh` (a GitHub secret).
//!
//! The first byte picks what the rest is:
//! - `0`: the raw bytes of the connection (any HTTP/1.x, any garbage);
//! - `1`/`2`: `path \n extra header lines \n body`, sent as a well-formed POST carrying
//!   the right Asana (`1`) or GitHub (`2`) signature of the body, computed here;
//! - `3`: as `1`, with the signature of a body that differs by one byte.
//!
//! Nothing may panic or hang (the client closes its side after writing, so every
//! connection ends), everything answered is HTTP/1.x (never HTTP/2), and:
//! - a well-formed, correctly signed delivery to `roadmap` or `gh` (no extra headers, so
//!   nothing the fuzzer adds can change the request) gets 200;
//! - a delivery whose signature is not the body's gets 401, never 200.

#![no_main]

use std::sync::{Arc, OnceLock};

use asana_bridge::watch::webhook::{LinkHook, PresetHook, PresetLink, Receiver};
use asana_bridge_github::delivery::GithubDeliveries;
use asana_bridge_state::Store;
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

const ASANA_SECRET: &str = "asana-secret";
const GITHUB_SECRET: &str = "github-secret";

struct World {
    runtime: tokio::runtime::Runtime,
    receiver: Receiver,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(Store::open(&dir.path().join("state")).expect("store"));
        let link = |name: &str| LinkHook {
            link: name.to_owned(),
            project: "1".to_owned(),
            prompt: Arc::new(Notify::new()),
            target: None,
        };
        let links = vec![
            PresetLink {
                hook: link("roadmap"),
                asana_secret: Some(SecretString::from(ASANA_SECRET)),
                pending: false,
                target_hook: None,
            },
            PresetLink {
                hook: link("pending"),
                asana_secret: None,
                pending: true,
                target_hook: None,
            },
            PresetLink {
                hook: link("gh"),
                asana_secret: None,
                pending: false,
                target_hook: Some(PresetHook {
                    rules: Arc::new(GithubDeliveries),
                    secret: SecretString::from(GITHUB_SECRET),
                }),
            },
        ];
        let receiver = runtime.block_on(async {
            Receiver::with_secrets("https://bridge.example.com/hooks", store, links)
                .expect("receiver")
        });
        World {
            runtime,
            receiver,
            _dir: dir,
        }
    })
}

fn mac(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Sends `input` on one connection, closes the sending side, returns all that came back.
fn exchange(input: Vec<u8>) -> Vec<u8> {
    let world = world();
    world.runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let serve = world.receiver.serve_io(server);
        let talk = async move {
            let (mut read, mut write) = tokio::io::split(&mut client);
            let send = async {
                let _ = write.write_all(&input).await;
                let _ = write.shutdown().await;
            };
            let mut answer = Vec::new();
            let receive = read.read_to_end(&mut answer);
            let ((), _) = tokio::join!(send, receive);
            answer
        };
        let ((), answer) = tokio::join!(serve, talk);
        answer
    })
}

fn statuses(answer: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(answer);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let answer = exchange(rest.to_vec());
            assert!(
                answer.is_empty() || answer.starts_with(b"HTTP/1."),
                "{:?}",
                String::from_utf8_lossy(&answer)
            );
        }
        kind => {
            let mut fields = rest.splitn(3, |b| *b == b'\n');
            let path = String::from_utf8_lossy(fields.next().unwrap_or_default());
            let extra = fields.next().unwrap_or_default();
            let body = fields.next().unwrap_or_default();
            let github = kind == 2;
            let link = if github { "gh" } else { "roadmap" };
            let path_ok = !path.is_empty()
                && path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b));
            let target = if path_ok {
                format!("/{}/{link}", path.trim_matches('/'))
            } else {
                format!("/hooks/{link}")
            };
            let signed: Vec<u8> = if kind == 3 {
                let mut other = body.to_vec();
                match other.first_mut() {
                    Some(b) => *b ^= 1,
                    None => other.push(b'x'),
                }
                other
            } else {
                body.to_vec()
            };
            let mut head = format!(
                "POST {target} HTTP/1.1\r\nHost: bridge.example.com\r\nConnection: close\r\nContent-Length: {}\r\n",
                body.len()
            );
            if github {
                head.push_str(&format!(
                    "X-GitHub-Event: issues\r\nX-Hub-Signature-256: sha256={}\r\n",
                    mac(GITHUB_SECRET, &signed)
                ));
            } else {
                head.push_str(&format!(
                    "X-Hook-Signature: {}\r\n",
                    mac(ASANA_SECRET, &signed)
                ));
            }
            let mut input = head.into_bytes();
            let plain = extra.is_empty();
            // Extra header lines (only printable ASCII, so the head stays one head).
            for line in extra.split(|b| *b == b';') {
                if !line.is_empty() && line.iter().all(|b| (0x20..0x7f).contains(b)) {
                    input.extend_from_slice(line);
                    input.extend_from_slice(b"\r\n");
                }
            }
            input.extend_from_slice(b"\r\n");
            input.extend_from_slice(body);
            let answer = exchange(input);
            let got = statuses(&answer);
            assert!(
                answer.is_empty() || answer.starts_with(b"HTTP/1."),
                "{:?}",
                String::from_utf8_lossy(&answer)
            );
            if kind == 3 {
                assert!(!got.contains(&200), "a forged signature was accepted: {got:?}");
            } else if plain && target == format!("/hooks/{link}") {
                // The client half-closes right after sending (so garbage ends at once),
                // and the server may then drop the connection unanswered; when it does
                // answer a correctly signed delivery to its own path, it accepts it.
                assert!(
                    got.first().is_none_or(|s| *s == 200),
                    "a signed delivery was refused: {got:?}"
                );
            }
        }
    }
});
