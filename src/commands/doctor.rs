//! `asana-bridge doctor`: checks in one go what people get wrong when setting the bridge
//! up, one line per check, exit 1 when any fails:
//!
//! - the config parses;
//! - the Asana token works, and whose it is (`GET /users/me`);
//! - the machine's clock agrees with Asana's (its `Date` header);
//! - each linked Asana project is visible to that user;
//! - each linked GitHub repository is visible to its token;
//! - each Markdown folder exists (or can be created) and is writable;
//! - the state opens: read from a private copy, never created, migrated or locked;
//! - the public webhook URL (`--webhook-url`, as `watch` is given it) reaches a receiver.
//!
//! Nothing is written anywhere but a temporary dot-file in each folder, deleted at once;
//! no token is ever printed.

use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;
use asana_bridge_asana::{Me, listing};
use asana_bridge_connector::ConnectorError;
use asana_bridge_connector::connector::{Access, AccessError};
use asana_bridge_state::Store;
use serde_json::json;

use super::{Output, load_config};
use crate::cli::DoctorArgs;
use crate::config::Config;
use crate::connect::Connectors;
use crate::exit::{CliError, Exit};
use crate::linkstate::LinkState;

/// How long a check's requests are retried before it fails (a doctor answers quickly).
const RETRY_SECONDS: u64 = 10;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Ok,
    /// Works, but worth knowing (a folder the first sync will create, a skewed clock).
    Warn,
    Fail,
    /// Not checked, and why.
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
            Self::Skip => "skip",
        }
    }
}

/// The checks done so far; each is printed as it completes.
struct Report {
    out: Output,
    checks: Vec<(String, Status, String)>,
}

impl Report {
    fn add(&mut self, check: impl Into<String>, status: Status, detail: impl Into<String>) {
        let (check, detail) = (check.into(), detail.into());
        self.out
            .line(&format!("{:<4}  {check}: {detail}", status.label()));
        self.checks.push((check, status, detail));
    }

    fn failed(&self) -> bool {
        self.checks.iter().any(|(_, s, _)| *s == Status::Fail)
    }
}

/// Runs every check.
pub async fn run(config_path: &Path, args: &DoctorArgs, out: Output) -> Result<Exit, CliError> {
    let mut report = Report {
        out,
        checks: Vec::new(),
    };
    match load_config(config_path) {
        Ok(config) => {
            report.add(
                "config",
                Status::Ok,
                format!(
                    "{} parses ({} link{})",
                    config_path.display(),
                    config.links.len(),
                    if config.links.len() == 1 { "" } else { "s" }
                ),
            );
            check_all(&mut report, &config, args).await;
        }
        Err(e) => {
            report.add("config", Status::Fail, format!("{:#}", e.error));
            report.add(
                "the rest",
                Status::Skip,
                "every other check needs a config that parses",
            );
        }
    }
    if out.json {
        let checks: Vec<_> = report
            .checks
            .iter()
            .map(|(check, status, detail)| {
                json!({"check": check, "status": status.label().to_lowercase(), "detail": detail})
            })
            .collect();
        println!("{}", json!({ "ok": !report.failed(), "checks": checks }));
    }
    Ok(if report.failed() {
        Exit::Runtime
    } else {
        Exit::Success
    })
}

async fn check_all(report: &mut Report, config: &Config, args: &DoctorArgs) {
    let asana = check_asana(report, config, args.clock_tolerance).await;
    for link in &config.links {
        let name = format!("link \"{}\"", link.name);
        match &asana {
            Some((connectors, me)) => {
                check_project(report, &name, connectors, me, &link.asana_project).await;
            }
            None => report.add(
                format!("{name} asana project"),
                Status::Skip,
                format!("{} not checked without a working token", link.asana_project),
            ),
        }
        if let Some(dir) = link.target.folder() {
            check_folder(report, &name, dir);
        }
        let retry = Duration::from_secs(RETRY_SECONDS);
        if let Some(access) = link.target.access(&link.name, retry).await {
            check_access(report, &name, link.target.kind(), access);
        }
    }
    check_state(report, config);
    check_webhooks(report, config, args.webhook_url.as_deref()).await;
}

fn describe(me: &Me) -> String {
    if me.email.is_empty() {
        format!("{} (gid {})", me.name, me.gid)
    } else {
        format!("{} <{}> (gid {})", me.name, me.email, me.gid)
    }
}

