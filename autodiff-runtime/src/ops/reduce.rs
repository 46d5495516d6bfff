//! Reductions: `sum`, `mean`, `max`, `min` over all elements, `sum_dim` and
//! `mean_dim` along one dimension, and their derivative rules.

use super::{Rule, rule_fn};
use crate::cotangent::{Cotangent, Shape};
use crate::pool;
use crate::tensor::{Tensor, numel_of};

/// Splits a shape around dimension `dim` into `(outer, size, inner)`: the
/// tensor is then an `outer × size × inner` block, row-major. Panics in
/// PyTorch's words if `dim` is out of range.
pub(crate) fn split_at_dim(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    assert!(
        dim < shape.len() || (shape.is_empty() && dim == 0),
        "Dimension out of range (expected to be in range of [0, {}], but got {}) for a tensor of shape {:?}",
        shape.len().max(1) - 1,
        dim,
        shape
    );
    if shape.is_empty() {
        return (1, 1, 1);
    }
    (
        numel_of(&shape[..dim]),
        shape[dim],
        numel_of(&shape[dim + 1..]),
    )
}

/// The shape with dimension `dim` removed.
pub(crate) fn remove_dim(shape: &[usize], dim: usize) -> Vec<usize> {
    let mut out = shape.to_vec();
    if !out.is_empty() {
        out.remove(dim);
    }
    out
}

/// Folds each line along `dim` into one value: `out[o, i] = f(line)`, the
/// line handed over as a contiguous slice: along the last dimension it is a
/// piece of `x`'s storage, otherwise it is gathered into one buffer that is
/// reused for every line.
pub(crate) fn reduce_dim(x: &Tensor, dim: usize, mut f: impl FnMut(&[f64]) -> f64) -> Tensor {
    let (outer, n, inner) = split_at_dim(&x.shape, dim);
    let mut out = pool::buffer(outer * inner);
    if outer * inner == 0 {
        // No lines.
    } else if inner == 1 || n == 0 {
        if n == 0 {
            out.extend((0..outer * inner).map(|_| f(&[])));
        } else {
            out.extend(x.data.chunks_exact(n).map(&mut f));
        }
    } else {
        let mut line = vec![0.0; n];
        for block in x.data.chunks_exact(n * inner) {
            for i in 0..inner {
                for (k, v) in line.iter_mut().enumerate() {
                    *v = block[k * inner + i];
                }
                out.push(f(&line));
            }
        }
    }
    Tensor::from_parts(out, remove_dim(&x.shape, dim))
}

/// The adjoint of a reduction along `dim`: repeats each element of `g`
/// (shape without `dim`) `shape[dim]` times along `dim`, scaled by `scale`.
///
/// Along the last dimension (`inner == 1`, the common case: `x.sum_dim(1)` of
/// a matrix) each element of `g` fills one contiguous run of the output;
/// otherwise each line of `g` is copied `n` times.
pub(crate) fn expand_dim(g: &Tensor, shape: &[usize], dim: usize, scale: f64) -> Tensor {
    let (outer, n, inner) = split_at_dim(shape, dim);
    assert!(
        g.shape == remove_dim(shape, dim),
        "gradient of shape {:?} does not fit a reduction of shape {:?} along dimension {}",
        g.shape,
        shape,
        dim
    );
    let mut out = pool::buffer(outer * n * inner);
    if inner == 0 {
        // Empty: nothing to repeat.
    } else if inner == 1 {
        for &s in g.data.iter() {
            out.extend(std::iter::repeat_n(s * scale, n));
        }
    } else {
        for src in g.data.chunks_exact(inner) {
            for _ in 0..n {
                out.extend(src.iter().map(|&s| s * scale));
            }
        }
    }
    Tensor::from_parts(out, shape.to_vec())
}

