//! `asana-bridge auth status | login | logout`: the identity the bridge acts as, made
//! impossible to miss, and the OAuth sign-in (see [`crate::auth`]).
//!
//! Prompts (the sign-in URL) go to stderr; results to stdout (`--json` for scripts). No
//! token, code, verifier or client secret is ever printed.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use asana_bridge_asana::{AsanaClient, AsanaConfig, Me};
use asana_bridge_connector::ConnectorError;
use asana_bridge_connector::http::{HttpClient, Request, RetryPolicy};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{Output, load_config};
use crate::auth::oauth;
use crate::auth::store::{Stored, StoredGrant};
use crate::auth::{self as creds, AuthError};
use crate::cli::AuthAction;
use asana_bridge_connector::connector::AccessError;

use crate::config::Config;
use crate::connect::Connectors;
use crate::exit::{CliError, Exit};

/// Runs one `auth` action.
pub async fn run(config_path: &Path, action: &AuthAction, out: Output) -> Result<Exit, CliError> {
    let config = load_config(config_path)?;
    match action {
        AuthAction::Status => status(&config, out).await,
        AuthAction::Login {
            with_token: true, ..
        } => login_with_token(&config, out).await,
        AuthAction::Login {
            no_browser,
            timeout,
            ..
        } => login(&config, *no_browser, Duration::from_secs(*timeout), out).await,
        AuthAction::Logout => logout(&config, out).await,
    }
}

fn auth_failure(e: AuthError) -> CliError {
    if e.is_usage() {
        CliError::usage(e)
    } else {
        CliError::runtime(e)
    }
}

fn describe(me: &Me) -> String {
    if me.email.is_empty() {
        format!("{} (gid {})", me.name, me.gid)
    } else {
        format!("{} <{}> (gid {})", me.name, me.email, me.gid)
    }
}

/// A client over one fixed token, with few retries (a one-off check).
fn asana_client(config: &Config, token: SecretString) -> Result<AsanaClient, CliError> {
    let http = AsanaConfig::new(config.asana.base_url.clone(), token)
        .http_config()
        .with_retry(RetryPolicy::fast(Duration::from_secs(10)));
    HttpClient::new(http)
        .map(AsanaClient::with_http)
        .map_err(|e| CliError::usage(anyhow!("cannot set up the Asana client: {e}")))
}

fn env_note(config: &Config) -> Option<String> {
    std::env::var(&config.asana.token_env)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|_| {
            format!(
                "note: the environment variable {} is set and takes precedence over the stored credential; unset it to use this one",
                config.asana.token_env
            )
        })
}

async fn login(
    config: &Config,
    no_browser: bool,
    timeout: Duration,
    out: Output,
) -> Result<Exit, CliError> {
    let app = creds::oauth_app(&config.asana).map_err(auth_failure)?;
    let store = creds::credential_store(&config.asana).map_err(auth_failure)?;
    let tokens = oauth::login(&app, timeout, |url| {
        eprintln!("Open this address in a browser and let asana-bridge act as you in Asana:");
        eprintln!("  {url}");
        eprintln!("Waiting for the sign-in (up to {} s)...", timeout.as_secs());
        if !no_browser {
            open_browser(url);
        }
    })
    .await
    .map_err(|e| CliError::runtime(anyhow!(e).context("Asana sign-in failed")))?;
    let refresh_token = tokens.refresh_token.ok_or_else(|| {
        CliError::runtime(anyhow!(
            "Asana's token answer held no refresh token; nothing was stored"
        ))
    })?;
    // Who the access token acts as, asked of the API itself.
    let me = asana_client(config, tokens.access_token)?
        .me()
        .await
        .map_err(|e| CliError::runtime(anyhow!(e).context("the new access token does not work")))?;
    let grant = StoredGrant {
        refresh_token,
        client_id: app.client_id.clone(),
        user_gid: me.gid.clone(),
        user_name: me.name.clone(),
        user_email: me.email.clone(),
    };
    store
        .save(&creds::account(&config.asana), &Stored::OAuth(grant))
        .map_err(auth_failure)?;
    if out.json {
        println!(
            "{}",
            json!({"service": "asana", "method": "oauth", "user": me_json(&me), "store": store.describe()})
        );
    } else {
        out.line(&format!(
            "Signed in to Asana as {} with OAuth. The bridge acts as this user: every change it makes in Asana shows them as the author.",
            describe(&me)
        ));
        out.line(&format!(
            "The refresh token is kept in the {}; access tokens last about an hour and are refreshed as needed.",
            store.describe()
        ));
    }
    if let Some(note) = env_note(config) {
        eprintln!("{note}");
    }
    Ok(Exit::Success)
}

