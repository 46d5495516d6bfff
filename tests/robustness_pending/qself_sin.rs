//! Pending robustness case `qself_sin` (issue 7): not compiled by CI.
//!
//! Today: refused: "constructor or associated function `:: sin`" (issue 7, item 9).
//! Right gradient: cos 0.7.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/qself_sin.rs tests/ && cargo test --test qself_sin`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    <f64>::sin(x)
}

#[test]
fn qself_sin() {
    assert_eq!(f::grad(0.7), 0.7f64.cos());
}
