//! Every derivative rule of the runtime contract, checked against central
//! differences with the gradient checker on seeded random inputs, for `f64`,
//! `Tensor`, and mixes with broadcasting.

use autodiff_runtime::__private::{self as rt, rules};
use autodiff_runtime::Tensor;
use autodiff_runtime::gradcheck::{Flat, GradCheckConfig, check_vjp_with};
use autodiff_runtime::{Cotangent, Differentiable};

/// Runs the checker in 6 directions; panics with the checker's message and
/// the name of the case.
fn check<X, Y>(name: &str, f: impl Fn(&X) -> Y, vjp: impl Fn(&X, Y) -> X, x: &X)
where
    X: Flat + Differentiable<Tangent = X>,
    Y: Flat + Differentiable<Tangent = Y>,
{
    let config = GradCheckConfig::default()
        .directions(6)
        .seed(name.len() as u64);
    if let Err(e) = check_vjp_with(config, f, vjp, x) {
        panic!("{name}: {e}");
    }
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, seed)
}

/// Values in ±[0.5, 2): safe denominators.
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor {
    let signs = Tensor::rand(shape, seed + 1000).map(|u| if u < 0.5 { -1.0 } else { 1.0 });
    Tensor::uniform(shape, 0.5, 2.0, seed) * signs
}

// ---------------------------------------------------------------- binary, all operand mixes

/// Checks `a op b` for one pair of operand types through the four rules.
macro_rules! binary_case {
    ($name:expr, $op:tt, $d0:ident, $d1:ident, $a:expr, $b:expr) => {{
        let a = $a;
        let b = $b;
        check(
            $name,
            |(a, b)| a $op b,
            |(a, b), g| {
                (
                    binary_case!(@d0 $d0, g, a, b),
                    binary_case!(@d1 $d1, g, a, b),
                )
            },
            &(a, b),
        );
    }};
    (@d0 add_d0, $g:ident, $a:ident, $b:ident) => { rules::add_d0(&$g, &rt::meta($a)) };
    (@d1 add_d1, $g:ident, $a:ident, $b:ident) => { rules::add_d1(&$g, &rt::meta($b)) };
    (@d0 sub_d0, $g:ident, $a:ident, $b:ident) => { rules::sub_d0(&$g, &rt::meta($a)) };
    (@d1 sub_d1, $g:ident, $a:ident, $b:ident) => { rules::sub_d1(&$g, &rt::meta($b)) };
    (@d0 mul_d0, $g:ident, $a:ident, $b:ident) => { rules::mul_d0(&$g, &rt::meta($a), $b) };
    (@d1 mul_d1, $g:ident, $a:ident, $b:ident) => { rules::mul_d1(&$g, $a, &rt::meta($b)) };
    (@d0 div_d0, $g:ident, $a:ident, $b:ident) => { rules::div_d0(&$g, &rt::meta($a), $b) };
    (@d1 div_d1, $g:ident, $a:ident, $b:ident) => { rules::div_d1(&$g, $a, $b) };
}

macro_rules! binary_op_tests {
    ($test:ident, $op:tt, $d0:ident, $d1:ident) => {
        #[test]
        fn $test() {
            let t = |shape: &[usize], seed| away_from_zero(shape, seed);
            binary_case!("f64 ∘ f64", $op, $d0, $d1, 0.7, -1.3);
            binary_case!("[2,3] ∘ [2,3]", $op, $d0, $d1, t(&[2, 3], 1), t(&[2, 3], 2));
            binary_case!("[2,3] ∘ [3]", $op, $d0, $d1, t(&[2, 3], 3), t(&[3], 4));
            binary_case!("[2,3] ∘ [2,1]", $op, $d0, $d1, t(&[2, 3], 5), t(&[2, 1], 6));
            binary_case!("[3] ∘ [2,3]", $op, $d0, $d1, t(&[3], 7), t(&[2, 3], 8));
            binary_case!(
                "[2,1] ∘ [1,3]",
                $op,
                $d0,
                $d1,
                t(&[2, 1], 9),
                t(&[1, 3], 10)
            );
            binary_case!(
                "[4,1,3] ∘ [2,1]",
                $op,
                $d0,
                $d1,
                t(&[4, 1, 3], 11),
                t(&[2, 1], 12)
            );
            binary_case!("[] ∘ [4]", $op, $d0, $d1, t(&[], 13), t(&[4], 14));
            binary_case!("f64 ∘ [2,3]", $op, $d0, $d1, 1.7, t(&[2, 3], 15));
            binary_case!("[2,3] ∘ f64", $op, $d0, $d1, t(&[2, 3], 16), -0.9);
            binary_case!("f64 ∘ [1]", $op, $d0, $d1, 0.6, t(&[1], 17));
        }
    };
}

