//! What every webhook `watch` keeps has in common, whichever service it is on (Asana's
//! project webhooks, a target's such as a GitHub repository's): the one record kept per
//! link and side in the state store ([`HookRecord`] in [`Records`]: the secret, and the
//! hook's id so that a restart after a crash deletes what the crashed run left), and that
//! removal of what an earlier run left ([`remove_stale`]). The services differ only in how a hook is created and how a
//! delivery is signed, which stays with each ([`super::webhook`], [`super::target_hook`]).

use std::fmt;
use std::sync::Arc;

use asana_bridge_asana::AsanaClient;
use asana_bridge_asana::webhooks as api;
use asana_bridge_connector::connector::TargetHooks;
use asana_bridge_state::{StateError, Store, Table};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

/// A service's webhooks as far as stale removal needs them.
#[async_trait::async_trait]
pub trait HookService: Send + Sync {
    /// What a hook is called in logs: `webhook` (Asana's), `GitHub webhook`.
    fn what(&self) -> String;

    /// What the hooks are on, in logs: `project`, `repository`.
    fn scope_noun(&self) -> &'static str;

    /// The ids of the scope's hooks and where each delivers.
    async fn listed(&self) -> Result<Vec<(String, Option<String>)>, String>;

    /// Deletes the hook `id`; `false` when it was already gone.
    async fn delete(&self, id: &str) -> Result<bool, String>;
}

/// Deletes what an earlier run of `link` left on `service`: the hook whose id its record
/// held (`recorded`), and any hook of the scope that delivers to `target`. Failures are
/// only logged: the new hook is created anyway.
pub async fn remove_stale(
    link: &str,
    service: &dyn HookService,
    recorded: Option<String>,
    target: &str,
) {
    let what = service.what();
    if let Some(id) = recorded {
        match service.delete(&id).await {
            Ok(existed) => debug!(link, hook = %id, existed, "removed an earlier {what}"),
            Err(e) => debug!(link, hook = %id, "cannot remove an earlier {what}: {e}"),
        }
    }
    match service.listed().await {
        Ok(listed) => {
            for (id, _) in listed
                .iter()
                .filter(|(_, url)| url.as_deref() == Some(target))
            {
                match service.delete(id).await {
                    Ok(_) => debug!(link, hook = %id, "removed a stale {what}"),
                    Err(e) => debug!(link, hook = %id, "cannot remove a stale {what}: {e}"),
                }
            }
        }
        Err(e) => debug!(
            link,
            "cannot list the {}'s {what}s: {e}",
            service.scope_noun()
        ),
    }
}

/// What the state store keeps of one link's hook on one service: enough to verify its
/// deliveries and to delete it after a crash. The same for every service (schema
/// version 3 on; the state's migrations turned the earlier per-service shapes into it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRecord {
    /// What the hook is on: the Asana project's gid, a repository's `owner/name`.
    pub scope: String,
    /// The URL the service was given.
    pub target: String,
    /// The service's id of the hook (an Asana gid, a GitHub hook's number), once it
    /// answered the create.
    pub id: Option<String>,
    /// The secret; dropped once the hook is deleted (or being deleted).
    pub secret: Option<String>,
}

impl fmt::Debug for HookRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookRecord")
            .field("scope", &self.scope)
            .field("target", &self.target)
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// One table of webhook records in the state store, keyed by link name. A record holds a
/// secret: the store is owner-only, and records never print it (their `Debug` hides it).
pub struct Records {
    store: Arc<Store>,
    /// The table's name (`webhooks/secrets`, `webhooks/target`).
    table: &'static str,
    /// What a record is of, in warnings: `webhook`, `target webhook`.
    what: &'static str,
}

impl Records {
    /// The table `table` of `store`, opened (created when missing).
    ///
    /// # Errors
    /// The store's error.
    pub fn open(
        store: Arc<Store>,
        table: &'static str,
        what: &'static str,
    ) -> Result<Self, StateError> {
        store.table::<HookRecord>(table)?;
        Ok(Self { store, table, what })
    }

    /// The table itself.
    ///
    /// # Errors
    /// The store's error.
    pub fn table(&self) -> Result<Table<HookRecord>, StateError> {
        self.store.table(self.table)
    }

    /// `link`'s record (`None` also when it cannot be read: warned).
    pub fn get(&self, link: &str) -> Option<HookRecord> {
        self.table().and_then(|t| t.get(link)).unwrap_or_else(|e| {
            warn!(link, "cannot read the {} record: {e}", self.what);
            None
        })
    }

    /// Stores `link`'s record and flushes it to disk; `false` when it could not be
    /// (warned). A hook is live in its service from now on: a crash a moment later must
    /// still leave the record that names it (sled's own flush comes up to a second late),
    /// or the next run could not remove the hook.
    pub fn put(&self, link: &str, record: &HookRecord) -> bool {
        let stored = self
            .table()
            .and_then(|t| t.put(link, record))
            .and_then(|()| self.store.flush());
        match stored {
            Ok(()) => true,
            Err(e) => {
                warn!(link, "cannot store the {} record: {e}", self.what);
                false
            }
        }
    }

