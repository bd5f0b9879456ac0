//! `exp` and `ln` for per-sample loops, written so the compiler can vectorise a loop of them
//! (no calls, no branches, no table lookups): the libm functions are opaque calls that keep a
//! loop scalar, and they are most of a compressor's cost.
//!
//! Both reduce the argument by powers of two and evaluate a short series, in plain f64
//! multiplies and adds, with the exponent handled through the bits of the number (as Cephes
//! and musl do). Tested against the standard library's over their whole domains: within 1 ulp
//! of it for `exp`, 2 ulp for `ln` (libm's are themselves within 1 ulp of the exact result).
//! The same operations in the same order on every CPU and vector width, so the results do not
//! depend on the machine.

/// `ln 2` split so that `k · LN2_HI` is exact for `|k| < 2^11` (Cody and Waite).
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
/// `1.5 · 2^52`: adding it rounds a number below 2^51 in magnitude to an integer held in the
/// low bits of the sum's mantissa.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// `e^x`, for `x` in -708..709 (clamped there: 0 and +inf are not needed by the callers).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let x = x.clamp(-708.0, 709.0);
    // x = k ln2 + r, |r| <= ln2 / 2.
    let t = x * std::f64::consts::LOG2_E + ROUND;
    let k = t - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // e^r by its Taylor series to r^13 / 13! (the next term is below 2^-53 of the sum),
    // Horner's rule from the highest term.
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let mut p = C[13];
    for c in C[..13].iter().rev() {
        p = p * r + c;
    }
    // 2^k from the integer in t's low bits: (k + 1023) << 52 is the double 2^k.
    let ki = (t.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    // Split in two factors so k = 1024 (e^709) does not overflow the exponent field. The
    // halving floors: k + 2048 is never negative (k >= -1022 after the clamp), so a logical
    // shift does it, which AVX2 has for 64-bit lanes (an arithmetic one it lacks, and the
    // compiler would keep the whole loop scalar).
    let half = (((ki + 2048) as u64) >> 1) as i64 - 1024;
    let s1 = f64::from_bits(((half + 1023) as u64) << 52);
    let s2 = f64::from_bits(((ki - half + 1023) as u64) << 52);
    p * s1 * s2
}

/// `e^x` in single precision, for `x` in -87..88 (clamped there): within 1 ulp of the
/// correctly rounded value (a degree-7 series after the same reduction as [`exp`], whose
/// truncation is below 2^-27 of the result), eight lanes to a 256-bit vector.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    /// `1.5 · 2^23`, [`ROUND`] for f32.
    const ROUND32: f32 = 12_582_912.0;
    const LN2_HI32: f32 = f32::from_bits(0x3F31_8000);
    const LN2_LO32: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND32;
    let k = t - ROUND32;
    let r = (x - k * LN2_HI32) - k * LN2_LO32;
    const C: [f32; 8] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
    ];
    let mut p = C[7];
    for c in C[..7].iter().rev() {
        p = p * r + c;
    }
    let ki = (t.to_bits() as i32).wrapping_sub(ROUND32.to_bits() as i32);
    // 2^k in two factors, as in [`exp`] (k is -126..127 after the clamp).
    let half = (((ki + 256) as u32) >> 1) as i32 - 128;
    let s1 = f32::from_bits(((half + 127) as u32) << 23);
    let s2 = f32::from_bits(((ki - half + 127) as u32) << 23);
    p * s1 * s2
}

/// `k` as f64 for `|k| < 2^51`, through the bits (a conversion the vector units have).
#[inline(always)]
fn int_to_f64(k: i64) -> f64 {
    f64::from_bits((k as u64).wrapping_add(ROUND.to_bits())) - ROUND
}

/// `ln x` for positive normal `x` (callers floor their levels well above the subnormals).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    // x = 2^k (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)) (fdlibm's reduction, on 64 bits):
    // offset the bits so the exponent field steps where the mantissa passes sqrt(2).
    const SQRT_HALF_HI: u64 = 0x3FE6_A09E_0000_0000;
    let u = x
        .to_bits()
        .wrapping_add(0x3FF0_0000_0000_0000 - SQRT_HALF_HI);
    let k = int_to_f64((u >> 52) as i64 - 1023);
    let f = f64::from_bits((u & 0x000F_FFFF_FFFF_FFFF) + SQRT_HALF_HI) - 1.0;
    // ln(1 + f) = 2 atanh(s), s = f / (2 + f), |s| <= 0.1716:
    // = f - f^2/2 + s (f^2/2 + R), R = 2 (z/3 + z^2/5 + ... + z^10/21), z = s^2 (fdlibm's
    // arrangement; the series is cut where the next term is below 2^-53 of the result).
    let s = f / (2.0 + f);
    let z = s * s;
    let mut q = 2.0 / 21.0;
    for c in [19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
        q = q * z + 2.0 / c;
    }
    let r = z * q;
    let hfsq = 0.5 * f * f;
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in ulps between two positive finite doubles.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64).abs_diff(b.to_bits() as i64)
    }

    #[test]
    fn exp_is_within_one_ulp_of_libm() {
        let mut worst = 0;
        let mut x: f64 = -708.0;
        while x < 709.0 {
            for dx in [0.0, 1e-9, 0.3465735902799726, 0.1234567] {
                let v = (x + dx).min(709.0);
                worst = worst.max(ulps(exp(v), v.exp()));
            }
            x += 0.0137;
        }
        // The range the compressor and gate use, densely.
        for i in -200_000..200_000 {
            let v = f64::from(i) * 1e-4;
            worst = worst.max(ulps(exp(v), v.exp()));
        }
        assert!(worst <= 1, "{worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert!(ulps(exp(-1000.0), (-708.0f64).exp()) <= 1, "clamped below");
    }

    /// Against the correctly rounded value (libm's f64 `exp`, rounded to f32), in f32 ulps:
    /// over the whole domain, and densely over the gains of dynamics processors (-260..87 dB).
    #[test]
    fn exp_f32_is_within_one_ulp() {
        let ulps32 = |a: f32, b: f32| (a.to_bits() as i32).abs_diff(b.to_bits() as i32);
        let exact = |v: f32| f64::from(v).exp() as f32;
        let mut worst = 0;
        let mut x = -87.0f32;
        while x < 88.0 {
            for dx in [0.0f32, 1e-6, 0.346_573_6, 0.123_456_7] {
                let v = (x + dx).min(88.0);
                worst = worst.max(ulps32(exp_f32(v), exact(v)));
            }
            x += 0.0137;
        }
        for i in -300_000..100_000 {
            let v = i as f32 * 1e-4;
            worst = worst.max(ulps32(exp_f32(v), exact(v)));
        }
        assert!(worst <= 1, "{worst} ulp");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-1000.0), exact(-87.0), "clamped below");
    }

    #[test]
    fn ln_is_within_two_ulps_of_libm() {
        let mut worst = 0;
        for e in -1020..1020 {
            for i in 0..200 {
                let v = (1.0 + f64::from(i) / 200.0) * 2f64.powi(e);
                let (a, b) = (ln(v), v.ln());
                // Near 1 the result is near 0: compare in ulps of the result.
                worst = worst.max(ulps(a.abs(), b.abs()));
                assert_eq!(a.is_sign_negative(), b.is_sign_negative(), "{v}");
            }
        }
        for i in 1..200_000 {
            let v = f64::from(i) * 1e-5;
            worst = worst.max(ulps(ln(v).abs(), v.ln().abs()));
        }
        assert!(worst <= 2, "{worst} ulp");
        assert_eq!(ln(1.0), 0.0);
    }
}
