//! End to end: `--log-format json` makes every stderr line of a run one JSON object (for
//! journald and log shippers; also set by `ASANA_BRIDGE_LOG_FORMAT`), the final error
//! included, and no token ever appears in them.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use common::{Run, World};

/// Every line of `stderr` as JSON; panics naming the first line that is not an object.
fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{stderr}"));
            assert!(v.is_object(), "{line:?}");
            v
        })
        .collect()
}

#[test]
fn a_verbose_sync_logs_json_lines_without_the_token() {
    let w = World::new("newest");
    w.add_task("Logged", |_| {});
    w.write("local.md", "---\ntitle: Made locally\n---\n");
    let run = w.run(&["--log-format", "json", "sync", "-vv"]).expect(0);
    let lines = json_lines(&run.stderr);
    assert!(
        lines.len() >= 3,
        "a -vv sync logs something:\n{}",
        run.stderr
    );
    for line in &lines {
        assert!(line["level"].is_string(), "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
        assert!(line["fields"].is_object(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l["level"] == "DEBUG"),
        "-vv logs at debug:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&w.sim.token()), "the token was logged");
    assert!(w.files().len() == 2, "{:?}", w.files().keys());

    // The text format, for contrast, is not JSON.
    let text = w.run(&["sync", "-vv"]).expect(0);
    assert!(
        text.stderr
            .lines()
            .any(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
        "{}",
        text.stderr
    );
}

#[test]
fn the_final_error_is_a_json_line_too() {
    let w = World::new("newest");
    let run = Run::from(
        w.command()
            .env_remove("ASANA_TOKEN")
            // The environment's setting, as the container image and the systemd unit use it.
            .env("ASANA_BRIDGE_LOG_FORMAT", "json")
            .args(["sync"])
            .output()
            .expect("run"),
    )
    .expect(2);
    let lines = json_lines(&run.stderr);
    let last = lines.last().expect("an error line");
    assert_eq!(last["level"], "ERROR", "{last}");
    let message = last["fields"]["message"].as_str().expect("message");
    assert!(message.contains("ASANA_TOKEN"), "{message}");
}

/// `watch`'s own messages (an outage, its end) are log events too under JSON.
#[test]
fn watch_messages_are_json_lines_too() {
    use common::{Fault, Watch};
    use std::time::Duration;

    let w = World::new("newest");
    w.write_config_with("newest", "retry_max_seconds = 1\n");
    w.add_task("Watched", |_| {});
    let watch = Watch::start(&w, &["--log-format", "json", "--poll-interval", "1"]);
    assert!(World::eventually(Duration::from_secs(20), || w
        .files()
        .len()
        == 1));
    w.sim.inject(Fault::Status {
        status: 503,
        count: 8,
        method: None,
        path_contains: None,
    });
    assert!(
        World::eventually(Duration::from_secs(30), || watch
            .stderr()
            .contains("reachable again")),
        "{}",
        watch.stderr()
    );
    let (code, _, _, stderr) = watch.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let lines = json_lines(&stderr);
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("link \"roadmap\": ")
            && m.ends_with("retrying with backoff until it is back")),
        "{stderr}"
    );
    assert!(
        messages.contains(&"link \"roadmap\": reachable again"),
        "{stderr}"
    );
    assert!(!stderr.contains(&w.sim.token()), "the token was logged");
}
