//! Which parameters are differentiated, and functions of a neural-network
//! shape: tensors through matrix products and calls between differentiable
//! functions.

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};
use autodiff::prelude::*;

// `#[no_grad]` excludes a parameter; integers are never differentiated.
#[differentiable]
fn scaled(x: f64, #[no_grad] scale: f64, times: usize) -> f64 {
    let mut y = x;
    for _ in 0..times {
        y = y * scale;
    }
    y
}

#[test]
fn no_grad_parameters_are_constants() {
    // One differentiated parameter: the gradient alone, not a 1-tuple.
    let g: f64 = scaled::grad(2.0, 3.0, 2);
    assert_eq!(g, 9.0);
    assert_eq!(scaled(2.0, 3.0, 2), 18.0);
}

// A parameter reassigned in the body: its gradient is that of its initial value.
#[differentiable]
fn reassigned(mut x: f64, y: f64) -> f64 {
    x = x * y;
    x = x.sin() + x;
    x * y
}

#[test]
fn reassigned_parameter() {
    let config = GradCheckConfig::default().seed(3);
    check_vjp_with(
        config,
        |(x, y): &(f64, f64)| reassigned(*x, *y),
        |(x, y): &(f64, f64), v: f64| reassigned::vjp(*x, *y).1(v),
        &(0.4, 1.7),
    )
    .unwrap();
}

// `if let` and `while let` over inactive values.
#[differentiable]
fn options(x: f64, table: &[Option<f64>]) -> f64 {
    let mut acc = x;
    for entry in table {
        if let Some(w) = entry {
            acc = acc * w + x;
        } else {
            acc = acc.sin();
        }
    }
    let mut rest: Vec<f64> = vec![0.5, 0.25];
    while let Some(w) = rest.pop() {
        acc = acc * w;
    }
    acc
}

#[test]
fn if_let_and_while_let() {
    let table = [Some(1.5), None, Some(-0.5)];
    check_vjp_with(
        GradCheckConfig::default(),
        |x: &f64| options(*x, &table),
        |x: &f64, v: f64| options::vjp(*x, &table).1(v),
        &0.3,
    )
    .unwrap();
}

// W4's shape, small: tanh(X W1 + b1) W2 + b2, softmax cross-entropy, mean.
#[differentiable]
fn dense(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    x.matmul(w) + b
}

#[differentiable(wrt(w1, b1, w2, b2))]
fn mlp_loss(
    x: &Tensor,
    labels: &Tensor,
    w1: &Tensor,
    b1: &Tensor,
    w2: &Tensor,
    b2: &Tensor,
) -> f64 {
    let hidden = dense(x, w1, b1).tanh();
    let logits = dense(&hidden, w2, b2);
    let log_probs = logits.log_softmax(1);
    -(labels * &log_probs).sum() / (x.shape()[0] as f64)
}

#[test]
fn mlp_loss_gradients() {
    let (n, d, h, k) = (5, 4, 3, 2);
    let x = Tensor::randn(&[n, d], 1);
    let mut onehot = vec![0.0; n * k];
    for i in 0..n {
        onehot[i * k + i % k] = 1.0;
    }
    let labels = Tensor::from_vec(onehot, &[n, k]);
    let w1 = Tensor::randn(&[d, h], 2) * 0.5;
    let b1 = Tensor::randn(&[h], 3) * 0.1;
    let w2 = Tensor::randn(&[h, k], 4) * 0.5;
    let b2 = Tensor::randn(&[k], 5) * 0.1;
    let (dw1, db1, dw2, db2) = mlp_loss::grad(&x, &labels, &w1, &b1, &w2, &b2);
    assert_eq!(
        (dw1.shape(), db1.shape(), dw2.shape(), db2.shape()),
        (&[d, h][..], &[h][..], &[h, k][..], &[k][..])
    );
    check_vjp_with(
        GradCheckConfig::default().directions(8),
        |(w1, b1, w2, b2): &(Tensor, Tensor, Tensor, Tensor)| mlp_loss(&x, &labels, w1, b1, w2, b2),
        |(w1, b1, w2, b2): &(Tensor, Tensor, Tensor, Tensor), v: f64| {
            mlp_loss::vjp(&x, &labels, w1, b1, w2, b2).1(v)
        },
        &(w1, b1, w2, b2),
    )
    .unwrap();
}

// Gradients on another thread: values and pullbacks are Send.
#[test]
fn gradient_on_another_thread() {
    let x = Tensor::randn(&[3, 3], 9);
    let handle = std::thread::spawn(move || {
        let (w, b) = (Tensor::eye(3), Tensor::zeros(&[3]));
        let (_, pullback) = dense::vjp(&x, &w, &b);
        let (dx, dw, db) = pullback(Tensor::ones(&[3, 3]));
        (dx.sum(), dw.shape().to_vec(), db.to_vec())
    });
    let (dx_sum, dw_shape, db) = handle.join().unwrap();
    assert_eq!(dx_sum, 9.0);
    assert_eq!(dw_shape, vec![3, 3]);
    assert_eq!(db, vec![3.0, 3.0, 3.0]);
}

// Integer bookkeeping with every compound operator, and a callee with a raw name.
#[differentiable]
fn r#type(x: f64) -> f64 {
    x * 3.0
}

#[differentiable]
fn bookkeeping(x: f64) -> f64 {
    let mut k = 17usize;
    k %= 5;
    k *= 3;
    k -= 1;
    k /= 2;
    k |= 8;
    k ^= 1;
    let mut y = x;
    for _ in 0..k {
        y = r#type(y) * 0.5;
    }
    y
}

#[test]
fn inactive_compound_assignments() {
    // k = ((17 % 5) * 3 - 1) / 2 | 8 ^ 1 = 2 | 8 ^ 1 = 11; y = x · 1.5^11.
    assert_eq!(bookkeeping::grad(2.0), 1.5f64.powi(11));
}
