//! Syntax robustness, accepted half: odd-but-valid function bodies that
//! `#[differentiable]` accepts, each with an active value flowing in, each
//! checked for the RIGHT gradient — against an analytic value and against
//! central differences of the primal (the function as written, which the
//! macro keeps unchanged, so the reference does not depend on the macro).
//!
//! The refused half (the macro's own `compile_error`, naming what and how to
//! fix) is checked without compiling anything, by calling the macro's `expand`
//! directly: `autodiff-macros/src/robustness.rs`. Bodies that the macro
//! accepts today but whose generated code does not compile, or that it
//! refuses although it should not, wait in `tests/robustness_pending/` (one
//! file per case, not compiled, expected gradient in a comment) until the
//! macro is fixed; then they move here.
//!
//! Cases that compile but give a wrong gradient today (or panic, or give NaN)
//! are here with the right expected value and listed in [`KNOWN_WRONG`]: the
//! test asserts that they still fail, so that the list cannot rot — a case
//! that starts passing fails the test with "now passes: remove it from
//! KNOWN_WRONG". If a fix makes the macro *refuse* one of them instead, move
//! it to the refusal list of `autodiff-macros/src/robustness.rs`.
//!
//! Points: x = 0.7, (x, y) = (0.7, -1.3), xs = [0.3, -0.5, 0.8] unless a case
//! says otherwise.
//!
//! Coverage of the syntax tree (syn 2), accepted cases here; `R:` the refusal
//! cases in `autodiff-macros/src/robustness.rs`; `P:` tests/robustness_pending.
//!
//! | syn variant | cases |
//! |---|---|
//! | Expr::Array | `array_inactive_indexed`; R: `array_of_active` |
//! | Expr::Assign | `assign_reassign`, `assign_into_inactive_element`, `assign_into_inactive_field`, `let_uninit_then_assign`; P: `destructuring_assignment`; R: `assign_active_into_element` |
//! | Expr::Async | `async_block_inactive`; R: `async_block_active` |
//! | Expr::Await | `await_inside_inactive_async`; R: `await_of_active` |
//! | Expr::Binary | `binary_all_arith`, `rem_inactive`, `bitops_inactive`, `comparison_as_value`, `and_or_pure`; KNOWN_WRONG: `and_with_side_effect`, `or_with_side_effect`; R: `rem_active` |
//! | Expr::Block | `block_value`, `nested_blocks`, `block_shadow_does_not_leak`, `assign_inside_index`; KNOWN_WRONG: `assign_in_if_condition`, `assign_inside_comparison`, `assign_inside_not`, `assign_inside_int_cast`, `assign_inside_range_bound`, `assign_inside_inactive_method_receiver`, `assign_inside_macro_argument` |
//! | Expr::Break | `loop_break`, `labeled_break_nested`, `break_value_inactive`, `break_in_match_arm`; R: `break_with_value_active` |
//! | Expr::Call | `call_helper`, `call_helper_tuple`, `call_nested`, `call_by_ref`, `call_slice_helper`, `path_method_sin`, `path_method_max`, `call_inactive_fn`, `stop_gradient_call`, `crate_path_call`; P: `f64_from`, `qself_sin`, `std_primitive_path`; R: `constructor_some_active` |
//! | Expr::Cast | `cast_f64`, `cast_through_f32`, `cast_through_int`, `bool_cast`; KNOWN_WRONG: `cast_to_alias`, `cast_to_std_f64` |
//! | Expr::Closure | `closure_inactive`, `closure_in_iterator_inactive`; R: `closure_capturing_active`, `closure_called_with_active` |
//! | Expr::Const | `const_block` |
//! | Expr::Continue | `loop_continue`, `labeled_continue` |
//! | Expr::Field | `field_of_inactive_struct`; R: `field_of_active_tuple` |
//! | Expr::ForLoop | `for_range`, `for_range_inclusive`, `for_rev`, `for_step_by`, `for_array_of_consts`, `for_over_inactive_vec`, `for_enumerate_inactive`, `for_index_slice`; KNOWN_WRONG: `for_ref_pattern_over_active_slice`, `for_iter_over_active_slice`, `for_copied_over_active_slice`, `for_enumerate_over_active_slice`, `for_zip_over_active_slice` |
//! | Expr::Group | `group_from_macro_rules_expr` |
//! | Expr::If | `if_value`, `else_if_chain`, `if_statement`, `if_let_inactive`, `let_chain` |
//! | Expr::Index | `index_slice`, `index_computed`, `index_vec_param`, `index_macro_vec`; P: `subslice_index`, `subslice_to_helper` |
//! | Expr::Infer | P: `destructuring_assignment_infer` |
//! | Expr::Let | `if_let_inactive`, `while_let_inactive`; KNOWN_WRONG: `if_let_binds_active` |
//! | Expr::Lit | `lit_float`, `lit_forms` |
//! | Expr::Loop | `loop_break`, `loop_continue`; KNOWN_WRONG: `break_inside_if_condition` |
//! | Expr::Macro | `macro_vec_inactive`, `macro_format_inactive`, `index_macro_vec`; R: `macro_of_active` |
//! | Expr::Match | `match_int`, `match_guard`, `match_bool_value`, `match_tuple_scrutinee`, `match_or`, `match_range`, `match_path`, `match_tuple_struct`, `match_struct_pattern`, `match_ref_pattern`, `match_slice_pattern`, `match_str`, `match_at_binding`, `match_partial_cmp`; KNOWN_WRONG: `match_binds_active`, `match_binds_active_guard` |
//! | Expr::MethodCall | `method_*`, `inactive_methods`, `signum_times_x`; KNOWN_WRONG: `to_vec_drops`, `tensor_item_drops`, `tensor_data_drops`, `to_bits_round_trip`; R: `unknown_method_*` |
//! | Expr::Paren | `paren` |
//! | Expr::Path | `path_consts`, `local_const_item`, `static_item` |
//! | Expr::Range | `range_value_loop`, `range_sum_inactive` |
//! | Expr::RawAddr | `raw_addr_inactive`; R: `raw_addr_active` |
//! | Expr::Reference | `reference_deref`, `double_reference`, `reference_method`, `ref_times` |
//! | Expr::Repeat | `repeat_inactive`; R: `repeat_active` |
//! | Expr::Return | `early_return`, `return_in_loop`, `return_at_end`, `match_arm_returns`, `return_inside_block_value`; P: `return_inside_while_condition` |
//! | Expr::Struct | `field_of_inactive_struct`; R: `struct_literal_active` |
//! | Expr::Try | R: `try_operator` (a fn returning f64 cannot use `?`: refusal only) |
//! | Expr::TryBlock | R: `try_block` (unstable: refusal only) |
//! | Expr::Tuple | `tuple_let`, `tuple_output`; P: `tuple_with_constant` |
//! | Expr::Unary | `unary_neg`, `unary_not`, `reference_deref` |
//! | Expr::Unsafe | R: `unsafe_block_active`; P: `unsafe_block_inactive` |
//! | Expr::Verbatim | R: `verbatim_expr` (only syntax syn does not model) |
//! | Expr::While | `while_data_dependent`, `while_let_inactive`; KNOWN_WRONG: `assign_in_while_condition` |
//! | Expr::Yield | R: `yield_expr` (unstable: refusal only) |
//! | Pat::Const | R: `pat_const` (unstable in patterns: refusal only) |
//! | Pat::Ident | `let_type`, `let_mut`, `match_at_binding`; R: `let_ref_binding` |
//! | Pat::Lit | `match_int`, `match_str`, `match_float_literal_active` |
//! | Pat::Macro | `match_macro_pattern` |
//! | Pat::Or | `match_or`; KNOWN_WRONG: `match_or_binding_active` |
//! | Pat::Paren | `let_paren_pattern` |
//! | Pat::Path | `match_path` |
//! | Pat::Range | `match_range`, `match_float_range_active` |
//! | Pat::Reference | `match_ref_pattern`; KNOWN_WRONG: `for_ref_pattern_over_active_slice`, `match_ref_binding_active`; R: `let_ref_pattern` |
//! | Pat::Rest | `match_slice_pattern`; R: `let_tuple_rest` |
//! | Pat::Slice | `match_slice_pattern`; KNOWN_WRONG: `if_let_slice_pattern_active` |
//! | Pat::Struct | `match_struct_pattern`; R: `let_struct_pattern_active` |
//! | Pat::Tuple | `tuple_let`, `match_tuple_scrutinee`, `swap_by_tuple_shadowing`; KNOWN_WRONG: `match_tuple_binding_active`; P: `tuple_with_constant` |
//! | Pat::TupleStruct | `match_tuple_struct`; KNOWN_WRONG: `if_let_some_active` |
//! | Pat::Type | `let_type` |
//! | Pat::Verbatim | R: `pat_verbatim_box` (`box` pattern) |
//! | Pat::Wild | `let_wild`, `match_int`, `match_wild_active` |
//! | Stmt::Local | `let_*`; R: `let_else_active`; P: `let_else_inactive` |
//! | Stmt::Item | `local_const_item`, `static_item`, `nested_fn_inactive`, `local_struct_impl`, `local_use` |
//! | Stmt::Expr | every case (with and without `;`) |
//! | Stmt::Macro | `macro_statements`; KNOWN_WRONG: `macro_statement_assigns` |
#![allow(
    unused,
    irrefutable_let_patterns,
    unused_parens,
    unused_braces,
    clippy::all
)]

