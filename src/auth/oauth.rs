//! OAuth 2.0 against Asana (API notes §10), with the `oauth2` crate for PKCE, `state` and
//! the token requests, and the bridge's own reqwest for HTTP:
//!
//! - [`login`]: the authorization-code flow with PKCE (S256) and a loopback redirect
//!   `http://127.0.0.1:<port>/callback` that [`login`] serves for the one request it
//!   expects (any other path is a 404; a wrong `state` ends the login).
//! - [`OAuthSource`]: the [`TokenSource`] of a run: it refreshes the access token (which
//!   lives about an hour) shortly before it expires and once more when Asana answers 401;
//!   concurrent requests share one refresh.
//! - [`revoke`]: `POST /-/oauth_revoke` with the refresh token (done by hand: Asana wants
//!   `client_id`, `client_secret`, `token` in the form, and `oauth2`'s RFC 7009 request
//!   refuses non-https URLs such as the simulator's).
//!
//! No token, code, code verifier or client secret is ever logged, printed or put into an
//! error: they live in `SecretString`s or `oauth2`'s redacting newtypes, and token-endpoint
//! errors are reduced to the OAuth error code and description.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use asana_bridge_connector::ConnectorError;
use asana_bridge_connector::http::TokenSource;
use async_trait::async_trait;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::debug;

use super::AuthError;

/// The user's own Asana OAuth app, and where its endpoints are.
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    /// `0` picks a free port (only useful against a server that accepts any loopback port).
    pub redirect_port: u16,
    /// Requested scopes; empty asks for none (Asana then grants the app's configured ones).
    pub scopes: Vec<String>,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .field("redirect_port", &self.redirect_port)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Who signed in, as the token endpoint's `data` names them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUser {
    #[serde(default)]
    pub gid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
}

/// Asana's extra token-answer fields.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct AsanaExtra {
    #[serde(default)]
    data: Option<TokenUser>,
}

impl ExtraTokenFields for AsanaExtra {}

type AsanaTokenResponse = StandardTokenResponse<AsanaExtra, BasicTokenType>;

/// The `oauth2` client with authorize and token endpoints set.
type Client = oauth2::Client<
    BasicErrorResponse,
    AsanaTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What a token request gave.
pub struct Tokens {
    pub access_token: SecretString,
    /// When the access token stops working, as announced.
    pub expires_at: Option<Instant>,
    /// Present on a code exchange (and when a refresh rotates it).
    pub refresh_token: Option<SecretString>,
    pub user: Option<TokenUser>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl OAuthApp {
    fn client(&self, redirect: Option<&str>) -> Result<Client, AuthError> {
        let url_error = |what: &'static str| {
            move |e: oauth2::url::ParseError| AuthError::Config(format!("asana.oauth.{what}: {e}"))
        };
        let mut client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                self.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(
                AuthUrl::new(self.authorize_url.clone()).map_err(url_error("authorize_url"))?,
            )
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(url_error("token_url"))?);
        if let Some(redirect) = redirect {
            client = client.set_redirect_uri(
                RedirectUrl::new(redirect.to_owned()).map_err(url_error("redirect"))?,
            );
        }
        Ok(client)
    }
}

/// The HTTP client of token requests: no redirects (a token answer is never followed
/// elsewhere), short timeouts.
fn http() -> Result<reqwest::Client, AuthError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("asana-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AuthError::Network(e.without_url().to_string()))
}

type HttpFuture = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send>>;

/// A transport failure of a token request (its message names no URL and no body).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// `oauth2`'s async HTTP client over the bridge's reqwest.
fn adapter(client: reqwest::Client) -> impl Fn(oauth2::HttpRequest) -> HttpFuture {
    move |request: oauth2::HttpRequest| {
        let client = client.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(error_line(&e.without_url())))?;
            let mut builder = oauth2::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| HttpError(error_line(&e.without_url())))?;
            builder
                .body(body.to_vec())
                .map_err(|e| HttpError(e.to_string()))
        })
    }
}

fn error_line(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// A token-endpoint failure, reduced to what may be shown.
fn token_error(e: oauth2::RequestTokenError<HttpError, BasicErrorResponse>) -> AuthError {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => AuthError::Refused {
            error: r.error().to_string(),
            description: r.error_description().cloned().unwrap_or_default(),
        },
        oauth2::RequestTokenError::Request(e) => AuthError::Network(e.0),
        // The body may hold tokens: never shown.
        oauth2::RequestTokenError::Parse(..) => AuthError::Network(
            "the token endpoint's answer is not the JSON OAuth describes".to_owned(),
        ),
        oauth2::RequestTokenError::Other(m) => AuthError::Network(m),
    }
}

