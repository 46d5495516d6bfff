//! Elementwise binary ops: `+ - * /` (broadcasting, every owned/borrowed/`f64`
//! mix), negation, `maximum`/`minimum`, and their derivative rules.
//!
//! A broadcast operand's gradient is the output gradient summed over the
//! broadcast dimensions (`sum_to_shape`); an `f64` operand of a tensor op gets
//! the sum over all elements.

use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use super::broadcast::{
    sum_to_shape_owned, zip, zip_assign, zip_owned, zip_owned_left, zip_owned_right,
};
use super::reduce::{MaxD0, MinD0};
use super::table::{
    Need, On, Primitive, Syntax, away_from_zero, exactly_zero, exactly_zero_tensor, gradcheck,
    gradcheck_var2,
};
use super::{Operand, Rule, rule_fn};
use crate::cotangent::{Cotangent, ScalarMeta, Shape};
use crate::graph::Var;
use crate::tensor::Tensor;

// ---------------------------------------------------------------- values

macro_rules! binary_operator {
    ($Op:ident, $op:ident, $OpAssign:ident, $op_assign:ident, $f:expr) => {
        impl $Op<Tensor> for Tensor {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: Tensor) -> Tensor {
                zip_owned(self, rhs, $f)
            }
        }
        impl $Op<&Tensor> for Tensor {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: &Tensor) -> Tensor {
                zip_owned_left(self, rhs, $f)
            }
        }
        impl $Op<Tensor> for &Tensor {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: Tensor) -> Tensor {
                zip_owned_right(self, rhs, $f)
            }
        }
        impl $Op<&Tensor> for &Tensor {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: &Tensor) -> Tensor {
                zip(self, rhs, $f)
            }
        }
        impl $Op<f64> for Tensor {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: f64) -> Tensor {
                let f = $f;
                self.map_owned(|x| f(x, rhs))
            }
        }
        impl $Op<f64> for &Tensor {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: f64) -> Tensor {
                let f = $f;
                self.map(|x| f(x, rhs))
            }
        }
        impl $Op<Tensor> for f64 {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: Tensor) -> Tensor {
                let f = $f;
                rhs.map_owned(|y| f(self, y))
            }
        }
        impl $Op<&Tensor> for f64 {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: &Tensor) -> Tensor {
                let f = $f;
                rhs.map(|y| f(self, y))
            }
        }
        // Borrowed scalars, as std offers `&f64 + &f64`: code that holds
        // `&f64` (pattern bindings, generic code) works unchanged.
        impl $Op<&f64> for Tensor {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: &f64) -> Tensor {
                $Op::$op(self, *rhs)
            }
        }
        impl $Op<&f64> for &Tensor {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: &f64) -> Tensor {
                $Op::$op(self, *rhs)
            }
        }
        impl $Op<Tensor> for &f64 {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: Tensor) -> Tensor {
                $Op::$op(*self, rhs)
            }
        }
        impl $Op<&Tensor> for &f64 {
            type Output = Tensor;
            #[inline]
            fn $op(self, rhs: &Tensor) -> Tensor {
                $Op::$op(*self, rhs)
            }
        }
        impl $OpAssign<&f64> for Tensor {
            #[inline]
            fn $op_assign(&mut self, rhs: &f64) {
                $OpAssign::$op_assign(self, *rhs)
            }
        }
        impl $OpAssign<Tensor> for Tensor {
            #[inline]
            fn $op_assign(&mut self, rhs: Tensor) {
                zip_assign(self, &rhs, $f)
            }
        }
        impl $OpAssign<&Tensor> for Tensor {
            #[inline]
            fn $op_assign(&mut self, rhs: &Tensor) {
                zip_assign(self, rhs, $f)
            }
        }
        impl $OpAssign<f64> for Tensor {
            #[inline]
            fn $op_assign(&mut self, rhs: f64) {
                zip_assign(self, &Tensor::scalar(rhs), $f)
            }
        }
    };
}

