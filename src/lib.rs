//! mixdown: a command-line mix-and-master renderer.
//!
//! A TOML session file names a song's stems and how to treat each; mixdown renders the stereo mix
//! offline on every core and writes dithered, tagged WAV files and a JSON report. The binary is a
//! thin layer over this library: `session` parses and validates, `io` decodes, resamples and
//! writes, `engine` renders the mix, `master` turns it into delivery files, `dsp` holds the
//! processors, `analysis` measures, `report` says what happened, and `cmd` runs the commands.

pub mod analysis;
pub mod cli;
pub mod cmd;
pub mod dsp;
pub mod engine;
pub mod error;
pub mod io;
pub mod master;
pub mod report;
pub mod session;
#[doc(hidden)]
pub mod testkit;
