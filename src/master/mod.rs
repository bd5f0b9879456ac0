//! The master stage after the mix: the target stage (static gain + true-peak limiter to a
//! loudness target). Reference matching comes before it (a later version).

pub mod target;
