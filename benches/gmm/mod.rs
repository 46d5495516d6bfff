//! ADBench's Gaussian mixture model objective (shared definition in
//! benches/README.md: ADBench's src/cpp/shared/gmm.h, GradBench's `gmm`),
//! written three ways for `#[differentiable]`, beside a gradient written by
//! hand and seeded inputs at ADBench's sizes.
//!
//! - (a) [`gmm_scratch`]: as ADBench's C++ writes it, with scratch arrays
//!   filled in place (`xcentered`, `Qxcentered`, `main_term`); a copy of the
//!   function of `tests/gmm.rs`.
//! - (b) [`gmm_slices`]: loops over the input slices with no per-point
//!   scratch: `Q·(x − μ)` row by row as an inner accumulation
//!   `qx += l[·] (x[c] − μ[c])`, the log-sum-exp over components online
//!   (one pass, rescaled when a larger term comes). Only `exp(q)` and `Σ q`
//!   per component are kept in vectors, as computing them per point would
//!   multiply the exponentials by `n`.
//! - (c) [`gmm_tensor`]: tensor ops, all points and components at once:
//!   `Z = X·Qᵀ − Q·μ` as one matrix product, `logsumexp` along components.
//!   `Tensor::cat`/`stack` are not primitives of the macro, so `Qᵀ` is
//!   assembled column by column as a sum of outer products `e_c ⊗ col_c`
//!   (`K d³` multiply-adds, against `n K d²` for the product).
//!
//! The gradient is with respect to α (K), μ (K·d) and icf (K·(d + d(d−1)/2)),
//! in that order.

use autodiff::{Tensor, differentiable};

pub mod edited;
pub mod kernel;
pub mod kernel_edited;

