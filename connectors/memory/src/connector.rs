//! [`MemoryConnector`]: the [`Connector`] over a [`MemoryWorld`]. It lists page by page,
//! writes what it is asked to, answers `whereabouts` from what the world knows, and has
//! no change feed (the engine lists everything, as for a folder).

use std::sync::Arc;

use asana_bridge_connector::connector::create_each;
use asana_bridge_connector::{
    Connector, ConnectorError, Identity, Item, Page, PageToken, TaskFields, TaskPatch, Whereabouts,
};
use async_trait::async_trait;

use crate::world::MemoryWorld;

/// Items a page holds unless set otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// A connector of one in-memory world.
#[derive(Clone, Debug)]
pub struct MemoryConnector {
    /// The items.
    world: Arc<MemoryWorld>,
    /// What it calls itself in messages (`memory`, or `asana` when it stands in for Asana).
    kind: &'static str,
    /// How its items pair with tasks.
    identity: Identity,
    /// Items a page holds.
    page_size: usize,
    /// Creates one `create_many` call is asked to carry.
    create_batch: usize,
}

impl MemoryConnector {
    /// A target over `world` whose items pair through the bridge's records
    /// ([`Identity::Record`], like GitHub issues: ids are stable).
    #[must_use]
    pub fn new(world: Arc<MemoryWorld>) -> Self {
        Self {
            world,
            kind: "memory",
            identity: Identity::Record,
            page_size: DEFAULT_PAGE_SIZE,
            create_batch: 1,
        }
    }

    /// The same connector standing in for Asana (it calls itself `asana`).
    #[must_use]
    pub fn as_asana(mut self) -> Self {
        self.kind = "asana";
        self
    }

    /// The same connector pairing through the partner its items carry
    /// ([`Identity::Partner`], like Markdown files).
    #[must_use]
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = identity;
        self
    }

    /// The same connector with pages of `size` items (at least one).
    #[must_use]
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// The same connector asking for creates in batches of `size` (at least one), as a
    /// folder does.
    #[must_use]
    pub fn with_create_batch(mut self, size: usize) -> Self {
        self.create_batch = size.max(1);
        self
    }

    /// The world it reads and writes.
    #[must_use]
    pub fn world(&self) -> &Arc<MemoryWorld> {
        &self.world
    }

    fn gone(&self, id: &str) -> ConnectorError {
        ConnectorError::NotFound(self.describe(id))
    }

    /// One create, without counting the call.
    fn create_one(
        &self,
        fields: &TaskFields,
        partner: Option<&str>,
    ) -> Result<Item, ConnectorError> {
        match self.world.refusal(&fields.title) {
            Some(true) => {
                return Err(ConnectorError::Transient {
                    service: self.kind,
                    message: format!("down while creating `{}`", fields.title),
                });
            }
            Some(false) => {
                return Err(ConnectorError::InvalidData(format!(
                    "`{}` is refused",
                    fields.title
                )));
            }
            None => {}
        }
        // Asana keeps no partner; a target records the task it mirrors.
        let partner = partner.filter(|_| self.kind != "asana");
        Ok(self.world.create(fields, partner))
    }
}

#[async_trait]
impl Connector for MemoryConnector {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn describe(&self, id: &str) -> String {
        format!("{} item {id}", self.kind)
    }

