//! Independent references the user-trial suites check gradients against:
//! central differences (step scaled for `f64`: ε^(1/3)) and a tolerance
//! check. Included with `#[path]` by the tests that use it.

#![allow(dead_code)]

use autodiff::Tensor;

/// Central differences of `f` at `x`, step scaled for f64 (ε^(1/3)).
pub fn cd(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    for i in 0..x.len() {
        let h = 6e-6 * x[i].abs().max(1.0);
        let mut xp = x.to_vec();
        xp[i] += h;
        let mut xm = x.to_vec();
        xm[i] -= h;
        g[i] = (f(&xp) - f(&xm)) / (xp[i] - xm[i]);
    }
    g
}

/// Central differences of a tensor function, flattened in row-major order.
pub fn cd_t(f: impl Fn(&Tensor) -> f64, x: &Tensor) -> Vec<f64> {
    let shape = x.shape().to_vec();
    cd(|v| f(&Tensor::from_vec(v.to_vec(), &shape)), &x.to_vec())
}

/// Jacobian by central differences, rows = outputs.
pub fn cd_jac(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64]) -> Vec<Vec<f64>> {
    let m = f(x).len();
    (0..m).map(|k| cd(|v| f(v)[k], x)).collect()
}

/// Every element of `got` finite and within `tol` of `want`, relative to
/// `1 + |want|`.
#[track_caller]
pub fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_finite() && (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}\n got  {got:?}\n want {want:?}"
        );
    }
}
