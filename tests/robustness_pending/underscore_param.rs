//! Pending robustness case `underscore_param` (issue 7): not compiled by CI.
//!
//! Today: refused: "must be a plain name" (issue 7, item 9).
//! Right gradient: (1, 0) at (0.7, -1.3).
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/underscore_param.rs tests/ && cargo test --test underscore_param`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64, _: f64) -> f64 {
    x
}

#[test]
fn underscore_param() {
    assert_eq!(f::grad(0.7, -1.3), (1.0, 0.0));
}
