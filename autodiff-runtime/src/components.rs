//! Coordinates `x`, `y`, `z`, `w` of a struct the user derived
//! `Differentiable` for, read from a value computed in the body.
//!
//! The macro cannot see a local's type: it reads `q.x` of a local as a
//! coordinate (nalgebra's vectors and points have them), and the rule
//! `rules::x_d0(ḡ, meta(q))` picks the gradient by the shape's type. A derived
//! struct's shape is [`StructMeta`] (zero-sized), and its coordinate fields
//! are reached through [`Component`], which the derive implements for each
//! differentiated field named `x`, `y`, `z` or `w`:
//! `q̄ = zero; q̄.x += ḡ` (one-hot in the field, zeros elsewhere).

use crate::cotangent::Cotangent;
use std::marker::PhantomData;

/// The shape of a value of a struct that derives `Differentiable`: nothing
/// but its type (zero-sized), so that rules can build its gradient.
///
/// ```
/// use autodiff_runtime::__private::StructMeta;
///
/// struct P;
/// let m: StructMeta<P> = StructMeta::new();
/// assert_eq!(std::mem::size_of_val(&m), 0);
/// ```
pub struct StructMeta<T: ?Sized>(PhantomData<fn() -> T>);

impl<T: ?Sized> StructMeta<T> {
    /// The shape of any value of `T`.
    pub const fn new() -> Self {
        StructMeta(PhantomData)
    }
}

impl<T: ?Sized> Clone for StructMeta<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for StructMeta<T> {}
impl<T: ?Sized> Default for StructMeta<T> {
    fn default() -> Self {
        Self::new()
    }
}
impl<T: ?Sized> std::fmt::Debug for StructMeta<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StructMeta")
    }
}

/// Field `K` of the coordinates `x, y, z, w` (0, 1, 2, 3) of a derived
/// struct, in its gradient (the struct itself). Implemented by
/// `#[derive(Differentiable)]` for each differentiated field of those names.
///
/// ```
/// use autodiff_runtime::__private::Component;
/// use autodiff_runtime::{Cotangent, Differentiable};
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct P {
///     x: f64,
/// }
/// impl Component<0> for P {
///     type Field = f64;
///     fn component(t: &mut P) -> &mut f64 {
///         &mut t.x
///     }
/// }
/// let mut p = P { x: 1.0 };
/// *P::component(&mut p) += 2.0;
/// assert_eq!(p.x, 3.0);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no differentiated field for this coordinate (`.x` is 0, `.y` 1, `.z` 2, `.w` 3)",
    label = "read from a value computed in the body",
    note = "give the struct that field without `#[no_grad]`, or read the field from the parameter itself (`p.x`)"
)]
pub trait Component<const K: usize> {
    /// The field's type (its own gradient type).
    type Field: Cotangent;
    /// The field, in a gradient of the struct.
    fn component(t: &mut Self) -> &mut Self::Field;
}

/// `q̄` for `y = q.<coordinate K>` of a derived struct: zeros, `ḡ` in field K.
pub(crate) fn one_hot<T: Component<K> + Cotangent, const K: usize>(g: &T::Field) -> T
where
    T::Field: Clone,
{
    let mut t = T::zero();
    T::component(&mut t).accumulate(g.clone());
    t
}

/// A tuple whose part `K` can be set in a gradient of it: what `t.0` of a
/// tuple computed in the body (`let r = helper(x); r.0 * r.1`) gives back,
/// `t̄ += (0, …, ḡ, …, 0)` with ḡ at K (`rules::tuple<K>_d0`).
///
/// ```
/// use autodiff_runtime::__private::TupleField;
///
/// let t: (f64, Vec<f64>) = <(f64, Vec<f64>) as TupleField<1>>::with_part(vec![2.0]);
/// assert_eq!(t, (0.0, vec![2.0]));
/// ```
#[diagnostic::on_unimplemented(
    message = "`.{K}` of a `{Self}` computed in the body cannot carry a gradient: only parts of tuples do",
    label = "a part of a value computed in the body",
    note = "destructure the value into names (`let (a, b) = pair;`), or read the field from the parameter itself (`p.0`)"
)]
pub trait TupleField<const K: usize>: Cotangent {
    /// The part's type (its own gradient type).
    type Part: Cotangent;
    /// Zeros, with `g` as part K.
    fn with_part(g: Self::Part) -> Self;
}

macro_rules! tuple_field {
    ($tys:tt; $($K:tt => $P:ident),+) => {$(
        tuple_field!(@one $tys $K $P);
    )+};
    (@one ($($T:ident),+) $K:tt $P:ident) => {
        impl<$($T: Cotangent),+> TupleField<$K> for ($($T,)+) {
            type Part = $P;
            #[inline]
            fn with_part(g: $P) -> Self {
                let mut t = <Self as Cotangent>::zero();
                t.$K = g;
                t
            }
        }
    };
}

tuple_field!((A); 0 => A);
tuple_field!((A, B); 0 => A, 1 => B);
tuple_field!((A, B, C); 0 => A, 1 => B, 2 => C);
tuple_field!((A, B, C, D); 0 => A, 1 => B, 2 => C, 3 => D);
tuple_field!((A, B, C, D, E); 0 => A, 1 => B, 2 => C, 3 => D, 4 => E);
tuple_field!((A, B, C, D, E, F); 0 => A, 1 => B, 2 => C, 3 => D, 4 => E, 5 => F);

// A stack of zero-sized shapes allocates nothing.
impl<T: ?Sized> crate::tape::Meta for StructMeta<T> {
    type Tape = crate::tape::StackTape<StructMeta<T>>;
}

/// What a pullback gives for a parameter it does not differentiate
/// (`#[no_grad]`, or left out of `wrt(..)`). Zero-sized, and not a
/// gradient: a caller that passed an active value there gets a type error
/// naming it ("expected `f64`, found `NotDifferentiated`"), not a silent
/// zero. Wrap such an argument in `stop_gradient(..)` to drop its gradient on
/// purpose, or differentiate the parameter.
///
/// ```
/// use autodiff_runtime::__private::NotDifferentiated;
///
/// assert_eq!(std::mem::size_of::<NotDifferentiated>(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotDifferentiated;

/// The receiver a differentiable method passes to another one it calls
/// (`self.other(x)` in a method): the callee's generated function takes the
/// receiver as written there (`self`, `&self`), which the caller's own
/// receiver may not match. Generated code passes `&receiver`; this picks a
/// reference or a clone by the type the callee asks for, as a method call's
/// auto-referencing would.
///
/// ```
/// use autodiff_runtime::__private::receiver;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct G(f64);
/// fn by_value(g: G) -> f64 { g.0 }
/// fn by_ref(g: &G) -> f64 { g.0 }
/// let g = G(2.0);
/// let r = &g;
/// assert_eq!(by_value(receiver(&g)) + by_ref(receiver(&g)), 4.0);
/// assert_eq!(by_value(receiver(&r)) + by_ref(receiver(&r)), 4.0);
/// ```
pub fn receiver<T, R: AsReceiver<T>>(r: R) -> T {
    r.as_receiver()
}

/// See [`receiver`].
pub trait AsReceiver<T> {
    /// The receiver as the callee takes it.
    fn as_receiver(self) -> T;
}

impl<T> AsReceiver<T> for T {
    fn as_receiver(self) -> T {
        self
    }
}

impl<T: Clone> AsReceiver<T> for &T {
    fn as_receiver(self) -> T {
        self.clone()
    }
}

impl<T: Clone> AsReceiver<T> for &&T {
    fn as_receiver(self) -> T {
        (*self).clone()
    }
}
