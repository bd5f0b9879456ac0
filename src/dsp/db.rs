//! Decibels, in one place: amplitude and power ratios to and from dB (`log10`/`powf`, for
//! figures, designs and settings), and an `ln`/`exp` pair for per-sample hot paths.

/// dB per neper of amplitude: `20 / ln 10`.
pub const DB_PER_NEPER: f64 = 20.0 / std::f64::consts::LN_10;

/// Decibels to a linear amplitude factor: `10^(dB/20)`.
#[inline]
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Linear amplitude to decibels: `20·log10(g)` (-inf for 0).
#[inline]
pub fn gain_to_db(g: f64) -> f64 {
    20.0 * g.log10()
}

/// Decibels to a power ratio: `10^(dB/10)`.
#[inline]
pub fn db_to_power(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

/// A power ratio to decibels: `10·log10(p)` (-inf for 0).
#[inline]
pub fn power_to_db(p: f64) -> f64 {
    10.0 * p.log10()
}

/// [`gain_to_db`] for per-sample paths, through [`vmath::ln`](super::vmath::ln): no call, so a
/// loop of them vectorises; within a few ulps of `20·log10(g)`.
#[inline(always)]
pub fn fast_gain_to_db(g: f64) -> f64 {
    DB_PER_NEPER * super::vmath::ln(g)
}

/// [`db_to_gain`] for per-sample paths, through [`vmath::exp`](super::vmath::exp) (for
/// -6000..6000 dB; beyond, the factor of the nearest end).
#[inline(always)]
pub fn fast_db_to_gain(db: f64) -> f64 {
    super::vmath::exp(db / DB_PER_NEPER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_invert_and_agree() {
        assert_eq!(db_to_gain(20.0), 10.0);
        assert_eq!(gain_to_db(0.1), -20.0);
        assert_eq!(db_to_power(10.0), 10.0);
        assert_eq!(power_to_db(100.0), 20.0);
        assert_eq!(gain_to_db(0.0), f64::NEG_INFINITY);
        for db in [-120.0, -6.02, 0.0, 3.5, 24.0] {
            assert!((fast_gain_to_db(db_to_gain(db)) - db).abs() < 1e-12);
            assert!((fast_db_to_gain(db) / db_to_gain(db) - 1.0).abs() < 1e-14);
        }
    }
}
