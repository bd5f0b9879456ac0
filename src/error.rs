//! Top-level errors, their kinds, and the exit status each kind gives.

use std::path::PathBuf;

use crate::analysis::loudness::MeterError;
use crate::analysis::plot::PngError;
use crate::engine::RenderError;
use crate::engine::source::SourceError;
use crate::io::decode::DecodeError;
use crate::io::files::TooFewFiles;
use crate::io::lock::LockError;
use crate::io::stage::{CommitError, StageError};
use crate::master::MasterError;
use crate::session::SessionError;

/// Exit statuses of the `mixdown` binary.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const GATE: u8 = 3;
}

/// What kind of failure an error is; the kind alone decides the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line or the session file is wrong (exit 2).
    Usage,
    /// An input file (a stem, an impulse response, a file to analyse) cannot be used as it is:
    /// missing, unsupported, corrupt, truncated (exit 2).
    Input,
    /// Something failed while working: reading or writing, a processor that blew up, a thread
    /// pool that would not start (exit 1).
    Runtime,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Usage | Kind::Input => exit::USAGE,
            Kind::Runtime => exit::FAILURE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Premaster(#[from] crate::master::premaster::PremasterError),
    #[error(transparent)]
    Master(#[from] MasterError),
    /// A file to analyse (or a reference) cannot be decoded.
    #[error("{}: {source}", path.display())]
    Input { path: PathBuf, source: DecodeError },
    /// A folder for the outputs cannot be made.
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// A file the render writes is locked by another render, or cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The limit on open files is too low for the render.
    #[error(transparent)]
    Files(#[from] TooFewFiles),
    #[error("cannot start {jobs} worker threads: {source}")]
    Threads {
        jobs: usize,
        source: rayon::ThreadPoolBuildError,
    },
    #[error("{what}: {source}")]
    Measure { what: String, source: MeterError },
    #[error("cannot draw a plot: {0}")]
    Plot(PngError),
    #[error("cannot serialize JSON: {0}")]
    Json(serde_json::Error),
    /// The command line asks for something that cannot be done (a message naming what).
    #[error("{0}")]
    Usage(String),
    /// A measurement or plan file does not fit the album or session it is used with.
    #[error("{}: {message}", path.display())]
    Plan { path: PathBuf, message: String },
    /// An input cannot be read to hash it.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The kind of a failure to read an input file: unreadable files are I/O failures, everything
/// else about their content is the input's fault.
fn decode_kind(e: &DecodeError) -> Kind {
    match e {
        DecodeError::Io(_) => Kind::Runtime,
        _ => Kind::Input,
    }
}

fn render_kind(r: &RenderError) -> Kind {
    match r {
        RenderError::Source { source, .. } => match source {
            SourceError::Decode(d) => decode_kind(d),
            SourceError::Resample(_) => Kind::Runtime,
            // The stem's header no longer says what it said when the session was loaded.
            SourceError::Changed { .. } => Kind::Input,
        },
        RenderError::Build { .. } => Kind::Usage,
        _ => Kind::Runtime,
    }
}

impl AppError {
    /// The kind of this failure: every error of every module is classified here, once.
    pub fn kind(&self) -> Kind {
        match self {
            AppError::Session(_) | AppError::Usage(_) | AppError::Plan { .. } => Kind::Usage,
            AppError::Input { source, .. } => decode_kind(source),
            // A render error is classified the same wherever it surfaces.
            AppError::Render(r)
            | AppError::Premaster(crate::master::premaster::PremasterError::Render(r)) => {
                render_kind(r)
            }
            AppError::Premaster(_)
            | AppError::Master(_)
            | AppError::Write { .. }
            | AppError::Stage(_)
            | AppError::Commit(_)
            | AppError::Lock(_)
            | AppError::Files(_)
            | AppError::Threads { .. }
            | AppError::Measure { .. }
            | AppError::Plot(_)
            | AppError::Json(_)
            | AppError::Read { .. } => Kind::Runtime,
        }
    }

    /// 2 for problems with the command line, the session or its input files, 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        self.kind().exit_code()
    }
}
