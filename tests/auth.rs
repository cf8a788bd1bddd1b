//! End to end: authentication through the real binary against the simulator's OAuth
//! endpoints: `auth login` with a scripted browser step (an HTTP client following the
//! consent redirect to the loopback callback), syncs on the stored grant with access
//! tokens that expire during the run (refreshed before expiry and once on a 401), a
//! revoked grant giving a clear error, `auth logout` revoking, `auth login --with-token`,
//! `auth status` naming the identity and warning about invisible projects, a human PAT's
//! own concurrent edit still flowing through `watch`, and no token, code or secret in any
//! output or file but the owner-only credentials file.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Run, TaskEdit, World};

const SECRET_ENV: &str = "ASANA_CLIENT_SECRET";

/// A world whose config names the simulator's OAuth app, with its own config home.
fn oauth_world() -> World {
    let w = World::new("newest");
    let (id, _) = w.sim.oauth_client();
    w.write_config_with(
        "newest",
        &format!(
            "[asana.oauth]\nclient_id = \"{id}\"\nauthorize_url = \"{}\"\ntoken_url = \"{}\"\nrevoke_url = \"{}\"\nredirect_port = 0\n",
            w.sim.oauth_authorize_url(),
            w.sim.oauth_token_url(),
            w.sim.oauth_revoke_url()
        ),
    );
    w
}

fn xdg(w: &World) -> PathBuf {
    w.dir.path().join("xdg")
}

fn credentials_file(w: &World) -> PathBuf {
    xdg(w).join("asana-bridge").join("credentials.json")
}

/// The binary without `ASANA_TOKEN`, with the client secret and a private config home.
fn command(w: &World) -> Command {
    let (_, secret) = w.sim.oauth_client();
    let mut cmd = w.command();
    cmd.env_remove("ASANA_TOKEN")
        .env(SECRET_ENV, secret)
        .env("XDG_CONFIG_HOME", xdg(w));
    cmd
}

fn run(w: &World, args: &[&str]) -> Run {
    Run::from(command(w).args(args).output().expect("run asana-bridge"))
}

/// GET `url` without following redirects: status, `Location`, body.
fn get(url: &str) -> (u16, Option<String>, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let r = client.get(url).send().await.expect("GET");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        (status, location, r.text().await.unwrap_or_default())
    })
}

/// A running `auth login` with the sign-in URL it printed.
struct Login {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
    /// The thread copying the rest of stderr; it ends at the pipe's end of file.
    reader: std::thread::JoinHandle<()>,
}

impl Login {
    fn start(w: &World) -> Self {
        let mut child = command(w)
            .args(["-vvv", "auth", "login", "--no-browser", "--timeout", "30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn login");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut url = None;
        let mut line = String::new();
        while url.is_none() {
            line.clear();
            if lines.read_line(&mut line).expect("read stderr") == 0 {
                let _ = child.wait();
                panic!(
                    "login ended before printing a URL: {}",
                    stderr.lock().expect("stderr")
                );
            }
            stderr.lock().expect("stderr").push_str(&line);
            if line.trim_start().starts_with("http") {
                url = Some(line.trim().to_owned());
            }
        }
        let sink = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = lines.read_to_string(&mut rest);
            sink.lock().expect("stderr").push_str(&rest);
        });
        Self {
            child,
            url: url.expect("url"),
            stderr,
            reader,
        }
    }

    /// The scripted browser: consent (the simulator approves), then follows the redirect
    /// to the bridge's loopback callback. Returns the callback's status and page.
    fn approve(&self) -> (u16, String) {
        let (status, location, _) = get(&self.url);
        assert_eq!(status, 302, "the consent screen redirects");
        let location = location.expect("a Location");
        assert!(location.starts_with("http://127.0.0.1:"), "{location}");
        let (status, _, page) = get(&location);
        (status, page)
    }

    fn finish(mut self) -> Run {
        let mut status = None;
        assert!(
            World::eventually(Duration::from_secs(30), || {
                status = self.child.try_wait().expect("wait");
                status.is_some()
            }),
            "login hangs"
        );
        let status = status.expect("exited");
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        // Its last lines are in once the stderr pipe reached its end of file.
        assert!(
            World::eventually(Duration::from_secs(5), || self.reader.is_finished()),
            "login's stderr stayed open after it exited"
        );
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: self.stderr.lock().expect("stderr").clone(),
        }
    }
}

/// Signs in through the scripted browser; the login's output.
fn login(w: &World) -> Run {
    let login = Login::start(w);
    let (status, page) = login.approve();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("signed in"), "{page}");
    login.finish().expect(0)
}

