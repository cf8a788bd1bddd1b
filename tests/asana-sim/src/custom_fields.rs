//! Custom fields as Asana has them: fields with a type (`text`, `number`, `enum`,
//! `multi_enum`, `date`, `people`, and `custom_id` or formula fields nobody writes through
//! the API), enabled on projects (`GET /projects/{project_gid}/custom_field_settings`), with
//! values on tasks: `custom_fields` in a task's answer (every field enabled on one of its
//! projects, value or not) and `custom_fields: {field gid: value}` in a create or update,
//! validated as Asana does (a `400` with Asana's error body naming the problem; a refused
//! request changes nothing).
//!
//! Accepted values, per type: text a string; number a number or a string holding one; enum
//! an option gid; multi-enum a list of option gids; date a `YYYY-MM-DD` string or
//! `{"date": ...}`; people a list of user gids; `null` (or `""` for text) clears.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, RawQuery, State as AxState};
use axum::response::Response;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::fields::{self, Form};
use crate::lock;
use crate::pagination;
use crate::query::Params;
use crate::repr::COMPACT;
use crate::routes::{check_gid, listing_key, ok};
use crate::server::{Sim, Simulator};
use crate::state::State;

/// One enum option.
#[derive(Debug, Clone)]
pub struct EnumOption {
    pub gid: String,
    pub name: String,
    pub enabled: bool,
}

/// One custom field of the workspace.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub gid: String,
    pub name: String,
    /// `text`, `number`, `enum`, `multi_enum`, `date`, `people` or `custom_id`.
    pub subtype: String,
    /// A formula field: computed by Asana, never written.
    pub formula: bool,
    pub options: Vec<EnumOption>,
}

/// A stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum CfValue {
    Text(String),
    Number(f64),
    /// An option gid.
    Enum(String),
    /// Option gids, in the order given.
    MultiEnum(Vec<String>),
    /// `YYYY-MM-DD`.
    Date(String),
    /// User gids.
    People(Vec<String>),
}

/// Every custom field, where it is enabled, and the tasks' values.
#[derive(Debug, Default)]
pub struct Registry {
    fields: HashMap<String, FieldDef>,
    /// Field gids enabled on each project, in the order they were added, with the
    /// setting's own gid.
    settings: HashMap<String, Vec<(String, String)>>,
    /// Task gid -> field gid -> value.
    values: HashMap<String, BTreeMap<String, CfValue>>,
}

impl Registry {
    /// The fields enabled on any of `projects`, in order, without duplicates.
    fn enabled_on<'a>(&'a self, projects: impl Iterator<Item = &'a str>) -> Vec<&'a FieldDef> {
        let mut out: Vec<&FieldDef> = Vec::new();
        for p in projects {
            for (_, f) in self.settings.get(p).into_iter().flatten() {
                if let Some(def) = self.fields.get(f)
                    && !out.iter().any(|d| d.gid == def.gid)
                {
                    out.push(def);
                }
            }
        }
        out
    }
}

/// The `opt_fields` Asana's OpenAPI description allows on
/// `GET /projects/{project_gid}/custom_field_settings` (from `specs/asana`).
pub const GET_SETTINGS: &[&str] = &[
    "custom_field",
    "custom_field.asana_created_field",
    "custom_field.created_by",
    "custom_field.created_by.name",
    "custom_field.currency_code",
    "custom_field.custom_label",
    "custom_field.custom_label_position",
    "custom_field.date_value",
    "custom_field.date_value.date",
    "custom_field.date_value.date_time",
    "custom_field.default_access_level",
    "custom_field.description",
    "custom_field.display_value",
    "custom_field.enabled",
    "custom_field.enum_options",
    "custom_field.enum_options.color",
    "custom_field.enum_options.enabled",
    "custom_field.enum_options.name",
    "custom_field.enum_value",
    "custom_field.enum_value.color",
    "custom_field.enum_value.enabled",
    "custom_field.enum_value.name",
    "custom_field.format",
    "custom_field.has_notifications_enabled",
    "custom_field.html_text_value",
    "custom_field.id_prefix",
    "custom_field.input_restrictions",
    "custom_field.is_formula_field",
    "custom_field.is_global_to_workspace",
    "custom_field.is_value_read_only",
    "custom_field.multi_enum_values",
    "custom_field.multi_enum_values.color",
    "custom_field.multi_enum_values.enabled",
    "custom_field.multi_enum_values.name",
    "custom_field.name",
    "custom_field.number_value",
    "custom_field.people_value",
    "custom_field.people_value.name",
    "custom_field.precision",
    "custom_field.privacy_setting",
    "custom_field.reference_value",
    "custom_field.reference_value.name",
    "custom_field.representation_type",
    "custom_field.resource_subtype",
    "custom_field.text_value",
    "custom_field.type",
    "is_important",
    "offset",
    "parent",
    "parent.name",
    "path",
    "project",
    "project.name",
    "uri",
];

