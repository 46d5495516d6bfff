//! Elementwise functions of one tensor (`sin`, `exp`, `relu`, `powi`, …) and
//! their derivative rules, for `f64` and [`Tensor`].
//!
//! Rules that are cheaper in terms of the output `y` than of the input `x`
//! (`exp`, `tanh`, `sqrt`, …) take `y`.

use std::sync::LazyLock;

use super::table::{
    Need, On, Primitive, Syntax, exactly_zero, exactly_zero_tensor, gradcheck, gradcheck_var,
};
use super::{Operand, Rule, rule_fn};
use crate::Real;
use crate::cotangent::Cotangent;
use crate::graph::Var;
use crate::pool;
use crate::tensor::Tensor;

/// The logistic function `1 / (1 + e^(−x))`, computed without overflow.
#[inline]
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `max(x, 0)`; NaN stays NaN.
#[inline]
pub(crate) fn relu(x: f64) -> f64 {
    if x > 0.0 || x.is_nan() { x } else { 0.0 }
}

impl Tensor {
    /// Elementwise integer power `x^n` (PyTorch's `x ** n`).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([1.0, 2.0]).powi(3).to_vec(), vec![1.0, 8.0]);
    /// ```
    pub fn powi(&self, n: i32) -> Tensor {
        // `x.powi(n)` with `n` unknown at compile time is a libcall per
        // element (`__powidf2`) that cannot be vectorised; the common small
        // powers become plain products, chosen once outside the loop. They
        // give the same bits: `__powidf2` multiplies the same factors.
        match n {
            0 => self.map(|_| 1.0),
            1 => self.map(|x| x),
            2 => self.map(|x| x * x),
            3 => self.map(|x| x * x * x),
            -1 => self.map(|x| 1.0 / x),
            _ => self.map(|x| x.powi(n)),
        }
    }

    /// Elementwise real power `x^p`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([4.0, 9.0]).powf(0.5).to_vec(), vec![2.0, 3.0]);
    /// ```
    pub fn powf(&self, p: f64) -> Tensor {
        self.map(|x| x.powf(p))
    }
}

/// `ḡ ⊙ f(x)` for the tensor rules of this file: `g` and `x` have the same shape.
fn pointwise(g: &Tensor, x: &Tensor, f: impl Fn(f64, f64) -> f64) -> Tensor {
    if g.symbolic_zero {
        return Tensor::zero();
    }
    assert!(
        g.shape == x.shape,
        "gradient of shape {:?} does not match the operand of shape {:?}",
        g.shape,
        x.shape
    );
    let data = pool::collect(
        x.numel(),
        g.data.iter().zip(x.data.iter()).map(|(&g, &x)| f(g, x)),
    );
    Tensor::from_parts(data, x.shape.clone())
}

/// `ḡ ⊙ f(ḡ)` for the tensor rules that read only the cotangent.
fn pointwise_g(g: &Tensor, f: impl Fn(f64) -> f64) -> Tensor {
    if g.symbolic_zero {
        return Tensor::zero();
    }
    g.map(f)
}

/// The strong zero: the rule's value, or exactly 0 where the cotangent is
/// exactly zero (a select, so tensor loops stay branch-free), for rules whose
/// local derivative is infinite or NaN somewhere (`[]`: nowhere).
macro_rules! strong_zero {
    ([], $g:ident, $e:expr) => {
        $e
    };
    ([$($s:tt)+], $g:ident, $e:expr) => {{
        let v = $e;
        if $g == 0.0 { 0.0 } else { v }
    }};
}

/// The `f64` call a doc example compares a tensor method with.
macro_rules! f64_call {
    (method, $name:ident, $elem:path, $x:literal) => {
        concat!("(", stringify!($x), "f64).", stringify!($name), "()")
    };
    (real, $name:ident, $elem:path, $x:literal) => {
        concat!("(", stringify!($x), "f64).", stringify!($name), "()")
    };
    ((real $alias:ident), $name:ident, $elem:path, $x:literal) => {
        concat!("(", stringify!($x), "f64).", stringify!($alias), "()")
    };
    (none, $name:ident, $elem:path, $x:literal) => {
        concat!(stringify!($elem), "(", stringify!($x), ")")
    };
}

