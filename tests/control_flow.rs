//! Gradients through loops, branches and exits, each checked against
//! central differences at several points (seeded directions, tight tolerance).

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};

fn config() -> GradCheckConfig {
    GradCheckConfig::default().directions(6).seed(7)
}

/// Checks f's pullback against central differences at each point.
macro_rules! check2 {
    ($f:ident, $points:expr) => {
        for (a, b) in $points {
            check_vjp_with(
                config(),
                |(a, b): &(f64, f64)| $f(*a, *b),
                |(a, b): &(f64, f64), v: f64| $f::vjp(*a, *b).1(v),
                &(a, b),
            )
            .unwrap_or_else(|e| panic!("{} at ({a}, {b}): {e}", stringify!($f)));
        }
    };
}

macro_rules! check1 {
    ($f:ident, $points:expr) => {
        for a in $points {
            check_vjp_with(
                config(),
                |a: &f64| $f(*a),
                |a: &f64, v: f64| $f::vjp(*a).1(v),
                &a,
            )
            .unwrap_or_else(|e| panic!("{} at {a}: {e}", stringify!($f)));
        }
    };
}

// A value defined before a loop whose trip count is known only at run time,
// and used after it.
#[differentiable]
fn before_and_after(x: f64, y: f64) -> f64 {
    let scale = x * y;
    let mut acc = x;
    let n = (y.abs() * 3.0) as usize + 1;
    for _ in 0..n {
        acc = acc * 0.9 + (acc * y).sin();
    }
    acc * scale
}

#[test]
fn value_before_a_runtime_loop_used_after() {
    check2!(before_and_after, [(0.3, 1.2), (-0.7, 2.5), (1.1, 0.1)]);
}

// Branches inside loops; the same variable reassigned in both arms.
#[differentiable]
fn branchy(x: f64, p: f64) -> f64 {
    let mut s = x;
    for i in 0..12 {
        if (s * 10.0).sin() > 0.0 {
            s = s * p + (i as f64) * 0.01;
        } else {
            s = s.cos() * 0.5 + p * 0.1;
        }
    }
    s
}

#[test]
fn branches_inside_loops() {
    check2!(branchy, [(0.3, 0.9), (1.7, 1.05), (-0.4, 0.5)]);
}

// Breaking out of nested loops by label.
#[differentiable]
fn labeled(x: f64, y: f64) -> f64 {
    let mut acc = 0.0;
    'outer: for i in 0..10 {
        for j in 0..10 {
            acc = acc + x * (i as f64) + y * (j as f64) * x;
            if acc > 40.0 {
                break 'outer;
            }
            if j > i {
                continue 'outer;
            }
        }
    }
    acc * y
}

#[test]
fn break_out_of_nested_loops_by_label() {
    check2!(labeled, [(0.5, 0.7), (2.0, 1.5), (0.05, 0.1)]);
}

// An early return inside a loop.
#[differentiable]
fn early_return(x: f64, limit: f64) -> f64 {
    let mut v = x;
    for k in 0..50 {
        v = v * 1.3 + 0.1 * (k as f64);
        if v > limit {
            return v * v + limit;
        }
    }
    -v
}

#[test]
fn early_return_inside_a_loop() {
    check2!(
        early_return,
        [(0.2, 3.0), (0.2, 1e9), (-5.0, 2.0), (1.0, 10.0)]
    );
}

// A loop whose trip count depends on the input (Newton's method for √a).
#[differentiable]
fn newton_sqrt(a: f64) -> f64 {
    let mut x = a;
    let mut steps = 0;
    while (x * x - a).abs() > 1e-12 * a && steps < 100 {
        x = 0.5 * (x + a / x);
        steps += 1;
    }
    x
}

#[test]
fn input_dependent_trip_count() {
    for a in [2.0f64, 9.0, 0.3] {
        let g = newton_sqrt::grad(a);
        assert!((g - 0.5 / a.sqrt()).abs() < 1e-9, "{g}");
    }
    check1!(newton_sqrt, [2.0, 9.0, 0.3]);
}

// A differentiable call inside a loop, and inside a branch.
#[differentiable]
fn step(x: f64, p: f64) -> f64 {
    x + 0.1 * (p * x.sin() - x.powi(2) * 0.2)
}

#[differentiable]
fn calls_in_a_loop(x0: f64, p: f64) -> f64 {
    let mut x = x0;
    for i in 0..20 {
        x = step(x, p);
        if i % 3 == 0 {
            x = step(x, p * 2.0) * 0.5 + x * 0.5;
        }
    }
    x
}

#[test]
fn differentiable_call_inside_a_loop() {
    check2!(calls_in_a_loop, [(0.5, 1.3), (-1.0, 0.4)]);
}

// Shadowing inside loops.
#[differentiable]
fn shadowing(x: f64, y: f64) -> f64 {
    let mut total = 0.0;
    let x = x * 2.0;
    for i in 1..6 {
        let x = x * (i as f64);
        let x = x.sin() + y;
        total = total + x * x;
    }
    let total = total.sqrt();
    total * x
}

#[test]
fn shadowing_inside_loops() {
    check2!(shadowing, [(0.3, 0.2), (1.5, -0.7)]);
}