fn option_json(o: &EnumOption) -> Value {
    json!({ "gid": o.gid, "resource_type": "enum_option", "name": o.name, "enabled": o.enabled, "color": "none" })
}

/// The rich custom field (`CustomFieldResponse`), with the task's value when given.
fn field_json(st: &State, def: &FieldDef, value: Option<Option<&CfValue>>) -> Value {
    let kind = match def.subtype.as_str() {
        "custom_id" => "text",
        other => other,
    };
    let mut v = json!({
        "gid": def.gid,
        "resource_type": "custom_field",
        "name": def.name,
        "resource_subtype": def.subtype,
        "type": kind,
        "enabled": true,
        "is_formula_field": def.formula,
        "description": "",
    });
    if matches!(def.subtype.as_str(), "enum" | "multi_enum") {
        v["enum_options"] = def.options.iter().map(option_json).collect();
    }
    if def.subtype == "number" {
        v["precision"] = json!(2);
    }
    let Some(value) = value else { return v };
    let option = |gid: &str| {
        def.options
            .iter()
            .find(|o| o.gid == gid)
            .map_or(Value::Null, option_json)
    };
    let display;
    match def.subtype.as_str() {
        "text" | "custom_id" => {
            let t = match value {
                Some(CfValue::Text(t)) => Some(t.clone()),
                _ => None,
            };
            display = t.clone();
            v["text_value"] = json!(t);
        }
        "number" => {
            let n = match value {
                Some(CfValue::Number(n)) => Some(*n),
                _ => None,
            };
            display = n.map(|n| n.to_string());
            v["number_value"] = json!(n);
        }
        "enum" => {
            let e = match value {
                Some(CfValue::Enum(g)) => option(g),
                _ => Value::Null,
            };
            display = e.get("name").and_then(Value::as_str).map(str::to_owned);
            // Asana answers `null` without a value, but its description types
            // `enum_value` as a non-nullable object: left out, which both readings allow.
            if !e.is_null() {
                v["enum_value"] = e;
            }
        }
        "multi_enum" => {
            let all: Vec<Value> = match value {
                Some(CfValue::MultiEnum(gs)) => gs.iter().map(|g| option(g)).collect(),
                _ => Vec::new(),
            };
            let names: Vec<&str> = all.iter().filter_map(|o| o["name"].as_str()).collect();
            display = (!names.is_empty()).then(|| names.join(", "));
            v["multi_enum_values"] = json!(all);
        }
        "date" => {
            let d = match value {
                Some(CfValue::Date(d)) => Some(d.clone()),
                _ => None,
            };
            display = d.clone();
            v["date_value"] = d.map_or(Value::Null, |d| json!({ "date": d, "date_time": null }));
        }
        "people" => {
            let people: Vec<Value> = match value {
                Some(CfValue::People(us)) => us.iter().map(|u| st.user_ref(u)).collect(),
                _ => Vec::new(),
            };
            let names: Vec<&str> = people.iter().filter_map(|u| u["name"].as_str()).collect();
            display = (!names.is_empty()).then(|| names.join(", "));
            v["people_value"] = json!(people);
        }
        _ => display = None,
    }
    v["display_value"] = json!(display);
    v
}

/// A task's `custom_fields`: every field enabled on one of its projects, with its value.
pub fn task_json(st: &State, task: &str) -> Value {
    let Some(t) = st.tasks.get(task) else {
        return json!([]);
    };
    let values = st.custom.values.get(task);
    let fields = st
        .custom
        .enabled_on(t.memberships.iter().map(|m| m.project.as_str()));
    Value::Array(
        fields
            .into_iter()
            .map(|def| field_json(st, def, Some(values.and_then(|v| v.get(&def.gid)))))
            .collect(),
    )
}

/// Checked values of a write: field gid -> value (`None` clears).
pub type Writes = Vec<(String, Option<CfValue>)>;

/// Checks the `custom_fields` of a write to a task in `projects`: every field must be
/// enabled on one of them and every value fit its type. `None` when the write has none.
///
/// # Errors
/// A `400` naming the field and the problem, as Asana's error body does.
pub fn parse_write(
    st: &State,
    projects: &[String],
    raw: Option<&Value>,
) -> ApiResult<Option<Writes>> {
    let raw = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "custom_fields: Not an object: {other}"
            )));
        }
    };
    let enabled = st.custom.enabled_on(projects.iter().map(String::as_str));
    let mut out = Vec::new();
    for (gid, value) in raw {
        let Some(def) = enabled.iter().find(|d| d.gid == *gid) else {
            return Err(ApiError::bad_request(format!(
                "custom_fields: Custom field with ID {gid} is not on given object"
            )));
        };
        if def.formula || def.subtype == "custom_id" {
            return Err(ApiError::bad_request(format!(
                "custom_fields: Cannot write to custom field {gid}: its value is computed by Asana"
            )));
        }
        out.push((gid.clone(), parse_value(st, def, value)?));
    }
    Ok(Some(out))
}

