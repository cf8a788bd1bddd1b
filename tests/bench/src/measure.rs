//! Runs the real `asana-bridge` binary as a child process and measures it as the operating
//! system sees it: wall time around spawn and reap, and the child's own CPU time and peak
//! resident set from `wait4` (per child, so a setup run never pollutes a measured one, as
//! `getrusage(RUSAGE_CHILDREN)`'s running maximum would), taken by a small helper process
//! so that the bench's own size does not leak into the child's `ru_maxrss`.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One finished run of the binary.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// From spawn to reap.
    pub wall: Duration,
    /// User plus system CPU time of the child alone.
    pub cpu: Duration,
    /// The system (kernel) part of `cpu`: file creation, reads, sockets. It depends on
    /// the state of the file system as much as on the bridge.
    pub sys: Duration,
    /// The child's peak resident set, in KiB (`ru_maxrss` on Linux).
    pub max_rss_kib: u64,
}

impl Measured {
    /// Peak RSS in MiB.
    #[must_use]
    pub fn max_rss_mib(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // KiB counts are far below 2^52
        let kib = self.max_rss_kib as f64;
        kib / 1024.0
    }

    /// Fails with both streams unless the run exited with `code`.
    pub fn expect_code(&self, code: i32, what: &str) -> Result<()> {
        if self.code != code {
            bail!(
                "{what}: asana-bridge exited {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
                self.code,
                self.stdout,
                self.stderr
            );
        }
        Ok(())
    }
}

/// A run killed for taking longer than its limit.
#[derive(Debug)]
pub struct TimedOut(pub Duration);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "killed after {:.0} s", self.0.as_secs_f64())
    }
}

impl std::error::Error for TimedOut {}

/// The hidden first argument that turns this binary into the measuring helper.
pub const HELPER_ARG: &str = "__measure";

/// Runs `bin args...` to completion and measures it.
///
/// Linux records the RSS high-water mark of the address space a process `exec`s away from
/// into its `ru_maxrss` (and `posix_spawn` runs the child on the parent's address space up
/// to `exec`), so a child spawned straight from this process would report at least this
/// process's own peak, simulator included. The child is therefore started by a small
/// helper (this binary, freshly executed with [`HELPER_ARG`], a few MiB), which reaps it
/// with `wait4` and writes its figures to a file; the helper's own size is the floor of
/// the RSS figure. `configure` sets the environment and working directory; stdout and
/// stderr are captured in files under `scratch`.
/// With `limit`, a run that takes longer is killed (helper and child: they share a
/// process group) and reported as [`TimedOut`].
pub fn run(
    bin: &Path,
    args: &[&str],
    configure: impl FnOnce(&mut Command),
    scratch: &Path,
    limit: Option<Duration>,
) -> Result<Measured> {
    let out_path = scratch.join("child.stdout");
    let err_path = scratch.join("child.stderr");
    let report_path = scratch.join("child.rusage");
    let _ = std::fs::remove_file(&report_path);
    let out = File::create(&out_path).context("create the stdout capture file")?;
    let err = File::create(&err_path).context("create the stderr capture file")?;
    let mut command = Command::new(std::env::current_exe().context("where is this binary")?);
    command
        .arg(HELPER_ARG)
        .arg(&report_path)
        .arg(bin)
        .args(args);
    configure(&mut command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    command.process_group(0);
    let started = Instant::now();
    let mut helper = command.spawn().context("run the measuring helper")?;
    let status = loop {
        if let Some(status) = helper.try_wait()? {
            break status;
        }
        if limit.is_some_and(|l| started.elapsed() > l) {
            // Safe code only: the group id is the helper's pid (`process_group(0)`).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", helper.id())])
                .status();
            let _ = helper.wait();
            return Err(TimedOut(started.elapsed()).into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let report = std::fs::read_to_string(&report_path).with_context(|| {
        format!(
            "the measuring helper ({status}) left no report: {}",
            std::fs::read_to_string(&err_path).unwrap_or_default()
        )
    })?;
    let fields: Vec<u64> = report
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("a malformed helper report")?;
    let [code, wall_ns, cpu_ns, sys_ns, max_rss_kib] = fields[..] else {
        bail!("a malformed helper report: {report:?}");
    };
    Ok(Measured {
        code: i32::try_from(code).unwrap_or(-1),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        wall: Duration::from_nanos(wall_ns),
        cpu: Duration::from_nanos(cpu_ns),
        sys: Duration::from_nanos(sys_ns),
        max_rss_kib,
    })
}

/// The helper's side (`asana-bridge-bench __measure REPORT BIN ARGS...`): runs `BIN ARGS...`
/// with this process's environment, directory and streams, reaps it with `wait4`, and
/// writes `exit-code wall-ns cpu-ns sys-ns max-rss-kib` to `REPORT`. Exits with the child's code.
pub fn helper_main(args: &[std::ffi::OsString]) -> Result<i32> {
    let [report, bin, rest @ ..] = args else {
        bail!("usage: asana-bridge-bench {HELPER_ARG} REPORT BIN [ARGS...]");
    };
    let started = Instant::now();
    let child = Command::new(bin)
        .args(rest)
        .spawn()
        .with_context(|| format!("spawn {}", Path::new(bin).display()))?;
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    let (status, usage) = wait4(pid).context("wait4")?;
    let wall = started.elapsed();
    // The child is reaped; `Child` does not wait on drop, so dropping it is harmless.
    drop(child);
    let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
    let code = status.code().unwrap_or(-1);
    std::fs::write(
        report,
        format!(
            "{} {} {} {} {}\n",
            if code < 0 {
                u64::MAX
            } else {
                u64::try_from(code).unwrap_or(0)
            },
            wall.as_nanos(),
            cpu.as_nanos(),
            timeval(usage.ru_stime).as_nanos(),
            u64::try_from(usage.ru_maxrss).unwrap_or(0)
        ),
    )
    .context("write the report")?;
    Ok(code)
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// Waits for child `pid` and returns its exit status and its own resource usage.
#[allow(unsafe_code)]
fn wait4(pid: libc::pid_t) -> std::io::Result<(ExitStatus, libc::rusage)> {
    use std::os::unix::process::ExitStatusExt;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers and `timeval`s, for which all-zero
    // bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are live, aligned, writable locals; `wait4` writes
        // only into them and keeps no pointer after it returns.
        let r = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        if r == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
