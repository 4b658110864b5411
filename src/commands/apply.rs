//! `evctl apply`.

use crate::cli::ApplyArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: ApplyArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl apply` is not implemented yet")
}
