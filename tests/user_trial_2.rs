//! A second new user's programs (ML, robotics, scientific computing, coming
//! from PyTorch and JAX): tensors, nalgebra, forward mode and second
//! derivatives, the graph layer, optimisers, custom rules, checkpoints.
//! Every derivative is checked against central differences or an analytic
//! value.

#![allow(clippy::all)]

use autodiff::prelude::*;
use autodiff::{Differentiable, differentiable};
use nalgebra::{DMatrix, DVector, Matrix3, Point3, Rotation2, Rotation3, Unit, UnitQuaternion, Vector2, Vector3};

// ------------------------------------------------------------------ reference helpers

/// Central differences of `f` at `x` (step ε^(1/3)-scaled for f64).
fn cd(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    for i in 0..x.len() {
        let h = 6e-6 * x[i].abs().max(1.0);
        let mut xp = x.to_vec();
        xp[i] += h;
        let mut xm = x.to_vec();
        xm[i] -= h;
        g[i] = (f(&xp) - f(&xm)) / (xp[i] - xm[i]);
    }
    g
}

/// Central differences of a tensor function, flattened in row-major order.
fn cd_t(f: impl Fn(&Tensor) -> f64, x: &Tensor) -> Vec<f64> {
    let shape = x.shape().to_vec();
    cd(|v| f(&Tensor::from_vec(v.to_vec(), &shape)), &x.to_vec())
}

/// Jacobian by central differences, rows = outputs.
fn cd_jac(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64]) -> Vec<Vec<f64>> {
    let m = f(x).len();
    (0..m).map(|k| cd(|v| f(v)[k], x)).collect()
}

#[track_caller]
fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_finite() && (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}\n got  {got:?}\n want {want:?}"
        );
    }
}

// ------------------------------------------------------------------ 1. softmax cross-entropy classifier

#[differentiable(wrt(w, b))]
fn xent(x: &Tensor, onehot: &Tensor, w: &Tensor, b: &Tensor) -> f64 {
    let logits = x.matmul(w) + b; // [n,k] + [k]
    let logp = logits.log_softmax(1);
    let n = x.shape()[0] as f64;
    -(logp * onehot).sum() / n
}

#[test]
fn softmax_cross_entropy() {
    let x = Tensor::randn(&[5, 3], 1);
    let onehot = Tensor::from([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
        [0.0, 0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0, 0.0],
    ]);
    let w = Tensor::randn(&[3, 4], 2);
    let b = Tensor::from([0.1, -0.2, 0.3, 0.0]);
    let (gw, gb) = xent::grad(&x, &onehot, &w, &b);
    assert_eq!(gw.shape(), &[3, 4]);
    assert_eq!(gb.shape(), &[4]);
    close("dw", &gw.to_vec(), &cd_t(|w| xent(&x, &onehot, w, &b), &w), 1e-7);
    close("db", &gb.to_vec(), &cd_t(|b| xent(&x, &onehot, &w, b), &b), 1e-7);
    // Analytic: db = mean over rows of softmax − onehot.
    let p = (x.matmul(&w) + &b).softmax(1);
    let want = ((p - &onehot).sum_dim(0) / 5.0).to_vec();
    close("db analytic", &gb.to_vec(), &want, 1e-12);
}

// ------------------------------------------------------------------ 2. reductions with dims, logsumexp, softmax along 0

#[differentiable]
fn reductions(x: &Tensor) -> f64 {
    let lse = x.logsumexp(1); // [3]
    let m = x.mean_dim(0); // [4]
    let s = x.softmax(0); // [3,4]
    let col = s.sum_dim(1); // [3]
    (lse.clone() * lse).sum() + m.norm() + (col * Tensor::from([1.0, 2.0, 3.0])).sum() + x.max()
}

#[test]
fn reductions_with_dims() {
    let x = Tensor::from([[0.3, -1.2, 2.0, 0.5], [1.1, 0.4, -0.7, 0.2], [-0.5, 0.9, 0.1, 1.7]]);
    let g = reductions::grad(&x);
    close("reductions", &g.to_vec(), &cd_t(|x| reductions(x), &x), 1e-7);
}

