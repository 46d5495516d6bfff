//! argmin's solvers on `#[differentiable]` cost functions through
//! `autodiff::argmin::Problem`.

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use autodiff::argmin::Problem;
use autodiff::differentiable;

#[differentiable]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        total += 100.0 * t * t + u * u;
    }
    total
}

/// The gradient of the Rosenbrock function, written by hand.
fn rosenbrock_gradient(x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * t * x[i] - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * t;
    }
    g
}

fn lbfgs_from(start: Vec<f64>) -> (Vec<f64>, u64, Option<TerminationReason>) {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-10)
        .unwrap()
        .with_tolerance_cost(0.0)
        .unwrap();
    let result = Executor::new(Problem::new(rosenbrock, rosenbrock::grad), solver)
        .configure(|state| state.param(start).max_iters(500))
        .run()
        .unwrap();
    let state = result.state();
    (
        state.get_best_param().unwrap().clone(),
        state.get_iter(),
        state.get_termination_reason().cloned(),
    )
}

#[test]
fn the_adapter_serves_cost_and_gradient() {
    let p = Problem::new(rosenbrock, rosenbrock::grad);
    let x = vec![-1.2, 1.0, 0.3];
    assert_eq!(p.cost(&x).unwrap(), rosenbrock(&x));
    let (g, want) = (p.gradient(&x).unwrap(), rosenbrock_gradient(&x));
    for (a, b) in g.iter().zip(&want) {
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1.0),
            "{g:?} vs {want:?}"
        );
    }
}

#[test]
fn lbfgs_reaches_the_rosenbrock_minimum_from_the_classic_start() {
    let (x, iters, reason) = lbfgs_from(vec![-1.2, 1.0]);
    assert_eq!(reason, Some(TerminationReason::SolverConverged));
    assert!(iters < 100, "{iters} iterations");
    for v in &x {
        assert!((v - 1.0).abs() < 1e-8, "{x:?}");
    }
}

#[test]
fn lbfgs_in_ten_dimensions() {
    let start: Vec<f64> = (0..10)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let (x, _, reason) = lbfgs_from(start);
    assert_eq!(reason, Some(TerminationReason::SolverConverged));
    for v in &x {
        assert!((v - 1.0).abs() < 1e-8, "{x:?}");
    }
}
