use autodiff::differentiable;

#[differentiable]
fn f(x: f64, n: impl Into<f64>) -> impl Into<f64> {
    x * n.into()
}

fn main() {}
