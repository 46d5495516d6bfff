//! Fused elementwise chains: one pass forward, one pass in the reverse.
//!
//! `#[differentiable]` finds, at compile time, chains of elementwise
//! operations over tensors (`+ − × ÷` with tensors or scalars, `powi`, `exp`,
//! `ln`, …) whose intermediate values are used nowhere else, optionally
//! ending in `.sum()`. It rewrites each chain into one call of an op of this
//! module, giving it the chain's *leaves* (the tensors and scalars the chain
//! reads) and two scalar functions it wrote from the chain:
//!
//! - `value(v) = y`: the chain on one element of each leaf, `v[k]` being
//!   leaf k's element (or the leaf itself, for a scalar);
//! - `vjp(v, ȳ) = (v̄₀, …, v̄ₙ₋₁)`: the chain's reverse on that element,
//!   built from the same `f64` rules (`rules::<op>_d<k>`) that the unfused
//!   chain would run per element, so that strong zeros and the values at
//!   the edges of a rule's domain are those of the unfused chain.
//!
//! [`mapN`](map2) gives the tensor `y[i] = value(v[i])` and, in its pullback,
//! `v̄ₖ[i] = vjp(v[i], ȳ[i])ₖ`; [`sumN`](sum2) gives `Σᵢ value(v[i])` and
//! `v̄ₖ[i] = vjp(v[i], ȳ)ₖ`. A scalar leaf's cotangent is the sum over the
//! elements (it was broadcast); a tensor leaf of a smaller shape than the
//! others gets its cotangent summed over the dimensions it was broadcast
//! along, as the unfused ops' rules do. A leaf may also be rows `a..b` of a
//! tensor ([`rows`]: a slice along dimension 0 that only the chain read),
//! read in place, its cotangent added into one buffer of the whole tensor's
//! shape for all the views of that tensor. [`meanN`](mean2) divides the sum
//! by the number of elements and starts each element's reverse from `ȳ / n`,
//! as `mean`'s rule does. [`out_sumN`](out_sum2) and
//! [`out_meanN`](out_mean2), for a reduction that is the function's result,
//! also compute the cotangents for `ȳ = 1` in their forward pass.
//!
//! Each pass is one loop over the elements, in blocks of eight (computed
//! side by side: the loops vectorise) and chunks of about a thousand, whose
//! contributions are written to buffers that stay in cache and then flushed
//! to the leaves' cotangents in order. Nothing between the leaves and the
//! result is written to memory. A leaf that broadcasts as a repeated row (a
//! bias) or a scalar is read from one chunk of repeats; any other broadcast
//! is written out at the output's shape first.
//!
//! ```
//! use autodiff_runtime::{Tensor, __private::fused};
//!
//! // y = Σ (a − b²)², by hand: value and partials of one element.
//! let value = |v: [f64; 2]| (v[0] - v[1] * v[1]).powi(2);
//! let vjp = |v: [f64; 2], g: f64| {
//!     let t = v[0] - v[1] * v[1];
//!     [g * 2.0 * t, -g * 2.0 * t * 2.0 * v[1]]
//! };
//! let (a, b) = (Tensor::from([1.0, 2.0]), Tensor::from([0.5, 1.0]));
//! let (y, pullback) =
//!     fused::sum2::__ad_vjp_owned(value, vjp, fused::leaf(&a), fused::leaf(&b));
//! assert_eq!(y, 0.75f64.powi(2) + 1.0);
//! let ((), (), a_bar, b_bar) = pullback(1.0);
//! assert_eq!(a_bar.to_vec(), vec![1.5, 2.0]);
//! assert_eq!(b_bar.to_vec(), vec![-1.5, -4.0]);
//! ```

use super::broadcast::{broadcast_shape, repeated_block, sum_to_shape, zip};
use std::marker::PhantomData;

use crate::pool;
use crate::tensor::{Tensor, numel_of};

/// A leaf's value as the fused op keeps it.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub enum Kept {
    /// An `f64`, broadcast to every element.
    Scalar(f64),
    /// A tensor (shared storage: keeping it copies nothing).
    Tensor(Tensor),
    /// Rows `start..end` (along dimension 0) of a tensor, read in place: a
    /// slice the chain read, whose cotangent goes straight into the whole
    /// tensor's.
    Rows {
        /// The whole tensor.
        base: Tensor,
        /// The first row.
        start: usize,
        /// One past the last row.
        end: usize,
    },
}

impl Kept {
    /// The shape of the leaf's value (`None`: a scalar).
    fn shape(&self) -> Option<Vec<usize>> {
        match self {
            Kept::Scalar(_) => None,
            Kept::Tensor(t) => Some(t.shape().to_vec()),
            Kept::Rows { base, start, end } => {
                let mut shape = base.shape().to_vec();
                shape[0] = end - start;
                Some(shape)
            }
        }
    }

