//! Beyond one reverse pass: custom derivative rules (`vjp = rule`), forward
//! mode (`f::jvp`), Jacobians (`f::jacobian`), second derivatives
//! (`f::hvp`, `f::hessian`, `f::grad` differentiated again). Every value is
//! checked against central differences (of the function, or of its
//! gradient for second derivatives), and against analytic derivatives where
//! there are some.

use autodiff::prelude::*;
use autodiff::{Differentiable, differentiable};

// ------------------------------------------------------------------ helpers

/// `(f(x + h) − f(x − h)) / 2h`, with `h` scaled to `x`.
fn cd(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    let h = 1e-6 * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// The derivative of `f` at `x` in the direction `v`, by central differences.
fn cd_dir(f: impl Fn(&[f64]) -> f64, x: &[f64], v: &[f64]) -> f64 {
    let h = 1e-6;
    let plus: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + h * b).collect();
    let minus: Vec<f64> = x.iter().zip(v).map(|(a, b)| a - h * b).collect();
    (f(&plus) - f(&minus)) / (2.0 * h)
}

/// The same for a vector-valued `f`.
fn cd_dir_vec(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], v: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    let plus: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + h * b).collect();
    let minus: Vec<f64> = x.iter().zip(v).map(|(a, b)| a - h * b).collect();
    f(&plus)
        .iter()
        .zip(f(&minus))
        .map(|(p, m)| (p - m) / (2.0 * h))
        .collect()
}

#[track_caller]
fn close(got: f64, want: f64, tol: f64) {
    let scale = want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol * scale,
        "got {got}, want {want} (tolerance {tol} relative)"
    );
}

#[track_caller]
fn close_all(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        let scale = w.abs().max(1.0);
        assert!(
            (g - w).abs() <= tol * scale,
            "got {got:?}, want {want:?} (tolerance {tol} relative)"
        );
    }
}

/// Directions to check along, from a fixed seed.
fn directions(n: usize, count: usize) -> Vec<Vec<f64>> {
    (0..count)
        .map(|k| Tensor::randn(&[n], 100 + k as u64).to_vec())
        .collect()
}

// ======================================================= 1. custom rules

/// √a by Newton's iteration on y² − a = 0. Differentiating through the
/// iterations would be wasteful (and inexact for a fixed count); the rule
/// below gives the derivative of the solution itself.
#[differentiable(vjp = sqrt_newton_vjp, forward)]
fn sqrt_newton(a: f64) -> f64 {
    let mut y = if a > 1.0 { a } else { 1.0 };
    for _ in 0..60 {
        y = 0.5 * (y + a / y);
    }
    y
}

/// Implicit function theorem on F(y, a) = y² − a = 0:
/// dy/da = −(∂F/∂a)/(∂F/∂y) = 1/(2y).
fn sqrt_newton_vjp(a: f64) -> (f64, impl FnOnce(f64) -> (f64,) + Clone + 'static) {
    let y = sqrt_newton(a);
    (y, move |g: f64| (g / (2.0 * y),))
}

/// Kepler's equation E − e sin E = M, solved for the eccentric anomaly E.
#[differentiable(vjp = kepler_vjp, forward)]
fn kepler(m: f64, e: f64) -> f64 {
    let mut big_e = if e > 0.8 { std::f64::consts::PI } else { m };
    for _ in 0..100 {
        let step = (big_e - e * big_e.sin() - m) / (1.0 - e * big_e.cos());
        big_e = big_e - step;
        if step.abs() < 1e-15 {
            break;
        }
    }
    big_e
}

/// F(E; M, e) = E − e sin E − M = 0, so with D = ∂F/∂E = 1 − e cos E:
/// ∂E/∂M = 1/D and ∂E/∂e = sin E / D.
fn kepler_vjp(m: f64, e: f64) -> (f64, impl FnOnce(f64) -> (f64, f64) + Clone + 'static) {
    let big_e = kepler(m, e);
    let d = 1.0 - e * big_e.cos();
    (big_e, move |g: f64| (g / d, g * big_e.sin() / d))
}

/// A differentiable function calling the rule in a loop and in a branch.
#[differentiable(forward)]
fn orbit(m0: f64, e: f64) -> f64 {
    let mut s = 0.0;
    for k in 0..12 {
        let m = m0 + k as f64 * 0.5;
        if k % 3 == 0 {
            s += kepler(m, e).sin() * e;
        } else {
            s += kepler(m, e).cos();
        }
    }
    s + sqrt_newton(m0 * m0 + 1.0)
}

#[test]
fn custom_rule_gives_the_implicit_derivative() {
    for a in [0.25, 2.0, 9.0, 150.0] {
        let g = sqrt_newton::grad(a);
        close(g, 0.5 / a.sqrt(), 1e-12);
        close(g, cd(sqrt_newton, a), 1e-7);
    }
    for (m, e) in [(1.0, 0.3), (2.5, 0.7), (0.2, 0.9)] {
        let (dm, de) = kepler::grad(m, e);
        let big_e = kepler(m, e);
        let d = 1.0 - e * big_e.cos();
        close(dm, 1.0 / d, 1e-12);
        close(de, big_e.sin() / d, 1e-12);
        close(dm, cd(|m| kepler(m, e), m), 1e-6);
        close(de, cd(|e| kepler(m, e), e), 1e-6);
    }
}

