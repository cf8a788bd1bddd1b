//! One scenario's world: an in-process Asana simulator with one project, a temp folder with
//! a config linking it to `roadmap/`, and the real binary run in that folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use asana_sim::{SimOptions, Simulator};

use crate::measure::{self, Measured};
use crate::requests::RequestSummary;

/// A measured run together with what the simulator saw during it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The child's exit, times and memory.
    pub run: Measured,
    /// The requests it made.
    pub requests: RequestSummary,
    /// Requests the simulator's own limiters refused during the run.
    pub limiter_429s: usize,
}

/// The simulator, the folder and the binary.
pub struct World {
    /// The simulator (in this process, on its own thread and runtime).
    pub sim: Simulator,
    /// The project the link names.
    pub project: String,
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Extra environment of every run (e.g. a scaled rate window).
    env: Vec<(String, String)>,
}

impl World {
    /// A simulator started with `opts`, an empty project, and a config whose
    /// `asana.requests_per_minute` is `rpm` (the default when `None`).
    pub fn new(bin: &Path, opts: SimOptions, rpm: Option<u32>) -> Result<Self> {
        let sim = Simulator::start_with(opts);
        let project = sim.create_project("Roadmap");
        let dir = tempfile::Builder::new()
            .prefix("asana-bridge-bench-")
            .tempdir()
            .context("create a temp folder")?;
        let world = Self {
            sim,
            project,
            dir,
            bin: bin.to_path_buf(),
            env: Vec::new(),
        };
        let rpm_line = rpm.map_or_else(String::new, |r| format!("requests_per_minute = {r}\n"));
        let config = format!(
            "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n{rpm_line}\n[[link]]\nname = \"roadmap\"\nasana_project = \"{}\"\nconflict = \"newest\"\nmarkdown = {{ dir = \"roadmap\" }}\ncomments = false\n",
            world.project
        );
        std::fs::write(world.dir.path().join("asana-bridge.toml"), config)
            .context("write the config")?;
        Ok(world)
    }

    /// The Markdown folder of the link.
    #[must_use]
    pub fn md(&self) -> PathBuf {
        self.dir.path().join("roadmap")
    }

    /// Sets the simulator's URL and token and the folder on a command.
    fn configure(&self, cmd: &mut Command) {
        cmd.current_dir(self.dir.path())
            .env("ASANA_TOKEN", self.sim.token())
            .env("ASANA_BASE_URL", self.sim.base_url())
            .env_remove("RUST_LOG");
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
    }

    /// The same world with `key=value` in the environment of every run.
    #[must_use]
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts the binary with `args` in the world's folder (e.g. `watch`), not waiting.
    pub fn spawn(&self, args: &[&str]) -> Result<std::process::Child> {
        let mut cmd = Command::new(&self.bin);
        self.configure(&mut cmd);
        cmd.args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("start asana-bridge")
    }

    /// Runs `asana-bridge sync` and measures it; the simulator's request log is cleared
    /// first, so the summary holds this run's requests only.
    pub fn sync(&self) -> Result<Sample> {
        self.sync_within(None)
    }

    /// [`World::sync`], killed after `limit` (the error is then a [`measure::TimedOut`]).
    pub fn sync_within(&self, limit: Option<std::time::Duration>) -> Result<Sample> {
        self.run_measured(&["sync"], limit)
    }

    /// Runs `asana-bridge <args>` and measures it, as [`World::sync`] does.
    pub fn run_measured(
        &self,
        args: &[&str],
        limit: Option<std::time::Duration>,
    ) -> Result<Sample> {
        self.sim.clear_requests();
        let before = self.sim.rate_limited_count();
        let run = measure::run(
            &self.bin,
            args,
            |c| self.configure(c),
            self.dir.path(),
            limit,
        )?;
        Ok(Sample {
            requests: RequestSummary::of(&self.sim.requests()),
            limiter_429s: self.sim.rate_limited_count() - before,
            run,
        })
    }

    /// A setup sync that must succeed (exit 0).
    pub fn sync_ok(&self, what: &str) -> Result<Sample> {
        let s = self.sync()?;
        s.run.expect_code(0, what)?;
        Ok(s)
    }

    /// The task files of the folder (`*.md` directly in it, not hidden).
    pub fn task_files(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.md()).context("read the Markdown folder")? {
            let e = e?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".md") && !name.starts_with('.') && e.file_type()?.is_file() {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    /// The `asana_gid` in a task file's front matter, if any.
    pub fn gid_of(path: &Path) -> Result<Option<String>> {
        let text = std::fs::read_to_string(path)?;
        Ok(front(&text, "asana_gid"))
    }
}

/// The value of a top-level simple `key:` in a file's front matter, unquoted.
#[must_use]
pub fn front(text: &str, key: &str) -> Option<String> {
    let fm = text.strip_prefix("---\n")?.split("\n---").next()?;
    fm.lines().find_map(|l| {
        l.strip_prefix(&format!("{key}:"))
            .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
    })
}
