//! End to end: `asana-bridge doctor` against the Asana and GitHub simulators, through the
//! real binary. A healthy setup passes every check; then each check is broken alone (the
//! config, the Asana token, a project, a repository, a folder, the state, the clock, the
//! webhook URL) and only that line changes, with exit 1 for a failure. Doctor writes
//! nothing: no Asana write, no state created or changed, no file left in a folder, and no
//! token in its output.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::time::Duration;

use common::{Run, Watch, World, free_port};
use github_sim::GithubSim;

/// A world whose config links the simulator's project to `roadmap/` and a second project
/// to the GitHub simulator's repository (`repo`).
struct Setup {
    w: World,
    gh: GithubSim,
    bugs_project: String,
}

impl Setup {
    fn new() -> Self {
        let w = World::new("newest");
        std::fs::create_dir_all(w.md()).expect("md dir");
        let bugs_project = w.sim.create_project("Bugs");
        let gh = GithubSim::start();
        let setup = Self {
            w,
            gh,
            bugs_project,
        };
        setup.config(&setup.w.project.clone(), &setup.gh.repo(), "roadmap");
        setup
    }

    /// Rewrites the config: the roadmap link's project and folder, the bugs link's repo.
    fn config(&self, roadmap_project: &str, repo: &str, dir: &str) {
        let text = format!(
            "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n\n\
             [[link]]\nname = \"roadmap\"\nasana_project = \"{roadmap_project}\"\nmarkdown = {{ dir = \"{dir}\" }}\n\n\
             [[link]]\nname = \"bugs\"\nasana_project = \"{}\"\ngithub = {{ repo = \"{repo}\", token_env = \"GITHUB_TOKEN\", api_url = \"{}\" }}\n",
            self.bugs_project,
            self.gh.base_url()
        );
        std::fs::write(self.w.dir.path().join("asana-bridge.toml"), text).expect("config");
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = self.w.command();
        cmd.env("GITHUB_TOKEN", self.gh.token())
            .env("XDG_CONFIG_HOME", self.w.dir.path().join("xdg"));
        cmd
    }

    fn doctor(&self, args: &[&str]) -> Run {
        self.doctor_with(args, |_| {})
    }

    fn doctor_with(&self, args: &[&str], f: impl FnOnce(&mut std::process::Command)) -> Run {
        let mut cmd = self.command();
        cmd.arg("doctor").args(args);
        f(&mut cmd);
        let run = Run::from(cmd.output().expect("run doctor"));
        for secret in [self.w.sim.token(), self.gh.token(), "not-a-token".into()] {
            assert!(
                !run.stdout.contains(&secret) && !run.stderr.contains(&secret),
                "a token was printed:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        run
    }
}

/// Each output line as (status, check), in order.
fn checks(run: &Run) -> Vec<(String, String)> {
    run.stdout
        .lines()
        .map(|l| {
            let (status, rest) = l.split_once(' ').unwrap_or_else(|| panic!("line {l:?}"));
            let check = rest
                .trim_start()
                .split(": ")
                .next()
                .expect("check")
                .to_owned();
            (status.to_owned(), check)
        })
        .collect()
}

const HEALTHY: &[(&str, &str)] = &[
    ("ok", "config"),
    ("ok", "asana token"),
    ("ok", "clock"),
    ("ok", "link \"roadmap\" asana project"),
    ("ok", "link \"roadmap\" folder"),
    ("ok", "link \"bugs\" asana project"),
    ("ok", "link \"bugs\" github repository"),
    ("ok", "state"),
    ("skip", "webhooks"),
];

/// `HEALTHY` with the listed checks' statuses replaced.
#[track_caller]
fn expect_checks(run: &Run, changed: &[(&str, &str)]) {
    let want: Vec<(String, String)> = HEALTHY
        .iter()
        .map(|(status, check)| {
            let status = changed
                .iter()
                .find(|(_, c)| c == check)
                .map_or(*status, |(s, _)| s);
            (status.to_owned(), (*check).to_owned())
        })
        .collect();
    assert_eq!(checks(run), want, "\n{}\n{}", run.stdout, run.stderr);
}

/// The line of `check`.
#[track_caller]
fn line<'a>(run: &'a Run, check: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.contains(&format!("  {check}: ")))
        .unwrap_or_else(|| panic!("no {check} line in\n{}", run.stdout))
}

