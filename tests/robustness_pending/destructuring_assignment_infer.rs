//! Pending robustness case `destructuring_assignment_infer` (issue 7): not compiled by CI.
//!
//! Today: refused: "an assignment into `(a,_)`" (Expr::Infer; the kind of item 9).
//! Right gradient: 2.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/destructuring_assignment_infer.rs tests/ && cargo test --test destructuring_assignment_infer`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut a = 0.0;
    (a, _) = (x * 2.0, 1.0);
    a
}

#[test]
fn destructuring_assignment_infer() {
    assert_eq!(f::grad(0.7), 2.0);
}
