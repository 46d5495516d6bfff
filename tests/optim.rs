//! The optimisers on a convex loss written with `#[differentiable]`: least
//! squares, whose minimum the normal equations give exactly.

use autodiff::differentiable;
use autodiff::optim::{Adam, Optimizer, Parameters, Sgd};
use autodiff::prelude::*;

/// Mean squared error of the linear model `x·w + b`.
#[differentiable(wrt(w, b))]
fn mse(x: &Tensor, y: &Tensor, w: &Tensor, b: f64) -> f64 {
    let residual = x.matmul(w) + b - y;
    (&residual * &residual).mean()
}

struct Problem {
    x: Tensor,
    y: Tensor,
    /// The least-squares minimum of `mse`.
    min_loss: f64,
}

fn problem() -> Problem {
    let (n, d) = (50, 3);
    let x = Tensor::randn(&[n, d], 11);
    let noise = Tensor::randn(&[n], 12) * 0.1;
    let y = x.matmul(&Tensor::from([1.5, -2.0, 0.5])) + 0.7 + noise;
    // Normal equations of [x 1]·[w; b] = y.
    let a = nalgebra::DMatrix::from_fn(n, d + 1, |i, j| if j < d { x.at(&[i, j]) } else { 1.0 });
    let rhs = nalgebra::DVector::from_column_slice(y.data());
    let sol = (a.transpose() * &a)
        .lu()
        .solve(&(a.transpose() * rhs))
        .unwrap();
    let w = Tensor::from(sol.rows(0, d).iter().copied().collect::<Vec<_>>());
    let min_loss = mse(&x, &y, &w, sol[d]);
    Problem { x, y, min_loss }
}

/// Runs `steps` steps from w = 0, b = 0 and returns the loss before each
/// step and at the end.
fn train(opt: &mut impl Optimizer, p: &Problem, steps: usize) -> Vec<f64> {
    let mut params = (Tensor::zeros(&[3]), 0.0);
    let mut losses = Vec::new();
    for _ in 0..steps {
        let (loss, grad) = mse::value_and_grad(&p.x, &p.y, &params.0, params.1);
        losses.push(loss);
        opt.step(&mut params, &grad);
    }
    losses.push(mse(&p.x, &p.y, &params.0, params.1));
    losses
}

#[test]
fn gradient_descent_decreases_a_convex_loss_at_every_step() {
    let p = problem();
    let losses = train(&mut Sgd::new(0.05), &p, 300);
    for pair in losses.windows(2) {
        assert!(pair[1] < pair[0], "the loss rose: {pair:?}");
    }
    let last = *losses.last().unwrap();
    assert!(last - p.min_loss < 1e-9, "{last} vs minimum {}", p.min_loss);
}

#[test]
fn momentum_nesterov_and_adam_reach_the_minimum() {
    let p = problem();
    let runs: [(&str, Vec<f64>); 3] = [
        (
            "momentum",
            train(&mut Sgd::new(0.05).momentum(0.9), &p, 300),
        ),
        (
            "nesterov",
            train(&mut Sgd::new(0.05).momentum(0.9).nesterov(true), &p, 300),
        ),
        ("adam", train(&mut Adam::new(0.05), &p, 1000)),
    ];
    for (name, losses) in runs {
        let (first, last) = (losses[0], *losses.last().unwrap());
        assert!(last < 0.01 * first, "{name}: {first} -> {last}");
        assert!(
            last - p.min_loss < 1e-9,
            "{name}: {last} vs minimum {}",
            p.min_loss
        );
    }
}

#[test]
fn gradients_have_the_arithmetic_an_optimiser_needs() {
    let p = problem();
    let params = (Tensor::zeros(&[3]), 0.0);
    let g = mse::grad(&p.x, &p.y, &params.0, params.1);
    // A step along −g of length h lowers the loss by about h‖g‖.
    let h = 1e-6;
    let mut moved = params.clone();
    moved.add_scaled(-h / g.norm(), &g);
    let drop = mse(&p.x, &p.y, &params.0, params.1) - mse(&p.x, &p.y, &moved.0, moved.1);
    assert!((drop / h - g.norm()).abs() < 1e-4 * g.norm());
    assert!((g.inner(&g) - g.norm().powi(2)).abs() < 1e-12 * g.inner(&g));
}
