//! argmin's L-BFGS on a `#[differentiable]` cost function: the Rosenbrock
//! function from the classic start (−1.2, 1) to its minimum at (1, 1).
//!
//! Run: `cargo run --example rosenbrock_lbfgs`

use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{Error, Executor, IterState, KV, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use autodiff::argmin::Problem;
use autodiff::differentiable;

/// Σᵢ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², minimal (0) at xᵢ = 1.
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

/// Prints each iteration: the point, the cost and the gradient's norm.
struct PrintIterations;

type LbfgsState = IterState<Vec<f64>, Vec<f64>, (), (), (), f64>;

impl PrintIterations {
    fn row(iter: u64, state: &LbfgsState) {
        let x = state
            .get_param()
            .expect("L-BFGS has a point at every iteration");
        let cost = rosenbrock(x);
        let g = rosenbrock::grad(x);
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        println!(
            "{iter:4}  ({:>9.6}, {:>9.6})  {cost:>12.6e}  {norm:>10.3e}",
            x[0], x[1]
        );
    }
}

impl Observe<LbfgsState> for PrintIterations {
    fn observe_init(&mut self, _name: &str, state: &LbfgsState, _kv: &KV) -> Result<(), Error> {
        Self::row(0, state);
        Ok(())
    }

    // argmin calls this after each iteration, before counting it.
    fn observe_iter(&mut self, state: &LbfgsState, _kv: &KV) -> Result<(), Error> {
        Self::row(state.get_iter() + 1, state);
        Ok(())
    }
}

fn main() -> Result<(), Error> {
    // The cost and the gradient `#[differentiable]` generated for it.
    let problem = Problem::new(rosenbrock, rosenbrock::grad);
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-10)?
        .with_tolerance_cost(0.0)?;
    println!("iter  point                     cost          |gradient|");
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(vec![-1.2, 1.0]).max_iters(100).counting(true))
        .add_observer(PrintIterations, ObserverMode::Always)
        .run()?;
    let state = result.state();
    let x = state.get_best_param().expect("a best point");
    println!(
        "L-BFGS stopped after {} iterations ({}): minimum at ({:.10}, {:.10}), cost {:.3e}",
        state.get_iter(),
        state
            .get_termination_reason()
            .map_or("no reason".to_string(), |r| r.to_string()),
        x[0],
        x[1],
        state.get_best_cost()
    );
    let counts = state.get_func_counts();
    println!(
        "evaluations: {} of the cost (the function as written), {} of the gradient (generated)",
        counts.get("cost_count").unwrap_or(&0),
        counts.get("gradient_count").unwrap_or(&0)
    );
    assert!(
        (x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6,
        "L-BFGS did not reach (1, 1)"
    );
    Ok(())
}
