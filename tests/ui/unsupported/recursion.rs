// A differentiable function that calls itself with an active value is
// refused (its pullback would have to contain itself): write a loop.
use autodiff::differentiable;

#[differentiable]
fn f(x: f64, n: usize) -> f64 {
    if n == 0 { x } else { f(x * 2.0, n - 1) }
}

// With inactive arguments only, the call is an ordinary value.
#[differentiable]
fn g(x: f64, n: usize) -> f64 {
    if n == 0 { x } else { x * g(2.0, n - 1) }
}

fn main() {}
