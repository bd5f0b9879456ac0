//! Runtime choice of the vector unit for hot loops that the compiler vectorises.
//!
//! The release build targets baseline x86-64 (SSE2) so it runs on any x86-64 machine; a loop
//! that holds sixteen `f32` lanes of independent sums then runs four lanes at a time. [`wide`]
//! runs a closure compiled a second and third time with AVX2 or AVX-512 enabled, picked once
//! per process from what the CPU reports. Rust never fuses a multiply and an add into one
//! rounding (no FMA contraction without an explicit `mul_add`), so the wider code computes
//! every lane with the same operations in the same order: the results are bit-identical
//! whichever copy runs (tested in the callers' modules by comparing the copies).

/// Vector units [`wide`] can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline,
    Avx2,
    Avx512,
}

/// The widest unit this CPU has (detected once; `MIXDOWN_SIMD=baseline|avx2` caps it, for
/// comparing the copies).
pub fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("MIXDOWN_SIMD").as_deref() {
            Ok("baseline") => Level::Baseline,
            Ok("avx2") => Level::Avx2,
            _ => Level::Avx512,
        };
        detected().min(cap)
    })
}

/// The widest unit the CPU has, detected once.
fn detected() -> Level {
    static HAVE: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *HAVE.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    if std::is_x86_feature_detected!("avx512f") {
        Level::Avx512
    } else if std::is_x86_feature_detected!("avx2") {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}

/// `f()`, compiled for the vector unit `at` names when this CPU has it (baseline otherwise).
/// `f` and what it calls must be `#[inline(always)]` for the wider copy to reach them.
#[inline(always)]
pub fn wide_at<R>(at: Level, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        let have = detected();
        if at >= Level::Avx512 && have >= Level::Avx512 {
            // SAFETY: the CPU reported AVX-512F.
            return unsafe { avx512(f) };
        }
        if at >= Level::Avx2 && have >= Level::Avx2 {
            // SAFETY: the CPU reported AVX2.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `f()` compiled for the widest vector unit [`level`] allows.
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    wide_at(level(), f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}