/// A healthy setup: every check passes (webhooks are skipped, saying how to check them),
/// exit 0; nothing is written anywhere (no Asana or GitHub write, no state created, no
/// file left in the folder); `--json` says the same.
#[test]
fn a_healthy_setup_passes_every_check() {
    let s = Setup::new();
    s.w.sim.clear_requests();
    let run = s.doctor(&[]).expect(0);
    expect_checks(&run, &[]);
    assert!(
        line(&run, "asana token").contains("acts as Asana Bridge Bot <bridge-bot@example.com>"),
        "{}",
        run.stdout
    );
    assert!(line(&run, "link \"roadmap\" asana project").contains("\"Roadmap\""));
    assert!(line(&run, "webhooks").contains("--webhook-url"));
    assert!(common::writes(&s.w.sim).is_empty());
    assert!(
        s.gh.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        s.gh.requests()
    );
    assert!(!s.w.state_dir().exists(), "doctor created the state");
    assert_eq!(std::fs::read_dir(s.w.md()).expect("md").count(), 0);

    let json = s.doctor(&["--json"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], true);
    assert_eq!(
        doc["checks"].as_array().expect("checks").len(),
        HEALTHY.len()
    );
    assert_eq!(doc["checks"][1]["check"], "asana token");
    assert_eq!(doc["checks"][1]["status"], "ok");
}

/// A config that does not parse fails the first check, and the others are skipped.
#[test]
fn a_broken_config_fails() {
    let s = Setup::new();
    std::fs::write(
        s.w.dir.path().join("asana-bridge.toml"),
        "[asana]\ntoken = \"x\"\n",
    )
    .expect("write");
    let run = s.doctor(&[]).expect(1);
    assert_eq!(
        checks(&run),
        [
            ("FAIL".to_owned(), "config".to_owned()),
            ("skip".to_owned(), "the rest".to_owned())
        ]
    );
    assert!(
        line(&run, "config").contains("unknown field `token`"),
        "{}",
        run.stdout
    );
    let missing = s.doctor(&["--config", "nope.toml"]).expect(1);
    assert!(
        line(&missing, "config").contains("nope.toml"),
        "{}",
        missing.stdout
    );
}

/// A token Asana refuses, or none at all, fails the token check (naming the variable),
/// and the checks that need it are skipped; the rest still run.
#[test]
fn a_bad_or_missing_token_fails() {
    let s = Setup::new();
    let skipped = [
        ("FAIL", "asana token"),
        ("skip", "clock"),
        ("skip", "link \"roadmap\" asana project"),
        ("skip", "link \"bugs\" asana project"),
    ];
    let run = s
        .doctor_with(&[], |c| {
            c.env("ASANA_TOKEN", "not-a-token");
        })
        .expect(1);
    expect_checks(&run, &skipped);
    assert!(
        line(&run, "asana token")
            .contains("Asana refuses the credential from environment variable ASANA_TOKEN"),
        "{}",
        run.stdout
    );
    let run = s
        .doctor_with(&[], |c| {
            c.env_remove("ASANA_TOKEN");
        })
        .expect(1);
    expect_checks(&run, &skipped);
    assert!(
        line(&run, "asana token").contains("ASANA_TOKEN"),
        "{}",
        run.stdout
    );
}

/// A linked project the token cannot see fails its check alone.
#[test]
fn an_invisible_project_fails() {
    let s = Setup::new();
    s.config("999999", &s.gh.repo(), "roadmap");
    let run = s.doctor(&[]).expect(1);
    expect_checks(&run, &[("FAIL", "link \"roadmap\" asana project")]);
    let l = line(&run, "link \"roadmap\" asana project");
    assert!(
        l.contains("project 999999 is not visible to Asana Bridge Bot"),
        "{l}"
    );
}

/// A repository the GitHub token cannot see, or no GitHub token, fails the repository
/// check alone.
#[test]
fn an_invisible_repository_or_missing_github_token_fails() {
    let s = Setup::new();
    s.config(&s.w.project, "acme/not-shared", "roadmap");
    let run = s.doctor(&[]).expect(1);
    expect_checks(&run, &[("FAIL", "link \"bugs\" github repository")]);
    assert!(
        line(&run, "link \"bugs\" github repository").contains("acme/not-shared is not visible")
    );
    s.config(&s.w.project, &s.gh.repo(), "roadmap");
    let run = s
        .doctor_with(&[], |c| {
            c.env_remove("GITHUB_TOKEN");
        })
        .expect(1);
    expect_checks(&run, &[("FAIL", "link \"bugs\" github repository")]);
    assert!(line(&run, "link \"bugs\" github repository").contains("GITHUB_TOKEN"));
}

