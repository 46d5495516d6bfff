//! The table of primitives: one row per differentiable operation, the single
//! source of truth for what the runtime offers.
//!
//! A row says what the operation is called and how (`x.atan2(y)`), on which
//! kinds of values it works, what its derivative rule reads for each operand
//! (the macro's `Need`s: an operand's value, its shape, the op's output, or
//! nothing), the math of the rule, the graph layer's node name, and a check
//! that compares the rule with central differences (and the graph layer's
//! eager op, where it has one). From it:
//!
//! - the elementwise functions of one operand (`unary_rows!`) and of two
//!   (`binary_rows!`) are *generated*: the `Tensor` method, the `f64`
//!   method where std lacks it ([`Real`](crate::Real)), the rule, the graph
//!   layer's `Var` method, the table row and its check all come from one row
//!   there, and nowhere else;
//! - the other rows are written in [`OTHER_ROWS`], next to the rows
//!   generated from the two lists;
//! - `tests/primitive_table.rs` (in the facade) asserts that the macro's
//!   rules table (`autodiff-macros/src/rules.rs`) says the same as this one
//!   (names, arities, rule names, needs), and that README's list of
//!   primitives is the one [`readme_list`] prints;
//! - `tests/table.rs` runs every row's check, so a row cannot ship
//!   unchecked.
//!
//! Adding an elementwise function is one row in `unary_rows!` or
//! `binary_rows!`, one row in the macro's table, and README's list
//! regenerated (`UPDATE_README=1 cargo test --test primitive_table`).

use std::fmt;

use crate::gradcheck::{Flat, GradCheckConfig, check_vjp_with};
use crate::graph::Var;
use crate::tensor::Tensor;
use crate::{Cotangent, Differentiable};

/// What a derivative rule reads besides the output's cotangent.
///
/// ```
/// use autodiff_runtime::__private::table::Need;
///
/// assert_eq!(Need::Value(1).to_string(), "value 1");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Need {
    /// The value of operand `i` (the receiver of a method is operand 0).
    Value(usize),
    /// The shape of operand `i` (`__private::meta`), e.g. to undo broadcasting.
    Meta(usize),
    /// The op's own result.
    Output,
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Need::Value(i) => write!(f, "value {i}"),
            Need::Meta(i) => write!(f, "meta {i}"),
            Need::Output => write!(f, "output"),
        }
    }
}

/// The kinds of values an operation takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum On {
    /// `f64` only.
    F64,
    /// `Tensor` only.
    Tensor,
    /// `f64` and `Tensor` (and mixes, where the row says so).
    Both,
    /// `Tensor`, `Vec<f64>` and `[f64]`.
    TensorOrSlice,
}

impl On {
    /// How README's list prints it.
    pub fn label(self) -> &'static str {
        match self {
            On::F64 => "f64",
            On::Tensor => "Tensor",
            On::Both => "f64, Tensor",
            On::TensorOrSlice => "Tensor, Vec/slice",
        }
    }
}

/// How user code writes the operation, which decides whether the macro
/// looks it up by method name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Syntax {
    /// A method `x.name(args)` (also `f64::name(x, ..)`, `Tensor::name(&x, ..)`).
    Method,
    /// An operator (`+`, unary `-`): the macro maps operators to rules itself.
    Operator,
    /// Not differentiated by `#[differentiable]` (variadic: `Tensor::cat`),
    /// or written by the macro itself (`x[i]`): runtime and graph layer only.
    RuntimeOnly,
}

/// One primitive: a row of the table.
#[derive(Clone, Copy)]
pub struct Primitive {
    /// The method name (or the operator) as the user writes it.
    pub name: &'static str,
    /// How it is called, for README: `x.atan2(y)`.
    pub call: &'static str,
    /// Prefix of the rule functions: `rules::<rule>_d<k>` for operand `k`.
    pub rule: &'static str,
    /// Operands, the receiver counted first.
    pub arity: usize,
    /// The kinds of values it takes.
    pub on: On,
    /// For each operand: `Some(needs)` if it is differentiated, with what its rule reads.
    pub operands: &'static [Option<&'static [Need]>],
    /// The derivative, in the notation of README (`x̄ += ȳ · cos x`).
    pub math: &'static str,
    /// Whether a cotangent that is exactly zero gives exactly zero where the
    /// local derivative is infinite or NaN (the "strong zero"): the rule
    /// checks it (per element for tensors).
    pub strong_zero: bool,
    /// The graph layer's node name (PyTorch's), where `Var` has the op.
    pub graph: Option<&'static str>,
    /// How user code writes it.
    pub syntax: Syntax,
    /// Compares the rule (and the graph layer's op) with central differences;
    /// `Err` says what disagreed.
    pub check: fn() -> Result<(), String>,
}

