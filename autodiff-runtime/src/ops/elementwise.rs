//! Elementwise functions of one tensor (`sin`, `exp`, `relu`, `powi`, …) and
//! their derivative rules, for `f64` and [`Tensor`].
//!
//! Rules that are cheaper in terms of the output `y` than of the input `x`
//! (`exp`, `tanh`, `sqrt`, …) take `y`.

use super::{Rule, rule_fn};
use crate::cotangent::Cotangent;
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
    /// Elementwise sine.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::zeros(&[2]).sin().to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn sin(&self) -> Tensor {
        self.map(f64::sin)
    }

    /// Elementwise cosine.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::zeros(&[2]).cos().to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn cos(&self) -> Tensor {
        self.map(f64::cos)
    }

    /// Elementwise tangent.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::scalar(0.0).tan().item(), 0.0);
    /// ```
    pub fn tan(&self) -> Tensor {
        self.map(f64::tan)
    }

    /// Elementwise hyperbolic tangent.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([0.0]).tanh().to_vec(), vec![0.0]);
    /// ```
    pub fn tanh(&self) -> Tensor {
        self.map(f64::tanh)
    }

    /// Elementwise `e^x`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([0.0, 1.0]).exp().to_vec(), vec![1.0, std::f64::consts::E]);
    /// ```
    pub fn exp(&self) -> Tensor {
        self.map(f64::exp)
    }

    /// Elementwise natural logarithm.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([1.0]).ln().to_vec(), vec![0.0]);
    /// ```
    pub fn ln(&self) -> Tensor {
        self.map(f64::ln)
    }

    /// Elementwise natural logarithm (PyTorch's name; same as [`ln`](Tensor::ln)).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::from([1.0, 2.0]);
    /// assert_eq!(x.log(), x.ln());
    /// ```
    pub fn log(&self) -> Tensor {
        self.ln()
    }

    /// Elementwise square root.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([4.0, 9.0]).sqrt().to_vec(), vec![2.0, 3.0]);
    /// ```
    pub fn sqrt(&self) -> Tensor {
        self.map(f64::sqrt)
    }

    /// Elementwise absolute value.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([-1.5, 2.0]).abs().to_vec(), vec![1.5, 2.0]);
    /// ```
    pub fn abs(&self) -> Tensor {
        self.map(f64::abs)
    }

    /// Elementwise `max(x, 0)`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([-1.0, 2.0]).relu().to_vec(), vec![0.0, 2.0]);
    /// ```
    pub fn relu(&self) -> Tensor {
        self.map(relu)
    }

    /// Elementwise logistic function `1 / (1 + e^(−x))`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([0.0]).sigmoid().to_vec(), vec![0.5]);
    /// ```
    pub fn sigmoid(&self) -> Tensor {
        self.map(sigmoid)
    }

    /// Elementwise reciprocal `1/x`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([2.0, 4.0]).recip().to_vec(), vec![0.5, 0.25]);
    /// ```
    pub fn recip(&self) -> Tensor {
        self.map(f64::recip)
    }

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

/// Declares a unary rule `name(g, v)` whose `f64` path is `$f(g, v)` and
/// whose tensor path applies the same function elementwise.
macro_rules! unary_rule {
    ($(#[$attr:meta])* $name:ident => $Marker:ident($v:ident), $f:expr) => {
        rule_fn!($(#[$attr])* $name => $Marker(g: G, $v: X: Operand));

        impl Rule<(&f64, &f64)> for $Marker {
            type Out = f64;
            #[inline(always)]
            fn apply((g, v): (&f64, &f64)) -> f64 {
                let f: fn(f64, f64) -> f64 = $f;
                f(*g, *v)
            }
        }

        impl Rule<(&Tensor, &Tensor)> for $Marker {
            type Out = Tensor;
            fn apply((g, v): (&Tensor, &Tensor)) -> Tensor {
                pointwise(g, v, $f)
            }
        }
    };
}

unary_rule!(
    /// `y = sin x`: `x̄ += ḡ · cos x`.
    sin_d0 => SinD0(x), |g, x| g * x.cos()
);
unary_rule!(
    /// `y = cos x`: `x̄ += −ḡ · sin x`.
    cos_d0 => CosD0(x), |g, x| -g * x.sin()
);
unary_rule!(
    /// `y = tan x`: `x̄ += ḡ · (1 + y²)`.
    tan_d0 => TanD0(y), |g, y| g * (1.0 + y * y)
);
unary_rule!(
    /// `y = tanh x`: `x̄ += ḡ · (1 − y²)`.
    tanh_d0 => TanhD0(y), |g, y| g * (1.0 - y * y)
);
unary_rule!(
    /// `y = eˣ`: `x̄ += ḡ · y`.
    exp_d0 => ExpD0(y), |g, y| g * y
);
unary_rule!(
    /// `y = ln x`: `x̄ += ḡ / x`.
    ln_d0 => LnD0(x), |g, x| g / x
);
unary_rule!(
    /// `y = x.log()` (natural logarithm, tensors): `x̄ += ḡ / x`.
    log_d0 => LogD0(x), |g, x| g / x
);
unary_rule!(
    /// `y = √x`: `x̄ += ḡ / (2y)`.
    sqrt_d0 => SqrtD0(y), |g, y| g / (2.0 * y)
);
unary_rule!(
    /// `y = |x|`: `x̄ += ḡ · sign x`, and 0 at `x = 0` (as PyTorch).
    abs_d0 => AbsD0(x), |g, x| if x > 0.0 { g } else if x < 0.0 { -g } else { 0.0 }
);
unary_rule!(
    /// `y = relu x`: `x̄ += ḡ · [x > 0]` (0 at `x = 0`).
    relu_d0 => ReluD0(x), |g, x| if x > 0.0 { g } else { 0.0 }
);
unary_rule!(
    /// `y = σ(x)`: `x̄ += ḡ · y · (1 − y)`.
    sigmoid_d0 => SigmoidD0(y), |g, y| g * y * (1.0 - y)
);
unary_rule!(
    /// `y = 1/x`: `x̄ += −ḡ · y²`.
    recip_d0 => RecipD0(y), |g, y| -g * y * y
);

rule_fn!(
    /// `y = xⁿ` (`n: i32`): `x̄ += ḡ · n · xⁿ⁻¹` (0 for `n = 0`).
    powi_d0 => PowiD0(g: G, x: X: Operand, n: N)
);

#[inline(always)]
fn powi_rule(g: f64, x: f64, n: i32) -> f64 {
    if n == 0 {
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
    /// `y = xᵖ` (`p: f64`), operand `x`: `x̄ += ḡ · p · xᵖ⁻¹` (0 for `p = 0`).
    powf_d0 => PowfD0(g: G, x: X: Operand, p: P: Operand)
);
rule_fn!(
    /// `y = xᵖ`, operand `p`: `p̄ += Σ ḡ · y · ln x` (0 where `x = 0` and `y`
    /// is finite, as PyTorch).
    powf_d1 => PowfD1(g: G, x: X: Operand, y: Y: Operand)
);

#[inline(always)]
fn powf_rule_x(g: f64, x: f64, p: f64) -> f64 {
    if p == 0.0 {
        0.0
    } else {
        g * p * x.powf(p - 1.0)
    }
}

#[inline(always)]
fn powf_rule_p(g: f64, x: f64, y: f64) -> f64 {
    if x == 0.0 && y.is_finite() {
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
