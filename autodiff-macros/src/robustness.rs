//! Syntax robustness, refused half (issue 7): odd-but-valid bodies that an
//! active value flows into and that the macro must refuse with its own
//! `compile_error`, whose message names the construct and the fix. Checked by
//! calling [`expand`] directly, so CI compiles none of them: each answer must
//! come without a panic, parse as Rust items, keep the function as written
//! (so its callers see no cascade of errors), and carry the expected words.
//!
//! The accepted half (compiled, each gradient checked against analytic values
//! and central differences) is `tests/robustness.rs`, which also holds the
//! table of which case covers which `syn::Expr`, `syn::Pat` and `syn::Stmt`
//! variant. Bodies the macro must accept but refuses today are in
//! [`misleading_refusals`] here and wait, with their right gradient, in
//! `tests/robustness_pending/`.
//!
//! Points: x = 0.7, xs = [0.3, -0.5, 0.8] (for the pending gradients).

use crate::expand::expand;
use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::quote;

/// What the macro must answer.
enum Want {
    /// Its own `compile_error`, whose messages together contain each of these
    /// words (case-insensitive): what is refused, and the fix.
    Refuse(&'static [&'static str]),
    /// No error: syntax that rustc itself rejects on stable (so it cannot be
    /// compiled in `tests/robustness.rs`), into which no active value flows.
    Accept,
}

struct Case {
    name: &'static str,
    attr: TokenStream,
    item: TokenStream,
    want: Want,
}

fn case(name: &'static str, item: TokenStream, want: Want) -> Case {
    Case {
        name,
        attr: TokenStream::new(),
        item,
        want,
    }
}

use Want::{Accept, Refuse};

/// The unknown-method message ends with the list of differentiable methods.
const KNOWN_LIST: &str = "use a differentiable method";

