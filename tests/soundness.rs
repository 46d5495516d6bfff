//! Forms that once compiled into a wrong gradient, a panic, a NaN or code
//! that did not type-check: each now gives the right value (analytic, and
//! central differences for the loops). Values at x = 0.7 and
//! xs = [0.3, −0.5, 0.8] unless stated.

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};
use autodiff::prelude::*;

const XS: [f64; 3] = [0.3, -0.5, 0.8];

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

/// The gradient of a slice function against central differences.
fn check_slice(f: impl Fn(&[f64]) -> f64, vjp: impl Fn(&[f64], f64) -> Vec<f64>, at: &[f64]) {
    check_vjp_with(
        GradCheckConfig::default().directions(4).seed(11),
        |x: &Vec<f64>| f(x),
        |x: &Vec<f64>, v: f64| vjp(x, v),
        &at.to_vec(),
    )
    .unwrap();
}

// ---------------------------------------------------------------- 1. iteration over an active slice

#[differentiable]
fn sum_sq_pattern(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for &v in xs {
        s = s + v * v;
    }
    s
}

#[differentiable]
fn sum_sq_iter(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in xs.iter() {
        s = s + v * v;
    }
    s
}

#[differentiable]
fn sum_sq_copied(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in xs.iter().copied() {
        s += v * v;
    }
    s
}

#[differentiable]
fn weighted_enumerate(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for (i, v) in xs.iter().enumerate() {
        s += (i as f64 + 1.0) * v * v;
    }
    s
}

#[differentiable]
fn dot_zip(xs: &[f64], ys: &[f64]) -> f64 {
    let mut s = 0.0;
    for (a, b) in xs.iter().zip(ys.iter()) {
        s += a * b;
    }
    s
}

#[differentiable]
fn horner_rev(xs: &[f64], t: f64) -> f64 {
    let mut s = 0.0;
    for &c in xs.iter().rev() {
        s = s * t + c;
    }
    s
}

#[test]
fn iteration_over_an_active_slice() {
    let right = [0.6, -1.0, 1.6];
    close(&sum_sq_pattern::grad(&XS), &right);
    close(&sum_sq_iter::grad(&XS), &right);
    close(&sum_sq_copied::grad(&XS), &right);
    close(&weighted_enumerate::grad(&XS), &[0.6, -2.0, 4.8]);
    let ys = [2.0, 3.0, -1.0];
    let (dx, dy) = dot_zip::grad(&XS, &ys);
    close(&dx, &ys);
    close(&dy, &XS);
    // s = c0 t² + c1 t + c2 (xs reversed is Horner from the last coefficient).
    let (dc, dt) = horner_rev::grad(&XS, 0.7);
    close(&dc, &[1.0, 0.7, 0.49]);
    close(&[dt], &[2.0 * 0.8 * 0.7 - 0.5]);
    check_slice(
        weighted_enumerate,
        |x, v| weighted_enumerate::vjp(x).1(v),
        &XS,
    );
}

// ---------------------------------------------------------------- 2. pattern bindings

#[differentiable]
fn match_binding(x: f64) -> f64 {
    match x {
        v => v * 2.0,
    }
}

#[differentiable]
fn match_binding_guard(x: f64) -> f64 {
    match x * 3.0 {
        v if v > 1.0 => v * v,
        v => -v,
    }
}

#[test]
fn match_name_patterns_carry_the_gradient() {
    assert_eq!(match_binding::grad(0.7), 2.0);
    // 9x² above x = 1/3, −3x below.
    assert!((match_binding_guard::grad(0.7) - 18.0 * 0.7).abs() < 1e-12);
    assert_eq!(match_binding_guard::grad(0.2), -3.0);
}

// ---------------------------------------------------------------- 3. methods that dropped the gradient

#[differentiable]
fn item_of(t: &Tensor) -> f64 {
    t.sum_dim(0).item() * 2.0
}

// ---------------------------------------------------------------- 4./5. effects inside conditions

