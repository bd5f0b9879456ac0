//! Why a render failed: a stem that cannot be read, a processor that cannot be built or blew up,
//! an impulse response that cannot be loaded, a meter that failed.

use crate::analysis::loudness::MeterError;
use crate::dsp;

use super::plan::PlanError;
use super::source::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("track \"{track}\" ({file}): {source}")]
    Source {
        track: String,
        file: String,
        source: SourceError,
    },
    #[error(
        "{path} ({processor}) produced a non-finite sample (NaN or infinity) at {time_s:.3} s; the processor blew up"
    )]
    NonFinite {
        path: String,
        processor: &'static str,
        time_s: f64,
    },
    #[error("{path}: {source}")]
    Build {
        path: String,
        source: dsp::NotImplemented,
    },
    #[error(
        "{path}.{param}: the {processor} processor cannot follow an envelope on this parameter"
    )]
    NotAutomatable {
        path: String,
        param: &'static str,
        processor: &'static str,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{path}: impulse response {file}: {source}")]
    ImpulseResponse {
        path: String,
        file: String,
        source: SourceError,
    },
    #[error(transparent)]
    Meter(#[from] MeterError),
}
