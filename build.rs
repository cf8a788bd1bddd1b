//! Build script: records the git commit the binary is built from, for `--version`.
//!
//! `ASANA_BRIDGE_GIT_COMMIT` is the short hash of `HEAD` (`git rev-parse --short HEAD` in
//! this package's folder), or `unknown` outside a git checkout or without git. A build
//! from a source archive (a container build without `.git`) may pass it in the
//! environment variable of the same name. The script reruns when `HEAD` moves: a commit,
//! a checkout, a rebase (the ref `HEAD` points to, and `packed-refs`, are watched too).

use std::path::{Path, PathBuf};
use std::process::Command;

const VAR: &str = "ASANA_BRIDGE_GIT_COMMIT";

fn main() {
    println!("cargo:rerun-if-env-changed={VAR}");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var(VAR)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .or_else(|| {
            watch_head(&dir);
            git(&dir, &["rev-parse", "--short", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env={VAR}={commit}");
}

/// Tells cargo to rerun this script when `HEAD` or the branch it names moves. In a linked
/// worktree `.git` is a file: the paths come from git itself.
fn watch_head(dir: &Path) {
    let Some(git_dir) = git(dir, &["rev-parse", "--absolute-git-dir"]) else {
        return;
    };
    let git_dir = PathBuf::from(git_dir);
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    let common = git(dir, &["rev-parse", "--git-common-dir"])
        .map(|c| {
            let c = PathBuf::from(c);
            if c.is_absolute() { c } else { dir.join(c) }
        })
        .unwrap_or_else(|| git_dir.clone());
    // Only files that exist: cargo reruns the script on every build for a missing one.
    let reference = git(dir, &["symbolic-ref", "-q", "HEAD"]).map(|r| common.join(r));
    for path in reference.into_iter().chain([common.join("packed-refs")]) {
        if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// The trimmed stdout of a successful `git -C dir args...`.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}