/// Every file under `dir` as text.
fn all_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    out
}

/// No issued code or token, and not the client secret, in `texts` or in any file of the
/// world but the credentials file (which must hold only the refresh token).
#[track_caller]
fn assert_no_secret(w: &World, texts: &[&str]) {
    let (_, client_secret) = w.sim.oauth_client();
    let mut secrets = w.sim.oauth_issued_secrets();
    secrets.push(client_secret);
    secrets.push(w.sim.token());
    let credentials = credentials_file(w);
    for text in texts {
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "a secret leaked into output: {text}"
            );
        }
    }
    for (path, text) in all_files(w.dir.path()) {
        if path == credentials {
            continue;
        }
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "a secret leaked into {}",
                path.display()
            );
        }
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// `auth login` end to end, then sync, status and logout on the stored grant.
#[test]
fn oauth_login_sync_status_logout() {
    let w = oauth_world();
    w.add_task("Signed-in import", |_| {});
    let out = login(&w);
    let me = w.sim.me_gid();
    assert!(
        out.stdout.contains("Signed in to Asana as") && out.stdout.contains(&me),
        "{}",
        out.stdout
    );
    let stats = w.sim.oauth_stats();
    assert_eq!((stats.authorizations, stats.code_exchanges), (1, 1));
    assert_eq!(stats.last_challenge_method.as_deref(), Some("S256"));
    assert!(
        stats
            .last_redirect_uri
            .as_deref()
            .is_some_and(|r| r.starts_with("http://127.0.0.1:") && r.ends_with("/callback")),
        "{stats:?}"
    );
    let file = credentials_file(&w);
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().expect("dir")), 0o700);
    }

    let sync = run(&w, &["sync"]).expect(0);
    assert_eq!(w.files().len(), 1, "{}", sync.stderr);
    assert!(w.sim.oauth_stats().refreshes >= 1);

    let status = run(&w, &["auth", "status"]).expect(0);
    assert!(
        status.stdout.contains("acting as") && status.stdout.contains(&me),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("OAuth sign-in"), "{}", status.stdout);
    assert!(status.stdout.contains("is visible"), "{}", status.stdout);
    let json = run(&w, &["--json", "auth", "status"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["asana"]["user"]["gid"], me);
    assert_eq!(v["links"][0]["asana_visible"], true);

    // Even at the highest verbosity nothing secret is printed.
    let loud = run(&w, &["-vvv", "sync"]).expect(0);
    assert_no_secret(
        &w,
        &[
            &out.stdout,
            &out.stderr,
            &sync.stdout,
            &sync.stderr,
            &status.stdout,
            &status.stderr,
            &loud.stdout,
            &loud.stderr,
        ],
    );

    let logout = run(&w, &["auth", "logout"]).expect(0);
    assert!(logout.stdout.contains("Revoked"), "{}", logout.stdout);
    assert_eq!(w.sim.oauth_live_grants(), 0);
    assert_eq!(w.sim.oauth_stats().revocations, 1);
    assert!(!file.exists());
    let after = run(&w, &["sync"]).expect(2);
    assert!(after.stderr.contains("auth login"), "{}", after.stderr);
    assert!(
        run(&w, &["auth", "logout"])
            .expect(0)
            .stdout
            .contains("No stored")
    );
}

/// Runs `sync` while another thread, `after` into the run, kills every access token.
fn sync_killing_tokens_after(w: &World, after: Duration) -> Run {
    std::thread::scope(|s| {
        let child = s.spawn(|| run(w, &["sync"]));
        // Real time: the `sync` child must be mid-run when the tokens are revoked.
        std::thread::sleep(after);
        w.sim.expire_oauth_access_tokens();
        child.join().expect("sync thread")
    })
}

