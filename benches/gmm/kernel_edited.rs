//! Hand-edited copies of the code `#[differentiable]` generates for
//! [`super::kernel::qx_kernel`] (its `__ad_vjp_all`, printed with
//! `AUTODIFF_DUMP=qx_kernel` from the macro at commit 6edb716, rustfmt'ed and
//! edited by `scripts/gmm_edit_generated.py kernel`), each edit marked
//! `/* EDIT n */`:
//!
//! - [`walk`]: EDIT 0 only. The generated forward keeps the counter `k` on a
//!   tape at every step of the inner loop (`Keep(&k)`, 8 bytes a step) and
//!   the reverse restores it; here the reverse walks it back (`k −= 1`, the
//!   exact inverse of `k += 1` on an integer), from its value at the end of
//!   each point (kept once per point).
//! - [`all`]: EDIT 0, then EDIT 1 (trip counts of `0..d` and `0..j`
//!   recomputed, not kept per execution), EDIT 4 (dense gradients, `g[i] += v`
//!   instead of `acc_index`) and EDIT 6 (the per-row tape of `qx` reused
//!   between calls), as in `edited.rs`.
#![allow(
    clippy::all,
    unused_parens,
    unused_braces,
    non_snake_case,
    unused_variables,
    unused_mut,
    unused_assignments
)]

