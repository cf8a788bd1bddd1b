//! Custom fields on the Asana side: a task's `custom_fields` read into the common model by
//! name, and a patch's custom fields turned into the `custom_fields: {gid: value}` of a
//! write, checked against the project's custom field settings
//! (`GET /projects/{project_gid}/custom_field_settings`).
//!
//! The settings are read at most once per run and kept on disk between runs next to the
//! user directories (like [`crate::directory_cache`]): a no-op run reads none of them, and
//! a run that writes custom fields reads them once. A copy older than a day is not used; a
//! name or option a copy does not know leads to one fresh listing (a field added since), and
//! a write Asana refuses drops the copy.
//!
//! Only the types the bridge mirrors are read or written: text, number, enum, multi-enum,
//! date and people. Any other field (formula, custom id, a type added later) is left alone:
//! never read into a file, never written; naming one in a file is an error for that task.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use asana_bridge_connector::custom::number_text;
use asana_bridge_connector::{ConnectorError, CustomFields, CustomValue};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::AsanaClient;
use crate::wire::{NamedRef, Ref};

/// The `opt_fields` read for every task's custom fields (all in the `opt_fields` enum of
/// the task operations in Asana's OpenAPI description).
pub const TASK_FIELDS: &[&str] = &[
    "custom_fields.name",
    "custom_fields.resource_subtype",
    "custom_fields.type",
    "custom_fields.is_formula_field",
    "custom_fields.text_value",
    "custom_fields.number_value",
    "custom_fields.enum_value.name",
    "custom_fields.multi_enum_values.name",
    "custom_fields.date_value.date",
    "custom_fields.people_value",
];

/// The `opt_fields` read for the project's settings.
pub const SETTING_FIELDS: &[&str] = &[
    "custom_field.name",
    "custom_field.resource_subtype",
    "custom_field.type",
    "custom_field.is_formula_field",
    "custom_field.enum_options.name",
    "custom_field.enum_options.enabled",
];

/// How old a kept copy of the settings may be.
const MAX_AGE: SignedDuration = SignedDuration::from_hours(24);

/// A copy this process listed this recently is not listed again for a name it lacks.
const RELIST_AFTER: SignedDuration = SignedDuration::from_secs(60);

/// The name of the file the settings are kept in, beside the user directories.
pub const CACHE_FILE: &str = "asana-custom-fields.json";

/// The field types the bridge mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    Number,
    Enum,
    MultiEnum,
    Date,
    People,
}

impl Kind {
    /// The kind of a field of this subtype, `None` for one the bridge leaves alone.
    fn of(subtype: Option<&str>, formula: bool) -> Option<Kind> {
        if formula {
            return None;
        }
        Some(match subtype? {
            "text" => Kind::Text,
            "number" => Kind::Number,
            "enum" => Kind::Enum,
            "multi_enum" => Kind::MultiEnum,
            "date" => Kind::Date,
            "people" => Kind::People,
            _ => return None,
        })
    }
}

/// A task's custom field as read (`custom_fields[]` with [`TASK_FIELDS`]).
#[derive(Clone, Debug, Deserialize)]
pub struct TaskField {
    pub gid: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub resource_subtype: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub is_formula_field: Option<bool>,
    #[serde(default)]
    pub text_value: Option<String>,
    #[serde(default)]
    pub number_value: Option<f64>,
    #[serde(default)]
    pub enum_value: Option<NamedRef>,
    #[serde(default)]
    pub multi_enum_values: Option<Vec<NamedRef>>,
    #[serde(default)]
    pub date_value: Option<DateValue>,
    #[serde(default)]
    pub people_value: Option<Vec<Ref>>,
}

/// `date_value`: the day (and a time, which the bridge does not mirror).
#[derive(Clone, Debug, Deserialize)]
pub struct DateValue {
    #[serde(default)]
    pub date: Option<String>,
}

