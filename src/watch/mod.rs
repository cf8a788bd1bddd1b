//! `asana-bridge watch`: keeps every link (or one) mirrored until SIGINT/SIGTERM.
//!
//! - [`link`]: one link's loop (polls of Asana's change feed, folder changes, webhook
//!   prompts, periodic full reconcile, outage backoff).
//! - [`folder`]: the Markdown folder's watcher (notify, debounced).
//! - [`published`]: the status file `asana-bridge status` reads while watch holds the store.
//! - [`webhook`]: the optional Asana webhook receiver, a prompt to poll now.
//! - [`receiver`]: its HTTP server, bounded in time, size and connections.
//! - [`target_hook`]: the webhook of a link's target (a GitHub repository), on the same
//!   receiver.
//! - [`hooks`]: what both kinds of webhook share: their records in the state store and
//!   the removal of what an earlier run left.
//! - [`metrics`]: `--metrics-listen`, Prometheus metrics and `/healthz`.
//! - [`shard`]: `--shard K/N`, which links this process runs.
//!
//! The state store is held for the whole run (one process per state directory). On a
//! signal every loop finishes the sync in hand (actions not yet begun are left for the
//! next run), the store is flushed and the command exits 0.

pub mod delivery;
pub mod folder;
pub mod hooks;
pub mod link;
pub mod metrics;
pub mod published;
pub mod receiver;
pub mod shard;
pub mod target_hook;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use asana_bridge_state::Store;
use tokio::sync::Notify;

use crate::config::Config;
use crate::connect::{Connectors, LinkConnectors};
use crate::exit::{CliError, Exit};
use crate::output::Output;
use folder::FolderWatch;
use link::LinkLoop;
use published::Publisher;
use target_hook::TargetLink;
use webhook::{LinkHook, WebhookOptions, Webhooks};

/// How often a running watch checks that its webhooks are still alive (Asana deletes one
/// after a day of failed deliveries) and registers them again.
const WEBHOOK_REFRESH: Duration = Duration::from_secs(3600);

/// What `watch` runs with, as the command line gives it.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// Only this link.
    pub link: Option<String>,
    /// Seconds between polls of Asana's change feed (else the link's `poll_interval`).
    pub poll_interval: Option<u64>,
    /// Seconds between full reconciles.
    pub full_interval: u64,
    /// Seconds between backup polls of a link that a webhook speeds up.
    pub backup_poll_interval: u64,
    /// Where the webhook receiver listens, and the public URL that reaches it.
    pub webhook_listen: Option<std::net::SocketAddr>,
    pub webhook_url: Option<String>,
    /// Where `/metrics` and `/healthz` are served.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Only the links of this shard.
    pub shard: Option<shard::Shard>,
}

