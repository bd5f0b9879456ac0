//! Session files: parse (toml's spanned tree), validate every key with located diagnostics, and
//! resolve into the [`model::Session`] the engine renders.

pub mod album;
mod automation;
pub mod diag;
mod fx;
pub mod graph;
pub mod keys;
mod master;
mod metadata;
pub mod model;
mod nodes;
pub mod outputs;
pub mod paths;
pub mod schema;
mod seed;
pub mod validate;
mod walk;

use std::path::{Path, PathBuf};

pub use diag::Diagnostic;
pub use model::Session;
pub use validate::LoadOptions;

/// Why a session could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read session file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} problem{} in {}", .diagnostics.len(), if .diagnostics.len() == 1 { "" } else { "s" }, path.display())]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

/// Read and validate a session file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Session, SessionError> {
    let text = std::fs::read_to_string(path).map_err(|source| SessionError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    validate::validate(path, &text, opts).map_err(|diagnostics| SessionError::Invalid {
        path: path.to_path_buf(),
        diagnostics,
    })
}
