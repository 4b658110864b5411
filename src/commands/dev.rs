//! `evctl dev`.

use crate::cli::DevArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: DevArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl dev` is not implemented yet")
}