/// Best effort: the platform's URL opener; the printed URL is the fallback.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

async fn login_with_token(config: &Config, out: Output) -> Result<Exit, CliError> {
    if std::io::stdin().is_terminal() {
        eprintln!("Paste the personal access token or service-account token, then Enter:");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the token from stdin")
        .map_err(CliError::runtime)?;
    let token = line.trim().to_owned();
    if token.is_empty() {
        return Err(CliError::usage(anyhow!("no token on stdin")));
    }
    let token = SecretString::from(token);
    let me = asana_client(config, token.clone())?
        .me()
        .await
        .map_err(|e| CliError::runtime(anyhow!(e).context("Asana does not accept this token")))?;
    let store = creds::credential_store(&config.asana).map_err(auth_failure)?;
    store
        .save(&creds::account(&config.asana), &Stored::Token(token))
        .map_err(auth_failure)?;
    if out.json {
        println!(
            "{}",
            json!({"service": "asana", "method": "token", "user": me_json(&me), "store": store.describe()})
        );
    } else {
        out.line(&format!(
            "Stored the token of Asana user {} in the {}. The bridge acts as this user.",
            describe(&me),
            store.describe()
        ));
    }
    if let Some(note) = env_note(config) {
        eprintln!("{note}");
    }
    Ok(Exit::Success)
}

async fn logout(config: &Config, out: Output) -> Result<Exit, CliError> {
    let store = creds::credential_store(&config.asana).map_err(auth_failure)?;
    let account = creds::account(&config.asana);
    let stored = store.load(&account).map_err(auth_failure)?;
    let mut revoked = false;
    let mut warning = None;
    if let Some(Stored::OAuth(grant)) = &stored {
        match creds::oauth_app(&config.asana) {
            Ok(app) => match oauth::revoke(&app, &grant.refresh_token).await {
                Ok(()) => revoked = true,
                Err(e) => {
                    warning = Some(format!(
                        "could not revoke the sign-in at Asana ({e}); remove the app's access in Asana's settings"
                    ))
                }
            },
            Err(e) => {
                warning = Some(format!(
                    "could not revoke the sign-in at Asana ({e}); remove the app's access in Asana's settings"
                ))
            }
        }
    }
    let deleted = store.delete(&account).map_err(auth_failure)?;
    if let Some(w) = &warning {
        eprintln!("warning: {w}");
    }
    if out.json {
        println!(
            "{}",
            json!({"service": "asana", "revoked": revoked, "deleted": deleted, "store": store.describe()})
        );
    } else if !deleted {
        out.line(&format!(
            "No stored Asana credential in the {}.",
            store.describe()
        ));
    } else {
        let what = match stored {
            Some(Stored::OAuth(_)) if revoked => {
                "Revoked the OAuth sign-in at Asana and deleted it"
            }
            Some(Stored::OAuth(_)) => "Deleted the OAuth sign-in",
            _ => {
                "Deleted the stored token (a personal access token stays valid until you delete it in Asana's developer console)"
            }
        };
        out.line(&format!("{what} from the {}.", store.describe()));
    }
    if let Some(note) = env_note(config) {
        eprintln!("{note}");
    }
    Ok(if warning.is_some() {
        Exit::Runtime
    } else {
        Exit::Success
    })
}

fn me_json(me: &Me) -> Value {
    json!({"gid": me.gid, "name": me.name, "email": me.email})
}

/// `GET path` decoded, or the error.
async fn get_json(http: &HttpClient, request: Request) -> Result<Value, ConnectorError> {
    http.send(request).await?.json::<Value>()
}

async fn status(config: &Config, out: Output) -> Result<Exit, CliError> {
    let connectors = Connectors::new(config, true)?;
    let client: Arc<AsanaClient> = connectors.asana_client();
    let me = client.me().await.map_err(|e| {
        CliError::runtime(anyhow!(e).context(format!(
            "Asana refuses the credential ({})",
            connectors.asana_origin()
        )))
    })?;
    let mut warnings = Vec::new();
    let mut lines = vec![
        format!("Asana: acting as {}", describe(&me)),
        format!("  credential: {}", connectors.asana_origin()),
        "  every change the bridge makes in Asana shows this user as its author".to_owned(),
    ];
    let workspaces = get_json(
        client.http(),
        Request::get("/workspaces").query("opt_fields", "name"),
    )
    .await
    .map(|v| {
        v["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|w| json!({"gid": w["gid"], "name": w["name"]}))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    })
    .map_err(|e| CliError::runtime(anyhow!(e).context("cannot list the workspaces")))?;
    lines.push(format!(
        "  workspaces: {}",
        workspaces
            .iter()
            .map(|w| format!(
                "{} ({})",
                w["name"].as_str().unwrap_or("?"),
                w["gid"].as_str().unwrap_or("?")
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let mut links = Vec::new();
    let mut target_users: Vec<TargetUser> = Vec::new();
    for link in &config.links {
        let project = get_json(
            client.http(),
            Request::get(format!("/projects/{}", link.asana_project))
                .query("opt_fields", "name,workspace.name"),
        )
        .await;
        let mut entry = json!({"link": link.name, "asana_project": link.asana_project});
        match project {
            Ok(p) => {
                let name = p["data"]["name"].as_str().unwrap_or("?").to_owned();
                lines.push(format!(
                    "  link \"{}\": project \"{name}\" ({}) is visible",
                    link.name, link.asana_project
                ));
                entry["asana_visible"] = json!(true);
                entry["asana_project_name"] = json!(name);
            }
            Err(e) => {
                let w = format!(
                    "link \"{}\": Asana project {} is not visible to {} ({e}); add this user to the project (as a member or a guest)",
                    link.name,
                    link.asana_project,
                    describe(&me)
                );
                lines.push(format!("  warning: {w}"));
                warnings.push(w);
                entry["asana_visible"] = json!(false);
            }
        }
        if let Some(access) = link.target.access(&link.name, TARGET_RETRY).await {
            let kind = link.target.kind();
            let service = access.service;
            match &access.outcome {
                Ok(reach) => {
                    let login = reach
                        .login
                        .clone()
                        .unwrap_or_else(|| "the token (no user: an app installation?)".to_owned());
                    if !target_users
                        .iter()
                        .any(|u| u.kind == kind && u.login == login)
                    {
                        target_users.push(TargetUser {
                            kind,
                            service,
                            login: login.clone(),
                            token_env: access.token_env.clone(),
                        });
                    }
                    let what = format!("{service} {} {}", access.noun, access.scope);
                    if reach.visible {
                        lines.push(format!(
                            "  link \"{}\": {what} is visible to {login}",
                            link.name
                        ));
                    } else {
                        let w = format!("link \"{}\": {what} is not visible to {login}", link.name);
                        lines.push(format!("  warning: {w}"));
                        warnings.push(w);
                    }
                    entry[format!("{kind}_login")] = json!(login);
                    entry[format!("{kind}_visible")] = json!(reach.visible);
                }
                Err(e) => {
                    let e = match e {
                        AccessError::Refused { source, .. } => source.to_string(),
                        other => other.to_string(),
                    };
                    let w = format!("link \"{}\": {service}: {e}", link.name);
                    lines.push(format!("  warning: {w}"));
                    warnings.push(w);
                    entry[format!("{kind}_visible")] = json!(false);
                }
            }
        }
        links.push(entry);
    }
    for u in &target_users {
        lines.push(format!(
            "{}: acting as {} (token from environment variable {})",
            u.service, u.login, u.token_env
        ));
    }

    if out.json {
        let mut doc = json!({
            "asana": {
                "user": me_json(&me),
                "credential": connectors.asana_origin(),
                "workspaces": workspaces,
            },
            "links": links,
            "warnings": warnings,
        });
        // One list of identities per target kind (`"github": [{"login", "token_env"}]`).
        for kind in crate::targets::BUILTIN.iter().map(|k| k.key()) {
            doc[kind] = target_users
                .iter()
                .filter(|u| u.kind == kind)
                .map(|u| json!({"login": u.login, "token_env": u.token_env}))
                .collect();
        }
        println!("{doc}");
    } else {
        for line in &lines {
            out.line(line);
        }
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(if warnings.is_empty() {
        Exit::Success
    } else {
        Exit::Runtime
    })
}

/// How long `auth status` retries a target's service.
const TARGET_RETRY: Duration = Duration::from_secs(10);

/// Whom a target's credential acts as, once per kind and login.
struct TargetUser {
    /// The target kind (`github`): its key in the JSON output.
    kind: &'static str,
    /// The service, for the text output (`GitHub`).
    service: &'static str,
    login: String,
    token_env: String,
}
