//! Linear algebra: `matmul` (through nalgebra), `dot`, `norm`, and their
//! derivative rules.

use nalgebra::{Dyn, MatrixView, MatrixViewMut};

use super::{Rule, rule_fn};
use crate::cotangent::Cotangent;
use crate::pool;
use crate::tensor::Tensor;

/// A matrix inside a row-major buffer, possibly read transposed: element
/// `(i, j)` is `data[i·row_stride + j·col_stride]`.
#[derive(Clone, Copy)]
struct StridedMatrix<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> StridedMatrix<'a> {
    /// The `rows × cols` row-major matrix in `data`.
    fn rows(data: &'a [f64], rows: usize, cols: usize) -> Self {
        StridedMatrix {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of the `rows × cols` row-major matrix in `data`, read
    /// in place (no copy).
    fn transposed(data: &'a [f64], rows: usize, cols: usize) -> Self {
        StridedMatrix {
            data,
            rows: cols,
            cols: rows,
            row_stride: 1,
            col_stride: cols,
        }
    }

    fn view(self) -> MatrixView<'a, f64, Dyn, Dyn, Dyn, Dyn> {
        MatrixView::from_slice_with_strides_generic(
            self.data,
            Dyn(self.rows),
            Dyn(self.cols),
            Dyn(self.row_stride),
            Dyn(self.col_stride),
        )
    }
}

/// `A·B`, row-major. Both operands are strided views into their buffers,
/// so transposed operands cost no copy: nalgebra's `gemm` hands the strides
/// to matrixmultiply's packing kernels (AVX-512/AVX2+FMA, and two threads
/// when the product is large enough: see the `threading` feature in
/// Cargo.toml).
///
/// Products with a side of at most [`GEMM_MIN_SIDE`] (vectors, thin
/// matrices) are summed here instead: nalgebra's own loop for them
/// (`gemv`) indexes out of bounds when the output has a row stride, as a
/// row-major output does.
fn product(a: StridedMatrix, b: StridedMatrix) -> Vec<f64> {
    debug_assert_eq!(a.cols, b.rows);
    let (m, k, n) = (a.rows, a.cols, b.cols);
    // gemm with β = 0 never reads the output, but safe code must hand it
    // initialised memory; zeroing m·n values is small next to m·n·k products.
    let mut out = pool::filled(m * n, 0.0);
    if b.col_stride == 1 && n > 0 && (k <= THIN || (m <= THIN && m * n <= DIRECT_MAX_OUT)) {
        // A thin inner dimension (x·Q with Q d×Kd, d small) or few output
        // rows (xᵀ·ḡ with x n×d in a rule): the packing of a gemm copies as
        // many elements as the product multiplies here. Row by row instead,
        // `C[i,:] += A[i,p]·B[p,:]`, an axpy over contiguous rows that the
        // compiler vectorises; the loop order keeps the small operand in
        // cache (B when k is thin, C when m is).
        let a_at = |i: usize, p: usize| a.data[i * a.row_stride + p * a.col_stride];
        let b_row = |p: usize| &b.data[p * b.row_stride..p * b.row_stride + n];
        // Four rows of B at a time: each element of C is loaded and stored
        // once per four products instead of once per product.
        let quads = k / 4 * 4;
        if k <= THIN {
            for (i, c) in out.chunks_exact_mut(n).enumerate() {
                for p in (0..quads).step_by(4) {
                    let alpha = [a_at(i, p), a_at(i, p + 1), a_at(i, p + 2), a_at(i, p + 3)];
                    axpy4(
                        alpha,
                        [b_row(p), b_row(p + 1), b_row(p + 2), b_row(p + 3)],
                        c,
                    );
                }
                for p in quads..k {
                    axpy(a_at(i, p), b_row(p), c);
                }
            }
        } else {
            for p in (0..quads).step_by(4) {
                let rows = [b_row(p), b_row(p + 1), b_row(p + 2), b_row(p + 3)];
                for (i, c) in out.chunks_exact_mut(n).enumerate() {
                    let alpha = [a_at(i, p), a_at(i, p + 1), a_at(i, p + 2), a_at(i, p + 3)];
                    axpy4(alpha, rows, c);
                }
            }
            for p in quads..k {
                let row = b_row(p);
                for (i, c) in out.chunks_exact_mut(n).enumerate() {
                    axpy(a_at(i, p), row, c);
                }
            }
        }
    } else if m > GEMM_MIN_SIDE && k > GEMM_MIN_SIDE && n > GEMM_MIN_SIDE {
        let mut c = MatrixViewMut::<f64, Dyn, Dyn, Dyn, Dyn>::from_slice_with_strides_generic(
            &mut out,
            Dyn(m),
            Dyn(n),
            Dyn(n),
            Dyn(1),
        );
        c.gemm(1.0, &a.view(), &b.view(), 0.0);
    } else {
        for (i, row) in out.chunks_exact_mut(n.max(1)).enumerate().take(m) {
            for p in 0..k {
                let a_ip = a.data[i * a.row_stride + p * a.col_stride];
                for (j, c) in row.iter_mut().enumerate() {
                    *c += a_ip * b.data[p * b.row_stride + j * b.col_stride];
                }
            }
        }
    }
    out
}

