//! The in-memory target as a target kind: a link's `memory = { world = "name" }` table
//! (optionally `identity = "partner"`), naming a process-wide [`MemoryWorld`]. This file is
//! all a target crate adds for the bridge besides its connector.

use std::sync::Arc;

use asana_bridge_connector::connector::{
    ConnectSetup, LinkSetup, TargetError, TargetKind, TargetSpec, TargetTable,
};
use asana_bridge_connector::{Connector, Identity};
use serde::Deserialize;

use crate::{MemoryConnector, MemoryWorld};

/// The `memory` target kind (register it with the bridge's target registry).
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryTarget;

/// How the world's items pair with tasks, as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawIdentity {
    /// Through the bridge's records (stable ids).
    #[default]
    Record,
    /// Through the partner each item names.
    Partner,
}

/// The link's `memory` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemory {
    world: String,
    #[serde(default)]
    identity: RawIdentity,
    /// Creates per `create_many` call (1: one by one).
    #[serde(default = "one")]
    create_batch: usize,
}

fn one() -> usize {
    1
}

/// A link's in-memory target: which world, and how its items pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemorySpec {
    /// The world's name ([`MemoryWorld::named`]).
    pub world: String,
    /// How its items pair with tasks.
    pub identity: Identity,
    /// Creates per `create_many` call.
    pub create_batch: usize,
}

impl TargetKind for MemoryTarget {
    fn key(&self) -> &'static str {
        "memory"
    }

    fn log_target(&self) -> &'static str {
        "asana_bridge_memory"
    }

    fn example(&self) -> &'static str {
        "memory = { world = \"...\" }"
    }

    fn parse(
        &self,
        table: TargetTable,
        _link: &LinkSetup<'_>,
    ) -> Result<Arc<dyn TargetSpec>, String> {
        let raw = RawMemory::deserialize(table).map_err(|e| format!("memory: {e}"))?;
        if raw.world.trim().is_empty() {
            return Err("memory.world must name a world".into());
        }
        Ok(Arc::new(MemorySpec {
            world: raw.world,
            identity: match raw.identity {
                RawIdentity::Record => Identity::Record,
                RawIdentity::Partner => Identity::Partner,
            },
            create_batch: raw.create_batch,
        }))
    }
}

impl TargetSpec for MemorySpec {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn connect(&self, _setup: &ConnectSetup<'_>) -> Result<Box<dyn Connector>, TargetError> {
        Ok(Box::new(
            MemoryConnector::new(MemoryWorld::named(&self.world))
                .with_identity(self.identity)
                .with_create_batch(self.create_batch),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    /// The table names a shared world; an unknown key or an empty name is refused.
    #[test]
    fn table_names_a_world() {
        let users = BTreeMap::new();
        let link = LinkSetup {
            name: "l",
            asana_project: "1",
            config_dir: Path::new("/cfg"),
            users: &users,
        };
        let spec = MemoryTarget
            .parse(
                serde_json::json!({"world": "t1", "identity": "partner"}),
                &link,
            )
            .expect("valid");
        assert_eq!(spec.kind(), "memory");
        let setup = ConnectSetup {
            link: "l",
            file_stem: "l",
            state_dir: Path::new("/state"),
            persist: true,
        };
        let connector = spec.connect(&setup).expect("connects");
        assert_eq!(connector.identity(), Identity::Partner);
        MemoryWorld::named("t1").insert(
            asana_bridge_connector::TaskFields {
                title: "seen".into(),
                ..Default::default()
            },
            None,
        );
        let page = block_on(connector.list_page(None));
        assert_eq!(page.items.len(), 1, "the connector reads the named world");
        for bad in [
            serde_json::json!({"world": "w", "colour": "red"}),
            serde_json::json!({"world": " "}),
            serde_json::json!({}),
        ] {
            assert!(MemoryTarget.parse(bad.clone(), &link).is_err(), "{bad}");
        }
    }

    fn block_on<T>(
        f: impl std::future::Future<Output = Result<T, asana_bridge_connector::ConnectorError>>,
    ) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
            .expect("answer")
    }
}
