// A pullback is a closure: calling `f::vjp` inside a differentiable function
// cannot be differentiated (`f::grad` can).
use autodiff::differentiable;

#[differentiable(forward)]
fn square(x: f64) -> f64 {
    x * x
}

#[differentiable(forward)]
fn uses_vjp(x: f64) -> f64 {
    let (value, _pullback) = square::vjp(x);
    value * 2.0
}

fn main() {}
