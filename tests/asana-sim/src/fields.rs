//! `opt_fields`: parsing, validation against the spec's enum for the operation (real Asana
//! rejects unknown fields), and projection of a resource's JSON onto the requested paths.
//!
//! Handlers build one "rich" JSON value per resource (every field the simulator models,
//! nested resources in compact form) and [`render`] turns it into what Asana would send:
//! the requested paths plus `gid`, or the endpoint's default form when no fields were asked.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Requested field paths; `None` = no `opt_fields` given.
pub type OptFields = Option<Vec<String>>;

/// Fields that only pagination uses; accepted by the spec on list endpoints, never projected.
const PAGINATION_FIELDS: [&str; 3] = ["offset", "path", "uri"];

/// Parses `opt_fields` (comma-separated) and rejects values not in `allowed`.
pub fn parse(raw: Option<&str>, allowed: &[&str]) -> ApiResult<OptFields> {
    let Some(raw) = raw else { return Ok(None) };
    let mut fields = Vec::new();
    for field in raw.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !allowed.contains(&field) {
            return Err(ApiError::bad_request(format!(
                "opt_fields: Unknown field: {field}. This field is not valid for this resource type"
            )));
        }
        fields.push(field.to_owned());
    }
    Ok(Some(fields))
}

/// Parses `options.fields` of a JSON body (`{"data":..., "options":{"fields":[...]}}`).
pub fn from_body_options(body: &Value, allowed: &[&str]) -> ApiResult<OptFields> {
    match body.pointer("/options/fields") {
        Some(Value::Array(items)) => {
            let joined: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            parse(Some(&joined.join(",")), allowed)
        }
        _ => Ok(None),
    }
}

/// The shape a resource takes when no `opt_fields` were given.
#[derive(Debug, Clone, Copy)]
pub enum Form<'a> {
    /// Only these top-level keys (list endpoints).
    Compact(&'a [&'a str]),
    /// Everything except these opt-in keys (single-resource endpoints).
    FullExcept(&'a [&'a str]),
}

/// Renders `rich` for the response: projected onto `fields`, or in the default `form`.
pub fn render(rich: &Value, fields: &OptFields, form: Form<'_>) -> Value {
    match fields {
        Some(fields) => project(rich, fields),
        None => {
            let Value::Object(map) = rich else {
                return rich.clone();
            };
            let kept = map.iter().filter(|(k, _)| match form {
                Form::Compact(keys) => keys.contains(&k.as_str()),
                Form::FullExcept(keys) => !keys.contains(&k.as_str()),
            });
            Value::Object(kept.map(|(k, v)| (k.clone(), v.clone())).collect())
        }
    }
}

/// A tree of requested paths: `memberships.section.name` -> memberships/section/name.
#[derive(Debug, Default)]
struct Tree(BTreeMap<String, Tree>);

impl Tree {
    fn from_paths(paths: &[String]) -> Tree {
        let mut root = Tree::default();
        for path in paths {
            if PAGINATION_FIELDS.contains(&path.as_str()) {
                continue;
            }
            let mut node = &mut root;
            for part in path.split('.') {
                node = node.0.entry(part.to_owned()).or_default();
            }
        }
        root
    }
}

/// Projects a top-level resource: `gid` plus the requested paths.
pub fn project(rich: &Value, paths: &[String]) -> Value {
    let tree = Tree::from_paths(paths);
    let mut out = Map::new();
    if let Some(gid) = rich.get("gid") {
        out.insert("gid".to_owned(), gid.clone());
    }
    for (key, sub) in &tree.0 {
        if let Some(value) = rich.get(key) {
            out.insert(key.clone(), project_value(value, sub));
        }
    }
    Value::Object(out)
}

fn project_value(value: &Value, tree: &Tree) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| project_value(v, tree)).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            if tree.0.is_empty() {
                if let Some(gid) = map.get("gid") {
                    // A bare nested resource: Asana answers its gid and resource_type.
                    out.insert("gid".to_owned(), gid.clone());
                    if let Some(rt) = map.get("resource_type") {
                        out.insert("resource_type".to_owned(), rt.clone());
                    }
                } else {
                    // A plain object (e.g. a membership): its parts, each bare.
                    for (k, v) in map {
                        out.insert(k.clone(), project_value(v, tree));
                    }
                }
            } else {
                if let Some(gid) = map.get("gid") {
                    out.insert("gid".to_owned(), gid.clone());
                }
                for (key, sub) in &tree.0 {
                    if let Some(v) = map.get(key) {
                        out.insert(key.clone(), project_value(v, sub));
                    }
                }
            }
            Value::Object(out)
        }
        scalar => scalar.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Nested paths keep gid at every level and only the asked leaves.
    #[test]
    fn projects_nested_paths() {
        let rich = json!({
            "gid": "1", "resource_type": "task", "name": "n", "notes": "x",
            "assignee": {"gid": "2", "resource_type": "user", "name": "Alice"},
            "memberships": [{"project": {"gid": "3", "resource_type": "project", "name": "P"},
                             "section": {"gid": "4", "resource_type": "section", "name": "S"}}],
        });
        let out = project(
            &rich,
            &[
                "name".into(),
                "assignee".into(),
                "memberships.section.name".into(),
            ],
        );
        assert_eq!(
            out,
            json!({"gid": "1", "name": "n",
                   "assignee": {"gid": "2", "resource_type": "user"},
                   "memberships": [{"section": {"gid": "4", "name": "S"}}]})
        );
    }

    /// Values outside the operation's enum are a 400, like real Asana.
    #[test]
    fn rejects_unknown_fields() {
        assert!(parse(Some("name,bogus"), &["name"]).is_err());
        assert_eq!(
            parse(Some("name"), &["name"]).ok(),
            Some(Some(vec!["name".to_owned()]))
        );
    }
}
