//! Fused elementwise chains (issue 11): `#[differentiable]` rewrites a chain
//! of elementwise tensor ops (optionally under `.sum()`) into one runtime op
//! (`__private::fused`) whose reverse it writes from the chain's scalar
//! rules, and reads a slice that only the chain reads in place. Every
//! gradient here is checked against central differences and against the
//! same function run unfused through the graph layer (`Var`: one eager op
//! and one rule per node), on seeded inputs, with tolerances scaled with the
//! size. What must not fuse (an intermediate read twice or outside the
//! chain, a slice read elsewhere) is covered too, as are scalars mixed with
//! tensors, broadcasting, loops, strong zeros and second derivatives.

#![allow(clippy::all)]

use autodiff::differentiable;
use autodiff::prelude::*;

#[path = "common/reference.rs"]
mod reference;
use reference::*;

/// Value and gradient through the graph layer: every op eager and unfused.
fn unfused(f: impl Fn(&Var) -> Var, x: &Tensor) -> (f64, Tensor) {
    let v = Var::leaf(x.clone());
    let y = f(&v);
    y.backward();
    (y.item(), v.grad().unwrap_or_else(|| x.zeros_like()))
}

/// `|got − want| ≤ tol · (1 + |want|)` with `tol` scaled by √n for sums of
/// n terms in another order.
#[track_caller]
fn close_n(what: &str, got: f64, want: f64, n: usize) {
    let tol = 1e-13 * (n as f64).sqrt().max(1.0) * 10.0;
    assert!(
        (got - want).abs() <= tol * (1.0 + want.abs()),
        "{what}: {got} vs {want}"
    );
}

// ------------------------------------------------------------------ W3: Rosenbrock over slices

#[differentiable]
fn rosenbrock(x: &Tensor) -> f64 {
    let n = x.shape()[0];
    let head = x.slice(0, 0..n - 1);
    let tail = x.slice(0, 1..n);
    let t = tail - head.powi(2);
    let u = 1.0 - head;
    (100.0 * t.powi(2) + u.powi(2)).sum()
}

fn rosenbrock_var(x: &Var) -> Var {
    let n = x.shape()[0];
    let head = x.slice(0, 0..n - 1);
    let tail = x.slice(0, 1..n);
    let t = &tail - &head.powi(2);
    let u = 1.0 - &head;
    (100.0 * &t.powi(2) + &u.powi(2)).sum()
}

#[test]
fn rosenbrock_matches_unfused_and_central_differences() {
    // Around the passes' blocks of 8 and chunks of 1024 elements.
    for n in [2usize, 3, 9, 17, 1000, 1025, 3077] {
        let x = Tensor::uniform(&[n], -1.0, 1.0, 7 + n as u64);
        let (v, g) = rosenbrock::value_and_grad(&x);
        let (vu, gu) = unfused(rosenbrock_var, &x);
        close_n("rosenbrock value", v, vu, n);
        close("rosenbrock vs unfused", g.data(), gu.data(), 1e-12);
        assert_eq!(v, rosenbrock(&x));
        if n <= 17 {
            close(
                "rosenbrock vs cd",
                g.data(),
                &cd_t(|x| rosenbrock(x), &x),
                1e-6,
            );
        }
    }
}

/// The same chain over rows of a matrix (slices along dimension 0 of a 2-d tensor).
#[differentiable]
fn row_differences(m: &Tensor) -> f64 {
    let r = m.shape()[0];
    let above = m.slice(0, 0..r - 1);
    let below = m.slice(0, 1..r);
    ((below - above).powi(2) * 0.5).sum()
}

#[test]
fn rows_of_a_matrix_in_place() {
    let m = Tensor::uniform(&[5, 3], -1.0, 1.0, 11);
    let (v, g) = row_differences::value_and_grad(&m);
    let (vu, gu) = unfused(
        |m| {
            let d = &m.slice(0, 1..5) - &m.slice(0, 0..4);
            (&d.powi(2) * 0.5).sum()
        },
        &m,
    );
    close_n("value", v, vu, 15);
    close("vs unfused", g.data(), gu.data(), 1e-12);
    close("vs cd", g.data(), &cd_t(|m| row_differences(m), &m), 1e-6);
    assert_eq!(g.shape(), &[5, 3]);
}