binary_operator!(Add, add, AddAssign, add_assign, |a: f64, b: f64| a + b);
binary_operator!(Sub, sub, SubAssign, sub_assign, |a: f64, b: f64| a - b);
binary_operator!(Mul, mul, MulAssign, mul_assign, |a: f64, b: f64| a * b);
binary_operator!(Div, div, DivAssign, div_assign, |a: f64, b: f64| a / b);

impl Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.map_owned(|x| -x)
    }
}

impl Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.map(|x| -x)
    }
}

impl Tensor {
    /// Elementwise maximum, broadcasting (PyTorch's `torch.maximum`).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::from([1.0, 5.0]);
    /// assert_eq!(a.maximum(&Tensor::scalar(2.0)).to_vec(), vec![2.0, 5.0]);
    /// ```
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        zip(self, other, |a, b| if a.is_nan() || a >= b { a } else { b })
    }

    /// Elementwise minimum, broadcasting (PyTorch's `torch.minimum`).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::from([1.0, 5.0]);
    /// assert_eq!(a.minimum(&Tensor::scalar(2.0)).to_vec(), vec![1.0, 2.0]);
    /// ```
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        zip(self, other, |a, b| if a.is_nan() || a <= b { a } else { b })
    }
}

// ---------------------------------------------------------------- rules

/// How a cotangent of the output reaches an operand of an elementwise op:
/// `f64` operand ← `f64` cotangent; `f64` operand ← sum of a `Tensor`
/// cotangent; `Tensor` operand ← `Tensor` cotangent summed to its shape.
trait ReduceTo<M> {
    type Out;
    fn reduce_to(self, meta: &M) -> Self::Out;
}

impl ReduceTo<ScalarMeta> for f64 {
    type Out = f64;
    #[inline(always)]
    fn reduce_to(self, _: &ScalarMeta) -> f64 {
        self
    }
}

impl ReduceTo<ScalarMeta> for Tensor {
    type Out = f64;
    fn reduce_to(self, _: &ScalarMeta) -> f64 {
        if self.symbolic_zero {
            0.0
        } else {
            self.data.iter().sum()
        }
    }
}

impl ReduceTo<Shape> for Tensor {
    type Out = Tensor;
    fn reduce_to(self, meta: &Shape) -> Tensor {
        if self.symbolic_zero {
            self
        } else {
            sum_to_shape_owned(self, &meta.0)
        }
    }
}

/// The strong zero: `v`, or exactly 0 where the cotangent `g` is zero (a
/// select, so loops over tensors stay branch-free). For rules whose local
/// derivative can be infinite or NaN (`1/b` at `b = 0`).
#[inline(always)]
pub(crate) fn strong(g: f64, v: f64) -> f64 {
    if g == 0.0 { 0.0 } else { v }
}

/// Sum of a tensor, or 0 for a symbolic zero.
fn total(t: &Tensor) -> f64 {
    if t.symbolic_zero {
        0.0
    } else {
        t.data.iter().sum()
    }
}

rule_fn!(
    /// `a + b`, operand `a`: `ā += reduce(ḡ)` (ḡ summed over the dimensions
    /// along which `a` was broadcast; all of it for an `f64` `a`).
    add_d0 => AddD0(g: G, a_meta: M)
);
rule_fn!(
    /// `a + b`, operand `b`: `b̄ += reduce(ḡ)`.
    add_d1 => AddD1(g: G, b_meta: M)
);
rule_fn!(
    /// `a - b`, operand `a`: `ā += reduce(ḡ)`.
    sub_d0 => SubD0(g: G, a_meta: M)
);
rule_fn!(
    /// `a - b`, operand `b`: `b̄ −= reduce(ḡ)`.
    sub_d1 => SubD1(g: G, b_meta: M)
);

