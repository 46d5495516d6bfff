// PyTorch: "Trying to backward through the graph a second time". Here the
// pullback frees what it saved by consuming itself: a second call does not compile.
use autodiff::differentiable;

#[differentiable]
fn square(x: f64) -> f64 {
    x * x
}

fn main() {
    let (_, pullback) = square::vjp(3.0);
    let first = pullback(1.0);
    let second = pullback(1.0);
    println!("{first} {second}");
}
