//! How gradients are represented, zeroed and summed: the [`Differentiable`]
//! and [`Cotangent`] traits, the shape descriptions ([`HasMeta`]) that the
//! derivative rules need, and the free functions that generated code calls.

use std::fmt;

use crate::tensor::Tensor;

/// A type that a `#[differentiable]` function may take or return.
///
/// `Tangent` is the type of its gradient: `f64` for `f64`, [`Tensor`] for
/// `Tensor`, `Vec<f64>` for `Vec<f64>` and `[f64]`, `T::Tangent` for `&T`,
/// tuples of tangents for tuples (up to 6), `()` for `()`.
///
/// ```
/// use autodiff_runtime::{Differentiable, Tensor};
///
/// assert_eq!(2.5f64.zero_tangent(), 0.0);
/// assert_eq!(Tensor::ones(&[2, 2]).zero_tangent(), Tensor::zeros(&[2, 2]));
/// assert_eq!((1.0, vec![1.0, 2.0]).zero_tangent(), (0.0, vec![0.0, 0.0]));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not differentiable",
    label = "this parameter is differentiated, so its type must implement `Differentiable`",
    note = "derive it (`#[derive(Clone, Differentiable)]` on a struct of f64, Tensor, Vec<f64> and [f64; N] fields), or mark the parameter `#[no_grad]`"
)]
pub trait Differentiable {
    /// The gradient of a value of this type.
    type Tangent: Cotangent;

    /// A real zero gradient with the shape of `self`.
    ///
    /// ```
    /// use autodiff_runtime::{Differentiable, Tensor};
    ///
    /// assert_eq!(Tensor::ones(&[3]).zero_tangent(), Tensor::zeros(&[3]));
    /// ```
    fn zero_tangent(&self) -> Self::Tangent;

    /// Turns a gradient that may still be a symbolic zero (or, for vectors,
    /// shorter than `self`) into a real gradient with the shape of `self`.
    #[doc(hidden)]
    fn finish_tangent(&self, d: Self::Tangent) -> Self::Tangent {
        if d.is_symbolic_zero() {
            self.zero_tangent()
        } else {
            d
        }
    }

    /// The gradient that `backward()` with no argument starts from: one for
    /// a scalar output.
    #[doc(hidden)]
    fn seed_tangent(&self) -> Self::Tangent {
        panic!("grad can be implicitly created only for scalar outputs")
    }

    /// The shape a cotangent of `self` must have (`vjp` keeps it to check
    /// the cotangent its pullback is given); [`CotangentShape::Any`] where
    /// the type fixes it.
    #[doc(hidden)]
    #[inline(always)]
    fn cotangent_shape(&self) -> CotangentShape {
        CotangentShape::Any
    }

    /// The shape of a cotangent, to compare with [`Self::cotangent_shape`].
    #[doc(hidden)]
    #[inline(always)]
    fn shape_of_cotangent(_ct: &Self::Tangent) -> CotangentShape {
        CotangentShape::Any
    }
}

/// The shape of an output's cotangent where its type does not fix it: the
/// dimensions of a tensor (the length of a vector), the parts of a tuple or
/// of a `Vec` of rows.
#[doc(hidden)]
#[derive(Clone, Debug, PartialEq)]
pub enum CotangentShape {
    /// Fixed by the type (or a symbolic zero): any cotangent fits.
    Any,
    /// Dimensions.
    Dims(Vec<usize>),
    /// One shape per part.
    Parts(Vec<CotangentShape>),
}

