//! End to end: the command line's contract (init, status, exit codes, config errors).

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use common::World;

#[test]
fn init_writes_a_starter_config_once() {
    let dir = tempfile::tempdir().expect("dir");
    let bin = env!("CARGO_BIN_EXE_asana-bridge");
    let out = std::process::Command::new(bin)
        .arg("init")
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(dir.path().join("asana-bridge.toml")).expect("config");
    assert!(text.contains("[[link]]") && text.contains("token_env"));
    let again = std::process::Command::new(bin)
        .arg("init")
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("asana-bridge.toml")).expect("config"),
        text
    );
}

#[test]
fn config_and_usage_errors_exit_2_with_one_clear_line() {
    let w = World::new("newest");
    let missing = w.run(&["--config", "nope.toml", "sync"]).expect(2);
    assert!(missing.stderr.contains("nope.toml"), "{}", missing.stderr);

    let no_token = w
        .command()
        .env_remove("ASANA_TOKEN")
        .arg("sync")
        .output()
        .expect("run");
    assert_eq!(no_token.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("ASANA_TOKEN"));

    std::fs::write(w.dir.path().join("bad.toml"), "[[link]]\nname = \"x\"\nasana_project = \"1\"\nconflict = \"sometimes\"\nmarkdown = { dir = \"d\" }\n").expect("write");
    let bad = w.run(&["--config", "bad.toml", "sync"]).expect(2);
    assert!(bad.stderr.contains("sometimes"), "{}", bad.stderr);

    w.run(&["sync", "--link", "nope"]).expect(2);
    w.run(&["frobnicate"]).expect(2);
}

/// A mistake inside a link's target table is named with the link, the table and where it
/// is in the file (line, column, the line itself), like the TOML parser's own mistakes,
/// in one line on stderr; nothing runs.
#[test]
fn a_mistake_in_a_target_table_names_its_line_and_column() {
    let w = World::new("newest");
    let config = "state_dir = \".asana-bridge\"\n\n[[link]]\nname = \"bugs\"\n\
                  asana_project = \"1\"\ngithub = { repo = \"nope\", token_env = \"T\" }\n";
    std::fs::write(w.dir.path().join("repo.toml"), config).expect("write");
    let run = w.run(&["--config", "repo.toml", "sync"]).expect(2);
    let message = run.stderr.trim();
    for needle in [
        "TOML parse error at line 6, column 12",
        "| 6 | github = { repo = \"nope\", token_env = \"T\" }",
        "^^^^ link \"bugs\": github.repo must look like \"owner/name\"",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    assert_eq!(message.lines().count(), 1, "one line: {message}");

    let folder = "[[link]]\nname = \"notes\"\nasana_project = \"1\"\n\n\
                  [link.markdown]\ndir = \"notes\"\ncolour = \"blue\"\n";
    std::fs::write(w.dir.path().join("colour.toml"), folder).expect("write");
    let run = w.run(&["--config", "colour.toml", "status"]).expect(2);
    let message = run.stderr.trim();
    for needle in [
        "TOML parse error at line 7, column 1",
        "| 7 | colour = \"blue\"",
        "link \"notes\": markdown: unknown field `colour`",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    assert!(!w.dir.path().join(".asana-bridge").exists(), "nothing ran");
    assert!(!w.dir.path().join("notes").exists(), "nothing ran");
}

#[test]
fn status_reports_mapped_items_and_last_sync() {
    let w = World::new("newest");
    w.add_task("One", |_| {});
    w.add_task("Two", |_| {});
    let before = w.run(&["status"]).expect(0);
    assert!(before.stdout.contains("never"), "{}", before.stdout);
    w.sync();
    let after = w.run(&["--json", "status"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&after.stdout).expect("json");
    assert_eq!(doc["links"][0]["mapped"], 2);
    assert!(doc["links"][0]["last_success"].is_string());
    assert_eq!(doc["links"][0]["conflicts"], 0);
}

#[test]
fn json_sync_output_is_one_document() {
    let w = World::new("newest");
    w.add_task("One", |_| {});
    let out = w.run(&["--json", "sync"]).expect(0);
    let doc: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["links"][0]["counts"]["created_target"], 1);
    assert_eq!(
        doc["links"][0]["errors"].as_array().expect("errors").len(),
        0
    );
}
