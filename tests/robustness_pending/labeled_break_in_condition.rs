//! Pending robustness case `labeled_break_in_condition` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0426 use of undeclared label `'a` (the
//! macro renames loop labels in the code it generates, but emits the `if`
//! condition, which holds `break 'a`, as written; the kind of item 5).
//! Found by the fuzzer (flag `exit_in_condition`).
//! Right gradient: 2 (s = 0.7 → 1.4, then the loop ends).
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/labeled_break_in_condition.rs tests/ && cargo test --test labeled_break_in_condition`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut s = x;
    'a: loop {
        if {
            if s > 1.0 {
                break 'a;
            }
            true
        } {
            s = s * 2.0;
        }
    }
    s
}

#[test]
fn labeled_break_in_condition() {
    assert_eq!(f::grad(0.7), 2.0);
}