/// The counter walked back (EDIT 0).
pub mod walk {
    /// The value of `qx_kernel` and its pullback (cotangents of all five parameters).
    pub fn vjp<'__ad_l0, '__ad_l1, '__ad_l2>(
        d: usize,
        n: usize,
        l: &'__ad_l0 [f64],
        x: &'__ad_l1 [f64],
        mu: &'__ad_l2 [f64],
    ) -> (
        f64,
        impl ::core::ops::FnOnce(
            <f64 as ::autodiff::Differentiable>::Tangent,
        ) -> (
            (),
            (),
            <&'__ad_l0 [f64] as ::autodiff::Differentiable>::Tangent,
            (),
            <&'__ad_l2 [f64] as ::autodiff::Differentiable>::Tangent,
        ) + ::core::clone::Clone
        + use<'__ad_l0, '__ad_l1, '__ad_l2>,
    ) {
        #[allow(unused_imports)]
        use ::autodiff::__private::{KeepBorrowed as _, KeepOwned as _};
        let __ad_p_d = ::core::clone::Clone::clone(&d);
        let __ad_p_l = ::core::clone::Clone::clone(&l);
        let __ad_p_x = ::core::clone::Clone::clone(&x);
        let __ad_p_mu = ::core::clone::Clone::clone(&mu);
        let mut __ad_s2 = ::core::default::Default::default();
        let mut __ad_s4 = ::std::vec::Vec::new();
        let mut __ad_s6 = ::std::vec::Vec::new();
        /* EDIT 0 */
        let mut __ad_s7: Vec<usize> = ::std::vec::Vec::new();
        let mut __ad_s9 = ::std::vec::Vec::new();
        let mut __ad_mt9_0 = ::core::default::Default::default();
        let mut __ad_mt9_1 = ::core::default::Default::default();
        let mut __ad_mt7_2 = ::core::default::Default::default();
        let mut __ad_mt7_3 = ::core::default::Default::default();
        let mut __ad_mt5_4 = ::core::default::Default::default();
        let __ad_out;
        let mut s = (0.0);
        {
            let mut __ad_n0: usize = 0;
            let __ad_lo0 = 0;
            let mut __ad_last0 = __ad_lo0;
            '__ad_loop0: for i in __ad_lo0..(n) {
                __ad_n0 += 1;
                __ad_last0 = i;
                let mut k = (0);
                {
                    let mut __ad_n1: usize = 0;
                    let __ad_lo1 = 0;
                    let mut __ad_last1 = __ad_lo1;
                    '__ad_loop1: for j in __ad_lo1..(d) {
                        __ad_n1 += 1;
                        __ad_last1 = j;
                        ::autodiff::__private::push_meta(
                            &mut __ad_mt5_4,
                            ::autodiff::__private::meta(&mu[j]),
                        );
                        let mut qx = (x[((i * d) + j)] - mu[j]);
                        {
                            let mut __ad_n2: usize = 0;
                            let __ad_lo2 = 0;
                            let mut __ad_last2 = __ad_lo2;
                            '__ad_loop2: for c in __ad_lo2..(j) {
                                __ad_n2 += 1;
                                __ad_last2 = c;
                                ::autodiff::__private::push_meta(
                                    &mut __ad_mt7_2,
                                    ::autodiff::__private::meta(&qx),
                                );
                                /* EDIT 0 */
                                let __ad_h2 = (l[k] * (x[((i * d) + c)] - mu[c]));
                                ::autodiff::__private::push_meta(
                                    &mut __ad_mt7_3,
                                    ::autodiff::__private::meta(&__ad_h2),
                                );
                                /* EDIT 0 */
                                qx += __ad_h2;
                                k += (1);
                            }
                            __ad_s6.push((__ad_n2, __ad_last2));
                        }
                        ::autodiff::__private::push_meta(
                            &mut __ad_mt9_0,
                            ::autodiff::__private::meta(&s),
                        );
                        let __ad_l3 = (&::autodiff::__private::Keep(&qx)).keep();
                        let __ad_h2 = (qx * qx);
                        ::autodiff::__private::push_meta(
                            &mut __ad_mt9_1,
                            ::autodiff::__private::meta(&__ad_h2),
                        );
                        __ad_s9.push((__ad_l3,));
                        s += __ad_h2;
                    }
                    /* EDIT 0 */
                    __ad_s4.push((__ad_n1, __ad_last1));
                    __ad_s7.push(k);
                }
            }
            __ad_s2 = (__ad_n0, __ad_last0);
        }
        __ad_out = s;
        (
            __ad_out,
            move |__ad_ct: <f64 as ::autodiff::Differentiable>::Tangent| {
                let mut l_bar: <&'static [f64] as ::autodiff::Differentiable>::Tangent =
                    ::autodiff::__private::zero();
                let mut mu_bar: <&'static [f64] as ::autodiff::Differentiable>::Tangent =
                    ::autodiff::__private::zero();
                let mut s_bar = ::autodiff::__private::zero();
                let mut qx_bar = ::autodiff::__private::zero();
                let mut __ad_d_out = __ad_ct;
                {
                    let __ad_g = ::autodiff::__private::take(&mut __ad_d_out);
                    if ::autodiff::__private::nonzero(&__ad_g) {
                        ::autodiff::__private::acc(&mut s_bar, __ad_g);
                    }
                }
                {
                    let (__ad_n, __ad_last) = __ad_s2;
                    let mut __ad_ctr0 = __ad_last;
                    for _ in 0..__ad_n {
                        let __ad_exit0: u32 = 0;
                        {
                            /* EDIT 0 */
                            let ::core::option::Option::Some((__ad_n, __ad_last)) = __ad_s4.pop()
                            else {
                                unreachable!()
                            };
                            let mut __ad_k: usize = __ad_s7.pop().unwrap();
                            let mut __ad_ctr1 = __ad_last;
                            for _ in 0..__ad_n {
                                let __ad_exit1: u32 = 0;
                                let mut __ad_ix1_0: f64 = -0.0;
                                {
                                    let ::core::option::Option::Some((__ad_l3,)) = __ad_s9.pop()
                                    else {
                                        ::core::unreachable!(
                                            "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                        )
                                    };
                                    let __ad_mb5 = ::autodiff::__private::pop_meta(&mut __ad_mt9_0);
                                    let __ad_m2 = ::autodiff::__private::pop_meta(&mut __ad_mt9_1);
                                    let qx = ::autodiff::__private::restore(&__ad_l3);
                                    let __ad_g = ::autodiff::__private::take(&mut s_bar);
                                    if ::autodiff::__private::nonzero(&__ad_g) {
                                        let __ad_g0 = __ad_g;
                                        let __ad_c0_0 = ::autodiff::__private::rules::add_d0(
                                            &__ad_g0, &__ad_mb5,
                                        );
                                        ::autodiff::__private::acc(&mut s_bar, __ad_c0_0);
                                        let __ad_c0_1 = ::autodiff::__private::rules::add_d1(
                                            &__ad_g0, &__ad_m2,
                                        );
                                        let __ad_g2 = __ad_c0_1;
                                        let __ad_c2_0 = ::autodiff::__private::rules::mul_d0(
                                            &__ad_g2,
                                            &::autodiff::__private::meta(&qx),
                                            &qx,
                                        );
                                        ::autodiff::__private::acc(&mut qx_bar, __ad_c2_0);
                                        let __ad_c2_1 = ::autodiff::__private::rules::mul_d1(
                                            &__ad_g2,
                                            &qx,
                                            &::autodiff::__private::meta(&qx),
                                        );
                                        ::autodiff::__private::acc(&mut qx_bar, __ad_c2_1);
                                    }
                                }
                                {
                                    let ::core::option::Option::Some((__ad_n, __ad_last)) =
                                        __ad_s6.pop()
                                    else {
                                        ::core::unreachable!(
                                            "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                        )
                                    };
                                    let mut __ad_ctr2 = __ad_last;
                                    for _ in 0..__ad_n {
                                        let __ad_exit2: u32 = 0;
                                        let mut __ad_ix2_0: f64 = -0.0;
                                        {
                                            /* EDIT 0 */
                                            __ad_k -= 1;
                                            let __ad_mb9 =
                                                ::autodiff::__private::pop_meta(&mut __ad_mt7_2);
                                            let __ad_m2 =
                                                ::autodiff::__private::pop_meta(&mut __ad_mt7_3);
                                            /* EDIT 0 */
                                            let k = __ad_k;
                                            let l = ::core::clone::Clone::clone(&__ad_p_l);
                                            let x = ::core::clone::Clone::clone(&__ad_p_x);
                                            let i = __ad_ctr0;
                                            let d = ::core::clone::Clone::clone(&__ad_p_d);
                                            let c = __ad_ctr2;
                                            let mu = ::core::clone::Clone::clone(&__ad_p_mu);
                                            let __ad_g = ::autodiff::__private::take(&mut qx_bar);
                                            if ::autodiff::__private::nonzero(&__ad_g) {
                                                let __ad_r10 = (::core::clone::Clone::clone(&i)
                                                    * ::core::clone::Clone::clone(&d));
                                                let __ad_r9 =
                                                    (::core::clone::Clone::clone(&__ad_r10)
                                                        + ::core::clone::Clone::clone(&c));
                                                let __ad_r6 = (::core::clone::Clone::clone(
                                                    &x[::core::clone::Clone::clone(&__ad_r9)],
                                                ) - ::core::clone::Clone::clone(
                                                    &mu[::core::clone::Clone::clone(&c)],
                                                ));
                                                let __ad_g0 = __ad_g;
                                                let __ad_c0_0 =
                                                    ::autodiff::__private::rules::add_d0(
                                                        &__ad_g0, &__ad_mb9,
                                                    );
                                                ::autodiff::__private::acc(&mut qx_bar, __ad_c0_0);
                                                let __ad_c0_1 =
                                                    ::autodiff::__private::rules::add_d1(
                                                        &__ad_g0, &__ad_m2,
                                                    );
                                                let __ad_g2 = __ad_c0_1;
                                                let __ad_c2_0 =
                                                    ::autodiff::__private::rules::mul_d0(
                                                        &__ad_g2,
                                                        &::autodiff::__private::meta(
                                                            &l[::core::clone::Clone::clone(&k)],
                                                        ),
                                                        &__ad_r6,
                                                    );
                                                ::autodiff::__private::acc_index(
                                                    &mut l_bar,
                                                    &::autodiff::__private::meta(&l),
                                                    &k,
                                                    __ad_c2_0,
                                                );
                                                let __ad_c2_1 =
                                                    ::autodiff::__private::rules::mul_d1(
                                                        &__ad_g2,
                                                        &l[::core::clone::Clone::clone(&k)],
                                                        &::autodiff::__private::meta(&__ad_r6),
                                                    );
                                                let __ad_g6 = __ad_c2_1;
                                                let __ad_c6_1 =
                                                    ::autodiff::__private::rules::sub_d1(
                                                        &__ad_g6,
                                                        &::autodiff::__private::meta(
                                                            &mu[::core::clone::Clone::clone(&c)],
                                                        ),
                                                    );
                                                __ad_ix2_0 += __ad_c6_1;
                                            }
                                        }
                                        {
                                            let mu = ::core::clone::Clone::clone(&__ad_p_mu);
                                            let c = __ad_ctr2;
                                            ::autodiff::__private::acc_index(
                                                &mut mu_bar,
                                                &::autodiff::__private::meta(&mu),
                                                &c,
                                                __ad_ix2_0,
                                            );
                                        }
                                        __ad_ctr2 = ::autodiff::__private::prev(__ad_ctr2);
                                    }
                                }
                                {
                                    let __ad_m8 = ::autodiff::__private::pop_meta(&mut __ad_mt5_4);
                                    let mu = ::core::clone::Clone::clone(&__ad_p_mu);
                                    let j = __ad_ctr1;
                                    let __ad_g = ::autodiff::__private::take(&mut qx_bar);
                                    if ::autodiff::__private::nonzero(&__ad_g) {
                                        let __ad_g0 = __ad_g;
                                        let __ad_c0_1 = ::autodiff::__private::rules::sub_d1(
                                            &__ad_g0, &__ad_m8,
                                        );
                                        __ad_ix1_0 += __ad_c0_1;
                                    }
                                }
                                {
                                    let mu = ::core::clone::Clone::clone(&__ad_p_mu);
                                    let j = __ad_ctr1;
                                    ::autodiff::__private::acc_index(
                                        &mut mu_bar,
                                        &::autodiff::__private::meta(&mu),
                                        &j,
                                        __ad_ix1_0,
                                    );
                                }
                                __ad_ctr1 = ::autodiff::__private::prev(__ad_ctr1);
                            }
                        }
                        __ad_ctr0 = ::autodiff::__private::prev(__ad_ctr0);
                    }
                }
                {
                    let _ = ::autodiff::__private::take(&mut s_bar);
                }
                (
                    (),
                    (),
                    ::autodiff::__private::finish(l_bar, &__ad_p_l),
                    (),
                    ::autodiff::__private::finish(mu_bar, &__ad_p_mu),
                )
            },
        )
    }
}