impl fmt::Debug for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Primitive")
            .field("name", &self.name)
            .field("arity", &self.arity)
            .field("rule", &self.rule)
            .field("operands", &self.operands)
            .finish_non_exhaustive()
    }
}

/// Every row of the table: the generated elementwise ones, then the others.
///
/// ```
/// use autodiff_runtime::__private::table::primitives;
///
/// let sin = primitives().find(|p| p.name == "sin").unwrap();
/// assert_eq!(sin.math, "x̄ += ȳ · cos x");
/// assert!((sin.check)().is_ok());
/// ```
pub fn primitives() -> impl Iterator<Item = &'static Primitive> {
    crate::ops::elementwise::UNARY_ROWS
        .iter()
        .chain(crate::ops::binary::BINARY_FN_ROWS)
        .chain(OTHER_ROWS)
}

/// README's list of primitives, as the facade's test compares it.
pub fn readme_list() -> String {
    let mut out = String::from(
        "| call | on | derivative (ȳ the output's cotangent) | strong zero | `Var` node |\n|---|---|---|---|---|\n",
    );
    for p in primitives() {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            p.call,
            p.on.label(),
            p.math,
            if p.strong_zero { "yes" } else { "" },
            p.graph.map(|n| format!("`{n}`")).unwrap_or_default(),
        ));
    }
    out
}

// ---------------------------------------------------------------- the lists