binary_op_tests!(add_rules, +, add_d0, add_d1);
binary_op_tests!(sub_rules, -, sub_d0, sub_d1);
binary_op_tests!(mul_rules, *, mul_d0, mul_d1);
binary_op_tests!(div_rules, /, div_d0, div_d1);

#[test]
fn neg_rule() {
    check("neg f64", |x: &f64| -x, |_, g| rules::neg_d0(&g), &0.3);
    check(
        "neg tensor",
        |x: &Tensor| -x,
        |_, g| rules::neg_d0(&g),
        &randn(&[2, 3], 1),
    );
}

// ---------------------------------------------------------------- elementwise

/// Checks a unary rule on `f64` and on a `[3, 4]` tensor; `$needs` says
/// whether the rule takes the input `x` or the output `y`.
macro_rules! unary_case {
    ($name:literal, $method:ident, $rule:ident, x, $make:expr) => {{
        let t: Tensor = $make;
        check(
            concat!($name, " tensor"),
            |x: &Tensor| x.$method(),
            |x, g| rules::$rule(&g, x),
            &t,
        );
        let s: f64 = t.data()[0];
        check(
            concat!($name, " f64"),
            |x: &f64| x.$method(),
            |x, g| rules::$rule(&g, x),
            &s,
        );
    }};
    ($name:literal, $method:ident, $rule:ident, y, $make:expr) => {{
        let t: Tensor = $make;
        check(
            concat!($name, " tensor"),
            |x: &Tensor| x.$method(),
            |x, g| rules::$rule(&g, &x.$method()),
            &t,
        );
        let s: f64 = t.data()[0];
        check(
            concat!($name, " f64"),
            |x: &f64| x.$method(),
            |x, g| rules::$rule(&g, &x.$method()),
            &s,
        );
    }};
}

#[test]
fn elementwise_rules() {
    use autodiff_runtime::Real;
    let shape = [3, 4];
    unary_case!("sin", sin, sin_d0, x, randn(&shape, 1));
    unary_case!("cos", cos, cos_d0, x, randn(&shape, 2));
    unary_case!("tan", tan, tan_d0, y, Tensor::uniform(&shape, -1.2, 1.2, 3));
    unary_case!("tanh", tanh, tanh_d0, y, randn(&shape, 4));
    unary_case!("exp", exp, exp_d0, y, randn(&shape, 5));
    unary_case!("ln", ln, ln_d0, x, Tensor::uniform(&shape, 0.2, 3.0, 6));
    unary_case!(
        "sqrt",
        sqrt,
        sqrt_d0,
        y,
        Tensor::uniform(&shape, 0.2, 3.0, 7)
    );
    unary_case!("abs", abs, abs_d0, x, away_from_zero(&shape, 8));
    unary_case!("relu", relu, relu_d0, x, away_from_zero(&shape, 9));
    unary_case!("sigmoid", sigmoid, sigmoid_d0, y, randn(&shape, 10) * 3.0);
    unary_case!("recip", recip, recip_d0, y, away_from_zero(&shape, 11));
    // `log` is a tensor method (on f64 it takes a base).
    check(
        "log tensor",
        |x: &Tensor| x.log(),
        |x, g| rules::log_d0(&g, x),
        &Tensor::uniform(&shape, 0.2, 3.0, 12),
    );
}

