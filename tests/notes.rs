//! The numbers of the PyTorch notes (the `note_*` examples, whose doc
//! comments name the tutorial each note follows), computed through
//! `#[differentiable]`, each also checked against central differences.

use autodiff::differentiable;
use autodiff::gradcheck::{check_grad, check_vjp};
use autodiff::prelude::*;

fn assert_tensor(got: &Tensor, want: &[f64]) {
    assert_eq!(got.to_vec(), want, "got {got}");
}

// y = 2 x·x, ∇y = 4x (notes 000 and 002).
#[differentiable]
fn two_dot(x: &Tensor) -> f64 {
    2.0 * x.dot(x)
}

#[test]
fn two_dot_gives_four_x() {
    let x = Tensor::arange(4.0);
    let (y, pullback) = two_dot::vjp(&x);
    assert_eq!(y, 28.0);
    assert_tensor(&pullback(1.0), &[0.0, 4.0, 8.0, 12.0]);
    check_grad(|x: &Tensor| two_dot(x), |x: &Tensor| two_dot::grad(x), &x).unwrap();
}

#[differentiable]
fn sum(x: &Tensor) -> f64 {
    x.sum()
}

#[test]
fn sum_gives_ones() {
    let x = Tensor::arange(4.0);
    assert_tensor(&sum::grad(&x), &[1.0; 4]);
    check_grad(|x: &Tensor| sum(x), |x: &Tensor| sum::grad(x), &x).unwrap();
}

// Backward for non-scalar outputs: y = x * x with a cotangent of ones.
#[differentiable]
fn square(x: &Tensor) -> Tensor {
    x * x
}

#[test]
fn square_with_ones_cotangent() {
    let x = Tensor::arange(4.0);
    let (y, pullback) = square::vjp(&x);
    assert_tensor(&y, &[0.0, 1.0, 4.0, 9.0]);
    assert_tensor(&pullback(Tensor::ones(&[4])), &[0.0, 2.0, 4.0, 6.0]);
    check_vjp(
        |x: &Tensor| square(x),
        |x: &Tensor, v: Tensor| square::vjp(x).1(v),
        &x,
    )
    .unwrap();
}

// Detaching: u = stop_gradient(x*x); z = u * x; ∇Σz = u.
#[differentiable]
fn detached(x: &Tensor) -> f64 {
    let y = x * x;
    let u = stop_gradient(y);
    let z = &u * x;
    z.sum()
}

// The same through `.detach()`, as PyTorch spells it.
#[differentiable]
fn detached_method(x: &Tensor) -> f64 {
    let u = (x * x).detach();
    (&u * x).sum()
}

#[test]
fn detach_stops_the_gradient() {
    let x = Tensor::arange(4.0);
    let u = &x * &x;
    assert_tensor(&detached::grad(&x), &u.to_vec());
    assert_tensor(&detached_method::grad(&x), &u.to_vec());
    // After detaching, y's own gradient is still 2x.
    let (_, pullback) = square::vjp(&x);
    assert_tensor(&pullback(Tensor::ones(&[4])), &[0.0, 2.0, 4.0, 6.0]);
}

// Python control flow (note 002): the gradient of this piecewise-linear
// function is d/a.
#[differentiable]
fn f(a: f64) -> f64 {
    let mut b = a * 2.0;
    while b.abs() < 1000.0 {
        b = b * 2.0;
    }
    if b > 0.0 { b } else { 100.0 * b }
}

// The note's f on a (0-d) tensor, with its norm and sum.
#[differentiable]
fn f_tensor(a: &Tensor) -> Tensor {
    let mut b = a * 2.0;
    while b.norm() < 1000.0 {
        b = b * 2.0;
    }
    if b.sum() > 0.0 { b } else { 100.0 * b }
}

#[test]
fn control_flow_gradient_is_d_over_a() {
    let a = -0.2753;
    let (d, pullback) = f::vjp(a);
    let grad = pullback(1.0);
    assert_eq!(grad, 409600.0);
    assert_eq!(grad, d / a);
    for a in [0.7, -0.2753, 1e-3, -12.5, 1500.0] {
        let (d, grad) = f::value_and_grad(a);
        assert!(
            (grad - d / a).abs() <= 1e-9 * grad.abs(),
            "a = {a}: {grad} vs {}",
            d / a
        );
        check_grad(|a: &f64| f(*a), |a: &f64| f::grad(*a), &a).unwrap();
    }
    let a = Tensor::scalar(-0.2753);
    let (d, pullback) = f_tensor::vjp(&a);
    let grad = pullback(Tensor::scalar(1.0));
    assert_eq!(grad.item(), 409600.0);
    assert_eq!(grad.item(), d.item() / a.item());
}

// Q = 3a³ − b² with cotangent [1, 1] (note 003).
#[differentiable]
fn q(a: &Tensor, b: &Tensor) -> Tensor {
    3.0 * a.powi(3) - b.powi(2)
}