/// One unary rule: its marker (in a module of the rule's name), the free
/// function generated code calls, and its `f64` and `Tensor` implementations.
macro_rules! unary_rule {
    // The derivative is 0: the rule reads nothing and returns a zero.
    ($d0:ident, zero, |$g:ident, $v:ident| $d:expr, $strong:tt, $math:literal) => {
        #[doc(hidden)]
        pub mod $d0 {
            /// The rule's marker type.
            #[derive(Clone, Copy, Debug)]
            pub struct Marker;
        }
        #[doc = concat!("`", $math, "`.")]
        #[inline(always)]
        pub fn $d0<'a, G: ?Sized>(g: &'a G) -> <$d0::Marker as Rule<(&'a G,)>>::Out
        where
            $d0::Marker: Rule<(&'a G,)>,
        {
            <$d0::Marker as Rule<_>>::apply((g,))
        }
        impl Rule<(&f64,)> for $d0::Marker {
            type Out = f64;
            #[inline(always)]
            fn apply(_: (&f64,)) -> f64 {
                <f64 as Cotangent>::zero()
            }
        }
        impl Rule<(&Tensor,)> for $d0::Marker {
            type Out = Tensor;
            fn apply(_: (&Tensor,)) -> Tensor {
                Tensor::zero()
            }
        }
    };
    // The rule reads only ḡ.
    ($d0:ident, none, |$g:ident, $v:ident| $d:expr, $strong:tt, $math:literal) => {
        #[doc(hidden)]
        pub mod $d0 {
            /// The rule's marker type.
            #[derive(Clone, Copy, Debug)]
            pub struct Marker;
        }
        #[doc = concat!("`", $math, "`.")]
        #[inline(always)]
        pub fn $d0<'a, G: ?Sized>(g: &'a G) -> <$d0::Marker as Rule<(&'a G,)>>::Out
        where
            $d0::Marker: Rule<(&'a G,)>,
        {
            <$d0::Marker as Rule<_>>::apply((g,))
        }
        impl Rule<(&f64,)> for $d0::Marker {
            type Out = f64;
            #[inline(always)]
            fn apply((g,): (&f64,)) -> f64 {
                let $g = *g;
                let $v = ();
                let _ = $v;
                strong_zero!($strong, $g, $d)
            }
        }
        impl Rule<(&Tensor,)> for $d0::Marker {
            type Out = Tensor;
            fn apply((g,): (&Tensor,)) -> Tensor {
                pointwise_g(g, |$g| {
                    let $v = ();
                    let _ = $v;
                    strong_zero!($strong, $g, $d)
                })
            }
        }
    };
    // The rule reads the input `x` or the output `y`.
    ($d0:ident, $reads:ident, |$g:ident, $v:ident| $d:expr, $strong:tt, $math:literal) => {
        #[doc(hidden)]
        pub mod $d0 {
            /// The rule's marker type.
            #[derive(Clone, Copy, Debug)]
            pub struct Marker;
        }
        #[doc = concat!("`", $math, "` (reads `", stringify!($reads), "`).")]
        #[inline(always)]
        pub fn $d0<'a, G: ?Sized, V: ?Sized + Operand>(
            g: &'a G,
            $reads: &'a V,
        ) -> <$d0::Marker as Rule<(&'a G, &'a V::Value)>>::Out
        where
            $d0::Marker: Rule<(&'a G, &'a V::Value)>,
        {
            <$d0::Marker as Rule<_>>::apply((g, $reads.value()))
        }
        impl Rule<(&f64, &f64)> for $d0::Marker {
            type Out = f64;
            #[inline(always)]
            fn apply((g, v): (&f64, &f64)) -> f64 {
                let ($g, $v) = (*g, *v);
                strong_zero!($strong, $g, $d)
            }
        }
        impl Rule<(&Tensor, &Tensor)> for $d0::Marker {
            type Out = Tensor;
            fn apply((g, v): (&Tensor, &Tensor)) -> Tensor {
                pointwise(g, v, |$g, $v| strong_zero!($strong, $g, $d))
            }
        }
    };
}

/// The rule applied as a check sees it: `(ḡ, x, y) ↦ x̄`.
macro_rules! rule_of {
    ($d0:ident, zero) => {
        |g, _x, _y| $d0(g)
    };
    ($d0:ident, none) => {
        |g, _x, _y| $d0(g)
    };
    ($d0:ident, x) => {
        |g, x, _y| $d0(g, x)
    };
    ($d0:ident, y) => {
        |g, _x, y| $d0(g, y)
    };
}

/// The `f64` function a check evaluates, if `f64` has the op under this name.
macro_rules! f64_fn {
    (none, $name:ident, $elem:path) => {
        None::<fn(f64) -> f64>
    };
    ((real $alias:ident), $name:ident, $elem:path) => {
        None::<fn(f64) -> f64>
    };
    ($f64:ident, $name:ident, $elem:path) => {
        Some((|x: f64| x.$name()) as fn(f64) -> f64)
    };
}

/// The row of an `f64` method with another name than the tensor's (`erf` is
/// `special_erf` on `f64`), if there is one.
macro_rules! alias_row {
    ($rows:ident, (real $alias:ident), $name:ident, $d0:ident, $reads:ident, $strong:tt, $node:literal, $math:literal, $lo:literal, $hi:literal) => {
        $rows.push(Primitive {
            name: stringify!($alias),
            call: concat!("x.", stringify!($alias), "()"),
            rule: stringify!($name),
            arity: 1,
            on: On::F64,
            operands: unary_needs!($reads),
            math: $math,
            strong_zero: stringify!($strong) != "[]",
            graph: None,
            syntax: Syntax::Method,
            check: || {
                let strong: &[f64] = &$strong;
                check_unary(
                    stringify!($alias),
                    None,
                    rule_of!($d0, $reads),
                    Some((|x: f64| x.$alias()) as fn(f64) -> f64),
                    rule_of!($d0, $reads),
                    None,
                    ($lo, $hi),
                    strong,
                )
            },
        });
    };
    ($rows:ident, $f64:tt, $($rest:tt)*) => {};
}

macro_rules! unary_needs {
    (x) => {
        &[Some(&[Need::Value(0)])]
    };
    (y) => {
        &[Some(&[Need::Output])]
    };
    ($other:ident) => {
        &[Some(&[])]
    };
}

/// Everything the table's elementwise functions of one operand give, but the
/// graph layer's `Var` methods (in `graph/functions.rs`) and the `Real`
/// methods (in `real.rs`): the `Tensor` methods, the rules and the rows.
macro_rules! unary_ops {
    ($(
        $name:ident / $d0:ident: $elem:path, f64 $f64:tt, reads $reads:ident, |$g:ident, $v:ident| $d:expr,
        at ($lo:literal, $hi:literal), strong $strong:tt, $node:literal, $math:literal, $doc:literal;
    )*) => {
        impl Tensor {
            $(
                #[doc = $doc]
                #[doc = ""]
                #[doc = concat!("Derivative: `", $math, "`.")]
                #[doc = ""]
                #[doc = "```"]
                #[doc = "use autodiff_runtime::prelude::*;"]
                #[doc = ""]
                #[doc = concat!("let x = Tensor::from([", stringify!($lo), ", ", stringify!($hi), "]);")]
                #[doc = concat!("let want = [",
                    f64_call!($f64, $name, $elem, $lo), ", ", f64_call!($f64, $name, $elem, $hi), "];")]
                #[doc = concat!("for (y, want) in x.", stringify!($name), "().to_vec().iter().zip(want) {")]
                #[doc = "    // Equal, or within a few units in the last place where the tensor"]
                #[doc = "    // loop computes the function itself (ops/vmath.rs)."]
                #[doc = "    assert!((y - want).abs() <= 4.0 * f64::EPSILON * want.abs(), \"{y} {want}\");"]
                #[doc = "}"]
                #[doc = "```"]
                pub fn $name(&self) -> Tensor {
                    self.map($elem)
                }
            )*
        }

        $( unary_rule!($d0, $reads, |$g, $v| $d, $strong, $math); )*

        /// The rows of the elementwise functions of one operand.
        pub(crate) static UNARY_ROWS: LazyLock<Vec<Primitive>> = LazyLock::new(|| {
            let mut rows = Vec::new();
            $(
                rows.push(Primitive {
                    name: stringify!($name),
                    call: concat!("x.", stringify!($name), "()"),
                    rule: stringify!($name),
                    arity: 1,
                    on: match f64_fn!($f64, $name, $elem) { Some(_) => On::Both, None => On::Tensor },
                    operands: unary_needs!($reads),
                    math: $math,
                    strong_zero: stringify!($strong) != "[]",
                    graph: Some($node),
                    syntax: Syntax::Method,
                    check: || {
                        let strong: &[f64] = &$strong;
                        check_unary(
                            stringify!($name),
                            Some(Tensor::$name as fn(&Tensor) -> Tensor),
                            rule_of!($d0, $reads),
                            f64_fn!($f64, $name, $elem),
                            rule_of!($d0, $reads),
                            Some(Var::$name as fn(&Var) -> Var),
                            ($lo, $hi),
                            strong,
                        )
                    },
                });
                alias_row!(rows, $f64, $name, $d0, $reads, $strong, $node, $math, $lo, $hi);
            )*
            rows
        });
    };
}