fn tokens(response: &AsanaTokenResponse) -> Tokens {
    Tokens {
        access_token: SecretString::from(response.access_token().secret().clone()),
        expires_at: response.expires_in().map(|d| Instant::now() + d),
        refresh_token: response
            .refresh_token()
            .map(|r| SecretString::from(r.secret().clone())),
        user: response.extra_fields().data.clone(),
    }
}

/// The redirect URI of a loopback listener.
fn redirect_uri(listener: &TcpListener) -> Result<String, AuthError> {
    let port = listener
        .local_addr()
        .map_err(|e| AuthError::Loopback(e.to_string()))?
        .port();
    Ok(format!("http://127.0.0.1:{port}/callback"))
}

/// Runs the authorization-code flow with PKCE: binds the loopback redirect, hands the
/// consent URL to `show` (print it, open a browser), serves the one callback it expects,
/// checks `state`, and exchanges the code. Gives up after `timeout`.
///
/// # Errors
/// [`AuthError`]: the port is taken, the user denied, the `state` did not match, the
/// token endpoint refused, the timeout passed.
pub async fn login(
    app: &OAuthApp,
    timeout: Duration,
    show: impl FnOnce(&str),
) -> Result<Tokens, AuthError> {
    let listener = TcpListener::bind(("127.0.0.1", app.redirect_port))
        .await
        .map_err(|e| {
            AuthError::Loopback(format!(
                "cannot listen on 127.0.0.1:{} for the redirect: {e}",
                app.redirect_port
            ))
        })?;
    let redirect = redirect_uri(&listener)?;
    let client = app.client(Some(&redirect))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(app.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .url();
    show(url.as_str());

    let code = tokio::time::timeout(timeout, callback(&listener, state.secret()))
        .await
        .map_err(|_| AuthError::Timeout(timeout))??;
    let http = adapter(http()?);
    let response = client
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .map_err(token_error)?;
    Ok(tokens(&response))
}

/// Serves the loopback redirect until the callback arrives; returns its code.
async fn callback(listener: &TcpListener, state: &str) -> Result<AuthorizationCode, AuthError> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| AuthError::Loopback(e.to_string()))?;
        let Some(target) = read_request_target(&mut stream).await else {
            continue;
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if path != "/callback" {
            respond(&mut stream, 404, "Not found.").await;
            continue;
        }
        let pairs: Vec<(String, String)> = oauth2::url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if get("state") != Some(state) {
            respond(
                &mut stream,
                400,
                "The sign-in answer does not belong to this login (state mismatch). Run `asana-bridge auth login` again.",
            )
            .await;
            return Err(AuthError::StateMismatch);
        }
        if let Some(error) = get("error") {
            let description = get("error_description").unwrap_or_default().to_owned();
            respond(
                &mut stream,
                400,
                &format!("Asana did not grant access: {error}. You can close this tab."),
            )
            .await;
            return Err(AuthError::Refused {
                error: error.to_owned(),
                description,
            });
        }
        let Some(code) = get("code").filter(|c| !c.is_empty()) else {
            respond(&mut stream, 400, "The answer holds no code.").await;
            return Err(AuthError::Refused {
                error: "invalid_request".to_owned(),
                description: "the redirect held no code".to_owned(),
            });
        };
        respond(
            &mut stream,
            200,
            "asana-bridge is signed in to Asana. You can close this tab.",
        )
        .await;
        return Ok(AuthorizationCode::new(code.to_owned()));
    }
}

/// Reads a request head (at most 16 KiB, 10 s) and returns the target of a `GET`.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next()?.split_whitespace();
    if parts.next()? != "GET" {
        respond(stream, 405, "Method not allowed.").await;
        return None;
    }
    parts.next().map(str::to_owned)
}

async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>asana-bridge</title></head><body><p>{}</p></body></html>",
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Exchanges a refresh token for a new access token.
///
/// # Errors
/// [`AuthError::Refused`] (`invalid_grant`: revoked or expired grant), network errors.
pub async fn refresh(app: &OAuthApp, refresh_token: &SecretString) -> Result<Tokens, AuthError> {
    let client = app.client(None)?;
    let http = adapter(http()?);
    let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let response = client
        .exchange_refresh_token(&token)
        .request_async(&http)
        .await
        .map_err(token_error)?;
    Ok(tokens(&response))
}

