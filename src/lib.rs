//! Compile-time reverse-mode automatic differentiation.
//!
//! Put [`differentiable`] on an ordinary function over `f64` and [`Tensor`]
//! values and the macro generates, beside the unchanged function, a module of
//! the same name with its value-and-pullback (`vjp`), `grad` and
//! `value_and_grad`. See the README for the whole story.
#![forbid(unsafe_code)]

pub use autodiff_macros::differentiable;
pub use autodiff_runtime::*;
