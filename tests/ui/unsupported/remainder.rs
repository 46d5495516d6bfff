use autodiff::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    (x * 3.0) % 1.0
}

fn main() {}
