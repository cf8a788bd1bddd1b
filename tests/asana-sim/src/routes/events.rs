//! `GET /events?resource=<project or task>&sync=<token>`: 412 with a fresh token when the
//! token is missing or invalid, else up to 100 events, the next token and `has_more`.

use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{check_gid, ok};
use crate::error::{ApiError, ApiResult};
use crate::events::Poll;
use crate::fields;
use crate::lock;
use crate::query::Params;
use crate::server::Sim;
use crate::spec_fields;

const INVALID_SYNC: &str = "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full dataset for this query now and use the new sync token for the next sync.";

pub async fn get_events(AxState(sim): AxState<Sim>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_EVENTS)?;
    let resource = params
        .get("resource")
        .ok_or_else(|| ApiError::missing("resource"))?;
    check_gid("resource", resource)?;
    let mut st = lock(&sim.state);
    let known = st.projects.contains_key(resource) || st.live_task(resource).is_ok();
    if !known {
        return Err(ApiError::unknown_object("resource", resource));
    }
    match st.events.poll(resource, params.get("sync")) {
        Poll::Invalid { fresh } => Ok((
            StatusCode::PRECONDITION_FAILED,
            axum::Json(json!({ "errors": [{ "message": INVALID_SYNC }], "sync": fresh })),
        )
            .into_response()),
        Poll::Events {
            events,
            sync,
            has_more,
        } => {
            let events: Vec<Value> = match &fields {
                Some(f) => events.iter().map(|e| fields::project(e, f)).collect(),
                None => events,
            };
            Ok(ok(
                json!({ "data": events, "sync": sync, "has_more": has_more }),
            ))
        }
    }
}
