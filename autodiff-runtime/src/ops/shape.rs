//! Shape ops: `reshape`, `t`/`transpose`, `slice`, element access (`at`,
//! `x[i]` on slices), and their derivative rules.

use std::ops::Range;

use super::{Rule, rule_fn};
use crate::cotangent::{Cotangent, LenMeta, ScalarIndex, Shape, TensorIndex};
use crate::ops::reduce::split_at_dim;
use crate::pool;
use crate::tensor::{Tensor, numel_of};

impl Tensor {
    /// The same elements in a new shape with as many elements. Shares the
    /// storage (no copy).
    ///
    /// Panics, naming both shapes, if the numbers of elements differ.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::arange(6.0).reshape(&[2, 3]);
    /// assert_eq!(m.at(&[1, 0]), 3.0);
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        assert!(
            numel_of(shape) == self.numel(),
            "shape {:?} is invalid for input of size {} (shape {:?})",
            shape,
            self.numel(),
            self.shape
        );
        Tensor {
            data: self.data.clone(),
            shape: shape.to_vec(),
            symbolic_zero: false,
        }
    }

    /// The transpose of a matrix (PyTorch's `t()`); 0- and 1-dimensional
    /// tensors are returned as they are, as in PyTorch.
    ///
    /// Panics for three or more dimensions.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// assert_eq!(m.t(), Tensor::from([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]));
    /// ```
    pub fn t(&self) -> Tensor {
        match *self.shape.as_slice() {
            [rows, cols] => {
                let mut data = Vec::with_capacity(rows * cols);
                for j in 0..cols {
                    data.extend((0..rows).map(|i| self.data[i * cols + j]));
                }
                Tensor::from_parts(data, vec![cols, rows])
            }
            [] | [_] => self.detach(),
            _ => panic!(
                "t() expects a tensor with <= 2 dimensions, but got shape {:?}",
                self.shape
            ),
        }
    }

    /// The transpose of a matrix; same as [`t`](Tensor::t).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::from([[1.0, 2.0]]);
    /// assert_eq!(m.transpose().shape(), &[2, 1]);
    /// ```
    pub fn transpose(&self) -> Tensor {
        self.t()
    }

    /// The elements whose index along `dim` lies in `range`, as a new tensor
    /// (PyTorch's `x.narrow(dim, start, len)`, NumPy's `x[start:end]`).
    ///
    /// Panics if `dim` or `range` is out of bounds.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::arange(6.0).reshape(&[2, 3]);
    /// assert_eq!(m.slice(1, 1..3).to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
    /// assert_eq!(m.slice(0, 1..2).shape(), &[1, 3]);
    /// ```
    pub fn slice(&self, dim: usize, range: Range<usize>) -> Tensor {
        assert!(
            self.ndim() > 0,
            "slice() cannot be applied to a 0-dim tensor"
        );
        let (outer, n, inner) = split_at_dim(&self.shape, dim);
        assert!(
            range.start <= range.end && range.end <= n,
            "slice range {:?} is out of bounds for dimension {} with size {} (shape {:?})",
            range,
            dim,
            n,
            self.shape
        );
        let len = range.end - range.start;
        let mut data = pool::buffer(outer * len * inner);
        for o in 0..outer {
            let start = (o * n + range.start) * inner;
            data.extend_from_slice(&self.data[start..start + len * inner]);
        }
        let mut shape = self.shape.clone();
        shape[dim] = len;
        Tensor::from_parts(data, shape)
    }
}

rule_fn!(
    /// `y = x.t()`: `x̄ += ḡᵀ`.
    t_d0 => TD0(g: G)
);
rule_fn!(
    /// `y = x.transpose()`: `x̄ += ḡᵀ`.
    transpose_d0 => TransposeD0(g: G)
);

