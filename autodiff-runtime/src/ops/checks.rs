//! The checks of the table's rows written by hand (`OTHER_ROWS` in
//! `table.rs`): each compares the rules with central differences on `f64`,
//! on tensors and broadcast where the op takes them, runs the graph layer's
//! op where it has one, and checks the strong zero where the row claims it.

use crate::__private::{self as rt, rules};
use crate::graph::Var;
use crate::ops::table::{
    away_from_zero, exactly_zero, exactly_zero_tensor, gradcheck, gradcheck_var, gradcheck_var2,
};
use crate::tensor::Tensor;

type Check = Result<(), String>;

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, seed)
}

fn nz(shape: &[usize], seed: u64) -> Tensor {
    away_from_zero(shape, 0.5, 2.0, seed)
}

/// The operand shapes a broadcasting binary op is checked with.
const BROADCASTS: [(&[usize], &[usize]); 6] = [
    (&[2, 3], &[2, 3]),
    (&[2, 3], &[3]),
    (&[2, 3], &[2, 1]),
    (&[2, 1], &[1, 3]),
    (&[4, 1, 3], &[2, 1]),
    (&[], &[4]),
];

/// Checks `a op b` through its two rules for `f64`, every broadcast of
/// tensors, and both mixes of `f64` and tensors; and the graph layer's op.
macro_rules! binary_check {
    ($name:literal, $op:tt, |$g:ident, $a:ident, $b:ident| ($d0:expr, $d1:expr)) => {{
        gradcheck(
            concat!($name, " f64"),
            |($a, $b): &(f64, f64)| $a $op $b,
            |($a, $b): &(f64, f64), $g: f64| ($d0, $d1),
            &(0.7, -1.3),
        )?;
        for (i, (sa, sb)) in BROADCASTS.into_iter().enumerate() {
            let (a, b) = (nz(sa, 2 * i as u64), nz(sb, 2 * i as u64 + 1));
            gradcheck(
                &format!("{} {sa:?} with {sb:?}", $name),
                |($a, $b): &(Tensor, Tensor)| $a $op $b,
                |($a, $b): &(Tensor, Tensor), $g: Tensor| ($d0, $d1),
                &(a.clone(), b.clone()),
            )?;
            gradcheck_var2($name, |a, b| a $op b, &a, &b)?;
        }
        gradcheck(
            concat!($name, " f64 with tensor"),
            |($a, $b): &(f64, Tensor)| $a $op $b,
            |($a, $b): &(f64, Tensor), $g: Tensor| ($d0, $d1),
            &(1.7, nz(&[2, 3], 20)),
        )?;
        gradcheck(
            concat!($name, " tensor with f64"),
            |($a, $b): &(Tensor, f64)| $a $op $b,
            |($a, $b): &(Tensor, f64), $g: Tensor| ($d0, $d1),
            &(nz(&[2, 3], 21), -0.9),
        )?;
        Ok::<(), String>(())
    }};
}

pub(crate) fn add() -> Check {
    binary_check!("+", +, |g, a, b| (rules::add_d0(&g, &rt::meta(a)), rules::add_d1(&g, &rt::meta(b))))
}

pub(crate) fn sub() -> Check {
    binary_check!("-", -, |g, a, b| (rules::sub_d0(&g, &rt::meta(a)), rules::sub_d1(&g, &rt::meta(b))))
}

pub(crate) fn mul() -> Check {
    binary_check!("*", *, |g, a, b| (rules::mul_d0(&g, &rt::meta(a), b), rules::mul_d1(&g, a, &rt::meta(b))))
}