/// `y += α·x` over equal-length slices.
#[inline]
fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += alpha * x);
}

/// `y += α₀·x₀ + α₁·x₁ + α₂·x₂ + α₃·x₃` over equal-length slices.
#[inline]
fn axpy4(alpha: [f64; 4], x: [&[f64]; 4], y: &mut [f64]) {
    let n = y.len();
    let (x0, x1, x2, x3) = (&x[0][..n], &x[1][..n], &x[2][..n], &x[3][..n]);
    for j in 0..n {
        y[j] += alpha[0] * x0[j] + alpha[1] * x1[j] + alpha[2] * x2[j] + alpha[3] * x3[j];
    }
}

/// An inner dimension (or a number of output rows) up to this is "thin":
/// [`product`] multiplies row by row instead of calling gemm.
const THIN: usize = 16;

/// The row-by-row loop over few output rows keeps the output in cache: at
/// most this many elements of it (256 KiB).
const DIRECT_MAX_OUT: usize = 1 << 15;

/// nalgebra multiplies through matrixmultiply only when every side of the
/// product exceeds this (its `SMALL_DIM`).
const GEMM_MIN_SIDE: usize = 5;

/// `u ⊗ v`, row-major `len(u) × len(v)`.
fn outer(u: &[f64], v: &[f64]) -> Vec<f64> {
    pool::collect(
        u.len() * v.len(),
        u.iter().flat_map(|&a| v.iter().map(move |&b| a * b)),
    )
}

impl Tensor {
    /// Matrix product, as PyTorch's `matmul` for 1- and 2-dimensional
    /// operands: matrix × matrix (`[m,k]·[k,n] → [m,n]`), matrix × vector
    /// (`[m,k]·[k] → [m]`), vector × matrix (`[k]·[k,n] → [n]`), vector ×
    /// vector (`[k]·[k] → []`). Computed by nalgebra without copying the
    /// operands.
    ///
    /// Panics, naming both shapes, if the inner sizes differ.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    /// let b = Tensor::from([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]]);
    /// let c = a.matmul(&b);
    /// assert_eq!(c.shape(), &[3, 3]);
    /// assert_eq!(c.at(&[2, 2]), 5.0 * 2.0 + 6.0 * 3.0);
    /// assert_eq!(a.matmul(&Tensor::from([1.0, 1.0])).to_vec(), vec![3.0, 7.0, 11.0]);
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let mismatch = |k1: usize, k2: usize| -> ! {
            panic!(
                "matmul: shapes {:?} and {:?} cannot be multiplied ({} != {})",
                self.shape, other.shape, k1, k2
            )
        };
        match (self.shape.as_slice(), other.shape.as_slice()) {
            (&[m, k], &[k2, n]) => {
                if k != k2 {
                    mismatch(k, k2)
                }
                let c = product(
                    StridedMatrix::rows(&self.data, m, k),
                    StridedMatrix::rows(&other.data, k, n),
                );
                Tensor::from_parts(c, vec![m, n])
            }
            (&[m, k], &[k2]) => {
                if k != k2 {
                    mismatch(k, k2)
                }
                let c = product(
                    StridedMatrix::rows(&self.data, m, k),
                    StridedMatrix::rows(&other.data, k, 1),
                );
                Tensor::from_parts(c, vec![m])
            }
            (&[k], &[k2, n]) => {
                if k != k2 {
                    mismatch(k, k2)
                }
                let c = product(
                    StridedMatrix::rows(&self.data, 1, k),
                    StridedMatrix::rows(&other.data, k, n),
                );
                Tensor::from_parts(c, vec![n])
            }
            (&[k], &[k2]) => {
                if k != k2 {
                    mismatch(k, k2)
                }
                Tensor::scalar(self.dot(other))
            }
            _ => panic!(
                "matmul: both arguments need 1 or 2 dimensions, got shapes {:?} and {:?}",
                self.shape, other.shape
            ),
        }
    }

    /// Inner product of two 1-dimensional tensors of the same length.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::arange(4.0);
    /// assert_eq!(x.dot(&x), 14.0);
    /// ```
    pub fn dot(&self, other: &Tensor) -> f64 {
        assert!(
            self.ndim() == 1 && other.ndim() == 1,
            "dot: 1D tensors expected, but got shapes {:?} and {:?}",
            self.shape,
            other.shape
        );
        assert!(
            self.numel() == other.numel(),
            "dot: inconsistent tensor size, shapes {:?} and {:?} must have the same number of elements",
            self.shape,
            other.shape
        );
        self.data
            .iter()
            .zip(other.data.iter())
            .map(|(a, b)| a * b)
            .sum()
    }

    /// Euclidean (L2, Frobenius) norm of all elements.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([3.0, 4.0]).norm(), 5.0);
    /// ```
    pub fn norm(&self) -> f64 {
        self.data.iter().map(|v| v * v).sum::<f64>().sqrt()
    }
}

