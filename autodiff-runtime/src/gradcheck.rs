//! Gradient checking: compares a pullback (a vector-Jacobian product) with
//! central differences, in seeded random directions.
//!
//! For an input direction `u` (random, unit length) and an output cotangent
//! `v` (random), a correct pullback satisfies
//!
//! ```text
//! ⟨vjp(x, v), u⟩  ≈  ⟨v, (f(x + h·u) − f(x − h·u)) / 2h⟩
//! ```
//!
//! up to the truncation error of central differences (`O(h²)`) and
//! rounding. One scalar comparison per direction checks every entry of the
//! pullback at once, whatever the sizes of `x` and `f(x)`.
//!
//! ```
//! use autodiff_runtime::Tensor;
//! use autodiff_runtime::gradcheck::check_vjp;
//!
//! // f(x) = sin(x) ⊙ x, whose pullback is v ↦ v ⊙ (cos(x) ⊙ x + sin(x)).
//! let f = |x: &Tensor| x.sin() * x;
//! let vjp = |x: &Tensor, v: Tensor| v * (x.cos() * x + x.sin());
//! let report = check_vjp(f, vjp, &Tensor::randn(&[3, 4], 0)).unwrap();
//! assert_eq!(report.directions.len(), 4);
//!
//! // A wrong pullback is caught, and the error shows both numbers.
//! let wrong = |x: &Tensor, v: Tensor| v * x.cos();
//! let err = check_vjp(f, wrong, &Tensor::randn(&[3, 4], 0)).unwrap_err();
//! assert!(err.to_string().contains("central differences"));
//! ```

use std::fmt;

use crate::cotangent::Differentiable;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

/// Values that can be flattened to a list of `f64` and rebuilt with the same
/// structure: `f64`, [`Tensor`], `Vec<f64>`, `()` and tuples of these (up to
/// 6). The gradient checker perturbs inputs and draws cotangents through it.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use autodiff_runtime::gradcheck::Flat;
///
/// let x = (1.0, Tensor::zeros(&[2]));
/// assert_eq!(x.flatten(), vec![1.0, 0.0, 0.0]);
/// let y = x.unflatten(&[5.0, 6.0, 7.0]);
/// assert_eq!(y, (5.0, Tensor::from([6.0, 7.0])));
/// ```
pub trait Flat: Sized {
    /// How many numbers `self` flattens to.
    fn flat_len(&self) -> usize;

    /// Appends the numbers of `self` to `out`.
    fn write_flat(&self, out: &mut Vec<f64>);

    /// A value with the structure and shape of `self`, its numbers taken from
    /// the front of `src` (which advances past them).
    fn read_flat(&self, src: &mut &[f64]) -> Self;

    /// The numbers of `self` as a new `Vec`.
    fn flatten(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.flat_len());
        self.write_flat(&mut out);
        out
    }

    /// A value shaped like `self` holding exactly the numbers of `flat`.
    ///
    /// Panics if `flat` has the wrong length.
    fn unflatten(&self, flat: &[f64]) -> Self {
        assert!(
            flat.len() == self.flat_len(),
            "{} numbers cannot fill a value of {} numbers",
            flat.len(),
            self.flat_len()
        );
        let mut src = flat;
        self.read_flat(&mut src)
    }
}

/// Takes `n` numbers from the front of `src`.
fn take_front<'a>(src: &mut &'a [f64], n: usize) -> &'a [f64] {
    assert!(
        src.len() >= n,
        "flat buffer too short: need {n} more numbers, have {}",
        src.len()
    );
    let (head, tail) = src.split_at(n);
    *src = tail;
    head
}

impl Flat for f64 {
    fn flat_len(&self) -> usize {
        1
    }
    fn write_flat(&self, out: &mut Vec<f64>) {
        out.push(*self);
    }
    fn read_flat(&self, src: &mut &[f64]) -> f64 {
        take_front(src, 1)[0]
    }
}