fn parse_value(st: &State, def: &FieldDef, value: &Value) -> ApiResult<Option<CfValue>> {
    let gid = &def.gid;
    let bad =
        |what: &str| ApiError::bad_request(format!("custom_fields.{gid}: {what}, found {value}"));
    let option = |g: &Value| -> ApiResult<String> {
        let g = g.as_str().ok_or_else(|| bad("Not an enum option gid"))?;
        match def.options.iter().find(|o| o.gid == g) {
            Some(o) if o.enabled => Ok(o.gid.clone()),
            Some(_) => Err(ApiError::bad_request(format!(
                "custom_fields.{gid}: enum option {g} is disabled"
            ))),
            None => Err(ApiError::bad_request(format!(
                "custom_fields.{gid}: Unknown object: {g}; not an enum option of this field"
            ))),
        }
    };
    if value.is_null() {
        return Ok(None);
    }
    Ok(Some(match def.subtype.as_str() {
        "text" => match value.as_str() {
            Some("") => return Ok(None),
            Some(s) => CfValue::Text(s.to_owned()),
            None => return Err(bad("Not a string")),
        },
        "number" => CfValue::Number(
            value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| bad("Number expected"))?,
        ),
        "enum" => CfValue::Enum(option(value)?),
        "multi_enum" => {
            let items = value
                .as_array()
                .ok_or_else(|| bad("Not an array of enum option gids"))?;
            CfValue::MultiEnum(items.iter().map(option).collect::<ApiResult<_>>()?)
        }
        "date" => {
            let d = value
                .as_str()
                .or_else(|| value.get("date").and_then(Value::as_str))
                .ok_or_else(|| bad("Not a date"))?;
            if d.parse::<jiff::civil::Date>().is_err() {
                return Err(bad("Not a date written YYYY-MM-DD"));
            }
            CfValue::Date(d.to_owned())
        }
        "people" => {
            let items = value
                .as_array()
                .ok_or_else(|| bad("Not an array of user gids"))?;
            let mut users = Vec::new();
            for u in items {
                let u = u.as_str().ok_or_else(|| bad("Not a user gid"))?;
                users.push(st.resolve_user(&format!("custom_fields.{gid}"), u)?);
            }
            CfValue::People(users)
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "custom_fields.{gid}: fields of type {other} cannot be written"
            )));
        }
    }))
}

/// Applies checked values to `task` as `actor`: `modified_at` moves and a `changed` event
/// on `custom_fields` is emitted when a value changes. Returns whether one did.
pub fn apply(st: &mut State, actor: &str, task: &str, writes: Writes) -> bool {
    let values = st.custom.values.entry(task.to_owned()).or_default();
    let mut changed = false;
    for (gid, value) in writes {
        let before = values.get(&gid).cloned();
        if before == value {
            continue;
        }
        changed = true;
        match value {
            Some(v) => values.insert(gid, v),
            None => values.remove(&gid),
        };
    }
    if changed {
        st.touch_task(actor, task, "custom_fields");
    }
    changed
}

/// `GET /projects/{project_gid}/custom_field_settings`: the project's fields, paginated.
pub async fn get_settings(
    AxState(sim): AxState<Sim>,
    Path(p): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), GET_SETTINGS)?;
    check_gid("project", &p)?;
    let path = format!("/projects/{p}/custom_field_settings");
    let listing = listing_key(&path, &params);
    let page = pagination::request(&params, &listing)?;
    let st = lock(&sim.state);
    st.project(&p)?;
    let items: Vec<Value> = st
        .custom
        .settings
        .get(&p)
        .into_iter()
        .flatten()
        .filter_map(|(setting, f)| {
            let def = st.custom.fields.get(f)?;
            let rich = json!({
                "gid": setting,
                "resource_type": "custom_field_setting",
                "custom_field": field_json(&st, def, None),
                "is_important": false,
                "parent": st.project_ref(&p),
                "project": st.project_ref(&p),
            });
            Some(fields::render(&rich, &fields, Form::Compact(COMPACT)))
        })
        .collect();
    Ok(ok(pagination::respond(
        items,
        page,
        &params,
        &path,
        &listing,
        &sim.base_url(),
    )?))
}

