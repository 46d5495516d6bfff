//! Pending robustness case `labeled_block_inactive` (issue 7): not compiled by CI.
//!
//! Today: refused: "labeled blocks are not supported" although its value is inactive (same remark as let_else_inactive).
//! Right gradient: 1.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/labeled_block_inactive.rs tests/ && cargo test --test labeled_block_inactive`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let k = 'b: {
        if x > 0.0 {
            break 'b 1.0;
        }
        2.0
    };
    x * k
}

#[test]
fn labeled_block_inactive() {
    assert_eq!(f::grad(0.7), 1.0);
}
