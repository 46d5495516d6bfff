// An active value passed to a parameter the helper does not differentiate
// (`wrt(a)` leaves `b` out): its gradient would be lost, so the call does not
// compile; the error names `NotDifferentiated`. `h(x, stop_gradient(x))`
// drops it on purpose.
use autodiff::differentiable;

#[differentiable(wrt(a))]
fn h(a: f64, b: f64) -> f64 {
    a * b
}

#[differentiable]
fn active_into_non_wrt(x: f64) -> f64 {
    h(x, x)
}

fn main() {}