crate::ops::table::unary_rows!(unary_ops);

/// Checks one elementwise function of one operand: the tensor rule, the `f64`
/// rule and the graph layer's op against central differences at points in
/// `lo..hi`, and the strong zero at the points where the local derivative is
/// not finite.
#[allow(clippy::too_many_arguments)]
fn check_unary(
    name: &str,
    tensor: Option<fn(&Tensor) -> Tensor>,
    tensor_rule: fn(&Tensor, &Tensor, &Tensor) -> Tensor,
    scalar: Option<fn(f64) -> f64>,
    scalar_rule: fn(&f64, &f64, &f64) -> f64,
    var: Option<fn(&Var) -> Var>,
    (lo, hi): (f64, f64),
    strong: &[f64],
) -> Result<(), String> {
    let seed = name.len() as u64;
    let t = Tensor::uniform(&[3, 4], lo, hi, seed);
    if let Some(op) = tensor {
        gradcheck(
            &format!("{name} (tensor)"),
            |x: &Tensor| op(x),
            |x: &Tensor, g: Tensor| crate::cotangent::finish(tensor_rule(&g, x, &op(x)), x),
            &t,
        )?;
        for &s in strong {
            let x = Tensor::from([s, s]);
            exactly_zero_tensor(name, s, &tensor_rule(&Tensor::zeros(&[2]), &x, &op(&x)))?;
        }
    }
    if let Some(op) = scalar {
        for &x in &t.data()[..3] {
            gradcheck(
                &format!("{name} (f64 at {x})"),
                |x: &f64| op(*x),
                |x: &f64, g: f64| scalar_rule(&g, x, &op(*x)),
                &x,
            )?;
        }
        for &s in strong {
            exactly_zero(name, s, scalar_rule(&0.0, &s, &op(s)))?;
            exactly_zero(name, s, scalar_rule(&-0.0, &s, &op(s)))?;
        }
    }
    if let Some(op) = var {
        gradcheck_var(name, op, &t)?;
    }
    Ok(())
}

