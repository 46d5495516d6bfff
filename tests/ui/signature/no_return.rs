use autodiff::differentiable;

#[differentiable]
fn f(x: f64) {
    println!("{x}");
}

fn main() {}
