// `.x` of a struct value computed in the body differentiates through the
// derived field; a `#[no_grad]` field has no gradient to give.
use autodiff::{Differentiable, differentiable};

#[derive(Clone, Debug, Differentiable)]
struct Particle {
    #[no_grad]
    x: f64,
    y: f64,
}

#[differentiable]
fn f(p: Particle) -> f64 {
    let q = p.clone();
    q.x * q.y
}

fn main() {}