// `if`/`else if`/`else` and `match` as expressions, `loop` with `break`,
// compound assignment, blocks as values.
#[differentiable]
fn expressions(x: f64, y: f64) -> f64 {
    let k = (x.abs() * 4.0) as i32 % 3;
    let scaled = match k {
        0 => x * y,
        1 => {
            let t = x + y;
            t * t
        }
        _ => y.exp(),
    };
    let mut acc = if scaled > 1.0 {
        scaled.ln()
    } else if scaled < -1.0 {
        -scaled
    } else {
        scaled * 3.0
    };
    let mut n = 0;
    loop {
        acc += y * 0.1;
        acc *= 1.01;
        n += 1;
        if n == 7 {
            break;
        }
    }
    acc /= 1.5 + x * x;
    acc -= {
        let w = x * y;
        w * 0.25
    };
    acc
}

#[test]
fn expressions_and_compound_assignment() {
    check2!(
        expressions,
        [(0.1, 0.5), (0.3, 2.0), (0.6, -0.4), (1.3, 1.0)]
    );
}

// `while` with continue; `for` over an iterator of inactive values.
#[differentiable]
fn iterators(x: f64, y: f64) -> f64 {
    let weights = [0.5, -1.0, 2.0, 0.25];
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        if i == 2 {
            continue;
        }
        acc = acc + w * (x * (i as f64 + 1.0)).tanh();
    }
    let mut i = 0;
    while i < 5 {
        i += 1;
        if i % 2 == 0 {
            continue;
        }
        acc = acc * y + 0.1;
    }
    acc
}

#[test]
fn continue_and_iterators() {
    check2!(iterators, [(0.3, 0.8), (-1.2, 1.1)]);
}

// An index loop over a slice (W3's loop form) and a tuple-returning call.
#[differentiable]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s = s + 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

#[test]
fn index_loop_over_a_slice() {
    let x: Vec<f64> = (0..7).map(|i| (i as f64 * 0.37).sin()).collect();
    let g = rosenbrock::grad(&x);
    // The hand-written gradient.
    let mut want = vec![0.0; x.len()];
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        want[i] += -400.0 * t * x[i] - 2.0 * (1.0 - x[i]);
        want[i + 1] += 200.0 * t;
    }
    for (g, w) in g.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{g} vs {w}");
    }
    check_vjp_with(
        config(),
        |x: &Vec<f64>| rosenbrock(x),
        |x: &Vec<f64>, v: f64| rosenbrock::vjp(x).1(v),
        &x,
    )
    .unwrap();
}

#[differentiable]
fn polar(r: f64, theta: f64) -> (f64, f64) {
    (r * theta.cos(), r * theta.sin())
}

#[differentiable]
fn uses_tuple(r: f64, theta: f64) -> f64 {
    let (px, py) = polar(r, theta);
    let (qx, _) = polar(py, px);
    px * py + qx
}

#[test]
fn tuple_outputs() {
    check2!(uses_tuple, [(1.5, 0.3), (0.4, -2.0)]);
    let (_, pullback) = polar::vjp(2.0, 0.5);
    let (dr, dtheta) = pullback((1.0, 0.0));
    assert!((dr - 0.5f64.cos()).abs() < 1e-15 && (dtheta + 2.0 * 0.5f64.sin()).abs() < 1e-15);
}

// A retained pullback gives the same result every call.
#[test]
fn retained_pullback_repeats() {
    let (_, pullback) = labeled::vjp_retained(0.5, 0.7);
    let first = pullback(1.0);
    let second = pullback(1.0);
    assert_eq!(first, second);
    assert_eq!(pullback(2.0).0, 2.0 * first.0);
}

// Loop-local lets that the reverse evaluates again instead of saving: a chain
// of them, and a body that shadows its own counter's name.
#[differentiable]
fn recomputed_lets(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let t = x[i] * w;
        let u = t.sin() + x[i];
        let i = (i as f64) * 0.5 + t;
        s = s + t * u * i;
    }
    s
}

#[test]
fn lets_evaluated_again_in_the_reverse() {
    let x = vec![0.3, -0.8, 1.1, 0.05];
    check_vjp_with(
        config(),
        |(x, w): &(Vec<f64>, f64)| recomputed_lets(x, *w),
        |(x, w): &(Vec<f64>, f64), v: f64| recomputed_lets::vjp(x, *w).1(v),
        &(x, 0.7),
    )
    .unwrap();
}

// Exits in every kind of nesting: `continue` from a `match` arm, `break` deep
// in an `if` inside a `while`, `return` from an inner loop inside a branch,
// loops inside branches inside loops, a `loop` inside a `match` arm.
#[differentiable]
fn exits_everywhere(x: f64, y: f64) -> f64 {
    let mut acc = x;
    if x > 10.0 {
        return x * y;
    }
    for i in 0..8 {
        match i % 4 {
            0 => {
                acc = acc * y + 0.1;
                continue;
            }
            1 => {
                let mut k = 0;
                loop {
                    acc = acc.sin() + y;
                    k += 1;
                    if k >= i {
                        break;
                    }
                }
            }
            2 => {
                if acc > 3.0 {
                    for j in 0..3 {
                        acc = acc * 0.5 + (j as f64) * x;
                        if acc < -50.0 {
                            return acc * 2.0;
                        }
                    }
                }
            }
            _ => acc = acc - x * 0.2,
        }
        let mut w = acc;
        while w.abs() > 0.5 {
            w = w * 0.5;
            if w.abs() < 0.7 {
                acc = acc + w;
                break;
            }
        }
    }
    acc * y
}

#[test]
fn exits_in_every_kind_of_nesting() {
    // (12, 0.5) leaves by the first `return`, (-30, 4) by the one in the inner loop.
    check2!(
        exits_everywhere,
        [
            (0.3, 1.2),
            (1.5, 0.7),
            (-0.8, 2.1),
            (12.0, 0.5),
            (0.9, -1.3),
            (-30.0, 4.0)
        ]
    );
}
