//! Note 001, a notebook built on "PyTorch Autograd: Understanding the heart
//! of PyTorch's magic" (Towards Data Science,
//! <https://towardsdatascience.com/pytorch-autograd-understanding-the-heart-of-pytorchs-magic-2686cd94ec95>),
//! with cells from "Gradient with PyTorch" (javatpoint,
//! <https://www.javatpoint.com/gradient-with-pytorch>) and from an answer to
//! "Pytorch, what are the gradient arguments" (Stack Overflow,
//! <https://stackoverflow.com/a/47026836>).
//!
//! It shows what a graph's values know (`data`, `requires_grad`, `grad`,
//! `grad_fn`, `is_leaf`), `backward(gradient)` as a weighted sum,
//! `retain_graph` and accumulation, the error of a second backward through a
//! freed graph, and one-hot gradients that pick rows of the Jacobian.
//!
//! Every cell of the note runs here with the graph layer ([`Var`]) and
//! prints what the note prints.
//!
//! Run: `cargo run --example note_001_backward_gradient_and_retain_graph`

use autodiff::prelude::*;

/// Python's rendering of an optional gradient: `None` or the tensor.
fn py(grad: Option<Tensor>) -> String {
    grad.map_or_else(|| "None".to_string(), |g| g.to_string())
}

/// Python's `True` / `False`.
fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn main() {
    println!("In [1]: the graph's values, one by one");
    let x = Var::leaf(1.0);
    let y = Var::new(2.0);
    let z = &x * &y;
    for (value, name) in [(&x, "x"), (&y, "y"), (&z, "z")] {
        println!("{name}");
        // The note ran an old PyTorch, which printed a 0-d `.data` as `1.0`.
        println!("data: {:?}", value.data().item());
        println!("requires_grad: {}", py_bool(value.requires_grad()));
        println!("grad: {}", py(value.grad()));
        println!(
            "grad_fn: {}",
            value.grad_fn_object().unwrap_or_else(|| "None".into())
        );
        println!("is_leaf: {}", py_bool(value.is_leaf()));
        println!();
    }

    println!("In [2]: z = x ** 3; z.backward(); print(x.grad.data)");
    let x = Var::leaf(1.0);
    let z = x.pow(3);
    z.backward();
    println!("{}", x.grad().unwrap());

    println!("In [0]: y = x**2; y.backward(torch.FloatTensor([1.0, 1.0])); x.grad");
    let x = Var::leaf([1.0, 2.0]);
    let y = x.pow(2);
    y.backward_with(&Tensor::from([1.0, 1.0]));
    println!("{}", py(x.grad()));

    println!("In [0]: w = torch.FloatTensor([1.0, 1.0]); y.backward(w); x.grad");
    let x = Var::leaf([1.0, 2.0]);
    let y = x.pow(2);
    let w = Tensor::from([1.0, 1.0]);
    y.backward_with(&w);
    println!("{}", py(x.grad()));

    println!("In [0]: y.backward(x); x.grad");
    let x = Var::leaf([1.0, 2.0]);
    let y = x.pow(2);
    y.backward_with(&x.data()); // x's values as the weights
    println!("{}", py(x.grad()));

    println!(
        "In [0]: z = y**3; z.backward(w, retain_graph=True) twice; print(y.grad); print(x.grad)"
    );
    let x = Var::leaf([1.0, 2.0]);
    let y = x.pow(2);
    let z = y.pow(3);
    let w = Tensor::from([1.0, 1.0]);
    for _ in 0..2 {
        z.backward_opts(Some(&w), true);
        println!("{}", py(y.grad())); // y is not a leaf: no .grad
        println!("{}", py(x.grad()));
    }

    println!("In [0]: y = x**2 + z**3; y.backward(w, retain_graph=True) three times");
    let x = Var::leaf([2.0, 2.0]);
    let z = Var::leaf([4.0, 4.0]);
    let y = x.pow(2) + z.pow(3);
    let w = Tensor::from([1.0, 1.0]);
    for _ in 0..3 {
        y.backward_opts(Some(&w), true);
        println!("{}", py(x.grad()));
        println!("{}", py(z.grad()));
    }

    println!("In [0]: the same without retain_graph");
    let x = Var::leaf([2.0, 2.0]);
    let z = Var::leaf([4.0, 4.0]);
    let y = x.pow(2) + z.pow(3);
    y.backward_with(&w);
    println!("{}", py(x.grad()));
    println!("{}", py(z.grad()));
    // try: y.backward(w); print(x.grad); print(z.grad)
    // except RuntimeError: print("Trying backward a second time when buffers are empty")
    match y.try_backward_with(&w) {
        Ok(()) => {
            println!("{}", py(x.grad()));
            println!("{}", py(z.grad()));
        }
        Err(_) => println!("Trying backward a second time when buffers are empty"),
    }
    // try: y.backward(w)
    // except RuntimeError: print(..)
    // else: print(x.grad); print(z.grad)
    match y.try_backward_with(&w) {
        Err(_) => println!("Trying backward a second time when buffers are empty"),
        Ok(()) => {
            println!("{}", py(x.grad()));
            println!("{}", py(z.grad()));
        }
    }
    // What the RuntimeError says, for the record.
    if let Err(e) = y.try_backward_with(&w) {
        println!("(RuntimeError: {e})");
    }

    println!("In [0]: one-hot gradients pick rows of the Jacobian of z = 2*x");
    let x = Var::leaf([[1.0, 2.0, 3.0, 4.0]]);
    let z = 2.0 * &x;
    let loss = z.sum_dim(1); // one element
    for weights in [
        [[1.0, 0.0, 0.0, 0.0]],
        [[0.0, 1.0, 0.0, 0.0]],
        [[1.0, 1.0, 1.0, 1.0]],
    ] {
        z.backward_opts(Some(&Tensor::from(weights)), true);
        println!("{}", x.grad().unwrap());
        x.zero_grad(); // or it will be accumulated
    }
    loss.backward(); // the same as loss.backward(torch.FloatTensor([1.0]))
    println!("{}", x.grad().unwrap());
}