// ------------------------------------------------------------------ maps, broadcasting, scalars

/// A fused map (no sum) feeding a matrix product.
#[differentiable]
fn map_then_matmul(x: &Tensor, w: &Tensor) -> f64 {
    let h = (x * 2.0 - 0.5).exp() / (x.powi(2) + 1.0);
    h.matmul(w).sum()
}

#[test]
fn a_fused_map_feeds_other_ops() {
    let x = Tensor::uniform(&[3, 4], -1.0, 1.0, 1);
    let w = Tensor::uniform(&[4, 2], -1.0, 1.0, 2);
    let (gx, gw) = map_then_matmul::grad(&x, &w);
    let f = |x: &Var, w: &Var| {
        let h = &(&(x * 2.0) - 0.5).exp() / &(&x.powi(2) + 1.0);
        h.matmul(w).sum()
    };
    let (vx, vw) = (Var::leaf(x.clone()), Var::leaf(w.clone()));
    f(&vx, &vw).backward();
    close("x vs unfused", gx.data(), vx.grad().unwrap().data(), 1e-12);
    close("w vs unfused", gw.data(), vw.grad().unwrap().data(), 1e-12);
    close(
        "x vs cd",
        gx.data(),
        &cd_t(|x| map_then_matmul(x, &w), &x),
        1e-6,
    );
    close(
        "w vs cd",
        gw.data(),
        &cd_t(|w| map_then_matmul(&x, w), &w),
        1e-6,
    );
}

/// A bias row broadcast along a matrix's rows (read as a repeated row), and
/// a column broadcast along its columns (written out first).
#[differentiable]
fn broadcasts(m: &Tensor, row: &Tensor, col: &Tensor) -> f64 {
    ((m + row).tanh() * 2.0 + (m * col).powi(2)).sum()
}

#[test]
fn broadcasting_leaves() {
    for rows in [3usize, 700] {
        let m = Tensor::uniform(&[rows, 5], -1.0, 1.0, 3);
        let row = Tensor::uniform(&[5], -1.0, 1.0, 4);
        let col = Tensor::uniform(&[rows, 1], -1.0, 1.0, 5);
        let (v, (gm, grow, gcol)) = broadcasts::value_and_grad(&m, &row, &col);
        let (vm, vr, vc) = (
            Var::leaf(m.clone()),
            Var::leaf(row.clone()),
            Var::leaf(col.clone()),
        );
        let y = (&(&(&vm + &vr).tanh() * 2.0) + &(&vm * &vc).powi(2)).sum();
        y.backward();
        close_n("value", v, y.item(), rows * 5);
        // `Tensor::tanh` maps a vectorised tanh, the fused chain std's: a few ulps.
        close("m vs unfused", gm.data(), vm.grad().unwrap().data(), 1e-12);
        close(
            "row vs unfused",
            grow.data(),
            vr.grad().unwrap().data(),
            1e-11,
        );
        close(
            "col vs unfused",
            gcol.data(),
            vc.grad().unwrap().data(),
            1e-12,
        );
        assert_eq!((grow.shape(), gcol.shape()), (&[5][..], &[rows, 1][..]));
        if rows == 3 {
            close(
                "m vs cd",
                gm.data(),
                &cd_t(|m| broadcasts(m, &row, &col), &m),
                1e-6,
            );
            close(
                "row vs cd",
                grow.data(),
                &cd_t(|r| broadcasts(&m, r, &col), &row),
                1e-6,
            );
            close(
                "col vs cd",
                gcol.data(),
                &cd_t(|c| broadcasts(&m, &row, c), &col),
                1e-6,
            );
        }
    }
}