#[test]
fn functions_calling_a_custom_rule_use_it_in_loops_and_branches() {
    for (m0, e) in [(0.3, 0.2), (1.7, 0.6)] {
        let (dm, de) = orbit::grad(m0, e);
        close(dm, cd(|m| orbit(m, e), m0), 1e-6);
        close(de, cd(|e| orbit(m0, e), e), 1e-6);
        // Forward mode through the rule (a tangent from its pullback).
        let (value, tangent) = orbit::jvp(m0, e, 0.5, -2.0);
        close(value, orbit(m0, e), 1e-15);
        close(tangent, 0.5 * dm - 2.0 * de, 1e-12);
    }
}

/// A rule that deliberately differs from the body's derivative: what
/// callers get shows that they use the rule, not the body.
#[differentiable(vjp = doubled_vjp, forward)]
fn marked(x: f64) -> f64 {
    x
}

fn doubled_vjp(x: f64) -> (f64, impl FnOnce(f64) -> (f64,) + Clone + 'static) {
    (x, |g: f64| (2.0 * g,))
}

#[differentiable(forward)]
fn calls_marked(x: f64, n: usize) -> f64 {
    let mut s = 0.0;
    let mut i = 0;
    while i < n {
        s = if i % 2 == 0 {
            s + marked(x)
        } else {
            s - 0.5 * marked(x * x)
        };
        i += 1;
    }
    s
}

#[test]
fn the_rule_is_what_callers_differentiate() {
    assert_eq!(marked::grad(3.0), 2.0);
    // n = 3: s = 2x − x²/2 (values), rule: d = 2·2 − 0.5·2·2x = 4 − 2x.
    let dx = calls_marked::grad(1.5, 3);
    assert_eq!(dx, 4.0 - 2.0 * 1.5);
    assert_eq!(calls_marked::jvp(1.5, 3, 1.0).1, 4.0 - 2.0 * 1.5);
}

/// A custom rule for a slice parameter: the pullback returns a `Vec`.
#[differentiable(vjp = soft_norm_vjp, forward)]
fn soft_norm(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() + 1.0).sqrt()
}

fn soft_norm_vjp(x: &[f64]) -> (f64, impl FnOnce(f64) -> (Vec<f64>,) + Clone + use<>) {
    let y = soft_norm(x);
    let x = x.to_vec();
    (y, move |g: f64| (x.iter().map(|v| g * v / y).collect(),))
}

#[differentiable(forward)]
fn uses_soft_norm(x: &[f64], w: f64) -> f64 {
    soft_norm(x) * w + soft_norm(&[w, 2.0 * w])
}

#[test]
fn custom_rules_on_slices() {
    let x = [0.5, -1.0, 2.0];
    let (gx, gw) = uses_soft_norm::grad(&x, 0.7);
    for (k, v) in directions(3, 3).iter().enumerate() {
        let want = cd_dir(|x| uses_soft_norm(x, 0.7), &x, v);
        let got: f64 = gx.iter().zip(v).map(|(a, b)| a * b).sum();
        close(got, want, 1e-7);
        let _ = k;
    }
    close(gw, cd(|w| uses_soft_norm(&x, w), 0.7), 1e-7);
    let (_, t) = uses_soft_norm::jvp(&x, 0.7, &[1.0, 0.0, 0.0], 0.0);
    close(t, gx[0], 1e-12);
}

/// With a `jvp` rule that is itself differentiable, second derivatives
/// through the custom function are exact too.
#[differentiable(vjp = kepler_vjp, jvp = kepler_jvp, forward)]
fn kepler_twice(m: f64, e: f64) -> f64 {
    kepler(m, e)
}

/// The tangent of E: (Ṁ + ė sin E) / (1 − e cos E).
#[differentiable(forward)]
fn kepler_jvp(m: f64, e: f64, m_dot: f64, e_dot: f64) -> (f64, f64) {
    let big_e = kepler(m, e);
    (
        big_e,
        (m_dot + e_dot * big_e.sin()) / (1.0 - e * big_e.cos()),
    )
}

#[differentiable(forward)]
fn orbit_twice(m0: f64, e: f64) -> f64 {
    let mut s = 0.0;
    for k in 0..6 {
        s += kepler_twice(m0 + k as f64 * 0.5, e).sin();
    }
    s
}

#[test]
fn second_derivatives_through_a_custom_rule_with_a_jvp_rule() {
    let (m0, e) = (0.4, 0.3);
    let h = orbit_twice::hessian(m0, e);
    assert_eq!(h.shape(), &[2, 2]);
    let g = |m: f64, e: f64| orbit_twice::grad(m, e);
    let row0 = [cd(|m| g(m, e).0, m0), cd(|e| g(m0, e).0, e)];
    let row1 = [cd(|m| g(m, e).1, m0), cd(|e| g(m0, e).1, e)];
    close_all(&h.to_vec(), &[row0[0], row0[1], row1[0], row1[1]], 1e-6);
    // Through the rule's tangent alone.
    let (_, t) = kepler_twice::jvp(m0, e, 1.0, 0.0);
    close(t, kepler::grad(m0, e).0, 1e-14);
}

// ======================================================= 2. forward mode

#[differentiable(forward)]
fn notes_f(a: f64) -> f64 {
    let mut b = a * 2.0;
    while b.abs() < 1000.0 {
        b = b * 2.0;
    }
    if b > 0.0 { b } else { 100.0 * b }
}

