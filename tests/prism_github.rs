//! End to end under an independent referee, GitHub side: the real `asana-bridge` binary
//! syncs an Asana project (the Asana simulator, reached directly) with a repository's
//! issues (the GitHub simulator) through Prism (`@stoplight/prism-cli`, proxy mode,
//! `--errors`) loaded with the part of GitHub's own OpenAPI description an issues connector
//! needs (`specs/github/github_issues_oas.json`, vendored). Every request the bridge sends to
//! GitHub and every answer the simulator gives it are checked by a validator nobody here
//! wrote; one violation fails the test, with Prism's message.
//!
//! Two things make the simulator refereeable, both set through its control API:
//! - `set_public_url`: its `Link` headers point at the relay in front of Prism, so the
//!   bridge follows page 2 through the referee (it rightly refuses a link outside its
//!   configured `api_url`).
//! - `set_links_by_name`: those links name the repository `/repos/{owner}/{repo}/...`.
//!   GitHub itself answers with `/repositories/{id}/...`, a path its description does not
//!   define, so Prism would answer `404 NO_PATH_MATCHED` to a page-2 request on that form.
//!
//! Prism is loaded with a mechanical copy of the description, written at test time (see
//! `explicit_nulls`): five schemas with `nullable` but no `type` made explicit, because
//! Prism's validator cannot compile them and then silently checks nothing on the issue
//! list, create, read and PATCH operations (a test below shows it).
//!
//! Allowed warnings (and only these): GitHub's description defines no `304` on the issue,
//! label and comment listings (it does on `GET /issues/{n}` and `/user`), and no `429` anywhere nor
//! `403` on the listings, although GitHub answers conditional GETs with `304` and rate
//! limits with `403`/`429` on every endpoint. Prism passes those through with "Unable to
//! match the returned status code"; the report lists them.
//!
//! Prism comes from `.ci/run` (`ASANA_BRIDGE_PRISM`), else `.ci/prism/node_modules/.bin`, else
//! `PATH`; the test is skipped (saying so) when there is none, unless `CI` is set.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;
mod prism_support;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Duration;

use gh::{Fault, GhWorld, IssueEdit, Run, TaskEdit};
use prism_support::{Exchange, Finding, Prism, Relay, Setup};
use serde_json::Value;

/// The vendored description, under the repository's `specs/`.
const SPEC: &str = "github/github_issues_oas.json";

/// `schema` with every `nullable: true` that has no `type` beside it made explicit:
/// `{"anyOf": [<schema without nullable>, {"type": "null"}]}`. Returns how many it changed.
///
/// GitHub's description has five such schemas (`title`, `milestone` and `type` of the issue
/// PATCH body, `milestone` of the create body, `issue-field-value.value`). Prism's validator
/// (ajv, `strict: false`) refuses to compile any schema containing one ("nullable cannot be
/// used without type") and then silently validates nothing: the issue list, create, read
/// and PATCH operations, request and answer, would pass whatever they carry. The rewrite
/// accepts exactly what the original means.
fn explicit_nulls(schema: &mut Value) -> usize {
    let mut changed = 0;
    match schema {
        Value::Array(items) => {
            for item in items {
                changed += explicit_nulls(item);
            }
        }
        Value::Object(map) => {
            for value in map.values_mut() {
                changed += explicit_nulls(value);
            }
            if map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("type") {
                map.remove("nullable");
                let inner = Value::Object(std::mem::take(map));
                map.insert(
                    "anyOf".to_owned(),
                    serde_json::json!([inner, {"type": "null"}]),
                );
                changed += 1;
            }
        }
        _ => {}
    }
    changed
}

/// Writes the Prism-ready copy of GitHub's description (see [`explicit_nulls`]) into `dir`.
fn prism_ready(spec: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(spec).expect("read GitHub's description");
    let mut doc: Value = serde_json::from_str(&text).expect("GitHub's description is JSON");
    let changed = explicit_nulls(&mut doc);
    assert_eq!(
        changed, 5,
        "GitHub's description changed; review explicit_nulls"
    );
    let out = dir.join("github_issues_oas.prism.json");
    std::fs::write(&out, serde_json::to_vec(&doc).expect("serialize")).expect("write the copy");
    out
}

