//! Newton's method with the exact Hessian: the Rosenbrock function
//! f(x, y) = (1 − x)² + 100 (y − x²)², from the classic start (−1.2, 1).
//!
//! Each step solves H·d = −∇f with the gradient from `rosenbrock::grad` and
//! the Hessian from `rosenbrock::hessian` (reverse mode over forward mode,
//! exact — no finite differences), backtracking on the step length so that
//! f decreases. It reaches the minimum (1, 1) in a couple of dozen steps,
//! where plain gradient descent needs thousands.
//!
//! `cargo run --example newton`

use autodiff::differentiable;

#[differentiable(forward)]
fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

fn main() {
    let (mut x, mut y) = (-1.2, 1.0);

    // The Hessian at the start, beside central differences of the gradient.
    let h = rosenbrock::hessian(x, y).to_vec();
    let eps = 1e-6;
    let (gxp, gyp) = rosenbrock::grad(x + eps, y);
    let (gxm, gym) = rosenbrock::grad(x - eps, y);
    let (gxq, gyq) = rosenbrock::grad(x, y + eps);
    let (gxr, gyr) = rosenbrock::grad(x, y - eps);
    let fd = [
        (gxp - gxm) / (2.0 * eps),
        (gxq - gxr) / (2.0 * eps),
        (gyp - gym) / (2.0 * eps),
        (gyq - gyr) / (2.0 * eps),
    ];
    println!(
        "Hessian at (-1.2, 1): [[{}, {}], [{}, {}]]",
        h[0], h[1], h[2], h[3]
    );
    println!(
        "central differences:  [[{:.4}, {:.4}], [{:.4}, {:.4}]]",
        fd[0], fd[1], fd[2], fd[3]
    );
    for (exact, approx) in h.iter().zip(fd) {
        assert!((exact - approx).abs() < 1e-4 * exact.abs().max(1.0));
    }

    println!("\nstep  x                    y                    f(x, y)");
    for step in 0..100 {
        let f = rosenbrock(x, y);
        let (gx, gy) = rosenbrock::grad(x, y);
        println!("{step:>4}  {x:<19.15}  {y:<19.15}  {f:.3e}");
        if gx.hypot(gy) < 1e-12 {
            break;
        }
        // Solve H d = −g (2 × 2, by Cramer's rule).
        let h = rosenbrock::hessian(x, y).to_vec();
        let det = h[0] * h[3] - h[1] * h[2];
        let (dx, dy) = (
            (-gx * h[3] + gy * h[1]) / det,
            (-gy * h[0] + gx * h[2]) / det,
        );
        // Backtrack until f decreases (Armijo).
        let mut t = 1.0;
        while rosenbrock(x + t * dx, y + t * dy) > f + 1e-4 * t * (gx * dx + gy * dy) && t > 1e-10 {
            t *= 0.5;
        }
        x += t * dx;
        y += t * dy;
    }
    assert!(
        (x - 1.0).abs() < 1e-9 && (y - 1.0).abs() < 1e-9,
        "Newton's method should reach (1, 1)"
    );
    println!("\nminimum at ({x}, {y})");
}
