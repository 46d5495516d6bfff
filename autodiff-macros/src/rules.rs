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
/// The rule reads only the cotangent (a constant derivative, or zero).
static UNARY_G: &[Option<&[Need]>] = &[Some(&[])];
static BINARY_VV: &[Option<&[Need]>] = &[Some(&[V(0), V(1)]), Some(&[V(0), V(1)])];

/// Methods, by name and number of operands (receiver included). The same
/// rows as the runtime's table of primitives (`autodiff-runtime/src/ops/table.rs`,
/// where the math and the checks are): `tests/primitive_table.rs` fails when
/// the two differ.
static METHODS: &[(&str, Rule)] = &[
    // Elementwise, one operand (the runtime's `unary_rows!`).
    ("sin", r("sin", 1, UNARY_X)),
    ("cos", r("cos", 1, UNARY_X)),
    ("tan", r("tan", 1, UNARY_Y)),
    ("tanh", r("tanh", 1, UNARY_Y)),
    ("exp", r("exp", 1, UNARY_Y)),
    ("ln", r("ln", 1, UNARY_X)),
    ("log", r("log", 1, UNARY_X)),
    ("sqrt", r("sqrt", 1, UNARY_Y)),
    ("abs", r("abs", 1, UNARY_X)),
    ("relu", r("relu", 1, UNARY_X)),
    ("sigmoid", r("sigmoid", 1, UNARY_Y)),
    ("recip", r("recip", 1, UNARY_Y)),
    ("atan", r("atan", 1, UNARY_X)),
    ("asin", r("asin", 1, UNARY_X)),
    ("acos", r("acos", 1, UNARY_X)),
    ("sinh", r("sinh", 1, UNARY_X)),
    ("cosh", r("cosh", 1, UNARY_X)),
    ("asinh", r("asinh", 1, UNARY_X)),
    ("acosh", r("acosh", 1, UNARY_X)),
    ("atanh", r("atanh", 1, UNARY_X)),
    ("exp2", r("exp2", 1, UNARY_Y)),
    ("exp_m1", r("exp_m1", 1, UNARY_Y)),
    ("ln_1p", r("ln_1p", 1, UNARY_X)),
    ("log2", r("log2", 1, UNARY_X)),
    ("log10", r("log10", 1, UNARY_X)),
    ("cbrt", r("cbrt", 1, UNARY_Y)),
    ("to_degrees", r("to_degrees", 1, UNARY_G)),
    ("to_radians", r("to_radians", 1, UNARY_G)),
    // Piecewise constant: a zero derivative (PyTorch's).
    ("floor", r("floor", 1, UNARY_G)),
    ("ceil", r("ceil", 1, UNARY_G)),
    ("round", r("round", 1, UNARY_G)),
    ("trunc", r("trunc", 1, UNARY_G)),
    ("signum", r("signum", 1, UNARY_G)),
    // Special functions (`special_erf`/`special_erfc` on f64, `erf`/`erfc` on tensors).
    ("erf", r("erf", 1, UNARY_X)),
    ("special_erf", r("erf", 1, UNARY_X)),
    ("erfc", r("erfc", 1, UNARY_X)),
    ("special_erfc", r("erfc", 1, UNARY_X)),
    ("ndtr", r("ndtr", 1, UNARY_X)),
    ("lgamma", r("lgamma", 1, UNARY_X)),
    ("digamma", r("digamma", 1, UNARY_X)),
    // Elementwise, two operands (the runtime's `binary_rows!`).
    ("atan2", r("atan2", 2, BINARY_VV)),
    ("hypot", r("hypot", 2, BINARY_VV)),
    // The others (the runtime's `OTHER_ROWS`).
    ("powi", r("powi", 2, &[Some(&[V(0), V(1)]), None])),
    (
        "powf",
        r("powf", 2, &[Some(&[V(0), V(1)]), Some(&[V(0), Y])]),
    ),
    ("log", r("log_base", 2, BINARY_VV)),
    ("sin_cos", r("sin_cos", 1, UNARY_X)),
    (
        "mul_add",
        r("mul_add", 3, &[Some(&[V(1)]), Some(&[V(0)]), Some(&[])]),
    ),
    (
        "clamp",
        r(
            "clamp",
            3,
            &[
                Some(&[V(0), V(1), V(2)]),
                Some(&[V(0), V(1)]),
                Some(&[V(0), V(2)]),
            ],
        ),
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
    // A one-element tensor to f64, and a tensor, Vec or slice to a Vec:
    // the gradient flows back (it used to be dropped).
    ("item", r("item", 1, &[Some(&[M(0)])])),
    ("to_vec", r("to_vec", 1, &[Some(&[M(0)])])),
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
        "where_",
        r(
            "where",
            3,
            &[Some(&[V(1), M(0)]), None, Some(&[V(1), M(2)])],
        ),
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

/// Methods whose result carries no gradient even on an active receiver, and
/// provably so: sizes and shapes, predicates and comparisons (their results
/// are `bool`s, orderings or indices), and `detach`. Anything else that an
/// active value reaches is either a row of [`METHODS`] or refused.
static INACTIVE_METHODS: &[&str] = &[
    // Sizes and shapes.
    "len",
    "is_empty",
    "shape",
    "ndim",
    "numel",
    "nrows",
    "ncols",
    // Predicates.
    "is_nan",
    "is_finite",
    "is_infinite",
    "is_normal",
    "is_subnormal",
    "is_sign_positive",
    "is_sign_negative",
    // Comparisons and orderings.
    "partial_cmp",
    "total_cmp",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "eq_elem",
    "ne_elem",
    "lt_elem",
    "le_elem",
    "gt_elem",
    "ge_elem",
    "allclose",
    "argmax",
    "argmin",
    // Stopping the gradient on purpose.
    "detach",
];

pub fn method(name: &str, arity: usize) -> Option<&'static Rule> {
    METHODS
        .iter()
        .chain(NALGEBRA_METHODS)
        .find(|(n, rule)| *n == name && rule.arity == arity)
        .map(|(_, rule)| rule)
}

pub fn method_known_any_arity(name: &str) -> bool {
    METHODS
        .iter()
        .chain(NALGEBRA_METHODS)
        .any(|(n, _)| *n == name)
}

// ---------------------------------------------------------------- nalgebra

/// Methods of nalgebra's vectors, matrices, points and rotations (their
/// rules: `autodiff-runtime/src/ops/nalgebra_rules.rs`). `+ − × ÷`, `dot`,
/// `norm`, `sum`, `mean` and `transpose` are the rows above.
static NALGEBRA_METHODS: &[(&str, Rule)] = &[
    ("cross", r("cross", 2, &[Some(&[V(1)]), Some(&[V(0)])])),
    (
        "component_mul",
        r("component_mul", 2, &[Some(&[V(1)]), Some(&[V(0)])]),
    ),
    (
        "component_div",
        r("component_div", 2, &[Some(&[V(1)]), Some(&[V(0), V(1)])]),
    ),
    ("magnitude", r("norm", 1, &[Some(&[V(0), Y])])),
    ("norm_squared", r("norm_squared", 1, &[Some(&[V(0)])])),
    ("magnitude_squared", r("norm_squared", 1, &[Some(&[V(0)])])),
    ("normalize", r("normalize", 1, &[Some(&[V(0)])])),
    ("trace", r("trace", 1, &[Some(&[M(0)])])),
    ("diagonal", r("diagonal", 1, &[Some(&[M(0)])])),
    ("determinant", r("determinant", 1, &[Some(&[V(0)])])),
    ("inverse", r("inverse", 1, &[Some(&[])])),
    (
        "scale",
        r("mul", 2, &[Some(&[M(0), V(1)]), Some(&[V(0), M(1)])]),
    ),
];

/// `m.try_inverse().unwrap()` (or `.expect(..)`), as one op whose rule reads
/// the inverse: `Ā = −A⁻ᵀ B̄ A⁻ᵀ`.
pub static TRY_INVERSE: Rule = Rule {
    rule: "try_inverse",
    arity: 1,
    operands: &[Some(&[Y])],
    expensive: true,
    identity: false,
};

/// `Tensor::from(xs)` of a slice, vector or array: `x̄s += t̄`.
pub static TENSOR_FROM: Rule = r("tensor_from", 1, &[Some(&[M(0)])]);

/// A component of a nalgebra vector or point read as a field (`v.x`): its
/// cotangent is the matching one-hot vector.
pub fn component(name: &str) -> Option<&'static Rule> {
    static X: Rule = r("x", 1, &[Some(&[M(0)])]);
    static Y_: Rule = r("y", 1, &[Some(&[M(0)])]);
    static Z: Rule = r("z", 1, &[Some(&[M(0)])]);
    static W: Rule = r("w", 1, &[Some(&[M(0)])]);
    match name {
        "x" => Some(&X),
        "y" => Some(&Y_),
        "z" => Some(&Z),
        "w" => Some(&W),
        _ => None,
    }
}

