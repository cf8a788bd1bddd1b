//! A running `asana-bridge watch` child for the end-to-end tests, its output collected in
//! the background.

use std::io::Read;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{World, eventually};

/// A running `watch` child with its output collected in the background.
pub struct Watch {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// The threads copying the child's output; each ends at its pipe's end of file.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Watch {
    pub fn start(w: &World, args: &[&str]) -> Self {
        let mut child = w
            .command()
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn watch");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        for (pipe, sink) in [
            (
                Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
                Arc::clone(&stdout),
            ),
            (
                Box::new(child.stderr.take().expect("stderr")) as Box<dyn Read + Send>,
                Arc::clone(&stderr),
            ),
        ] {
            readers.push(std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .expect("sink")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        Self {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout").clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    /// Sends SIGTERM and waits; the exit code and how long it took.
    pub fn terminate(mut self) -> (Option<i32>, Duration, String, String) {
        let start = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let mut code = None;
        assert!(
            eventually(Duration::from_secs(15), || {
                code = self.child.try_wait().expect("wait").map(|s| s.code());
                code.is_some()
            }),
            "watch did not stop after SIGTERM"
        );
        let took = start.elapsed();
        // Its last lines are in once both pipes reached their end of file.
        assert!(
            eventually(Duration::from_secs(5), || self
                .readers
                .iter()
                .all(std::thread::JoinHandle::is_finished)),
            "the watch's output pipes stayed open after it exited"
        );
        (code.flatten(), took, self.stdout(), self.stderr())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
