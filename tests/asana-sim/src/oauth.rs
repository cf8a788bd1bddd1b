//! Asana's OAuth 2.0 endpoints, as the API notes (§10) describe them, for the bridge's
//! `auth login` / `auth logout` and its token refresh:
//!
//! - `GET /-/oauth_authorize`: the consent screen, approved at once (or denied once after
//!   [`Simulator::oauth_deny_next`]): a `302` to `redirect_uri?code=..&state=..`. An unknown
//!   `client_id` or a `redirect_uri` that is neither loopback `http` nor `https` is a plain
//!   `400` (never redirected); a missing `state`, a `response_type` other than `code` or a
//!   PKCE method other than `S256` is redirected back as `error=invalid_request`.
//! - `POST /-/oauth_token` (form): `authorization_code` (client secret, single-use code,
//!   same `redirect_uri`, and the PKCE `code_verifier` whose SHA-256 matches the
//!   challenge) and `refresh_token`. Answers `{access_token, token_type: "bearer",
//!   expires_in, refresh_token, data: {id, gid, name, email}}`; errors are RFC 6749 bodies
//!   (`invalid_client` 401, `invalid_grant` 400, ...).
//! - `POST /-/oauth_revoke` (form, `client_id`, `client_secret`, `token` = a refresh token):
//!   revokes the grant and every access token it issued; `200` for an unknown token, `400`
//!   for a missing one or an access token.
//!
//! Access tokens live [`Simulator::set_oauth_access_ttl`] (an hour by default, as in Asana)
//! and authenticate as the simulator's bot user. Every call is counted in [`OAuthStats`];
//! no code, token or secret is kept in it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::lock;
use crate::query::Params;
use crate::server::{Sim, Simulator};

/// The simulator's registered OAuth app.
pub const CLIENT_ID: &str = "1200000000000777";
/// Its client secret.
pub const CLIENT_SECRET: &str = "asana-sim-oauth-client-secret";

/// How long an authorization code may wait for its exchange.
const CODE_TTL: Duration = Duration::from_secs(600);

/// What the OAuth endpoints saw, for assertions (no secret in it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthStats {
    /// Consent screens answered with a code.
    pub authorizations: u32,
    /// Codes exchanged for tokens.
    pub code_exchanges: u32,
    /// Access tokens issued from a refresh token.
    pub refreshes: u32,
    /// Refresh tokens revoked through `/-/oauth_revoke`.
    pub revocations: u32,
    /// Token-endpoint requests refused (any error).
    pub token_errors: u32,
    /// API requests refused because their OAuth access token had expired.
    pub expired_access_rejections: u32,
    /// `code_challenge_method` of the last authorize request (`None`: no PKCE).
    pub last_challenge_method: Option<String>,
    /// `redirect_uri` of the last authorize request.
    pub last_redirect_uri: Option<String>,
    /// `scope` of the last authorize request.
    pub last_scope: Option<String>,
}

#[derive(Debug)]
struct Code {
    redirect_uri: String,
    challenge: Option<String>,
    issued: Instant,
}

#[derive(Debug)]
struct Access {
    refresh_token: String,
    expires: Instant,
}

/// The OAuth side of the simulated Asana.
#[derive(Debug)]
pub(crate) struct OAuth {
    access_ttl: Duration,
    deny_next: bool,
    codes: HashMap<String, Code>,
    /// Live refresh tokens.
    refresh_tokens: Vec<String>,
    access: HashMap<String, Access>,
    /// Every code, access token and refresh token ever issued (for "never leaked" checks).
    issued: Vec<String>,
    stats: OAuthStats,
}

impl Default for OAuth {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(3600),
            deny_next: false,
            codes: HashMap::new(),
            refresh_tokens: Vec::new(),
            access: HashMap::new(),
            issued: Vec::new(),
            stats: OAuthStats::default(),
        }
    }
}

impl OAuth {
    /// Whether `token` is a live OAuth access token; counts an expired one.
    pub(crate) fn authorizes(&mut self, token: &str) -> bool {
        let Some(access) = self.access.get(token) else {
            return false;
        };
        if access.expires > Instant::now() && self.refresh_tokens.contains(&access.refresh_token) {
            return true;
        }
        self.stats.expired_access_rejections += 1;
        false
    }

    fn issue_access(&mut self, refresh_token: &str) -> (String, u64) {
        let token = format!("1/sim-oauth-access:{}", uuid::Uuid::new_v4().simple());
        self.issued.push(token.clone());
        self.access.insert(
            token.clone(),
            Access {
                refresh_token: refresh_token.to_owned(),
                expires: Instant::now() + self.access_ttl,
            },
        );
        (token, self.access_ttl.as_secs().max(1))
    }
}

