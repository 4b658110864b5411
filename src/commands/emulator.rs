//! `evctl emulator`.

use crate::cli::EmulatorArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: EmulatorArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl emulator` is not implemented yet")
}
