#[differentiable]
fn outer(x: f64, y: f64) -> f64 {
    let s = square(x * y);
    s + square(y)
}
