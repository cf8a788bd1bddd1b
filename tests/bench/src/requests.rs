//! What the simulator saw during one measured run, summed up: requests by kind (method and
//! path with gids folded to `{gid}`), writes, 429s.
//!
//! Counting rule: every request Asana would count against the token's quota is one request
//! here: each plain API request (a 429 included, since Asana counts refused requests too)
//! and each action inside a `POST /batch`. A batch envelope itself is listed in the
//! breakdown but not counted again.

use std::collections::BTreeMap;

use asana_sim::RecordedRequest;

/// The requests of one run.
#[derive(Debug, Clone, Default)]
pub struct RequestSummary {
    /// Requests as Asana's quota counts them (see the module doc).
    pub total: usize,
    /// Writes among them (POST/PUT/PATCH/DELETE, batch actions included, envelopes not).
    pub writes: usize,
    /// Requests answered 429 (by the simulator's limiters or an injected fault).
    pub throttled: usize,
    /// `"GET /projects/{gid}/tasks"` -> count; batch actions are prefixed with `batch: `.
    pub by_kind: BTreeMap<String, usize>,
}

impl RequestSummary {
    /// Sums up `requests`.
    #[must_use]
    pub fn of(requests: &[RecordedRequest]) -> Self {
        let mut s = Self::default();
        for r in requests {
            let kind = format!("{} {}", r.method, fold_gids(&r.path));
            let is_envelope = r.batch_write_actions.is_some();
            if r.status == 429 {
                s.throttled += 1;
            }
            if is_envelope {
                *s.by_kind.entry(format!("{kind} (envelope)")).or_default() += 1;
                continue;
            }
            s.total += 1;
            if matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
                s.writes += 1;
            }
            let key = if r.in_batch {
                format!("batch: {kind}")
            } else {
                kind
            };
            *s.by_kind.entry(key).or_default() += 1;
        }
        s
    }

    /// `GET /projects/{gid}/tasks ×10, GET /events ×1`, most frequent first.
    #[must_use]
    pub fn breakdown(&self) -> String {
        let mut kinds: Vec<(&String, &usize)> = self.by_kind.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        kinds
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How many requests of exactly this kind (`"POST /tasks"`).
    #[must_use]
    pub fn count(&self, kind: &str) -> usize {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }
}

/// Replaces every all-digit path segment with `{gid}`.
#[must_use]
pub fn fold_gids(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{gid}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, status: u16) -> RecordedRequest {
        RecordedRequest {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            status,
            in_batch: false,
            dropped: false,
            batch_write_actions: None,
            body: None,
        }
    }

    /// Gids fold, 429s and writes are counted, batch envelopes are not counted twice.
    #[test]
    fn sums_up_by_kind() {
        assert_eq!(fold_gids("/tasks/1200000000000007"), "/tasks/{gid}");
        assert_eq!(
            fold_gids("/projects/12/tasks"),
            "/projects/{gid}/tasks".to_owned()
        );
        let mut batched = req("PUT", "/tasks/5", 200);
        batched.in_batch = true;
        let mut envelope = req("POST", "/batch", 200);
        envelope.batch_write_actions = Some(1);
        let s = RequestSummary::of(&[
            req("GET", "/projects/1/tasks", 200),
            req("GET", "/projects/1/tasks", 429),
            req("POST", "/tasks", 201),
            batched,
            envelope,
        ]);
        assert_eq!(s.total, 4);
        assert_eq!(s.writes, 2);
        assert_eq!(s.throttled, 1);
        assert_eq!(s.count("GET /projects/{gid}/tasks"), 2);
        assert_eq!(s.count("batch: PUT /tasks/{gid}"), 1);
        assert_eq!(s.count("POST /batch (envelope)"), 1);
        assert!(s.breakdown().starts_with("GET /projects/{gid}/tasks ×2"));
    }
}
