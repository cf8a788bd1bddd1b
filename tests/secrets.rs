//! Secrets: the Asana token appears in no output of any command at any verbosity (also
//! with `RUST_LOG=trace` and `--json`), on no error path (refused token, server errors
//! retried, unreachable server, a server that echoes the token back), in no file the
//! bridge writes, and in no `Debug` dump of the client configuration. The state
//! directory is owner-only.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::{Fault, Run, TaskEdit, World};

/// Panics if `token` occurs in any of `outputs`.
#[track_caller]
fn assert_no_token(token: &str, outputs: &[(String, Run)]) {
    for (what, run) in outputs {
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains(token),
                "the token leaked on {stream} of `{what}`:\n{text}"
            );
            // A token cut in two by a line wrap or quoted in pieces still leaks its secret
            // part (after the last colon).
            let secret = token.rsplit(':').next().unwrap_or(token);
            assert!(
                !text.contains(secret),
                "the token's secret part leaked on {stream} of `{what}`:\n{text}"
            );
        }
    }
}

/// Every file under `dir` that contains `token`.
fn files_with(dir: &Path, token: &str) -> Vec<String> {
    World::tree_snapshot(dir)
        .into_iter()
        .filter(|(_, (bytes, _))| bytes.windows(token.len()).any(|w| w == token.as_bytes()))
        .map(|(p, _)| p.display().to_string())
        .collect()
}

/// Runs `args` with `RUST_LOG` set (the most verbose debug output there is).
fn run_traced(w: &World, args: &[&str], rust_log: &str) -> Run {
    Run::from(
        w.command()
            .env("RUST_LOG", rust_log)
            .args(args)
            .output()
            .expect("run"),
    )
}

/// Every command, at every verbosity, with tracing at `trace`, on a world with creates,
/// edits, a conflict and retried server errors: the token is in no output and no file.
#[test]
fn the_token_is_in_no_output_at_any_verbosity_and_in_no_file() {
    let w = World::new("manual");
    let gid = w.add_task("Secretive", |t| t.notes = "notes".into());
    w.write("local.md", "---\ntitle: Local\n---\n");
    let token = w.sim.token();
    let mut outputs = Vec::new();
    for verbosity in [
        &[][..],
        &["-q"],
        &["-v"],
        &["-vv"],
        &["-vvv"],
        &["-vvv", "--json"],
    ] {
        for command in [
            &["sync"][..],
            &["sync", "--dry-run"],
            &["status"],
            &["conflicts"],
        ] {
            let args: Vec<&str> = verbosity.iter().chain(command).copied().collect();
            outputs.push((args.join(" "), w.run(&args)));
        }
    }
    // A conflict to list, and server errors the client retries (logged at debug).
    let (name, text) = w.file_of(&gid);
    w.write(
        &name,
        text.replace("title: Secretive", "title: Local title"),
    );
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Asana title".into()),
            ..TaskEdit::default()
        },
    );
    w.sim.inject(Fault::Status {
        status: 503,
        count: 2,
        method: None,
        path_contains: None,
    });
    for args in [
        &["-vvv", "sync"][..],
        &["-vvv", "conflicts"],
        &["--json", "conflicts"],
    ] {
        outputs.push((format!("{} (conflict)", args.join(" ")), w.run(args)));
    }
    for filter in ["trace", "debug,hyper=trace,reqwest=trace,h2=trace"] {
        outputs.push((
            format!("RUST_LOG={filter} sync"),
            run_traced(&w, &["-vvv", "sync"], filter),
        ));
        outputs.push((
            format!("RUST_LOG={filter} status"),
            run_traced(&w, &["-vvv", "--json", "status"], filter),
        ));
    }
    assert!(
        outputs
            .iter()
            .any(|(_, r)| r.stderr.contains("DEBUG") || r.stderr.contains("TRACE")),
        "no debug output was produced at all, so this test proves nothing"
    );
    assert_no_token(&token, &outputs);
    assert_eq!(files_with(w.dir.path(), &token), Vec::<String>::new());
}

