//! Shape ops: `reshape`, `t`/`transpose`, `slice`, element access (`at`,
//! `x[i]` on slices, `item`, `to_vec`), joining (`cat`, `stack`), selecting
//! (`where_`), and their derivative rules.

use std::ops::Range;

use super::broadcast::{broadcast_shape, sum_to_shape_owned, zip};
use super::{Rule, rule_fn};
use crate::cotangent::{Cotangent, LenMeta, ScalarIndex, Shape, TensorIndex};
use crate::ops::reduce::split_at_dim;
use crate::pool;
use crate::tensor::{BoolTensor, Tensor, numel_of};

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

rule_fn!(
    /// `y = x.item()` (a one-element tensor to `f64`): `x̄ += ȳ` in `x`'s shape.
    item_d0 => ItemD0(g: G, x_meta: M)
);

impl Rule<(&f64, &Shape)> for ItemD0 {
    type Out = Tensor;
    fn apply((g, x): (&f64, &Shape)) -> Tensor {
        Tensor::full(&x.0, *g)
    }
}

rule_fn!(
    /// `y = x.to_vec()` (a tensor, `Vec<f64>` or `[f64]` to `Vec<f64>`):
    /// `x̄ += ȳ` in `x`'s shape (a shorter `ȳ` is padded with zeros).
    to_vec_d0 => ToVecD0(g: G, x_meta: M)
);

impl Rule<(&Vec<f64>, &Shape)> for ToVecD0 {
    type Out = Tensor;
    fn apply((g, x): (&Vec<f64>, &Shape)) -> Tensor {
        if g.is_empty() {
            return Tensor::zero();
        }
        let mut data = g.clone();
        data.resize(numel_of(&x.0), 0.0);
        Tensor::from_parts(data, x.0.clone())
    }
}
impl Rule<(&Vec<f64>, &LenMeta)> for ToVecD0 {
    type Out = Vec<f64>;
    fn apply((g, _): (&Vec<f64>, &LenMeta)) -> Vec<f64> {
        g.clone()
    }
}
/// From an array `[f64; N]`: its first `N` elements (zeros past a shorter `ȳ`).
impl<const N: usize> Rule<(&Vec<f64>, &crate::cotangent::ArrayMeta<N>)> for ToVecD0 {
    type Out = [f64; N];
    fn apply((g, _): (&Vec<f64>, &crate::cotangent::ArrayMeta<N>)) -> [f64; N] {
        let mut out = [0.0; N];
        for (o, v) in out.iter_mut().zip(g) {
            *o = *v;
        }
        out
    }
}

impl Tensor {
    /// The tensors joined along dimension `dim`, which they all have and may
    /// differ in; the other sizes must agree (PyTorch's `torch.cat`).
    ///
    /// Derivative: each piece gets its slab of `ȳ` along `dim`.
    ///
    /// Panics, naming the shapes, if they do not fit.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::from([[1.0, 2.0]]);
    /// let b = Tensor::from([[3.0, 4.0], [5.0, 6.0]]);
    /// let c = Tensor::cat(&[&a, &b], 0);
    /// assert_eq!(c.shape(), &[3, 2]);
    /// assert_eq!(Tensor::cat(&[&a, &a], 1).to_vec(), vec![1.0, 2.0, 1.0, 2.0]);
    /// ```
    pub fn cat(pieces: &[&Tensor], dim: usize) -> Tensor {
        assert!(
            !pieces.is_empty(),
            "cat(): expected a non-empty list of Tensors"
        );
        let first = &pieces[0].shape;
        assert!(
            dim < first.len(),
            "cat(): dimension {dim} out of range for a tensor of shape {first:?}"
        );
        for p in pieces {
            assert!(
                p.shape.len() == first.len()
                    && p.shape
                        .iter()
                        .zip(first)
                        .enumerate()
                        .all(|(d, (a, b))| d == dim || a == b),
                "cat(): sizes of tensors must match except in dimension {dim}: shapes {:?}",
                pieces.iter().map(|p| &p.shape).collect::<Vec<_>>()
            );
        }
        let (outer, _, inner) = split_at_dim(first, dim);
        let total: usize = pieces.iter().map(|p| p.shape[dim]).sum();
        let mut data = pool::buffer(outer * total * inner);
        for o in 0..outer {
            for p in pieces {
                let slab = p.shape[dim] * inner;
                data.extend_from_slice(&p.data[o * slab..(o + 1) * slab]);
            }
        }
        let mut shape = first.clone();
        shape[dim] = total;
        Tensor::from_parts(data, shape)
    }

    /// The tensors, all of one shape, stacked along a new dimension `dim`
    /// (PyTorch's `torch.stack`).
    ///
    /// Derivative: each piece gets its slice of `ȳ` along `dim`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::from([1.0, 2.0]);
    /// let b = Tensor::from([3.0, 4.0]);
    /// assert_eq!(Tensor::stack(&[&a, &b], 0).shape(), &[2, 2]);
    /// assert_eq!(Tensor::stack(&[&a, &b], 1).to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    /// ```
    pub fn stack(pieces: &[&Tensor], dim: usize) -> Tensor {
        assert!(!pieces.is_empty(), "stack expects a non-empty TensorList");
        let shape = &pieces[0].shape;
        assert!(
            dim <= shape.len(),
            "stack(): dimension {dim} out of range for tensors of shape {shape:?}"
        );
        assert!(
            pieces.iter().all(|p| &p.shape == shape),
            "stack expects each tensor to be equal size, but got shapes {:?}",
            pieces.iter().map(|p| &p.shape).collect::<Vec<_>>()
        );
        let mut unsqueezed = shape.clone();
        unsqueezed.insert(dim, 1);
        let views: Vec<Tensor> = pieces.iter().map(|p| p.reshape(&unsqueezed)).collect();
        Tensor::cat(&views.iter().collect::<Vec<_>>(), dim)
    }

