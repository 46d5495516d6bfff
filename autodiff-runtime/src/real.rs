//! [`Real`]: the few functions that `f64` lacks but tensors have, so that
//! the same user code works on both.

use crate::ops::elementwise;

/// Functions on `f64` that PyTorch users expect beside the standard ones
/// (`f64` already has `sin`, `exp`, `ln`, `sqrt`, `powi`, `max`, …).
///
/// ```
/// use autodiff_runtime::Real;
///
/// assert_eq!(0.0f64.sigmoid(), 0.5);
/// assert_eq!((-3.0f64).relu(), 0.0);
/// assert_eq!(2.0f64.detach(), 2.0);
/// ```
pub trait Real: Copy {
    /// The logistic function `1 / (1 + e^(−x))`, computed without overflow.
    ///
    /// ```
    /// use autodiff_runtime::Real;
    ///
    /// assert!((1000.0f64).sigmoid() == 1.0 && (-1000.0f64).sigmoid() >= 0.0);
    /// ```
    fn sigmoid(self) -> Self;

    /// `max(x, 0)`.
    ///
    /// ```
    /// use autodiff_runtime::Real;
    ///
    /// assert_eq!(2.5f64.relu(), 2.5);
    /// ```
    fn relu(self) -> Self;

    /// The same value, cut off from any gradient (`#[differentiable]` treats
    /// it as a constant; see [`stop_gradient`](crate::stop_gradient)).
    ///
    /// ```
    /// use autodiff_runtime::Real;
    ///
    /// assert_eq!(1.5f64.detach(), 1.5);
    /// ```
    fn detach(self) -> Self;
}

impl Real for f64 {
    #[inline]
    fn sigmoid(self) -> f64 {
        elementwise::sigmoid(self)
    }
    #[inline]
    fn relu(self) -> f64 {
        elementwise::relu(self)
    }
    #[inline(always)]
    fn detach(self) -> f64 {
        self
    }
}
