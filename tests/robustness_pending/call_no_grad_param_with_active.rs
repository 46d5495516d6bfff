//! Pending robustness case `call_no_grad_param_with_active` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0308 / E0271 `<f64 as Differentiable>::Tangent == ()`
//! — a differentiable helper is called with an active value for a parameter
//! it does not differentiate (`#[no_grad]`, or left out of `wrt(..)`): its
//! pullback returns `()` there.
//! Right gradient: 5 (2 through `k` of the first call, 3 through `t` of the
//! second) — or, if the macro decides that a `#[no_grad]` parameter cannot
//! receive an active value, a refusal that names the parameter and the fix
//! (`stop_gradient(x)`, or differentiate the helper with respect to it); then
//! add it to the refusals of autodiff-macros/src/robustness.rs instead.
//!
//! The file is a complete integration test:
//! `cp tests/robustness_pending/call_no_grad_param_with_active.rs tests/ && cargo test --test call_no_grad_param_with_active`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn scale(t: f64, #[no_grad] k: f64) -> f64 {
    t * k
}

#[differentiable(wrt(t))]
fn scale_wrt(t: f64, k: f64) -> f64 {
    t * k
}

#[differentiable]
fn f(x: f64) -> f64 {
    scale(2.0, x) + scale(x, 3.0)
}

#[differentiable]
fn g(x: f64) -> f64 {
    scale_wrt(2.0, x)
}

#[test]
fn call_no_grad_param_with_active() {
    assert_eq!(f::grad(0.7), 5.0);
    assert_eq!(g::grad(0.7), 2.0);
}