#[differentiable]
fn assign_in_condition(x: f64) -> f64 {
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
fn assign_right_of_and(x: f64) -> f64 {
    let mut s = x;
    if x > 0.0 && {
        s = s * 3.0;
        true
    } {
        s
    } else {
        s * 5.0
    }
}

#[differentiable]
fn assign_right_of_or(x: f64) -> f64 {
    let mut s = x;
    if x > 0.0 || {
        s = s * 3.0;
        false
    } {
        s
    } else {
        s * 5.0
    }
}

#[differentiable]
fn assign_in_while_condition(x: f64) -> f64 {
    let mut s = x;
    let mut n = 0;
    while {
        s = s * 1.5;
        n += 1;
        n < 4
    } {
        s = s + x;
    }
    s
}

#[differentiable]
fn break_in_condition(x: f64) -> f64 {
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

#[test]
fn assignments_and_exits_inside_conditions() {
    assert_eq!(assign_in_condition::grad(0.7), 2.0);
    assert_eq!(assign_right_of_and::grad(0.7), 3.0);
    assert_eq!(assign_right_of_and::grad(-0.7), 5.0);
    assert_eq!(assign_right_of_or::grad(0.7), 1.0);
    assert_eq!(assign_right_of_or::grad(-0.7), 15.0);
    // s₀ = x; three times s ← 1.5 s + x; then once more s ← 1.5 s.
    // ds/dx: 1 → 2.5 → 4.75 → 8.125, × 1.5 = 12.1875.
    assert_eq!(assign_in_while_condition::grad(0.7), 12.1875);
    assert_eq!(break_in_condition::grad(0.5), 1.0);
}

// ---------------------------------------------------------------- 6. tuples

#[differentiable]
fn tuple_let(x: f64) -> f64 {
    let (p, q) = (x, 2.0);
    p * q
}

#[differentiable]
fn tuple_let_typed_and_swapped(x: f64, y: f64) -> f64 {
    let (x, y): (f64, f64) = (y, x * 3.0);
    x * y
}

#[differentiable]
fn destructuring_assignment(a: f64, b: f64) -> f64 {
    let (mut a, mut b) = (a, b);
    for _ in 0..2 {
        (a, b) = (a * b, a + b);
    }
    a + b
}

#[test]
fn tuples_destructured_into_names() {
    assert_eq!(tuple_let::grad(0.7), 2.0);
    // 3xy: d/dx = 3y, d/dy = 3x.
    let (dx, dy) = tuple_let_typed_and_swapped::grad(0.7, 2.0);
    close(&[dx, dy], &[6.0, 2.1]);
    check_vjp_with(
        GradCheckConfig::default().directions(4).seed(3),
        |(a, b): &(f64, f64)| destructuring_assignment(*a, *b),
        |(a, b): &(f64, f64), v: f64| destructuring_assignment::vjp(*a, *b).1(v),
        &(0.7, -0.4),
    )
    .unwrap();
}

// ---------------------------------------------------------------- 7. sub-slices

#[differentiable]
fn sub_slice(xs: &[f64]) -> f64 {
    let t = &xs[1..];
    t[0] * 2.0
}

#[differentiable]
fn head_sum(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in xs.iter() {
        s += v * v;
    }
    s
}

#[differentiable]
fn sub_slices_to_a_helper(xs: &[f64]) -> f64 {
    head_sum(&xs[..2]) + 10.0 * head_sum(&xs[1..=2])
}

#[test]
fn sub_slices_of_active_slices() {
    close(&sub_slice::grad(&XS), &[0.0, 2.0, 0.0]);
    // 2x₀, 2x₁ + 20 x₁, 20 x₂
    close(&sub_slices_to_a_helper::grad(&XS), &[0.6, -11.0, 16.0]);
}

// ---------------------------------------------------------------- 8. paths and parameters

#[differentiable]
fn from_f64(x: f64) -> f64 {
    f64::from(x) * 2.0
}

#[differentiable]
fn qualified_sin(x: f64) -> f64 {
    <f64>::sin(x) + f64::cos(x)
}

#[differentiable]
fn mut_slice_parameter(x: f64, scratch: &mut [f64]) -> f64 {
    scratch[0] = 1.0;
    x * scratch[0] * 3.0
}

#[differentiable]
fn unused_parameter(x: f64, _: f64) -> f64 {
    x * x
}

#[differentiable]
#[allow(unused_unsafe)]
fn unsafe_constant(x: f64) -> f64 {
    let c = unsafe { 3.0 };
    x * c
}

#[test]
fn paths_and_parameters() {
    assert_eq!(from_f64::grad(0.7), 2.0);
    assert!((qualified_sin::grad(0.7) - (0.7f64.cos() - 0.7f64.sin())).abs() < 1e-15);
    let mut scratch = [0.0; 2];
    // scratch[0] is overwritten before it is read: its entry value has no gradient.
    assert_eq!(
        mut_slice_parameter::grad(0.7, &mut scratch),
        (3.0, vec![0.0, 0.0])
    );
    assert_eq!(scratch, [1.0, 0.0], "the write reaches the caller");
    assert_eq!(unused_parameter::grad(0.7, 1.0), (1.4, 0.0));
    assert_eq!(unsafe_constant::grad(0.7), 3.0);
}

// ---------------------------------------------------------------- NaN where the answer is a number

#[differentiable]
fn untaken_division(x: f64, #[no_grad] t: f64) -> f64 {
    let y = x / t;
    if x >= t { x } else { y }
}

#[differentiable]
fn untaken_sqrt(x: f64) -> f64 {
    let r = x.sqrt();
    if r > 0.5 { r } else { 1.0 }
}

#[test]
fn a_zero_cotangent_contributes_zero() {
    assert_eq!(untaken_division::grad(1.0, 0.0), 1.0);
    assert_eq!(untaken_sqrt::grad(0.0), 0.0);
    // PyTorch agrees for the division, through the graph layer too.
    let x = Var::leaf(1.0);
    let y = &x / &Var::new(0.0);
    let _unused = y;
    let out = x.clone() * 1.0;
    out.backward();
    assert_eq!(x.grad().unwrap().item(), 1.0);
}

#[test]
fn item_carries_the_gradient() {
    let t = Tensor::from(vec![1.0, 2.0]);
    assert_eq!(item_of::grad(&t).to_vec(), vec![2.0, 2.0]);
}

#[differentiable]
fn pair_of(x: f64) -> (f64, f64) {
    (x, x * 2.0)
}

#[differentiable]
fn nested_tuple_let(x: f64) -> f64 {
    let ((a, b), c) = (pair_of(x), x);
    a * b * c
}

#[differentiable]
fn tuple_from_branches(x: f64) -> f64 {
    let (p, q) = if x > 0.0 { (x, 1.0) } else { (1.0, x) };
    p * q * 3.0
}

#[differentiable]
fn tuple_through_a_name(x: f64) -> f64 {
    let t = (x, 2.0);
    let (a, b) = t;
    a * b
}

#[test]
fn nested_and_named_tuples() {
    // 2x³
    close(&[nested_tuple_let::grad(0.7)], &[6.0 * 0.49]);
    assert_eq!(tuple_from_branches::grad(0.7), 3.0);
    assert_eq!(tuple_from_branches::grad(-0.7), 3.0);
    assert_eq!(tuple_through_a_name::grad(0.7), 2.0);
}

// ---------------------------------------------------------------- labeled blocks, let-else

#[differentiable]
fn labeled_block(x: f64) -> f64 {
    let mut y = x;
    'done: {
        if y > 1.0 {
            break 'done;
        }
        y = y * 2.0;
    }
    let k = 'b: {
        if x > 0.0 {
            break 'b y * 3.0;
        }
        2.0
    };
    y * k
}

