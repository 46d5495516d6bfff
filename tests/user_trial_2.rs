//! A second new user's programs (ML, robotics, scientific computing, coming
//! from PyTorch and JAX): tensors, nalgebra, forward mode and second
//! derivatives, the graph layer, optimisers, custom rules, checkpoints.
//! Every derivative is checked against central differences or an analytic
//! value.

#![allow(clippy::all)]

use autodiff::prelude::*;
use autodiff::{Differentiable, differentiable};
use nalgebra::{DMatrix, DVector, Point3, Rotation2, Rotation3, UnitQuaternion, Vector2, Vector3};

#[path = "common/reference.rs"]
mod reference;
use reference::*;

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
    close(
        "dw",
        &gw.to_vec(),
        &cd_t(|w| xent(&x, &onehot, w, &b), &w),
        1e-7,
    );
    close(
        "db",
        &gb.to_vec(),
        &cd_t(|b| xent(&x, &onehot, &w, b), &b),
        1e-7,
    );
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
    let x = Tensor::from([
        [0.3, -1.2, 2.0, 0.5],
        [1.1, 0.4, -0.7, 0.2],
        [-0.5, 0.9, 0.1, 1.7],
    ]);
    let g = reductions::grad(&x);
    close(
        "reductions",
        &g.to_vec(),
        &cd_t(|x| reductions(x), &x),
        1e-7,
    );
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
    close(
        "huber",
        &g.to_vec(),
        &cd_t(|x| leaky_huber(x, &t), &x),
        1e-7,
    );
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
        close(
            "rnn dw",
            &gw.to_vec(),
            &cd_t(|w| rnn(w, &u, &h0, &xs, clip), &w),
            1e-6,
        );
        close(
            "rnn du",
            &gu.to_vec(),
            &cd_t(|u| rnn(&w, u, &h0, &xs, clip), &u),
            1e-6,
        );
        close(
            "rnn dh0",
            &gh.to_vec(),
            &cd_t(|h| rnn(&w, &u, h, &xs, clip), &h0),
            1e-6,
        );
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
        l1: Linear {
            w: Tensor::randn(&[3, 5], 11),
            b: Tensor::randn(&[5], 12) * 0.1,
        },
        l2: Linear {
            w: Tensor::randn(&[5, 2], 13),
            b: Tensor::zeros(&[2]),
        },
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
        &cd_t(
            |w| {
                mlp_loss(
                    &Mlp {
                        l1: Linear {
                            w: w.clone(),
                            b: m.l1.b.clone(),
                        },
                        ..m.clone()
                    },
                    &x,
                    &y,
                )
            },
            &w1,
        ),
        1e-7,
    );
    close(
        "l1.b",
        &g.l1.b.to_vec(),
        &cd_t(
            |b| {
                mlp_loss(
                    &Mlp {
                        l1: Linear {
                            w: m.l1.w.clone(),
                            b: b.clone(),
                        },
                        ..m.clone()
                    },
                    &x,
                    &y,
                )
            },
            &m.l1.b,
        ),
        1e-7,
    );
    close(
        "l2.b",
        &g.l2.b.to_vec(),
        &cd_t(
            |b| {
                mlp_loss(
                    &Mlp {
                        l2: Linear {
                            w: m.l2.w.clone(),
                            b: b.clone(),
                        },
                        ..m.clone()
                    },
                    &x,
                    &y,
                )
            },
            &m.l2.b,
        ),
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
    close(
        "col",
        &gc.to_vec(),
        &cd_t(|c| broadcast(c, &row, &m), &col),
        1e-7,
    );
    close(
        "row",
        &gr.to_vec(),
        &cd_t(|r| broadcast(&col, r, &m), &row),
        1e-7,
    );
    close(
        "m",
        &gm.to_vec(),
        &cd_t(|mm| broadcast(&col, &row, mm), &m),
        1e-7,
    );
}

// ------------------------------------------------------------------ 9. nalgebra: a 3-joint arm with quaternions and rotations

#[differentiable(wrt(q))]
fn arm_tip(q: &[f64], lengths: &[f64]) -> Vector3<f64> {
    // Base yaw about z, then two pitch joints about y, links along x.
    let base = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), q[0]);
    let j1 = UnitQuaternion::from_axis_angle(&Vector3::y_axis(), q[1]);
    let j2 = UnitQuaternion::from_axis_angle(&Vector3::y_axis(), q[2]);
    let r1 = base * j1;
    let r2 = r1 * j2;
    let p1 = r1 * Vector3::new(lengths[0], 0.0, 0.0);
    let p2 = p1 + r2 * Vector3::new(lengths[1], 0.0, 0.0);
    p2
}

#[differentiable(wrt(q))]
fn reach_cost(q: &[f64], lengths: &[f64], target: &Point3<f64>) -> f64 {
    let t = arm_tip(q, lengths);
    let tip = Point3::new(t.x, t.y, t.z);
    (tip - target).norm_squared() + 0.01 * q.iter().map(|v| v * v).sum::<f64>()
}

#[test]
fn quaternion_arm() {
    let lengths = [1.0, 0.6];
    let target = Point3::new(0.7, 0.4, -0.3);
    let q = [0.3, -0.5, 0.9];
    let g = reach_cost::grad(&q, &lengths, &target);
    close(
        "arm",
        &g,
        &cd(|q| reach_cost(q, &lengths, &target), &q),
        1e-7,
    );
    // the Jacobian of the tip, row by row through vjp
    let (_, back) = arm_tip::vjp_retained(&q, &lengths);
    let flat = |q: &[f64]| {
        let t = arm_tip(q, &lengths);
        vec![t.x, t.y, t.z]
    };
    let j = cd_jac(flat, &q);
    for (k, e) in [Vector3::x(), Vector3::y(), Vector3::z()]
        .into_iter()
        .enumerate()
    {
        close("arm jac row", &back(e), &j[k], 1e-7);
    }
}

#[differentiable]
fn rot_chain(a: f64, b: f64, c: f64) -> f64 {
    let r = Rotation3::from_euler_angles(a, b, c);
    let r2 = Rotation2::new(a - c);
    let v = r * Vector3::new(1.0, 2.0, 3.0);
    let w = r2 * Vector2::new(v.x, v.y);
    let m = r * Vector3::new(0.0, 1.0, 0.0);
    w.x * v.z + m.x
}

#[test]
fn euler_rotations() {
    let (ga, gb, gc) = rot_chain::grad(0.3, -0.4, 1.1);
    close(
        "euler",
        &[ga, gb, gc],
        &cd(|v| rot_chain(v[0], v[1], v[2]), &[0.3, -0.4, 1.1]),
        1e-7,
    );
}

#[differentiable]
fn dyn_solve(a: &DMatrix<f64>, b: &DVector<f64>) -> f64 {
    let inv = a.clone().try_inverse().unwrap();
    let x = &inv * b;
    x.norm_squared() + a.determinant()
}

#[test]
fn dmatrix_inverse() {
    let a = DMatrix::from_row_slice(3, 3, &[2.0, 0.5, -1.0, 0.3, 1.0, 0.2, -0.4, 0.6, 3.0]);
    let b = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let (ga, gb) = dyn_solve::grad(&a, &b);
    let flat = |v: &[f64]| {
        dyn_solve(
            &DMatrix::from_column_slice(3, 3, &v[..9]),
            &DVector::from_column_slice(&v[9..]),
        )
    };
    let mut x0: Vec<f64> = a.as_slice().to_vec();
    x0.extend(b.iter());
    let want = cd(flat, &x0);
    close("dA", ga.as_slice(), &want[..9], 1e-7);
    close("db", gb.as_slice(), &want[9..], 1e-7);
}

// ------------------------------------------------------------------ 10. forward mode, Jacobians, Hessians on tensors

#[differentiable(forward)]
fn soft(x: &Tensor) -> Tensor {
    (x * 2.0).softmax(0)
}

#[differentiable(forward)]
fn lse(x: &Tensor) -> f64 {
    x.logsumexp(0).sum() + 0.5 * (x * x).sum()
}

/// The same with `.item()`: reverse mode and jvp are fine, second
/// derivatives are refused ("reverse mode counts `item()` as carrying no
/// gradient", which contradicts README's table row for `x.item()`).
#[differentiable(forward, first_order)]
fn lse_item(x: &Tensor) -> f64 {
    x.logsumexp(0).item() + 0.5 * (x * x).sum()
}

#[test]
fn item_first_order() {
    let x = Tensor::from([0.2, -0.5, 1.0]);
    let g = lse_item::grad(&x);
    close(
        "lse_item grad",
        &g.to_vec(),
        &cd_t(|x| lse_item(x), &x),
        1e-7,
    );
    let u = Tensor::from([0.3, 0.1, -0.7]);
    let (_, t) = lse_item::jvp(&x, &u);
    close("lse_item jvp", &[t], &[(&g * &u).sum()], 1e-12);
}

#[test]
fn softmax_jacobian_and_logsumexp_hessian() {
    let x = Tensor::from([0.2, -0.5, 1.0]);
    let j = soft::jacobian(&x);
    assert_eq!(j.shape(), &[3, 3]);
    let p = soft(&x).to_vec();
    let mut want = vec![0.0; 9];
    for i in 0..3 {
        for k in 0..3 {
            want[i * 3 + k] = 2.0 * (if i == k { p[i] } else { 0.0 } - p[i] * p[k]);
        }
    }
    close("softmax jac", &j.to_vec(), &want, 1e-12);
    // jvp against vjp: <v, J u> both ways
    let u = Tensor::from([0.3, 0.1, -0.7]);
    let v = Tensor::from([1.0, -2.0, 0.5]);
    let (_, ju) = soft::jvp(&x, &u);
    let (_, back) = soft::vjp(&x);
    let jtv = back(v.clone());
    assert!(((&ju * &v).sum() - (&jtv * &u).sum()).abs() < 1e-12);

    let h = lse::hessian(&x);
    assert_eq!(h.shape(), &[3, 3]);
    let q = x.softmax(0).to_vec();
    let mut want = vec![0.0; 9];
    for i in 0..3 {
        for k in 0..3 {
            want[i * 3 + k] = if i == k { q[i] + 1.0 } else { 0.0 } - q[i] * q[k];
        }
    }
    close("lse hessian", &h.to_vec(), &want, 1e-12);
    let hv = lse::hvp(&x, &u);
    let want_hv: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|k| want[i * 3 + k] * u.to_vec()[k]).sum())
        .collect();
    close("lse hvp", &hv.to_vec(), &want_hv, 1e-12);
}

