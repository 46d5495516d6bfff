//! `#[checkpoint]` on a loop: the same gradient as without it (bit for bit:
//! the reverse runs the same operations again), with O(√n) kept states.

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};

/// W2's recurrence, x ← x + 0.01 (p sin x − 0.1 x²), as written.
#[differentiable]
fn recurrence(x0: f64, p: f64, n: usize) -> f64 {
    let mut x = x0;
    for _ in 0..n {
        x = x + 0.01 * (p * x.sin() - 0.1 * x * x);
    }
    x
}

#[differentiable]
fn recurrence_checkpointed(x0: f64, p: f64, n: usize) -> f64 {
    let mut x = x0;
    #[checkpoint]
    for _ in 0..n {
        x = x + 0.01 * (p * x.sin() - 0.1 * x * x);
    }
    x
}

/// Two carried values, a value computed before the loop, the counter, an
/// inner loop and a branch; every 7 iterations.
#[differentiable]
fn busy(a: f64, b: f64, n: usize) -> f64 {
    let scale = a * 0.5;
    let mut u = a;
    let mut v = b;
    #[checkpoint(every = 7)]
    for i in 0..n {
        let t = u * v * scale;
        for _ in 0..2 {
            v = v * 0.9 + (i as f64) * 1e-3;
        }
        if t > 0.0 {
            u = u + 0.01 * t.tanh();
        } else {
            u = u - 0.02 * v;
        }
    }
    u * v
}

#[differentiable]
fn busy_plain(a: f64, b: f64, n: usize) -> f64 {
    let scale = a * 0.5;
    let mut u = a;
    let mut v = b;
    for i in 0..n {
        let t = u * v * scale;
        for _ in 0..2 {
            v = v * 0.9 + (i as f64) * 1e-3;
        }
        if t > 0.0 {
            u = u + 0.01 * t.tanh();
        } else {
            u = u - 0.02 * v;
        }
    }
    u * v
}

#[test]
fn checkpointed_gradients_equal_the_taped_ones() {
    for n in [0, 1, 2, 9, 100, 1000] {
        let plain = recurrence::grad(0.5, 1.3, n);
        let checkpointed = recurrence_checkpointed::grad(0.5, 1.3, n);
        assert_eq!(plain, checkpointed, "n = {n}");
    }
    for n in [0, 6, 7, 8, 50] {
        assert_eq!(
            busy::grad(0.8, -0.6, n),
            busy_plain::grad(0.8, -0.6, n),
            "n = {n}"
        );
        assert_eq!(busy(0.8, -0.6, n), busy_plain(0.8, -0.6, n));
    }
    check_vjp_with(
        GradCheckConfig::default().directions(4).seed(2),
        |ab: &(f64, f64)| busy(ab.0, ab.1, 40),
        |ab: &(f64, f64), w: f64| busy::vjp(ab.0, ab.1, 40).1(w),
        &(0.8, -0.6),
    )
    .unwrap();
}
