//! Elementary functions written so that a loop over a tensor vectorises:
//! no branches, no calls, only arithmetic and bit operations the compiler
//! turns into SIMD instructions. The libm functions behind `f64::tanh` and
//! `f64::exp` are calls per element with branches inside (`tanh` takes
//! about 35 cycles here); in the MLP benchmark (W4) `tanh` alone was 12% of
//! the gradient, in GMM's tensor form `exp` was 10%.
//!
//! Accuracy: within a few units in the last place of the libm functions
//! (the tests below compare them over the whole range, special values
//! included), the same rounding as the libm results up to those last bits.

/// 1.5·2⁵²: adding it to a value of magnitude below 2⁵¹ rounds the value to
/// an integer held in the low bits of the mantissa.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// ln 2 split in two (Cody and Waite; fdlibm's constants, 0.693147180369…
/// and 1.9082149292705877e-10): `LN2_HI` ends in 32 zero bits, so `k·LN2_HI`
/// is exact for |k| < 2²⁰.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `(eʳ − 1, k)` for `v = k ln 2 + r`, |r| ≤ ln2/2, `v` in [−707, 709.79]
/// (the callers clamp), `k` as the bits of a two's complement integer. The polynomial is eʳ − 1's
/// Taylor series to r¹³ (the next term is below 10⁻¹⁷ relative), evaluated
/// by Horner's rule.
#[inline(always)]
fn expm1_reduced(v: f64) -> (f64, u64) {
    let t = v * std::f64::consts::LOG2_E + ROUND;
    let k = t - ROUND;
    let r = (v - k * LN2_HI) - k * LN2_LO;
    // 1/n! for n = 2..=13.
    const C: [f64; 12] = [
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let mut p = C[11];
    for &c in C[..11].iter().rev() {
        p = p * r + c;
    }
    let em1 = r + r * r * p;
    // The integer k sits in the low bits of `t`.
    (em1, t.to_bits().wrapping_sub(ROUND.to_bits()))
}

/// `2ᵏ⁺ᵉ` for `k + e` in [−1022, 1023] (a normal number), from its bits.
#[inline(always)]
fn pow2(k_bits: u64, e: i64) -> f64 {
    f64::from_bits(k_bits.wrapping_add((1023 + e) as u64) << 52)
}

/// `tanh x` as `−m / (m + 2)` with `m = e^(−2|x|) − 1`, the sign of `x`
/// put back (±0 and NaN pass through; |x| > 20 gives ±1 as libm does).
#[inline(always)]
pub(crate) fn tanh(x: f64) -> f64 {
    let a = x.abs().min(20.0);
    let (em1_r, k) = expm1_reduced(-2.0 * a);
    let scale = pow2(k, 0);
    // e^v − 1 = 2ᵏ (eʳ − 1) + (2ᵏ − 1), exact in the second term.
    let m = scale * em1_r + (scale - 1.0);
    let t = (-m / (m + 2.0)).copysign(x);
    if x.is_nan() { x } else { t }
}

/// `eˣ`, with results below e⁻⁷⁰⁷ ≈ 10⁻³⁰⁷ flushed to 0 (libm gives them
/// to the last subnormal): for the log-sum-exp and softmax lines, where what
/// they are added to includes e⁰ = 1, and for their rules, where they scale
/// a cotangent. Overflows to ∞ and passes NaN as libm.
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    let v = x.clamp(-707.0, 709.79);
    let (em1_r, k) = expm1_reduced(v);
    // 2ᵏ⁻¹ · eʳ · 2: k reaches 1024 near the top of the range, where 2ᵏ
    // alone would not be a finite f64.
    let e = pow2(k, -1) * (1.0 + em1_r) * 2.0;
    if x.is_nan() {
        x
    } else if x < -707.0 {
        0.0
    } else if x > 709.79 {
        f64::INFINITY
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units of the last place.
    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let spacing = f64::from_bits(b.abs().to_bits() + 1) - b.abs();
        (a - b).abs() / spacing
    }

    fn samples() -> Vec<f64> {
        let mut xs = vec![0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-20, 1e-9, 0.1, 0.5];
        let mut v = 1e-12_f64;
        while v < 800.0 {
            xs.push(v);
            xs.push(-v);
            v *= 1.0123;
        }
        for i in 0..20_000 {
            let v = -25.0 + 50.0 * i as f64 / 20_000.0;
            xs.push(v);
        }
        xs
    }

    #[test]
    fn tanh_is_within_a_few_ulps_of_libm() {
        let mut worst = 0.0f64;
        for x in samples() {
            let (ours, libm) = (tanh(x), x.tanh());
            assert_eq!(
                ours.is_sign_negative(),
                libm.is_sign_negative(),
                "sign at {x}"
            );
            let e = ulps(ours, libm);
            assert!(e <= 4.0, "tanh({x:e}) = {ours:e}, libm {libm:e}: {e} ulps");
            worst = worst.max(e);
        }
        assert!(worst <= 4.0);
        for (x, y) in [
            (f64::INFINITY, 1.0),
            (f64::NEG_INFINITY, -1.0),
            (800.0, 1.0),
        ] {
            assert_eq!(tanh(x), y);
        }
        assert!(tanh(f64::NAN).is_nan());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn exp_is_within_a_few_ulps_of_libm() {
        for x in samples() {
            let (ours, libm) = (exp(x), x.exp());
            if x < -707.0 {
                assert!(ours == 0.0 && libm < 1e-307, "exp({x})");
                continue;
            }
            let e = ulps(ours, libm);
            assert!(e <= 4.0, "exp({x:e}) = {ours:e}, libm {libm:e}: {e} ulps");
        }
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert!(ulps(exp(709.7), 709.7f64.exp()) <= 4.0);
        assert_eq!(exp(709.8), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
    }
}
