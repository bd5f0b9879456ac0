//! The `mixdown` binary: parse arguments, run, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mixdown::cli::Cli::parse();
    ExitCode::from(mixdown::cmd::run(cli))
}
