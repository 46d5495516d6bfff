//! Pending robustness case `destructuring_assignment` (issue 7): not compiled by CI.
//!
//! Today: refused: "an assignment into `(a,b)`" (issue 7, item 9).
//! Right gradient: 2.5 (a = 1.5x, b = x + 1.5).
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/destructuring_assignment.rs tests/ && cargo test --test destructuring_assignment`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let (mut a, mut b) = (x, 1.5);
    (a, b) = (a * b, a + b);
    a + b
}

#[test]
fn destructuring_assignment() {
    assert_eq!(f::grad(0.7), 2.5);
}
