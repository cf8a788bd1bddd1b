//! `asana-bridge init`: writes the commented starter config, never over an existing file.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};

use super::Output;
use crate::config::STARTER;
use crate::exit::{CliError, Exit};

pub fn run(path: &Path, out: Output) -> Result<Exit, CliError> {
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::usage(anyhow!(
                "{} already exists; it was left as it is",
                path.display()
            )));
        }
        Err(e) => {
            return Err(CliError::runtime(
                anyhow::Error::new(e).context(format!("creating {}", path.display())),
            ));
        }
    };
    file.write_all(STARTER.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
        .map_err(CliError::runtime)?;
    if out.json {
        println!("{}", serde_json::json!({ "config": path }));
    }
    out.line(&format!(
        "wrote {}: set asana_project and the markdown dir, export ASANA_TOKEN, then run `asana-bridge sync --dry-run`",
        path.display()
    ));
    Ok(Exit::Success)
}