/// The scenario's world with Prism in the path of every GitHub request of the binary.
struct Refereed {
    w: GhWorld,
    relay: Relay,
    prism: Prism,
}

impl Refereed {
    /// Writes the config: the link `bugs` to `acme/app` through the relay, `extra` appended
    /// (more links), and the `[users]` table with `users` after alice.
    fn write_config(&self, extra: &str, users: &str) {
        let config = format!(
            "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n\n[[link]]\nname = \"bugs\"\nasana_project = \"{}\"\nconflict = \"newest\"\ngithub = {{ repo = \"acme/app\", token_env = \"GITHUB_TOKEN\", api_url = \"{}\", import = \"all\" }}\n{extra}\n[users]\n\"alice@example.com\" = \"alice-gh\"\n{users}",
            self.w.project,
            self.relay.url()
        );
        std::fs::write(self.w.dir.path().join("asana-bridge.toml"), config).expect("config");
    }

    /// `sync`, which must succeed.
    #[track_caller]
    fn sync(&self) -> Run {
        self.w.sync()
    }

    /// The issue number of task `gid`.
    #[track_caller]
    fn number(&self, gid: &str) -> u64 {
        self.w.issue_of(gid).number
    }
}

/// The exchange's operation, e.g. `PATCH /repos/acme/app/issues/{gid}` (numbers replaced).
fn op(e: &Exchange, want: &str) -> bool {
    e.operation() == want
}

/// The request body as JSON (`Null` when none).
fn body(e: &Exchange) -> Value {
    serde_json::from_str(&e.request_body).unwrap_or_default()
}

/// A `PATCH /issues/{n}` answered 200 whose body passes `pred`.
fn patch_with(e: &Exchange, pred: impl Fn(&Value) -> bool) -> bool {
    op(e, "PATCH /repos/acme/app/issues/{gid}") && e.status == Some(200) && pred(&body(e))
}

/// Whether the query string has `name=value` (`value` empty: any value).
fn query_has(e: &Exchange, name: &str, value: &str) -> bool {
    e.target.split_once('?').is_some_and(|(_, q)| {
        q.split('&').any(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            k == name && (value.is_empty() || v == value)
        })
    })
}

/// Whether an answer is a rate-limit refusal (primary or secondary), by GitHub's message.
fn rate_limited(e: &Exchange) -> bool {
    matches!(e.status, Some(403 | 429)) && e.response_body.contains("rate limit")
}

/// The warnings Prism may raise, each a status GitHub's description leaves out: `304` on a
/// listing (the description lists it on single resources only), and a rate-limit `403`/
/// `429` where the description lists no such status.
fn expected_warning(e: &Exchange, w: &Finding) -> bool {
    let undefined_status = w
        .message
        .contains("Unable to match the returned status code");
    let listing = e.method == "GET"
        && (op(e, "GET /repos/acme/app/issues")
            || op(e, "GET /repos/acme/app/labels")
            || op(e, "GET /repos/acme/app/issues/comments")
            || op(e, "GET /repos/acme/app/issues/{gid}/comments"));
    undefined_status && ((e.status == Some(304) && listing) || rate_limited(e))
}