macro_rules! reduce_rule {
    ($Marker:ident, $G:ty, $M:ty, $Out:ty, $sign:tt) => {
        impl Rule<(&$G, &$M)> for $Marker {
            type Out = $Out;
            #[inline(always)]
            fn apply((g, meta): (&$G, &$M)) -> $Out {
                reduce_rule!(@sign $sign, g.clone().reduce_to(meta))
            }
        }
    };
    (@sign +, $e:expr) => { $e };
    (@sign -, $e:expr) => { -$e };
}

reduce_rule!(AddD0, f64, ScalarMeta, f64, +);
reduce_rule!(AddD0, Tensor, ScalarMeta, f64, +);
reduce_rule!(AddD0, Tensor, Shape, Tensor, +);
reduce_rule!(AddD1, f64, ScalarMeta, f64, +);
reduce_rule!(AddD1, Tensor, ScalarMeta, f64, +);
reduce_rule!(AddD1, Tensor, Shape, Tensor, +);
reduce_rule!(SubD0, f64, ScalarMeta, f64, +);
reduce_rule!(SubD0, Tensor, ScalarMeta, f64, +);
reduce_rule!(SubD0, Tensor, Shape, Tensor, +);
reduce_rule!(SubD1, f64, ScalarMeta, f64, -);
reduce_rule!(SubD1, Tensor, ScalarMeta, f64, -);
reduce_rule!(SubD1, Tensor, Shape, Tensor, -);

rule_fn!(
    /// `a * b`, operand `a`: `ā += reduce(ḡ · b)`.
    mul_d0 => MulD0(g: G, a_meta: M, b: B: Operand)
);
rule_fn!(
    /// `a * b`, operand `b`: `b̄ += reduce(ḡ · a)`.
    mul_d1 => MulD1(g: G, a: A: Operand, b_meta: M)
);

impl Rule<(&f64, &ScalarMeta, &f64)> for MulD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, _, b): (&f64, &ScalarMeta, &f64)) -> f64 {
        g * b
    }
}
impl Rule<(&Tensor, &ScalarMeta, &Tensor)> for MulD0 {
    type Out = f64;
    fn apply((g, _, b): (&Tensor, &ScalarMeta, &Tensor)) -> f64 {
        if g.symbolic_zero {
            0.0
        } else {
            total(&zip(g, b, |g, b| g * b))
        }
    }
}
impl Rule<(&Tensor, &Shape, &Tensor)> for MulD0 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Shape, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        sum_to_shape_owned(zip(g, b, |g, b| g * b), &a.0)
    }
}
impl Rule<(&Tensor, &Shape, &f64)> for MulD0 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Shape, &f64)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        sum_to_shape_owned(g * *b, &a.0)
    }
}

impl Rule<(&f64, &f64, &ScalarMeta)> for MulD1 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, a, _): (&f64, &f64, &ScalarMeta)) -> f64 {
        g * a
    }
}
impl Rule<(&Tensor, &Tensor, &ScalarMeta)> for MulD1 {
    type Out = f64;
    fn apply((g, a, _): (&Tensor, &Tensor, &ScalarMeta)) -> f64 {
        if g.symbolic_zero {
            0.0
        } else {
            total(&zip(g, a, |g, a| g * a))
        }
    }
}
impl Rule<(&Tensor, &Tensor, &Shape)> for MulD1 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Tensor, &Shape)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        sum_to_shape_owned(zip(g, a, |g, a| g * a), &b.0)
    }
}
impl Rule<(&Tensor, &f64, &Shape)> for MulD1 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &f64, &Shape)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        sum_to_shape_owned(g * *a, &b.0)
    }
}

rule_fn!(
    /// `a / b`, operand `a`: `ā += reduce(ḡ / b)` (0 where `ḡ = 0`, also at `b = 0`).
    div_d0 => DivD0(g: G, a_meta: M, b: B: Operand)
);
rule_fn!(
    /// `a / b`, operand `b`: `b̄ −= reduce(ḡ · a / b²)` (0 where `ḡ = 0`, also at `b = 0`).
    div_d1 => DivD1(g: G, a: A: Operand, b: B: Operand)
);

