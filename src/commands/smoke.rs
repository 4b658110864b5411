//! `evctl smoke`.

use crate::cli::SmokeArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: SmokeArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl smoke` is not implemented yet")
}
