//! `evctl gc`.

use crate::cli::GcArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: GcArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl gc` is not implemented yet")
}