impl CotangentShape {
    /// The first part (in order, as `grad_output[k]`) where `got` does not
    /// fit `self`: its index and the two shapes, shown as PyTorch shows them.
    fn mismatch(&self, got: &CotangentShape) -> Option<(usize, String, String)> {
        fn show(s: &CotangentShape) -> String {
            match s {
                CotangentShape::Any => "any shape".to_string(),
                CotangentShape::Dims(d) => format!("torch.Size({d:?})"),
                CotangentShape::Parts(p) => {
                    let parts: Vec<String> = p.iter().map(show).collect();
                    format!("({})", parts.join(", "))
                }
            }
        }
        fn fits(want: &CotangentShape, got: &CotangentShape) -> bool {
            match (want, got) {
                (CotangentShape::Any, _) | (_, CotangentShape::Any) => true,
                (CotangentShape::Dims(a), CotangentShape::Dims(b)) => a == b,
                (CotangentShape::Parts(a), CotangentShape::Parts(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| fits(a, b))
                }
                _ => false,
            }
        }
        match (self, got) {
            // A tuple output: grad_output[k] for its k-th part.
            (CotangentShape::Parts(a), CotangentShape::Parts(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .position(|(a, b)| !fits(a, b))
                .map(|k| (k, show(&b[k]), show(&a[k]))),
            _ => (!fits(self, got)).then(|| (0, show(got), show(self))),
        }
    }
}

/// Panics with PyTorch's words when the cotangent given to a pullback does
/// not have the shape of the output it belongs to (a shorter vector would
/// otherwise count as padded with zeros, a longer one as cut, and a tensor
/// of another shape as broadcast).
///
/// ```
/// use autodiff_runtime::__private::check_cotangent;
/// use autodiff_runtime::{Differentiable, Tensor};
///
/// let out = Tensor::from([1.0, 2.0]);
/// check_cotangent::<Tensor>(&out.cotangent_shape(), &Tensor::from([1.0, 1.0]));
/// let wrong = std::panic::catch_unwind(|| {
///     check_cotangent::<Tensor>(&out.cotangent_shape(), &Tensor::from([1.0]))
/// });
/// assert!(wrong.is_err());
/// ```
#[doc(hidden)]
#[inline]
pub fn check_cotangent<V: Differentiable + ?Sized>(want: &CotangentShape, ct: &V::Tangent) {
    if matches!(want, CotangentShape::Any) {
        return;
    }
    if let Some((k, got, want)) = want.mismatch(&V::shape_of_cotangent(ct)) {
        panic!(
            "Mismatch in shape: grad_output[{k}] has a shape of {got} and output[{k}] has a shape of {want}. \
             (the cotangent passed to the pullback must have the shape of the output)"
        );
    }
}

/// Values that flow backwards: gradients. They have an additive identity
/// that needs no shape ([`zero`](Cotangent::zero)) and can be summed
/// ([`accumulate`](Cotangent::accumulate)).
///
/// ```
/// use autodiff_runtime::{Cotangent, Tensor};
///
/// let mut g = Tensor::zero(); // a zero that has no shape yet
/// g.accumulate(Tensor::from([1.0, 2.0]));
/// g.accumulate(Tensor::from([10.0, 20.0]));
/// assert_eq!(g.to_vec(), vec![11.0, 22.0]);
/// ```
pub trait Cotangent: Clone + Sized {
    /// The additive identity, before any shape is known. For `f64` it is
    /// `-0.0`, the exact identity of `+` (see `impl Cotangent for f64`),
    /// which [`finish`] turns into `0.0`; for `Tensor` a symbolic zero that [`finish`] turns into real
    /// zeros; for `Vec<f64>` the empty vector.
    ///
    /// ```
    /// use autodiff_runtime::Cotangent;
    ///
    /// assert_eq!(<(f64, Vec<f64>)>::zero(), (0.0, vec![]));
    /// ```
    fn zero() -> Self;

    /// Whether `self` is the symbolic zero. Always `false` for `f64`, where
    /// zero is an ordinary number.
    ///
    /// ```
    /// use autodiff_runtime::{Cotangent, Tensor};
    ///
    /// assert!(Tensor::zero().is_symbolic_zero());
    /// assert!(!Tensor::zeros(&[2]).is_symbolic_zero());
    /// assert!(!0.0f64.is_symbolic_zero());
    /// ```
    fn is_symbolic_zero(&self) -> bool;

    /// `self += other`. A symbolic zero on either side costs nothing; shapes
    /// must otherwise be equal (a mismatch panics, naming both shapes).
    ///
    /// ```
    /// use autodiff_runtime::Cotangent;
    ///
    /// let mut g = (1.0, vec![1.0, 1.0]);
    /// g.accumulate((2.0, vec![0.5, 0.5]));
    /// assert_eq!(g, (3.0, vec![1.5, 1.5]));
    /// ```
    fn accumulate(&mut self, other: Self);
}

/// What a derivative rule needs to know of a scalar operand: nothing.
///
/// ```
/// use autodiff_runtime::{HasMeta, ScalarMeta};
///
/// assert_eq!(1.5f64.meta(), ScalarMeta);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScalarMeta;

/// The shape of a tensor operand: what a derivative rule needs to reduce a
/// broadcast gradient back to that operand.
///
/// ```
/// use autodiff_runtime::{HasMeta, Shape, Tensor};
///
/// let s = Tensor::zeros(&[2, 3]).meta();
/// assert_eq!(s, Shape(vec![2, 3]));
/// assert_eq!(s.to_string(), "[2, 3]");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// The size of each dimension.
    ///
    /// ```
    /// use autodiff_runtime::Shape;
    ///
    /// assert_eq!(Shape(vec![4]).dims(), &[4]);
    /// ```
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// The number of elements of a tensor of this shape.
    ///
    /// ```
    /// use autodiff_runtime::Shape;
    ///
    /// assert_eq!(Shape(vec![2, 3]).numel(), 6);
    /// ```
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
}

/// Prints as `[2, 3]`.
///
/// ```
/// use autodiff_runtime::Shape;
///
/// assert_eq!(Shape(vec![]).to_string(), "[]");
/// ```
impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// The length of a `Vec<f64>` or `[f64]` operand.
///
/// ```
/// use autodiff_runtime::{HasMeta, LenMeta};
///
/// assert_eq!(vec![1.0, 2.0].meta(), LenMeta(2));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LenMeta(pub usize);

/// Values whose shape a derivative rule may need after the value itself is
/// gone: `f64` → [`ScalarMeta`], [`Tensor`] → [`Shape`], `Vec<f64>` and
/// `[f64]` → [`LenMeta`], `&T` → `T::Meta`, tuples → tuples of metas.
///
/// ```
/// use autodiff_runtime::{HasMeta, LenMeta, ScalarMeta, Shape, Tensor};
///
/// let x = Tensor::zeros(&[3]);
/// assert_eq!((&x).meta(), Shape(vec![3]));
/// assert_eq!((1.0, vec![0.0; 4]).meta(), (ScalarMeta, LenMeta(4)));
/// ```
pub trait HasMeta {
    /// The description of the shape.
    type Meta: Clone;
    /// Describes the shape of `self`.
    ///
    /// ```
    /// use autodiff_runtime::{HasMeta, Shape, Tensor};
    ///
    /// assert_eq!(Tensor::zeros(&[1, 2]).meta(), Shape(vec![1, 2]));
    /// ```
    fn meta(&self) -> Self::Meta;
}

// ---------------------------------------------------------------- f64

impl Differentiable for f64 {
    type Tangent = f64;
    #[inline(always)]
    fn zero_tangent(&self) -> f64 {
        0.0
    }
    #[inline(always)]
    fn finish_tangent(&self, d: f64) -> f64 {
        // The zero that nothing was added to is `-0.0` (see `zero`): show
        // it as the `0.0` PyTorch gives. Every other value is unchanged.
        d + 0.0
    }
    #[inline(always)]
    fn seed_tangent(&self) -> f64 {
        1.0
    }
}

impl Cotangent for f64 {
    /// `-0.0`, not `0.0`: `-0.0 + x` is `x` for every `x` (`0.0 + -0.0` is
    /// `0.0`, not `-0.0`), so the compiler may drop the addition. Generated
    /// reverse passes move an adjoint out (`take`, leaving `zero()`) and add
    /// the next contribution to it (`acc`) at every step of a loop; with
    /// `0.0` each such step kept a real addition in its dependency chain
    /// (W1 of the benchmark: 10.5 ns per gradient, now 8.2 ns).
    #[inline(always)]
    fn zero() -> f64 {
        -0.0
    }
    #[inline(always)]
    fn is_symbolic_zero(&self) -> bool {
        false
    }
    #[inline(always)]
    fn accumulate(&mut self, other: f64) {
        *self += other;
    }
}

impl HasMeta for f64 {
    type Meta = ScalarMeta;
    #[inline(always)]
    fn meta(&self) -> ScalarMeta {
        ScalarMeta
    }
}

// ---------------------------------------------------------------- Tensor

impl Differentiable for Tensor {
    type Tangent = Tensor;
    fn zero_tangent(&self) -> Tensor {
        self.zeros_like()
    }
    fn seed_tangent(&self) -> Tensor {
        assert!(
            self.numel() == 1,
            "grad can be implicitly created only for scalar outputs \
             (the output has shape {:?}: pass a gradient of that shape instead)",
            self.shape()
        );
        self.ones_like()
    }
    fn cotangent_shape(&self) -> CotangentShape {
        CotangentShape::Dims(self.shape.clone())
    }
    fn shape_of_cotangent(ct: &Tensor) -> CotangentShape {
        if ct.symbolic_zero {
            CotangentShape::Any
        } else {
            CotangentShape::Dims(ct.shape.clone())
        }
    }
}

impl Cotangent for Tensor {
    fn zero() -> Tensor {
        Tensor::symbolic_zero()
    }
    #[inline]
    fn is_symbolic_zero(&self) -> bool {
        self.symbolic_zero
    }
    fn accumulate(&mut self, mut other: Tensor) {
        if other.symbolic_zero {
            return;
        }
        if self.symbolic_zero {
            *self = other;
            return;
        }
        assert!(
            self.shape == other.shape,
            "cannot accumulate a gradient of shape {:?} into a gradient of shape {:?}",
            other.shape,
            self.shape
        );
        // Add into whichever buffer nobody else holds; copy only if both are shared.
        if std::sync::Arc::get_mut(&mut self.data).is_none()
            && std::sync::Arc::strong_count(&other.data) == 1
        {
            std::mem::swap(self, &mut other);
        }
        let dst = self.data_mut();
        for (d, o) in dst.iter_mut().zip(other.data.iter()) {
            *d += o;
        }
    }
}

impl HasMeta for Tensor {
    type Meta = Shape;
    fn meta(&self) -> Shape {
        Shape(self.shape.clone())
    }
}

// ---------------------------------------------------------------- Vec<f64>, [f64]

/// Pads `d` with zeros to length `n` (a gradient built by indexed
/// accumulation may stop before the end).
/// The gradient of a sequence of `n` numbers: a shorter one (elements
/// nothing was added to) padded with zeros; a longer one (the body pushed
/// onto a copy, `let mut y = x.to_vec(); y.push(..)`: the elements past `n`
/// belong to the pushed values, not to the input) cut to `n`.
fn pad_to(mut d: Vec<f64>, n: usize) -> Vec<f64> {
    d.resize(n, 0.0);
    d
}

impl Differentiable for Vec<f64> {
    type Tangent = Vec<f64>;
    fn zero_tangent(&self) -> Vec<f64> {
        vec![0.0; self.len()]
    }
    fn finish_tangent(&self, d: Vec<f64>) -> Vec<f64> {
        pad_to(d, self.len())
    }
    fn seed_tangent(&self) -> Vec<f64> {
        self.as_slice().seed_tangent()
    }
    fn cotangent_shape(&self) -> CotangentShape {
        CotangentShape::Dims(vec![self.len()])
    }
    fn shape_of_cotangent(ct: &Vec<f64>) -> CotangentShape {
        CotangentShape::Dims(vec![ct.len()])
    }
}

impl Differentiable for [f64] {
    type Tangent = Vec<f64>;
    fn zero_tangent(&self) -> Vec<f64> {
        vec![0.0; self.len()]
    }
    fn finish_tangent(&self, d: Vec<f64>) -> Vec<f64> {
        pad_to(d, self.len())
    }
    fn cotangent_shape(&self) -> CotangentShape {
        CotangentShape::Dims(vec![self.len()])
    }
    fn shape_of_cotangent(ct: &Vec<f64>) -> CotangentShape {
        CotangentShape::Dims(vec![ct.len()])
    }
    fn seed_tangent(&self) -> Vec<f64> {
        assert!(
            self.len() == 1,
            "grad can be implicitly created only for scalar outputs \
             (the output has {} elements: pass a gradient of that length instead)",
            self.len()
        );
        vec![1.0]
    }
}

impl Cotangent for Vec<f64> {
    fn zero() -> Vec<f64> {
        Vec::new()
    }
    fn is_symbolic_zero(&self) -> bool {
        self.is_empty()
    }
    fn accumulate(&mut self, other: Vec<f64>) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other;
            return;
        }
        // A shorter vector is a gradient whose tail is zero (see `acc_index`).
        if self.len() < other.len() {
            self.resize(other.len(), 0.0);
        }
        for (d, o) in self.iter_mut().zip(other) {
            *d += o;
        }
    }
}

