// Differentiating a generated gradient is exact once (`f::grad` inside a
// differentiable function has Hessian–vector products for its derivatives),
// and refused beyond that: a third derivative does not compile.
use autodiff::differentiable;

#[differentiable(forward)]
fn sin_of_square(x: f64) -> f64 {
    (x * x).sin()
}

#[differentiable(forward)]
fn slope(x: f64) -> f64 {
    sin_of_square::grad(x)
}

fn main() {
    let _second = slope::grad(2.0);
    let _third = slope::hessian(2.0);
}