    /// `self` where `cond` holds, `other` elsewhere, all three broadcast
    /// (PyTorch's `x.where(cond, other)`, `torch.where(cond, x, other)`).
    ///
    /// Derivative: `x̄ += reduce(ȳ where cond)`, `other̄ += reduce(ȳ where !cond)`
    /// (a select: an infinite or NaN value not chosen passes nothing).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::from([1.0, -2.0, 3.0]);
    /// let cond = x.gt_elem(&Tensor::scalar(0.0));
    /// assert_eq!(x.where_(&cond, &Tensor::scalar(0.0)).to_vec(), vec![1.0, 0.0, 3.0]);
    /// ```
    pub fn where_(&self, cond: &BoolTensor, other: &Tensor) -> Tensor {
        let mask = cond_mask(cond);
        let shape = broadcast_shape(&broadcast_shape(&mask.shape, &self.shape), &other.shape);
        let (m, x, y) = (
            expand(&mask, &shape),
            expand(self, &shape),
            expand(other, &shape),
        );
        let data = pool::collect(
            numel_of(&shape),
            m.data
                .iter()
                .zip(x.data.iter())
                .zip(y.data.iter())
                .map(|((&m, &x), &y)| if m != 0.0 { x } else { y }),
        );
        Tensor::from_parts(data, shape)
    }
}

/// A condition as a tensor of 1s and 0s.
fn cond_mask(cond: &BoolTensor) -> Tensor {
    Tensor::from_parts(
        cond.data
            .iter()
            .map(|&c| if c { 1.0 } else { 0.0 })
            .collect(),
        cond.shape.clone(),
    )
}

/// `t` broadcast to `shape` (no copy when it already has it).
fn expand(t: &Tensor, shape: &[usize]) -> Tensor {
    if t.shape == shape {
        t.clone()
    } else {
        zip(t, &Tensor::zeros(shape), |x, _| x)
    }
}

/// `ḡ` where `cond` is `keep`, 0 elsewhere (a select), summed to `shape`.
fn where_rule(g: &Tensor, cond: &BoolTensor, shape: &[usize], keep: bool) -> Tensor {
    if g.symbolic_zero {
        return Tensor::zero();
    }
    let mask = expand(&cond_mask(cond), &g.shape);
    let picked = zip(g, &mask, |g, m| if (m != 0.0) == keep { g } else { 0.0 });
    sum_to_shape_owned(picked, shape)
}

rule_fn!(
    /// `y = x.where_(&cond, &other)`, operand `x`: `x̄ += reduce(ḡ where cond)`.
    where_d0 => WhereD0(g: G, cond: C: Operand, x_meta: M)
);
rule_fn!(
    /// `y = x.where_(&cond, &other)`, operand `other`: `other̄ += reduce(ḡ where !cond)`.
    where_d2 => WhereD2(g: G, cond: C: Operand, other_meta: M)
);

impl Rule<(&Tensor, &BoolTensor, &Shape)> for WhereD0 {
    type Out = Tensor;
    fn apply((g, cond, x): (&Tensor, &BoolTensor, &Shape)) -> Tensor {
        where_rule(g, cond, &x.0, true)
    }
}
impl Rule<(&Tensor, &BoolTensor, &Shape)> for WhereD2 {
    type Out = Tensor;
    fn apply((g, cond, other): (&Tensor, &BoolTensor, &Shape)) -> Tensor {
        where_rule(g, cond, &other.0, false)
    }
}

rule_fn!(
    /// `y = Tensor::cat(&[..], d)`, the piece of shape `piece` that starts at
    /// `start` along `d`: `p̄ += ȳ`'s slab there.
    cat_d => CatD(g: G, piece: M, d: D, start: S)
);

impl Rule<(&Tensor, &Shape, &usize, &usize)> for CatD {
    type Out = Tensor;
    fn apply((g, piece, d, start): (&Tensor, &Shape, &usize, &usize)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        g.slice(*d, *start..*start + piece.0[*d])
    }
}

rule_fn!(
    /// `y = Tensor::stack(&[..], d)`, piece `k` (of shape `piece`): `p̄ += ȳ`
    /// at index `k` along `d`.
    stack_d => StackD(g: G, piece: M, d: D, k: K)
);

impl Rule<(&Tensor, &Shape, &usize, &usize)> for StackD {
    type Out = Tensor;
    fn apply((g, piece, d, k): (&Tensor, &Shape, &usize, &usize)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        g.slice(*d, *k..*k + 1).reshape(&piece.0)
    }
}

rule_fn!(
    /// `t = Tensor::from(xs)` (a 1-d tensor of a slice, vector or array):
    /// `x̄s += t̄` element by element.
    tensor_from_d0 => TensorFromD0(g: G, x_meta: M)
);

impl Rule<(&Tensor, &LenMeta)> for TensorFromD0 {
    type Out = Vec<f64>;
    fn apply((g, x): (&Tensor, &LenMeta)) -> Vec<f64> {
        if g.symbolic_zero {
            return Vec::new();
        }
        assert_eq!(
            g.numel(),
            x.0,
            "the cotangent of Tensor::from has {} elements for {}",
            g.numel(),
            x.0
        );
        g.to_vec()
    }
}

impl<const N: usize> Rule<(&Tensor, &crate::cotangent::ArrayMeta<N>)> for TensorFromD0 {
    type Out = [f64; N];
    fn apply((g, _): (&Tensor, &crate::cotangent::ArrayMeta<N>)) -> [f64; N] {
        let mut out = [0.0; N];
        if !g.symbolic_zero {
            out.copy_from_slice(&g.to_vec());
        }
        out
    }
}
