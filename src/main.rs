//! The `evctl` binary: parse the command line, run the command, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match evctl::cli::Cli::try_parse() {
        Ok(cli) => evctl::commands::main(cli).into(),
        // Help and version go to stdout with 0; usage errors are errors (1), keeping 2 free to
        // mean "changes present" for --detailed-exitcode.
        Err(err) => {
            let _ = err.print();
            ExitCode::from(if err.use_stderr() { 1 } else { 0 })
        }
    }
}
