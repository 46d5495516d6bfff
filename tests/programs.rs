//! Programs as their authors would first write them — a robot arm, an
//! option pricer, a classifier — differentiated unchanged and checked against
//! central differences.

use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};
use autodiff::{Differentiable, differentiable};

fn config() -> GradCheckConfig {
    GradCheckConfig::default().directions(6).seed(99)
}

// ---------------------------------------------------------------- robotics

/// End point of a planar arm with one joint per link, each angle relative to
/// the previous link.
#[differentiable(wrt(angles))]
fn end_effector(angles: &[f64], lengths: &[f64]) -> (f64, f64) {
    let mut x = 0.0;
    let mut y = 0.0;
    let mut heading = 0.0;
    for (theta, len) in angles.iter().zip(lengths.iter()) {
        heading += theta;
        x += len * heading.cos();
        y += len * heading.sin();
    }
    (x, y)
}

#[differentiable(wrt(angles))]
fn reach_error(angles: &[f64], lengths: &[f64], target: [f64; 2]) -> f64 {
    let (x, y) = end_effector(angles, lengths);
    let dx = x - target[0];
    let dy = y - target[1];
    dx * dx + dy * dy
}

#[test]
fn robot_arm_reaches_a_target() {
    let lengths = [1.0, 0.8, 0.5];
    check_vjp_with(
        config(),
        |a: &Vec<f64>| reach_error(a, &lengths, [1.2, 0.9]),
        |a: &Vec<f64>, v: f64| reach_error::vjp(a, &lengths, [1.2, 0.9]).1(v),
        &vec![0.3, -0.4, 0.9],
    )
    .unwrap();
    // Gradient descent on the joint angles gets there.
    let mut angles = vec![0.3, -0.4, 0.9];
    for _ in 0..500 {
        let g = reach_error::grad(&angles, &lengths, [1.2, 0.9]);
        for (a, g) in angles.iter_mut().zip(g) {
            *a -= 0.1 * g;
        }
    }
    assert!(reach_error(&angles, &lengths, [1.2, 0.9]) < 1e-10);
}

// ---------------------------------------------------------------- finance

#[derive(Clone, Debug, Differentiable)]
struct Market {
    spot: f64,
    vol: f64,
    rate: f64,
}

/// A European call priced by Monte Carlo over fixed normal draws
/// (pathwise Greeks: delta, vega, rho come out of one gradient).
#[differentiable(wrt(market))]
fn mc_call(market: &Market, strike: f64, maturity: f64, shocks: &[f64]) -> f64 {
    let drift = (market.rate - 0.5 * market.vol * market.vol) * maturity;
    let diffusion = market.vol * maturity.sqrt();
    let mut payoff = 0.0;
    for z in shocks {
        let s_t = market.spot * (drift + diffusion * z).exp();
        payoff += (s_t - strike).max(0.0);
    }
    (-market.rate * maturity).exp() * payoff / shocks.len() as f64
}

/// An Asian option: the average of a simulated daily path.
#[differentiable(wrt(market))]
fn asian_call(market: &Market, strike: f64, days: usize, shocks: &[f64]) -> f64 {
    let dt: f64 = 1.0 / 252.0;
    let mut price = 0.0;
    let paths = shocks.len() / days;
    for p in 0..paths {
        let mut s = market.spot;
        let mut sum = 0.0;
        for t in 0..days {
            let z = shocks[p * days + t];
            s = s
                * ((market.rate - 0.5 * market.vol.powi(2)) * dt + market.vol * dt.sqrt() * z)
                    .exp();
            sum += s;
        }
        let average = sum / days as f64;
        if average > strike {
            price += average - strike;
        }
    }
    (-market.rate * dt * days as f64).exp() * price / paths as f64
}

fn shocks(n: usize, seed: u64) -> Vec<f64> {
    // Box–Muller on a xorshift stream: reproducible normals.
    let mut state = seed;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        })
        .collect()
}