    /// Forgets `link`'s record (a failure is warned).
    pub fn forget(&self, link: &str) {
        if let Err(e) = self.table().and_then(|t| t.remove(link).map(drop)) {
            warn!(link, "cannot remove the {} record: {e}", self.what);
        }
    }

    /// The store the records are in.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// Asana's webhooks on one project.
pub struct AsanaProjectHooks<'a> {
    pub client: &'a AsanaClient,
    pub project: &'a str,
}

#[async_trait::async_trait]
impl HookService for AsanaProjectHooks<'_> {
    fn what(&self) -> String {
        "webhook".to_owned()
    }

    fn scope_noun(&self) -> &'static str {
        "project"
    }

    async fn listed(&self) -> Result<Vec<(String, Option<String>)>, String> {
        api::list_project_webhooks(self.client, self.project)
            .await
            .map(|hooks| hooks.into_iter().map(|h| (h.gid, h.target)).collect())
            .map_err(|e| e.to_string())
    }

    async fn delete(&self, id: &str) -> Result<bool, String> {
        api::delete_webhook(self.client, id)
            .await
            .map_err(|e| e.to_string())
    }
}

/// A target's webhooks (a GitHub repository's), as its crate offers them.
pub struct TargetHookService<'a> {
    pub hooks: &'a dyn TargetHooks,
}

#[async_trait::async_trait]
impl HookService for TargetHookService<'_> {
    fn what(&self) -> String {
        format!("{} webhook", self.hooks.service())
    }

    fn scope_noun(&self) -> &'static str {
        self.hooks.scope_noun()
    }

    async fn listed(&self) -> Result<Vec<(String, Option<String>)>, String> {
        self.hooks
            .list()
            .await
            .map(|hooks| {
                hooks
                    .into_iter()
                    .map(|h| (h.id.to_string(), h.url))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    async fn delete(&self, id: &str) -> Result<bool, String> {
        let id: u64 = id.parse().map_err(|_| format!("not a hook id: {id:?}"))?;
        self.hooks.delete(id).await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A service with hooks `(id, url)` that records what was deleted.
    struct Fake {
        hooks: Mutex<Vec<(String, Option<String>)>>,
        deleted: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl HookService for Fake {
        fn what(&self) -> String {
            "webhook".to_owned()
        }

        fn scope_noun(&self) -> &'static str {
            "project"
        }

        async fn listed(&self) -> Result<Vec<(String, Option<String>)>, String> {
            Ok(self.hooks.lock().expect("lock").clone())
        }

        async fn delete(&self, id: &str) -> Result<bool, String> {
            self.deleted.lock().expect("lock").push(id.to_owned());
            let mut hooks = self.hooks.lock().expect("lock");
            let before = hooks.len();
            hooks.retain(|(h, _)| h != id);
            Ok(hooks.len() < before)
        }
    }

    /// The recorded hook and every hook delivering to the link's target go; hooks of
    /// other targets (another bridge, another link) stay.
    #[tokio::test]
    async fn stale_hooks_of_the_target_are_removed_and_no_others() {
        let target = "https://bridge.example/hooks/roadmap";
        let fake = Fake {
            hooks: Mutex::new(vec![
                ("1".into(), Some("https://elsewhere/x".into())),
                ("2".into(), Some(target.into())),
                ("3".into(), None),
                ("4".into(), Some(target.into())),
            ]),
            deleted: Mutex::default(),
        };
        remove_stale("roadmap", &fake, Some("9".into()), target).await;
        assert_eq!(*fake.deleted.lock().expect("lock"), ["9", "2", "4"]);
        let left: Vec<String> = fake
            .hooks
            .lock()
            .expect("lock")
            .iter()
            .map(|h| h.0.clone())
            .collect();
        assert_eq!(left, ["1", "3"]);
    }

    /// Records are kept per link in their own table, and forgotten.
    #[test]
    fn records_are_kept_per_link() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let records =
            Records::open(Arc::clone(&store), "webhooks/test", "test hook").expect("table");
        let record = HookRecord {
            scope: "acme/app".into(),
            target: "https://h/x".into(),
            id: Some("12".into()),
            secret: Some("s3cr3t".into()),
        };
        assert!(records.put("a", &record));
        assert_eq!(records.get("a"), Some(record.clone()));
        assert_eq!(records.get("b"), None);
        records.forget("a");
        assert_eq!(records.get("a"), None);
    }

    /// The one shape every service's record is stored in (what the state's migration to
    /// schema 3 writes), and a `Debug` that hides the secret.
    #[test]
    fn a_record_is_stored_in_the_one_shape_and_hides_its_secret() {
        let record = HookRecord {
            scope: "1200000000000001".into(),
            target: "https://h/x".into(),
            id: Some("1200000000000099".into()),
            secret: Some("s3cr3t".into()),
        };
        assert_eq!(
            serde_json::to_value(&record).expect("json"),
            serde_json::json!({"scope": "1200000000000001", "target": "https://h/x",
                               "id": "1200000000000099", "secret": "s3cr3t"})
        );
        assert!(!format!("{record:?}").contains("s3cr3t"));
    }
}
