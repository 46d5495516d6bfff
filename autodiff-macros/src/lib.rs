//! `#[differentiable]`: compile-time reverse-mode automatic differentiation.
//!
//! The attribute keeps the function as written (the primal) and generates,
//! beside it, a module of the same name holding its value-and-pullback
//! (`vjp`), a retained pullback (`vjp_retained`), `grad` and `value_and_grad`.
//! The generated reverse pass is ordinary Rust: no runtime graph, no boxing.
//!
//! The pipeline has one file per stage: [`signature`] parses the attribute and
//! the signature, [`lower`] turns the body into a small IR of sites,
//! [`analyse`] decides which values are active and checks what cannot be
//! differentiated, and [`codegen`] emits the forward and reverse passes.
#![forbid(unsafe_code)]

mod analyse;
mod codegen;
mod errors;
mod expand;
mod ir;
mod lower;
mod rules;
mod signature;

#[cfg(test)]
mod robustness;

use proc_macro::TokenStream;

/// Generate reverse-mode derivatives of a function at compile time.
///
/// ```
/// use autodiff::differentiable;
///
/// #[differentiable]
/// fn f(a: f64) -> f64 {
///     let mut b = a * 2.0;
///     while b.abs() < 1000.0 {
///         b = b * 2.0;
///     }
///     if b > 0.0 { b } else { 100.0 * b }
/// }
///
/// let (value, pullback) = f::vjp(-0.2753);
/// assert_eq!(pullback(1.0), value / -0.2753);
/// ```
///
/// Arguments: `wrt(a, b)` differentiates only those parameters (default:
/// every parameter whose type is `f64`, `Tensor`, `[f64]` or `Vec<f64>`,
/// behind references too); `crate = path` names the runtime crate when it is
/// not `::autodiff` (e.g. `crate = ::autodiff_runtime` when depending on the
/// runtime crate directly). A parameter marked `#[no_grad]` is never
/// differentiated.
#[proc_macro_attribute]
pub fn differentiable(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}
