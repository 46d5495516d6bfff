// What forward mode and second derivatives cannot do is refused only where
// it is used: these functions compile, and so do their first derivatives.
use autodiff::differentiable;

#[differentiable(vjp = cube_root_vjp, forward)]
fn cube_root(a: f64) -> f64 {
    a.cbrt()
}

fn cube_root_vjp(a: f64) -> (f64, impl FnOnce(f64) -> (f64,) + Clone + 'static) {
    let y = a.cbrt();
    (y, move |g: f64| (g / (3.0 * y * y),))
}

#[differentiable(forward)]
fn uses_it(x: f64) -> f64 {
    cube_root(x * x + 1.0) * x
}

#[differentiable(forward)]
fn squares(x: &[f64]) -> f64 {
    let buf = x.to_vec();
    buf[0] * buf[1]
}

fn main() {
    let g = uses_it::grad(2.0);
    let (_, t) = uses_it::jvp(2.0, 1.0);
    assert!((g - t).abs() < 1e-12);
    let (_, t) = squares::jvp(&[1.0, 2.0], &[1.0, 0.0]);
    assert_eq!(t, 2.0);
}
