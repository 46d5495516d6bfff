//! The Rust people already write — iterator chains, closures, scratch
//! buffers — differentiated as written. Each form is checked against central
//! differences (seeded directions) and, where it is exact, an analytic value.

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};

const XS: [f64; 4] = [0.3, -0.5, 0.8, 1.2];

fn config() -> GradCheckConfig {
    GradCheckConfig::default().directions(5).seed(21)
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

/// Checks a function of one slice against central differences at XS.
macro_rules! check_slice {
    ($f:ident) => {
        check_vjp_with(
            config(),
            |x: &Vec<f64>| $f(x),
            |x: &Vec<f64>, v: f64| $f::vjp(x).1(v),
            &XS.to_vec(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", stringify!($f)))
    };
}

// ---------------------------------------------------------------- iterator chains

#[differentiable]
fn map_sum(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>()
}

#[differentiable]
fn fold_weighted(x: &[f64], w: f64) -> f64 {
    x.iter().fold(0.0, |acc, v| acc + v * w)
}

#[differentiable]
fn product(x: &[f64]) -> f64 {
    x.iter().product::<f64>()
}

#[differentiable]
fn copied_max(x: &[f64]) -> f64 {
    x.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

#[differentiable]
fn windows_diff(x: &[f64]) -> f64 {
    x.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>()
}

#[differentiable]
fn zip_map_sum(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y.iter()).map(|(a, b)| a * b).sum::<f64>()
}

#[differentiable]
fn enumerate_filter(x: &[f64]) -> f64 {
    x.iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, v)| (i as f64 + 1.0) * v.sin())
        .sum::<f64>()
}

#[differentiable]
fn range_map_sum(x: &[f64]) -> f64 {
    (0..x.len() - 1)
        .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
        .sum::<f64>()
}

#[differentiable]
fn rev_fold(x: &[f64], t: f64) -> f64 {
    x.iter().rev().fold(0.0, |s, &c| s * t + c)
}

#[test]
fn iterator_chains() {
    close(&map_sum::grad(&XS), &[0.6, -1.0, 1.6, 2.4]);
    let (dx, dw) = fold_weighted::grad(&XS, 2.0);
    close(&dx, &[2.0; 4]);
    close(&[dw], &[XS.iter().sum()]);
    let p: f64 = XS.iter().product();
    close(&product::grad(&XS), &XS.map(|v| p / v));
    close(&copied_max::grad(&XS), &[0.0, 0.0, 0.0, 1.0]);
    check_slice!(windows_diff);
    let y = [1.0, 2.0, 3.0, 4.0];
    let (dx, dy) = zip_map_sum::grad(&XS, &y);
    close(&dx, &y);
    close(&dy, &XS);
    close(
        &enumerate_filter::grad(&XS),
        &[XS[0].cos(), 0.0, 3.0 * XS[2].cos(), 0.0],
    );
    check_slice!(enumerate_filter);
    check_slice!(range_map_sum);
    let (dc, _) = rev_fold::grad(&XS, 0.5);
    close(&dc, &[1.0, 0.5, 0.25, 0.125]);
}

// ---------------------------------------------------------------- closures

#[differentiable]
fn closure_called(x: f64, y: f64) -> f64 {
    let sq = |v: f64| v * v;
    sq(x) + sq(y) * 3.0
}

#[differentiable]
fn closure_capturing(x: f64, w: f64) -> f64 {
    let scaled = |v: f64| (v * w).sin();
    scaled(x) + scaled(x * x)
}

#[differentiable]
fn closure_in_loop(x: &[f64]) -> f64 {
    let f = |a: f64, b: f64| a * b + b;
    let mut s = 0.0;
    for i in 0..x.len() {
        s += f(x[i], s * 0.5);
    }
    s
}

#[test]
fn closures_are_inlined() {
    assert_eq!(closure_called::grad(0.7, 2.0), (1.4, 12.0));
    check_vjp_with(
        config(),
        |(x, w): &(f64, f64)| closure_capturing(*x, *w),
        |(x, w): &(f64, f64), v: f64| closure_capturing::vjp(*x, *w).1(v),
        &(0.7, 1.3),
    )
    .unwrap();
    check_slice!(closure_in_loop);
}
