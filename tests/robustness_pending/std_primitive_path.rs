//! Pending robustness case `std_primitive_path` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0432 `std::primitive::f64` is a builtin type, not a module (the kind of item 8).
//! Right gradient: cos 0.7.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/std_primitive_path.rs tests/ && cargo test --test std_primitive_path`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    std::primitive::f64::sin(x)
}

#[test]
fn std_primitive_path() {
    assert_eq!(f::grad(0.7), 0.7f64.cos());
}
