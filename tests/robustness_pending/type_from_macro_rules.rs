//! Pending robustness case `type_from_macro_rules` (issue 7): not compiled by CI.
//!
//! Today: refused: "nothing to differentiate": signature.rs does not look through the invisible group of a `$t:ty`.
//! Right gradient: 2.
//!
//! Once the macro handles it, move the function and its assertion into
//! tests/robustness.rs (a `Case` with its gradient) and delete this file; if
//! the macro refuses it on purpose instead, add it to the refusals of
//! autodiff-macros/src/robustness.rs. The file is a complete integration
//! test: `cp tests/robustness_pending/type_from_macro_rules.rs tests/ && cargo test --test type_from_macro_rules`.
#![allow(unused)]

use autodiff::differentiable;
use autodiff::prelude::*;

macro_rules! with_type {
    ($t:ty) => {
        #[differentiable]
        fn f(x: $t) -> $t {
            x * 2.0
        }
    };
}

with_type!(f64);
#[test]
fn type_from_macro_rules() {
    assert_eq!(f::grad(0.7), 2.0);
}
