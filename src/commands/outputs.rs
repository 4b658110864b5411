//! `evctl outputs`.

use crate::cli::OutputsArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: OutputsArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl outputs` is not implemented yet")
}
