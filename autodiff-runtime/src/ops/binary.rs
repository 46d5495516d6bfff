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
use super::{Rule, rule_fn};
use crate::cotangent::{Cotangent, ScalarMeta, Shape};
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
    /// `a / b`, operand `a`: `ā += reduce(ḡ / b)`.
    div_d0 => DivD0(g: G, a_meta: M, b: B: Operand)
);
rule_fn!(
    /// `a / b`, operand `b`: `b̄ −= reduce(ḡ · a / b²)`.
    div_d1 => DivD1(g: G, a: A: Operand, b: B: Operand)
);

impl Rule<(&f64, &ScalarMeta, &f64)> for DivD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, _, b): (&f64, &ScalarMeta, &f64)) -> f64 {
        g / b
    }
}
impl Rule<(&Tensor, &ScalarMeta, &Tensor)> for DivD0 {
    type Out = f64;
    fn apply((g, _, b): (&Tensor, &ScalarMeta, &Tensor)) -> f64 {
        if g.symbolic_zero {
            0.0
        } else {
            total(&zip(g, b, |g, b| g / b))
        }
    }
}
impl Rule<(&Tensor, &Shape, &Tensor)> for DivD0 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Shape, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        sum_to_shape_owned(zip(g, b, |g, b| g / b), &a.0)
    }
}
impl Rule<(&Tensor, &Shape, &f64)> for DivD0 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Shape, &f64)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        sum_to_shape_owned(g / *b, &a.0)
    }
}

impl Rule<(&f64, &f64, &f64)> for DivD1 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, a, b): (&f64, &f64, &f64)) -> f64 {
        -g * a / (b * b)
    }
}
impl Rule<(&Tensor, &f64, &Tensor)> for DivD1 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &f64, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        let a = *a;
        sum_to_shape_owned(zip(g, b, |g, b| -g * a / (b * b)), &b.shape)
    }
}
impl Rule<(&Tensor, &Tensor, &f64)> for DivD1 {
    type Out = f64;
    fn apply((g, a, b): (&Tensor, &Tensor, &f64)) -> f64 {
        if g.symbolic_zero {
            return 0.0;
        }
        -total(&zip(g, a, |g, a| g * a)) / (b * b)
    }
}
impl Rule<(&Tensor, &Tensor, &Tensor)> for DivD1 {
    type Out = Tensor;
    fn apply((g, a, b): (&Tensor, &Tensor, &Tensor)) -> Tensor {
        if g.symbolic_zero {
            return Tensor::zero();
        }
        let ga = zip(g, a, |g, a| g * a);
        sum_to_shape_owned(zip_owned_left(ga, b, |ga, b| -ga / (b * b)), &b.shape)
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
    // 1 where `mine` wins, ½ on ties, 0 elsewhere, broadcast to the output.
    let share = zip(mine, other, |m, o| winner_share(1.0, m, o, wins));
    sum_to_shape_owned(zip_owned_right(g, share, |g, s| g * s), &mine.shape)
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
