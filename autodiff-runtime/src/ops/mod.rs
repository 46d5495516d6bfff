//! Primitive operations, one file per family. Each file holds an op's value
//! (a method of [`Tensor`] or an operator impl) next to its derivative rules
//! `<op>_d<k>`, whose doc comment states the rule's math; `table.rs` holds
//! the table of primitives (one row each) and the lists the elementwise ones
//! are generated from, `checks.rs` the checks of the rows written by hand.
//!
//! A rule is a free generic function so that code generated without type
//! names can call it: `rules::mul_d0(&g, &a_meta, &b)`. Behind it, a marker
//! type (`MulD0`) implements [`Rule`] once per combination of operand types
//! (`f64`, `Tensor`, mixes), and type inference picks the implementation
//! from the argument types.

use crate::tensor::{BoolTensor, Tensor};

pub mod binary;
pub(crate) mod broadcast;
pub(crate) mod checks;
mod compare;
pub mod elementwise;
pub mod fused;
pub mod linalg;
pub mod nalgebra_rules;
pub mod reduce;
pub mod shape;
pub mod softmax;
pub(crate) mod special;
pub mod table;
pub(crate) mod vmath;

/// One derivative rule for one combination of argument types. `Args` is the
/// tuple of borrowed arguments, `(&g, &need0, …)`.
#[doc(hidden)]
pub trait Rule<Args> {
    /// The cotangent contribution: the type of the operand's gradient.
    type Out;
    /// Computes the contribution.
    fn apply(args: Args) -> Self::Out;
}

/// An operand value handed to a rule, possibly behind references: the rule
/// sees the value itself (`&&Tensor` and `&Tensor` both reach the `Tensor`
/// rule).
#[doc(hidden)]
pub trait Operand {
    /// The value behind the references.
    type Value: ?Sized;
    /// Looks through the references.
    fn value(&self) -> &Self::Value;
}

impl Operand for f64 {
    type Value = f64;
    #[inline(always)]
    fn value(&self) -> &f64 {
        self
    }
}

impl Operand for Tensor {
    type Value = Tensor;
    #[inline(always)]
    fn value(&self) -> &Tensor {
        self
    }
}

impl Operand for BoolTensor {
    type Value = BoolTensor;
    #[inline(always)]
    fn value(&self) -> &BoolTensor {
        self
    }
}

impl<T: Operand + ?Sized> Operand for &T {
    type Value = T::Value;
    #[inline(always)]
    fn value(&self) -> &T::Value {
        (**self).value()
    }
}

impl<T: Operand + ?Sized> Operand for &mut T {
    type Value = T::Value;
    #[inline(always)]
    fn value(&self) -> &T::Value {
        (**self).value()
    }
}

/// The argument type a rule sees: the type itself, or (for `x: X: Operand`)
/// the value behind references.
macro_rules! rule_arg_ty {
    ($lt:lifetime, $T:ident) => { &$lt $T };
    ($lt:lifetime, $T:ident, $bound:ident) => { &$lt <$T as $crate::ops::$bound>::Value };
}

macro_rules! rule_arg {
    ($a:ident) => {
        $a
    };
    ($a:ident, $bound:ident) => {
        $crate::ops::$bound::value($a)
    };
}

/// Declares a rule's marker type and its free function:
/// `rule_fn!(/// doc\n sin_d0 => SinD0(g: G, x: X: Operand));`
macro_rules! rule_fn {
    (
        $(#[$attr:meta])*
        $name:ident => $Marker:ident ( $($arg:ident : $T:ident $(: $bound:ident)?),+ $(,)? )
    ) => {
        #[doc(hidden)]
        #[derive(Clone, Copy, Debug)]
        pub struct $Marker;

        $(#[$attr])*
        #[inline(always)]
        pub fn $name<'a, $($T: ?Sized $(+ $crate::ops::$bound)?),+>(
            $($arg: &'a $T),+
        ) -> <$Marker as $crate::ops::Rule<($($crate::ops::rule_arg_ty!('a, $T $(, $bound)?),)+)>>::Out
        where
            $Marker: $crate::ops::Rule<($($crate::ops::rule_arg_ty!('a, $T $(, $bound)?),)+)>,
        {
            <$Marker as $crate::ops::Rule<_>>::apply(($($crate::ops::rule_arg!($arg $(, $bound)?),)+))
        }
    };
}

pub(crate) use {rule_arg, rule_arg_ty, rule_fn};
