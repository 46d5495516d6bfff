//! Forward mode and second derivatives: what the code that
//! `#[differentiable]` generates for `f::jvp`, `f::hvp`, `f::hessian` and
//! `f::jacobian` calls.
//!
//! Forward mode is a source transformation: each active value of the
//! function gets a *tangent* of the same type, computed beside it by
//! ordinary Rust over the same primitives (`sin(x)` → `ẋ · cos x`). The few
//! pieces of a tangent rule that are not themselves primitives are here:
//! slopes of piecewise functions (constant almost everywhere, so their own
//! derivative is zero and the generated code wraps them in
//! `stop_gradient`), [`like`] (a tangent broadcast to its result's shape,
//! with a pullback so that reverse mode can differentiate a tangent again),
//! and the flat views ([`Flat`], [`Basis`]) that Jacobians and Hessians are
//! assembled from.

use crate::cotangent::{Cotangent, Differentiable, ScalarMeta, Shape};
use crate::ops::Operand;
use crate::tensor::Tensor;

/// The tangent passed for a parameter that is not differentiated.
///
/// Generated forward-mode functions take one tangent per parameter; a
/// parameter that carries no gradient takes this marker.
///
/// ```
/// use autodiff_runtime::__private::fwd::NoTangent;
///
/// let _none = NoTangent;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoTangent;

/// The tangent of a struct parameter with its `#[no_grad]` fields set to
/// their `Default` (their tangent is zero, whatever the caller passed).
///
/// ```
/// use autodiff_runtime::__private::fwd::sanitize;
///
/// assert_eq!(sanitize((1.5, vec![2.0])), (1.5, vec![2.0]));
/// ```
#[inline]
pub fn sanitize<T: Cotangent>(t: T) -> T {
    let mut zero = T::zero();
    zero.accumulate(t);
    zero
}

/// `sanitize` is linear: its pullback is itself (a `#[no_grad]` field's
/// cotangent is dropped the same way).
#[doc(hidden)]
pub mod sanitize {
    use crate::cotangent::{Cotangent, Differentiable};

