//! `evctl schema`: print the JSON Schema of the spec format (derived from the parser's types),
//! for editors with yaml-language-server.

use crate::cli::SchemaArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(_args: SchemaArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    printer.json(&crate::spec::schema())?;
    Ok(ExitStatus::Success)
}