impl Flat for Tensor {
    fn flat_len(&self) -> usize {
        self.numel()
    }
    fn write_flat(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self.data());
    }
    fn read_flat(&self, src: &mut &[f64]) -> Tensor {
        Tensor::from_vec(take_front(src, self.numel()).to_vec(), self.shape())
    }
}

impl Flat for Vec<f64> {
    fn flat_len(&self) -> usize {
        self.len()
    }
    fn write_flat(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self);
    }
    fn read_flat(&self, src: &mut &[f64]) -> Vec<f64> {
        take_front(src, self.len()).to_vec()
    }
}

impl<const N: usize> Flat for [f64; N] {
    fn flat_len(&self) -> usize {
        N
    }
    fn write_flat(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self);
    }
    fn read_flat(&self, src: &mut &[f64]) -> [f64; N] {
        let mut out = [0.0; N];
        out.copy_from_slice(take_front(src, N));
        out
    }
}

/// Rows (a matrix as a `Vec` of rows), row after row.
impl Flat for Vec<Vec<f64>> {
    fn flat_len(&self) -> usize {
        self.iter().map(Vec::len).sum()
    }
    fn write_flat(&self, out: &mut Vec<f64>) {
        for row in self {
            out.extend_from_slice(row);
        }
    }
    fn read_flat(&self, src: &mut &[f64]) -> Vec<Vec<f64>> {
        self.iter()
            .map(|row| take_front(src, row.len()).to_vec())
            .collect()
    }
}

impl Flat for () {
    fn flat_len(&self) -> usize {
        0
    }
    fn write_flat(&self, _out: &mut Vec<f64>) {}
    fn read_flat(&self, _src: &mut &[f64]) {}
}

macro_rules! flat_tuple {
    ($($T:ident $i:tt),+) => {
        impl<$($T: Flat),+> Flat for ($($T,)+) {
            fn flat_len(&self) -> usize {
                0 $(+ self.$i.flat_len())+
            }
            fn write_flat(&self, out: &mut Vec<f64>) {
                $(self.$i.write_flat(out);)+
            }
            fn read_flat(&self, src: &mut &[f64]) -> Self {
                ($(self.$i.read_flat(src),)+)
            }
        }
    };
}

flat_tuple!(A 0);
flat_tuple!(A 0, B 1);
flat_tuple!(A 0, B 1, C 2);
flat_tuple!(A 0, B 1, C 2, D 3);
flat_tuple!(A 0, B 1, C 2, D 3, E 4);
flat_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);

/// Settings of a gradient check. The defaults suit smooth functions of
/// inputs of moderate size evaluated in `f64`.
///
/// ```
/// use autodiff_runtime::gradcheck::GradCheckConfig;
///
/// let config = GradCheckConfig::default().directions(8).seed(42).rtol(1e-5);
/// assert_eq!((config.directions, config.seed, config.rtol), (8, 42, 1e-5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheckConfig {
    /// How many random directions are checked.
    pub directions: usize,
    /// Seed of the random directions and cotangents.
    pub seed: u64,
    /// Step `h` of the central differences, relative to `max(1, max |xᵢ|)`.
    pub step: f64,
    /// Relative tolerance per unit of `√(input size + output size)`.
    pub rtol: f64,
    /// Absolute tolerance floor.
    pub atol: f64,
}

/// 4 directions, seed `0x5EED`, step `1e-6`, `rtol = 1e-6`, `atol = 1e-10`.
///
/// ```
/// use autodiff_runtime::gradcheck::GradCheckConfig;
///
/// assert_eq!(GradCheckConfig::default().directions, 4);
/// ```
impl Default for GradCheckConfig {
    fn default() -> Self {
        GradCheckConfig {
            directions: 4,
            seed: 0x5EED,
            step: 1e-6,
            rtol: 1e-6,
            atol: 1e-10,
        }
    }
}

impl GradCheckConfig {
    /// Sets how many random directions are checked.
    ///
    /// ```
    /// use autodiff_runtime::gradcheck::GradCheckConfig;
    ///
    /// assert_eq!(GradCheckConfig::default().directions(2).directions, 2);
    /// ```
    pub fn directions(mut self, directions: usize) -> Self {
        self.directions = directions;
        self
    }