    /// The elements of a tensor leaf, contiguous.
    fn data(&self) -> &[f64] {
        match self {
            Kept::Scalar(v) => core::slice::from_ref(v),
            Kept::Tensor(t) => t.data(),
            Kept::Rows { base, start, end } => {
                let row = base.numel() / base.shape()[0].max(1);
                &base.data()[start * row..end * row]
            }
        }
    }

    /// The elements before a view's first (0 for a whole tensor).
    fn offset(&self) -> usize {
        match self {
            Kept::Rows { base, start, .. } => start * (base.numel() / base.shape()[0].max(1)),
            _ => 0,
        }
    }

    /// The value as a tensor.
    fn to_tensor(&self) -> Tensor {
        match self {
            Kept::Scalar(v) => Tensor::scalar(*v),
            Kept::Tensor(t) => t.clone(),
            Kept::Rows { .. } => {
                Tensor::from_parts(self.data().to_vec(), self.shape().expect("a tensor"))
            }
        }
    }

    /// Whether two views are of the same tensor (their cotangents go into
    /// one buffer).
    fn same_base(&self, other: &Kept) -> bool {
        match (self, other) {
            (Kept::Rows { base: a, .. }, Kept::Rows { base: b, .. }) => {
                std::sync::Arc::ptr_eq(&a.data, &b.data) && a.shape() == b.shape()
            }
            _ => false,
        }
    }
}

/// A leaf's cotangent as the fused op computes it.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub enum Ct {
    /// The cotangent of an `f64` leaf.
    Scalar(f64),
    /// The cotangent of a tensor leaf (a symbolic zero when the output's is).
    Tensor(Tensor),
}

/// What a fused chain reads: an `f64` or a [`Tensor`], behind any number of
/// references. The macro only passes leaves that are one of these.
#[doc(hidden)]
pub trait Leaf {
    /// The leaf's gradient type (`f64` or `Tensor`).
    type Cotangent;
    /// The value, kept for the reverse.
    fn kept(&self) -> Kept;
    /// The cotangent in the leaf's own type.
    fn cotangent(c: Ct) -> Self::Cotangent;
}

impl Leaf for f64 {
    type Cotangent = f64;
    #[inline]
    fn kept(&self) -> Kept {
        Kept::Scalar(*self)
    }
    #[inline]
    fn cotangent(c: Ct) -> f64 {
        match c {
            Ct::Scalar(v) => v,
            Ct::Tensor(t) => t.data().iter().sum(),
        }
    }
}

impl Leaf for Tensor {
    type Cotangent = Tensor;
    #[inline]
    fn kept(&self) -> Kept {
        Kept::Tensor(self.clone())
    }
    #[inline]
    fn cotangent(c: Ct) -> Tensor {
        match c {
            Ct::Tensor(t) => t,
            Ct::Scalar(v) => Tensor::scalar(v),
        }
    }
}

impl<T: Leaf + ?Sized> Leaf for &T {
    type Cotangent = T::Cotangent;
    #[inline]
    fn kept(&self) -> Kept {
        (**self).kept()
    }
    #[inline]
    fn cotangent(c: Ct) -> T::Cotangent {
        T::cotangent(c)
    }
}

impl<T: Leaf + ?Sized> Leaf for &mut T {
    type Cotangent = T::Cotangent;
    #[inline]
    fn kept(&self) -> Kept {
        (**self).kept()
    }
    #[inline]
    fn cotangent(c: Ct) -> T::Cotangent {
        T::cotangent(c)
    }
}

/// `tanh` as `Tensor::tanh` maps it (branch-free, vectorisable, within a
/// few ulps of std's): the fused chain's `tanh` gives the same bits.
#[doc(hidden)]
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    super::vmath::tanh(x)
}

/// A constant of a fused chain as an `f64` (operators take `f64` and `&f64`).
#[doc(hidden)]
#[inline(always)]
pub fn scalar(x: impl AsScalar) -> f64 {
    x.as_scalar()
}

/// `f64` behind any number of references.
#[doc(hidden)]
pub trait AsScalar {
    /// The value.
    fn as_scalar(&self) -> f64;
}

impl AsScalar for f64 {
    #[inline(always)]
    fn as_scalar(&self) -> f64 {
        *self
    }
}

impl<T: AsScalar + ?Sized> AsScalar for &T {
    #[inline(always)]
    fn as_scalar(&self) -> f64 {
        (**self).as_scalar()
    }
}

/// A leaf's value, kept by the fused op, typed by the leaf's cotangent (so
/// that the pullback borrows nothing of what it was given).
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct Owned<C> {
    kept: Kept,
    _cotangent: PhantomData<fn() -> C>,
}

/// A leaf of a fused chain, as the generated call passes it
/// (`fused::leaf(&x)`): its cotangent goes back to `x` unchanged.
#[doc(hidden)]
#[inline]
pub fn leaf<T: Leaf + ?Sized>(x: &T) -> Owned<T::Cotangent> {
    Owned {
        kept: x.kept(),
        _cotangent: PhantomData,
    }
}

