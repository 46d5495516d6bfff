use autodiff::{Differentiable, differentiable};

#[derive(Clone, Differentiable)]
struct Layer {
    w: f64,
}

impl Layer {
    // Not marked #[differentiable].
    fn forward(&self, x: f64) -> f64 {
        self.w * x
    }
}

#[derive(Clone, Differentiable)]
struct Net {
    l1: Layer,
}

#[differentiable]
fn loss(net: &Net, x: f64) -> f64 {
    net.l1.forward(x).powi(2)
}

fn main() {
    let net = Net { l1: Layer { w: 0.5 } };
    let _ = loss::grad(&net, 1.0);
}
