//! What tests and benchmarks share: deterministic test signals ([`signals`]) and the checks
//! every processor must pass ([`processors`]). Compiled into the library (so integration tests
//! and benches can use it) but not part of its interface: nothing outside tests calls it.

pub mod processors;
pub mod signals;

pub use processors::{
    assert_invariants, difference_db, run, run_automated, run_keyed, sine_gain_db, spec,
    test_signal,
};
pub use signals::{Noise, Pinking, pink, pinked, sine, spectral_gain, white};
