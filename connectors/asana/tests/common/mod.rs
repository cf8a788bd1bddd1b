//! What the Asana connector's tests share: a client on the bundled simulator, with a
//! budget no test reaches and retries that give up fast.

use std::sync::Arc;
use std::time::Duration;

use asana_bridge_asana::{AsanaClient, AsanaConfig};
use asana_bridge_connector::http::{HttpClient, RetryPolicy};
use asana_sim::Simulator;
use secrecy::SecretString;

/// A client with `sim`'s token.
pub fn client(sim: &Simulator) -> Arc<AsanaClient> {
    let mut config =
        AsanaConfig::new(sim.base_url(), SecretString::from(sim.token())).http_config();
    config.requests_per_minute = 100_000;
    config.retry = RetryPolicy::fast(Duration::from_secs(5));
    Arc::new(AsanaClient::with_http(
        HttpClient::new(config).expect("valid config"),
    ))
}
