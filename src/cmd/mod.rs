//! The commands: one file each (completions and the man page share [`shell`]), and what they
//! share on the terminal ([`ui`]). [`run`] takes a parsed command line, runs the command, prints
//! what failed and returns the exit status.

pub mod album;
pub mod analyze;
pub mod check;
pub mod init;
pub mod render;
pub mod schema;
pub mod shell;
pub mod signals;
pub mod ui;

use std::io::Write;
use std::path::Path;

use crate::cli::{Cli, Command};
use crate::error::AppError;
use crate::master::album::{Interchange, SCHEMA_VERSION};
use crate::session::SessionError;

/// Read the interchange file at `path` (a measurement file or an album plan), refusing one
/// of another kind or format version.
fn read_interchange<T: Interchange>(path: &Path) -> Result<T, AppError> {
    let err = |message: String| AppError::Plan {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| AppError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: T =
        serde_json::from_str(&text).map_err(|e| err(format!("not a mixdown {}: {e}", T::WHAT)))?;
    let (kind, version) = file.stamp();
    if kind != T::KIND || version != SCHEMA_VERSION {
        return Err(err(format!(
            "kind \"{kind}\" version {version}: expected \"{}\" version {SCHEMA_VERSION}",
            T::KIND
        )));
    }
    Ok(file)
}

/// Run a parsed command line; returns the exit status. With [`signals::install`] called first,
/// SIGINT and SIGTERM end it with 130 and 143 after removing what it had staged.
pub fn run(cli: Cli) -> u8 {
    let (result, rendering) = match cli.command {
        Command::Render(args) => (render::run(&args), true),
        Command::Check(args) => (check::run(&args), false),
        Command::Schema(args) => (schema::run(&args), false),
        Command::Album(args) => (album::run(&args), args.plan.is_empty() && !args.collect),
        Command::Analyze(args) => (analyze::run(&args), false),
        Command::Init(args) => (init::run(&args), false),
        Command::Completions(args) => (shell::completions(&args), false),
        Command::Man(args) => (shell::man(&args), false),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            signals::wait_if_interrupted();
            print_error(&e);
            match &e {
                AppError::Session(_) => {}
                AppError::Commit(c) if !c.leftovers.is_empty() => eprintln!(
                    "mixdown: the render failed while putting its files in place; every other file is as it was before"
                ),
                _ if rendering => {
                    eprintln!(
                        "mixdown: the render failed; no output was written and no existing file was changed"
                    )
                }
                _ => {}
            }
            e.exit_code()
        }
    }
}

fn print_error(e: &AppError) {
    let mut err = std::io::stderr().lock();
    match e {
        AppError::Session(SessionError::Invalid { path, diagnostics }) => {
            for d in diagnostics {
                let _ = writeln!(err, "error: {d}");
            }
            let n = diagnostics.len();
            let _ = writeln!(
                err,
                "mixdown: {n} problem{} in {}; nothing was rendered",
                if n == 1 { "" } else { "s" },
                path.display()
            );
        }
        other => {
            let _ = writeln!(err, "error: {other}");
        }
    }
}