impl TaskField {
    fn kind(&self) -> Option<Kind> {
        Kind::of(
            self.resource_subtype.as_deref().or(self.kind.as_deref()),
            self.is_formula_field.unwrap_or(false),
        )
    }

    /// The gids of the people this field names (for resolving their e-mails).
    #[must_use]
    pub fn people(&self) -> Vec<&str> {
        if self.kind() != Some(Kind::People) {
            return Vec::new();
        }
        self.people_value
            .iter()
            .flatten()
            .map(|p| p.gid.as_str())
            .collect()
    }
}

/// A task's custom fields in the common model, by name; fields of other types are
/// skipped, and people whose e-mail `emails` lacks are left out.
#[must_use]
pub fn read(fields: Option<&[TaskField]>, emails: &HashMap<String, String>) -> CustomFields {
    let mut out = CustomFields::new();
    for f in fields.into_iter().flatten() {
        let (Some(kind), Some(name)) = (f.kind(), f.name.as_ref()) else {
            continue;
        };
        let value = match kind {
            Kind::Text => f.text_value.clone().map(CustomValue::One),
            Kind::Number => f.number_value.map(|n| CustomValue::One(number_text(n))),
            Kind::Enum => f
                .enum_value
                .as_ref()
                .and_then(|e| e.name.clone())
                .map(CustomValue::One),
            Kind::MultiEnum => Some(CustomValue::Many(
                f.multi_enum_values
                    .iter()
                    .flatten()
                    .filter_map(|e| e.name.clone())
                    .collect(),
            )),
            Kind::Date => f
                .date_value
                .as_ref()
                .and_then(|d| d.date.clone())
                .map(CustomValue::One),
            Kind::People => Some(CustomValue::Many(
                f.people()
                    .into_iter()
                    .filter_map(|gid| emails.get(gid).cloned())
                    .collect(),
            )),
        };
        if let Some(value) = value.and_then(CustomValue::canonical) {
            out.insert(name.clone(), value);
        }
    }
    out
}

/// One enum option of a setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumOption {
    pub gid: String,
    pub name: String,
    pub enabled: bool,
}

/// One custom field enabled on the project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub gid: String,
    pub name: String,
    /// `None`: a type the bridge leaves alone.
    pub kind: Option<Kind>,
    pub options: Vec<EnumOption>,
}

/// The project's custom fields, as listed or kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub fetched_at: String,
    pub fields: Vec<Setting>,
}

impl Settings {
    /// The field named exactly `name`: the name is the file's key, and a key spelled
    /// otherwise would come back from Asana as a second key.
    fn find(&self, name: &str) -> Option<&Setting> {
        self.fields.iter().find(|s| s.name == name)
    }

    fn age(&self) -> Option<SignedDuration> {
        let at: Timestamp = self.fetched_at.parse().ok()?;
        Some(Timestamp::now().duration_since(at))
    }

    /// Whether every name and option of `patch` is known here.
    fn knows(&self, patch: &BTreeMap<String, Option<CustomValue>>) -> bool {
        patch.iter().all(|(name, value)| {
            self.find(name).is_some_and(|s| match (s.kind, value) {
                (Some(Kind::Enum | Kind::MultiEnum), Some(v)) => {
                    v.items().iter().all(|item| s.option(item).is_some())
                }
                _ => true,
            })
        })
    }
}

impl Setting {
    fn option(&self, name: &str) -> Option<&EnumOption> {
        let enabled = || self.options.iter().filter(|o| o.enabled);
        enabled()
            .find(|o| o.name == name)
            .or_else(|| enabled().find(|o| o.name.eq_ignore_ascii_case(name)))
    }

    fn allowed(&self) -> String {
        let names: Vec<&str> = self
            .options
            .iter()
            .filter(|o| o.enabled)
            .map(|o| o.name.as_str())
            .collect();
        names.join(", ")
    }
}