#[test]
fn forward_mode_of_the_notes_function() {
    let (value, tangent) = notes_f::jvp(-0.2753, 1.0);
    assert_eq!(value, notes_f(-0.2753));
    assert_eq!(tangent, 409600.0);
    // grad takes the forward path here (one f64 in, one out): same number.
    assert_eq!(notes_f::grad(-0.2753), 409600.0);
    // 0.2 doubles 13 times: f = 0.2·2¹³, f' = 2·2¹³.
    assert_eq!(notes_f::value_and_grad(0.1), (notes_f(0.1), 16384.0));
}

#[differentiable(forward)]
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

#[differentiable(forward)]
fn early_exit(x: f64, y: f64) -> f64 {
    let mut acc = 0.0;
    'outer: for i in 0..5 {
        let mut j = 0;
        loop {
            acc += (x * i as f64 + y * j as f64).sin();
            j += 1;
            if acc > 2.5 {
                return acc * x;
            }
            if j > i {
                continue 'outer;
            }
            if acc < -1.0 {
                break 'outer;
            }
        }
    }
    let scaled = match (x * 3.0) as i64 {
        0 => acc * y,
        k if k > 0 => acc / (1.0 + k as f64),
        _ => -acc,
    };
    scaled + y.exp()
}

#[differentiable(forward)]
fn shadow_and_tuples(x: f64, y: f64) -> f64 {
    let (a, b) = (x * y, x - y);

    let x = a.max(b) + b.min(0.3) * a;
    let (s, c) = polar(x, y);
    let y = [s, c, x];
    y[0] * y[1] - y[2].abs().sqrt() + y[2].powf(2.5) / (1.0 + y[1].powi(2))
}

#[differentiable(forward)]
fn polar(x: f64, y: f64) -> (f64, f64) {
    let r = (x * x + y * y).sqrt();
    (r, (y / (r + 1.0)).tanh())
}

#[test]
fn forward_mode_matches_central_differences_on_scalar_functions() {
    let points = [(0.3, 1.2), (-0.7, 0.9), (1.1, 0.1), (0.05, -0.4)];
    for (x, y) in points {
        for (vx, vy) in [(1.0, 0.0), (0.0, 1.0), (0.6, -1.3)] {
            let f = |z: &[f64]| branchy(z[0], z[1]);
            close(
                branchy::jvp(x, y, vx, vy).1,
                cd_dir(f, &[x, y], &[vx, vy]),
                1e-6,
            );
            let f = |z: &[f64]| early_exit(z[0], z[1]);
            close(
                early_exit::jvp(x, y, vx, vy).1,
                cd_dir(f, &[x, y], &[vx, vy]),
                1e-6,
            );
        }
    }
}

#[test]
fn forward_mode_agrees_with_reverse_mode() {
    // ⟨ȳ, J·v⟩ = ⟨Jᵀ·ȳ, v⟩: the two modes give the same Jacobian.
    for (x, y) in [(0.3, 1.2), (-0.7, 0.9), (1.1, 0.1)] {
        let (gx, gy) = branchy::grad(x, y);
        close(branchy::jvp(x, y, 0.6, -1.3).1, 0.6 * gx - 1.3 * gy, 1e-12);
        let (gx, gy) = early_exit::grad(x, y);
        close(
            early_exit::jvp(x, y, 0.6, -1.3).1,
            0.6 * gx - 1.3 * gy,
            1e-12,
        );
    }
}

#[differentiable(forward)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        s += 100.0 * t * t + u * u;
    }
    s
}

#[differentiable(forward)]
fn iterators(x: &[f64], w: f64) -> f64 {
    let scaled = |v: f64| (v * w).sin();
    let a = x.iter().map(|v| v * v).sum::<f64>();
    let b = x
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, v)| (i as f64 + 1.0) * v.sin())
        .sum::<f64>();
    let c = x.windows(2).map(|p| (p[1] - p[0]).powi(2)).sum::<f64>();
    let d = x
        .iter()
        .zip(x.iter())
        .map(|(p, q)| p * q.cos())
        .sum::<f64>();
    let mut e = 0.0;
    for (i, v) in x.iter().enumerate() {
        e += scaled(*v) * i as f64;
    }
    a + b + c + d + e + scaled(w)
}

#[differentiable(forward)]
fn buffers(x: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut scratch = vec![0.0; x.len()];
    for i in 0..x.len() {
        scratch[i] = x[i] * x[i];
        scratch[i] += 1.0;
    }
    for i in 0..x.len() {
        out.push(scratch[i].ln() * x[(i + 1) % x.len()]);
    }
    out.push(x[0]);
    out
}

#[test]
fn forward_mode_on_slices_loops_iterators_and_buffers() {
    let x = [0.5, -1.2, 2.0, 0.3];
    for v in directions(4, 3) {
        close(rosenbrock::jvp(&x, &v).1, cd_dir(rosenbrock, &x, &v), 1e-6);
        close(
            iterators::jvp(&x, 0.7, &v, 0.0).1,
            cd_dir(|z| iterators(z, 0.7), &x, &v),
            1e-6,
        );
        close_all(&buffers::jvp(&x, &v).1, &cd_dir_vec(buffers, &x, &v), 1e-6);
        let g = rosenbrock::grad(&x);
        close(
            rosenbrock::jvp(&x, &v).1,
            g.iter().zip(&v).map(|(a, b)| a * b).sum(),
            1e-12,
        );
    }
    close(
        iterators::jvp(&x, 0.7, &[0.0; 4], 1.0).1,
        cd(|w| iterators(&x, w), 0.7),
        1e-6,
    );
    for (x, y) in [(0.3, 1.2), (-0.7, 0.9)] {
        let f = |z: &[f64]| shadow_and_tuples(z[0], z[1]);
        close(
            shadow_and_tuples::jvp(x, y, 0.4, 1.0).1,
            cd_dir(f, &[x, y], &[0.4, 1.0]),
            1e-6,
        );
    }
}

