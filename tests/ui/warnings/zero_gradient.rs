// The macro warns (here denied, to show the message) when the output does
// not depend on a differentiated parameter: its gradient would always be zero.
#![deny(deprecated)]

use autodiff::{differentiable, stop_gradient};

#[differentiable]
fn f(x: f64, y: f64) -> f64 {
    stop_gradient(y) * x
}

fn main() {}