/// `f64` parameters inside a tensor chain: their gradients are sums.
#[differentiable]
fn scalars_mixed(x: &Tensor, s: f64, t: f64) -> f64 {
    ((x * s + s.powi(2)) / (x.exp() + t) - t * x).sum()
}

#[test]
fn scalars_mixed_with_tensors() {
    let x = Tensor::uniform(&[40], -1.0, 1.0, 6);
    let (s, t) = (0.7, 1.3);
    let (v, (gx, gs, gt)) = scalars_mixed::value_and_grad(&x, s, t);
    let y = |x: &Tensor, s: f64, t: f64| {
        x.data()
            .iter()
            .map(|&x| (x * s + s * s) / (x.exp() + t) - t * x)
            .sum::<f64>()
    };
    close_n("value", v, y(&x, s, t), 40);
    close("x vs cd", gx.data(), &cd_t(|x| y(x, s, t), &x), 1e-6);
    close("s vs cd", &[gs], &cd(|p| y(&x, p[0], t), &[s]), 1e-6);
    close("t vs cd", &[gt], &cd(|p| y(&x, s, p[0]), &[t]), 1e-6);
    let vx = Var::leaf(x.clone());
    let yv = (&(&(&(&vx * s) + s * s) / &(&vx.exp() + t)) - &(t * &vx)).sum();
    yv.backward();
    close("x vs unfused", gx.data(), vx.grad().unwrap().data(), 1e-12);
}

/// A tensor that carries no gradient (not in `wrt`) as a leaf.
#[differentiable(wrt(x))]
fn half_squared_distance(x: &Tensor, c: &Tensor) -> f64 {
    ((x - c).powi(2) * 0.5).sum()
}

#[test]
fn an_inactive_leaf() {
    let x = Tensor::uniform(&[10], -1.0, 1.0, 8);
    let c = Tensor::uniform(&[10], -1.0, 1.0, 9);
    let g = half_squared_distance::grad(&x, &c);
    let want: Vec<f64> = x.data().iter().zip(c.data()).map(|(x, c)| x - c).collect();
    close("x", g.data(), &want, 1e-15);
}

// ------------------------------------------------------------------ what must not fuse (or fuse in parts)

/// `t` is read three times: it is not inlined; each chain that reads it fuses
/// on its own, with `t` as a leaf.
#[differentiable]
fn intermediate_used_twice(a: &Tensor, b: &Tensor) -> f64 {
    let t = (a * b).sin() + 1.0;
    let u = t.exp() + &t;
    (u * t).sum()
}

#[test]
fn an_intermediate_used_twice() {
    let a = Tensor::uniform(&[12], -1.0, 1.0, 10);
    let b = Tensor::uniform(&[12], -1.0, 1.0, 11);
    let (ga, gb) = intermediate_used_twice::grad(&a, &b);
    let f = |a: &Tensor, b: &Tensor| {
        a.data()
            .iter()
            .zip(b.data())
            .map(|(a, b)| {
                let t = (a * b).sin() + 1.0;
                (t.exp() + t) * t
            })
            .sum::<f64>()
    };
    close("a vs cd", ga.data(), &cd_t(|a| f(a, &b), &a), 1e-6);
    close("b vs cd", gb.data(), &cd_t(|b| f(&a, b), &b), 1e-6);
    let (va, vb) = (Var::leaf(a.clone()), Var::leaf(b.clone()));
    let t = &(&va * &vb).sin() + 1.0;
    let u = &t.exp() + &t;
    (&u * &t).sum().backward();
    close("a vs unfused", ga.data(), va.grad().unwrap().data(), 1e-12);
    close("b vs unfused", gb.data(), vb.grad().unwrap().data(), 1e-12);
}

/// `t` and the slice `h` are also read outside the chain: kept, and read as
/// leaves (the slice copied as before).
#[differentiable]
fn read_outside_the_chain(x: &Tensor) -> f64 {
    let n = x.shape()[0];
    let h = x.slice(0, 1..n);
    let t = (&h * 2.0).sin();
    let s = t.sum() + h.sum();
    (t.powi(2) * 3.0).sum() * s
}