#[test]
fn abs_and_relu_at_zero_follow_pytorch() {
    assert_eq!(rules::abs_d0(&1.0, &0.0), 0.0);
    assert_eq!(rules::relu_d0(&1.0, &0.0), 0.0);
    let x = Tensor::from([-1.0, 0.0, 2.0]);
    let g = Tensor::ones(&[3]);
    assert_eq!(rules::abs_d0(&g, &x).to_vec(), vec![-1.0, 0.0, 1.0]);
    assert_eq!(rules::relu_d0(&g, &x).to_vec(), vec![0.0, 0.0, 1.0]);
}

#[test]
fn powi_rules() {
    for n in [-2, 0, 1, 2, 3, 5] {
        let t = away_from_zero(&[2, 3], (30 + n) as u64);
        check(
            "powi tensor",
            |x: &Tensor| x.powi(n),
            |x, g| rules::powi_d0(&g, x, &n),
            &t,
        );
        check(
            "powi f64",
            |x: &f64| x.powi(n),
            |x, g| rules::powi_d0(&g, x, &n),
            &t.data()[0],
        );
    }
}

#[test]
fn powf_rules() {
    for p in [-1.5, 0.0, 0.5, 2.0, 3.3] {
        let t = Tensor::uniform(&[2, 3], 0.3, 2.5, 30);
        // Both operands at once: x̄ from powf_d0, p̄ from powf_d1.
        check(
            "powf tensor",
            |(x, p): &(Tensor, f64)| x.powf(*p),
            |(x, p), g| {
                let y = x.powf(*p);
                (rules::powf_d0(&g, x, p), rules::powf_d1(&g, x, &y))
            },
            &(t.clone(), p),
        );
        check(
            "powf f64",
            |(x, p): &(f64, f64)| x.powf(*p),
            |(x, p), g| (rules::powf_d0(&g, x, p), rules::powf_d1(&g, x, &x.powf(*p))),
            &(t.data()[0], p),
        );
    }
    // PyTorch: no exponent gradient through 0^p.
    assert_eq!(rules::powf_d1(&1.0, &0.0, &0.0), 0.0);
}

#[test]
fn maximum_minimum_rules() {
    let a = randn(&[2, 3], 40);
    let b = randn(&[3], 41);
    check(
        "maximum [2,3] [3]",
        |(a, b): &(Tensor, Tensor)| a.maximum(b),
        |(a, b), g| (rules::maximum_d0(&g, a, b), rules::maximum_d1(&g, a, b)),
        &(a.clone(), b.clone()),
    );
    check(
        "minimum [2,3] [3]",
        |(a, b): &(Tensor, Tensor)| a.minimum(b),
        |(a, b), g| (rules::minimum_d0(&g, a, b), rules::minimum_d1(&g, a, b)),
        &(a, b),
    );
    for (a, b) in [(0.3, -0.2), (-1.0, 2.0)] {
        check(
            "max f64",
            |(a, b): &(f64, f64)| a.max(*b),
            |(a, b), g| (rules::max_d0(&g, a, b), rules::max_d1(&g, a, b)),
            &(a, b),
        );
        check(
            "min f64",
            |(a, b): &(f64, f64)| a.min(*b),
            |(a, b), g| (rules::min_d0(&g, a, b), rules::min_d1(&g, a, b)),
            &(a, b),
        );
        check(
            "maximum f64",
            |(a, b): &(f64, f64)| a.max(*b),
            |(a, b), g| (rules::maximum_d0(&g, a, b), rules::maximum_d1(&g, a, b)),
            &(a, b),
        );
    }
}

