//! Audio file input and output: decoding stems (plain PCM data natively, `pcm`), resampling,
//! quantizing with dither, writing tagged WAV files, and staging files so a set of them reaches
//! the disk together or not at all; one render at a time per destination (`lock`), nothing left
//! behind when a render is interrupted (`cleanup`), and no more files open at once than the
//! system allows (`files`).

pub mod cleanup;
pub mod decode;
pub mod dither;
pub mod files;
pub mod lock;
pub mod pcm;
pub mod resample;
pub mod stage;
pub mod tags;
pub mod wav;
