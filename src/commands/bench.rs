//! `evctl bench`: hidden benchmarks against the embedded emulator, each measured against a
//! named alternative in the same run (see the README's "Benchmarks").

use crate::cli::{BenchArgs, BenchCommand};
use crate::exit::ExitStatus;
use crate::output::Printer;

mod apply;

pub async fn run(args: BenchArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match args.which {
        BenchCommand::Fanout(args) => {
            crate::emulator::dataplane::bench::fanout(args, printer).await
        }
        BenchCommand::Apply(args) => apply::run(args, printer).await,
        BenchCommand::Handlers(args) => {
            crate::emulator::dataplane::handlers::bench::run(args, printer).await
        }
    }
}
