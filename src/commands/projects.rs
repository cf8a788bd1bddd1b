//! `asana-bridge projects`: the workspaces and projects the Asana token can see, with
//! their gids, so nobody has to dig a gid out of a URL. Also the project lookup
//! `init --project` uses (a name, a URL or a gid to one project).

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use asana_bridge_asana::AsanaClient;
use asana_bridge_asana::listing::{self, ProjectDetail, ProjectInfo, WorkspaceInfo};
use serde_json::json;

use super::{Output, load_config};
use crate::cli::ProjectsArgs;
use crate::config::{Config, STARTER};
use crate::connect::Connectors;
use crate::exit::{CliError, Exit};

/// One workspace and its projects.
pub(crate) struct Listed {
    pub workspace: WorkspaceInfo,
    pub projects: Vec<ProjectInfo>,
}

/// Runs `asana-bridge projects`.
pub async fn run(config_path: &Path, args: &ProjectsArgs, out: Output) -> Result<Exit, CliError> {
    let config = config_or_starter(config_path)?;
    let connectors = Connectors::new(&config, true)?;
    let client = connectors.asana_client();
    let archived = (args.no_archived).then_some(false);
    let listed = list(&client, args.workspace.as_deref(), archived).await?;
    if out.json {
        let doc: Vec<_> = listed
            .iter()
            .map(|l| json!({"gid": l.workspace.gid, "name": l.workspace.name, "projects": l.projects}))
            .collect();
        println!("{}", json!({ "workspaces": doc }));
        return Ok(Exit::Success);
    }
    for l in &listed {
        out.line(&format!(
            "workspace {} ({} project{})  gid {}",
            quoted(&l.workspace.name),
            l.projects.len(),
            if l.projects.len() == 1 { "" } else { "s" },
            l.workspace.gid
        ));
        let width = l.projects.iter().map(|p| p.gid.len()).max().unwrap_or(0);
        for p in &l.projects {
            out.line(&format!(
                "  {:<width$}  {}{}",
                p.gid,
                p.name,
                if p.archived { "  (archived)" } else { "" }
            ));
        }
    }
    if listed.iter().all(|l| l.projects.is_empty()) {
        out.line("no project is visible to this token: share a project with its user in Asana");
    }
    out.line("link one with `asana-bridge init --project NAME_OR_GID`, or put its gid in a [[link]]'s asana_project");
    Ok(Exit::Success)
}

/// The config at `path`; before there is one (`projects` is how people choose what to
/// put in it), the starter config's settings: the token from `ASANA_TOKEN` or what
/// `auth login` stored, the API root from `ASANA_BASE_URL` or Asana's.
pub(crate) fn config_or_starter(path: &Path) -> Result<Config, CliError> {
    if path.exists() {
        return load_config(path);
    }
    tracing::debug!(
        "{} does not exist: using the starter config's settings",
        path.display()
    );
    let base_url = std::env::var("ASANA_BASE_URL")
        .ok()
        .filter(|s| !s.is_empty());
    Ok(Config::parse(path, STARTER, base_url)?)
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

fn api_error(what: &str) -> impl FnOnce(asana_bridge_connector::ConnectorError) -> CliError + '_ {
    move |e| CliError::runtime(anyhow!(e).context(what.to_owned()))
}

