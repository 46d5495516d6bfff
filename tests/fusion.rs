//! Fused elementwise chains (issue 11): `#[differentiable]` rewrites a chain
//! of elementwise tensor ops (optionally under `.sum()`) into one runtime op
//! whose reverse it writes from the chain's scalar rules. Every gradient here
//! is checked against central differences and against the same function
//! written so that nothing fuses (each op's result goes through `.clone()`,
//! which ends a chain), on seeded inputs, with tolerances scaled with size.

#![allow(clippy::all)]

use autodiff::prelude::*;
use autodiff::differentiable;

#[path = "common/reference.rs"]
mod reference;
use reference::*;

#[differentiable]
fn rosenbrock(x: &Tensor) -> f64 {
    let n = x.shape()[0];
    let head = x.slice(0, 0..n - 1);
    let tail = x.slice(0, 1..n);
    let t = tail - head.powi(2);
    let u = 1.0 - head;
    (100.0 * t.powi(2) + u.powi(2)).sum()
}

#[differentiable]
fn rosenbrock_unfused(x: &Tensor) -> f64 {
    let n = x.shape()[0];
    let head = x.slice(0, 0..n - 1);
    let tail = x.slice(0, 1..n);
    let t = (tail - head.powi(2).clone()).clone();
    let u = (1.0 - head).clone();
    ((100.0 * t.powi(2).clone()).clone() + u.powi(2).clone()).sum()
}

#[test]
fn rosenbrock_matches_unfused_and_central_differences() {
    for n in [2usize, 3, 17, 1000] {
        let x = Tensor::uniform(&[n], -1.0, 1.0, 7 + n as u64);
        let (v, g) = rosenbrock::value_and_grad(&x);
        let (vu, gu) = rosenbrock_unfused::value_and_grad(&x);
        assert!((v - vu).abs() <= 1e-12 * vu.abs().max(1.0) * n as f64, "{v} {vu}");
        close("rosenbrock vs unfused", g.data(), gu.data(), 1e-12);
        if n <= 17 {
            close("rosenbrock vs cd", g.data(), &cd_t(|x| rosenbrock(x), &x), 1e-6);
        }
    }
}