rule_fn!(
    /// `y = xⁿ` (`n: i32`): `x̄ += ḡ · n · xⁿ⁻¹` (0 for `n = 0`; for `n < 0`,
    /// 0 where `ḡ = 0`, also at `x = 0`).
    powi_d0 => PowiD0(g: G, x: X: Operand, n: N)
);

#[inline(always)]
fn powi_rule(g: f64, x: f64, n: i32) -> f64 {
    // A negative power is infinite at 0: there a zero ḡ gives 0 (strong zero).
    if n == 0 || (n < 0 && g == 0.0) {
        0.0
    } else {
        g * n as f64 * x.powi(n - 1)
    }
}

impl Rule<(&f64, &f64, &i32)> for PowiD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x, n): (&f64, &f64, &i32)) -> f64 {
        powi_rule(*g, *x, *n)
    }
}
impl Rule<(&Tensor, &Tensor, &i32)> for PowiD0 {
    type Out = Tensor;
    fn apply((g, x, n): (&Tensor, &Tensor, &i32)) -> Tensor {
        // As in `Tensor::powi`: the common small powers without the
        // per-element `__powidf2` call, each loop with constants the
        // compiler can vectorise; the values equal `powi_rule`'s.
        match *n {
            0 => pointwise(g, x, |_, _| 0.0),
            1 => pointwise(g, x, |g, _| g),
            2 => pointwise(g, x, |g, x| g * 2.0 * x),
            3 => pointwise(g, x, |g, x| g * 3.0 * (x * x)),
            n => pointwise(g, x, |g, x| powi_rule(g, x, n)),
        }
    }
}