/// The elementwise functions of one operand. `$m` is called once with every
/// row; each consumer (the `Tensor` methods and rules in `elementwise.rs`,
/// [`Real`](crate::Real) in `real.rs`, the `Var` methods in
/// `graph/functions.rs`) reads what it needs.
///
/// A row: `name / rule function: elementwise f64 function, f64 <how f64 has
/// it>, reads <x|y|none|zero>, |ḡ, x or y| x̄ (the rule; `none`: it reads
/// only ḡ, `zero`: the derivative is 0), at (lo, hi) (where to check it),
/// strong [points where the local derivative is not finite], node, math,
/// doc;`. How f64 has it: `method` (std's method, or one of `Real`'s
/// already written), `real` (a new `Real` method of that name),
/// `(real other_name)` (a `Real` method of another name: std reserves the
/// name), `none` (tensors only). The elementwise function is what the
/// `Tensor` method maps; it may be a vectorisable version of the `f64`
/// method (`tanh`: `ops/vmath.rs`, within a few units in the last place).
macro_rules! unary_rows {
    ($m:ident) => {
        $m! {
            sin / sin_d0: f64::sin, f64 method, reads x, |g, x| g * x.cos(), at (-3.0, 3.0), strong [],
                "SinBackward0", "x̄ += ȳ · cos x", "Elementwise sine.";
            cos / cos_d0: f64::cos, f64 method, reads x, |g, x| -g * x.sin(), at (-3.0, 3.0), strong [],
                "CosBackward0", "x̄ −= ȳ · sin x", "Elementwise cosine.";
            tan / tan_d0: f64::tan, f64 method, reads y, |g, y| g * (1.0 + y * y), at (-1.2, 1.2), strong [std::f64::consts::FRAC_PI_2],
                "TanBackward0", "x̄ += ȳ · (1 + y²)", "Elementwise tangent.";
            tanh / tanh_d0: crate::ops::vmath::tanh, f64 method, reads y, |g, y| g * (1.0 - y * y), at (-2.0, 2.0), strong [],
                "TanhBackward0", "x̄ += ȳ · (1 − y²)", "Elementwise hyperbolic tangent.";
            exp / exp_d0: f64::exp, f64 method, reads y, |g, y| g * y, at (-2.0, 2.0), strong [710.0],
                "ExpBackward0", "x̄ += ȳ · y", "Elementwise `eˣ`.";
            ln / ln_d0: f64::ln, f64 method, reads x, |g, x| g / x, at (0.2, 3.0), strong [0.0],
                "LogBackward0", "x̄ += ȳ / x", "Elementwise natural logarithm.";
            log / log_d0: f64::ln, f64 none, reads x, |g, x| g / x, at (0.2, 3.0), strong [0.0],
                "LogBackward0", "x̄ += ȳ / x", "Elementwise natural logarithm (PyTorch's name; on `f64`, `log` takes a base: use `ln`).";
            sqrt / sqrt_d0: f64::sqrt, f64 method, reads y, |g, y| g / (2.0 * y), at (0.2, 3.0), strong [0.0],
                "SqrtBackward0", "x̄ += ȳ / (2y)", "Elementwise square root.";
            abs / abs_d0: f64::abs, f64 method, reads x, |g, x| if x > 0.0 { g } else if x < 0.0 { -g } else { 0.0 },
                at (0.5, 2.0), strong [], "AbsBackward0", "x̄ += ȳ · sign x (0 at 0)", "Elementwise absolute value.";
            relu / relu_d0: crate::ops::elementwise::relu, f64 method, reads x, |g, x| if x > 0.0 { g } else { 0.0 },
                at (0.5, 2.0), strong [], "ReluBackward0", "x̄ += ȳ · [x > 0]", "Elementwise `max(x, 0)`.";
            sigmoid / sigmoid_d0: crate::ops::elementwise::sigmoid, f64 method, reads y, |g, y| g * y * (1.0 - y),
                at (-3.0, 3.0), strong [], "SigmoidBackward0", "x̄ += ȳ · y · (1 − y)", "Elementwise logistic function `1 / (1 + e^(−x))`.";
            recip / recip_d0: f64::recip, f64 method, reads y, |g, y| -g * y * y, at (0.5, 2.0), strong [0.0],
                "ReciprocalBackward0", "x̄ −= ȳ · y²", "Elementwise reciprocal `1/x`.";
            atan / atan_d0: f64::atan, f64 method, reads x, |g, x| g / (1.0 + x * x), at (-3.0, 3.0), strong [],
                "AtanBackward0", "x̄ += ȳ / (1 + x²)", "Elementwise arctangent.";
            asin / asin_d0: f64::asin, f64 method, reads x, |g, x| g / (1.0 - x * x).sqrt(), at (-0.9, 0.9), strong [1.0, -1.0],
                "AsinBackward0", "x̄ += ȳ / √(1 − x²)", "Elementwise arcsine.";
            acos / acos_d0: f64::acos, f64 method, reads x, |g, x| -g / (1.0 - x * x).sqrt(), at (-0.9, 0.9), strong [1.0, -1.0],
                "AcosBackward0", "x̄ −= ȳ / √(1 − x²)", "Elementwise arccosine.";
            sinh / sinh_d0: f64::sinh, f64 method, reads x, |g, x| g * x.cosh(), at (-2.0, 2.0), strong [711.0],
                "SinhBackward0", "x̄ += ȳ · cosh x", "Elementwise hyperbolic sine.";
            cosh / cosh_d0: f64::cosh, f64 method, reads x, |g, x| g * x.sinh(), at (-2.0, 2.0), strong [711.0],
                "CoshBackward0", "x̄ += ȳ · sinh x", "Elementwise hyperbolic cosine.";
            asinh / asinh_d0: f64::asinh, f64 method, reads x, |g, x| g / x.hypot(1.0), at (-3.0, 3.0), strong [],
                "AsinhBackward0", "x̄ += ȳ / √(x² + 1)", "Elementwise inverse hyperbolic sine.";
            acosh / acosh_d0: f64::acosh, f64 method, reads x, |g, x| g / ((x - 1.0).sqrt() * (x + 1.0).sqrt()), at (1.1, 3.0), strong [1.0],
                "AcoshBackward0", "x̄ += ȳ / √(x² − 1)", "Elementwise inverse hyperbolic cosine.";
            atanh / atanh_d0: f64::atanh, f64 method, reads x, |g, x| g / (1.0 - x * x), at (-0.9, 0.9), strong [1.0, -1.0],
                "AtanhBackward0", "x̄ += ȳ / (1 − x²)", "Elementwise inverse hyperbolic tangent.";
            exp2 / exp2_d0: f64::exp2, f64 method, reads y, |g, y| g * y * std::f64::consts::LN_2, at (-2.0, 2.0), strong [1025.0],
                "Exp2Backward0", "x̄ += ȳ · y · ln 2", "Elementwise `2ˣ`.";
            exp_m1 / exp_m1_d0: f64::exp_m1, f64 method, reads y, |g, y| g * (y + 1.0), at (-2.0, 2.0), strong [710.0],
                "Expm1Backward0", "x̄ += ȳ · (y + 1)", "Elementwise `eˣ − 1`, accurate near 0.";
            ln_1p / ln_1p_d0: f64::ln_1p, f64 method, reads x, |g, x| g / (1.0 + x), at (-0.5, 2.0), strong [-1.0],
                "Log1pBackward0", "x̄ += ȳ / (1 + x)", "Elementwise `ln(1 + x)`, accurate near 0.";
            log2 / log2_d0: f64::log2, f64 method, reads x, |g, x| g / (x * std::f64::consts::LN_2), at (0.2, 3.0), strong [0.0],
                "Log2Backward0", "x̄ += ȳ / (x ln 2)", "Elementwise base-2 logarithm.";
            log10 / log10_d0: f64::log10, f64 method, reads x, |g, x| g / (x * std::f64::consts::LN_10), at (0.2, 3.0), strong [0.0],
                "Log10Backward0", "x̄ += ȳ / (x ln 10)", "Elementwise base-10 logarithm.";
            cbrt / cbrt_d0: f64::cbrt, f64 method, reads y, |g, y| g / (3.0 * y * y), at (0.2, 3.0), strong [0.0],
                "CbrtBackward0", "x̄ += ȳ / (3y²)", "Elementwise cube root.";
            to_degrees / to_degrees_d0: f64::to_degrees, f64 method, reads none, |g, _x| g * (180.0 / std::f64::consts::PI), at (-3.0, 3.0), strong [],
                "Rad2DegBackward0", "x̄ += ȳ · 180/π", "Elementwise radians to degrees (PyTorch's `rad2deg`).";
            to_radians / to_radians_d0: f64::to_radians, f64 method, reads none, |g, _x| g * (std::f64::consts::PI / 180.0), at (-90.0, 90.0), strong [],
                "Deg2RadBackward0", "x̄ += ȳ · π/180", "Elementwise degrees to radians (PyTorch's `deg2rad`).";
            floor / floor_d0: f64::floor, f64 method, reads zero, |g, _x| g, at (0.1, 0.9), strong [],
                "FloorBackward0", "x̄ += 0 (piecewise constant, as PyTorch)", "Elementwise floor.";
            ceil / ceil_d0: f64::ceil, f64 method, reads zero, |g, _x| g, at (0.1, 0.9), strong [],
                "CeilBackward0", "x̄ += 0 (piecewise constant, as PyTorch)", "Elementwise ceiling.";
            round / round_d0: f64::round, f64 method, reads zero, |g, _x| g, at (0.6, 1.4), strong [],
                "RoundBackward0", "x̄ += 0 (piecewise constant, as PyTorch)", "Elementwise rounding, half away from zero (as `f64::round`; PyTorch rounds half to even).";
            trunc / trunc_d0: f64::trunc, f64 method, reads zero, |g, _x| g, at (0.1, 0.9), strong [],
                "TruncBackward0", "x̄ += 0 (piecewise constant, as PyTorch)", "Elementwise integer part.";
            signum / signum_d0: f64::signum, f64 method, reads zero, |g, _x| g, at (0.1, 2.0), strong [],
                "SignBackward0", "x̄ += 0 (piecewise constant, as PyTorch)", "Elementwise sign (`f64::signum`: ±1, also at ±0).";
            erf / erf_d0: crate::ops::special::erf, f64 (real special_erf), reads x, |g, x| g * std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp(),
                at (-2.0, 2.0), strong [], "ErfBackward0", "x̄ += ȳ · 2/√π · e^(−x²)", "Elementwise error function (`special_erf` on `f64`: std reserves `f64::erf`).";
            erfc / erfc_d0: crate::ops::special::erfc, f64 (real special_erfc), reads x, |g, x| -g * std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp(),
                at (-2.0, 2.0), strong [], "ErfcBackward0", "x̄ −= ȳ · 2/√π · e^(−x²)", "Elementwise complementary error function `1 − erf x` (`special_erfc` on `f64`: std reserves `f64::erfc`).";
            ndtr / ndtr_d0: crate::ops::special::ndtr, f64 real, reads x, |g, x| g * crate::ops::special::normal_pdf(x),
                at (-3.0, 3.0), strong [], "SpecialNdtrBackward0", "x̄ += ȳ · e^(−x²/2) / √(2π)", "Elementwise standard normal CDF `Φ(x)` (PyTorch's `special.ndtr`).";
            lgamma / lgamma_d0: crate::ops::special::lgamma, f64 real, reads x, |g, x| g * crate::ops::special::digamma(x),
                at (0.3, 5.0), strong [0.0, -1.0, -2.0], "LgammaBackward0", "x̄ += ȳ · ψ(x)", "Elementwise `ln |Γ(x)|` (PyTorch's `lgamma`; std reserves `f64::ln_gamma`).";
            digamma / digamma_d0: crate::ops::special::digamma, f64 real, reads x, |g, x| g * crate::ops::special::trigamma(x),
                at (0.3, 5.0), strong [0.0, -1.0, -2.0], "DigammaBackward0", "x̄ += ȳ · ψ₁(x) (trigamma)", "Elementwise digamma function `ψ(x) = Γ′(x)/Γ(x)`.";
        }
    };
}

