//! The connector's issue comment requests under the independent referee: the comments
//! module talks to the GitHub simulator through Prism (`@stoplight/prism-cli`, proxy mode,
//! `--errors`) loaded with GitHub's own OpenAPI description (`specs/github/
//! github_issues_oas.json`, vendored), so every comment request the connector sends and
//! every answer the simulator gives is checked by a validator nobody here wrote.
//!
//! The harness is the root crate's (`tests/prism_support`, the relay and the report); the
//! description gets the same mechanical rewrite as in `tests/prism_github.rs`
//! (`nullable` without `type` made explicit, which Prism's validator cannot compile).
//! Allowed warnings (and only these): statuses GitHub answers that its description leaves
//! out for these operations: `304` on the comment listings, `403` (a token user without
//! write access) on an edit or delete of someone else's comment, and `404` on the delete of
//! a comment already gone.
//!
//! Prism comes from `ASANA_BRIDGE_PRISM`, else the repository's `.ci/prism/node_modules/
//! .bin`; the test is skipped (saying so) when there is none, unless `CI` is set.

#[path = "../../../tests/prism_support/mod.rs"]
mod prism_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use asana_bridge_connector::http::{HttpClient, RetryPolicy};
use asana_bridge_connector::{ConnectorError, ErrorKind};
use asana_bridge_github::comments;
use asana_bridge_github::{GithubConnector, GithubSettings, http_config};
use github_sim::{GithubSim, IssueSeed, Role};
use prism_support::{Exchange, Finding, Prism, Relay};
use secrecy::SecretString;
use serde_json::Value;

/// The repository root (this crate is `connectors/github`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `prism` binary, or why the test is skipped (a failure when CI demands Prism).
fn prism_bin() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(prism_support::PRISM_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{} does not exist", p.display());
        return Ok(p);
    }
    let local = repo_root().join(".ci/prism/node_modules/.bin/prism");
    if local.is_file() {
        return Ok(local);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "CI is set, so Prism is required, but it is not installed"
    );
    Err("skipped: prism not installed (run .ci/run or `npm ci --prefix .ci/prism`)".to_owned())
}

/// `schema` with every `nullable: true` that has no `type` beside it written as
/// `anyOf: [<schema>, {type: null}]` (what it means, in a form Prism's validator compiles).
fn explicit_nulls(schema: &mut Value) {
    match schema {
        Value::Array(items) => items.iter_mut().for_each(explicit_nulls),
        Value::Object(map) => {
            map.values_mut().for_each(explicit_nulls);
            if map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("type") {
                map.remove("nullable");
                let inner = Value::Object(std::mem::take(map));
                map.insert(
                    "anyOf".to_owned(),
                    serde_json::json!([inner, {"type": "null"}]),
                );
            }
        }
        _ => {}
    }
}

/// The Prism-ready copy of GitHub's description, written into `dir`.
fn prism_ready(dir: &Path) -> PathBuf {
    let spec = repo_root().join("specs/github/github_issues_oas.json");
    let text = std::fs::read_to_string(&spec).expect("read GitHub's description");
    let mut doc: Value = serde_json::from_str(&text).expect("GitHub's description is JSON");
    explicit_nulls(&mut doc);
    let out = dir.join("github_issues_oas.prism.json");
    std::fs::write(&out, serde_json::to_vec(&doc).expect("serialize")).expect("write the copy");
    out
}

/// The statuses GitHub answers on comment operations that its description leaves out.
fn expected_warning(e: &Exchange, w: &Finding) -> bool {
    if !w
        .message
        .contains("Unable to match the returned status code")
    {
        return false;
    }
    let op = e.operation();
    let listing = e.method == "GET" && op.ends_with("/comments");
    let change = (e.method == "PATCH" || e.method == "DELETE") && op.contains("/issues/comments/");
    (listing && e.status == Some(304))
        || (change && e.status == Some(403))
        || (e.method == "DELETE" && e.status == Some(404))
}

fn issue(sim: &GithubSim, title: &str) -> u64 {
    sim.add_issue(IssueSeed {
        title: title.to_owned(),
        ..IssueSeed::default()
    })
}