/// ln Γ(a) for a > 0 (Lanczos, g = 7): only for the prior's constant, which
/// carries no gradient.
pub fn ln_gamma(a: f64) -> f64 {
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
pub fn ln_gamma_d(a: f64, d: usize) -> f64 {
    let mut out = 0.25 * (d * (d - 1)) as f64 * std::f64::consts::PI.ln();
    for j in 1..=d {
        out += ln_gamma(a + 0.5 * (1.0 - j as f64));
    }
    out
}

/// The terms of the objective that carry no gradient: `−(n d / 2) ln 2π − K C`.
#[allow(clippy::approx_constant)] // ADBench's π, for values that match ADBench's
pub fn constant_terms(d: usize, k: usize, n: usize, gamma: f64, m: usize) -> f64 {
    let pi: f64 = 3.14159265359; // ADBench's π
    let nn = d + m + 1;
    let c = (nn * d) as f64 * (gamma.ln() - 0.5 * 2.0f64.ln()) - ln_gamma_d(0.5 * nn as f64, d);
    -((n * d) as f64) * 0.5 * (2.0 * pi).ln() - (k as f64) * c
}

// ---------------------------------------------------------------- (a) scratch arrays

/// (a) As ADBench's C++ writes it: scratch arrays filled in place (the
/// function of `tests/gmm.rs`, unchanged).
#[differentiable(wrt(alphas, means, icf))]
#[allow(
    clippy::too_many_arguments,
    clippy::needless_range_loop,
    clippy::approx_constant
)]
pub fn gmm_scratch(
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

// ---------------------------------------------------------------- (b) loops over slices

/// (b) Loops over the input slices, no per-point scratch: `Q (x − μ)` row
/// by row, each row an inner accumulation over the strict lower triangle
/// (ADBench packs it column by column: entry (j, c), c < j, of component
/// `ik` is `icf[ik·icf_sz + d + c(2d − c − 3)/2 + j − 1]`), and the
/// log-sum-exp over components computed online.
#[differentiable(wrt(alphas, means, icf))]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
pub fn gmm_slices(
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
    let icf_sz = d * (d + 1) / 2;
    let mut qdiags = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    for ik in 0..k {
        for j in 0..d {
            let q = icf[ik * icf_sz + j];
            sum_qs[ik] += q;
            qdiags[ik * d + j] = q.exp();
        }
    }

    let mut slse = 0.0;
    for ix in 0..n {
        // log Σ_k exp(t_k), one pass: se = Σ exp(t − mx) for the largest mx so far.
        let mut mx = f64::NEG_INFINITY;
        let mut se = 0.0;
        for ik in 0..k {
            let mut sqnorm = 0.0;
            for j in 0..d {
                let mut qx = qdiags[ik * d + j] * (x[ix * d + j] - means[ik * d + j]);
                for c in 0..j {
                    qx += icf[ik * icf_sz + d + c * (2 * d - c - 3) / 2 + j - 1]
                        * (x[ix * d + c] - means[ik * d + c]);
                }
                sqnorm += qx * qx;
            }
            let t = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm;
            if t > mx {
                se = se * (mx - t).exp() + 1.0;
                mx = t;
            } else {
                se += (t - mx).exp();
            }
        }
        slse += se.ln() + mx;
    }

    let mut amx = alphas[0];
    for ik in 1..k {
        if alphas[ik] > amx {
            amx = alphas[ik];
        }
    }
    let mut ase = 0.0;
    for ik in 0..k {
        ase += (alphas[ik] - amx).exp();
    }
    let lse_alphas = ase.ln() + amx;

    let mut prior = 0.0;
    for ik in 0..k {
        let mut frobenius = 0.0;
        for j in 0..d {
            frobenius += qdiags[ik * d + j] * qdiags[ik * d + j];
        }
        for il in d..icf_sz {
            frobenius += icf[ik * icf_sz + il] * icf[ik * icf_sz + il];
        }
        prior += 0.5 * gamma * gamma * frobenius - (m as f64) * sum_qs[ik];
    }

    constant_terms(d, k, n, gamma, m) + slse - (n as f64) * lse_alphas + prior
}

// ---------------------------------------------------------------- (c) tensors

/// (c) Tensor ops: α (K), μ (K×d), icf (K×icf_sz), x (n×d). With
/// `Qᵀ` (d × K·d, column `k·d + j` holding row j of `Q_k`) and
/// `b = (Q_k μ_k)_k`: `Z = X·Qᵀ − b`, `‖Q_k(x_i − μ_k)‖²` are the sums of
/// squares of `Z`'s blocks, and the rest is `logsumexp` along components.
///
/// Column c of all `Q_k` at once (K×d) is a window of `icf`'s rows that ends
/// where the column's block of `l` ends, masked to the rows below the
/// diagonal, plus `exp(q_c)` on the diagonal.
#[differentiable(wrt(alphas, means, icf))]
#[allow(clippy::assign_op_pattern)]
pub fn gmm_tensor(
    alphas: &Tensor,
    means: &Tensor,
    icf: &Tensor,
    x: &Tensor,
    gamma: f64,
    m: usize,
) -> f64 {
    let n = x.shape()[0];
    let d = x.shape()[1];
    let k = alphas.shape()[0];
    let icf_sz = d * (d + 1) / 2;
    let q = icf.slice(1, 0..d);
    let l = icf.slice(1, d..icf_sz);
    let qdiag = q.exp();
    let sum_qs = q.sum_dim(1);
    let mut qt = Tensor::zeros(&[d, k * d]);
    let mut b = Tensor::zeros(&[k, d]);
    for c in 0..d {
        // icf[:, start + j] is entry (j, c) of Q for j > c.
        let start = d + c * (2 * d - c - 1) / 2 - c - 1;
        let below = Tensor::from_vec(
            (0..d).map(|j| if j > c { 1.0 } else { 0.0 }).collect(),
            &[1, d],
        );
        let diagonal = Tensor::from_vec(
            (0..d).map(|j| if j == c { 1.0 } else { 0.0 }).collect(),
            &[1, d],
        );
        let row = Tensor::from_vec(
            (0..d).map(|r| if r == c { 1.0 } else { 0.0 }).collect(),
            &[d, 1],
        );
        let col = icf.slice(1, start..start + d) * below + qdiag.slice(1, c..c + 1) * diagonal;
        b = b + means.slice(1, c..c + 1) * &col;
        qt = qt + row * col.reshape(&[1, k * d]);
    }
    let z = x.matmul(&qt) - b.reshape(&[k * d]);
    let sqnorm = z.powi(2).reshape(&[n * k, d]).sum_dim(1).reshape(&[n, k]);
    let main_term = (alphas + &sum_qs) - 0.5 * sqnorm;
    let slse = main_term.logsumexp(1).sum();
    let lse_alphas = alphas.reshape(&[1, k]).logsumexp(1).sum();
    let prior =
        0.5 * gamma * gamma * (qdiag.powi(2).sum() + l.powi(2).sum()) - (m as f64) * sum_qs.sum();
    constant_terms(d, k, n, gamma, m) + slse - (n as f64) * lse_alphas + prior
}

// ---------------------------------------------------------------- by hand

/// Value and gradient `(err, ∂α, ∂μ, ∂icf)` in reverse mode, written by
/// hand as a careful person writes it (ADBench's manual gradient does the
/// same): per point, the forward keeps `v = x − μ_k` and `z = Q_k v` of
/// every component, then with the weights `w_k = softmax(t)_k`:
/// `z̄ = −w_k z`, `q̄_j += z̄_j e^{q_j} v_j`, `L̄_jc += z̄_j v_c`,
/// `v̄ = Q_kᵀ z̄`, `μ̄_k −= v̄`; `Σ_i w_ik` goes to `ᾱ_k` and to every `q̄_kj`
/// (through `Σ q`). Then `ᾱ −= n softmax(α)` and the prior's
/// `q̄ += γ² e^{2q} − m`, `l̄ += γ² l`. The triangular loops run column by
/// column, where each step is an `axpy` over contiguous slices.
#[allow(clippy::too_many_arguments)]
pub fn gmm_hand(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    gamma: f64,
    m: usize,
) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
    let icf_sz = d * (d + 1) / 2;
    let mut d_alphas = vec![0.0; k];
    let mut d_means = vec![0.0; k * d];
    let mut d_icf = vec![0.0; k * icf_sz];
    let mut qdiags = vec![0.0; k * d];
    let mut sum_qs = vec![0.0; k];
    for ik in 0..k {
        let q = &icf[ik * icf_sz..ik * icf_sz + d];
        sum_qs[ik] = q.iter().sum();
        for (e, &q) in qdiags[ik * d..(ik + 1) * d].iter_mut().zip(q) {
            *e = q.exp();
        }
    }

    let mut v = vec![0.0; k * d];
    let mut z = vec![0.0; k * d];
    let mut t = vec![0.0; k];
    let mut z_bar = vec![0.0; d];
    let mut v_bar = vec![0.0; d];
    let mut slse = 0.0;
    for xi in x.chunks_exact(d).take(n) {
        for ik in 0..k {
            let l = &icf[ik * icf_sz + d..(ik + 1) * icf_sz];
            let qd = &qdiags[ik * d..(ik + 1) * d];
            let vk = &mut v[ik * d..(ik + 1) * d];
            let zk = &mut z[ik * d..(ik + 1) * d];
            for j in 0..d {
                vk[j] = xi[j] - means[ik * d + j];
                zk[j] = qd[j] * vk[j];
            }
            let mut off = 0;
            for c in 0..d {
                let column = &l[off..off + d - c - 1];
                let vc = vk[c];
                for (zj, &lj) in zk[c + 1..].iter_mut().zip(column) {
                    *zj += lj * vc;
                }
                off += d - c - 1;
            }
            let sqnorm: f64 = zk.iter().map(|z| z * z).sum();
            t[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm;
        }
        let mx = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = mx + t.iter().map(|t| (t - mx).exp()).sum::<f64>().ln();
        slse += lse;
        for ik in 0..k {
            let w = (t[ik] - lse).exp();
            d_alphas[ik] += w; // also Σ_i w_ik for every q̄_kj, added below
            let l = &icf[ik * icf_sz + d..(ik + 1) * icf_sz];
            let qd = &qdiags[ik * d..(ik + 1) * d];
            let vk = &v[ik * d..(ik + 1) * d];
            let zk = &z[ik * d..(ik + 1) * d];
            let (dq, dl) = d_icf[ik * icf_sz..(ik + 1) * icf_sz].split_at_mut(d);
            for j in 0..d {
                z_bar[j] = -w * zk[j];
                dq[j] += z_bar[j] * qd[j] * vk[j];
                v_bar[j] = qd[j] * z_bar[j];
            }
            let mut off = 0;
            for c in 0..d {
                let column = &l[off..off + d - c - 1];
                let d_column = &mut dl[off..off + d - c - 1];
                let vc = vk[c];
                let mut vc_bar = 0.0;
                for ((dlj, &lj), &zj) in d_column.iter_mut().zip(column).zip(&z_bar[c + 1..]) {
                    *dlj += zj * vc;
                    vc_bar += lj * zj;
                }
                v_bar[c] += vc_bar;
                off += d - c - 1;
            }
            for (dm, vb) in d_means[ik * d..(ik + 1) * d].iter_mut().zip(&v_bar) {
                *dm -= vb;
            }
        }
    }

    // Σ_i w_ik reaches every q_kj through Σ q.
    for ik in 0..k {
        let total = d_alphas[ik];
        for dq in &mut d_icf[ik * icf_sz..ik * icf_sz + d] {
            *dq += total;
        }
    }
    // − n LSE(α)
    let amx = alphas.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ase: f64 = alphas.iter().map(|a| (a - amx).exp()).sum();
    let lse_alphas = amx + ase.ln();
    for (da, a) in d_alphas.iter_mut().zip(alphas) {
        *da -= n as f64 * (a - lse_alphas).exp();
    }
    // The Wishart prior.
    let mut prior = 0.0;
    for ik in 0..k {
        let q = &icf[ik * icf_sz..ik * icf_sz + d];
        let l = &icf[ik * icf_sz + d..(ik + 1) * icf_sz];
        let qd = &qdiags[ik * d..(ik + 1) * d];
        let frobenius: f64 =
            qd.iter().map(|e| e * e).sum::<f64>() + l.iter().map(|l| l * l).sum::<f64>();
        prior += 0.5 * gamma * gamma * frobenius - m as f64 * q.iter().sum::<f64>();
        let (dq, dl) = d_icf[ik * icf_sz..(ik + 1) * icf_sz].split_at_mut(d);
        for (dq, e) in dq.iter_mut().zip(qd) {
            *dq += gamma * gamma * e * e - m as f64;
        }
        for (dl, l) in dl.iter_mut().zip(l) {
            *dl += gamma * gamma * l;
        }
    }
    let value = constant_terms(d, k, n, gamma, m) + slse - n as f64 * lse_alphas + prior;
    (value, d_alphas, d_means, d_icf)
}

// ---------------------------------------------------------------- inputs

/// One GMM input, as slices (forms a, b, hand-written) and as tensors (c).
pub struct GmmInput {
    pub d: usize,
    pub k: usize,
    pub n: usize,
    pub alphas: Vec<f64>,
    pub means: Vec<f64>,
    pub icf: Vec<f64>,
    pub x: Vec<f64>,
    pub gamma: f64,
    pub m: usize,
    pub t_alphas: Tensor,
    pub t_means: Tensor,
    pub t_icf: Tensor,
    pub t_x: Tensor,
}

impl GmmInput {
    fn new(
        d: usize,
        k: usize,
        n: usize,
        alphas: Vec<f64>,
        means: Vec<f64>,
        icf: Vec<f64>,
        x: Vec<f64>,
    ) -> GmmInput {
        let icf_sz = d * (d + 1) / 2;
        GmmInput {
            t_alphas: Tensor::from_vec(alphas.clone(), &[k]),
            t_means: Tensor::from_vec(means.clone(), &[k, d]),
            t_icf: Tensor::from_vec(icf.clone(), &[k, icf_sz]),
            t_x: Tensor::from_vec(x.clone(), &[n, d]),
            d,
            k,
            n,
            alphas,
            means,
            icf,
            x,
            gamma: 1.0,
            m: 0,
        }
    }

    /// Seeded input (ADBench's data has γ = 1, m = 0): α uniform in
    /// [−1, 1), μ and x uniform in [0, 1), icf uniform in [−0.5, 0.5).
    pub fn seeded(d: usize, k: usize, n: usize, seed: u64) -> GmmInput {
        let icf_sz = d * (d + 1) / 2;
        let alphas = Tensor::uniform(&[k], -1.0, 1.0, seed).into_vec();
        let means = Tensor::uniform(&[k * d], 0.0, 1.0, seed + 1).into_vec();
        let icf = Tensor::uniform(&[k * icf_sz], -0.5, 0.5, seed + 2).into_vec();
        let x = Tensor::uniform(&[n * d], 0.0, 1.0, seed + 3).into_vec();
        GmmInput::new(d, k, n, alphas, means, icf, x)
    }

    /// ADBench's small test input (data/gmm/test.txt): d = 2, K = 3, n = 1.
    pub fn adbench_test() -> GmmInput {
        GmmInput::new(
            2,
            3,
            1,
            vec![-0.649014, 1.181166, -0.758453],
            vec![0.092339, 0.186260, 0.345561, 0.396767, 0.538817, 0.419195],
            vec![
                0.586443, -0.851887, 0.800321, -1.509405, 0.875874, -0.242790, 0.166813, -1.965419,
                -1.270071,
            ],
            vec![1.175171, 2.029160],
        )
    }

    /// The same parameters with only the first `n` points.
    pub fn with_n(&self, n: usize) -> GmmInput {
        let (d, k) = (self.d, self.k);
        GmmInput::new(
            d,
            k,
            n,
            self.alphas.clone(),
            self.means.clone(),
            self.icf.clone(),
            self.x[..n * d].to_vec(),
        )
    }

    /// The parameters packed in gradient order: α, μ, icf.
    pub fn params(&self) -> Vec<f64> {
        [&self.alphas[..], &self.means, &self.icf].concat()
    }

    /// The objective at packed parameters `p` (form a), for central differences.
    pub fn objective_at(&self, p: &[f64]) -> f64 {
        let (a, rest) = p.split_at(self.k);
        let (mu, icf) = rest.split_at(self.k * self.d);
        gmm_scratch(
            self.d, self.k, self.n, a, mu, icf, &self.x, self.gamma, self.m,
        )
    }

    pub fn primal_scratch(&self) -> f64 {
        gmm_scratch(
            self.d,
            self.k,
            self.n,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            self.gamma,
            self.m,
        )
    }
    pub fn primal_slices(&self) -> f64 {
        gmm_slices(
            self.d,
            self.k,
            self.n,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            self.gamma,
            self.m,
        )
    }
    pub fn primal_tensor(&self) -> f64 {
        gmm_tensor(
            &self.t_alphas,
            &self.t_means,
            &self.t_icf,
            &self.t_x,
            self.gamma,
            self.m,
        )
    }

    /// Value and packed gradient of each form, and by hand.
    pub fn grad_scratch(&self) -> (f64, Vec<f64>) {
        let (v, (a, mu, icf)) = gmm_scratch::value_and_grad(
            self.d,
            self.k,
            self.n,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            self.gamma,
            self.m,
        );
        (v, [a, mu, icf].concat())
    }
    pub fn grad_slices(&self) -> (f64, Vec<f64>) {
        let (v, (a, mu, icf)) = gmm_slices::value_and_grad(
            self.d,
            self.k,
            self.n,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            self.gamma,
            self.m,
        );
        (v, [a, mu, icf].concat())
    }
    /// Form (b) through the hand-edited copy of its generated code.
    pub fn grad_slices_edited(&self) -> (f64, Vec<f64>) {
        let (v, pullback) = edited::vjp(
            self.d,
            self.k,
            self.n,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            self.gamma,
            self.m,
        );
        let (_, _, _, a, mu, icf, _, _, _) = pullback(1.0);
        (v, [a, mu, icf].concat())
    }
    pub fn grad_tensor(&self) -> (f64, Vec<f64>) {
        let (v, (a, mu, icf)) = gmm_tensor::value_and_grad(
            &self.t_alphas,
            &self.t_means,
            &self.t_icf,
            &self.t_x,
            self.gamma,
            self.m,
        );
        (v, [a.data(), mu.data(), icf.data()].concat())
    }
    pub fn grad_hand(&self) -> (f64, Vec<f64>) {
        let (v, a, mu, icf) = gmm_hand(
            self.d,
            self.k,
            self.n,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            self.gamma,
            self.m,
        );
        (v, [a, mu, icf].concat())
    }
}
