use autodiff::{Differentiable, differentiable};

#[derive(Clone, Differentiable)]
struct Spring {
    k: f64,
}

// A field of a value computed in the body (here the parameter under another
// name) is refused unless it is a coordinate (`.x`) or a tuple's part (`.0`).
#[differentiable]
fn f(p: &Spring) -> f64 {
    let q = p;
    q.k * 2.0
}

fn main() {}