use autodiff::differentiable;
use autodiff::gradcheck::Flat;
use autodiff::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

const X: f64 = 0.7;
const Y: f64 = -1.3;
const XS: [f64; 3] = [0.3, -0.5, 0.8];

// ------------------------------------------------------------------ helpers

#[differentiable]
fn h_sq(t: f64) -> f64 {
    t * t
}

#[differentiable]
fn h_mul(a: f64, b: f64) -> f64 {
    a * b
}

#[differentiable]
fn h_pair(t: f64) -> (f64, f64) {
    (t * 2.0, t * t)
}

#[differentiable]
fn h_ref(t: &f64) -> f64 {
    *t * 3.0
}

#[differentiable]
fn h_weighted(v: &[f64]) -> f64 {
    v[0] + v[1] * 2.0 + v[2] * 3.0
}

fn h_int_sq(t: i32) -> i32 {
    t * t
}

// ------------------------------------------------------------ literals, paths

#[differentiable]
fn lit_float(x: f64) -> f64 {
    x * 2.0
}

#[differentiable]
fn lit_forms(x: f64) -> f64 {
    x * 2.0f64 + x * 1e-1 + x * 1_000.0 + x * (3 as f64) + 0.5
}

#[differentiable]
fn path_consts(x: f64) -> f64 {
    x * std::f64::consts::PI + x * f64::EPSILON.sqrt()
}

#[differentiable]
fn local_const_item(x: f64) -> f64 {
    const K: f64 = 1.5;
    x * K
}

#[differentiable]
fn static_item(x: f64) -> f64 {
    static S: f64 = 2.5;
    x * S
}

#[differentiable]
fn paren(x: f64) -> f64 {
    (x + 1.0) * (x - 1.0)
}

// ---------------------------------------------------------------- operators

#[differentiable]
fn unary_neg(x: f64) -> f64 {
    -x * -(x)
}

#[differentiable]
fn unary_not(x: f64) -> f64 {
    if !(x > 1.0) { x * 3.0 } else { x }
}

#[differentiable]
fn binary_all_arith(x: f64) -> f64 {
    x + x * x - x / 2.0
}

#[differentiable]
fn const_over_active(x: f64) -> f64 {
    1.0 / x
}

#[differentiable]
fn compound_assignments(x: f64) -> f64 {
    let mut s = x;
    s += x;
    s -= 0.5 * x;
    s *= x;
    s /= 2.0;
    s
}

#[differentiable]
fn compound_div_by_active(x: f64) -> f64 {
    let mut s = 2.0;
    s /= x;
    s
}

#[differentiable]
fn rem_inactive(x: f64) -> f64 {
    x * ((7 % 3) as f64)
}

#[differentiable]
fn bitops_inactive(x: f64) -> f64 {
    x * ((6 & 3 | 1) as f64) + x * ((1 << 3) as f64) + x * ((5 ^ 1) as f64)
}

#[differentiable]
fn comparison_as_value(x: f64) -> f64 {
    let b = x > 0.5;
    if b { x * 2.0 } else { x }
}

#[differentiable]
fn and_or_pure(x: f64) -> f64 {
    if x > 0.0 && x < 1.0 || false {
        x * x
    } else {
        x
    }
}

// `c && { side effect }`: the assignment happens in the forward and must be
// differentiated (issue 7, item 4).
#[differentiable]
fn and_with_side_effect(x: f64) -> f64 {
    let mut s = x;
    let ok = x > 0.0 && {
        s = s * 2.0;
        true
    };
    if ok { s } else { s }
}

#[differentiable]
fn or_with_side_effect(x: f64) -> f64 {
    let mut s = x;
    if x < 0.0 || {
        s = s * 3.0;
        true
    } {
        s
    } else {
        0.0
    }
}

#[differentiable]
fn assign_in_if_condition(x: f64) -> f64 {
    let mut s = x;
    if {
        s = s * 2.0;
        true
    } {
        s
    } else {
        s
    }
}

#[differentiable]
fn assign_in_while_condition(x: f64) -> f64 {
    let mut s = x;
    let mut k = 0;
    while {
        s = s * 1.5;
        k += 1;
        k < 3
    } {}
    s
}

// ------------------------------------------------------------------- blocks

#[differentiable]
fn block_value(x: f64) -> f64 {
    let y = {
        let t = x * 2.0;
        t + 1.0
    };
    y * y
}

#[differentiable]
fn nested_blocks(x: f64) -> f64 {
    { { x * 3.0 } }
}

#[differentiable]
fn block_shadow_does_not_leak(x: f64) -> f64 {
    let y = x;
    {
        let y = y * 10.0;
        let _ = y;
    }
    y * 2.0
}

#[differentiable]
fn block_statement_with_attribute(x: f64) -> f64 {
    let mut s = x;
    #[allow(unused_variables)]
    {
        let z = 1;
        s = s * 2.0;
    }
    s
}

// ---------------------------------------------------------------- branches

#[differentiable]
fn if_value(x: f64) -> f64 {
    let y = if x > 0.0 { x * x } else { -x };
    y
}

#[differentiable]
fn else_if_chain(x: f64) -> f64 {
    if x < 0.0 {
        1.0
    } else if x < 0.5 {
        x
    } else if x < 1.0 {
        x * 4.0
    } else {
        x * x
    }
}

#[differentiable]
fn if_statement(x: f64) -> f64 {
    let mut y = x;
    if x > 0.5 {
        y = y * 3.0;
    }
    y
}

#[differentiable]
fn if_let_inactive(x: f64) -> f64 {
    let o = Some(2.0);
    if let Some(k) = o { x * k } else { x }
}

#[differentiable]
fn let_chain(x: f64) -> f64 {
    let o = Some(2.0);
    if let Some(k) = o
        && x > 0.0
    {
        x * k
    } else {
        x
    }
}

// Bindings of active values by a pattern (issue 7, item 2).

#[differentiable]
fn match_int(x: f64) -> f64 {
    let k = 2;
    match k {
        1 => x,
        2 => x * 3.0,
        _ => 0.0,
    }
}

#[differentiable]
fn match_guard(x: f64) -> f64 {
    match 1 {
        n if x > 0.5 => x * n as f64 * 2.0,
        _ => x,
    }
}

#[differentiable]
fn match_binds_active(x: f64) -> f64 {
    match x {
        v => v * 2.0,
    }
}

#[differentiable]
fn match_binds_active_guard(x: f64) -> f64 {
    match x {
        v if v > 0.0 => v * v,
        v => -v,
    }
}

#[differentiable]
fn match_tuple_scrutinee(x: f64) -> f64 {
    match (x > 0.0, x < 1.0) {
        (true, true) => x * 5.0,
        _ => x,
    }
}

#[differentiable]
fn match_or(x: f64) -> f64 {
    match 3 {
        1 | 3 => x * 2.0,
        _ => x,
    }
}

#[differentiable]
fn match_range(x: f64) -> f64 {
    match 5u8 {
        0..=3 => x,
        4..=9 => x * 7.0,
        _ => 0.0,
    }
}

#[differentiable]
fn match_path(x: f64) -> f64 {
    let o: Option<i32> = None;
    match o {
        Option::None => x * 2.0,
        Option::Some(_) => x,
    }
}

#[differentiable]
fn match_tuple_struct(x: f64) -> f64 {
    match Some(3) {
        Some(n) => x * n as f64,
        None => x,
    }
}

#[differentiable]
fn match_struct_pattern(x: f64) -> f64 {
    struct P {
        a: i32,
    }
    let p = P { a: 2 };
    match p {
        P { a: 2 } => x * 4.0,
        P { .. } => x,
    }
}

#[differentiable]
fn match_ref_pattern(x: f64) -> f64 {
    match &3 {
        &3 => x * 2.0,
        _ => x,
    }
}

#[differentiable]
fn match_slice_pattern(x: f64) -> f64 {
    let a = [1, 2, 3];
    match a {
        [1, .., 3] => x * 2.0,
        _ => x,
    }
}

#[differentiable]
fn match_str(x: f64) -> f64 {
    match "a" {
        "a" => x * 2.0,
        _ => x,
    }
}

#[differentiable]
fn match_at_binding(x: f64) -> f64 {
    match 4 {
        n @ 1..=5 => x * n as f64,
        _ => x,
    }
}

