//! `evctl keys`.

use crate::cli::KeysArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: KeysArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl keys` is not implemented yet")
}
