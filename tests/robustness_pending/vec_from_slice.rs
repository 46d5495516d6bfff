//! Pending robustness case `vec_from_slice` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0432 `Vec` is a struct, not a module (an associated function in path form, the kind of item 8).
//! Right gradient: [1, 0, 0].
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/vec_from_slice.rs tests/ && cargo test --test vec_from_slice`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(xs: &[f64]) -> f64 {
    let v = Vec::from(xs);
    v[0]
}

#[test]
fn vec_from_slice() {
    assert_eq!(f::grad(&[0.3, -0.5, 0.8]), vec![1.0, 0.0, 0.0]);
}