impl Rule<(&f64, &ScalarMeta, &f64)> for DivD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, _, b): (&f64, &ScalarMeta, &f64)) -> f64 {
        strong(*g, g / b)
    }
}
impl Rule<(&Tensor, &ScalarMeta, &Tensor)> for DivD0 {
    type Out = f64;
    fn apply((g, _, b): (&Tensor, &ScalarMeta, &Tensor)) -> f64 {
        if g.symbolic_zero {
            0.0
        } else {
            total(&zip(g, b, |g, b| strong(g, g / b)))
        }
    }
}
impl Rule<(&Tensor, &Shape, &Tensor)> for DivD0 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Shape, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        sum_to_shape_owned(zip(g, b, |g, b| strong(g, g / b)), &a.0)
    }
}
impl Rule<(&Tensor, &Shape, &f64)> for DivD0 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Shape, &f64)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        let b = *b;
        sum_to_shape_owned(g.map(|g| strong(g, g / b)), &a.0)
    }
}

impl Rule<(&f64, &f64, &f64)> for DivD1 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, a, b): (&f64, &f64, &f64)) -> f64 {
        strong(*g, -g * a / (b * b))
    }
}
impl Rule<(&Tensor, &f64, &Tensor)> for DivD1 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &f64, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        let a = *a;
        sum_to_shape_owned(zip(g, b, |g, b| strong(g, -g * a / (b * b))), &b.shape)
    }
}
impl Rule<(&Tensor, &Tensor, &f64)> for DivD1 {
    type Out = f64;
    fn apply((g, a, b): (&Tensor, &Tensor, &f64)) -> f64 {
        if g.symbolic_zero {
            return 0.0;
        }
        let bb = b * b;
        total(&zip(g, a, |g, a| strong(g, -g * a / bb)))
    }
}
impl Rule<(&Tensor, &Tensor, &Tensor)> for DivD1 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Tensor, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        // −a/b² at the broadcast shape (ḡ's), then ḡ times it, or 0 where ḡ is.
        let local = zip(a, b, |a, b| -a / (b * b));
        let q = zip_owned_right(g, local, |g, l| strong(g, g * l));
        sum_to_shape_owned(q, &b.shape)
    }
}

rule_fn!(
    /// `-x`: `x̄ −= ḡ`.
    neg_d0 => NegD0(g: G)
);

impl Rule<(&f64,)> for NegD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g,): (&f64,)) -> f64 {
        -g
    }
}
impl Rule<(&Tensor,)> for NegD0 {
    type Out = Tensor;
    fn apply((g,): (&Tensor,)) -> Tensor {
        if g.symbolic_zero { Tensor::zero() } else { -g }
    }
}

/// The share of ḡ that `maximum`/`minimum` routes to the operand `mine`:
/// all of it where `mine` wins, half where the two tie (PyTorch).
#[inline(always)]
fn winner_share(g: f64, mine: f64, other: f64, wins: fn(f64, f64) -> bool) -> f64 {
    if mine == other {
        g / 2.0
    } else if wins(mine, other) {
        g
    } else {
        0.0
    }
}

fn greater(a: f64, b: f64) -> bool {
    a > b
}

fn less(a: f64, b: f64) -> bool {
    a < b
}

/// Tensor `maximum`/`minimum` rule for the operand `mine` (shape `mine_shape`).
fn winner_share_tensor(
    g: &Tensor,
    mine: &Tensor,
    other: &Tensor,
    wins: fn(f64, f64) -> bool,
) -> Tensor {
    if g.symbolic_zero {
        return Tensor::zero();
    }
    // 1 where `mine` wins, ½ on ties, 0 elsewhere, broadcast to the output;
    // then a select (not a product), so that an infinite or NaN ḡ where
    // `mine` loses passes nothing.
    let share = zip(mine, other, |m, o| winner_share(1.0, m, o, wins));
    let routed = zip_owned_right(g, share, |g, s| {
        if s == 1.0 {
            g
        } else if s == 0.0 {
            0.0
        } else {
            g / 2.0
        }
    });
    sum_to_shape_owned(routed, &mine.shape)
}

