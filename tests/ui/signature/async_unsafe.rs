use autodiff::differentiable;

#[differentiable]
async fn f(x: f64) -> f64 {
    x
}

#[differentiable]
unsafe fn g(x: f64) -> f64 {
    x
}

fn main() {}