/// `t.k` of a tuple computed in the body (k < 6): `t̄ += (0, …, ḡ, …, 0)`.
pub fn tuple_field(k: usize) -> Option<&'static Rule> {
    static T: [Rule; 6] = [
        r("tuple0", 1, &[Some(&[])]),
        r("tuple1", 1, &[Some(&[])]),
        r("tuple2", 1, &[Some(&[])]),
        r("tuple3", 1, &[Some(&[])]),
        r("tuple4", 1, &[Some(&[])]),
        r("tuple5", 1, &[Some(&[])]),
    ];
    T.get(k)
}

/// Every operand differentiable, each rule reading only the cotangent
/// (a constructor: `Vector3::new(a, b, c)`).
static G: [Option<&[Need]>; 16] = [Some(&[]); 16];

/// nalgebra's types whose values `#[differentiable]` differentiates.
pub fn nalgebra_type(name: &str) -> bool {
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix).is_some_and(|rest| {
            let mut parts = rest.split('x');
            let ok = |p: Option<&str>| {
                p.is_some_and(|p| {
                    p.len() == 1 && ('1'..='6').contains(&p.chars().next().unwrap_or('0'))
                })
            };
            match (parts.next(), parts.next(), parts.next()) {
                (a, None, None) => ok(a),
                (a, b, None) => ok(a) && ok(b),
                _ => false,
            }
        })
    };
    matches!(
        name,
        "SVector"
            | "SMatrix"
            | "DVector"
            | "DMatrix"
            | "RowDVector"
            | "Rotation2"
            | "Rotation3"
            | "UnitQuaternion"
    ) || numbered("Vector")
        || numbered("RowVector")
        || numbered("Matrix")
        || numbered("Point")
}