macro_rules! two {
    () => {
        2
    };
}

#[differentiable]
fn match_macro_pattern(x: f64) -> f64 {
    match 2 {
        two!() => x * 2.0,
        _ => x,
    }
}

#[differentiable]
fn match_bool_value(x: f64) -> f64 {
    let y = match x > 0.0 {
        true => x * 2.0,
        false => x,
    };
    y * y
}

#[differentiable]
fn match_partial_cmp(x: f64) -> f64 {
    match x.partial_cmp(&0.5) {
        Some(std::cmp::Ordering::Greater) => x * 2.0,
        _ => x,
    }
}

// -------------------------------------------------------------------- loops

#[differentiable]
fn for_range(x: f64) -> f64 {
    let mut s = x;
    for _ in 0..3 {
        s = s * x;
    }
    s
}

#[differentiable]
fn for_range_inclusive(x: f64) -> f64 {
    let mut s = x;
    for i in 0..=2 {
        s = s + x * i as f64;
    }
    s
}

#[differentiable]
fn for_rev(x: f64) -> f64 {
    let mut s = x;
    for i in (0..3).rev() {
        s = s * x + i as f64;
    }
    s
}

#[differentiable]
fn for_step_by(x: f64) -> f64 {
    let mut s = x;
    for i in (0..6).step_by(2) {
        s = s + x * i as f64;
    }
    s
}

#[differentiable]
fn for_array_of_consts(x: f64) -> f64 {
    let mut s = 0.0;
    for c in [1.0, 2.0, 3.0] {
        s = s * c + x;
    }
    s
}

#[differentiable]
fn for_over_inactive_vec(x: f64) -> f64 {
    let cs = vec![0.5, 1.5];
    let mut s = 0.0;
    for c in &cs {
        s = s + c * x;
    }
    s
}

#[differentiable]
fn for_enumerate_inactive(x: f64) -> f64 {
    let mut s = 0.0;
    for (i, c) in [2.0, 3.0].iter().enumerate() {
        s = s + x * c * i as f64;
    }
    s
}

#[differentiable]
fn for_index_slice(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..xs.len() {
        s = s + xs[i] * xs[i];
    }
    s
}

// Iteration over an active slice (issue 7, item 1).
#[differentiable]
fn for_ref_pattern_over_active_slice(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for &v in xs {
        s = s + v * v;
    }
    s
}

#[differentiable]
fn for_iter_over_active_slice(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in xs.iter() {
        s = s + v * v;
    }
    s
}

#[differentiable]
fn for_copied_over_active_slice(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in xs.iter().copied() {
        s = s + v * v;
    }
    s
}

#[differentiable]
fn for_enumerate_over_active_slice(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for (i, v) in xs.iter().enumerate() {
        s = s + v * i as f64;
    }
    s
}

#[differentiable]
fn for_zip_over_active_slice(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for (a, b) in xs.iter().zip(xs.iter()) {
        s = s + a * b;
    }
    s
}

#[differentiable]
fn while_data_dependent(x: f64) -> f64 {
    let mut s = x;
    while s < 5.0 {
        s = s * 2.0;
    }
    s
}

#[differentiable]
fn while_let_inactive(x: f64) -> f64 {
    let mut st = vec![1, 2, 3];
    let mut s = x;
    while let Some(k) = st.pop() {
        s = s * x + k as f64;
    }
    s
}

#[differentiable]
fn loop_break(x: f64) -> f64 {
    let mut s = x;
    let mut k = 0;
    loop {
        k += 1;
        if k > 3 {
            break;
        }
        s = s * 1.5;
    }
    s
}

#[differentiable]
fn loop_continue(x: f64) -> f64 {
    let mut s = x;
    let mut k = 0;
    loop {
        k += 1;
        if k > 4 {
            break;
        }
        if k % 2 == 0 {
            continue;
        }
        s = s * x;
    }
    s
}

#[differentiable]
fn labeled_break_nested(x: f64) -> f64 {
    let mut s = 0.0;
    'o: for i in 0..3 {
        for j in 0..3 {
            if i + j > 2 {
                break 'o;
            }
            s = s + x * (j as f64 + 1.0);
        }
    }
    s
}

#[differentiable]
fn labeled_continue(x: f64) -> f64 {
    let mut s = 0.0;
    'o: for i in 0..3 {
        for j in 0..3 {
            if j > i {
                continue 'o;
            }
            s = s + x;
        }
    }
    s
}

// issue 7, item 5: at x = 0.5 the loop ends at once, the result is x.
#[differentiable]
fn break_inside_if_condition(x: f64) -> f64 {
    let mut s = x;
    loop {
        if {
            if x > 0.0 {
                break;
            }
            true
        } {
            s = s * x;
        }
    }
    s
}

#[differentiable]
fn range_value_loop(x: f64) -> f64 {
    let r = 1..3;
    let mut s = 0.0;
    for i in r {
        s = s + x * i as f64;
    }
    s
}

#[differentiable]
fn range_sum_inactive(x: f64) -> f64 {
    (1..=3).sum::<i32>() as f64 * x
}

// ------------------------------------------------------------------ returns

#[differentiable]
fn early_return(x: f64) -> f64 {
    if x > 0.5 {
        return x * 3.0;
    }
    x
}

#[differentiable]
fn return_in_loop(x: f64) -> f64 {
    let mut s = x;
    for i in 0..10 {
        s = s * 1.1;
        if i == 2 {
            return s * x;
        }
    }
    s
}

#[differentiable]
fn return_at_end(x: f64) -> f64 {
    return x * 2.0;
}

// -------------------------------------------------------------------- calls

#[differentiable]
fn call_helper(x: f64) -> f64 {
    h_sq(x) + h_sq(2.0)
}

#[differentiable]
fn call_helper_tuple(x: f64) -> f64 {
    let (a, b) = h_pair(x);
    a + b
}

#[differentiable]
fn call_two_args(x: f64) -> f64 {
    h_mul(x, 3.0) + h_mul(2.0, x)
}

#[differentiable]
fn call_nested(x: f64) -> f64 {
    h_sq(h_sq(x))
}

#[differentiable]
fn call_by_ref(x: f64) -> f64 {
    h_ref(&x)
}

#[differentiable]
fn call_slice_helper(xs: &[f64]) -> f64 {
    h_weighted(xs) * 2.0
}

#[differentiable]
fn call_in_loop_and_branch(x: f64) -> f64 {
    let mut s = x;
    for i in 0..3 {
        if i % 2 == 0 {
            s = h_mul(s, x);
        } else {
            s = h_sq(s);
        }
    }
    s
}

#[differentiable]
fn crate_path_call(x: f64) -> f64 {
    crate::h_sq(x)
}

#[differentiable]
fn path_method_sin(x: f64) -> f64 {
    f64::sin(x)
}

#[differentiable]
fn path_method_max(x: f64) -> f64 {
    f64::max(x, 0.5) + f64::powi(x, 3)
}

#[differentiable]
fn call_inactive_fn(x: f64) -> f64 {
    x * h_int_sq(3) as f64 + x * i32::pow(2, 3) as f64 + x * f64::from(2.0f32)
}

#[differentiable]
fn nested_fn_inactive(x: f64) -> f64 {
    fn sq(t: i32) -> i32 {
        t * t
    }
    x * sq(3) as f64
}

#[differentiable]
fn stop_gradient_call(x: f64) -> f64 {
    x * stop_gradient(x) + x * autodiff::stop_gradient(x * 2.0)
}

#[differentiable]
fn detach_method(x: f64) -> f64 {
    x * x.detach()
}

// ------------------------------------------------------------------ methods

#[differentiable]
fn method_trig(x: f64) -> f64 {
    x.sin() + x.cos() + x.tan() + x.tanh()
}

#[differentiable]
fn method_exp_ln(x: f64) -> f64 {
    x.exp() + x.ln() + x.sqrt() + x.recip()
}

#[differentiable]
fn method_abs_negative(x: f64) -> f64 {
    (x - 2.0).abs()
}

#[differentiable]
fn method_relu_sigmoid(x: f64) -> f64 {
    x.relu() + x.sigmoid()
}

#[differentiable]
fn method_powers(x: f64) -> f64 {
    x.powi(3) + x.powf(2.5) + 2.0f64.powf(x) + x.powf(x)
}

#[differentiable]
fn method_max_min(x: f64, y: f64) -> f64 {
    x.max(y) * 2.0 + x.min(y) * 3.0
}

#[differentiable]
fn method_max_tie(x: f64) -> f64 {
    x.max(x * 1.0)
}

#[differentiable]
fn method_clone(x: f64) -> f64 {
    let y = x.clone();
    y * y
}

#[differentiable]
fn method_chain(x: f64) -> f64 {
    x.sin().cos().exp()
}

#[differentiable]
fn clamp_by_min_max(x: f64) -> f64 {
    (x * 3.0).min(1.0).max(-1.0) + x.min(1.0).max(-1.0)
}

