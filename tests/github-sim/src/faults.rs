//! Injected faults: a queue of [`Fault`]s consumed by matching requests, and the
//! "dropped connection" response (headers, then a body stream that fails, so hyper aborts
//! the connection and the client sees a transport error instead of an answer).

use axum::http::StatusCode;
use axum::response::Response;

use crate::error::ApiError;
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

/// Pending faults, consumed in insertion order.
#[derive(Debug, Default)]
pub struct Faults {
    queue: Vec<Fault>,
}

fn matches(method: &str, path: &str, want: Option<&String>, contains: Option<&String>) -> bool {
    want.is_none_or(|m| m.eq_ignore_ascii_case(method))
        && contains.is_none_or(|c| path.contains(c.as_str()))
}

impl Faults {
    /// Queues a fault.
    pub fn add(&mut self, fault: Fault) {
        self.queue.push(fault);
    }

    /// Takes one use of the first fault matching this request, if any.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Injected> {
        let index = self.queue.iter().position(|f| {
            let (count, m, p) = match f {
                Fault::Status {
                    count,
                    method,
                    path_contains,
                    ..
                }
                | Fault::SecondaryRateLimit {
                    count,
                    method,
                    path_contains,
                    ..
                }
                | Fault::DropBeforeApply {
                    count,
                    method,
                    path_contains,
                }
                | Fault::DropAfterApply {
                    count,
                    method,
                    path_contains,
                } => (*count, method.as_ref(), path_contains.as_ref()),
            };
            count > 0 && matches(method, path, m, p)
        })?;
        let fault = &mut self.queue[index];
        let (count, injected) = match fault {
            Fault::Status { status, count, .. } => {
                let status =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let message = status.canonical_reason().unwrap_or("Server Error");
                (count, Injected::Respond(ApiError::new(status, message)))
            }
            Fault::SecondaryRateLimit {
                status,
                retry_after_secs,
                count,
                ..
            } => {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::FORBIDDEN);
                (
                    count,
                    Injected::Respond(ApiError::secondary_limit(status, *retry_after_secs)),
                )
            }
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
pub fn dropped_response() -> Response {
    sim_support::dropped_connection(
        StatusCode::OK,
        "application/json; charset=utf-8",
        "github-sim",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault is used `count` times, only by matching requests.
    #[test]
    fn counts_and_filters() {
        let mut f = Faults::default();
        f.add(Fault::SecondaryRateLimit {
            status: 429,
            retry_after_secs: Some(1),
            count: 2,
            method: Some("patch".into()),
            path_contains: Some("/issues/".into()),
        });
        assert!(f.take("GET", "/repos/a/b/issues/1").is_none());
        assert!(f.take("PATCH", "/repos/a/b/labels").is_none());
        assert!(matches!(
            f.take("PATCH", "/repos/a/b/issues/1"),
            Some(Injected::Respond(e)) if e.status == 429 && e.retry_after == Some(1)
        ));
        assert!(f.take("PATCH", "/repos/a/b/issues/1").is_some());
        assert!(f.take("PATCH", "/repos/a/b/issues/1").is_none());
    }
}