pub(crate) fn div() -> Check {
    binary_check!("/", /, |g, a, b| (rules::div_d0(&g, &rt::meta(a), b), rules::div_d1(&g, a, b)))?;
    // The strong zero: x / 0 with a zero cotangent passes exactly 0 to both.
    exactly_zero("/", (1.0, 0.0), rules::div_d0(&0.0, &rt::meta(&1.0), &0.0))?;
    exactly_zero("/", (1.0, 0.0), rules::div_d1(&0.0, &1.0, &0.0))?;
    exactly_zero("/", (0.0, 0.0), rules::div_d1(&-0.0, &0.0, &0.0))?;
    let (a, b) = (Tensor::from([1.0, 0.0]), Tensor::from([0.0, 0.0]));
    let g = Tensor::from([0.0, 0.0]);
    exactly_zero_tensor(
        "/",
        "[1, 0] / [0, 0]",
        &rules::div_d0(&g, &rt::meta(&a), &b),
    )?;
    exactly_zero_tensor("/", "[1, 0] / [0, 0]", &rules::div_d1(&g, &a, &b))?;
    exactly_zero_tensor("/", "[1, 0] / 0", &rules::div_d0(&g, &rt::meta(&a), &0.0))?;
    exactly_zero("/", "[1, 0] / 0", rules::div_d1(&g, &a, &0.0))?;
    exactly_zero_tensor("/", "1 / [0, 0]", &rules::div_d1(&g, &1.0, &b))?;
    Ok(())
}

pub(crate) fn neg() -> Check {
    gradcheck("neg f64", |x: &f64| -x, |_, g| rules::neg_d0(&g), &0.3)?;
    gradcheck(
        "neg tensor",
        |x: &Tensor| -x,
        |_, g| rules::neg_d0(&g),
        &randn(&[2, 3], 1),
    )?;
    gradcheck_var("neg", |x| -x, &randn(&[2, 3], 1))
}

pub(crate) fn clone() -> Check {
    // The macro passes the cotangent through (the identity): nothing to call.
    gradcheck(
        "clone",
        |x: &Tensor| x.clone(),
        |_, g| g,
        &randn(&[2, 3], 2),
    )
}

pub(crate) fn powi() -> Check {
    for n in [-3, -2, -1, 0, 1, 2, 3, 5] {
        let x = nz(&[2, 3], (30 + n) as u64);
        gradcheck(
            &format!("powi({n}) tensor"),
            |x: &Tensor| x.powi(n),
            |x, g| rt::finish(rules::powi_d0(&g, x, &n), x),
            &x,
        )?;
        gradcheck(
            &format!("powi({n}) f64"),
            |x: &f64| x.powi(n),
            |x, g| rules::powi_d0(&g, x, &n),
            &x.data()[0],
        )?;
        gradcheck_var(&format!("powi({n})"), |v| v.powi(n), &x)?;
        if n < 0 {
            exactly_zero("powi", (0.0, n), rules::powi_d0(&0.0, &0.0, &n))?;
            let zeros = Tensor::zeros(&[2]);
            exactly_zero_tensor("powi", (0.0, n), &rules::powi_d0(&zeros, &zeros, &n))?;
        }
    }
    Ok(())
}

pub(crate) fn powf() -> Check {
    for p in [-1.5, 0.0, 0.5, 2.0, 3.3] {
        let x = Tensor::uniform(&[2, 3], 0.3, 2.5, 30);
        gradcheck(
            &format!("powf({p}) tensor"),
            |(x, p): &(Tensor, f64)| x.powf(*p),
            |(x, p), g| {
                let y = x.powf(*p);
                (rules::powf_d0(&g, x, p), rules::powf_d1(&g, x, &y))
            },
            &(x.clone(), p),
        )?;
        gradcheck(
            &format!("powf({p}) f64"),
            |(x, p): &(f64, f64)| x.powf(*p),
            |(x, p), g| (rules::powf_d0(&g, x, p), rules::powf_d1(&g, x, &x.powf(*p))),
            &(x.data()[0], p),
        )?;
        gradcheck_var(&format!("powf({p})"), |v| v.powf(p), &x)?;
        // xᵖ⁻¹ is infinite at 0 for p < 1.
        exactly_zero("powf", (0.0, p), rules::powf_d0(&0.0, &0.0, &p))?;
        let zeros = Tensor::zeros(&[2]);
        exactly_zero_tensor("powf", (0.0, p), &rules::powf_d0(&zeros, &zeros, &p))?;
    }
    exactly_zero("powf", (-1.0, 0.5), rules::powf_d1(&0.0, &-1.0, &f64::NAN))
}

