//! Black-box tests of the simulator's OAuth endpoints with reqwest: the consent redirect,
//! the code exchange with PKCE (S256) verification, refresh, short-lived access tokens,
//! revocation, and the bot user as the token's identity.

use std::time::Duration;

use asana_sim::{Simulator, TaskEdit, TaskSeed};
use reqwest::{Client, StatusCode, redirect::Policy};
use serde_json::Value;

const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kzDrQhfbMQLxrLNcHxjvFZzTrPM";
const CHALLENGE: &str = "-hZ3wm2_xDJyabWWLodKL-pW-YCrD2tO7HxcmI0PBEk";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn client() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The consent screen: returns the redirect's query pairs.
async fn authorize(sim: &Simulator, extra: &[(&str, &str)]) -> (StatusCode, Vec<(String, String)>) {
    let (id, _) = sim.oauth_client();
    let mut query = vec![
        ("client_id", id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("state", "xyz"),
        ("code_challenge_method", "S256"),
        ("code_challenge", CHALLENGE),
    ];
    query.extend_from_slice(extra);
    let r = client()
        .get(sim.oauth_authorize_url())
        .query(&query)
        .send()
        .await
        .expect("authorize");
    let status = r.status();
    let pairs = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .and_then(url_query)
        .unwrap_or_default();
    (status, pairs)
}

fn url_query(location: &str) -> Option<Vec<(String, String)>> {
    let (_, q) = location.split_once('?')?;
    Some(
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("%20", " ")))
            .collect(),
    )
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