#[differentiable]
fn inactive_methods(x: f64) -> f64 {
    x * (x * 3.0).floor()
        + x * (x * 3.0).ceil()
        + x * (x * 3.0).round()
        + x * (x * 3.0).trunc()
        + if x.is_finite() && !x.is_nan() { x } else { 0.0 }
}

#[differentiable]
fn to_string_len(x: f64) -> f64 {
    x * x.to_string().len() as f64
}

#[differentiable]
fn signum_times_x(x: f64) -> f64 {
    x.signum() * x
}

// Methods the macro treats as passing no gradient although their value is
// the active value itself (issue 7, item 3).
#[differentiable]
fn to_vec_drops(xs: &[f64]) -> f64 {
    let v = xs.to_vec();
    v[0] * 2.0
}

// -------------------------------------------------------------------- casts

#[differentiable]
fn cast_f64(x: f64) -> f64 {
    (x as f64) * 2.0
}

#[differentiable]
fn cast_through_int(x: f64) -> f64 {
    (x * 10.0) as i32 as f64 * x
}

#[differentiable]
fn bool_cast(x: f64) -> f64 {
    (x > 0.0) as i32 as f64 * x
}

// --------------------------------------------------------------- references

#[differentiable]
fn reference_deref(x: f64) -> f64 {
    let r = &x;
    *r * 2.0
}

#[differentiable]
fn double_reference(x: f64) -> f64 {
    let r = &&x;
    **r * 2.0
}

#[differentiable]
fn reference_method(x: f64) -> f64 {
    (&x).sin()
}

#[differentiable]
fn ref_times(x: f64) -> f64 {
    let r: &f64 = &x;
    r * 2.0
}

#[differentiable]
fn raw_addr_inactive(x: f64) -> f64 {
    let k = 3.0;
    let p = &raw const k;
    x * 2.0
}

// ------------------------------------------------------------------- tuples

#[differentiable]
fn tuple_let(x: f64) -> f64 {
    let t = (x, x * 2.0);
    let (a, b) = t;
    a * b
}

#[differentiable]
fn tuple_output(x: f64) -> (f64, f64) {
    (x * 2.0, x * x)
}

// ------------------------------------------------------------- let, shadowing

#[differentiable]
fn shadowing(x: f64) -> f64 {
    let x = x * 2.0;
    let x = x * x;
    x
}

#[differentiable]
fn shadow_in_loop(x: f64) -> f64 {
    let mut s = 0.0;
    for _ in 0..2 {
        let x = x * 2.0;
        s = s + x;
    }
    s
}

#[differentiable]
fn shadow_with_other_type(x: f64) -> f64 {
    let y = x * 3.0;
    let x = x > 0.0;
    if x { y } else { 0.0 }
}

#[differentiable]
fn let_uninit_then_assign(x: f64) -> f64 {
    let y;
    y = x * 2.0;
    let z: f64;
    if x > 0.0 {
        z = y * x
    } else {
        z = -y
    }
    z
}

#[differentiable]
fn let_type(x: f64) -> f64 {
    let y: f64 = x * 3.0;
    y
}

#[differentiable]
fn let_wild(x: f64) -> f64 {
    let _ = x * 2.0;
    let _y = x;
    x * 2.0
}

#[differentiable]
fn let_mut(x: f64) -> f64 {
    let mut y = x;
    y = y * y;
    y
}

#[differentiable]
fn assign_reassign(x: f64) -> f64 {
    let mut y = x;
    y = y * 3.0;
    y = y + x;
    y
}

#[differentiable]
fn let_with_attribute(x: f64) -> f64 {
    #[allow(unused_mut)]
    let mut y = x * 2.0;
    y
}

#[differentiable]
fn let_paren_pattern(x: f64) -> f64 {
    let (y) = x;
    y * 2.0
}

#[differentiable]
fn mut_param(mut x: f64) -> f64 {
    x = x * 2.0;
    x
}

// ----------------------------------------------------- arrays, structs, items

#[differentiable]
fn array_inactive_indexed(x: f64) -> f64 {
    let w = [1.0, 2.0, 3.0];
    x * w[1]
}

#[differentiable]
fn repeat_inactive(x: f64) -> f64 {
    let w = [0.5; 4];
    x * w[3]
}

#[differentiable]
fn assign_into_inactive_element(x: f64) -> f64 {
    let mut w = vec![0.0; 3];
    w[1] = 2.0;
    x * w[1]
}

#[differentiable]
fn assign_into_inactive_field(x: f64) -> f64 {
    let mut p = (1.0, 2.0);
    p.1 = 4.0;
    x * p.1
}

#[differentiable]
fn field_of_inactive_struct(x: f64) -> f64 {
    struct P {
        a: f64,
    }
    let p = P { a: 2.0 };
    x * p.a + x * P { a: 3.0 }.a
}

#[differentiable]
fn local_struct_impl(x: f64) -> f64 {
    struct K;
    impl K {
        fn v(&self) -> f64 {
            2.0
        }
    }
    x * K.v()
}

#[differentiable]
fn local_use(x: f64) -> f64 {
    use std::f64::consts::E;
    x * E
}

#[differentiable]
fn const_block(x: f64) -> f64 {
    x * const { 2.0 + 1.0 }
}

#[differentiable]
fn async_block_inactive(x: f64) -> f64 {
    let _fut = async { 1 };
    x * 2.0
}

#[differentiable]
fn await_inside_inactive_async(x: f64) -> f64 {
    let _fut = async {
        let y = async { 1.0 }.await;
        y
    };
    x * 2.0
}

#[differentiable]
fn closure_inactive(x: f64) -> f64 {
    let k = |t: f64| t * 2.0;
    k(3.0) * x
}

#[differentiable]
fn closure_in_iterator_inactive(x: f64) -> f64 {
    let w: f64 = [1.0, 2.0].iter().map(|v| v * 2.0).sum();
    x * w
}

// ------------------------------------------------------------------- macros

#[differentiable]
fn macro_statements(x: f64) -> f64 {
    println!("{x}");
    assert!(x > 0.0);
    debug_assert!(x.is_finite());
    x * 2.0
}

#[differentiable]
fn macro_vec_inactive(x: f64) -> f64 {
    let v = vec![1.0, 2.0];
    v[0] * x + v[1] * x
}

#[differentiable]
fn index_macro_vec(x: f64) -> f64 {
    vec![1.0, 2.0][1] * x
}

#[differentiable]
fn macro_format_inactive(x: f64) -> f64 {
    let s = format!("{x:.1}");
    x * s.len() as f64
}

macro_rules! times_two {
    ($name:ident, $x:ident, $e:expr) => {
        #[differentiable]
        fn $name($x: f64) -> f64 {
            $e * 2.0
        }
    };
}

// `$e` arrives as an invisible group (Expr::Group): `(x + 1) * 2`, not `x + 2`.
times_two!(group_from_macro_rules_expr, x, x + 1.0);

// ------------------------------------------------------------------- slices

#[differentiable]
fn index_slice(xs: &[f64]) -> f64 {
    xs[0] * xs[1] + xs[2]
}

#[differentiable]
fn index_computed(xs: &[f64]) -> f64 {
    xs[xs.len() - 1] * 2.0 + xs[(1 + 1) % 3] + xs[(0.7f64 * 2.0) as usize]
}

#[differentiable]
fn index_vec_param(v: Vec<f64>) -> f64 {
    v[0] * v[1]
}

#[differentiable]
fn len_of_active(xs: &[f64]) -> f64 {
    xs.len() as f64 * xs[0] + if xs.is_empty() { 0.0 } else { xs[1] }
}

// --------------------------------------------------------------- parameters

#[differentiable]
fn ref_param(x: &f64) -> f64 {
    *x * 2.0
}

#[differentiable]
fn no_grad_param(x: f64, #[no_grad] k: f64) -> f64 {
    x * k
}

#[differentiable]
#[allow(deprecated)]
fn attribute_on_param(x: f64, #[allow(unused_variables)] y: f64) -> f64 {
    x * 2.0
}

#[differentiable]
fn lifetime_param<'a>(xs: &'a [f64]) -> f64 {
    xs[0] * 2.0
}

type Real64 = f64;

#[differentiable(wrt(x))]
fn type_alias_param(x: Real64) -> Real64 {
    x * 2.0
}

#[differentiable]
fn where_clause(x: f64) -> f64
where
    f64: Copy,
{
    x * 2.0
}

// ------------------------------------------------------------------ tensors

#[differentiable]
fn tensor_sum(x: &Tensor) -> f64 {
    let s = x.sum();
    s * 2.0
}

#[differentiable]
fn tensor_at(x: &Tensor) -> f64 {
    x.at(&[1]) * 3.0 + x.shape()[0] as f64 * x.at(&[0])
}

