//! A hand-edited copy of the code `#[differentiable]` generates for form (b),
//! [`super::gmm_slices`] (its `__ad_vjp_all`, printed with
//! `AUTODIFF_DUMP=gmm_slices` from the macro at commit 6edb716 and formatted
//! with rustfmt), edited only where the macro could emit something else.
//! The benchmark times it beside the generated gradient to show what each
//! proposal for the macro gains (benches/README.md, "GMM: what the generated
//! code costs"). The edits, each marked `/* EDIT n */` below:
//!
//! 1. trip counts: a counted loop whose bounds the reverse pass can evaluate
//!    again (`0..k`, `0..d`, `0..j` with `j` an enclosing counter) keeps no
//!    `(trips, last)` pair per execution on a tape; the reverse computes them.
//! 2. index: the index `ik·icf_sz + d + c(2d − c − 3)/2 + j − 1` is evaluated
//!    again from the counters and the immutable `icf_sz`, not kept per step.
//! 3. exp(q): `qdiags` is not written once the point loop starts, so its
//!    elements are read from the final vector, not kept per read.
//! 4. dense: the gradients of slices and local vectors start as zeros of
//!    their length and are updated with `g[i] += v`, not `acc_index` (which
//!    checks the length on every update).
//! 5. lengths: the lengths of `qdiags` and `sum_qs` never change in the loop:
//!    no per-step tape of their `LenMeta`.
//! 6. reuse: the one per-row tape left (`qx`, 8 bytes per row) comes from a
//!    per-thread pool and goes back to it, so its pages are not faulted in
//!    again on every call.
//! 7. outline: the forward's inner accumulation, which now tapes nothing, is
//!    the primal's loop in a function of its own (`#[inline(never)]`), so
//!    that `qx` stays in a register instead of a stack slot.
//! 8. outline the reverse: the reverse of that loop, which reads no tape
//!    either (`qx += h` passes `qx`'s cotangent through unchanged, so it is
//!    one scalar for the whole loop), in a function of its own too.
//!
//! Made by `scripts/gmm_edit_generated.py` (the patterns there follow the
//! dump at that commit, and will need updating when the macro changes).
#![allow(
    clippy::all,
    unused_parens,
    unused_braces,
    non_snake_case,
    unused_variables,
    unused_mut,
    unused_assignments
)]

use super::*;

