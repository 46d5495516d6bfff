//! Fitting `y = m·x + c` (the model of PyTorch's autograd tutorial, and of
//! note 003) to noisy data by gradient descent: the loss is a
//! `#[differentiable]` function of `m` and `c`, the optimiser PyTorch's SGD.
//!
//! Run: `cargo run --example linear_regression`

use autodiff::differentiable;
use autodiff::optim::{Optimizer, Sgd};
use autodiff::prelude::*;

/// Mean squared error of the line `m·x + c` on the points `(x, y)`.
#[differentiable(wrt(m, c))]
fn mse(m: f64, c: f64, x: &Tensor, y: &Tensor) -> f64 {
    let residual = m * x + c - y;
    residual.powi(2).mean()
}

fn main() {
    // 100 points on the line y = 2.5 x − 1 over [−2, 2], with Gaussian
    // noise of standard deviation 0.5 (seeded: the same numbers every run).
    let (true_m, true_c, noise) = (2.5, -1.0, 0.5);
    let n = 100;
    let x = Tensor::uniform(&[n], -2.0, 2.0, 1);
    let y = true_m * &x + true_c + Tensor::randn(&[n], 2) * noise;

    let mut params = (0.0, 0.0); // (m, c)
    let mut opt = Sgd::new(0.1);
    println!("epoch  loss      m          c");
    for epoch in 0..=100 {
        let (loss, grad) = mse::value_and_grad(params.0, params.1, &x, &y);
        if [0, 1, 2, 5, 10, 20, 50, 100].contains(&epoch) {
            println!("{epoch:5}  {loss:.6}  {:<9.6}  {:.6}", params.0, params.1);
        }
        opt.step(&mut params, &grad);
    }
    let (m, c) = params;

    // The least-squares line, in closed form: the best any fit can do on
    // these noisy points (gradient descent should land on it).
    let (mean_x, mean_y) = (x.mean(), y.mean());
    let cov = ((&x - mean_x) * (&y - mean_y)).mean();
    let var = (&x - mean_x).powi(2).mean();
    let (ls_m, ls_c) = (cov / var, mean_y - cov / var * mean_x);

    println!();
    println!("            m          c");
    println!("true        {true_m:<9.6}  {true_c:.6}");
    println!("fitted      {m:<9.6}  {c:.6}");
    println!("least sq.   {ls_m:<9.6}  {ls_c:.6}");
    assert!(
        (m - ls_m).abs() < 1e-6 && (c - ls_c).abs() < 1e-6,
        "gradient descent did not reach the least-squares line"
    );
}
