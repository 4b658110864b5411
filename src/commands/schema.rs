//! `evctl schema`.

use crate::cli::SchemaArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: SchemaArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`evctl schema` is not implemented yet")
}
