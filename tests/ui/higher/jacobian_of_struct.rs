// `jacobian` of a function of a struct parameter: refused where it is used,
// saying what to use (found by the third user trial).
use autodiff::{Differentiable, differentiable};

#[derive(Clone, Debug, Differentiable)]
struct Params {
    a: f64,
    b: f64,
}

#[differentiable(forward)]
fn both(p: &Params, x: f64) -> Vec<f64> {
    vec![p.a * x, p.b * x * x]
}

fn main() {
    let p = Params { a: 1.0, b: 2.0 };
    let _ = both::jacobian(&p, 0.5);
}