/// The token (and whose it is) and the clock; the client for the project checks.
async fn check_asana(
    report: &mut Report,
    config: &Config,
    clock_tolerance: u64,
) -> Option<(Connectors, Me)> {
    let mut quick = config.clone();
    quick.asana.retry_max_seconds = RETRY_SECONDS;
    let connectors = match Connectors::new(&quick, true) {
        Ok(c) => c,
        Err(e) => {
            report.add("asana token", Status::Fail, format!("{:#}", e.error));
            report.add(
                "clock",
                Status::Skip,
                "compared with Asana's, which needs the token",
            );
            return None;
        }
    };
    let client = connectors.asana_client();
    let me = match client.me().await {
        Ok(me) => me,
        Err(e) => {
            let hint = match e {
                ConnectorError::Unauthorized { .. } => {
                    "; create a new token (or run `asana-bridge auth login`)"
                }
                _ => "",
            };
            report.add(
                "asana token",
                Status::Fail,
                format!(
                    "Asana refuses the credential from {}: {e}{hint}",
                    connectors.asana_origin()
                ),
            );
            report.add(
                "clock",
                Status::Skip,
                "compared with Asana's, which needs the token",
            );
            return None;
        }
    };
    report.add(
        "asana token",
        Status::Ok,
        format!(
            "acts as {} (credential: {}); every change the bridge makes in Asana shows this user as its author",
            describe(&me),
            connectors.asana_origin()
        ),
    );
    match client.http().clock_offset() {
        None => report.add(
            "clock",
            Status::Warn,
            "Asana's answer carried no Date header to compare with",
        ),
        Some(offset) => {
            let secs = offset.as_secs().unsigned_abs();
            if secs > clock_tolerance {
                let way = if offset.is_negative() {
                    "ahead of"
                } else {
                    "behind"
                };
                report.add(
                    "clock",
                    Status::Warn,
                    format!(
                        "this machine's clock is {secs} s {way} Asana's (more than {clock_tolerance} s): \
                         the bridge corrects for it, but set the clock right (NTP) so times in files and logs agree"
                    ),
                );
            } else {
                report.add(
                    "clock",
                    Status::Ok,
                    format!("within {clock_tolerance} s of Asana's ({secs} s apart)"),
                );
            }
        }
    }
    Some((connectors, me))
}

async fn check_project(
    report: &mut Report,
    name: &str,
    connectors: &Connectors,
    me: &Me,
    gid: &str,
) {
    let check = format!("{name} asana project");
    match listing::project(&connectors.asana_client(), gid).await {
        Ok(Some(p)) => report.add(
            check,
            Status::Ok,
            format!(
                "\"{}\" ({gid}) in workspace \"{}\" is visible{}",
                p.project.name,
                p.workspace.name,
                if p.project.archived { " (archived)" } else { "" }
            ),
        ),
        Ok(None) => report.add(
            check,
            Status::Fail,
            format!(
                "project {gid} is not visible to {}: share it with this user (as a member or a guest), or fix the gid (`asana-bridge projects` lists the visible ones)",
                describe(me)
            ),
        ),
        Err(e) => report.add(check, Status::Fail, format!("cannot read project {gid}: {e}")),
    }
}

/// A target's credential and reach (a GitHub link's token and repository).
fn check_access(report: &mut Report, name: &str, kind: &str, access: Access) {
    let check = format!("{name} {kind} {}", access.noun);
    let Access {
        scope,
        token_env,
        outcome,
        ..
    } = access;
    match outcome {
        Ok(reach) => {
            // A GitHub App installation token acts as no user (GitHub answers 403 for
            // it), and whether it reaches the scope still tells whether it works.
            let login = reach
                .login
                .unwrap_or_else(|| "the token (no user: an app installation?)".to_owned());
            if reach.visible {
                report.add(
                    check,
                    Status::Ok,
                    format!("{scope} is visible to {login} (token from {token_env})"),
                );
            } else {
                report.add(
                    check,
                    Status::Fail,
                    format!(
                        "{scope} is not visible to {login} (token from {token_env}): give the token access to it, or fix the name"
                    ),
                );
            }
        }
        Err(AccessError::Setup(message)) => report.add(check, Status::Fail, message),
        Err(e @ AccessError::Refused { .. }) => report.add(check, Status::Fail, e.to_string()),
        Err(AccessError::Failed(e)) => {
            report.add(check, Status::Fail, format!("cannot read {scope}: {e}"));
        }
    }
}

/// Whether a file can be created in `dir` (a temporary dot-file, which every connector
/// ignores, removed at once).
fn writable(dir: &Path) -> Result<(), std::io::Error> {
    tempfile::Builder::new()
        .prefix(".asana-bridge-doctor-")
        .tempfile_in(dir)
        .map(drop)
}