#[differentiable(forward)]
fn physics(k: f64, c: f64, x0: f64) -> f64 {
    // damped oscillator, semi-implicit Euler, stops early when slow
    let mut x = x0;
    let mut v = 0.0;
    let dt = 0.05;
    for _ in 0..200 {
        let a = -k * x - c * v;
        v += a * dt;
        x += v * dt;
        if v.abs() + x.abs() < 1e-3 {
            break;
        }
    }
    x * x + v
}

#[test]
fn oscillator_forward_and_hessian() {
    let p = [2.0, 0.3, 1.0];
    let f = |v: &[f64]| physics(v[0], v[1], v[2]);
    let (gk, gc, gx) = physics::grad(p[0], p[1], p[2]);
    let want = cd(f, &p);
    close("osc grad", &[gk, gc, gx], &want, 1e-6);
    let (_, t) = physics::jvp(p[0], p[1], p[2], 0.3, -1.0, 2.0);
    let want_t = 0.3 * want[0] - want[1] + 2.0 * want[2];
    close("osc jvp", &[t], &[want_t], 1e-6);
    let h = physics::hessian(p[0], p[1], p[2]);
    assert_eq!(h.shape(), &[3, 3]);
    let grad_vec = |v: &[f64]| {
        let (a, b, c) = physics::grad(v[0], v[1], v[2]);
        vec![a, b, c]
    };
    let hj: Vec<f64> = cd_jac(grad_vec, &p).concat();
    close("osc hessian", &h.to_vec(), &hj, 1e-5);
    let j = physics::jacobian(p[0], p[1], p[2]);
    close("osc jacobian", &j.to_vec(), &want, 1e-6);
}

#[differentiable(forward)]
fn vec_field(x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for i in 0..x.len() {
        let left = if i > 0 { x[i - 1] } else { 0.0 };
        out[i] = x[i].sin() * left + x[i].powi(3);
    }
    out
}

#[test]
fn vector_field_jacobian() {
    let x = [0.3, -1.2, 0.8, 2.0];
    let j = vec_field::jacobian(&x);
    assert_eq!(j.shape(), &[4, 4]);
    close(
        "vf jac",
        &j.to_vec(),
        &cd_jac(|v| vec_field(v), &x).concat(),
        1e-7,
    );
}

// ------------------------------------------------------------------ 11. the graph layer, as PyTorch

#[test]
fn graph_broadcast_accumulate_retain_detach() {
    // x: [2,3] data, b: [3] bias leaf; y = ((x + b) * w).sum()
    let x = Var::new(Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    let b = Var::leaf(Tensor::from([0.1, 0.2, 0.3]));
    let w = Var::leaf(Tensor::from([[1.0], [2.0]]));
    let z = &x + &b;
    let y = (&z * &w).sum();
    y.backward_opts(None, true);
    // PyTorch: b.grad = tensor([3., 3., 3.]); w.grad = [[6.6],[15.6]]
    assert_eq!(b.grad().unwrap().to_vec(), vec![3.0, 3.0, 3.0]);
    assert_eq!(b.grad().unwrap().shape(), &[3]);
    let wg = w.grad().unwrap();
    assert_eq!(wg.shape(), &[2, 1]);
    close("w.grad", &wg.to_vec(), &[6.6, 15.6], 1e-12);
    assert!(z.grad().is_none());
    // second backward accumulates
    y.backward();
    assert_eq!(b.grad().unwrap().to_vec(), vec![6.0, 6.0, 6.0]);
    // third backward: freed
    let err = y.try_backward().unwrap_err();
    assert!(
        err.to_string()
            .contains("backward through the graph a second time"),
        "{err}"
    );
    // detach: u = z.detach() * w, gradient flows only into w
    b.zero_grad();
    w.zero_grad();
    let u = (z.detach() * &w).sum();
    u.backward();
    assert_eq!(b.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.0]);
    close(
        "w.grad detach",
        &w.grad().unwrap().to_vec(),
        &[6.6, 15.6],
        1e-12,
    );
    assert_eq!(format!("{}", y), "tensor(37.8000, grad_fn=<SumBackward0>)");
}

#[differentiable]
fn gelu_like(x: &Tensor) -> Tensor {
    x * (x * 1.702).sigmoid()
}

#[test]
fn graph_record_and_eager_agree() {
    let x = Var::leaf(Tensor::from([-1.0, 0.5, 2.0]));
    let y = gelu_like::record(&x);
    let loss = (&y * &y).sum();
    loss.backward();
    let via_record = x.grad().unwrap();
    let x2 = Var::leaf(Tensor::from([-1.0, 0.5, 2.0]));
    let y2 = &x2 * (&x2 * 1.702).sigmoid();
    (&y2 * &y2).sum().backward();
    close(
        "record vs eager",
        &via_record.to_vec(),
        &x2.grad().unwrap().to_vec(),
        1e-14,
    );
    let f = |v: &Tensor| {
        let y = gelu_like(v);
        (&y * &y).sum()
    };
    close(
        "record vs cd",
        &via_record.to_vec(),
        &cd_t(f, &x.data()),
        1e-7,
    );
    assert_eq!(y.grad_fn(), Some("<GeluLikeBackward>".to_string()));
}

#[test]
fn vector_field_vjp_only() {
    let x = [0.3, -1.2, 0.8, 2.0];
    let (_, back) = vec_field::vjp(&x);
    let row = back(vec![1.0, 0.0, 0.0, 0.0]);
    close("vf row 0", &row, &cd_jac(|v| vec_field(v), &x)[0], 1e-7);
}

#[test]
fn vector_field_jvp_only() {
    let x = [0.3, -1.2, 0.8, 2.0];
    let (_, t) = vec_field::jvp(&x, &[1.0, 0.0, 0.0, 0.0]);
    let j = cd_jac(|v| vec_field(v), &x);
    close(
        "vf col 0",
        &t,
        &j.iter().map(|r| r[0]).collect::<Vec<_>>(),
        1e-7,
    );
}

// ------------------------------------------------------------------ 12. BUG: a guarded neighbour index is evaluated unguarded in the reverse

/// The reverse sums each iteration's contributions to `x[i - 1]` in a
/// register and writes it with `acc_index(.., &(i - 1), ..)` *after* the
/// branch, unconditionally: at i = 0 the index `i - 1` underflows (a debug
/// panic "attempt to subtract with overflow"; release: index usize::MAX).
#[differentiable]
fn left_neighbour_in_branch(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if i > 0 {
            s += x[i] * x[i - 1];
        }
    }
    s
}

/// The same guard the other way: x[i + 1] under `if i + 1 < n`.
#[differentiable]
fn right_neighbour_in_branch(x: &[f64]) -> f64 {
    let mut s = 0.0;
    let n = x.len();
    for i in 0..n {
        if i + 1 < n {
            s += x[i] * x[i + 1];
        }
    }
    s
}

fn neighbours_want(x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|k| {
            (if k > 0 { x[k - 1] } else { 0.0 }) + (if k + 1 < x.len() { x[k + 1] } else { 0.0 })
        })
        .collect()
}

#[test]
fn guarded_left_neighbour() {
    let x = [0.3, -1.2, 0.8, 2.0];
    close(
        "left",
        &left_neighbour_in_branch::grad(&x),
        &neighbours_want(&x),
        1e-12,
    );
}

#[test]
fn guarded_right_neighbour() {
    let x = [0.3, -1.2, 0.8, 2.0];
    let g = right_neighbour_in_branch::grad(&x);
    close("right", &g, &neighbours_want(&x), 1e-12);
}

/// The same guard written with `continue`, `break` or `match` panics too.
#[differentiable]
fn left_neighbour_continue(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if i == 0 {
            continue;
        }
        s += x[i - 1] * x[i];
    }
    s
}

#[differentiable]
fn right_neighbour_break(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i];
        if i + 1 == x.len() {
            break;
        }
        s += x[i + 1] * x[i];
    }
    s
}

#[differentiable]
fn left_neighbour_match(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        match i {
            0 => s += x[0],
            _ => s += x[i - 1] * x[i],
        }
    }
    s
}

/// Not affected: a `Vec<f64>` field of a struct, `&[Vec<f64>]` rows, a
/// local copy, a `while` counter, `checked_sub` in `if let`.
#[differentiable]
fn left_neighbour_local_copy(x: &[f64]) -> f64 {
    let y = x.to_vec();
    let mut s = 0.0;
    for i in 0..y.len() {
        if i > 0 {
            s += y[i - 1] * y[i];
        }
    }
    s
}

#[differentiable]
fn left_neighbour_checked(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if let Some(j) = i.checked_sub(1) {
            s += x[j] * x[i];
        }
    }
    s
}

#[test]
fn guarded_neighbour_other_guards() {
    let x = [1.0, 2.0, 3.0];
    close(
        "continue",
        &left_neighbour_continue::grad(&x),
        &[2.0, 4.0, 2.0],
        1e-15,
    );
    close(
        "break",
        &right_neighbour_break::grad(&x),
        &[3.0, 5.0, 3.0],
        1e-15,
    );
    close(
        "match",
        &left_neighbour_match::grad(&x),
        &[3.0, 4.0, 2.0],
        1e-15,
    );
}

