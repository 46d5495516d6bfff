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
//! differentiated, [`plan`] decides what the reverse pass needs and how it
//! gets it, and [`codegen`] emits the forward and reverse passes from the plan.
//! [`forward`] rewrites the body for forward mode, and [`higher`] makes the
//! items beyond one reverse pass (`jvp`, `jacobian`, `hvp`, `hessian`,
//! custom rules) — second derivatives by feeding the forward-mode function
//! through the reverse pipeline again.
#![forbid(unsafe_code)]

mod analyse;
mod codegen;
mod derive;
mod errors;
mod expand;
mod forward;
mod fuse;
mod higher;
mod ir;
mod lower;
mod plan;
mod rules;
mod show;
mod signature;
mod syntax;

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
/// differentiated. `vjp = rule` makes `rule` the function's derivative (its
/// body is not differentiated; `jvp = rule` adds a forward rule, itself
/// `#[differentiable]`, for second derivatives); `first_order` leaves out
/// second derivatives (`hvp`, `hessian`), which cost compile time; `show`
/// adds `EXPANSION` and `GRAPH_DOT` (the generated code and the op graph).
///
/// With `forward`, a free function also gets forward mode (`jvp`),
/// `jacobian`, `hvp` and `hessian`; what they cannot do exactly is a compile
/// error where they are used.
///
/// ```
/// use autodiff::differentiable;
///
/// #[differentiable(forward)]
/// fn g(x: f64) -> f64 {
///     (x * x).sin()
/// }
///
/// let (value, tangent) = g::jvp(2.0, 1.0); // g(2), g'(2)
/// assert_eq!(tangent, 4.0 * 4f64.cos());
/// assert!((g::hessian(2.0) - (2.0 * 4f64.cos() - 16.0 * 4f64.sin())).abs() < 1e-12);
/// ```
#[proc_macro_attribute]
pub fn differentiable(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}

/// Derives `Differentiable` for a struct: its gradient is a value of the same
/// struct, field by field (a `#[no_grad]` field — a hyperparameter, data —
/// holds its `Default` in a gradient). Fields must be `f64`, `Tensor`,
/// `Vec<f64>`, `[f64; N]` or other differentiable structs; the struct must
/// be `Clone`.
///
/// ```
/// use autodiff::{Differentiable, differentiable};
///
/// #[derive(Clone, Differentiable)]
/// struct Line {
///     m: f64,
///     c: f64,
///     #[no_grad]
///     name: &'static str,
/// }
///
/// #[differentiable]
/// fn loss(p: &Line, x: f64, y: f64) -> f64 {
///     let r = p.m * x + p.c - y;
///     r * r
/// }
///
/// fn main() {
///     let p = Line { m: 2.0, c: 1.0, name: "fit" };
///     let (g, _, _) = loss::grad(&p, 3.0, 4.0); // r = 3
///     assert_eq!((g.m, g.c, g.name), (18.0, 6.0, "fit"));
/// }
/// ```
#[proc_macro_derive(Differentiable, attributes(no_grad, autodiff))]
pub fn derive_differentiable(item: TokenStream) -> TokenStream {
    derive::derive(item.into()).into()
}

/// The macro's table of primitives as a const expression of its rows, for
/// the test that holds it to the runtime's table (`tests/primitive_table.rs`):
/// `&[(name, arity, rule, &[Some(&["value 0", "meta 1", "output"]) or None])]`.
/// Not a public API.
#[doc(hidden)]
#[proc_macro]
pub fn __primitive_rows(_input: TokenStream) -> TokenStream {
    rules::rows_tokens().into()
}
