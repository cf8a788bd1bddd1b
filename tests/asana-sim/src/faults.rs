//! Injected faults: a queue of [`Fault`]s consumed by matching requests, and the
//! "dropped connection" response (headers, then a body stream that fails, so hyper aborts
//! the connection and the client sees a transport error instead of an answer).

use axum::http::StatusCode;
use axum::response::Response;

use crate::error::{ApiError, injected};
use crate::model::Fault;

/// What the gate must do with a request a fault matched.
#[derive(Debug)]
pub enum Injected {
    /// Answer this error without applying anything.
    Respond(ApiError),
    /// Break the connection without applying anything.
    DropBefore,
    /// Apply, then break the connection.
    DropAfter,
}

/// Marks a response whose connection is being dropped (read by the batch handler).
#[derive(Debug, Clone, Copy)]
pub struct Dropped;

/// Pending faults, consumed in insertion order.
#[derive(Debug, Default)]
pub struct Faults {
    queue: Vec<Fault>,
}

fn matches(
    method: &str,
    path: &str,
    want_method: &Option<String>,
    contains: &Option<String>,
) -> bool {
    want_method
        .as_deref()
        .is_none_or(|m| m.eq_ignore_ascii_case(method))
        && contains.as_deref().is_none_or(|c| path.contains(c))
}

impl Faults {
    /// Queues a fault.
    pub fn add(&mut self, fault: Fault) {
        self.queue.push(fault);
    }

    /// Takes one use of the first fault matching this request, if any.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Injected> {
        let index = self.queue.iter().position(|f| match f {
            Fault::Status {
                count,
                method: m,
                path_contains: p,
                ..
            }
            | Fault::DropBeforeApply {
                count,
                method: m,
                path_contains: p,
            }
            | Fault::DropAfterApply {
                count,
                method: m,
                path_contains: p,
            } => *count > 0 && matches(method, path, m, p),
            Fault::RateLimit { count, .. } => *count > 0,
        })?;
        let fault = &mut self.queue[index];
        let (count, injected) = match fault {
            Fault::Status { status, count, .. } => (
                count,
                Injected::Respond(injected(
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                )),
            ),
            Fault::RateLimit {
                retry_after_secs,
                count,
            } => (
                count,
                Injected::Respond(ApiError::rate_limited(*retry_after_secs)),
            ),
            Fault::DropBeforeApply { count, .. } => (count, Injected::DropBefore),
            Fault::DropAfterApply { count, .. } => (count, Injected::DropAfter),
        };
        *count -= 1;
        if *count == 0 {
            self.queue.remove(index);
        }
        Some(injected)
    }
}

/// A response whose body fails on first poll, which makes hyper abort the connection.
pub fn dropped_response(status: StatusCode) -> Response {
    let mut response = sim_support::dropped_connection(status, "application/json", "asana-sim");
    response.extensions_mut().insert(Dropped);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault is used `count` times, only by matching requests.
    #[test]
    fn counts_and_filters() {
        let mut f = Faults::default();
        f.add(Fault::Status {
            status: 500,
            count: 2,
            method: Some("put".into()),
            path_contains: Some("/tasks/".into()),
        });
        assert!(f.take("GET", "/tasks/1").is_none());
        assert!(f.take("PUT", "/projects/1").is_none());
        assert!(matches!(f.take("PUT", "/tasks/1"), Some(Injected::Respond(e)) if e.status == 500));
        assert!(f.take("PUT", "/tasks/1").is_some());
        assert!(f.take("PUT", "/tasks/1").is_none());
    }
}
