use autodiff::differentiable;

// `to_bits` passes no gradient, and not by design: an active receiver is refused.
#[differentiable]
fn f(x: f64) -> f64 {
    let bits = x.to_bits();
    x * (bits % 2) as f64
}

fn main() {}
