"""Hand edits of the code #[differentiable] generates for the GMM's form (b),
gmm_slices in benches/gmm/mod.rs: each one is what the macro could emit
instead (benches/gmm/edited.rs lists them). Not part of the build: it made
benches/gmm/edited.rs and the measurements of each edit in benches/README.md.

    AUTODIFF_DUMP=gmm_slices cargo bench --bench workloads --no-run 2> dump.txt
    # keep from the first `#[doc` line on, then `rustfmt --edition 2024 dump.rs`
    python3 scripts/gmm_edit_generated.py dump.rs trips,index,qdiags,dense,meta,pool,outline,routline out.rs

EDITS is a comma-separated subset of: trips index qdiags dense meta pool
outline (or plain: the inner loop cleaned but not outlined) rplain/routline
(the reverse inner loop as a plain or outlined loop). The patterns follow the
dump of the macro at commit 6edb716; they assert that each matches.

    python3 scripts/gmm_edit_generated.py kernel dump.rs walk,trips,dense,pool out.rs

edits the dump of qx_kernel (benches/gmm/kernel.rs) instead: walk (the
counter walked back), trips, dense, pool (see kernel_edits).
"""
import re, sys

kernel = sys.argv[1] == "kernel"
if kernel:
    sys.argv.pop(1)
src, edits, out = sys.argv[1], set(sys.argv[2].split(',')), sys.argv[3]
s = open(src).read()
a = s.index("    pub fn __ad_vjp_all")
b = s.index("    #[doc(hidden)]", a)
s = s[a:b]

def popblock(tape, pat=r"\(__ad_n, __ad_last\)"):
    return re.compile(r"let ::core::option::Option::Some\(" + pat + r"\) =\s*" + tape +
                      r"\.pop\(\)\s*else \{\s*::core::unreachable!\(\s*\"[^\"]*\"\s*\)\s*\};")

TAG = {'walk': 0, 'trips': 1, 'index': 2, 'qdiags': 3, 'dense': 4, 'meta': 5, 'pool': 6, 'outline': 7, 'plain': 7, 'rplain': 8, 'routline': 8}
current = [None]

def sub1(pattern, repl, text, count=1, regex=False):
    if current[0] is not None:
        repl = f"/* EDIT {TAG[current[0]]} */ " + repl
    if regex:
        new, n = re.subn(pattern, repl, text)
    else:
        n = text.count(pattern)
        new = text.replace(pattern, repl)
    assert n == count, (pattern, n)
    return new


