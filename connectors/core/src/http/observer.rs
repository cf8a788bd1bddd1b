//! A process-wide listener for what the HTTP clients see, for whoever keeps metrics: the
//! connectors know nothing of any metrics crate, only this small trait. The binary installs
//! one observer at most, before it builds clients; without one, nothing is reported.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Told of every attempt's outcome and every rate-limit refusal of every [`HttpClient`]
/// (clones included). Called on the request path: keep it cheap and never block.
///
/// [`HttpClient`]: super::HttpClient
pub trait HttpObserver: Send + Sync {
    /// One attempt ended: the service answered `status`, or no answer came (`None`:
    /// connection refused or lost, timeout).
    fn answered(&self, service: &'static str, status: Option<u16>);

    /// The service refused an attempt for its rate limit (a `429`, or GitHub's `403` that
    /// means the same); the client now pauses every request until `paused` has passed
    /// (`None`: the wait was too long and the request fails instead).
    fn rate_limited(&self, service: &'static str, paused: Option<Duration>);
}

static OBSERVER: OnceLock<Arc<dyn HttpObserver>> = OnceLock::new();

/// Installs the process's observer; `false` when one was already installed (it stays).
pub fn set_observer(observer: Arc<dyn HttpObserver>) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// The installed observer, if any.
pub(super) fn observer() -> Option<&'static dyn HttpObserver> {
    OBSERVER.get().map(AsRef::as_ref)
}