/// The elementwise functions of two operands, broadcasting like NumPy
/// (`f64`, `Tensor` and their mixes): a row is `name / rule functions: f64 function,
/// |ḡ, a, b| (ā, b̄) before reducing to the operands' shapes, at (lo, hi),
/// strong [points (a, b) where a local derivative is not finite], node,
/// math, doc;`. The rules read both operands' values.
macro_rules! binary_rows {
    ($m:ident) => {
        $m! {
            atan2 / atan2_d0, atan2_d1: f64::atan2, |g, a, b| { let r = a * a + b * b; (g * b / r, -g * a / r) }, at (0.5, 2.0),
                strong [(0.0, 0.0)], "Atan2Backward0",
                "y = atan2(a, b): ā += ȳ · b/(a² + b²), b̄ −= ȳ · a/(a² + b²)",
                "Elementwise four-quadrant arctangent of `self / other`, broadcasting (PyTorch's `atan2`).";
            hypot / hypot_d0, hypot_d1: f64::hypot, |g, a, b| { let r = a.hypot(b); (g * a / r, g * b / r) }, at (0.5, 2.0),
                strong [(0.0, 0.0)], "HypotBackward0",
                "y = √(a² + b²): ā += ȳ · a/y, b̄ += ȳ · b/y",
                "Elementwise `√(self² + other²)` without overflow, broadcasting (PyTorch's `hypot`).";
        }
    };
}

