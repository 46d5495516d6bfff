use autodiff::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut m = vec![vec![0.0; 2]; 2];
    m[0][1] = x * 2.0;
    m[0][1] + m[1][0]
}

fn main() {}