    #[inline]
    pub fn __ad_vjp_owned<T>(t: T) -> (T, impl FnOnce(T) -> (T,) + Clone + 'static)
    where
        T: Cotangent + Differentiable<Tangent = T> + 'static,
    {
        (super::sanitize(t), |g: T| (super::sanitize(g),))
    }
}

/// A tangent brought to the shape of the result it belongs to: the tangent
/// of `a + b` when only `a` carries one is `ȧ` broadcast like `a + b`.
///
/// `M` describes the result's shape ([`ScalarMeta`] for `f64`, [`Shape`] for
/// a tensor).
pub trait Like<M> {
    /// The broadcast tangent.
    type Out;
    /// The gradient type of `Self`.
    type Grad;
    /// What the pullback needs: the shape of `Self`.
    type Back: Clone + 'static;
    /// Broadcasts `self` to the shape `m`.
    fn like(self, m: &M) -> Self::Out;
    /// What the pullback keeps of `self`.
    fn back(&self) -> Self::Back;
    /// The pullback: sums `g` back to the shape of `self`.
    fn unlike(back: &Self::Back, g: Self::Out) -> Self::Grad;
}

impl Like<ScalarMeta> for f64 {
    type Out = f64;
    type Grad = f64;
    type Back = ();
    #[inline(always)]
    fn like(self, _: &ScalarMeta) -> f64 {
        self
    }
    #[inline(always)]
    fn back(&self) {}
    #[inline(always)]
    fn unlike(_: &(), g: f64) -> f64 {
        g
    }
}

impl Like<ScalarMeta> for &f64 {
    type Out = f64;
    type Grad = f64;
    type Back = ();
    #[inline(always)]
    fn like(self, _: &ScalarMeta) -> f64 {
        *self
    }
    #[inline(always)]
    fn back(&self) {}
    #[inline(always)]
    fn unlike(_: &(), g: f64) -> f64 {
        g
    }
}

impl Like<Shape> for f64 {
    type Out = Tensor;
    type Grad = f64;
    type Back = ();
    fn like(self, m: &Shape) -> Tensor {
        Tensor::full(m.dims(), self)
    }
    fn back(&self) {}
    fn unlike(_: &(), g: Tensor) -> f64 {
        if g.is_symbolic_zero() { 0.0 } else { g.sum() }
    }
}

impl Like<Shape> for &f64 {
    type Out = Tensor;
    type Grad = f64;
    type Back = ();
    fn like(self, m: &Shape) -> Tensor {
        Tensor::full(m.dims(), *self)
    }
    fn back(&self) {}
    fn unlike(_: &(), g: Tensor) -> f64 {
        if g.is_symbolic_zero() { 0.0 } else { g.sum() }
    }
}

fn broadcast(t: Tensor, m: &Shape) -> Tensor {
    if t.shape() == m.dims() {
        t
    } else {
        t + Tensor::zeros(m.dims())
    }
}

fn unbroadcast(shape: &Shape, g: Tensor) -> Tensor {
    if g.is_symbolic_zero() {
        return g;
    }
    crate::ops::binary::add_d0(&g, shape)
}

impl Like<Shape> for Tensor {
    type Out = Tensor;
    type Grad = Tensor;
    type Back = Shape;
    fn like(self, m: &Shape) -> Tensor {
        broadcast(self, m)
    }
    fn back(&self) -> Shape {
        Shape(self.shape().to_vec())
    }
    fn unlike(back: &Shape, g: Tensor) -> Tensor {
        unbroadcast(back, g)
    }
}

impl Like<Shape> for &Tensor {
    type Out = Tensor;
    type Grad = Tensor;
    type Back = Shape;
    fn like(self, m: &Shape) -> Tensor {
        broadcast(self.clone(), m)
    }
    fn back(&self) -> Shape {
        Shape(self.shape().to_vec())
    }
    fn unlike(back: &Shape, g: Tensor) -> Tensor {
        unbroadcast(back, g)
    }
}

/// `like(ṫ, meta(&y))`: the tangent `ṫ` broadcast to the shape of `y`; the
/// identity for `f64` (and for a tensor already of that shape).
///
/// ```
/// use autodiff_runtime::__private::fwd::like;
/// use autodiff_runtime::{HasMeta, Tensor};
///
/// let y = Tensor::zeros(&[2, 2]);
/// assert_eq!(like(1.5, y.meta()).to_vec(), vec![1.5; 4]);
/// assert_eq!(like(2.0, 3.0f64.meta()), 2.0);
/// ```
#[inline(always)]
pub fn like<T: Like<M>, M>(t: T, m: M) -> T::Out {
    t.like(&m)
}

/// `like` is linear; its pullback sums the cotangent back to the shape of
/// the tangent (so that reverse mode can differentiate a tangent again).
#[doc(hidden)]
pub mod like {
    use super::Like;

    /// The pullback of `like`.
    pub trait Pullback<T, G>: FnOnce(T) -> (G, ()) + Clone + 'static {}
    impl<T, G, F: FnOnce(T) -> (G, ()) + Clone + 'static> Pullback<T, G> for F {}