    async fn list_page(&self, token: Option<PageToken>) -> Result<Page, ConnectorError> {
        let start = match token {
            None => 0,
            Some(PageToken(t)) => t
                .parse()
                .map_err(|_| ConnectorError::InvalidData(format!("bad page token {t:?}")))?,
        };
        let (items, more) = self.world.listed(start, self.page_size);
        let next = more.then(|| PageToken((start + items.len()).to_string()));
        Ok(Page {
            items,
            errors: Vec::new(),
            next,
        })
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<Item>, ConnectorError> {
        Ok(ids.iter().filter_map(|id| self.world.item(id)).collect())
    }

    async fn create(
        &self,
        fields: &TaskFields,
        partner: Option<&str>,
    ) -> Result<Item, ConnectorError> {
        self.world.count_create_call();
        self.create_one(fields, partner)
    }

    fn create_batch(&self) -> usize {
        self.create_batch
    }

    async fn create_many(
        &self,
        new: &[(&TaskFields, Option<&str>)],
    ) -> Vec<Result<Item, ConnectorError>> {
        self.world.count_create_call();
        create_each(new, |(fields, partner)| self.create_one(fields, *partner))
    }

    async fn update(&self, item: &Item, patch: &TaskPatch) -> Result<Item, ConnectorError> {
        let current = self
            .world
            .item(&item.id)
            .ok_or_else(|| self.gone(&item.id))?;
        let fields = patch.applied_to(&current.fields);
        self.world
            .write(&item.id, fields, current.partner)
            .ok_or_else(|| self.gone(&item.id))
    }

    async fn delete(&self, item: &Item) -> Result<(), ConnectorError> {
        if self.world.delete(&item.id) {
            Ok(())
        } else {
            Err(self.gone(&item.id))
        }
    }

    async fn set_partner(&self, item: &Item, partner: &str) -> Result<Item, ConnectorError> {
        let current = self
            .world
            .item(&item.id)
            .ok_or_else(|| self.gone(&item.id))?;
        self.world
            .write(&item.id, current.fields, Some(partner.to_owned()))
            .ok_or_else(|| self.gone(&item.id))
    }

    fn identity(&self) -> Identity {
        self.identity
    }

    async fn whereabouts(&self, id: &str) -> Result<Whereabouts, ConnectorError> {
        Ok(match self.world.whereabouts(id) {
            Some(item) => Whereabouts::Present(item),
            None => Whereabouts::Deleted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(title: &str) -> TaskFields {
        TaskFields {
            title: title.to_owned(),
            ..TaskFields::default()
        }
    }

    async fn list_all(c: &MemoryConnector) -> Vec<Item> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = c.list_page(token).await.expect("page");
            out.extend(page.items);
            match page.next {
                Some(t) => token = Some(t),
                None => return out,
            }
        }
    }

    /// Listing walks every page; hidden items are left out but still found by id, and
    /// only writes through the connector are counted.
    #[tokio::test]
    async fn lists_pages_and_counts_writes() {
        let world = MemoryWorld::new();
        let c = MemoryConnector::new(Arc::clone(&world)).with_page_size(2);
        for t in ["a", "b", "c", "d", "e"] {
            world.insert(fields(t), None);
        }
        assert_eq!(list_all(&c).await.len(), 5);
        let hidden = world.find("c").expect("c").id;
        world.hide(&hidden, true);
        let titles: Vec<String> = list_all(&c)
            .await
            .into_iter()
            .map(|i| i.fields.title)
            .collect();
        assert_eq!(titles, ["a", "b", "d", "e"]);
        assert!(matches!(
            c.whereabouts(&hidden).await.expect("asked"),
            Whereabouts::Present(_)
        ));
        assert_eq!(world.writes(), 0);

        let made = c.create(&fields("f"), Some("77")).await.expect("create");
        assert_eq!(made.partner.as_deref(), Some("77"));
        let patch = TaskPatch {
            completed: Some(true),
            ..TaskPatch::default()
        };
        let updated = c.update(&made, &patch).await.expect("update");
        assert!(updated.fields.completed && updated.fields.title == "f");
        assert_ne!(updated.revision, made.revision);
        assert!(updated.modified_at > made.modified_at);
        c.delete(&updated).await.expect("delete");
        assert_eq!(world.writes(), 3);
        assert!(world.was_deleted(&made.id));
        assert_eq!(
            c.whereabouts(&made.id).await.expect("asked"),
            Whereabouts::Deleted
        );
        assert!(c.delete(&updated).await.is_err(), "already gone");
    }

    /// Standing in for Asana it keeps no partner and calls itself `asana`.
    #[tokio::test]
    async fn asana_stand_in_keeps_no_partner() {
        let c = MemoryConnector::new(MemoryWorld::new()).as_asana();
        let made = c.create(&fields("x"), Some("9")).await.expect("create");
        assert_eq!(made.partner, None);
        assert_eq!(c.kind(), "asana");
    }
}