/// The wire shape of one `CustomFieldSettingResponse` with [`SETTING_FIELDS`].
#[derive(Debug, Deserialize)]
struct WireSetting {
    custom_field: Option<WireField>,
}

#[derive(Debug, Deserialize)]
struct WireField {
    gid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    resource_subtype: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    is_formula_field: Option<bool>,
    #[serde(default)]
    enum_options: Option<Vec<WireOption>>,
}

#[derive(Debug, Deserialize)]
struct WireOption {
    gid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// The project's settings for one connector: in memory for the run, on disk between runs.
#[derive(Debug, Default)]
pub struct SettingsCache {
    /// The copy in use, and whether this process listed it (rather than loaded it).
    current: tokio::sync::Mutex<Option<(Arc<Settings>, bool)>>,
}

impl SettingsCache {
    /// Settings that know every name and option of `patch`, if the project has them:
    /// the copy in memory or on disk, else a fresh listing.
    async fn for_patch(
        &self,
        client: &AsanaClient,
        project: &str,
        patch: &BTreeMap<String, Option<CustomValue>>,
    ) -> Result<Arc<Settings>, ConnectorError> {
        let mut current = self.current.lock().await;
        if current.is_none() {
            *current = load(client.cache_file(CACHE_FILE), project).map(|s| (Arc::new(s), false));
        }
        if let Some((s, listed_here)) = current.as_ref()
            && (s.knows(patch) || (*listed_here && s.age().is_some_and(|a| a < RELIST_AFTER)))
        {
            return Ok(Arc::clone(s));
        }
        let fresh = Arc::new(list(client, project).await?);
        save(client.cache_file(CACHE_FILE), project, &fresh);
        *current = Some((Arc::clone(&fresh), true));
        Ok(fresh)
    }

    /// Forgets the copy (a write Asana refused may have used a stale one).
    pub async fn forget(&self, client: &AsanaClient, project: &str) {
        *self.current.lock().await = None;
        if let Some(path) = client.cache_file(CACHE_FILE) {
            let mut all = read_all(&path);
            if all.remove(project).is_some() {
                write_all(&path, &all);
            }
        }
    }

    /// The `custom_fields` of a write setting `patch`: field gid -> value, as Asana takes
    /// them. People are resolved to user gids with `person`.
    ///
    /// # Errors
    /// [`ConnectorError::InvalidData`] naming the field and the allowed names or options
    /// when a name, option or value does not fit the project.
    pub async fn write_values<F, Fut>(
        &self,
        client: &AsanaClient,
        project: &str,
        patch: &BTreeMap<String, Option<CustomValue>>,
        person: F,
    ) -> Result<BTreeMap<String, Value>, ConnectorError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<String, ConnectorError>>,
    {
        if patch.is_empty() {
            return Ok(BTreeMap::new());
        }
        let settings = self.for_patch(client, project, patch).await?;
        let mut out = BTreeMap::new();
        for (name, value) in patch {
            let setting = settings.find(name).ok_or_else(|| {
                let names: Vec<&str> = settings
                    .fields
                    .iter()
                    .filter(|s| s.kind.is_some())
                    .map(|s| s.name.as_str())
                    .collect();
                invalid(format!(
                    "fields: no custom field {name:?} on this project; its fields: {}",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ))
            })?;
            let Some(kind) = setting.kind else {
                return Err(invalid(format!(
                    "fields: custom field {name:?} is of a type the bridge leaves alone (formula, custom id, ...); remove it from the file"
                )));
            };
            let sent = match (value, kind) {
                // Asana's description types every value as a string: an empty text clears
                // a text field within it; the other types clear with `null`, as Asana's
                // custom fields guide says (outside the description's `type: string`).
                (None, Kind::Text) => Value::String(String::new()),
                (None, _) => Value::Null,
                (Some(value), _) => to_wire(setting, kind, value, &person).await?,
            };
            out.insert(setting.gid.clone(), sent);
        }
        Ok(out)
    }
}

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidData(message)
}

