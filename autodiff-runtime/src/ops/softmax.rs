//! `softmax`, `log_softmax` and `logsumexp` along one dimension, computed
//! stably (shifted by the line's maximum), and their derivative rules. The
//! exponentials are `ops/vmath.rs`'s, which vectorise (results below
//! 10⁻³⁰⁷ flush to 0).

use super::{Rule, rule_fn};
use crate::cotangent::Cotangent;
use crate::ops::reduce::{reduce_dim, split_at_dim};
use crate::ops::vmath::exp;
use crate::pool;
use crate::tensor::Tensor;

/// Applies `f(lines of the inputs, line of the output)` to every line along
/// `dim` of same-shaped tensors; lines are gathered into contiguous buffers.
fn map_lines<const N: usize>(
    inputs: [&Tensor; N],
    dim: usize,
    f: impl Fn([&[f64]; N], &mut [f64]),
) -> Tensor {
    let shape = &inputs[0].shape;
    for t in &inputs[1..] {
        assert!(
            &t.shape == shape,
            "shapes {:?} and {:?} differ in a rule along dimension {}",
            shape,
            t.shape,
            dim
        );
    }
    let (outer, n, inner) = split_at_dim(shape, dim);
    if inner == 1 {
        // Along the last dimension the lines are contiguous: no gathering.
        let mut out = pool::filled(outer * n, 0.0);
        if n > 0 {
            for (o, out_line) in out.chunks_exact_mut(n).enumerate() {
                f(
                    std::array::from_fn(|j| &inputs[j].data[o * n..(o + 1) * n]),
                    out_line,
                );
            }
        }
        return Tensor::from_parts(out, shape.clone());
    }
    let mut out = vec![0.0; outer * n * inner];
    let mut lines = [(); N].map(|_| vec![0.0; n]);
    let mut result = vec![0.0; n];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * n + k) * inner + i;
            for (line, t) in lines.iter_mut().zip(&inputs) {
                for (k, v) in line.iter_mut().enumerate() {
                    *v = t.data[at(k)];
                }
            }
            f(std::array::from_fn(|j| lines[j].as_slice()), &mut result);
            for (k, &v) in result.iter().enumerate() {
                out[at(k)] = v;
            }
        }
    }
    Tensor::from_parts(out, shape.clone())
}

/// The largest finite-or-infinite value of a line, or 0 if it is −∞
/// everywhere (so that shifting by it keeps `−∞ − shift = −∞`).
fn shift_of(line: &[f64]) -> f64 {
    let m = line.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_finite() { m } else { 0.0 }
}

/// `ln Σ eˣ` of a line, shifted by its maximum so nothing overflows.
fn logsumexp_line(line: &[f64]) -> f64 {
    let m = shift_of(line);
    m + sum_exp(line, m).ln()
}

/// `Σ e^(v − m)` over a line, in four running sums: one running sum is a
/// chain of dependent additions that keeps the exponentials from being
/// computed side by side in vector registers.
fn sum_exp(line: &[f64], m: f64) -> f64 {
    let mut lanes = [0.0; 4];
    let chunks = line.chunks_exact(4);
    let rest: f64 = chunks.remainder().iter().map(|&v| exp(v - m)).sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += exp(v - m);
        }
    }
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + rest
}

impl Tensor {
    /// `eˣ / Σ eˣ` along dimension `dim` (each line sums to 1).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let p = Tensor::from([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]).softmax(1);
    /// assert!((p.sum_dim(1).to_vec()[0] - 1.0).abs() < 1e-12);
    /// assert_eq!(p.at(&[1, 0]), 1.0 / 3.0);
    /// ```
    pub fn softmax(&self, dim: usize) -> Tensor {
        map_lines([self], dim, |[x], out| {
            let m = shift_of(x);
            let mut total = 0.0;
            for (o, &v) in out.iter_mut().zip(x) {
                *o = exp(v - m);
                total += *o;
            }
            out.iter_mut().for_each(|o| *o /= total);
        })
    }

