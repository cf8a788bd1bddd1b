//! End to end: the command-line conventions users expect of an installed CLI, through the
//! real binary: `--version` with the commit, shell completions that load in the shells
//! themselves (bash always; zsh and fish when installed), the man page rendered by `man
//! -l`, `projects` listing what the token sees (paged), `init --project` writing a
//! project into the starter config, and a starter config whose commented settings land
//! in the right tables once uncommented.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::path::Path;
use std::process::Command;

use common::{Run, World};

const BIN: &str = env!("CARGO_BIN_EXE_asana-bridge");

fn run_in(dir: &Path, args: &[&str]) -> Run {
    Run::from(
        Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .env_remove("ASANA_TOKEN")
            .env_remove("ASANA_BASE_URL")
            .output()
            .expect("run asana-bridge"),
    )
}

/// Whether `program` runs here.
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `shell -c script` with `BIN` in the environment; stdout, after checking success.
#[track_caller]
fn shell(shell: &str, script: &str) -> String {
    let out = Command::new(shell)
        .args(["-c", script])
        .env("BIN", BIN)
        .output()
        .expect("run the shell");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{shell} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stderr.trim().is_empty(), "{shell} complained: {stderr}");
    stdout
}

/// `--version` names the package version and the commit the binary was built from (the
/// checkout's `HEAD`, or `unknown` outside a git checkout), for every subcommand too.
#[test]
fn version_names_the_commit() {
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let dir = tempfile::tempdir().expect("dir");
    let out = run_in(dir.path(), &["--version"]).expect(0);
    assert_eq!(
        out.stdout,
        format!(
            "asana-bridge {} (commit {head})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let sub = run_in(dir.path(), &["doctor", "--version"]).expect(0);
    assert!(
        sub.stdout.contains(&format!("(commit {head})")),
        "{}",
        sub.stdout
    );
}

/// The bash script loads, registers the completion function, and completes a subcommand
/// and a subcommand's flag (which `clap_complete` alone gets wrong for a hyphenated
/// binary name: clap-rs/clap#6421).
#[test]
fn bash_completion_loads_and_completes() {
    let registered = shell(
        "bash",
        r#"source <("$BIN" completions bash) && complete -p asana-bridge"#,
    );
    assert!(
        registered.contains("-F _asana__bridge asana-bridge"),
        "{registered}"
    );
    let words = shell(
        "bash",
        r#"source <("$BIN" completions bash)
COMP_WORDS=(asana-bridge do); COMP_CWORD=1; COMP_LINE="asana-bridge do"; COMP_POINT=${#COMP_LINE}
_asana__bridge asana-bridge do asana-bridge
echo "${COMPREPLY[@]}"
COMP_WORDS=(asana-bridge doctor --web); COMP_CWORD=2; COMP_LINE="asana-bridge doctor --web"; COMP_POINT=${#COMP_LINE}
_asana__bridge asana-bridge --web doctor
echo "${COMPREPLY[@]}""#,
    );
    let lines: Vec<&str> = words.lines().collect();
    assert_eq!(lines.len(), 2, "{words}");
    assert!(lines[0].split(' ').any(|w| w == "doctor"), "{words}");
    assert!(lines[1].split(' ').any(|w| w == "--webhook-url"), "{words}");
}

/// The zsh script parses and registers `_asana-bridge` with compinit (skipped, saying so,
/// where zsh is not installed).
#[test]
fn zsh_completion_loads() {
    if !installed("zsh") {
        eprintln!("skipped: zsh is not installed");
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let out = Command::new("zsh")
        .args([
            "-f",
            "-c",
            r#"autoload -U compinit && compinit -u -D && source <("$BIN" completions zsh) && print -r -- $_comps[asana-bridge]"#,
        ])
        .env("BIN", BIN)
        .env("HOME", home.path())
        .output()
        .expect("zsh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "_asana-bridge");
}

/// The fish script loads and completes a subcommand (skipped, saying so, where fish is
/// not installed).
#[test]
fn fish_completion_completes() {
    if !installed("fish") {
        eprintln!("skipped: fish is not installed");
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let out = Command::new("fish")
        .args([
            "--no-config",
            "-c",
            r#"$BIN completions fish | source; complete -C "asana-bridge pro""#,
        ])
        .env("BIN", BIN)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .output()
        .expect("fish");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("projects")),
        "{stdout}"
    );
}

/// PowerShell's script registers an argument completer naming every subcommand (pwsh is
/// rarely installed on Linux: then it is only inspected, and the test says so).
#[test]
fn powershell_completion_is_generated() {
    let dir = tempfile::tempdir().expect("dir");
    let out = run_in(dir.path(), &["completions", "powershell"]).expect(0);
    assert!(
        out.stdout.contains("Register-ArgumentCompleter"),
        "{}",
        out.stdout
    );
    for sub in ["sync", "watch", "doctor", "projects", "completions", "man"] {
        assert!(out.stdout.contains(&format!("'{sub}'")), "{sub}");
    }
    if installed("pwsh") {
        let path = dir.path().join("c.ps1");
        std::fs::write(&path, &out.stdout).expect("write");
        let ok = Command::new("pwsh")
            .args(["-NoProfile", "-Command", &format!(". '{}'", path.display())])
            .status()
            .expect("pwsh");
        assert!(ok.success());
    } else {
        eprintln!("pwsh is not installed: the PowerShell script was inspected, not loaded");
    }
    run_in(dir.path(), &["completions", "tcsh"]).expect(2);
}

/// Renders a roff page as `man -l` does (or with `groff`/`nroff` where man is missing,
/// saying which).
fn render(page: &Path) -> String {
    let (program, args): (&str, Vec<String>) = if installed("man") {
        ("man", vec!["-l".into(), page.display().to_string()])
    } else if installed("groff") {
        eprintln!("man is not installed: rendering with groff -man -Tutf8");
        (
            "groff",
            vec!["-man".into(), "-Tutf8".into(), page.display().to_string()],
        )
    } else {
        eprintln!("man is not installed: rendering with nroff -man");
        ("nroff", vec!["-man".into(), page.display().to_string()])
    };
    let out = Command::new(program)
        .args(&args)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("render the man page");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program}: {stderr}");
    assert!(stderr.trim().is_empty(), "{program} warns: {stderr}");
    // Strip overstrike bold/underline, should the formatter use it.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut clean = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            clean.pop();
        } else {
            clean.push(c);
        }
    }
    clean
}

/// `man` prints the page from the clap definitions, and `man -l` renders it with every
/// subcommand; `man --out DIR` writes one page per command, each renderable.
#[test]
fn man_page_renders() {
    let dir = tempfile::tempdir().expect("dir");
    let out = run_in(dir.path(), &["man"]).expect(0);
    assert!(
        out.stdout.starts_with(".ie"),
        "roff: {}",
        &out.stdout[..80.min(out.stdout.len())]
    );
    let page = dir.path().join("stdout.1");
    std::fs::write(&page, &out.stdout).expect("write");
    let text = render(&page);
    for needle in [
        "NAME",
        "SYNOPSIS",
        "asana-bridge",
        "--config",
        "SUBCOMMANDS",
        "doctor",
        "projects",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(text.contains("(commit "), "{text}");

    let pages = dir.path().join("man1");
    run_in(dir.path(), &["man", "--out", "man1"]).expect(0);
    for name in [
        "asana-bridge.1",
        "asana-bridge-doctor.1",
        "asana-bridge-auth-login.1",
    ] {
        assert!(pages.join(name).is_file(), "{name} not written");
    }
    let doctor = render(&pages.join("asana-bridge-doctor.1"));
    assert!(doctor.contains("--webhook-url"), "{doctor}");
}

/// Every commented setting of the starter config, uncommented, lands in the table it is
/// listed under: `requests_per_minute` and `retry_max_seconds` in `[asana]`, not in the
/// commented `[asana.oauth]` table above them; and the whole file still parses.
#[test]
fn uncommented_starter_settings_land_in_their_tables() {
    let dir = tempfile::tempdir().expect("dir");
    run_in(dir.path(), &["init"]).expect(0);
    let text = std::fs::read_to_string(dir.path().join("asana-bridge.toml")).expect("config");
    let setting = |line: &str| {
        let line = line.trim_start();
        let table = line.starts_with('[')
            && line
                .split('#')
                .next()
                .map(str::trim_end)
                .is_some_and(|t| t.ends_with(']') && !t.contains(' '));
        let key = line.split_once('=').is_some_and(|(k, _)| {
            let k = k.trim();
            !k.is_empty()
                && (k.starts_with('"')
                    || k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
        });
        table || key
    };
    let mut uncommented = 0;
    let all: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if setting(rest) => {
                uncommented += 1;
                format!("{rest}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect();
    assert!(
        uncommented >= 12,
        "only {uncommented} settings found:\n{all}"
    );
    let value: toml::Table = toml::from_str(&all).unwrap_or_else(|e| panic!("{e}\n{all}"));
    let asana = value["asana"].as_table().expect("[asana]");
    assert_eq!(
        asana["requests_per_minute"].as_integer(),
        Some(1500),
        "{all}"
    );
    assert_eq!(asana["retry_max_seconds"].as_integer(), Some(60), "{all}");
    let oauth = asana["oauth"].as_table().expect("[asana.oauth]");
    assert!(oauth.contains_key("client_id"), "{all}");
    assert!(!oauth.contains_key("requests_per_minute"), "{all}");
    let config =
        asana_bridge::config::Config::parse(&dir.path().join("asana-bridge.toml"), &all, None)
            .unwrap_or_else(|e| panic!("{e}\n{all}"));
    assert_eq!(config.links.len(), 2);
    assert_eq!(
        config.asana.oauth.client_id.as_deref(),
        Some("1200000000000000")
    );
    assert_eq!(config.users.len(), 1);
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `projects` lists the workspace and every project the token sees, paging through
/// `GET /projects` 100 at a time, with gids, as text and as JSON.
#[test]
fn projects_lists_every_visible_project() {
    let w = World::new("newest");
    let mut gids = vec![w.project.clone()];
    for i in 0..130 {
        gids.push(w.sim.create_project(&format!("Project {i:03}")));
    }
    w.sim.clear_requests();
    let out = w.run(&["--json", "projects"]).expect(0);
    let doc = json(&out);
    let workspaces = doc["workspaces"].as_array().expect("workspaces");
    assert_eq!(workspaces.len(), 1);
    assert_eq!(workspaces[0]["gid"], w.sim.workspace_gid());
    let listed: Vec<&str> = workspaces[0]["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| p["gid"].as_str().expect("gid"))
        .collect();
    assert_eq!(listed, gids);
    assert_eq!(workspaces[0]["projects"][0]["name"], "Roadmap");
    let pages: Vec<_> = w
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/projects")
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(
        pages.iter().all(|r| r.query.contains("limit=100")),
        "{pages:?}"
    );
    assert!(pages[1].query.contains("offset="), "{pages:?}");
    assert!(w.sim.unexpected_requests().is_empty());

    let text = w.run(&["projects"]).expect(0);
    assert!(
        text.stdout.contains(&format!("{}  Roadmap", w.project)),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&w.sim.workspace_gid()),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains(&w.sim.token()) && !text.stderr.contains(&w.sim.token()));

    w.sim.clear_requests();
    w.run(&["projects", "--no-archived"]).expect(0);
    assert!(
        w.sim
            .requests()
            .iter()
            .any(|r| r.path == "/projects" && r.query.contains("archived=false")),
        "{:?}",
        w.sim.requests()
    );
    // Before there is a config (choosing a project comes first): the starter's settings.
    let fresh = tempfile::tempdir().expect("dir");
    let out = Run::from(
        w.command()
            .current_dir(fresh.path())
            .args(["projects", "--workspace", &w.sim.workspace_gid()])
            .output()
            .expect("run"),
    )
    .expect(0);
    assert!(
        out.stdout.contains(&format!("{}  Roadmap", w.project)),
        "{}",
        out.stdout
    );
    assert!(!fresh.path().join("asana-bridge.toml").exists());
    let none = w.run(&["projects", "--workspace", "Elsewhere"]).expect(2);
    assert!(
        none.stderr.contains("no workspace \"Elsewhere\""),
        "{}",
        none.stderr
    );
}

/// Runs `init` in a fresh folder of `w`'s, with the simulator's URL and token.
fn init(w: &World, folder: &str, project: &str) -> (Run, std::path::PathBuf) {
    let dir = w.dir.path().join(folder);
    std::fs::create_dir_all(&dir).expect("dir");
    let out = Run::from(
        w.command()
            .current_dir(&dir)
            .args(["--json", "init", "--project", project])
            .output()
            .expect("run"),
    );
    (out, dir.join("asana-bridge.toml"))
}

fn linked(config: &Path) -> (String, String) {
    let c = asana_bridge::config::Config::load(config, None).expect("the written config parses");
    (c.links[0].name.clone(), c.links[0].asana_project.clone())
}

/// `init --project` resolves a name (case ignored), both URL forms and a bare gid to the
/// project, and writes it into the new config's link, named after it; an ambiguous or
/// unknown name, or a project the token cannot see, is an error that writes nothing.
#[test]
fn init_writes_the_chosen_project() {
    let w = World::new("newest");
    let launch = w.sim.create_project("Website Launch");
    let ws = w.sim.workspace_gid();

    let (out, config) = init(&w, "by-name", "  website launch ");
    out.expect(0);
    assert_eq!(linked(&config), ("website-launch".into(), launch.clone()));
    let (out, config) = init(
        &w,
        "classic-url",
        &format!("https://app.asana.com/0/{launch}/list"),
    );
    assert_eq!(json(&out.expect(0))["project"]["name"], "Website Launch");
    assert_eq!(linked(&config).1, launch);
    let (out, config) = init(
        &w,
        "new-url",
        &format!("https://app.asana.com/1/{ws}/project/{}/board/1", w.project),
    );
    out.expect(0);
    assert_eq!(linked(&config), ("roadmap".into(), w.project.clone()));
    let (out, config) = init(&w, "gid", &launch);
    out.expect(0);
    assert_eq!(linked(&config).1, launch);

    let twin = w.sim.create_project("website launch");
    let (out, config) = init(&w, "ambiguous", "Website Launch");
    let out = out.expect(2);
    assert!(
        out.stderr.contains("2 projects are named"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&launch) && out.stderr.contains(&twin),
        "{}",
        out.stderr
    );
    assert!(!config.exists());
    let (out, config) = init(&w, "unknown", "Launch");
    let out = out.expect(2);
    assert!(
        out.stderr.contains("no project named \"Launch\""),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean"), "{}", out.stderr);
    assert!(!config.exists());
    let (out, config) = init(&w, "invisible", "https://app.asana.com/0/999999/list");
    let out = out.expect(2);
    assert!(
        out.stderr.contains("project 999999 is not visible"),
        "{}",
        out.stderr
    );
    assert!(!config.exists());
    let (out, _) = init(&w, "not-a-project", "https://app.asana.com/0/0/123");
    assert!(out.expect(2).stderr.contains("not an Asana project URL"));

    // Without a token, a gid is written unchecked (with a warning); a name cannot be.
    let dir = w.dir.path().join("offline");
    std::fs::create_dir_all(&dir).expect("dir");
    let offline = |project: &str| {
        Run::from(
            w.command()
                .current_dir(&dir)
                .env_remove("ASANA_TOKEN")
                .env("XDG_CONFIG_HOME", dir.join("xdg"))
                .args(["init", "--project", project])
                .output()
                .expect("run"),
        )
    };
    let out = offline("Website Launch").expect(2);
    assert!(
        out.stderr.contains("needs the Asana token"),
        "{}",
        out.stderr
    );
    let out = offline(&format!("https://app.asana.com/0/{launch}/list")).expect(0);
    assert!(out.stderr.contains("was not checked"), "{}", out.stderr);
    assert_eq!(linked(&dir.join("asana-bridge.toml")).1, launch);
}