#[test]
fn guarded_neighbour_workarounds() {
    let x = [1.0, 2.0, 3.0];
    close(
        "local copy",
        &left_neighbour_local_copy::grad(&x),
        &[2.0, 4.0, 2.0],
        1e-15,
    );
    close(
        "checked_sub",
        &left_neighbour_checked::grad(&x),
        &[2.0, 4.0, 2.0],
        1e-15,
    );
}

// ------------------------------------------------------------------ 13. index patterns a stencil or a scatter writes

#[differentiable]
fn index_reassigned(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let mut k = i;
        s += x[k] * 2.0 * x[i];
        k = (k + 1) % n;
        s += x[k] * x[k] * x[i];
    }
    s
}

#[differentiable]
fn index_data_dependent(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let mut j = i;
        if x[i] > 0.0 {
            j = (i + 1) % n;
        }
        s += x[j] * x[i];
    }
    s
}

#[differentiable]
fn index_counter(x: &[f64]) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    while k < x.len() {
        s += x[k] * x[k] * (k as f64 + 1.0);
        k += 2;
    }
    s
}

#[differentiable]
fn periodic_laplacian(u: &[f64]) -> f64 {
    let n = u.len();
    let mut e = 0.0;
    for i in 0..n {
        let l = u[(i + n - 1) % n];
        let r = u[(i + 1) % n];
        let lap = l - 2.0 * u[i] + r;
        e += lap * lap;
    }
    e
}

#[differentiable]
fn write_then_read(x: &[f64]) -> f64 {
    let n = x.len();
    let mut buf = vec![0.0; n];
    for i in 0..n {
        buf[i] = x[i] * x[i];
        if i > 0 {
            buf[i] += buf[i - 1] * 0.5;
        }
    }
    let mut s = 0.0;
    for i in 0..n {
        s += buf[i].sin();
    }
    s
}

#[test]
fn index_patterns() {
    let x = [0.3, -1.2, 0.8, 2.0, -0.4];
    close(
        "reassigned",
        &index_reassigned::grad(&x),
        &cd(|v| index_reassigned(v), &x),
        1e-7,
    );
    close(
        "data dep",
        &index_data_dependent::grad(&x),
        &cd(|v| index_data_dependent(v), &x),
        1e-7,
    );
    close(
        "counter",
        &index_counter::grad(&x),
        &cd(|v| index_counter(v), &x),
        1e-7,
    );
    close(
        "laplacian",
        &periodic_laplacian::grad(&x),
        &cd(|v| periodic_laplacian(v), &x),
        1e-7,
    );
}

#[test]
fn buffer_guarded_read() {
    let x = [0.3, -1.2, 0.8, 2.0, -0.4];
    close(
        "write/read",
        &write_then_read::grad(&x),
        &cd(|v| write_then_read(v), &x),
        1e-7,
    );
}

// ------------------------------------------------------------------ 14. optimisers on a derived struct

#[derive(Clone, Debug, Differentiable)]
struct Pendulum {
    length: f64,
    damping: f64,
    w: Vec<f64>,
    bias: Tensor,
}

#[differentiable(wrt(p))]
fn pendulum_loss(p: &Pendulum, target: f64) -> f64 {
    let mut th: f64 = 1.0;
    let mut om = 0.0;
    for _ in 0..50 {
        let a = -9.81 / p.length * th.sin() - p.damping * om + p.w[0] * 0.01;
        om += 0.02 * a;
        th += 0.02 * om;
    }
    let r = th - target;
    r * r + 0.1 * (p.w[1] - 0.5).powi(2) + (&p.bias * &p.bias).sum()
}

#[test]
fn adam_and_sgd_on_a_struct() {
    use autodiff::optim::{Adam, Optimizer, Sgd};
    let p0 = Pendulum {
        length: 1.0,
        damping: 0.1,
        w: vec![0.0, 0.0],
        bias: Tensor::from([0.3, -0.3]),
    };
    let g = pendulum_loss::grad(&p0, 0.2);
    let flat = |v: &[f64]| {
        pendulum_loss(
            &Pendulum {
                length: v[0],
                damping: v[1],
                w: vec![v[2], v[3]],
                bias: Tensor::from(vec![v[4], v[5]]),
            },
            0.2,
        )
    };
    let want = cd(flat, &[1.0, 0.1, 0.0, 0.0, 0.3, -0.3]);
    let mut got = vec![g.length, g.damping];
    got.extend(&g.w);
    got.extend(g.bias.to_vec());
    close("pendulum grad", &got, &want, 1e-6);

    let mut p = p0.clone();
    let mut opt = Adam::new(0.01);
    let l0 = pendulum_loss(&p, 0.2);
    for _ in 0..300 {
        let g = pendulum_loss::grad(&p, 0.2);
        opt.step(&mut p, &g);
    }
    let l1 = pendulum_loss(&p, 0.2);
    assert!(l1 < 0.05 * l0, "adam: {l0} -> {l1}");

    // SGD, one step by hand
    let mut q = p0.clone();
    let mut sgd = Sgd::new(0.1);
    sgd.step(&mut q, &g);
    assert!((q.length - (1.0 - 0.1 * g.length)).abs() < 1e-15);
    assert!((q.w[1] - (0.0 - 0.1 * g.w[1])).abs() < 1e-15);
    close(
        "sgd bias",
        &q.bias.to_vec(),
        &[
            0.3 - 0.1 * g.bias.to_vec()[0],
            -0.3 - 0.1 * g.bias.to_vec()[1],
        ],
        1e-15,
    );
}

// ------------------------------------------------------------------ 15. a custom rule on tensors (a stable softplus) used in a network

#[differentiable(vjp = softplus_vjp)]
fn softplus(x: &Tensor) -> Tensor {
    x.relu() + (-x.abs()).exp().ln_1p()
}

fn softplus_vjp(
    x: &Tensor,
) -> (
    Tensor,
    impl FnOnce(Tensor) -> (Tensor,) + Clone + 'static + use<>,
) {
    let y = softplus(x);
    let s = x.sigmoid();
    (y, move |g: Tensor| (g * s,))
}

#[differentiable(wrt(w))]
fn softplus_net(w: &Tensor, x: &Tensor) -> f64 {
    let h = softplus(&x.matmul(w));
    let mut total = 0.0;
    for k in 0..2 {
        total += softplus(&(&h * (k as f64 + 1.0))).sum();
    }
    total
}

#[test]
fn custom_rule_on_tensors() {
    let w = Tensor::randn(&[3, 2], 31);
    let x = Tensor::randn(&[4, 3], 32) * 3.0;
    let g = softplus_net::grad(&w, &x);
    close(
        "softplus net",
        &g.to_vec(),
        &cd_t(|w| softplus_net(w, &x), &w),
        1e-7,
    );
}

// ------------------------------------------------------------------ 16. checkpointed tensor loop (a small neural ODE)

#[differentiable(wrt(w, y0))]
fn node(w: &Tensor, y0: &Tensor, steps: usize) -> f64 {
    let mut y = y0.clone();
    let dt = 0.1;
    #[checkpoint(every = 3)]
    for _ in 0..steps {
        let f = w.matmul(&y).tanh();
        y = &y + &(f * dt);
    }
    (&y * &y).sum()
}

#[differentiable(wrt(w, y0))]
fn node_plain(w: &Tensor, y0: &Tensor, steps: usize) -> f64 {
    let mut y = y0.clone();
    let dt = 0.1;
    for _ in 0..steps {
        let f = w.matmul(&y).tanh();
        y = &y + &(f * dt);
    }
    (&y * &y).sum()
}

#[test]
fn checkpointed_tensor_loop() {
    let w = Tensor::randn(&[3, 3], 41);
    let y0 = Tensor::from([0.5, -0.2, 0.1]);
    for steps in [0, 1, 7, 20] {
        let (gw, gy) = node::grad(&w, &y0, steps);
        let (pw, py) = node_plain::grad(&w, &y0, steps);
        assert_eq!(gw.to_vec(), pw.to_vec(), "steps {steps}");
        assert_eq!(gy.to_vec(), py.to_vec(), "steps {steps}");
        close(
            "node dw",
            &gw.to_vec(),
            &cd_t(|w| node(w, &y0, steps), &w),
            1e-7,
        );
        close(
            "node dy0",
            &gy.to_vec(),
            &cd_t(|y| node(&w, y, steps), &y0),
            1e-7,
        );
    }
}

// ------------------------------------------------------------------ 17. generic helpers

#[differentiable]
fn poly<const N: usize>(c: [f64; N], t: f64) -> f64 {
    let mut acc = 0.0;
    for i in (0..N).rev() {
        acc = acc * t + c[i];
    }
    acc
}

#[differentiable(wrt(x))]
fn apply_weights<F: Fn(usize) -> f64>(x: &[f64], weight: F) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += weight(i) * x[i].powi(2);
    }
    s
}

#[differentiable]
fn uses_generics(a: f64, b: f64) -> f64 {
    let p = poly([a, b, a * b], 0.5);
    let q = apply_weights(&[a, b], |i| i as f64 + 1.0);
    p * q
}

#[test]
fn generic_helpers() {
    let (gc, gt) = poly::grad([1.0, 2.0, 3.0], 0.5);
    close("poly dc", &gc, &[1.0, 0.5, 0.25], 1e-15);
    close("poly dt", &[gt], &[2.0 + 2.0 * 3.0 * 0.5], 1e-15);
    let (ga, gb) = uses_generics::grad(0.7, -1.3);
    close(
        "generics",
        &[ga, gb],
        &cd(|v| uses_generics(v[0], v[1]), &[0.7, -1.3]),
        1e-7,
    );
}