/// Calls with arguments that carry no tangent: a zero goes in where the
/// callee differentiates that parameter.
#[differentiable(forward)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b.iter()).map(|(p, q)| p * q).sum::<f64>()
}

#[differentiable(forward)]
fn loss(w: &[f64], #[no_grad] data: &[f64], #[no_grad] scale: f64) -> f64 {
    let fit = dot(w, data) - scale;
    fit * fit + 0.1 * dot(w, w) + dot(&[1.0, 2.0, 3.0], w)
}

#[test]
fn forward_mode_through_calls() {
    let (w, data) = ([0.3, -0.2, 0.9], [1.0, 2.0, -1.0]);
    for v in directions(3, 3) {
        close(
            loss::jvp(&w, &data, 0.5, &v).1,
            cd_dir(|w| loss(w, &data, 0.5), &w, &v),
            1e-6,
        );
    }
}

#[derive(Clone, Differentiable)]
struct Line {
    m: f64,
    c: f64,
    #[no_grad]
    scale: f64,
}

#[differentiable(forward)]
fn line_loss(p: &Line, x: f64, y: f64) -> f64 {
    let r = (p.m * x + p.c) * p.scale - y;
    r * r
}

#[test]
fn forward_mode_ignores_the_tangent_of_a_no_grad_field() {
    let p = Line {
        m: 2.0,
        c: 1.0,
        scale: 1.5,
    };
    // Whatever the caller puts in `scale`, it has no tangent.
    let dp = Line {
        m: 1.0,
        c: -0.5,
        scale: 1000.0,
    };
    let (_, t) = line_loss::jvp(&p, 3.0, 4.0, &dp, 0.0, 0.0);
    let f = |z: &[f64]| {
        line_loss(
            &Line {
                m: z[0],
                c: z[1],
                scale: 1.5,
            },
            3.0,
            4.0,
        )
    };
    close(t, cd_dir(f, &[2.0, 1.0], &[1.0, -0.5]), 1e-7);
}

#[differentiable(forward)]
fn tensor_net(x: &Tensor, w: &Tensor, b: &Tensor) -> f64 {
    let h = (x.matmul(w) + b).tanh();
    let p = h.softmax(1) * 2.0 + h.log_softmax(1) - h.logsumexp(1).sum() * 0.1;
    p.sum()
        + h.abs().sum() * 0.3
        + h.relu().mean()
        + (&h * &h).max()
        + h.sigmoid().powi(3).sum()
        + h.t().matmul(&h).norm()
}

#[differentiable(forward)]
fn tensor_mix(x: &Tensor, s: f64) -> Tensor {
    let y = (x * s + s).exp() - s;
    let z = y.maximum(&(x * 2.0)) + x.sqrt() * x.reshape(&[3, 2]).t();
    z.sum_dim(0).reshape(&[1, 3]) + z.mean_dim(1).sum() - z.powf(1.5)
}

#[test]
fn forward_mode_on_tensors() {
    let x = Tensor::uniform(&[4, 3], -1.0, 1.0, 1);
    let w = Tensor::uniform(&[3, 5], -1.0, 1.0, 2);
    let b = Tensor::uniform(&[5], -1.0, 1.0, 3);
    for seed in 0..3 {
        let (dx, dw, db) = (
            Tensor::randn(&[4, 3], 10 + seed),
            Tensor::randn(&[3, 5], 20 + seed),
            Tensor::randn(&[5], 30 + seed),
        );
        let (_, t) = tensor_net::jvp(&x, &w, &b, &dx, &dw, &db);
        let f = |z: &[f64]| {
            let x = Tensor::from_vec(z[..12].to_vec(), &[4, 3]);
            let w = Tensor::from_vec(z[12..27].to_vec(), &[3, 5]);
            let b = Tensor::from_vec(z[27..].to_vec(), &[5]);
            tensor_net(&x, &w, &b)
        };
        let at: Vec<f64> = [x.to_vec(), w.to_vec(), b.to_vec()].concat();
        let dir: Vec<f64> = [dx.to_vec(), dw.to_vec(), db.to_vec()].concat();
        close(t, cd_dir(f, &at, &dir), 1e-6);
        // Reverse mode agrees.
        let (gx, gw, gb) = tensor_net::grad(&x, &w, &b);
        close(
            t,
            (&gx * &dx).sum() + (&gw * &dw).sum() + gb.dot(&db),
            1e-10,
        );
    }
    let x = Tensor::uniform(&[2, 3], 0.2, 1.5, 4);
    let dx = Tensor::randn(&[2, 3], 5);
    let (y, t) = tensor_mix::jvp(&x, 0.8, &dx, 0.3);
    assert_eq!(y.shape(), t.shape());
    let f = |z: &[f64]| tensor_mix(&Tensor::from_vec(z[..6].to_vec(), &[2, 3]), z[6]).to_vec();
    let at: Vec<f64> = [x.to_vec(), vec![0.8]].concat();
    let dir: Vec<f64> = [dx.to_vec(), vec![0.3]].concat();
    close_all(&t.to_vec(), &cd_dir_vec(f, &at, &dir), 1e-6);
}

