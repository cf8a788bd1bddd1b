//! Fuzz target: Asana's answers. Any bytes are decoded as every response shape the Asana
//! connector reads (task, task page, user, events page, 412 sync reset) and decoded tasks
//! are converted into the common model; nothing may panic.

#![no_main]

use std::collections::HashMap;

use asana_bridge_asana::{convert, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let emails = HashMap::from([("7".to_owned(), "alice@example.com".to_owned())]);
    if let Ok(env) = serde_json::from_slice::<wire::Envelope<wire::Task>>(data) {
        let _ = convert::is_in_project(&env.data, "1");
        let _ = convert::to_item(env.data, "1", &emails);
    }
    if let Ok(page) = serde_json::from_slice::<wire::ListEnvelope<wire::Task>>(data) {
        for task in page.data {
            let _ = convert::to_item(task, "1", &emails);
        }
    }
    let _ = serde_json::from_slice::<wire::Envelope<wire::User>>(data);
    let _ = serde_json::from_slice::<wire::ListEnvelope<wire::NamedRef>>(data);
    let _ = serde_json::from_slice::<wire::EventsPage>(data);
    let _ = serde_json::from_slice::<wire::SyncReset>(data);
    let _ = serde_json::from_slice::<wire::Envelope<wire::ProjectWorkspace>>(data);
});