async fn token(sim: &Simulator, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let (id, secret) = sim.oauth_client();
    let mut all = vec![
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    all.extend_from_slice(form);
    let r = client()
        .post(sim.oauth_token_url())
        .form(&all)
        .send()
        .await
        .expect("token");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn me(sim: &Simulator, access: &str) -> StatusCode {
    client()
        .get(format!("{}/users/me", sim.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .expect("me")
        .status()
}

async fn login(sim: &Simulator) -> Value {
    let (status, pairs) = authorize(sim, &[]).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(get(&pairs, "state"), Some("xyz"));
    let code = get(&pairs, "code").expect("a code").to_owned();
    let (status, body) = token(
        sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Authorize, exchange with the right verifier, call the API as the bot user.
#[tokio::test]
async fn code_flow_with_pkce_gives_working_tokens() {
    let sim = Simulator::start();
    let body = login(&sim).await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["data"]["gid"], sim.me_gid());
    let access = body["access_token"].as_str().expect("access token");
    assert!(body["refresh_token"].is_string());
    assert_eq!(me(&sim, access).await, StatusCode::OK);
    let stats = sim.oauth_stats();
    assert_eq!((stats.authorizations, stats.code_exchanges), (1, 1));
    assert_eq!(stats.last_challenge_method.as_deref(), Some("S256"));
    assert_eq!(stats.last_redirect_uri.as_deref(), Some(REDIRECT));
}

/// A wrong verifier, a reused code, a different redirect: invalid_grant.
#[tokio::test]
async fn exchange_checks_verifier_code_and_redirect() {
    let sim = Simulator::start();
    let (_, pairs) = authorize(&sim, &[]).await;
    let code = get(&pairs, "code").expect("code").to_owned();
    let wrong = "x".repeat(43);
    let (status, body) = token(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // The code was consumed by the failed attempt.
    let (status, _) = token(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, pairs) = authorize(&sim, &[]).await;
    let code = get(&pairs, "code").expect("code").to_owned();
    let (status, body) = token(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:10/callback"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(sim.oauth_stats().token_errors, 3);
}

/// Consent errors: unknown client (400, no redirect), missing state, plain PKCE, denial.
#[tokio::test]
async fn consent_errors() {
    let sim = Simulator::start();
    let r = client()
        .get(sim.oauth_authorize_url())
        .query(&[
            ("client_id", "1"),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
        ])
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let (_, pairs) = authorize(&sim, &[("code_challenge_method", "plain")]).await;
    assert_eq!(get(&pairs, "error"), Some("invalid_request"));
    let (_, pairs) = authorize(&sim, &[("state", "")]).await;
    assert_eq!(get(&pairs, "error"), Some("invalid_request"));
    sim.oauth_deny_next();
    let (_, pairs) = authorize(&sim, &[]).await;
    assert_eq!(get(&pairs, "error"), Some("access_denied"));
    assert_eq!(get(&pairs, "state"), Some("xyz"));
    let (_, pairs) = authorize(&sim, &[]).await;
    assert!(get(&pairs, "code").is_some(), "only one denial");
}

/// Access tokens expire; the refresh token gets new ones.
#[tokio::test]
async fn access_tokens_expire_and_refresh() {
    let sim = Simulator::start();
    sim.set_oauth_access_ttl(Duration::from_millis(300));
    let body = login(&sim).await;
    assert_eq!(body["expires_in"], 1);
    let access = body["access_token"].as_str().expect("access").to_owned();
    let refresh = body["refresh_token"].as_str().expect("refresh").to_owned();
    assert_eq!(me(&sim, &access).await, StatusCode::OK);
    // Kept (real time must pass): the token's 300 ms life runs on the simulator's
    // `std::time::Instant`, which no test clock reaches.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(me(&sim, &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(sim.oauth_stats().expired_access_rejections, 1);

    let (status, body) = token(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none());
    let fresh = body["access_token"].as_str().expect("access").to_owned();
    assert_eq!(me(&sim, &fresh).await, StatusCode::OK);
    sim.expire_oauth_access_tokens();
    assert_eq!(me(&sim, &fresh).await, StatusCode::UNAUTHORIZED);
    assert_eq!(sim.oauth_stats().refreshes, 1);
}

/// Revoking the refresh token kills it and its access tokens; unknown tokens are a 200,
/// access tokens and missing ones a 400.
#[tokio::test]
async fn revoke_kills_the_grant() {
    let sim = Simulator::start();
    let body = login(&sim).await;
    let access = body["access_token"].as_str().expect("access").to_owned();
    let refresh = body["refresh_token"].as_str().expect("refresh").to_owned();
    let (id, secret) = sim.oauth_client();
    let revoke = |token: String| {
        let (id, secret) = (id.clone(), secret.clone());
        let url = sim.oauth_revoke_url();
        async move {
            client()
                .post(url)
                .form(&[
                    ("client_id", id),
                    ("client_secret", secret),
                    ("token", token),
                ])
                .send()
                .await
                .expect("revoke")
                .status()
        }
    };
    assert_eq!(revoke(access.clone()).await, StatusCode::BAD_REQUEST);
    assert_eq!(revoke(String::new()).await, StatusCode::BAD_REQUEST);
    assert_eq!(sim.oauth_live_grants(), 1);
    assert_eq!(revoke(refresh.clone()).await, StatusCode::OK);
    assert_eq!(revoke("unknown".to_owned()).await, StatusCode::OK);
    assert_eq!(sim.oauth_live_grants(), 0);
    assert_eq!(me(&sim, &access).await, StatusCode::UNAUTHORIZED);
    let (status, body) = token(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(sim.oauth_stats().revocations, 1);
}

/// An edit made as the token's own user is authored by the bot user in the events feed.
#[tokio::test]
async fn edits_as_the_token_user_carry_its_gid() {
    let sim = Simulator::start();
    let project = sim.create_project("P");
    let gid = sim.add_task(&project, TaskSeed::named("a"));
    sim.edit_task_as_token_user(
        &gid,
        TaskEdit {
            name: Some("b".into()),
            ..TaskEdit::default()
        },
    );
    assert_eq!(sim.task(&gid).expect("task").name, "b");
    let body: Value = client()
        .get(format!("{}/events?resource={project}", sim.base_url()))
        .bearer_auth(sim.token())
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json");
    let sync = body["sync"].as_str().expect("sync").to_owned();
    sim.edit_task_as_token_user(
        &gid,
        TaskEdit {
            notes: Some("n".into()),
            ..TaskEdit::default()
        },
    );
    let body: Value = client()
        .get(format!(
            "{}/events?resource={project}&sync={sync}",
            sim.base_url()
        ))
        .bearer_auth(sim.token())
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json");
    let users: Vec<&str> = body["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["user"]["gid"].as_str())
        .collect();
    assert!(!users.is_empty());
    assert!(users.iter().all(|u| *u == sim.me_gid()), "{users:?}");
}