// ======================================================= 3. Jacobians

/// R² → R³: more outputs than inputs (built column by column, forward).
#[differentiable(forward)]
fn tall(x: &[f64]) -> Vec<f64> {
    vec![x[0] * x[1], x[0].sin() + x[1], (x[0] - x[1]).exp()]
}

/// R⁴ → R²: fewer outputs (built row by row, reverse).
#[differentiable(forward)]
fn wide(x: &[f64]) -> Vec<f64> {
    let s = x.iter().map(|v| v * v).sum::<f64>();
    vec![s.sqrt(), x[0] * x[3] - x[1] * x[2]]
}

fn cd_jacobian(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64]) -> Vec<f64> {
    let m = f(x).len();
    let n = x.len();
    let mut j = vec![0.0; m * n];
    for c in 0..n {
        let mut e = vec![0.0; n];
        e[c] = 1.0;
        let col = cd_dir_vec(&f, x, &e);
        for r in 0..m {
            j[r * n + c] = col[r];
        }
    }
    j
}

#[test]
fn jacobians_forward_and_reverse() {
    let x = [0.7, -0.3];
    let j = tall::jacobian(&x);
    assert_eq!(j.shape(), &[3, 2]);
    close_all(&j.to_vec(), &cd_jacobian(tall, &x), 1e-7);
    let x = [0.7, -0.3, 1.2, 0.4];
    let j = wide::jacobian(&x);
    assert_eq!(j.shape(), &[2, 4]);
    close_all(&j.to_vec(), &cd_jacobian(wide, &x), 1e-7);
    // A tensor function: shape out ++ in.
    let x = Tensor::uniform(&[2, 3], 0.2, 1.5, 4);
    let j = tensor_mix::jacobian(&x, 0.8);
    assert_eq!(
        j.shape(),
        &[2, 3, 7],
        "the output's shape, then two parameters laid end to end: [6 + 1]"
    );
    let f = |z: &[f64]| tensor_mix(&Tensor::from_vec(z[..6].to_vec(), &[2, 3]), z[6]).to_vec();
    let at: Vec<f64> = [x.to_vec(), vec![0.8]].concat();
    // out is [1, 3]... flattened: the Jacobian's first dims are the output's shape.
    let want = cd_jacobian(f, &at);
    let got = j.to_vec();
    assert_eq!(got.len(), want.len());
    close_all(&got, &want, 1e-6);
    // Scalar to scalar: the derivative.
    close(notes_f::jacobian(0.1), 16384.0, 0.0);
}

// ======================================================= 4. second derivatives

#[differentiable(forward)]
fn sin_of_square(x: f64) -> f64 {
    (x * x).sin()
}

#[test]
fn second_derivative_of_sin_of_x_squared() {
    // d²/dx² sin(x²) = 2 cos x² − 4x² sin x²; at x = 2: 2 cos 4 − 16 sin 4.
    let want = 2.0 * 4f64.cos() - 16.0 * 4f64.sin();
    assert!((want - 10.8015).abs() < 1e-4);
    close(sin_of_square::hvp(2.0, 1.0), want, 1e-14);
    close(sin_of_square::hessian(2.0), want, 1e-14);
    close(
        sin_of_square::hessian(2.0),
        cd(sin_of_square::grad, 2.0),
        1e-7,
    );
}

/// `f::grad` inside another differentiable function is differentiated
/// exactly (its pullback and tangent are Hessian–vector products).
#[differentiable(forward)]
fn slope(x: f64) -> f64 {
    sin_of_square::grad(x)
}

#[differentiable(forward)]
fn slopes_mixed(x: f64, y: f64) -> f64 {
    let (gx, gy) = branchy::grad(x, y);
    gx * y + gy.sin()
}

#[test]
fn differentiating_a_generated_gradient() {
    let want = 2.0 * 4f64.cos() - 16.0 * 4f64.sin();
    close(slope::grad(2.0), want, 1e-14);
    close(slope::jvp(2.0, 1.0).1, want, 1e-14);
    for (x, y) in [(0.3, 1.2), (-0.7, 0.9)] {
        let (dx, dy) = slopes_mixed::grad(x, y);
        close(dx, cd(|x| slopes_mixed(x, y), x), 1e-6);
        close(dy, cd(|y| slopes_mixed(x, y), y), 1e-6);
    }
}

