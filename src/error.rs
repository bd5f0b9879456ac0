//! Top-level errors and their exit statuses.

use std::path::PathBuf;

use crate::engine::render::RenderError;
use crate::engine::source::SourceError;
use crate::io::decode::DecodeError;
use crate::session::SessionError;

/// Exit statuses of the `mixdown` binary.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const GATE: u8 = 3;
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Wav(#[from] crate::io::wav::WavError),
    #[error(transparent)]
    Master(#[from] crate::master::MasterError),
    #[error("{}: {source}", path.display())]
    Input {
        path: PathBuf,
        source: crate::io::decode::DecodeError,
    },
    #[error("{0}")]
    Other(String),
}

impl AppError {
    /// 2 for problems with the session or its input files, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Session(_) => exit::USAGE,
            AppError::Input { source, .. } => match source {
                DecodeError::Io(_) => exit::FAILURE,
                _ => exit::USAGE,
            },
            AppError::Render(RenderError::Source { source, .. }) => match source {
                SourceError::Decode(DecodeError::Io(_)) => exit::FAILURE,
                SourceError::Decode(_) => exit::USAGE,
                SourceError::Resample(_) => exit::FAILURE,
            },
            AppError::Render(RenderError::Build { .. }) => exit::USAGE,
            AppError::Render(_)
            | AppError::Write { .. }
            | AppError::Wav(_)
            | AppError::Master(_)
            | AppError::Other(_) => exit::FAILURE,
        }
    }
}