#[differentiable]
fn let_else_inactive(x: f64, k: Option<f64>) -> f64 {
    let Some(k) = k else { return 1.0 };
    x * k
}

#[differentiable]
fn let_else_returning_active(x: f64, k: Option<f64>) -> f64 {
    let Some(k) = k else { return x };
    x * k
}

#[test]
fn labeled_blocks_and_let_else() {
    assert_eq!(let_else_returning_active::grad(0.7, None), 1.0);
    assert_eq!(let_else_returning_active::grad(0.7, Some(4.0)), 4.0);
    // x = 0.7: y = 2x = 1.4, k = 3y: f = 3y² = 12x² → 24x
    close(&[labeled_block::grad(0.7)], &[24.0 * 0.7]);
    // x = 1.5: y = x, k = 3y: f = 3x² → 6x
    close(&[labeled_block::grad(1.5)], &[9.0]);
    // x = −0.5: y = 2x, k = 2: f = 4x → 4
    close(&[labeled_block::grad(-0.5)], &[4.0]);
    assert_eq!(let_else_inactive::grad(0.7, Some(3.0)), 3.0);
}

// ---------------------------------------------------------------- casts

type Real64 = f64;

#[differentiable]
fn cast_to_std_f64(x: f64) -> f64 {
    (x as std::primitive::f64) * 2.0
}

