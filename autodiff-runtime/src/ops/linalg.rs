//! Linear algebra: `matmul` (through nalgebra), `dot`, `norm`, and their
//! derivative rules.

use nalgebra::DMatrixView;

use super::{Rule, rule_fn};
use crate::cotangent::Cotangent;
use crate::tensor::Tensor;

/// `C = A·B` for row-major `A` (m×k) and `B` (k×n); returns `C` row-major.
///
/// No copies: a row-major m×k buffer *is* the column-major k×m matrix `Aᵀ`,
/// so nalgebra computes `Cᵀ = Bᵀ·Aᵀ` on views of the two buffers, and the
/// column-major buffer of `Cᵀ` is `C` row-major.
fn matmul_rows(a: &[f64], m: usize, k: usize, b: &[f64], n: usize) -> Vec<f64> {
    let a_t = DMatrixView::from_slice(a, k, m);
    let b_t = DMatrixView::from_slice(b, n, k);
    let c_t = b_t * a_t;
    c_t.data.into()
}

/// `A·Bᵀ` for row-major `A` (m×n) and `B` (k×n); returns the m×k product
/// row-major. (Its transpose `B·Aᵀ` is `(Bᵀ)ᵀ·Aᵀ`: one `tr_mul` on views.)
fn matmul_rows_bt(a: &[f64], m: usize, n: usize, b: &[f64], k: usize) -> Vec<f64> {
    let a_t = DMatrixView::from_slice(a, n, m);
    let b_t = DMatrixView::from_slice(b, n, k);
    b_t.tr_mul(&a_t).data.into()
}

/// `u ⊗ v`, row-major `len(u) × len(v)`.
fn outer(u: &[f64], v: &[f64]) -> Vec<f64> {
    u.iter()
        .flat_map(|&a| v.iter().map(move |&b| a * b))
        .collect()
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
                Tensor::from_parts(matmul_rows(&self.data, m, k, &other.data, n), vec![m, n])
            }
            (&[m, k], &[k2]) => {
                if k != k2 {
                    mismatch(k, k2)
                }
                Tensor::from_parts(matmul_rows(&self.data, m, k, &other.data, 1), vec![m])
            }
            (&[k], &[k2, n]) => {
                if k != k2 {
                    mismatch(k, k2)
                }
                Tensor::from_parts(matmul_rows(&self.data, 1, k, &other.data, n), vec![n])
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
                Tensor::from_parts(matmul_rows_bt(&g.data, m, n, &b.data, k), vec![m, k])
            }
            // [k]·[k,n]: ā = b·ḡ
            (&[n], &[k, n2]) if n == n2 => {
                Tensor::from_parts(matmul_rows(&b.data, k, n, &g.data, 1), vec![k])
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
                Tensor::from_parts(matmul_rows(&a.t().data, k, m, &g.data, n), vec![k, n])
            }
            // [m,k]·[k]: b̄ = aᵀ·ḡ = ḡᵀ·a
            (&[m], &[m2, k]) if m == m2 => {
                Tensor::from_parts(matmul_rows(&g.data, 1, m, &a.data, k), vec![k])
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
    /// `y = x.norm()`: `x̄ += ḡ · x / y` (0 when `y = 0`, as PyTorch).
    norm_d0 => NormD0(g: G, x: X: Operand, y: Y: Operand)
);

impl Rule<(&f64, &Tensor, &f64)> for NormD0 {
    type Out = Tensor;
    fn apply((g, x, y): (&f64, &Tensor, &f64)) -> Tensor {
        if *y == 0.0 {
            x.zeros_like()
        } else {
            x * (*g / *y)
        }
    }
}