/// Rows `range` of `x` along dimension 0 as a leaf of a fused chain
/// (`fused::rows(&x, a..b)`, what `x.slice(0, a..b)` is when only the chain
/// reads it): read in place, its cotangent is one of `x`'s shape. Panics as
/// `slice` does when the range does not fit.
#[doc(hidden)]
pub fn rows(x: &Tensor, range: core::ops::Range<usize>) -> Owned<Tensor> {
    assert!(
        x.ndim() >= 1 && range.start <= range.end && range.end <= x.shape()[0],
        "slice {}..{} out of bounds for dimension 0 of a tensor of shape {:?}",
        range.start,
        range.end,
        x.shape()
    );
    Owned {
        kept: Kept::Rows {
            base: x.clone(),
            start: range.start,
            end: range.end,
        },
        _cotangent: PhantomData,
    }
}

/// The shape every leaf broadcasts to; `None` when every leaf is a scalar.
fn out_shape(leaves: &[Kept]) -> Option<Vec<usize>> {
    let mut shape: Option<Vec<usize>> = None;
    for leaf in leaves {
        if let Some(t) = leaf.shape() {
            shape = Some(match shape {
                None => t,
                Some(s) => broadcast_shape(&s, &t),
            });
        }
    }
    shape
}

/// How a leaf's elements are read along the output.
enum Src {
    /// A tensor of the output's shape: element i.
    Full,
    /// A tensor repeated in whole blocks of the chunk's length (a bias row
    /// along a matrix's rows): element i of every chunk.
    Row,
    /// A scalar, or a one-element tensor: the same value everywhere.
    Scalar(f64),
    /// Any other broadcast: written out at the output's shape first.
    Expanded(Vec<f64>),
}

/// The passes' layout: the output in chunks of `chunk` elements, and how
/// each leaf is read in a chunk.
struct Layout {
    shape: Vec<usize>,
    len: usize,
    chunk: usize,
    srcs: Vec<Src>,
}

/// Chunks of this many elements when no leaf is a repeated row: scalar
/// leaves are read from a buffer of one chunk.
const CHUNK: usize = 1024;

fn layout(leaves: &[Kept], shape: Vec<usize>) -> Layout {
    let len = numel_of(&shape);
    let block = |t: &[usize]| repeated_block(t, &shape);
    let numel = |t: &[usize]| numel_of(t);
    // One row length for every repeated leaf, else those are written out.
    let row = leaves.iter().find_map(|l| match l.shape() {
        Some(t) if t != shape && numel(&t) > 1 => block(&t),
        _ => None,
    });
    let srcs = leaves
        .iter()
        .map(|l| match (l, l.shape()) {
            (Kept::Scalar(v), _) => Src::Scalar(*v),
            (_, Some(t)) if t == shape => Src::Full,
            (_, Some(t)) if numel(&t) == 1 => Src::Scalar(l.data()[0]),
            (_, Some(t)) if row.is_some() && block(&t) == row => Src::Row,
            _ => Src::Expanded(
                zip(&l.to_tensor(), &Tensor::zeros(&shape), |x, _| x)
                    .data()
                    .to_vec(),
            ),
        })
        .collect();
    // A whole number of rows per chunk (len is one too).
    let chunk = match row {
        Some(r) => (r * (CHUNK / r).max(1)).min(len).max(1),
        None => len.clamp(1, CHUNK),
    };
    Layout {
        shape,
        len,
        chunk,
        srcs,
    }
}

