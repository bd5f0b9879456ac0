//! What a shell user expects of a command besides its work: `mixdown completions SHELL`
//! (clap_complete) and `mixdown man [COMMAND]` (clap_mangen), both generated from the same clap
//! definitions as `--help`, so they never drift from the real options.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{AppError, exit};

/// Print the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<u8, AppError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "mixdown", &mut out);
    write_stdout(&out)?;
    Ok(exit::OK)
}

/// Print the man page of mixdown, or of one of its commands, as roff on stdout.
pub fn man(args: &ManArgs) -> Result<u8, AppError> {
    let mut cmd = Cli::command();
    // Building gives each subcommand its display name (`mixdown-render`, the page's title) and
    // its usage line (`mixdown render`).
    cmd.build();
    let page = match &args.command {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let known: Vec<&str> = cmd
                    .get_subcommands()
                    .map(|s| s.get_name())
                    .filter(|n| *n != "help")
                    .collect();
                return Err(AppError::Usage(format!(
                    "mixdown man {name}: no such command; commands: {}",
                    known.join(", ")
                )));
            }
        },
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("mixdown {}", env!("CARGO_PKG_VERSION")))
        .manual("mixdown manual")
        .render(&mut out)
        .map_err(|source| AppError::Write {
            path: "standard output".into(),
            source,
        })?;
    write_stdout(&out)?;
    Ok(exit::OK)
}

/// Write `bytes` to stdout and flush, naming stdout when it fails (a closed pipe).
pub(super) fn write_stdout(bytes: &[u8]) -> Result<(), AppError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|source| AppError::Write {
            path: "standard output".into(),
            source,
        })
}