impl HasMeta for Vec<f64> {
    type Meta = LenMeta;
    fn meta(&self) -> LenMeta {
        LenMeta(self.len())
    }
}

impl HasMeta for [f64] {
    type Meta = LenMeta;
    fn meta(&self) -> LenMeta {
        LenMeta(self.len())
    }
}

// ---------------------------------------------------------------- references

impl<T: Differentiable + ?Sized> Differentiable for &T {
    type Tangent = T::Tangent;
    #[inline(always)]
    fn zero_tangent(&self) -> T::Tangent {
        (**self).zero_tangent()
    }
    #[inline(always)]
    fn finish_tangent(&self, d: T::Tangent) -> T::Tangent {
        (**self).finish_tangent(d)
    }
    #[inline(always)]
    fn seed_tangent(&self) -> T::Tangent {
        (**self).seed_tangent()
    }
    #[inline(always)]
    fn cotangent_shape(&self) -> CotangentShape {
        (**self).cotangent_shape()
    }
    #[inline(always)]
    fn shape_of_cotangent(ct: &T::Tangent) -> CotangentShape {
        T::shape_of_cotangent(ct)
    }
}

impl<T: Differentiable + ?Sized> Differentiable for &mut T {
    type Tangent = T::Tangent;
    #[inline(always)]
    fn zero_tangent(&self) -> T::Tangent {
        (**self).zero_tangent()
    }
    #[inline(always)]
    fn finish_tangent(&self, d: T::Tangent) -> T::Tangent {
        (**self).finish_tangent(d)
    }
    #[inline(always)]
    fn seed_tangent(&self) -> T::Tangent {
        (**self).seed_tangent()
    }
    #[inline(always)]
    fn cotangent_shape(&self) -> CotangentShape {
        (**self).cotangent_shape()
    }
    #[inline(always)]
    fn shape_of_cotangent(ct: &T::Tangent) -> CotangentShape {
        T::shape_of_cotangent(ct)
    }
}

