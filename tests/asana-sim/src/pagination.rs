//! Asana pagination: `limit` (1..=100), opaque `offset` tokens bound to the listing that
//! issued them, and `next_page` (`{offset, path, uri}` or `null`, present only when a
//! `limit` was given). Without `limit` a listing longer than 1000 items is refused, as
//! Asana's "grandfathered" endpoints do with huge results.

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::query::{Params, encode};

/// Most items an unpaginated listing may return.
const UNPAGINATED_MAX: usize = 1000;

/// The page a request asks for.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: Option<usize>,
    pub start: usize,
}

/// Reads `limit` and `offset`; `listing` identifies the list (e.g. the path) so an offset
/// from another listing is rejected.
pub fn request(params: &Params, listing: &str) -> ApiResult<PageRequest> {
    let limit = match params.get("limit") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => Some(n as usize),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit: Must be between 1 and 100, got {raw}"
                )));
            }
        },
    };
    let start = match params.get("offset") {
        None => 0,
        Some(token) => decode_offset(token, listing).ok_or_else(|| {
            ApiError::bad_request(
                "offset: Your pagination token is invalid or expired. You can only pass in an offset that was returned to you via a previously paginated request.",
            )
        })?,
    };
    Ok(PageRequest { limit, start })
}

fn encode_offset(listing: &str, start: usize) -> String {
    let raw = format!("{listing}|{start}");
    let mut out = String::from("eyJ");
    for b in raw.bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn decode_offset(token: &str, listing: &str) -> Option<usize> {
    let hex = token.strip_prefix("eyJ")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    let raw = String::from_utf8(bytes?).ok()?;
    let (l, start) = raw.rsplit_once('|')?;
    (l == listing).then(|| start.parse().ok()).flatten()
}

/// Slices `items` per `page` and builds `{data, next_page?}`.
///
/// `path` is the request path relative to the API root (e.g. `/projects/1/tasks`),
/// `root` the API base URL used for `next_page.uri`.
pub fn respond(
    items: Vec<Value>,
    page: PageRequest,
    params: &Params,
    path: &str,
    listing: &str,
    base_url: &str,
) -> ApiResult<Value> {
    respond_with(items, |v| v, page, params, path, listing, base_url)
}

/// [`respond`] for items rendered only when they are on the page: a page of a huge
/// listing costs its 100 renders, not the listing's.
pub fn respond_with<T>(
    items: Vec<T>,
    render: impl FnMut(T) -> Value,
    page: PageRequest,
    params: &Params,
    path: &str,
    listing: &str,
    base_url: &str,
) -> ApiResult<Value> {
    let Some(limit) = page.limit else {
        if items.len() > UNPAGINATED_MAX {
            return Err(ApiError::bad_request(
                "The result is too large. You should use pagination (may require specifying a workspace)!",
            ));
        }
        let data: Vec<Value> = items.into_iter().map(render).collect();
        return Ok(json!({ "data": data }));
    };
    let total = items.len();
    let end = page.start.saturating_add(limit).min(total);
    let data: Vec<Value> = items
        .into_iter()
        .skip(page.start)
        .take(limit)
        .map(render)
        .collect();
    let next_page = if end < total {
        let offset = encode_offset(listing, end);
        let mut query = params.encode_without(&["limit", "offset"]);
        query.push(format!("limit={limit}"));
        query.push(format!("offset={}", encode(&offset)));
        let rel = format!("{path}?{}", query.join("&"));
        json!({ "offset": offset, "path": rel, "uri": format!("{base_url}{rel}") })
    } else {
        Value::Null
    };
    Ok(json!({ "data": data, "next_page": next_page }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets are bound to their listing and survive a round trip.
    #[test]
    fn offsets_round_trip_per_listing() {
        let token = encode_offset("/projects/1/tasks", 42);
        assert_eq!(decode_offset(&token, "/projects/1/tasks"), Some(42));
        assert_eq!(decode_offset(&token, "/projects/2/tasks"), None);
        assert_eq!(decode_offset("garbage", "/projects/1/tasks"), None);
    }
}
