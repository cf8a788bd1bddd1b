//! A task's direct subtasks: list them (`GET /tasks/{gid}/subtasks`, every page), create
//! one (`POST /tasks/{gid}/subtasks`), rename, complete or reopen one
//! (`PUT /tasks/{gid}`), delete one (`DELETE /tasks/{gid}`, to Asana's trash). Deeper
//! levels are never read. A caller reads subtasks only for a task whose `num_subtasks` is
//! not zero (one request saved per task without any).

use asana_bridge_connector::http::{Idempotency, Request};
use asana_bridge_connector::{ConnectorError, NewSubtask, Subtask};
use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::client::{AsanaClient, request_body};
use crate::wire;

/// The fields read for a subtask, all in the `opt_fields` enum of
/// `GET /tasks/{task_gid}/subtasks`, `POST /tasks/{task_gid}/subtasks` and
/// `PUT /tasks/{task_gid}`.
pub const SUBTASK_FIELDS: &[&str] = &["name", "completed"];

/// A subtask as Asana answers it with [`SUBTASK_FIELDS`].
#[derive(Debug, Deserialize)]
struct WireSubtask {
    gid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    completed: Option<bool>,
}

impl From<WireSubtask> for Subtask {
    fn from(w: WireSubtask) -> Subtask {
        Subtask {
            remote_id: w.gid,
            name: w.name.unwrap_or_default(),
            completed: w.completed.unwrap_or(false),
        }
    }
}

/// The body of a subtask write: only the fields meant to change.
#[derive(Debug, Default, Serialize)]
struct SubtaskWrite<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<bool>,
}

/// Checks that `gid` is an Asana gid (digits) before it goes into a path.
pub(crate) fn gid(kind: &str, gid: &str) -> Result<(), ConnectorError> {
    if !gid.is_empty() && gid.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConnectorError::InvalidData(format!(
            "{gid:?} is not an Asana {kind} gid"
        )))
    }
}

/// The direct subtasks of `task`, in Asana's order, following every page.
///
/// # Errors
/// `NotFound` when the task is gone, or any transport error.
pub async fn list(client: &AsanaClient, task: &str) -> Result<Vec<Subtask>, ConnectorError> {
    gid("task", task)?;
    let found: Vec<WireSubtask> = client
        .get_all(
            &format!("/tasks/{task}/subtasks"),
            &[("opt_fields", wire::opt_fields(SUBTASK_FIELDS))],
            true,
        )
        .await?;
    Ok(found.into_iter().map(Subtask::from).collect())
}

/// Creates a subtask of `parent` (last among its siblings, in no project). Sent once: a
/// lost answer is `Ambiguous`, never a second subtask.
///
/// # Errors
/// `NotFound` when the parent is gone, `Ambiguous` when the answer was lost, or any
/// transport error.
pub async fn create(
    client: &AsanaClient,
    parent: &str,
    new: &NewSubtask,
) -> Result<Subtask, ConnectorError> {
    gid("task", parent)?;
    let write = SubtaskWrite {
        name: Some(&new.name),
        completed: new.completed.then_some(true),
    };
    let request = Request::post(format!("/tasks/{parent}/subtasks"), request_body(write)?)
        .query("opt_fields", wire::opt_fields(SUBTASK_FIELDS))
        .idempotency(Idempotency::CreateOnce);
    let created: WireSubtask = client.data(request).await?;
    debug!(parent, subtask = %created.gid, "created subtask");
    Ok(created.into())
}

async fn update(
    client: &AsanaClient,
    subtask: &str,
    write: SubtaskWrite<'_>,
) -> Result<Subtask, ConnectorError> {
    gid("task", subtask)?;
    let request = Request::put(format!("/tasks/{subtask}"), request_body(write)?)
        .query("opt_fields", wire::opt_fields(SUBTASK_FIELDS));
    let updated: WireSubtask = client.data(request).await?;
    Ok(updated.into())
}

/// Renames and/or completes (or reopens) a subtask in one request; `None` leaves that
/// part as it is. Returns it as Asana now has it.
///
/// # Errors
/// `NotFound` when the subtask is gone, or any transport error.
pub async fn update_parts(
    client: &AsanaClient,
    subtask: &str,
    name: Option<&str>,
    completed: Option<bool>,
) -> Result<Subtask, ConnectorError> {
    update(client, subtask, SubtaskWrite { name, completed }).await
}

/// Renames a subtask; returns it as Asana now has it.
///
/// # Errors
/// `NotFound` when the subtask is gone, or any transport error.
pub async fn rename(
    client: &AsanaClient,
    subtask: &str,
    name: &str,
) -> Result<Subtask, ConnectorError> {
    let write = SubtaskWrite {
        name: Some(name),
        ..SubtaskWrite::default()
    };
    update(client, subtask, write).await
}

/// Completes (`true`) or reopens (`false`) a subtask; returns it as Asana now has it.
///
/// # Errors
/// `NotFound` when the subtask is gone, or any transport error.
pub async fn set_completed(
    client: &AsanaClient,
    subtask: &str,
    completed: bool,
) -> Result<Subtask, ConnectorError> {
    let write = SubtaskWrite {
        completed: Some(completed),
        ..SubtaskWrite::default()
    };
    update(client, subtask, write).await
}

/// Deletes a subtask (to Asana's trash). One already gone is not an error: the outcome
/// the caller wanted holds.
///
/// # Errors
/// Any transport error but `NotFound`.
pub async fn delete(client: &AsanaClient, subtask: &str) -> Result<(), ConnectorError> {
    gid("task", subtask)?;
    match client
        .http()
        .send(Request::delete(format!("/tasks/{subtask}")))
        .await
    {
        Ok(_) | Err(ConnectorError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
