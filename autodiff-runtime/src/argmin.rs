//! [argmin](https://docs.rs/argmin) (Rust's optimisation framework) calling
//! `#[differentiable]` functions: [`Problem`] serves argmin's
//! [`CostFunction`] and [`Gradient`] traits from a cost function and its
//! generated gradient, so that every gradient-based solver of argmin
//! (L-BFGS, BFGS, conjugate gradient, steepest descent, the line searches)
//! works on it. Parameters are `Vec<f64>`, through argmin-math's `vec`
//! backend (which this feature turns on).
//!
//! Needs the `argmin` feature: `autodiff = { version = "0.1", features = ["argmin"] }`.
//!
//! ```
//! use argmin::core::{Executor, State};
//! use argmin::solver::linesearch::MoreThuenteLineSearch;
//! use argmin::solver::quasinewton::LBFGS;
//! use autodiff_runtime::argmin::Problem;
//!
//! // A cost and its gradient as `#[differentiable]` would generate them:
//! // f(x) = Σ (xᵢ − i)², ∇f(x) = 2 (x − i).
//! fn cost(x: &[f64]) -> f64 {
//!     x.iter().enumerate().map(|(i, v)| (v - i as f64).powi(2)).sum()
//! }
//! fn grad(x: &[f64]) -> Vec<f64> {
//!     x.iter().enumerate().map(|(i, v)| 2.0 * (v - i as f64)).collect()
//! }
//!
//! let solver = LBFGS::new(MoreThuenteLineSearch::new(), 5);
//! let result = Executor::new(Problem::new(cost, grad), solver)
//!     .configure(|state| state.param(vec![5.0; 3]).max_iters(20))
//!     .run()
//!     .unwrap();
//! let best = result.state().get_best_param().unwrap();
//! assert!(best.iter().enumerate().all(|(i, v)| (v - i as f64).abs() < 1e-8));
//! ```

use ::argmin::core::{CostFunction, Error, Gradient};

/// A cost function and its gradient, over `Vec<f64>` parameters, as an
/// argmin problem: `cost(x)` is argmin's [`CostFunction::cost`] and
/// `gradient(x)` its [`Gradient::gradient`].
///
/// For `#[differentiable] fn f(x: &[f64]) -> f64`, pass the function and its
/// generated gradient as they are: `Problem::new(f, f::grad)`. argmin asks
/// for the cost alone (then `f` runs as written, recording nothing) and for
/// the gradient alone; a function of other arguments goes in through
/// closures: `Problem::new(|x| f(x, &data), |x| f::grad(x, &data))`.
///
/// A cost that is not finite is passed on to the solver as it is (argmin's
/// line searches treat it as a failed step); the gradient must have the
/// length of `x` (checked: a mismatch is an error, not a panic).
///
/// ```
/// use argmin::core::{CostFunction, Gradient};
/// use autodiff_runtime::argmin::Problem;
///
/// let p = Problem::new(|x: &[f64]| x[0] * x[1], |x: &[f64]| vec![x[1], x[0]]);
/// assert_eq!(p.cost(&vec![2.0, 3.0]).unwrap(), 6.0);
/// assert_eq!(p.gradient(&vec![2.0, 3.0]).unwrap(), vec![3.0, 2.0]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Problem<C, G> {
    cost: C,
    gradient: G,
}

impl<C, G> Problem<C, G>
where
    C: Fn(&[f64]) -> f64,
    G: Fn(&[f64]) -> Vec<f64>,
{
    /// The problem of minimising `cost`, whose gradient is `gradient`.
    ///
    /// ```
    /// use autodiff_runtime::argmin::Problem;
    ///
    /// let p = Problem::new(|x: &[f64]| x[0].powi(2), |x: &[f64]| vec![2.0 * x[0]]);
    /// ```
    pub fn new(cost: C, gradient: G) -> Self {
        Problem { cost, gradient }
    }
}

impl<C, G> CostFunction for Problem<C, G>
where
    C: Fn(&[f64]) -> f64,
{
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
        Ok((self.cost)(x))
    }
}

impl<C, G> Gradient for Problem<C, G>
where
    G: Fn(&[f64]) -> Vec<f64>,
{
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, Error> {
        let g = (self.gradient)(x);
        if g.len() != x.len() {
            return Err(Error::msg(format!(
                "the gradient has {} numbers but the parameters have {}",
                g.len(),
                x.len()
            )));
        }
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_length_is_checked() {
        let p = Problem::new(|x: &[f64]| x[0], |_: &[f64]| vec![1.0, 2.0]);
        let err = p.gradient(&vec![0.0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the gradient has 2 numbers but the parameters have 1"
        );
    }
}
