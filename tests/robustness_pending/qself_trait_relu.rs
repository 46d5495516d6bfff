//! Pending robustness case `qself_trait_relu` (issue 7): not compiled by CI.
//!
//! Today: refused: "constructor or associated function `Real :: relu`" (the kind of item 9).
//! Right gradient: 1.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/qself_trait_relu.rs tests/ && cargo test --test qself_trait_relu`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    <f64 as Real>::relu(x)
}

#[test]
fn qself_trait_relu() {
    assert_eq!(f::grad(0.7), 1.0);
}
