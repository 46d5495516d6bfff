//! Loops reversed inside their forward (`plan::Eager`): a loop whose only
//! way out for a gradient is one `f64` accumulator (`s += e`, `s -= e`,
//! `s = s + e`) runs each iteration's reverse right after the iteration,
//! seeded with s̄ = 1, and the pullback scales what it summed by s̄. Each
//! function is checked against central differences, through `grad`, a
//! pullback called with a cotangent other than 1, `vjp_retained` called
//! twice, and — for loops that must *not* be reversed that way (the
//! accumulator read in the loop, a second value carried out, `*=`) — the
//! same checks, which the ordinary reverse passes.

#![allow(clippy::all)]

use autodiff::{Tensor, differentiable};

#[path = "common/reference.rs"]
mod reference;
use reference::*;

fn input(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| (((i as u64 * 7919 + seed * 104729) % 1000) as f64 / 500.0 - 1.0) * 0.9)
        .collect()
}

/// `grad`, a pullback seeded with 2.5, and `vjp_retained` twice, against
/// central differences of `f`.
macro_rules! check {
    ($name:ident, $x:expr) => {{
        let x: Vec<f64> = $x;
        let want = cd(|v| $name(v), &x);
        let tol = 1e-6 * (x.len() as f64).sqrt();
        close(
            concat!(stringify!($name), " grad"),
            &$name::grad(&x),
            &want,
            tol,
        );
        let (value, pullback) = $name::vjp(&x);
        assert_eq!(value, $name(&x), "the value is the primal's");
        let scaled: Vec<f64> = want.iter().map(|w| 2.5 * w).collect();
        close(
            concat!(stringify!($name), " 2.5·grad"),
            &pullback(2.5),
            &scaled,
            tol,
        );
        let (_, retained) = $name::vjp_retained(&x);
        let first = retained(1.0);
        close(concat!(stringify!($name), " retained"), &first, &want, tol);
        assert_eq!(
            retained(1.0),
            first,
            "a retained pullback gives the same again"
        );
    }};
}

// ------------------------------------------------------------ eager loops

/// W3's index loop: two neighbours per step.
#[differentiable]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        total += 100.0 * t * t + u * u;
    }
    total
}

#[test]
fn rosenbrock_loop() {
    check!(rosenbrock, input(9, 1));
}

/// `-=` and `s = s + e`, a value read before the loop, a result used
/// nonlinearly after it (s̄ ≠ 1 in the pullback).
#[differentiable]
fn minus_and_set(x: &[f64]) -> f64 {
    let c = x[0] * 0.5 + 1.0;
    let mut s = 1.0;
    for i in 1..x.len() {
        s -= c * x[i].sin();
        s = s + (x[i] * x[i - 1]).tanh();
    }
    (s * s).sqrt() + s.exp()
}

#[test]
fn minus_and_set_loop() {
    check!(minus_and_set, input(7, 2));
}

/// A branch on the data inside the loop, a scratch vector declared and
/// written inside, an inner loop, and a call of another differentiable
/// function.
#[differentiable]
fn helper(a: f64, b: f64) -> f64 {
    a * b.cos() + b
}

#[differentiable]
fn branches_scratch_calls(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let mut w = vec![0.0; 3];
        for k in 0..3 {
            w[k] = x[(i + k) % n] * (k as f64 + 1.0);
        }
        let v = if w[0] > 0.0 { w[0] * w[1] } else { w[2].exp() };
        let mut inner = 0.0;
        for k in 0..3 {
            inner += w[k] * w[k];
        }
        s += helper(v, inner) + inner.sqrt();
    }
    s * 0.5
}

#[test]
fn branches_scratch_calls_loop() {
    check!(branches_scratch_calls, input(6, 3));
}

/// A counter stepped inside (declared inside, walked back per iteration)
/// and a `while` loop.
#[differentiable]
fn while_loop(x: &[f64]) -> f64 {
    let mut s = 0.0;
    let mut i = 0;
    while i + 1 < x.len() {
        let d = x[i + 1] - x[i];
        s += d * d * x[i];
        i += 1;
    }
    s
}

#[test]
fn while_loop_sums() {
    check!(while_loop, input(8, 4));
}

/// Tensors inside the loop, an `f64` accumulator outside.
#[differentiable]
fn tensor_rows(x: &[f64]) -> f64 {
    let t = Tensor::from(x.to_vec());
    let mut s = 0.0;
    for k in 1..4 {
        let y = (&t * (k as f64)).tanh();
        s += y.sum() * 0.25;
    }
    s
}

#[test]
fn tensor_rows_loop() {
    check!(tensor_rows, input(5, 5));
}

/// Two loops one after the other, both summing into the same `s`.
#[differentiable]
fn two_loops(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].powi(3);
    }
    for i in 0..x.len() {
        s += (x[i] * s.min(10.0)).sin() * 0.0 + x[i] * x[i];
    }
    s
}

#[test]
fn two_loops_sum() {
    check!(two_loops, input(5, 6));
}

// ------------------------------------------------ loops reversed as before