// ------------------------------------------------------------------ 18. vjp with non-scalar and tuple outputs, retained pullbacks

#[differentiable]
fn two_heads(w: &Tensor, x: &Tensor) -> (Tensor, f64) {
    let h = x.matmul(w).tanh();
    let score = h.sum_dim(1);
    (score, h.norm())
}

#[test]
fn tuple_output_retained() {
    let w = Tensor::randn(&[3, 2], 51);
    let x = Tensor::randn(&[4, 3], 52);
    let (_, back) = two_heads::vjp_retained(&w, &x);
    let v1 = Tensor::from([1.0, -1.0, 0.5, 2.0]);
    let v2 = Tensor::from([0.0, 3.0, 0.0, -1.0]);
    let (a1w, a1x) = back((v1.clone(), 0.7));
    let (a2w, _) = back((v2.clone(), 0.0));
    let (a3w, a3x) = back((v1.clone(), 0.7));
    assert_eq!(a1w.to_vec(), a3w.to_vec());
    assert_eq!(a1x.to_vec(), a3x.to_vec());
    let f1 = |w: &Tensor| {
        let (s, n) = two_heads(w, &x);
        (s * &v1).sum() + 0.7 * n
    };
    let f2 = |w: &Tensor| (two_heads(w, &x).0 * &v2).sum();
    close("head 1", &a1w.to_vec(), &cd_t(f1, &w), 1e-7);
    close("head 2", &a2w.to_vec(), &cd_t(f2, &w), 1e-7);
    // linearity: back(v1 + v2) = back(v1) + back(v2)
    let (sw, _) = back((&v1 + &v2, 0.7));
    let sum: Vec<f64> = a1w
        .to_vec()
        .iter()
        .zip(a2w.to_vec())
        .map(|(a, b)| a + b)
        .collect();
    close("linear", &sw.to_vec(), &sum, 1e-12);
}

// ------------------------------------------------------------------ 19. tensor ops with the scalar on the left, powf, clamp, maximum

#[differentiable]
fn left_scalars(x: &Tensor, p: f64) -> f64 {
    let a = 2.0 / (x * x + 1.0);
    let b = 1.0 - x;
    let c = (x.abs() + 0.5).powf(p);
    let d = x.clamp(-0.5, 0.8);
    let e = x.maximum(&(b.clone() * 0.3));
    (a * b).sum() + c.sum() + d.mean() + e.sum() + (x * p).exp().mean()
}

#[test]
fn scalar_left_operands() {
    let x = Tensor::from([-1.3, -0.2, 0.45, 1.7]);
    let (gx, gp) = left_scalars::grad(&x, 1.3);
    close(
        "dx",
        &gx.to_vec(),
        &cd_t(|x| left_scalars(x, 1.3), &x),
        1e-7,
    );
    close("dp", &[gp], &cd(|v| left_scalars(&x, v[0]), &[1.3]), 1e-7);
}

// ------------------------------------------------------------------ 20. tensors indexed in loops (at and slice with the counter)

// Once a bug (did not compile: the reverse passed `unreachable!()` as an
// index built from loop counters, `x.at(&[i, i % 3])`); fixed, checked here.
mod tensor_at_counter_arithmetic {
    use super::*;
    #[differentiable]
    fn tensor_loop_index(x: &Tensor) -> f64 {
        let n = x.shape()[0];
        let mut s = 0.0;
        for i in 0..n {
            let row = x.slice(0, i..i + 1); // [1, 3]
            s += row.sum() * x.at(&[i, i % 3]);
            if i + 1 < n {
                s += (x.slice(0, i + 1..i + 2) - row).powi(2).sum();
            }
        }
        s
    }

    #[test]
    fn tensor_index_in_loop() {
        let x = Tensor::randn(&[4, 3], 61);
        let g = tensor_loop_index::grad(&x);
        close(
            "tensor loop",
            &g.to_vec(),
            &cd_t(|x| tensor_loop_index(x), &x),
            1e-7,
        );
    }
}

#[differentiable]
fn tensor_loop_index_plain(x: &Tensor) -> f64 {
    let n = x.shape()[0];
    let mut s = 0.0;
    for i in 0..n {
        let row = x.slice(0, i..i + 1); // [1, 3]
        s += row.sum() * x.at(&[i, 0]);
        if i + 1 < n {
            s += (x.slice(0, i + 1..i + 2) - row).powi(2).sum();
        }
    }
    s
}

#[test]
fn tensor_index_in_loop_plain() {
    let x = Tensor::randn(&[4, 3], 61);
    let g = tensor_loop_index_plain::grad(&x);
    close(
        "tensor loop",
        &g.to_vec(),
        &cd_t(|x| tensor_loop_index_plain(x), &x),
        1e-7,
    );
}

// ------------------------------------------------------------------ 21. forward mode on tensors and nalgebra, Hessians of mixed parameters

#[differentiable(forward)]
fn mixed_hess(x: &Tensor, a: f64) -> f64 {
    let y = (x * a).sin();
    (&y * x).sum() + a * a * x.norm()
}

#[test]
fn mixed_parameter_hessian() {
    let x = Tensor::from([0.3, -0.8, 1.1]);
    let a = 0.7;
    let h = mixed_hess::hessian(&x, a);
    assert_eq!(h.shape(), &[4, 4]);
    let flat_grad = |v: &[f64]| {
        let (gx, ga) = mixed_hess::grad(&Tensor::from(v[..3].to_vec()), v[3]);
        let mut out = gx.to_vec();
        out.push(ga);
        out
    };
    let want = cd_jac(flat_grad, &[0.3, -0.8, 1.1, 0.7]).concat();
    close("mixed hessian", &h.to_vec(), &want, 1e-6);
    let (hx, ha) = mixed_hess::hvp(&x, a, &Tensor::from([1.0, 0.0, 0.0]), 0.0);
    close(
        "hvp col 0",
        &[hx.to_vec(), vec![ha]].concat(),
        &[want[0], want[4], want[8], want[12]],
        1e-6,
    );
}

// Forward mode refuses nalgebra values (a clear message, at the use of
// `jvp`/`hvp`):
//   error[E0080]: evaluation panicked: forward mode cannot differentiate
//   `frame_energy`: its tangent would not be a `Vector3<f64>` (forward mode
//   supports values of type f64, Tensor, Vec<f64>, [f64; N], slices, and
//   structs deriving `Differentiable`)
// README's forward-mode section does not say so (its nalgebra section
// lists nalgebra without restriction). `frame_energy::hessian` does not
// exist at all (E0425 "cannot find function `hessian`").
#[differentiable]
fn frame_energy(p: Vector3<f64>, axis_angle: f64) -> f64 {
    let r = Rotation3::from_axis_angle(&Vector3::z_axis(), axis_angle);
    let q = r * p;
    q.cross(&p).norm_squared() + q.dot(&Vector3::new(1.0, 0.0, 0.0))
}

#[test]
fn nalgebra_reverse_mode_frame() {
    let p = Vector3::new(0.4, -0.3, 1.2);
    let (gp, gt) = frame_energy::grad(p, 0.6);
    let f = |v: &[f64]| frame_energy(Vector3::new(v[0], v[1], v[2]), v[3]);
    let want = cd(f, &[0.4, -0.3, 1.2, 0.6]);
    close("frame grad", &[gp.x, gp.y, gp.z, gt], &want, 1e-7);
}

// ------------------------------------------------------------------ 22. more of the graph layer

#[test]
fn graph_shared_subgraph_and_backward_with() {
    // PyTorch:
    //   x = torch.tensor([1., 2., 3.], requires_grad=True)
    //   y = x * x; z = y.softmax(0); u = (z * y).sum() + y.logsumexp(0)
    //   u.backward()
    let x = Var::leaf(Tensor::from([1.0, 2.0, 3.0]));
    let y = &x * &x;
    let z = y.softmax(0);
    let u = (&z * &y).sum() + y.logsumexp(0);
    u.backward();
    let f = |v: &Tensor| {
        let y = v * v;
        let z = y.softmax(0);
        (&z * &y).sum() + y.logsumexp(0).item()
    };
    close(
        "shared",
        &x.grad().unwrap().to_vec(),
        &cd_t(f, &Tensor::from([1.0, 2.0, 3.0])),
        1e-7,
    );

    // backward_with on a non-scalar; where_ and maximum with a mask
    let a = Var::leaf(Tensor::from([[1.0, -2.0], [0.5, 3.0]]));
    let zero = Tensor::zeros(&[2, 2]);
    let m = a.where_(&a.data().gt_elem(&zero), &(&a * 0.1));
    let w = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    m.backward_with(&w);
    assert_eq!(a.grad().unwrap().to_vec(), vec![1.0, 0.2, 3.0, 4.0]);
    // scalar output without gradient argument on a non-scalar
    let b = Var::leaf(Tensor::from([1.0, 2.0]));
    let c = &b * 2.0;
    let err = c.try_backward().unwrap_err();
    assert!(
        err.to_string()
            .contains("grad can be implicitly created only for scalar outputs"),
        "{err}"
    );
}

