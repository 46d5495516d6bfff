//! The control-flow example of the chapter "Automatic Differentiation" of
//! *Dive into Deep Learning* (section "Gradients and Python Control Flow",
//! <https://d2l.ai/chapter_preliminaries/autograd.html>; note 002, see
//! `note_002_detach_and_control_flow.rs`): a function with a data-dependent
//! `while` and an `if`, differentiated at compile time.
//!
//! Run: `cargo run --example control_flow`

use autodiff::Tensor;
use autodiff::differentiable;

/// Doubles `a` until it is at least 1000 in size, then keeps it if positive
/// or scales it by 100 if negative. The result is linear in `a`, so its
/// gradient is `f(a) / a`.
#[differentiable]
fn f(a: f64) -> f64 {
    let mut b = a * 2.0;
    while b.abs() < 1000.0 {
        b = b * 2.0;
    }
    if b > 0.0 { b } else { 100.0 * b }
}

fn main() {
    let a = -0.2753;
    let (d, pullback) = f::vjp(a);
    let grad = pullback(1.0);
    // Printed as PyTorch prints the note's values.
    println!("a        = {}", Tensor::scalar(a));
    println!("f(a)     = {}", Tensor::scalar(d));
    println!("df/da    = {}", Tensor::scalar(grad));
    println!("f(a) / a = {}", Tensor::scalar(d / a));
    println!("a.grad == d / a: {}", grad == d / a);
}
