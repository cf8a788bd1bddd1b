//! asana-bridge: keeps an Asana project and a target system mirrored both ways.
//!
//! Map of the engine (the connectors, the state store and the simulator are crates of
//! their own):
//!
//! - [`config`]: the TOML config file, validated.
//! - [`records`]: what the engine remembers per link (pairs, fingerprints, intents, conflicts).
//! - [`linkstate`]: a link's tables in the state store.
//! - [`merge`]: the field-level three-way merge of one pair (pure).
//! - [`plan`]: the sync decision for a whole link (pure): observations + state -> actions.
//! - [`apply`]: performs a plan, recording state after each action.
//! - [`observe`]: reads both sides for a run: each recorded pair's side unchanged,
//!   changed, gone or unreadable, and the items no record pairs.
//! - [`engine`]: one link's sync: observe, plan, guard, apply or print.
//! - [`failure`]: one item that could not be synced this run (from observe or apply).
//! - [`report`]: summaries, dry-run diffs, error lines, JSON.
//! - [`trash`]: where a task is saved before the bridge deletes it in Asana.
//! - [`targets`]: the target registry, every kind of target a link can name (one line
//!   per target crate).
//! - [`connect`]: builds the connectors a link names.
//! - [`auth`]: where the Asana identity comes from (env var, keyring, owner-only file, OAuth).
//! - [`watch`]: `asana-bridge watch`, the long-running mirror.
//! - [`exposure`]: warnings for cleartext URLs and a receiver bound to every interface.
//! - [`cli`], [`commands`], [`exit`], [`output`]: the command line.

pub mod apply;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connect;
pub mod engine;
pub mod exit;
pub mod exposure;
pub mod failure;
pub mod linkstate;
pub mod merge;
pub mod observe;
pub mod output;
pub mod plan;
pub mod records;
pub mod report;
pub mod targets;
pub mod threads;
pub mod trash;
pub mod watch;