/// `Σ / divisor` along `dim`, without gathering lines: along the last dimension each line is a contiguous
/// slice, summed as [`sum_of`] sums; otherwise the `n` rows of each
/// `n × inner` block are added into the output row, in order (the same
/// additions, in the same order, as summing each line).
fn sum_lines(x: &Tensor, dim: usize, divisor: f64) -> Tensor {
    let (outer, n, inner) = split_at_dim(&x.shape, dim);
    let mut out = pool::buffer(outer * inner);
    if outer * inner == 0 {
        // Nothing to sum into.
    } else if n == 0 {
        // An empty sum is 0; an empty mean 0/0 = NaN, as PyTorch.
        out.resize(outer * inner, 0.0 / divisor);
    } else if inner == 1 {
        out.extend(x.data.chunks_exact(n).map(|line| sum_of(line) / divisor));
    } else {
        for block in x.data.chunks_exact(n * inner) {
            let start = out.len();
            out.extend_from_slice(&block[..inner]);
            let acc = &mut out[start..];
            for row in block[inner..].chunks_exact(inner) {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
            if divisor != 1.0 {
                acc.iter_mut().for_each(|a| *a /= divisor);
            }
        }
    }
    Tensor::from_parts(out, remove_dim(&x.shape, dim))
}

/// The sum of `values`. Short slices are summed in order; long ones in
/// eight running sums over interleaved lanes, combined pairwise: one running
/// sum is a chain of dependent additions that cannot be vectorised (3–4
/// cycles per element), eight are independent and become SIMD additions.
/// The rounding differs from the in-order sum only in the last bits, and is
/// no worse (PyTorch sums in blocks too).
pub(crate) fn sum_of(values: &[f64]) -> f64 {
    const LANES: usize = 8;
    if values.len() < 256 {
        return values.iter().sum();
    }
    let mut lanes = [0.0; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest: f64 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    (((a + b) + (c + d)) + ((e + f) + (g + h))) + rest
}

impl Tensor {
    /// The sum of all elements.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(4.0).sum(), 6.0);
    /// ```
    pub fn sum(&self) -> f64 {
        sum_of(&self.data)
    }

    /// The mean of all elements (NaN for an empty tensor, as PyTorch).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(4.0).mean(), 1.5);
    /// ```
    pub fn mean(&self) -> f64 {
        self.sum() / self.numel() as f64
    }

    /// Sums along dimension `dim`, which disappears from the shape
    /// (PyTorch's `x.sum(dim)`).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// assert_eq!(m.sum_dim(0).to_vec(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(m.sum_dim(1).to_vec(), vec![6.0, 15.0]);
    /// ```
    pub fn sum_dim(&self, dim: usize) -> Tensor {
        sum_lines(self, dim, 1.0)
    }

    /// Means along dimension `dim`, which disappears from the shape.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// assert_eq!(m.mean_dim(1).to_vec(), vec![2.0, 5.0]);
    /// ```
    pub fn mean_dim(&self, dim: usize) -> Tensor {
        let (_, n, _) = split_at_dim(&self.shape, dim);
        sum_lines(self, dim, n as f64)
    }

    /// The largest element (NaN if any element is NaN, as PyTorch).
    ///
    /// Panics for an empty tensor.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([1.0, 7.0, -3.0]).max(), 7.0);
    /// ```
    pub fn max(&self) -> f64 {
        self.extremum("max", |a, b| a > b)
    }

    /// The smallest element (NaN if any element is NaN, as PyTorch).
    ///
    /// Panics for an empty tensor.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([1.0, 7.0, -3.0]).min(), -3.0);
    /// ```
    pub fn min(&self) -> f64 {
        self.extremum("min", |a, b| a < b)
    }

    fn extremum(&self, name: &str, better: fn(f64, f64) -> bool) -> f64 {
        assert!(
            self.numel() > 0,
            "{name}(): Expected reduction dim to be specified for input.numel() == 0 \
             (the tensor of shape {:?} is empty)",
            self.shape
        );
        self.data[1..].iter().fold(self.data[0], |best, &v| {
            if best.is_nan() || v.is_nan() {
                f64::NAN
            } else if better(v, best) {
                v
            } else {
                best
            }
        })
    }
}

rule_fn!(
    /// `y = x.sum()`: `x̄ += ḡ` at every element (ḡ broadcast to `x`'s shape).
    sum_d0 => SumD0(g: G, x_meta: M)
);
rule_fn!(
    /// `y = x.mean()`: `x̄ += ḡ / n` at every element.
    mean_d0 => MeanD0(g: G, x_meta: M)
);

impl Rule<(&f64, &Shape)> for SumD0 {
    type Out = Tensor;
    fn apply((g, x): (&f64, &Shape)) -> Tensor {
        Tensor::full(&x.0, *g)
    }
}
impl Rule<(&f64, &Shape)> for MeanD0 {
    type Out = Tensor;
    fn apply((g, x): (&f64, &Shape)) -> Tensor {
        Tensor::full(&x.0, *g / x.numel() as f64)
    }
}

rule_fn!(
    /// `y = x.sum_dim(d)`: `x̄ += ḡ` repeated along `d`.
    sum_dim_d0 => SumDimD0(g: G, x_meta: M, d: D)
);
rule_fn!(
    /// `y = x.mean_dim(d)`: `x̄ += ḡ / size_d` repeated along `d`.
    mean_dim_d0 => MeanDimD0(g: G, x_meta: M, d: D)
);

impl Rule<(&Tensor, &Shape, &usize)> for SumDimD0 {
    type Out = Tensor;
    fn apply((g, x, d): (&Tensor, &Shape, &usize)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        expand_dim(g, &x.0, *d, 1.0)
    }
}
impl Rule<(&Tensor, &Shape, &usize)> for MeanDimD0 {
    type Out = Tensor;
    fn apply((g, x, d): (&Tensor, &Shape, &usize)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        let (_, n, _) = split_at_dim(&x.0, *d);
        expand_dim(g, &x.0, *d, 1.0 / n as f64)
    }
}

rule_fn!(
    /// `y = x.max()` (all elements, tensors): `x̄ += ḡ / k` at each of the `k`
    /// positions where `x == y` (ties share evenly, as PyTorch).
    ///
    /// On `f64`, `a.max(b)` operand `a`: `ā += ḡ` where `a > b`, `ḡ/2` where
    /// equal.
    max_d0 => MaxD0(g: G, x: X: Operand, y: Y: Operand)
);
rule_fn!(
    /// `y = x.min()` (all elements, tensors): `x̄ += ḡ / k` at each of the `k`
    /// positions where `x == y`.
    ///
    /// On `f64`, `a.min(b)` operand `a`: `ā += ḡ` where `a < b`, `ḡ/2` where
    /// equal.
    min_d0 => MinD0(g: G, x: X: Operand, y: Y: Operand)
);

/// ḡ split evenly among the positions of `x` equal to `y`.
fn evenly_at(g: f64, x: &Tensor, y: f64) -> Tensor {
    let hits = x.data.iter().filter(|&&v| v == y).count();
    let share = if hits == 0 { 0.0 } else { g / hits as f64 };
    x.map(|v| if v == y { share } else { 0.0 })
}

impl Rule<(&f64, &Tensor, &f64)> for MaxD0 {
    type Out = Tensor;
    fn apply((g, x, y): (&f64, &Tensor, &f64)) -> Tensor {
        evenly_at(*g, x, *y)
    }
}
impl Rule<(&f64, &Tensor, &f64)> for MinD0 {
    type Out = Tensor;
    fn apply((g, x, y): (&f64, &Tensor, &f64)) -> Tensor {
        evenly_at(*g, x, *y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sums_agree_with_the_in_order_sum() {
        for n in [0, 1, 255, 256, 257, 1000, 100_003] {
            let x = Tensor::uniform(&[n], -1.0, 1.0, n as u64);
            let in_order: f64 = x.data().iter().sum();
            let scale: f64 = x.data().iter().map(|v| v.abs()).sum();
            assert!(
                (x.sum() - in_order).abs() <= 1e-14 * scale.max(1.0),
                "n = {n}"
            );
        }
        assert_eq!(Tensor::full(&[1024], 0.5).sum(), 512.0);
        assert!(Tensor::from_vec(vec![f64::NAN; 300], &[300]).sum().is_nan());
    }

    /// `sum_dim`, `mean_dim`, `logsumexp`, `softmax`, `log_softmax` and the
    /// adjoint `expand_dim` against per-element loops written from the
    /// definition, along every dimension (the last one takes the contiguous
    /// fast paths), including empty and long lines.
    #[test]
    fn line_reductions_agree_with_their_definition() {
        let shapes: [&[usize]; 6] = [&[2, 3, 4], &[5], &[3, 300], &[0, 3], &[3, 0], &[2, 1, 3]];
        for shape in shapes {
            let x = Tensor::randn(shape, 7) * 2.0;
            for dim in 0..shape.len() {
                let (outer, n, inner) = split_at_dim(shape, dim);
                let at = |o: usize, k: usize, i: usize| x.data()[(o * n + k) * inner + i];
                let close = |a: f64, b: f64| {
                    (a - b).abs() <= 1e-12 * (1.0 + b.abs()) || (a.is_nan() && b.is_nan())
                };
                let (sum, mean, lse) = (x.sum_dim(dim), x.mean_dim(dim), x.logsumexp(dim));
                let (soft, log_soft) = (x.softmax(dim), x.log_softmax(dim));
                assert_eq!(sum.shape(), remove_dim(shape, dim).as_slice());
                for o in 0..outer {
                    for i in 0..inner {
                        let line: Vec<f64> = (0..n).map(|k| at(o, k, i)).collect();
                        let s: f64 = line.iter().sum();
                        let m = line.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let e: f64 = line.iter().map(|v| (v - m).exp()).sum();
                        let here = o * inner + i;
                        assert!(close(sum.data()[here], s), "sum_dim {shape:?} {dim}");
                        assert!(
                            close(mean.data()[here], s / n as f64),
                            "mean_dim {shape:?} {dim}"
                        );
                        if n > 0 {
                            assert!(
                                close(lse.data()[here], m + e.ln()),
                                "logsumexp {shape:?} {dim}"
                            );
                        }
                        for k in 0..n {
                            let p = (at(o, k, i) - m).exp() / e;
                            let j = (o * n + k) * inner + i;
                            assert!(close(soft.data()[j], p), "softmax {shape:?} {dim}");
                            assert!(
                                close(log_soft.data()[j], p.ln()),
                                "log_softmax {shape:?} {dim}"
                            );
                        }
                    }
                }
                let g = Tensor::randn(&remove_dim(shape, dim), 8);
                let expanded = expand_dim(&g, shape, dim, 0.5);
                for o in 0..outer {
                    for k in 0..n {
                        for i in 0..inner {
                            assert_eq!(
                                expanded.data()[(o * n + k) * inner + i],
                                0.5 * g.data()[o * inner + i]
                            );
                        }
                    }
                }
            }
        }
    }
}
