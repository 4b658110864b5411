//! `evctl bench`: the repository's benchmarks (hidden command).

use crate::cli::{BenchArgs, BenchCommand};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(args: BenchArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match args.which {
        BenchCommand::Fanout(args) => {
            crate::emulator::dataplane::bench::fanout(args, printer).await
        }
        BenchCommand::Apply(_) => anyhow::bail!("`evctl bench apply` is not implemented yet"),
    }
}
