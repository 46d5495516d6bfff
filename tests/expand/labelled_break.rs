#[differentiable]
fn search(x: f64) -> f64 {
    let mut acc = x;
    'outer: for i in 0..10 {
        for j in 0..10 {
            if acc > 50.0 {
                break 'outer;
            }
            acc = acc * 1.1 + (i * j) as f64 * 0.01;
        }
    }
    acc
}