thread_local! {
    /* EDIT 6 */
    static QX_TAPES: std::cell::Cell<Vec<(autodiff::__private::ByVal<f64>,)>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The value of [`super::gmm_slices`] and its pullback (which returns the
/// cotangents of all nine parameters, as `__ad_vjp_all` does).
#[allow(clippy::too_many_arguments)]
pub fn vjp<'__ad_l0, '__ad_l1, '__ad_l2, '__ad_l3>(
    d: usize,
    k: usize,
    n: usize,
    alphas: &'__ad_l0 [f64],
    means: &'__ad_l1 [f64],
    icf: &'__ad_l2 [f64],
    x: &'__ad_l3 [f64],
    gamma: f64,
    m: usize,
) -> (
    f64,
    impl ::core::ops::FnOnce(
        <f64 as ::autodiff::Differentiable>::Tangent,
    ) -> (
        (),
        (),
        (),
        <&'__ad_l0 [f64] as ::autodiff::Differentiable>::Tangent,
        <&'__ad_l1 [f64] as ::autodiff::Differentiable>::Tangent,
        <&'__ad_l2 [f64] as ::autodiff::Differentiable>::Tangent,
        (),
        (),
        (),
    ) + ::core::clone::Clone
    + use<'__ad_l0, '__ad_l1, '__ad_l2, '__ad_l3>,
) {
    #[allow(unused_imports)]
    use ::autodiff::__private::{KeepBorrowed as _, KeepOwned as _};
    let __ad_e_k: usize = k;
    let __ad_e_icf_sz: usize = d * (d + 1) / 2;
    let __ad_e_k2: usize = k;
    let __ad_e_len_qdiags: usize = d * k;
    let __ad_e_len_sum_qs: usize = k;
    let __ad_p_d = ::core::clone::Clone::clone(&d);
    let __ad_p_n = ::core::clone::Clone::clone(&n);
    let __ad_p_alphas = ::core::clone::Clone::clone(&alphas);
    let __ad_p_means = ::core::clone::Clone::clone(&means);
    let __ad_p_icf = ::core::clone::Clone::clone(&icf);
    let __ad_p_x = ::core::clone::Clone::clone(&x);
    let __ad_p_gamma = ::core::clone::Clone::clone(&gamma);
    let __ad_p_m = ::core::clone::Clone::clone(&m);
    let mut __ad_s4 = ::core::default::Default::default();
    let mut __ad_s5 = ::std::vec::Vec::new();
    let mut __ad_s6 = ::std::vec::Vec::new();
    let mut __ad_s8 = ::std::vec::Vec::new();
    let mut __ad_s10 = ::core::default::Default::default();
    /* EDIT 1 */
    /* EDIT 1 */
    /* EDIT 3 */
    /* EDIT 1 */
    /* EDIT 2 */
    /* EDIT 6 */
    let mut __ad_s19 = QX_TAPES.with(|p| p.take());
    let mut __ad_s21 = ::std::vec::Vec::new();
    let mut __ad_s22 = ::std::vec::Vec::new();
    let mut __ad_s24 = ::std::vec::Vec::new();
    let mut __ad_s25 = ::std::vec::Vec::new();
    let mut __ad_s27 = ::core::default::Default::default();
    let mut __ad_s28 = ::std::vec::Vec::new();
    let mut __ad_s31 = ::core::default::Default::default();
    let mut __ad_s32 = ::std::vec::Vec::new();
    let mut __ad_s33 = ::core::option::Option::None;
    let mut __ad_s35 = ::core::default::Default::default();
    let mut __ad_s37 = ::std::vec::Vec::new();
    let mut __ad_s38 = ::std::vec::Vec::new();
    let mut __ad_s39 = ::std::vec::Vec::new();
    let mut __ad_s40 = ::std::vec::Vec::new();
    let mut __ad_mt42_0 = ::core::default::Default::default();
    let mut __ad_mt42_1 = ::core::default::Default::default();
    let mut __ad_mt42_2 = ::core::default::Default::default();
    let mut __ad_mt42_3 = ::core::default::Default::default();
    let mut __ad_mt42_4 = ::core::default::Default::default();
    let mut __ad_mt42_5 = ::core::default::Default::default();
    let mut __ad_mt41_6 = ::core::default::Default::default();
    let mut __ad_mt41_7 = ::core::default::Default::default();
    let mut __ad_mt41_8 = ::core::default::Default::default();
    let mut __ad_mt41_9 = ::core::default::Default::default();
    let mut __ad_mt41_10 = ::core::default::Default::default();
    let mut __ad_mt41_11 = ::core::default::Default::default();
    let mut __ad_mt41_12 = ::core::default::Default::default();
    let mut __ad_mt40_13 = ::core::default::Default::default();
    let mut __ad_mt40_14 = ::core::default::Default::default();
    let mut __ad_mt38_15 = ::core::default::Default::default();
    let mut __ad_mt38_16 = ::core::default::Default::default();
    let mut __ad_mt38_17 = ::core::default::Default::default();
    let mut __ad_mt33_18 = ::core::default::Default::default();
    let mut __ad_mt33_19 = ::core::default::Default::default();
    let mut __ad_mt32_20 = ::core::default::Default::default();
    let mut __ad_mt25_21 = ::core::default::Default::default();
    let mut __ad_mt25_22 = ::core::default::Default::default();
    let mut __ad_mt25_23 = ::core::default::Default::default();
    let mut __ad_mt25_24 = ::core::default::Default::default();
    let mut __ad_mt22_25 = ::core::default::Default::default();
    let mut __ad_mt24_26 = ::core::default::Default::default();
    /* EDIT 5 */
    let mut __ad_mt20_28 = ::core::default::Default::default();
    let mut __ad_mt20_29 = ::core::default::Default::default();
    let mut __ad_mt20_30 = ::core::default::Default::default();
    let mut __ad_mt20_31 = ::core::default::Default::default();
    let mut __ad_mt20_32 = ::core::default::Default::default();
    let mut __ad_mt19_33 = ::core::default::Default::default();
    let mut __ad_mt19_34 = ::core::default::Default::default();
    /* EDIT 7 */
    /* EDIT 7 */
    /* EDIT 5 */
    let mut __ad_mt7_38 = ::core::default::Default::default();
    let mut __ad_mt7_39 = ::core::default::Default::default();
    let mut __ad_mt7_40 = ::core::default::Default::default();
    let __ad_out;
    let icf_sz = ((d * (d + (1))) / (2));
    let mut qdiags = (vec![0.0; d * k]);
    let mut sum_qs = (vec![0.0; k]);
    {
        let mut __ad_n0: usize = 0;
        let __ad_lo0 = 0;
        let mut __ad_last0 = __ad_lo0;
        '__ad_loop0: for ik in __ad_lo0..(k) {
            __ad_n0 += 1;
            __ad_last0 = ik;
            {
                let mut __ad_n1: usize = 0;
                let __ad_lo1 = 0;
                let mut __ad_last1 = __ad_lo1;
                '__ad_loop1: for j in __ad_lo1..(d) {
                    __ad_n1 += 1;
                    __ad_last1 = j;
                    let __ad_h2 = ((ik * icf_sz) + j);
                    let __ad_kept2 = (&::autodiff::__private::Keep(&__ad_h2)).keep();
                    __ad_s6.push((__ad_kept2,));
                    let q = icf[__ad_h2];
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt7_38,
                        ::autodiff::__private::meta(&sum_qs),
                    );
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt7_39,
                        ::autodiff::__private::meta(&q),
                    );
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt7_40,
                        ::autodiff::__private::meta(&sum_qs[ik]),
                    );
                    sum_qs[ik] += q;
                    let __ad_l1 = (&::autodiff::__private::Keep(&q)).keep();
                    __ad_s8.push((__ad_l1,));
                    qdiags[((ik * d) + j)] = q.exp();
                }
                __ad_s5.push((__ad_n1, __ad_last1));
            }
        }
        __ad_s4 = (__ad_n0, __ad_last0);
    }
    let mut slse = (0.0);
    {
        let mut __ad_n2: usize = 0;
        let __ad_lo2 = 0;
        let mut __ad_last2 = __ad_lo2;
        '__ad_loop2: for ix in __ad_lo2..(n) {
            __ad_n2 += 1;
            __ad_last2 = ix;
            let mut mx = (f64::NEG_INFINITY);
            let mut se = (0.0);
            {
                let mut __ad_n3: usize = 0;
                let __ad_lo3 = 0;
                let mut __ad_last3 = __ad_lo3;
                '__ad_loop3: for ik in __ad_lo3..(k) {
                    __ad_n3 += 1;
                    __ad_last3 = ik;
                    let mut sqnorm = (0.0);
                    {
                        let mut __ad_n4: usize = 0;
                        let __ad_lo4 = 0;
                        let mut __ad_last4 = __ad_lo4;
                        '__ad_loop4: for j in __ad_lo4..(d) {
                            __ad_n4 += 1;
                            __ad_last4 = j;
                            /* EDIT 5 */
                            /* EDIT 3 */
                            let mut qx = (qdiags[((ik * d) + j)]
                                * (x[((ix * d) + j)] - means[((ik * d) + j)]));
                            /* EDIT 7 */
                            #[inline(never)]
                            fn __ad_row(
                                mut qx: f64,
                                icf: &[f64],
                                x: &[f64],
                                means: &[f64],
                                ik: usize,
                                ix: usize,
                                j: usize,
                                d: usize,
                                icf_sz: usize,
                            ) -> f64 {
                                for c in 0..j {
                                    qx += icf[ik * icf_sz + d + c * (2 * d - c - 3) / 2 + j - 1]
                                        * (x[ix * d + c] - means[ik * d + c]);
                                }
                                qx
                            }
                            qx = __ad_row(qx, icf, x, means, ik, ix, j, d, icf_sz);
                            ::autodiff::__private::push_meta(
                                &mut __ad_mt19_33,
                                ::autodiff::__private::meta(&sqnorm),
                            );
                            let __ad_l3 = (&::autodiff::__private::Keep(&qx)).keep();
                            let __ad_h2 = (qx * qx);
                            ::autodiff::__private::push_meta(
                                &mut __ad_mt19_34,
                                ::autodiff::__private::meta(&__ad_h2),
                            );
                            __ad_s19.push((__ad_l3,));
                            sqnorm += __ad_h2;
                        }
                        /* EDIT 1 */
                    }
                    /* EDIT 5 */
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt20_28,
                        ::autodiff::__private::meta(&sqnorm),
                    );
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt20_29,
                        ::autodiff::__private::meta(&alphas[ik]),
                    );
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt20_30,
                        ::autodiff::__private::meta(&sum_qs[ik]),
                    );
                    let __ad_h1 = (alphas[ik] + sum_qs[ik]);
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt20_31,
                        ::autodiff::__private::meta(&__ad_h1),
                    );
                    let __ad_h8 = ((0.5) * sqnorm);
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt20_32,
                        ::autodiff::__private::meta(&__ad_h8),
                    );
                    let t = (__ad_h1 - __ad_h8);
                    if t > mx {
                        __ad_s21.push(true);
                        let __ad_l2 = (&::autodiff::__private::Keep(&se)).keep();
                        let __ad_l5 = (&::autodiff::__private::Keep(&mx)).keep();
                        let __ad_l6 = (&::autodiff::__private::Keep(&t)).keep();
                        let __ad_h1 = (se * (mx - t).exp());
                        ::autodiff::__private::push_meta(
                            &mut __ad_mt22_25,
                            ::autodiff::__private::meta(&__ad_h1),
                        );
                        __ad_s22.push((__ad_l2, __ad_l5, __ad_l6));
                        se = (__ad_h1 + (1.0));
                        mx = t;
                    } else {
                        __ad_s21.push(false);
                        ::autodiff::__private::push_meta(
                            &mut __ad_mt24_26,
                            ::autodiff::__private::meta(&se),
                        );
                        let __ad_l4 = (&::autodiff::__private::Keep(&t)).keep();
                        let __ad_l5 = (&::autodiff::__private::Keep(&mx)).keep();
                        __ad_s24.push((__ad_l4, __ad_l5));
                        se += (t - mx).exp();
                    }
                }
                /* EDIT 1 */
            }
            ::autodiff::__private::push_meta(&mut __ad_mt25_21, ::autodiff::__private::meta(&slse));
            let __ad_l4 = (&::autodiff::__private::Keep(&se)).keep();
            ::autodiff::__private::push_meta(&mut __ad_mt25_22, ::autodiff::__private::meta(&mx));
            let __ad_h3 = se.ln();
            ::autodiff::__private::push_meta(
                &mut __ad_mt25_23,
                ::autodiff::__private::meta(&__ad_h3),
            );
            let __ad_h2 = (__ad_h3 + mx);
            ::autodiff::__private::push_meta(
                &mut __ad_mt25_24,
                ::autodiff::__private::meta(&__ad_h2),
            );
            __ad_s25.push((__ad_l4,));
            slse += __ad_h2;
        }
        __ad_s10 = (__ad_n2, __ad_last2);
    }
    let mut amx = alphas[(0)];
    {
        let mut __ad_n6: usize = 0;
        let __ad_lo6 = 1;
        let mut __ad_last6 = __ad_lo6;
        '__ad_loop6: for ik in __ad_lo6..(k) {
            __ad_n6 += 1;
            __ad_last6 = ik;
            if alphas[ik] > amx {
                __ad_s28.push(true);
                amx = alphas[ik];
            } else {
                __ad_s28.push(false);
            }
        }
        __ad_s27 = (__ad_n6, __ad_last6);
    }
    let mut ase = (0.0);
    {
        let mut __ad_n7: usize = 0;
        let __ad_lo7 = 0;
        let mut __ad_last7 = __ad_lo7;
        '__ad_loop7: for ik in __ad_lo7..(k) {
            __ad_n7 += 1;
            __ad_last7 = ik;
            ::autodiff::__private::push_meta(&mut __ad_mt32_20, ::autodiff::__private::meta(&ase));
            let __ad_l7 = (&::autodiff::__private::Keep(&amx)).keep();
            __ad_s32.push((__ad_l7,));
            ase += (alphas[ik] - amx).exp();
        }
        __ad_s31 = (__ad_n7, __ad_last7);
    }
    let __ad_l2 = (&::autodiff::__private::Keep(&ase)).keep();
    ::autodiff::__private::push_meta(&mut __ad_mt33_18, ::autodiff::__private::meta(&amx));
    let __ad_h1 = ase.ln();
    ::autodiff::__private::push_meta(&mut __ad_mt33_19, ::autodiff::__private::meta(&__ad_h1));
    __ad_s33 = ::core::option::Option::Some((__ad_l2,));
    let lse_alphas = (__ad_h1 + amx);
    let mut prior = (0.0);
    {
        let mut __ad_n8: usize = 0;
        let __ad_lo8 = 0;
        let mut __ad_last8 = __ad_lo8;
        '__ad_loop8: for ik in __ad_lo8..(k) {
            __ad_n8 += 1;
            __ad_last8 = ik;
            let mut frobenius = (0.0);
            {
                let mut __ad_n9: usize = 0;
                let __ad_lo9 = 0;
                let mut __ad_last9 = __ad_lo9;
                '__ad_loop9: for j in __ad_lo9..(d) {
                    __ad_n9 += 1;
                    __ad_last9 = j;
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt38_15,
                        ::autodiff::__private::meta(&frobenius),
                    );
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt38_16,
                        ::autodiff::__private::meta(&qdiags),
                    );
                    let __ad_kept3 = (&::autodiff::__private::Keep(&qdiags[((ik * d) + j)])).keep();
                    let __ad_kept10 =
                        (&::autodiff::__private::Keep(&qdiags[((ik * d) + j)])).keep();
                    let __ad_h2 = (qdiags[((ik * d) + j)] * qdiags[((ik * d) + j)]);
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt38_17,
                        ::autodiff::__private::meta(&__ad_h2),
                    );
                    __ad_s38.push((__ad_kept3, __ad_kept10));
                    frobenius += __ad_h2;
                }
                __ad_s37.push((__ad_n9, __ad_last9));
            }
            {
                let mut __ad_n10: usize = 0;
                let __ad_lo10 = d;
                let mut __ad_last10 = __ad_lo10;
                '__ad_loop10: for il in __ad_lo10..(icf_sz) {
                    __ad_n10 += 1;
                    __ad_last10 = il;
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt40_13,
                        ::autodiff::__private::meta(&frobenius),
                    );
                    let __ad_h5 = ((ik * icf_sz) + il);
                    let __ad_kept5 = (&::autodiff::__private::Keep(&__ad_h5)).keep();
                    let __ad_h12 = ((ik * icf_sz) + il);
                    let __ad_kept12 = (&::autodiff::__private::Keep(&__ad_h12)).keep();
                    let __ad_h2 = (icf[__ad_h5] * icf[__ad_h12]);
                    ::autodiff::__private::push_meta(
                        &mut __ad_mt40_14,
                        ::autodiff::__private::meta(&__ad_h2),
                    );
                    __ad_s40.push((__ad_kept5, __ad_kept12));
                    frobenius += __ad_h2;
                }
                __ad_s39.push((__ad_n10, __ad_last10));
            }
            ::autodiff::__private::push_meta(&mut __ad_mt41_6, ::autodiff::__private::meta(&prior));
            ::autodiff::__private::push_meta(
                &mut __ad_mt41_7,
                ::autodiff::__private::meta(&frobenius),
            );
            ::autodiff::__private::push_meta(
                &mut __ad_mt41_8,
                ::autodiff::__private::meta(&sum_qs),
            );
            let __ad_h3 = ((((0.5) * gamma) * gamma) * frobenius);
            ::autodiff::__private::push_meta(
                &mut __ad_mt41_9,
                ::autodiff::__private::meta(&__ad_h3),
            );
            ::autodiff::__private::push_meta(
                &mut __ad_mt41_10,
                ::autodiff::__private::meta(&sum_qs[ik]),
            );
            let __ad_h10 = ((m as f64) * sum_qs[ik]);
            ::autodiff::__private::push_meta(
                &mut __ad_mt41_11,
                ::autodiff::__private::meta(&__ad_h10),
            );
            let __ad_h2 = (__ad_h3 - __ad_h10);
            ::autodiff::__private::push_meta(
                &mut __ad_mt41_12,
                ::autodiff::__private::meta(&__ad_h2),
            );
            prior += __ad_h2;
        }
        __ad_s35 = (__ad_n8, __ad_last8);
    }
    ::autodiff::__private::push_meta(&mut __ad_mt42_0, ::autodiff::__private::meta(&slse));
    ::autodiff::__private::push_meta(&mut __ad_mt42_1, ::autodiff::__private::meta(&lse_alphas));
    ::autodiff::__private::push_meta(&mut __ad_mt42_2, ::autodiff::__private::meta(&prior));
    let __ad_h2 = (constant_terms(d, k, n, gamma, m) + slse);
    ::autodiff::__private::push_meta(&mut __ad_mt42_3, ::autodiff::__private::meta(&__ad_h2));
    let __ad_h10 = ((n as f64) * lse_alphas);
    ::autodiff::__private::push_meta(&mut __ad_mt42_4, ::autodiff::__private::meta(&__ad_h10));
    let __ad_h1 = (__ad_h2 - __ad_h10);
    ::autodiff::__private::push_meta(&mut __ad_mt42_5, ::autodiff::__private::meta(&__ad_h1));
    /* EDIT 3 */
    let __ad_e_qdiags = qdiags.clone();
    __ad_out = (__ad_h1 + prior);
    (
        __ad_out,
        move |__ad_ct: <f64 as ::autodiff::Differentiable>::Tangent| {
            /* EDIT 4 */
            let mut alphas_bar: Vec<f64> = vec![0.0; __ad_p_alphas.len()];
            /* EDIT 4 */
            let mut means_bar: Vec<f64> = vec![0.0; __ad_p_means.len()];
            /* EDIT 4 */
            let mut icf_bar: Vec<f64> = vec![0.0; __ad_p_icf.len()];
            /* EDIT 4 */
            let mut qdiags_bar: Vec<f64> = vec![0.0; __ad_p_d * __ad_e_k2];
            /* EDIT 4 */
            let mut sum_qs_bar: Vec<f64> = vec![0.0; __ad_e_k2];
            let mut q_bar = ::autodiff::__private::zero();
            let mut slse_bar = ::autodiff::__private::zero();
            let mut mx_bar = ::autodiff::__private::zero();
            let mut se_bar = ::autodiff::__private::zero();
            let mut sqnorm_bar = ::autodiff::__private::zero();
            let mut qx_bar = ::autodiff::__private::zero();
            let mut t_bar = ::autodiff::__private::zero();
            let mut amx_bar = ::autodiff::__private::zero();
            let mut ase_bar = ::autodiff::__private::zero();
            let mut lse_alphas_bar = ::autodiff::__private::zero();
            let mut prior_bar = ::autodiff::__private::zero();
            let mut frobenius_bar = ::autodiff::__private::zero();
            let mut __ad_d_out = __ad_ct;
            {
                let __ad_mb15 = ::autodiff::__private::pop_meta(&mut __ad_mt42_0);
                let __ad_mb29 = ::autodiff::__private::pop_meta(&mut __ad_mt42_1);
                let __ad_mb30 = ::autodiff::__private::pop_meta(&mut __ad_mt42_2);
                let __ad_m2 = ::autodiff::__private::pop_meta(&mut __ad_mt42_3);
                let __ad_m10 = ::autodiff::__private::pop_meta(&mut __ad_mt42_4);
                let __ad_m1 = ::autodiff::__private::pop_meta(&mut __ad_mt42_5);
                let n = ::core::clone::Clone::clone(&__ad_p_n);
                let __ad_g = ::autodiff::__private::take(&mut __ad_d_out);
                if ::autodiff::__private::nonzero(&__ad_g) {
                    let __ad_r11 = (::core::clone::Clone::clone(&n) as f64);
                    let __ad_g0 = __ad_g;
                    let __ad_c0_0 = ::autodiff::__private::rules::add_d0(&__ad_g0, &__ad_m1);
                    let __ad_g1 = __ad_c0_0;
                    let __ad_c1_0 = ::autodiff::__private::rules::sub_d0(&__ad_g1, &__ad_m2);
                    let __ad_g2 = __ad_c1_0;
                    let __ad_c2_1 = ::autodiff::__private::rules::add_d1(&__ad_g2, &__ad_mb15);
                    ::autodiff::__private::acc(&mut slse_bar, __ad_c2_1);
                    let __ad_c1_1 = ::autodiff::__private::rules::sub_d1(&__ad_g1, &__ad_m10);
                    let __ad_g10 = __ad_c1_1;
                    let __ad_c10_1 =
                        ::autodiff::__private::rules::mul_d1(&__ad_g10, &__ad_r11, &__ad_mb29);
                    ::autodiff::__private::acc(&mut lse_alphas_bar, __ad_c10_1);
                    let __ad_c0_1 = ::autodiff::__private::rules::add_d1(&__ad_g0, &__ad_mb30);
                    ::autodiff::__private::acc(&mut prior_bar, __ad_c0_1);
                }
            }
            {
                let (__ad_n, __ad_last) = __ad_s35;
                let mut __ad_ctr8 = __ad_last;
                for _ in 0..__ad_n {
                    let __ad_exit8: u32 = 0;
                    {
                        let __ad_mb30 = ::autodiff::__private::pop_meta(&mut __ad_mt41_6);
                        let __ad_mb32 = ::autodiff::__private::pop_meta(&mut __ad_mt41_7);
                        let __ad_mb11 = ::autodiff::__private::pop_meta(&mut __ad_mt41_8);
                        let __ad_m3 = ::autodiff::__private::pop_meta(&mut __ad_mt41_9);
                        let __ad_m13 = ::autodiff::__private::pop_meta(&mut __ad_mt41_10);
                        let __ad_m10 = ::autodiff::__private::pop_meta(&mut __ad_mt41_11);
                        let __ad_m2 = ::autodiff::__private::pop_meta(&mut __ad_mt41_12);
                        let gamma = ::core::clone::Clone::clone(&__ad_p_gamma);
                        let m = ::core::clone::Clone::clone(&__ad_p_m);
                        let ik = __ad_ctr8;
                        let __ad_g = ::autodiff::__private::take(&mut prior_bar);
                        if ::autodiff::__private::nonzero(&__ad_g) {
                            let __ad_r5 = ((0.5) * ::core::clone::Clone::clone(&gamma));
                            let __ad_r4 = (::core::clone::Clone::clone(&__ad_r5)
                                * ::core::clone::Clone::clone(&gamma));
                            let __ad_r11 = (::core::clone::Clone::clone(&m) as f64);
                            let __ad_g0 = __ad_g;
                            let __ad_c0_0 =
                                ::autodiff::__private::rules::add_d0(&__ad_g0, &__ad_mb30);
                            ::autodiff::__private::acc(&mut prior_bar, __ad_c0_0);
                            let __ad_c0_1 =
                                ::autodiff::__private::rules::add_d1(&__ad_g0, &__ad_m2);
                            let __ad_g2 = __ad_c0_1;
                            let __ad_c2_0 =
                                ::autodiff::__private::rules::sub_d0(&__ad_g2, &__ad_m3);
                            let __ad_g3 = __ad_c2_0;
                            let __ad_c3_1 = ::autodiff::__private::rules::mul_d1(
                                &__ad_g3, &__ad_r4, &__ad_mb32,
                            );
                            ::autodiff::__private::acc(&mut frobenius_bar, __ad_c3_1);
                            let __ad_c2_1 =
                                ::autodiff::__private::rules::sub_d1(&__ad_g2, &__ad_m10);
                            let __ad_g10 = __ad_c2_1;
                            let __ad_c10_1 = ::autodiff::__private::rules::mul_d1(
                                &__ad_g10, &__ad_r11, &__ad_m13,
                            );
                            /* EDIT 4 */
                            sum_qs_bar[ik] += __ad_c10_1;
                        }
                    }
                    {
                        let ::core::option::Option::Some((__ad_n, __ad_last)) = __ad_s39.pop()
                        else {
                            ::core::unreachable!(
                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                            )
                        };
                        let mut __ad_ctr10 = __ad_last;
                        for _ in 0..__ad_n {
                            let __ad_exit10: u32 = 0;
                            {
                                let ::core::option::Option::Some((__ad_kept5, __ad_kept12)) =
                                    __ad_s40.pop()
                                else {
                                    ::core::unreachable!(
                                        "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                    )
                                };
                                let __ad_mb32 = ::autodiff::__private::pop_meta(&mut __ad_mt40_13);
                                let __ad_m2 = ::autodiff::__private::pop_meta(&mut __ad_mt40_14);
                                let __ad_k5 = ::autodiff::__private::restore(&__ad_kept5);
                                let __ad_k12 = ::autodiff::__private::restore(&__ad_kept12);
                                let icf = ::core::clone::Clone::clone(&__ad_p_icf);
                                let __ad_g = ::autodiff::__private::take(&mut frobenius_bar);
                                if ::autodiff::__private::nonzero(&__ad_g) {
                                    let __ad_g0 = __ad_g;
                                    let __ad_c0_0 =
                                        ::autodiff::__private::rules::add_d0(&__ad_g0, &__ad_mb32);
                                    ::autodiff::__private::acc(&mut frobenius_bar, __ad_c0_0);
                                    let __ad_c0_1 =
                                        ::autodiff::__private::rules::add_d1(&__ad_g0, &__ad_m2);
                                    let __ad_g2 = __ad_c0_1;
                                    let __ad_c2_0 = ::autodiff::__private::rules::mul_d0(
                                        &__ad_g2,
                                        &::autodiff::__private::meta(
                                            &icf[::core::clone::Clone::clone(&__ad_k5)],
                                        ),
                                        &icf[::core::clone::Clone::clone(&__ad_k12)],
                                    );
                                    /* EDIT 4 */
                                    icf_bar[__ad_k5] += __ad_c2_0;
                                    let __ad_c2_1 = ::autodiff::__private::rules::mul_d1(
                                        &__ad_g2,
                                        &icf[::core::clone::Clone::clone(&__ad_k5)],
                                        &::autodiff::__private::meta(
                                            &icf[::core::clone::Clone::clone(&__ad_k12)],
                                        ),
                                    );
                                    /* EDIT 4 */
                                    icf_bar[__ad_k12] += __ad_c2_1;
                                }
                            }
                            __ad_ctr10 = ::autodiff::__private::prev(__ad_ctr10);
                        }
                    }
                    {
                        let ::core::option::Option::Some((__ad_n, __ad_last)) = __ad_s37.pop()
                        else {
                            ::core::unreachable!(
                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                            )
                        };
                        let mut __ad_ctr9 = __ad_last;
                        for _ in 0..__ad_n {
                            let __ad_exit9: u32 = 0;
                            {
                                let ::core::option::Option::Some((__ad_kept3, __ad_kept10)) =
                                    __ad_s38.pop()
                                else {
                                    ::core::unreachable!(
                                        "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                    )
                                };
                                let __ad_mb32 = ::autodiff::__private::pop_meta(&mut __ad_mt38_15);
                                let __ad_mb10 = ::autodiff::__private::pop_meta(&mut __ad_mt38_16);
                                let __ad_m2 = ::autodiff::__private::pop_meta(&mut __ad_mt38_17);
                                let __ad_k3 = ::autodiff::__private::restore(&__ad_kept3);
                                let __ad_k10 = ::autodiff::__private::restore(&__ad_kept10);
                                let ik = __ad_ctr8;
                                let d = ::core::clone::Clone::clone(&__ad_p_d);
                                let j = __ad_ctr9;
                                let __ad_g = ::autodiff::__private::take(&mut frobenius_bar);
                                if ::autodiff::__private::nonzero(&__ad_g) {
                                    let __ad_r6 = (::core::clone::Clone::clone(&ik)
                                        * ::core::clone::Clone::clone(&d));
                                    let __ad_r5 = (::core::clone::Clone::clone(&__ad_r6)
                                        + ::core::clone::Clone::clone(&j));
                                    let __ad_r13 = (::core::clone::Clone::clone(&ik)
                                        * ::core::clone::Clone::clone(&d));
                                    let __ad_r12 = (::core::clone::Clone::clone(&__ad_r13)
                                        + ::core::clone::Clone::clone(&j));
                                    let __ad_g0 = __ad_g;
                                    let __ad_c0_0 =
                                        ::autodiff::__private::rules::add_d0(&__ad_g0, &__ad_mb32);
                                    ::autodiff::__private::acc(&mut frobenius_bar, __ad_c0_0);
                                    let __ad_c0_1 =
                                        ::autodiff::__private::rules::add_d1(&__ad_g0, &__ad_m2);
                                    let __ad_g2 = __ad_c0_1;
                                    let __ad_c2_0 = ::autodiff::__private::rules::mul_d0(
                                        &__ad_g2,
                                        &::autodiff::__private::meta(&__ad_k3),
                                        &__ad_k10,
                                    );
                                    /* EDIT 4 */
                                    qdiags_bar[__ad_r5] += __ad_c2_0;
                                    let __ad_c2_1 = ::autodiff::__private::rules::mul_d1(
                                        &__ad_g2,
                                        &__ad_k3,
                                        &::autodiff::__private::meta(&__ad_k10),
                                    );
                                    /* EDIT 4 */
                                    qdiags_bar[__ad_r12] += __ad_c2_1;
                                }
                            }
                            __ad_ctr9 = ::autodiff::__private::prev(__ad_ctr9);
                        }
                    }
                    {
                        let _ = ::autodiff::__private::take(&mut frobenius_bar);
                    }
                    __ad_ctr8 = ::autodiff::__private::prev(__ad_ctr8);
                }
            }
            {
                let _ = ::autodiff::__private::take(&mut prior_bar);
            }
            {
                let ::core::option::Option::Some((__ad_l2,)) = __ad_s33.take() else {
                    ::core::unreachable!(
                        "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                    )
                };
                let __ad_mb25 = ::autodiff::__private::pop_meta(&mut __ad_mt33_18);
                let __ad_m1 = ::autodiff::__private::pop_meta(&mut __ad_mt33_19);
                let ase = ::autodiff::__private::restore(&__ad_l2);
                let __ad_g = ::autodiff::__private::take(&mut lse_alphas_bar);
                if ::autodiff::__private::nonzero(&__ad_g) {
                    let __ad_g0 = __ad_g;
                    let __ad_c0_0 = ::autodiff::__private::rules::add_d0(&__ad_g0, &__ad_m1);
                    let __ad_g1 = __ad_c0_0;
                    let __ad_c1_0 = ::autodiff::__private::rules::ln_d0(&__ad_g1, &ase);
                    ::autodiff::__private::acc(&mut ase_bar, __ad_c1_0);
                    let __ad_c0_1 = ::autodiff::__private::rules::add_d1(&__ad_g0, &__ad_mb25);
                    ::autodiff::__private::acc(&mut amx_bar, __ad_c0_1);
                }
            }
            {
                let (__ad_n, __ad_last) = __ad_s31;
                let mut __ad_ctr7 = __ad_last;
                for _ in 0..__ad_n {
                    let __ad_exit7: u32 = 0;
                    let mut __ad_ix7_0: f64 = -0.0;
                    {
                        let ::core::option::Option::Some((__ad_l7,)) = __ad_s32.pop() else {
                            ::core::unreachable!(
                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                            )
                        };
                        let __ad_mb27 = ::autodiff::__private::pop_meta(&mut __ad_mt32_20);
                        let amx = ::autodiff::__private::restore(&__ad_l7);
                        let alphas = ::core::clone::Clone::clone(&__ad_p_alphas);
                        let ik = __ad_ctr7;
                        let __ad_g = ::autodiff::__private::take(&mut ase_bar);
                        if ::autodiff::__private::nonzero(&__ad_g) {
                            let __ad_r3 = (::core::clone::Clone::clone(
                                &alphas[::core::clone::Clone::clone(&ik)],
                            ) - ::core::clone::Clone::clone(&amx));
                            let __ad_r2 = __ad_r3.exp();
                            let __ad_g0 = __ad_g;
                            let __ad_c0_0 =
                                ::autodiff::__private::rules::add_d0(&__ad_g0, &__ad_mb27);
                            ::autodiff::__private::acc(&mut ase_bar, __ad_c0_0);
                            let __ad_c0_1 = ::autodiff::__private::rules::add_d1(
                                &__ad_g0,
                                &::autodiff::__private::meta(&__ad_r2),
                            );
                            let __ad_g2 = __ad_c0_1;
                            let __ad_c2_0 =
                                ::autodiff::__private::rules::exp_d0(&__ad_g2, &__ad_r2);
                            let __ad_g3 = __ad_c2_0;
                            let __ad_c3_0 = ::autodiff::__private::rules::sub_d0(
                                &__ad_g3,
                                &::autodiff::__private::meta(
                                    &alphas[::core::clone::Clone::clone(&ik)],
                                ),
                            );
                            __ad_ix7_0 += __ad_c3_0;
                            let __ad_c3_1 = ::autodiff::__private::rules::sub_d1(
                                &__ad_g3,
                                &::autodiff::__private::meta(&amx),
                            );
                            ::autodiff::__private::acc(&mut amx_bar, __ad_c3_1);
                        }
                    }
                    {
                        let alphas = ::core::clone::Clone::clone(&__ad_p_alphas);
                        let ik = __ad_ctr7;
                        /* EDIT 4 */
                        alphas_bar[ik] += __ad_ix7_0;
                    }
                    __ad_ctr7 = ::autodiff::__private::prev(__ad_ctr7);
                }
            }
            {
                let _ = ::autodiff::__private::take(&mut ase_bar);
            }
            {
                let (__ad_n, __ad_last) = __ad_s27;
                let mut __ad_ctr6 = __ad_last;
                for _ in 0..__ad_n {
                    let __ad_exit6: u32 = 0;
                    let mut __ad_ix6_0: f64 = -0.0;
                    {
                        let ::core::option::Option::Some(__ad_took_then) = __ad_s28.pop() else {
                            ::core::unreachable!(
                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                            )
                        };
                        if __ad_took_then {
                            {
                                let alphas = ::core::clone::Clone::clone(&__ad_p_alphas);
                                let ik = __ad_ctr6;
                                let __ad_g = ::autodiff::__private::take(&mut amx_bar);
                                if ::autodiff::__private::nonzero(&__ad_g) {
                                    __ad_ix6_0 += __ad_g;
                                }
                            }
                        } else {
                        }
                    }
                    {
                        let alphas = ::core::clone::Clone::clone(&__ad_p_alphas);
                        let ik = __ad_ctr6;
                        /* EDIT 4 */
                        alphas_bar[ik] += __ad_ix6_0;
                    }
                    __ad_ctr6 = ::autodiff::__private::prev(__ad_ctr6);
                }
            }
            {
                let alphas = ::core::clone::Clone::clone(&__ad_p_alphas);
                let __ad_g = ::autodiff::__private::take(&mut amx_bar);
                if ::autodiff::__private::nonzero(&__ad_g) {
                    /* EDIT 4 */
                    alphas_bar[(0)] += __ad_g;
                }
            }
            {
                let (__ad_n, __ad_last) = __ad_s10;
                let mut __ad_ctr2 = __ad_last;
                for _ in 0..__ad_n {
                    let __ad_exit2: u32 = 0;
                    {
                        let ::core::option::Option::Some((__ad_l4,)) = __ad_s25.pop() else {
                            ::core::unreachable!(
                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                            )
                        };
                        let __ad_mb15 = ::autodiff::__private::pop_meta(&mut __ad_mt25_21);
                        let __ad_mb17 = ::autodiff::__private::pop_meta(&mut __ad_mt25_22);
                        let __ad_m3 = ::autodiff::__private::pop_meta(&mut __ad_mt25_23);
                        let __ad_m2 = ::autodiff::__private::pop_meta(&mut __ad_mt25_24);
                        let se = ::autodiff::__private::restore(&__ad_l4);
                        let __ad_g = ::autodiff::__private::take(&mut slse_bar);
                        if ::autodiff::__private::nonzero(&__ad_g) {
                            let __ad_g0 = __ad_g;
                            let __ad_c0_0 =
                                ::autodiff::__private::rules::add_d0(&__ad_g0, &__ad_mb15);
                            ::autodiff::__private::acc(&mut slse_bar, __ad_c0_0);
                            let __ad_c0_1 =
                                ::autodiff::__private::rules::add_d1(&__ad_g0, &__ad_m2);
                            let __ad_g2 = __ad_c0_1;
                            let __ad_c2_0 =
                                ::autodiff::__private::rules::add_d0(&__ad_g2, &__ad_m3);
                            let __ad_g3 = __ad_c2_0;
                            let __ad_c3_0 = ::autodiff::__private::rules::ln_d0(&__ad_g3, &se);
                            ::autodiff::__private::acc(&mut se_bar, __ad_c3_0);
                            let __ad_c2_1 =
                                ::autodiff::__private::rules::add_d1(&__ad_g2, &__ad_mb17);
                            ::autodiff::__private::acc(&mut mx_bar, __ad_c2_1);
                        }
                    }
                    {
                        /* EDIT 1 */
                        let (__ad_n, __ad_last) = (__ad_e_k, __ad_e_k.saturating_sub(1));
                        let mut __ad_ctr3 = __ad_last;
                        for _ in 0..__ad_n {
                            let __ad_exit3: u32 = 0;
                            let mut __ad_ix3_0: f64 = -0.0;
                            {
                                let ::core::option::Option::Some(__ad_took_then) = __ad_s21.pop()
                                else {
                                    ::core::unreachable!(
                                        "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                    )
                                };
                                if __ad_took_then {
                                    {
                                        let __ad_g = ::autodiff::__private::take(&mut mx_bar);
                                        if ::autodiff::__private::nonzero(&__ad_g) {
                                            ::autodiff::__private::acc(&mut t_bar, __ad_g);
                                        }
                                    }
                                    {
                                        let ::core::option::Option::Some((
                                            __ad_l2,
                                            __ad_l5,
                                            __ad_l6,
                                        )) = __ad_s22.pop()
                                        else {
                                            ::core::unreachable!(
                                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                            )
                                        };
                                        let __ad_m1 =
                                            ::autodiff::__private::pop_meta(&mut __ad_mt22_25);
                                        let se = ::autodiff::__private::restore(&__ad_l2);
                                        let mx = ::autodiff::__private::restore(&__ad_l5);
                                        let t = ::autodiff::__private::restore(&__ad_l6);
                                        let __ad_g = ::autodiff::__private::take(&mut se_bar);
                                        if ::autodiff::__private::nonzero(&__ad_g) {
                                            let __ad_r4 = (::core::clone::Clone::clone(&mx)
                                                - ::core::clone::Clone::clone(&t));
                                            let __ad_r3 = __ad_r4.exp();
                                            let __ad_g0 = __ad_g;
                                            let __ad_c0_0 = ::autodiff::__private::rules::add_d0(
                                                &__ad_g0, &__ad_m1,
                                            );
                                            let __ad_g1 = __ad_c0_0;
                                            let __ad_c1_0 = ::autodiff::__private::rules::mul_d0(
                                                &__ad_g1,
                                                &::autodiff::__private::meta(&se),
                                                &__ad_r3,
                                            );
                                            ::autodiff::__private::acc(&mut se_bar, __ad_c1_0);
                                            let __ad_c1_1 = ::autodiff::__private::rules::mul_d1(
                                                &__ad_g1,
                                                &se,
                                                &::autodiff::__private::meta(&__ad_r3),
                                            );
                                            let __ad_g3 = __ad_c1_1;
                                            let __ad_c3_0 = ::autodiff::__private::rules::exp_d0(
                                                &__ad_g3, &__ad_r3,
                                            );
                                            let __ad_g4 = __ad_c3_0;
                                            let __ad_c4_0 = ::autodiff::__private::rules::sub_d0(
                                                &__ad_g4,
                                                &::autodiff::__private::meta(&mx),
                                            );
                                            ::autodiff::__private::acc(&mut mx_bar, __ad_c4_0);
                                            let __ad_c4_1 = ::autodiff::__private::rules::sub_d1(
                                                &__ad_g4,
                                                &::autodiff::__private::meta(&t),
                                            );
                                            ::autodiff::__private::acc(&mut t_bar, __ad_c4_1);
                                        }
                                    }
                                } else {
                                    {
                                        let ::core::option::Option::Some((__ad_l4, __ad_l5)) =
                                            __ad_s24.pop()
                                        else {
                                            ::core::unreachable!(
                                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                            )
                                        };
                                        let __ad_mb18 =
                                            ::autodiff::__private::pop_meta(&mut __ad_mt24_26);
                                        let t = ::autodiff::__private::restore(&__ad_l4);
                                        let mx = ::autodiff::__private::restore(&__ad_l5);
                                        let __ad_g = ::autodiff::__private::take(&mut se_bar);
                                        if ::autodiff::__private::nonzero(&__ad_g) {
                                            let __ad_r3 = (::core::clone::Clone::clone(&t)
                                                - ::core::clone::Clone::clone(&mx));
                                            let __ad_r2 = __ad_r3.exp();
                                            let __ad_g0 = __ad_g;
                                            let __ad_c0_0 = ::autodiff::__private::rules::add_d0(
                                                &__ad_g0, &__ad_mb18,
                                            );
                                            ::autodiff::__private::acc(&mut se_bar, __ad_c0_0);
                                            let __ad_c0_1 = ::autodiff::__private::rules::add_d1(
                                                &__ad_g0,
                                                &::autodiff::__private::meta(&__ad_r2),
                                            );
                                            let __ad_g2 = __ad_c0_1;
                                            let __ad_c2_0 = ::autodiff::__private::rules::exp_d0(
                                                &__ad_g2, &__ad_r2,
                                            );
                                            let __ad_g3 = __ad_c2_0;
                                            let __ad_c3_0 = ::autodiff::__private::rules::sub_d0(
                                                &__ad_g3,
                                                &::autodiff::__private::meta(&t),
                                            );
                                            ::autodiff::__private::acc(&mut t_bar, __ad_c3_0);
                                            let __ad_c3_1 = ::autodiff::__private::rules::sub_d1(
                                                &__ad_g3,
                                                &::autodiff::__private::meta(&mx),
                                            );
                                            ::autodiff::__private::acc(&mut mx_bar, __ad_c3_1);
                                        }
                                    }
                                }
                            }
                            {
                                let __ad_mb11 =
                                        /* EDIT 5 */ ::autodiff::__private::LenMeta(__ad_e_len_sum_qs);
                                let __ad_mb20 = ::autodiff::__private::pop_meta(&mut __ad_mt20_28);
                                let __ad_m2 = ::autodiff::__private::pop_meta(&mut __ad_mt20_29);
                                let __ad_m5 = ::autodiff::__private::pop_meta(&mut __ad_mt20_30);
                                let __ad_m1 = ::autodiff::__private::pop_meta(&mut __ad_mt20_31);
                                let __ad_m8 = ::autodiff::__private::pop_meta(&mut __ad_mt20_32);
                                let alphas = ::core::clone::Clone::clone(&__ad_p_alphas);
                                let ik = __ad_ctr3;
                                let __ad_g = ::autodiff::__private::take(&mut t_bar);
                                if ::autodiff::__private::nonzero(&__ad_g) {
                                    let __ad_g0 = __ad_g;
                                    let __ad_c0_0 =
                                        ::autodiff::__private::rules::sub_d0(&__ad_g0, &__ad_m1);
                                    let __ad_g1 = __ad_c0_0;
                                    let __ad_c1_0 =
                                        ::autodiff::__private::rules::add_d0(&__ad_g1, &__ad_m2);
                                    __ad_ix3_0 += __ad_c1_0;
                                    let __ad_c1_1 =
                                        ::autodiff::__private::rules::add_d1(&__ad_g1, &__ad_m5);
                                    /* EDIT 4 */
                                    sum_qs_bar[ik] += __ad_c1_1;
                                    let __ad_c0_1 =
                                        ::autodiff::__private::rules::sub_d1(&__ad_g0, &__ad_m8);
                                    let __ad_g8 = __ad_c0_1;
                                    let __ad_c8_1 = ::autodiff::__private::rules::mul_d1(
                                        &__ad_g8,
                                        &(0.5),
                                        &__ad_mb20,
                                    );
                                    ::autodiff::__private::acc(&mut sqnorm_bar, __ad_c8_1);
                                }
                            }
                            {
                                /* EDIT 1 */
                                let (__ad_n, __ad_last) = (__ad_p_d, __ad_p_d.saturating_sub(1));
                                let mut __ad_ctr4 = __ad_last;
                                for _ in 0..__ad_n {
                                    let __ad_exit4: u32 = 0;
                                    let mut __ad_ix4_0: f64 = -0.0;
                                    {
                                        let ::core::option::Option::Some((__ad_l3,)) =
                                            __ad_s19.pop()
                                        else {
                                            ::core::unreachable!(
                                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                            )
                                        };
                                        let __ad_mb20 =
                                            ::autodiff::__private::pop_meta(&mut __ad_mt19_33);
                                        let __ad_m2 =
                                            ::autodiff::__private::pop_meta(&mut __ad_mt19_34);
                                        let qx = ::autodiff::__private::restore(&__ad_l3);
                                        let __ad_g = ::autodiff::__private::take(&mut sqnorm_bar);
                                        if ::autodiff::__private::nonzero(&__ad_g) {
                                            let __ad_g0 = __ad_g;
                                            let __ad_c0_0 = ::autodiff::__private::rules::add_d0(
                                                &__ad_g0, &__ad_mb20,
                                            );
                                            ::autodiff::__private::acc(&mut sqnorm_bar, __ad_c0_0);
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
                                        /* EDIT 8 */
                                        #[inline(never)]
                                        fn __ad_row_reverse(
                                            g: f64,
                                            icf: &[f64],
                                            x: &[f64],
                                            means: &[f64],
                                            icf_bar: &mut [f64],
                                            means_bar: &mut [f64],
                                            ik: usize,
                                            ix: usize,
                                            j: usize,
                                            d: usize,
                                            icf_sz: usize,
                                        ) {
                                            for c in (0..j).rev() {
                                                let idx =
                                                    ik * icf_sz + d + c * (2 * d - c - 3) / 2 + j
                                                        - 1;
                                                let v = x[ix * d + c] - means[ik * d + c];
                                                icf_bar[idx] += g * v;
                                                means_bar[ik * d + c] -= g * icf[idx];
                                            }
                                        }
                                        __ad_row_reverse(
                                            qx_bar,
                                            __ad_p_icf,
                                            __ad_p_x,
                                            __ad_p_means,
                                            &mut icf_bar,
                                            &mut means_bar,
                                            __ad_ctr3,
                                            __ad_ctr2,
                                            __ad_ctr4,
                                            __ad_p_d,
                                            __ad_e_icf_sz,
                                        );
                                    }
                                    {
                                        /* EDIT 3 */
                                        let __ad_kept1 = ::autodiff::__private::ByVal(
                                            __ad_e_qdiags[__ad_ctr3 * __ad_p_d + __ad_ctr4],
                                        );
                                        let __ad_mb10 =
                                                /* EDIT 5 */ ::autodiff::__private::LenMeta(__ad_e_len_qdiags);
                                        let __ad_k1 = ::autodiff::__private::restore(&__ad_kept1);
                                        let ik = __ad_ctr3;
                                        let d = ::core::clone::Clone::clone(&__ad_p_d);
                                        let j = __ad_ctr4;
                                        let x = ::core::clone::Clone::clone(&__ad_p_x);
                                        let ix = __ad_ctr2;
                                        let means = ::core::clone::Clone::clone(&__ad_p_means);
                                        let __ad_g = ::autodiff::__private::take(&mut qx_bar);
                                        if ::autodiff::__private::nonzero(&__ad_g) {
                                            let __ad_r4 = (::core::clone::Clone::clone(&ik)
                                                * ::core::clone::Clone::clone(&d));
                                            let __ad_r3 = (::core::clone::Clone::clone(&__ad_r4)
                                                + ::core::clone::Clone::clone(&j));
                                            let __ad_r12 = (::core::clone::Clone::clone(&ix)
                                                * ::core::clone::Clone::clone(&d));
                                            let __ad_r11 = (::core::clone::Clone::clone(&__ad_r12)
                                                + ::core::clone::Clone::clone(&j));
                                            let __ad_r19 = (::core::clone::Clone::clone(&ik)
                                                * ::core::clone::Clone::clone(&d));
                                            let __ad_r18 = (::core::clone::Clone::clone(&__ad_r19)
                                                + ::core::clone::Clone::clone(&j));
                                            let __ad_r8 = (::core::clone::Clone::clone(
                                                &x[::core::clone::Clone::clone(&__ad_r11)],
                                            ) - ::core::clone::Clone::clone(
                                                &means[::core::clone::Clone::clone(&__ad_r18)],
                                            ));
                                            let __ad_g0 = __ad_g;
                                            let __ad_c0_0 = ::autodiff::__private::rules::mul_d0(
                                                &__ad_g0,
                                                &::autodiff::__private::meta(&__ad_k1),
                                                &__ad_r8,
                                            );
                                            /* EDIT 4 */
                                            qdiags_bar[__ad_r3] += __ad_c0_0;
                                            let __ad_c0_1 = ::autodiff::__private::rules::mul_d1(
                                                &__ad_g0,
                                                &__ad_k1,
                                                &::autodiff::__private::meta(&__ad_r8),
                                            );
                                            let __ad_g8 = __ad_c0_1;
                                            let __ad_c8_1 = ::autodiff::__private::rules::sub_d1(
                                                &__ad_g8,
                                                &::autodiff::__private::meta(
                                                    &means[::core::clone::Clone::clone(&__ad_r18)],
                                                ),
                                            );
                                            __ad_ix4_0 += __ad_c8_1;
                                        }
                                    }
                                    {
                                        let means = ::core::clone::Clone::clone(&__ad_p_means);
                                        let ik = __ad_ctr3;
                                        let d = ::core::clone::Clone::clone(&__ad_p_d);
                                        let j = __ad_ctr4;
                                        /* EDIT 4 */
                                        means_bar[((ik * d) + j)] += __ad_ix4_0;
                                    }
                                    __ad_ctr4 = ::autodiff::__private::prev(__ad_ctr4);
                                }
                            }
                            {
                                let _ = ::autodiff::__private::take(&mut sqnorm_bar);
                            }
                            {
                                let alphas = ::core::clone::Clone::clone(&__ad_p_alphas);
                                let ik = __ad_ctr3;
                                /* EDIT 4 */
                                alphas_bar[ik] += __ad_ix3_0;
                            }
                            __ad_ctr3 = ::autodiff::__private::prev(__ad_ctr3);
                        }
                    }
                    {
                        let _ = ::autodiff::__private::take(&mut se_bar);
                    }
                    {
                        let _ = ::autodiff::__private::take(&mut mx_bar);
                    }
                    __ad_ctr2 = ::autodiff::__private::prev(__ad_ctr2);
                }
            }
            {
                let _ = ::autodiff::__private::take(&mut slse_bar);
            }
            {
                let (__ad_n, __ad_last) = __ad_s4;
                let mut __ad_ctr0 = __ad_last;
                for _ in 0..__ad_n {
                    let __ad_exit0: u32 = 0;
                    {
                        let ::core::option::Option::Some((__ad_n, __ad_last)) = __ad_s5.pop()
                        else {
                            ::core::unreachable!(
                                "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                            )
                        };
                        let mut __ad_ctr1 = __ad_last;
                        for _ in 0..__ad_n {
                            let __ad_exit1: u32 = 0;
                            {
                                let ::core::option::Option::Some((__ad_l1,)) = __ad_s8.pop() else {
                                    ::core::unreachable!(
                                        "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                    )
                                };
                                let q = ::autodiff::__private::restore(&__ad_l1);
                                let ik = __ad_ctr0;
                                let d = ::core::clone::Clone::clone(&__ad_p_d);
                                let j = __ad_ctr1;
                                let __ad_r3 = (::core::clone::Clone::clone(&ik)
                                    * ::core::clone::Clone::clone(&d));
                                let __ad_r2 = (::core::clone::Clone::clone(&__ad_r3)
                                    + ::core::clone::Clone::clone(&j));
                                let __ad_g = ::autodiff::__private::index_cotangent(
                                    &mut qdiags_bar,
                                    &__ad_r2,
                                );
                                if ::autodiff::__private::nonzero(&__ad_g) {
                                    let __ad_r0 = q.exp();
                                    let __ad_g0 = __ad_g;
                                    let __ad_c0_0 =
                                        ::autodiff::__private::rules::exp_d0(&__ad_g0, &__ad_r0);
                                    ::autodiff::__private::acc(&mut q_bar, __ad_c0_0);
                                }
                            }
                            {
                                let __ad_mb11 = ::autodiff::__private::pop_meta(&mut __ad_mt7_38);
                                let __ad_mb14 = ::autodiff::__private::pop_meta(&mut __ad_mt7_39);
                                let __ad_m1 = ::autodiff::__private::pop_meta(&mut __ad_mt7_40);
                                let ik = __ad_ctr0;
                                let __ad_g =
                                    ::autodiff::__private::index_cotangent(&mut sum_qs_bar, &ik);
                                if ::autodiff::__private::nonzero(&__ad_g) {
                                    let __ad_g0 = __ad_g;
                                    let __ad_c0_0 =
                                        ::autodiff::__private::rules::add_d0(&__ad_g0, &__ad_m1);
                                    /* EDIT 4 */
                                    sum_qs_bar[ik] += __ad_c0_0;
                                    let __ad_c0_1 =
                                        ::autodiff::__private::rules::add_d1(&__ad_g0, &__ad_mb14);
                                    ::autodiff::__private::acc(&mut q_bar, __ad_c0_1);
                                }
                            }
                            {
                                let ::core::option::Option::Some((__ad_kept2,)) = __ad_s6.pop()
                                else {
                                    ::core::unreachable!(
                                        "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
                                    )
                                };
                                let __ad_k2 = ::autodiff::__private::restore(&__ad_kept2);
                                let icf = ::core::clone::Clone::clone(&__ad_p_icf);
                                let __ad_g = ::autodiff::__private::take(&mut q_bar);
                                if ::autodiff::__private::nonzero(&__ad_g) {
                                    /* EDIT 4 */
                                    icf_bar[__ad_k2] += __ad_g;
                                }
                            }
                            __ad_ctr1 = ::autodiff::__private::prev(__ad_ctr1);
                        }
                    }
                    __ad_ctr0 = ::autodiff::__private::prev(__ad_ctr0);
                }
            }
            {
                let _ = ::autodiff::__private::take(&mut sum_qs_bar);
            }
            /* EDIT 6 */
            {
                let _ = ::autodiff::__private::take(&mut qdiags_bar);
            }
            QX_TAPES.with(|p| p.set(__ad_s19));
            (
                (),
                (),
                (),
                ::autodiff::__private::finish(alphas_bar, &__ad_p_alphas),
                ::autodiff::__private::finish(means_bar, &__ad_p_means),
                ::autodiff::__private::finish(icf_bar, &__ad_p_icf),
                (),
                (),
                (),
            )
        },
    )
}
