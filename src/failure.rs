//! One item that could not be synced this run: what the observe step (an item it could not
//! read) and the apply step (an action that failed) hand to the run's report.

/// One item that could not be synced this run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ItemFailure {
    /// The item, as the user knows it (`roadmap/fix-login.md`, `Asana task 1200…`).
    pub item: String,
    pub message: String,
}
