//! The `mixdown` binary: take SIGINT and SIGTERM, parse arguments, run, map the outcome to an
//! exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before any thread starts, so that every thread leaves SIGINT and SIGTERM to it.
    mixdown::cmd::signals::install();
    let cli = mixdown::cli::Cli::parse();
    ExitCode::from(mixdown::cmd::run(cli))
}