#[differentiable(forward)]
fn rosenbrock_2d(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

#[test]
fn hessians_are_exact() {
    // Rosenbrock: H = [[2 − 400(y − 3x²), −400x], [−400x, 200]].
    for (x, y) in [(-1.2, 1.0), (1.0, 1.0), (0.3, -0.5)] {
        let h = rosenbrock_2d::hessian(x, y).to_vec();
        close_all(
            &h,
            &[
                2.0 - 400.0 * (y - 3.0 * x * x),
                -400.0 * x,
                -400.0 * x,
                200.0,
            ],
            1e-13,
        );
        let hs = rosenbrock::hessian(&[x, y]).to_vec();
        close_all(&hs, &h, 1e-13);
    }
    // Slices, loops, calls: against central differences of the gradient.
    let x = [0.5, -1.2, 2.0, 0.3];
    let h = rosenbrock::hessian(&x);
    assert_eq!(h.shape(), &[4, 4]);
    let want = cd_jacobian(|z| rosenbrock::grad(z), &x);
    close_all(&h.to_vec(), &want, 1e-5);
    let h = iterators::hessian(&x, 0.7);
    let want = cd_jacobian(
        |z| {
            let (g, gw) = iterators::grad(&z[..4], z[4]);
            [g, vec![gw]].concat()
        },
        &[x.to_vec(), vec![0.7]].concat(),
    );
    close_all(&h.to_vec(), &want, 1e-5);
    let h = loss::hessian(&[0.3, -0.2, 0.9], &[1.0, 2.0, -1.0], 0.5);
    let want = cd_jacobian(|w| loss::grad(w, &[1.0, 2.0, -1.0], 0.5), &[0.3, -0.2, 0.9]);
    close_all(&h.to_vec(), &want, 1e-6);
    // Control flow: the primal path decides, as for first derivatives.
    for (x, y) in [(0.3, 1.2), (-0.7, 0.9)] {
        let h = early_exit::hessian(x, y).to_vec();
        let g = |x: f64, y: f64| early_exit::grad(x, y);
        let want = [
            cd(|x| g(x, y).0, x),
            cd(|y| g(x, y).0, y),
            cd(|x| g(x, y).1, x),
            cd(|y| g(x, y).1, y),
        ];
        close_all(&h, &want, 1e-5);
    }
    // Tensors.
    let x = Tensor::uniform(&[4, 3], -1.0, 1.0, 1);
    let w = Tensor::uniform(&[3, 5], -1.0, 1.0, 2);
    let b = Tensor::uniform(&[5], -1.0, 1.0, 3);
    let v = Tensor::randn(&[3, 5], 9);
    let (_, hv, _) = tensor_net::hvp(
        &x,
        &w,
        &b,
        &Tensor::zeros(&[4, 3]),
        &v,
        &Tensor::zeros(&[5]),
    );
    let fd = {
        let h = 1e-6;
        let (_, gp, _) = tensor_net::grad(&x, &(&w + &(&v * h)), &b);
        let (_, gm, _) = tensor_net::grad(&x, &(&w - &(&v * h)), &b);
        ((gp - gm) / (2.0 * h)).to_vec()
    };
    close_all(&hv.to_vec(), &fd, 1e-5);
}

#[test]
fn hessian_vector_products_match_the_hessian() {
    let x = [0.5, -1.2, 2.0, 0.3];
    let h = rosenbrock::hessian(&x).to_vec();
    for v in directions(4, 2) {
        let hv = rosenbrock::hvp(&x, &v);
        let want: Vec<f64> = (0..4)
            .map(|r| (0..4).map(|c| h[r * 4 + c] * v[c]).sum())
            .collect();
        close_all(&hv, &want, 1e-12);
    }
}

/// Copies of values (`to_vec`, `item`) carry their tangents.
#[differentiable(forward)]
fn copies(x: &[f64], t: &Tensor) -> f64 {
    let mut buf = x.to_vec();
    for i in 0..buf.len() {
        buf[i] *= x[i] + 1.0;
    }
    let mut s = t.sum_dim(0).sum_dim(0).reshape(&[1]).item() * 2.0;
    for v in buf.iter() {
        s += v.sin();
    }
    s
}

#[test]
fn forward_mode_through_copies() {
    let x = [0.3, -0.5, 1.2];
    let t = Tensor::from_vec(vec![0.5, 1.0, -2.0, 0.25], &[2, 2]);
    for v in directions(3, 3) {
        close(
            copies::jvp(&x, &t, &v, &Tensor::zeros(&[2, 2])).1,
            cd_dir(|x| copies(x, &t), &x, &v),
            1e-7,
        );
    }
    let dt = Tensor::randn(&[2, 2], 3);
    close(copies::jvp(&x, &t, &[0.0; 3], &dt).1, 2.0 * dt.sum(), 1e-14);
}

/// Generic parameters that stay inactive, and parameters the body reassigns.
#[differentiable(forward)]
fn scheduled<F: Fn(usize) -> f64>(mut x: f64, schedule: F, steps: usize) -> f64 {
    let x0 = x;
    for k in 0..steps {
        x = x * schedule(k) + x0.powi(3) - x.powi(-2);
    }
    x
}

#[test]
fn forward_mode_of_generic_functions_and_reassigned_parameters() {
    let schedule = |k: usize| 0.5 + 0.1 * k as f64;
    for x in [0.7, 1.3] {
        let (value, tangent) = scheduled::jvp(x, schedule, 4, 1.0);
        close(value, scheduled(x, schedule, 4), 1e-15);
        close(tangent, cd(|x| scheduled(x, schedule, 4), x), 1e-6);
        close(tangent, scheduled::grad(x, schedule, 4), 1e-12);
        let h = scheduled::hvp(x, schedule, 4, 1.0);
        close(h, cd(|x| scheduled::grad(x, schedule, 4), x), 1e-5);
    }
}

/// Conditions with assignments and exits in them, `&&`/`||` that skip their
/// right side, `if let`, `match` on an active value bound to a name.
#[differentiable(forward)]
fn effects_in_conditions(x: f64, y: f64) -> f64 {
    let mut s = x;
    let mut n = 0;
    while {
        s = s * 1.1 + y;
        n += 1;
        n < 4
    } {
        s = s + x * y;
    }
    if x > 0.0 && {
        s = s * 3.0;
        true
    } {
        s = s + 1.0;
    }
    if y > 10.0 || {
        s = s * y;
        false
    } {
        s = -s;
    }
    let shadow: Option<f64> = Some(2.0);
    if let Some(x) = shadow {
        // This `x` is the option's value, with no tangent.
        s = s * x;
    }
    let t = match s * y {
        big if big > 100.0 => big.sqrt(),
        v => v * 0.5,
    };
    loop {
        if {
            if t > 0.0 {
                break;
            }
            true
        } {
            s = s * 2.0;
            break;
        }
    }
    s + t
}

#[test]
fn forward_mode_and_hessians_with_effects_in_conditions() {
    for (x, y) in [(0.3, 1.2), (-0.7, 0.9), (1.5, -0.4)] {
        let f = |z: &[f64]| effects_in_conditions(z[0], z[1]);
        for v in [[1.0, 0.0], [0.0, 1.0], [0.5, -0.8]] {
            close(
                effects_in_conditions::jvp(x, y, v[0], v[1]).1,
                cd_dir(f, &[x, y], &v),
                1e-6,
            );
        }
        let g = |x: f64, y: f64| effects_in_conditions::grad(x, y);
        let h = effects_in_conditions::hessian(x, y).to_vec();
        let want = [
            cd(|x| g(x, y).0, x),
            cd(|y| g(x, y).0, y),
            cd(|x| g(x, y).1, x),
            cd(|y| g(x, y).1, y),
        ];
        close_all(&h, &want, 1e-5);
    }
}

#[test]
fn hessian_vector_products_for_struct_parameters() {
    let p = Line {
        m: 2.0,
        c: 1.0,
        scale: 1.5,
    };
    let v = Line {
        m: 0.3,
        c: -1.0,
        scale: 77.0,
    };
    let (hp, hx, hy) = line_loss::hvp(&p, 3.0, 4.0, &v, 0.5, 0.0);
    let h = 1e-6;
    let at = |t: f64| {
        let q = Line {
            m: p.m + t * v.m,
            c: p.c + t * v.c,
            scale: 1.5,
        };
        line_loss::grad(&q, 3.0 + t * 0.5, 4.0)
    };
    let (gp, gx, gy) = at(h);
    let (gm, gx2, gy2) = at(-h);
    close(hp.m, (gp.m - gm.m) / (2.0 * h), 1e-6);
    close(hp.c, (gp.c - gm.c) / (2.0 * h), 1e-6);
    close(hx, (gx - gx2) / (2.0 * h), 1e-6);
    close(hy, (gy - gy2) / (2.0 * h), 1e-6);
}

#[differentiable(forward)]
fn swapped(x: f64, y: f64) -> f64 {
    let (x, y) = (y, x);
    let (mut a, mut b) = (x * 2.0, y);
    (a, b) = (b, a);
    x * 2.0 + y + a * b.sin()
}

#[test]
fn forward_mode_of_swaps() {
    let f = |z: &[f64]| swapped(z[0], z[1]);
    for v in [[1.0, 0.0], [0.0, 1.0]] {
        close(
            swapped::jvp(0.4, 1.3, v[0], v[1]).1,
            cd_dir(f, &[0.4, 1.3], &v),
            1e-7,
        );
    }
}

#[derive(Clone, Differentiable)]
struct Weights {
    ws: Vec<f64>,
}

/// A `for` over a field of a parameter, in both modes (one desugaring); an
/// integer expression as `powi`'s exponent (forward mode once spliced it
/// unparenthesised into `n as f64`: `k as i32 + 1 as f64`).
#[differentiable(forward)]
fn weighted(p: &Weights, x: f64) -> f64 {
    let mut s = 0.0;
    for (k, w) in p.ws.iter().enumerate() {
        s += w * x.powi(k as i32 + 1);
    }
    s
}

#[test]
fn loops_over_a_field_of_a_parameter_in_both_modes() {
    let p = Weights {
        ws: vec![0.5, -1.0, 2.0],
    };
    let x = 0.7;
    // s = Σ w_k x^(k+1): ∂s/∂w_k = x^(k+1), ∂s/∂x = Σ (k+1) w_k x^k.
    let (gp, gx) = weighted::grad(&p, x);
    close_all(&gp.ws, &[x, x * x, x * x * x], 1e-14);
    let dsdx = 0.5 - 2.0 * x + 6.0 * x * x;
    close(gx, dsdx, 1e-14);
    let dp = Weights {
        ws: vec![1.0, 0.0, 0.0],
    };
    let (_, t) = weighted::jvp(&p, x, &dp, 0.0);
    close(t, x, 1e-14);
    let (_, t) = weighted::jvp(&p, x, &Weights { ws: vec![0.0; 3] }, 1.0);
    close(t, dsdx, 1e-14);
}

/// Every elementwise function of the table in forward mode (each tangent
/// written with primitives, so second derivatives go through it too).
#[differentiable(forward)]
fn math_library(x: f64, y: f64) -> f64 {
    y.atan2(x)
        + x.hypot(y) * x.atan()
        + (0.3 * x).asin()
        + (0.2 * y).acos()
        + x.sinh() * y.cosh()
        + (x * x + 1.0).asinh()
        + (x * x + 2.0).acosh()
        + (0.3 * y).atanh()
        + x.exp2()
        + y.exp_m1()
        + x.ln_1p()
        + (x + 1.0).log2()
        + (y + 2.0).log10()
        + (x + 3.0).cbrt()
        + x.to_degrees() * 0.01
        + y.to_radians()
        + x.floor()
        + y.special_erf()
        + x.special_erfc()
        + y.ndtr()
        + (x + 2.0).lgamma()
        + (x + 2.0).log(y + 3.0)
        + x.mul_add(y, x * y)
        + x.signum()
}

#[test]
fn forward_mode_covers_the_math_library() {
    let (x, y) = (0.7, 0.4);
    let h = 1e-5;
    let cd_x = (math_library(x + h, y) - math_library(x - h, y)) / (2.0 * h);
    let cd_y = (math_library(x, y + h) - math_library(x, y - h)) / (2.0 * h);
    let (_, tx) = math_library::jvp(x, y, 1.0, 0.0);
    let (_, ty) = math_library::jvp(x, y, 0.0, 1.0);
    close(tx, cd_x, 1e-8);
    close(ty, cd_y, 1e-8);
    // The Hessian against central differences of the reverse-mode gradient.
    let hess = math_library::hessian(x, y).to_vec();
    let (gxp, gyp) = math_library::grad(x + h, y);
    let (gxm, gym) = math_library::grad(x - h, y);
    let (gxq, gyq) = math_library::grad(x, y + h);
    let (gxr, gyr) = math_library::grad(x, y - h);
    let want = [
        (gxp - gxm) / (2.0 * h),
        (gyp - gym) / (2.0 * h),
        (gxq - gxr) / (2.0 * h),
        (gyq - gyr) / (2.0 * h),
    ];
    close_all(&hess, &want, 1e-6);
}

/// `clamp` in forward mode: the tangent routed as the reverse rule routes the
/// cotangent (x inside, the bound outside), through to the Hessian.
#[differentiable(forward)]
fn clamped(x: f64, lo: f64) -> f64 {
    (x * x).clamp(lo, 2.0) * x
}

#[test]
fn forward_mode_clamp() {
    // x² below lo: f = lo·x; inside: f = x³; above 2: f = 2x.
    for (x, want_x, want_lo, hess) in [
        (0.5, 0.3, 0.5, [0.0, 1.0, 1.0, 0.0]),
        (1.2, 3.0 * 1.44, 0.0, [7.2, 0.0, 0.0, 0.0]),
        (2.0, 2.0, 0.0, [0.0; 4]),
    ] {
        let (_, tx) = clamped::jvp(x, 0.3, 1.0, 0.0);
        let (_, tl) = clamped::jvp(x, 0.3, 0.0, 1.0);
        close(tx, want_x, 1e-14);
        close(tl, want_lo, 1e-14);
        let (gx, gl) = clamped::grad(x, 0.3);
        close(gx, want_x, 1e-14);
        close(gl, want_lo, 1e-14);
        close_all(&clamped::hessian(x, 0.3).to_vec(), &hess, 1e-12);
    }
}

/// `where_` in forward mode: each side's tangent where its side is chosen.
#[differentiable(forward)]
fn selected(x: &Tensor, y: &Tensor) -> f64 {
    let m = x.gt_elem(y);
    (x * 2.0).where_(&m, &(y * y)).sum() + (x * x).where_(&m, &Tensor::zeros(&[3])).sum()
}

#[test]
fn forward_mode_where() {
    let x = Tensor::from(vec![0.1, 0.5, -0.2]);
    let y = Tensor::from(vec![0.3, 0.2, 0.4]);
    let (ones, zeros) = (Tensor::ones(&[3]), Tensor::zeros(&[3]));
    // x > y only at 1: f = y₀² + 2x₁ + y₂² + x₁²
    let (_, tx) = selected::jvp(&x, &y, &ones, &zeros);
    let (_, ty) = selected::jvp(&x, &y, &zeros, &ones);
    close(tx, 2.0 + 2.0 * 0.5, 1e-14);
    close(ty, 2.0 * 0.3 + 2.0 * 0.4, 1e-14);
    let (gx, gy) = selected::grad(&x, &y);
    close_all(&gx.to_vec(), &[0.0, 3.0, 0.0], 1e-14);
    close_all(&gy.to_vec(), &[0.6, 0.0, 0.8], 1e-14);
    let h = selected::hessian(&x, &y).to_vec();
    // ∂²/∂x₁² = 2, ∂²/∂y₀² = ∂²/∂y₂² = 2, all else 0 (6 × 6, x then y)
    let mut want = vec![0.0; 36];
    for k in [1, 3, 5] {
        want[k * 6 + k] = 2.0;
    }
    close_all(&h, &want, 1e-12);
}

/// Copies with reverse-mode rules (`to_vec`, `item`) in a forward-mode
/// function: second derivatives go through them (they were refused).
#[differentiable(forward)]
fn through_copies(x: &Tensor) -> f64 {
    let v = (x * x * x).to_vec();
    v[0] * v[1] + (x * x).slice(0, 1..2).item()
}

#[differentiable(forward)]
fn squares_of_a_copy(x: &[f64]) -> f64 {
    let buf = x.to_vec();
    buf[0] * buf[1]
}

#[test]
fn second_derivatives_through_copies() {
    // f = x₀³x₁³ + x₁² at (0.5, 2)
    let x = Tensor::from(vec![0.5, 2.0]);
    close_all(&through_copies::grad(&x).to_vec(), &[6.0, 5.5], 1e-14);
    close_all(
        &through_copies::hessian(&x).to_vec(),
        &[24.0, 9.0, 9.0, 3.5],
        1e-12,
    );
    close_all(
        &squares_of_a_copy::hessian(&[1.0, 2.0]).to_vec(),
        &[0.0, 1.0, 1.0, 0.0],
        1e-14,
    );
}
