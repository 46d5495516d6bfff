//! Pending robustness case `subslice_index` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0277 `RangeFrom<usize>: ScalarIndex` (issue 7, item 7).
//! Right gradient: [0, 2, 0].
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/subslice_index.rs tests/ && cargo test --test subslice_index`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(xs: &[f64]) -> f64 {
    let t = &xs[1..];
    t[0] * 2.0
}

#[test]
fn subslice_index() {
    assert_eq!(f::grad(&[0.3, -0.5, 0.8]), vec![0.0, 2.0, 0.0]);
}