/// A missing folder is a warning (the first sync creates it); one that cannot be created
/// (under a file) fails, and so does a read-only one (where the tests do not run as root,
/// who may write anywhere).
#[test]
fn folders_must_exist_or_be_creatable_and_be_writable() {
    let s = Setup::new();
    s.config(&s.w.project, &s.gh.repo(), "later/roadmap");
    let run = s.doctor(&[]).expect(0);
    expect_checks(&run, &[("warn", "link \"roadmap\" folder")]);
    assert!(line(&run, "link \"roadmap\" folder").contains("the first sync creates it"));
    assert!(!s.w.dir.path().join("later").exists());

    std::fs::write(s.w.dir.path().join("notes"), "a file").expect("file");
    s.config(&s.w.project, &s.gh.repo(), "notes/roadmap");
    let run = s.doctor(&[]).expect(1);
    expect_checks(&run, &[("FAIL", "link \"roadmap\" folder")]);
    assert!(line(&run, "link \"roadmap\" folder").contains("cannot be created"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        s.config(&s.w.project, &s.gh.repo(), "roadmap");
        std::fs::set_permissions(s.w.md(), std::fs::Permissions::from_mode(0o555)).expect("chmod");
        let privileged = std::fs::write(s.w.md().join("probe"), "x").is_ok();
        if privileged {
            eprintln!(
                "skipped the read-only folder: the tests run as a user who may write anywhere"
            );
        } else {
            let run = s.doctor(&[]).expect(1);
            expect_checks(&run, &[("FAIL", "link \"roadmap\" folder")]);
            assert!(line(&run, "link \"roadmap\" folder").contains("is not writable"));
        }
        std::fs::set_permissions(s.w.md(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

/// After a sync the state opens (counting what it maps); a damaged state fails, and
/// doctor leaves it byte for byte as it was.
#[test]
fn the_state_opens_read_only_and_a_damaged_one_fails() {
    let s = Setup::new();
    s.w.add_task("One", |_| {});
    Run::from(s.command().arg("sync").output().expect("sync")).expect(0);
    let run = s.doctor(&[]).expect(0);
    expect_checks(&run, &[]);
    assert!(
        line(&run, "state").contains("opens (1 mapped item)"),
        "{}",
        run.stdout
    );

    let garbage: Vec<u8> = (0..2000).map(|i| (i * 7 + 13) as u8).collect();
    std::fs::write(s.w.state_dir().join("db").join("conf"), garbage).expect("damage");
    let before = World::tree_snapshot(&s.w.state_dir());
    let run = s.doctor(&[]).expect(1);
    expect_checks(&run, &[("FAIL", "state")]);
    assert!(line(&run, "state").contains("damaged"), "{}", run.stdout);
    assert_eq!(
        World::tree_snapshot(&s.w.state_dir()),
        before,
        "doctor changed the state"
    );
}

/// A clock far from Asana's is a warning (the bridge corrects for it), within the
/// tolerance it is fine.
#[test]
fn a_skewed_clock_warns() {
    let s = Setup::new();
    s.w.sim
        .set_clock_offset(jiff::SignedDuration::from_secs(120));
    let run = s.doctor(&[]).expect(0);
    expect_checks(&run, &[("warn", "clock")]);
    assert!(
        line(&run, "clock").contains("s behind Asana's"),
        "{}",
        run.stdout
    );
    let run = s.doctor(&["--clock-tolerance", "300"]).expect(0);
    expect_checks(&run, &[]);
}

/// `--webhook-url` fails where nothing answers, and passes (warning that it is cleartext)
/// against a running `watch --webhook-listen`, whose state it then leaves alone ("in
/// use").
#[test]
fn the_webhook_url_must_reach_the_receiver() {
    let s = Setup::new();
    // Only the Markdown link, so `watch` needs no GitHub webhook permission.
    s.w.write_config("newest");
    let only_md: Vec<(&str, &str)> = HEALTHY
        .iter()
        .copied()
        .filter(|(_, c)| !c.contains("bugs"))
        .collect();
    let checks_of = |run: &Run| checks(run);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/asana");
    let run = s.doctor(&["--webhook-url", &url]).expect(1);
    let mut want: Vec<(String, String)> = only_md
        .iter()
        .map(|(st, c)| ((*st).to_owned(), (*c).to_owned()))
        .collect();
    want.last_mut().expect("webhooks").0 = "FAIL".into();
    assert_eq!(checks_of(&run), want, "{}", run.stdout);
    assert!(
        line(&run, "webhooks").contains("is not reachable"),
        "{}",
        run.stdout
    );

    let watch = Watch::start(
        &s.w,
        &[
            "--webhook-listen",
            &format!("127.0.0.1:{port}"),
            "--webhook-url",
            &url,
        ],
    );
    let mut last = None;
    let reached = World::eventually(Duration::from_secs(20), || {
        let run = s.doctor(&["--webhook-url", &url]);
        let ok = run.code == 0;
        last = Some(run);
        ok
    });
    let run = last.expect("ran");
    assert!(
        reached,
        "{}\n{}\n--- watch\n{}",
        run.stdout,
        run.stderr,
        watch.stderr()
    );
    want.last_mut().expect("webhooks").0 = "warn".into();
    assert_eq!(checks_of(&run), want, "{}", run.stdout);
    assert!(
        line(&run, "webhooks").contains("reaches a receiver"),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "webhooks").contains("only to https://"),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "state").contains("in use by a running"),
        "{}",
        run.stdout
    );
    let (code, _, _, _) = watch.terminate();
    assert_eq!(code, Some(0));
}