// `.item()` of a one-element tensor, `.data()`: the value itself (issue 7, item 3).
#[differentiable]
fn tensor_item_drops(x: &Tensor) -> f64 {
    x.sum_dim(0).item() * 2.0
}

// ---------------------------------------------- strong zero (issue 7, NaN)

#[differentiable]
fn strong_zero_division(x: f64, #[no_grad] t: f64) -> f64 {
    let y = x / t;
    if x >= t { x } else { y }
}

#[differentiable]
fn strong_zero_sqrt(x: f64) -> f64 {
    let r = x.sqrt();
    if r > 0.5 { r } else { 1.0 }
}

#[differentiable]
fn strong_zero_row_norms(x: &Tensor) -> f64 {
    x.powi(2).sum_dim(1).sqrt().at(&[0])
}

// ---------------------------------------------------- control flow in values

#[differentiable]
fn block_in_if_condition_inactive(x: f64) -> f64 {
    if {
        let t = x * 2.0;
        t > 1.0
    } {
        x
    } else {
        -x
    }
}

#[differentiable]
fn if_let_as_value(x: f64) -> f64 {
    let o = Some(3.0);
    let y = if let Some(k) = o { x * k } else { x };
    y * 2.0
}

#[differentiable]
fn match_in_arithmetic(x: f64) -> f64 {
    let k = 1;
    (match k {
        1 => x,
        _ => 2.0 * x,
    }) * 3.0
}

#[differentiable]
fn if_as_call_argument(x: f64) -> f64 {
    h_sq(if x > 0.0 { x } else { -x })
}

#[differentiable]
fn block_as_receiver(x: f64) -> f64 {
    { x * 2.0 }.sin()
}

#[differentiable]
fn return_inside_block_value(x: f64) -> f64 {
    let y = {
        if x > 0.5 {
            return x * 5.0;
        }
        x
    };
    y
}

#[differentiable]
fn compound_with_if_value(x: f64) -> f64 {
    let mut s = x;
    s += if x > 0.0 { x * x } else { 1.0 };
    s *= match 2 {
        2 => x,
        _ => 1.0,
    };
    s
}

#[differentiable]
fn assign_match_value(x: f64) -> f64 {
    let mut s = 0.0;
    for k in 0..3 {
        s = match k {
            0 => x,
            1 => s * x,
            _ => s + x,
        };
    }
    s
}

#[differentiable]
fn shadow_in_match_arm(x: f64) -> f64 {
    match 1 {
        1 => {
            let x = x * 2.0;
            x * x
        }
        _ => x,
    }
}

#[differentiable]
fn break_in_match_arm(x: f64) -> f64 {
    let mut s = x;
    let mut k = 0;
    loop {
        k += 1;
        match k {
            4 => break,
            2 => continue,
            _ => s = s * x,
        }
    }
    s
}

#[differentiable]
fn return_from_nested_loops(x: f64) -> f64 {
    let mut s = x;
    for i in 0..4 {
        for j in 0..4 {
            s = s * 1.5;
            if i * 4 + j == 5 {
                return s * x;
            }
        }
    }
    s
}

#[differentiable]
fn while_with_break_and_counter(x: f64) -> f64 {
    let mut s = x;
    let mut n = 0;
    while s < 100.0 {
        s = s * 3.0;
        n += 1;
        if n == 2 {
            break;
        }
    }
    s
}

#[differentiable]
fn loop_local_let_reads_slice(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..xs.len() {
        let t = xs[i] * xs[i];
        s = s + t * xs[0];
    }
    s
}

#[differentiable]
fn loop_local_let_of_reassigned_param(mut x: f64) -> f64 {
    let mut s = 0.0;
    for _ in 0..3 {
        let t = x * 2.0;
        s = s + t * t;
        x = x * 0.5;
    }
    s
}

#[differentiable]
fn loop_local_shadowing(x: f64) -> f64 {
    let mut s = 0.0;
    for i in 1..3 {
        let t = x * i as f64;
        let x = t;
        s = s + x * x;
    }
    s
}

#[differentiable]
fn reassign_in_both_branches_in_loop(x: f64, y: f64) -> f64 {
    let mut a = x;
    let mut b = y;
    for i in 0..4 {
        if i % 2 == 0 {
            a = a * b;
        } else {
            b = b + a;
        }
    }
    a + b
}

#[differentiable]
fn swap_through_temporary(x: f64, y: f64) -> f64 {
    let mut a = x;
    let mut b = y;
    for _ in 0..3 {
        let t = a;
        a = b;
        b = t * 2.0;
    }
    a * 10.0 + b
}

#[differentiable]
fn powi_negative_and_zero(x: f64) -> f64 {
    x.powi(-2) + x.powi(0) + x.powi(1)
}

#[differentiable]
fn many_uses_of_one_value(x: f64) -> f64 {
    let y = x.sin();
    y * y + y.exp() + y / (1.0 + y * y)
}

#[differentiable]
fn unused_active_value(x: f64) -> f64 {
    let unused = x.exp();
    let also = unused * 2.0;
    x * 3.0
}

#[differentiable]
#[allow(deprecated)]
fn output_independent_of_input(x: f64) -> f64 {
    let _y = x * 2.0;
    5.0
}

// A path from inside a module: `super::` in the body names the module above
// the function's, which the generated code must name too.
const SCALE: f64 = 1.0;

mod nested {
    use super::*;
    const SCALE: f64 = 3.0;

    #[differentiable]
    pub fn super_path_const(x: f64) -> f64 {
        x * super::SCALE
    }

    #[differentiable]
    pub fn self_path_const(x: f64) -> f64 {
        x * self::SCALE
    }
}

use nested::{self_path_const, super_path_const};

#[differentiable]
fn self_path_call(x: f64) -> f64 {
    self::h_sq(x)
}

#[differentiable]
fn nested_differentiable_fn(x: f64) -> f64 {
    #[differentiable]
    fn inner(t: f64) -> f64 {
        t * 3.0
    }
    inner(x)
}

#[differentiable]
fn tuple_param(t: (f64, f64)) -> f64 {
    let (a, b) = t;
    a * b
}

#[differentiable]
fn tuple_with_constant_used(x: f64) -> f64 {
    let (p, q) = (x, 2.0);
    p * q
}

#[differentiable]
fn break_value_inactive(x: f64) -> f64 {
    let n = loop {
        break 3.0;
    };
    x * n
}

#[differentiable]
const fn const_fn(x: f64) -> f64 {
    x * 2.0
}

#[differentiable]
extern "C" fn extern_c_fn(x: f64) -> f64 {
    x * 2.0
}

// `to_vec` drops the gradient, and the tensor built from it then too.

// ------------------------------------------- more inactive paths and aliasing

// A value through a string and back: `to_string` passes no gradient, and the
// `parse` of an inactive string is not checked (issue 7, item 3's kind).

// A cast to `f64` under another name is still the identity.

#[differentiable]
fn cast_to_std_f64(x: f64) -> f64 {
    (x as std::primitive::f64) * 2.0
}

macro_rules! double_in_place {
    ($v:ident) => {
        $v = $v * 2.0;
    };
}

// A statement macro that assigns an active variable: emitted as written,
// the assignment is not differentiated.

#[differentiable]
fn closure_with_return_inactive(x: f64) -> f64 {
    let k = |t: f64| {
        return t * 2.0;
    };
    k(3.0) * x
}

#[differentiable]
fn match_arm_returns(x: f64) -> f64 {
    let k = 1;
    let y = match k {
        0 => return x * 3.0,
        _ => x * 2.0,
    };
    y
}

#[differentiable]
fn diverging_branch_value(x: f64) -> f64 {
    let y = if x > 0.0 { x * 2.0 } else { panic!("negative") };
    let z = match 1 {
        1 => y * 3.0,
        _ => unreachable!(),
    };
    z
}

#[differentiable]
fn self_assignments(x: f64) -> f64 {
    let mut s = x;
    s = s;
    s += s;
    s *= s;
    s
}

#[differentiable]
fn alias_before_overwrite(x: f64) -> f64 {
    let mut s = x;
    let t = s;
    s = s * 2.0;
    t + s
}

#[differentiable]
fn swap_by_tuple_shadowing(x: f64, y: f64) -> f64 {
    let (x, y) = (y, x);
    x * 2.0 + y
}

#[differentiable]
fn tuple_of_nested_call(x: f64) -> f64 {
    let (p, q) = h_pair(h_sq(x));
    p + q
}

// ------------------------------------------- patterns an active value reaches

#[differentiable]
fn match_float_range_active(x: f64) -> f64 {
    match x {
        0.0..=1.0 => x * 2.0,
        _ => x,
    }
}

#[differentiable]
fn match_float_literal_active(x: f64) -> f64 {
    match x {
        1.5 => 0.0,
        _ => x * 3.0,
    }
}

#[differentiable]
fn match_wild_active(x: f64) -> f64 {
    match x {
        _ => x * 2.0,
    }
}

