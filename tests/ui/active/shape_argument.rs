use autodiff::differentiable;
use autodiff::Tensor;

#[differentiable]
fn f(x: &Tensor, d: f64) -> Tensor {
    x.sum_dim(d)
}

fn main() {}