rule_fn!(
    /// `y = a.matmul(&b)`, operand `a`: `ā += ḡ·bᵀ`, shaped as `a` (for a
    /// vector `a` or `b` the missing dimension is added, then dropped).
    matmul_d0 => MatmulD0(g: G, b: B: Operand)
);
rule_fn!(
    /// `y = a.matmul(&b)`, operand `b`: `b̄ += aᵀ·ḡ`, shaped as `b`.
    matmul_d1 => MatmulD1(g: G, a: A: Operand)
);

impl Rule<(&Tensor, &Tensor)> for MatmulD0 {
    type Out = Tensor;
    fn apply((g, b): (&Tensor, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        // Which of the four products ran follows from the shapes of ḡ and b.
        match (g.shape.as_slice(), b.shape.as_slice()) {
            // [m,k]·[k,n]: ā = ḡ·bᵀ
            (&[m, n], &[k, n2]) if n == n2 => {
                let c = product(
                    StridedMatrix::rows(&g.data, m, n),
                    StridedMatrix::transposed(&b.data, k, n),
                );
                Tensor::from_parts(c, vec![m, k])
            }
            // [k]·[k,n]: ā = b·ḡ
            (&[n], &[k, n2]) if n == n2 => {
                let c = product(
                    StridedMatrix::rows(&b.data, k, n),
                    StridedMatrix::rows(&g.data, n, 1),
                );
                Tensor::from_parts(c, vec![k])
            }
            // [m,k]·[k]: ā = ḡ ⊗ b
            (&[m], &[k]) => Tensor::from_parts(outer(&g.data, &b.data), vec![m, k]),
            // [k]·[k]: ā = ḡ b
            (&[], &[_]) => b * g.data[0],
            _ => panic!(
                "matmul rule: gradient of shape {:?} does not fit a product with a right operand of shape {:?}",
                g.shape, b.shape
            ),
        }
    }
}

impl Rule<(&Tensor, &Tensor)> for MatmulD1 {
    type Out = Tensor;
    fn apply((g, a): (&Tensor, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        match (g.shape.as_slice(), a.shape.as_slice()) {
            // [m,k]·[k,n]: b̄ = aᵀ·ḡ
            (&[m, n], &[m2, k]) if m == m2 => {
                let c = product(
                    StridedMatrix::transposed(&a.data, m, k),
                    StridedMatrix::rows(&g.data, m, n),
                );
                Tensor::from_parts(c, vec![k, n])
            }
            // [m,k]·[k]: b̄ = aᵀ·ḡ = ḡᵀ·a
            (&[m], &[m2, k]) if m == m2 => {
                let c = product(
                    StridedMatrix::rows(&g.data, 1, m),
                    StridedMatrix::rows(&a.data, m, k),
                );
                Tensor::from_parts(c, vec![k])
            }
            // [k]·[k,n]: b̄ = a ⊗ ḡ
            (&[n], &[k]) => Tensor::from_parts(outer(&a.data, &g.data), vec![k, n]),
            // [k]·[k]: b̄ = ḡ a
            (&[], &[_]) => a * g.data[0],
            _ => panic!(
                "matmul rule: gradient of shape {:?} does not fit a product with a left operand of shape {:?}",
                g.shape, a.shape
            ),
        }
    }
}

rule_fn!(
    /// `y = a.dot(&b)`, operand `a`: `ā += ḡ · b`.
    dot_d0 => DotD0(g: G, b: B: Operand)
);
rule_fn!(
    /// `y = a.dot(&b)`, operand `b`: `b̄ += ḡ · a`.
    dot_d1 => DotD1(g: G, a: A: Operand)
);

impl Rule<(&f64, &Tensor)> for DotD0 {
    type Out = Tensor;
    fn apply((g, b): (&f64, &Tensor)) -> Tensor {
        b * *g
    }
}
impl Rule<(&f64, &Tensor)> for DotD1 {
    type Out = Tensor;
    fn apply((g, a): (&f64, &Tensor)) -> Tensor {
        a * *g
    }
}

rule_fn!(
    /// `y = x.norm()`: `x̄ += ḡ · x / y` (0 when `y = 0`, as PyTorch, and when `ḡ = 0`).
    norm_d0 => NormD0(g: G, x: X: Operand, y: Y: Operand)
);

impl Rule<(&f64, &Tensor, &f64)> for NormD0 {
    type Out = Tensor;
    fn apply((g, x, y): (&f64, &Tensor, &f64)) -> Tensor {
        if *g == 0.0 {
            // The strong zero: nothing, even where x / y is NaN (y = ∞).
            Tensor::zero()
        } else if *y == 0.0 {
            x.zeros_like()
        } else {
            x * (*g / *y)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `A·B` by the definition, for row-major `A` (m×k) and `B` (k×n).
    fn naive(a: &Tensor, b: &Tensor) -> Tensor {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a.at(&[i, p]) * b.at(&[p, j])).sum();
            }
        }
        Tensor::from_vec(c, &[m, n])
    }