rule_fn!(
    /// `y = xᵖ` (`p: f64`), operand `x`: `x̄ += ḡ · p · xᵖ⁻¹` (0 for `p = 0`,
    /// and where `ḡ = 0`, also at `x = 0`).
    powf_d0 => PowfD0(g: G, x: X: Operand, p: P: Operand)
);
rule_fn!(
    /// `y = xᵖ`, operand `p`: `p̄ += Σ ḡ · y · ln x` (0 where `x = 0` and `y`
    /// is finite, as PyTorch).
    powf_d1 => PowfD1(g: G, x: X: Operand, y: Y: Operand)
);

#[inline(always)]
fn powf_rule_x(g: f64, x: f64, p: f64) -> f64 {
    // `xᵖ⁻¹` is infinite at 0 for p < 1: a zero ḡ gives 0 (strong zero).
    if p == 0.0 || g == 0.0 {
        0.0
    } else {
        g * p * x.powf(p - 1.0)
    }
}

#[inline(always)]
fn powf_rule_p(g: f64, x: f64, y: f64) -> f64 {
    if (x == 0.0 && y.is_finite()) || g == 0.0 {
        0.0
    } else {
        g * y * x.ln()
    }
}

impl Rule<(&f64, &f64, &f64)> for PowfD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x, p): (&f64, &f64, &f64)) -> f64 {
        powf_rule_x(*g, *x, *p)
    }
}
impl Rule<(&Tensor, &Tensor, &f64)> for PowfD0 {
    type Out = Tensor;
    fn apply((g, x, p): (&Tensor, &Tensor, &f64)) -> Tensor {
        let p = *p;
        pointwise(g, x, |g, x| powf_rule_x(g, x, p))
    }
}
impl Rule<(&f64, &f64, &f64)> for PowfD1 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x, y): (&f64, &f64, &f64)) -> f64 {
        powf_rule_p(*g, *x, *y)
    }
}
impl Rule<(&Tensor, &Tensor, &Tensor)> for PowfD1 {
    type Out = f64;
    fn apply((g, x, y): (&Tensor, &Tensor, &Tensor)) -> f64 {
        if g.symbolic_zero {
            return 0.0;
        }
        assert!(
            g.shape == x.shape && x.shape == y.shape,
            "powf rule: gradient of shape {:?}, input of shape {:?} and output of shape {:?} differ",
            g.shape,
            x.shape,
            y.shape
        );
        g.data
            .iter()
            .zip(x.data.iter())
            .zip(y.data.iter())
            .map(|((&g, &x), &y)| powf_rule_p(g, x, y))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The small powers that skip `f64::powi` give its bits exactly, in the
    /// value and in the rule.
    #[test]
    fn specialised_powers_equal_powi() {
        let x = Tensor::from([-2.5, -1.0, -0.3, 0.0, 0.7, 1.0, 3.25, 1e200, f64::NAN]);
        let g = Tensor::from([1.5, -2.0, 0.25, 3.0, -1.0, 0.5, 2.0, 1.0, 1.0]);
        for n in -3..=5 {
            let expected: Vec<f64> = x.data().iter().map(|v| v.powi(n)).collect();
            let got = x.powi(n);
            for (a, b) in got.data().iter().zip(&expected) {
                assert!(a.to_bits() == b.to_bits(), "powi({n}): {a} != {b}");
            }
            let rule = <PowiD0 as Rule<_>>::apply((&g, &x, &n));
            for ((r, &gv), &xv) in rule.data().iter().zip(g.data()).zip(x.data()) {
                let b = powi_rule(gv, xv, n);
                assert!(r.to_bits() == b.to_bits(), "powi_d0({n}): {r} != {b}");
            }
        }
    }
}

// ---------------------------------------------------------------- f64's other methods

rule_fn!(
    /// `y = x.log(b) = ln x / ln b` (`f64`), operand `x`: `x̄ += ḡ / (x ln b)`.
    log_base_d0 => LogBaseD0(g: G, x: X: Operand, b: B: Operand)
);
rule_fn!(
    /// `y = x.log(b)` (`f64`), operand `b`: `b̄ −= ḡ · ln x / (b (ln b)²)`.
    log_base_d1 => LogBaseD1(g: G, x: X: Operand, b: B: Operand)
);

impl Rule<(&f64, &f64, &f64)> for LogBaseD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x, b): (&f64, &f64, &f64)) -> f64 {
        let v = g / (x * b.ln());
        if *g == 0.0 { 0.0 } else { v }
    }
}
impl Rule<(&f64, &f64, &f64)> for LogBaseD1 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x, b): (&f64, &f64, &f64)) -> f64 {
        let lb = b.ln();
        let v = -g * x.ln() / (b * lb * lb);
        if *g == 0.0 { 0.0 } else { v }
    }
}