/// The workspaces (all, or the one named by gid or name) and their projects.
pub(crate) async fn list(
    client: &Arc<AsanaClient>,
    workspace: Option<&str>,
    archived: Option<bool>,
) -> Result<Vec<Listed>, CliError> {
    let mut workspaces = listing::workspaces(client)
        .await
        .map_err(api_error("cannot list the workspaces"))?;
    if let Some(wanted) = workspace {
        let all = workspaces.clone();
        workspaces.retain(|w| w.gid == wanted || w.name.eq_ignore_ascii_case(wanted));
        if workspaces.is_empty() {
            return Err(CliError::usage(anyhow!(
                "no workspace \"{wanted}\" is visible to this token (workspaces: {})",
                all.iter()
                    .map(|w| format!("{} ({})", w.name, w.gid))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    for workspace in workspaces {
        let projects = listing::projects(client, &workspace.gid, archived)
            .await
            .map_err(api_error("cannot list the projects"))?;
        out.push(Listed {
            workspace,
            projects,
        });
    }
    Ok(out)
}

/// What `init --project` was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProjectRef {
    /// A gid, typed or taken from a URL.
    Gid(String),
    /// A project name, to look up.
    Name(String),
}

/// Reads a project reference: a gid, an Asana URL (`https://app.asana.com/0/<gid>/...`,
/// `https://app.asana.com/1/<workspace>/project/<gid>/...`), or else a name.
pub(crate) fn parse_ref(text: &str) -> Result<ProjectRef, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("--project needs a project name, URL or gid".to_owned());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(ProjectRef::Gid(text.to_owned()));
    }
    if !(text.starts_with("https://") || text.starts_with("http://")) {
        return Ok(ProjectRef::Name(text.to_owned()));
    }
    let not_project = || {
        format!(
            "{text} is not an Asana project URL (expected https://app.asana.com/0/<project gid>/list or https://app.asana.com/1/<workspace gid>/project/<project gid>/...); the project's gid or name works too"
        )
    };
    let url = reqwest::Url::parse(text).map_err(|_| not_project())?;
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let is_gid = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let gid = match segments.as_slice() {
        // The classic form: /0/<project>/<view or task>; /0/0/<task> is a task alone.
        ["0", project, ..] if is_gid(project) && *project != "0" => Some(*project),
        // The current form: /1/<workspace>/project/<project>/...
        ["1", workspace, "project", project, ..] if is_gid(workspace) && is_gid(project) => {
            Some(*project)
        }
        _ => None,
    };
    gid.map(|g| ProjectRef::Gid(g.to_owned()))
        .ok_or_else(not_project)
}

/// Finds the one project a name names (case and surrounding spaces ignored) among every
/// project the token can see. No match, or more than one, is an error that lists the
/// candidates.
pub(crate) async fn resolve_name(
    client: &Arc<AsanaClient>,
    name: &str,
) -> Result<ProjectDetail, CliError> {
    let listed = list(client, None, None).await?;
    let wanted = name.trim().to_lowercase();
    let describe = |l: &Listed, p: &ProjectInfo| {
        format!(
            "\"{}\" (gid {}) in workspace \"{}\"{}",
            p.name,
            p.gid,
            l.workspace.name,
            if p.archived { ", archived" } else { "" }
        )
    };
    let mut exact = Vec::new();
    let mut near = Vec::new();
    for l in &listed {
        for p in &l.projects {
            let have = p.name.trim().to_lowercase();
            if have == wanted {
                exact.push((l, p));
            } else if have.contains(&wanted) {
                near.push(describe(l, p));
            }
        }
    }
    match exact.as_slice() {
        [(l, p)] => Ok(ProjectDetail {
            project: (*p).clone(),
            workspace: l.workspace.clone(),
        }),
        [] => {
            let hint = if near.is_empty() {
                "`asana-bridge projects` lists every project this token can see".to_owned()
            } else {
                near.truncate(10);
                format!("did you mean: {}", near.join("; "))
            };
            Err(CliError::usage(anyhow!(
                "no project named \"{}\" is visible to this token; {hint}",
                name.trim()
            )))
        }
        many => Err(CliError::usage(anyhow!(
            "{} projects are named \"{}\": {}; pass the gid or the URL of the one you mean",
            many.len(),
            name.trim(),
            many.iter()
                .map(|(l, p)| describe(l, p))
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::{ProjectRef, parse_ref};

    /// Gids, both URL forms (with views, tasks, queries) and names are told apart; a URL
    /// that names no project is refused with the forms that work.
    #[test]
    fn project_references() {
        let gid = |g: &str| Ok(ProjectRef::Gid(g.to_owned()));
        assert_eq!(parse_ref(" 1200000000000001 "), gid("1200000000000001"));
        assert_eq!(parse_ref("https://app.asana.com/0/1201/list"), gid("1201"));
        assert_eq!(
            parse_ref("https://app.asana.com/0/1201/1300/f"),
            gid("1201")
        );
        assert_eq!(parse_ref("https://app.asana.com/0/1201"), gid("1201"));
        assert_eq!(
            parse_ref("https://app.asana.com/1/77/project/1201/list/99?x=1"),
            gid("1201")
        );
        assert_eq!(
            parse_ref("Website launch"),
            Ok(ProjectRef::Name("Website launch".to_owned()))
        );
        for bad in [
            "https://app.asana.com/0/0/1300/f",
            "https://app.asana.com/1/77/task/1300",
            "https://app.asana.com/0/home/77",
            "https://example.com/",
        ] {
            let err = parse_ref(bad).expect_err(bad);
            assert!(err.contains("not an Asana project URL"), "{err}");
        }
        assert!(parse_ref("  ").is_err());
    }
}
