//! Every primitive of the rules table, differentiated through
//! `#[differentiable]` and checked against central differences: on `f64`,
//! on tensors, and on the f64∘Tensor and broadcasting mixes.

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};
use autodiff::prelude::*;

fn config() -> GradCheckConfig {
    GradCheckConfig::default().directions(5).seed(11)
}

/// Generates an f64 → f64 function per primitive and checks it at `points`.
macro_rules! scalar_unary {
    ($($name:ident: |$x:ident| $body:expr, at $points:expr;)*) => {
        $(
            #[differentiable]
            fn $name($x: f64) -> f64 {
                $body
            }
        )*
        #[test]
        fn scalar_unary_primitives() {
            $(
                for p in $points {
                    check_vjp_with(config(), |x: &f64| $name(*x), |x: &f64, v: f64| $name::vjp(*x).1(v), &p)
                        .unwrap_or_else(|e| panic!("{} at {p}: {e}", stringify!($name)));
                }
            )*
        }
    };
}

scalar_unary! {
    s_sin: |x| x.sin(), at [0.3, -2.0];
    s_cos: |x| x.cos(), at [0.3, -2.0];
    s_tan: |x| x.tan(), at [0.3, -1.0];
    s_tanh: |x| x.tanh(), at [0.3, -2.0];
    s_exp: |x| x.exp(), at [0.3, -2.0];
    s_ln: |x| x.ln(), at [0.3, 2.0];
    s_sqrt: |x| x.sqrt(), at [0.3, 2.0];
    s_abs: |x| x.abs(), at [0.3, -2.0];
    s_relu: |x| x.relu(), at [0.3, -2.0];
    s_sigmoid: |x| x.sigmoid(), at [0.3, -2.0];
    s_recip: |x| x.recip(), at [0.3, -2.0];
    s_powi: |x| x.powi(3), at [0.3, -2.0];
    s_powf: |x| x.powf(2.5), at [0.3, 2.0];
    s_neg: |x| -x * 2.0, at [0.3, -2.0];
    s_div: |x| 1.5 / x - x / 3.0, at [0.3, -2.0];
    s_sub: |x| 2.0 - x - (x - 1.0), at [0.3];
    s_cast: |x| (x as f64) * 2.0, at [0.3];
}

#[differentiable]
fn s_binary(a: f64, b: f64) -> f64 {
    a * b + a / b - (a - b) + a.max(b) * 2.0 + a.min(b) + a.powf(b) + f64::max(a, 0.5)
}

#[test]
fn scalar_binary_primitives() {
    for p in [(0.7, 1.3), (1.9, 0.4), (2.5, 1.1)] {
        check_vjp_with(
            config(),
            |(a, b): &(f64, f64)| s_binary(*a, *b),
            |(a, b): &(f64, f64), v: f64| s_binary::vjp(*a, *b).1(v),
            &p,
        )
        .unwrap_or_else(|e| panic!("at {p:?}: {e}"));
    }
}

// PyTorch's choices at non-smooth points.
#[test]
fn non_smooth_points_follow_pytorch() {
    assert_eq!(s_abs::grad(0.0), 0.0);
    assert_eq!(s_relu::grad(0.0), 0.0);
    // At the tie a = b = 1, max and min split the gradient in half:
    // ∂/∂a = b + 1/b − 1 + 2·½ + ½ + b·a^(b−1) + 1, ∂/∂b = a − a/b² + 1 + 2·½ + ½ + a^b·ln a.
    assert_eq!(s_binary::grad(1.0, 1.0), (4.5, 2.5));
    #[differentiable]
    fn tie(a: f64, b: f64) -> f64 {
        a.max(b)
    }
    assert_eq!(tie::grad(2.0, 2.0), (0.5, 0.5));
}

/// Tensor → Tensor primitives, checked with a random output cotangent.
macro_rules! tensor_unary {
    ($($name:ident: |$x:ident| $body:expr, at $input:expr;)*) => {
        $(
            #[differentiable]
            fn $name($x: &Tensor) -> Tensor {
                $body
            }
        )*
        #[test]
        fn tensor_unary_primitives() {
            $(
                let input: Tensor = $input;
                check_vjp_with(config(), |x: &Tensor| $name(x), |x: &Tensor, v: Tensor| $name::vjp(x).1(v), &input)
                    .unwrap_or_else(|e| panic!("{}: {e}", stringify!($name)));
            )*
        }
    };
}

fn positive(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape, 0.5, 2.0, seed)
}

