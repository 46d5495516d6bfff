//! Pending robustness case `recursion` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0720 cannot resolve opaque type (the
//! generated `__ad_vjp_owned` returns `impl FnOnce`, and calls itself).
//! Right gradient: 8 (x · 2³ for n = 3) — or a refusal saying that a
//! differentiable function cannot call itself (write the recursion as a
//! loop); then add it to the refusals of autodiff-macros/src/robustness.rs.
//!
//! The file is a complete integration test:
//! `cp tests/robustness_pending/recursion.rs tests/ && cargo test --test recursion`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64, n: usize) -> f64 {
    if n == 0 { x } else { f(x * 2.0, n - 1) }
}

#[test]
fn recursion() {
    assert_eq!(f::grad(0.7, 3), 8.0);
}