/// Access tokens that live a second expire during a long sync: the bridge refreshes
/// them before they expire (never sending a dead one); then, with long-lived tokens that
/// Asana kills mid-run, it refreshes once on the 401 and goes on. Both runs succeed and
/// create nothing twice.
#[test]
fn access_tokens_are_refreshed_during_a_long_sync() {
    let w = oauth_world();
    login(&w);

    // Before expiry: a one-second life, a run of several seconds.
    w.sim.set_oauth_access_ttl(Duration::from_secs(1));
    for i in 0..8 {
        w.write(
            &format!("task-{i}.md"),
            format!("---\ntitle: Local {i}\n---\nbody {i}\n"),
        );
    }
    w.sim.set_latency(Duration::from_millis(600));
    let before = w.sim.oauth_stats().refreshes;
    let started = Instant::now();
    let first = run(&w, &["sync"]).expect(0);
    let took = started.elapsed();
    let stats = w.sim.oauth_stats();
    assert_eq!(w.sim.project_tasks(&w.project).len(), 8, "{}", first.stderr);
    assert!(
        took > Duration::from_secs(3),
        "the run must outlive tokens: {took:?}"
    );
    assert!(
        stats.refreshes - before >= 3,
        "refreshed at the start and before each expiry: {stats:?} in {took:?}"
    );
    assert_eq!(stats.expired_access_rejections, 0, "{stats:?}");

    // On a 401: tokens that would live an hour die one second into the run.
    w.sim.set_oauth_access_ttl(Duration::from_secs(3600));
    w.sim.set_latency(Duration::from_millis(400));
    for (name, text) in w.files() {
        w.write(&name, text.replace("body", "edited body"));
    }
    let before = w.sim.oauth_stats();
    let second = sync_killing_tokens_after(&w, Duration::from_millis(1000)).expect(0);
    let stats = w.sim.oauth_stats();
    w.sim.set_latency(Duration::ZERO);
    assert!(
        stats.expired_access_rejections > before.expired_access_rejections,
        "a dead token was refused mid-run: {stats:?}"
    );
    assert!(
        stats.refreshes - before.refreshes >= 2,
        "at the start and after the 401: {stats:?}"
    );
    let tasks = w.sim.project_tasks(&w.project);
    assert_eq!(tasks.len(), 8, "nothing created twice");
    assert!(
        tasks.iter().all(|t| t.notes.contains("edited body")),
        "every edit landed: {}",
        second.stderr
    );
    let third = run(&w, &["sync"]).expect(0);
    assert_eq!(w.sim.project_tasks(&w.project).len(), 8);
    assert_no_secret(
        &w,
        &[&first.stdout, &first.stderr, &second.stderr, &third.stderr],
    );
}

/// A grant revoked in Asana ends the run with one clear line pointing at `auth login`.
#[test]
fn revoked_grant_is_a_clear_error() {
    let w = oauth_world();
    w.add_task("One", |_| {});
    login(&w);
    run(&w, &["sync"]).expect(0);
    w.sim.revoke_oauth_grants();
    let out = run(&w, &["sync"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("revoked") && out.stderr.contains("auth login"),
        "{}",
        out.stderr
    );
    let status = run(&w, &["auth", "status"]);
    assert_eq!(status.code, 1);
    assert!(status.stderr.contains("auth login"), "{}", status.stderr);
    assert_no_secret(&w, &[&out.stderr, &status.stderr]);
}

/// A redirect with another `state` ends the login without storing anything; a denial is
/// reported; unrelated requests to the loopback port get a 404 and do not end it.
#[test]
fn login_checks_state_and_reports_denial() {
    let w = oauth_world();
    let login = Login::start(&w);
    let port = login
        .url
        .split("redirect_uri=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .map(|r| r.replace("%3A", ":").replace("%2F", "/"))
        .expect("a redirect_uri");
    let (status, _, _) = get(&port.replace("/callback", "/favicon.ico"));
    assert_eq!(status, 404);
    let (status, _, page) = get(&format!("{port}?code=forged&state=not-the-one"));
    assert_eq!(status, 400, "{page}");
    let out = login.finish();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("state"), "{}", out.stderr);
    assert!(!credentials_file(&w).exists());
    assert_eq!(w.sim.oauth_stats().code_exchanges, 0);

    w.sim.oauth_deny_next();
    let login = Login::start(&w);
    let (status, _) = login.approve();
    assert_eq!(status, 400);
    let out = login.finish();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("access_denied"), "{}", out.stderr);
    assert!(!credentials_file(&w).exists());
}