#[differentiable]
fn cast_to_alias_inactive(x: f64, n: usize) -> f64 {
    x * (n as Real64)
}

#[test]
fn casts() {
    assert_eq!(cast_to_std_f64::grad(0.7), 2.0);
    assert_eq!(cast_to_alias_inactive::grad(0.7, 3), 3.0);
}

// ------------------------------------- a tuple from an inactive call, reassigned

fn two_constants(a: f64) -> (f64, f64) {
    (a.sin(), a.cos())
}

/// The tuple's elements start inactive (the call's argument is a constant);
/// one of them becomes active in the loop. Its reverse clears only that
/// element's cotangent (it once emitted an untyped `zero()` for the other,
/// a compile error; fuzz program 0x50f864479cf64fde and four more).
#[differentiable]
fn tuple_from_inactive_call(xs: &[f64]) -> f64 {
    let (t4, mut t5) = two_constants(0.74);
    for k in 0..xs.len() {
        t5 = (t5 + xs[k]).tanh();
    }
    t5 + t4
}

#[test]
fn tuple_from_inactive_call_reassigned_in_a_loop() {
    check_slice(
        tuple_from_inactive_call,
        |xs, ct| {
            let (_, pullback) = tuple_from_inactive_call::vjp(xs);
            pullback(ct)
        },
        &[0.1, 0.2, -0.4],
    );
}

// ------------------------------------------- pushing onto a copy of an input

/// The elements pushed onto a copy of `x` are not `x`'s: its gradient keeps
/// `x`'s length (it once came back one element longer).
#[differentiable]
fn push_onto_copy(x: &[f64]) -> f64 {
    let mut y = x.to_vec();
    y.push(x[0] * 3.0);
    y[0] * y[1] + y[2] * y[2]
}

#[differentiable]
fn push_onto_owned(mut x: Vec<f64>) -> f64 {
    x.push(2.0);
    x[0] * x[2]
}

#[test]
fn pushing_onto_a_copy_keeps_the_input_gradient_length() {
    // f = x₀x₁ + 9x₀²: (x₁ + 18x₀, x₀)
    close(&push_onto_copy::grad(&[1.0, 2.0]), &[20.0, 1.0]);
    check_slice(
        push_onto_copy,
        |xs, ct| {
            let (_, pullback) = push_onto_copy::vjp(xs);
            pullback(ct)
        },
        &[0.3, -1.2],
    );
    close(&push_onto_owned::grad(vec![1.0, 2.0]), &[2.0, 0.0]);
}

// ------------------------------------------- neighbours read under a guard

/// `x[i - 1]` read only where `i > 0`: the reverse adds its gradient only
/// where the read ran (it once evaluated `i - 1` at `i = 0`: a panic).
#[differentiable]
fn left_neighbour_in_branch(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if i > 0 {
            s += x[i] * x[i - 1];
        }
    }
    s
}

/// The same the other way: `x[i + 1]` under `if i + 1 < n`.
#[differentiable]
fn right_neighbour_in_branch(x: &[f64]) -> f64 {
    let mut s = 0.0;
    let n = x.len();
    for i in 0..n {
        if i + 1 < n {
            s += x[i] * x[i + 1];
        }
    }
    s
}

#[test]
fn guarded_neighbour_reads() {
    let x = [0.3, -1.2, 0.8, 2.0];
    // ∂/∂x_k Σ x_i x_{i−1} = x_{k−1} + x_{k+1} (where they exist)
    let want = [-1.2, 0.3 + 0.8, -1.2 + 2.0, 0.8];
    close(&left_neighbour_in_branch::grad(&x), &want);
    close(&right_neighbour_in_branch::grad(&x), &want);
}