    #[inline]
    pub fn __ad_vjp_owned<T: Like<M>, M>(t: T, m: M) -> (T::Out, impl Pullback<T::Out, T::Grad>)
    where
        T::Out: 'static,
        T::Grad: 'static,
    {
        let back = t.back();
        (t.like(&m), move |g: T::Out| (T::unlike(&back, g), ()))
    }
}

/// Slopes of piecewise-linear functions and weights of `max`/`min`, on
/// `f64` and tensors.
pub trait Slopes: Sized {
    /// `sign x`, 0 at 0: the derivative of `|x|` (PyTorch's `abs'(0) = 0`).
    fn abs_slope(&self) -> Self;
    /// `[x > 0]`: the derivative of `relu` (0 at 0).
    fn relu_slope(&self) -> Self;
    /// The weight of `self` in `max(self, other)`: 1 where it wins, ½ on a
    /// tie, 0 elsewhere (PyTorch splits the gradient of a tie in half).
    fn max_weight(&self, other: &Self) -> Self;
    /// The weight of `self` in `min(self, other)`.
    fn min_weight(&self, other: &Self) -> Self;
}

#[inline(always)]
fn share(mine: f64, other: f64, wins: bool) -> f64 {
    if mine == other {
        0.5
    } else if wins {
        1.0
    } else {
        0.0
    }
}

impl Slopes for f64 {
    #[inline(always)]
    fn abs_slope(&self) -> f64 {
        if *self > 0.0 {
            1.0
        } else if *self < 0.0 {
            -1.0
        } else {
            0.0
        }
    }
    #[inline(always)]
    fn relu_slope(&self) -> f64 {
        if *self > 0.0 { 1.0 } else { 0.0 }
    }
    #[inline(always)]
    fn max_weight(&self, other: &f64) -> f64 {
        share(*self, *other, *self > *other)
    }
    #[inline(always)]
    fn min_weight(&self, other: &f64) -> f64 {
        share(*self, *other, *self < *other)
    }
}

impl Slopes for Tensor {
    fn abs_slope(&self) -> Tensor {
        self.map(|x| x.abs_slope())
    }
    fn relu_slope(&self) -> Tensor {
        self.map(|x| x.relu_slope())
    }
    fn max_weight(&self, other: &Tensor) -> Tensor {
        // Broadcast both to the result's shape first.
        let zero = self * 0.0 + other * 0.0;
        let (a, b) = (self + &zero, other + &zero);
        let data = a
            .data()
            .iter()
            .zip(b.data())
            .map(|(x, y)| x.max_weight(y))
            .collect();
        Tensor::from_vec(data, zero.shape())
    }
    fn min_weight(&self, other: &Tensor) -> Tensor {
        let zero = self * 0.0 + other * 0.0;
        let (a, b) = (self + &zero, other + &zero);
        let data = a
            .data()
            .iter()
            .zip(b.data())
            .map(|(x, y)| x.min_weight(y))
            .collect();
        Tensor::from_vec(data, zero.shape())
    }
}

/// `abs_slope(&x)`: `sign x` with 0 at 0, elementwise.
///
/// ```
/// use autodiff_runtime::__private::fwd::abs_slope;
///
/// assert_eq!(abs_slope(&-2.0), -1.0);
/// assert_eq!(abs_slope(&0.0), 0.0);
/// ```
#[inline(always)]
pub fn abs_slope<X: Operand + ?Sized>(x: &X) -> X::Value
where
    X::Value: Slopes,
{
    x.value().abs_slope()
}

/// `relu_slope(&x)`: 1 where `x > 0`, else 0.
///
/// ```
/// use autodiff_runtime::__private::fwd::relu_slope;
///
/// assert_eq!(relu_slope(&0.5), 1.0);
/// assert_eq!(relu_slope(&0.0), 0.0);
/// ```
#[inline(always)]
pub fn relu_slope<X: Operand + ?Sized>(x: &X) -> X::Value
where
    X::Value: Slopes,
{
    x.value().relu_slope()
}

/// `clamp_weights(&x, &lo, &hi)`: how much of `x.clamp(lo, hi)` moves with
/// `x`, `lo` and `hi`: `([lo ≤ x ≤ hi], [x < lo], [x > hi])`, as the reverse
/// rule routes the cotangent (`clamp_d0`, `_d1`, `_d2`).
///
/// ```
/// use autodiff_runtime::__private::fwd::clamp_weights;
///
/// assert_eq!(clamp_weights(&0.5, &0.0, &1.0), (1.0, 0.0, 0.0));
/// assert_eq!(clamp_weights(&-2.0, &0.0, &1.0), (0.0, 1.0, 0.0));
/// assert_eq!(clamp_weights(&1.0, &0.0, &1.0), (1.0, 0.0, 0.0));
/// ```
pub fn clamp_weights<X: Operand + ?Sized>(
    x: &X,
    lo: &f64,
    hi: &f64,
) -> (X::Value, X::Value, X::Value)
where
    X::Value: ClampWeights,
{
    x.value().clamp_weights(*lo, *hi)
}

/// See [`clamp_weights`].
#[doc(hidden)]
pub trait ClampWeights: Sized {
    /// `([lo ≤ x ≤ hi], [x < lo], [x > hi])` elementwise.
    fn clamp_weights(&self, lo: f64, hi: f64) -> (Self, Self, Self);
}

impl ClampWeights for f64 {
    fn clamp_weights(&self, lo: f64, hi: f64) -> (f64, f64, f64) {
        let x = *self;
        let inside = (lo <= x && x <= hi) as u8 as f64;
        ((inside), (x < lo) as u8 as f64, (x > hi) as u8 as f64)
    }
}

impl ClampWeights for Tensor {
    fn clamp_weights(&self, lo: f64, hi: f64) -> (Tensor, Tensor, Tensor) {
        (
            self.map(|x| x.clamp_weights(lo, hi).0),
            self.map(|x| x.clamp_weights(lo, hi).1),
            self.map(|x| x.clamp_weights(lo, hi).2),
        )
    }
}

/// `max_weight(&a, &b)`: how much of `max(a, b)` moves with `a`.
///
/// ```
/// use autodiff_runtime::__private::fwd::max_weight;
///
/// assert_eq!((max_weight(&2.0, &1.0), max_weight(&1.0, &1.0)), (1.0, 0.5));
/// ```
#[inline(always)]
pub fn max_weight<A: Operand + ?Sized, B: Operand<Value = A::Value> + ?Sized>(
    a: &A,
    b: &B,
) -> A::Value
where
    A::Value: Slopes,
{
    a.value().max_weight(b.value())
}

/// `min_weight(&a, &b)`: how much of `min(a, b)` moves with `a`.
///
/// ```
/// use autodiff_runtime::__private::fwd::min_weight;
///
/// assert_eq!(min_weight(&2.0, &1.0), 0.0);
/// ```
#[inline(always)]
pub fn min_weight<A: Operand + ?Sized, B: Operand<Value = A::Value> + ?Sized>(
    a: &A,
    b: &B,
) -> A::Value
where
    A::Value: Slopes,
{
    a.value().min_weight(b.value())
}

/// `extremum_mask(&x, y)`: `1/k` at each of the `k` elements of `x` equal to
/// `y` (its maximum or minimum), 0 elsewhere; the tangent of `x.max()` is
/// `(ẋ · mask).sum()` (the reverse rule splits a tie the same way).
///
/// ```
/// use autodiff_runtime::Tensor;
/// use autodiff_runtime::__private::fwd::extremum_mask;
///
/// let x = Tensor::from([1.0, 3.0, 3.0]);
/// assert_eq!(extremum_mask(&x, &3.0).to_vec(), vec![0.0, 0.5, 0.5]);
/// ```
pub fn extremum_mask<X: Operand<Value = Tensor> + ?Sized, Y: Operand<Value = f64> + ?Sized>(
    x: &X,
    y: &Y,
) -> Tensor {
    let (x, y) = (x.value(), *y.value());
    let hits = x.data().iter().filter(|&&v| v == y).count();
    let share = if hits == 0 { 0.0 } else { 1.0 / hits as f64 };
    x.map(|v| if v == y { share } else { 0.0 })
}

/// The shape of `x` with dimension `dim` set to 1: what a reduction along
/// `dim` is reshaped to so that it broadcasts against `x` again.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use autodiff_runtime::__private::fwd::keepdim_shape;
///
/// assert_eq!(keepdim_shape(&Tensor::zeros(&[2, 3]), 1), vec![2, 1]);
/// ```
pub fn keepdim_shape<X: Operand<Value = Tensor> + ?Sized>(x: &X, dim: usize) -> Vec<usize> {
    let mut shape = x.value().shape().to_vec();
    if let Some(d) = shape.get_mut(dim) {
        *d = 1;
    }
    shape
}

// ------------------------------------------------------------- flat views

/// A value seen as a flat vector of `f64`: what Jacobians and Hessians are
/// rows and columns of. Implemented for `f64`, [`Tensor`], `Vec<f64>`,
/// `[f64]`, `[f64; N]`, references to them, and tuples of them.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use autodiff_runtime::__private::fwd::Flat;
///
/// let x = (1.0, Tensor::from([2.0, 3.0]));
/// assert_eq!((x.flat_len(), x.flat()), (3, vec![1.0, 2.0, 3.0]));
/// ```
pub trait Flat {
    /// Number of `f64` components.
    fn flat_len(&self) -> usize;
    /// The shape a Jacobian gives this value: `[]` for `f64`, the tensor's
    /// shape, `[len]` for vectors, `[flat_len]` for tuples.
    fn flat_shape(&self) -> Vec<usize> {
        vec![self.flat_len()]
    }
    /// Appends the components to `out`.
    fn flat_into(&self, out: &mut Vec<f64>);
    /// The components.
    fn flat(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.flat_len());
        self.flat_into(&mut out);
        out
    }
}

