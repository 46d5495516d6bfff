//! Pending robustness case `return_inside_while_condition` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0308 expected `(f64, _)`, found `f64` — the
//! `while` condition is emitted as written inside the generated `vjp`, where
//! its `return` returns from the wrong function (the kind of item 5: exits
//! inside conditions).
//! Right gradient: 6 (s = 0.7 → 1.4, then 1.4 > 1 returns 3s = 6x).
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file. The
//! file is a complete integration test:
//! `cp tests/robustness_pending/return_inside_while_condition.rs tests/ && cargo test --test return_inside_while_condition`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut s = x;
    while {
        if s > 1.0 {
            return s * 3.0;
        }
        true
    } {
        s = s * 2.0;
    }
    s
}

#[test]
fn return_inside_while_condition() {
    assert_eq!(f::grad(0.7), 6.0);
}
