//! What `/healthz` answers: every link of this process synced well within its limit (its
//! full-reconcile interval plus one poll interval, the time the next sync may take to come
//! round), or the reasons, one per link, why not. Pure bookkeeping, no clock of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// One link's health record.
#[derive(Debug)]
struct LinkHealth {
    /// How long the link may go without a good sync.
    limit: Duration,
    /// When its last good sync (no link-wide failure) ended.
    last_good: Option<Instant>,
    /// Why its latest sync failed, while it keeps failing.
    last_error: Option<String>,
}

/// The health records of every link this process runs.
#[derive(Debug)]
pub struct Health {
    /// When watching began: a link that never synced is given its limit from here.
    started: Instant,
    links: BTreeMap<String, LinkHealth>,
}

impl Health {
    /// No links yet, watching since `started`.
    #[must_use]
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            links: BTreeMap::new(),
        }
    }

    /// Adds a link that must sync well at least every `limit`.
    pub fn watch(&mut self, link: &str, limit: Duration) {
        self.links.insert(
            link.to_owned(),
            LinkHealth {
                limit,
                last_good: None,
                last_error: None,
            },
        );
    }

    /// A sync of `link` ended at `at`: well (`error` is `None`) or with a link-wide failure.
    pub fn synced(&mut self, link: &str, at: Instant, error: Option<&str>) {
        if let Some(h) = self.links.get_mut(link) {
            match error {
                None => {
                    h.last_good = Some(at);
                    h.last_error = None;
                }
                Some(e) => h.last_error = Some(e.to_owned()),
            }
        }
    }

    /// How long ago each link last synced well (links that never did are left out).
    pub fn since_good(&self, now: Instant) -> impl Iterator<Item = (&str, Duration)> {
        self.links.iter().filter_map(move |(name, h)| {
            h.last_good
                .map(|at| (name.as_str(), now.saturating_duration_since(at)))
        })
    }

    /// `Ok` with a summary, or `Err` with one line per link that is over its limit.
    ///
    /// # Errors
    /// The reasons, when a link has gone longer than its limit without a good sync.
    pub fn check(&self, now: Instant) -> Result<String, String> {
        let mut problems = Vec::new();
        for (name, h) in &self.links {
            let since = now.saturating_duration_since(h.last_good.unwrap_or(self.started));
            if since <= h.limit {
                continue;
            }
            let mut line = match h.last_good {
                Some(_) => format!(
                    "link \"{name}\": no good sync for {} s (limit {} s)",
                    since.as_secs(),
                    h.limit.as_secs()
                ),
                None => format!(
                    "link \"{name}\": no good sync since watch started {} s ago (limit {} s)",
                    since.as_secs(),
                    h.limit.as_secs()
                ),
            };
            if let Some(e) = &h.last_error {
                line.push_str(": ");
                line.push_str(e);
            }
            problems.push(line);
        }
        if problems.is_empty() {
            Ok(match self.links.len() {
                0 => "ok: no link to run in this process".to_owned(),
                1 => "ok: 1 link synced within its limit".to_owned(),
                n => format!("ok: {n} links synced within their limit"),
            })
        } else {
            Err(problems.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link is healthy within its limit from the start and after each good sync, and
    /// unhealthy once the limit passes, with the last error in the reason.
    #[test]
    fn a_link_is_healthy_within_its_limit_only() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut h = Health::new(t0);
        h.watch("a", s(10));
        h.watch("b", s(10));
        assert!(h.check(t0 + s(5)).is_ok());
        let never = h.check(t0 + s(11)).unwrap_err();
        assert!(never.contains("link \"a\": no good sync since watch started 11 s ago"));
        assert!(never.contains("link \"b\""));

        h.synced("a", t0 + s(11), None);
        h.synced("b", t0 + s(11), None);
        assert_eq!(
            h.check(t0 + s(12)),
            Ok("ok: 2 links synced within their limit".to_owned())
        );
        h.synced("b", t0 + s(15), Some("cannot reach Asana"));
        assert!(h.check(t0 + s(21)).is_ok());
        let reason = h.check(t0 + s(25)).unwrap_err();
        assert_eq!(
            reason,
            "link \"a\": no good sync for 14 s (limit 10 s)\n\
             link \"b\": no good sync for 14 s (limit 10 s): cannot reach Asana"
        );
        let since: Vec<_> = h.since_good(t0 + s(25)).collect();
        assert_eq!(since, vec![("a", s(14)), ("b", s(14))]);
    }

    #[test]
    fn no_link_is_healthy() {
        let h = Health::new(Instant::now());
        assert!(h.check(Instant::now()).is_ok());
    }
}