/// Tangents of a value built from flat components: unit vectors (the
/// columns of an identity) and whole vectors.
///
/// ```
/// use autodiff_runtime::__private::fwd::Basis;
///
/// let x: &[f64] = &[5.0, 6.0, 7.0];
/// assert_eq!(x.one_hot(1), vec![0.0, 1.0, 0.0]);
/// assert_eq!(1.5f64.unflatten(&[2.0]), 2.0);
/// ```
pub trait Basis: Flat {
    /// The tangent type (the type of the value itself, owned).
    type Tangent;
    /// The tangent with 1 at component `k` and 0 elsewhere.
    fn one_hot(&self, k: usize) -> Self::Tangent {
        let mut v = vec![0.0; self.flat_len()];
        v[k] = 1.0;
        self.unflatten(&v)
    }
    /// The tangent with components `v` (of length `flat_len`).
    fn unflatten(&self, v: &[f64]) -> Self::Tangent;
}

impl Flat for f64 {
    fn flat_len(&self) -> usize {
        1
    }
    fn flat_shape(&self) -> Vec<usize> {
        Vec::new()
    }
    fn flat_into(&self, out: &mut Vec<f64>) {
        out.push(*self);
    }
}
impl Basis for f64 {
    type Tangent = f64;
    fn unflatten(&self, v: &[f64]) -> f64 {
        v[0]
    }
}

