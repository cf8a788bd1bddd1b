//! What the webhook receivers (Asana's in [`super::webhook`], a target's in
//! [`super::target_hook`]) do with a delivery once its link is known: check an Asana
//! delivery's HMAC-SHA256 signature while the body streams in ([`Signed`]; a target's
//! deliveries are checked by its crate), remember what was seen lately to drop replays
//! and retries ([`seen_lately`]), and wake the link's loop at most once a second
//! ([`Prompter`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// The shortest time between two prompts of one link's loop by webhooks.
pub const PROMPT_GAP: Duration = Duration::from_secs(1);

/// How many verified bodies are remembered (per receiver) to drop replays and retries.
const RECENT_BODIES: usize = 512;

/// How much of a verified body is kept to count its events (a heartbeat is tiny).
const KEEP_BYTES: usize = 64 * 1024;

/// Wakes a link's loop for webhook deliveries, at most once per [`PROMPT_GAP`]: a prompt
/// within the gap is folded into one at its end, so none is lost and a flood of
/// deliveries costs at most one poll per second.
pub struct Prompter {
    notify: Arc<Notify>,
    state: Mutex<PromptState>,
}

#[derive(Default)]
struct PromptState {
    last: Option<tokio::time::Instant>,
    scheduled: bool,
}

impl Prompter {
    #[must_use]
    pub fn new(notify: Arc<Notify>) -> Arc<Self> {
        Arc::new(Self {
            notify,
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PromptState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes the loop now, or at the end of the current gap.
    pub fn prompt(self: &Arc<Self>) {
        let now = tokio::time::Instant::now();
        let mut state = self.lock();
        match state.last {
            Some(last) if now < last + PROMPT_GAP => {
                if !state.scheduled {
                    state.scheduled = true;
                    let at = last + PROMPT_GAP;
                    let me = Arc::clone(self);
                    tokio::spawn(async move {
                        tokio::time::sleep_until(at).await;
                        {
                            let mut state = me.lock();
                            state.scheduled = false;
                            state.last = Some(tokio::time::Instant::now());
                        }
                        me.notify.notify_one();
                    });
                }
            }
            _ => {
                state.last = Some(now);
                drop(state);
                self.notify.notify_one();
            }
        }
    }
}

/// A body on its way through a signature check: HMAC-SHA256 keyed with the secret, a
/// SHA-256 digest (to know a replay), and the first [`KEEP_BYTES`].
pub(super) struct Signed {
    mac: Hmac<Sha256>,
    expected: Vec<u8>,
    digest: Sha256,
    kept: Vec<u8>,
    whole: bool,
}

/// A body whose signature matched.
pub(super) struct Verified {
    pub digest: [u8; 32],
    /// The whole body, when it is small enough to be kept.
    pub body: Option<Vec<u8>>,
}

impl Signed {
    /// `None` for a secret HMAC cannot take (none: it takes any length).
    pub(super) fn new(secret: &[u8], expected: Vec<u8>) -> Option<Self> {
        Some(Self {
            mac: Hmac::<Sha256>::new_from_slice(secret).ok()?,
            expected,
            digest: Sha256::new(),
            kept: Vec::new(),
            whole: true,
        })
    }

    pub(super) fn update(&mut self, bytes: &[u8]) {
        self.mac.update(bytes);
        self.digest.update(bytes);
        let room = KEEP_BYTES.saturating_sub(self.kept.len());
        if bytes.len() > room {
            self.whole = false;
        }
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The verdict, in constant time (`Mac::verify_slice`).
    pub(super) fn finish(self) -> Result<Verified, &'static str> {
        self.mac
            .verify_slice(&self.expected)
            .map_err(|_| "signatures that do not match")?;
        Ok(Verified {
            digest: self.digest.finalize().into(),
            body: self.whole.then_some(self.kept),
        })
    }
}

/// What was seen lately, per link: verified bodies' digests, or delivery GUIDs.
pub(super) type Recent<K> = Arc<Mutex<VecDeque<(String, K)>>>;

/// Remembers the last [`RECENT_BODIES`] keys seen; `true` when `key` was among them.
pub(super) fn seen_lately<K: PartialEq>(recent: &Mutex<VecDeque<K>>, key: K) -> bool {
    let mut recent = recent
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if recent.contains(&key) {
        return true;
    }
    if recent.len() == RECENT_BODIES {
        recent.pop_front();
    }
    recent.push_back(key);
    false
}
