use autodiff::differentiable;

fn bump(v: &mut f64) -> f64 {
    *v += 1.0;
    *v
}

#[differentiable]
fn f(x: f64) -> f64 {
    let mut y = x * 2.0;
    let z = bump(&mut y);
    z * y
}

fn main() {}
