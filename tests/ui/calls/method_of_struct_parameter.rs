// A differentiable method called on a struct parameter from a free function:
// refused, and the message says how to write it (found by the third user
// trial: the message said "use a differentiable method" of a method that is
// one).
use autodiff::{Differentiable, differentiable};

#[derive(Clone, Debug, Differentiable)]
struct Body {
    x: f64,
    v: f64,
}

impl Body {
    #[differentiable]
    fn energy(&self, k: f64) -> f64 {
        0.5 * self.v * self.v + 0.5 * k * self.x * self.x
    }
}

#[differentiable]
fn total(b: &Body, k: f64) -> f64 {
    b.energy(k) * 2.0
}

fn main() {}
