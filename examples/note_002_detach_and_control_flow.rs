//! Note 002, a notebook that runs the code of the chapter "Automatic
//! Differentiation" of *Dive into Deep Learning* (d2l.ai, written for
//! PyTorch: <https://d2l.ai/chapter_preliminaries/autograd.html>), section
//! by section: "A Simple Function", "Backward for Non-Scalar Variables",
//! "Detaching Computation", "Gradients and Python Control Flow".
//!
//! It shows `y = 2 x·x` again, `sum`, backward for a non-scalar `y = x * x`
//! with a gradient of ones, detaching (`u = y.detach()` is a constant for
//! `z = u * x`), and gradients through Python control flow: a function
//! `f(a)` with a data-dependent `while` and `if`, whose gradient is
//! `f(a) / a`.
//!
//! Notebook cells run on the graph layer ([`Var`]) with eager ops. The
//! note's function `f` is a `#[differentiable]` function: `f::record(&a)`
//! joins the graph as one node, `<FBackward>`, whose backward is the pullback
//! generated at compile time. The same `f` written with eager ops records one
//! node per op, as PyTorch does, and its `d` prints the note's
//! `grad_fn=<MulBackward0>`.
//!
//! Run: `cargo run --example note_002_detach_and_control_flow`

use autodiff::differentiable;
use autodiff::prelude::*;

/// Python's rendering of an optional gradient: `None` or the tensor.
fn py(grad: Option<Tensor>) -> String {
    grad.map_or_else(|| "None".to_string(), |g| g.to_string())
}

/// The note's `f(a)`: double `a` until its norm reaches 1000, then keep it
/// if its sum is positive, else scale it by 100. The gradient is generated
/// at compile time; the loop's trip count and the branch taken are all it
/// records.
#[differentiable]
fn f(a: Tensor) -> Tensor {
    let mut b = a * 2.0;
    while b.norm() < 1000.0 {
        b = b * 2.0;
    }
    if b.sum() > 0.0 { b } else { 100.0 * b }
}

/// The same `f` with eager ops on graph values: each step is a node.
fn f_eager(a: &Var) -> Var {
    let mut b = a * 2.0;
    while b.norm().item() < 1000.0 {
        b = &b * 2.0;
    }
    if b.sum().item() > 0.0 { b } else { 100.0 * &b }
}

fn main() {
    println!("In [76]: x");
    let x = Var::new(Tensor::arange(4.0));
    println!("{x}");

    println!("In [77]: x.requires_grad_(True)");
    println!("{}", x.requires_grad_(true));

    println!("In [78]: x.grad");
    println!("{}", py(x.grad()));

    println!("In [79-80]: y = 2 * torch.dot(x, x); y");
    let y = 2.0 * x.dot(&x);
    println!("{y}");

    println!("In [81-82]: y.backward(); x.grad");
    y.backward();
    println!("{}", py(x.grad()));

    println!("In [83]: x.grad == 4 * x");
    println!("{}", x.grad().unwrap().eq_elem(&(4.0 * &x).data()));

    println!("In [84]: x.grad.zero_()");
    println!("{}", py(x.zero_grad()));

    println!("In [88]: x");
    println!("{x}");

    println!("In [85-87]: y = x.sum(); y.backward(); x.grad");
    let y = x.sum();
    y.backward();
    println!("{}", py(x.grad()));

    println!("# Backward for Non-Scalar Variables");
    println!("In [93]: x");
    println!("{x}");

    println!("In [89]: x.grad.zero_()");
    println!("{}", py(x.zero_grad()));

    println!("In [90-92]: y = x * x; y.backward(gradient=torch.ones(len(y))); x.grad");
    let y = &x * &x;
    y.backward_with(&Tensor::ones(y.shape()));
    println!("{}", py(x.grad()));

    println!("## Detaching Computation");
    println!("In [94]: x.grad.zero_()");
    println!("{}", py(x.zero_grad()));

    println!("In [95-98, 100]: y = x * x; u = y.detach(); z = u * x; z.sum().backward(); x.grad");
    let y = &x * &x;
    let u = y.detach();
    let z = &u * &x;
    z.sum().backward();
    println!("{}", py(x.grad()));

    println!("In [99]: x.grad == u");
    println!("{}", x.grad().unwrap().eq_elem(&u.data()));

    println!("In [102]: x.grad.zero_()");
    println!("{}", py(x.zero_grad()));

    println!("In [103, 105]: y.sum().backward(); x.grad");
    y.sum().backward();
    println!("{}", py(x.grad()));

    println!("In [104]: x.grad == 2 * x");
    println!("{}", x.grad().unwrap().eq_elem(&(2.0 * &x).data()));

    println!("# Gradients and Python Control Flow");
    // In [107]: torch.randn drew a = -0.2753 (as printed, to 4 digits). The
    // value below is the float32 draw itself, recovered from the note's own
    // d = 409600·a, so that d prints as the note prints it.
    let a = Var::leaf(-112743.859375 / 409600.0);

    println!("In [108-109]: d = f(a); d.backward()");
    let d = f::record(&a);
    d.backward();

    println!("In [112]: d");
    println!("{d}");

    println!("In [113]: a");
    println!("{a}");

    println!("In [111]: a.grad");
    println!("{}", py(a.grad()));

    println!("In [110]: a.grad == d / a");
    println!("{}", a.grad().unwrap().eq_elem(&(&d / &a).data()));

    println!("# The same cells with f written in eager ops");
    let a = Var::leaf(a.data());
    let d = f_eager(&a);
    d.backward();
    println!("In [112]: d");
    println!("{d}");
    println!("In [111]: a.grad");
    println!("{}", py(a.grad()));
    println!("In [110]: a.grad == d / a");
    println!("{}", a.grad().unwrap().eq_elem(&(&d / &a).data()));
}
