use autodiff::differentiable;

// An index computed from an active value is fine once it is an integer...
#[differentiable]
fn fine(x: &[f64], t: f64) -> f64 {
    x[(t * 2.0) as usize] * t
}

// ...but an active value itself cannot be an index.
#[differentiable]
fn g(x: &[f64], t: f64) -> f64 {
    x[t] * t
}

fn main() {}
