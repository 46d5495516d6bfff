use autodiff::differentiable;

fn apply(f: &dyn Fn(f64) -> f64) -> f64 {
    f(3.0)
}

#[differentiable]
fn f(x: f64) -> f64 {
    let scale = |t: f64| t * x;
    apply(&scale)
}

fn main() {}
