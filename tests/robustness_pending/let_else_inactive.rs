//! Pending robustness case `let_else_inactive` (issue 7): not compiled by CI.
//!
//! Today: refused: "`let .. else` is not supported" although no active value reaches it (README lists let-else as rejected; the principle refuses only what an active value reaches).
//! Right gradient: 2.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/let_else_inactive.rs tests/ && cargo test --test let_else_inactive`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let Some(k) = Some(2.0) else { panic!() };
    x * k
}

#[test]
fn let_else_inactive() {
    assert_eq!(f::grad(0.7), 2.0);
}
