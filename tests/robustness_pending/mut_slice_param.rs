//! Pending robustness case `mut_slice_param` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0277 `&mut [f64]: Clone`, E0599 `keep` (issue 7, item 8); or refuse `&mut` parameters with a message.
//! Right gradient: [2, 0, 0].
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/mut_slice_param.rs tests/ && cargo test --test mut_slice_param`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(v: &mut [f64]) -> f64 {
    v[0] * 2.0
}

#[test]
fn mut_slice_param() {
    assert_eq!(f::grad(&mut [0.3, -0.5, 0.8]), vec![2.0, 0.0, 0.0]);
}