impl Rule<(&Tensor,)> for TD0 {
    type Out = Tensor;
    fn apply((g,): (&Tensor,)) -> Tensor {
        if g.symbolic_zero {
            Tensor::zero()
        } else {
            g.t()
        }
    }
}
impl Rule<(&Tensor,)> for TransposeD0 {
    type Out = Tensor;
    fn apply((g,): (&Tensor,)) -> Tensor {
        if g.symbolic_zero {
            Tensor::zero()
        } else {
            g.t()
        }
    }
}

rule_fn!(
    /// `y = x.reshape(s)`: `x̄ += ḡ` reshaped to `x`'s shape.
    reshape_d0 => ReshapeD0(g: G, x_meta: M)
);

impl Rule<(&Tensor, &Shape)> for ReshapeD0 {
    type Out = Tensor;
    fn apply((g, x): (&Tensor, &Shape)) -> Tensor {
        if g.symbolic_zero {
            Tensor::zero()
        } else {
            g.reshape(&x.0)
        }
    }
}

rule_fn!(
    /// `y = x.slice(d, a..b)`: `x̄ += ḡ` placed at `a..b` along `d` in zeros
    /// of `x`'s shape.
    slice_d0 => SliceD0(g: G, x_meta: M, d: D, range: R)
);

impl Rule<(&Tensor, &Shape, &usize, &Range<usize>)> for SliceD0 {
    type Out = Tensor;
    fn apply((g, x, d, range): (&Tensor, &Shape, &usize, &Range<usize>)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        let (outer, n, inner) = split_at_dim(&x.0, *d);
        let len = range.end - range.start;
        assert!(
            g.numel() == outer * len * inner,
            "slice rule: gradient of shape {:?} does not fit slice {:?} of dimension {} of shape {:?}",
            g.shape,
            range,
            d,
            x.0
        );
        // Each element is written once: zeros before and after each slab.
        let mut out = pool::buffer(outer * n * inner);
        for o in 0..outer {
            out.resize(out.len() + range.start * inner, 0.0);
            out.extend_from_slice(&g.data[o * len * inner..(o + 1) * len * inner]);
            out.resize(out.len() + (n - range.end) * inner, 0.0);
        }
        Tensor::from_parts(out, x.0.clone())
    }
}

rule_fn!(
    /// `y = x.at(&idx)`: `x̄ += ḡ` at `idx`, zeros elsewhere (one-hot). When
    /// `x` is a variable, `acc_index` adds in place instead.
    at_d0 => AtD0(g: G, x_meta: M, idx: I)
);

impl<I: TensorIndex + ?Sized> Rule<(&f64, &Shape, &I)> for AtD0 {
    type Out = Tensor;
    fn apply((g, x, idx): (&f64, &Shape, &I)) -> Tensor {
        let mut out = Tensor::zeros(&x.0);
        let offset = out.offset_of(idx.indices());
        out.data_mut()[offset] = *g;
        out
    }
}

rule_fn!(
    /// `y = x[i]` on a `Vec<f64>` or `[f64]`: `x̄ += ḡ` at `i`, zeros
    /// elsewhere (one-hot). When `x` is a variable, `acc_index` adds in place
    /// instead.
    index_d0 => IndexD0(g: G, x_meta: M, i: I)
);

impl<I: ScalarIndex + ?Sized> Rule<(&f64, &LenMeta, &I)> for IndexD0 {
    type Out = Vec<f64>;
    fn apply((g, x, i): (&f64, &LenMeta, &I)) -> Vec<f64> {
        let mut out = vec![0.0; x.0];
        out[i.index()] = *g;
        out
    }
}

/// `x[range]` of a slice or vector: `x̄[range] += ȳ` (a shorter ȳ has a zero tail).
impl<R> Rule<(&Vec<f64>, &LenMeta, &R)> for IndexD0
where
    LenMeta: crate::cotangent::IndexMeta<R, Tangent = Vec<f64>, Part = Vec<f64>>,
{
    type Out = Vec<f64>;
    fn apply((g, x, i): (&Vec<f64>, &LenMeta, &R)) -> Vec<f64> {
        let mut out = vec![0.0; x.0];
        crate::cotangent::IndexMeta::acc_index(x, &mut out, i, g.clone());
        out
    }
}