def kernel_edits(s, edits):
    """The kernel of benches/gmm/kernel.rs (qx_kernel): `walk` (the counter k
    walked back by `k -= 1` instead of kept per step; its value at the end of
    each point kept once), `trips` (trip counts recomputed), `dense` (dense
    gradients, `g[i] += v`), `pool` (the per-row tape of qx reused)."""
    if 'walk' in edits:
        current[0] = 'walk'
        s = sub1("let __ad_l5 = (&::autodiff::__private::Keep(&k)).keep();", "", s)
        s = sub1("__ad_s7.push((__ad_l5,));", "", s)
        s = sub1("let mut __ad_s7 = ::std::vec::Vec::new();", "let mut __ad_s7: Vec<usize> = ::std::vec::Vec::new();", s)
        s = sub1("__ad_s4.push((__ad_n1, __ad_last1));", "__ad_s4.push((__ad_n1, __ad_last1)); __ad_s7.push(k);", s)
        s = sub1(popblock("__ad_s4"), "let ::core::option::Option::Some((__ad_n, __ad_last)) = __ad_s4.pop() else { unreachable!() }; let mut __ad_k: usize = __ad_s7.pop().unwrap();", s, regex=True)
        s = sub1(popblock("__ad_s7", r"\(__ad_l5,\)"), "__ad_k -= 1;", s, regex=True)
        s = sub1("let k = ::autodiff::__private::restore(&__ad_l5);", "let k = __ad_k;", s)
    if 'trips' in edits:
        current[0] = 'trips'
        s = sub1("__ad_s4.push((__ad_n1, __ad_last1));", "", s)
        s = sub1("__ad_s6.push((__ad_n2, __ad_last2));", "", s)
        s = sub1("let mut __ad_s4 = ::std::vec::Vec::new();", "", s)
        s = sub1("let mut __ad_s6 = ::std::vec::Vec::new();", "", s)
        s = sub1(r"let ::core::option::Option::Some\(\(__ad_n, __ad_last\)\) = __ad_s4\.pop\(\) else \{ unreachable!\(\) \};",
                 "let (__ad_n, __ad_last) = (__ad_p_d, __ad_p_d.saturating_sub(1));", s, regex=True)
        s = sub1(popblock("__ad_s6"), "let (__ad_n, __ad_last) = (__ad_ctr1, __ad_ctr1.saturating_sub(1));", s, regex=True)
    if 'dense' in edits:
        current[0] = 'dense'
        for name in ["l", "mu"]:
            s = sub1(rf"let mut {name}_bar: <&'static \[f64\] as ::autodiff::Differentiable>::Tangent =\s*::autodiff::__private::zero\(\);",
                     f"let mut {name}_bar: Vec<f64> = vec![0.0; __ad_p_{name}.len()];", s, regex=True)
        s, n = re.subn(r"::autodiff::__private::acc_index\(\s*&mut (\w+),\s*&[^,]*?,\s*&([^\n]*?),\s*(\w+),\s*\);", r"/* EDIT 4 */ \1[\2] += \3;", s)
        assert n == 3, n
    if 'pool' in edits:
        current[0] = 'pool'
        s = sub1("let mut __ad_s9 = ::std::vec::Vec::new();", "let mut __ad_s9 = QX_TAPES.with(|p| p.take());", s)
        s = sub1("""                {
                    let _ = ::autodiff::__private::take(&mut s_bar);
                }""", """                {
                    let _ = ::autodiff::__private::take(&mut s_bar);
                }
                QX_TAPES.with(|p| p.set(__ad_s9));""", s)
    return s

if kernel:
    s = kernel_edits(s, edits)
    current[0] = None
    s = s.replace("    pub fn __ad_vjp_all", "    pub fn vjp", 1)
    open(out, "w").write(s)
    sys.exit(0)

captures = []
if 'trips' in edits:
    current[0] = 'trips'
    # Trip counts of the point loop's counted loops, recomputed from their bounds.
    for tape, n_last in [("__ad_s13", "(__ad_n3, __ad_last3)"), ("__ad_s15", "(__ad_n4, __ad_last4)"),
                         ("__ad_s17", "(__ad_n5, __ad_last5)")]:
        s = sub1(f"{tape}.push({n_last});", "", s)
        s = sub1(f"let mut {tape} = ::std::vec::Vec::new();", "", s)
    s = sub1(popblock("__ad_s13"), "let (__ad_n, __ad_last) = (__ad_e_k, __ad_e_k.saturating_sub(1));", s, regex=True)
    s = sub1(popblock("__ad_s15"), "let (__ad_n, __ad_last) = (__ad_p_d, __ad_p_d.saturating_sub(1));", s, regex=True)
    s = sub1(popblock("__ad_s17"), "let (__ad_n, __ad_last) = (__ad_ctr4, __ad_ctr4.saturating_sub(1));", s, regex=True)
    captures.append("let __ad_e_k: usize = k;")
if 'index' in edits:
    current[0] = 'index'
    # The index into icf of the inner accumulation, recomputed from the counters.
    s = sub1("let __ad_kept5 =\n                                            (&::autodiff::__private::Keep(&__ad_h5)).keep();", "", s)
    s = sub1("__ad_s18.push((__ad_kept5,));", "", s)
    s = sub1("let mut __ad_s18 = ::std::vec::Vec::new();", "", s)
    s = sub1(popblock("__ad_s18", r"\(__ad_kept5,\)"),
             "let __ad_kept5 = ::autodiff::__private::ByVal(__ad_ctr3 * __ad_e_icf_sz + __ad_p_d + __ad_ctr5 * (2 * __ad_p_d - __ad_ctr5 - 3) / 2 + __ad_ctr4 - 1);",
             s, regex=True)
    captures.append("let __ad_e_icf_sz: usize = d * (d + 1) / 2;")