    /// Sets the seed of the random directions and cotangents.
    ///
    /// ```
    /// use autodiff_runtime::gradcheck::GradCheckConfig;
    ///
    /// assert_eq!(GradCheckConfig::default().seed(9).seed, 9);
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the relative step of the central differences.
    ///
    /// ```
    /// use autodiff_runtime::gradcheck::GradCheckConfig;
    ///
    /// assert_eq!(GradCheckConfig::default().step(1e-5).step, 1e-5);
    /// ```
    pub fn step(mut self, step: f64) -> Self {
        self.step = step;
        self
    }

    /// Sets the relative tolerance.
    ///
    /// ```
    /// use autodiff_runtime::gradcheck::GradCheckConfig;
    ///
    /// assert_eq!(GradCheckConfig::default().rtol(1e-4).rtol, 1e-4);
    /// ```
    pub fn rtol(mut self, rtol: f64) -> Self {
        self.rtol = rtol;
        self
    }

    /// Sets the absolute tolerance floor.
    ///
    /// ```
    /// use autodiff_runtime::gradcheck::GradCheckConfig;
    ///
    /// assert_eq!(GradCheckConfig::default().atol(0.0).atol, 0.0);
    /// ```
    pub fn atol(mut self, atol: f64) -> Self {
        self.atol = atol;
        self
    }
}

/// The comparison in one direction.
///
/// ```
/// use autodiff_runtime::gradcheck::check_vjp;
///
/// let report = check_vjp(|x: &f64| 3.0 * x, |_: &f64, v: f64| 3.0 * v, &1.0).unwrap();
/// let first = report.directions[0];
/// assert!(first.error() <= first.tolerance);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirectionCheck {
    /// `⟨vjp(x, v), u⟩`, from the pullback.
    pub analytic: f64,
    /// `⟨v, (f(x + h·u) − f(x − h·u)) / 2h⟩`, from central differences.
    pub numeric: f64,
    /// The largest `|analytic − numeric|` accepted in this direction.
    pub tolerance: f64,
    /// The step `h` used.
    pub step: f64,
}

impl DirectionCheck {
    /// `|analytic − numeric|`.
    ///
    /// ```
    /// use autodiff_runtime::gradcheck::DirectionCheck;
    ///
    /// let c = DirectionCheck { analytic: 1.0, numeric: 1.5, tolerance: 1.0, step: 1e-6 };
    /// assert_eq!(c.error(), 0.5);
    /// ```
    pub fn error(&self) -> f64 {
        (self.analytic - self.numeric).abs()
    }
}

/// A passed gradient check: what was compared in each direction.
///
/// ```
/// use autodiff_runtime::gradcheck::check_vjp;
///
/// let report = check_vjp(|x: &f64| x * x, |x: &f64, v: f64| 2.0 * x * v, &3.0).unwrap();
/// assert!(report.worst_ratio() < 1.0);
/// println!("{report}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckReport {
    /// One comparison per direction.
    pub directions: Vec<DirectionCheck>,
}

impl GradCheckReport {
    /// The largest `error / tolerance` over the directions (below 1 when
    /// the check passed; 0 when there were no directions).
    ///
    /// ```
    /// use autodiff_runtime::gradcheck::check_vjp;
    ///
    /// let r = check_vjp(|x: &f64| x.exp(), |x: &f64, v: f64| v * x.exp(), &0.5).unwrap();
    /// assert!(r.worst_ratio() < 1.0);
    /// ```
    pub fn worst_ratio(&self) -> f64 {
        self.directions
            .iter()
            .map(|d| d.error() / d.tolerance)
            .fold(0.0, f64::max)
    }
}

/// One line: how many directions passed and the largest difference.
///
/// ```
/// use autodiff_runtime::gradcheck::check_vjp;
///
/// let r = check_vjp(|x: &f64| x.sin(), |x: &f64, v: f64| v * x.cos(), &1.0).unwrap();
/// assert!(r.to_string().starts_with("gradient check passed in 4 directions"));
/// ```
impl fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let worst = self
            .directions
            .iter()
            .map(DirectionCheck::error)
            .fold(0.0, f64::max);
        write!(
            f,
            "gradient check passed in {} directions (largest |pullback − central differences| = {:.3e}, {:.3} of the tolerance)",
            self.directions.len(),
            worst,
            self.worst_ratio()
        )
    }
}