#[test]
fn ties_split_the_gradient() {
    assert_eq!(rules::max_d0(&1.0, &2.0, &2.0), 0.5);
    assert_eq!(rules::max_d1(&1.0, &2.0, &2.0), 0.5);
    assert_eq!(rules::min_d1(&1.0, &2.0, &2.0), 0.5);
    let a = Tensor::from([1.0, 2.0, 3.0]);
    let b = Tensor::from([2.0, 2.0, 2.0]);
    let g = Tensor::ones(&[3]);
    assert_eq!(rules::maximum_d0(&g, &a, &b).to_vec(), vec![0.0, 0.5, 1.0]);
    assert_eq!(rules::maximum_d1(&g, &a, &b).to_vec(), vec![1.0, 0.5, 0.0]);
    assert_eq!(rules::minimum_d0(&g, &a, &b).to_vec(), vec![1.0, 0.5, 0.0]);
    // x.max() over all elements: ties share evenly.
    let x = Tensor::from([3.0, 1.0, 3.0]);
    assert_eq!(
        rules::max_d0(&1.0, &x, &x.max()).to_vec(),
        vec![0.5, 0.0, 0.5]
    );
    assert_eq!(
        rules::min_d0(&6.0, &x, &x.min()).to_vec(),
        vec![0.0, 6.0, 0.0]
    );
}

// ---------------------------------------------------------------- reductions

#[test]
fn reduction_rules() {
    let x = randn(&[2, 3, 4], 50);
    check(
        "sum",
        |x: &Tensor| x.sum(),
        |x, g| rules::sum_d0(&g, &rt::meta(x)),
        &x,
    );
    check(
        "mean",
        |x: &Tensor| x.mean(),
        |x, g| rules::mean_d0(&g, &rt::meta(x)),
        &x,
    );
    check(
        "max",
        |x: &Tensor| x.max(),
        |x, g| rules::max_d0(&g, x, &x.max()),
        &x,
    );
    check(
        "min",
        |x: &Tensor| x.min(),
        |x, g| rules::min_d0(&g, x, &x.min()),
        &x,
    );
    for d in 0..3 {
        check(
            "sum_dim",
            |x: &Tensor| x.sum_dim(d),
            |x, g| rules::sum_dim_d0(&g, &rt::meta(x), &d),
            &x,
        );
        check(
            "mean_dim",
            |x: &Tensor| x.mean_dim(d),
            |x, g| rules::mean_dim_d0(&g, &rt::meta(x), &d),
            &x,
        );
    }
    let v = randn(&[5], 51);
    check(
        "sum_dim 1-d",
        |x: &Tensor| x.sum_dim(0),
        |x, g| rules::sum_dim_d0(&g, &rt::meta(x), &0),
        &v,
    );
}

// ---------------------------------------------------------------- linear algebra

#[test]
fn dot_and_norm_rules() {
    let a = randn(&[6], 60);
    let b = randn(&[6], 61);
    check(
        "dot",
        |(a, b): &(Tensor, Tensor)| a.dot(b),
        |(a, b), g| (rules::dot_d0(&g, b), rules::dot_d1(&g, a)),
        &(a, b),
    );
    check(
        "norm",
        |x: &Tensor| x.norm(),
        |x, g| rules::norm_d0(&g, x, &x.norm()),
        &randn(&[3, 4], 62),
    );
    let z = Tensor::zeros(&[3]);
    assert_eq!(rules::norm_d0(&1.0, &z, &0.0), Tensor::zeros(&[3]));
}

#[test]
fn matmul_rules_all_shapes() {
    let cases: [(&[usize], &[usize]); 5] = [
        (&[3, 4], &[4, 2]),
        (&[3, 4], &[4]),
        (&[4], &[4, 2]),
        (&[4], &[4]),
        (&[1, 5], &[5, 1]),
    ];
    for (i, (sa, sb)) in cases.into_iter().enumerate() {
        let a = randn(sa, 70 + i as u64);
        let b = randn(sb, 80 + i as u64);
        check(
            "matmul",
            |(a, b): &(Tensor, Tensor)| a.matmul(b),
            |(a, b), g| {
                let (da, db) = (rules::matmul_d0(&g, b), rules::matmul_d1(&g, a));
                assert_eq!((da.shape(), db.shape()), (a.shape(), b.shape()));
                (da, db)
            },
            &(a, b),
        );
    }
}

// ---------------------------------------------------------------- shape ops

