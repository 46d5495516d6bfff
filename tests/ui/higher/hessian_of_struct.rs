// `hessian` of a function of a struct parameter: refused where it is used,
// saying why and what to use (found by the third user trial: rustc said
// "cannot find function `hessian` in module `energy`").
use autodiff::{Differentiable, differentiable};

#[derive(Clone, Debug, Differentiable)]
struct Params {
    a: f64,
    w: Vec<f64>,
}

#[differentiable(forward)]
fn energy(p: &Params, x: f64) -> f64 {
    p.a * x * x + p.w[0] * x
}

fn main() {
    let p = Params { a: 1.0, w: vec![2.0] };
    let _ = energy::hessian(&p, 0.5);
}