#[test]
fn graph_retain_grad_and_second_backward() {
    let x = Var::leaf(Tensor::scalar(2.0));
    let y = &x * &x;
    y.retain_grad();
    let z = y.exp() + &y;
    z.backward_opts(None, true);
    // dz/dy = e^4 + 1, dz/dx = 2x (e^4 + 1)
    let e4 = 4f64.exp();
    close("y.grad", &y.grad().unwrap().to_vec(), &[e4 + 1.0], 1e-12);
    close(
        "x.grad",
        &x.grad().unwrap().to_vec(),
        &[4.0 * (e4 + 1.0)],
        1e-12,
    );
    z.backward();
    close(
        "y.grad x2",
        &y.grad().unwrap().to_vec(),
        &[2.0 * (e4 + 1.0)],
        1e-12,
    );
    close(
        "x.grad x2",
        &x.grad().unwrap().to_vec(),
        &[8.0 * (e4 + 1.0)],
        1e-12,
    );
    assert_eq!(
        format!("{}", x.grad().unwrap()),
        format!("{}", Tensor::scalar(8.0 * (e4 + 1.0)))
    );
}

// ------------------------------------------------------------------ 23. the per-iteration accumulation of x[i] under exits and moving indices

#[differentiable]
fn moving_counter(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    let mut k = 0;
    while k + 1 < n {
        s += x[k] * x[k + 1];
        k += 1;
        s += x[k].sin() * x[0];
        k += 1;
    }
    s
}

#[differentiable]
fn break_mid_iteration(x: &[f64], #[no_grad] limit: f64) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n - 1 {
        s += x[i] * x[i];
        if s > limit {
            break;
        }
        s += x[i + 1].exp() * x[i];
    }
    s
}

#[differentiable]
fn continue_mid_iteration(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n - 1 {
        s += x[i] * 0.5;
        if x[i] < 0.0 {
            continue;
        }
        s += x[i] * x[i + 1];
    }
    s
}

#[differentiable]
fn return_mid_iteration(x: &[f64], #[no_grad] limit: f64) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n - 1 {
        s += x[i].powi(3);
        if s > limit {
            return s * x[i + 1];
        }
        s += x[i + 1];
    }
    s
}

#[differentiable]
fn nested_pairs(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in 0..i {
            s += (x[i] - x[j]).powi(2) * x[i];
        }
        s += x[i];
    }
    s
}

#[test]
fn accumulation_under_exits() {
    let x = [0.3, -1.2, 0.8, 2.0, -0.4, 0.9];
    close(
        "moving counter",
        &moving_counter::grad(&x),
        &cd(|v| moving_counter(v), &x),
        1e-7,
    );
    for limit in [0.5, 1.0, 3.0, 100.0] {
        let g = break_mid_iteration::grad(&x, limit);
        close(
            "break",
            &g,
            &cd(|v| break_mid_iteration(v, limit), &x),
            1e-7,
        );
        let g = return_mid_iteration::grad(&x, limit);
        close(
            "return",
            &g,
            &cd(|v| return_mid_iteration(v, limit), &x),
            1e-7,
        );
    }
    close(
        "continue",
        &continue_mid_iteration::grad(&x),
        &cd(|v| continue_mid_iteration(v), &x),
        1e-7,
    );
    close(
        "nested",
        &nested_pairs::grad(&x),
        &cd(|v| nested_pairs(v), &x),
        1e-7,
    );
}

// ------------------------------------------------------------------ 24. second order on tensor code: matrices, calls, loops

#[differentiable(forward)]
fn layer(w: &Tensor, x: &Tensor) -> Tensor {
    x.matmul(w).tanh()
}

#[differentiable(forward)]
fn deep(w: &Tensor, x: &Tensor, y: &Tensor) -> f64 {
    let mut h = x.clone();
    for _ in 0..3 {
        h = layer(w, &h);
    }
    let logp = h.log_softmax(1);
    -(logp * y).sum() + 0.1 * (w * w).sum()
}

