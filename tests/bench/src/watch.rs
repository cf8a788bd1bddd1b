//! `--watch`: how fast `asana-bridge watch` mirrors an edit, and what it costs idle.
//!
//! Runs the real binary's `watch` against the in-process simulator over a 50-task project
//! and measures, per mode (polling at the default 10 s interval; webhooks with a 60 s
//! backup poll):
//! - the latency from an edit to its arrival on the other side, each way (the time until
//!   the simulator shows a file edit, and until the file shows an Asana edit);
//! - the Asana requests spent while idle, counted over a minute and scaled to an hour.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use asana_sim::{SimOptions, TaskEdit, seed};

use crate::world::{World, front};

/// Edits per direction and mode.
const ROUNDS: usize = 5;

/// How long an edit may take to arrive before the run gives up.
const GIVE_UP: Duration = Duration::from_secs(60);

/// A running `watch`, stopped with SIGTERM when dropped.
struct Watching(Child);

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// One mode's figures.
struct Figures {
    mode: &'static str,
    file_to_asana: Vec<Duration>,
    asana_to_file: Vec<Duration>,
    idle_requests_per_hour: usize,
}

/// Runs both modes and prints the table.
pub fn run(bin: &Path, idle: Duration) -> Result<()> {
    let mut all = Vec::new();
    for webhook in [false, true] {
        all.push(mode(bin, webhook, idle)?);
    }
    println!(
        "{:<10} {:>22} {:>22} {:>20}",
        "watch", "file -> Asana (med/max)", "Asana -> file (med/max)", "idle requests/hour"
    );
    for f in &all {
        println!(
            "{:<10} {:>22} {:>22} {:>20}",
            f.mode,
            med_max(&f.file_to_asana),
            med_max(&f.asana_to_file),
            f.idle_requests_per_hour
        );
    }
    Ok(())
}

fn mode(bin: &Path, webhook: bool, idle: Duration) -> Result<Figures> {
    let world = World::new(bin, SimOptions::default(), None)?;
    seed::generated(&world.sim, &world.project, 50);
    world.sync_ok("setup import")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://127.0.0.1:{port}/hooks");
    let args: Vec<&str> = if webhook {
        vec![
            "watch",
            "--poll-interval",
            "60",
            "--backup-poll-interval",
            "60",
            "--webhook-listen",
            &listen,
            "--webhook-url",
            &url,
        ]
    } else {
        vec!["watch"] // the default 10 s poll
    };
    let _watch = Watching(world.spawn(&args)?);
    if webhook && !wait_until(GIVE_UP, || world.sim.webhooks().iter().any(|h| h.active)) {
        bail!("no webhook was registered");
    }
    std::thread::sleep(Duration::from_secs(2));

    let files = world.task_files()?;
    let mut file_to_asana = Vec::new();
    let mut asana_to_file = Vec::new();
    for round in 0..ROUNDS {
        // File -> Asana.
        let path = &files[round];
        let gid = World::gid_of(path)?.context("a file without its gid")?;
        let text = std::fs::read_to_string(path)?;
        let title = format!("edited locally {round}");
        let old = front(&text, "title").context("a file without a title")?;
        let start = Instant::now();
        std::fs::write(
            path,
            text.replacen(&format!("title: {old}"), &format!("title: {title}"), 1),
        )?;
        if !wait_until(GIVE_UP, || {
            world.sim.task(&gid).is_some_and(|t| t.name == title)
        }) {
            bail!("a file edit did not reach Asana within {GIVE_UP:?}");
        }
        file_to_asana.push(start.elapsed());

        // Asana -> file, at a random point of the poll cycle.
        std::thread::sleep(Duration::from_millis(1300 * (round as u64 + 1)));
        let path = &files[ROUNDS + round];
        let gid = World::gid_of(path)?.context("a file without its gid")?;
        let title = format!("edited in Asana {round}");
        let start = Instant::now();
        world.sim.edit_task(
            &gid,
            TaskEdit {
                name: Some(title.clone()),
                ..TaskEdit::default()
            },
        );
        if !wait_until(GIVE_UP, || {
            std::fs::read_to_string(path)
                .is_ok_and(|t| front(&t, "title").as_deref() == Some(title.as_str()))
        }) {
            bail!("an Asana edit did not reach the file within {GIVE_UP:?}");
        }
        asana_to_file.push(start.elapsed());
    }

    std::thread::sleep(Duration::from_secs(3));
    world.sim.clear_requests();
    std::thread::sleep(idle);
    let seen = world.sim.requests().len();
    let per_hour = usize::try_from(
        u128::from(u32::try_from(seen).unwrap_or(u32::MAX)) * 3_600_000 / idle.as_millis().max(1),
    )
    .unwrap_or(usize::MAX);
    Ok(Figures {
        mode: if webhook { "webhook" } else { "polling" },
        file_to_asana,
        asana_to_file,
        idle_requests_per_hour: per_hour,
    })
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn med_max(d: &[Duration]) -> String {
    let mut v: Vec<Duration> = d.to_vec();
    v.sort();
    match (v.get(v.len() / 2), v.last()) {
        (Some(m), Some(x)) => format!("{:.2} / {:.2} s", m.as_secs_f64(), x.as_secs_f64()),
        _ => "-".to_owned(),
    }
}
