//! The PyTorch-style graph layer: [`Var`], a tensor that remembers how it
//! was computed, so that `.backward()` can deposit gradients in the leaves'
//! `.grad()`, as PyTorch's autograd does.
//!
//! ```
//! use autodiff_runtime::Tensor;
//! use autodiff_runtime::graph::Var;
//!
//! let x = Var::new(Tensor::arange(4.0)).requires_grad_(true);
//! assert_eq!(x.to_string(), "tensor([0., 1., 2., 3.], requires_grad=True)");
//! assert!(x.grad().is_none()); // None until the first backward
//!
//! let y = 2.0 * x.dot(&x);
//! assert_eq!(y.to_string(), "tensor(28., grad_fn=<MulBackward0>)");
//! y.backward();
//! assert_eq!(x.grad().unwrap().to_string(), "tensor([ 0.,  4.,  8., 12.])");
//! ```
//!
//! Two kinds of nodes make up a graph, and they meet in the same backward:
//!
//! - **eager ops** on `Var`s (`&x * &x`, `x.sum()`, `x.exp()`, …), one node
//!   each, whose backward calls the same derivative rules as the code that
//!   `#[differentiable]` generates (`ops/`): there is one source of truth
//!   for every derivative;
//! - **recorded calls** of `#[differentiable]` functions (`f::record(&a)`),
//!   one node for the whole call, whose backward is the generated pullback:
//!   no per-op nodes inside it.
//!
//! Layout: the types, [`Var`] and its node (and how a graph is freed without
//! deep recursion), in `node.rs`, which the other files use and which uses
//! none of them; `Var`'s constructors and accessors in `var.rs`; `backward`
//! in `backward.rs`, its errors in `error.rs`; eager operators in `arith.rs`
//! and eager functions in `functions.rs`; printing in `display.rs`; recorded
//! calls and [`GraphValue`] in `record.rs`.

mod arith;
mod backward;
mod display;
mod error;
mod functions;
mod node;
mod record;
mod var;

pub use error::BackwardError;
pub use node::Var;
pub use record::GraphValue;