rule_fn!(
    /// `a.maximum(&b)`, operand `a`: `ā += ḡ` where `a > b`, `ḡ/2` where
    /// `a == b` (PyTorch's `maximum`).
    maximum_d0 => MaximumD0(g: G, a: A: Operand, b: B: Operand)
);
rule_fn!(
    /// `a.maximum(&b)`, operand `b`: `b̄ += ḡ` where `b > a`, `ḡ/2` where equal.
    maximum_d1 => MaximumD1(g: G, a: A: Operand, b: B: Operand)
);
rule_fn!(
    /// `a.minimum(&b)`, operand `a`: `ā += ḡ` where `a < b`, `ḡ/2` where equal.
    minimum_d0 => MinimumD0(g: G, a: A: Operand, b: B: Operand)
);
rule_fn!(
    /// `a.minimum(&b)`, operand `b`: `b̄ += ḡ` where `b < a`, `ḡ/2` where equal.
    minimum_d1 => MinimumD1(g: G, a: A: Operand, b: B: Operand)
);
rule_fn!(
    /// `a.max(b)` on `f64`, operand `b`: `b̄ += ḡ` where `b > a`, `ḡ/2`
    /// where equal. (Operand `a` is [`max_d0`](super::reduce::max_d0), which
    /// also serves `x.max()` on tensors.)
    max_d1 => MaxD1(g: G, a: A: Operand, b: B: Operand)
);
rule_fn!(
    /// `a.min(b)` on `f64`, operand `b`: `b̄ += ḡ` where `b < a`, `ḡ/2`
    /// where equal.
    min_d1 => MinD1(g: G, a: A: Operand, b: B: Operand)
);

macro_rules! winner_rules {
    ($Marker:ident, $wins:ident, first) => {
        impl Rule<(&f64, &f64, &f64)> for $Marker {
            type Out = f64;
            #[inline(always)]
            fn apply((g, a, b): (&f64, &f64, &f64)) -> f64 {
                winner_share(*g, *a, *b, $wins)
            }
        }
        impl Rule<(&Tensor, &Tensor, &Tensor)> for $Marker {
            type Out = Tensor;
            fn apply((g, a, b): (&Tensor, &Tensor, &Tensor)) -> Tensor {
                winner_share_tensor(g, a, b, $wins)
            }
        }
    };
    ($Marker:ident, $wins:ident, second) => {
        impl Rule<(&f64, &f64, &f64)> for $Marker {
            type Out = f64;
            #[inline(always)]
            fn apply((g, a, b): (&f64, &f64, &f64)) -> f64 {
                winner_share(*g, *b, *a, $wins)
            }
        }
        impl Rule<(&Tensor, &Tensor, &Tensor)> for $Marker {
            type Out = Tensor;
            fn apply((g, a, b): (&Tensor, &Tensor, &Tensor)) -> Tensor {
                winner_share_tensor(g, b, a, $wins)
            }
        }
    };
}

winner_rules!(MaximumD0, greater, first);
winner_rules!(MaximumD1, greater, second);
winner_rules!(MinimumD0, less, first);
winner_rules!(MinimumD1, less, second);
winner_rules!(MaxD1, greater, second);
winner_rules!(MinD1, less, second);

// `a.max(b)` / `a.min(b)` on f64, operand `a`; the markers belong to the
// reductions `x.max()` / `x.min()`, which share the rule names.
impl Rule<(&f64, &f64, &f64)> for MaxD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, a, b): (&f64, &f64, &f64)) -> f64 {
        winner_share(*g, *a, *b, greater)
    }
}
impl Rule<(&f64, &f64, &f64)> for MinD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, a, b): (&f64, &f64, &f64)) -> f64 {
        winner_share(*g, *a, *b, less)
    }
}

// ---------------------------------------------------------------- elementwise functions of two operands