/// Why a gradient check failed. Prints both numbers.
///
/// ```
/// use autodiff_runtime::gradcheck::{GradCheckError, check_vjp};
///
/// let err = check_vjp(|x: &f64| x * x, |_: &f64, v: f64| v, &3.0).unwrap_err();
/// assert!(matches!(err, GradCheckError::Mismatch { .. }));
/// println!("{err}");
/// ```
#[derive(Clone, PartialEq)]
pub enum GradCheckError {
    /// The pullback and central differences disagree in one direction.
    Mismatch {
        /// Which direction (from 0).
        direction: usize,
        /// The comparison.
        check: DirectionCheck,
    },
    /// A value, a difference quotient or the pullback is not finite.
    NonFinite {
        /// Which direction (from 0).
        direction: usize,
        /// The comparison.
        check: DirectionCheck,
    },
    /// The pullback returned a gradient of the wrong size, or `f` changed
    /// the size of its output when its input moved.
    SizeMismatch {
        /// What had the wrong size.
        what: &'static str,
        /// The size it should have had.
        expected: usize,
        /// The size it had.
        got: usize,
    },
}

/// Says which direction failed and gives both numbers, the difference,
/// the tolerance and the step.
///
/// ```
/// use autodiff_runtime::gradcheck::check_vjp;
///
/// let err = check_vjp(|x: &f64| x.sin(), |_: &f64, v: f64| v, &1.0).unwrap_err();
/// assert!(err.to_string().contains("tolerance"));
/// ```
impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradCheckError::Mismatch { direction, check } => write!(
                f,
                "gradient check failed in direction {direction}: the pullback gives ⟨vjp(x, v), u⟩ = {:e} \
                 but central differences give ⟨v, (f(x+hu) − f(x−hu))/2h⟩ = {:e} \
                 (difference {:.3e} > tolerance {:.3e}, h = {:e})",
                check.analytic,
                check.numeric,
                check.error(),
                check.tolerance,
                check.step
            ),
            GradCheckError::NonFinite { direction, check } => write!(
                f,
                "gradient check in direction {direction} met a non-finite number: the pullback gives {:e}, \
                 central differences give {:e} (h = {:e})",
                check.analytic, check.numeric, check.step
            ),
            GradCheckError::SizeMismatch {
                what,
                expected,
                got,
            } => write!(
                f,
                "gradient check: {what} has {got} numbers, expected {expected}"
            ),
        }
    }
}

/// Same as `Display`, so that `.unwrap()` on a failed check reads well.
impl fmt::Debug for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for GradCheckError {}

/// Checks the pullback `vjp` of `f` at `x` with the default
/// [`GradCheckConfig`]. See [`check_vjp_with`].
///
/// `f` maps an input to an output; `vjp(x, v)` returns the gradient of
/// `⟨v, f(x)⟩` with respect to `x` (for a `#[differentiable]` function `f`,
/// `|x, v| f::vjp(x).1(v)`). Inputs and outputs are `f64`, [`Tensor`],
/// `Vec<f64>` or tuples of these.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use autodiff_runtime::gradcheck::check_vjp;
///
/// // Two inputs as a tuple: f(a, w) = a · Σ w², ∂/∂a = Σ w², ∂/∂w = 2a·w.
/// let f = |(a, w): &(f64, Tensor)| a * w.powi(2).sum();
/// let vjp = |(a, w): &(f64, Tensor), v: f64| (v * w.powi(2).sum(), w * (2.0 * a * v));
/// check_vjp(f, vjp, &(1.5, Tensor::randn(&[5], 3))).unwrap();
/// ```
pub fn check_vjp<X, Y>(
    f: impl Fn(&X) -> Y,
    vjp: impl Fn(&X, Y) -> X,
    x: &X,
) -> Result<GradCheckReport, GradCheckError>
where
    X: Flat + Differentiable<Tangent = X>,
    Y: Flat + Differentiable<Tangent = Y>,
{
    check_vjp_with(GradCheckConfig::default(), f, vjp, x)
}