impl Layout {
    /// Buffers of one chunk for the scalar leaves.
    fn scalar_chunks(&self, leaves: &[Kept]) -> Vec<Vec<f64>> {
        self.srcs
            .iter()
            .zip(leaves)
            .map(|(s, leaf)| match s {
                Src::Scalar(v) => vec![*v; self.chunk],
                // The row repeated over one chunk.
                Src::Row => leaf
                    .data()
                    .iter()
                    .copied()
                    .cycle()
                    .take(self.chunk)
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// Every leaf's slice for the chunk at offset `o` of `m` elements.
    #[inline(always)]
    fn slices<'a, const N: usize>(
        &'a self,
        leaves: &'a [Kept; N],
        scalars: &'a [Vec<f64>],
        o: usize,
        m: usize,
    ) -> [&'a [f64]; N] {
        core::array::from_fn(|k| match &self.srcs[k] {
            Src::Full => &leaves[k].data()[o..o + m],
            Src::Row | Src::Scalar(_) => &scalars[k][..m],
            Src::Expanded(v) => &v[o..o + m],
        })
    }
}

/// Elements computed side by side in the passes (and the lanes of a sum).
const LANES: usize = 8;

/// Elements `i..i + LANES` of a leaf.
#[inline(always)]
fn block(x: &[f64], i: usize) -> &[f64; LANES] {
    x[i..i + LANES].try_into().expect("a block")
}

#[inline(always)]
fn gather<const N: usize>(srcs: &[&[f64]; N], i: usize) -> [f64; N] {
    core::array::from_fn(|k| srcs[k][i])
}

#[inline(always)]
fn scalars<const N: usize>(leaves: &[Kept; N]) -> [f64; N] {
    core::array::from_fn(|k| leaves[k].data()[0])
}

/// `value` over every element (the leaves broadcast together).
#[inline]
fn map_value<const N: usize>(leaves: &[Kept; N], value: impl Fn([f64; N]) -> f64) -> Kept {
    let Some(shape) = out_shape(leaves) else {
        return Kept::Scalar(value(scalars(leaves)));
    };
    let l = layout(leaves, shape);
    let scalar_chunks = l.scalar_chunks(leaves);
    let mut data = pool::buffer(l.len);
    let mut o = 0;
    while o < l.len {
        let m = l.chunk.min(l.len - o);
        let srcs = l.slices(leaves, &scalar_chunks, o, m);
        let body = m / LANES * LANES;
        let mut i = 0;
        while i < body {
            let s: [&[f64; LANES]; N] = core::array::from_fn(|k| block(srcs[k], i));
            let v: [f64; LANES] =
                core::array::from_fn(|j| value(core::array::from_fn(|k| s[k][j])));
            data.extend_from_slice(&v);
            i += LANES;
        }
        data.extend((body..m).map(|i| value(gather(&srcs, i))));
        o += m;
    }
    Kept::Tensor(Tensor::from_parts(data, l.shape))
}

/// `Σ value` over every element (the leaves broadcast together), summed in
/// eight lanes, so that the additions do not wait on each other.
#[inline]
fn sum_value<const N: usize>(leaves: &[Kept; N], value: impl Fn([f64; N]) -> f64) -> f64 {
    let Some(shape) = out_shape(leaves) else {
        return value(scalars(leaves));
    };
    let l = layout(leaves, shape);
    let scalar_chunks = l.scalar_chunks(leaves);
    let mut lanes = [0.0f64; LANES];
    let mut tail = 0.0;
    let mut o = 0;
    while o < l.len {
        let m = l.chunk.min(l.len - o);
        let srcs = l.slices(leaves, &scalar_chunks, o, m);
        let body = m / LANES * LANES;
        let mut i = 0;
        while i < body {
            let s: [&[f64; LANES]; N] = core::array::from_fn(|k| block(srcs[k], i));
            let v: [f64; LANES] =
                core::array::from_fn(|j| value(core::array::from_fn(|k| s[k][j])));
            for (lane, v) in lanes.iter_mut().zip(v) {
                *lane += v;
            }
            i += LANES;
        }
        for i in body..m {
            tail += value(gather(&srcs, i));
        }
        o += m;
    }
    lane_sum(&lanes) + tail
}

/// Every leaf's cotangent: `vjp(v[i], ḡ(i))` over the elements, reduced to
/// each leaf's shape (a scalar leaf's: the sum; a repeated row's: the sum
/// over its repetitions; a view's: placed into its tensor's shape, views of
/// one tensor into one buffer, which the first of them returns).
#[inline]
fn cotangents<const N: usize>(
    leaves: &[Kept; N],
    g: impl Seed,
    vjp: impl Fn([f64; N], f64) -> [f64; N],
) -> [Ct; N] {
    sum_and_cotangents(leaves, None::<fn([f64; N]) -> f64>, g, vjp).1
}

/// The output's cotangent at element `o + i`: one value for every element
/// (a sum's: [`All`], which the hot loop sees as a constant, so that a
/// rule's test of a zero cotangent leaves the loop), or one per element (a
/// map's: [`Each`]).
trait Seed: Copy {
    fn block(&self, o: usize, i: usize) -> [f64; LANES];
    fn at(&self, o: usize, i: usize) -> f64;
}

#[derive(Clone, Copy)]
struct All(f64);

impl Seed for All {
    #[inline(always)]
    fn block(&self, _o: usize, _i: usize) -> [f64; LANES] {
        [self.0; LANES]
    }
    #[inline(always)]
    fn at(&self, _o: usize, _i: usize) -> f64 {
        self.0
    }
}

#[derive(Clone, Copy)]
struct Each<'a>(&'a [f64]);

impl Seed for Each<'_> {
    #[inline(always)]
    fn block(&self, o: usize, i: usize) -> [f64; LANES] {
        *block(self.0, o + i)
    }
    #[inline(always)]
    fn at(&self, o: usize, i: usize) -> f64 {
        self.0[o + i]
    }
}