fn check_folder(report: &mut Report, name: &str, dir: &Path) {
    let check = format!("{name} folder");
    let shown = dir.display();
    if dir.is_dir() {
        match writable(dir) {
            Ok(()) => report.add(check, Status::Ok, format!("{shown} exists and is writable")),
            Err(e) => report.add(check, Status::Fail, format!("{shown} is not writable: {e}")),
        }
        return;
    }
    if dir.exists() {
        report.add(check, Status::Fail, format!("{shown} is not a folder"));
        return;
    }
    // Missing: the first sync creates it, if its nearest existing ancestor lets it.
    let mut ancestor = dir.parent();
    while let Some(a) = ancestor {
        if a.as_os_str().is_empty() || a.exists() {
            break;
        }
        ancestor = a.parent();
    }
    let ancestor = ancestor
        .filter(|a| !a.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    if !ancestor.is_dir() {
        report.add(
            check,
            Status::Fail,
            format!(
                "{shown} does not exist and cannot be created: {} is not a folder",
                ancestor.display()
            ),
        );
        return;
    }
    match writable(ancestor) {
        Ok(()) => report.add(
            check,
            Status::Warn,
            format!("{shown} does not exist yet; the first sync creates it"),
        ),
        Err(e) => report.add(
            check,
            Status::Fail,
            format!(
                "{shown} does not exist and cannot be created in {}: {e}",
                ancestor.display()
            ),
        ),
    }
}

/// Opens the state read-only: from a private copy, so nothing is created, migrated or
/// locked; a running `watch` holds it, and then it is left alone.
fn check_state(report: &mut Report, config: &Config) {
    let dir = &config.state_dir;
    let shown = dir.display();
    if !dir.exists() {
        report.add(
            "state",
            Status::Ok,
            format!("none yet at {shown}; the first sync creates it"),
        );
        return;
    }
    if Store::is_in_use(dir) {
        report.add(
            "state",
            Status::Ok,
            format!("{shown} is in use by a running `watch` or `sync` (not opened)"),
        );
        return;
    }
    let opened = Store::open_snapshot(dir).and_then(|store| {
        let mut mapped = 0;
        for link in &config.links {
            let state = LinkState::open(&store, &link.name)?;
            state.meta()?;
            mapped += state.pairs.len();
        }
        Ok(mapped)
    });
    match opened {
        Ok(mapped) => report.add(
            "state",
            Status::Ok,
            format!(
                "{shown} opens ({mapped} mapped item{})",
                if mapped == 1 { "" } else { "s" }
            ),
        ),
        Err(e) => report.add("state", Status::Fail, e.to_string()),
    }
}

/// The public URL of `watch`'s receiver: an unsigned delivery to it must come back 401
/// from the receiver (which then drops it).
async fn check_webhooks(report: &mut Report, config: &Config, url: Option<&str>) {
    let Some(url) = url else {
        report.add(
            "webhooks",
            Status::Skip,
            "not checked; pass --webhook-url URL (as given to `watch`) while `watch` runs to check that it reaches the receiver",
        );
        return;
    };
    let Some(link) = config.links.first() else {
        report.add("webhooks", Status::Skip, "no link to address a delivery to");
        return;
    };
    let target = format!("{}/{}", url.trim_end_matches('/'), link.name);
    let parsed = match reqwest::Url::parse(&target) {
        Ok(u) => u,
        Err(e) => {
            report.add("webhooks", Status::Fail, format!("{url} is not a URL: {e}"));
            return;
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(RETRY_SECONDS))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            report.add(
                "webhooks",
                Status::Fail,
                format!("cannot set up an HTTP client: {e}"),
            );
            return;
        }
    };
    let answer = client
        .post(parsed.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("{\"events\":[]}")
        .send()
        .await;
    let cleartext = if parsed.scheme() == "https" {
        ""
    } else {
        " (but Asana and GitHub deliver only to https:// URLs)"
    };
    match answer {
        Ok(r) if r.status().as_u16() == 401 => report.add(
            "webhooks",
            if cleartext.is_empty() { Status::Ok } else { Status::Warn },
            format!("{target} reaches a receiver: an unsigned delivery was refused (401) as it should be{cleartext}"),
        ),
        Ok(r) => report.add(
            "webhooks",
            Status::Fail,
            format!(
                "{target} answered {} to an unsigned delivery, where `watch`'s receiver answers 401: is the URL routed to `watch --webhook-listen`?",
                r.status()
            ),
        ),
        Err(e) => report.add(
            "webhooks",
            Status::Fail,
            format!("{target} is not reachable: {:#}", anyhow!(e)),
        ),
    }
}