// ------------------------------------------------------ parameter kinds

#[differentiable]
fn vec_ref_param(v: &Vec<f64>) -> f64 {
    v[0] * v[1]
}

#[differentiable]
fn vec_to_slice_helper(v: Vec<f64>) -> f64 {
    h_weighted(&v)
}

#[differentiable]
fn no_grad_slice(xs: &[f64], #[no_grad] ys: &[f64]) -> f64 {
    xs[0] * ys[1]
}

// ------------------------------- inactive values that change after their use

#[differentiable]
fn shadowed_counter_index(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        let i = i * 2;
        s = s + xs[i % 3] * xs[i % 3];
    }
    s
}

#[differentiable]
fn index_then_counter_changes(xs: &[f64]) -> f64 {
    let mut k = 0;
    let y = xs[k] * xs[k + 1];
    k = 2;
    y * xs[k]
}

#[differentiable]
fn index_by_mutable_counter_in_loop(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    for _ in 0..3 {
        s = s + xs[k] * (k as f64 + 1.0);
        k += 1;
    }
    s
}

#[differentiable]
fn inactive_factor_changes(x: f64) -> f64 {
    let mut c = 2.0;
    let y = x * c;
    c = 5.0;
    let mut s = y + x * c;
    for _ in 0..3 {
        s = s + x * x * c;
        c = c + 1.0;
    }
    s
}

#[differentiable]
fn raw_identifiers(r#in: f64, r#match: f64) -> f64 {
    r#in * r#match
}

/// Documented, with attributes of its own.
#[inline]
#[must_use]
#[differentiable]
pub(crate) fn attributes_and_visibility(x: f64) -> f64 {
    x * 2.0
}

// -------------- assignments inside expressions the macro emits as written
// (issue 7, item 4's kind: not only conditions and `&&`/`||`)

#[differentiable]
fn assign_inside_index(x: f64) -> f64 {
    let mut s = x;
    let v = [1.0, 2.0];
    let y = v[{
        s = s * 2.0;
        1
    }];
    s * y
}

#[differentiable]
fn assign_inside_inactive_method_receiver(x: f64) -> f64 {
    let mut s = x;
    let f = {
        s = s * 2.0;
        s
    }
    .floor();
    s + f
}

#[differentiable]
fn assign_inside_not(x: f64) -> f64 {
    let mut s = x;
    let ok = !{
        s = s * 2.0;
        false
    };
    if ok { s } else { 0.0 }
}

// ============================================================== the checks

type Outcome = Result<(), String>;

/// `|a − b| ≤ rtol · max(|a|, |b|, 1)`.
fn close(a: f64, b: f64, rtol: f64) -> bool {
    (a - b).abs() <= rtol * a.abs().max(b.abs()).max(1.0)
}

/// Compares `grad(x)` with `want` (analytic, to 1e-12) and with central
/// differences of `primal` (to 1e-6) unless `fd` is false (a point where the
/// function is not differentiable, or where the right value is a convention).
fn check<X: Flat, G: Flat>(
    primal: &dyn Fn(&X) -> f64,
    grad: &dyn Fn(&X) -> G,
    x: X,
    want: Option<Vec<f64>>,
    fd: bool,
) -> Outcome {
    let got = grad(&x).flatten();
    if let Some(want) = &want {
        if want.len() != got.len() || got.iter().zip(want).any(|(g, w)| !close(*g, *w, 1e-12)) {
            return Err(format!("gradient {got:?}, right value {want:?}"));
        }
    }
    if fd {
        let flat = x.flatten();
        let h = 1e-6;
        let mut numeric = Vec::new();
        for k in 0..flat.len() {
            let (mut up, mut down) = (flat.clone(), flat.clone());
            up[k] += h;
            down[k] -= h;
            numeric.push((primal(&x.unflatten(&up)) - primal(&x.unflatten(&down))) / (2.0 * h));
        }
        if numeric.len() != got.len() || got.iter().zip(&numeric).any(|(g, n)| !close(*g, *n, 1e-6))
        {
            return Err(format!("gradient {got:?}, central differences {numeric:?}"));
        }
    }
    Ok(())
}

/// One case: its name and its check.
struct Case {
    name: &'static str,
    run: Box<dyn Fn() -> Outcome>,
}

/// `f64 -> f64` at `x`, right gradient `want` (`fd` adds central differences).
macro_rules! s {
    ($f:ident, $x:expr, $want:expr) => {
        Case {
            name: stringify!($f),
            run: Box::new(move || {
                check(
                    &|x: &f64| $f(*x),
                    &|x: &f64| $f::grad(*x),
                    $x,
                    Some(vec![$want]),
                    true,
                )
            }),
        }
    };
    ($f:ident, $x:expr, $want:expr, nofd) => {
        Case {
            name: stringify!($f),
            run: Box::new(move || {
                check(
                    &|x: &f64| $f(*x),
                    &|x: &f64| $f::grad(*x),
                    $x,
                    Some(vec![$want]),
                    false,
                )
            }),
        }
    };
}

/// `(f64, f64) -> f64` at `(x, y)`, right gradient `(wx, wy)`.
macro_rules! s2 {
    ($f:ident, ($x:expr, $y:expr), ($wx:expr, $wy:expr)) => {
        Case {
            name: stringify!($f),
            run: Box::new(move || {
                check(
                    &|p: &(f64, f64)| $f(p.0, p.1),
                    &|p: &(f64, f64)| $f::grad(p.0, p.1),
                    ($x, $y),
                    Some(vec![$wx, $wy]),
                    true,
                )
            }),
        }
    };
}

/// `&[f64] -> f64` at `xs`, right gradient `want`.
macro_rules! sl {
    ($f:ident, $xs:expr, $want:expr) => {
        Case {
            name: stringify!($f),
            run: Box::new(move || {
                check(
                    &|x: &Vec<f64>| $f(x),
                    &|x: &Vec<f64>| $f::grad(x),
                    $xs.to_vec(),
                    Some($want.to_vec()),
                    true,
                )
            }),
        }
    };
}

/// `&Tensor -> f64` at `x`, right gradient `want` (flattened).
macro_rules! ten {
    ($f:ident, $x:expr, $want:expr, $fd:expr) => {
        Case {
            name: stringify!($f),
            run: Box::new(move || {
                check(
                    &|x: &Tensor| $f(x),
                    &|x: &Tensor| $f::grad(x),
                    $x,
                    Some($want.to_vec()),
                    $fd,
                )
            }),
        }
    };
}