/// [`cotangents`], and with `value` also `Σ value` over the elements in the
/// same pass (summed in lanes as [`sum_value`] sums).
#[inline]
fn sum_and_cotangents<const N: usize>(
    leaves: &[Kept; N],
    value: Option<impl Fn([f64; N]) -> f64>,
    g: impl Seed,
    vjp: impl Fn([f64; N], f64) -> [f64; N],
) -> (f64, [Ct; N]) {
    let Some(shape) = out_shape(leaves) else {
        let c = vjp(scalars(leaves), g.at(0, 0));
        let y = value.map_or(0.0, |value| value(scalars(leaves)));
        return (y, core::array::from_fn(|k| Ct::Scalar(c[k])));
    };
    let mut lanes = [0.0f64; LANES];
    let mut tail = 0.0;
    let l = layout(leaves, shape);
    let scalar_chunks = l.scalar_chunks(leaves);
    // Where each leaf's contributions go: `Direct`, written element by
    // element into its own buffer (a whole tensor of the output's shape);
    // otherwise into a chunk-sized buffer, then flushed: added into the
    // first view's buffer of its tensor (`Group`), or copied at the chunk's
    // place (`Placed`: a broadcast leaf written out), or summed over chunks
    // (`Folded`: repeated rows and scalars).
    #[derive(Clone, Copy, PartialEq)]
    enum Dst {
        Direct,
        Group(usize),
        Placed,
        Folded,
    }
    let dst: [Dst; N] = core::array::from_fn(|k| match (&l.srcs[k], &leaves[k]) {
        (Src::Full, Kept::Rows { .. }) => Dst::Group(
            (0..=k)
                .find(|&j| matches!(l.srcs[j], Src::Full) && leaves[j].same_base(&leaves[k]))
                .expect("k itself"),
        ),
        (Src::Full, _) => Dst::Direct,
        (Src::Expanded(_), _) => Dst::Placed,
        (Src::Row | Src::Scalar(_), _) => Dst::Folded,
    });
    // Every buffer is written in order, so none is zeroed first: each
    // holds, as its length, the prefix written so far.
    let mut outs: [Vec<f64>; N] = core::array::from_fn(|k| match dst[k] {
        Dst::Direct | Dst::Placed => pool::buffer(l.len),
        Dst::Group(j) if j == k => match &leaves[k] {
            Kept::Rows { base, .. } => pool::buffer(base.numel()),
            _ => unreachable!("a group is of views"),
        },
        Dst::Group(_) => Vec::new(),
        Dst::Folded => vec![0.0; l.chunk],
    });
    // The hot loop writes one chunk of every leaf's contributions here (in
    // cache), then they are flushed to the leaves' buffers.
    let mut chunks: [Vec<f64>; N] = core::array::from_fn(|_| vec![0.0; l.chunk]);

    let mut o = 0;
    while o < l.len {
        let m = l.chunk.min(l.len - o);
        let srcs = l.slices(leaves, &scalar_chunks, o, m);
        {
            // The hot loop: every destination written, none read, no
            // branch; blocks of eight (lengths known: no bounds checks, and
            // the block's elements are computed side by side).
            let mut dsts: [&mut [f64]; N] = chunks.each_mut().map(|c| &mut c[..m]);
            let body = m / LANES * LANES;
            let mut i = 0;
            while i < body {
                let s: [&[f64; LANES]; N] = core::array::from_fn(|k| block(srcs[k], i));
                let gs: [f64; LANES] = g.block(o, i);
                let cs: [[f64; N]; LANES] =
                    core::array::from_fn(|j| vjp(core::array::from_fn(|k| s[k][j]), gs[j]));
                if let Some(value) = &value {
                    let v: [f64; LANES] =
                        core::array::from_fn(|j| value(core::array::from_fn(|k| s[k][j])));
                    for (lane, v) in lanes.iter_mut().zip(v) {
                        *lane += v;
                    }
                }
                for (k, d) in dsts.iter_mut().enumerate() {
                    let d: &mut [f64; LANES] = (&mut d[i..i + LANES]).try_into().expect("a block");
                    for j in 0..LANES {
                        d[j] = cs[j][k];
                    }
                }
                i += LANES;
            }
            for i in body..m {
                let c = vjp(gather(&srcs, i), g.at(o, i));
                if let Some(value) = &value {
                    tail += value(gather(&srcs, i));
                }
                for (d, c) in dsts.iter_mut().zip(c) {
                    d[i] = c;
                }
            }
        }
        for k in 0..N {
            let chunk = &chunks[k][..m];
            match dst[k] {
                Dst::Direct | Dst::Placed => outs[k].extend_from_slice(chunk),
                Dst::Group(j) => add_at(&mut outs[j], leaves[k].offset() + o, chunk),
                Dst::Folded => outs[k][..m]
                    .iter_mut()
                    .zip(chunk)
                    .for_each(|(x, c)| *x += c),
            }
        }
        o += m;
    }
    for k in 0..N {
        if let (Dst::Group(j), Kept::Rows { base, .. }) = (dst[k], &leaves[k])
            && j == k
        {
            outs[k].resize(base.numel(), 0.0);
        }
    }
    let y = lane_sum(&lanes) + tail;
    let mut outs = outs.into_iter();
    let cts = core::array::from_fn(|k| {
        let data = outs.next().expect("one buffer per leaf");
        let leaf = &leaves[k];
        let own_shape = leaf.shape();
        let reduced = |t: Tensor| match own_shape.as_deref() {
            Some(s) if s != t.shape() => sum_to_shape(&t, s),
            _ => t,
        };
        let ct = match (dst[k], leaf) {
            (Dst::Direct, _) => Tensor::from_parts(data, l.shape.clone()),
            (Dst::Group(j), Kept::Rows { base, .. }) if j == k => {
                Tensor::from_parts(data, base.shape().to_vec())
            }
            (Dst::Group(_), _) => return Ct::Tensor(<Tensor as crate::Cotangent>::zero()),
            (Dst::Placed, _) => reduced(Tensor::from_parts(data, l.shape.clone())),
            (Dst::Folded, Kept::Scalar(_)) => return Ct::Scalar(data.iter().sum()),
            (Dst::Folded, _) => match own_shape.as_deref() {
                Some(s) if numel_of(s) == 1 => {
                    Tensor::from_parts(vec![data.iter().sum()], s.to_vec())
                }
                // A repeated row: the chunk's rows summed.
                Some(s) => {
                    let row = numel_of(s);
                    let mut sum = vec![0.0; row];
                    for part in data.chunks_exact(row) {
                        sum.iter_mut().zip(part).for_each(|(x, c)| *x += c);
                    }
                    Tensor::from_parts(sum, s.to_vec())
                }
                None => unreachable!("a tensor leaf has a shape"),
            },
        };
        Ct::Tensor(match leaf {
            // A view's cotangent (not through a group): into its tensor's shape.
            Kept::Rows { base, .. } if !matches!(dst[k], Dst::Group(_)) => {
                let mut whole = vec![0.0; base.numel()];
                let at = leaf.offset();
                whole[at..at + ct.numel()].copy_from_slice(ct.data());
                Tensor::from_parts(whole, base.shape().to_vec())
            }
            _ => ct,
        })
    });
    (y, cts)
}

