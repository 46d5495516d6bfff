//! What the reverse evaluates again instead of taping (issue 11, proposals
//! 1, 2, 4, 6): trip counts from loop bounds, integer counters walked back,
//! vectors read from their final value or from a copy kept at a loop's
//! entry, lengths kept once, dense slice gradients. Each function is checked
//! against central differences.

use autodiff::differentiable;

fn central(f: &dyn Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let h = 1e-6;
            let mut a = x.to_vec();
            a[i] += h;
            let mut b = x.to_vec();
            b[i] -= h;
            (f(&a) - f(&b)) / (2.0 * h)
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-6 * (1.0 + w.abs()),
            "coordinate {k}: {g} against {w}"
        );
    }
}

fn input(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64) * 0.77 + 0.3).sin() * 0.9)
        .collect()
}

/// Counters up and down, by steps of parameters and counters, under a
/// branch, and an inner loop left by `continue` (the counter walks back
/// through each).
#[differentiable(wrt(l))]
fn counters(n: usize, l: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        let mut k = 0;
        let mut m = l.len() - 1;
        for j in 0..=i {
            s += l[k] * l[m] + (k as f64) * l[j];
            if l[j] > 0.0 {
                k += 2;
            } else {
                k += 1;
            }
            m -= j % 2;
            if j == 1 {
                continue;
            }
            s += l[k % l.len()] * 0.5;
        }
        s += l[k % l.len()] * l[m];
    }
    s
}

#[test]
fn counters_walked_back() {
    let l = input(20);
    let g = counters::grad(5, &l);
    assert_close(&g, &central(&|x| counters(5, x), &l));
}

/// Trip counts of ranges with offsets, inclusive ends, signed counters and
/// bounds from lets outside the loop.
#[differentiable(wrt(x))]
fn trips(n: usize, x: &[f64]) -> f64 {
    let half = n / 2;
    let lo: i32 = -2;
    let mut s = 0.0;
    for i in half..n {
        for j in 1..=i {
            s += x[i] * x[j - 1];
        }
        for c in lo..(i as i32) {
            s += x[(c + 2) as usize] * 0.25;
        }
        for _ in 0..half {
            s += x[i].sin();
        }
    }
    s
}

#[test]
fn trip_counts_recomputed() {
    let x = input(9);
    let g = trips::grad(8, &x);
    assert_close(&g, &central(&|v| trips(8, v), &x));
}

/// Scratch vectors as ADBench's C++ fills them: written in one loop, read
/// after their last write (from the final value), read two loops deep where
/// nothing writes them (from a copy kept at the loop's entry), their
/// lengths kept once.
#[differentiable(wrt(w, x))]
fn scratch(d: usize, w: &[f64], x: &[f64]) -> f64 {
    let mut e = vec![0.0; d];
    for i in 0..d {
        e[i] = w[i].exp();
    }
    let mut xc = vec![0.0; d];
    let mut s = 0.0;
    for r in 0..3 {
        for i in 0..d {
            xc[i] = x[i] - w[(i + r) % d];
        }
        let mut t = vec![0.0; d];
        for i in 0..d {
            for j in i + 1..d {
                t[j] += e[i] * xc[i] * w[j];
            }
        }
        for i in 0..d {
            s += t[i] * t[i] + e[i] * xc[i];
        }
    }
    s
}

#[test]
fn vectors_read_from_copies() {
    let d = 5;
    let w = input(d);
    let x: Vec<f64> = input(d + 3)[3..].to_vec();
    let (gw, gx) = scratch::grad(d, &w, &x);
    assert_close(&gw, &central(&|v| scratch(d, v, &x), &w));
    assert_close(&gx, &central(&|v| scratch(d, &w, v), &x));
}
