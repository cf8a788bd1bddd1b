//! Warnings about settings that expose what the bridge guards: an `http://` API URL (the
//! token and every task would cross the network in cleartext), an `http://` public
//! webhook URL (deliveries and Asana's handshake secret in cleartext), and a webhook
//! receiver bound to every interface (reachable by anything that can route to the host).
//!
//! Each is one line on stderr (a `WARN`, silenced by `-q`) and changes nothing: the
//! setting may be deliberate (a proxy on the same host, a private network). Loopback
//! hosts (`127.0.0.0/8`, `::1`, `localhost`) are not warned about: the traffic never
//! leaves the machine.

use std::net::{IpAddr, SocketAddr};

use crate::config::Config;

/// The warning for `url` (the `what` of the message) when it is cleartext `http://` to a
/// host other than a loopback one.
#[must_use]
pub fn cleartext_url(what: &str, url: &str) -> Option<String> {
    let rest = strip_prefix_ignore_case(url.trim(), "http://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if is_loopback(host) {
        return None;
    }
    Some(format!(
        "{what} {url} is cleartext http://: what it carries can be read and changed on the way; use https://"
    ))
}

/// The warning for a webhook receiver bound to every interface (`0.0.0.0`, `[::]`).
#[must_use]
pub fn every_interface(listen: &SocketAddr) -> Option<String> {
    listen.ip().is_unspecified().then(|| {
        format!(
            "--webhook-listen {listen} accepts connections on every interface; bind 127.0.0.1 behind a reverse proxy unless the receiver must face the network itself"
        )
    })
}

/// The warnings a config earns: its Asana URLs (API, OAuth token and revoke endpoints)
/// and each link target's service URL (GitHub's API URL).
#[must_use]
pub fn config_warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(cleartext_url("the Asana API URL", &config.asana.base_url));
    let oauth = &config.asana.oauth;
    out.extend(cleartext_url("asana.oauth.token_url", &oauth.token_url));
    out.extend(cleartext_url("asana.oauth.revoke_url", &oauth.revoke_url));
    for link in &config.links {
        if let Some((what, url)) = link.target.service_url() {
            out.extend(cleartext_url(
                &format!("link \"{}\": {what}", link.name),
                url,
            ));
        }
    }
    out
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cleartext to another host warns; https and loopback hosts do not.
    #[test]
    fn cleartext_urls() {
        for warned in [
            "http://app.asana.com/api/1.0",
            "HTTP://api.github.com",
            "http://10.0.0.5:8080/x",
            "http://user@proxy.example:3128",
            "http://[2001:db8::1]:80/",
            "http://127.example.com/",
        ] {
            assert!(cleartext_url("x", warned).is_some(), "{warned}");
        }
        for quiet in [
            "https://app.asana.com/api/1.0",
            "http://127.0.0.1:4010/api/1.0",
            "http://127.1.2.3/",
            "http://localhost:8080",
            "http://[::1]:9000/x",
            "http://a.localhost/",
        ] {
            assert!(cleartext_url("x", quiet).is_none(), "{quiet}");
        }
    }

    /// Only the unspecified addresses are "every interface".
    #[test]
    fn every_interface_only_for_unspecified() {
        for (addr, warned) in [
            ("0.0.0.0:8787", true),
            ("[::]:8787", true),
            ("127.0.0.1:8787", false),
            ("192.168.1.5:8787", false),
        ] {
            let addr: SocketAddr = addr.parse().expect("address");
            assert_eq!(every_interface(&addr).is_some(), warned, "{addr}");
        }
    }
}
