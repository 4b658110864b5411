//! `evctl list`.

use crate::cli::ListArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: ListArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl list` is not implemented yet")
}
