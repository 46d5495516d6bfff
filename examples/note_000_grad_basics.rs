//! Note 000, a notebook that follows the first section, "A Simple
//! Function", of the chapter "Automatic Differentiation" of *Dive into Deep
//! Learning* (d2l.ai, written for PyTorch:
//! <https://d2l.ai/chapter_preliminaries/autograd.html>), with remarks from
//! Yang Zhang's "The 'gradient' argument in PyTorch's 'backward' function —
//! explained by examples"
//! (<https://zhang-yang.medium.com/the-gradient-argument-in-pytorchs-backward-function-explained-by-examples-68f266950c29>).
//!
//! It shows the gradient of `y = 2 x·x` (`4x`, at `x = [0, 1, 2, 3]`),
//! gradients that accumulate until zeroed, and why `backward()` wants a
//! scalar: `sum` versus `mean` of a loss, and `backward(gradient)` for the
//! rest.
//!
//! Every cell of the note runs here with the graph layer ([`Var`]), and
//! prints what the notebook prints, under the cell's `In [..]` line.
//!
//! Run: `cargo run --example note_000_grad_basics`

use autodiff::prelude::*;

/// Python's rendering of an optional gradient: `None` or the tensor.
fn py(grad: Option<Tensor>) -> String {
    grad.map_or_else(|| "None".to_string(), |g| g.to_string())
}

fn main() {
    // In [268]
    let x = Var::new(Tensor::arange(4.0));

    println!("In [269]: x.requires_grad_(True); x.grad");
    x.requires_grad_(true);
    println!("{}", py(x.grad())); // the gradient is None by default

    println!("In [270]: x");
    println!("{x}");

    println!("In [271]: y = 2 * torch.dot(x, x); y");
    let y = 2.0 * x.dot(&x);
    println!("{y}");

    println!("In [272]: y.backward(); x.grad");
    y.backward();
    println!("{}", py(x.grad()));

    println!("In [273]: x.grad == 4 * x");
    let four_x = 4.0 * &x;
    println!("{}", x.grad().unwrap().eq_elem(&four_x.data()));

    println!("In [274]: x.grad");
    println!("{}", py(x.grad()));

    println!("In [275]: x.grad.zero_(); x.grad, y");
    x.zero_grad();
    println!("{:?}", (x.grad().unwrap(), &y));

    println!("In [276]: y = x.sum(); y.backward(), x.grad");
    let y = x.sum();
    y.backward();
    println!("(None, {})", py(x.grad()));

    // The note's text, in numbers: `loss.sum().backward()` gives every
    // element the weight 1, `loss.mean().backward()` the weight 1/n, and
    // `loss.backward(gradient=ones)` is the same as the sum.
    println!();
    println!("loss = x * x; loss.sum().backward(); x.grad");
    x.zero_grad();
    let loss = &x * &x;
    loss.sum().backward();
    println!("{}", py(x.grad()));

    println!("loss = x * x; loss.mean().backward(); x.grad");
    x.zero_grad();
    let loss = &x * &x;
    loss.mean().backward();
    println!("{}", py(x.grad()));

    println!("loss = x * x; loss.backward(gradient=torch.ones(4)); x.grad");
    x.zero_grad();
    let loss = &x * &x;
    loss.backward_with(&Tensor::ones(loss.shape()));
    println!("{}", py(x.grad()));

    println!("loss.backward()  # without a gradient, on 4 values");
    let loss = &x * &x;
    if let Err(e) = loss.try_backward() {
        println!("RuntimeError: {e}");
    }
}
