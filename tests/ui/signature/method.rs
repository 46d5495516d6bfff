use autodiff::differentiable;

struct Model;

impl Model {
    #[differentiable]
    fn loss(&self, x: f64) -> f64 {
        x * x
    }
}

fn main() {}
