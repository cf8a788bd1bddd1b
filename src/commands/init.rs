//! `asana-bridge init [--project NAME_OR_URL]`: writes the commented starter config, never
//! over an existing file. With `--project`, the project (looked up by name among what the
//! token sees, or taken from its URL or gid and checked) is written into the config's
//! `[[link]]`, with a folder named after it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};
use asana_bridge_asana::listing;

use super::Output;
use super::projects::{ProjectRef, config_or_starter, parse_ref, resolve_name};
use crate::cli::InitArgs;
use crate::config::STARTER;
use crate::connect::Connectors;
use crate::exit::{CliError, Exit};

/// The starter's link lines that `--project` replaces (a test keeps them in the starter).
const STARTER_NAME: &str = "name = \"roadmap\"\n";
const STARTER_PROJECT: &str =
    "asana_project = \"1200000000000001\"   # the number in the project's URL\n";
const STARTER_DIR: &str = "markdown = { dir = \"roadmap\" }       # one .md file per task\n";

/// The project `--project` chose.
struct Chosen {
    gid: String,
    /// The project's and its workspace's names, when Asana was asked.
    names: Option<(String, String)>,
}

pub async fn run(path: &Path, args: &InitArgs, out: Output) -> Result<Exit, CliError> {
    if path.exists() {
        return Err(exists(path));
    }
    let chosen = match &args.project {
        None => None,
        Some(text) => Some(choose(path, text).await?),
    };
    let text = match &chosen {
        None => STARTER.to_owned(),
        Some(c) => starter_for(c),
    };
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists(path)),
        Err(e) => {
            return Err(CliError::runtime(
                anyhow::Error::new(e).context(format!("creating {}", path.display())),
            ));
        }
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
        .map_err(CliError::runtime)?;
    if out.json {
        let project = chosen.as_ref().map(|c| {
            serde_json::json!({
                "gid": c.gid,
                "name": c.names.as_ref().map(|n| &n.0),
                "workspace": c.names.as_ref().map(|n| &n.1),
                "link": link_name(c),
            })
        });
        println!(
            "{}",
            serde_json::json!({ "config": path, "project": project })
        );
    }
    match &chosen {
        None => out.line(&format!(
            "wrote {}: set asana_project (`asana-bridge projects` lists them) and the markdown dir, export ASANA_TOKEN, then run `asana-bridge sync --dry-run`",
            path.display()
        )),
        Some(c) => {
            let what = match &c.names {
                Some((name, workspace)) => {
                    format!("project \"{name}\" ({}) of workspace \"{workspace}\"", c.gid)
                }
                None => format!("project {}", c.gid),
            };
            out.line(&format!(
                "wrote {}: link \"{}\" mirrors {what} into the folder {}/; run `asana-bridge doctor`, then `asana-bridge sync --dry-run`",
                path.display(),
                link_name(c),
                link_name(c)
            ));
        }
    }
    Ok(Exit::Success)
}

fn exists(path: &Path) -> CliError {
    CliError::usage(anyhow!(
        "{} already exists; it was left as it is",
        path.display()
    ))
}

/// Resolves `--project`: a name through the listing; a URL or gid checked with Asana
/// when a token is at hand (and written as it is, with a warning, when none is).
async fn choose(path: &Path, text: &str) -> Result<Chosen, CliError> {
    let reference = parse_ref(text).map_err(|e| CliError::usage(anyhow!(e)))?;
    // The starter's own settings (token variable, API root): what the new config will use.
    let config = config_or_starter(path)?;
    let connectors = match Connectors::new(&config, true) {
        Ok(c) => c,
        Err(e) => {
            return match reference {
                ProjectRef::Gid(gid) if e.exit == Exit::Usage => {
                    tracing::warn!(
                        "project {gid} was not checked with Asana ({:#}); run `asana-bridge doctor` once the token is set",
                        e.error
                    );
                    Ok(Chosen { gid, names: None })
                }
                ProjectRef::Gid(_) => Err(e),
                ProjectRef::Name(_) => Err(CliError {
                    exit: e.exit,
                    error: e
                        .error
                        .context("looking a project up by name needs the Asana token"),
                }),
            };
        }
    };
    let client = connectors.asana_client();
    let detail = match reference {
        ProjectRef::Name(name) => resolve_name(&client, &name).await?,
        ProjectRef::Gid(gid) => listing::project(&client, &gid)
            .await
            .map_err(|e| CliError::runtime(anyhow!(e).context(format!("reading project {gid}"))))?
            .ok_or_else(|| {
                CliError::usage(anyhow!(
                    "project {gid} is not visible to this token; `asana-bridge projects` lists the ones it can see"
                ))
            })?,
    };
    Ok(Chosen {
        gid: detail.project.gid,
        names: Some((detail.project.name, detail.workspace.name)),
    })
}

/// The link's (and folder's) name: the project's name as a slug, else `roadmap`.
fn link_name(chosen: &Chosen) -> String {
    chosen
        .names
        .as_ref()
        .map(|(name, _)| slug::slugify(name))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "roadmap".to_owned())
}

/// The starter config with the chosen project in its `[[link]]`.
fn starter_for(chosen: &Chosen) -> String {
    let name = link_name(chosen);
    // A TOML comment runs to the end of the line: no control characters in it.
    let comment: String = chosen
        .names
        .as_ref()
        .map_or_else(String::new, |(project, _)| project.clone())
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    STARTER
        .replacen(STARTER_NAME, &format!("name = \"{name}\"\n"), 1)
        .replacen(
            STARTER_PROJECT,
            &format!("asana_project = \"{}\"   # {comment}\n", chosen.gid),
            1,
        )
        .replacen(
            STARTER_DIR,
            &format!("markdown = {{ dir = \"{name}\" }}   # one .md file per task\n"),
            1,
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The lines `--project` replaces are in the starter, and the result parses with the
    /// project, the link and the folder named after it.
    #[test]
    fn the_chosen_project_lands_in_the_link() {
        for line in [STARTER_NAME, STARTER_PROJECT, STARTER_DIR] {
            assert!(STARTER.contains(line), "{line:?} is not in the starter");
        }
        let chosen = Chosen {
            gid: "4242".into(),
            names: Some(("Website Launch \"Q1\"\n".into(), "Acme".into())),
        };
        let text = starter_for(&chosen);
        let config = Config::parse(Path::new("/cfg/asana-bridge.toml"), &text, None)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(config.links[0].asana_project, "4242");
        assert_eq!(config.links[0].name, "website-launch-q1");
        assert_eq!(
            config.links[0].target.folder(),
            Some(Path::new("/cfg/website-launch-q1"))
        );
        let unnamed = starter_for(&Chosen {
            gid: "77".into(),
            names: None,
        });
        let config = Config::parse(Path::new("/cfg/x.toml"), &unnamed, None).expect("parses");
        assert_eq!(config.links[0].name, "roadmap");
        assert_eq!(config.links[0].asana_project, "77");
    }
}