#[test]
fn intermediates_read_outside_the_chain() {
    let x = Tensor::uniform(&[9], -1.0, 1.0, 12);
    let g = read_outside_the_chain::grad(&x);
    let (_, gu) = unfused(
        |x| {
            let h = x.slice(0, 1..9);
            let t = (&h * 2.0).sin();
            let s = &t.sum() + &h.sum();
            &(&t.powi(2) * 3.0).sum() * &s
        },
        &x,
    );
    close("vs unfused", g.data(), gu.data(), 1e-12);
    close(
        "vs cd",
        g.data(),
        &cd_t(|x| read_outside_the_chain(x), &x),
        1e-6,
    );
}

/// A chain in a loop, reading the counter (an inactive leaf) and an
/// accumulator reassigned in the loop (not inlined, read as a leaf).
#[differentiable]
fn chain_in_a_loop(x: &Tensor) -> f64 {
    let mut acc = x.clone();
    let mut total = 0.0;
    for i in 0..3 {
        acc = (acc * 0.5 + x * (i as f64)).tanh();
        total = total + (acc.powi(2) - x).sum();
    }
    total
}

#[test]
fn chains_in_a_loop() {
    let x = Tensor::uniform(&[6], -1.0, 1.0, 13);
    let g = chain_in_a_loop::grad(&x);
    close("vs cd", g.data(), &cd_t(|x| chain_in_a_loop(x), &x), 1e-6);
    let (_, gu) = unfused(
        |x| {
            let mut acc = x.clone();
            let mut total = Var::new(Tensor::scalar(0.0));
            for i in 0..3 {
                acc = (&(&acc * 0.5) + &(x * (i as f64))).tanh();
                total = &total + &(&acc.powi(2) - x).sum();
            }
            total
        },
        &x,
    );
    close("vs unfused", g.data(), gu.data(), 1e-11);
}

// ------------------------------------------------------------------ rules at their edges

/// `sqrt` at 0 has an infinite derivative; a zero cotangent gives exactly 0
/// there (the strong zero), fused as unfused.
#[differentiable]
fn strong_zero(x: &Tensor) -> f64 {
    (x.sqrt() * 0.0 + x).sum()
}

#[test]
fn strong_zero_in_a_fused_chain() {
    let x = Tensor::from([0.0, 1.0, 4.0]);
    let g = strong_zero::grad(&x);
    assert_eq!(g.to_vec(), vec![1.0, 1.0, 1.0]);
}

// ------------------------------------------------------------------ forward mode and second derivatives

/// Marked for forward mode: the reverse pipeline fuses, forward mode and
/// the Hessian (forward over reverse, not fused) must agree with it.
#[differentiable(forward)]
fn smooth(x: &Tensor) -> f64 {
    ((x * 1.5).sin() + x.powi(3) * 0.25).sum()
}

#[test]
fn forward_mode_and_hessian_still_agree() {
    let x = Tensor::uniform(&[5], -1.0, 1.0, 14);
    let g = smooth::grad(&x);
    let want: Vec<f64> = x
        .data()
        .iter()
        .map(|x| 1.5 * (1.5 * x).cos() + 0.75 * x * x)
        .collect();
    close("grad", g.data(), &want, 1e-14);
    let v = Tensor::uniform(&[5], -1.0, 1.0, 15);
    let (_, d) = smooth::jvp(&x, &v);
    let dot: f64 = want.iter().zip(v.data()).map(|(g, v)| g * v).sum();
    close("jvp", &[d], &[dot], 1e-13);
    let h = smooth::hessian(&x);
    for i in 0..5 {
        for j in 0..5 {
            let xi = x.data()[i];
            let want = if i == j {
                -2.25 * (1.5 * xi).sin() + 1.5 * xi
            } else {
                0.0
            };
            let got = h.at(&[i, j]);
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "h[{i}][{j}] = {got}, want {want}"
            );
        }
    }
}

