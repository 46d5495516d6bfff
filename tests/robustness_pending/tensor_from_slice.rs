//! Pending robustness case `tensor_from_slice` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0432 `Tensor` is a struct, not a module (the kind of item 8).
//! Right gradient: [1, 1, 1].
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/tensor_from_slice.rs tests/ && cargo test --test tensor_from_slice`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(xs: &[f64]) -> f64 {
    let t = Tensor::from(xs);
    t.sum()
}

#[test]
fn tensor_from_slice() {
    assert_eq!(f::grad(&[0.3, -0.5, 0.8]), vec![1.0, 1.0, 1.0]);
}
