//! Note 003, a notebook on PyTorch's tutorial "A Gentle Introduction to
//! `torch.autograd`"
//! (<https://pytorch.org/tutorials/beginner/blitz/autograd_tutorial.html>):
//! its section "Differentiation in Autograd", after a `y = m x + c` warm-up.
//!
//! It shows `y = m x + c` and its gradients, the error of running `backward`
//! twice, `Q = 3a³ − b²` whose implicit backward fails because `Q` is not a
//! scalar, and `Q.backward(gradient=external_grad)`, which gives `9a²` and
//! `−2b`.
//!
//! Every cell runs here with the graph layer ([`Var`]) and prints what the
//! note prints, errors included.
//!
//! Run: `cargo run --example note_003_gentle_autograd`

use autodiff::prelude::*;

/// Python's rendering of an optional gradient: `None` or the tensor.
fn py(grad: Option<Tensor>) -> String {
    grad.map_or_else(|| "None".to_string(), |g| g.to_string())
}

fn main() {
    // Create tensors.
    let x = Var::new(3.0);
    let m = Var::leaf(4.0);
    let c = Var::leaf(5.0);

    println!("In [ ]: x,m,c");
    println!("{:?}", (&x, &m, &c));

    println!("In [ ]: y = m * x + c; print(y)");
    let y = &m * &x + &c;
    println!("{y}");

    println!("In [ ]: y.backward()");
    y.backward();
    // The note shows this cell's output from running it a second time: the
    // first backward freed the graph.
    if let Err(e) = y.try_backward() {
        println!("RuntimeError: {e}");
    }

    println!("In [ ]: print('dy/dm:', m.grad); print('dy/dc:', c.grad)");
    println!("dy/dm: {}", py(m.grad()));
    println!("dy/dc: {}", py(c.grad()));

    let a = Var::leaf([2.0, 3.0]);
    let b = Var::leaf([6.0, 4.0]);

    println!("In [ ]: Q = 3*a**3 - b**2; print(Q)");
    let q = 3.0 * a.pow(3) - b.pow(2);
    println!("{q}");

    println!("In [ ]: Q.backward()");
    if let Err(e) = q.try_backward() {
        println!("RuntimeError: {e}");
    }

    println!("In [ ]: external_grad = torch.tensor([1., 1.]); Q.backward(gradient=external_grad)");
    let external_grad = Tensor::from([1.0, 1.0]);
    q.backward_with(&external_grad);

    println!("In [ ]: a.grad, b.grad");
    println!("({}, {})", py(a.grad()), py(b.grad()));

    println!("In [ ]: print(9*a**2 == a.grad); print(-2*b == b.grad)");
    println!("{}", (9.0 * a.pow(2)).data().eq_elem(&a.grad().unwrap()));
    println!("{}", (-2.0 * &b).data().eq_elem(&b.grad().unwrap()));

    // "Equivalently, we can also aggregate Q into a scalar and call backward
    // implicitly, like Q.sum().backward()": on fresh gradients and a fresh Q
    // (the backward above freed Q's graph), the same numbers.
    println!("Q.sum().backward(); a.grad, b.grad");
    a.zero_grad();
    b.zero_grad();
    let q = 3.0 * a.pow(3) - b.pow(2);
    q.sum().backward();
    println!("({}, {})", py(a.grad()), py(b.grad()));
}
