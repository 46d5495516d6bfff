// A step of an iterator chain the macro does not lower is named (not the
// `map` after it).
use autodiff::differentiable;

#[differentiable]
fn take_map(x: &[f64]) -> f64 {
    x.iter().take(2).map(|v| v * v).sum::<f64>()
}

fn main() {}