    /// Both paths of `product` (matrixmultiply for large sides, the loop
    /// for thin ones), with plain and transposed operands as the rules use
    /// them, against the definition.
    #[test]
    fn products_and_their_rules_match_the_definition() {
        for (m, k, n) in [
            (7, 9, 8),
            (2, 9, 8),
            (7, 3, 8),
            (7, 9, 1),
            (1, 1, 1),
            (40, 33, 17),
            // Thin inner dimension, few output rows, and both beside sizes
            // that go to gemm: the row-by-row loop and gemm.
            (300, 10, 40),
            (12, 200, 30),
            (300, 16, 40),
            (300, 17, 40),
            (17, 200, 30),
            (16, 200, 3000),
            (300, 7, 40),
            (9, 203, 30),
        ] {
            let a = Tensor::randn(&[m, k], (m * 100 + k) as u64);
            let b = Tensor::randn(&[k, n], (k * 100 + n) as u64);
            let g = Tensor::randn(&[m, n], (m * 100 + n) as u64);
            assert!(
                a.matmul(&b).allclose(&naive(&a, &b), 1e-12, 1e-12),
                "{m}×{k}·{k}×{n}"
            );
            // ā = ḡ·bᵀ and b̄ = aᵀ·ḡ
            let d_a = <MatmulD0 as Rule<_>>::apply((&g, &b));
            assert!(
                d_a.allclose(&naive(&g, &b.t()), 1e-12, 1e-12),
                "ā for {m}×{k}·{k}×{n}"
            );
            let d_b = <MatmulD1 as Rule<_>>::apply((&g, &a));
            assert!(
                d_b.allclose(&naive(&a.t(), &g), 1e-12, 1e-12),
                "b̄ for {m}×{k}·{k}×{n}"
            );
        }
    }
}