pub(crate) fn log_base() -> Check {
    for (x, b) in [(2.5, 3.0), (0.4, 10.0), (7.0, 0.5)] {
        gradcheck(
            "log(b) f64",
            |(x, b): &(f64, f64)| x.log(*b),
            |(x, b), g| (rules::log_base_d0(&g, x, b), rules::log_base_d1(&g, x, b)),
            &(x, b),
        )?;
    }
    exactly_zero("log(b)", (0.0, 2.0), rules::log_base_d0(&0.0, &0.0, &2.0))?;
    exactly_zero("log(b)", (2.0, 1.0), rules::log_base_d0(&0.0, &2.0, &1.0))?;
    exactly_zero("log(b)", (2.0, 1.0), rules::log_base_d1(&0.0, &2.0, &1.0))?;
    exactly_zero("log(b)", (0.0, 2.0), rules::log_base_d1(&0.0, &0.0, &2.0))
}

pub(crate) fn sin_cos() -> Check {
    for x in [0.3, -2.0, 4.0] {
        gradcheck(
            "sin_cos f64",
            |x: &f64| x.sin_cos(),
            |x, g: (f64, f64)| rules::sin_cos_d0(&g, x),
            &x,
        )?;
    }
    Ok(())
}

pub(crate) fn mul_add() -> Check {
    gradcheck(
        "mul_add f64",
        |(x, a, b): &(f64, f64, f64)| x.mul_add(*a, *b),
        |(x, a, _), g| {
            (
                rules::mul_add_d0(&g, a),
                rules::mul_add_d1(&g, x),
                rules::mul_add_d2(&g),
            )
        },
        &(0.7, -1.3, 2.1),
    )
}

pub(crate) fn clamp() -> Check {
    // Points on both sides of both bounds, none at a bound.
    for x in [-2.0, -0.3, 0.4, 1.7] {
        gradcheck(
            "clamp f64",
            |(x, lo, hi): &(f64, f64, f64)| x.clamp(*lo, *hi),
            |(x, lo, hi), g| {
                (
                    rules::clamp_d0(&g, x, lo, hi),
                    rules::clamp_d1(&g, x, lo),
                    rules::clamp_d2(&g, x, hi),
                )
            },
            &(x, -1.0, 1.0),
        )?;
    }
    let x = Tensor::from([[-2.0, -0.3, 0.4], [1.7, 0.9, -1.5]]);
    gradcheck(
        "clamp tensor",
        |(x, lo, hi): &(Tensor, f64, f64)| x.clamp(*lo, *hi),
        |(x, lo, hi), g| {
            (
                rules::clamp_d0(&g, x, lo, hi),
                rules::clamp_d1(&g, x, lo),
                rules::clamp_d2(&g, x, hi),
            )
        },
        &(x.clone(), -1.0, 1.0),
    )?;
    gradcheck_var("clamp", |v| v.clamp(-1.0, 1.0), &x)?;
    // A select: an infinite x outside the bounds passes nothing.
    exactly_zero(
        "clamp",
        f64::INFINITY,
        rules::clamp_d0(&1.0, &f64::INFINITY, &0.0, &1.0),
    )
}

