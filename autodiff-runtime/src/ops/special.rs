//! Special functions: the error functions and `lgamma` from `libm` (the
//! FreeBSD msun ports that Rust's own `libm` ships), the normal CDF from
//! `erfc`, and digamma and trigamma written here: they are the derivatives of
//! `lgamma` and `digamma`, i.e. derivative rules, and no well-kept crate has
//! trigamma.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// The error function `erf x = 2/√π ∫₀ˣ e^(−t²) dt`.
#[inline]
pub(crate) fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// The complementary error function `1 − erf x`, accurate where `erf x ≈ 1`.
#[inline]
pub(crate) fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// The standard normal CDF `Φ(x) = erfc(−x/√2) / 2` (accurate in both tails).
#[inline]
pub(crate) fn ndtr(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// The standard normal density `e^(−x²/2) / √(2π)`.
#[inline]
pub(crate) fn normal_pdf(x: f64) -> f64 {
    const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

/// `ln |Γ(x)|` (PyTorch's `lgamma`): `+∞` at the poles `0, −1, −2, …`.
#[inline]
pub(crate) fn lgamma(x: f64) -> f64 {
    libm::lgamma_r(x).0
}

/// Below this, digamma and trigamma step up by their recurrences before the
/// asymptotic series (whose next term is then below 1e-17 relative).
const ASYMPTOTIC_FROM: f64 = 10.0;

/// Whether `x` is a pole of Γ: `0, −1, −2, …`.
fn at_pole(x: f64) -> bool {
    x <= 0.0 && x == x.floor()
}

/// The digamma function `ψ(x) = d/dx ln Γ(x)`: NaN at the poles of Γ but 0,
/// where it is `∓∞` as PyTorch gives (`−∞` at `+0`).
///
/// For `x < 0`, the reflection `ψ(x) = ψ(1 − x) − π / tan(πx)`; then the
/// recurrence `ψ(x) = ψ(x + 1) − 1/x` up to `x ≥ 10`, and the asymptotic
/// series `ln x − 1/(2x) − Σ B₂ₖ / (2k x²ᵏ)`.
pub(crate) fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == 0.0 {
        return if x.is_sign_positive() {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if at_pole(x) {
        return f64::NAN;
    }
    if x < 0.0 {
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let mut x = x;
    let mut shift = 0.0;
    while x < ASYMPTOTIC_FROM {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    // B₂ₖ / 2k for k = 1..7: 1/12, −1/120, 1/252, −1/240, 1/132, −691/32760, 1/12.
    let series = r
        * (1.0 / 12.0
            - r * (1.0 / 120.0
                - r * (1.0 / 252.0
                    - r * (1.0 / 240.0
                        - r * (1.0 / 132.0 - r * (691.0 / 32760.0 - r * (1.0 / 12.0)))))));
    shift + x.ln() - 0.5 / x - series
}

/// The trigamma function `ψ₁(x) = d/dx ψ(x)`: `+∞` at the poles of Γ.
///
/// For `x < 0`, the reflection `ψ₁(x) = π² / sin²(πx) − ψ₁(1 − x)`; then the
/// recurrence `ψ₁(x) = ψ₁(x + 1) + 1/x²` up to `x ≥ 10`, and the asymptotic
/// series `1/x + 1/(2x²) + Σ B₂ₖ / x²ᵏ⁺¹`.
pub(crate) fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if at_pole(x) {
        return f64::INFINITY;
    }
    if x < 0.0 {
        let s = (PI * x).sin();
        return PI * PI / (s * s) - trigamma(1.0 - x);
    }
    let mut x = x;
    let mut shift = 0.0;
    while x < ASYMPTOTIC_FROM {
        shift += 1.0 / (x * x);
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    // B₂ₖ for k = 1..7: 1/6, −1/30, 1/42, −1/30, 5/66, −691/2730, 7/6.
    let series = r
        * (1.0 / 6.0
            - r * (1.0 / 30.0
                - r * (1.0 / 42.0
                    - r * (1.0 / 30.0
                        - r * (5.0 / 66.0 - r * (691.0 / 2730.0 - r * (7.0 / 6.0)))))));
    shift + 1.0 / x + 0.5 * r + series / x
}

#[cfg(test)]
mod tests {
    use super::*;

    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1.0)
    }

    /// Known values: ψ(1) = −γ, ψ(½) = −γ − 2 ln 2, ψ(n + 1) = ψ(n) + 1/n,
    /// ψ(−½) = ψ(½) + 2 (reflection); ψ₁(1) = π²/6, ψ₁(½) = π²/2,
    /// ψ₁(−½) = ψ₁(½) + 4 (from ψ₁(x) = ψ₁(x + 1) + 1/x²).
    #[test]
    fn digamma_and_trigamma_at_known_points() {
        let psi_half = -EULER_GAMMA - 2.0 * 2f64.ln();
        assert!(close(digamma(1.0), -EULER_GAMMA, 1e-15));
        assert!(close(digamma(0.5), psi_half, 1e-15));
        assert!(close(
            digamma(4.0),
            -EULER_GAMMA + 1.0 + 0.5 + 1.0 / 3.0,
            1e-15
        ));
        assert!(close(digamma(-0.5), psi_half + 2.0, 1e-14));
        assert!(close(digamma(100.5), digamma(99.5) + 1.0 / 99.5, 1e-15));
        assert!(close(trigamma(1.0), PI * PI / 6.0, 1e-15));
        assert!(close(trigamma(0.5), PI * PI / 2.0, 1e-15));
        // ψ₁(−½) = ψ₁(½) + 1/(½)² = π²/2 + 4.
        assert!(close(trigamma(-0.5), PI * PI / 2.0 + 4.0, 1e-14));
        assert_eq!(digamma(0.0), f64::NEG_INFINITY);
        assert!(digamma(-2.0).is_nan());
        assert_eq!(trigamma(-3.0), f64::INFINITY);
    }

    /// digamma is the derivative of lgamma, trigamma of digamma: central
    /// differences of the other function, over a range that crosses the
    /// switch to the asymptotic series and the reflection.
    #[test]
    fn each_is_the_derivative_of_the_one_before() {
        let h = 1e-5;
        for i in 0..200 {
            let x = -4.95 + 0.1 * i as f64 + 0.013;
            let d_lgamma = (lgamma(x + h) - lgamma(x - h)) / (2.0 * h);
            let d_digamma = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!(
                close(digamma(x), d_lgamma, 1e-7),
                "ψ({x}) = {} vs {d_lgamma}",
                digamma(x)
            );
            assert!(
                close(trigamma(x), d_digamma, 1e-6),
                "ψ₁({x}) = {} vs {d_digamma}",
                trigamma(x)
            );
        }
    }

    /// Values from tables (Abramowitz & Stegun 7.1, 26.2).
    #[test]
    fn error_functions_and_normal_cdf() {
        assert!(close(erf(0.5), 0.520_499_877_813_046_5, 1e-15));
        assert!(close(erfc(2.0), 0.004_677_734_981_047_266, 1e-15));
        assert_eq!(ndtr(0.0), 0.5);
        assert!(close(ndtr(1.959_963_984_540_054), 0.975, 1e-15));
        assert!(close(ndtr(-10.0), 7.619_853_024_160_527e-24, 1e-13));
        assert!(close(lgamma(0.5), PI.sqrt().ln(), 1e-15));
        assert!(close(lgamma(-0.5), (2.0 * PI.sqrt()).ln(), 1e-15));
        assert_eq!(lgamma(0.0), f64::INFINITY);
    }
}