pub(crate) use {binary_rows, unary_rows};

// ---------------------------------------------------------------- checks

/// The gradient checker's settings for the rows: six seeded directions.
fn config(name: &str) -> GradCheckConfig {
    GradCheckConfig::default()
        .directions(6)
        .seed(name.bytes().map(u64::from).sum())
}

/// Compares `vjp` with central differences of `f` at `x`.
pub(crate) fn gradcheck<X, Y>(
    name: &str,
    f: impl Fn(&X) -> Y,
    vjp: impl Fn(&X, Y) -> X,
    x: &X,
) -> Result<(), String>
where
    X: Flat + Differentiable<Tangent = X>,
    Y: Flat + Differentiable<Tangent = Y>,
{
    check_vjp_with(config(name), f, vjp, x)
        .map(|_| ())
        .map_err(|e| format!("{name}: {e}"))
}

/// Compares the backward of a graph-layer op on one `Var` with central
/// differences of its value.
pub(crate) fn gradcheck_var(
    name: &str,
    op: impl Fn(&Var) -> Var,
    x: &Tensor,
) -> Result<(), String> {
    gradcheck(
        &format!("{name} (Var)"),
        |x: &Tensor| op(&Var::new(x.clone())).data(),
        |x: &Tensor, g: Tensor| {
            let v = Var::leaf(x.clone());
            op(&v).backward_with(&g);
            v.grad().unwrap_or_else(|| x.zeros_like())
        },
        x,
    )
}