/// `auth login --with-token` keeps a PAT in the owner-only file; a file others can read
/// is refused; the env var beats the stored token.
#[test]
fn with_token_keeps_a_pat_owner_only() {
    let w = World::new("newest");
    w.add_task("Pat import", |_| {});
    let mut child = command(&w)
        .args(["auth", "login", "--with-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    writeln!(child.stdin.take().expect("stdin"), "{}", w.sim.token()).expect("write token");
    let out = Run::from(child.wait_with_output().expect("wait")).expect(0);
    assert!(out.stdout.contains(&w.sim.me_gid()), "{}", out.stdout);
    let file = credentials_file(&w);
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    run(&w, &["sync"]).expect(0);
    assert_eq!(w.files().len(), 1);
    let status = run(&w, &["auth", "status"]).expect(0);
    assert!(status.stdout.contains("--with-token"), "{}", status.stdout);
    assert_no_secret(&w, &[&out.stdout, &out.stderr, &status.stdout]);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let refused = run(&w, &["sync"]).expect(2);
        assert!(refused.stderr.contains("chmod 600"), "{}", refused.stderr);
    }
    // The environment variable wins over the store (and is what the status names).
    let env = w.run(&["auth", "status"]).expect(0);
    assert!(
        env.stdout.contains("environment variable ASANA_TOKEN"),
        "{}",
        env.stdout
    );
    let bad = Run::from(
        command(&w)
            .args(["auth", "login", "--with-token"])
            .stdin(Stdio::null())
            .output()
            .expect("run"),
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// `auth status` warns, and exits 1, when a linked project is not visible to the token's
/// user; it still names who the bridge acts as.
#[test]
fn status_warns_about_an_invisible_project() {
    let w = World::new("newest");
    let config = std::fs::read_to_string(w.dir.path().join("asana-bridge.toml")).expect("config");
    std::fs::write(
        w.dir.path().join("asana-bridge.toml"),
        format!(
            "{config}\n[[link]]\nname = \"hidden\"\nasana_project = \"1299999999999999\"\nmarkdown = {{ dir = \"hidden\" }}\n"
        ),
    )
    .expect("config");
    let out = w.run(&["auth", "status"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("acting as"), "{}", out.stdout);
    assert!(out.stdout.contains("workspaces:"), "{}", out.stdout);
    assert!(
        out.stderr.contains("warning: link \"hidden\"") && out.stderr.contains("not visible"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("link \"roadmap\""), "{}", out.stdout);
}

/// With a person's own PAT the bridge acts as that person: their edit in Asana of a task
/// the bridge has just written, made while `watch` runs, is not taken for the bridge's
/// echo and reaches the file.
#[test]
fn human_pat_own_concurrent_edit_still_flows() {
    let w = World::new("newest");
    let gid = w.add_task("Shared task", |_| {});
    let mut watch = w
        .command()
        .args(["watch", "--poll-interval", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let wait = Duration::from_secs(20);
    assert!(World::eventually(wait, || w.files().len() == 1), "import");
    let (name, text) = w.file_of(&gid);
    // The bridge writes the task (its write log now holds it, authored by the token user).
    w.write(&name, text.replace("completed: false", "completed: true"));
    assert!(
        World::eventually(wait, || w.sim.task(&gid).is_some_and(|t| t.completed)),
        "file -> Asana"
    );
    // The person whose PAT it is edits the same task in Asana, as themselves.
    // Real time: the edit must come later than the sync on the simulator's clock.
    std::thread::sleep(Duration::from_millis(50));
    w.sim.edit_task_as_token_user(
        &gid,
        TaskEdit {
            name: Some("Renamed by the PAT's owner".into()),
            ..TaskEdit::default()
        },
    );
    let flowed = World::eventually(wait, || {
        w.files()
            .values()
            .any(|t| t.contains("Renamed by the PAT's owner"))
    });
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(flowed, "the owner's own edit was dropped as an echo");
}

/// GitHub links: `auth status` names the GitHub login of each link's token and warns
/// about a repository it cannot see.
#[test]
fn status_names_the_github_login_and_warns_about_a_hidden_repo() {
    let w = World::new("newest");
    let gh = github_sim::GithubSim::start();
    let config = std::fs::read_to_string(w.dir.path().join("asana-bridge.toml")).expect("config");
    let project2 = w.sim.create_project("Bugs");
    std::fs::write(
        w.dir.path().join("asana-bridge.toml"),
        format!(
            "{config}\n[[link]]\nname = \"bugs\"\nasana_project = \"{project2}\"\ngithub = {{ repo = \"{}\", api_url = \"{}\" }}\n\n[[link]]\nname = \"hidden-repo\"\nasana_project = \"{project2}\"\ngithub = {{ repo = \"acme/not-shared\", api_url = \"{}\" }}\n",
            gh.repo(),
            gh.base_url(),
            gh.base_url()
        ),
    )
    .expect("config");
    let out = Run::from(
        w.command()
            .env("GITHUB_TOKEN", gh.token())
            .args(["auth", "status"])
            .output()
            .expect("run"),
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("GitHub: acting as"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(&format!("GitHub repository {} is visible", gh.repo())),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("acme/not-shared is not visible"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains(&gh.token()) && !out.stderr.contains(&gh.token()));
}
