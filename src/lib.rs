//! Compile-time reverse-mode automatic differentiation.
//!
//! Put [`differentiable`] on an ordinary function over `f64` and [`Tensor`]
//! values and the macro generates, beside the unchanged function, a module of
//! the same name with its value-and-pullback (`vjp`), `grad` and
//! `value_and_grad`. See the README for the whole story.
//!
//! ```
//! use autodiff::prelude::*;
//! use autodiff::differentiable;
//!
//! // Q = 3a³ − b², from PyTorch's autograd tutorial.
//! #[differentiable]
//! fn q(a: &Tensor, b: &Tensor) -> Tensor {
//!     3.0 * a.powi(3) - b.powi(2)
//! }
//!
//! fn main() {
//!     let (a, b) = (Tensor::from(vec![2.0, 3.0]), Tensor::from(vec![6.0, 4.0]));
//!     let (value, pullback) = q::vjp(&a, &b);
//!     assert_eq!(value.to_string(), "tensor([-12.,  65.])");
//!     let (da, db) = pullback(Tensor::ones(&[2])); // Q.backward(gradient=ones)
//!     assert_eq!(da.to_string(), "tensor([36., 81.])"); // 9a²
//!     assert_eq!(db.to_string(), "tensor([-12.,  -8.])"); // −2b
//! }
//! ```
#![forbid(unsafe_code)]

pub use autodiff_macros::{Differentiable, differentiable};
pub use autodiff_runtime::*;

/// The README's examples, run as doctests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