/// The same for an op on two `Var`s.
pub(crate) fn gradcheck_var2(
    name: &str,
    op: impl Fn(&Var, &Var) -> Var,
    a: &Tensor,
    b: &Tensor,
) -> Result<(), String> {
    gradcheck(
        &format!("{name} (Var)"),
        |(a, b): &(Tensor, Tensor)| op(&Var::new(a.clone()), &Var::new(b.clone())).data(),
        |(a, b): &(Tensor, Tensor), g: Tensor| {
            let (va, vb) = (Var::leaf(a.clone()), Var::leaf(b.clone()));
            op(&va, &vb).backward_with(&g);
            (
                va.grad().unwrap_or_else(|| a.zeros_like()),
                vb.grad().unwrap_or_else(|| b.zeros_like()),
            )
        },
        &(a.clone(), b.clone()),
    )
}

/// `Err` naming the row unless `got` is exactly zero (the strong zero).
pub(crate) fn exactly_zero(name: &str, at: impl fmt::Debug, got: f64) -> Result<(), String> {
    if got == 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{name}: a zero cotangent at {at:?} gave {got}, not exactly 0 (strong zero)"
        ))
    }
}

/// The same for every element of a tensor (a symbolic zero passes).
pub(crate) fn exactly_zero_tensor(
    name: &str,
    at: impl fmt::Debug,
    got: &Tensor,
) -> Result<(), String> {
    if got.is_symbolic_zero() {
        return Ok(());
    }
    match got.data().iter().find(|v| **v != 0.0) {
        None => Ok(()),
        Some(v) => Err(format!(
            "{name} (tensor): a zero cotangent at {at:?} gave {v}, not exactly 0 (strong zero)"
        )),
    }
}

