//! Harness of the GitHub end-to-end tests: an Asana simulator and a GitHub simulator on
//! 127.0.0.1, a temp folder with a config linking the Asana project to `acme/app`, and the
//! real `asana-bridge` binary run as a child process.
//!
//! Both simulators fail the test when they are dropped after a request they do not serve;
//! [`GhWorld::assert_no_unexpected`] checks the same mid-test.
//!
//! The `[users]` table maps `alice@example.com` to `alice-gh`; `bob@example.com` is left
//! unmapped on purpose. Writes are spaced 20 ms apart (`GITHUB_MUTATION_SPACING_MS`) so
//! the tests stay fast while still going through the pacer.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::process::Command;

pub use asana_sim::{Simulator, TaskEdit, TaskSeed};
pub use github_sim::{Fault, GithubSim, IssueEdit, IssueSeed, SimIssue, SimOptions};

#[path = "run.rs"]
mod run;
pub use run::{Run, free_port};
#[path = "wait.rs"]
mod wait;
pub use wait::eventually;

/// One test's world.
pub struct GhWorld {
    pub asana: Simulator,
    pub github: GithubSim,
    pub dir: tempfile::TempDir,
    pub project: String,
    /// The GitHub token the binary gets.
    pub token: String,
    /// `GITHUB_MUTATION_SPACING_MS`.
    pub spacing_ms: u64,
}

impl GhWorld {
    /// Both simulators, an empty project, the repository with `alice-gh` and `bob-gh` as
    /// collaborators, and a config with conflict policy `policy`.
    pub fn new(policy: &str) -> Self {
        Self::with_options(policy, SimOptions::default())
    }

    pub fn with_options(policy: &str, options: SimOptions) -> Self {
        let asana = Simulator::start();
        let project = asana.create_project("Bugs");
        let github = GithubSim::start_with(options);
        github.add_user("alice-gh");
        github.add_user("bob-gh");
        let dir = tempfile::tempdir().expect("temp dir");
        let token = github.token();
        let world = Self {
            asana,
            github,
            dir,
            project,
            token,
            spacing_ms: 20,
        };
        world.write_config(policy);
        world
    }

    pub fn write_config(&self, policy: &str) {
        let config = format!(
            "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n\n[[link]]\nname = \"bugs\"\nasana_project = \"{}\"\nconflict = \"{policy}\"\ngithub = {{ repo = \"acme/app\", token_env = \"GITHUB_TOKEN\", api_url = \"{}\" }}\n\n[users]\n\"alice@example.com\" = \"alice-gh\"\n",
            self.project,
            self.github.base_url()
        );
        std::fs::write(self.dir.path().join("asana-bridge.toml"), config).expect("config");
    }

    /// The config of [`GhWorld::write_config`] with more `[users]` rows and `extra` lines
    /// in the link (e.g. `on_delete = "complete"`).
    pub fn write_config_with(&self, policy: &str, users: &[(&str, &str)], extra: &str) {
        let mut config = format!(
            "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n\n[[link]]\nname = \"bugs\"\nasana_project = \"{}\"\nconflict = \"{policy}\"\ngithub = {{ repo = \"acme/app\", token_env = \"GITHUB_TOKEN\", api_url = \"{}\" }}\n{extra}\n\n[users]\n\"alice@example.com\" = \"alice-gh\"\n",
            self.project,
            self.github.base_url()
        );
        for (email, login) in users {
            config.push_str(&format!("\"{email}\" = \"{login}\"\n"));
        }
        std::fs::write(self.dir.path().join("asana-bridge.toml"), config).expect("config");
    }

    /// Sets the link's `github.import = "all"`: closed issues and completed tasks are
    /// mirrored too.
    pub fn import_all(&self) {
        let path = self.dir.path().join("asana-bridge.toml");
        let text = std::fs::read_to_string(&path).expect("config");
        let text = text.replacen("\" }\n", "\", import = \"all\" }\n", 1);
        assert!(text.contains("import = \"all\""), "{text}");
        std::fs::write(path, text).expect("config");
    }

    /// Runs the binary with `args` and extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command();
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.args(args).output().expect("run asana-bridge"))
    }

    /// The binary with both simulators' URLs and tokens in its environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_asana-bridge"));
        cmd.current_dir(self.dir.path())
            .env("ASANA_TOKEN", self.asana.token())
            .env("ASANA_BASE_URL", self.asana.base_url())
            .env("GITHUB_TOKEN", &self.token)
            .env("GITHUB_MUTATION_SPACING_MS", self.spacing_ms.to_string())
            .env_remove("RUST_LOG");
        cmd
    }

    /// Runs the binary with `args`.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(
            self.command()
                .args(args)
                .output()
                .expect("run asana-bridge"),
        )
    }

    /// `sync`, which must succeed.
    #[track_caller]
    pub fn sync(&self) -> Run {
        self.run(&["sync"]).expect(0)
    }

    /// Adds a task as a person would in Asana.
    pub fn add_task(&self, name: &str, f: impl FnOnce(&mut TaskSeed)) -> String {
        let mut seed = TaskSeed {
            name: name.to_owned(),
            ..TaskSeed::default()
        };
        f(&mut seed);
        self.asana.add_task(&self.project, seed)
    }

    /// Opens an issue as a person would on GitHub.
    pub fn add_issue(&self, title: &str, f: impl FnOnce(&mut IssueSeed)) -> u64 {
        let mut seed = IssueSeed {
            title: title.to_owned(),
            ..IssueSeed::default()
        };
        f(&mut seed);
        self.github.add_issue(seed)
    }

    /// The Asana gid an issue body's footer line names, if any.
    pub fn footer_gid(issue: &SimIssue) -> Option<String> {
        let last = issue.body.as_deref()?.trim_end().lines().last()?;
        let rest = last.strip_prefix("<sub>Synced with [Asana task ")?;
        Some(rest.split(']').next()?.to_owned())
    }

    /// The issue that names `gid` in its footer.
    #[track_caller]
    pub fn issue_of(&self, gid: &str) -> SimIssue {
        let issues = self.github.repo_issues();
        let found: Vec<&SimIssue> = issues
            .iter()
            .filter(|i| Self::footer_gid(i).as_deref() == Some(gid))
            .collect();
        assert_eq!(found.len(), 1, "issues naming {gid}: {issues:#?}");
        found[0].clone()
    }

    /// The body the bridge writes for `notes` of task `gid`.
    pub fn body_for(&self, notes: &str, gid: &str) -> String {
        let line = format!(
            "<sub>Synced with [Asana task {gid}](https://app.asana.com/0/{}/{gid}) by asana-bridge</sub>",
            self.project
        );
        if notes.is_empty() {
            line
        } else {
            format!("{notes}\n\n{line}")
        }
    }

    /// Write requests both simulators saw since their last clear.
    pub fn all_writes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .asana
            .requests()
            .into_iter()
            .filter(asana_sim::RecordedRequest::is_write)
            .map(|r| format!("asana {} {}", r.method, r.path))
            .collect();
        out.extend(
            self.github
                .writes()
                .into_iter()
                .map(|w| format!("github {w}")),
        );
        out
    }

    pub fn clear_requests(&self) {
        self.asana.clear_requests();
        self.github.clear_requests();
    }

    /// Panics if either simulator saw a request it does not implement.
    #[track_caller]
    pub fn assert_no_unexpected(&self) {
        assert!(
            self.asana.unexpected_requests().is_empty(),
            "{:#?}",
            self.asana.unexpected_requests()
        );
        assert!(
            self.github.unexpected_requests().is_empty(),
            "{:#?}",
            self.github.unexpected_requests()
        );
    }
}
