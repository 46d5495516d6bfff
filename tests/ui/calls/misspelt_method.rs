use autodiff::differentiable;

// A name close to differentiable ones: the help names the closest.
#[differentiable]
fn f(x: f64) -> f64 {
    x.atan3(2.0)
}

fn main() {}