// ------------------------------------------------------------------ the result's sum with any cotangent

/// A sum at the function's result computes its cotangents for ȳ = 1 in the
/// forward pass; the pullback must still be right for any other ȳ, and
/// for ȳ = 0 give exact zeros where a rule's derivative is infinite.
#[test]
fn the_results_sum_with_other_cotangents() {
    let x = Tensor::uniform(&[33], -1.0, 1.0, 16);
    let g1 = rosenbrock::grad(&x);
    for ybar in [2.5, -1.0, 1e-3] {
        let (_, pullback) = rosenbrock::vjp(&x);
        let g = pullback(ybar);
        let want: Vec<f64> = g1.data().iter().map(|g| g * ybar).collect();
        close("ȳ · grad", g.data(), &want, 1e-14);
    }
    let (_, pullback) = rosenbrock::vjp_retained(&x);
    assert_eq!(pullback(1.0).to_vec(), g1.to_vec());
    assert_eq!(pullback(1.0).to_vec(), g1.to_vec());
    let x = Tensor::from([0.0, 1.0, 4.0]);
    let (_, pullback) = strong_zero::vjp(&x);
    assert_eq!(pullback(0.0).to_vec(), vec![0.0, 0.0, 0.0]);
}

// ------------------------------------------------------------------ methods, nested chains, empty slices

struct Layer {
    scale: f64,
}

impl Layer {
    /// A method: the fused call lives in the method's generated functions.
    #[differentiable]
    fn energy(#[no_grad] &self, x: &Tensor, w: &Tensor) -> f64 {
        let h = x.matmul(&((w * self.scale).tanh() + 0.5));
        (h.powi(2) * 0.5 - h).sum()
    }
}

#[test]
fn a_method_and_a_chain_inside_a_leaf() {
    let layer = Layer { scale: 0.8 };
    let x = Tensor::uniform(&[2, 3], -1.0, 1.0, 17);
    let w = Tensor::uniform(&[3, 4], -1.0, 1.0, 18);
    let (_, (gx, gw)) = layer.energy_value_and_grad(&x, &w);
    close(
        "x vs cd",
        gx.data(),
        &cd_t(|x| layer.energy(x, &w), &x),
        1e-6,
    );
    close(
        "w vs cd",
        gw.data(),
        &cd_t(|w| layer.energy(&x, w), &w),
        1e-6,
    );
}

#[test]
fn slices_of_one_element_and_empty_slices() {
    for n in [1usize, 2] {
        let x = Tensor::uniform(&[n], -1.0, 1.0, 19);
        let (v, g) = rosenbrock::value_and_grad(&x);
        let (vu, gu) = unfused(rosenbrock_var, &x);
        close_n("value", v, vu, n);
        close("vs unfused", g.data(), gu.data(), 1e-12);
        assert_eq!(g.shape(), &[n]);
    }
}

// ------------------------------------------------------------------ means

/// A mean-squared error: the chain under `.mean()` at the result, and a mean
/// inside the body (not at the result).
#[differentiable]
fn mse(pred: &Tensor, target: &Tensor, w: f64) -> f64 {
    let spread = (pred * w - 0.25).exp().mean();
    ((pred * w - target).powi(2)).mean() + 0.1 * spread
}

