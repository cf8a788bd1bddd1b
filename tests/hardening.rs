//! End to end, through the real binary: what faces the disk is no wider than it should be,
//! and settings that expose the bridge are warned about.
//!
//! - a private task file rewritten under a permissive umask is never visible wider: its
//!   temporary file is born with the file's mode (no chmod after the content is written),
//!   and a file's own mode is kept under a narrow umask;
//! - `auth login` creates missing folders owner-only but leaves an existing folder's mode;
//! - `sync --dry-run`'s copy of the state lives in a `0700` folder of `0700` folders and
//!   `0600` files, whatever the umask;
//! - one warning line each for a cleartext API URL (not for a loopback host), a cleartext
//!   `--webhook-url` and a receiver bound to every interface.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Run, TaskEdit, World, free_port};
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The binary run through `sh` with `umask` set first, in the world's folder and
/// environment.
fn with_umask(w: &World, umask: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.current_dir(w.dir.path())
        .env("ASANA_TOKEN", w.sim.token())
        .env("ASANA_BASE_URL", w.sim.base_url())
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_asana-bridge"))
        .args(args);
    cmd
}

fn rename(w: &World, gid: &str, name: &str) {
    w.sim.edit_task(
        gid,
        TaskEdit {
            name: Some(name.into()),
            ..TaskEdit::default()
        },
    );
}

/// Every event the folder watcher (inotify) reports while `f` runs, with a moment to
/// drain.
fn events_during(dir: &Path, f: impl FnOnce()) -> Vec<notify::Event> {
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e {
            let _ = tx.send(e);
        }
    })
    .expect("watcher");
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .expect("watch");
    f();
    // Kept (a quiet period): inotify delivers the events on notify's own thread, and how
    // many come is what the tests find out, so there is no count to wait for.
    std::thread::sleep(Duration::from_millis(300));
    drop(watcher);
    rx.try_iter().collect()
}

fn is_temp(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".asana-bridge-tmp-"))
}

/// A `0600` task file rewritten by a sync under `umask 022`: the new content goes to a
/// temporary file created `0600` (the watcher sees it created and written, never its mode
/// changed afterwards), and the file ends `0600`. Under `umask 077` a `0644` file keeps
/// its `0644`: the umask narrows the temporary file, never the user's file.
#[test]
fn a_private_file_rewritten_is_never_visible_wider() {
    let w = World::new("newest");
    let gid = w.add_task("Private", |_| {});
    w.sync();
    let (name, _) = w.file_of(&gid);
    let path = w.md().join(&name);
    chmod(&path, 0o600);

    rename(&w, &gid, "Private, renamed");
    let events = events_during(&w.md(), || {
        Run::from(with_umask(&w, "022", &["sync"]).output().expect("sync")).expect(0);
    });
    let temps: Vec<&notify::Event> = events
        .iter()
        .filter(|e| e.paths.iter().any(|p| is_temp(p)))
        .collect();
    assert!(
        temps.iter().any(|e| matches!(e.kind, EventKind::Create(_))),
        "the rewrite went through no temporary file: {events:#?}"
    );
    let chmods: Vec<_> = temps
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Modify(ModifyKind::Metadata(_))))
        .collect();
    assert!(
        chmods.is_empty(),
        "the temporary file's mode changed after it was created (it was born wider): {chmods:#?}"
    );
    let (now, text) = w.file_of(&gid);
    assert!(text.contains("Private, renamed"), "{text}");
    assert_eq!(mode(&w.md().join(&now)), 0o600);

    // A narrow umask does not narrow the user's file.
    chmod(&w.md().join(&now), 0o644);
    rename(&w, &gid, "Public again");
    Run::from(with_umask(&w, "077", &["sync"]).output().expect("sync")).expect(0);
    let (now, text) = w.file_of(&gid);
    assert!(text.contains("Public again"), "{text}");
    assert_eq!(mode(&w.md().join(&now)), 0o644);
}