if 'qdiags' in edits:
    current[0] = 'qdiags'
    # exp(q) is not written after the point loop starts: read it from the final vector.
    s = sub1(r"let __ad_kept1 =\s*\(&::autodiff::__private::Keep\(&qdiags\[\(\(ik \* d\) \+ j\)\]\)\)\.keep\(\);\s*__ad_s16\.push\(\(__ad_kept1,\)\);",
             "", s, regex=True)
    s = sub1("let mut __ad_s16 = ::std::vec::Vec::new();", "", s)
    s = sub1(popblock("__ad_s16", r"\(__ad_kept1,\)"),
             "let __ad_kept1 = ::autodiff::__private::ByVal(__ad_e_qdiags[__ad_ctr3 * __ad_p_d + __ad_ctr4]);", s, regex=True)
    s = sub1("        __ad_out = ", "        let __ad_e_qdiags = qdiags.clone();\n        __ad_out = ", s)
if 'dense' in edits:
    current[0] = 'dense'
    # Gradients of slices and local vectors dense from the start; `g[i] += v`.
    for name, length in [("alphas", "__ad_p_alphas.len()"), ("means", "__ad_p_means.len()"), ("icf", "__ad_p_icf.len()")]:
        s = sub1(rf"let mut {name}_bar: <&'static \[f64\] as ::autodiff::Differentiable>::Tangent =\s*::autodiff::__private::zero\(\);",
                 f"let mut {name}_bar: Vec<f64> = vec![0.0; {length}];", s, regex=True)
    s = sub1("let mut qdiags_bar = ::autodiff::__private::zero();", "let mut qdiags_bar: Vec<f64> = vec![0.0; __ad_p_d * __ad_e_k2];", s)
    s = sub1("let mut sum_qs_bar = ::autodiff::__private::zero();", "let mut sum_qs_bar: Vec<f64> = vec![0.0; __ad_e_k2];", s)
    s, n = re.subn(r"::autodiff::__private::acc_index\(\s*&mut (\w+),\s*&[^,]*?,\s*&([^\n]*?),\s*(\w+),\s*\);", r"/* EDIT 4 */ \1[\2] += \3;", s)
    assert n == 16, n
    captures.append("let __ad_e_k2: usize = k;")
if 'meta' in edits:
    current[0] = 'meta'
    # The lengths of exp(q) and Σq never change in the point loop: no per-step tape of them.
    for mt, var in [("__ad_mt16_37", "qdiags"), ("__ad_mt20_27", "sum_qs")]:
        s = sub1(r"::autodiff::__private::push_meta\(\s*&mut " + mt + r",\s*::autodiff::__private::meta\(&" + var + r"\),\s*\);", "", s, regex=True)
        s = sub1(f"::autodiff::__private::pop_meta(&mut {mt})", f"::autodiff::__private::LenMeta(__ad_e_len_{var})", s)
        s = sub1(f"let mut {mt} = ::core::default::Default::default();", "", s)
    captures.append("let __ad_e_len_qdiags: usize = d * k;")
    captures.append("let __ad_e_len_sum_qs: usize = k;")