/// Values in ±[lo, hi) with random signs: away from zero.
pub(crate) fn away_from_zero(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor {
    let signs = Tensor::rand(shape, seed + 1000).map(|u| if u < 0.5 { -1.0 } else { 1.0 });
    Tensor::uniform(shape, lo, hi, seed) * signs
}

// ---------------------------------------------------------------- the other rows

use Need::{Meta as M, Output as Y, Value as V};

macro_rules! row {
    ($name:literal, $call:literal, $rule:literal, $arity:literal, $on:ident, [$($ops:expr),*],
     $math:literal, strong $strong:literal, graph $graph:expr, $syntax:ident, $check:expr) => {
        Primitive {
            name: $name,
            call: $call,
            rule: $rule,
            arity: $arity,
            on: On::$on,
            operands: &[$($ops),*],
            math: $math,
            strong_zero: $strong,
            graph: $graph,
            syntax: Syntax::$syntax,
            check: $check,
        }
    };
}

use crate::ops::checks as c;

/// The rows not generated from `unary_rows!` and `binary_rows!`: operators,
/// powers, reductions, products, shape ops, the softmax family and the rest.
/// Each names its check, in `ops/checks.rs`.
pub static OTHER_ROWS: &[Primitive] = &[
    row!("+", "a + b", "add", 2, Both, [Some(&[M(0)]), Some(&[M(1)])],
        "ā += reduce(ȳ), b̄ += reduce(ȳ) (summed over broadcast dimensions)", strong false,
        graph Some("AddBackward0"), Operator, c::add),
    row!("-", "a - b", "sub", 2, Both, [Some(&[M(0)]), Some(&[M(1)])],
        "ā += reduce(ȳ), b̄ −= reduce(ȳ)", strong false, graph Some("SubBackward0"), Operator, c::sub),
    row!("*", "a * b", "mul", 2, Both, [Some(&[M(0), V(1)]), Some(&[V(0), M(1)])],
        "ā += reduce(ȳ · b), b̄ += reduce(ȳ · a)", strong false, graph Some("MulBackward0"), Operator, c::mul),
    row!("/", "a / b", "div", 2, Both, [Some(&[M(0), V(1)]), Some(&[V(0), V(1)])],
        "ā += reduce(ȳ / b), b̄ −= reduce(ȳ · a / b²)", strong true, graph Some("DivBackward0"), Operator, c::div),
    row!("neg", "-x", "neg", 1, Both, [Some(&[])], "x̄ −= ȳ", strong false, graph Some("NegBackward0"), Operator, c::neg),
    row!("clone", "x.clone()", "identity", 1, Both, [Some(&[])], "x̄ += ȳ", strong false, graph None, Method, c::clone),
    row!("powi", "x.powi(n)", "powi", 2, Both, [Some(&[V(0), V(1)]), None],
        "x̄ += ȳ · n · xⁿ⁻¹ (0 for n = 0)", strong true, graph Some("PowBackward0"), Method, c::powi),
    row!("powf", "x.powf(p)", "powf", 2, Both, [Some(&[V(0), V(1)]), Some(&[V(0), Y])],
        "x̄ += ȳ · p · xᵖ⁻¹, p̄ += Σ ȳ · y · ln x (0 where x = 0, as PyTorch)", strong true,
        graph Some("PowBackward0"), Method, c::powf),
    row!("log", "x.log(b)", "log_base", 2, F64, [Some(&[V(0), V(1)]), Some(&[V(0), V(1)])],
        "y = ln x / ln b: x̄ += ȳ / (x ln b), b̄ −= ȳ · ln x / (b (ln b)²)", strong true, graph None, Method, c::log_base),
    row!("sin_cos", "x.sin_cos()", "sin_cos", 1, F64, [Some(&[V(0)])],
        "(s, c) = (sin x, cos x): x̄ += s̄ · cos x − c̄ · sin x", strong false, graph None, Method, c::sin_cos),
    row!("mul_add", "x.mul_add(a, b)", "mul_add", 3, F64, [Some(&[V(1)]), Some(&[V(0)]), Some(&[])],
        "y = x·a + b: x̄ += ȳ · a, ā += ȳ · x, b̄ += ȳ", strong false, graph None, Method, c::mul_add),
    row!("clamp", "x.clamp(lo, hi)", "clamp", 3, Both,
        [Some(&[V(0), V(1), V(2)]), Some(&[V(0), V(1)]), Some(&[V(0), V(2)])],
        "x̄ += ȳ where lo ≤ x ≤ hi, lō += Σ ȳ where x < lo, hī += Σ ȳ where x > hi (a select)", strong false,
        graph Some("ClampBackward1"), Method, c::clamp),
    row!("max", "a.max(b)", "maximum", 2, F64, [Some(&[V(0), V(1)]), Some(&[V(0), V(1)])],
        "ā += ȳ where a > b, ȳ/2 where a = b (a select)", strong false, graph None, Method, c::max_f64),
    row!("min", "a.min(b)", "minimum", 2, F64, [Some(&[V(0), V(1)]), Some(&[V(0), V(1)])],
        "ā += ȳ where a < b, ȳ/2 where a = b (a select)", strong false, graph None, Method, c::min_f64),
    row!("maximum", "a.maximum(&b)", "maximum", 2, Both, [Some(&[V(0), V(1)]), Some(&[V(0), V(1)])],
        "ā += reduce(ȳ where a > b, ȳ/2 where a = b), b̄ likewise (a select)", strong false,
        graph Some("MaximumBackward0"), Method, c::maximum),
    row!("minimum", "a.minimum(&b)", "minimum", 2, Both, [Some(&[V(0), V(1)]), Some(&[V(0), V(1)])],
        "ā += reduce(ȳ where a < b, ȳ/2 where a = b), b̄ likewise (a select)", strong false,
        graph Some("MinimumBackward0"), Method, c::minimum),
    row!("max", "x.max()", "max", 1, Tensor, [Some(&[V(0), Y])],
        "x̄ += ȳ / k at each of the k positions where x = y", strong false, graph Some("MaxBackward1"), Method, c::max),
    row!("min", "x.min()", "min", 1, Tensor, [Some(&[V(0), Y])],
        "x̄ += ȳ / k at each of the k positions where x = y", strong false, graph Some("MinBackward1"), Method, c::min),
    row!("sum", "x.sum()", "sum", 1, Tensor, [Some(&[M(0)])], "x̄ += ȳ everywhere", strong false,
        graph Some("SumBackward0"), Method, c::sum),
    row!("mean", "x.mean()", "mean", 1, Tensor, [Some(&[M(0)])], "x̄ += ȳ / n everywhere", strong false,
        graph Some("MeanBackward0"), Method, c::mean),
    row!("sum_dim", "x.sum_dim(d)", "sum_dim", 2, Tensor, [Some(&[M(0), V(1)]), None],
        "x̄ += ȳ repeated along d", strong false, graph Some("SumBackward1"), Method, c::sum_dim),
    row!("mean_dim", "x.mean_dim(d)", "mean_dim", 2, Tensor, [Some(&[M(0), V(1)]), None],
        "x̄ += ȳ / size_d repeated along d", strong false, graph Some("MeanBackward1"), Method, c::mean_dim),
    row!("dot", "a.dot(&b)", "dot", 2, Tensor, [Some(&[V(1)]), Some(&[V(0)])],
        "ā += ȳ · b, b̄ += ȳ · a", strong false, graph Some("DotBackward0"), Method, c::dot),
    row!("norm", "x.norm()", "norm", 1, Tensor, [Some(&[V(0), Y])],
        "x̄ += ȳ · x / y (0 where y = 0, as PyTorch)", strong true,
        graph Some("LinalgVectorNormBackward0"), Method, c::norm),
    row!("matmul", "a.matmul(&b)", "matmul", 2, Tensor, [Some(&[V(1)]), Some(&[V(0)])],
        "ā += ȳ · bᵀ, b̄ += aᵀ · ȳ", strong false, graph Some("MmBackward0"), Method, c::matmul),
    row!("t", "x.t()", "t", 1, Tensor, [Some(&[])], "x̄ += ȳᵀ", strong false, graph Some("TBackward0"), Method, c::t),
    row!("transpose", "x.transpose()", "t", 1, Tensor, [Some(&[])], "x̄ += ȳᵀ", strong false,
        graph Some("TBackward0"), Method, c::transpose),
    row!("reshape", "x.reshape(&s)", "reshape", 2, Tensor, [Some(&[M(0)]), None],
        "x̄ += ȳ reshaped to x's shape", strong false, graph Some("ViewBackward0"), Method, c::reshape),
    row!("slice", "x.slice(d, a..b)", "slice", 3, Tensor, [Some(&[M(0), V(1), V(2)]), None, None],
        "x̄ += ȳ placed at a..b along d (zeros elsewhere)", strong false, graph Some("SliceBackward0"), Method, c::slice),
    row!("at", "x.at(&i)", "at", 2, Tensor, [Some(&[M(0), V(1)]), None],
        "x̄ += ȳ at i (zeros elsewhere)", strong false, graph Some("SelectBackward0"), Method, c::at),
    row!("item", "x.item()", "item", 1, Tensor, [Some(&[M(0)])],
        "x̄ += ȳ (x has one element)", strong false, graph None, Method, c::item),
    row!("to_vec", "x.to_vec()", "to_vec", 1, TensorOrSlice, [Some(&[M(0)])],
        "x̄ += ȳ (as x's shape)", strong false, graph None, Method, c::to_vec),
    row!("index", "x[i]", "index", 2, TensorOrSlice, [Some(&[M(0), V(1)]), None],
        "x̄ += ȳ at i (the macro adds in place when x is a variable)", strong false, graph None, RuntimeOnly, c::index),
    row!("softmax", "x.softmax(d)", "softmax", 2, Tensor, [Some(&[Y, V(1)]), None],
        "x̄ += y · (ȳ − Σ_d ȳ · y)", strong false, graph Some("SoftmaxBackward0"), Method, c::softmax),
    row!("log_softmax", "x.log_softmax(d)", "log_softmax", 2, Tensor, [Some(&[Y, V(1)]), None],
        "x̄ += ȳ − eʸ · Σ_d ȳ", strong false, graph Some("LogSoftmaxBackward0"), Method, c::log_softmax),
    row!("logsumexp", "x.logsumexp(d)", "logsumexp", 2, Tensor, [Some(&[V(0), Y, V(1)]), None],
        "x̄ += ȳ · e^(x − y) (ȳ, y repeated along d)", strong false, graph Some("LogsumexpBackward0"), Method, c::logsumexp),
    row!("where_", "x.where_(&cond, &other)", "where", 3, Tensor, [Some(&[V(1), M(0)]), None, Some(&[V(1), M(2)])],
        "y = cond ? x : other: x̄ += reduce(ȳ where cond), other̄ += reduce(ȳ where !cond) (a select)", strong false,
        graph Some("WhereBackward0"), Method, c::where_),
    row!("cat", "Tensor::cat(&[&a, &b, ..], d)", "cat", 0, Tensor, [],
        "each piece gets its slab of ȳ along d", strong false, graph Some("CatBackward0"), RuntimeOnly, c::cat),
    row!("stack", "Tensor::stack(&[&a, &b, ..], d)", "stack", 0, Tensor, [],
        "each piece gets its slice of ȳ at its index along the new dimension d", strong false,
        graph Some("StackBackward0"), RuntimeOnly, c::stack),
];
