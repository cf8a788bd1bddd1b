//! When each issue's comments last changed, as the repository's comment listing says
//! (`GET /issues/comments?since=`, one conditional request per run: an idle poll is a
//! `304`). An issue's revision includes its mark, so that a comment posted or edited
//! shows as a change of the issue, which GitHub's own `updated_at` does not tell for an
//! edit. Kept between runs in a small file next to the `ETag` cache (in memory for a dry
//! run).

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::warn;

/// The marks and where the listing goes on from.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CommentMarks {
    /// The `since` of the next listing.
    pub since: Option<Timestamp>,
    /// Comment id -> its issue and a stamp of its last change (`updated_at` and a digest
    /// of its text: GitHub's times have whole seconds, and an edit in the second of the
    /// last listing changes only the text).
    comments: HashMap<u64, (u64, String)>,
    /// Issue number -> a digest of its comments' stamps.
    #[serde(skip)]
    latest: HashMap<u64, u64>,
    #[serde(skip)]
    file: Option<PathBuf>,
}

/// One listed comment: its id, its issue, when it last changed and its text.
pub struct Listed<'a> {
    pub id: u64,
    pub issue: u64,
    pub updated_at: Timestamp,
    pub body: &'a str,
}

/// FNV-1a: stable across runs and machines.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl CommentMarks {
    /// The marks kept in `file` (none yet, or unreadable: empty, and the next listing
    /// reads every comment once).
    #[must_use]
    pub fn load(file: Option<PathBuf>) -> Self {
        let mut marks: CommentMarks = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        marks.file = file;
        let issues: Vec<u64> = marks.comments.values().map(|(i, _)| *i).collect();
        marks.recompute(issues);
        marks
    }

    /// The digests of `issues` from their comments' stamps.
    fn recompute(&mut self, issues: impl IntoIterator<Item = u64>) {
        for issue in issues {
            let mut stamps: Vec<(u64, &str)> = self
                .comments
                .iter()
                .filter(|(_, (i, _))| *i == issue)
                .map(|(id, (_, stamp))| (*id, stamp.as_str()))
                .collect();
            stamps.sort_unstable();
            let ids: Vec<[u8; 8]> = stamps.iter().map(|(id, _)| id.to_le_bytes()).collect();
            let mut parts: Vec<&[u8]> = Vec::new();
            for ((_, stamp), id) in stamps.iter().zip(&ids) {
                parts.push(id);
                parts.push(stamp.as_bytes());
            }
            self.latest.insert(issue, fnv(&parts));
        }
    }

    /// Takes in a listing's comments and its cursor.
    pub fn take<'a>(
        &mut self,
        listed: impl IntoIterator<Item = Listed<'a>>,
        since: Option<Timestamp>,
    ) {
        let mut touched = Vec::new();
        for c in listed {
            let stamp = format!("{}/{:016x}", c.updated_at, fnv(&[c.body.as_bytes()]));
            if self.comments.get(&c.id) != Some(&(c.issue, stamp.clone())) {
                self.comments.insert(c.id, (c.issue, stamp));
                touched.push(c.issue);
            }
        }
        self.recompute(touched);
        self.since = since.or(self.since);
    }

    /// Writes the marks to their file (if any); a failure is only a warning (the next
    /// run lists the comments again).
    pub fn save(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let written = serde_json::to_vec(self)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let tmp = file.with_extension("json.tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, file)
            });
        if let Err(e) = written {
            warn!(file = %file.display(), "could not keep the comment marks: {e}");
        }
    }

    /// The mark of issue `n`, for its revision.
    #[must_use]
    pub fn of(&self, n: u64) -> Option<u64> {
        self.latest.get(&n).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_change_with_any_comment_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("l.comments.json");
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let listed = |id, issue, at: &str, body| Listed {
            id,
            issue,
            updated_at: t(at),
            body,
        };
        let mut marks = CommentMarks::load(Some(file.clone()));
        marks.take(
            [
                listed(1, 5, "2026-12-01T10:00:00Z", "a"),
                listed(2, 7, "2026-12-01T08:00:00Z", "b"),
            ],
            Some(t("2026-12-01T10:00:00Z")),
        );
        marks.save();
        let five = marks.of(5).unwrap();
        let back = CommentMarks::load(Some(file));
        assert_eq!(back.of(5), Some(five));
        assert_eq!(back.since, Some(t("2026-12-01T10:00:00Z")));
        assert_eq!(back.of(9), None);
        // The same listing again (GitHub's `since` is inclusive): no change.
        let mut again = back;
        again.take([listed(1, 5, "2026-12-01T10:00:00Z", "a")], None);
        assert_eq!(again.of(5), Some(five));
        // An edit in the same second: a new mark.
        again.take([listed(1, 5, "2026-12-01T10:00:00Z", "a, edited")], None);
        assert_ne!(again.of(5), Some(five));
    }
}