/// A value as tests give it: the field's option names, user e-mails, plain text.
#[derive(Debug, Clone, PartialEq)]
pub enum SimValue {
    Text(String),
    Number(f64),
    /// Option name(s) of an enum or multi-enum field.
    Options(Vec<String>),
    Date(String),
    /// E-mails.
    People(Vec<String>),
}

impl Simulator {
    /// Creates a custom field of `subtype` (`text`, `number`, `enum`, `multi_enum`, `date`,
    /// `people`, `custom_id`, or `formula` for a computed number field) with these enum
    /// options, and enables it on `project`. Returns its gid.
    pub fn add_custom_field(
        &self,
        project: &str,
        name: &str,
        subtype: &str,
        options: &[&str],
    ) -> String {
        let mut st = lock(&self.shared.state);
        let gid = st.gid();
        let options = options
            .iter()
            .map(|o| EnumOption {
                gid: st.gid(),
                name: (*o).to_owned(),
                enabled: true,
            })
            .collect();
        let (subtype, formula) = match subtype {
            "formula" => ("number", true),
            other => (other, false),
        };
        st.custom.fields.insert(
            gid.clone(),
            FieldDef {
                gid: gid.clone(),
                name: name.to_owned(),
                subtype: subtype.to_owned(),
                formula,
                options,
            },
        );
        let setting = st.gid();
        st.custom
            .settings
            .entry(project.to_owned())
            .or_default()
            .push((setting, gid.clone()));
        gid
    }

    /// Sets (or clears, with `None`) custom field `field` (a name) of task `task` as alice,
    /// as a person would in Asana. Panics when the field is not on the task's projects or
    /// the value does not fit.
    pub fn set_custom_value(&self, task: &str, field: &str, value: Option<SimValue>) {
        let mut st = lock(&self.shared.state);
        let projects: Vec<String> = st
            .live_task(task)
            .unwrap_or_else(|e| panic!("asana-sim: set_custom_value({task}): {}", e.message))
            .memberships
            .iter()
            .map(|m| m.project.clone())
            .collect();
        let def = st
            .custom
            .enabled_on(projects.iter().map(String::as_str))
            .into_iter()
            .find(|d| d.name == field)
            .cloned()
            .unwrap_or_else(|| panic!("asana-sim: no custom field {field:?} on task {task}"));
        let option = |name: &str| {
            def.options
                .iter()
                .find(|o| o.name == name)
                .map(|o| o.gid.clone())
                .unwrap_or_else(|| panic!("asana-sim: {field} has no option {name:?}"))
        };
        let value = value.map(|v| match v {
            SimValue::Text(t) => CfValue::Text(t),
            SimValue::Number(n) => CfValue::Number(n),
            SimValue::Options(names) if def.subtype == "enum" => CfValue::Enum(option(&names[0])),
            SimValue::Options(names) => {
                CfValue::MultiEnum(names.iter().map(|n| option(n)).collect())
            }
            SimValue::Date(d) => CfValue::Date(d),
            SimValue::People(emails) => CfValue::People(
                emails
                    .iter()
                    .map(|e| {
                        st.user_by_email(e)
                            .map(|u| u.gid.clone())
                            .unwrap_or_else(|| panic!("asana-sim: no user {e}"))
                    })
                    .collect(),
            ),
        });
        let alice = st.alice.clone();
        apply(&mut st, &alice, task, vec![(def.gid.clone(), value)]);
    }

    /// Task `task`'s custom field values by field name, as tests compare them: option
    /// names, e-mails, text, numbers, dates.
    pub fn custom_values(&self, task: &str) -> BTreeMap<String, SimValue> {
        let st = lock(&self.shared.state);
        let mut out = BTreeMap::new();
        for (gid, value) in st.custom.values.get(task).into_iter().flatten() {
            let Some(def) = st.custom.fields.get(gid) else {
                continue;
            };
            let name = |g: &String| {
                def.options
                    .iter()
                    .find(|o| o.gid == *g)
                    .map(|o| o.name.clone())
                    .unwrap_or_default()
            };
            let v = match value {
                CfValue::Text(t) => SimValue::Text(t.clone()),
                CfValue::Number(n) => SimValue::Number(*n),
                CfValue::Enum(g) => SimValue::Options(vec![name(g)]),
                CfValue::MultiEnum(gs) => SimValue::Options(gs.iter().map(name).collect()),
                CfValue::Date(d) => SimValue::Date(d.clone()),
                CfValue::People(us) => SimValue::People(
                    us.iter()
                        .filter_map(|u| st.user(u).map(|u| u.email.clone()))
                        .collect(),
                ),
            };
            out.insert(def.name.clone(), v);
        }
        out
    }
}
