//! Note 004, a study note of the chapter "Automatic Differentiation" of
//! *Dive into Deep Learning* (d2l.ai, written for PyTorch:
//! <https://d2l.ai/chapter_preliminaries/autograd.html>), in prose with
//! small examples of its own.
//!
//! It shows `requires_grad_`, the graph `x → (square) → y → (+3) → z` and its
//! gradient, backward of a non-scalar with a gradient of ones, and `detach`:
//! `u = x²·w²` gives 36 and 24, `u = y.detach()·w²` gives 0 and 24.
//!
//! Every snippet of the note runs here with the graph layer ([`Var`]) and
//! prints what the note's comments say it gives.
//!
//! Run: `cargo run --example note_004_graph_and_detach`

use autodiff::prelude::*;

/// Python's rendering of an optional gradient: `None` or the tensor.
fn py(grad: Option<Tensor>) -> String {
    grad.map_or_else(|| "None".to_string(), |g| g.to_string())
}

fn main() {
    println!("x = torch.arange(4.0); x");
    let x = Var::new(Tensor::arange(4.0));
    println!("{x}");

    println!("x.requires_grad_(True); x.grad  # None by default");
    x.requires_grad_(true);
    println!("{}", py(x.grad()));

    {
        println!("x = torch.tensor(2.0, requires_grad=True); y = x ** 2; z = y + 3; z");
        let x = Var::leaf(2.0);
        let y = x.pow(2);
        let z = &y + 3.0;
        // The note prints `grad_fn=<MulBackward0>` here, but z = y + 3 is an
        // addition: PyTorch prints AddBackward0, and so does this.
        println!("{z}");

        println!("z.backward(); x.grad  # 2x => 4");
        z.backward();
        println!("{}", py(x.grad()));
    }

    println!("x.grad.zero_(); y = x * x; y.backward(gradient=torch.ones(len(y))); x.grad");
    x.zero_grad();
    let y = &x * &x;
    y.backward_with(&Tensor::ones(y.shape()));
    println!("{}", py(x.grad()));

    println!("# Detaching");
    println!("x = 2, w = 3; y = x * x; z = w * w; u = y * z; u.backward(); x.grad, w.grad");
    let x = Var::leaf(2.0);
    let w = Var::leaf(3.0);
    let y = &x * &x;
    let z = &w * &w;
    let u = &y * &z;
    u.backward();
    println!("{}", py(x.grad())); // 2x·w² = 36
    println!("{}", py(w.grad())); // 2w·x² = 24

    println!("u = y.detach() * z; u.backward(); x.grad, w.grad");
    // Fresh gradients, and z recomputed: the backward above freed z's saved
    // values, as it does in PyTorch.
    x.zero_grad();
    w.zero_grad();
    let z = &w * &w;
    let u = y.detach() * &z;
    u.backward();
    println!("{}", py(x.grad())); // y is a constant now: 0
    println!("{}", py(w.grad())); // 2w·y = 24
}
