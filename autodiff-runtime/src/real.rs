//! [`Real`]: the functions that `f64` lacks but tensors have, so that the
//! same user code works on both.

use crate::ops::elementwise;

/// A `Real` method declared from a row of the table of elementwise functions
/// (`f64 real`, or `f64 (real other_name)`); nothing for the other rows.
macro_rules! real_method {
    (decl, real, $name:ident, $elem:path, $doc:literal, $math:literal, $lo:literal) => {
        real_method!(@decl $name, $doc, $math, $lo);
    };
    (decl, (real $alias:ident), $name:ident, $elem:path, $doc:literal, $math:literal, $lo:literal) => {
        real_method!(@decl $alias, $doc, $math, $lo);
    };
    (@decl $method:ident, $doc:literal, $math:literal, $lo:literal) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = concat!("Derivative: `", $math, "`. The same function as the tensor method.")]
        #[doc = ""]
        #[doc = "```"]
        #[doc = "use autodiff_runtime::prelude::*;"]
        #[doc = ""]
        #[doc = concat!("let x: f64 = ", stringify!($lo), ";")]
        #[doc = concat!("assert!(x.", stringify!($method), "().is_finite());")]
        #[doc = "```"]
        fn $method(self) -> Self;
    };
    (impl, real, $name:ident, $elem:path, $doc:literal, $math:literal, $lo:literal) => {
        #[inline]
        fn $name(self) -> f64 {
            $elem(self)
        }
    };
    (impl, (real $alias:ident), $name:ident, $elem:path, $doc:literal, $math:literal, $lo:literal) => {
        #[inline]
        fn $alias(self) -> f64 {
            $elem(self)
        }
    };
    ($mode:ident, $f64:tt, $($rest:tt)*) => {};
}

macro_rules! real_trait {
    ($(
        $name:ident / $d0:ident: $elem:path, f64 $f64:tt, reads $reads:ident, |$g:ident, $v:ident| $d:expr,
        at ($lo:literal, $hi:literal), strong $strong:tt, $node:literal, $math:literal, $doc:literal;
    )*) => {
        /// Functions on `f64` that PyTorch users expect beside the standard
        /// ones (`f64` already has `sin`, `exp`, `ln`, `sqrt`, `powi`, `max`,
        /// `atan2`, …): `sigmoid`, `relu`, `detach`, and the special functions
        /// `special_erf`, `special_erfc`, `ndtr`, `lgamma`, `digamma` (std
        /// reserves `f64::erf`, `f64::erfc` and `f64::ln_gamma` for functions
        /// not yet stable, hence those names).
        ///
        /// ```
        /// use autodiff_runtime::Real;
        ///
        /// assert_eq!(0.0f64.sigmoid(), 0.5);
        /// assert_eq!((-3.0f64).relu(), 0.0);
        /// assert_eq!(2.0f64.detach(), 2.0);
        /// assert_eq!(0.0f64.ndtr(), 0.5);
        /// assert_eq!(1.0f64.lgamma(), 0.0);
        /// ```
        pub trait Real: Copy {
            /// The logistic function `1 / (1 + e^(−x))`, computed without overflow.
            ///
            /// ```
            /// use autodiff_runtime::Real;
            ///
            /// assert!((1000.0f64).sigmoid() == 1.0 && (-1000.0f64).sigmoid() >= 0.0);
            /// ```
            fn sigmoid(self) -> Self;

            /// `max(x, 0)`.
            ///
            /// ```
            /// use autodiff_runtime::Real;
            ///
            /// assert_eq!(2.5f64.relu(), 2.5);
            /// ```
            fn relu(self) -> Self;

            /// The same value, cut off from any gradient (`#[differentiable]` treats
            /// it as a constant; see [`stop_gradient`](crate::stop_gradient)).
            ///
            /// ```
            /// use autodiff_runtime::Real;
            ///
            /// assert_eq!(1.5f64.detach(), 1.5);
            /// ```
            fn detach(self) -> Self;

            $( real_method!(decl, $f64, $name, $elem, $doc, $math, $lo); )*
        }

        impl Real for f64 {
            #[inline]
            fn sigmoid(self) -> f64 {
                elementwise::sigmoid(self)
            }
            #[inline]
            fn relu(self) -> f64 {
                elementwise::relu(self)
            }
            #[inline(always)]
            fn detach(self) -> f64 {
                self
            }
            $( real_method!(impl, $f64, $name, $elem, $doc, $math, $lo); )*
        }
    };
}

crate::ops::table::unary_rows!(real_trait);
