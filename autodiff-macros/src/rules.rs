//! The table of primitive operations the macro knows how to differentiate.
//!
//! Each row names the runtime's rule functions (`rules::<rule>_d<k>`) and what
//! each of them reads. The macro only decides *what to keep for the reverse*
//! from this table; the derivative math itself lives in the runtime, beside
//! each op's value (one source of truth).

/// What a rule reads to compute one operand's cotangent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Need {
    /// The value of operand i.
    Value(usize),
    /// The shape of operand i (`__private::meta`), e.g. to undo broadcasting.
    Meta(usize),
    /// The op's own result.
    Output,
}

use Need::{Meta as M, Output as Y, Value as V};

#[derive(Debug)]
pub struct Rule {
    /// Prefix of the runtime rule functions: `rules::<rule>_d<k>`.
    pub rule: &'static str,
    /// Operands, the receiver of a method counted first.
    pub arity: usize,
    /// For each operand: `Some(needs)` if it is differentiable, with what its rule reads.
    pub operands: &'static [Option<&'static [Need]>],
    /// Kept rather than recomputed in the reverse: it costs more than it stores.
    pub expensive: bool,
    /// The cotangent passes through unchanged (`clone`, `as f64`).
    pub identity: bool,
}

const fn r(rule: &'static str, arity: usize, operands: &'static [Option<&'static [Need]>]) -> Rule {
    Rule {
        rule,
        arity,
        operands,
        expensive: false,
        identity: false,
    }
}

pub static ADD: Rule = r("add", 2, &[Some(&[M(0)]), Some(&[M(1)])]);
pub static SUB: Rule = r("sub", 2, &[Some(&[M(0)]), Some(&[M(1)])]);
pub static MUL: Rule = r("mul", 2, &[Some(&[M(0), V(1)]), Some(&[V(0), M(1)])]);
pub static DIV: Rule = r("div", 2, &[Some(&[M(0), V(1)]), Some(&[V(0), V(1)])]);
pub static NEG: Rule = r("neg", 1, &[Some(&[])]);
pub static IDENTITY: Rule = Rule {
    rule: "identity",
    arity: 1,
    operands: &[Some(&[])],
    expensive: false,
    identity: true,
};

static UNARY_X: &[Option<&[Need]>] = &[Some(&[V(0)])];
static UNARY_Y: &[Option<&[Need]>] = &[Some(&[Y])];
static BINARY_VV: &[Option<&[Need]>] = &[Some(&[V(0), V(1)]), Some(&[V(0), V(1)])];

/// Methods, by name and number of operands (receiver included).
static METHODS: &[(&str, Rule)] = &[
    ("sin", r("sin", 1, UNARY_X)),
    ("cos", r("cos", 1, UNARY_X)),
    ("tan", r("tan", 1, UNARY_Y)),
    ("tanh", r("tanh", 1, UNARY_Y)),
    ("exp", r("exp", 1, UNARY_Y)),
    ("ln", r("ln", 1, UNARY_X)),
    ("log", r("ln", 1, UNARY_X)),
    ("sqrt", r("sqrt", 1, UNARY_Y)),
    ("abs", r("abs", 1, UNARY_X)),
    ("relu", r("relu", 1, UNARY_X)),
    ("sigmoid", r("sigmoid", 1, UNARY_Y)),
    ("recip", r("recip", 1, UNARY_Y)),
    ("powi", r("powi", 2, &[Some(&[V(0), V(1)]), None])),
    (
        "powf",
        r("powf", 2, &[Some(&[V(0), V(1)]), Some(&[V(0), Y])]),
    ),
    ("max", r("maximum", 2, BINARY_VV)),
    ("min", r("minimum", 2, BINARY_VV)),
    ("maximum", r("maximum", 2, BINARY_VV)),
    ("minimum", r("minimum", 2, BINARY_VV)),
    ("max", r("max", 1, &[Some(&[V(0), Y])])),
    ("min", r("min", 1, &[Some(&[V(0), Y])])),
    ("sum", r("sum", 1, &[Some(&[M(0)])])),
    ("mean", r("mean", 1, &[Some(&[M(0)])])),
    ("sum_dim", r("sum_dim", 2, &[Some(&[M(0), V(1)]), None])),
    ("mean_dim", r("mean_dim", 2, &[Some(&[M(0), V(1)]), None])),
    ("dot", r("dot", 2, &[Some(&[V(1)]), Some(&[V(0)])])),
    ("norm", r("norm", 1, &[Some(&[V(0), Y])])),
    (
        "matmul",
        Rule {
            rule: "matmul",
            arity: 2,
            operands: &[Some(&[V(1)]), Some(&[V(0)])],
            expensive: true,
            identity: false,
        },
    ),
    ("t", r("t", 1, &[Some(&[])])),
    ("transpose", r("t", 1, &[Some(&[])])),
    ("reshape", r("reshape", 2, &[Some(&[M(0)]), None])),
    (
        "slice",
        r("slice", 3, &[Some(&[M(0), V(1), V(2)]), None, None]),
    ),
    ("at", r("at", 2, &[Some(&[M(0), V(1)]), None])),
    ("softmax", r("softmax", 2, &[Some(&[Y, V(1)]), None])),
    (
        "log_softmax",
        r("log_softmax", 2, &[Some(&[Y, V(1)]), None]),
    ),
    (
        "logsumexp",
        r("logsumexp", 2, &[Some(&[V(0), Y, V(1)]), None]),
    ),
    (
        "clone",
        Rule {
            rule: "identity",
            arity: 1,
            operands: &[Some(&[])],
            expensive: false,
            identity: true,
        },
    ),
];

/// Methods whose result carries no gradient even on an active receiver:
/// sizes, predicates, and piecewise-constant functions (PyTorch gives them a
/// zero gradient, which is what an inactive result means).
static INACTIVE_METHODS: &[&str] = &[
    "len",
    "is_empty",
    "shape",
    "ndim",
    "numel",
    "nrows",
    "ncols",
    "is_nan",
    "is_finite",
    "is_infinite",
    "is_normal",
    "is_sign_positive",
    "is_sign_negative",
    "signum",
    "floor",
    "ceil",
    "round",
    "trunc",
    "partial_cmp",
    "total_cmp",
    "to_string",
    "item",
    "detach",
    "eq_elem",
    "to_bits",
    "data",
    "to_vec",
    "argmax",
    "argmin",
];

pub fn method(name: &str, arity: usize) -> Option<&'static Rule> {
    METHODS
        .iter()
        .find(|(n, rule)| *n == name && rule.arity == arity)
        .map(|(_, rule)| rule)
}

pub fn method_known_any_arity(name: &str) -> bool {
    METHODS.iter().any(|(n, _)| *n == name)
}

pub fn inactive_method(name: &str) -> bool {
    INACTIVE_METHODS.contains(&name)
}

pub fn binary(op: &syn::BinOp) -> Option<&'static Rule> {
    use syn::BinOp::*;
    match op {
        Add(_) | AddAssign(_) => Some(&ADD),
        Sub(_) | SubAssign(_) => Some(&SUB),
        Mul(_) | MulAssign(_) => Some(&MUL),
        Div(_) | DivAssign(_) => Some(&DIV),
        _ => None,
    }
}

/// Names of methods the runtime offers, for "did you mean" style help.
pub fn known_methods() -> String {
    let mut names: Vec<&str> = METHODS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}
