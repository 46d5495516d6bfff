//! ADBench's Gaussian mixture model objective, written the way ADBench's C++
//! writes it (src/cpp/shared/gmm.h: scratch arrays filled in place, a
//! triangular inner loop, a max-shifted log-sum-exp), differentiated as is
//! and checked against central differences on ADBench's small test input
//! (d = 2, K = 3, n = 1) and on a larger seeded one.

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};

/// ln Γ(a) for a > 0 (Lanczos, g = 7): only for the prior's constant, which
/// carries no gradient.
fn ln_gamma(a: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if a < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * a).sin()).ln() - ln_gamma(1.0 - a);
    }
    let a = a - 1.0;
    let mut s = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        s += g / (a + i as f64);
    }
    let t = a + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (a + 0.5) * t.ln() - t + s.ln()
}

/// ln Γ_d(a), the multivariate log-gamma of the Wishart prior.
fn ln_gamma_d(a: f64, d: usize) -> f64 {
    let mut out = 0.25 * (d * (d - 1)) as f64 * std::f64::consts::PI.ln();
    for j in 1..=d {
        out += ln_gamma(a + 0.5 * (1.0 - j as f64));
    }
    out
}

/// The objective: α (K), μ (K·d), icf (K·(d + d(d−1)/2)), x (n·d).
#[differentiable(wrt(alphas, means, icf))]
fn gmm_objective(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    gamma: f64,
    m: usize,
) -> f64 {
    let pi: f64 = 3.14159265359;
    let constant = -((n * d) as f64) * 0.5 * (2.0 * pi).ln();
    let icf_sz = d * (d + 1) / 2;
    let mut qdiags = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];

    // preprocess_qs
    for ik in 0..k {
        sum_qs[ik] = 0.0;
        for id in 0..d {
            let q = icf[ik * icf_sz + id];
            sum_qs[ik] += q;
            qdiags[ik * d + id] = q.exp();
        }
    }

    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            // subtract
            for id in 0..d {
                xcentered[id] = x[ix * d + id] - means[ik * d + id];
            }
            // Qtimesx
            for id in 0..d {
                qxcentered[id] = qdiags[ik * d + id] * xcentered[id];
            }
            let mut lparamsidx = 0;
            for i in 0..d {
                for j in i + 1..d {
                    qxcentered[j] += icf[ik * icf_sz + d + lparamsidx] * xcentered[i];
                    lparamsidx += 1;
                }
            }
            // sqnorm
            let mut sqnorm = 0.0;
            for id in 0..d {
                sqnorm += qxcentered[id] * qxcentered[id];
            }
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm;
        }
        // logsumexp
        let mut mx = main_term[0];
        for ik in 1..k {
            if main_term[ik] > mx {
                mx = main_term[ik];
            }
        }
        let mut semx = 0.0;
        for ik in 0..k {
            semx += (main_term[ik] - mx).exp();
        }
        slse += semx.ln() + mx;
    }

    let mut mx = alphas[0];
    for ik in 1..k {
        if alphas[ik] > mx {
            mx = alphas[ik];
        }
    }
    let mut semx = 0.0;
    for ik in 0..k {
        semx += (alphas[ik] - mx).exp();
    }
    let lse_alphas = semx.ln() + mx;

    // log_wishart_prior
    let nn = d + m + 1;
    let c = (nn * d) as f64 * (gamma.ln() - 0.5 * 2.0f64.ln()) - ln_gamma_d(0.5 * nn as f64, d);
    let mut prior = 0.0;
    for ik in 0..k {
        let mut frobenius = 0.0;
        for id in 0..d {
            frobenius += qdiags[ik * d + id] * qdiags[ik * d + id];
        }
        for il in 0..icf_sz - d {
            let l = icf[ik * icf_sz + d + il];
            frobenius += l * l;
        }
        prior += 0.5 * gamma * gamma * frobenius - (m as f64) * sum_qs[ik];
    }
    prior -= (k as f64) * c;

    constant + slse - (n as f64) * lse_alphas + prior
}

struct Input {
    d: usize,
    k: usize,
    n: usize,
    alphas: Vec<f64>,
    means: Vec<f64>,
    icf: Vec<f64>,
    x: Vec<f64>,
}

fn check(input: &Input) {
    let (d, k, n) = (input.d, input.k, input.n);
    let x = &input.x;
    let pack = |a: &[f64], m: &[f64], i: &[f64]| [a, m, i].concat();
    let unpack = |p: &Vec<f64>| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (a, rest) = p.split_at(k);
        let (m, i) = rest.split_at(k * d);
        (a.to_vec(), m.to_vec(), i.to_vec())
    };
    check_vjp_with(
        GradCheckConfig::default().directions(6).seed(5).rtol(1e-6),
        |p: &Vec<f64>| {
            let (a, m, i) = unpack(p);
            gmm_objective(d, k, n, &a, &m, &i, x, 1.0, 0)
        },
        |p: &Vec<f64>, v: f64| {
            let (a, m, i) = unpack(p);
            let (da, dm, di) = gmm_objective::vjp(d, k, n, &a, &m, &i, x, 1.0, 0).1(v);
            pack(&da, &dm, &di)
        },
        &pack(&input.alphas, &input.means, &input.icf),
    )
    .unwrap();
}

#[test]
fn adbench_test_input() {
    check(&Input {
        d: 2,
        k: 3,
        n: 1,
        alphas: vec![-0.649014, 1.181166, -0.758453],
        means: vec![0.092339, 0.186260, 0.345561, 0.396767, 0.538817, 0.419195],
        icf: vec![
            0.586443, -0.851887, 0.800321, -1.509405, 0.875874, -0.242790, 0.166813, -1.965419,
            -1.270071,
        ],
        x: vec![1.175171, 2.029160],
    });
}

#[test]
fn seeded_d5_k4_n20() {
    let (d, k, n) = (5, 4, 20);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let icf_sz = d * (d + 1) / 2;
    check(&Input {
        d,
        k,
        n,
        alphas: (0..k).map(|_| next()).collect(),
        means: (0..k * d).map(|_| next()).collect(),
        icf: (0..k * icf_sz).map(|_| next()).collect(),
        x: (0..n * d).map(|_| 2.0 * next()).collect(),
    });
}