tensor_unary! {
    t_sin: |x| x.sin(), at Tensor::randn(&[2, 3], 1);
    t_cos: |x| x.cos(), at Tensor::randn(&[4], 2);
    t_tan: |x| x.tan(), at Tensor::uniform(&[4], -1.0, 1.0, 3);
    t_tanh: |x| x.tanh(), at Tensor::randn(&[3, 2], 4);
    t_exp: |x| x.exp(), at Tensor::randn(&[5], 5);
    t_ln: |x| x.ln(), at positive(&[5], 6);
    t_log: |x| x.log(), at positive(&[2, 2], 7);
    t_sqrt: |x| x.sqrt(), at positive(&[5], 8);
    t_abs: |x| x.abs(), at Tensor::randn(&[6], 9);
    t_relu: |x| x.relu(), at Tensor::randn(&[6], 10);
    t_sigmoid: |x| x.sigmoid(), at Tensor::randn(&[6], 11);
    t_recip: |x| x.recip(), at positive(&[4], 12);
    t_powi: |x| x.powi(3), at Tensor::randn(&[4], 13);
    t_powf: |x| x.powf(1.7), at positive(&[4], 14);
    t_neg: |x| -x, at Tensor::randn(&[3], 15);
    t_scalar_mix: |x| 2.0 * x - x / 4.0 + 1.0 - (3.0 - x) * 0.5, at Tensor::randn(&[2, 3], 16);
    t_sum_dim: |x| x.sum_dim(1), at Tensor::randn(&[3, 4], 17);
    t_mean_dim: |x| x.mean_dim(0), at Tensor::randn(&[3, 4], 18);
    t_transpose: |x| x.t() * 2.0, at Tensor::randn(&[2, 3], 19);
    t_reshape: |x| x.reshape(&[3, 2]).sin(), at Tensor::randn(&[2, 3], 20);
    t_slice: |x| x.slice(0, 1..3) * x.slice(0, 0..2), at Tensor::randn(&[4, 2], 21);
    t_softmax: |x| x.softmax(1), at Tensor::randn(&[2, 5], 22);
    t_log_softmax: |x| x.log_softmax(1), at Tensor::randn(&[3, 4], 23);
    t_logsumexp: |x| x.logsumexp(1), at Tensor::randn(&[3, 4], 24);
    t_matmul_self: |x| x.matmul(&x.t()), at Tensor::randn(&[3, 4], 25);
}

#[differentiable]
fn t_reductions(x: &Tensor) -> f64 {
    x.sum() * 0.5 + x.mean() + x.norm() + x.max() - x.min()
        + x.reshape(&[12]).dot(&x.reshape(&[12])) * 0.1
        + x.at(&[1, 2]) * 3.0
}

#[test]
fn tensor_reductions() {
    let x = Tensor::randn(&[3, 4], 31);
    check_vjp_with(
        config(),
        |x: &Tensor| t_reductions(x),
        |x: &Tensor, v: f64| t_reductions::vjp(x).1(v),
        &x,
    )
    .unwrap();
}

// Broadcasting: [2, 3] with [3], [2, 1] and a scalar; the gradient of each
// operand comes back in its own shape.
#[differentiable]
fn broadcast(a: &Tensor, b: &Tensor, c: &Tensor, s: f64) -> Tensor {
    (a + b) * c - a / (c * c + 1.0) * s + b.maximum(a) - c.minimum(b)
}

#[test]
fn broadcasting_binary_ops() {
    let a = Tensor::randn(&[2, 3], 41);
    let b = Tensor::randn(&[3], 42);
    let c = Tensor::randn(&[2, 1], 43);
    let s = 0.7;
    let (_, pullback) = broadcast::vjp(&a, &b, &c, s);
    let (da, db, dc, ds) = pullback(Tensor::ones(&[2, 3]));
    assert_eq!(
        (da.shape(), db.shape(), dc.shape()),
        (&[2, 3][..], &[3][..], &[2, 1][..])
    );
    assert!(ds.is_finite());
    check_vjp_with(
        config(),
        |(a, b, c, s): &(Tensor, Tensor, Tensor, f64)| broadcast(a, b, c, *s),
        |(a, b, c, s): &(Tensor, Tensor, Tensor, f64), v: Tensor| broadcast::vjp(a, b, c, *s).1(v),
        &(a, b, c, s),
    )
    .unwrap();
}

// Matrix products of every supported shape pair.
#[differentiable]
fn products(m: &Tensor, n: &Tensor, v: &Tensor) -> Tensor {
    let mn = m.matmul(n);
    let mv = mn.matmul(v);
    let vm = v.matmul(&n.t());
    mv.sum_dim(0) * 0.0 + vm.sum() + mv
}

#[test]
fn matrix_products() {
    let m = Tensor::randn(&[3, 4], 51);
    let n = Tensor::randn(&[4, 2], 52);
    let v = Tensor::randn(&[2], 53);
    check_vjp_with(
        config(),
        |(m, n, v): &(Tensor, Tensor, Tensor)| products(m, n, v),
        |(m, n, v): &(Tensor, Tensor, Tensor), c: Tensor| products::vjp(m, n, v).1(c),
        &(m, n, v),
    )
    .unwrap();
}

// f64 values mixed into tensor code, and a tensor reduced into an f64.
#[differentiable]
fn mixed(w: &Tensor, s: f64) -> f64 {
    let scaled = w * s + s;
    let t = (scaled.tanh() * s).sum();
    t * s + (w * w).mean()
}

#[test]
fn f64_and_tensor_mixed() {
    let w = Tensor::randn(&[2, 2], 61);
    check_vjp_with(
        config(),
        |(w, s): &(Tensor, f64)| mixed(w, *s),
        |(w, s): &(Tensor, f64), v: f64| mixed::vjp(w, *s).1(v),
        &(w, 0.8),
    )
    .unwrap();
}
