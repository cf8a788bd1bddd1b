//! `watch --shard K/N`: which links this process runs when N processes split one config.
//!
//! A link belongs to shard `sha256(name) mod N` (the first eight bytes of the digest, big
//! endian): the same in every process, on every machine and in every release, unlike
//! std's randomly seeded hasher. Shards are numbered from 0 to N-1, like the pods of a
//! Kubernetes StatefulSet, so replica `name-K` runs `--shard K/N`.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// From 0 to `count - 1`.
    pub index: u64,
    /// How many shards split the config (at least 1).
    pub count: u64,
}

/// Why `--shard` is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("expected K/N, e.g. 0/3 (shard K of N, numbered from 0 to N-1)")]
    Form,
    #[error("N must be at least 1")]
    NoShards,
    #[error("shard {index} does not exist: shards are numbered from 0 to {} for N = {count}", count - 1)]
    OutOfRange { index: u64, count: u64 },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, ShardError> {
        let (k, n) = text.trim().split_once('/').ok_or(ShardError::Form)?;
        let index: u64 = k.trim().parse().map_err(|_| ShardError::Form)?;
        let count: u64 = n.trim().parse().map_err(|_| ShardError::Form)?;
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard `link` belongs to among `count`.
    #[must_use]
    pub fn of(link: &str, count: u64) -> u64 {
        let digest = Sha256::digest(link.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % count.max(1)
    }

    /// Whether this shard runs `link`.
    #[must_use]
    pub fn runs(&self, link: &str) -> bool {
        Self::of(link, self.count) == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_say_what_is_wrong() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!("0/1".parse(), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(
            "3/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 3, count: 3 })
        );
        assert_eq!("0/0".parse::<Shard>(), Err(ShardError::NoShards));
        for bad in ["", "1", "a/3", "1/b", "-1/3", "1/3/4"] {
            assert_eq!(bad.parse::<Shard>(), Err(ShardError::Form), "{bad}");
        }
        assert_eq!(
            ShardError::OutOfRange { index: 3, count: 3 }.to_string(),
            "shard 3 does not exist: shards are numbered from 0 to 2 for N = 3"
        );
    }

    /// The hash is fixed: these values may never change, or an upgrade would move links
    /// between replicas (and their state).
    #[test]
    fn the_hash_is_stable_and_every_link_has_exactly_one_shard() {
        assert_eq!(Shard::of("roadmap", 1), 0);
        let fixed: Vec<u64> = ["roadmap", "bugs", "docs", "ops"]
            .iter()
            .map(|l| Shard::of(l, 7))
            .collect();
        assert_eq!(fixed, FIXED_OF_7);
        for n in 1..6 {
            for i in 0..50 {
                let link = format!("link-{i}");
                let owners = (0..n)
                    .filter(|k| {
                        Shard {
                            index: *k,
                            count: n,
                        }
                        .runs(&link)
                    })
                    .count();
                assert_eq!(owners, 1);
            }
        }
    }

    /// Computed independently (Python's hashlib) from the definition above.
    const FIXED_OF_7: [u64; 4] = [1, 6, 0, 2];
}
