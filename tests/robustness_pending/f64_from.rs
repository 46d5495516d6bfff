//! Pending robustness case `f64_from` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0432 unresolved import `f64` (issue 7, item 8).
//! Right gradient: 2.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/f64_from.rs tests/ && cargo test --test f64_from`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    f64::from(x) * 2.0
}

#[test]
fn f64_from() {
    assert_eq!(f::grad(0.7), 2.0);
}