// ------------------------------------------------------------------ 3. reshape, slice, at, transpose

#[differentiable]
fn shapes(x: &Tensor) -> f64 {
    let m = x.reshape(&[2, 3]);
    let right = m.slice(1, 1..3); // [2,2]
    let top = m.slice(0, 0..1).reshape(&[3]);
    let c = m.at(&[1, 2]);
    let mt = m.t(); // [3,2]
    (right.matmul(&right.t())).sum() * c + (top.clone() * top).sum() + mt.matmul(&m).at(&[0, 1])
}

#[test]
fn reshape_slice_at() {
    let x = Tensor::from([0.5, -1.0, 2.0, 0.25, 1.5, -0.75]);
    let g = shapes::grad(&x);
    close("shapes", &g.to_vec(), &cd_t(|x| shapes(x), &x), 1e-7);
}

// ------------------------------------------------------------------ 4. where_ with comparison masks (leaky relu, huber)

#[differentiable(wrt(x))]
fn leaky_huber(x: &Tensor, target: &Tensor) -> f64 {
    let zero = Tensor::zeros(x.shape());
    let leaky = x.where_(&x.gt_elem(&zero), &(x * 0.1));
    let r = leaky - target;
    let a = r.abs();
    let one = Tensor::ones(r.shape());
    let quad = &r * &r * 0.5;
    let lin = a - 0.5;
    quad.where_(&r.abs().le_elem(&one), &lin).sum()
}

#[test]
fn where_masks() {
    let x = Tensor::from([-2.0, -0.3, 0.4, 1.5, 3.0, -4.0]);
    let t = Tensor::from([0.0, 0.1, 0.2, -0.3, 0.5, 0.0]);
    let g = leaky_huber::grad(&x, &t);
    close("huber", &g.to_vec(), &cd_t(|x| leaky_huber(x, &t), &x), 1e-7);
}

// ------------------------------------------------------------------ 5. f64 scalars mixed with tensors

#[differentiable]
fn mixed(a: f64, x: &Tensor) -> f64 {
    let y = (x * a + a).exp() / a - a / (x * x + 1.0);
    let z = 2.0 - y * 0.5;
    let s = z.sum();
    s * a + (a - x).powi(2).mean()
}

#[test]
fn scalars_and_tensors() {
    let x = Tensor::from([0.3, -0.2, 0.8]);
    let (ga, gx) = mixed::grad(0.7, &x);
    let flat = |v: &[f64]| mixed(v[0], &Tensor::from(v[1..].to_vec()));
    let want = cd(flat, &[0.7, 0.3, -0.2, 0.8]);
    close("da", &[ga], &want[..1], 1e-7);
    close("dx", &gx.to_vec(), &want[1..], 1e-7);
}

// ------------------------------------------------------------------ 6. an RNN: tensors in a loop and a branch

#[differentiable(wrt(w, u, h0))]
fn rnn(w: &Tensor, u: &Tensor, h0: &Tensor, xs: &Tensor, clip: f64) -> f64 {
    let mut h = h0.clone();
    let steps = xs.shape()[0];
    let mut loss = 0.0;
    for t in 0..steps {
        let xt = xs.slice(0, t..t + 1).reshape(&[2]);
        h = (w.matmul(&h) + u.matmul(&xt)).tanh();
        if h.norm() > clip {
            h = &h * (clip / h.norm());
        }
        loss += h.at(&[0]) * (t as f64 + 1.0);
    }
    loss
}

#[test]
fn rnn_loop_branch() {
    let w = Tensor::randn(&[3, 3], 5) * 0.8;
    let u = Tensor::randn(&[3, 2], 6);
    let h0 = Tensor::from([0.1, -0.2, 0.3]);
    let xs = Tensor::randn(&[6, 2], 7);
    for clip in [0.9, 10.0] {
        let (gw, gu, gh) = rnn::grad(&w, &u, &h0, &xs, clip);
        close("rnn dw", &gw.to_vec(), &cd_t(|w| rnn(w, &u, &h0, &xs, clip), &w), 1e-6);
        close("rnn du", &gu.to_vec(), &cd_t(|u| rnn(&w, u, &h0, &xs, clip), &u), 1e-6);
        close("rnn dh0", &gh.to_vec(), &cd_t(|h| rnn(&w, &u, h, &xs, clip), &h0), 1e-6);
    }
}