rule_fn!(
    /// `(s, c) = x.sin_cos()` (`f64`): `x̄ += s̄ · cos x − c̄ · sin x`; the
    /// cotangent is the pair `(s̄, c̄)`.
    sin_cos_d0 => SinCosD0(g: G, x: X: Operand)
);

impl Rule<(&(f64, f64), &f64)> for SinCosD0 {
    type Out = f64;
    #[inline(always)]
    fn apply(((gs, gc), x): (&(f64, f64), &f64)) -> f64 {
        let (s, c) = x.sin_cos();
        gs * c - gc * s
    }
}

rule_fn!(
    /// `y = x.mul_add(a, b) = x·a + b` (`f64`, one rounding), operand `x`: `x̄ += ḡ · a`.
    mul_add_d0 => MulAddD0(g: G, a: A: Operand)
);
rule_fn!(
    /// `y = x.mul_add(a, b)`, operand `a`: `ā += ḡ · x`.
    mul_add_d1 => MulAddD1(g: G, x: X: Operand)
);
rule_fn!(
    /// `y = x.mul_add(a, b)`, operand `b`: `b̄ += ḡ`.
    mul_add_d2 => MulAddD2(g: G)
);

impl Rule<(&f64, &f64)> for MulAddD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, a): (&f64, &f64)) -> f64 {
        g * a
    }
}
impl Rule<(&f64, &f64)> for MulAddD1 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x): (&f64, &f64)) -> f64 {
        g * x
    }
}
impl Rule<(&f64,)> for MulAddD2 {
    type Out = f64;
    #[inline(always)]
    fn apply((g,): (&f64,)) -> f64 {
        *g
    }
}