impl Flat for Tensor {
    fn flat_len(&self) -> usize {
        self.numel()
    }
    fn flat_shape(&self) -> Vec<usize> {
        self.shape().to_vec()
    }
    fn flat_into(&self, out: &mut Vec<f64>) {
        if self.is_symbolic_zero() {
            out.extend(std::iter::repeat_n(0.0, self.flat_len()));
        } else {
            out.extend_from_slice(self.data());
        }
    }
}
impl Basis for Tensor {
    type Tangent = Tensor;
    fn unflatten(&self, v: &[f64]) -> Tensor {
        Tensor::from_vec(v.to_vec(), self.shape())
    }
}

impl Flat for [f64] {
    fn flat_len(&self) -> usize {
        self.len()
    }
    fn flat_into(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self);
    }
}
impl Basis for [f64] {
    type Tangent = Vec<f64>;
    fn unflatten(&self, v: &[f64]) -> Vec<f64> {
        v.to_vec()
    }
}

impl Flat for Vec<f64> {
    fn flat_len(&self) -> usize {
        self.len()
    }
    fn flat_into(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self);
    }
}
impl Basis for Vec<f64> {
    type Tangent = Vec<f64>;
    fn unflatten(&self, v: &[f64]) -> Vec<f64> {
        v.to_vec()
    }
}

