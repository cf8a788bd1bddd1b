//! `POST /batch`: up to 10 actions dispatched in parallel through the same router (and
//! gate: auth, faults, request log) as ordinary requests. Every action counts against the
//! rate and concurrency limits; if they would be exceeded the whole batch gets 429. The
//! answer is always 200 with one `{status_code, headers, body}` per action, in order.

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::{BatchAction, BatchWrites, json_body, ok};
use crate::error::{ApiError, ApiResult};
use crate::faults::Dropped;
use crate::query::encode;
use crate::server::Sim;

/// Most actions per batch (Asana: 10).
const MAX_ACTIONS: usize = 10;

/// A parsed action, or the per-action error it answers with.
enum Action {
    Dispatch(Request),
    Invalid(ApiError),
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn build(action: &Value, auth: Option<&header::HeaderValue>) -> Result<(Request, bool), ApiError> {
    let path = action
        .get("relative_path")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing("relative_path"))?;
    if !path.starts_with('/') || path.contains('?') {
        return Err(ApiError::bad_request(
            "relative_path: Must start with / and carry no query string (parameters go in data and options)",
        ));
    }
    if path == "/batch" {
        return Err(ApiError::bad_request(
            "relative_path: Batch requests cannot be nested",
        ));
    }
    let method_name = action
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing("method"))?;
    let method = match method_name.to_ascii_lowercase().as_str() {
        "get" => Method::GET,
        "post" => Method::POST,
        "put" => Method::PUT,
        "delete" => Method::DELETE,
        "patch" => Method::PATCH,
        "head" => Method::HEAD,
        _ => {
            return Err(ApiError::bad_request(format!(
                "method: Not a valid method: {method_name}"
            )));
        }
    };
    let data = action.get("data").cloned().unwrap_or(Value::Null);
    let options = action.get("options").cloned().unwrap_or(Value::Null);
    let mut query: Vec<String> = Vec::new();
    let is_read = method == Method::GET || method == Method::HEAD;
    if is_read && let Value::Object(map) = &data {
        for (k, v) in map {
            if let Some(v) = scalar(v) {
                query.push(format!("{}={}", encode(k), encode(&v)));
            }
        }
    }
    if let Value::Object(opts) = &options {
        for key in ["limit", "offset"] {
            if let Some(v) = opts.get(key).and_then(scalar) {
                query.push(format!("{key}={}", encode(&v)));
            }
        }
        if let Some(Value::Array(fields)) = opts.get("fields") {
            let fields: Vec<&str> = fields.iter().filter_map(Value::as_str).collect();
            query.push(format!("opt_fields={}", encode(&fields.join(","))));
        }
    }
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    };
    let body = if is_read || data.is_null() {
        Body::empty()
    } else {
        Body::from(json!({ "data": data }).to_string())
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(auth) = auth {
        builder = builder.header(header::AUTHORIZATION, auth.clone());
    }
    let mut request = builder
        .body(body)
        .map_err(|e| ApiError::bad_request(format!("relative_path: {e}")))?;
    request.extensions_mut().insert(BatchAction);
    Ok((request, !is_read))
}

pub async fn batch(
    AxState(sim): AxState<Sim>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let (_, d): (Value, Map<String, Value>) = json_body(&bytes)?;
    let actions = match d.get("actions") {
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(ApiError::bad_request("actions: Not an array")),
        None => return Err(ApiError::missing("actions")),
    };
    if actions.is_empty() {
        return Err(ApiError::bad_request(
            "actions: At least one action is required",
        ));
    }
    if actions.len() > MAX_ACTIONS {
        return Err(ApiError::bad_request(format!(
            "actions: At most {MAX_ACTIONS} actions are allowed in a batch, got {}",
            actions.len()
        )));
    }
    let auth = headers.get(header::AUTHORIZATION);
    let mut writes = 0;
    let parsed: Vec<Action> = actions
        .iter()
        .map(|a| match build(a, auth) {
            Ok((request, is_write)) => {
                writes += usize::from(is_write);
                Action::Dispatch(request)
            }
            Err(e) => Action::Invalid(e),
        })
        .collect();
    let reads = parsed.len() - writes;
    // Each action counts as one request; over the limit the whole batch is refused.
    let _permit = sim.limits.admit(reads, writes)?;
    let router = sim.api.get().cloned().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "router not ready",
        )
    })?;
    let futures = parsed.into_iter().map(|action| {
        let router = router.clone();
        async move {
            match action {
                Action::Invalid(e) => e.into_response(),
                Action::Dispatch(request) => match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
            }
        }
    });
    let responses = futures::future::join_all(futures).await;
    let mut dropped = false;
    let mut results = Vec::with_capacity(responses.len());
    for response in responses {
        if response.extensions().get::<Dropped>().is_some() {
            dropped = true;
            continue;
        }
        let status = response.status().as_u16();
        let mut result_headers = Map::new();
        if let Some(loc) = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
        {
            result_headers.insert("location".to_owned(), json!(loc));
        }
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(Value::Null);
        results.push(json!({ "status_code": status, "headers": result_headers, "body": body }));
    }
    let mut response = ok(json!({ "data": results }));
    response.extensions_mut().insert(BatchWrites(writes));
    if dropped {
        // An action's connection "dropped": the whole batch connection breaks.
        response.extensions_mut().insert(Dropped);
    }
    Ok(response)
}
