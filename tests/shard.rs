//! End to end: `watch --shard K/N` through the real binary. N processes over one config
//! (run one after another, as the replicas of a StatefulSet would each run on their own
//! state) cover every link exactly once: each says which links it runs, and only those
//! links' tasks reach their folders while it runs. A shard with no link idles healthy; a
//! shard that does not exist is refused.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Run, Watch, World, free_port};

const WAIT: Duration = Duration::from_secs(20);
const LINKS: [&str; 7] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
];

/// A world whose config has one Markdown link per name, each to its own project holding
/// one task.
fn many_links() -> World {
    let w = World::new("newest");
    let mut config =
        "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n".to_owned();
    for name in LINKS {
        let project = w.sim.create_project(name);
        w.sim.add_task(
            &project,
            common::TaskSeed {
                name: format!("Task of {name}"),
                ..common::TaskSeed::default()
            },
        );
        config.push_str(&format!(
            "\n[[link]]\nname = \"{name}\"\nasana_project = \"{project}\"\nmarkdown = {{ dir = \"{name}\" }}\n"
        ));
    }
    std::fs::write(w.dir.path().join("asana-bridge.toml"), config).expect("config");
    w
}

/// The links whose folder holds their task's file.
fn synced(w: &World) -> BTreeSet<String> {
    LINKS
        .iter()
        .filter(|name| {
            w.dir
                .path()
                .join(name)
                .join(format!("task-of-{name}.md"))
                .is_file()
        })
        .map(|name| (*name).to_owned())
        .collect()
}

/// The link names `watch` says it runs: `shard K/N: M of the T links in the config: a, b`.
fn announced(stdout: &str) -> Option<BTreeSet<String>> {
    let line = stdout.lines().find(|l| l.starts_with("shard "))?;
    let names = line.split_once(" links in the config: ")?.1;
    Some(if names == "(none)" {
        BTreeSet::new()
    } else {
        names.split(", ").map(str::to_owned).collect()
    })
}

#[test]
fn n_shards_over_one_config_run_every_link_exactly_once() {
    let w = many_links();
    let n = 3;
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for k in 0..n {
        let watch = Watch::start(
            &w,
            &["--poll-interval", "1", "--shard", &format!("{k}/{n}")],
        );
        assert!(
            World::eventually(WAIT, || announced(&watch.stdout()).is_some()),
            "{}\n{}",
            watch.stdout(),
            watch.stderr()
        );
        let mine = announced(&watch.stdout()).expect("announced");
        assert!(!mine.is_empty(), "shard {k}/{n} is empty with these names");
        assert!(
            watch
                .stdout()
                .contains(&format!("shard {k}/{n}: {} of the 7 links", mine.len())),
            "{}",
            watch.stdout()
        );
        assert!(mine.is_disjoint(&covered), "{mine:?} ran twice");
        let expected: BTreeSet<String> = covered.union(&mine).cloned().collect();
        assert!(
            World::eventually(WAIT, || synced(&w) == expected),
            "shard {k}: synced {:?}, expected {expected:?}\n{}",
            synced(&w),
            watch.stderr()
        );
        // Kept (the point): some time more, in which no other link is touched by this shard.
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(synced(&w), expected, "shard {k} ran a link not its own");
        let (code, _, _, stderr) = watch.terminate();
        assert_eq!(code, Some(0), "{stderr}");
        covered = expected;
    }
    let all: BTreeSet<String> = LINKS.iter().map(|l| (*l).to_owned()).collect();
    assert_eq!(covered, all, "every link ran exactly once");
}

#[test]
fn an_empty_shard_idles_healthy_until_stopped() {
    let w = many_links();
    let port = free_port();
    // Of ten shards, shard 0 holds none of these seven names (sha256, fixed).
    let watch = Watch::start(
        &w,
        &[
            "--shard",
            "0/10",
            "--metrics-listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    assert!(
        World::eventually(WAIT, || watch.stdout().contains("watching 0 links")),
        "{}\n{}",
        watch.stdout(),
        watch.stderr()
    );
    assert_eq!(announced(&watch.stdout()), Some(BTreeSet::new()));
    // The metrics endpoint answers once it listens.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut health = None;
    assert!(
        World::eventually(WAIT, || {
            health = runtime.block_on(async {
                let r = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
                    .await
                    .ok()?;
                Some((r.status().as_u16(), r.text().await.expect("body")))
            });
            health.is_some()
        }),
        "/healthz never answered: {}",
        watch.stderr()
    );
    assert_eq!(
        health,
        Some((200, "ok: no link to run in this process\n".to_owned()))
    );
    assert!(synced(&w).is_empty());
    let (code, _, stdout, stderr) = watch.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("stopped"), "{stdout}");
}

#[test]
fn a_shard_that_does_not_exist_is_refused() {
    let w = many_links();
    for (arg, says) in [
        (
            "3/3",
            "shard 3 does not exist: shards are numbered from 0 to 2 for N = 3",
        ),
        ("0/0", "N must be at least 1"),
        ("one/3", "expected K/N"),
    ] {
        let run = w.run(&["watch", "--shard", arg]).expect(2);
        assert!(run.stderr.contains(says), "{arg}: {}", run.stderr);
    }
    let run = w
        .run(&["watch", "--shard", "0/2", "--link", "alpha"])
        .expect(2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    assert!(synced(&w).is_empty());
}

/// The example StatefulSet agrees with itself: as many shards as replicas, each replica's
/// shard from its pod index, and the shared token's budget split between them.
#[test]
fn the_example_statefulset_splits_its_config_and_its_budget_by_its_replicas() {
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s-statefulset.yaml"),
    )
    .expect("deploy/k8s-statefulset.yaml");
    let after = |key: &str| -> String {
        let at = manifest
            .find(key)
            .unwrap_or_else(|| panic!("{key} in the manifest"));
        manifest[at + key.len()..]
            .lines()
            .next()
            .expect("a value")
            .trim()
            .trim_matches('"')
            .to_owned()
    };
    let replicas: u64 = after("\n  replicas: ").parse().expect("replicas");
    let env_replicas: u64 = after("- name: REPLICAS\n              value: ")
        .parse()
        .expect("REPLICAS");
    assert_eq!(replicas, env_replicas, "replicas and REPLICAS differ");
    assert!(manifest.contains("- --shard\n            - $(SHARD)/$(REPLICAS)\n"));
    assert!(manifest.contains("fieldPath: metadata.labels['apps.kubernetes.io/pod-index']"));
    let budget: u64 = after("requests_per_minute = ").parse().expect("budget");
    assert_eq!(
        budget * replicas,
        1500,
        "the shared token's 1,500 a minute, split"
    );
    // Every shard the replicas will ask for is one the binary accepts.
    for k in 0..replicas {
        let shard = format!("{k}/{replicas}");
        let run = Run::from(
            std::process::Command::new(env!("CARGO_BIN_EXE_asana-bridge"))
                .args([
                    "--config",
                    "/nonexistent/asana-bridge.toml",
                    "watch",
                    "--shard",
                    &shard,
                ])
                .output()
                .expect("run"),
        );
        // Past the command line: the missing config is what stops it.
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("/nonexistent/asana-bridge.toml"),
            "{shard}: {}",
            run.stderr
        );
    }
}