#[test]
fn second_order_tensor_network() {
    let w = Tensor::randn(&[3, 3], 71) * 0.7;
    let x = Tensor::randn(&[2, 3], 72);
    let y = Tensor::from([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
    let (gw, gx, gy) = deep::grad(&w, &x, &y);
    close(
        "deep dw",
        &gw.to_vec(),
        &cd_t(|w| deep(w, &x, &y), &w),
        1e-7,
    );
    close(
        "deep dx",
        &gx.to_vec(),
        &cd_t(|x| deep(&w, x, &y), &x),
        1e-7,
    );
    close(
        "deep dy",
        &gy.to_vec(),
        &cd_t(|y| deep(&w, &x, y), &y),
        1e-7,
    );
    // H_ww · v against differences of the reverse gradient
    let v = Tensor::randn(&[3, 3], 73);
    let (hw, hx, hy) = deep::hvp(
        &w,
        &x,
        &y,
        &v,
        &Tensor::zeros(&[2, 3]),
        &Tensor::zeros(&[2, 3]),
    );
    let eps = 1e-5;
    let gp = deep::grad(&(&w + &(&v * eps)), &x, &y);
    let gm = deep::grad(&(&w - &(&v * eps)), &x, &y);
    let fd = |a: &Tensor, b: &Tensor| ((a - b) / (2.0 * eps)).to_vec();
    close("hvp ww", &hw.to_vec(), &fd(&gp.0, &gm.0), 1e-6);
    close("hvp xw", &hx.to_vec(), &fd(&gp.1, &gm.1), 1e-6);
    close("hvp yw", &hy.to_vec(), &fd(&gp.2, &gm.2), 1e-6);
    // the full Hessian is (9+6+6)^2
    let h = deep::hessian(&w, &x, &y);
    assert_eq!(h.shape(), &[21, 21]);
    let hv = h.to_vec();
    // column 4 of H (w[1][1]) against hvp with e_4
    let mut e = vec![0.0; 9];
    e[4] = 1.0;
    let (c_w, c_x, c_y) = deep::hvp(
        &w,
        &x,
        &y,
        &Tensor::from_vec(e, &[3, 3]),
        &Tensor::zeros(&[2, 3]),
        &Tensor::zeros(&[2, 3]),
    );
    let col: Vec<f64> = (0..21).map(|r| hv[r * 21 + 4]).collect();
    close(
        "hessian col",
        &col,
        &[c_w.to_vec(), c_x.to_vec(), c_y.to_vec()].concat(),
        1e-10,
    );
}

#[differentiable(forward)]
fn jac2d(x: &Tensor) -> Tensor {
    // [2,3] -> [3,2], not elementwise
    let s = x.softmax(1);
    (s.t() * x.sum_dim(0).reshape(&[3, 1])).exp()
}

#[differentiable(forward)]
fn jac_wide(x: &Tensor) -> Tensor {
    // [3,2] -> [2]: reverse rows
    (x * x).sum_dim(0).sqrt() + x.at(&[2, 1])
}

#[test]
fn jacobian_layout_2d() {
    let x = Tensor::from([[0.3, -0.4, 1.2], [0.7, 0.1, -0.9]]);
    let j = jac2d::jacobian(&x);
    assert_eq!(j.shape(), &[3, 2, 2, 3]);
    let want = cd_jac(
        |v| jac2d(&Tensor::from_vec(v.to_vec(), &[2, 3])).to_vec(),
        &x.to_vec(),
    )
    .concat();
    close("jac 2d", &j.to_vec(), &want, 1e-7);
    let x2 = Tensor::from([[0.3, -0.4], [1.2, 0.7], [0.1, -0.9]]);
    let j2 = jac_wide::jacobian(&x2);
    assert_eq!(j2.shape(), &[2, 3, 2]);
    let want = cd_jac(
        |v| jac_wide(&Tensor::from_vec(v.to_vec(), &[3, 2])).to_vec(),
        &x2.to_vec(),
    )
    .concat();
    close("jac wide", &j2.to_vec(), &want, 1e-7);
}

#[differentiable(forward)]
fn pw(x: &Tensor, a: f64) -> f64 {
    let r = (x * a).relu() + x.abs() * a - x.maximum(&(x * 0.5));
    (&r * &r).sum() + a.max(0.3) * a
}

#[test]
fn piecewise_second_order() {
    let x = Tensor::from([0.4, -0.7, 1.3]);
    let a = 0.9;
    let h = pw::hessian(&x, a);
    let flat_grad = |v: &[f64]| {
        let (gx, ga) = pw::grad(&Tensor::from(v[..3].to_vec()), v[3]);
        let mut out = gx.to_vec();
        out.push(ga);
        out
    };
    close(
        "pw hessian",
        &h.to_vec(),
        &cd_jac(flat_grad, &[0.4, -0.7, 1.3, 0.9]).concat(),
        1e-6,
    );
}

#[differentiable(forward)]
fn slope_t(x: &Tensor) -> f64 {
    let g = lse::grad(x);
    (&g * &g).sum()
}

#[test]
fn grad_inside_differentiable_tensor() {
    let x = Tensor::from([0.2, -0.5, 1.0]);
    let g = slope_t::grad(&x);
    close("grad of grad", &g.to_vec(), &cd_t(|x| slope_t(x), &x), 1e-7);
}

// ------------------------------------------------------------------ 25. nn.Module style: methods on derived structs

#[derive(Clone, Debug, Differentiable)]
struct Lin {
    w: Tensor,
    b: Tensor,
}

#[differentiable]
fn lin(l: &Lin, x: &Tensor) -> Tensor {
    x.matmul(&l.w) + &l.b
}

#[derive(Clone, Debug, Differentiable)]
struct Net {
    a: Lin,
    c: Lin,
}

impl Net {
    // `self.a.forward(x)` with `#[differentiable] fn forward(&self, ..)` on
    // `Lin` is refused ("cannot differentiate the method `forward`: it uses
    // `self`, which carries a gradient ... or use a differentiable method"),
    // as is `Lin::forward(&self.a, x)`: only `self.other(..)` of the same
    // type is understood. A free function works:
    #[differentiable]
    fn loss(&self, x: &Tensor, y: &Tensor) -> f64 {
        let act = |t: &Tensor| t.tanh() * 2.0;
        let h = act(&lin(&self.a, x));
        let o = lin(&self.c, &h);
        (o - y).powi(2).mean()
    }
}

#[test]
fn module_style_methods() {
    let x = Tensor::randn(&[4, 2], 81);
    let y = Tensor::randn(&[4, 1], 82);
    let net = Net {
        a: Lin {
            w: Tensor::randn(&[2, 3], 83),
            b: Tensor::from([0.1, 0.0, -0.1]),
        },
        c: Lin {
            w: Tensor::randn(&[3, 1], 84),
            b: Tensor::zeros(&[1]),
        },
    };
    let (g, gx, _gy) = net.loss_grad(&x, &y);
    let with_aw = |w: &Tensor| {
        Net {
            a: Lin {
                w: w.clone(),
                b: net.a.b.clone(),
            },
            c: net.c.clone(),
        }
        .loss(&x, &y)
    };
    close("net a.w", &g.a.w.to_vec(), &cd_t(with_aw, &net.a.w), 1e-7);
    let with_cb = |b: &Tensor| {
        Net {
            a: net.a.clone(),
            c: Lin {
                w: net.c.w.clone(),
                b: b.clone(),
            },
        }
        .loss(&x, &y)
    };
    close("net c.b", &g.c.b.to_vec(), &cd_t(with_cb, &net.c.b), 1e-7);
    close("net x", &gx.to_vec(), &cd_t(|x| net.loss(x, &y), &x), 1e-7);
}

// ------------------------------------------------------------------ 26. broadcast masks and where_ with a broadcast `other`

#[differentiable]
fn masked_fill(x: &Tensor, fill: &Tensor) -> f64 {
    // fill: [1] broadcast into x's [2,3]; mask from a comparison with a 0-d tensor
    let mask = x.lt_elem(&Tensor::scalar(0.2));
    let y = fill.where_(&mask, &x); // cond ? fill : x, fill broadcast
    let z = x.where_(&x.ge_elem(&Tensor::scalar(-0.5)), &Tensor::scalar(-0.5)); // clamp below
    (&y * &y).sum() + z.exp().sum()
}

#[test]
fn broadcast_where() {
    let x = Tensor::from([[0.5, -1.0, 0.1], [1.5, -0.3, 0.9]]);
    let fill = Tensor::from([0.7]);
    let (gx, gf) = masked_fill::grad(&x, &fill);
    assert_eq!(gf.shape(), &[1]);
    close(
        "where dx",
        &gx.to_vec(),
        &cd_t(|x| masked_fill(x, &fill), &x),
        1e-7,
    );
    close(
        "where dfill",
        &gf.to_vec(),
        &cd_t(|f| masked_fill(&x, f), &fill),
        1e-7,
    );
}

// ------------------------------------------------------------------ 27. the graph layer: cat/stack, ties, clamp, printing

#[test]
fn graph_cat_stack_ties() {
    let a = Var::leaf(Tensor::from([1.0, 3.0, 3.0]));
    let b = Var::leaf(Tensor::from([[2.0, 0.5, -1.0]]));
    // torch.cat([a.unsqueeze(0), b], 0) ~ Var::stack then cat
    let s = Var::stack(&[&a, &(&a * 2.0)], 0); // [2,3]
    let c = Var::cat(&[&s, &b], 0); // [3,3]
    let m = c.max(); // 6.0, tie-free
    let t = a.max(); // tie between a[1], a[2]: PyTorch gives 0.5 each
    let k = c.clamp(0.0, 2.5).sum();
    let total = &m + &t + &k;
    total.backward();
    // d/da: from stack row 0 (clamp mask) + row 1 (2 * clamp mask) + max (row 1, col 1 and col 2 tie at 6 → 0.5 each * 2) + t (0.5, 0.5)
    // c = [[1,3,3],[2,6,6],[2,.5,-1]]; clamp(0,2.5) passes where 0 <= c <= 2.5: [[1,0,0],[1,0,0],[1,1,0]]
    // max of c = 6 at two places: 0.5 each, into row 1 → a gets 2 * 0.5 at cols 1, 2
    let ga = a.grad().unwrap().to_vec();
    close(
        "a.grad",
        &ga,
        &[1.0 + 2.0 * 1.0, 0.0 + 1.0 + 0.5, 0.0 + 1.0 + 0.5],
        1e-15,
    );
    let gb = b.grad().unwrap();
    assert_eq!(gb.shape(), &[1, 3]);
    assert_eq!(gb.to_vec(), vec![1.0, 1.0, 0.0]);
    assert_eq!(
        format!("{}", a.grad().unwrap()),
        "tensor([3.0000, 1.5000, 1.5000])"
    );
    assert_eq!(total.grad_fn(), Some("<AddBackward0>".to_string()));
}

// ------------------------------------------------------------------ 28. zeros: untaken branches, the strong zero per element

#[differentiable]
fn maybe_uses(x: &Tensor, w: &Tensor, b: f64, flag: bool) -> f64 {
    if flag { (x * w).sum() + b } else { x.sum() }
}

#[differentiable]
fn safe_ratio(x: &Tensor, t: &Tensor) -> f64 {
    let zero = Tensor::zeros(t.shape());
    let r = x / t;
    let safe = r.where_(&t.ne_elem(&zero), &zero);
    let root = t.abs().sqrt();
    let safe_root = root.where_(&t.ne_elem(&zero), &zero);
    safe.sum() + safe_root.sum()
}

#[test]
fn zeros_and_strong_zero() {
    let x = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let w = Tensor::from([0.5, -0.5, 2.0]);
    #[allow(deprecated)]
    let (gx, gw, gb) = {
        let (a, b2, c) = maybe_uses::grad(&x, &w, 1.0, false);
        (a, b2, c)
    };
    assert_eq!(gx.to_vec(), vec![1.0; 6]);
    assert_eq!(gw.shape(), &[3]);
    assert_eq!(gw.to_vec(), vec![0.0; 3]);
    assert_eq!(gb, 0.0);
    let (gx, gw, gb) = maybe_uses::grad(&x, &w, 1.0, true);
    assert_eq!(gx.to_vec(), vec![0.5, -0.5, 2.0, 0.5, -0.5, 2.0]);
    assert_eq!(gw.to_vec(), vec![5.0, 7.0, 9.0]);
    assert_eq!(gb, 1.0);

    let x = Tensor::from([1.0, 2.0, 3.0]);
    let t = Tensor::from([2.0, 0.0, -4.0]);
    let (gx, gt) = safe_ratio::grad(&x, &t);
    // d/dx = 1/t where t != 0, 0 where t = 0; d/dt = -x/t² + sign(t)/(2 sqrt|t|)
    close("safe dx", &gx.to_vec(), &[0.5, 0.0, -0.25], 1e-15);
    let want_t = [
        -1.0 / 4.0 + 1.0 / (2.0 * 2f64.sqrt()),
        0.0,
        -3.0 / 16.0 - 1.0 / 4.0,
    ];
    close("safe dt", &gt.to_vec(), &want_t, 1e-15);
}

// ------------------------------------------------------------------ 29. the graph layer's edge cases, beside what PyTorch prints

#[test]
fn graph_edge_cases_as_pytorch() {
    let x = Var::leaf(Tensor::from([1.0, 2.0]));
    let d = x.detach();
    assert!(!d.requires_grad() && d.is_leaf());
    assert_eq!(format!("{x}"), "tensor([1., 2.], requires_grad=True)");
    assert_eq!(format!("{d}"), "tensor([1., 2.])");
    let s = Var::leaf(3.0);
    s.backward(); // a leaf's own backward: s.grad = 1
    assert_eq!(format!("{}", s.grad().unwrap()), "tensor(1.)");
    (&x * &x).sum().backward();
    (&x * 3.0).sum().backward();
    assert_eq!(format!("{}", x.grad().unwrap()), "tensor([5., 7.])");
    let c = Var::new(Tensor::from([1.0, 1.0]));
    assert_eq!(
        format!("{}", (&c * &x).sum()),
        "tensor(3., grad_fn=<SumBackward0>)"
    );
    assert!(c.grad().is_none());
    let z = Var::leaf(Tensor::from([1.0])).requires_grad_(false);
    let err = (&z * 2.0).sum().try_backward().unwrap_err();
    assert_eq!(
        err.to_string(),
        "element 0 of tensors does not require grad and does not have a grad_fn"
    );
    // torch: x.pow(0.5) at -1 → nan grad; sqrt at 0 → inf; norm at 0 → 0; abs/relu at 0 → 0; inf * 0 → 0
    let p = Var::leaf(Tensor::from([-1.0, 4.0]));
    p.powf(0.5).sum().backward();
    assert_eq!(format!("{}", p.grad().unwrap()), "tensor([   nan, 0.2500])");
    let r0 = Var::leaf(Tensor::from([0.0, 4.0]));
    r0.sqrt().sum().backward();
    assert_eq!(
        format!("{}", r0.grad().unwrap()),
        "tensor([   inf, 0.2500])"
    );
    let n0 = Var::leaf(Tensor::from([0.0, 0.0]));
    n0.norm().backward();
    assert_eq!(n0.grad().unwrap().to_vec(), vec![0.0, 0.0]);
    let ab = Var::leaf(Tensor::from([0.0, -2.0]));
    (ab.abs().sum() + ab.relu().sum()).backward();
    assert_eq!(format!("{}", ab.grad().unwrap()), "tensor([ 0., -1.])");
    let m = Var::leaf(Tensor::from([f64::INFINITY, 1.0]));
    (&m * 0.0).sum().backward();
    assert_eq!(m.grad().unwrap().to_vec(), vec![0.0, 0.0]);
    // printing as torch
    assert_eq!(
        format!("{}", Tensor::from([1e5, 1e-3])),
        "tensor([1.0000e+05, 1.0000e-03])"
    );
    assert_eq!(
        format!("{}", Tensor::from([100.5, 2.25])),
        "tensor([100.5000,   2.2500])"
    );
    assert_eq!(
        format!("{}", Tensor::from([f64::INFINITY, -1.0, 0.5])),
        "tensor([    inf, -1.0000,  0.5000])"
    );
}

// ------------------------------------------------------------------ 30. checkpoints: with calls, branches, Hessians, odd segment lengths

#[differentiable(forward)]
fn spring_force(x: f64, k: f64) -> f64 {
    -k * x - 0.1 * x.powi(3)
}

#[differentiable(forward)]
fn ckpt_sim(x0: f64, k: f64, steps: usize) -> f64 {
    let mut x = x0;
    let mut v = 0.0;
    #[checkpoint(every = 4)]
    for i in 0..steps {
        let f = spring_force(x, k);
        if f > 0.5 {
            v += 0.05 * f * 0.5;
        } else {
            v += 0.05 * f;
        }
        x += 0.05 * v + 1e-3 * (i as f64);
    }
    x * x + v * k
}

#[differentiable(forward)]
fn plain_sim(x0: f64, k: f64, steps: usize) -> f64 {
    let mut x = x0;
    let mut v = 0.0;
    for i in 0..steps {
        let f = spring_force(x, k);
        if f > 0.5 {
            v += 0.05 * f * 0.5;
        } else {
            v += 0.05 * f;
        }
        x += 0.05 * v + 1e-3 * (i as f64);
    }
    x * x + v * k
}

#[test]
fn checkpoint_with_calls_and_hessian() {
    for steps in [0, 1, 3, 4, 5, 17, 64] {
        let g = ckpt_sim::grad(1.2, 2.0, steps);
        let p = plain_sim::grad(1.2, 2.0, steps);
        assert_eq!(g, p, "steps {steps}");
        close(
            "ckpt grad",
            &[g.0, g.1],
            &cd(|v| ckpt_sim(v[0], v[1], steps), &[1.2, 2.0]),
            1e-6,
        );
        let h = ckpt_sim::hessian(1.2, 2.0, steps).to_vec();
        let hp = plain_sim::hessian(1.2, 2.0, steps).to_vec();
        close("ckpt hessian vs plain", &h, &hp, 1e-12);
        let gj = |v: &[f64]| {
            let (a, b) = ckpt_sim::grad(v[0], v[1], steps);
            vec![a, b]
        };
        close(
            "ckpt hessian vs cd",
            &h,
            &cd_jac(gj, &[1.2, 2.0]).concat(),
            1e-5,
        );
    }
}

// ------------------------------------------------------------------ 31. forward mode over the whole tensor vocabulary, against reverse mode

#[differentiable(forward)]
fn vocab(x: &Tensor, w: &Tensor, a: f64) -> f64 {
    let m = x.reshape(&[2, 3]);
    let h = m.matmul(w) + a; // [2,2]
    let sm = h.softmax(1);
    let ls = h.log_softmax(0);
    let lse = m.logsumexp(1); // [2]
    // `where_` has no tangent rule (README lists only digamma, clamp and
    // sin_cos as lacking one), and `clamp` is documented as lacking one:
    let leaky = m.relu() * 0.8 + &m * 0.2;
    let cl = (&m * 0.5).tanh();
    let mx = m.maximum(&(&m * a));
    let top = m.slice(1, 0..2).at(&[1, 1]);
    let mut acc = (sm * ls).sum() + lse.mean() + leaky.mean_dim(0).sum() + top * a;
    acc = acc + cl.sum() * 0.3 + mx.sum_dim(1).norm() + m.max() - m.min();
    acc + (w.t().matmul(&w)).sum() / a
        + (x * x).mean().sqrt()
        + x.sigmoid().sum()
        + (x * a).tanh().sum()
}

#[test]
fn forward_vocabulary_against_reverse() {
    let x = Tensor::from([0.3, -0.8, 1.1, -0.2, 0.65, 0.9]);
    let w = Tensor::from([[0.5, -0.1], [0.2, 0.3], [-0.7, 0.4]]);
    let a = 0.8;
    let (gx, gw, ga) = vocab::grad(&x, &w, a);
    close(
        "vocab dx",
        &gx.to_vec(),
        &cd_t(|x| vocab(x, &w, a), &x),
        1e-7,
    );
    close(
        "vocab dw",
        &gw.to_vec(),
        &cd_t(|w| vocab(&x, w, a), &w),
        1e-7,
    );
    close("vocab da", &[ga], &cd(|v| vocab(&x, &w, v[0]), &[a]), 1e-7);
    let vx = Tensor::from([1.0, 0.5, -0.3, 0.2, -1.0, 0.7]);
    let vw = Tensor::from([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]);
    let va = -0.4;
    let (_, t) = vocab::jvp(&x, &w, a, &vx, &vw, va);
    let want = (&gx * &vx).sum() + (&gw * &vw).sum() + ga * va;
    close("vocab jvp", &[t], &[want], 1e-12);
    // H v against differences of the gradient along v
    let (hx, hw, ha) = vocab::hvp(&x, &w, a, &vx, &vw, va);
    let eps = 1e-5;
    let gp = vocab::grad(&(&x + &(&vx * eps)), &(&w + &(&vw * eps)), a + va * eps);
    let gm = vocab::grad(&(&x - &(&vx * eps)), &(&w - &(&vw * eps)), a - va * eps);
    let fd = |p: &Tensor, m: &Tensor| ((p - m) / (2.0 * eps)).to_vec();
    close("vocab hvp x", &hx.to_vec(), &fd(&gp.0, &gm.0), 1e-6);
    close("vocab hvp w", &hw.to_vec(), &fd(&gp.1, &gm.1), 1e-6);
    close("vocab hvp a", &[ha], &[(gp.2 - gm.2) / (2.0 * eps)], 1e-6);
}

// Calling a reverse-only helper from a `forward` function, here
// `mlp_loss` (`#[differentiable(wrt(m))]`, no `forward`), does not say
// "add `forward` to `mlp_loss`": rustc reports
//   error[E0432]: unresolved import `mark_mlp_loss_with_differentiable_or_wrap_its_arguments_in_stop_gradient`
//        no `__ad_jvp` in `mlp_loss`
//        help: consider importing ... crate::ckpt_sim::__ad_jvp as mark___ad_jvp_with_differentiable_or_wrap_its_arguments_in_stop_gradient(m, x, y)
//   error[E0425]: cannot find function `__ad_jvp` in module `mark_mlp_loss_with_...`
//   error[E0308]: mismatched types: expected `Tensor`, found `()` (at `#[differentiable(forward)]`, in `acc`)
// The helper *is* `#[differentiable]`; the message tells the user to mark it so.
#[differentiable(forward)]
fn mlp_loss_fwd(m: &Mlp, x: &Tensor, y: &Tensor) -> f64 {
    let h = x.matmul(&m.l1.w) + &m.l1.b;
    let h = h.relu() * (1.0 - m.slope) + &h * m.slope;
    let out = h.matmul(&m.l2.w) + &m.l2.b;
    let r = out - y;
    (&r * &r).mean()
}

#[differentiable(forward)]
fn struct_forward(m: &Mlp, x: &Tensor, y: &Tensor) -> f64 {
    mlp_loss_fwd(m, x, y)
}

#[test]
fn forward_on_struct_of_tensors() {
    let m = mlp_model();
    let x = Tensor::randn(&[8, 3], 14);
    let y = Tensor::randn(&[8, 2], 15);
    let (g, _, _) = struct_forward::grad(&m, &x, &y);
    assert!((g.l1.w.to_vec()[0] - mlp_loss::grad(&m, &x, &y).l1.w.to_vec()[0]).abs() < 1e-12);
    let mut v = m.clone();
    v.l1.w = Tensor::randn(&[3, 5], 91);
    v.l1.b = Tensor::randn(&[5], 92);
    v.l2.w = Tensor::randn(&[5, 2], 93);
    v.l2.b = Tensor::randn(&[2], 94);
    let (_, t) = struct_forward::jvp(
        &m,
        &x,
        &y,
        &v,
        &Tensor::zeros(&[8, 3]),
        &Tensor::zeros(&[8, 2]),
    );
    let want = (&g.l1.w * &v.l1.w).sum()
        + (&g.l1.b * &v.l1.b).sum()
        + (&g.l2.w * &v.l2.w).sum()
        + (&g.l2.b * &v.l2.b).sum();
    close("struct jvp", &[t], &[want], 1e-12);
}

// ------------------------------------------------------------------ 32. f::record with slices, inactive parameters, the same Var twice

#[differentiable(wrt(x, y))]
fn warp(x: &[f64], y: &Tensor, scale: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        // `y.at(&[i])` here does not compile (section 20); a Vec index does
        let ix = vec![i];
        out.push((x[i] * scale).sin() * y.at(&ix));
    }
    out
}

#[test]
fn record_slices_and_shared_inputs() {
    let x = Var::leaf(Tensor::from([0.3, -0.7, 1.2]));
    let y = Var::leaf(Tensor::from([1.0, 2.0, -0.5]));
    let out = warp::record(&x, &y, 1.5);
    assert_eq!(out.grad_fn(), Some("<WarpBackward>".to_string()));
    let w = Tensor::from([1.0, -1.0, 0.5]);
    let loss = (&out * &Var::new(w.clone())).sum() + warp::record(&x, &x, 1.5).sum();
    loss.backward();
    let f = |v: &[f64]| {
        let o = warp(&v[..3], &Tensor::from(v[3..].to_vec()), 1.5);
        let o2 = warp(&v[..3], &Tensor::from(v[..3].to_vec()), 1.5);
        o.iter().zip(w.to_vec()).map(|(a, b)| a * b).sum::<f64>() + o2.iter().sum::<f64>()
    };
    let want = cd(f, &[0.3, -0.7, 1.2, 1.0, 2.0, -0.5]);
    close("record x", &x.grad().unwrap().to_vec(), &want[..3], 1e-7);
    close("record y", &y.grad().unwrap().to_vec(), &want[3..], 1e-7);
}

// ------------------------------------------------------------------ 33. more nalgebra: Euler quaternions, inverse, points, trace

#[differentiable]
fn euler_quat(a: f64, b: f64) -> f64 {
    let q = UnitQuaternion::from_euler_angles(a, b, 0.3);
    let v = q * Vector3::new(1.0, 0.0, 0.0);
    v.y
}

#[differentiable]
fn rotation_inverse(a: f64) -> f64 {
    let r = Rotation3::from_axis_angle(&Vector3::x_axis(), a);
    let back = r.inverse() * Vector3::new(0.0, 1.0, 0.0);
    back.z
}

// `p.coords.norm()` on a `Point3` parameter does not compile: rustc says
//   error[E0609]: no field `coords` on type `Matrix<f64, Const<3>, Const<1>, ArrayStorage<f64, 3, 1>>`
//   note: available fields are: `x`, `y`, `z`
// pointing at `coords` (the generated reverse reads the field on the
// point's gradient, a Vector3). Written with the coordinates instead:
#[differentiable]
fn point_distance(p: Point3<f64>, q: Point3<f64>) -> f64 {
    let d = p - q;
    d.norm() + (p.x * p.x + p.y * p.y).sqrt()
}

#[differentiable]
fn inverse_trace(m: nalgebra::Matrix3<f64>) -> f64 {
    let inv = m.try_inverse().unwrap();
    let t = m.transpose() * inv;
    t.trace()
}

#[test]
fn nalgebra_more() {
    let (ga, gb) = euler_quat::grad(0.4, -0.3);
    close(
        "euler quat",
        &[ga, gb],
        &cd(|v| euler_quat(v[0], v[1]), &[0.4, -0.3]),
        1e-7,
    );
    close(
        "inverse",
        &[rotation_inverse::grad(0.4)],
        &cd(|v| rotation_inverse(v[0]), &[0.4]),
        1e-7,
    );
    let (gp, gq) = point_distance::grad(Point3::new(1.0, 2.0, 3.0), Point3::new(0.5, -1.0, 0.2));
    let want = cd(
        |v| point_distance(Point3::new(v[0], v[1], v[2]), Point3::new(v[3], v[4], v[5])),
        &[1.0, 2.0, 3.0, 0.5, -1.0, 0.2],
    );
    close(
        "points",
        &[gp.as_slice(), gq.as_slice()].concat(),
        &want,
        1e-7,
    );
    let m = nalgebra::Matrix3::new(2.0, 0.5, -1.0, 0.3, 1.0, 0.2, -0.4, 0.6, 3.0);
    let g = inverse_trace::grad(m);
    close(
        "inverse trace",
        g.as_slice(),
        &cd(
            |v| inverse_trace(nalgebra::Matrix3::from_column_slice(v)),
            m.as_slice(),
        ),
        1e-7,
    );
}

// ------------------------------------------------------------------ 34. a tensor custom rule with a jvp (second order through it), compound assignment on tensors

#[differentiable(vjp = my_lse_vjp, jvp = my_lse_jvp, forward)]
fn my_lse(x: &Tensor) -> f64 {
    x.logsumexp(0).sum()
}

fn my_lse_vjp(x: &Tensor) -> (f64, impl FnOnce(f64) -> (Tensor,) + Clone + 'static + use<>) {
    let y = my_lse(x);
    let p = x.softmax(0);
    (y, move |g: f64| (p * g,))
}

#[differentiable(forward)]
fn my_lse_jvp(x: &Tensor, x_dot: &Tensor) -> (f64, f64) {
    let p = x.softmax(0);
    (x.logsumexp(0).sum(), (p * x_dot).sum())
}

#[differentiable(forward)]
fn uses_my_lse(x: &Tensor) -> f64 {
    my_lse(&(x * 2.0)) + (x * x).sum() * 0.5
}

#[test]
fn custom_rule_second_order_tensor() {
    let x = Tensor::from([0.2, -0.5, 1.0]);
    let g = uses_my_lse::grad(&x);
    close(
        "custom grad",
        &g.to_vec(),
        &cd_t(|x| uses_my_lse(x), &x),
        1e-7,
    );
    let p = (&x * 2.0).softmax(0).to_vec();
    let mut want = vec![0.0; 9];
    for i in 0..3 {
        for k in 0..3 {
            want[i * 3 + k] = 4.0 * (if i == k { p[i] } else { 0.0 } - p[i] * p[k])
                + if i == k { 1.0 } else { 0.0 };
        }
    }
    close(
        "custom hessian",
        &uses_my_lse::hessian(&x).to_vec(),
        &want,
        1e-12,
    );
}

#[differentiable]
fn compound_tensor(x: &Tensor, b: &Tensor, c: f64) -> f64 {
    let mut h = x.tanh();
    h += b;
    h *= c;
    h -= x;
    h /= 2.0;
    let mut s = 0.0;
    s += h.sum();
    s *= c;
    s
}

#[test]
fn compound_assignment_on_tensors() {
    let x = Tensor::from([[0.2, -0.5], [1.0, 0.3]]);
    let b = Tensor::from([0.1, 0.7]);
    let (gx, gb, gc) = compound_tensor::grad(&x, &b, 1.3);
    let f = |v: &[f64]| {
        compound_tensor(
            &Tensor::from_vec(v[..4].to_vec(), &[2, 2]),
            &Tensor::from(v[4..6].to_vec()),
            v[6],
        )
    };
    let want = cd(f, &[0.2, -0.5, 1.0, 0.3, 0.1, 0.7, 1.3]);
    close(
        "compound",
        &[gx.to_vec(), gb.to_vec(), vec![gc]].concat(),
        &want,
        1e-7,
    );
}

// ------------------------------------------------------------------ 35. Jacobians of tuple outputs, flattened in order

#[differentiable(forward)]
fn tuple_jac(x: &[f64]) -> (f64, Vec<f64>) {
    let s = x[0] * x[1];
    (s, vec![x[0].sin(), x[1] * x[2], s * x[2]])
}

#[differentiable(forward)]
fn tuple_jac_t(x: &Tensor, a: f64) -> (Tensor, f64) {
    ((x * a).exp(), x.sum() * a)
}

#[test]
fn jacobians_of_tuples() {
    let x = [0.3, -0.7, 1.2];
    let j = tuple_jac::jacobian(&x);
    let f = |v: &[f64]| {
        let (s, r) = tuple_jac(v);
        [vec![s], r].concat()
    };
    close("tuple jac", &j.to_vec(), &cd_jac(f, &x).concat(), 1e-7);
    let j2 = tuple_jac_t::jacobian(&Tensor::from([0.1, 0.2]), 0.5);
    assert_eq!(j2.shape(), &[3, 3]);
    let f2 = |v: &[f64]| {
        let (t, s) = tuple_jac_t(&Tensor::from(v[..2].to_vec()), v[2]);
        [t.to_vec(), vec![s]].concat()
    };
    close(
        "tuple jac t",
        &j2.to_vec(),
        &cd_jac(f2, &[0.1, 0.2, 0.5]).concat(),
        1e-7,
    );
}

// ------------------------------------------------------------------ reasonable code that does not compile, or is refused

// (a) An active value passed to a helper's parameter that the helper does
// not differentiate. README: "is a compile error: wrap it in
// `stop_gradient(..)`". What rustc says instead, on the attribute:
//   error[E0308]: mismatched types
//     #[differentiable]
//     ^^^^^^^^^^^^^^^^^ expected `f64`, found `()` (now: found `NotDifferentiated`, tests/ui/calls/active_into_not_differentiated.rs), arguments to this function are incorrect
//   note: function defined here: autodiff-runtime/src/cotangent.rs: pub fn acc<T: Cotangent>(dst: &mut T, v: T)
// Same with `#[no_grad] x` on the helper, and with Tensors. `stop_gradient(x)` compiles.
#[cfg(any())]
mod active_argument_to_inactive_parameter {
    #[differentiable(wrt(w))]
    fn helper(w: f64, x: f64) -> f64 {
        w * x
    }
    #[differentiable]
    fn outer(w: f64, x: f64) -> f64 {
        helper(w, x)
    }
}

// (b) Point3::from(vector) of an active vector (refused: "cannot
// differentiate the constructor or associated function `Point3::from` ...
// help: build the value from inactive data, or call a differentiable method
// (`x.sin()`), or keep active values in plain variables"; Point3::new(v.x,
// v.y, v.z) works). `r.matrix()` of an active Rotation3 (refused: "cannot
// differentiate the method `matrix`"). A differentiable method of a field,
// `self.layer.forward(x)` (refused as "cannot differentiate the method
// `forward`: ... or use a differentiable method" although it is one).
#[cfg(any())]
mod refused_nalgebra_and_methods {
    #[differentiable(wrt(q))]
    fn tip(q: &[f64]) -> f64 {
        let p = Point3::from(Vector3::new(q[0], q[1], q[2]));
        p.x
    }
    #[differentiable]
    fn m01(a: f64) -> f64 {
        Rotation3::from_euler_angles(a, 0.0, 0.0).matrix()[(0, 1)]
    }
}

// (c) A recursive differentiable function: now refused with the fix
// ("write the recursion as a loop", tests/ui/unsupported/recursion.rs);
// it was rustc's E0720 on the attribute.
#[cfg(any())]
mod recursion {
    #[differentiable]
    fn power(x: f64, n: u32) -> f64 {
        if n == 0 { 1.0 } else { x * power(x, n - 1) }
    }
}
