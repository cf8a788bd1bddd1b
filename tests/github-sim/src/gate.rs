//! The gate every API request passes, in GitHub's order: latency, authentication
//! (`401 Bad credentials`), the `User-Agent` rule (`403` without one), the API version
//! (`400` for one GitHub does not serve), the primary rate limit, injected faults, mutation
//! pacing (secondary limit); then the route; then conditional GETs: every `200` GET gets an
//! `ETag`, and an `If-None-Match` naming it turns the answer into a `304` with no body that
//! does not count against the primary limit. Every answer carries the `x-ratelimit-*`
//! headers, and every request is recorded. After a write, the webhook events it caused are
//! handed to the delivery task.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::faults::{Injected, dropped_response};
use crate::lock;
use crate::model::RecordedRequest;
use crate::server::Sim;

/// API versions GitHub serves.
const API_VERSIONS: [&str; 2] = ["2022-11-28", "2026-03-10"];

/// Bodies larger than this are refused (GitHub's own limit is far below).
const MAX_BODY: usize = 8 * 1024 * 1024;

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The weak `ETag` of a body.
fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// Whether `If-None-Match` names `tag` (weak comparison, lists and `*` allowed).
fn matches_etag(if_none_match: &str, tag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(tag))
}

pub async fn gate(AxState(sim): AxState<Sim>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let mut record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        status: 0,
        accept: header_string(&headers, header::ACCEPT),
        api_version: headers
            .get("x-github-api-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        user_agent: header_string(&headers, header::USER_AGENT),
        if_none_match: header_string(&headers, header::IF_NONE_MATCH),
        body: serde_json::from_slice::<Value>(&bytes).ok(),
        counted: true,
    };
    let request = Request::from_parts(parts, Body::from(bytes));

    let latency = *lock(&sim.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let is_write = !matches!(method, Method::GET | Method::HEAD);
    let mut response = match admit(&sim, &headers, &record, is_write) {
        Err(refusal) => refusal.into_response(),
        Ok(None) => {
            let response = next.run(request).await;
            done_mutation(&sim, is_write);
            response
        }
        Ok(Some(Injected::Respond(e))) => e.into_response(),
        Ok(Some(Injected::DropBefore)) => {
            lock(&sim.requests).push(record);
            return dropped_response();
        }
        Ok(Some(Injected::DropAfter)) => {
            let applied = next.run(request).await;
            done_mutation(&sim, is_write);
            record.status = applied.status().as_u16();
            lock(&sim.requests).push(record);
            return dropped_response();
        }
    };

    if method == Method::GET && response.status() == StatusCode::OK {
        response = conditional(response, record.if_none_match.as_deref()).await;
    }
    record.status = response.status().as_u16();
    record.counted = response.status() != StatusCode::NOT_MODIFIED;
    {
        let mut limits = lock(&sim.limits);
        if record.counted {
            limits.used = limits.used.saturating_add(1);
        }
        limits.headers(response.headers_mut());
    }
    response.headers_mut().insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    lock(&sim.requests).push(record);
    response
}

/// Everything before the route. `Err`: the refusal to answer; `Ok(Some)`: a fault to play.
fn admit(
    sim: &Sim,
    headers: &HeaderMap,
    record: &RecordedRequest,
    is_write: bool,
) -> Result<Option<Injected>, ApiError> {
    if !sim.authorized(headers) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "Bad credentials"));
    }
    if record.user_agent.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.",
        ));
    }
    if let Some(version) = &record.api_version
        && !API_VERSIONS.contains(&version.as_str())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("API version {version} is not supported."),
        ));
    }
    {
        let mut limits = lock(&sim.limits);
        limits.roll();
        if limits.remaining() == 0 {
            limits.refused += 1;
            let me_id = {
                let st = lock(&sim.state);
                st.user_id(&st.me)
            };
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "API rate limit exceeded for user ID {me_id}. If you reach out to GitHub Support for help, please include the request ID."
                ),
            ));
        }
    }
    let injected = lock(&sim.faults).take(&record.method, &record.path);
    if let Some(Injected::Respond(_)) = injected {
        return Ok(injected);
    }
    if is_write {
        let mut limits = lock(&sim.limits);
        if record.method == "POST"
            && let Some(wait) = limits.creation_refused()
        {
            return Err(ApiError::secondary_limit(StatusCode::FORBIDDEN, Some(wait)));
        }
        if limits.mutation_too_soon() {
            limits.refused += 1;
            return Err(ApiError::secondary_limit(StatusCode::FORBIDDEN, Some(1)));
        }
        limits.mutations_in_flight += 1;
        limits.peak_mutations_in_flight = limits
            .peak_mutations_in_flight
            .max(limits.mutations_in_flight);
    }
    Ok(injected)
}

/// After a write was handled: one fewer in flight, and the webhook events it caused go to
/// the delivery task.
fn done_mutation(sim: &Sim, is_write: bool) {
    if is_write {
        {
            let mut limits = lock(&sim.limits);
            limits.mutations_in_flight = limits.mutations_in_flight.saturating_sub(1);
        }
        crate::webhooks::flush_pending(sim);
    }
}

/// Adds the `ETag`, and answers `304` when the client already has this representation.
async fn conditional(response: Response, if_none_match: Option<&str>) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let tag = etag(&bytes);
    let tag_value = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("W/\"0\""));
    if if_none_match.is_some_and(|inm| matches_etag(inm, &tag)) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        not_modified.headers_mut().insert(header::ETAG, tag_value);
        if let Some(link) = parts.headers.get(header::LINK) {
            not_modified
                .headers_mut()
                .insert(header::LINK, link.clone());
        }
        return not_modified;
    }
    parts.headers.insert(header::ETAG, tag_value);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weak and strong forms of the same tag match; lists and `*` too.
    #[test]
    fn etag_matching() {
        let tag = etag(b"[]");
        let strong = tag.trim_start_matches("W/").to_owned();
        assert!(matches_etag(&tag, &tag));
        assert!(matches_etag(&strong, &tag));
        assert!(matches_etag(&format!("\"x\", {tag}"), &tag));
        assert!(matches_etag("*", &tag));
        assert!(!matches_etag("\"other\"", &tag));
    }
}