/// Operand `which` (0 or 1)'s share of `ḡ` in an elementwise function of two
/// broadcast operands, `d(ḡ, a, b) = (ā, b̄)` per element, summed back to the
/// operand's shape. A zero `ḡ` gives exactly zero (the strong zero).
fn binary_fn_rule(
    g: &Tensor,
    a: &Tensor,
    b: &Tensor,
    which: usize,
    d: impl Fn(f64, f64, f64) -> (f64, f64),
) -> Tensor {
    if g.symbolic_zero {
        return Tensor::zero();
    }
    let local = zip(a, b, |a, b| {
        let (da, db) = d(1.0, a, b);
        if which == 0 { da } else { db }
    });
    let scaled = zip_owned_right(g, local, |g, l| if g == 0.0 { 0.0 } else { g * l });
    sum_to_shape_owned(scaled, if which == 0 { &a.shape } else { &b.shape })
}

/// One rule of an elementwise function of two operands: `$d(ḡ, a, b)` for
/// operand `$which`, on `f64` and on broadcast tensors.
macro_rules! binary_fn_rule {
    ($dk:ident, $which:tt, |$g:ident, $a:ident, $b:ident| $d:expr, $math:literal) => {
        #[doc(hidden)]
        pub mod $dk {
            /// The rule's marker type.
            #[derive(Clone, Copy, Debug)]
            pub struct Marker;
        }
        #[doc = concat!("`", $math, "`: the share of operand ", stringify!($which), " (reads both operands).")]
        #[inline(always)]
        pub fn $dk<'a, G: ?Sized, A: ?Sized + Operand, B: ?Sized + Operand>(
            g: &'a G,
            a: &'a A,
            b: &'a B,
        ) -> <$dk::Marker as Rule<(&'a G, &'a A::Value, &'a B::Value)>>::Out
        where
            $dk::Marker: Rule<(&'a G, &'a A::Value, &'a B::Value)>,
        {
            <$dk::Marker as Rule<_>>::apply((g, a.value(), b.value()))
        }
        impl Rule<(&f64, &f64, &f64)> for $dk::Marker {
            type Out = f64;
            #[inline(always)]
            fn apply((g, a, b): (&f64, &f64, &f64)) -> f64 {
                let ($g, $a, $b) = (*g, *a, *b);
                let v = ($d).$which;
                if $g == 0.0 { 0.0 } else { v }
            }
        }
        impl Rule<(&Tensor, &Tensor, &Tensor)> for $dk::Marker {
            type Out = Tensor;
            fn apply((g, a, b): (&Tensor, &Tensor, &Tensor)) -> Tensor {
                binary_fn_rule(g, a, b, $which, |$g, $a, $b| $d)
            }
        }
    };
}

/// Everything the table's elementwise functions of two operands give but the
/// graph layer's `Var` methods: the `Tensor` methods, the rules and the rows.
macro_rules! binary_fns {
    ($(
        $name:ident / $d0:ident, $d1:ident: $elem:path, |$g:ident, $a:ident, $b:ident| $d:expr, at ($lo:literal, $hi:literal),
        strong [$(($sa:literal, $sb:literal)),*], $node:literal, $math:literal, $doc:literal;
    )*) => {
        impl Tensor {
            $(
                #[doc = $doc]
                #[doc = ""]
                #[doc = concat!("Derivative: `", $math, "`.")]
                #[doc = ""]
                #[doc = "```"]
                #[doc = "use autodiff_runtime::Tensor;"]
                #[doc = ""]
                #[doc = concat!("let a = Tensor::from([[", stringify!($lo), "], [", stringify!($hi), "]]);")]
                #[doc = concat!("let b = Tensor::from([", stringify!($hi), ", ", stringify!($lo), "]);")]
                #[doc = concat!("let y = a.", stringify!($name), "(&b); // [2, 1] with [2]: broadcast to [2, 2]")]
                #[doc = concat!("assert_eq!(y.at(&[1, 0]), ", stringify!($hi), "f64.", stringify!($name), "(", stringify!($hi), "));")]
                #[doc = "```"]
                pub fn $name(&self, other: &Tensor) -> Tensor {
                    zip(self, other, $elem)
                }
            )*
        }

        $(
            binary_fn_rule!($d0, 0, |$g, $a, $b| $d, $math);
            binary_fn_rule!($d1, 1, |$g, $a, $b| $d, $math);
        )*

        /// The rows of the elementwise functions of two operands.
        pub(crate) static BINARY_FN_ROWS: &[Primitive] = &[$(
            Primitive {
                name: stringify!($name),
                call: concat!("a.", stringify!($name), "(b)"),
                rule: stringify!($name),
                arity: 2,
                on: On::Both,
                operands: &[Some(&[Need::Value(0), Need::Value(1)]), Some(&[Need::Value(0), Need::Value(1)])],
                math: $math,
                strong_zero: true,
                graph: Some($node),
                syntax: Syntax::Method,
                check: || {
                    check_binary_fn(
                        stringify!($name),
                        Tensor::$name,
                        $elem,
                        (|g, a, b| ($d0(g, a, b), $d1(g, a, b))) as fn(&Tensor, &Tensor, &Tensor) -> (Tensor, Tensor),
                        (|g, a, b| ($d0(g, a, b), $d1(g, a, b))) as fn(&f64, &f64, &f64) -> (f64, f64),
                        Var::$name,
                        ($lo, $hi),
                        &[$(($sa, $sb)),*],
                    )
                },
            },
        )*];
    };
}

crate::ops::table::binary_rows!(binary_fns);

/// Checks one elementwise function of two operands: on `f64`, on tensors of
/// one shape and broadcast, and as the graph layer's op, against central
/// differences; and the strong zero at the points given.
#[allow(clippy::too_many_arguments)]
fn check_binary_fn(
    name: &str,
    tensor: fn(&Tensor, &Tensor) -> Tensor,
    scalar: fn(f64, f64) -> f64,
    tensor_rules: fn(&Tensor, &Tensor, &Tensor) -> (Tensor, Tensor),
    scalar_rules: fn(&f64, &f64, &f64) -> (f64, f64),
    var: fn(&Var, &Var) -> Var,
    (lo, hi): (f64, f64),
    strong: &[(f64, f64)],
) -> Result<(), String> {
    let t = |shape: &[usize], seed| away_from_zero(shape, lo, hi, seed);
    for (i, (sa, sb)) in [
        (&[2, 3][..], &[2, 3][..]),
        (&[2, 3], &[3]),
        (&[2, 1], &[1, 3]),
        (&[3], &[2, 3]),
        (&[], &[4]),
    ]
    .into_iter()
    .enumerate()
    {
        let (a, b) = (t(sa, 2 * i as u64), t(sb, 2 * i as u64 + 1));
        gradcheck(
            &format!("{name} {sa:?} with {sb:?}"),
            |(a, b): &(Tensor, Tensor)| tensor(a, b),
            |(a, b): &(Tensor, Tensor), g: Tensor| tensor_rules(&g, a, b),
            &(a.clone(), b.clone()),
        )?;
        gradcheck_var2(name, var, &a, &b)?;
    }
    let pairs = t(&[3, 2], 20);
    for p in pairs.data().chunks_exact(2) {
        gradcheck(
            &format!("{name} (f64 at {p:?})"),
            |(a, b): &(f64, f64)| scalar(*a, *b),
            |(a, b): &(f64, f64), g: f64| scalar_rules(&g, a, b),
            &(p[0], p[1]),
        )?;
    }
    for &(a, b) in strong {
        let (da, db) = scalar_rules(&0.0, &a, &b);
        exactly_zero(name, (a, b), da)?;
        exactly_zero(name, (a, b), db)?;
        let (da, db) = tensor_rules(&Tensor::zeros(&[1]), &Tensor::from([a]), &Tensor::from([b]));
        exactly_zero_tensor(name, (a, b), &da)?;
        exactly_zero_tensor(name, (a, b), &db)?;
    }
    Ok(())
}