#[test]
fn q_vector_jacobian_product() {
    let a = Tensor::from(vec![2.0, 3.0]);
    let b = Tensor::from(vec![6.0, 4.0]);
    let (value, pullback) = q::vjp(&a, &b);
    assert_tensor(&value, &[-12.0, 65.0]);
    let (da, db) = pullback(Tensor::from(vec![1.0, 1.0]));
    assert_tensor(&da, &[36.0, 81.0]);
    assert_tensor(&db, &[-12.0, -8.0]);
    check_vjp(
        |(a, b): &(Tensor, Tensor)| q(a, b),
        |(a, b): &(Tensor, Tensor), v: Tensor| q::vjp(a, b).1(v),
        &(a, b),
    )
    .unwrap();
}

// x² with x itself as the cotangent → [2, 8] (note 001).
#[differentiable]
fn pow2(x: &Tensor) -> Tensor {
    x.powi(2)
}

// (x²)³ with cotangent [1, 1] → [6, 192].
#[differentiable]
fn pow2_cubed(x: &Tensor) -> Tensor {
    let y = x.powi(2);
    y.powi(3)
}

// x² + z³ → [4, 4] and [48, 48] at x = [2, 2], z = [4, 4].
#[differentiable]
fn x2_plus_z3(x: &Tensor, z: &Tensor) -> Tensor {
    x.powi(2) + z.powi(3)
}

#[test]
fn note_001_products() {
    let x = Tensor::from(vec![1.0, 2.0]);
    let (_, pullback) = pow2::vjp(&x);
    assert_tensor(&pullback(x.clone()), &[2.0, 8.0]);
    let (_, pullback) = pow2_cubed::vjp(&x);
    assert_tensor(&pullback(Tensor::ones(&[2])), &[6.0, 192.0]);
    check_vjp(
        |x: &Tensor| pow2_cubed(x),
        |x: &Tensor, v: Tensor| pow2_cubed::vjp(x).1(v),
        &x,
    )
    .unwrap();

    let x = Tensor::from(vec![2.0, 2.0]);
    let z = Tensor::from(vec![4.0, 4.0]);
    let (_, pullback) = x2_plus_z3::vjp(&x, &z);
    let (dx, dz) = pullback(Tensor::ones(&[2]));
    assert_tensor(&dx, &[4.0, 4.0]);
    assert_tensor(&dz, &[48.0, 48.0]);
}

// y = m·x + c, differentiated with respect to m and c only (note 003).
#[differentiable(wrt(m, c))]
fn line(x: f64, m: f64, c: f64) -> f64 {
    m * x + c
}

#[test]
fn line_gradients() {
    let (dm, dc) = line::grad(3.0, 4.0, 5.0);
    assert_eq!((dm, dc), (3.0, 1.0));
    assert_eq!(line(3.0, 4.0, 5.0), 17.0);
}

// u = x² w² with the x² factor stopped: ∂/∂x = 0, ∂/∂w = 2w·x² (note 004).
// The zero gradient of x is the point, so the macro's warning is silenced.
#[differentiable]
#[allow(deprecated)]
fn xw(x: f64, w: f64) -> f64 {
    let y = x * x;
    let z = w * w;
    stop_gradient(y) * z
}

#[differentiable]
fn xw_full(x: f64, w: f64) -> f64 {
    let y = x * x;
    let z = w * w;
    y * z
}

#[test]
fn detach_in_a_product() {
    assert_eq!(xw_full::grad(2.0, 3.0), (36.0, 24.0));
    assert_eq!(xw::grad(2.0, 3.0), (0.0, 24.0));
}

// z = x² + 3 at 2 → 4 (note 004).
#[differentiable]
fn z(x: f64) -> f64 {
    let y = x.powi(2);
    y + 3.0
}

#[test]
fn chain_of_two() {
    assert_eq!(z::value_and_grad(2.0), (7.0, 4.0));
}

// W2 of benches/README.md: x ← x + 0.01 (p sin x − 0.1 x²), 10 000 steps.
#[differentiable]
fn recurrence(x0: f64, p: f64) -> f64 {
    let mut x = x0;
    for _ in 0..10_000 {
        x = x + 0.01 * (p * x.sin() - 0.1 * x * x);
    }
    x
}

#[test]
fn benchmark_checks() {
    assert_eq!(f::grad(-0.2753), 409600.0);
    let (dx0, dp) = recurrence::grad(0.5, 1.3);
    assert!((dx0 + dp - 0.317977768).abs() < 1e-8, "{}", dx0 + dp);
    check_vjp(
        |(x0, p): &(f64, f64)| recurrence(*x0, *p),
        |(x0, p): &(f64, f64), v: f64| {
            let (a, b) = recurrence::vjp(*x0, *p).1(v);
            (a, b)
        },
        &(0.5, 1.3),
    )
    .unwrap();
}