/// Revokes a refresh token (and with it every access token of the grant). Asana answers
/// 200 even for an unknown token.
///
/// # Errors
/// The endpoint refused (bad client credentials, malformed request) or is unreachable.
pub async fn revoke(app: &OAuthApp, refresh_token: &SecretString) -> Result<(), AuthError> {
    let form = [
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.expose_secret()),
        ("token", refresh_token.expose_secret()),
    ];
    let response = http()?
        .post(&app.revoke_url)
        .form(&form)
        .send()
        .await
        .map_err(|e| AuthError::Network(error_line(&e.without_url())))?;
    if response.status().is_success() {
        return Ok(());
    }
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    Err(AuthError::Refused {
        error: body["error"]
            .as_str()
            .map_or_else(|| format!("HTTP {status}"), str::to_owned),
        description: body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// An access token of a run and when to stop using it.
struct Current {
    token: SecretString,
    /// Refresh at or after this instant.
    renew_at: Option<Instant>,
}

/// The [`TokenSource`] of an OAuth grant: refreshes before expiry and on a 401.
pub struct OAuthSource {
    app: OAuthApp,
    refresh_token: Mutex<SecretString>,
    current: Mutex<Option<Current>>,
    refreshes: AtomicU64,
}

impl fmt::Debug for OAuthSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSource")
            .field("app", &self.app)
            .field("refreshes", &self.refreshes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// How long before the announced expiry a token is renewed: a fifth of its life, at most
/// a minute.
fn renew_margin(life: Duration) -> Duration {
    (life / 5).min(Duration::from_secs(60))
}

impl OAuthSource {
    /// A source over a stored grant; the first [`TokenSource::token`] call refreshes.
    #[must_use]
    pub fn new(app: OAuthApp, refresh_token: SecretString) -> Arc<Self> {
        Arc::new(Self {
            app,
            refresh_token: Mutex::new(refresh_token),
            current: Mutex::new(None),
            refreshes: AtomicU64::new(0),
        })
    }

    /// How many access tokens this source obtained.
    #[must_use]
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// The app the grant belongs to.
    #[must_use]
    pub fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// Gets a new access token into `current` (its lock held by the caller).
    async fn renew(&self, current: &mut Option<Current>) -> Result<SecretString, ConnectorError> {
        let mut refresh_token = self.refresh_token.lock().await;
        let tokens = refresh(&self.app, &refresh_token)
            .await
            .map_err(AuthError::into_connector)?;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        debug!(announced = ?tokens.expires_at.map(|at| at.saturating_duration_since(Instant::now())), "asana: access token refreshed");
        if let Some(rotated) = tokens.refresh_token {
            *refresh_token = rotated;
        }
        let renew_at = tokens.expires_at.map(|at| {
            let life = at.saturating_duration_since(Instant::now());
            at.checked_sub(renew_margin(life)).unwrap_or(at)
        });
        *current = Some(Current {
            token: tokens.access_token.clone(),
            renew_at,
        });
        Ok(tokens.access_token)
    }
}

#[async_trait]
impl TokenSource for OAuthSource {
    async fn token(&self) -> Result<SecretString, ConnectorError> {
        let mut current = self.current.lock().await;
        if let Some(c) = &*current
            && c.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(c.token.clone());
        }
        self.renew(&mut current).await
    }

    async fn refresh(
        &self,
        rejected: &SecretString,
    ) -> Result<Option<SecretString>, ConnectorError> {
        let mut current = self.current.lock().await;
        if let Some(c) = &*current
            && c.token.expose_secret() != rejected.expose_secret()
        {
            // Another request refreshed it meanwhile.
            return Ok(Some(c.token.clone()));
        }
        self.renew(&mut current).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_a_fifth_at_most_a_minute() {
        assert_eq!(
            renew_margin(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(renew_margin(Duration::from_secs(5)), Duration::from_secs(1));
    }

    #[test]
    fn debug_shows_no_secret() {
        let app = OAuthApp {
            client_id: "1".to_owned(),
            client_secret: SecretString::from("client-secret-value".to_owned()),
            authorize_url: asana_bridge_asana::OAUTH_AUTHORIZE_URL.to_owned(),
            token_url: asana_bridge_asana::OAUTH_TOKEN_URL.to_owned(),
            revoke_url: asana_bridge_asana::OAUTH_REVOKE_URL.to_owned(),
            redirect_port: 0,
            scopes: Vec::new(),
        };
        let source = OAuthSource::new(app, SecretString::from("refresh-value".to_owned()));
        let shown = format!("{source:?}");
        assert!(!shown.contains("client-secret-value") && !shown.contains("refresh-value"));
    }
}