/// The lanes of a sum added pairwise.
#[inline(always)]
fn lane_sum(lanes: &[f64; LANES]) -> f64 {
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
}

/// `out[at..at + c.len()] += c`, where `out` holds (as its length) the
/// prefix written so far and zeros are implied beyond it.
#[inline]
fn add_at(out: &mut Vec<f64>, at: usize, c: &[f64]) {
    let have = out.len();
    if at > have {
        out.resize(at, 0.0);
    }
    let overlap = out.len().saturating_sub(at).min(c.len());
    out[at..at + overlap]
        .iter_mut()
        .zip(&c[..overlap])
        .for_each(|(x, c)| *x += c);
    out.extend_from_slice(&c[overlap..]);
}

/// Zero cotangents (the output's was a symbolic zero).
fn zeros<const N: usize>(leaves: &[Kept; N]) -> [Ct; N] {
    core::array::from_fn(|k| match &leaves[k] {
        Kept::Scalar(_) => Ct::Scalar(0.0),
        _ => Ct::Tensor(<Tensor as crate::Cotangent>::zero()),
    })
}

/// A map's value as a tensor (a chain with a tensor leaf has one).
fn tensor(k: Kept) -> Tensor {
    match k {
        Kept::Tensor(t) => t,
        other => other.to_tensor(),
    }
}