if 'plain' in edits or 'outline' in edits:
    current[0] = 'outline'
    # The forward's inner accumulation loop as the primal writes it (no
    # bookkeeping left in it once nothing is taped).
    old = re.compile(r"\{\s*let mut __ad_n5: usize = 0;\s*let __ad_lo5 = 0;\s*let mut __ad_last5 = __ad_lo5;\s*'__ad_loop5: for c in __ad_lo5\.\.\(j\) \{.*?qx \+= __ad_h2;\s*\}\s*(/\* EDIT \d \*/\s*)*\}", re.S)
    body = "qx += icf[ik * icf_sz + d + c * (2 * d - c - 3) / 2 + j - 1] * (x[ix * d + c] - means[ik * d + c]);"
    if 'outline' in edits:
        new = ("#[inline(never)] fn __ad_row(mut qx: f64, icf: &[f64], x: &[f64], means: &[f64], ik: usize, ix: usize, j: usize, d: usize, icf_sz: usize) -> f64 { for c in 0..j { "
               + body + " } qx }\n qx = __ad_row(qx, icf, x, means, ik, ix, j, d, icf_sz);")
    else:
        new = "for c in 0..j { " + body + " }"
    s = sub1(old, new, s, regex=True)
    for mt in ["__ad_mt18_35", "__ad_mt18_36"]:
        s = sub1(f"let mut {mt} = ::core::default::Default::default();", "", s)
        s = sub1(f"::autodiff::__private::pop_meta(&mut {mt},\n", "::autodiff::__private::ScalarMeta(\n", s) if False else s
        s, n = re.subn(r"::autodiff::__private::pop_meta\(\s*&mut " + mt + r",?\s*\)", "::autodiff::__private::ScalarMeta", s)
        assert n == 1, (mt, n)
if 'rplain' in edits or 'routline' in edits:
    current[0] = 'rplain'
    # The reverse of the inner accumulation as one plain loop: `qx += h` passes
    # qx's cotangent through unchanged, so it is one scalar for the whole loop.
    old = re.compile(r"let \(__ad_n, __ad_last\) = \(__ad_ctr4, __ad_ctr4\.saturating_sub\(1\)\);.*?__ad_ctr5 = ::autodiff::__private::prev\(__ad_ctr5\);\s*\}", re.S)
    if 'routline' in edits:
        new = '''#[inline(never)]
        fn __ad_row_reverse(g: f64, icf: &[f64], x: &[f64], means: &[f64], icf_bar: &mut [f64], means_bar: &mut [f64], ik: usize, ix: usize, j: usize, d: usize, icf_sz: usize) {
            for c in (0..j).rev() {
                let idx = ik * icf_sz + d + c * (2 * d - c - 3) / 2 + j - 1;
                let v = x[ix * d + c] - means[ik * d + c];
                icf_bar[idx] += g * v;
                means_bar[ik * d + c] -= g * icf[idx];
            }
        }
        __ad_row_reverse(qx_bar, __ad_p_icf, __ad_p_x, __ad_p_means, &mut icf_bar, &mut means_bar, __ad_ctr3, __ad_ctr2, __ad_ctr4, __ad_p_d, __ad_e_icf_sz);'''
    else:
        new = '''let (icf, x, means, d, ix, ik, j, g) = (__ad_p_icf, __ad_p_x, __ad_p_means, __ad_p_d, __ad_ctr2, __ad_ctr3, __ad_ctr4, qx_bar);
        for c in (0..j).rev() {
            let idx = ik * __ad_e_icf_sz + d + c * (2 * d - c - 3) / 2 + j - 1;
            let v = x[ix * d + c] - means[ik * d + c];
            icf_bar[idx] += g * v;
            means_bar[ik * d + c] -= g * icf[idx];
        }'''
    s = sub1(old, new, s, regex=True)
if 'pool' in edits:
    current[0] = 'pool'
    # The one per-row tape (qx) taken from a per-thread pool and given back.
    s = sub1("let mut __ad_s19 = ::std::vec::Vec::new();", "let mut __ad_s19 = QX_TAPES.with(|p| p.take());", s)
    s = sub1("""                {
                    let _ = ::autodiff::__private::take(&mut qdiags_bar);
                }""", """                {
                    let _ = ::autodiff::__private::take(&mut qdiags_bar);
                }
                QX_TAPES.with(|p| p.set(__ad_s19));""", s)
current[0] = None
s = s.replace("    pub fn __ad_vjp_all", "    pub fn vjp", 1)
first = s.index("{\n", s.index(") -> (")) + 2
# captures right after the function's opening brace (after the `use` line)
use_end = s.index("KeepOwned as _};", first) + len("KeepOwned as _};")
s = s[:use_end] + "\n        " + "\n        ".join(captures) + s[use_end:]
open(out, "w").write(s)
