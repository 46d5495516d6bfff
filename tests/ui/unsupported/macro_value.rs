use autodiff::differentiable;

macro_rules! twice {
    ($e:expr) => {
        2.0 * $e
    };
}

#[differentiable]
fn f(x: f64) -> f64 {
    let v = twice!(x);
    v * v
}

fn main() {}
