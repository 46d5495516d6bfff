use autodiff::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut y = x;
    'done: {
        if y > 1.0 {
            break 'done;
        }
        y = y * 2.0;
    }
    y
}

fn main() {}