fn cases() -> Vec<Case> {
    // `$t:ty` / `$e:expr` of a macro_rules arrive as invisible groups.
    let invisible = |tokens: TokenStream| TokenTree::Group(Group::new(Delimiter::None, tokens));
    let f64_group = invisible(quote!(f64));
    vec![
        // ------------------------------------------------------ Expr variants
        case(
            "repeat_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let a = [x; 3];
                    a[1]
                }
            ),
            Refuse(&["an array", "`x`", "help:"]),
        ),
        case(
            "assign_active_into_field",
            quote!(
                fn f(x: f64) -> f64 {
                    let mut p = (0.0, 1.0);
                    p.0 = x;
                    p.0
                }
            ),
            Refuse(&["assignment into `p.0`", "plain variables"]),
        ),
        case(
            "async_block_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let fut = async move { x * 2.0 };
                    x
                }
            ),
            Refuse(&["async", "help:"]),
        ),
        case(
            "await_of_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let fut = async move { async { x }.await };
                    x
                }
            ),
            Refuse(&["async", "help:"]),
        ),
        case(
            "rem_active",
            quote!(
                fn f(x: f64) -> f64 {
                    x % 2.0
                }
            ),
            Refuse(&["remainder operator `%`", "stop_gradient"]),
        ),
        case(
            "rem_assign_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let mut s = x;
                    s %= 2.0;
                    s
                }
            ),
            Refuse(&["`%=`", "`+`, `-`, `*`, `/`"]),
        ),
        case(
            "break_with_value_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let y = loop {
                        break x * 2.0;
                    };
                    y
                }
            ),
            Refuse(&["loop used as a value", "variable declared before the loop"]),
        ),
        case(
            "break_with_value_statement",
            quote!(
                fn f(x: f64) -> f64 {
                    let mut y = 0.0;
                    y = loop {
                        break x;
                    };
                    y
                }
            ),
            Refuse(&["loop", "variable declared before the loop"]),
        ),
        case(
            "constructor_some_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let o = Some(x);
                    o.unwrap()
                }
            ),
            Refuse(&["`Some`", "plain variables"]),
        ),
        case(
            "constructor_ok_turbofish_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let (Ok(v) | Err(v)) = Ok::<f64, f64>(x);
                    v
                }
            ),
            Refuse(&["constructor", "Ok"]),
        ),
        case(
            "fn_item_value_called_with_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let g = h;
                    g(x)
                }
            ),
            Refuse(&["call to a closure or function value", "#[differentiable]"]),
        ),
        case(
            "dyn_fn_called_with_active",
            quote!(
                fn f(x: f64, g: &dyn Fn(f64) -> f64) -> f64 {
                    g(x)
                }
            ),
            Refuse(&["closure or function value", "named"]),
        ),
        case(
            "call_through_expression",
            quote!(
                fn f(x: f64) -> f64 {
                    [h][0](x)
                }
            ),
            Refuse(&["call through an expression", "named function"]),
        ),
        case(
            "option_map_closure",
            quote!(
                fn f(x: f64) -> f64 {
                    Some(x).map(|v| v * 2.0).unwrap_or(0.0)
                }
            ),
            Refuse(&["method `unwrap_or`"]),
        ),
        case(
            "iter_in_while_let",
            quote!(
                fn f(xs: &[f64]) -> f64 {
                    let mut s = 0.0;
                    let mut it = xs.iter();
                    while let Some(v) = it.next() {
                        s = s + v;
                    }
                    s
                }
            ),
            Refuse(&["method `iter`"]),
        ),
        case(
            "slice_first_unwrap",
            quote!(
                fn f(xs: &[f64]) -> f64 {
                    *xs.first().unwrap() * 2.0
                }
            ),
            Refuse(&["method `unwrap`"]),
        ),
        case(
            "slice_get",
            quote!(
                fn f(xs: &[f64]) -> f64 {
                    xs.get(0).copied().unwrap_or(0.0)
                }
            ),
            Refuse(&["method `unwrap_or`"]),
        ),
        case(
            "slice_to_owned",
            quote!(
                fn f(xs: &[f64]) -> f64 {
                    let v = xs.to_owned();
                    v[0]
                }
            ),
            Refuse(&["method `to_owned`"]),
        ),
        case(
            "struct_literal_active",
            quote!(
                fn f(x: f64) -> f64 {
                    struct P {
                        a: f64,
                    }
                    let p = P { a: x };
                    p.a
                }
            ),
            Refuse(&["struct literal", "plain variables"]),
        ),
        case(
            "dbg_of_active",
            quote!(
                fn f(x: f64) -> f64 {
                    dbg!(x) * 2.0
                }
            ),
            Refuse(&["macro `dbg!`"]),
        ),
        case(
            "format_of_active_as_value",
            quote!(
                fn f(x: f64) -> f64 {
                    let s = format!("{}", x);
                    x
                }
            ),
            Refuse(&["macro `format!`"]),
        ),
        case(
            "raw_addr_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let p = &raw const x;
                    x
                }
            ),
            Refuse(&["raw", "help:"]),
        ),
        case(
            "try_operator",
            quote!(
                fn f(x: f64) -> f64 {
                    let y: f64 = g(x)?;
                    y
                }
            ),
            Refuse(&["`?` operator", "match"]),
        ),
        case(
            "try_block",
            quote!(
                fn f(x: f64) -> f64 {
                    let y = try { x };
                    y
                }
            ),
            Refuse(&["try", "help:"]),
        ),
        case(
            "yield_expr",
            quote!(
                fn f(x: f64) -> f64 {
                    yield x;
                    x
                }
            ),
            Refuse(&["yield", "help:"]),
        ),
        case(
            "unsafe_block_active",
            quote!(
                fn f(x: f64) -> f64 {
                    unsafe { x * 2.0 }
                }
            ),
            Refuse(&["`unsafe` block", "move it into a function"]),
        ),
        case(
            "unsafe_block_active_let",
            quote!(
                fn f(x: f64) -> f64 {
                    let y = unsafe { x * 2.0 };
                    y
                }
            ),
            Refuse(&["`unsafe` block", "move it into a function"]),
        ),
        // `become` (unstable) is kept by syn as Expr::Verbatim: tokens it does not model.
        case(
            "verbatim_expr",
            quote!(
                fn f(x: f64) -> f64 {
                    become h(x)
                }
            ),
            Refuse(&["`x`"]),
        ),
        case(
            "verbatim_expr_let",
            quote!(
                fn f(x: f64) -> f64 {
                    let y = become h(x);
                    y
                }
            ),
            Refuse(&["`x`"]),
        ),
        case(
            "mut_borrow_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let mut y = x;
                    bump(&mut y);
                    y
                }
            ),
            Refuse(&["`&mut`", "return the new value"]),
        ),
        case(
            "mem_swap_active",
            quote!(
                fn f(x: f64, y: f64) -> f64 {
                    let (mut a, mut b) = (x, y);
                    std::mem::swap(&mut a, &mut b);
                    a * 2.0
                }
            ),
            Refuse(&["`&mut`"]),
        ),
        // ------------------------------------------------- methods not in the table
        case(
            "unknown_method_copysign",
            quote!(
                fn f(x: f64) -> f64 {
                    x.copysign(-1.0)
                }
            ),
            Refuse(&["method `copysign`", KNOWN_LIST]),
        ),
        case(
            "unknown_method_rem_euclid",
            quote!(
                fn f(x: f64) -> f64 {
                    x.rem_euclid(2.0)
                }
            ),
            Refuse(&["method `rem_euclid`", KNOWN_LIST]),
        ),
        case(
            "wrong_arity_powi",
            quote!(
                fn f(x: f64) -> f64 {
                    x.powi()
                }
            ),
            Refuse(&["method `powi`", "not with 0 argument"]),
        ),
        // ------------------------------------------------------- Pat variants
        case(
            "let_ref_binding",
            quote!(
                fn f(x: f64) -> f64 {
                    let ref y = x;
                    *y * 2.0
                }
            ),
            Refuse(&["destructured by this pattern", "flat tuple of names"]),
        ),
        case(
            "let_ref_pattern",
            quote!(
                fn f(x: f64) -> f64 {
                    let &y = &x;
                    y * 2.0
                }
            ),
            Refuse(&["destructured by this pattern", "flat tuple of names"]),
        ),
        case(
            "let_tuple_rest",
            quote!(
                fn f(x: f64) -> f64 {
                    let (a, ..) = (x, 1.0);
                    a
                }
            ),
            Refuse(&["destructured by this pattern", "flat tuple of names"]),
        ),
        case(
            "let_at_binding",
            quote!(
                fn f(x: f64) -> f64 {
                    let y @ _ = x;
                    y
                }
            ),
            Refuse(&["destructured by this pattern"]),
        ),
        case(
            "let_struct_pattern_active",
            quote!(
                fn f(x: f64) -> f64 {
                    struct P {
                        a: f64,
                    }
                    let P { a } = P { a: x };
                    a
                }
            ),
            Refuse(&["struct literal"]),
        ),
        // Patterns no active value can flow into; rustc rejects them on stable.
        case(
            "pat_const",
            quote!(fn f(x: f64) -> f64 { match 3 { const { 3 } => x * 2.0, _ => x } }),
            Accept,
        ),
        case(
            "pat_verbatim_box",
            quote!(
                fn f(x: f64) -> f64 {
                    match Box::new(3) {
                        box 3 => x * 2.0,
                        _ => x,
                    }
                }
            ),
            Accept,
        ),
        // ------------------------------------------------------ Stmt variants
        case(
            "let_else_active",
            quote!(
                fn f(x: f64) -> f64 {
                    let Some(y) = Some(x) else { return 0.0 };
                    y
                }
            ),
            Refuse(&["constructor", "inactive data"]),
        ),
        // ---------------------------------------------------------- signature
        case(
            "param_pattern",
            quote!(
                fn f((a, b): (f64, f64)) -> f64 {
                    a * b
                }
            ),
            Refuse(&["plain name", "destructure it in the body"]),
        ),
        case(
            "type_generic",
            quote!(
                fn f<T>(x: f64, t: T) -> f64 {
                    x
                }
            ),
            Refuse(&["generic"]),
        ),
        case(
            "impl_trait_param",
            quote!(
                fn f(x: f64, g: impl Fn(f64) -> f64) -> f64 {
                    x
                }
            ),
            Refuse(&["`impl Trait`", "name the type"]),
        ),
        case(
            "impl_trait_return",
            quote!(
                fn f(x: f64) -> impl Copy {
                    x
                }
            ),
            Refuse(&["`impl Trait`", "name the type"]),
        ),
        case(
            "async_fn",
            quote!(
                async fn f(x: f64) -> f64 {
                    x
                }
            ),
            Refuse(&["`async fn`", "plain `fn`"]),
        ),
        case(
            "unsafe_fn",
            quote!(
                unsafe fn f(x: f64) -> f64 {
                    x
                }
            ),
            Refuse(&["`unsafe fn`", "safe function"]),
        ),
        case(
            "no_return_type",
            quote!(
                fn f(x: f64) {
                    let _ = x;
                }
            ),
            Refuse(&["must return", "-> f64"]),
        ),
        case(
            "return_without_value",
            quote!(
                fn f(x: f64) -> f64 {
                    if x > 0.0 {
                        return;
                    }
                    x
                }
            ),
            Refuse(&["must return a value"]),
        ),
        case(
            "nothing_to_differentiate",
            quote!(
                fn f(n: usize) -> f64 {
                    n as f64
                }
            ),
            Refuse(&["nothing to differentiate", "wrt("]),
        ),
        Case {
            name: "wrt_unknown_parameter",
            attr: quote!(wrt(y)),
            item: quote!(
                fn f(x: f64) -> f64 {
                    x
                }
            ),
            want: Refuse(&["`wrt` names `y`"]),
        },
        Case {
            name: "unknown_argument",
            attr: quote!(what),
            item: quote!(
                fn f(x: f64) -> f64 {
                    x
                }
            ),
            want: Refuse(&["unknown argument `what`", "wrt(param"]),
        },
        case(
            "not_a_function",
            quote!(
                struct S;
            ),
            Refuse(&["goes on a function"]),
        ),
        // A type behind a macro_rules `$t:ty` is still `f64`.
        // Refused since the macro's soundness work (they compiled into a
        // wrong gradient before): the refusal names what and how to fix.
        case(
            "assign_inside_comparison",
            quote!(
                fn assign_inside_comparison(x: f64) -> f64 {
                    let mut s = x;
                    let c = {
                        s = s * 2.0;
                        s
                    } > 1.0;
                    if c { s } else { s }
                }
            ),
            Refuse(&["assignment"]),
        ),
        case(
            "assign_inside_int_cast",
            quote!(
                fn assign_inside_int_cast(x: f64) -> f64 {
                    let mut s = x;
                    let n = {
                        s = s * 2.0;
                        1
                    } as usize;
                    s * n as f64
                }
            ),
            Refuse(&["assignment"]),
        ),
        case(
            "assign_inside_macro_argument",
            quote!(
                fn assign_inside_macro_argument(x: f64) -> f64 {
                    let mut s = x;
                    println!("{}", {
                        s = s * 2.0;
                        s
                    });
                    s
                }
            ),
            Refuse(&["println"]),
        ),
        case(
            "assign_inside_range_bound",
            quote!(
                fn assign_inside_range_bound(x: f64) -> f64 {
                    let mut s = x;
                    for _ in 0..({
                        s = s * 2.0;
                        2
                    }) {
                        s = s + x;
                    }
                    s
                }
            ),
            Refuse(&["assignment"]),
        ),
        case(
            "cast_through_f32",
            quote!(
                fn cast_through_f32(x: f64) -> f64 {
                    ((x * 2.0) as f32) as f64
                }
            ),
            Refuse(&["f32"]),
        ),
        case(
            "cast_to_alias",
            quote!(
                fn cast_to_alias(x: f64) -> f64 {
                    (x as Real64) * 2.0
                }
            ),
            Refuse(&["Real64"]),
        ),
        case(
            "if_let_binds_active",
            quote!(
                fn if_let_binds_active(x: f64) -> f64 {
                    if let v = x { v * 2.0 } else { 0.0 }
                }
            ),
            Refuse(&["if let"]),
        ),
        case(
            "if_let_slice_pattern_active",
            quote!(
                fn if_let_slice_pattern_active(xs: &[f64]) -> f64 {
                    if let [a, b, ..] = xs { a * b } else { 0.0 }
                }
            ),
            Refuse(&["if let"]),
        ),
        case(
            "if_let_some_active",
            quote!(
                fn if_let_some_active(x: f64) -> f64 {
                    if let Some(v) = Some(x) { v * 2.0 } else { 0.0 }
                }
            ),
            Refuse(&["if let"]),
        ),
        case(
            "macro_statement_assigns",
            quote!(
                fn macro_statement_assigns(x: f64) -> f64 {
                    let mut s = x;
                    double_in_place!(s);
                    s
                }
            ),
            Refuse(&["double_in_place"]),
        ),
        case(
            "match_or_binding_active",
            quote!(
                fn match_or_binding_active(x: f64) -> f64 {
                    match (x, 1) {
                        (v, 1) | (v, 2) => v * 2.0,
                        _ => 0.0,
                    }
                }
            ),
            Refuse(&["destructured"]),
        ),
        case(
            "match_ref_binding_active",
            quote!(
                fn match_ref_binding_active(x: f64) -> f64 {
                    match &x {
                        &v => v * 2.0,
                    }
                }
            ),
            Refuse(&["destructured"]),
        ),
        case(
            "match_tuple_binding_active",
            quote!(
                fn match_tuple_binding_active(x: f64) -> f64 {
                    match (x, 2.0) {
                        (v, w) => v * w,
                    }
                }
            ),
            Refuse(&["destructured"]),
        ),
        case(
            "tensor_data_drops",
            quote!(
                fn tensor_data_drops(x: &Tensor) -> f64 {
                    x.data()[0] * 2.0
                }
            ),
            Refuse(&["data"]),
        ),
        case(
            "tensor_from_vec_of_to_vec",
            quote!(
                fn tensor_from_vec_of_to_vec(xs: &[f64]) -> f64 {
                    let t = Tensor::from_vec(xs.to_vec(), &[3]);
                    t.sum()
                }
            ),
            Refuse(&["from_vec"]),
        ),
        case(
            "to_bits_in_let",
            quote!(
                fn to_bits_in_let(x: f64) -> f64 {
                    let bits = x.to_bits();
                    f64::from_bits(bits) * 2.0
                }
            ),
            Refuse(&["to_bits"]),
        ),
        case(
            "to_bits_round_trip",
            quote!(
                fn to_bits_round_trip(x: f64) -> f64 {
                    f64::from_bits(x.to_bits()) * 2.0
                }
            ),
            Refuse(&["from_bits"]),
        ),
        case(
            "to_string_parse_round_trip",
            quote!(
                fn to_string_parse_round_trip(x: f64) -> f64 {
                    let s = x.to_string();
                    let y: f64 = s.parse().unwrap();
                    y * 2.0
                }
            ),
            Refuse(&["to_string"]),
        ),
        case(
            "type_from_macro_rules",
            quote!(fn f(x: #f64_group) -> #f64_group { x * 2.0 }),
            Accept,
        ),
    ]
}