/// One value as Asana takes it: text, numbers, enum option gids and dates as strings (as
/// Asana's OpenAPI description types them); multi-enum options and people as lists of
/// gids, as Asana's custom fields guide and the description's own wording ask ("an enum
/// GID, string, number, object, or array"), though its schema says `string`.
async fn to_wire<F, Fut>(
    setting: &Setting,
    kind: Kind,
    value: &CustomValue,
    person: &F,
) -> Result<Value, ConnectorError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<String, ConnectorError>>,
{
    let name = &setting.name;
    let one = || match value {
        CustomValue::One(s) => Ok(s.clone()),
        CustomValue::Many(_) => Err(invalid(format!(
            "fields: {name} takes one value, not a list"
        ))),
    };
    let option = |item: &str| {
        setting.option(item).map(|o| o.gid.clone()).ok_or_else(|| {
            invalid(format!(
                "fields: {name} has no option {item:?}; allowed: {}",
                setting.allowed()
            ))
        })
    };
    Ok(match kind {
        Kind::Text => Value::String(one()?),
        Kind::Number => {
            let s = one()?;
            let n: f64 = s
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| invalid(format!("fields: {name} takes a number, not {s:?}")))?;
            Value::String(number_text(n))
        }
        Kind::Enum => Value::String(option(&one()?)?),
        Kind::MultiEnum => Value::Array(
            value
                .items()
                .into_iter()
                .map(|i| option(i).map(Value::String))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Date => {
            let s = one()?;
            if s.parse::<jiff::civil::Date>().is_err() {
                return Err(invalid(format!(
                    "fields: {name} takes a date written YYYY-MM-DD, not {s:?}"
                )));
            }
            Value::String(s)
        }
        Kind::People => {
            let mut gids = Vec::new();
            for email in value.items() {
                gids.push(Value::String(person(email.to_owned()).await?));
            }
            Value::Array(gids)
        }
    })
}

/// Lists the project's settings (one request a hundred fields).
async fn list(client: &AsanaClient, project: &str) -> Result<Settings, ConnectorError> {
    let wire: Vec<WireSetting> = client
        .get_all(
            &format!("/projects/{project}/custom_field_settings"),
            &[("opt_fields", crate::wire::opt_fields(SETTING_FIELDS))],
            true,
        )
        .await?;
    let fields = wire
        .into_iter()
        .filter_map(|w| w.custom_field)
        .filter_map(|f| {
            Some(Setting {
                kind: Kind::of(
                    f.resource_subtype.as_deref().or(f.kind.as_deref()),
                    f.is_formula_field.unwrap_or(false),
                ),
                name: f.name?,
                gid: f.gid,
                options: f
                    .enum_options
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|o| {
                        Some(EnumOption {
                            name: o.name?,
                            gid: o.gid,
                            enabled: o.enabled.unwrap_or(true),
                        })
                    })
                    .collect(),
            })
        })
        .collect();
    Ok(Settings {
        fetched_at: Timestamp::now().to_string(),
        fields,
    })
}

fn load(path: Option<PathBuf>, project: &str) -> Option<Settings> {
    let settings = read_all(&path?).remove(project)?;
    settings
        .age()
        .is_some_and(|a| a < MAX_AGE)
        .then_some(settings)
}

fn save(path: Option<PathBuf>, project: &str, settings: &Settings) {
    let Some(path) = path else { return };
    let mut all = read_all(&path);
    all.insert(project.to_owned(), settings.clone());
    write_all(&path, &all);
}

