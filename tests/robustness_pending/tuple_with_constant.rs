//! Pending robustness case `tuple_with_constant` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0283 `_: Cotangent` needs a type (issue 7, item 6).
//! Right gradient: 1.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/tuple_with_constant.rs tests/ && cargo test --test tuple_with_constant`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let (p, q) = (x, 2.0);
    p
}

#[test]
fn tuple_with_constant() {
    assert_eq!(f::grad(0.7), 1.0);
}