macro_rules! fused_arity {
    ($n:literal, $map:ident, $sum:ident, $out:ident, $mean:ident, $out_mean:ident, $($l:ident : $L:ident),+) => {
        /// The fused map of this many leaves: its value (for code where no
        /// leaf carries a gradient); `__ad_vjp_owned` in the module of the
        /// same name gives the value and the pullback.
        #[allow(clippy::too_many_arguments)]
        pub fn $map<$($L),+>(
            value: impl Fn([f64; $n]) -> f64,
            _vjp: impl Fn([f64; $n], f64) -> [f64; $n],
            $($l: Owned<$L>),+
        ) -> Tensor {
            tensor(map_value(&[$($l.kept),+], value))
        }

        /// The fused sum of this many leaves: its value.
        #[allow(clippy::too_many_arguments)]
        pub fn $sum<$($L),+>(
            value: impl Fn([f64; $n]) -> f64,
            _vjp: impl Fn([f64; $n], f64) -> [f64; $n],
            $($l: Owned<$L>),+
        ) -> f64 {
            sum_value(&[$($l.kept),+], value)
        }

        #[doc(hidden)]
        pub mod $map {
            use super::*;
            /// The fused map's value and pullback (`y[i] = value(v[i])`).
            /// The pullback keeps the leaves' values (tensors share their
            /// storage), not the references it was given.
            #[allow(clippy::too_many_arguments, clippy::type_complexity)]
            pub fn __ad_vjp_owned<V, P, $($L: Leaf<Cotangent = $L>),+>(
                value: V,
                vjp: P,
                $($l: Owned<$L>),+
            ) -> (Tensor, impl FnOnce(Tensor) -> ((), (), $($L::Cotangent),+) + Clone + use<V, P, $($L),+>)
            where
                V: Fn([f64; $n]) -> f64,
                P: Fn([f64; $n], f64) -> [f64; $n] + Clone,
            {
                let leaves = [$($l.kept),+];
                let y = tensor(map_value(&leaves, value));
                (y, move |g: Tensor| {
                    let cts = if crate::Cotangent::is_symbolic_zero(&g) {
                        zeros(&leaves)
                    } else if g.numel() == 1 {
                        let g = g.data()[0];
                        cotangents(&leaves, All(g), vjp)
                    } else {
                        let g = g.data();
                        cotangents(&leaves, Each(g), vjp)
                    };
                    let mut cts = cts.into_iter();
                    ((), (), $($L::cotangent(cts.next().expect("one per leaf"))),+)
                })
            }
        }

        #[doc(hidden)]
        pub mod $sum {
            use super::*;
            /// The fused sum's value and pullback (`y = Σᵢ value(v[i])`).
            #[allow(clippy::too_many_arguments, clippy::type_complexity)]
            pub fn __ad_vjp_owned<V, P, $($L: Leaf<Cotangent = $L>),+>(
                value: V,
                vjp: P,
                $($l: Owned<$L>),+
            ) -> (f64, impl FnOnce(f64) -> ((), (), $($L::Cotangent),+) + Clone + use<V, P, $($L),+>)
            where
                V: Fn([f64; $n]) -> f64,
                P: Fn([f64; $n], f64) -> [f64; $n] + Clone,
            {
                let leaves = [$($l.kept),+];
                let y = sum_value(&leaves, value);
                (y, move |g: f64| {
                    let cts = cotangents(&leaves, All(g), vjp);
                    let mut cts = cts.into_iter();
                    ((), (), $($L::cotangent(cts.next().expect("one per leaf"))),+)
                })
            }
        }

        /// The fused sum when it is a function's result, whose cotangent
        /// is usually the seed 1 of `grad`: its value without the pullback.
        #[allow(clippy::too_many_arguments)]
        pub fn $out<$($L),+>(
            value: impl Fn([f64; $n]) -> f64,
            vjp: impl Fn([f64; $n], f64) -> [f64; $n],
            $($l: Owned<$L>),+
        ) -> f64 {
            $sum(value, vjp, $($l),+)
        }

        #[doc(hidden)]
        pub mod $out {
            use super::*;
            /// The fused sum's value and pullback, computing the leaves'
            /// cotangents for `ȳ = 1` in the forward pass, with the value (one
            /// pass instead of two): the pullback returns them when `ȳ` is
            /// exactly 1 (they are what its pass would compute), and runs the
            /// reverse pass for any other `ȳ`.
            #[allow(clippy::too_many_arguments, clippy::type_complexity)]
            pub fn __ad_vjp_owned<V, P, $($L: Leaf<Cotangent = $L>),+>(
                value: V,
                vjp: P,
                $($l: Owned<$L>),+
            ) -> (f64, impl FnOnce(f64) -> ((), (), $($L::Cotangent),+) + Clone + use<V, P, $($L),+>)
            where
                V: Fn([f64; $n]) -> f64,
                P: Fn([f64; $n], f64) -> [f64; $n] + Clone,
            {
                let leaves = [$($l.kept),+];
                let (y, at_one) = sum_and_cotangents(&leaves, Some(value), All(1.0), &vjp);
                (y, move |g: f64| {
                    let cts = if g == 1.0 { at_one } else { cotangents(&leaves, All(g), vjp) };
                    let mut cts = cts.into_iter();
                    ((), (), $($L::cotangent(cts.next().expect("one per leaf"))),+)
                })
            }
        }

        /// The fused mean: its value (`Σ value / n`, n the elements).
        #[allow(clippy::too_many_arguments)]
        pub fn $mean<$($L),+>(
            value: impl Fn([f64; $n]) -> f64,
            vjp: impl Fn([f64; $n], f64) -> [f64; $n],
            $($l: Owned<$L>),+
        ) -> f64 {
            let leaves = [$($l.kept),+];
            let _ = vjp;
            sum_value(&leaves, value) / elements(&leaves)
        }

        #[doc(hidden)]
        pub mod $mean {
            use super::*;
            /// The fused mean's value and pullback: each element's chain
            /// starts from `ȳ / n`, as `mean`'s rule gives it.
            #[allow(clippy::too_many_arguments, clippy::type_complexity)]
            pub fn __ad_vjp_owned<V, P, $($L: Leaf<Cotangent = $L>),+>(
                value: V,
                vjp: P,
                $($l: Owned<$L>),+
            ) -> (f64, impl FnOnce(f64) -> ((), (), $($L::Cotangent),+) + Clone + use<V, P, $($L),+>)
            where
                V: Fn([f64; $n]) -> f64,
                P: Fn([f64; $n], f64) -> [f64; $n] + Clone,
            {
                let leaves = [$($l.kept),+];
                let n = elements(&leaves);
                let y = sum_value(&leaves, value) / n;
                (y, move |g: f64| {
                    let cts = cotangents(&leaves, All(g / n), vjp);
                    let mut cts = cts.into_iter();
                    ((), (), $($L::cotangent(cts.next().expect("one per leaf"))),+)
                })
            }
        }

        /// The fused mean when it is a function's result: its value.
        #[allow(clippy::too_many_arguments)]
        pub fn $out_mean<$($L),+>(
            value: impl Fn([f64; $n]) -> f64,
            vjp: impl Fn([f64; $n], f64) -> [f64; $n],
            $($l: Owned<$L>),+
        ) -> f64 {
            $mean(value, vjp, $($l),+)
        }

        #[doc(hidden)]
        pub mod $out_mean {
            use super::*;
            /// As [`out_sum1`](super::out_sum1): the cotangents for `ȳ = 1`
            /// (each chain starting from `1 / n`) with the value, in one pass.
            #[allow(clippy::too_many_arguments, clippy::type_complexity)]
            pub fn __ad_vjp_owned<V, P, $($L: Leaf<Cotangent = $L>),+>(
                value: V,
                vjp: P,
                $($l: Owned<$L>),+
            ) -> (f64, impl FnOnce(f64) -> ((), (), $($L::Cotangent),+) + Clone + use<V, P, $($L),+>)
            where
                V: Fn([f64; $n]) -> f64,
                P: Fn([f64; $n], f64) -> [f64; $n] + Clone,
            {
                let leaves = [$($l.kept),+];
                let n = elements(&leaves);
                let (sum, at_one) = sum_and_cotangents(&leaves, Some(value), All(1.0 / n), &vjp);
                (sum / n, move |g: f64| {
                    let cts = if g == 1.0 { at_one } else { cotangents(&leaves, All(g / n), vjp) };
                    let mut cts = cts.into_iter();
                    ((), (), $($L::cotangent(cts.next().expect("one per leaf"))),+)
                })
            }
        }
    };
}