fn cases() -> Vec<Case> {
    let (x, y) = (X, Y);
    let sig = |t: f64| 1.0 / (1.0 + (-t).exp());
    vec![
        s!(lit_float, X, 2.0),
        s!(lit_forms, X, 2.0 + 0.1 + 1000.0 + 3.0),
        s!(path_consts, X, std::f64::consts::PI + f64::EPSILON.sqrt()),
        s!(local_const_item, X, 1.5),
        s!(static_item, X, 2.5),
        s!(paren, X, 2.0 * x),
        s!(unary_neg, X, 2.0 * x),
        s!(unary_not, X, 3.0),
        s!(binary_all_arith, X, 1.0 + 2.0 * x - 0.5),
        s!(const_over_active, X, -1.0 / (x * x)),
        s!(compound_assignments, X, 1.5 * x),
        s!(compound_div_by_active, X, -2.0 / (x * x)),
        s!(rem_inactive, X, 1.0),
        s!(bitops_inactive, X, 3.0 + 8.0 + 4.0),
        s!(comparison_as_value, X, 2.0),
        s!(and_or_pure, X, 2.0 * x),
        s!(and_with_side_effect, X, 2.0),
        s!(or_with_side_effect, X, 3.0),
        s!(assign_in_if_condition, X, 2.0),
        s!(assign_in_while_condition, X, 3.375),
        s!(block_value, X, 4.0 * (2.0 * x + 1.0)),
        s!(nested_blocks, X, 3.0),
        s!(block_shadow_does_not_leak, X, 2.0),
        s!(block_statement_with_attribute, X, 2.0),
        s!(if_value, X, 2.0 * x),
        s!(else_if_chain, X, 4.0),
        s!(if_statement, X, 3.0),
        s!(if_let_inactive, X, 2.0),
        s!(let_chain, X, 2.0),
        s!(match_int, X, 3.0),
        s!(match_guard, X, 2.0),
        s!(match_binds_active, X, 2.0),
        s!(match_binds_active_guard, X, 2.0 * x),
        s!(match_tuple_scrutinee, X, 5.0),
        s!(match_or, X, 2.0),
        s!(match_range, X, 7.0),
        s!(match_path, X, 2.0),
        s!(match_tuple_struct, X, 3.0),
        s!(match_struct_pattern, X, 4.0),
        s!(match_ref_pattern, X, 2.0),
        s!(match_slice_pattern, X, 2.0),
        s!(match_str, X, 2.0),
        s!(match_at_binding, X, 4.0),
        s!(match_macro_pattern, X, 2.0),
        s!(match_bool_value, X, 8.0 * x),
        s!(match_partial_cmp, X, 2.0),
        s!(for_range, X, 4.0 * x.powi(3)),
        s!(for_range_inclusive, X, 4.0),
        s!(for_rev, X, 4.0 * x.powi(3) + 4.0 * x + 1.0),
        s!(for_step_by, X, 7.0),
        s!(for_array_of_consts, X, 10.0),
        s!(for_over_inactive_vec, X, 2.0),
        s!(for_enumerate_inactive, X, 3.0),
        sl!(for_index_slice, XS, XS.map(|v| 2.0 * v)),
        sl!(for_ref_pattern_over_active_slice, XS, XS.map(|v| 2.0 * v)),
        sl!(for_iter_over_active_slice, XS, XS.map(|v| 2.0 * v)),
        sl!(for_copied_over_active_slice, XS, XS.map(|v| 2.0 * v)),
        sl!(for_enumerate_over_active_slice, XS, [0.0, 1.0, 2.0]),
        sl!(for_zip_over_active_slice, XS, XS.map(|v| 2.0 * v)),
        s!(while_data_dependent, X, 8.0),
        s!(while_let_inactive, X, 4.0 * x.powi(3) + 6.0 * x + 2.0),
        s!(loop_break, X, 3.375),
        s!(loop_continue, X, 3.0 * x * x),
        s!(labeled_break_nested, X, 9.0),
        s!(labeled_continue, X, 6.0),
        s!(break_inside_if_condition, 0.5, 1.0),
        s!(range_value_loop, X, 3.0),
        s!(range_sum_inactive, X, 6.0),
        s!(early_return, X, 3.0),
        s!(return_in_loop, X, 2.0 * 1.331 * x),
        s!(return_at_end, X, 2.0),
        s!(call_helper, X, 2.0 * x),
        s!(call_helper_tuple, X, 2.0 + 2.0 * x),
        s!(call_two_args, X, 5.0),
        s!(call_nested, X, 4.0 * x.powi(3)),
        s!(call_by_ref, X, 3.0),
        sl!(call_slice_helper, XS, [2.0, 4.0, 6.0]),
        // s = x·x, then (x²)², then x⁴·x: x⁵.
        s!(call_in_loop_and_branch, X, 5.0 * x.powi(4)),
        s!(crate_path_call, X, 2.0 * x),
        s!(path_method_sin, X, x.cos()),
        s!(path_method_max, X, 1.0 + 3.0 * x * x),
        s!(call_inactive_fn, X, 9.0 + 8.0 + 2.0),
        s!(nested_fn_inactive, X, 9.0),
        s!(stop_gradient_call, X, x + 2.0 * x, nofd),
        s!(detach_method, X, x, nofd),
        s!(
            method_trig,
            X,
            x.cos() - x.sin() + 1.0 / (x.cos() * x.cos()) + 1.0 - x.tanh().powi(2)
        ),
        s!(
            method_exp_ln,
            X,
            x.exp() + 1.0 / x + 0.5 / x.sqrt() - 1.0 / (x * x)
        ),
        s!(method_abs_negative, X, -1.0),
        s!(method_relu_sigmoid, X, 1.0 + sig(x) * (1.0 - sig(x))),
        s!(
            method_powers,
            X,
            3.0 * x * x
                + 2.5 * x.powf(1.5)
                + 2.0f64.powf(x) * 2.0f64.ln()
                + x.powf(x) * (x.ln() + 1.0)
        ),
        s2!(method_max_min, (X, Y), (2.0, 3.0)),
        // A tie of max splits the gradient in half (README, PyTorch): ½ + ½.
        s!(method_max_tie, X, 1.0),
        s!(method_clone, X, 2.0 * x),
        s!(
            method_chain,
            X,
            -(x.sin().cos().exp()) * x.sin().sin() * x.cos()
        ),
        s!(clamp_by_min_max, X, 0.0 + 1.0),
        s!(inactive_methods, X, 2.0 + 3.0 + 2.0 + 2.0 + 1.0),
        // The length of "0.7"; a step of 1e-6 changes it: no central differences.
        s!(to_string_len, X, 3.0, nofd),
        s!(signum_times_x, X, 1.0),
        sl!(to_vec_drops, XS, [2.0, 0.0, 0.0]),
        s!(cast_f64, X, 2.0),
        // The f32 rounding is piecewise constant: its derivative is 1 (a.e.).
        s!(cast_through_int, 0.75, 7.0),
        s!(bool_cast, X, 1.0),
        s!(reference_deref, X, 2.0),
        s!(double_reference, X, 2.0),
        s!(reference_method, X, x.cos()),
        s!(ref_times, X, 2.0),
        s!(raw_addr_inactive, X, 2.0),
        s!(tuple_let, X, 4.0 * x),
        Case {
            name: "tuple_output",
            run: Box::new(move || {
                let g = tuple_output::vjp(X).1((1.0, 1.0));
                if close(g, 2.0 + 2.0 * X, 1e-12) {
                    Ok(())
                } else {
                    Err(format!("{g}"))
                }
            }),
        },
        s!(shadowing, X, 8.0 * x),
        s!(shadow_in_loop, X, 4.0),
        s!(shadow_with_other_type, X, 3.0),
        s!(let_uninit_then_assign, X, 4.0 * x),
        s!(let_type, X, 3.0),
        s!(let_wild, X, 2.0),
        s!(let_mut, X, 2.0 * x),
        s!(assign_reassign, X, 4.0),
        s!(let_with_attribute, X, 2.0),
        s!(let_paren_pattern, X, 2.0),
        s!(mut_param, X, 2.0),
        s!(array_inactive_indexed, X, 2.0),
        s!(repeat_inactive, X, 0.5),
        s!(assign_into_inactive_element, X, 2.0),
        s!(assign_into_inactive_field, X, 4.0),
        s!(field_of_inactive_struct, X, 5.0),
        s!(local_struct_impl, X, 2.0),
        s!(local_use, X, std::f64::consts::E),
        s!(const_block, X, 3.0),
        s!(async_block_inactive, X, 2.0),
        s!(await_inside_inactive_async, X, 2.0),
        s!(closure_inactive, X, 6.0),
        s!(closure_in_iterator_inactive, X, 6.0),
        s!(macro_statements, X, 2.0),
        s!(macro_vec_inactive, X, 3.0),
        s!(index_macro_vec, X, 2.0),
        s!(macro_format_inactive, X, 3.0, nofd),
        // The primal must compute (x + 1)·2 as rustc does without the attribute.
        Case {
            name: "group_from_macro_rules_expr",
            run: Box::new(move || {
                let (primal, value) = (
                    group_from_macro_rules_expr(X),
                    group_from_macro_rules_expr::vjp(X).0,
                );
                if primal != 2.0 * (X + 1.0) || value != primal {
                    return Err(format!(
                        "primal {primal}, vjp value {value}, right value {}",
                        2.0 * (X + 1.0)
                    ));
                }
                check(
                    &|x: &f64| group_from_macro_rules_expr(*x),
                    &|x: &f64| group_from_macro_rules_expr::grad(*x),
                    X,
                    Some(vec![2.0]),
                    true,
                )
            }),
        },
        sl!(index_slice, XS, [XS[1], XS[0], 1.0]),
        sl!(index_computed, XS, [0.0, 1.0, 3.0]),
        Case {
            name: "index_vec_param",
            run: Box::new(move || {
                check(
                    &|v: &Vec<f64>| index_vec_param(v.clone()),
                    &|v: &Vec<f64>| index_vec_param::grad(v.clone()),
                    XS.to_vec(),
                    Some(vec![XS[1], XS[0], 0.0]),
                    true,
                )
            }),
        },
        sl!(len_of_active, XS, [3.0, 1.0, 0.0]),
        Case {
            name: "ref_param",
            run: Box::new(move || {
                check(
                    &|x: &f64| ref_param(x),
                    &|x: &f64| ref_param::grad(x),
                    X,
                    Some(vec![2.0]),
                    true,
                )
            }),
        },
        Case {
            name: "no_grad_param",
            run: Box::new(move || {
                check(
                    &|x: &f64| no_grad_param(*x, 3.0),
                    &|x: &f64| no_grad_param::grad(*x, 3.0),
                    X,
                    Some(vec![3.0]),
                    true,
                )
            }),
        },
        s2!(attribute_on_param, (X, Y), (2.0, 0.0)),
        sl!(lifetime_param, XS, [2.0, 0.0, 0.0]),
        s!(type_alias_param, X, 2.0),
        s!(where_clause, X, 2.0),
        ten!(tensor_sum, Tensor::from(XS), [2.0, 2.0, 2.0], true),
        ten!(tensor_at, Tensor::from(XS), [3.0, 3.0, 0.0], true),
        ten!(tensor_item_drops, Tensor::from(XS), [2.0, 2.0, 2.0], true),
        // x ≥ t takes the first branch: y's cotangent is exactly zero, and a
        // zero cotangent contributes zero whatever 1/t is (the strong zero).
        Case {
            name: "strong_zero_division",
            run: Box::new(move || {
                let g = strong_zero_division::grad(1.0, 0.0);
                if g == 1.0 {
                    Ok(())
                } else {
                    Err(format!("gradient {g}, right value 1"))
                }
            }),
        },
        s!(strong_zero_sqrt, 0.0, 0.0, nofd),
        ten!(
            strong_zero_row_norms,
            Tensor::from([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]),
            [1.0 / 5f64.sqrt(), 2.0 / 5f64.sqrt(), 0.0, 0.0, 0.0, 0.0],
            false
        ),
        s!(block_in_if_condition_inactive, X, 1.0),
        s!(if_let_as_value, X, 6.0),
        s!(match_in_arithmetic, X, 3.0),
        s!(if_as_call_argument, X, 2.0 * x),
        s!(block_as_receiver, X, 2.0 * (2.0 * x).cos()),
        s!(return_inside_block_value, X, 5.0),
        // s = x + x², then (x + x²)·x.
        s!(compound_with_if_value, X, 2.0 * x + 3.0 * x * x),
        // x, then x·x, then x² + x.
        s!(assign_match_value, X, 2.0 * x + 1.0),
        s!(shadow_in_match_arm, X, 8.0 * x),
        // k = 1 and 3 multiply: x³.
        s!(break_in_match_arm, X, 3.0 * x * x),
        // six steps of ·1.5, then ·x: 1.5⁶·x².
        s!(return_from_nested_loops, X, 2.0 * 1.5f64.powi(6) * x),
        s!(while_with_break_and_counter, X, 9.0),
        sl!(
            loop_local_let_reads_slice,
            XS,
            [
                XS.iter().map(|v| v * v).sum::<f64>() + 2.0 * XS[0] * XS[0],
                2.0 * XS[1] * XS[0],
                2.0 * XS[2] * XS[0]
            ]
        ),
        // (2x)² + x² + (x/2)²
        s!(
            loop_local_let_of_reassigned_param,
            X,
            2.0 * (4.0 + 1.0 + 0.25) * x
        ),
        // x² + 4x²
        s!(loop_local_shadowing, X, 10.0 * x),
        Case {
            name: "reassign_in_both_branches_in_loop",
            run: Box::new(move || {
                check(
                    &|p: &(f64, f64)| reassign_in_both_branches_in_loop(p.0, p.1),
                    &|p: &(f64, f64)| reassign_in_both_branches_in_loop::grad(p.0, p.1),
                    (X, Y),
                    None,
                    true,
                )
            }),
        },
        // a, b after 3 steps: a = 2y, b = 2x·2 … : (y, 2x) → (2x, 2y) → (2y, 4x).
        s2!(swap_through_temporary, (X, Y), (4.0, 20.0)),
        s!(powi_negative_and_zero, X, -2.0 / x.powi(3) + 1.0),
        s!(
            many_uses_of_one_value,
            X,
            (2.0 * x.sin()
                + x.sin().exp()
                + (1.0 - x.sin().powi(2)) / (1.0 + x.sin().powi(2)).powi(2))
                * x.cos()
        ),
        s!(unused_active_value, X, 3.0),
        s!(output_independent_of_input, X, 0.0),
        Case {
            name: "super_path_const",
            run: Box::new(move || {
                let (primal, value) = (super_path_const(X), super_path_const::vjp(X).0);
                if value != primal {
                    return Err(format!("primal {primal}, vjp value {value}"));
                }
                check(
                    &|x: &f64| super_path_const(*x),
                    &|x: &f64| super_path_const::grad(*x),
                    X,
                    Some(vec![1.0]),
                    true,
                )
            }),
        },
        s!(self_path_const, X, 3.0),
        s!(self_path_call, X, 2.0 * x),
        s!(nested_differentiable_fn, X, 3.0),
        Case {
            name: "tuple_param",
            run: Box::new(move || {
                check(
                    &|t: &(f64, f64)| tuple_param(*t),
                    &|t: &(f64, f64)| tuple_param::grad(*t),
                    (X, Y),
                    Some(vec![Y, X]),
                    true,
                )
            }),
        },
        s!(tuple_with_constant_used, X, 2.0),
        s!(break_value_inactive, X, 3.0),
        s!(assign_inside_index, X, 4.0),
        s!(assign_inside_inactive_method_receiver, X, 2.0),
        s!(assign_inside_not, X, 2.0),
        sl!(shadowed_counter_index, XS, XS.map(|v| 2.0 * v)),
        sl!(
            index_then_counter_changes,
            XS,
            [XS[1] * XS[2], XS[0] * XS[2], XS[0] * XS[1]]
        ),
        sl!(index_by_mutable_counter_in_loop, XS, [1.0, 2.0, 3.0]),
        // 2 + 5, then 2x·(5 + 6 + 7)
        s!(inactive_factor_changes, X, 7.0 + 2.0 * x * 18.0),
        s2!(raw_identifiers, (X, Y), (Y, X)),
        s!(attributes_and_visibility, X, 2.0),
        Case {
            name: "vec_ref_param",
            run: Box::new(move || {
                check(
                    &|v: &Vec<f64>| vec_ref_param(v),
                    &|v: &Vec<f64>| vec_ref_param::grad(v),
                    XS.to_vec(),
                    Some(vec![XS[1], XS[0], 0.0]),
                    true,
                )
            }),
        },
        Case {
            name: "vec_to_slice_helper",
            run: Box::new(move || {
                check(
                    &|v: &Vec<f64>| vec_to_slice_helper(v.clone()),
                    &|v: &Vec<f64>| vec_to_slice_helper::grad(v.clone()),
                    XS.to_vec(),
                    Some(vec![1.0, 2.0, 3.0]),
                    true,
                )
            }),
        },
        Case {
            name: "no_grad_slice",
            run: Box::new(move || {
                let ys = [1.0, 2.0, 3.0];
                check(
                    &|v: &Vec<f64>| no_grad_slice(v, &ys),
                    &|v: &Vec<f64>| no_grad_slice::grad(v, &ys),
                    XS.to_vec(),
                    Some(vec![2.0, 0.0, 0.0]),
                    true,
                )
            }),
        },
        s!(match_float_range_active, X, 2.0),
        s!(match_float_literal_active, X, 3.0),
        s!(match_wild_active, X, 2.0),
        s!(cast_to_std_f64, X, 2.0),
        s!(closure_with_return_inactive, X, 6.0),
        s!(match_arm_returns, X, 2.0),
        s!(diverging_branch_value, X, 6.0),
        // x, 2x, 4x²
        s!(self_assignments, X, 8.0 * x),
        s!(alias_before_overwrite, X, 3.0),
        s2!(swap_by_tuple_shadowing, (X, Y), (1.0, 2.0)),
        // (2x², x⁴)
        s!(tuple_of_nested_call, X, 4.0 * x + 4.0 * x.powi(3)),
        s!(const_fn, X, 2.0),
        s!(extern_c_fn, X, 2.0),
    ]
}

