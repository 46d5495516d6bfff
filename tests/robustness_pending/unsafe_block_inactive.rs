//! Pending robustness case `unsafe_block_inactive` (issue 7): not compiled by CI.
//!
//! Today: refused: "cannot differentiate an `unsafe` block" although nothing active is inside (issue 7, item 9).
//! Right gradient: 3.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/unsafe_block_inactive.rs tests/ && cargo test --test unsafe_block_inactive`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let c = unsafe { 3.0 };
    c * x
}

#[test]
fn unsafe_block_inactive() {
    assert_eq!(f::grad(0.7), 3.0);
}
