//! `evctl plan`.

use crate::cli::PlanArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: PlanArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl plan` is not implemented yet")
}
