//! The triangular inner loop that issue 11 names, alone: for each of `n`
//! points, `Σ_j (v_j + Σ_{c<j} L_jc v_c)²` with `v = x − μ` and the strict
//! lower triangle `l` packed row by row, walked with a counter as one writes
//! it by hand (`qx += l[k] * (x[c] − μ[c]); k += 1`). Timed beside a
//! hand-written reverse pass and hand-edited copies of its generated code
//! ([`super::kernel_edited`]).

use autodiff::differentiable;

/// The kernel: gradient with respect to `l` and `mu`.
#[differentiable(wrt(l, mu))]
pub fn qx_kernel(d: usize, n: usize, l: &[f64], x: &[f64], mu: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        let mut k = 0;
        for j in 0..d {
            let mut qx = x[i * d + j] - mu[j];
            for c in 0..j {
                qx += l[k] * (x[i * d + c] - mu[c]);
                k += 1;
            }
            s += qx * qx;
        }
    }
    s
}

/// Value and gradient `(s, ∂l, ∂μ)` by hand: per point `v = x − μ`, per row
/// `qx = v_j + Σ_c L_jc v_c`, then `ḡ = 2 qx`: `μ̄_j −= ḡ`,
/// `L̄_jc += ḡ v_c`, `μ̄_c −= ḡ L_jc` over the row's slice.
pub fn qx_kernel_hand(
    d: usize,
    n: usize,
    l: &[f64],
    x: &[f64],
    mu: &[f64],
) -> (f64, Vec<f64>, Vec<f64>) {
    let mut s = 0.0;
    let mut dl = vec![0.0; l.len()];
    let mut dmu = vec![0.0; d];
    let mut v = vec![0.0; d];
    for xi in x.chunks_exact(d).take(n) {
        for j in 0..d {
            v[j] = xi[j] - mu[j];
        }
        let mut k = 0;
        for j in 0..d {
            let row = &l[k..k + j];
            let mut qx = v[j];
            for c in 0..j {
                qx += row[c] * v[c];
            }
            s += qx * qx;
            let g = 2.0 * qx;
            dmu[j] -= g;
            let d_row = &mut dl[k..k + j];
            for c in 0..j {
                d_row[c] += g * v[c];
                dmu[c] -= g * row[c];
            }
            k += j;
        }
    }
    (s, dl, dmu)
}

/// One input of the kernel: `n` points of dimension `d` (seeded, uniform).
pub struct KernelInput {
    pub d: usize,
    pub n: usize,
    pub l: Vec<f64>,
    pub x: Vec<f64>,
    pub mu: Vec<f64>,
}

impl KernelInput {
    pub fn seeded(d: usize, n: usize, seed: u64) -> KernelInput {
        KernelInput {
            d,
            n,
            l: autodiff::Tensor::uniform(&[d * (d - 1) / 2], -0.5, 0.5, seed).into_vec(),
            x: autodiff::Tensor::uniform(&[n * d], 0.0, 1.0, seed + 1).into_vec(),
            mu: autodiff::Tensor::uniform(&[d], 0.0, 1.0, seed + 2).into_vec(),
        }
    }

    pub fn primal(&self) -> f64 {
        qx_kernel(self.d, self.n, &self.l, &self.x, &self.mu)
    }

    /// Value and packed gradient (∂l, then ∂μ), generated.
    pub fn grad(&self) -> (f64, Vec<f64>) {
        let (v, (l, mu)) = qx_kernel::value_and_grad(self.d, self.n, &self.l, &self.x, &self.mu);
        (v, [l, mu].concat())
    }

    pub fn grad_hand(&self) -> (f64, Vec<f64>) {
        let (v, l, mu) = qx_kernel_hand(self.d, self.n, &self.l, &self.x, &self.mu);
        (v, [l, mu].concat())
    }

    /// Through the copy with the counter walked back.
    pub fn grad_walk(&self) -> (f64, Vec<f64>) {
        let (v, pullback) =
            super::kernel_edited::walk::vjp(self.d, self.n, &self.l, &self.x, &self.mu);
        let (_, _, l, _, mu) = pullback(1.0);
        (v, [l, mu].concat())
    }

    /// Through the copy with all the edits.
    pub fn grad_all(&self) -> (f64, Vec<f64>) {
        let (v, pullback) =
            super::kernel_edited::all::vjp(self.d, self.n, &self.l, &self.x, &self.mu);
        let (_, _, l, _, mu) = pullback(1.0);
        (v, [l, mu].concat())
    }
}
