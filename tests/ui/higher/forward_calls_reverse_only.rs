// A forward-mode function calls a helper that has reverse mode only: the
// error's name says to give the helper `forward`.
use autodiff::differentiable;

#[differentiable]
fn helper(x: f64) -> f64 {
    x * x
}

#[differentiable(forward)]
fn outer(x: f64) -> f64 {
    helper(x) * 2.0
}

fn main() {
    let _ = outer::jvp(1.0, 1.0);
}