/// Error paths print causes, never the token: a refused token (401), a server that stays
/// down (500 after retries), an unreachable server.
#[test]
fn error_paths_never_print_the_token() {
    let w = World::new("newest");
    w.add_task("T", |_| {});
    let token = w.sim.token();
    let mut outputs = Vec::new();

    w.sim.revoke_token();
    let refused = w.run(&["-vvv", "sync"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    outputs.push(("401".to_owned(), refused));
    w.sim.restore_token();

    w.sim.inject(Fault::Status {
        status: 500,
        count: 3,
        method: None,
        path_contains: None,
    });
    let retried = run_traced(&w, &["-vvv", "sync"], "trace");
    assert!(
        w.sim.requests().iter().any(|r| r.status == 500),
        "the server errors happened"
    );
    outputs.push(("500s, retried".to_owned(), retried));

    let unreachable = w
        .command()
        .env("ASANA_BASE_URL", "http://127.0.0.1:9/api/1.0")
        .args(["-vvv", "sync"])
        .output()
        .expect("run");
    outputs.push(("unreachable".to_owned(), Run::from(unreachable)));
    assert_no_token(&token, &outputs);
    assert_eq!(files_with(w.dir.path(), &token), Vec::<String>::new());
}

/// A one-shot HTTP server that answers every request with `status` and a body that echoes
/// the request's `Authorization` header (as a careless proxy or API might).
fn echo_server(status: u16) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(false).expect("blocking");
    let handle = std::thread::spawn(move || {
        listener
            .set_nonblocking(true)
            .expect("non-blocking accept loop");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let auth = request
                .lines()
                .find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or_else(|| l.strip_prefix("Authorization: "))
                })
                .unwrap_or("")
                .trim()
                .to_owned();
            let body = serde_json::json!({
                "errors": [{ "message": format!("Not Authorized: {auth} is not valid") }]
            })
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Echo\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}/api/1.0"), handle)
}

/// A server whose error messages echo the `Authorization` header back: the bridge reports
/// the error without repeating the token.
///
/// A regression test: the service's error message used to be printed verbatim (stderr and
/// `--json`), so a server (or proxy) echoing the header made the bridge print the token;
/// the HTTP layer now blanks the token out of every message it takes from an answer.
#[test]
fn a_server_that_echoes_the_token_does_not_make_the_bridge_print_it() {
    let w = World::new("newest");
    let token = w.sim.token();
    let mut outputs = Vec::new();
    for status in [400, 401, 403] {
        let (url, _server) = echo_server(status);
        let out = w
            .command()
            .env("ASANA_BASE_URL", &url)
            .args(["-vvv", "--json", "sync"])
            .output()
            .expect("run");
        let run = Run::from(out);
        assert_ne!(run.code, 0, "{}", run.stderr);
        outputs.push((format!("echoing {status}"), run));
    }
    assert_no_token(&token, &outputs);
    assert_eq!(files_with(w.dir.path(), &token), Vec::<String>::new());
}

/// `Debug` of the client configuration redacts the token (a debug dump cannot leak it).
#[test]
fn debug_dumps_of_the_client_configuration_redact_the_token() {
    let token = "2/1/2:super-secret-value";
    let config = asana_bridge_asana::AsanaConfig::new(
        "http://127.0.0.1:1/api/1.0",
        secrecy::SecretString::from(token.to_owned()),
    );
    let dump = format!("{config:?} {config:#?}");
    assert!(!dump.contains("super-secret-value"), "{dump}");
    let http = config.http_config();
    let dump = format!("{http:?} {http:#?}");
    assert!(!dump.contains("super-secret-value"), "{dump}");
    let client = asana_bridge_connector::http::HttpClient::new(http).expect("client");
    let dump = format!("{client:?} {client:#?}");
    assert!(!dump.contains("super-secret-value"), "{dump}");
}

/// The state directory is created 0700: nobody else can enter it.
#[test]
fn the_state_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new("newest");
    w.add_task("T", |_| {});
    w.sync();
    let mode = std::fs::metadata(w.state_dir())
        .expect("state dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "state dir mode {mode:o}");
}

/// Every folder and file inside the state directory is owner-only too (0700/0600), so that
/// copying the database elsewhere or loosening the outer folder exposes nothing.
///
/// A regression test: the sled database inside used to keep the process umask (`db/`
/// 0755, its files 0644), with only the enclosing folder 0700.
#[test]
fn everything_inside_the_state_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new("newest");
    w.add_task("T", |_| {});
    w.sync();
    let mut open = Vec::new();
    let mut stack = vec![w.state_dir()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read") {
            let e = e.expect("entry");
            let meta = std::fs::symlink_metadata(e.path()).expect("meta");
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                open.push(format!("{} {mode:o}", e.path().display()));
            }
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert_eq!(open, Vec::<String>::new(), "readable by others");
}