impl<T: HasMeta + ?Sized> HasMeta for &T {
    type Meta = T::Meta;
    #[inline(always)]
    fn meta(&self) -> T::Meta {
        (**self).meta()
    }
}

impl<T: HasMeta + ?Sized> HasMeta for &mut T {
    type Meta = T::Meta;
    #[inline(always)]
    fn meta(&self) -> T::Meta {
        (**self).meta()
    }
}

// ---------------------------------------------------------------- tuples

impl Differentiable for () {
    type Tangent = ();
    fn zero_tangent(&self) {}
}

impl Cotangent for () {
    fn zero() {}
    fn is_symbolic_zero(&self) -> bool {
        true
    }
    fn accumulate(&mut self, _other: ()) {}
}

impl HasMeta for () {
    type Meta = ();
    fn meta(&self) {}
}

macro_rules! tuple_impls {
    ($($T:ident $i:tt),+) => {
        impl<$($T: Differentiable),+> Differentiable for ($($T,)+) {
            type Tangent = ($($T::Tangent,)+);
            fn zero_tangent(&self) -> Self::Tangent {
                ($(self.$i.zero_tangent(),)+)
            }
            fn finish_tangent(&self, d: Self::Tangent) -> Self::Tangent {
                ($(self.$i.finish_tangent(d.$i),)+)
            }
            fn cotangent_shape(&self) -> CotangentShape {
                let parts = vec![$(self.$i.cotangent_shape(),)+];
                if parts.iter().all(|p| matches!(p, CotangentShape::Any)) {
                    CotangentShape::Any
                } else {
                    CotangentShape::Parts(parts)
                }
            }
            fn shape_of_cotangent(ct: &Self::Tangent) -> CotangentShape {
                CotangentShape::Parts(vec![$($T::shape_of_cotangent(&ct.$i),)+])
            }
        }

        impl<$($T: Cotangent),+> Cotangent for ($($T,)+) {
            fn zero() -> Self {
                ($($T::zero(),)+)
            }
            fn is_symbolic_zero(&self) -> bool {
                $(self.$i.is_symbolic_zero())&&+
            }
            fn accumulate(&mut self, other: Self) {
                $(self.$i.accumulate(other.$i);)+
            }
        }

        impl<$($T: HasMeta),+> HasMeta for ($($T,)+) {
            type Meta = ($($T::Meta,)+);
            fn meta(&self) -> Self::Meta {
                ($(self.$i.meta(),)+)
            }
        }
    };
}

tuple_impls!(A 0);
tuple_impls!(A 0, B 1);
tuple_impls!(A 0, B 1, C 2);
tuple_impls!(A 0, B 1, C 2, D 3);
tuple_impls!(A 0, B 1, C 2, D 3, E 4);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5);

// ---------------------------------------------------------------- free functions

/// The symbolic zero of `T`.
///
/// ```
/// use autodiff_runtime::__private::{nonzero, zero};
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(zero::<f64>(), 0.0);
/// assert!(!nonzero(&zero::<Tensor>()));
/// ```
#[inline(always)]
pub fn zero<T: Cotangent>() -> T {
    T::zero()
}

/// The symbolic zero of the tangent type of `primal` (lets generated code
/// type an adjoint from its primal without naming the type).
///
/// ```
/// use autodiff_runtime::__private::{finish, zero_for};
/// use autodiff_runtime::Tensor;
///
/// let x = Tensor::ones(&[2]);
/// let d = zero_for(&x); // a Tensor, symbolic zero
/// assert_eq!(finish(d, &x), Tensor::zeros(&[2]));
/// ```
#[inline(always)]
pub fn zero_for<P: Differentiable + ?Sized>(_primal: &P) -> P::Tangent {
    <P::Tangent as Cotangent>::zero()
}

/// `dst += v`.
///
/// ```
/// use autodiff_runtime::__private::{acc, zero};
/// use autodiff_runtime::Tensor;
///
/// let mut d = zero();
/// acc(&mut d, Tensor::from([1.0, 2.0]));
/// acc(&mut d, Tensor::from([1.0, 1.0]));
/// assert_eq!(d.to_vec(), vec![2.0, 3.0]);
/// ```
#[inline(always)]
pub fn acc<T: Cotangent>(dst: &mut T, v: T) {
    dst.accumulate(v)
}