/// An associated function of a nalgebra type (`Vector3::new(..)`,
/// `Rotation2::new(θ)`, `Matrix3::from_column_slice(..)`) by type, name and
/// number of arguments.
pub fn nalgebra_function(ty: &str, name: &str, arity: usize) -> Option<&'static Rule> {
    if !nalgebra_type(ty) && ty != "Unit" {
        return None;
    }
    static ROTATION2_NEW: Rule = r("rotation2_new", 1, &[Some(&[V(0)])]);
    static FROM_AXIS_ANGLE: Rule = r(
        "from_axis_angle",
        2,
        &[Some(&[V(0), V(1)]), Some(&[V(0), V(1)])],
    );
    static FROM_EULER: Rule = r(
        "from_euler_angles",
        3,
        &[
            Some(&[V(0), V(1), V(2)]),
            Some(&[V(0), V(1), V(2)]),
            Some(&[V(0), V(1), V(2)]),
        ],
    );
    static NEW_NORMALIZE: Rule = r("normalize", 1, &[Some(&[V(0)])]);
    static SLICE_1: Rule = r("from_column_slice", 1, &[Some(&[])]);
    static SLICE_3: Rule = r("from_column_slice", 3, &[None, None, Some(&[])]);
    static ROW_SLICE_1: Rule = r("from_row_slice", 1, &[Some(&[])]);
    static ROW_SLICE_3: Rule = r("from_row_slice", 3, &[None, None, Some(&[])]);
    static VEC_1: Rule = r("from_vec", 1, &[Some(&[])]);
    static VEC_3: Rule = r("from_vec", 3, &[None, None, Some(&[])]);
    static ELEMENT_1: Rule = r("from_element", 1, &[Some(&[])]);
    static ELEMENT_2: Rule = r("from_element", 2, &[None, Some(&[])]);
    static ELEMENT_3: Rule = r("from_element", 3, &[None, None, Some(&[])]);
    static DIAGONAL: Rule = r("from_diagonal", 1, &[Some(&[])]);
    static NEW: [Rule; 16] = {
        let mut rows = [const { r("new", 0, &[]) }; 16];
        let mut k = 0;
        while k < 16 {
            rows[k] = r("new", k + 1, G.split_at(k + 1).0);
            k += 1;
        }
        rows
    };
    let dynamic = ty.starts_with('D') || ty.starts_with("RowD");
    Some(match (ty, name, arity) {
        ("Rotation2", "new", 1) => &ROTATION2_NEW,
        ("Rotation3" | "UnitQuaternion", "from_axis_angle", 2) => &FROM_AXIS_ANGLE,
        ("Rotation3" | "UnitQuaternion", "from_euler_angles", 3) => &FROM_EULER,
        ("Unit", "new_normalize", 1) => &NEW_NORMALIZE,
        (_, "new", n)
            if (1..=16).contains(&n) && !ty.starts_with("Rotation") && !ty.starts_with("Unit") =>
        {
            &NEW[n - 1]
        }
        (_, "from_column_slice", 1) => &SLICE_1,
        (_, "from_column_slice", 3) => &SLICE_3,
        (_, "from_row_slice", 1) => &ROW_SLICE_1,
        (_, "from_row_slice", 3) => &ROW_SLICE_3,
        (_, "from_vec", 1) => &VEC_1,
        (_, "from_vec", 3) => &VEC_3,
        (_, "from_element" | "repeat", 1) if !dynamic => &ELEMENT_1,
        (_, "from_element" | "repeat", 2) => &ELEMENT_2,
        (_, "from_element" | "repeat", 3) => &ELEMENT_3,
        (_, "from_diagonal", 1) => &DIAGONAL,
        _ => return None,
    })
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

