//! What a token can see, for people choosing what to link: its workspaces
//! (`GET /workspaces`), the projects of a workspace (`GET /projects?workspace=`), and one
//! project by gid (`GET /projects/{project_gid}`). Lists are read to the end, 100 a page,
//! following `next_page.offset` as Asana's OpenAPI description prescribes.

use asana_bridge_connector::ConnectorError;
use asana_bridge_connector::http::Request;
use serde::{Deserialize, Serialize};

use crate::client::AsanaClient;
use crate::wire::{self, NamedRef};

/// The project fields read; both are in the `opt_fields` enum of `GET /projects` and
/// `GET /projects/{project_gid}`.
pub const PROJECT_FIELDS: &[&str] = &["name", "archived"];

/// A workspace (or organization) the token's user belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkspaceInfo {
    pub gid: String,
    pub name: String,
}

/// A project as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectInfo {
    pub gid: String,
    pub name: String,
    /// Archived projects still sync; Asana hides them from most views.
    pub archived: bool,
}

/// A project read by gid, with its workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectDetail {
    pub project: ProjectInfo,
    pub workspace: WorkspaceInfo,
}

/// `ProjectCompact` with the [`PROJECT_FIELDS`] (and `workspace.name` when read by gid).
#[derive(Debug, Deserialize)]
struct WireProject {
    gid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    archived: Option<bool>,
    #[serde(default)]
    workspace: Option<NamedRef>,
}

impl From<&WireProject> for ProjectInfo {
    fn from(p: &WireProject) -> Self {
        Self {
            gid: p.gid.clone(),
            name: p.name.clone().unwrap_or_default(),
            archived: p.archived.unwrap_or(false),
        }
    }
}

fn named(r: NamedRef) -> WorkspaceInfo {
    WorkspaceInfo {
        gid: r.gid,
        name: r.name.unwrap_or_default(),
    }
}

/// Every workspace the token's user is in.
///
/// # Errors
/// `Unauthorized` for a bad token, or any transport error.
pub async fn workspaces(client: &AsanaClient) -> Result<Vec<WorkspaceInfo>, ConnectorError> {
    let list: Vec<NamedRef> = client
        .get_all("/workspaces", &[("opt_fields", "name".to_owned())], true)
        .await?;
    Ok(list.into_iter().map(named).collect())
}

/// Every project of `workspace` the token can see; `archived: Some(false)` leaves out
/// archived ones (Asana filters them).
///
/// # Errors
/// `NotFound` for a workspace the token is not in, or any transport error.
pub async fn projects(
    client: &AsanaClient,
    workspace: &str,
    archived: Option<bool>,
) -> Result<Vec<ProjectInfo>, ConnectorError> {
    let mut query = vec![
        ("workspace", workspace.to_owned()),
        ("opt_fields", wire::opt_fields(PROJECT_FIELDS)),
    ];
    if let Some(archived) = archived {
        query.push(("archived", archived.to_string()));
    }
    let list: Vec<WireProject> = client.get_all("/projects", &query, true).await?;
    Ok(list.iter().map(ProjectInfo::from).collect())
}

/// One project by gid, or `None` when the token cannot see it (Asana answers 404 for a
/// project that does not exist and for one the user has no access to).
///
/// # Errors
/// `Unauthorized` for a bad token, or any transport error.
pub async fn project(
    client: &AsanaClient,
    gid: &str,
) -> Result<Option<ProjectDetail>, ConnectorError> {
    let request = Request::get(format!("/projects/{gid}"))
        .query("opt_fields", "name,archived,workspace.name");
    match client.data::<WireProject>(request).await {
        Ok(p) => Ok(Some(ProjectDetail {
            project: ProjectInfo::from(&p),
            workspace: p.workspace.map(named).unwrap_or(WorkspaceInfo {
                gid: String::new(),
                name: String::new(),
            }),
        })),
        Err(ConnectorError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