#[test]
fn shape_rules() {
    let m = randn(&[3, 4], 90);
    check("t", |x: &Tensor| x.t(), |_, g| rules::t_d0(&g), &m);
    check(
        "transpose",
        |x: &Tensor| x.transpose(),
        |_, g| rules::transpose_d0(&g),
        &m,
    );
    check(
        "reshape",
        |x: &Tensor| x.reshape(&[2, 6]),
        |x, g| rules::reshape_d0(&g, &rt::meta(x)),
        &m,
    );
    let c = randn(&[2, 5, 3], 91);
    for (d, r) in [(0, 1..2), (1, 1..4), (2, 0..2), (1, 2..2)] {
        check(
            "slice",
            |x: &Tensor| x.slice(d, r.clone()),
            |x, g| rules::slice_d0(&g, &rt::meta(x), &d, &r),
            &c,
        );
    }
    check(
        "at",
        |x: &Tensor| x.at(&[1, 2]),
        |x, g| rules::at_d0(&g, &rt::meta(x), &[1, 2]),
        &m,
    );
    check(
        "index",
        |x: &Vec<f64>| x[2] * x[0],
        |x, g| {
            let m = rt::meta(x);
            let mut d = rt::zero();
            rt::acc(&mut d, rules::index_d0(&(g * x[0]), &m, &2usize));
            rt::acc_index(&mut d, &m, &0usize, g * x[2]);
            d
        },
        &vec![0.5, -1.0, 2.0, 3.0],
    );
}

// ---------------------------------------------------------------- softmax family

#[test]
fn softmax_rules() {
    let x = randn(&[3, 4], 100) * 2.0;
    for d in 0..2 {
        check(
            "softmax",
            |x: &Tensor| x.softmax(d),
            |x, g| rules::softmax_d0(&g, &x.softmax(d), &d),
            &x,
        );
        check(
            "log_softmax",
            |x: &Tensor| x.log_softmax(d),
            |x, g| rules::log_softmax_d0(&g, &x.log_softmax(d), &d),
            &x,
        );
        check(
            "logsumexp",
            |x: &Tensor| x.logsumexp(d),
            |x, g| rules::logsumexp_d0(&g, x, &x.logsumexp(d), &d),
            &x,
        );
    }
}

// ---------------------------------------------------------------- symbolic zeros

#[test]
fn tensor_rules_pass_symbolic_zero_through() {
    let x = randn(&[2, 3], 110);
    let z: Tensor = rt::zero();
    assert!(rules::sin_d0(&z, &x).is_symbolic_zero());
    assert!(rules::mul_d0(&z, &rt::meta(&x), &x).is_symbolic_zero());
    assert!(rules::add_d0(&z, &rt::meta(&x)).is_symbolic_zero());
    assert_eq!(rules::add_d0(&z, &rt::meta(&1.0)), 0.0);
    assert_eq!(rules::mul_d1(&z, &x, &rt::meta(&2.0)), 0.0);
    assert!(rules::matmul_d0(&z, &x).is_symbolic_zero());
    assert!(rules::softmax_d0(&z, &x, &0).is_symbolic_zero());
    // and `finish` makes real zeros of the right shape
    assert_eq!(rt::finish(rules::t_d0(&z), &x), Tensor::zeros(&[2, 3]));
}

#[test]
fn a_composite_function_end_to_end() {
    // f(w, b) = mean(log_softmax(x·w + b)) with x fixed: a small classifier.
    let x = randn(&[5, 3], 120);
    let f = |(w, b): &(Tensor, Tensor)| (x.matmul(w) + b).log_softmax(1).mean();
    let vjp = |(w, b): &(Tensor, Tensor), g: f64| {
        let h = x.matmul(w);
        let z = &h + b;
        let y = z.log_softmax(1);
        let d_y = rules::mean_d0(&g, &rt::meta(&y));
        let d_z = rules::log_softmax_d0(&d_y, &y, &1);
        let d_b = rules::add_d1(&d_z, &rt::meta(b));
        let d_h = rules::add_d0(&d_z, &rt::meta(&h));
        let d_w = rules::matmul_d1(&d_h, &x);
        (d_w, d_b)
    };
    check(
        "classifier",
        f,
        vjp,
        &(randn(&[3, 4], 121), randn(&[4], 122)),
    );
}
