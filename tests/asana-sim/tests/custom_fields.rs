//! Black-box tests of the simulator's custom fields over HTTP: the project's settings
//! listed and paginated, a task's `custom_fields` in its answers, and writes validated as
//! Asana does (a `400` with Asana's error body, nothing changed) before they apply.

use asana_sim::{SimValue, Simulator, TaskSeed};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Api {
    sim: Simulator,
    http: Client,
}

impl Api {
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(self.sim.token());
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().await.expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// A project with an enum, a number, a multi-enum and a formula field, and one task.
fn world() -> (Api, String, String, [String; 4]) {
    let sim = Simulator::start();
    let project = sim.create_project("Roadmap");
    let fields = [
        sim.add_custom_field(&project, "Priority", "enum", &["High", "Low"]),
        sim.add_custom_field(&project, "Estimate", "number", &[]),
        sim.add_custom_field(&project, "Platforms", "multi_enum", &["Web", "iOS"]),
        sim.add_custom_field(&project, "Score", "formula", &[]),
    ];
    let task = sim.add_task(&project, TaskSeed::named("Plan"));
    let api = Api {
        sim,
        http: Client::new(),
    };
    (api, project, task, fields)
}

/// `GET /projects/{p}/custom_field_settings` lists the project's fields with their options,
/// `limit` at a time with `next_page`, projected by `opt_fields` (unknown ones refused).
#[tokio::test]
async fn settings_are_listed_and_paginated() {
    let (api, project, _, fields) = world();
    let path = format!(
        "/projects/{project}/custom_field_settings?limit=3&opt_fields=custom_field.name,custom_field.resource_subtype,custom_field.enum_options.name"
    );
    let (status, page) = api.send("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let data = page["data"].as_array().expect("a list");
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["custom_field"]["gid"], json!(fields[0]));
    assert_eq!(data[0]["custom_field"]["name"], json!("Priority"));
    assert_eq!(
        data[0]["custom_field"]["enum_options"][1]["name"],
        json!("Low")
    );
    assert_eq!(data[1]["custom_field"]["resource_subtype"], json!("number"));
    let offset = page["next_page"]["offset"].as_str().expect("a next page");
    let (_, rest) = api
        .send("GET", &format!("{path}&offset={offset}"), None)
        .await;
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["next_page"], Value::Null);
    let (status, body) = api
        .send(
            "GET",
            &format!("/projects/{project}/custom_field_settings?opt_fields=custom_field.nope"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// Values written by gid read back in `custom_fields`; a bad write is a 400 naming the
/// problem, with Asana's `errors` body, and changes nothing.
#[tokio::test]
async fn writes_are_validated_as_asana_does() {
    let (api, _, task, [priority, estimate, platforms, score]) = world();
    let (_, t) = api
        .send(
            "GET",
            &format!("/tasks/{task}?opt_fields=custom_fields.enum_options.name"),
            None,
        )
        .await;
    let high = t["data"]["custom_fields"][0]["enum_options"][0]["gid"]
        .as_str()
        .expect("an option gid")
        .to_owned();
    let ios = t["data"]["custom_fields"][2]["enum_options"][1]["gid"]
        .as_str()
        .expect("an option gid")
        .to_owned();
    let put = |custom: Value| {
        let api = &api;
        let task = task.clone();
        async move {
            api.send(
                "PUT",
                &format!("/tasks/{task}?opt_fields=custom_fields.name,custom_fields.number_value,custom_fields.enum_value.name,custom_fields.multi_enum_values.name"),
                Some(json!({"data": {"custom_fields": custom}})),
            )
            .await
        }
    };
    let (status, body) =
        put(json!({priority.clone(): high, estimate.clone(): "4.5", platforms.clone(): [ios]}))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cf = &body["data"]["custom_fields"];
    assert_eq!(cf[0]["enum_value"]["name"], json!("High"));
    assert_eq!(cf[1]["number_value"], json!(4.5));
    assert_eq!(cf[2]["multi_enum_values"][0]["name"], json!("iOS"));

    for (custom, says) in [
        (json!({priority.clone(): "123"}), "Unknown object: 123"),
        (json!({estimate.clone(): "lots"}), "Number expected"),
        (json!({platforms.clone(): "Web"}), "Not an array"),
        (json!({"999": "x"}), "is not on given object"),
        (json!({score.clone(): 1}), "computed by Asana"),
    ] {
        let (status, body) = put(custom.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{custom}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{custom}: {body}");
    }
    // Nothing changed; clearing with null works.
    let (status, body) = put(json!({priority.clone(): null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let values = api.sim.custom_values(&task);
    assert_eq!(values.get("Priority"), None);
    assert_eq!(values.get("Estimate"), Some(&SimValue::Number(4.5)));
}
