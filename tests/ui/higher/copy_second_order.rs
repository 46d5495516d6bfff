// `x.to_vec()` carries its tangent in forward mode, but reverse mode counts
// it as carrying no gradient: second derivatives (reverse over forward)
// would silently lose it, so they are refused.
use autodiff::differentiable;

#[differentiable(forward)]
fn squares(x: &[f64]) -> f64 {
    let buf = x.to_vec();
    buf[0] * buf[1]
}

fn main() {
    let _tangent = squares::jvp(&[1.0, 2.0], &[1.0, 0.0]);
    let _hessian = squares::hessian(&[1.0, 2.0]);
}
