//! The fuzzer's oracle: forward-mode dual numbers, `v + d·ε` with `ε² = 0`.
//!
//! Each generated program is written a second time over `D` instead of `f64`
//! (constants as `c(..)`, `stop_gradient` as `sg`); evaluated with the tangent
//! of one input set to 1, it gives that input's partial derivative along the
//! same control path as the f64 program (the primal parts are computed with
//! the same f64 operations in the same order, so every comparison goes the
//! same way). Nothing here comes from the crate under test except the primal
//! of `sigmoid` and `relu` (so that both programs compute the same bits): the
//! derivative rules are written out below, independently.
//!
//! Conventions at the non-differentiable points follow the README (PyTorch):
//! `abs'(0) = 0`, a tie of `max`/`min` splits the tangent in half.
//!
//! This file is copied into the fuzzer's generated crate (`src/dual.rs`).
#![allow(dead_code)]

use std::cell::Cell;
use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A dual number: primal `v`, tangent `d`.
#[derive(Clone, Copy, Debug)]
pub struct D {
    pub v: f64,
    pub d: f64,
}

thread_local! {
    /// The largest |primal| any operation produced since `reset_magnitude`:
    /// a program whose values grow past sane bounds is skipped, not judged.
    static MAGNITUDE: Cell<f64> = const { Cell::new(0.0) };
}

pub fn reset_magnitude() {
    MAGNITUDE.with(|m| m.set(0.0));
}

/// The largest |primal| seen (infinite if some value was not finite).
pub fn magnitude() -> f64 {
    MAGNITUDE.with(|m| m.get())
}

#[inline]
fn d(v: f64, t: f64) -> D {
    let a = if v.is_finite() { v.abs() } else { f64::INFINITY };
    MAGNITUDE.with(|m| {
        if a > m.get() {
            m.set(a)
        }
    });
    D { v, d: t }
}

/// A constant: tangent zero.
pub fn c(v: f64) -> D {
    D { v, d: 0.0 }
}

/// An input: tangent `t`.
pub fn input(v: f64, t: f64) -> D {
    D { v, d: t }
}

/// `stop_gradient`: the value, no tangent.
pub fn sg(x: D) -> D {
    D { v: x.v, d: 0.0 }
}

impl Add for D {
    type Output = D;
    fn add(self, o: D) -> D {
        d(self.v + o.v, self.d + o.d)
    }
}

impl Sub for D {
    type Output = D;
    fn sub(self, o: D) -> D {
        d(self.v - o.v, self.d - o.d)
    }
}

impl Mul for D {
    type Output = D;
    fn mul(self, o: D) -> D {
        d(self.v * o.v, self.d * o.v + self.v * o.d)
    }
}

impl Div for D {
    type Output = D;
    /// (u/w)' = u'/w − u·w'/w²
    fn div(self, o: D) -> D {
        d(self.v / o.v, self.d / o.v - self.v * o.d / (o.v * o.v))
    }
}

impl Neg for D {
    type Output = D;
    fn neg(self) -> D {
        d(-self.v, -self.d)
    }
}

impl AddAssign for D {
    fn add_assign(&mut self, o: D) {
        *self = *self + o;
    }
}

impl SubAssign for D {
    fn sub_assign(&mut self, o: D) {
        *self = *self - o;
    }
}

impl MulAssign for D {
    fn mul_assign(&mut self, o: D) {
        *self = *self * o;
    }
}

impl DivAssign for D {
    fn div_assign(&mut self, o: D) {
        *self = *self / o;
    }
}

/// Comparisons look at primals only (control flow never carries a tangent).
impl PartialEq for D {
    fn eq(&self, o: &D) -> bool {
        self.v == o.v
    }
}

impl PartialOrd for D {
    fn partial_cmp(&self, o: &D) -> Option<Ordering> {
        self.v.partial_cmp(&o.v)
    }
}

impl D {
    pub fn sin(self) -> D {
        d(self.v.sin(), self.d * self.v.cos())
    }
    pub fn cos(self) -> D {
        d(self.v.cos(), -self.d * self.v.sin())
    }
    pub fn tan(self) -> D {
        let c = self.v.cos();
        d(self.v.tan(), self.d / (c * c))
    }
    pub fn tanh(self) -> D {
        let t = self.v.tanh();
        d(t, self.d * (1.0 - t * t))
    }
    pub fn exp(self) -> D {
        let e = self.v.exp();
        d(e, self.d * e)
    }
    pub fn ln(self) -> D {
        d(self.v.ln(), self.d / self.v)
    }
    pub fn sqrt(self) -> D {
        let r = self.v.sqrt();
        d(r, self.d * 0.5 / r)
    }
    pub fn recip(self) -> D {
        d(1.0 / self.v, -self.d / (self.v * self.v))
    }
    /// abs'(0) = 0.
    pub fn abs(self) -> D {
        let s = if self.v > 0.0 {
            1.0
        } else if self.v < 0.0 {
            -1.0
        } else {
            0.0
        };
        d(self.v.abs(), self.d * s)
    }
    /// (xⁿ)' = n·xⁿ⁻¹ (0 for n = 0).
    pub fn powi(self, n: i32) -> D {
        let t = if n == 0 {
            0.0
        } else {
            n as f64 * self.v.powi(n - 1) * self.d
        };
        d(self.v.powi(n), t)
    }
    /// (xʸ)' = y·xʸ⁻¹·x' + xʸ·ln x·y'
    pub fn powf(self, y: D) -> D {
        let p = self.v.powf(y.v);
        d(p, y.v * self.v.powf(y.v - 1.0) * self.d + p * self.v.ln() * y.d)
    }
    /// σ' = σ(1 − σ); the primal is the runtime's, so that both programs
    /// compute the same bits.
    pub fn sigmoid(self) -> D {
        let s = autodiff::Real::sigmoid(self.v);
        d(s, self.d * s * (1.0 - s))
    }
    /// relu'(0) = 0.
    pub fn relu(self) -> D {
        let t = if self.v > 0.0 { self.d } else { 0.0 };
        d(autodiff::Real::relu(self.v), t)
    }
    /// A tie splits the tangent in half.
    pub fn max(self, o: D) -> D {
        if self.v > o.v {
            d(self.v, self.d)
        } else if self.v < o.v {
            d(o.v, o.d)
        } else {
            d(self.v.max(o.v), 0.5 * (self.d + o.d))
        }
    }
    /// A tie splits the tangent in half.
    pub fn min(self, o: D) -> D {
        if self.v < o.v {
            d(self.v, self.d)
        } else if self.v > o.v {
            d(o.v, o.d)
        } else {
            d(self.v.min(o.v), 0.5 * (self.d + o.d))
        }
    }
}