/// `dst += s · g`: how the pullback adds what a loop reversed inside its
/// forward summed per unit cotangent of its accumulator (`g` = Σᵢ ∂eᵢ/∂v for
/// `acc += eᵢ`, and `s` = the accumulator's cotangent s̄). With `s = 1`
/// (`grad`, `value_and_grad`) `g` is moved, not scaled; into a symbolic
/// zero it is moved, not added.
///
/// ```
/// use autodiff_runtime::__private::{acc_scaled, zero};
///
/// let mut d: Vec<f64> = zero();
/// acc_scaled(&mut d, 2.0, vec![1.0, -3.0]);
/// acc_scaled(&mut d, 1.0, vec![0.5, 0.5]);
/// assert_eq!(d, vec![2.5, -5.5]);
/// ```
#[inline]
pub fn acc_scaled<T: Cotangent + crate::optim::Parameters>(dst: &mut T, s: f64, mut g: T) {
    if s != 1.0 && !g.is_symbolic_zero() {
        g.scale_mut(s);
    }
    dst.accumulate(g)
}

/// Moves the gradient out of `src`, leaving a symbolic zero.
///
/// ```
/// use autodiff_runtime::__private::take;
///
/// let mut d = vec![1.0, 2.0];
/// assert_eq!(take(&mut d), vec![1.0, 2.0]);
/// assert!(d.is_empty());
/// ```
#[inline(always)]
pub fn take<T: Cotangent>(src: &mut T) -> T {
    std::mem::replace(src, T::zero())
}

/// Whether `g` may be nonzero (is not the symbolic zero). Always `true` for `f64`.
///
/// ```
/// use autodiff_runtime::__private::nonzero;
///
/// assert!(nonzero(&0.0));
/// assert!(!nonzero(&Vec::<f64>::new()));
/// ```
#[inline(always)]
pub fn nonzero<T: Cotangent>(g: &T) -> bool {
    !g.is_symbolic_zero()
}

/// The final gradient of an input: a symbolic zero becomes real zeros of the
/// shape of `primal`; a short `Vec<f64>` is padded to its length, a longer
/// one (values pushed onto a copy of the input) cut to it.
///
/// ```
/// use autodiff_runtime::__private::finish;
///
/// assert_eq!(finish(vec![1.0], &vec![5.0, 6.0, 7.0]), vec![1.0, 0.0, 0.0]);
/// assert_eq!(finish(vec![1.0, 2.0, 3.0], &vec![5.0, 6.0]), vec![1.0, 2.0]);
/// ```
#[inline(always)]
pub fn finish<P: Differentiable + ?Sized>(d: P::Tangent, primal: &P) -> P::Tangent {
    primal.finish_tangent(d)
}

/// The gradient `backward()` starts from: `1.0` for `f64`, ones for a tensor
/// with exactly one element. Panics for any other output, in PyTorch's words.
///
/// ```
/// use autodiff_runtime::__private::seed;
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(seed(&3.0), 1.0);
/// assert_eq!(seed(&Tensor::scalar(3.0)), Tensor::scalar(1.0));
/// ```
#[inline(always)]
pub fn seed<P: Differentiable + ?Sized>(out: &P) -> P::Tangent {
    out.seed_tangent()
}

/// What a derivative rule needs to know of the shape of `x`.
///
/// ```
/// use autodiff_runtime::__private::meta;
/// use autodiff_runtime::{ScalarMeta, Shape, Tensor};
///
/// assert_eq!(meta(&2.0), ScalarMeta);
/// assert_eq!(meta(&&Tensor::zeros(&[4])), Shape(vec![4]));
/// ```
#[inline(always)]
pub fn meta<T: HasMeta + ?Sized>(x: &T) -> T::Meta {
    x.meta()
}

/// A scalar index into a `Vec<f64>` or `[f64]`: `usize` or a reference to one.
#[doc(hidden)]
pub trait ScalarIndex {
    fn index(&self) -> usize;
}

impl ScalarIndex for usize {
    #[inline(always)]
    fn index(&self) -> usize {
        *self
    }
}

impl<T: ScalarIndex + ?Sized> ScalarIndex for &T {
    #[inline(always)]
    fn index(&self) -> usize {
        (**self).index()
    }
}

/// A multi-index into a tensor: `[usize; N]`, `[usize]`, `Vec<usize>`, or a
/// reference to one of these.
#[doc(hidden)]
pub trait TensorIndex {
    fn indices(&self) -> &[usize];
}

impl<const N: usize> TensorIndex for [usize; N] {
    fn indices(&self) -> &[usize] {
        self
    }
}

impl TensorIndex for [usize] {
    fn indices(&self) -> &[usize] {
        self
    }
}

impl TensorIndex for Vec<usize> {
    fn indices(&self) -> &[usize] {
        self
    }
}

impl<T: TensorIndex + ?Sized> TensorIndex for &T {
    fn indices(&self) -> &[usize] {
        (**self).indices()
    }
}

/// How `g` for the element at `index` is added to the gradient of an indexed
/// container, given the container's meta.
#[doc(hidden)]
pub trait IndexMeta<I: ?Sized> {
    /// The gradient of the indexed container.
    type Tangent;
    /// The cotangent of what the index selects: `f64` for one element,
    /// `Vec<f64>` for a range (a sub-slice).
    type Part;
    fn acc_index(&self, dst: &mut Self::Tangent, index: &I, g: Self::Part);
}