impl<const N: usize> Flat for [f64; N] {
    fn flat_len(&self) -> usize {
        N
    }
    fn flat_into(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self);
    }
}
impl<const N: usize> Basis for [f64; N] {
    type Tangent = [f64; N];
    fn unflatten(&self, v: &[f64]) -> [f64; N] {
        let mut a = [0.0; N];
        a.copy_from_slice(v);
        a
    }
}

impl<T: Flat + ?Sized> Flat for &T {
    fn flat_len(&self) -> usize {
        (**self).flat_len()
    }
    fn flat_shape(&self) -> Vec<usize> {
        (**self).flat_shape()
    }
    fn flat_into(&self, out: &mut Vec<f64>) {
        (**self).flat_into(out)
    }
}
impl<T: Basis + ?Sized> Basis for &T {
    type Tangent = T::Tangent;
    fn one_hot(&self, k: usize) -> T::Tangent {
        (**self).one_hot(k)
    }
    fn unflatten(&self, v: &[f64]) -> T::Tangent {
        (**self).unflatten(v)
    }
}

impl Flat for () {
    fn flat_len(&self) -> usize {
        0
    }
    fn flat_into(&self, _: &mut Vec<f64>) {}
}

macro_rules! flat_tuple {
    ($($T:ident $i:tt),+) => {
        impl<$($T: Flat),+> Flat for ($($T,)+) {
            fn flat_len(&self) -> usize {
                0 $(+ self.$i.flat_len())+
            }
            fn flat_into(&self, out: &mut Vec<f64>) {
                $(self.$i.flat_into(out);)+
            }
        }
        impl<$($T: Basis),+> Basis for ($($T,)+) {
            type Tangent = ($($T::Tangent,)+);
            fn unflatten(&self, v: &[f64]) -> Self::Tangent {
                let mut at = 0;
                ($({
                    let n = self.$i.flat_len();
                    let part = self.$i.unflatten(&v[at..at + n]);
                    at += n;
                    let _ = at;
                    part
                },)+)
            }
        }
    };
}

flat_tuple!(A 0);
flat_tuple!(A 0, B 1);
flat_tuple!(A 0, B 1, C 2);
flat_tuple!(A 0, B 1, C 2, D 3);
flat_tuple!(A 0, B 1, C 2, D 3, E 4);
flat_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);

/// `⟨a, b⟩` of two values of the same flat length.
///
/// ```
/// use autodiff_runtime::__private::fwd::dot_flat;
///
/// assert_eq!(dot_flat(&vec![1.0, 2.0], &[3.0, 4.0][..]), 11.0);
/// ```
pub fn dot_flat<A: Flat + ?Sized, B: Flat + ?Sized>(a: &A, b: &B) -> f64 {
    let (a, b) = (a.flat(), b.flat());
    assert_eq!(
        a.len(),
        b.len(),
        "a tangent has {} components where its value has {}",
        b.len(),
        a.len()
    );
    a.iter().zip(&b).map(|(a, b)| a * b).sum()
}

/// The unit tangent for column `j` of a Jacobian over several parameters
/// laid end to end: 1 at `j - offset` if `j` falls in this parameter's
/// `[offset, offset + len)`, zeros otherwise.
///
/// ```
/// use autodiff_runtime::__private::fwd::unit_at;
///
/// assert_eq!(unit_at(&vec![0.0, 0.0], 3, 2), vec![0.0, 1.0]);
/// assert_eq!(unit_at(&1.0, 3, 2), 0.0);
/// ```
pub fn unit_at<X: Basis + ?Sized>(x: &X, j: usize, offset: usize) -> X::Tangent {
    let n = x.flat_len();
    if j >= offset && j < offset + n {
        x.one_hot(j - offset)
    } else {
        x.unflatten(&vec![0.0; n])
    }
}

