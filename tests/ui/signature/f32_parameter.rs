// An `f32` function: refused with the reason (found by the third user trial:
// "no parameter is `f64`, ..." did not say that `f32` is the problem).
use autodiff::differentiable;

#[differentiable]
fn square(x: f32) -> f32 {
    x * x
}

fn main() {}
