use autodiff::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut v = [0.0; 2];
    v[0] = x * 2.0;
    v[0] + v[1]
}

fn main() {}
