//! Pending robustness case `trait_path_call` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0658 `use` of trait items is unstable, E0433 `relu_is_not_differentiable` (although relu is differentiable).
//! Right gradient: 1.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/trait_path_call.rs tests/ && cargo test --test trait_path_call`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    Real::relu(x)
}

#[test]
fn trait_path_call() {
    assert_eq!(f::grad(0.7), 1.0);
}
