//! Pending robustness case `f32_method` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0277 `f32: Operand` (a cast to f32 is taken as differentiable, then the f32 `sin` has no rule); differentiate f32 or refuse it with a message.
//! Right gradient: cos(0.7f32) as f64, to f32 precision.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/f32_method.rs tests/ && cargo test --test f32_method`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    (x as f32).sin() as f64
}

#[test]
fn f32_method() {
    assert!((f::grad(0.7) - 0.7f64.cos()).abs() < 1e-6);
}