fn read_all(path: &std::path::Path) -> HashMap<String, Settings> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Best effort: a copy that cannot be kept only costs a listing next time.
fn write_all(path: &std::path::Path, all: &HashMap<String, Settings>) {
    use std::io::Write;
    let write = || -> std::io::Result<()> {
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
        std::fs::create_dir_all(&dir)?;
        // NamedTempFile is created 0600 on unix: owner-only from the start.
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        tmp.write_all(&serde_json::to_vec(all).map_err(std::io::Error::other)?)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    if let Err(e) = write() {
        tracing::debug!(file = %path.display(), "cannot keep the custom field settings: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(json: serde_json::Value) -> TaskField {
        serde_json::from_value(json).unwrap()
    }

    /// Every mirrored type reads into its canonical value; formula and custom-id fields
    /// and unknown people are left out.
    #[test]
    fn reads_each_type_and_skips_the_others() {
        let fields = vec![
            field(
                serde_json::json!({"gid": "1", "name": "Ticket", "resource_subtype": "text", "text_value": "WEB-1"}),
            ),
            field(
                serde_json::json!({"gid": "2", "name": "Estimate", "resource_subtype": "number", "number_value": 3.0}),
            ),
            field(
                serde_json::json!({"gid": "3", "name": "Priority", "resource_subtype": "enum", "enum_value": {"gid": "31", "name": "High"}}),
            ),
            field(
                serde_json::json!({"gid": "4", "name": "Platforms", "resource_subtype": "multi_enum", "multi_enum_values": [{"gid": "42", "name": "iOS"}, {"gid": "41", "name": "Web"}]}),
            ),
            field(
                serde_json::json!({"gid": "5", "name": "Launch", "resource_subtype": "date", "date_value": {"date": "2026-12-10"}}),
            ),
            field(
                serde_json::json!({"gid": "6", "name": "Reviewer", "resource_subtype": "people", "people_value": [{"gid": "u1"}, {"gid": "u9"}]}),
            ),
            field(
                serde_json::json!({"gid": "7", "name": "Score", "resource_subtype": "number", "is_formula_field": true, "number_value": 9}),
            ),
            field(serde_json::json!({"gid": "8", "name": "ID", "resource_subtype": "custom_id"})),
            field(
                serde_json::json!({"gid": "9", "name": "Empty", "resource_subtype": "enum", "enum_value": null}),
            ),
        ];
        let emails = HashMap::from([("u1".to_owned(), "bob@example.com".to_owned())]);
        let read = read(Some(&fields), &emails);
        let one = |s: &str| CustomValue::One(s.into());
        let many = |v: &[&str]| CustomValue::Many(v.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(
            read,
            CustomFields::from([
                ("Ticket".into(), one("WEB-1")),
                ("Estimate".into(), one("3")),
                ("Priority".into(), one("High")),
                ("Platforms".into(), many(&["Web", "iOS"])),
                ("Launch".into(), one("2026-12-10")),
                ("Reviewer".into(), many(&["bob@example.com"])),
            ])
        );
    }

    fn settings() -> Settings {
        let opt = |gid: &str, name: &str, enabled: bool| EnumOption {
            gid: gid.into(),
            name: name.into(),
            enabled,
        };
        Settings {
            fetched_at: Timestamp::now().to_string(),
            fields: vec![
                Setting {
                    gid: "3".into(),
                    name: "Priority".into(),
                    kind: Some(Kind::Enum),
                    options: vec![
                        opt("31", "High", true),
                        opt("32", "Low", true),
                        opt("33", "Old", false),
                    ],
                },
                Setting {
                    gid: "7".into(),
                    name: "Score".into(),
                    kind: None,
                    options: vec![],
                },
            ],
        }
    }

    /// An option is found by name (disabled ones are not offered); the error lists the
    /// allowed options.
    #[test]
    fn options_are_checked_by_name() {
        let s = settings();
        assert!(s.find("priority").is_none(), "field names are exact");
        let p = s.find("Priority").unwrap();
        assert_eq!(p.option("High").unwrap().gid, "31");
        assert!(p.option("Old").is_none());
        assert_eq!(p.allowed(), "High, Low");
        let patch = BTreeMap::from([(
            "Priority".to_owned(),
            Some(CustomValue::One("Urgent".into())),
        )]);
        assert!(!s.knows(&patch));
    }
}
