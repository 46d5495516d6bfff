//! `f::record`: a `#[differentiable]` call as one node of the PyTorch-style
//! graph, its backward being the generated pullback.

use autodiff::Var;
use autodiff::differentiable;
use autodiff::prelude::*;

#[differentiable]
fn f(a: f64) -> f64 {
    let mut b = a * 2.0;
    while b.abs() < 1000.0 {
        b = b * 2.0;
    }
    if b > 0.0 { b } else { 100.0 * b }
}

// Borrowed tensors: the node keeps its inputs and runs the forward again.
#[differentiable]
fn q(a: &Tensor, b: &Tensor) -> Tensor {
    3.0 * a.powi(3) - b.powi(2)
}

#[test]
fn recorded_scalar_call() {
    let a = Var::new(Tensor::scalar(-0.2753)).requires_grad_(true);
    let d = f::record(&a);
    assert!(d.requires_grad() && !d.is_leaf());
    d.backward();
    let grad = a.grad().expect("a leaf gets a gradient").item();
    assert_eq!(grad, 409600.0);
    assert_eq!(grad, d.data().item() / -0.2753);
}

#[test]
fn recorded_tensor_call_with_retained_graph() {
    let a = Var::new(Tensor::from(vec![2.0, 3.0])).requires_grad_(true);
    let b = Var::new(Tensor::from(vec![6.0, 4.0])).requires_grad_(true);
    let out = q::record(&a, &b);
    let ones = Tensor::ones(&[2]);
    out.backward_opts(Some(&ones), true);
    out.backward_opts(Some(&ones), true);
    assert_eq!(a.grad().unwrap().to_vec(), vec![72.0, 162.0]);
    assert_eq!(b.grad().unwrap().to_vec(), vec![-24.0, -16.0]);
    assert!(out.grad_fn().is_some());
}
