//! How a command prints: human lines on stdout unless `--quiet` or `--json`, progress bars
//! only on a terminal. Shared by the commands and `watch`.

use std::io::IsTerminal;

/// How to print.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
}

impl Output {
    /// Prints a human line on stdout unless `--quiet` or `--json`.
    pub fn line(self, text: &str) {
        if !self.quiet && !self.json {
            println!("{text}");
        }
    }

    /// Whether a progress bar may be drawn.
    #[must_use]
    pub fn progress(self) -> bool {
        !self.quiet && !self.json && std::io::stderr().is_terminal()
    }
}
