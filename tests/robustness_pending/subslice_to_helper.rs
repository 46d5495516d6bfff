//! Pending robustness case `subslice_to_helper` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0277 `RangeFrom<usize>: ScalarIndex` (issue 7, item 7).
//! Right gradient: [0, 3, 0].
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/subslice_to_helper.rs tests/ && cargo test --test subslice_to_helper`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn first_times_three(v: &[f64]) -> f64 {
    v[0] * 3.0
}

#[differentiable]
fn f(xs: &[f64]) -> f64 {
    first_times_three(&xs[1..])
}

#[test]
fn subslice_to_helper() {
    assert_eq!(f::grad(&[0.3, -0.5, 0.8]), vec![0.0, 3.0, 0.0]);
}