/// Every kind of exchange the scenario must have put in front of Prism. Reads the engine
/// may or may not make (one issue by number) are validated when they happen but not
/// demanded.
fn coverage(exchanges: &[Exchange]) -> Vec<&'static str> {
    type Check = (&'static str, Box<dyn Fn(&Exchange) -> bool>);
    let list = "GET /repos/acme/app/issues";
    let checks: Vec<Check> = vec![
        (
            "listing, first page",
            Box::new(move |e| op(e, list) && !query_has(e, "page", "") && e.status == Some(200)),
        ),
        (
            "listing, a later page through Link",
            Box::new(move |e| {
                op(e, list) && query_has(e, "page", "2") && matches!(e.status, Some(200 | 304))
            }),
        ),
        (
            "listing with pull requests mixed in",
            Box::new(move |e| {
                op(e, list)
                    && e.status == Some(200)
                    && serde_json::from_str::<Vec<Value>>(&e.response_body).is_ok_and(|items| {
                        items
                            .iter()
                            .any(|i| i.get("pull_request").is_some_and(Value::is_object))
                    })
            }),
        ),
        (
            "conditional listing -> 304",
            Box::new(move |e| op(e, list) && e.status == Some(304)),
        ),
        (
            "create an issue",
            Box::new(|e| {
                op(e, "POST /repos/acme/app/issues")
                    && e.status == Some(201)
                    && body(e)["labels"].as_array().is_some_and(|l| !l.is_empty())
                    && body(e)["assignees"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
            }),
        ),
        (
            "list the labels",
            Box::new(|e| op(e, "GET /repos/acme/app/labels") && e.status == Some(200)),
        ),
        (
            "create a label",
            Box::new(|e| op(e, "POST /repos/acme/app/labels") && e.status == Some(201)),
        ),
        (
            "PATCH title",
            Box::new(|e| patch_with(e, |b| b["title"].is_string())),
        ),
        (
            "PATCH body (notes, or the link line)",
            Box::new(|e| patch_with(e, |b| b["body"].is_string())),
        ),
        (
            "PATCH close as completed",
            Box::new(|e| {
                patch_with(e, |b| {
                    b["state"] == "closed" && b["state_reason"] == "completed"
                })
            }),
        ),
        (
            "PATCH reopen",
            Box::new(|e| {
                patch_with(e, |b| {
                    b["state"] == "open" && b["state_reason"] == "reopened"
                })
            }),
        ),
        (
            "PATCH labels",
            Box::new(|e| {
                patch_with(e, |b| {
                    b["labels"].is_array() && b["state_reason"] != "not_planned"
                })
            }),
        ),
        (
            "PATCH assignees (set)",
            Box::new(|e| {
                patch_with(e, |b| {
                    b["assignees"].as_array().is_some_and(|a| !a.is_empty())
                })
            }),
        ),
        (
            "PATCH assignees (cleared)",
            Box::new(|e| patch_with(e, |b| b["assignees"].as_array().is_some_and(Vec::is_empty))),
        ),
        (
            "delete: close as not_planned with the deleted label",
            Box::new(|e| {
                patch_with(e, |b| {
                    b["state_reason"] == "not_planned"
                        && b["labels"]
                            .as_array()
                            .is_some_and(|l| l.iter().any(|n| n == "asana-bridge:deleted"))
                })
            }),
        ),
        (
            "list the repository's webhooks",
            Box::new(|e| op(e, "GET /repos/acme/app/hooks") && e.status == Some(200)),
        ),
        (
            "create a webhook",
            Box::new(|e| {
                op(e, "POST /repos/acme/app/hooks")
                    && e.status == Some(201)
                    && body(e)["config"]["content_type"] == "json"
            }),
        ),
        (
            "delete a webhook",
            Box::new(|e| {
                e.method == "DELETE"
                    && e.target.contains("/repos/acme/app/hooks/")
                    && e.status == Some(204)
            }),
        ),
        (
            "GET /user -> 200",
            Box::new(|e| op(e, "GET /user") && e.status == Some(200)),
        ),
        (
            "404 (a repository that does not exist)",
            Box::new(|e| e.status == Some(404) && e.target.contains("/acme/ghost/")),
        ),
        (
            "422 (an assignee who is not a collaborator)",
            Box::new(|e| e.status == Some(422) && e.response_body.contains("assignees")),
        ),
        (
            "401 (a revoked token)",
            Box::new(|e| op(e, "GET /user") && e.status == Some(401)),
        ),
        (
            "403 primary rate limit",
            Box::new(|e| {
                e.status == Some(403) && e.response_body.contains("API rate limit exceeded")
            }),
        ),
        (
            "403 secondary rate limit (defined on POST /issues)",
            Box::new(|e| {
                op(e, "POST /repos/acme/app/issues") && e.status == Some(403) && rate_limited(e)
            }),
        ),
        (
            "429 secondary rate limit",
            Box::new(|e| e.status == Some(429) && rate_limited(e)),
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, check)| !exchanges.iter().any(check))
        .map(|(label, _)| label)
        .collect()
}

/// Imports both ways (with pull requests and two pages), edits each way, label creation,
/// a deletion, error answers and rate limits, as one run of syncs.
fn scenario(t: &Refereed) {
    let w = &t.w;
    // 1. Initial import both ways: 104 tasks (so the listing later has two pages of 100),
    //    two issues and two pull requests on GitHub.
    let gids: Vec<String> = (0..104)
        .map(|i| {
            w.add_task(&format!("Task {i:03}"), |s| {
                s.notes = format!("Notes of task {i}.");
                s.completed = i % 10 == 9;
                s.assignee = (i % 3 == 1).then(|| "alice@example.com".to_owned());
                s.tags = match i % 4 {
                    0 => vec!["bug".into(), "p1".into()],
                    1 => vec!["docs".into()],
                    _ => Vec::new(),
                };
            })
        })
        .collect();
    let from_github = w.add_issue("Crash on save", |i| {
        i.body = Some("Steps:\n1. save".into());
        i.labels = vec!["bug".into()];
        i.assignees = vec!["alice-gh".into()];
    });
    w.add_issue("Old one", |i| i.closed = true);
    let pr = w.github.add_pull_request("A pull request", "code");
    w.github
        .add_pull_request("Another pull request", "more code");
    let out = t.sync();
    assert!(
        out.stdout.contains("104 created in github"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("2 created in Asana"), "{}", out.stdout);
    assert_eq!(w.github.repo_issues().len(), 106);
    // Adopted issues are not edited: the records pair them, no link line is written.
    assert!(GhWorld::footer_gid(&w.github.issue(from_github).expect("issue")).is_none());
    assert!(GhWorld::footer_gid(&w.github.issue(pr).expect("pr")).is_none());

    // 2. Nothing changed: quiet, then every listing answers 304 from its ETag.
    let out = t.sync();
    assert!(out.stdout.contains("no changes"), "{}", out.stdout);
    let out = t.sync();
    assert!(out.stdout.contains("no changes"), "{}", out.stdout);

    // 3. Edits in Asana, one kind per task, so that each is its own PATCH; one deletion.
    let edit = |i: usize, e: TaskEdit| w.asana.edit_task(&gids[i], e);
    edit(
        0,
        TaskEdit {
            name: Some("Task 000, renamed in Asana".into()),
            ..TaskEdit::default()
        },
    );
    edit(
        2,
        TaskEdit {
            notes: Some("Rewritten in Asana.".into()),
            ..TaskEdit::default()
        },
    );
    edit(
        3,
        TaskEdit {
            completed: Some(true),
            ..TaskEdit::default()
        },
    );
    edit(
        9,
        TaskEdit {
            completed: Some(false),
            ..TaskEdit::default()
        },
    );
    edit(
        5,
        TaskEdit {
            tags: Some(vec!["docs".into(), "new-in-asana".into()]),
            ..TaskEdit::default()
        },
    );
    edit(
        6,
        TaskEdit {
            assignee: Some(Some("alice@example.com".into())),
            ..TaskEdit::default()
        },
    );
    edit(
        7,
        TaskEdit {
            assignee: Some(None),
            ..TaskEdit::default()
        },
    );
    w.asana.delete_task(&gids[8]);
    let out = t.sync();
    assert!(out.stdout.contains("updated in github"), "{}", out.stdout);
    let issue = |i: usize| w.issue_of(&gids[i]);
    assert_eq!(issue(0).title, "Task 000, renamed in Asana");
    assert_eq!(
        issue(2).body.as_deref(),
        Some(w.body_for("Rewritten in Asana.", &gids[2]).as_str())
    );
    assert_eq!(issue(3).state_reason.as_deref(), Some("completed"));
    assert_eq!(
        (issue(9).state.as_str(), issue(9).state_reason.as_deref()),
        ("open", Some("reopened"))
    );
    assert_eq!(issue(5).labels, ["docs", "new-in-asana"]);
    assert_eq!(issue(6).assignees, ["alice-gh"]);
    assert!(issue(7).assignees.is_empty());
    let deleted = issue(8);
    assert_eq!(deleted.state_reason.as_deref(), Some("not_planned"));
    assert!(deleted.labels.contains(&"asana-bridge:deleted".to_owned()));

    // 4. Edits on GitHub, as a person would make them, and a new issue.
    w.github.edit_issue(
        t.number(&gids[10]),
        IssueEdit {
            title: Some("Task 010, renamed on GitHub".into()),
            labels: Some(vec!["from-github".into()]),
            closed: Some(true),
            ..IssueEdit::default()
        },
    );
    w.add_issue("Opened later on GitHub", |_| {});
    let out = t.sync();
    assert!(out.stdout.contains("1 created in Asana"), "{}", out.stdout);
    let task = w.asana.task(&gids[10]).expect("task");
    assert_eq!(task.name, "Task 010, renamed on GitHub");
    assert!(task.completed);
    assert_eq!(task.tags, ["from-github"]);

    // 5. An assignee who is not a collaborator: GitHub refuses the write (422), the run
    //    says so, and once they are a collaborator the next run applies it.
    w.asana.add_user("Carol Example", "carol@example.com");
    t.write_config("", "\"carol@example.com\" = \"carol-gh\"\n");
    edit(
        11,
        TaskEdit {
            assignee: Some(Some("carol@example.com".into())),
            ..TaskEdit::default()
        },
    );
    let out = w.run(&["sync"]);
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // GitHub's 422 becomes one line naming the field and the value.
    assert!(
        out.stderr
            .contains("GitHub refused the assignee \"carol-gh\""),
        "{}",
        out.stderr
    );
    w.github.add_user("carol-gh");
    t.sync();
    assert_eq!(issue(11).assignees, ["carol-gh"]);

    // 6. Rate limits: the primary budget spent (403 until the reset), then a secondary
    //    limit on a create (403) and on an edit (429), each ridden out.
    w.add_task("Created while limited", |s| {
        s.tags = vec!["limited".into()];
        s.assignee = Some("alice@example.com".into());
    });
    edit(
        12,
        TaskEdit {
            name: Some("Task 012, renamed while limited".into()),
            ..TaskEdit::default()
        },
    );
    w.github.exhaust_rate_limit(Duration::from_secs(2));
    w.github.inject(Fault::SecondaryRateLimit {
        status: 403,
        retry_after_secs: Some(1),
        count: 1,
        method: Some("POST".into()),
        path_contains: Some("/issues".into()),
    });
    w.github.inject(Fault::SecondaryRateLimit {
        status: 429,
        retry_after_secs: Some(1),
        count: 1,
        method: Some("PATCH".into()),
        path_contains: Some("/issues/".into()),
    });
    t.sync();
    assert_eq!(issue(12).title, "Task 012, renamed while limited");
    assert!(
        w.github
            .repo_issues()
            .iter()
            .any(|i| i.title == "Created while limited")
    );

    // 7. A link to a repository that does not exist (404); the other link still syncs.
    let ghost = w.asana.create_project("Ghost");
    let ghost_link = format!(
        "\n[[link]]\nname = \"ghost\"\nasana_project = \"{ghost}\"\nconflict = \"newest\"\ngithub = {{ repo = \"acme/ghost\", token_env = \"GITHUB_TOKEN\", api_url = \"{}\" }}\n",
        t.relay.url()
    );
    t.write_config(&ghost_link, "\"carol@example.com\" = \"carol-gh\"\n");
    edit(
        13,
        TaskEdit {
            name: Some("Task 013, beside a ghost".into()),
            ..TaskEdit::default()
        },
    );
    let out = w.run(&["sync"]);
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(issue(13).title, "Task 013, beside a ghost");
    // `auth status` asks GitHub who the token is (GET /user) and whether it sees each
    // repository (the ghost's labels answer 404).
    let out = w.run(&["auth", "status"]);
    assert!(
        out.stdout.contains("alice") || out.stdout.contains("GitHub"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    t.write_config("", "\"carol@example.com\" = \"carol-gh\"\n");

    // 8. All is quiet again.
    let out = t.sync();
    assert!(out.stdout.contains("no changes"), "{}", out.stdout);

    // 8b. `watch` with webhooks: the repository's webhooks are listed (a stale one would
    //     be deleted), the bridge's is created, and deleted again on a clean stop.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut watch = w
        .command()
        .args([
            "watch",
            "--poll-interval",
            "60",
            "--webhook-listen",
            &format!("127.0.0.1:{port}"),
            "--webhook-url",
            &format!("http://127.0.0.1:{port}/hooks"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn watch");
    assert!(
        gh::eventually(Duration::from_secs(30), || w
            .github
            .hooks()
            .iter()
            .any(|h| h.active)),
        "watch registered no GitHub webhook"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &watch.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_eq!(watch.wait().expect("wait").code(), Some(0));
    assert_eq!(w.github.hooks(), vec![], "the webhook outlived the watch");

    // 9. A revoked token: `auth status` gets GitHub's 401 on GET /user.
    w.github.revoke_tokens();
    let out = w.run(&["auth", "status"]);
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// Writes to the real stderr, past the test harness's capture, so that the report shows in
/// `cargo test` output even when the test passes.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Proves that every request asana-bridge sends to GitHub in a full sync scenario (imports
/// both ways with pull requests and `Link` pagination, `ETag`/`304` rounds, every kind of
/// issue write, label creation, deletion, 401/404/422 answers and rate limits) and every
/// answer the GitHub simulator gives it conform to GitHub's published OpenAPI description,
/// as judged by Prism.
#[test]
fn every_github_request_and_answer_conforms_to_githubs_openapi_description() {
    let (prism_bin, spec) = match prism_support::setup(SPEC) {
        Setup::Ready { prism, spec } => (prism, spec),
        Setup::Skip(why) => {
            say(&format!("prism_github.rs: {why}"));
            return;
        }
    };
    let copy_dir = tempfile::tempdir().expect("temp dir");
    let spec = prism_ready(&spec, copy_dir.path());
    let w = GhWorld::new("newest");
    let prism = Prism::start(&prism_bin, &spec, &w.github.base_url());
    let relay = Relay::start(prism.port());
    w.github.set_public_url(&relay.url());
    w.github.set_links_by_name(true);
    let t = Refereed { w, relay, prism };
    t.write_config("", "");

    let outcome = catch_unwind(AssertUnwindSafe(|| scenario(&t)));

    let exchanges = t.relay.exchanges();
    let report = prism_support::report(
        &format!(
            "github, {} with prism {}",
            spec.file_name().unwrap_or_default().to_string_lossy(),
            t.prism.version
        ),
        &exchanges,
        &t.prism.settled_log_summary(exchanges.len()),
        expected_warning,
    );
    say(&report.text);

    report.assert_clean("GitHub", "the undocumented 304s and rate limits");
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
    let missing = coverage(&exchanges);
    assert!(
        missing.is_empty(),
        "the scenario did not put these in front of Prism: {missing:?}\n{}",
        report.text
    );
    assert!(
        t.w.github.unexpected_requests().is_empty(),
        "{:#?}",
        t.w.github.unexpected_requests()
    );
    assert_eq!(
        report.validated,
        t.prism.settled_log_summary(report.validated).received,
        "the relay and Prism's log disagree on the number of requests"
    );
}

/// Sends the negative control through Prism loaded with `spec`: a PATCH that breaks the
/// description (`state: "shut"`) and an issue listing answered by a stand-in upstream with
/// an item that breaks it (a string `number`, most required properties missing).
fn broken_pair(
    prism_bin: &std::path::Path,
    spec: &std::path::Path,
    title: &str,
) -> (Vec<Exchange>, prism_support::Report) {
    let upstream = prism_support::canned_upstream(r#"[{"number":"one","title":"Broken"}]"#);
    let prism = Prism::start(prism_bin, spec, &format!("http://127.0.0.1:{upstream}"));
    let relay = Relay::start(prism.port());
    let port: u16 = relay
        .url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("relay port");
    prism_support::raw_request(
        port,
        "PATCH",
        "/repos/acme/app/issues/1",
        Some(r#"{"state":"shut"}"#),
    );
    prism_support::raw_request(port, "GET", "/repos/acme/app/issues?state=all", None);
    let exchanges = relay.exchanges();
    let report = prism_support::report(
        title,
        &exchanges,
        &prism.settled_log_summary(exchanges.len()),
        |_, _| false,
    );
    say(&report.text);
    (exchanges, report)
}

/// Proves that the referee bites on GitHub's description: through the Prism-ready copy, a
/// request that breaks it (`state: "shut"` in a PATCH) and an answer that breaks it (an
/// issue whose `number` is a string) are both reported, with Prism's messages naming the
/// property.
#[test]
fn the_github_referee_reports_a_broken_request_and_a_broken_answer() {
    let (prism_bin, spec) = match prism_support::setup(SPEC) {
        Setup::Ready { prism, spec } => (prism, spec),
        Setup::Skip(why) => {
            say(&format!("prism_github.rs: {why}"));
            return;
        }
    };
    let copy_dir = tempfile::tempdir().expect("temp dir");
    let spec = prism_ready(&spec, copy_dir.path());
    let (exchanges, report) = broken_pair(&prism_bin, &spec, "github negative control");
    assert_eq!(exchanges.len(), 2, "{}", report.text);
    let request = &exchanges[0];
    assert_eq!(request.status, Some(422), "{}", report.text);
    assert!(
        request
            .violations
            .iter()
            .any(|v| v.location == "body.state" && v.message.contains("allowed values")),
        "{}",
        report.text
    );
    let answer = &exchanges[1];
    assert_eq!(answer.status, Some(500), "{}", report.text);
    assert!(
        answer
            .violations
            .iter()
            .any(|v| v.location == "response.body.0.number" && v.message.contains("integer")),
        "{}",
        report.text
    );
}

/// Proves why the test uses a Prism-ready copy: loaded with GitHub's description as
/// published, Prism lets the same broken request and broken answer through unremarked
/// (its validator cannot compile the issue schemas, see [`explicit_nulls`]). Should a later
/// Prism validate them, this fails and the copy can go.
#[test]
fn the_published_description_leaves_the_issue_operations_unchecked_by_prism() {
    let (prism_bin, spec) = match prism_support::setup(SPEC) {
        Setup::Ready { prism, spec } => (prism, spec),
        Setup::Skip(why) => {
            say(&format!("prism_github.rs: {why}"));
            return;
        }
    };
    let (exchanges, report) = broken_pair(&prism_bin, &spec, "github, published description");
    assert_eq!(exchanges.len(), 2, "{}", report.text);
    assert_eq!(
        exchanges.iter().map(|e| e.status).collect::<Vec<_>>(),
        [Some(200), Some(200)],
        "{}",
        report.text
    );
    assert_eq!(report.violations, 0, "{}", report.text);
}
