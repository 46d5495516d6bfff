// A closure that is not inlined says why at its call.
use autodiff::differentiable;

#[differentiable]
fn closure_with_return(x: f64) -> f64 {
    let f = |v: f64| {
        if v < 0.0 {
            return 0.0;
        }
        v * v
    };
    f(x)
}

fn main() {}