#[test]
fn means_of_fused_chains() {
    let pred = Tensor::uniform(&[4, 5], -1.0, 1.0, 20);
    let target = Tensor::uniform(&[4, 5], -1.0, 1.0, 21);
    let w = 0.9;
    let (v, (gp, gt, gw)) = mse::value_and_grad(&pred, &target, w);
    let (vp, vt) = (Var::leaf(pred.clone()), Var::leaf(target.clone()));
    let spread = (&(&vp * w) - 0.25).exp().mean();
    let y = &(&(&vp * w) - &vt).powi(2).mean() + &(0.1 * &spread);
    y.backward();
    close_n("value", v, y.item(), 20);
    close(
        "pred vs unfused",
        gp.data(),
        vp.grad().unwrap().data(),
        1e-12,
    );
    close(
        "target vs unfused",
        gt.data(),
        vt.grad().unwrap().data(),
        1e-12,
    );
    close(
        "pred vs cd",
        gp.data(),
        &cd_t(|p| mse(p, &target, w), &pred),
        1e-6,
    );
    close(
        "w vs cd",
        &[gw],
        &cd(|p| mse(&pred, &target, p[0]), &[w]),
        1e-6,
    );
    // Another cotangent than the seed.
    let (_, pullback) = mse::vjp(&pred, &target, w);
    let (gp2, _, gw2) = pullback(-3.0);
    close(
        "pred, ȳ = −3",
        gp2.data(),
        &gp.data().iter().map(|g| -3.0 * g).collect::<Vec<_>>(),
        1e-14,
    );
    close("w, ȳ = −3", &[gw2], &[-3.0 * gw], 1e-14);
}

/// The mean is the result (`out_mean`: cotangents for the seed computed with
/// the value).
#[differentiable]
fn mse_at_result(pred: &Tensor, target: &Tensor) -> f64 {
    ((pred - target).powi(2) * 0.5).mean()
}

#[test]
fn a_mean_at_the_result() {
    let pred = Tensor::uniform(&[3, 7], -1.0, 1.0, 22);
    let target = Tensor::uniform(&[7], -1.0, 1.0, 23);
    let (v, (gp, gt)) = mse_at_result::value_and_grad(&pred, &target);
    let want_p: Vec<f64> = pred
        .data()
        .iter()
        .enumerate()
        .map(|(i, p)| (p - target.data()[i % 7]) / 21.0)
        .collect();
    close("pred", gp.data(), &want_p, 1e-14);
    let want_t: Vec<f64> = (0..7)
        .map(|j| -(0..3).map(|r| want_p[r * 7 + j]).sum::<f64>())
        .collect();
    close("target (broadcast row)", gt.data(), &want_t, 1e-14);
    close_n("value", v, mse_at_result(&pred, &target), 21);
    let (_, pullback) = mse_at_result::vjp(&pred, &target);
    let (gp2, gt2) = pullback(0.5);
    close(
        "pred, ȳ = 0.5",
        gp2.data(),
        &want_p.iter().map(|g| 0.5 * g).collect::<Vec<_>>(),
        1e-14,
    );
    close(
        "target, ȳ = 0.5",
        gt2.data(),
        &want_t.iter().map(|g| 0.5 * g).collect::<Vec<_>>(),
        1e-14,
    );
}

// ------------------------------------------------------------------ side effects stay where they were

thread_local! {
    static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// An inactive value with a side effect (it counts its calls): evaluated
/// once, where the chain was, not once per element nor moved past the next
/// statement.
fn next_weight() -> f64 {
    CALLS.with(|c| {
        c.set(c.get() + 1);
        1.0 + f64::from(c.get())
    })
}

const HALF: &f64 = &0.5;

#[differentiable]
fn impure_constant(x: &Tensor) -> f64 {
    let t = x * next_weight() + 1.0;
    let b = next_weight();
    ((t * b).exp() * HALF).sum()
}

#[test]
fn an_impure_inactive_value_is_a_leaf() {
    let x = Tensor::uniform(&[40], -0.1, 0.1, 24);
    CALLS.with(|c| c.set(0));
    let g = impure_constant::grad(&x);
    assert_eq!(CALLS.with(|c| c.get()), 2);
    // t = x·2 + 1 (first call gives 2), b = 3 (second call).
    let want: Vec<f64> = x
        .data()
        .iter()
        .map(|x| 0.5 * ((x * 2.0 + 1.0) * 3.0).exp() * 6.0)
        .collect();
    close("x", g.data(), &want, 1e-13);
}
