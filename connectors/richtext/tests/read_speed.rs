//! The cost of reading Asana descriptions, as the benchmark's import reads 100,000 of them
//! (issue 17): 20,000 [`read_exact`] calls on notes shaped like the benchmark's (about
//! 2 KB of plain lines), and on the same notes with one bold word (which the plain fast
//! path does not take). A measurement, not a check: it asserts what it reads, never a
//! time. Run it in release:
//! `cargo test --release -p asana-bridge-richtext --test read_speed -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use asana_bridge_richtext::read_exact;

/// Notes as the benchmark generates them: a title line, a second line, then numbered
/// lines of prose up to 2000 bytes, in one `<body>` (nothing in them needs XML escaping).
fn bench_notes(task: usize) -> String {
    let mut text = format!("Notes for generated task {task}.\nSecond line.");
    for line in 1.. {
        let next =
            format!("\nLine {line}: what was agreed, what is left, and who looks at it next.");
        if text.len() + next.len() > 2000 {
            break;
        }
        text.push_str(&next);
    }
    format!("<body>{text}</body>")
}

/// The CPU time this thread has used, in ms, where Linux tells it (`schedstat`'s first
/// field, in ns): unlike the wall clock, it does not count the time another process had
/// the core.
fn thread_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e6)
}

/// Prints five rounds of 20,000 `read_exact` calls over `notes`, wall and CPU time, and
/// the best of each (the machine is shared: the fastest round is the figure).
fn time(label: &str, notes: &[String]) {
    const CALLS: usize = 20_000;
    let (mut best_wall, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    for round in 1..=5 {
        let (start, cpu_start) = (Instant::now(), thread_cpu_ms());
        for i in 0..CALLS {
            black_box(read_exact(black_box(&notes[i % notes.len()])).unwrap());
        }
        let wall = start.elapsed().as_secs_f64() * 1e3;
        let cpu = thread_cpu_ms()
            .zip(cpu_start)
            .map_or(f64::NAN, |(end, start)| end - start);
        best_wall = best_wall.min(wall);
        best_cpu = best_cpu.min(cpu);
        println!("{label}: round {round}: {CALLS} calls in {wall:.1} ms ({cpu:.1} ms CPU)");
    }
    println!(
        "{label}: {CALLS} calls on {}-byte notes: best {best_wall:.1} ms wall ({:.2} µs per \
         call), {best_cpu:.1} ms CPU ({:.2} µs per call)",
        notes[0].len(),
        best_wall * 1e3 / CALLS as f64,
        best_cpu * 1e3 / CALLS as f64
    );
}

#[test]
#[ignore = "a timing to read by hand; run in release with --ignored --nocapture"]
fn read_exact_bench_notes_timing() {
    let plain: Vec<String> = (0..100).map(bench_notes).collect();
    let bold: Vec<String> = plain
        .iter()
        .map(|n| n.replacen("Second line", "Second <strong>line</strong>", 1))
        .collect();
    // What is timed is what the bridge gets: Markdown, exact.
    let (markdown, exact) = read_exact(&plain[17]).unwrap();
    assert!(exact);
    assert!(markdown.starts_with("Notes for generated task 17.\nSecond line.\nLine 1: "));
    let (markdown, exact) = read_exact(&bold[17]).unwrap();
    assert!(exact);
    assert!(markdown.starts_with("Notes for generated task 17.\nSecond **line**.\nLine 1: "));
    time("plain", &plain);
    time("bold", &bold);
}
