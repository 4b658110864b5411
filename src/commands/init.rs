//! `evctl init`.

use crate::cli::InitArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: InitArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl init` is not implemented yet")
}
