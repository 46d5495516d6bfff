//! The f64 math library, the special functions and the new tensor ops,
//! differentiated through `#[differentiable]` and checked against central
//! differences (and analytic values where they are exact); the strong zero
//! through generated code; `item()` and `to_vec()` carry their gradient.

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};
use autodiff::prelude::*;

fn config() -> GradCheckConfig {
    GradCheckConfig::default().directions(5).seed(7)
}

/// An f64 → f64 function per method, checked at each point.
macro_rules! scalar_unary {
    ($($name:ident: |$x:ident| $body:expr, at $points:expr;)*) => {
        $(
            #[differentiable]
            fn $name($x: f64) -> f64 {
                $body
            }
        )*
        #[test]
        fn f64_math_library() {
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
    s_atan: |x| x.atan(), at [0.3, -2.0];
    s_asin: |x| x.asin(), at [0.3, -0.8];
    s_acos: |x| x.acos(), at [0.3, -0.8];
    s_sinh: |x| x.sinh(), at [0.3, -2.0];
    s_cosh: |x| x.cosh(), at [0.3, -2.0];
    s_asinh: |x| x.asinh(), at [0.3, -2.0];
    s_acosh: |x| x.acosh(), at [1.3, 4.0];
    s_atanh: |x| x.atanh(), at [0.3, -0.8];
    s_exp2: |x| x.exp2(), at [0.3, -2.0];
    s_exp_m1: |x| x.exp_m1(), at [1e-3, -2.0];
    s_ln_1p: |x| x.ln_1p(), at [1e-3, 2.0];
    s_log2: |x| x.log2(), at [0.3, 5.0];
    s_log10: |x| x.log10(), at [0.3, 5.0];
    s_log_base: |x| x.log(3.0) + 2.5f64.log(x), at [0.3, 5.0];
    s_cbrt: |x| x.cbrt(), at [0.3, -2.0];
    s_to_degrees: |x| x.to_degrees(), at [0.3];
    s_to_radians: |x| x.to_radians(), at [30.0];
    s_atan2: |x| x.atan2(0.7) + 0.4f64.atan2(x), at [0.3, -2.0];
    s_hypot: |x| x.hypot(0.7) * 2.0, at [0.3, -2.0];
    s_mul_add: |x| x.mul_add(x, 0.5) + 2.0f64.mul_add(x, x), at [0.3, -2.0];
    s_clamp: |x| x.clamp(-1.0, 1.0) + 0.5f64.clamp(x, 3.0), at [0.3, -2.0, 1.7];
    s_floor: |x| x.floor() * x + x.ceil() + x.round() + x.trunc() + x.signum(), at [0.3, -2.2];
    s_erf: |x| x.special_erf() + x.special_erfc() * 2.0, at [0.3, -1.2];
    s_ndtr: |x| x.ndtr(), at [0.3, -1.2];
    s_lgamma: |x| x.lgamma(), at [0.3, 4.5, -1.5];
    s_digamma: |x| x.digamma(), at [0.3, 4.5, -1.5];
}

#[differentiable]
fn s_sin_cos(x: f64) -> f64 {
    let (s, c) = x.sin_cos();
    s * 2.0 + c * c
}

#[test]
fn sin_cos_returns_a_pair() {
    for x in [0.3f64, -2.0] {
        // d/dx (2 sin x + cos² x) = 2 cos x − 2 cos x sin x
        let want = 2.0 * x.cos() - 2.0 * x.cos() * x.sin();
        assert!((s_sin_cos::grad(x) - want).abs() < 1e-14);
    }
}

/// Exact derivatives: the special functions' at known points.
#[test]
fn analytic_values() {
    // d/dx erf x at 0 = 2/√π; Φ'(0) = 1/√(2π); ψ(1) = −γ is lgamma' at 1.
    assert_eq!(
        s_erf::grad(0.0),
        std::f64::consts::FRAC_2_SQRT_PI * (1.0 - 2.0)
    );
    assert_eq!(s_ndtr::grad(0.0), 1.0 / (2.0 * std::f64::consts::PI).sqrt());
    assert!((s_lgamma::grad(1.0) + 0.577_215_664_901_532_9).abs() < 1e-15);
    assert!((s_digamma::grad(1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-14);
    // floor ceil round trunc signum have zero derivative: only `· x` is left.
    assert_eq!(s_floor::grad(0.3), 0.0);
    assert_eq!(s_floor::grad(-2.2), -3.0);
}

/// Tensor → Tensor functions of the new rows.
macro_rules! tensor_unary {
    ($($name:ident: |$x:ident| $body:expr, at $input:expr;)*) => {
        $(
            #[differentiable]
            fn $name($x: &Tensor) -> Tensor {
                $body
            }
        )*
        #[test]
        fn tensor_functions() {
            $(
                let input: Tensor = $input;
                check_vjp_with(config(), |x: &Tensor| $name(x), |x: &Tensor, v: Tensor| $name::vjp(x).1(v), &input)
                    .unwrap_or_else(|e| panic!("{}: {e}", stringify!($name)));
            )*
        }
    };
}

tensor_unary! {
    t_trig: |x| x.atan() + x.asinh() * x.sinh() - x.cosh().ln(), at Tensor::randn(&[2, 3], 1);
    t_inverse: |x| x.asin() + x.acos() * 2.0 + x.atanh(), at Tensor::uniform(&[4], -0.8, 0.8, 2);
    t_logs: |x| x.log2() + x.log10() + x.ln_1p() + x.cbrt() + x.acosh(), at Tensor::uniform(&[4], 1.2, 3.0, 3);
    t_exps: |x| x.exp2() + x.exp_m1() * x.to_degrees() + x.to_radians(), at Tensor::randn(&[3], 4);
    t_special: |x| x.erf() + x.erfc() * x.ndtr() + x.lgamma() - x.digamma(), at Tensor::uniform(&[5], 0.3, 4.0, 5);
    t_clamp: |x| x.clamp(-0.5, 0.5) * x, at Tensor::from([-1.3, -0.2, 0.1, 0.9]);
    t_piecewise: |x| (x.floor() + x.ceil() + x.round() + x.trunc() + x.signum()) * x, at Tensor::from([0.3, -1.2, 2.7]);
}

#[differentiable]
fn t_binary(a: &Tensor, b: &Tensor) -> Tensor {
    a.atan2(b) + a.hypot(b) * 2.0
}

#[differentiable]
fn t_where(x: &Tensor, other: &Tensor) -> Tensor {
    let cond = x.gt_elem(&Tensor::scalar(0.0));
    x.where_(&cond, other) * 3.0
}

#[test]
fn tensor_binary_functions_broadcast() {
    let a = Tensor::uniform(&[2, 3], 0.5, 2.0, 11);
    let b = Tensor::uniform(&[3], -2.0, -0.5, 12);
    let (_, pullback) = t_binary::vjp(&a, &b);
    let (da, db) = pullback(Tensor::ones(&[2, 3]));
    assert_eq!((da.shape(), db.shape()), (&[2, 3][..], &[3][..]));
    check_vjp_with(
        config(),
        |(a, b): &(Tensor, Tensor)| t_binary(a, b),
        |(a, b): &(Tensor, Tensor), v: Tensor| t_binary::vjp(a, b).1(v),
        &(a, b),
    )
    .unwrap();
    let x = Tensor::randn(&[2, 3], 13);
    let other = Tensor::randn(&[3], 14);
    check_vjp_with(
        config(),
        |(x, o): &(Tensor, Tensor)| t_where(x, o),
        |(x, o): &(Tensor, Tensor), v: Tensor| t_where::vjp(x, o).1(v),
        &(x, other),
    )
    .unwrap();
}

// ---------------------------------------------------------------- item and to_vec

#[differentiable]
fn item_of(x: &Tensor) -> f64 {
    x.sum_dim(0).item() * 2.0
}

#[differentiable]
fn to_vec_of(xs: &[f64]) -> f64 {
    let v = xs.to_vec();
    v[0] * 2.0
}

#[differentiable]
fn tensor_to_vec(x: &Tensor) -> f64 {
    let v = x.to_vec();
    v[1] * v[2]
}

#[test]
fn item_and_to_vec_carry_the_gradient() {
    assert_eq!(
        item_of::grad(&Tensor::from([[1.5], [2.0]])).to_vec(),
        vec![2.0, 2.0]
    );
    // Issue 7's `let v = xs.to_vec(); v[0] * 2.0` at [0.3, −0.5, 0.8]: [2, 0, 0].
    assert_eq!(to_vec_of::grad(&[0.3, -0.5, 0.8]), vec![2.0, 0.0, 0.0]);
    let x = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    assert_eq!(tensor_to_vec::grad(&x).to_vec(), vec![0.0, 3.0, 2.0, 0.0]);
}

// ---------------------------------------------------------------- the strong zero

#[differentiable]
fn unused_division(x: f64, #[no_grad] t: f64) -> f64 {
    let y = x / t;
    if x >= t { x } else { y }
}

#[differentiable]
fn sqrt_not_taken(x: f64) -> f64 {
    let r = x.sqrt();
    if r > 0.5 { r } else { 1.0 }
}

#[differentiable]
fn first_row_norm(x: &Tensor) -> f64 {
    x.powi(2).sum_dim(1).sqrt().at(&[0])
}

/// Issue 7's cases: a zero cotangent passes zero, not NaN.
#[test]
fn a_zero_cotangent_gives_zero_not_nan() {
    assert_eq!(unused_division::grad(1.0, 0.0), 1.0);
    assert_eq!(sqrt_not_taken::grad(0.0), 0.0);
    let x = Tensor::from([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]);
    let g = first_row_norm::grad(&x);
    let n = 5f64.sqrt();
    assert_eq!(g.to_vec(), vec![1.0 / n, 2.0 / n, 0.0, 0.0, 0.0, 0.0]);
}

/// The graph layer agrees (PyTorch gives 1 for the division too).
#[test]
fn the_graph_layer_agrees() {
    let x = Var::leaf([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]);
    x.powi(2).sum_dim(1).sqrt().at(&[0]).backward();
    assert!(x.grad().unwrap().to_vec().iter().all(|v| v.is_finite()));
    let x = Var::leaf(1.0);
    let t = Var::new(0.0);
    let y = &x / &t;
    let chosen = if x.item() >= t.item() { x.clone() } else { y };
    chosen.backward();
    assert_eq!(x.grad().unwrap().item(), 1.0);
}