impl<I: ScalarIndex + ?Sized> IndexMeta<I> for LenMeta {
    type Tangent = Vec<f64>;
    type Part = f64;
    #[inline]
    fn acc_index(&self, dst: &mut Vec<f64>, index: &I, g: f64) {
        if dst.len() < self.0 {
            *dst = grown_to(std::mem::take(dst), self.0);
        }
        dst[index.index()] += g;
    }
}

/// `d` padded with zeros to `len`. Takes and returns the vector by value,
/// so that no reference to the caller's gradient escapes into a call: a
/// generated reverse loop calls `acc_index` once per element, and if the
/// gradient's address escaped (as `dst.resize(…)` makes it) the compiler
/// would have to reload its pointer and length after every store.
#[cold]
#[inline(never)]
fn grown_to(mut d: Vec<f64>, len: usize) -> Vec<f64> {
    d.resize(len, 0.0);
    d
}

/// A range of a slice or vector (`&xs[1..]`): its cotangent is added to
/// the elements it covers. A shorter cotangent is one whose tail is zero.
macro_rules! range_index {
    ($($range:ty),*) => {$(
        impl IndexMeta<$range> for LenMeta {
            type Tangent = Vec<f64>;
            type Part = Vec<f64>;
            fn acc_index(&self, dst: &mut Vec<f64>, index: &$range, g: Vec<f64>) {
                if g.is_empty() {
                    return;
                }
                if dst.len() < self.0 {
                    *dst = grown_to(std::mem::take(dst), self.0);
                }
                let start = match std::ops::RangeBounds::start_bound(index) {
                    std::ops::Bound::Included(&s) => s,
                    std::ops::Bound::Excluded(&s) => s + 1,
                    std::ops::Bound::Unbounded => 0,
                };
                for (d, v) in dst[start..].iter_mut().zip(g) {
                    *d += v;
                }
            }
        }
    )*};
}

range_index!(
    std::ops::Range<usize>,
    std::ops::RangeFrom<usize>,
    std::ops::RangeTo<usize>,
    std::ops::RangeInclusive<usize>,
    std::ops::RangeToInclusive<usize>,
    std::ops::RangeFull
);

impl<I: TensorIndex + ?Sized> IndexMeta<I> for Shape {
    type Tangent = Tensor;
    type Part = f64;
    fn acc_index(&self, dst: &mut Tensor, index: &I, g: f64) {
        if dst.symbolic_zero {
            *dst = Tensor::zeros(&self.0);
        }
        assert!(
            dst.shape() == self.0.as_slice(),
            "cannot accumulate into a gradient of shape {:?} for a tensor of shape {:?}",
            dst.shape(),
            self.0
        );
        let offset = dst.offset_of(index.indices());
        dst.data_mut()[offset] += g;
    }
}