/// A Jacobian (or Hessian) from its rows, as a tensor of shape
/// `out_shape ++ in_shape`.
///
/// ```
/// use autodiff_runtime::__private::fwd::matrix;
///
/// let j = matrix(vec![vec![1.0, 2.0], vec![3.0, 4.0]], &[2], &[2]);
/// assert_eq!((j.shape(), j.to_vec()), (&[2usize, 2][..], vec![1.0, 2.0, 3.0, 4.0]));
/// ```
pub fn matrix(rows: Vec<Vec<f64>>, out_shape: &[usize], in_shape: &[usize]) -> Tensor {
    let shape: Vec<usize> = out_shape.iter().chain(in_shape).copied().collect();
    let data: Vec<f64> = rows.into_iter().flatten().collect();
    Tensor::from_vec(data, &shape)
}

/// A Jacobian from its columns (column `j` is the tangent of the output
/// for the `j`-th unit tangent of the input).
///
/// ```
/// use autodiff_runtime::__private::fwd::matrix_from_columns;
///
/// let j = matrix_from_columns(vec![vec![1.0, 3.0], vec![2.0, 4.0]], &[2], &[2]);
/// assert_eq!(j.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
/// ```
pub fn matrix_from_columns(
    columns: Vec<Vec<f64>>,
    out_shape: &[usize],
    in_shape: &[usize],
) -> Tensor {
    let m: usize = out_shape.iter().product();
    let n = columns.len();
    let mut data = vec![0.0; m * n];
    for (j, column) in columns.iter().enumerate() {
        for (i, v) in column.iter().enumerate() {
            data[i * n + j] = *v;
        }
    }
    let shape: Vec<usize> = out_shape.iter().chain(in_shape).copied().collect();
    Tensor::from_vec(data, &shape)
}

/// The shape of the inputs of a Jacobian: the parameter's own shape if
/// there is one, `[total]` for several laid end to end.
#[doc(hidden)]
pub fn in_shape(shapes: Vec<Vec<usize>>, lens: &[usize]) -> Vec<usize> {
    if shapes.len() == 1 {
        shapes.into_iter().next().unwrap_or_default()
    } else {
        vec![lens.iter().sum()]
    }
}

/// A zero tangent with the shape of `x` (`Differentiable::zero_tangent`).
///
/// ```
/// use autodiff_runtime::__private::fwd::zero_of;
///
/// assert_eq!(zero_of(&[1.0, 2.0][..]), vec![0.0, 0.0]);
/// ```
pub fn zero_of<T: Differentiable + ?Sized>(x: &T) -> T::Tangent {
    x.zero_tangent()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_broadcasts_and_sums_back() {
        let y = Tensor::zeros(&[2, 3]);
        let m = Shape(y.shape().to_vec());
        let t = Tensor::from([1.0, 2.0, 3.0]);
        let (out, pb) = like::__ad_vjp_owned(t, m.clone());
        assert_eq!(out.to_vec(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        let (g, ()) = pb(Tensor::ones(&[2, 3]));
        assert_eq!(g.to_vec(), vec![2.0, 2.0, 2.0]);
        let (s, pb) = like::__ad_vjp_owned(1.5, m);
        assert_eq!(s.to_vec(), vec![1.5; 6]);
        assert_eq!(pb(Tensor::ones(&[2, 3])).0, 6.0);
    }

    #[test]
    fn weights_split_ties() {
        let a = Tensor::from([1.0, 2.0, 3.0]);
        let b = Tensor::from([2.0, 2.0, 2.0]);
        assert_eq!(a.max_weight(&b).to_vec(), vec![0.0, 0.5, 1.0]);
        assert_eq!(a.min_weight(&b).to_vec(), vec![1.0, 0.5, 0.0]);
        assert_eq!(
            Tensor::from([-1.0, 0.0, 2.0]).abs_slope().to_vec(),
            vec![-1.0, 0.0, 1.0]
        );
    }

    #[test]
    fn flat_round_trips() {
        let x = (2.0, vec![1.0, 2.0], Tensor::zeros(&[2, 2]));
        assert_eq!(x.flat_len(), 7);
        let v: Vec<f64> = (0..7).map(|i| i as f64).collect();
        let t = x.unflatten(&v);
        assert_eq!(t.flat(), v);
        assert_eq!(x.one_hot(3).flat(), vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
