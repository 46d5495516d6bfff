use autodiff::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let scale = |t: f64| t * x;
    scale(3.0)
}

fn main() {}
