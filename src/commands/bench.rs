//! `evctl bench`.

use crate::cli::BenchArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: BenchArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl bench` is not implemented yet")
}