/// Every comment request of the connector, and every answer to it, conforms to GitHub's
/// published description: both listings over two pages (`Link` followed, `since`, `304`s
/// when unchanged), a post, an edit, a delete, GitHub's `403` on someone else's comment
/// and the `410` of a deleted issue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_requests_and_answers_conform_to_githubs_description() {
    let prism_bin = match prism_bin() {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("comments_prism.rs: {why}");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("gh-comments-prism-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let spec = prism_ready(&dir);
    let sim = GithubSim::start();
    let prism = Prism::start(&prism_bin, &spec, &sim.base_url());
    let relay = Relay::start(prism.port());
    sim.set_public_url(&relay.url());
    sim.set_links_by_name(true);

    let mut config = http_config(&relay.url(), SecretString::from(sim.token()));
    config.retry = RetryPolicy::fast(Duration::from_secs(10));
    let http = HttpClient::new(config).expect("valid config");
    let mut settings = GithubSettings::new("acme/app", "42").expect("valid repo");
    settings.mutation_spacing = Duration::ZERO;
    let c = GithubConnector::new(http, settings);

    let a = issue(&sim, "A");
    let gone = issue(&sim, "B");
    for i in 0..105 {
        sim.add_comment(
            a,
            if i % 2 == 0 { "alice" } else { "bob" },
            &format!("c{i}"),
        );
    }
    sim.add_comment(gone, "alice", "on B");

    let listed = comments::list(&c, a).await.expect("listed");
    assert_eq!(listed.len(), 105);
    assert_eq!(comments::list(&c, a).await.expect("again"), listed);
    let feed = comments::changed_since(&c, None).await.expect("feed");
    assert_eq!(feed.comments.len(), 106);
    let since = comments::changed_since(&c, feed.cursor)
        .await
        .expect("since");
    let idle = comments::changed_since(&c, feed.cursor)
        .await
        .expect("idle");
    assert_eq!(idle, since);

    let posted = comments::post(&c, a, "Seen on **Safari** too.")
        .await
        .expect("posted");
    let edited = comments::edit(&c, &posted.comment, "Seen on Safari 16 too.")
        .await
        .expect("edited");
    comments::delete(&c, &edited.comment)
        .await
        .expect("deleted");
    comments::delete(&c, &edited.comment)
        .await
        .expect("already gone");
    sim.set_token_role(Role::Read);
    let mut forged = listed[0].clone();
    forged.own = true;
    let err = comments::edit(&c, &forged, "rewritten")
        .await
        .expect_err("403");
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    sim.delete_issue(gone);
    let err = comments::list(&c, gone).await.expect_err("410");
    assert!(
        matches!(err, ConnectorError::Api { status: 410, .. }),
        "{err}"
    );

    let exchanges = relay.exchanges();
    let report = prism_support::report(
        &format!("github comments, with prism {}", prism.version),
        &exchanges,
        &prism.settled_log_summary(exchanges.len()),
        expected_warning,
    );
    eprintln!("{}", report.text);
    report.assert_clean(
        "GitHub",
        "the undocumented 304s on listings and 403/404s on comment changes",
    );
    let ops: Vec<(String, Option<u16>)> = exchanges
        .iter()
        .map(|e| (e.operation(), e.status))
        .collect();
    for want in [
        ("GET /repos/acme/app/issues/{gid}/comments", 200),
        ("GET /repos/acme/app/issues/{gid}/comments", 304),
        ("GET /repos/acme/app/issues/{gid}/comments", 410),
        ("GET /repos/acme/app/issues/comments", 200),
        ("GET /repos/acme/app/issues/comments", 304),
        ("POST /repos/acme/app/issues/{gid}/comments", 201),
        ("PATCH /repos/acme/app/issues/comments/{gid}", 200),
        ("PATCH /repos/acme/app/issues/comments/{gid}", 403),
        ("DELETE /repos/acme/app/issues/comments/{gid}", 204),
        ("DELETE /repos/acme/app/issues/comments/{gid}", 404),
    ] {
        let found = ops
            .iter()
            .any(|(op, status)| op == want.0 && *status == Some(want.1));
        assert!(
            found,
            "not put in front of Prism: {want:?}\n{}",
            report.text
        );
    }
    assert!(
        exchanges
            .iter()
            .any(|e| e.method == "GET" && e.target.contains("page=2")),
        "a second page followed through Prism:\n{}",
        report.text
    );
    let _ = std::fs::remove_dir_all(&dir);
}