/// Cases the macro answers wrongly today, and what it answers. The test
/// asserts that each is still wrong, so that the list cannot rot: remove a
/// name once the macro is fixed.
const KNOWN_WRONG: &[(&str, &str)] = &[
    // The generic "cannot differentiate this expression" names no construct.
    ("async_block_active", "\"this expression\""),
    ("await_of_active", "\"this expression\""),
    ("raw_addr_active", "\"this expression\""),
    ("try_block", "\"this expression\""),
    ("yield_expr", "\"this expression\""),
    // An active value inside Expr::Verbatim tokens is not seen (reads are
    // collected with syn::visit, which does not look into Verbatim): accepted,
    // and `x` silently carries no gradient (rustc rejects `become` on stable).
    ("verbatim_expr", "accepted"),
    ("verbatim_expr_let", "accepted"),
];

/// Bodies the macro refuses today although it must accept them (issue 7,
/// item 9, and the same kinds): each waits in `tests/robustness_pending/`
/// with its right gradient. The test asserts that each is still refused:
/// when one is accepted, move its pending file into `tests/robustness.rs`.
fn misleading_refusals() -> Vec<(&'static str, TokenStream)> {
    vec![]
}

/// The messages of the macro's `compile_error!`s in its answer, or why the
/// answer is not acceptable whatever the case (a panic, output that is not Rust).
fn answer(attr: &TokenStream, item: &TokenStream) -> Result<Vec<String>, String> {
    let out = std::panic::catch_unwind(|| expand(attr.clone(), item.clone()))
        .map_err(|_| "the macro panicked".to_string())?;
    let file: syn::File =
        syn::parse2(out.clone()).map_err(|e| format!("the output does not parse ({e}): {out}"))?;
    let mut messages = Vec::new();
    let mut kept_function = false;
    for it in &file.items {
        match it {
            syn::Item::Macro(m)
                if m.mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "compile_error") =>
            {
                let lit: syn::LitStr = syn::parse2(m.mac.tokens.clone())
                    .map_err(|e| format!("compile_error! without a message: {e}"))?;
                messages.push(lit.value());
            }
            syn::Item::Fn(_) => kept_function = true,
            _ => {}
        }
    }
    if !messages.is_empty() && !kept_function && syn::parse2::<syn::ItemFn>(item.clone()).is_ok() {
        return Err("refused without keeping the function as written".into());
    }
    Ok(messages)
}