impl Tensor {
    /// Each element limited to `[lo, hi]`: `min(max(x, lo), hi)` (PyTorch's
    /// `clamp` with numbers; NaN stays NaN).
    ///
    /// Derivative: `x̄ += ȳ` where `lo ≤ x ≤ hi`, `lō += Σ ȳ` where `x < lo`,
    /// `hī += Σ ȳ` where `x > hi`.
    ///
    /// Panics if `lo > hi` or either is NaN, as `f64::clamp`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::from([-2.0, 0.5, 3.0]);
    /// assert_eq!(x.clamp(-1.0, 1.0).to_vec(), vec![-1.0, 0.5, 1.0]);
    /// ```
    pub fn clamp(&self, lo: f64, hi: f64) -> Tensor {
        assert!(
            lo <= hi,
            "clamp: min {lo} is greater than max {hi} (or one is NaN)"
        );
        self.map(|x| x.clamp(lo, hi))
    }
}

rule_fn!(
    /// `y = x.clamp(lo, hi)`, operand `x`: `x̄ += ḡ` where `lo ≤ x ≤ hi`, 0
    /// elsewhere (a select: a zero or infinite `x` elsewhere passes nothing).
    clamp_d0 => ClampD0(g: G, x: X: Operand, lo: L: Operand, hi: H: Operand)
);
rule_fn!(
    /// `y = x.clamp(lo, hi)`, operand `lo`: `lō += Σ ḡ` where `x < lo`.
    clamp_d1 => ClampD1(g: G, x: X: Operand, lo: L: Operand)
);
rule_fn!(
    /// `y = x.clamp(lo, hi)`, operand `hi`: `hī += Σ ḡ` where `x > hi`.
    clamp_d2 => ClampD2(g: G, x: X: Operand, hi: H: Operand)
);

impl Rule<(&f64, &f64, &f64, &f64)> for ClampD0 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x, lo, hi): (&f64, &f64, &f64, &f64)) -> f64 {
        if lo <= x && x <= hi { *g } else { 0.0 }
    }
}
impl Rule<(&Tensor, &Tensor, &f64, &f64)> for ClampD0 {
    type Out = Tensor;
    fn apply((g, x, lo, hi): (&Tensor, &Tensor, &f64, &f64)) -> Tensor {
        let (lo, hi) = (*lo, *hi);
        pointwise(g, x, |g, x| if lo <= x && x <= hi { g } else { 0.0 })
    }
}
impl Rule<(&f64, &f64, &f64)> for ClampD1 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x, lo): (&f64, &f64, &f64)) -> f64 {
        if x < lo { *g } else { 0.0 }
    }
}
impl Rule<(&Tensor, &Tensor, &f64)> for ClampD1 {
    type Out = f64;
    fn apply((g, x, lo): (&Tensor, &Tensor, &f64)) -> f64 {
        if g.symbolic_zero {
            return 0.0;
        }
        g.data
            .iter()
            .zip(x.data.iter())
            .map(|(&g, x)| if x < lo { g } else { 0.0 })
            .sum()
    }
}
impl Rule<(&f64, &f64, &f64)> for ClampD2 {
    type Out = f64;
    #[inline(always)]
    fn apply((g, x, hi): (&f64, &f64, &f64)) -> f64 {
        if x > hi { *g } else { 0.0 }
    }
}
impl Rule<(&Tensor, &Tensor, &f64)> for ClampD2 {
    type Out = f64;
    fn apply((g, x, hi): (&Tensor, &Tensor, &f64)) -> f64 {
        if g.symbolic_zero {
            return 0.0;
        }
        g.data
            .iter()
            .zip(x.data.iter())
            .map(|(&g, x)| if x > hi { g } else { 0.0 })
            .sum()
    }
}