/// Cases that are wrong today, with what they give. Each must still fail:
/// when the macro is fixed, remove it from here.
const KNOWN_WRONG: &[(&str, &str)] = &[];

#[test]
fn accepted_cases_give_the_right_gradient() {
    let cases = cases();
    for (name, _) in KNOWN_WRONG {
        assert!(
            cases.iter().any(|c| c.name == *name),
            "KNOWN_WRONG names `{name}`, which is not a case"
        );
    }
    let mut wrong = Vec::new();
    let mut now_right = Vec::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in &cases {
        let outcome = match catch_unwind(AssertUnwindSafe(|| (case.run)())) {
            Ok(outcome) => outcome,
            Err(payload) => Err(format!(
                "panicked: {}",
                payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
            )),
        };
        let known = KNOWN_WRONG.iter().any(|(n, _)| *n == case.name);
        match (outcome, known) {
            (Ok(()), true) => now_right.push(case.name),
            (Err(e), false) => wrong.push(format!("{}: {e}", case.name)),
            _ => {}
        }
    }
    std::panic::set_hook(hook);
    eprintln!(
        "{} cases: {} right, {} known wrong",
        cases.len(),
        cases.len() - KNOWN_WRONG.len(),
        KNOWN_WRONG.len()
    );
    assert!(
        wrong.is_empty() && now_right.is_empty(),
        "\nwrong gradients ({}):\n  {}\nnow pass, remove them from KNOWN_WRONG ({}):\n  {}\n",
        wrong.len(),
        wrong.join("\n  "),
        now_right.len(),
        now_right.join("\n  ")
    );
}