/// Checks the gradient `grad` of a scalar function `f` at `x` (the common
/// case of [`check_vjp`] with `v = 1`).
///
/// ```
/// use autodiff_runtime::Tensor;
/// use autodiff_runtime::gradcheck::check_grad;
///
/// // y = 2 x·x, ∇y = 4x (the notes' first example).
/// let x = Tensor::arange(4.0);
/// check_grad(|x: &Tensor| 2.0 * x.dot(x), |x: &Tensor| 4.0 * x, &x).unwrap();
/// ```
pub fn check_grad<X>(
    f: impl Fn(&X) -> f64,
    grad: impl Fn(&X) -> X,
    x: &X,
) -> Result<GradCheckReport, GradCheckError>
where
    X: Flat + Differentiable<Tangent = X>,
{
    check_vjp(
        f,
        |x, v| {
            let g = x.finish_tangent(grad(x));
            let scaled: Vec<f64> = g.flatten().iter().map(|d| d * v).collect();
            if scaled.len() == x.flat_len() {
                x.unflatten(&scaled)
            } else {
                g // let the size check report it
            }
        },
        x,
    )
}

/// Like [`check_vjp`], with explicit settings.
///
/// In each of `config.directions` directions, draws a unit input direction
/// `u` and a standard normal output cotangent `v` (seeded), and compares
/// `⟨vjp(x, v), u⟩` with `⟨v, (f(x + h·u) − f(x − h·u)) / 2h⟩`, where
/// `h = step · max(1, max |xᵢ|)`. They must agree within
/// `atol + rtol·√(n + m)·‖vjp(x, v)‖ + rounding`, where `n` and `m` are the
/// input and output sizes and `rounding` bounds the floating-point error of
/// the difference quotient.
///
/// ```
/// use autodiff_runtime::gradcheck::{GradCheckConfig, check_vjp_with};
///
/// let config = GradCheckConfig::default().directions(10).seed(1);
/// let report = check_vjp_with(
///     config,
///     |x: &Vec<f64>| x.iter().map(|v| v.sin()).sum::<f64>(),
///     |x: &Vec<f64>, v: f64| x.iter().map(|x| v * x.cos()).collect(),
///     &vec![0.1, 0.2, 0.3],
/// )
/// .unwrap();
/// assert_eq!(report.directions.len(), 10);
/// ```
pub fn check_vjp_with<X, Y>(
    config: GradCheckConfig,
    f: impl Fn(&X) -> Y,
    vjp: impl Fn(&X, Y) -> X,
    x: &X,
) -> Result<GradCheckReport, GradCheckError>
where
    X: Flat + Differentiable<Tangent = X>,
    Y: Flat + Differentiable<Tangent = Y>,
{
    let x_flat = x.flatten();
    let n = x_flat.len();
    let y = f(x);
    let m = y.flat_len();
    let mut rng = SplitMix64::new(config.seed);
    let h = config.step * x_flat.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    let mut report = GradCheckReport {
        directions: Vec::with_capacity(config.directions),
    };

    for direction in 0..config.directions {
        // A unit direction, so that h alone sets the size of the step.
        let mut u: Vec<f64> = (0..n).map(|_| rng.next_normal()).collect();
        let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            u.iter_mut().for_each(|v| *v /= norm);
        }
        let v: Vec<f64> = (0..m).map(|_| rng.next_normal()).collect();

        let shifted = |sign: f64| -> Result<Vec<f64>, GradCheckError> {
            let moved: Vec<f64> = x_flat
                .iter()
                .zip(&u)
                .map(|(x, u)| x + sign * h * u)
                .collect();
            let out = f(&x.unflatten(&moved)).flatten();
            if out.len() != m {
                return Err(GradCheckError::SizeMismatch {
                    what: "the output of f at a shifted input",
                    expected: m,
                    got: out.len(),
                });
            }
            Ok(out)
        };
        let plus = shifted(1.0)?;
        let minus = shifted(-1.0)?;
        let numeric = v
            .iter()
            .zip(plus.iter().zip(&minus))
            .map(|(v, (p, q))| v * (p - q))
            .sum::<f64>()
            / (2.0 * h);
        // What rounding alone may contribute to the difference quotient.
        let rounding = 8.0
            * f64::EPSILON
            * v.iter()
                .zip(plus.iter().zip(&minus))
                .map(|(v, (p, q))| v.abs() * (p.abs() + q.abs()))
                .sum::<f64>()
            / (2.0 * h);

        // Checked before `finish_tangent`, which cuts a longer gradient to
        // the input's length (the elements a body pushed onto a copy of it).
        let raw = vjp(x, y.unflatten(&v));
        let raw_len = raw.flatten().len();
        if raw_len > n {
            return Err(GradCheckError::SizeMismatch {
                what: "the gradient returned by the pullback",
                expected: n,
                got: raw_len,
            });
        }
        let gradient = x.finish_tangent(raw).flatten();
        if gradient.len() != n {
            return Err(GradCheckError::SizeMismatch {
                what: "the gradient returned by the pullback",
                expected: n,
                got: gradient.len(),
            });
        }
        let analytic: f64 = gradient.iter().zip(&u).map(|(g, u)| g * u).sum();
        let magnitude = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        let tolerance = config.atol
            + config.rtol * ((n + m) as f64).sqrt() * magnitude.max(numeric.abs())
            + rounding;

        let check = DirectionCheck {
            analytic,
            numeric,
            tolerance,
            step: h,
        };
        if !(analytic.is_finite() && numeric.is_finite()) {
            return Err(GradCheckError::NonFinite { direction, check });
        }
        if check.error() > tolerance {
            return Err(GradCheckError::Mismatch { direction, check });
        }
        report.directions.push(check);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_a_wrong_scalar_derivative() {
        let err = check_vjp(|x: &f64| x.powi(3), |x: &f64, v: f64| 2.0 * x * v, &1.3).unwrap_err();
        assert!(matches!(err, GradCheckError::Mismatch { .. }));
        let text = err.to_string();
        assert!(text.contains("pullback gives") && text.contains("central differences give"));
    }

    #[test]
    fn catches_one_wrong_entry_among_many() {
        let x = Tensor::randn(&[50], 4);
        let f = |x: &Tensor| x.powi(2);
        let vjp = |x: &Tensor, v: Tensor| {
            let mut g = v * x * 2.0;
            g.data_mut()[17] *= 1.01;
            g
        };
        assert!(check_vjp(f, vjp, &x).is_err());
    }

    #[test]
    fn reports_size_mismatch() {
        let err = check_vjp(
            |x: &Vec<f64>| x.iter().sum::<f64>(),
            |_: &Vec<f64>, v: f64| vec![v; 3],
            &vec![1.0, 2.0],
        )
        .unwrap_err();
        assert_eq!(
            err,
            GradCheckError::SizeMismatch {
                what: "the gradient returned by the pullback",
                expected: 2,
                got: 3
            }
        );
    }

    #[test]
    fn short_vec_gradient_is_padded() {
        // A pullback that only touched x[0] may return a short vector.
        check_vjp(
            |x: &Vec<f64>| 3.0 * x[0],
            |_: &Vec<f64>, v: f64| vec![3.0 * v],
            &vec![1.0, 2.0, 3.0],
        )
        .unwrap();
    }

    #[test]
    fn large_constant_offset_is_within_rounding() {
        // f = 1e8 + x: the difference quotient is noisy, the tolerance knows it.
        check_vjp(|x: &f64| 1e8 + x, |_: &f64, v: f64| v, &0.25).unwrap();
    }

    #[test]
    fn reports_non_finite() {
        let err = check_vjp(|x: &f64| x.ln(), |x: &f64, v: f64| v / x, &0.0).unwrap_err();
        assert!(matches!(err, GradCheckError::NonFinite { .. }));
    }
}