/// The number of elements a mean divides by: the broadcast output's.
fn elements(leaves: &[Kept]) -> f64 {
    out_shape(leaves).map_or(1, |s| numel_of(&s)) as f64
}

fused_arity!(1, map1, sum1, out_sum1, mean1, out_mean1, a: A);
fused_arity!(2, map2, sum2, out_sum2, mean2, out_mean2, a: A, b: B);
fused_arity!(3, map3, sum3, out_sum3, mean3, out_mean3, a: A, b: B, c: C);
fused_arity!(4, map4, sum4, out_sum4, mean4, out_mean4, a: A, b: B, c: C, d: D);
fused_arity!(5, map5, sum5, out_sum5, mean5, out_mean5, a: A, b: B, c: C, d: D, e: E);
fused_arity!(6, map6, sum6, out_sum6, mean6, out_mean6, a: A, b: B, c: C, d: D, e: E, f: F);
fused_arity!(7, map7, sum7, out_sum7, mean7, out_mean7, a: A, b: B, c: C, d: D, e: E, f: F, h: H);
fused_arity!(8, map8, sum8, out_sum8, mean8, out_mean8, a: A, b: B, c: C, d: D, e: E, f: F, h: H, i: I);

/// The most leaves a fused op takes (the macro fuses no larger chain).
pub const MAX_LEAVES: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused map (emitted only with the macro's `FUSE_MAPS`) against
    /// the unfused ops: `y = tanh(a + b)` with `b` a bias row broadcast over
    /// `a`'s rows; value, and both cotangents for a cotangent of `y` that is
    /// not constant (ā = ḡ (1 − y²), b̄ = that summed over rows).
    #[test]
    fn map_with_a_broadcast_row_agrees_with_the_unfused_ops() {
        let a = Tensor::from_vec((0..12).map(|i| (i as f64 * 0.37).sin()).collect(), &[4, 3]);
        let b = Tensor::from_vec(vec![0.2, -0.5, 0.9], &[3]);
        let (y, pullback) = map2::__ad_vjp_owned(
            |v: [f64; 2]| (v[0] + v[1]).tanh(),
            |v: [f64; 2], g: f64| {
                let d = g * (1.0 - (v[0] + v[1]).tanh().powi(2));
                [d, d]
            },
            leaf(&a),
            leaf(&b),
        );
        let g = Tensor::from_vec((0..12).map(|i| 1.0 + i as f64 * 0.1).collect(), &[4, 3]);
        let want_y: Vec<f64> = (0..12)
            .map(|i| (a.data()[i] + b.data()[i % 3]).tanh())
            .collect();
        let ((), (), ga, gb) = pullback(g.clone());
        let want_ga: Vec<f64> = (0..12)
            .map(|i| g.data()[i] * (1.0 - want_y[i] * want_y[i]))
            .collect();
        let want_gb: Vec<f64> = (0..3)
            .map(|c| (0..4).map(|r| want_ga[r * 3 + c]).sum())
            .collect();
        let close = |got: &[f64], want: &[f64]| {
            assert_eq!(got.len(), want.len());
            for (x, w) in got.iter().zip(want) {
                assert!(
                    (x - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "{got:?} against {want:?}"
                );
            }
        };
        close(y.data(), &want_y);
        assert_eq!(y.shape(), &[4, 3]);
        close(ga.data(), &want_ga);
        close(gb.data(), &want_gb);
        assert_eq!(gb.shape(), &[3]);
    }
}
