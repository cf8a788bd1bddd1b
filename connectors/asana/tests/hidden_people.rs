//! A people custom field naming someone whose e-mail Asana hides from the bridge's
//! account reads without that person, so the connector never writes it back: doing so
//! would remove them in Asana for everyone.

mod common;

use asana_bridge_asana::AsanaConnector;
use asana_bridge_connector::{Connector, ConnectorError, CustomValue, TaskPatch};
use asana_sim::{SimValue, Simulator, TaskSeed};

#[tokio::test]
async fn a_people_field_with_a_hidden_person_is_never_written() {
    let sim = Simulator::start();
    let project = sim.create_project("Roadmap");
    sim.add_custom_field(&project, "Reviewer", "people", &[]);
    sim.add_custom_field(&project, "Ticket", "text", &[]);
    let gid = sim.add_task(&project, TaskSeed::named("Ship it"));
    let reviewers = SimValue::People(vec!["alice@example.com".into(), "bob@example.com".into()]);
    sim.set_custom_value(&gid, "Reviewer", Some(reviewers.clone()));
    sim.hide_email("bob@example.com");
    let connector = AsanaConnector::new(common::client(&sim), project.clone());

    let item = connector
        .get_many(std::slice::from_ref(&gid))
        .await
        .expect("read")
        .pop()
        .expect("the task");
    assert_eq!(
        item.fields.custom.get("Reviewer"),
        Some(&CustomValue::Many(vec!["alice@example.com".into()])),
        "bob's e-mail is hidden: he is not in the value the bridge holds"
    );

    let mut patch = TaskPatch::default();
    patch.custom.insert(
        "Reviewer".into(),
        Some(CustomValue::Many(vec!["alice@example.com".into()])),
    );
    let err = connector
        .update(&item, &patch)
        .await
        .expect_err("writing the field would remove bob");
    assert!(
        matches!(&err, ConnectorError::InvalidData(m) if m.contains("Reviewer")),
        "{err}"
    );
    assert_eq!(
        sim.custom_values(&gid).get("Reviewer"),
        Some(&reviewers),
        "bob is still a reviewer in Asana"
    );

    // Another custom field of the same task is still written.
    let mut other = TaskPatch::default();
    other
        .custom
        .insert("Ticket".into(), Some(CustomValue::One("WEB-1".into())));
    connector.update(&item, &other).await.expect("written");
    assert_eq!(
        sim.custom_values(&gid).get("Ticket"),
        Some(&SimValue::Text("WEB-1".into()))
    );
}