/// The differentiable method names closest to `name` (edit distance), for
/// the help of an unknown method: "closest: `atan2`, `atan`", or where to
/// find the list when none is close.
pub fn suggest(name: &str) -> String {
    let mut names: Vec<&str> = METHODS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    let limit = ((name.chars().count() + 1) / 3).max(1);
    let mut close: Vec<(usize, &str)> = names
        .into_iter()
        .map(|n| (edit_distance(name, n), n))
        .filter(|&(d, _)| d <= limit)
        .collect();
    close.sort_unstable();
    close.truncate(3);
    if close.is_empty() {
        "see README's list of primitives".to_string()
    } else {
        let names: Vec<String> = close.iter().map(|(_, n)| format!("`{n}`")).collect();
        format!("closest: {}", names.join(", "))
    }
}

/// Levenshtein distance (insertions, deletions, substitutions), by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// The rows of the table as a const expression, for the facade's test that
/// compares them with the runtime's table (`autodiff_macros::__primitive_rows!()`):
/// `&[(name, arity, rule, &[Some(&["value 0", "meta 1", "output"]) or None])]`,
/// the methods first, then the operators (named `+ - * /` and `neg`).
pub fn rows_tokens() -> proc_macro2::TokenStream {
    use quote::quote;
    let need = |n: &Need| match n {
        Need::Value(i) => format!("value {i}"),
        Need::Meta(i) => format!("meta {i}"),
        Need::Output => "output".to_string(),
    };
    let operators: [(&str, &Rule); 5] = [
        ("+", &ADD),
        ("-", &SUB),
        ("*", &MUL),
        ("/", &DIV),
        ("neg", &NEG),
    ];
    let rows = METHODS.iter().map(|(n, r)| (*n, r)).chain(operators).map(|(name, rule)| {
        let arity = rule.arity;
        let rule_name = rule.rule;
        let operands = rule.operands.iter().map(|op| match op {
            Some(needs) => {
                let needs = needs.iter().map(need);
                quote!(::core::option::Option::Some(&[#(#needs),*] as &[&str]))
            }
            None => quote!(::core::option::Option::None),
        });
        quote!((#name, #arity, #rule_name, &[#(#operands),*] as &[::core::option::Option<&[&str]>]))
    });
    quote!(&[#(#rows),*] as &[(&str, usize, &str, &[::core::option::Option<&[&str]>])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("atan3", "atan2"), 1);
        assert_eq!(edit_distance("", "sin"), 3);
        assert_eq!(edit_distance("sinus", "sin"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_are_the_closest_names() {
        assert_eq!(suggest("atan3"), "closest: `atan`, `atan2`, `atanh`");
        assert_eq!(suggest("logsoftmax"), "closest: `log_softmax`, `softmax`");
        assert_eq!(suggest("rem_euclid"), "see README's list of primitives");
        assert_eq!(suggest("push"), "see README's list of primitives");
        assert_eq!(suggest("sinus"), "closest: `signum`, `sin`, `sinh`");
    }
}
