//! Shared harness of the end-to-end tests: an Asana simulator on 127.0.0.1, a temp folder
//! with a config, and the real `asana-bridge` binary run as a child process.
//!
//! Every test fails on a request the simulator does not serve: the simulators check that
//! when they are dropped with the world (`sim_support::fail_on_unexpected`), so no test has
//! to ask for it.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use asana_sim::{Fault, SimTask, Simulator, TaskEdit, TaskSeed};

mod run;
pub use run::{Run, free_port};
mod wait;
pub use wait::eventually;
mod watcher;
pub use watcher::Watch;

/// One test's world.
pub struct World {
    pub sim: Simulator,
    pub dir: tempfile::TempDir,
    pub project: String,
}

impl World {
    /// A simulator with an empty project and a config linking it to `roadmap/` with the
    /// given conflict policy.
    pub fn new(policy: &str) -> Self {
        let sim = Simulator::start();
        let project = sim.create_project("Roadmap");
        let dir = tempfile::tempdir().expect("temp dir");
        let world = Self { sim, dir, project };
        world.write_config(policy);
        world
    }

    pub fn write_config(&self, policy: &str) {
        self.write_config_with(policy, "");
    }

    /// The config with extra lines in its `[asana]` section.
    pub fn write_config_with(&self, policy: &str, asana_extra: &str) {
        self.write_config_full(policy, asana_extra, "");
    }

    /// The config with extra lines in its `[asana]` section and in its `[[link]]`.
    pub fn write_config_full(&self, policy: &str, asana_extra: &str, link_extra: &str) {
        let config = format!(
            "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n{asana_extra}\n[[link]]\nname = \"roadmap\"\nasana_project = \"{}\"\nconflict = \"{policy}\"\nmarkdown = {{ dir = \"roadmap\" }}\n{link_extra}\n",
            self.project
        );
        std::fs::write(self.dir.path().join("asana-bridge.toml"), config).expect("config");
    }

    /// The Markdown folder.
    pub fn md(&self) -> PathBuf {
        self.dir.path().join("roadmap")
    }

    /// The state folder.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join(".asana-bridge")
    }

    /// The binary with the simulator's URL and token in its environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_asana-bridge"));
        cmd.current_dir(self.dir.path())
            .env("ASANA_TOKEN", self.sim.token())
            .env("ASANA_BASE_URL", self.sim.base_url())
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

    /// Writes a file into the Markdown folder.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) {
        std::fs::create_dir_all(self.md()).expect("md dir");
        std::fs::write(self.md().join(name), content).expect("write file");
    }

    /// Reads a file of the Markdown folder.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.md().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The task files (`*.md` directly in the folder) and their text.
    pub fn files(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(self.md()) else {
            return out;
        };
        for e in entries {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".md")
                && !name.starts_with('.')
                && e.file_type().expect("type").is_file()
            {
                out.insert(
                    name,
                    String::from_utf8_lossy(&std::fs::read(e.path()).expect("read")).into_owned(),
                );
            }
        }
        out
    }

    /// Polls `cond` until it holds or `timeout` passes; whether it held ([`eventually`]).
    pub fn eventually(timeout: std::time::Duration, cond: impl FnMut() -> bool) -> bool {
        eventually(timeout, cond)
    }

    /// Whether a running `watch` has finished a sync of every link it runs: it publishes
    /// `watch-status.json` in the state folder after each sync (and never before the
    /// first), and it watches the folder from before that first sync.
    pub fn watch_has_synced(&self) -> bool {
        std::fs::read(self.state_dir().join("watch-status.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|status| status["links"].as_object().map(|links| !links.is_empty()))
            .unwrap_or(false)
    }

    /// Every file under `dir` with its bytes and modification time, for "nothing changed".
    pub fn tree_snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
        tree_snapshot(dir)
    }

    /// The number of write requests the simulator has seen since the last clear.
    pub fn writes(&self) -> Vec<String> {
        writes(&self.sim)
    }

    /// Adds a task as a person would in Asana.
    pub fn add_task(&self, name: &str, f: impl FnOnce(&mut TaskSeed)) -> String {
        let mut seed = TaskSeed {
            name: name.to_owned(),
            ..TaskSeed::default()
        };
        f(&mut seed);
        self.sim.add_task(&self.project, seed)
    }

    /// The front matter value of `key` in a file's text (top-level, simple scalars).
    pub fn front(text: &str, key: &str) -> Option<String> {
        let fm = text.strip_prefix("---\n")?.split("\n---").next()?;
        fm.lines().find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        })
    }

    /// The file that carries `gid`.
    #[track_caller]
    pub fn file_of(&self, gid: &str) -> (String, String) {
        self.files()
            .into_iter()
            .find(|(_, text)| Self::front(text, "asana_gid").as_deref() == Some(gid))
            .unwrap_or_else(|| panic!("no file carries asana_gid {gid}: {:#?}", self.files()))
    }
}

/// Every file under `dir` with its bytes and modification time, for "nothing changed".
pub fn tree_snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.expect("entry");
            let meta = std::fs::symlink_metadata(e.path()).expect("meta");
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                out.insert(e.path(), (bytes, meta.modified().expect("mtime")));
            }
        }
    }
    out
}

/// The write requests `sim` has seen since its log was last cleared (`METHOD /path`).
pub fn writes(sim: &Simulator) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(asana_sim::RecordedRequest::is_write)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Sets (`Some`) or removes (`None`) a top-level front matter key of a task file.
pub fn set_front(text: &str, key: &str, value: Option<&str>) -> String {
    let body_start = text[4..]
        .find("\n---\n")
        .map(|i| i + 4)
        .expect("front matter");
    let front = &text[4..body_start];
    let mut lines: Vec<String> = front
        .lines()
        .filter(|l| !l.starts_with(&format!("{key}:")))
        .map(str::to_owned)
        .collect();
    if let Some(value) = value {
        lines.push(format!("{key}: {value}"));
    }
    format!("---\n{}{}", lines.join("\n"), &text[body_start..])
}