    /// `x − ln Σ eˣ` along dimension `dim`: the logarithm of
    /// [`softmax`](Tensor::softmax), computed without overflow or log(0).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::from([1000.0, 0.0]);
    /// let y = x.log_softmax(0);
    /// assert_eq!(y.at(&[0]), 0.0);
    /// assert_eq!(y.at(&[1]), -1000.0);
    /// ```
    pub fn log_softmax(&self, dim: usize) -> Tensor {
        map_lines([self], dim, |[x], out| {
            let m = shift_of(x);
            let lse = m + sum_exp(x, m).ln();
            for (o, &v) in out.iter_mut().zip(x) {
                *o = v - lse;
            }
        })
    }

    /// `ln Σ eˣ` along dimension `dim`, which disappears from the shape
    /// (PyTorch's `torch.logsumexp(x, dim)`), computed without overflow.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let y = Tensor::from([1000.0, 1000.0]).logsumexp(0);
    /// assert_eq!(y.shape(), &[] as &[usize]);
    /// assert!((y.item() - (1000.0 + 2f64.ln())).abs() < 1e-9);
    /// ```
    pub fn logsumexp(&self, dim: usize) -> Tensor {
        reduce_dim(self, dim, logsumexp_line)
    }
}

rule_fn!(
    /// `y = x.softmax(d)`: `x̄ += y · (ḡ − Σ_d ḡ·y)`.
    softmax_d0 => SoftmaxD0(g: G, y: Y: Operand, d: D)
);

impl Rule<(&Tensor, &Tensor, &usize)> for SoftmaxD0 {
    type Out = Tensor;
    fn apply((g, y, d): (&Tensor, &Tensor, &usize)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        map_lines([g, y], *d, |[g, y], out| {
            let s: f64 = g.iter().zip(y).map(|(g, y)| g * y).sum();
            for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                *o = y * (g - s);
            }
        })
    }
}

rule_fn!(
    /// `y = x.log_softmax(d)`: `x̄ += ḡ − exp(y) · Σ_d ḡ`.
    log_softmax_d0 => LogSoftmaxD0(g: G, y: Y: Operand, d: D)
);

impl Rule<(&Tensor, &Tensor, &usize)> for LogSoftmaxD0 {
    type Out = Tensor;
    fn apply((g, y, d): (&Tensor, &Tensor, &usize)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        map_lines([g, y], *d, |[g, y], out| {
            let s: f64 = g.iter().sum();
            for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                *o = g - exp(y) * s;
            }
        })
    }
}

rule_fn!(
    /// `y = x.logsumexp(d)` (dimension `d` removed): `x̄ += ḡ · exp(x − y)`,
    /// with `ḡ` and `y` repeated along `d`.
    logsumexp_d0 => LogsumexpD0(g: G, x: X: Operand, y: Y: Operand, d: D)
);

impl Rule<(&Tensor, &Tensor, &Tensor, &usize)> for LogsumexpD0 {
    type Out = Tensor;
    fn apply((g, x, y, d): (&Tensor, &Tensor, &Tensor, &usize)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        // `ḡ` and `y` are read in place, repeated along `d` by indexing
        // (no expanded copies): `x` is an `outer × n × inner` block and
        // `g`, `y` are `outer × inner`.
        let (outer, n, inner) = split_at_dim(&x.shape, *d);
        assert!(
            g.numel() == outer * inner && y.numel() == outer * inner,
            "logsumexp's rule: cotangent {:?} and output {:?} do not fit an operand of shape {:?} along dimension {}",
            g.shape,
            y.shape,
            x.shape,
            d
        );
        let mut out = pool::buffer(x.numel());
        if x.numel() == 0 {
            // Nothing to differentiate.
        } else if inner == 1 {
            for ((line, &g), &y) in x
                .data
                .chunks_exact(n.max(1))
                .zip(g.data.iter())
                .zip(y.data.iter())
            {
                out.extend(line.iter().map(|&x| g * exp(x - y)));
            }
        } else {
            for ((block, g), y) in x
                .data
                .chunks_exact((n * inner).max(1))
                .zip(g.data.chunks_exact(inner))
                .zip(y.data.chunks_exact(inner))
            {
                for row in block.chunks_exact(inner) {
                    out.extend(
                        row.iter()
                            .zip(g)
                            .zip(y)
                            .map(|((&x, &g), &y)| g * exp(x - y)),
                    );
                }
            }
        }
        Tensor::from_parts(out, x.shape.clone())
    }
}
