//! Pending robustness case `recipe_drops_type_annotation` (issue 7): not compiled by CI.
//!
//! Today: generated code fails: E0689 can't call method `abs` on ambiguous
//! numeric type `{float}`. A `let` inside a loop whose value is cheap and
//! pure is evaluated again by the reverse pass (a "recipe"), but without the
//! `let`'s type annotation, so `c` is an untyped float literal there.
//! Found by the fuzzer (flag `annotated_literal_let`).
//! Right gradient: 0.25 (s = x · 0.5 · 0.5).
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file. The
//! file is a complete integration test:
//! `cp tests/robustness_pending/recipe_drops_type_annotation.rs tests/ && cargo test --test recipe_drops_type_annotation`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut s = x;
    for _ in 0..2 {
        let c: f64 = 0.5;
        s = s * c.abs();
    }
    s
}

#[test]
fn recipe_drops_type_annotation() {
    assert_eq!(f::grad(0.7), 0.25);
}
