//! `evctl destroy`.

use crate::cli::DestroyArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: DestroyArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl destroy` is not implemented yet")
}
