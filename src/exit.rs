//! Exit codes (the contract's) and the CLI-edge error that carries one.

use std::process::ExitCode;

/// Exit codes: 0 success; 1 runtime error (network, API, I/O); 2 usage or config error;
/// 3 finished but unresolved conflicts remain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Runtime = 1,
    Usage = 2,
    Conflicts = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error at the CLI edge: what to print and which code to exit with.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl CliError {
    /// A usage or config error (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Usage,
            error: error.into(),
        }
    }

    /// A runtime error (exit 1).
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Runtime,
            error: error.into(),
        }
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        Self::usage(e)
    }
}

impl From<asana_bridge_state::StateError> for CliError {
    fn from(e: asana_bridge_state::StateError) -> Self {
        match e {
            // Nothing a rerun fixes: the user acts first (stop the other process; move
            // the damaged folder aside; upgrade the bridge), as for a config error.
            asana_bridge_state::StateError::Locked { .. }
            | asana_bridge_state::StateError::Damaged { .. }
            | asana_bridge_state::StateError::TooNew { .. } => Self::usage(e),
            other => Self::runtime(other),
        }
    }
}