/// `dst[index] += g`, where `dst` is the gradient of an indexed container
/// (`Vec<f64>` for slices and vectors, `Tensor` for tensors) and `base_meta`
/// its meta; a symbolic zero or short `dst` is first grown to full size.
///
/// ```
/// use autodiff_runtime::__private::{acc_index, meta, zero};
///
/// let x = vec![1.0, 2.0, 3.0];
/// let mut d = zero();
/// acc_index(&mut d, &meta(&x), &1usize, 4.0);
/// assert_eq!(d, vec![0.0, 4.0, 0.0]);
/// ```
#[inline(always)]
pub fn acc_index<M: IndexMeta<I>, I: ?Sized>(
    dst: &mut M::Tangent,
    base_meta: &M,
    index: &I,
    g: M::Part,
) {
    base_meta.acc_index(dst, index, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_symbolic_zero_is_invisible_after_finish() {
        let x = Tensor::arange(3.0);
        let d: Tensor = zero();
        assert!(!nonzero(&d));
        let d = finish(d, &x);
        assert_eq!(d, Tensor::zeros(&[3]));
        let d = finish::<&Tensor>(zero(), &&x);
        assert_eq!(d.shape(), &[3]);
    }

    #[test]
    fn f64_is_never_symbolic() {
        let d: f64 = zero();
        assert!(nonzero(&d));
        assert_eq!(finish(d, &3.0), 0.0);
    }

    /// The f64 zero is an exact identity of `acc`, and `finish` shows it as
    /// `+0.0` and leaves every other gradient as it is.
    #[test]
    fn f64_zero_adds_nothing_and_finishes_positive() {
        for c in [0.0, -0.0, 1.5, -2.0e-300, f64::INFINITY, f64::NAN] {
            let mut d: f64 = zero();
            acc(&mut d, c);
            assert_eq!(d.to_bits(), c.to_bits(), "{c}");
        }
        let untouched: f64 = zero();
        assert_eq!(finish(untouched, &1.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(finish(-3.25, &1.0), -3.25);
    }

    #[test]
    fn accumulate_reuses_unique_buffer() {
        let mut a = Tensor::ones(&[3]);
        let p = std::sync::Arc::as_ptr(&a.data);
        acc(&mut a, Tensor::ones(&[3]));
        assert_eq!(std::sync::Arc::as_ptr(&a.data), p);
        assert_eq!(a.to_vec(), vec![2.0; 3]);
        // Shared storage is not written through.
        let b = a.clone();
        acc(&mut a, Tensor::ones(&[3]));
        assert_eq!(b.to_vec(), vec![2.0; 3]);
        assert_eq!(a.to_vec(), vec![3.0; 3]);
    }

    #[test]
    #[should_panic(
        expected = "cannot accumulate a gradient of shape [2] into a gradient of shape [3]"
    )]
    fn accumulate_shape_mismatch_names_both() {
        let mut a = Tensor::ones(&[3]);
        acc(&mut a, Tensor::ones(&[2]));
    }

    #[test]
    fn take_leaves_zero() {
        let mut a = Tensor::ones(&[2]);
        let t = take(&mut a);
        assert!(a.is_symbolic_zero());
        assert_eq!(t.to_vec(), vec![1.0, 1.0]);
        let mut v = vec![1.0];
        assert_eq!(take(&mut v), vec![1.0]);
        assert!(v.is_empty());
    }

    #[test]
    fn seeds() {
        assert_eq!(seed(&2.0), 1.0);
        assert_eq!(seed(&Tensor::scalar(5.0)), Tensor::scalar(1.0));
        assert_eq!(seed(&Tensor::from([[5.0]])).shape(), &[1, 1]);
    }

    #[test]
    #[should_panic(expected = "grad can be implicitly created only for scalar outputs")]
    fn seed_of_vector_panics() {
        seed(&Tensor::arange(2.0));
    }

    #[test]
    fn index_accumulation() {
        let x = vec![1.0, 2.0, 3.0];
        let m = meta(&x);
        let mut d: Vec<f64> = zero();
        acc_index(&mut d, &m, &1usize, 2.0);
        acc_index(&mut d, &m, &1usize, 0.5);
        assert_eq!(d, vec![0.0, 2.5, 0.0]);
        let s: &[f64] = &x;
        assert_eq!(finish::<&[f64]>(vec![], &s), vec![0.0; 3]);

        let t = Tensor::zeros(&[2, 2]);
        let m = meta(&t);
        let mut dt: Tensor = zero();
        acc_index(&mut dt, &m, &[1, 0], 3.0);
        acc_index(&mut dt, &m, &vec![1, 0], 1.0);
        acc_index(&mut dt, &m, &&[0usize, 1][..], 1.0);
        assert_eq!(dt.to_vec(), vec![0.0, 1.0, 4.0, 0.0]);
    }

    #[test]
    fn tuples() {
        let p = (1.0, Tensor::ones(&[2]), vec![0.0; 2]);
        let d: (f64, Tensor, Vec<f64>) = zero();
        let d = finish(d, &p);
        assert_eq!(d, (0.0, Tensor::zeros(&[2]), vec![0.0, 0.0]));
        let mut e = d.clone();
        acc(&mut e, (1.0, Tensor::ones(&[2]), vec![1.0, 1.0]));
        assert_eq!(e.0, 1.0);
        assert_eq!(meta(&p).1, Shape(vec![2]));
    }
}

// ---------------------------------------------------------------- [f64; N]

impl<const N: usize> Differentiable for [f64; N] {
    type Tangent = [f64; N];
    fn zero_tangent(&self) -> [f64; N] {
        [0.0; N]
    }
    fn seed_tangent(&self) -> [f64; N] {
        assert!(
            N == 1,
            "grad can be implicitly created only for scalar outputs \
             (the output has {N} elements: pass a gradient of that length instead)"
        );
        [1.0; N]
    }
}

impl<const N: usize> Cotangent for [f64; N] {
    fn zero() -> [f64; N] {
        [0.0; N]
    }
    fn is_symbolic_zero(&self) -> bool {
        false
    }
    fn accumulate(&mut self, other: [f64; N]) {
        for (d, o) in self.iter_mut().zip(other) {
            *d += o;
        }
    }
}

/// The shape of a fixed-size array: nothing beyond its type.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ArrayMeta<const N: usize>;

impl<const N: usize> HasMeta for [f64; N] {
    type Meta = ArrayMeta<N>;
    fn meta(&self) -> ArrayMeta<N> {
        ArrayMeta
    }
}

impl<I: ScalarIndex + ?Sized, const N: usize> IndexMeta<I> for ArrayMeta<N> {
    type Tangent = [f64; N];
    type Part = f64;
    #[inline]
    fn acc_index(&self, dst: &mut [f64; N], index: &I, g: f64) {
        dst[index.index()] += g;
    }
}

/// The cotangent of one element of a sequence, taken out of the sequence's
/// cotangent (left zero there): the reverse of a write `x[i] = v`, whose
/// old element no longer reaches anything (`v̄ = x̄[i]`, then `x̄[i] = 0`).
#[doc(hidden)]
pub trait TakeIndex<I: ?Sized> {
    /// What one element's cotangent is.
    type Part;
    fn take_index(&mut self, index: &I) -> Self::Part;
}

impl<I: ScalarIndex + ?Sized> TakeIndex<I> for Vec<f64> {
    type Part = f64;
    #[inline]
    fn take_index(&mut self, index: &I) -> f64 {
        match self.get_mut(index.index()) {
            Some(d) => std::mem::replace(d, 0.0),
            // A short gradient is zero past its end.
            None => 0.0,
        }
    }
}

impl<I: ScalarIndex + ?Sized, const N: usize> TakeIndex<I> for [f64; N] {
    type Part = f64;
    #[inline]
    fn take_index(&mut self, index: &I) -> f64 {
        std::mem::replace(&mut self[index.index()], 0.0)
    }
}

/// `x̄[i]`, taken out of the cotangent of a sequence `x` (see [`TakeIndex`]).
///
/// ```
/// use autodiff_runtime::__private::index_cotangent;
///
/// let mut d = vec![1.0, 2.0];
/// assert_eq!(index_cotangent(&mut d, &1usize), 2.0);
/// assert_eq!(d, vec![1.0, 0.0]);
/// assert_eq!(index_cotangent(&mut d, &5usize), 0.0);
/// ```
#[inline(always)]
pub fn index_cotangent<T: TakeIndex<I>, I: ?Sized>(d: &mut T, index: &I) -> T::Part {
    d.take_index(index)
}

/// Element `k` of the cotangent of an array or vector literal (zero past
/// the end of a short `Vec`).
#[doc(hidden)]
pub trait Part {
    fn part(&self, k: usize) -> f64;
}

impl Part for Vec<f64> {
    #[inline]
    fn part(&self, k: usize) -> f64 {
        self.get(k).copied().unwrap_or(0.0)
    }
}

impl<const N: usize> Part for [f64; N] {
    #[inline]
    fn part(&self, k: usize) -> f64 {
        self[k]
    }
}

/// `ȳ[k]` for `y = [a₀, a₁, …]`: the cotangent of element `k`.
///
/// ```
/// use autodiff_runtime::__private::part;
///
/// assert_eq!(part(&vec![1.0, 2.0], 1), 2.0);
/// assert_eq!(part(&vec![1.0], 3), 0.0);
/// assert_eq!(part(&[4.0, 5.0], 0), 4.0);
/// ```
#[inline(always)]
pub fn part<T: Part + ?Sized>(g: &T, k: usize) -> f64 {
    g.part(k)
}

// ---------------------------------------------------------------- Vec<Vec<f64>>, [Vec<f64>]

/// Rows of possibly different lengths (a matrix as a `Vec` of rows).
impl Differentiable for Vec<Vec<f64>> {
    type Tangent = Vec<Vec<f64>>;
    fn zero_tangent(&self) -> Vec<Vec<f64>> {
        self.iter().map(|r| vec![0.0; r.len()]).collect()
    }
    fn finish_tangent(&self, mut d: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        d.resize(self.len(), Vec::new());
        d.into_iter()
            .zip(self)
            .map(|(d, r)| pad_to(d, r.len()))
            .collect()
    }
    fn seed_tangent(&self) -> Vec<Vec<f64>> {
        panic!(
            "grad can be implicitly created only for scalar outputs (the output is a Vec of rows: pass a gradient of that shape instead)"
        )
    }
    fn cotangent_shape(&self) -> CotangentShape {
        CotangentShape::Parts(
            self.iter()
                .map(|r| CotangentShape::Dims(vec![r.len()]))
                .collect(),
        )
    }
    fn shape_of_cotangent(ct: &Vec<Vec<f64>>) -> CotangentShape {
        CotangentShape::Parts(
            ct.iter()
                .map(|r| CotangentShape::Dims(vec![r.len()]))
                .collect(),
        )
    }
}

impl Differentiable for [Vec<f64>] {
    type Tangent = Vec<Vec<f64>>;
    fn zero_tangent(&self) -> Vec<Vec<f64>> {
        self.iter().map(|r| vec![0.0; r.len()]).collect()
    }
    fn finish_tangent(&self, mut d: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        d.resize(self.len(), Vec::new());
        d.into_iter()
            .zip(self)
            .map(|(d, r)| pad_to(d, r.len()))
            .collect()
    }
    fn seed_tangent(&self) -> Vec<Vec<f64>> {
        panic!(
            "grad can be implicitly created only for scalar outputs (the output is a Vec of rows: pass a gradient of that shape instead)"
        )
    }
    fn cotangent_shape(&self) -> CotangentShape {
        CotangentShape::Parts(
            self.iter()
                .map(|r| CotangentShape::Dims(vec![r.len()]))
                .collect(),
        )
    }
    fn shape_of_cotangent(ct: &Vec<Vec<f64>>) -> CotangentShape {
        CotangentShape::Parts(
            ct.iter()
                .map(|r| CotangentShape::Dims(vec![r.len()]))
                .collect(),
        )
    }
}

impl Cotangent for Vec<Vec<f64>> {
    fn zero() -> Vec<Vec<f64>> {
        Vec::new()
    }
    fn is_symbolic_zero(&self) -> bool {
        self.is_empty()
    }
    fn accumulate(&mut self, other: Vec<Vec<f64>>) {
        if self.len() < other.len() {
            self.resize(other.len(), Vec::new());
        }
        for (d, o) in self.iter_mut().zip(other) {
            d.accumulate(o);
        }
    }
}

/// The length of each row.
#[doc(hidden)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowsMeta(pub Vec<usize>);

impl HasMeta for Vec<Vec<f64>> {
    type Meta = RowsMeta;
    fn meta(&self) -> RowsMeta {
        RowsMeta(self.iter().map(Vec::len).collect())
    }
}

impl HasMeta for [Vec<f64>] {
    type Meta = RowsMeta;
    fn meta(&self) -> RowsMeta {
        RowsMeta(self.iter().map(Vec::len).collect())
    }
}

/// A whole row `xs[i]`: its cotangent is added to row `i`.
impl<I: ScalarIndex + ?Sized> IndexMeta<I> for RowsMeta {
    type Tangent = Vec<Vec<f64>>;
    type Part = Vec<f64>;
    fn acc_index(&self, dst: &mut Vec<Vec<f64>>, index: &I, g: Vec<f64>) {
        if dst.len() < self.0.len() {
            dst.resize(self.0.len(), Vec::new());
        }
        dst[index.index()].accumulate(g);
    }
}

/// `x̄[i][j] += g` for rows `x`: one element of a matrix kept as a `Vec` of rows.
///
/// ```
/// use autodiff_runtime::__private::{acc_index2, meta, zero};
///
/// let x = vec![vec![1.0, 2.0], vec![3.0]];
/// let mut d = zero();
/// acc_index2(&mut d, &meta(&x), &0usize, &1usize, 4.0);
/// assert_eq!(d, vec![vec![0.0, 4.0], vec![]]);
/// ```
#[inline]
pub fn acc_index2<I: ScalarIndex + ?Sized, J: ScalarIndex + ?Sized>(
    dst: &mut Vec<Vec<f64>>,
    meta: &RowsMeta,
    i: &I,
    j: &J,
    g: f64,
) {
    if dst.len() < meta.0.len() {
        dst.resize(meta.0.len(), Vec::new());
    }
    let (i, j) = (i.index(), j.index());
    let row = &mut dst[i];
    if row.len() < meta.0[i] {
        row.resize(meta.0[i], 0.0);
    }
    row[j] += g;
}