fn extremum(name: &str, maximum: bool) -> Check {
    let d = |g: &f64, a: &f64, b: &f64| {
        if maximum {
            (rules::maximum_d0(g, a, b), rules::maximum_d1(g, a, b))
        } else {
            (rules::minimum_d0(g, a, b), rules::minimum_d1(g, a, b))
        }
    };
    for (a, b) in [(0.3, -0.2), (-1.0, 2.0)] {
        gradcheck(
            name,
            |(a, b): &(f64, f64)| if maximum { a.max(*b) } else { a.min(*b) },
            |(a, b), g| d(&g, a, b),
            &(a, b),
        )?;
    }
    // Ties split evenly; a select: an infinite loser passes nothing.
    let (da, db) = d(&1.0, &2.0, &2.0);
    if (da, db) != (0.5, 0.5) {
        return Err(format!("{name}: a tie gave {da}, {db}, not 0.5 each"));
    }
    let loser = if maximum {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    exactly_zero(name, (1.0, loser), d(&1.0, &1.0, &loser).1)
}

pub(crate) fn max_f64() -> Check {
    extremum("max", true)?;
    for (a, b) in [(0.3, -0.2), (-1.0, 2.0)] {
        gradcheck(
            "max (f64 rules)",
            |(a, b): &(f64, f64)| a.max(*b),
            |(a, b), g| (rules::max_d0(&g, a, b), rules::max_d1(&g, a, b)),
            &(a, b),
        )?;
    }
    Ok(())
}

pub(crate) fn min_f64() -> Check {
    extremum("min", false)?;
    for (a, b) in [(0.3, -0.2), (-1.0, 2.0)] {
        gradcheck(
            "min (f64 rules)",
            |(a, b): &(f64, f64)| a.min(*b),
            |(a, b), g| (rules::min_d0(&g, a, b), rules::min_d1(&g, a, b)),
            &(a, b),
        )?;
    }
    Ok(())
}

fn extremum_tensor(name: &str, maximum: bool) -> Check {
    let op = |a: &Tensor, b: &Tensor| if maximum { a.maximum(b) } else { a.minimum(b) };
    // A select: where `a` loses, even an infinite ḡ passes nothing to it.
    let (a, b) = (Tensor::from([1.0, 2.0]), Tensor::from([2.0, 1.0]));
    let g = Tensor::from([f64::INFINITY, 1.0]);
    let (loser, winner) = if maximum {
        (rules::maximum_d0(&g, &a, &b), rules::maximum_d1(&g, &a, &b))
    } else {
        (rules::minimum_d1(&g, &a, &b), rules::minimum_d0(&g, &a, &b))
    };
    if loser.to_vec() != vec![0.0, 1.0] || winner.to_vec() != vec![f64::INFINITY, 0.0] {
        return Err(format!(
            "{name}: ḡ = [∞, 1] gave {loser:?} and {winner:?}, not a select"
        ));
    }
    for (i, (sa, sb)) in BROADCASTS.into_iter().enumerate() {
        let (a, b) = (randn(sa, 40 + i as u64), randn(sb, 50 + i as u64));
        gradcheck(
            &format!("{name} {sa:?} with {sb:?}"),
            |(a, b): &(Tensor, Tensor)| op(a, b),
            |(a, b), g| {
                if maximum {
                    (rules::maximum_d0(&g, a, b), rules::maximum_d1(&g, a, b))
                } else {
                    (rules::minimum_d0(&g, a, b), rules::minimum_d1(&g, a, b))
                }
            },
            &(a.clone(), b.clone()),
        )?;
        gradcheck_var2(
            name,
            |a, b| if maximum { a.maximum(b) } else { a.minimum(b) },
            &a,
            &b,
        )?;
    }
    Ok(())
}

pub(crate) fn maximum() -> Check {
    extremum("maximum", true)?;
    extremum_tensor("maximum", true)
}

pub(crate) fn minimum() -> Check {
    extremum("minimum", false)?;
    extremum_tensor("minimum", false)
}

pub(crate) fn max() -> Check {
    let x = randn(&[2, 3, 4], 50);
    gradcheck(
        "max",
        |x: &Tensor| x.max(),
        |x, g| rules::max_d0(&g, x, &x.max()),
        &x,
    )?;
    gradcheck_var("max", |v| v.max(), &x)
}

pub(crate) fn min() -> Check {
    let x = randn(&[2, 3, 4], 51);
    gradcheck(
        "min",
        |x: &Tensor| x.min(),
        |x, g| rules::min_d0(&g, x, &x.min()),
        &x,
    )?;
    gradcheck_var("min", |v| v.min(), &x)
}

pub(crate) fn sum() -> Check {
    let x = randn(&[2, 3, 4], 52);
    gradcheck(
        "sum",
        |x: &Tensor| x.sum(),
        |x, g| rules::sum_d0(&g, &rt::meta(x)),
        &x,
    )?;
    gradcheck_var("sum", |v| v.sum(), &x)
}

pub(crate) fn mean() -> Check {
    let x = randn(&[2, 3, 4], 53);
    gradcheck(
        "mean",
        |x: &Tensor| x.mean(),
        |x, g| rules::mean_d0(&g, &rt::meta(x)),
        &x,
    )?;
    gradcheck_var("mean", |v| v.mean(), &x)
}

pub(crate) fn sum_dim() -> Check {
    // Every dimension of a 3-d tensor: the last one (contiguous lines, the
    // fast path) and the others (lines with a stride); then long lines,
    // summed in lanes.
    for (shape, d) in [
        (&[2, 3, 4][..], 0),
        (&[2, 3, 4], 1),
        (&[2, 3, 4], 2),
        (&[3, 300], 1),
        (&[300, 2], 0),
    ] {
        let x = randn(shape, 54);
        gradcheck(
            "sum_dim",
            |x: &Tensor| x.sum_dim(d),
            |x, g| rules::sum_dim_d0(&g, &rt::meta(x), &d),
            &x,
        )?;
        gradcheck_var("sum_dim", |v| v.sum_dim(d), &x)?;
    }
    Ok(())
}

pub(crate) fn mean_dim() -> Check {
    // Every dimension of a 3-d tensor: the last one (contiguous lines, the
    // fast path) and the others (lines with a stride); then long lines,
    // summed in lanes.
    for (shape, d) in [
        (&[2, 3, 4][..], 0),
        (&[2, 3, 4], 1),
        (&[2, 3, 4], 2),
        (&[3, 300], 1),
        (&[300, 2], 0),
    ] {
        let x = randn(shape, 55);
        gradcheck(
            "mean_dim",
            |x: &Tensor| x.mean_dim(d),
            |x, g| rules::mean_dim_d0(&g, &rt::meta(x), &d),
            &x,
        )?;
        gradcheck_var("mean_dim", |v| v.mean_dim(d), &x)?;
    }
    Ok(())
}

pub(crate) fn dot() -> Check {
    let (a, b) = (randn(&[6], 60), randn(&[6], 61));
    gradcheck(
        "dot",
        |(a, b): &(Tensor, Tensor)| a.dot(b),
        |(a, b), g| (rules::dot_d0(&g, b), rules::dot_d1(&g, a)),
        &(a.clone(), b.clone()),
    )?;
    gradcheck_var2("dot", |a, b| a.dot(b), &a, &b)
}

pub(crate) fn norm() -> Check {
    let x = randn(&[3, 4], 62);
    gradcheck(
        "norm",
        |x: &Tensor| x.norm(),
        |x, g| rules::norm_d0(&g, x, &x.norm()),
        &x,
    )?;
    gradcheck_var("norm", |v| v.norm(), &x)?;
    let z = Tensor::zeros(&[3]);
    exactly_zero_tensor("norm", "0 (ḡ = 1)", &rules::norm_d0(&1.0, &z, &0.0))?;
    exactly_zero_tensor("norm", "0", &rules::norm_d0(&0.0, &z, &0.0))?;
    // An infinite element: y = ∞, x/y is NaN there; a zero ḡ passes nothing.
    let inf = Tensor::from([f64::INFINITY, 1.0]);
    exactly_zero_tensor("norm", "[∞, 1]", &rules::norm_d0(&0.0, &inf, &inf.norm()))
}

pub(crate) fn matmul() -> Check {
    let cases: [(&[usize], &[usize]); 5] = [
        (&[3, 4], &[4, 2]),
        (&[3, 4], &[4]),
        (&[4], &[4, 2]),
        (&[4], &[4]),
        (&[1, 5], &[5, 1]),
    ];
    for (i, (sa, sb)) in cases.into_iter().enumerate() {
        let (a, b) = (randn(sa, 70 + i as u64), randn(sb, 80 + i as u64));
        gradcheck(
            "matmul",
            |(a, b): &(Tensor, Tensor)| a.matmul(b),
            |(a, b), g| (rules::matmul_d0(&g, b), rules::matmul_d1(&g, a)),
            &(a.clone(), b.clone()),
        )?;
        gradcheck_var2("matmul", |a, b| a.matmul(b), &a, &b)?;
    }
    Ok(())
}

pub(crate) fn t() -> Check {
    let m = randn(&[3, 4], 90);
    gradcheck("t", |x: &Tensor| x.t(), |_, g| rules::t_d0(&g), &m)?;
    gradcheck_var("t", |v| v.t(), &m)
}

pub(crate) fn transpose() -> Check {
    let m = randn(&[3, 4], 91);
    gradcheck(
        "transpose",
        |x: &Tensor| x.transpose(),
        |_, g| rules::transpose_d0(&g),
        &m,
    )?;
    gradcheck(
        "transpose (t_d0)",
        |x: &Tensor| x.transpose(),
        |_, g| rules::t_d0(&g),
        &m,
    )?;
    gradcheck_var("transpose", |v| v.transpose(), &m)
}

pub(crate) fn reshape() -> Check {
    let m = randn(&[3, 4], 92);
    gradcheck(
        "reshape",
        |x: &Tensor| x.reshape(&[2, 6]),
        |x, g| rules::reshape_d0(&g, &rt::meta(x)),
        &m,
    )?;
    gradcheck_var("reshape", |v| v.reshape(&[2, 6]), &m)
}

pub(crate) fn slice() -> Check {
    let c = randn(&[2, 5, 3], 93);
    for (d, r) in [(0, 1..2), (1, 1..4), (2, 0..2), (1, 2..2)] {
        gradcheck(
            "slice",
            |x: &Tensor| x.slice(d, r.clone()),
            |x, g| rules::slice_d0(&g, &rt::meta(x), &d, &r),
            &c,
        )?;
        gradcheck_var("slice", |v| v.slice(d, r.clone()), &c)?;
    }
    Ok(())
}

pub(crate) fn at() -> Check {
    let m = randn(&[3, 4], 94);
    gradcheck(
        "at",
        |x: &Tensor| x.at(&[1, 2]),
        |x, g| rules::at_d0(&g, &rt::meta(x), &[1, 2]),
        &m,
    )?;
    gradcheck_var("at", |v| v.at(&[1, 2]), &m)
}

pub(crate) fn item() -> Check {
    for shape in [&[][..], &[1], &[1, 1]] {
        gradcheck(
            "item",
            |x: &Tensor| x.item(),
            |x, g| rules::item_d0(&g, &rt::meta(x)),
            &randn(shape, 95),
        )?;
    }
    Ok(())
}

pub(crate) fn to_vec() -> Check {
    gradcheck(
        "to_vec (tensor)",
        |x: &Tensor| x.to_vec(),
        |x, g| rt::finish(rules::to_vec_d0(&g, &rt::meta(x)), x),
        &randn(&[2, 3], 96),
    )?;
    gradcheck(
        "to_vec (Vec)",
        |x: &Vec<f64>| x.to_vec(),
        |x, g| rt::finish(rules::to_vec_d0(&g, &rt::meta(x)), x),
        &vec![0.5, -1.0, 2.0],
    )?;
    let short = rules::to_vec_d0(&vec![1.0], &rt::meta(&Tensor::zeros(&[2, 2])));
    if short.to_vec() != vec![1.0, 0.0, 0.0, 0.0] {
        return Err(format!(
            "to_vec: a short cotangent gave {short:?}, not padded with zeros"
        ));
    }
    Ok(())
}

pub(crate) fn index() -> Check {
    gradcheck(
        "index",
        |x: &Vec<f64>| x[2] * x[0],
        |x, g| {
            let m = rt::meta(x);
            let mut d = rt::zero();
            rt::acc(&mut d, rules::index_d0(&(g * x[0]), &m, &2usize));
            rt::acc_index(&mut d, &m, &0usize, g * x[2]);
            rt::finish(d, x)
        },
        &vec![0.5, -1.0, 2.0, 3.0],
    )
}

pub(crate) fn softmax() -> Check {
    // Lines along the last dimension (contiguous, the fast path) and along
    // the others (gathered), in 2 and 3 dimensions.
    for (shape, d) in [
        (&[3, 4][..], 0),
        (&[3, 4], 1),
        (&[2, 3, 4], 0),
        (&[2, 3, 4], 1),
        (&[2, 3, 4], 2),
    ] {
        let x = randn(shape, 100) * 2.0;
        gradcheck(
            "softmax",
            |x: &Tensor| x.softmax(d),
            |x, g| rules::softmax_d0(&g, &x.softmax(d), &d),
            &x,
        )?;
        gradcheck_var("softmax", |v| v.softmax(d), &x)?;
    }
    Ok(())
}

pub(crate) fn log_softmax() -> Check {
    // Lines along the last dimension (contiguous, the fast path) and along
    // the others (gathered), in 2 and 3 dimensions.
    for (shape, d) in [
        (&[3, 4][..], 0),
        (&[3, 4], 1),
        (&[2, 3, 4], 0),
        (&[2, 3, 4], 1),
        (&[2, 3, 4], 2),
    ] {
        let x = randn(shape, 101) * 2.0;
        gradcheck(
            "log_softmax",
            |x: &Tensor| x.log_softmax(d),
            |x, g| rules::log_softmax_d0(&g, &x.log_softmax(d), &d),
            &x,
        )?;
        gradcheck_var("log_softmax", |v| v.log_softmax(d), &x)?;
    }
    Ok(())
}

pub(crate) fn logsumexp() -> Check {
    // Lines along the last dimension (contiguous, the fast path) and along
    // the others (gathered), in 2 and 3 dimensions.
    for (shape, d) in [
        (&[3, 4][..], 0),
        (&[3, 4], 1),
        (&[2, 3, 4], 0),
        (&[2, 3, 4], 1),
        (&[2, 3, 4], 2),
    ] {
        let x = randn(shape, 102) * 2.0;
        gradcheck(
            "logsumexp",
            |x: &Tensor| x.logsumexp(d),
            |x, g| rules::logsumexp_d0(&g, x, &x.logsumexp(d), &d),
            &x,
        )?;
        gradcheck_var("logsumexp", |v| v.logsumexp(d), &x)?;
    }
    Ok(())
}

pub(crate) fn where_() -> Check {
    let cases: [(&[usize], &[usize], &[usize]); 4] = [
        (&[2, 3], &[2, 3], &[2, 3]),
        (&[2, 3], &[3], &[]),
        (&[3], &[2, 1], &[2, 3]),
        (&[2, 1], &[1, 3], &[3]),
    ];
    for (i, (sc, sx, so)) in cases.into_iter().enumerate() {
        let cond = randn(sc, 110 + i as u64).gt_elem(&Tensor::scalar(0.0));
        let (x, other) = (randn(sx, 120 + i as u64), randn(so, 130 + i as u64));
        gradcheck(
            &format!("where_ cond {sc:?}, x {sx:?}, other {so:?}"),
            |(x, other): &(Tensor, Tensor)| x.where_(&cond, other),
            |(x, other), g| {
                (
                    rules::where_d0(&g, &cond, &rt::meta(x)),
                    rules::where_d2(&g, &cond, &rt::meta(other)),
                )
            },
            &(x.clone(), other.clone()),
        )?;
        gradcheck_var2("where_", |x, o| x.where_(&cond, o), &x, &other)?;
    }
    // A select: the branch not taken passes nothing, even where it is ∞.
    let cond = Tensor::from([1.0, -1.0]).gt_elem(&Tensor::scalar(0.0));
    let g = Tensor::ones(&[2]);
    let d = rules::where_d2(&g, &cond, &rt::meta(&Tensor::from([f64::INFINITY, 1.0])));
    if d.to_vec() != vec![0.0, 1.0] {
        return Err(format!("where_: the other branch got {d:?}, not [0, 1]"));
    }
    Ok(())
}

pub(crate) fn cat() -> Check {
    let (a, b, c) = (
        randn(&[2, 3], 140),
        randn(&[2, 1], 141),
        randn(&[2, 2], 142),
    );
    gradcheck(
        "cat",
        |(a, b, c): &(Tensor, Tensor, Tensor)| Tensor::cat(&[a, b, c], 1),
        |(a, b, c), g| {
            (
                rules::cat_d(&g, &rt::meta(a), &1, &0),
                rules::cat_d(&g, &rt::meta(b), &1, &3),
                rules::cat_d(&g, &rt::meta(c), &1, &4),
            )
        },
        &(a.clone(), b.clone(), c.clone()),
    )?;
    gradcheck_var2("cat", |a, b| Var::cat(&[a, b, a], 1), &a, &b)?;
    gradcheck_var2("cat", |a, b| Var::cat(&[a, b], 0), &a.t(), &c)
}

pub(crate) fn stack() -> Check {
    let (a, b) = (randn(&[2, 3], 150), randn(&[2, 3], 151));
    for d in 0..3 {
        gradcheck(
            "stack",
            |(a, b): &(Tensor, Tensor)| Tensor::stack(&[a, b], d),
            |(a, b), g| {
                (
                    rules::stack_d(&g, &rt::meta(a), &d, &0),
                    rules::stack_d(&g, &rt::meta(b), &d, &1),
                )
            },
            &(a.clone(), b.clone()),
        )?;
        gradcheck_var2("stack", |a, b| Var::stack(&[a, b, b], d), &a, &b)?;
    }
    Ok(())
}
