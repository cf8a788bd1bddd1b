//! The Asana connector's [`Threads`]: a task's subtasks ([`crate::subtasks`]) and comments
//! ([`crate::comments`]) offered to the engine, in the project's workspace.

use asana_bridge_connector::{Comment, ConnectorError, NewSubtask, Subtask, Threads};
use async_trait::async_trait;

use crate::connector::AsanaConnector;
use crate::{comments, subtasks};

#[async_trait]
impl Threads for AsanaConnector {
    fn touched(&self) -> Option<Vec<String>> {
        self.thread_touched()
    }

    fn subtask_count(&self, task: &str) -> Option<u32> {
        AsanaConnector::subtask_count(self, task)
    }

    async fn subtasks(&self, task: &str) -> Result<Vec<Subtask>, ConnectorError> {
        if self.subtask_count(task) == Some(0) {
            // Read with `num_subtasks: 0` in this process: nothing to ask for.
            return Ok(Vec::new());
        }
        let found = subtasks::list(self.client(), task).await?;
        self.set_subtask_count(task, u32::try_from(found.len()).unwrap_or(u32::MAX));
        Ok(found)
    }

    async fn create_subtask(
        &self,
        task: &str,
        new: &NewSubtask,
    ) -> Result<Subtask, ConnectorError> {
        let created = subtasks::create(self.client(), task, new).await?;
        let count = self.subtask_count(task).unwrap_or(0);
        self.set_subtask_count(task, count.saturating_add(1));
        Ok(created)
    }

    async fn update_subtask(
        &self,
        id: &str,
        name: Option<&str>,
        completed: Option<bool>,
    ) -> Result<Subtask, ConnectorError> {
        subtasks::update_parts(self.client(), id, name, completed).await
    }

    async fn delete_subtask(&self, id: &str) -> Result<(), ConnectorError> {
        subtasks::delete(self.client(), id).await
    }

    async fn comments(&self, task: &str) -> Result<Vec<Comment>, ConnectorError> {
        let workspace = self.client().workspace_of(self.project_gid()).await?;
        comments::list(self.client(), &workspace, task).await
    }

    async fn post_comment(&self, task: &str, body: &str) -> Result<Comment, ConnectorError> {
        let workspace = self.client().workspace_of(self.project_gid()).await?;
        comments::post(self.client(), &workspace, task, body).await
    }

    async fn edit_comment(&self, comment: &Comment, body: &str) -> Result<Comment, ConnectorError> {
        let workspace = self.client().workspace_of(self.project_gid()).await?;
        comments::edit(self.client(), &workspace, comment, body).await
    }
}