// ------------------------------------------------------------------ 7. tensors in structs (a two-layer MLP)

#[derive(Clone, Debug, Differentiable)]
struct Linear {
    w: Tensor,
    b: Tensor,
}

#[derive(Clone, Debug, Differentiable)]
struct Mlp {
    l1: Linear,
    l2: Linear,
    #[no_grad]
    slope: f64,
}

#[differentiable]
fn linear(l: &Linear, x: &Tensor) -> Tensor {
    x.matmul(&l.w) + &l.b
}

#[differentiable(wrt(m))]
fn mlp_loss(m: &Mlp, x: &Tensor, y: &Tensor) -> f64 {
    let h = linear(&m.l1, x);
    let zero = Tensor::zeros(h.shape());
    let h = h.where_(&h.gt_elem(&zero), &(&h * m.slope));
    let out = linear(&m.l2, &h);
    let r = out - y;
    (&r * &r).mean()
}

fn mlp_model() -> Mlp {
    Mlp {
        l1: Linear { w: Tensor::randn(&[3, 5], 11), b: Tensor::randn(&[5], 12) * 0.1 },
        l2: Linear { w: Tensor::randn(&[5, 2], 13), b: Tensor::zeros(&[2]) },
        slope: 0.01,
    }
}

#[test]
fn struct_of_tensors() {
    let m = mlp_model();
    let x = Tensor::randn(&[8, 3], 14);
    let y = Tensor::randn(&[8, 2], 15);
    let g = mlp_loss::grad(&m, &x, &y);
    let w1 = m.l1.w.clone();
    close(
        "l1.w",
        &g.l1.w.to_vec(),
        &cd_t(|w| mlp_loss(&Mlp { l1: Linear { w: w.clone(), b: m.l1.b.clone() }, ..m.clone() }, &x, &y), &w1),
        1e-7,
    );
    close(
        "l1.b",
        &g.l1.b.to_vec(),
        &cd_t(|b| mlp_loss(&Mlp { l1: Linear { w: m.l1.w.clone(), b: b.clone() }, ..m.clone() }, &x, &y), &m.l1.b),
        1e-7,
    );
    close(
        "l2.b",
        &g.l2.b.to_vec(),
        &cd_t(|b| mlp_loss(&Mlp { l2: Linear { w: m.l2.w.clone(), b: b.clone() }, ..m.clone() }, &x, &y), &m.l2.b),
        1e-7,
    );
}

// ------------------------------------------------------------------ 8. broadcasting shapes

#[differentiable]
fn broadcast(col: &Tensor, row: &Tensor, m: &Tensor) -> f64 {
    let outer = col + row; // [3,1] + [4] -> [3,4]
    let scaled = &outer * m; // [3,4] * [3,4]
    let z = scaled / (row * row + 1.0); // [3,4] / [4]
    (z.clone() * z).sum_dim(0).sum() + (m - col).mean()
}

#[test]
fn broadcasting() {
    let col = Tensor::from([[0.5], [-1.0], [2.0]]);
    let row = Tensor::from([0.3, -0.6, 1.2, 0.1]);
    let m = Tensor::randn(&[3, 4], 21);
    let (gc, gr, gm) = broadcast::grad(&col, &row, &m);
    assert_eq!(gc.shape(), &[3, 1]);
    assert_eq!(gr.shape(), &[4]);
    close("col", &gc.to_vec(), &cd_t(|c| broadcast(c, &row, &m), &col), 1e-7);
    close("row", &gr.to_vec(), &cd_t(|r| broadcast(&col, r, &m), &row), 1e-7);
    close("m", &gm.to_vec(), &cd_t(|mm| broadcast(&col, &row, mm), &m), 1e-7);
}
