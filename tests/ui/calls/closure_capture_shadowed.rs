// A closure is inlined where it is called; a name it captures must still mean
// the same variable there. Shadowed in between, the call is refused (it once
// read the new variable: a gradient of 0 where 1 was right).
use autodiff::differentiable;

#[differentiable]
fn capture_then_shadow(x: f64, y: f64) -> f64 {
    let f = |v: f64| v * x;
    let x = y;
    f(1.0) + x
}

#[differentiable]
fn closure_param_named_like_capture(x: f64) -> f64 {
    let g = |v: f64| v * x;
    let f = |x: f64| g(x) + x;
    f(3.0)
}

fn main() {}
