//! Process exit statuses: the one place that says which number each outcome maps to.
//!
//! The README lists these; tests assert them. Commands return an [`ExitStatus`] and never
//! call `std::process::exit` themselves.

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The command did what was asked (for `plan --detailed-exitcode`: there are no changes).
    Success,
    /// Something failed: bad input, an API error, a failed smoke check.
    Failure,
    /// `plan --detailed-exitcode` (and checks like `keys --expiring-within`) found something to report.
    Changes,
    /// Interrupted by Ctrl-C or SIGTERM after stopping cleanly.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Changes => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}
