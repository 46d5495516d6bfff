use autodiff::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut values = Vec::new();
    values.insert(0, x * 2.0);
    values.iter().sum()
}

fn main() {}