/// The OAuth routes, outside `/api/1.0` and its gate.
pub(crate) fn router(sim: Sim) -> Router {
    Router::new()
        .route("/-/oauth_authorize", get(authorize))
        .route("/-/oauth_token", post(token))
        .route("/-/oauth_revoke", post(revoke))
        .with_state(sim)
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())], "").into_response()
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", query.join("&"))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A loopback `http` redirect (RFC 8252) or any `https` one.
fn acceptable_redirect(uri: &str) -> bool {
    if uri.starts_with("https://") {
        return true;
    }
    ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|p| uri.starts_with(p))
}

async fn authorize(AxState(sim): AxState<Sim>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    if params.get("client_id") != Some(CLIENT_ID) {
        return plain(StatusCode::BAD_REQUEST, "invalid_client: unknown client_id");
    }
    let Some(redirect_uri) = params.get("redirect_uri").map(str::to_owned) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "invalid_request: redirect_uri missing",
        );
    };
    if !acceptable_redirect(&redirect_uri) {
        return plain(
            StatusCode::BAD_REQUEST,
            "invalid_request: redirect_uri must be https or a loopback http address",
        );
    }
    let state = params.get("state").unwrap_or_default().to_owned();
    let mut oauth = lock(&sim.oauth);
    oauth.stats.last_redirect_uri = Some(redirect_uri.clone());
    oauth.stats.last_challenge_method = params.get("code_challenge_method").map(str::to_owned);
    oauth.stats.last_scope = params.get("scope").map(str::to_owned);
    let fail = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if !state.is_empty() {
            pairs.push(("state", state.as_str()));
        }
        redirect(&with_query(&redirect_uri, &pairs))
    };
    if state.is_empty() {
        return fail("invalid_request", "state is required");
    }
    if params.get("response_type") != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let challenge = params.get("code_challenge").map(str::to_owned);
    if challenge.is_some() && params.get("code_challenge_method") != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if std::mem::take(&mut oauth.deny_next) {
        return fail("access_denied", "The user denied the request");
    }
    let code = format!("sim-code-{}", uuid::Uuid::new_v4().simple());
    oauth.issued.push(code.clone());
    oauth.codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect_uri.clone(),
            challenge,
            issued: Instant::now(),
        },
    );
    oauth.stats.authorizations += 1;
    redirect(&with_query(
        &redirect_uri,
        &[("code", code.as_str()), ("state", state.as_str())],
    ))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Base64url without padding (RFC 7636's encoding of the challenge).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn user_data(sim: &Sim) -> serde_json::Value {
    let st = lock(&sim.state);
    let me = st.me.clone();
    let user = st.user(&me);
    json!({
        "id": me.parse::<u64>().unwrap_or_default(),
        "gid": me,
        "name": user.map(|u| u.name.clone()).unwrap_or_default(),
        "email": user.map(|u| u.email.clone()).unwrap_or_default(),
    })
}

async fn token(AxState(sim): AxState<Sim>, body: Bytes) -> Response {
    let form = Params::parse(Some(&String::from_utf8_lossy(&body)));
    let answer = exchange(&sim, &form);
    if answer.status() != StatusCode::OK {
        lock(&sim.oauth).stats.token_errors += 1;
    }
    answer
}

fn client_ok(form: &Params) -> bool {
    form.get("client_id") == Some(CLIENT_ID) && form.get("client_secret") == Some(CLIENT_SECRET)
}

fn exchange(sim: &Sim, form: &Params) -> Response {
    if !client_ok(form) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id or client_secret is wrong",
        );
    }
    let user = user_data(sim);
    let mut oauth = lock(&sim.oauth);
    match form.get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = form.get("code").and_then(|c| oauth.codes.remove(c)) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the code is unknown or was already used",
                );
            };
            if code.issued.elapsed() > CODE_TTL {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code expired");
            }
            if form.get("redirect_uri") != Some(code.redirect_uri.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri does not match the authorize request",
                );
            }
            if let Some(challenge) = &code.challenge {
                let verified = form.get("code_verifier").is_some_and(|v| {
                    (43..=128).contains(&v.len())
                        && base64url(&Sha256::digest(v.as_bytes())) == *challenge
                });
                if !verified {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "code_verifier does not match the code_challenge",
                    );
                }
            }
            let refresh = format!("2/sim-oauth-refresh:{}", uuid::Uuid::new_v4().simple());
            oauth.refresh_tokens.push(refresh.clone());
            oauth.issued.push(refresh.clone());
            let (access, expires_in) = oauth.issue_access(&refresh);
            oauth.stats.code_exchanges += 1;
            axum::Json(json!({
                "access_token": access,
                "token_type": "bearer",
                "expires_in": expires_in,
                "refresh_token": refresh,
                "data": user,
            }))
            .into_response()
        }
        Some("refresh_token") => {
            let Some(refresh) = form
                .get("refresh_token")
                .filter(|r| oauth.refresh_tokens.iter().any(|t| t == r))
                .map(str::to_owned)
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is unknown or was revoked",
                );
            };
            let (access, expires_in) = oauth.issue_access(&refresh);
            oauth.stats.refreshes += 1;
            axum::Json(json!({
                "access_token": access,
                "token_type": "bearer",
                "expires_in": expires_in,
                "data": user,
            }))
            .into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