/// Why the answer does not meet `want`, or `None`.
fn mismatch(case: &Case) -> Option<String> {
    let messages = match answer(&case.attr, &case.item) {
        Ok(m) => m,
        Err(e) => return Some(e),
    };
    match (&case.want, messages.is_empty()) {
        (Accept, true) => None,
        (Accept, false) => Some(format!("refused: {messages:?}")),
        (Refuse(_), true) => Some("accepted".into()),
        (Refuse(words), false) => {
            let all = messages.join("\n").to_lowercase();
            let missing: Vec<&&str> = words
                .iter()
                .filter(|w| !all.contains(&w.to_lowercase()))
                .collect();
            (!missing.is_empty()).then(|| format!("the message lacks {missing:?}: {messages:?}"))
        }
    }
}

#[test]
fn refusals_name_what_and_how_to_fix() {
    let cases = cases();
    for (name, _) in KNOWN_WRONG {
        assert!(
            cases.iter().any(|c| c.name == *name),
            "KNOWN_WRONG names `{name}`, which is not a case"
        );
    }
    let mut wrong = Vec::new();
    let mut now_right = Vec::new();
    for case in &cases {
        let known = KNOWN_WRONG.iter().any(|(n, _)| *n == case.name);
        match (mismatch(case), known) {
            (Some(why), false) => wrong.push(format!("{}: {why}", case.name)),
            (None, true) => now_right.push(case.name),
            _ => {}
        }
    }
    assert!(
        wrong.is_empty() && now_right.is_empty(),
        "\nwrong answers ({}):\n  {}\nnow right, remove them from KNOWN_WRONG ({}):\n  {}\n",
        wrong.len(),
        wrong.join("\n  "),
        now_right.len(),
        now_right.join("\n  ")
    );
}

#[test]
fn misleading_refusals_are_still_refused() {
    let mut accepted = Vec::new();
    for (name, item) in misleading_refusals() {
        match answer(&TokenStream::new(), &item) {
            Err(e) => panic!("{name}: {e}"),
            Ok(messages) if messages.is_empty() => accepted.push(name),
            Ok(_) => {}
        }
    }
    assert!(
        accepted.is_empty(),
        "now accepted: move tests/robustness_pending/<name>.rs into tests/robustness.rs (with its gradient) and remove the name from misleading_refusals: {accepted:?}"
    );
}