/// Runs `watch`.
pub async fn run(config: Config, args: &WatchOptions, out: Output) -> Result<Exit, CliError> {
    let mut links = config.select(args.link.as_deref())?;
    if let Some(shard) = args.shard {
        let all = links.len();
        links.retain(|l| shard.runs(&l.name));
        let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
        out.line(&format!(
            "shard {shard}: {} of the {all} links in the config: {}",
            links.len(),
            if names.is_empty() {
                "(none)".to_owned()
            } else {
                names.join(", ")
            }
        ));
    }
    let metrics = match args.metrics_listen {
        Some(listen) => Some(start_metrics(listen).await?),
        None => None,
    };
    let connectors = Connectors::new(&config, false)?;
    let store = Arc::new(Store::open(&config.state_dir)?);
    let publisher = Arc::new(Publisher::new(&config.state_dir));

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let cancel = Arc::new(AtomicBool::new(false));
    tokio::spawn(wait_for_signal(stop_tx, Arc::clone(&cancel)));

    let mut loops = Vec::new();
    for link in links {
        let LinkConnectors { asana, target } = connectors.for_link(link, true)?;
        let folder = match link.target.folder() {
            Some(dir) => Some(FolderWatch::start(dir).map_err(|e| {
                CliError::runtime(anyhow!(
                    "link \"{}\": cannot watch the folder {}: {e}",
                    link.name,
                    dir.display()
                ))
            })?),
            None => None,
        };
        let poll = Duration::from_secs(
            args.poll_interval
                .or(link.poll_interval)
                .unwrap_or(DEFAULT_POLL_SECS),
        );
        if let Some((m, _)) = &metrics {
            m.watch_link(&link.name, Duration::from_secs(args.full_interval) + poll);
        }
        loops.push(LinkLoop {
            link: link.clone(),
            asana,
            target,
            store: Arc::clone(&store),
            folder,
            prompt: Arc::new(Notify::new()),
            webhook: false,
            poll,
            backup_poll: poll.max(Duration::from_secs(args.backup_poll_interval)),
            full_every: Duration::from_secs(args.full_interval),
            publisher: Arc::clone(&publisher),
            out,
        });
    }
    let webhooks = match (&args.webhook_listen, &args.webhook_url) {
        (Some(listen), Some(url)) => {
            let warnings = [
                crate::exposure::every_interface(listen),
                crate::exposure::cleartext_url("--webhook-url", url),
            ];
            for warning in warnings.into_iter().flatten() {
                tracing::warn!("{warning}");
            }
            let mut hooks: Vec<LinkHook> = Vec::with_capacity(loops.len());
            for l in &loops {
                // The hook calls get a connector of their own (no cache file).
                let target = connectors.hooks(&l.link)?.map(TargetLink::new);
                hooks.push(LinkHook {
                    link: l.link.name.clone(),
                    project: l.link.asana_project.clone(),
                    prompt: Arc::clone(&l.prompt),
                    target,
                });
            }
            let started = Webhooks::start(
                WebhookOptions {
                    listen: *listen,
                    public_url: url.clone(),
                },
                connectors.asana_client(),
                Arc::clone(&store),
                hooks,
            )
            .await
            .map_err(|e| CliError::usage(anyhow!("{e}")))?;
            for l in &mut loops {
                l.webhook = started.is_active(&l.link.name);
            }
            Some(Arc::new(started))
        }
        _ => None,
    };
    let refresher = webhooks
        .as_ref()
        .map(|hooks| tokio::spawn(refresh_webhooks(Arc::clone(hooks), stop_rx.clone())));
    out.line(&format!(
        "watching {} link{} (Ctrl-C to stop)",
        loops.len(),
        if loops.len() == 1 { "" } else { "s" }
    ));

    let metrics_server = metrics
        .map(|(m, listener)| tokio::spawn(metrics::server::serve(listener, m, stop_rx.clone())));
    if loops.is_empty() {
        // A shard with no link of its own idles (a replica of a StatefulSet must not
        // exit), healthy, until stopped.
        let mut stop = stop_rx.clone();
        let _ = stop.wait_for(|s| *s).await;
    }
    let results = futures::future::join_all(
        loops
            .into_iter()
            .map(|l| l.run(stop_rx.clone(), cancel.as_ref())),
    )
    .await;
    // The refresher holds the other handle on the webhooks: it must be gone before they
    // can be shut down (it may not have seen the stop yet).
    if let Some(refresher) = refresher {
        refresher.abort();
        let _ = refresher.await;
    }
    if let Some(hooks) = webhooks {
        match Arc::try_unwrap(hooks) {
            Ok(hooks) => hooks.shutdown().await,
            Err(_) => {
                tracing::warn!("webhooks still in use at shutdown; the next start deletes them")
            }
        }
    }
    if let Some(server) = metrics_server {
        // Not waited for: the loops may have ended on a state failure, with no stop sent.
        server.abort();
        let _ = server.await;
    }
    publisher.remove();
    store.flush()?;
    for result in results {
        result?;
    }
    out.line("stopped");
    Ok(Exit::Success)
}

/// Installs the metrics and binds their server's address (a taken address is a usage
/// error, said before anything runs).
async fn start_metrics(
    listen: std::net::SocketAddr,
) -> Result<(Arc<metrics::Metrics>, tokio::net::TcpListener), CliError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::usage(anyhow!("cannot serve metrics on {listen}: {e}")))?;
    Ok((metrics::install(), listener))
}

/// Whether stderr carries JSON log lines (`--log-format json`, set once by the binary).
static JSON_LOGS: AtomicBool = AtomicBool::new(false);

/// Makes watch's own messages on stderr (errors, outages) log events, so that with
/// `--log-format json` every stderr line is JSON.
pub fn log_messages_as_json() {
    JSON_LOGS.store(true, Ordering::Relaxed);
}

/// Writes one of watch's messages to stderr: as it is, or as a log event (`error: ...` at
/// error level, anything else at warning level) when the logs are JSON.
fn stderr_line(line: &str) {
    if !JSON_LOGS.load(Ordering::Relaxed) {
        eprintln!("{line}");
    } else if let Some(error) = line.strip_prefix("error: ") {
        tracing::error!("{error}");
    } else {
        tracing::warn!("{}", line.strip_prefix("warning: ").unwrap_or(line));
    }
}

/// Seconds between polls when neither `--poll-interval` nor the link says.
pub const DEFAULT_POLL_SECS: u64 = 10;

/// Checks the webhooks now and then until shutdown.
async fn refresh_webhooks(hooks: Arc<Webhooks>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(WEBHOOK_REFRESH) => {
                let live = hooks.refresh().await;
                tracing::debug!(live, "webhooks refreshed");
            }
            _ = stop.changed() => return,
        }
    }
}

/// Waits for SIGINT or SIGTERM, then asks every loop to stop.
async fn wait_for_signal(stop: tokio::sync::watch::Sender<bool>, cancel: Arc<AtomicBool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot listen for signals; stop watch with kill -9");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("stopping: finishing the work in hand");
    cancel.store(true, Ordering::SeqCst);
    let _ = stop.send(true);
}