#[test]
fn option_greeks_by_pathwise_differentiation() {
    let z = shocks(2000, 7);
    let market = Market {
        spot: 100.0,
        vol: 0.2,
        rate: 0.03,
    };
    let pack = |m: &Market| vec![m.spot, m.vol, m.rate];
    let unpack = |v: &Vec<f64>| Market {
        spot: v[0],
        vol: v[1],
        rate: v[2],
    };
    check_vjp_with(
        config().rtol(1e-5),
        |v: &Vec<f64>| mc_call(&unpack(v), 105.0, 0.5, &z),
        |v: &Vec<f64>, w: f64| pack(&mc_call::vjp(&unpack(v), 105.0, 0.5, &z).1(w)),
        &pack(&market),
    )
    .unwrap();
    // Delta of a call lies in (0, 1); vega is positive.
    let g = mc_call::grad(&market, 105.0, 0.5, &z);
    assert!(g.spot > 0.0 && g.spot < 1.0 && g.vol > 0.0, "{g:?}");
    let z = shocks(50 * 20, 11);
    check_vjp_with(
        config().rtol(1e-5),
        |v: &Vec<f64>| asian_call(&unpack(v), 100.0, 20, &z),
        |v: &Vec<f64>, w: f64| pack(&asian_call::vjp(&unpack(v), 100.0, 20, &z).1(w)),
        &pack(&market),
    )
    .unwrap();
}

// ---------------------------------------------------------------- machine learning

#[derive(Clone, Debug, Differentiable)]
struct Logistic {
    weights: Vec<f64>,
    bias: f64,
}

/// Mean binary cross-entropy of a logistic regression over rows of features.
#[differentiable(wrt(model))]
fn bce(model: &Logistic, features: &[Vec<f64>], labels: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (row, &y) in features.iter().zip(labels.iter()) {
        let z: f64 = row
            .iter()
            .zip(model.weights.iter())
            .map(|(x, w)| x * w)
            .sum::<f64>()
            + model.bias;
        let p = 1.0 / (1.0 + (-z).exp());
        loss -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
    }
    loss / labels.len() as f64
}

#[test]
fn logistic_regression_trains() {
    let features: Vec<Vec<f64>> = (0..40)
        .map(|i| {
            vec![
                (i as f64 * 0.37).sin(),
                (i as f64 * 0.11).cos(),
                1.0 - i as f64 / 40.0,
            ]
        })
        .collect();
    let labels: Vec<f64> = features
        .iter()
        .map(|r| if r[0] + 0.5 * r[1] > 0.2 { 1.0 } else { 0.0 })
        .collect();
    let model = Logistic {
        weights: vec![0.1, -0.2, 0.3],
        bias: 0.05,
    };
    let pack = |m: &Logistic| [m.weights.clone(), vec![m.bias]].concat();
    let unpack = |v: &Vec<f64>| Logistic {
        weights: v[..3].to_vec(),
        bias: v[3],
    };
    check_vjp_with(
        config(),
        |v: &Vec<f64>| bce(&unpack(v), &features, &labels),
        |v: &Vec<f64>, w: f64| pack(&bce::vjp(&unpack(v), &features, &labels).1(w)),
        &pack(&model),
    )
    .unwrap();
    let mut m = model;
    let before = bce(&m, &features, &labels);
    for _ in 0..200 {
        let g = bce::grad(&m, &features, &labels);
        for (w, g) in m.weights.iter_mut().zip(&g.weights) {
            *w -= 0.5 * g;
        }
        m.bias -= 0.5 * g.bias;
    }
    assert!(bce(&m, &features, &labels) < 0.5 * before);
}

/// The notes' MLP loss: the negative log-likelihood reads `logp.at(&[i, labels[i]])`,
/// an index the reverse needs again (it used to find no value there and panic).
#[differentiable(wrt(w))]
fn picked_nll(x: &autodiff::Tensor, labels: &[usize], w: &autodiff::Tensor) -> f64 {
    let logp = x.matmul(w).log_softmax(1);
    let mut nll = 0.0;
    for i in 0..labels.len() {
        nll -= logp.at(&[i, labels[i]]);
    }
    nll / labels.len() as f64
}

#[test]
fn a_loss_picking_elements_by_label_differentiates() {
    use autodiff::Tensor;
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25, 1.5, -0.75], &[3, 2]);
    let w = Tensor::from_vec(vec![0.3, -0.2, 0.1, 0.4, 0.0, -0.5], &[2, 3]);
    let labels = [2usize, 0, 1];
    let g = picked_nll::grad(&x, &labels, &w);
    // Central differences, element by element.
    let h = 1e-6;
    for k in 0..6 {
        let mut plus = w.to_vec();
        let mut minus = w.to_vec();
        plus[k] += h;
        minus[k] -= h;
        let (p, m) = (
            picked_nll(&x, &labels, &Tensor::from_vec(plus, &[2, 3])),
            picked_nll(&x, &labels, &Tensor::from_vec(minus, &[2, 3])),
        );
        let numeric = (p - m) / (2.0 * h);
        assert!(
            (g.to_vec()[k] - numeric).abs() < 1e-6,
            "w[{k}]: {} vs {numeric}",
            g.to_vec()[k]
        );
    }
}
