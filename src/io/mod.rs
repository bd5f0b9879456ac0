//! Audio file input and output: decoding stems, resampling, writing tagged WAV files.

pub mod decode;
pub mod resample;
pub mod tags;
pub mod wav;