/// The accumulator read inside the loop: s̄ changes from step to step.
#[differentiable]
fn reads_accumulator(x: &[f64]) -> f64 {
    let mut s = 1.0;
    for i in 0..x.len() {
        s += s * x[i] * 0.3;
    }
    s
}

#[test]
fn accumulator_read_inside() {
    check!(reads_accumulator, input(6, 7));
}

/// Two values carried out of the loop.
#[differentiable]
fn two_carried(x: &[f64]) -> f64 {
    let mut s = 0.0;
    let mut p = 1.0;
    for i in 0..x.len() {
        s += x[i];
        p += x[i] * x[i];
    }
    s * p
}

#[test]
fn two_values_carried() {
    check!(two_carried, input(6, 8));
}

/// `*=`: not a sum.
#[differentiable]
fn product(x: &[f64]) -> f64 {
    let mut s = 1.0;
    for i in 0..x.len() {
        s *= 1.0 + x[i] * 0.5;
    }
    s
}

#[test]
fn product_loop() {
    check!(product, input(6, 9));
}

/// The accumulator reset inside the loop (its earlier sum gets no gradient).
#[differentiable]
fn reset_inside(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if i == 3 {
            s = 0.0;
        }
        s += x[i] * x[i];
    }
    s
}

#[test]
fn accumulator_reset_inside() {
    check!(reset_inside, input(6, 10));
}

/// An exit inside.
#[differentiable]
fn early_break(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if x[i] > 0.85 {
            break;
        }
        s += x[i].exp();
    }
    s
}

#[test]
fn early_break_loop() {
    check!(early_break, input(9, 11));
}

// ------------------------------------------- neighbours carried in a register

/// A three-point stencil (`x[i − 1]`, `x[i]`, `x[i + 1]`): one pair carried,
/// the third flushed as before.
#[differentiable]
fn laplacian(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 1..x.len() - 1 {
        let l = x[i - 1] - 2.0 * x[i] + x[i + 1];
        s += l * l + 0.1 * x[i].sin();
    }
    s
}

#[test]
fn laplacian_stencil() {
    check!(laplacian, input(9, 12));
}

/// The right neighbour read only under a guard: the last iteration carries
/// nothing to an index past the end.
#[differentiable]
fn guarded_neighbour(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let mut v = x[i] * x[i];
        if i + 1 < n {
            v += x[i] * x[i + 1];
        }
        s += v.exp() * 0.1;
    }
    s
}

#[test]
fn guarded_right_neighbour() {
    check!(guarded_neighbour, input(7, 13));
}

/// Time-series differences of two inputs: two carries, one per buffer.
#[differentiable]
fn smoothness(x: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for t in 1..x.len() {
        let dx = x[t] - x[t - 1];
        let dy = y[t] - y[t - 1];
        s += dx * dx + (dx * dy).tanh();
    }
    s
}

#[test]
fn smoothness_two_buffers() {
    let x = input(8, 14);
    let y = input(8, 15);
    let (gx, gy) = smoothness::grad(&x, &y);
    close("smoothness x", &gx, &cd(|v| smoothness(v, &y), &x), 1e-6);
    close("smoothness y", &gy, &cd(|v| smoothness(&x, v), &y), 1e-6);
    let (_, pullback) = smoothness::vjp(&x, &y);
    let (sx, _) = pullback(-3.0);
    let want: Vec<f64> = gx.iter().map(|g| -3.0 * g).collect();
    close("smoothness x, cotangent −3", &sx, &want, 1e-9);
}

// ------------------------------------------------ tensors read in the loop

/// A loss summed over samples, the weights a tensor parameter: its
/// cotangent is an eager buffer; each sample's squared error is a fused
/// summed chain (one pass forward and reverse).
#[differentiable]
fn sample_loss(w: &Tensor, xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for i in 0..xs.len() {
        let pred = (w * xs[i]).tanh();
        loss += (pred - ys[i]).powi(2).sum() * 0.5;
    }
    loss
}

#[test]
fn tensor_parameter_in_an_eager_loop() {
    let wv = vec![0.3, -0.8, 1.2, 0.05];
    let xs = [0.5, -1.0, 2.0];
    let ys = [0.1, 0.4, -0.2];
    let w = Tensor::from(wv.clone());
    let (gw, gx, gy) = sample_loss::grad(&w, &xs, &ys);
    let f = |v: &[f64]| sample_loss(&Tensor::from(v.to_vec()), &xs, &ys);
    close("w", &gw.to_vec(), &cd(f, &wv), 1e-6);
    close("xs", &gx, &cd(|v| sample_loss(&w, v, &ys), &xs), 1e-6);
    close("ys", &gy, &cd(|v| sample_loss(&w, &xs, v), &ys), 1e-6);
    let (_, pullback) = sample_loss::vjp(&w, &xs, &ys);
    let (g2, _, _) = pullback(-0.5);
    let want: Vec<f64> = gw.to_vec().iter().map(|g| -0.5 * g).collect();
    close("w, cotangent −0.5", &g2.to_vec(), &want, 1e-12);
}
