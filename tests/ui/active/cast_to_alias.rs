use autodiff::differentiable;

type Real64 = f64;

#[differentiable]
fn f(x: f64) -> f64 {
    (x as Real64) * 2.0
}

fn main() {}