async fn revoke(AxState(sim): AxState<Sim>, body: Bytes) -> Response {
    let form = Params::parse(Some(&String::from_utf8_lossy(&body)));
    if !client_ok(&form) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id or client_secret is wrong",
        );
    }
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing",
        );
    };
    let mut oauth = lock(&sim.oauth);
    if oauth.access.contains_key(token) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            "only refresh tokens can be revoked",
        );
    }
    if let Some(at) = oauth.refresh_tokens.iter().position(|t| t == token) {
        let refresh = oauth.refresh_tokens.remove(at);
        oauth.access.retain(|_, a| a.refresh_token != refresh);
        oauth.stats.revocations += 1;
    }
    axum::Json(json!({})).into_response()
}

impl Simulator {
    /// The registered OAuth app: `(client_id, client_secret)`.
    pub fn oauth_client(&self) -> (String, String) {
        (CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())
    }

    /// `http://127.0.0.1:PORT/-/oauth_authorize`.
    pub fn oauth_authorize_url(&self) -> String {
        format!("{}/-/oauth_authorize", self.root_url())
    }

    /// `http://127.0.0.1:PORT/-/oauth_token`.
    pub fn oauth_token_url(&self) -> String {
        format!("{}/-/oauth_token", self.root_url())
    }

    /// `http://127.0.0.1:PORT/-/oauth_revoke`.
    pub fn oauth_revoke_url(&self) -> String {
        format!("{}/-/oauth_revoke", self.root_url())
    }

    /// How long access tokens issued from now on live (`expires_in` is its whole seconds,
    /// at least 1).
    pub fn set_oauth_access_ttl(&self, ttl: Duration) {
        lock(&self.shared.oauth).access_ttl = ttl;
    }

    /// The next consent screen is denied by the user.
    pub fn oauth_deny_next(&self) {
        lock(&self.shared.oauth).deny_next = true;
    }

    /// Every access token issued so far stops working now (as if it expired early).
    pub fn expire_oauth_access_tokens(&self) {
        let now = Instant::now();
        for access in lock(&self.shared.oauth).access.values_mut() {
            access.expires = now;
        }
    }

    /// The user removes the app in Asana: every grant (refresh and access tokens) dies.
    pub fn revoke_oauth_grants(&self) {
        let mut oauth = lock(&self.shared.oauth);
        oauth.refresh_tokens.clear();
        oauth.access.clear();
    }

    /// How many refresh tokens are live.
    pub fn oauth_live_grants(&self) -> usize {
        lock(&self.shared.oauth).refresh_tokens.len()
    }

    /// Every authorization code, access token and refresh token issued so far, for tests
    /// that prove none of them leaks into an output or a file.
    pub fn oauth_issued_secrets(&self) -> Vec<String> {
        lock(&self.shared.oauth).issued.clone()
    }

    /// What the OAuth endpoints saw.
    pub fn oauth_stats(&self) -> OAuthStats {
        lock(&self.shared.oauth).stats.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verifier and its S256 challenge (computed independently with Python's hashlib).
    #[test]
    fn s256_challenge_is_base64url_of_sha256() {
        let verifier = "dBjftJeZ4CVP-mJ0kzDrQhfbMQLxrLNcHxjvFZzTrPM";
        assert_eq!(
            base64url(&Sha256::digest(verifier.as_bytes())),
            "-hZ3wm2_xDJyabWWLodKL-pW-YCrD2tO7HxcmI0PBEk"
        );
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
    }

    #[test]
    fn only_loopback_http_or_https_redirects() {
        assert!(acceptable_redirect("http://127.0.0.1:8976/callback"));
        assert!(acceptable_redirect("https://example.com/cb"));
        assert!(!acceptable_redirect("http://example.com/cb"));
    }
}