/// `auth login --with-token` into a `token_file` whose folder exists keeps that folder's
/// mode; missing folders are created `0700`; the file is `0600` either way.
#[test]
fn auth_login_narrows_only_the_folders_it_creates() {
    let w = World::new("newest");
    let existing = w.dir.path().join("conf");
    std::fs::create_dir(&existing).expect("mkdir");
    chmod(&existing, 0o755);
    for (token_file, file) in [
        ("conf/creds.json", existing.join("creds.json")),
        (
            "fresh/deeper/creds.json",
            w.dir.path().join("fresh/deeper/creds.json"),
        ),
    ] {
        w.write_config_with("newest", &format!("token_file = \"{token_file}\"\n"));
        let mut child = with_umask(&w, "022", &["auth", "login", "--with-token"])
            .env_remove("ASANA_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        writeln!(child.stdin.take().expect("stdin"), "{}", w.sim.token()).expect("token");
        Run::from(child.wait_with_output().expect("wait")).expect(0);
        assert_eq!(mode(&file), 0o600, "{token_file}");
    }
    assert_eq!(mode(&existing), 0o755, "a folder the bridge did not create");
    assert_eq!(mode(&w.dir.path().join("fresh")), 0o700);
    assert_eq!(mode(&w.dir.path().join("fresh/deeper")), 0o700);
}

/// Every folder and file under `root`, with its mode.
fn modes_under(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let path = entry.path();
            out.push((
                path.clone(),
                meta.is_dir(),
                meta.permissions().mode() & 0o777,
            ));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

/// `sync --dry-run` under `umask 022` copies the state into a `0700` temporary folder of
/// `0700` folders and `0600` files. The copy is looked at while the dry run waits for
/// Asana (a listener here that answers nothing), then the run is stopped.
#[test]
fn the_dry_runs_copy_of_the_state_is_private() {
    let w = World::new("newest");
    w.add_task("Stateful", |_| {});
    w.sync();
    let tmp = w.dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/api/1.0", silent.local_addr().expect("addr"));
    let mut child = with_umask(&w, "022", &["sync", "--dry-run"])
        .env("ASANA_BASE_URL", &url)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // The first request comes after the copy is made.
    let (mut conn, _) = silent.accept().expect("the dry run calls Asana");
    let mut byte = [0u8; 1];
    let _ = conn.read(&mut byte);
    let copies: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let copy = &copies[0];
    assert_eq!(mode(copy), 0o700, "the copy's folder");
    let inside = modes_under(copy);
    assert!(
        inside.iter().any(|(_, dir, _)| !dir),
        "no file was copied: {inside:?}"
    );
    for (path, dir, mode) in &inside {
        let wanted = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, wanted, "{}", path.display());
    }
}

/// Cleartext API URLs warn once each (Asana's and a GitHub link's), loopback ones do not;
/// `watch` warns about a cleartext `--webhook-url` and a receiver on every interface
/// before it binds (the port is taken here, so nothing ever listens on every interface).
#[test]
fn cleartext_urls_and_every_interface_are_warned_about() {
    let w = World::new("newest");
    let quiet = w.run(&["status"]).expect(0);
    assert!(!quiet.stderr.contains("cleartext"), "{}", quiet.stderr);

    let config = std::fs::read_to_string(w.dir.path().join("asana-bridge.toml")).expect("read");
    std::fs::write(
        w.dir.path().join("asana-bridge.toml"),
        format!(
            "{config}\n[[link]]\nname = \"bugs\"\nasana_project = \"{}\"\ngithub = {{ repo = \"acme/app\", token_env = \"GITHUB_TOKEN\", api_url = \"http://ghe.example.com/api/v3\" }}\n",
            w.project
        ),
    )
    .expect("config");
    let run = Run::from(
        w.command()
            .env("ASANA_BASE_URL", "http://asana.example.com/api/1.0")
            .arg("status")
            .output()
            .expect("status"),
    );
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("cleartext"))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", run.stderr);
    assert!(warnings[0].contains("http://asana.example.com/api/1.0"));
    assert!(warnings[1].contains("link \"bugs\"") && warnings[1].contains("ghe.example.com"));
    let quieted = Run::from(
        w.command()
            .env("ASANA_BASE_URL", "http://asana.example.com/api/1.0")
            .args(["-q", "status"])
            .output()
            .expect("status"),
    );
    assert!(!quieted.stderr.contains("cleartext"), "{}", quieted.stderr);
    std::fs::write(w.dir.path().join("asana-bridge.toml"), config).expect("config");

    // The port is held here on loopback: binding every interface on it fails after the
    // warnings.
    let port = free_port();
    let _held = std::net::TcpListener::bind(("127.0.0.1", port)).expect("hold");
    let started = Instant::now();
    let run = Run::from(
        w.command()
            .args([
                "watch",
                "--webhook-listen",
                &format!("0.0.0.0:{port}"),
                "--webhook-url",
                "http://bridge.example.com/hooks",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("watch"),
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(run.code, 2, "{}", run.stderr);
    let every = run
        .stderr
        .lines()
        .position(|l| l.contains("every interface"));
    let clear = run
        .stderr
        .lines()
        .position(|l| l.contains("--webhook-url http://bridge.example.com/hooks is cleartext"));
    let bind = run.stderr.lines().position(|l| l.contains("cannot listen"));
    assert!(
        every.is_some() && clear.is_some() && bind.is_some(),
        "{}",
        run.stderr
    );
    assert!(every < bind && clear < bind, "{}", run.stderr);
}
