//! `evctl validate`.

use crate::cli::ValidateArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: ValidateArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl validate` is not implemented yet")
}
