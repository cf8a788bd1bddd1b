//! `asana-bridge watch`: the command line's options handed to [`crate::watch`].

use std::path::Path;

use crate::cli::WatchArgs;
use crate::exit::{CliError, Exit};
use crate::watch::WatchOptions;

use super::{Output, load_config};

pub async fn run(config: &Path, args: &WatchArgs, out: Output) -> Result<Exit, CliError> {
    let options = WatchOptions {
        link: args.link.clone(),
        poll_interval: args.poll_interval,
        full_interval: args.full_interval,
        backup_poll_interval: args.backup_poll_interval,
        webhook_listen: args.webhook_listen,
        webhook_url: args.webhook_url.clone(),
        metrics_listen: args.metrics_listen,
        shard: args.shard,
    };
    crate::watch::run(load_config(config)?, &options, out).await
}