/// All the edits (EDITS 0, 1, 4, 6).
pub mod all {
    thread_local! {
        /* EDIT 6 */
        static QX_TAPES: std::cell::Cell<Vec<(autodiff::__private::ByVal<f64>,)>> = const { std::cell::Cell::new(Vec::new()) };
    }

    /// The value of `qx_kernel` and its pullback (cotangents of all five parameters).
    pub fn vjp<'__ad_l0, '__ad_l1, '__ad_l2>(
        d: usize,
        n: usize,
        l: &'__ad_l0 [f64],
        x: &'__ad_l1 [f64],
        mu: &'__ad_l2 [f64],
    ) -> (
        f64,
        impl ::core::ops::FnOnce(
            <f64 as ::autodiff::Differentiable>::Tangent,
        ) -> (
            (),
            (),
            <&'__ad_l0 [f64] as ::autodiff::Differentiable>::Tangent,
            (),
            <&'__ad_l2 [f64] as ::autodiff::Differentiable>::Tangent,
        ) + ::core::clone::Clone
        + use<'__ad_l0, '__ad_l1, '__ad_l2>,
    ) {
        #[allow(unused_imports)]
        use ::autodiff::__private::{KeepBorrowed as _, KeepOwned as _};
        let __ad_p_d = ::core::clone::Clone::clone(&d);
        let __ad_p_l = ::core::clone::Clone::clone(&l);
        let __ad_p_x = ::core::clone::Clone::clone(&x);
        let __ad_p_mu = ::core::clone::Clone::clone(&mu);
        let mut __ad_s2 = ::core::default::Default::default();
        /* EDIT 1 */
        /* EDIT 1 */
        /* EDIT 0 */
        let mut __ad_s7: Vec<usize> = ::std::vec::Vec::new();
        /* EDIT 6 */
        let mut __ad_s9 = QX_TAPES.with(|p| p.take());
        let mut __ad_mt9_0 = ::core::default::Default::default();
        let mut __ad_mt9_1 = ::core::default::Default::default();
        let mut __ad_mt7_2 = ::core::default::Default::default();
        let mut __ad_mt7_3 = ::core::default::Default::default();
        let mut __ad_mt5_4 = ::core::default::Default::default();
        let __ad_out;
        let mut s = (0.0);
        {
            let mut __ad_n0: usize = 0;
            let __ad_lo0 = 0;
            let mut __ad_last0 = __ad_lo0;
            '__ad_loop0: for i in __ad_lo0..(n) {
                __ad_n0 += 1;
                __ad_last0 = i;
                let mut k = (0);
                {
                    let mut __ad_n1: usize = 0;
                    let __ad_lo1 = 0;
                    let mut __ad_last1 = __ad_lo1;
                    '__ad_loop1: for j in __ad_lo1..(d) {
                        __ad_n1 += 1;
                        __ad_last1 = j;
                        ::autodiff::__private::push_meta(
                            &mut __ad_mt5_4,
                            ::autodiff::__private::meta(&mu[j]),
                        );
                        let mut qx = (x[((i * d) + j)] - mu[j]);
                        {
                            let mut __ad_n2: usize = 0;
                            let __ad_lo2 = 0;
                            let mut __ad_last2 = __ad_lo2;
                            '__ad_loop2: for c in __ad_lo2..(j) {
                                __ad_n2 += 1;
                                __ad_last2 = c;
                                ::autodiff::__private::push_meta(
                                    &mut __ad_mt7_2,
                                    ::autodiff::__private::meta(&qx),
                                );
                                /* EDIT 0 */
                                let __ad_h2 = (l[k] * (x[((i * d) + c)] - mu[c]));
                                ::autodiff::__private::push_meta(
                                    &mut __ad_mt7_3,
                                    ::autodiff::__private::meta(&__ad_h2),
                                );
                                /* EDIT 0 */
                                qx += __ad_h2;
                                k += (1);
                            }
                            /* EDIT 1 */
                        }
                        ::autodiff::__private::push_meta(
                            &mut __ad_mt9_0,
                            ::autodiff::__private::meta(&s),
                        );
                        let __ad_l3 = (&::autodiff::__private::Keep(&qx)).keep();
                        let __ad_h2 = (qx * qx);
                        ::autodiff::__private::push_meta(
                            &mut __ad_mt9_1,
                            ::autodiff::__private::meta(&__ad_h2),
                        );
                        __ad_s9.push((__ad_l3,));
                        s += __ad_h2;
                    }
                    /* EDIT 0 */
                    /* EDIT 1 */
                    __ad_s7.push(k);
                }
            }
            __ad_s2 = (__ad_n0, __ad_last0);
        }
        __ad_out = s;
        (
            __ad_out,
            move |__ad_ct: <f64 as ::autodiff::Differentiable>::Tangent| {
                /* EDIT 4 */
                let mut l_bar: Vec<f64> = vec![0.0; __ad_p_l.len()];
                /* EDIT 4 */
                let mut mu_bar: Vec<f64> = vec![0.0; __ad_p_mu.len()];
                let mut s_bar = ::autodiff::__private::zero();
                let mut qx_bar = ::autodiff::__private::zero();
                let mut __ad_d_out = __ad_ct;
                {
                    let __ad_g = ::autodiff::__private::take(&mut __ad_d_out);
                    if ::autodiff::__private::nonzero(&__ad_g) {
                        ::autodiff::__private::acc(&mut s_bar, __ad_g);
                    }
                }
                {
                    let (__ad_n, __ad_last) = __ad_s2;
                    let mut __ad_ctr0 = __ad_last;
                    for _ in 0..__ad_n {
                        let __ad_exit0: u32 = 0;
                        {
                            /* EDIT 0 */
                            /* EDIT 1 */
                            let (__ad_n, __ad_last) = (__ad_p_d, __ad_p_d.saturating_sub(1));
                            let mut __ad_k: usize = __ad_s7.pop().unwrap();
                            let mut __ad_ctr1 = __ad_last;
                            for _ in 0..__ad_n {
                                let __ad_exit1: u32 = 0;
                                let mut __ad_ix1_0: f64 = -0.0;
                                {
                                    let ::core::option::Option::Some((__ad_l3,)) = __ad_s9.pop()
                                    else {
                                        ::core::unreachable!(
                                            "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                        )
                                    };
                                    let __ad_mb5 = ::autodiff::__private::pop_meta(&mut __ad_mt9_0);
                                    let __ad_m2 = ::autodiff::__private::pop_meta(&mut __ad_mt9_1);
                                    let qx = ::autodiff::__private::restore(&__ad_l3);
                                    let __ad_g = ::autodiff::__private::take(&mut s_bar);
                                    if ::autodiff::__private::nonzero(&__ad_g) {
                                        let __ad_g0 = __ad_g;
                                        let __ad_c0_0 = ::autodiff::__private::rules::add_d0(
                                            &__ad_g0, &__ad_mb5,
                                        );
                                        ::autodiff::__private::acc(&mut s_bar, __ad_c0_0);
                                        let __ad_c0_1 = ::autodiff::__private::rules::add_d1(
                                            &__ad_g0, &__ad_m2,
                                        );
                                        let __ad_g2 = __ad_c0_1;
                                        let __ad_c2_0 = ::autodiff::__private::rules::mul_d0(
                                            &__ad_g2,
                                            &::autodiff::__private::meta(&qx),
                                            &qx,
                                        );
                                        ::autodiff::__private::acc(&mut qx_bar, __ad_c2_0);
                                        let __ad_c2_1 = ::autodiff::__private::rules::mul_d1(
                                            &__ad_g2,
                                            &qx,
                                            &::autodiff::__private::meta(&qx),
                                        );
                                        ::autodiff::__private::acc(&mut qx_bar, __ad_c2_1);
                                    }
                                }
                                {
                                    /* EDIT 1 */
                                    let (__ad_n, __ad_last) =
                                        (__ad_ctr1, __ad_ctr1.saturating_sub(1));
                                    let mut __ad_ctr2 = __ad_last;
                                    for _ in 0..__ad_n {
                                        let __ad_exit2: u32 = 0;
                                        let mut __ad_ix2_0: f64 = -0.0;
                                        {
                                            /* EDIT 0 */
                                            __ad_k -= 1;
                                            let __ad_mb9 =
                                                ::autodiff::__private::pop_meta(&mut __ad_mt7_2);
                                            let __ad_m2 =
                                                ::autodiff::__private::pop_meta(&mut __ad_mt7_3);
                                            /* EDIT 0 */
                                            let k = __ad_k;
                                            let l = ::core::clone::Clone::clone(&__ad_p_l);
                                            let x = ::core::clone::Clone::clone(&__ad_p_x);
                                            let i = __ad_ctr0;
                                            let d = ::core::clone::Clone::clone(&__ad_p_d);
                                            let c = __ad_ctr2;
                                            let mu = ::core::clone::Clone::clone(&__ad_p_mu);
                                            let __ad_g = ::autodiff::__private::take(&mut qx_bar);
                                            if ::autodiff::__private::nonzero(&__ad_g) {
                                                let __ad_r10 = (::core::clone::Clone::clone(&i)
                                                    * ::core::clone::Clone::clone(&d));
                                                let __ad_r9 =
                                                    (::core::clone::Clone::clone(&__ad_r10)
                                                        + ::core::clone::Clone::clone(&c));
                                                let __ad_r6 = (::core::clone::Clone::clone(
                                                    &x[::core::clone::Clone::clone(&__ad_r9)],
                                                ) - ::core::clone::Clone::clone(
                                                    &mu[::core::clone::Clone::clone(&c)],
                                                ));
                                                let __ad_g0 = __ad_g;
                                                let __ad_c0_0 =
                                                    ::autodiff::__private::rules::add_d0(
                                                        &__ad_g0, &__ad_mb9,
                                                    );
                                                ::autodiff::__private::acc(&mut qx_bar, __ad_c0_0);
                                                let __ad_c0_1 =
                                                    ::autodiff::__private::rules::add_d1(
                                                        &__ad_g0, &__ad_m2,
                                                    );
                                                let __ad_g2 = __ad_c0_1;
                                                let __ad_c2_0 =
                                                    ::autodiff::__private::rules::mul_d0(
                                                        &__ad_g2,
                                                        &::autodiff::__private::meta(
                                                            &l[::core::clone::Clone::clone(&k)],
                                                        ),
                                                        &__ad_r6,
                                                    );
                                                /* EDIT 4 */
                                                l_bar[k] += __ad_c2_0;
                                                let __ad_c2_1 =
                                                    ::autodiff::__private::rules::mul_d1(
                                                        &__ad_g2,
                                                        &l[::core::clone::Clone::clone(&k)],
                                                        &::autodiff::__private::meta(&__ad_r6),
                                                    );
                                                let __ad_g6 = __ad_c2_1;
                                                let __ad_c6_1 =
                                                    ::autodiff::__private::rules::sub_d1(
                                                        &__ad_g6,
                                                        &::autodiff::__private::meta(
                                                            &mu[::core::clone::Clone::clone(&c)],
                                                        ),
                                                    );
                                                __ad_ix2_0 += __ad_c6_1;
                                            }
                                        }
                                        {
                                            let mu = ::core::clone::Clone::clone(&__ad_p_mu);
                                            let c = __ad_ctr2;
                                            /* EDIT 4 */
                                            mu_bar[c] += __ad_ix2_0;
                                        }
                                        __ad_ctr2 = ::autodiff::__private::prev(__ad_ctr2);
                                    }
                                }
                                {
                                    let __ad_m8 = ::autodiff::__private::pop_meta(&mut __ad_mt5_4);
                                    let mu = ::core::clone::Clone::clone(&__ad_p_mu);
                                    let j = __ad_ctr1;
                                    let __ad_g = ::autodiff::__private::take(&mut qx_bar);
                                    if ::autodiff::__private::nonzero(&__ad_g) {
                                        let __ad_g0 = __ad_g;
                                        let __ad_c0_1 = ::autodiff::__private::rules::sub_d1(
                                            &__ad_g0, &__ad_m8,
                                        );
                                        __ad_ix1_0 += __ad_c0_1;
                                    }
                                }
                                {
                                    let mu = ::core::clone::Clone::clone(&__ad_p_mu);
                                    let j = __ad_ctr1;
                                    /* EDIT 4 */
                                    mu_bar[j] += __ad_ix1_0;
                                }
                                __ad_ctr1 = ::autodiff::__private::prev(__ad_ctr1);
                            }
                        }
                        __ad_ctr0 = ::autodiff::__private::prev(__ad_ctr0);
                    }
                }
                /* EDIT 6 */
                {
                    let _ = ::autodiff::__private::take(&mut s_bar);
                }
                QX_TAPES.with(|p| p.set(__ad_s9));
                (
                    (),
                    (),
                    ::autodiff::__private::finish(l_bar, &__ad_p_l),
                    (),
                    ::autodiff::__private::finish(mu_bar, &__ad_p_mu),
                )
            },
        )
    }
}
