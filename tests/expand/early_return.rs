#[differentiable]
fn damped(x: f64) -> f64 {
    let mut v = x;
    for _ in 0..100 {
        if v.abs() < 1e-3 {
            return v * 2.0;
        }
        v = v * 0.5;
    }
    v
}
