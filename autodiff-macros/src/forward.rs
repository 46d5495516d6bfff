//! Forward mode as a source transformation: the function's body, rewritten
//! so that every active value carries a *tangent* of the same type beside
//! it (`let y = x.sin();` gains `let __adf_d_y = ẋ · x.cos();`).
//!
//! The rewrite works on `syn` directly, independently of the reverse-mode
//! IR: control flow stays as written (the primal path decides), each active
//! `let` and assignment gets a tangent twin computed with the same
//! primitives, and a call to another differentiable function goes through
//! that function's forward mode (`g::__ad_jvp`). Tangent rules are Rust
//! expressions of the primitives themselves (`a * b` → `ȧ·b + a·ḃ`), so the
//! generated code is ordinary Rust that reverse mode can differentiate
//! again: that is how second derivatives are made (see `higher.rs`).
//!
//! Activity is "depends on a differentiated input" (a tangent is computed
//! even if the value never reaches the output). It is found by running the
//! rewrite until no binding changes its mind: a `let` that a loop later
//! assigns an active value needs a tangent from the start.
//!
//! Anything an active value reaches that the rewrite cannot give an exact
//! tangent for is a [`Refusal`]: the caller turns it into a compile error at
//! that span when forward mode is used (never a silently wrong tangent).

use crate::signature::Signature;
use crate::syntax::{destructure, mentioned_names, pattern_names, peel, token_idents};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use std::collections::HashMap;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Pat};

/// Why forward mode cannot differentiate a function, and where.
#[derive(Clone)]
pub struct Refusal {
    pub span: Span,
    pub message: String,
}

/// The rewritten body.
pub struct Forward {
    /// The statements of `__ad_jvp`'s body, ending in `(value, tangent)`.
    pub body: TokenStream,
    /// The body calls other differentiable functions (their forward mode,
    /// which may be refused where they are defined).
    pub calls: bool,
    /// Reverse mode cannot differentiate the rewritten body exactly (no
    /// second derivatives), and why.
    pub second_order_blocked: Option<Refusal>,
}

/// Rewrites `block` into the body of the forward-mode function: parameters
/// and their tangents `__adf_d_<name>` in scope, result `(value, tangent)`.
pub fn transform(
    sig: &Signature,
    block: &syn::Block,
    rt: &TokenStream,
) -> Result<Forward, Refusal> {
    let mut f = Fwd {
        sig,
        rt: rt.clone(),
        active: Vec::new(),
        keys: HashMap::new(),
        scopes: Vec::new(),
        names: Vec::new(),
        changed: false,
        tail_active: false,
        refusal: None,
        temps: 0,
        calls: false,
        closures: HashMap::new(),
        splits: HashMap::new(),
        second_order_blocked: None,
        block_labels: Vec::new(),
    };
    // Run until activity is stable; the last run's code is the answer.
    for _ in 0..64 {
        f.changed = false;
        f.refusal = None;
        f.temps = 0;
        f.calls = false;
        f.scopes = vec![Vec::new()];
        f.closures.clear();
        f.splits.clear();
        f.second_order_blocked = None;
        let body = f.function(block);
        if !f.changed {
            if let Some(r) = f.refusal.take() {
                return Err(r);
            }
            return Ok(Forward {
                body,
                calls: f.calls,
                second_order_blocked: f.second_order_blocked.take(),
            });
        }
    }
    Err(Refusal {
        span: block.span(),
        message: "forward mode: the activity of this function's values did not settle".into(),
    })
}

/// The tangent of a parameter (or any binding) named `ident`.
pub fn tangent_ident(ident: &syn::Ident) -> syn::Ident {
    let name = syn::ext::IdentExt::unraw(ident).to_string();
    format_ident!("__adf_d_{}", name, span = ident.span())
}

/// A value of the rewritten code: as written (inactive), or a primal and
/// its tangent (each an expression, usually a temporary or a place).
#[derive(Clone)]
enum Val {
    Inactive(TokenStream),
    Active {
        p: TokenStream,
        t: TokenStream,
    },
    /// A tuple whose parts are kept apart, so that a part without a tangent
    /// (an index from `enumerate`) needs none.
    Tuple(Vec<Val>),
}

impl Val {
    fn is_active(&self) -> bool {
        match self {
            Val::Inactive(_) => false,
            Val::Active { .. } => true,
            Val::Tuple(parts) => parts.iter().any(Val::is_active),
        }
    }
    fn p(&self) -> TokenStream {
        match self {
            Val::Inactive(p) | Val::Active { p, .. } => p.clone(),
            Val::Tuple(parts) => {
                let ps = parts.iter().map(Val::p);
                quote!((#(#ps,)*))
            }
        }
    }
}

/// Where the value of a block's tail goes.
#[derive(Clone)]
enum Tail {
    /// A statement block: the tail is evaluated for its effects.
    Stmt,
    /// `p = value; t = tangent;` (`t` absent: the value carries none).
    Assign {
        p: syn::Ident,
        t: Option<syn::Ident>,
    },
}

struct Closure {
    inputs: Vec<Pat>,
    body: Expr,
    names: Vec<(String, Option<usize>)>,
}

struct Fwd<'a> {
    sig: &'a Signature,
    rt: TokenStream,
    /// Per binding: carries a tangent. A binding is known by its name and
    /// the span of the identifier that declares it, which stay the same
    /// from one run to the next even when the runs take different paths.
    active: Vec<bool>,
    keys: HashMap<(String, String), usize>,
    scopes: Vec<Vec<(String, usize)>>,
    /// Per binding: its identifier (for the tangent's name).
    names: Vec<syn::Ident>,
    changed: bool,
    /// A tail turned out active where its target had no tangent.
    tail_active: bool,
    refusal: Option<Refusal>,
    temps: usize,
    calls: bool,
    closures: HashMap<usize, Closure>,
    /// Bindings of tuples kept apart: which parts have a tangent.
    splits: HashMap<usize, Vec<bool>>,
    /// Why reverse mode could not differentiate the rewritten code again.
    second_order_blocked: Option<Refusal>,
    /// Labeled blocks open around the code, innermost last, with where
    /// their value goes.
    block_labels: Vec<(String, Tail)>,
}

/// The tangent of part `k` of a tuple kept apart.
fn split_ident(ident: &syn::Ident, k: usize) -> syn::Ident {
    format_ident!(
        "__adf_d_{}_{}",
        syn::ext::IdentExt::unraw(ident).to_string(),
        k,
        span = ident.span()
    )
}

/// Part `k` of a tuple kept apart.
fn part_ident(ident: &syn::Ident, k: usize) -> syn::Ident {
    format_ident!(
        "__adf_s_{}_{}",
        syn::ext::IdentExt::unraw(ident).to_string(),
        k,
        span = ident.span()
    )
}

/// A name for a generated binding that stays the same from run to run: from
/// the span of the code it comes from.
fn stable_ident(prefix: &str, span: Span) -> syn::Ident {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{span:?}").hash(&mut h);
    format_ident!("{}{:08x}", prefix, h.finish() as u32)
}

fn is_literal(e: &Expr) -> bool {
    match peel(e) {
        Expr::Lit(_) => true,
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => is_literal(&u.expr),
        _ => false,
    }
}

/// Pure and cheap: evaluating it twice is the same as once.
fn simple(e: &Expr) -> bool {
    match peel(e) {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => simple(&u.expr),
        Expr::Reference(r) => r.mutability.is_none() && simple(&r.expr),
        Expr::Field(f) => simple(&f.base),
        _ => false,
    }
}

/// Pure and cheap enough to evaluate twice (in the primal and in the
/// tangent): literals, names, ranges, arithmetic, casts, sizes.
fn pure(e: &Expr) -> bool {
    match peel(e) {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Unary(u) => !matches!(u.op, syn::UnOp::Deref(_)) && pure(&u.expr),
        Expr::Reference(r) => r.mutability.is_none() && pure(&r.expr),
        Expr::Field(f) => pure(&f.base),
        Expr::Index(i) => pure(&i.expr) && pure(&i.index),
        Expr::Range(r) => r.start.as_deref().is_none_or(pure) && r.end.as_deref().is_none_or(pure),
        Expr::Array(a) => a.elems.iter().all(pure),
        Expr::Tuple(t) => t.elems.iter().all(pure),
        Expr::Binary(b) => compound_to_binary(&b.op).is_none() && pure(&b.left) && pure(&b.right),
        Expr::Cast(c) => pure(&c.expr),
        Expr::MethodCall(m) => {
            m.args.is_empty()
                && crate::rules::inactive_method(&m.method.to_string())
                && pure(&m.receiver)
        }
        _ => false,
    }
}

/// `(v).clone()`, or the literal itself: a use of a value that leaves it
/// usable (tensors share storage; `f64` is a copy).
fn c(v: &TokenStream) -> TokenStream {
    let lit = matches!(syn::parse2::<Expr>(v.clone()), Ok(e) if is_literal(&e));
    if lit { v.clone() } else { quote!((#v).clone()) }
}

const READ_ONLY_MACROS: &[&str] = &[
    "print",
    "println",
    "eprint",
    "eprintln",
    "format",
    "format_args",
    "write",
    "writeln",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "panic",
    "unreachable",
    "todo",
    "unimplemented",
    "dbg",
    "matches",
    "cfg",
];

const PRIMITIVE_TYPES: &[&str] = &[
    "f64", "f32", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
    "usize", "bool", "char", "str",
];

/// Methods whose tangent rule forward mode knows, with their arity
/// (receiver included).
const FORWARD_METHODS: &[(&str, usize)] = &[
    ("sin", 1),
    ("cos", 1),
    ("tan", 1),
    ("tanh", 1),
    ("exp", 1),
    ("ln", 1),
    ("log", 1),
    ("sqrt", 1),
    ("abs", 1),
    ("relu", 1),
    ("sigmoid", 1),
    ("recip", 1),
    ("powi", 2),
    ("powf", 2),
    ("max", 2),
    ("min", 2),
    ("maximum", 2),
    ("minimum", 2),
    ("max", 1),
    ("min", 1),
    ("sum", 1),
    ("mean", 1),
    ("sum_dim", 2),
    ("mean_dim", 2),
    ("dot", 2),
    ("norm", 1),
    ("matmul", 2),
    ("t", 1),
    ("transpose", 1),
    ("reshape", 2),
    ("slice", 3),
    ("at", 2),
    ("softmax", 2),
    ("log_softmax", 2),
    ("logsumexp", 2),
    ("clone", 1),
    // The rest of the elementwise table (`ops/table.rs`), each tangent
    // written with primitives so that second derivatives go through it.
    ("atan", 1),
    ("asin", 1),
    ("acos", 1),
    ("sinh", 1),
    ("cosh", 1),
    ("asinh", 1),
    ("acosh", 1),
    ("atanh", 1),
    ("exp2", 1),
    ("exp_m1", 1),
    ("ln_1p", 1),
    ("log2", 1),
    ("log10", 1),
    ("cbrt", 1),
    ("to_degrees", 1),
    ("to_radians", 1),
    ("floor", 1),
    ("ceil", 1),
    ("round", 1),
    ("trunc", 1),
    ("signum", 1),
    ("erf", 1),
    ("special_erf", 1),
    ("erfc", 1),
    ("special_erfc", 1),
    ("ndtr", 1),
    ("lgamma", 1),
    ("atan2", 2),
    ("hypot", 2),
    ("log", 2),
    ("mul_add", 3),
    ("clamp", 3),
    ("where_", 3),
];

fn forward_method(name: &str, arity: usize) -> bool {
    FORWARD_METHODS
        .iter()
        .any(|(n, a)| *n == name && *a == arity)
}

/// Operands a method's tangent rule may differentiate (the others are
/// sizes, dimensions, exponents: they must be inactive).
fn differentiable_operand(name: &str, k: usize) -> bool {
    match name {
        "powf" | "max" | "min" | "maximum" | "minimum" | "dot" | "matmul" | "atan2" | "hypot"
        | "log" => k < 2,
        "mul_add" | "clamp" => k < 3,
        "where_" => k == 0 || k == 2,
        _ => k == 0,
    }
}

fn contains_return(e: &Expr) -> bool {
    struct Returns(bool);
    impl<'ast> Visit<'ast> for Returns {
        fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
            self.0 = true;
        }
        // `break 'a value` out of a labeled block: its value goes where the
        // block's goes.
        fn visit_expr_break(&mut self, b: &'ast syn::ExprBreak) {
            if b.label.is_some() && b.expr.is_some() {
                self.0 = true;
            }
            syn::visit::visit_expr_break(self, b);
        }
        fn visit_expr_try(&mut self, _: &'ast syn::ExprTry) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut r = Returns(false);
    r.visit_expr(e);
    r.0
}

/// The `let` parts of a condition (`if let`, let chains).
fn condition_lets(e: &Expr) -> Vec<&syn::ExprLet> {
    fn walk<'e>(e: &'e Expr, acc: &mut Vec<&'e syn::ExprLet>) {
        match peel(e) {
            Expr::Let(l) => acc.push(l),
            Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_)) => {
                walk(&b.left, acc);
                walk(&b.right, acc);
            }
            _ => {}
        }
    }
    let mut acc = Vec::new();
    walk(e, &mut acc);
    acc
}

fn has_let(e: &Expr) -> bool {
    !condition_lets(e).is_empty()
}

/// Does evaluating the expression do more than compute a value: assign,
/// run statements, branch, loop or leave? (Closures count only if they
/// assign.)
fn effectful(e: &Expr) -> bool {
    struct Effects {
        found: bool,
    }
    impl<'ast> Visit<'ast> for Effects {
        fn visit_expr(&mut self, e: &'ast Expr) {
            let effect = match e {
                Expr::Assign(_) => true,
                Expr::Binary(b) => compound_to_binary(&b.op).is_some(),
                Expr::Block(_)
                | Expr::If(_)
                | Expr::Match(_)
                | Expr::Loop(_)
                | Expr::While(_)
                | Expr::ForLoop(_)
                | Expr::Break(_)
                | Expr::Continue(_)
                | Expr::Return(_)
                | Expr::Unsafe(_)
                | Expr::Try(_) => true,
                Expr::Closure(_) => return,
                _ => false,
            };
            if effect {
                self.found = true;
                return;
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = Effects { found: false };
    v.visit_expr(e);
    v.found
}

/// `a && b` as `if a { b } else { false }` and `a || b` as
/// `if a { true } else { b }`, wherever `b` has effects.
fn short_circuits(e: &Expr) -> Expr {
    match peel(e) {
        Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_) | syn::BinOp::Or(_)) => {
            let (l, r) = (short_circuits(&b.left), short_circuits(&b.right));
            if matches!(b.op, syn::BinOp::And(_)) {
                syn::parse_quote!(if #l { #r } else { false })
            } else {
                syn::parse_quote!(if #l { true } else { #r })
            }
        }
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Not(_)) => {
            let inner = short_circuits(&u.expr);
            syn::parse_quote!(!(#inner))
        }
        other => other.clone(),
    }
}

fn compound_to_binary(op: &syn::BinOp) -> Option<syn::BinOp> {
    use syn::BinOp::*;
    Some(match op {
        AddAssign(t) => Add(syn::Token![+](t.spans[0])),
        SubAssign(t) => Sub(syn::Token![-](t.spans[0])),
        MulAssign(t) => Mul(syn::Token![*](t.spans[0])),
        DivAssign(t) => Div(syn::Token![/](t.spans[0])),
        RemAssign(t) => Rem(syn::Token![%](t.spans[0])),
        BitXorAssign(t) => BitXor(syn::Token![^](t.spans[0])),
        BitAndAssign(t) => BitAnd(syn::Token![&](t.spans[0])),
        BitOrAssign(t) => BitOr(syn::Token![|](t.spans[0])),
        ShlAssign(t) => Shl(syn::Token![<<](t.spans[0])),
        ShrAssign(t) => Shr(syn::Token![>>](t.spans[0])),
        _ => return None,
    })
}

impl Fwd<'_> {
    // ------------------------------------------------------------ bindings

    fn declare(&mut self, ident: &syn::Ident) -> usize {
        let name = syn::ext::IdentExt::unraw(ident).to_string();
        let key = (name, format!("{:?}", ident.span()));
        let id = match self.keys.get(&key) {
            Some(id) => *id,
            None => {
                let id = self.active.len();
                self.active.push(false);
                self.names.push(ident.clone());
                self.keys.insert(key, id);
                id
            }
        };
        self.scopes
            .last_mut()
            .expect("a scope is open")
            .push((syn::ext::IdentExt::unraw(ident).to_string(), id));
        id
    }

    fn resolve(&self, name: &str) -> Option<usize> {
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    fn mark(&mut self, id: usize) {
        if !self.active[id] {
            self.active[id] = true;
            self.changed = true;
        }
    }

    fn tangent(&self, id: usize) -> syn::Ident {
        tangent_ident(&self.names[id])
    }

    fn refuse(&mut self, span: Span, message: impl Into<String>) {
        if self.refusal.is_none() {
            self.refusal = Some(Refusal {
                span,
                message: message.into(),
            });
        }
    }

    fn temp(&mut self) -> (syn::Ident, syn::Ident) {
        self.temps += 1;
        (
            format_ident!("__adf_p{}", self.temps),
            format_ident!("__adf_t{}", self.temps),
        )
    }

    fn private(&self) -> TokenStream {
        let rt = &self.rt;
        quote!(#rt::__private)
    }

    /// `zero_of(&v)`: a zero tangent shaped like `v`.
    fn zero(&self, v: &TokenStream) -> TokenStream {
        let rt = &self.rt;
        let private = self.private();
        // A literal's zero is a literal (its type comes from where it goes).
        if let Ok(e) = syn::parse2::<Expr>(v.clone())
            && is_literal(&e)
        {
            return quote!(0.0);
        }
        quote!(#rt::stop_gradient(#private::fwd::zero_of(&(#v))))
    }

    /// Does the expression mention an active binding (or a closure that does)?
    fn mentions_active(&self, e: &Expr) -> bool {
        mentioned_names(e).iter().any(|n| {
            self.resolve(n)
                .is_some_and(|id| self.active[id] || self.captures_active(id))
        })
    }

    /// Does the closure bound to `id` capture an active binding, itself or
    /// through the closures it calls?
    fn captures_active(&self, id: usize) -> bool {
        let mut seen = vec![id];
        let mut todo = vec![id];
        while let Some(c) = todo.pop() {
            let Some(closure) = self.closures.get(&c) else {
                continue;
            };
            for b in closure.names.iter().filter_map(|(_, b)| *b) {
                if self.active[b] {
                    return true;
                }
                if !seen.contains(&b) {
                    seen.push(b);
                    todo.push(b);
                }
            }
        }
        false
    }

    // ------------------------------------------------------------ function

    fn function(&mut self, block: &syn::Block) -> TokenStream {
        let mut out = Vec::new();
        // (A struct's `#[no_grad]` fields carry no tangent: `jvp` and the
        // zeros given to callees reset them, see `higher.rs`.)
        for p in &self.sig.params {
            let id = self.declare(&p.ident);
            if p.active {
                self.mark(id);
            }
        }
        let rt = &self.rt;
        let ty = &self.sig.output;
        let (po, to) = (format_ident!("__adf_out"), format_ident!("__adf_dout"));
        let n = block.stmts.len();
        let simple_tail = matches!(block.stmts.last(), Some(syn::Stmt::Expr(e, None))
            if !matches!(peel(e), Expr::If(_) | Expr::Match(_) | Expr::Block(_) | Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) | Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) | Expr::Unsafe(_)));
        self.scopes.push(Vec::new());
        if simple_tail {
            for stmt in &block.stmts[..n - 1] {
                self.stmt(stmt, &mut out);
            }
            let Some(syn::Stmt::Expr(e, None)) = block.stmts.last() else {
                unreachable!()
            };
            let v = self.ex(e, &mut out);
            out.push(self.result(&v));
        } else {
            out.push(quote!(let #po: #ty; let #to: <#ty as #rt::Differentiable>::Tangent;));
            let tail = Tail::Assign {
                p: po.clone(),
                t: Some(to.clone()),
            };
            for (i, stmt) in block.stmts.iter().enumerate() {
                match stmt {
                    syn::Stmt::Expr(e, None) if i + 1 == n => self.tail(e, &tail, &mut out),
                    _ => self.stmt(stmt, &mut out),
                }
            }
            out.push(quote!((#po, #to)));
        }
        self.scopes.pop();
        quote!(#(#out)*)
    }

    /// `(value, tangent)` of a value leaving the function.
    fn result(&self, v: &Val) -> TokenStream {
        match v {
            Val::Tuple(_) => unreachable!("a solid value"),
            Val::Active { p, t } => quote!((#p, #t)),
            Val::Inactive(p) => {
                let zero = self.zero(&quote!(__adf_r));
                quote!({ let __adf_r = #p; let __adf_dr = #zero; (__adf_r, __adf_dr) })
            }
        }
    }

    // ------------------------------------------------------------ statements

    fn block(&mut self, block: &syn::Block, tail: &Tail) -> TokenStream {
        self.scopes.push(Vec::new());
        let mut out = Vec::new();
        let n = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            match stmt {
                syn::Stmt::Expr(e, None) if i + 1 == n => self.tail(e, tail, &mut out),
                _ => self.stmt(stmt, &mut out),
            }
        }
        self.scopes.pop();
        quote!({ #(#out)* })
    }

    /// A block's tail expression.
    fn tail(&mut self, e: &Expr, tail: &Tail, out: &mut Vec<TokenStream>) {
        match tail {
            Tail::Stmt => self.expr_stmt(e, out),
            Tail::Assign { p, t } => match peel(e) {
                Expr::If(_) | Expr::Match(_) | Expr::Block(_) => self.control(peel(e), tail, out),
                Expr::Return(_)
                | Expr::Break(_)
                | Expr::Continue(_)
                | Expr::Loop(_)
                | Expr::While(_)
                | Expr::ForLoop(_) => self.expr_stmt(e, out),
                _ => {
                    let v = self.ex(e, out);
                    match (t, v) {
                        (_, Val::Tuple(_)) => unreachable!("a solid value"),
                        (Some(t), Val::Active { p: vp, t: vt }) => {
                            out.push(quote!(#p = #vp; #t = #vt;))
                        }
                        (Some(t), Val::Inactive(vp)) => {
                            let zero = self.zero(&quote!(#p));
                            out.push(quote!(#p = #vp; #t = #zero;));
                        }
                        (None, v) => {
                            if v.is_active() {
                                self.tail_active = true;
                            }
                            let vp = v.p();
                            out.push(quote!(#p = #vp;));
                        }
                    }
                }
            },
        }
    }

    fn stmt(&mut self, stmt: &syn::Stmt, out: &mut Vec<TokenStream>) {
        match stmt {
            syn::Stmt::Local(local) => self.local(local, out),
            syn::Stmt::Item(item) => out.push(item.to_token_stream()),
            syn::Stmt::Macro(m) => {
                let name = m
                    .mac
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                if !READ_ONLY_MACROS.contains(&name.as_str())
                    && self.mentions_active_tokens(&m.mac.tokens)
                {
                    self.refuse(m.mac.path.span(), format!("forward mode cannot differentiate through the macro `{name}!`: it could change an active value behind the tangent's back"));
                }
                out.push(m.to_token_stream());
            }
            syn::Stmt::Expr(e, _) => self.expr_stmt(e, out),
        }
    }

    fn mentions_active_tokens(&self, t: &TokenStream) -> bool {
        let mut names = Vec::new();
        token_idents(t.clone(), &mut names);
        names
            .iter()
            .any(|n| self.resolve(n).is_some_and(|id| self.active[id]))
    }

    fn local(&mut self, local: &syn::Local, out: &mut Vec<TokenStream>) {
        let Some(init) = &local.init else {
            // `let x;` (assigned later): its tangent is declared beside it.
            let ids = self.declare_pattern(&local.pat);
            out.push(local.to_token_stream());
            if ids.iter().any(|id| self.active[*id]) {
                let mirror = self.mirror(&local.pat);
                out.push(quote!(let #mirror;));
            }
            return;
        };
        if let Some((else_token, diverge)) = &init.diverge {
            // `let pat = v else { .. };` on a value without a tangent; the
            // `else` block leaves (its `return` gives a tangent too).
            let v = self.ex(&init.expr, out);
            if v.is_active() {
                self.refuse(
                    else_token.span,
                    "forward mode cannot give a tangent to a value bound by `let .. else`: bind it with `let` (or `match` it against a name)",
                );
            }
            let els = match &**diverge {
                Expr::Block(b) if b.label.is_none() => self.block(&b.block, &Tail::Stmt),
                other => {
                    let mut inner = Vec::new();
                    self.expr_stmt(other, &mut inner);
                    quote!({ #(#inner)* })
                }
            };
            let ids = self.declare_pattern(&local.pat);
            let (pat, p) = (&local.pat, v.p());
            out.push(quote!(let #pat = #p else #els;));
            for id in ids {
                if self.active[id] {
                    let (x, dx) = (&self.names[id], self.tangent(id));
                    let zero = self.zero(&quote!(#x));
                    out.push(quote!(let mut #dx = #zero;));
                }
            }
            return;
        }
        let (pat, ty) = match &local.pat {
            Pat::Type(t) => (&*t.pat, Some(&*t.ty)),
            p => (p, None),
        };
        // `let f = |..| ..;`: kept as written, inlined where it is called.
        if let (Pat::Ident(pi), Expr::Closure(c)) = (pat, peel(&init.expr))
            && pi.subpat.is_none()
            && c.capture.is_none()
            && !contains_return(&c.body)
        {
            {
                let params: Vec<String> = c.inputs.iter().flat_map(pattern_names).collect();
                let names = mentioned_names(&c.body)
                    .into_iter()
                    .filter(|n| !params.contains(n))
                    .map(|n| {
                        let id = self.resolve(&n);
                        (n, id)
                    })
                    .collect();
                let id = self.declare(&pi.ident);
                self.closures.insert(
                    id,
                    Closure {
                        inputs: c.inputs.iter().cloned().collect(),
                        body: (*c.body).clone(),
                        names,
                    },
                );
                out.push(local.to_token_stream());
                return;
            }
        }
        // `let (a, b) = (x, y);` is two lets, evaluated before either is bound.
        if ty.is_none()
            && local.attrs.is_empty()
            && let (Pat::Tuple(_), Expr::Tuple(_)) = (pat, peel(&init.expr))
        {
            let mut lets = Vec::new();
            destructure(pat, &init.expr, &mut lets);
            let mut values = Vec::new();
            // Every value first (`let (x, y) = (y, x);` swaps).
            for (_, e) in &lets {
                let v = self.ex(e, out);
                values.push(self.hold_value(v, out));
            }
            for ((p, _), v) in lets.iter().zip(values) {
                self.bind(p, None, v, out);
            }
            return;
        }
        let v = self.ex_t(&init.expr, out);
        self.bind(pat, ty, v, out);
    }

    /// `let pat[: ty] = v;` and its tangent twin.
    fn bind(&mut self, pat: &Pat, ty: Option<&syn::Type>, v: Val, out: &mut Vec<TokenStream>) {
        // `let &c = r;` is `let c = *r;`.
        if let (Pat::Reference(r), None) = (pat, ty)
            && r.mutability.is_none()
        {
            let v = match self.solid(v, out) {
                Val::Active { p, t } => Val::Active {
                    p: quote!((*#p)),
                    t: quote!((*#t)),
                },
                Val::Inactive(p) => Val::Inactive(quote!((*#p))),
                Val::Tuple(_) => unreachable!("a solid value"),
            };
            return self.bind(&r.pat, None, v, out);
        }
        let v = match v {
            Val::Tuple(parts) => {
                // Part by part into a tuple pattern; kept apart in a name.
                let parts: Vec<Val> = parts.into_iter().map(|p| self.hold_value(p, out)).collect();
                // `let (a, b): (A, B) = (x, y);` part by part, types too.
                if let (Pat::Tuple(tp), Some(syn::Type::Tuple(tt))) = (pat, ty)
                    && tp.elems.len() == parts.len()
                    && tt.elems.len() == parts.len()
                    && !tp.elems.iter().any(|p| matches!(p, Pat::Rest(_)))
                {
                    for ((p, t), v) in tp.elems.iter().zip(&tt.elems).zip(parts) {
                        self.bind(p, Some(t), v, out);
                    }
                    return;
                }
                match pat {
                    Pat::Tuple(tp)
                        if tp.elems.len() == parts.len()
                            && !tp.elems.iter().any(|p| matches!(p, Pat::Rest(_)))
                            && ty.is_none() =>
                    {
                        for (p, v) in tp.elems.iter().zip(parts) {
                            self.bind(p, None, v, out);
                        }
                        return;
                    }
                    Pat::Ident(pi)
                        if pi.by_ref.is_none()
                            && pi.subpat.is_none()
                            && !parts.iter().all(Val::is_active) =>
                    {
                        let id = self.declare(&pi.ident);
                        self.mark(id);
                        let flags: Vec<bool> = parts.iter().map(Val::is_active).collect();
                        let colon_ty = ty.map(|t| quote!(: #t));
                        // Each part in a variable of its own (reverse mode, which
                        // differentiates this code again, reads no fields of
                        // locals), and the tuple itself for code kept as written.
                        let primal = Pat::Ident(pi.clone());
                        let mut names = Vec::new();
                        for (k, part) in parts.iter().enumerate() {
                            let name = part_ident(&pi.ident, k);
                            let p = part.p();
                            out.push(quote!(let #name = #p;));
                            if let Val::Active { t, .. } = part {
                                let tangent = split_ident(&pi.ident, k);
                                out.push(quote!(let #tangent = #t;));
                            }
                            names.push(quote!((#name).clone()));
                        }
                        out.push(quote!(let #primal #colon_ty = (#(#names,)*);));
                        self.splits.insert(id, flags);
                        return;
                    }
                    _ => self.solid(Val::Tuple(parts), out),
                }
            }
            v => v,
        };
        let ids = self.declare_pattern(pat);
        for id in &ids {
            self.splits.remove(id);
        }
        let colon_ty = ty.map(|t| quote!(: #t));
        match v {
            Val::Active { p, t } => {
                for id in &ids {
                    self.mark(*id);
                }
                let mirror = self.mirror(pat);
                out.push(quote!(let #pat #colon_ty = #p; let #mirror #colon_ty = #t;));
            }
            Val::Tuple(_) => unreachable!("made solid above"),
            Val::Inactive(p) => {
                // A name in a pattern that carries a tangent only later is
                // bound by a `let` of its own (`let (a, b) = g(1.0);` →
                // `let (a, __adf_b_b) = g(1.0); let mut b = __adf_b_b;`), the
                // plain form reverse mode differentiates again best.
                let plain = matches!(pat, Pat::Ident(pi) if pi.subpat.is_none());
                let mut renamed = Vec::new();
                let pattern = if plain {
                    quote!(#pat)
                } else {
                    struct Rename<'f, 'a> {
                        f: &'f Fwd<'a>,
                        renamed: &'f mut Vec<(syn::Ident, syn::Ident)>,
                    }
                    impl syn::visit_mut::VisitMut for Rename<'_, '_> {
                        fn visit_pat_ident_mut(&mut self, pi: &mut syn::PatIdent) {
                            let active = self
                                .f
                                .resolve(&pi.ident.to_string())
                                .is_some_and(|id| self.f.active[id]);
                            if active && pi.by_ref.is_none() && pi.subpat.is_none() {
                                let fresh = format_ident!(
                                    "__adf_b_{}",
                                    syn::ext::IdentExt::unraw(&pi.ident).to_string(),
                                    span = pi.ident.span()
                                );
                                self.renamed.push((pi.ident.clone(), fresh.clone()));
                                pi.ident = fresh;
                                pi.mutability = None;
                            }
                        }
                        fn visit_field_pat_mut(&mut self, fp: &mut syn::FieldPat) {
                            if fp.colon_token.is_none() {
                                fp.colon_token = Some(Default::default());
                            }
                            syn::visit_mut::visit_field_pat_mut(self, fp);
                        }
                        fn visit_type_mut(&mut self, _: &mut syn::Type) {}
                    }
                    let mut copy = pat.clone();
                    syn::visit_mut::VisitMut::visit_pat_mut(
                        &mut Rename {
                            f: self,
                            renamed: &mut renamed,
                        },
                        &mut copy,
                    );
                    quote!(#copy)
                };
                out.push(quote!(let #pattern #colon_ty = #p;));
                for (name, fresh) in &renamed {
                    out.push(quote!(let mut #name = #fresh;));
                }
                for id in ids {
                    if self.active[id] {
                        let (x, dx) = (&self.names[id], self.tangent(id));
                        let zero = self.zero(&quote!(#x));
                        out.push(quote!(let mut #dx = #zero;));
                    }
                }
            }
        }
    }

    fn declare_pattern(&mut self, pat: &Pat) -> Vec<usize> {
        struct Idents(Vec<syn::Ident>);
        impl<'ast> Visit<'ast> for Idents {
            fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
                self.0.push(p.ident.clone());
                syn::visit::visit_pat_ident(self, p);
            }
        }
        let mut names = Idents(Vec::new());
        names.visit_pat(pat);
        names.0.iter().map(|i| self.declare(i)).collect()
    }

    /// The pattern with every binding renamed to its tangent, and `_` for
    /// bindings without one.
    fn mirror(&mut self, pat: &Pat) -> TokenStream {
        struct Mirror<'f, 'a> {
            f: &'f mut Fwd<'a>,
        }
        impl syn::visit_mut::VisitMut for Mirror<'_, '_> {
            fn visit_pat_mut(&mut self, p: &mut Pat) {
                if let Pat::Ident(pi) = p {
                    if pi.by_ref.is_some() || pi.subpat.is_some() {
                        self.f.refuse(
                            pi.span(),
                            "forward mode cannot give a tangent to a binding by `ref` or with `@`",
                        );
                    }
                    let active = self
                        .f
                        .resolve(&pi.ident.to_string())
                        .is_some_and(|id| self.f.active[id]);
                    if active {
                        pi.ident = tangent_ident(&pi.ident);
                        pi.by_ref = None;
                        pi.subpat = None;
                    } else {
                        *p = Pat::Wild(syn::PatWild {
                            attrs: Vec::new(),
                            underscore_token: Default::default(),
                        });
                    }
                    return;
                }
                syn::visit_mut::visit_pat_mut(self, p);
            }
            fn visit_field_pat_mut(&mut self, fp: &mut syn::FieldPat) {
                // `S { a }` → `S { a: __adf_d_a }`
                if fp.colon_token.is_none() {
                    fp.colon_token = Some(Default::default());
                }
                syn::visit_mut::visit_field_pat_mut(self, fp);
            }
            fn visit_type_mut(&mut self, _: &mut syn::Type) {}
        }
        let mut p = pat.clone();
        syn::visit_mut::VisitMut::visit_pat_mut(&mut Mirror { f: self }, &mut p);
        p.to_token_stream()
    }

    /// Binds a non-trivial inactive value to a temporary, so that using it in
    /// the primal and in the tangent evaluates it once.
    fn hold(&mut self, v: Val, out: &mut Vec<TokenStream>) -> Val {
        match v {
            Val::Inactive(p) => {
                let trivial = matches!(syn::parse2::<Expr>(p.clone()), Ok(e) if pure(&e));
                if trivial {
                    Val::Inactive(p)
                } else {
                    self.temps += 1;
                    let h = format_ident!("__adf_i{}", self.temps);
                    out.push(quote!(let #h = #p;));
                    Val::Inactive(quote!(#h))
                }
            }
            active => active,
        }
    }

    fn expr_stmt(&mut self, e: &Expr, out: &mut Vec<TokenStream>) {
        if !self.mentions_active(e) && !self.assigns_anything(e) && !contains_return(e) {
            out.push(quote!(#e;));
            return;
        }
        match peel(e) {
            Expr::Assign(a) => self.assign(&a.left, &a.right, a.span(), out),
            Expr::Binary(b) if compound_to_binary(&b.op).is_some() => {
                let op = compound_to_binary(&b.op).expect("checked");
                let (left, right) = (&b.left, &b.right);
                let value: Expr = syn::parse_quote!(#left #op (#right));
                self.assign(left, &value, b.span(), out);
            }
            Expr::If(_)
            | Expr::Match(_)
            | Expr::Block(_)
            | Expr::While(_)
            | Expr::Loop(_)
            | Expr::ForLoop(_) => self.control(peel(e), &Tail::Stmt, out),
            Expr::Return(r) => match &r.expr {
                Some(v) => {
                    let v = self.ex(v, out);
                    let result = self.result(&v);
                    out.push(quote!(return #result;));
                }
                None => out.push(quote!(return;)),
            },
            Expr::Break(b) => {
                // `break 'a v` out of a labeled block whose value goes to a
                // target: the value to the target, then `break 'a`.
                let target = b.label.as_ref().and_then(|l| {
                    self.block_labels
                        .iter()
                        .rev()
                        .find(|(name, _)| l.ident == name)
                        .map(|(_, t)| t.clone())
                });
                match (&b.expr, target) {
                    (Some(v), Some(tail)) => {
                        let label = &b.label;
                        self.tail(v, &tail, out);
                        out.push(quote!(break #label;));
                    }
                    (Some(v), None) => {
                        if self.mentions_active(v) {
                            self.refuse(
                                b.span(),
                                "forward mode cannot differentiate `break` with a value",
                            );
                        }
                        out.push(quote!(#b;));
                    }
                    (None, _) => out.push(quote!(#b;)),
                }
            }
            Expr::Continue(_) => out.push(quote!(#e;)),
            Expr::MethodCall(m) => self.method_stmt(m, out),
            Expr::Macro(m) => {
                let name = m
                    .mac
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                if !READ_ONLY_MACROS.contains(&name.as_str()) {
                    self.refuse(
                        m.mac.path.span(),
                        format!("forward mode cannot differentiate through the macro `{name}!`"),
                    );
                }
                out.push(quote!(#e;));
            }
            _ => {
                let v = self.ex(e, out);
                let p = v.p();
                out.push(quote!(#p;));
            }
        }
    }

    fn assigns_anything(&self, e: &Expr) -> bool {
        struct Assigns(bool);
        impl<'ast> Visit<'ast> for Assigns {
            fn visit_expr_assign(&mut self, _: &'ast syn::ExprAssign) {
                self.0 = true;
            }
            fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
                if compound_to_binary(&b.op).is_some() {
                    self.0 = true;
                }
                syn::visit::visit_expr_binary(self, b);
            }
            fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
                if MUTATING.contains(&m.method.to_string().as_str()) {
                    self.0 = true;
                }
                syn::visit::visit_expr_method_call(self, m);
            }
            fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
            fn visit_item(&mut self, _: &'ast syn::Item) {}
        }
        // Assignments to bindings that may become active must be seen even
        // while nothing they read is active yet.
        let mut a = Assigns(false);
        a.visit_expr(e);
        a.0 || matches!(
            peel(e),
            Expr::If(_)
                | Expr::Match(_)
                | Expr::Block(_)
                | Expr::While(_)
                | Expr::Loop(_)
                | Expr::ForLoop(_)
        )
    }

    /// The binding a place (`x`, `x[i]`, `x.f`, `x[i][j]`) is rooted at.
    fn place_root(&self, e: &Expr) -> Option<usize> {
        match peel(e) {
            Expr::Path(p) => self.resolve(&p.path.get_ident()?.to_string()),
            Expr::Index(i) => self.place_root(&i.expr),
            Expr::Field(f) => self.place_root(&f.base),
            _ => None,
        }
    }

    /// The place rewritten for the tangent (root renamed), its indices
    /// evaluated once into temporaries; and the primal place with the same
    /// indices.
    fn places(
        &mut self,
        e: &Expr,
        out: &mut Vec<TokenStream>,
    ) -> Option<(TokenStream, TokenStream)> {
        match peel(e) {
            Expr::Path(p) => {
                let ident = p.path.get_ident()?;
                let id = self.resolve(&ident.to_string())?;
                let t = self.tangent(id);
                Some((quote!(#ident), quote!(#t)))
            }
            Expr::Index(i) => {
                let (bp, bt) = self.places(&i.expr, out)?;
                if self.ex(&i.index, out).is_active() {
                    self.refuse(
                        i.index.span(),
                        "forward mode: an index must not carry a tangent",
                    );
                }
                let index = &i.index;
                let idx = if simple(index) {
                    quote!(#index)
                } else {
                    self.temps += 1;
                    let h = format_ident!("__adf_i{}", self.temps);
                    out.push(quote!(let #h = #index;));
                    quote!(#h)
                };
                Some((quote!(#bp[#idx]), quote!(#bt[#idx])))
            }
            Expr::Field(f) => {
                let (bp, bt) = self.places(&f.base, out)?;
                let m = &f.member;
                Some((quote!(#bp.#m), quote!(#bt.#m)))
            }
            _ => None,
        }
    }

    fn assign(&mut self, left: &Expr, right: &Expr, span: Span, out: &mut Vec<TokenStream>) {
        match peel(left) {
            Expr::Infer(_) => {
                let v = self.ex(right, out);
                let p = v.p();
                out.push(quote!(let _ = #p;));
            }
            Expr::Tuple(t) => {
                // `(a, b) = (x, y);`: every value first, then each target.
                let n = t.elems.len();
                let mut values = Vec::new();
                match peel(right) {
                    Expr::Tuple(r) if r.elems.len() == n => {
                        for e in &r.elems {
                            let v = self.ex(e, out);
                            values.push(self.hold_value(v, out));
                        }
                    }
                    _ => {
                        let v = self.ex(right, out);
                        let names: Vec<(syn::Ident, syn::Ident)> =
                            (0..n).map(|_| self.temp()).collect();
                        let ps = names.iter().map(|(p, _)| p);
                        let ts = names.iter().map(|(_, t)| t);
                        match v {
                            Val::Tuple(_) => unreachable!("a solid value"),
                            Val::Active { p, t } => {
                                out.push(quote!(let (#(#ps,)*) = #p; let (#(#ts,)*) = #t;));
                                values = names
                                    .iter()
                                    .map(|(p, t)| Val::Active {
                                        p: quote!(#p),
                                        t: quote!(#t),
                                    })
                                    .collect();
                            }
                            Val::Inactive(p) => {
                                out.push(quote!(let (#(#ps,)*) = #p;));
                                values = names
                                    .iter()
                                    .map(|(p, _)| Val::Inactive(quote!(#p)))
                                    .collect();
                            }
                        }
                    }
                }
                for (target, v) in t.elems.iter().zip(values) {
                    self.assign_val(target, v, span, out);
                }
            }
            _ => {
                let v = self.ex(right, out);
                self.assign_val(left, v, span, out);
            }
        }
    }

    /// Like `hold`, for active values too: into temporaries.
    fn hold_value(&mut self, v: Val, out: &mut Vec<TokenStream>) -> Val {
        match v {
            Val::Active { p, t } => {
                let (hp, ht) = self.temp();
                out.push(quote!(let #hp = #p; let #ht = #t;));
                Val::Active {
                    p: quote!(#hp),
                    t: quote!(#ht),
                }
            }
            v => self.hold(v, out),
        }
    }

    fn assign_val(&mut self, left: &Expr, v: Val, span: Span, out: &mut Vec<TokenStream>) {
        if let Expr::Infer(_) = peel(left) {
            let p = v.p();
            out.push(quote!(let _ = #p;));
            return;
        }
        let Some(root) = self.place_root(left) else {
            if v.is_active() || self.mentions_active(left) {
                self.refuse(left.span(), "forward mode can assign an active value only to a variable, an element `x[i]` or a field `x.f`");
            }
            let p = v.p();
            out.push(quote!(#left = #p;));
            return;
        };
        let _ = span;
        if v.is_active() {
            self.mark(root);
        }
        let mut pre = Vec::new();
        let Some((lp, lt)) = self.places(left, &mut pre) else {
            self.refuse(left.span(), "forward mode cannot assign to this place");
            return;
        };
        out.extend(pre);
        match (self.active[root], v) {
            (_, Val::Tuple(_)) => unreachable!("a solid value"),
            (false, v) => {
                let p = v.p();
                out.push(quote!(#lp = #p;));
            }
            (true, Val::Active { p, t }) => out.push(quote!(#lp = #p; #lt = #t;)),
            (true, Val::Inactive(p)) => {
                let zero = self.zero(&lp);
                out.push(quote!(#lp = #p; #lt = #zero;));
            }
        }
    }

    /// `xs.push(v)` and the other in-place methods of sequences.
    fn method_stmt(&mut self, m: &syn::ExprMethodCall, out: &mut Vec<TokenStream>) {
        let name = m.method.to_string();
        let root = self.place_root(&m.receiver);
        if MUTATING.contains(&name.as_str())
            && let Some(root) = root
        {
            {
                let mut args = Vec::new();
                for a in &m.args {
                    let v = self.ex(a, out);
                    args.push(self.hold_value(v, out));
                }
                let value_args = name == "push" || name == "insert";
                let value_active = value_args && args.last().is_some_and(|a| a.is_active());
                if value_active {
                    self.mark(root);
                }
                for (k, a) in args.iter().enumerate() {
                    let is_value = value_args && k + 1 == args.len();
                    if !is_value && a.is_active() {
                        self.refuse(
                            m.args[k].span(),
                            format!(
                                "forward mode: the argument of `{name}` must not carry a tangent"
                            ),
                        );
                    }
                }
                let mut pre = Vec::new();
                let Some((rp, rtan)) = self.places(&m.receiver, &mut pre) else {
                    return;
                };
                out.extend(pre);
                let method = &m.method;
                let ps: Vec<TokenStream> = args.iter().map(|a| a.p().clone()).collect();
                if !self.active[root] {
                    out.push(quote!(#rp.#method(#(#ps),*);));
                    return;
                }
                let ts: Vec<TokenStream> = args
                    .iter()
                    .enumerate()
                    .map(|(k, a)| {
                        let is_value = value_args && k + 1 == args.len();
                        match a {
                            Val::Tuple(_) => unreachable!("a solid value"),
                            Val::Active { t, .. } => t.clone(),
                            Val::Inactive(p) if is_value => self.zero(p),
                            Val::Inactive(p) => p.clone(),
                        }
                    })
                    .collect();
                let ps2: Vec<TokenStream> = ps.iter().map(c).collect();
                out.push(quote!(#rp.#method(#(#ps2),*); #rtan.#method(#(#ts),*);));
                return;
            }
        }
        if root.is_some_and(|r| self.active[r])
            && !forward_method(&name, m.args.len() + 1)
            && !crate::rules::inactive_method(&name)
            && name != "detach"
        {
            self.refuse(
                m.method.span(),
                format!("forward mode cannot differentiate the method `{name}` on an active value"),
            );
        }
        let v = self.ex(&Expr::MethodCall(m.clone()), out);
        let p = v.p();
        out.push(quote!(#p;));
    }

    // ------------------------------------------------------------ control flow

    /// `if`, `match`, blocks and loops, as statements (`Tail::Stmt`) or as
    /// values assigned to a target.
    fn control(&mut self, e: &Expr, tail: &Tail, out: &mut Vec<TokenStream>) {
        match e {
            Expr::Block(b) => {
                let label = &b.label;
                if let Some(l) = label {
                    self.block_labels
                        .push((l.name.ident.to_string(), tail.clone()));
                }
                let body = self.block(&b.block, tail);
                if label.is_some() {
                    self.block_labels.pop();
                }
                out.push(quote!(#label #body));
            }
            Expr::Unsafe(u) => {
                if self.mentions_active(e) {
                    self.refuse(
                        u.span(),
                        "forward mode cannot see what an `unsafe` block does to an active value",
                    );
                }
                out.push(quote!(#u;));
            }
            Expr::If(i) => {
                let cond = self.condition(&i.cond, out);
                // Names an `if let` binds are in scope in the `then` branch.
                self.scopes.push(Vec::new());
                for l in condition_lets(&i.cond) {
                    self.declare_pattern(&l.pat);
                }
                let then = self.block(&i.then_branch, tail);
                self.scopes.pop();
                let els = match &i.else_branch {
                    Some((_, e)) => {
                        let mut inner = Vec::new();
                        match peel(e) {
                            Expr::Block(b) if b.label.is_none() => {
                                let body = self.block(&b.block, tail);
                                quote!(else #body)
                            }
                            other => {
                                self.control(other, tail, &mut inner);
                                quote!(else { #(#inner)* })
                            }
                        }
                    }
                    None => quote!(),
                };
                out.push(quote!(if #cond #then #els));
            }
            Expr::Match(m) => self.matching(m, tail, out),
            Expr::While(w) if effectful(&w.cond) && !has_let(&w.cond) => {
                // `while c { body }` as `loop { if !c { break; } body }`, the
                // condition evaluated in the loop.
                let mut pre = Vec::new();
                let cond = self.condition(&w.cond, &mut pre);
                let body = self.block(&w.body, &Tail::Stmt);
                let label = &w.label;
                let exit = match label {
                    Some(l) => {
                        let name = &l.name;
                        quote!(break #name;)
                    }
                    None => quote!(break;),
                };
                out.push(quote!(#label loop { #(#pre)* if !(#cond) { #exit } #body }));
            }
            Expr::While(w) => {
                let cond = self.condition(&w.cond, out);
                self.scopes.push(Vec::new());
                if let Expr::Let(l) = peel(&w.cond) {
                    self.declare_pattern(&l.pat);
                }
                let body = self.block(&w.body, &Tail::Stmt);
                self.scopes.pop();
                let label = &w.label;
                out.push(quote!(#label while #cond #body));
            }
            Expr::Loop(l) => {
                let body = self.block(&l.body, &Tail::Stmt);
                let label = &l.label;
                out.push(quote!(#label loop #body));
            }
            Expr::ForLoop(f) => self.for_loop(f, out),
            other => self.expr_stmt(other, out),
        }
    }

    /// A condition, kept as written: `if let` may not bind parts of an
    /// active value, and nothing in it may assign one.
    fn condition(&mut self, cond: &Expr, out: &mut Vec<TokenStream>) -> TokenStream {
        // A condition with assignments, blocks or exits in it is evaluated
        // first, as statements (`a && b` as `if a { b } else { false }`).
        if effectful(cond) && !has_let(cond) {
            let desugared = short_circuits(cond);
            let v = self.ex(&desugared, out);
            if v.is_active() {
                self.refuse(
                    cond.span(),
                    "forward mode: a condition must not carry a tangent",
                );
            }
            self.temps += 1;
            let c = format_ident!("__adf_c{}", self.temps);
            let p = v.p();
            out.push(quote!(let #c: bool = #p;));
            return quote!(#c);
        }
        fn lets<'e>(e: &'e Expr, acc: &mut Vec<&'e syn::ExprLet>) {
            match peel(e) {
                Expr::Let(l) => acc.push(l),
                Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_)) => {
                    lets(&b.left, acc);
                    lets(&b.right, acc);
                }
                _ => {}
            }
        }
        let mut found = Vec::new();
        lets(cond, &mut found);
        for l in found {
            if !pattern_names(&l.pat).is_empty() && self.mentions_active(&l.expr) {
                self.refuse(l.expr.span(), "forward mode cannot give a tangent to a value bound by an `if let`/`while let` pattern: bind it with `let` or `match` it against a name");
            }
        }
        if self.assigns_anything(cond) && self.mentions_active(cond) {
            self.refuse(
                cond.span(),
                "forward mode: compute this condition in a statement before it",
            );
        }
        cond.to_token_stream()
    }

    fn matching(&mut self, m: &syn::ExprMatch, tail: &Tail, out: &mut Vec<TokenStream>) {
        let scrutinee = self.ex(&m.expr, out);
        let (head, st) = match &scrutinee {
            Val::Tuple(_) => unreachable!("a solid value"),
            Val::Active { p, t } => {
                let (hp, ht) = self.temp();
                out.push(quote!(let #hp = #p; let #ht = #t;));
                (quote!((#hp).clone()), Some(ht))
            }
            Val::Inactive(p) => (p.clone(), None),
        };
        let mut arms = Vec::new();
        for arm in &m.arms {
            self.scopes.push(Vec::new());
            let ids = self.declare_pattern(&arm.pat);
            let mut pre = Vec::new();
            if let Some(st) = &st {
                match &arm.pat {
                    Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                        for id in &ids {
                            self.mark(*id);
                        }
                        let t = tangent_ident(&pi.ident);
                        pre.push(quote!(let #t = (#st).clone();));
                    }
                    p if pattern_names(p).is_empty() => {}
                    p => self.refuse(p.span(), "forward mode: a `match` on an active value may bind it only to a name (`v => ..`)"),
                }
            }
            let pat = &arm.pat;
            let guard = arm.guard.as_ref().map(|(i, g)| {
                if self.assigns_anything(g) && self.mentions_active(g) {
                    self.refuse(
                        g.span(),
                        "forward mode: compute this guard in a statement before the `match`",
                    );
                }
                quote!(#i #g)
            });
            let body = match peel(&arm.body) {
                Expr::Block(b) if b.label.is_none() => {
                    let inner = self.block(&b.block, tail);
                    quote!({ #(#pre)* #inner })
                }
                other => {
                    let mut inner = Vec::new();
                    self.tail(other, tail, &mut inner);
                    quote!({ #(#pre)* #(#inner)* })
                }
            };
            self.scopes.pop();
            arms.push(quote!(#pat #guard => #body));
        }
        out.push(quote!(match #head { #(#arms,)* }));
    }

    fn for_loop(&mut self, f: &syn::ExprForLoop, out: &mut Vec<TokenStream>) {
        if self.mentions_active(&f.expr) {
            // Over an active sequence: the same loop over indices, each
            // element an indexed read that has a tangent.
            if let Some(looped) = self.sequence_loop(f) {
                self.control(&looped, &Tail::Stmt, out);
                return;
            }
            // A range or other iterable computed from active values without
            // carrying a tangent (`0..xs.len()`) is fine.
            let mut scratch = Vec::new();
            let v = self.ex(&f.expr, &mut scratch);
            if v.is_active() || !scratch.is_empty() {
                self.refuse(f.expr.span(), "forward mode cannot iterate over this active value: iterate over `xs.iter()`, `&xs`, `.enumerate()`, `.zip(..)`, `.windows(k)`, or over indices");
            }
        }
        self.scopes.push(Vec::new());
        self.declare_pattern(&f.pat);
        let body = self.block(&f.body, &Tail::Stmt);
        self.scopes.pop();
        let (label, pat, expr) = (&f.label, &f.pat, &f.expr);
        out.push(quote!(#label for #pat in #expr #body));
    }

    fn sequence_loop(&mut self, f: &syn::ExprForLoop) -> Option<Expr> {
        let i = stable_ident("__adf_k", f.for_token.span);
        let (range, lets) = crate::syntax::sequence_loop(self, f, &i)?;
        // A `let` per name: each its own activity (the index of
        // `.enumerate()` carries no tangent).
        let lets = lets.iter().map(|(p, e)| quote!(let #p = #e;));
        let (label, body) = (&f.label, &f.body);
        Some(syn::parse_quote!(#label for #i in #range { #(#lets)* #body }))
    }

    /// `if`/`match`/a block in a value position: `let p; let t;` assigned by
    /// each branch's tail. Rewritten a second time, with a tangent, if a tail
    /// turns out to carry one.
    fn value_control(&mut self, e: &Expr, out: &mut Vec<TokenStream>) -> Val {
        let (p, t) = self.temp();
        let outer = std::mem::replace(&mut self.tail_active, false);
        let mut body = Vec::new();
        self.control(
            e,
            &Tail::Assign {
                p: p.clone(),
                t: None,
            },
            &mut body,
        );
        let active = std::mem::replace(&mut self.tail_active, outer);
        if active {
            body.clear();
            self.control(
                e,
                &Tail::Assign {
                    p: p.clone(),
                    t: Some(t.clone()),
                },
                &mut body,
            );
            out.push(quote!(let #p; let #t;));
            out.extend(body);
            Val::Active {
                p: quote!(#p),
                t: quote!(#t),
            }
        } else {
            out.push(quote!(let #p;));
            out.extend(body);
            Val::Inactive(quote!(#p))
        }
    }

    // ------------------------------------------------------------ expressions

    /// The value of `e`: never a [`Val::Tuple`].
    fn ex(&mut self, e: &Expr, out: &mut Vec<TokenStream>) -> Val {
        let v = self.ex_t(e, out);
        self.solid(v, out)
    }

    /// A tuple of parts as one value: the tangent a tuple of the parts'
    /// tangents (zeros where a part has none).
    fn solid(&mut self, v: Val, out: &mut Vec<TokenStream>) -> Val {
        let Val::Tuple(parts) = v else { return v };
        let parts: Vec<Val> = parts.into_iter().map(|p| self.solid(p, out)).collect();
        self.aggregate(parts, |xs| quote!((#(#xs,)*)), out)
    }

    /// The value of `e`, tuples kept apart.
    fn ex_t(&mut self, e: &Expr, out: &mut Vec<TokenStream>) -> Val {
        if !self.mentions_active(e) && !self.assigns_anything(e) && !contains_return(e) {
            return Val::Inactive(e.to_token_stream());
        }
        let span = e.span();
        match e {
            Expr::Paren(p) => match self.ex_t(&p.expr, out) {
                Val::Active { p, t } => Val::Active {
                    p: quote!((#p)),
                    t: quote!((#t)),
                },
                Val::Inactive(p) => Val::Inactive(quote!((#p))),
                tuple => tuple,
            },
            Expr::Group(g) => self.ex_t(&g.expr, out),
            Expr::Lit(_) => Val::Inactive(e.to_token_stream()),
            Expr::Path(p) => {
                if let Some(ident) = p.path.get_ident()
                    && let Some(id) = self.resolve(&ident.to_string())
                {
                    {
                        if let Some(parts) = self.splits.get(&id) {
                            let parts = parts.clone();
                            return Val::Tuple(
                                parts
                                    .iter()
                                    .enumerate()
                                    .map(|(k, active)| {
                                        let part = part_ident(&self.names[id], k);
                                        if *active {
                                            let t = split_ident(&self.names[id], k);
                                            Val::Active {
                                                p: quote!((#part).clone()),
                                                t: quote!((#t).clone()),
                                            }
                                        } else {
                                            Val::Inactive(quote!((#part).clone()))
                                        }
                                    })
                                    .collect(),
                            );
                        }
                        if self.active[id] {
                            let t = self.tangent(id);
                            return Val::Active {
                                p: quote!(#ident),
                                t: quote!(#t),
                            };
                        }
                    }
                }
                Val::Inactive(e.to_token_stream())
            }
            Expr::Binary(b) => self.binary(b, out),
            Expr::Unary(u) => {
                let v = self.ex(&u.expr, out);
                match (&u.op, v) {
                    (_, Val::Tuple(_)) => unreachable!("a solid value"),
                    (_, Val::Inactive(p)) => {
                        let op = &u.op;
                        Val::Inactive(quote!((#op #p)))
                    }
                    (syn::UnOp::Neg(_), Val::Active { p, t }) => {
                        self.emit(quote!(-#p), |_, _| quote!(-#t), out)
                    }
                    (syn::UnOp::Deref(_), Val::Active { p, t }) => Val::Active {
                        p: quote!((*#p)),
                        t: quote!((*#t)),
                    },
                    (_, Val::Active { .. }) => {
                        self.refuse(span, "forward mode cannot differentiate this operator");
                        Val::Inactive(e.to_token_stream())
                    }
                }
            }
            Expr::Reference(r) => {
                let v = self.ex_t(&r.expr, out);
                if let Val::Tuple(parts) = v {
                    // `&(a, b)` read part by part: `(&a, &b)`.
                    let m = &r.mutability;
                    return Val::Tuple(
                        parts
                            .into_iter()
                            .map(|part| match part {
                                Val::Active { p, t } => Val::Active {
                                    p: quote!((&#p)),
                                    t: quote!((&#t)),
                                },
                                other => {
                                    let p = other.p();
                                    Val::Inactive(quote!((&#m #p)))
                                }
                            })
                            .collect(),
                    );
                }
                match v {
                    Val::Tuple(_) => unreachable!("a solid value"),
                    Val::Active { p, t } => {
                        if r.mutability.is_some() {
                            self.refuse(span, "forward mode: `&mut` of an active value could change it behind the tangent's back");
                        }
                        Val::Active {
                            p: quote!((&#p)),
                            t: quote!((&#t)),
                        }
                    }
                    Val::Inactive(p) => {
                        let m = &r.mutability;
                        Val::Inactive(quote!((&#m #p)))
                    }
                }
            }
            Expr::Field(f) => match self.ex_t(&f.base, out) {
                Val::Tuple(mut parts) => match &f.member {
                    syn::Member::Unnamed(i) if (i.index as usize) < parts.len() => {
                        parts.swap_remove(i.index as usize)
                    }
                    _ => {
                        self.refuse(f.span(), "forward mode: no such part of a tuple");
                        Val::Inactive(e.to_token_stream())
                    }
                },
                Val::Active { p, t } => {
                    let m = &f.member;
                    Val::Active {
                        p: quote!(#p.#m),
                        t: quote!(#t.#m),
                    }
                }
                Val::Inactive(p) => {
                    let m = &f.member;
                    Val::Inactive(quote!((#p).#m))
                }
            },
            Expr::Index(i) => {
                let base = self.ex(&i.expr, out);
                let index = self.ex(&i.index, out);
                if index.is_active() {
                    self.refuse(
                        i.index.span(),
                        "forward mode: an index must not carry a tangent",
                    );
                }
                let held = self.hold(Val::Inactive(index.p().clone()), out);
                // A held index (computed once) is used twice: by copy.
                let ix = if held.p().to_string() == index.p().to_string() {
                    held.p().clone()
                } else {
                    let h = held.p();
                    quote!((#h).clone())
                };
                match base {
                    Val::Tuple(_) => unreachable!("a solid value"),
                    Val::Active { p, t } => Val::Active {
                        p: quote!(#p[#ix]),
                        t: quote!(#t[#ix]),
                    },
                    Val::Inactive(p) => Val::Inactive(quote!((#p)[#ix])),
                }
            }
            Expr::Cast(cast) => {
                // `f64` (by any path): the same value; integers and `bool`:
                // piecewise constant, no tangent; anything else (an alias, `f32`)
                // forward mode cannot see through.
                let target = match &*cast.ty {
                    syn::Type::Path(p) if p.qself.is_none() => {
                        p.path.segments.last().map(|s| s.ident.to_string())
                    }
                    syn::Type::Group(g) => match &*g.elem {
                        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                        _ => None,
                    },
                    _ => None,
                }
                .unwrap_or_default();
                let v = self.ex(&cast.expr, out);
                let ty = &cast.ty;
                match v {
                    Val::Active { p, t } if target == "f64" => Val::Active {
                        p: quote!((#p as #ty)),
                        t: quote!((#t as #ty)),
                    },
                    v => {
                        let integer = PRIMITIVE_TYPES.contains(&target.as_str())
                            && target != "f64"
                            && target != "f32"
                            && target != "str";
                        if v.is_active() && !integer {
                            self.refuse(cast.span(), format!("forward mode cannot differentiate a cast to `{}`: cast to `f64` by its name", ty.to_token_stream().to_string().replace(' ', "")));
                        }
                        let p = v.p();
                        Val::Inactive(quote!((#p as #ty)))
                    }
                }
            }
            Expr::MethodCall(m) => self.method(m, out),
            Expr::Call(call) => self.call(call, out),
            Expr::Tuple(t) => {
                let vals: Vec<Val> = t.elems.iter().map(|x| self.ex(x, out)).collect();
                if vals.iter().any(Val::is_active) {
                    Val::Tuple(vals)
                } else {
                    let ps = vals.iter().map(Val::p);
                    Val::Inactive(quote!((#(#ps,)*)))
                }
            }
            Expr::Array(a) => {
                let vals: Vec<Val> = a.elems.iter().map(|x| self.ex(x, out)).collect();
                self.aggregate(vals, |xs| quote!([#(#xs),*]), out)
            }
            Expr::Repeat(r) => {
                let v = self.ex(&r.expr, out);
                let n = &r.len;
                match v {
                    Val::Tuple(_) => unreachable!("a solid value"),
                    Val::Active { p, t } => Val::Active {
                        p: quote!([#p; #n]),
                        t: quote!([#t; #n]),
                    },
                    Val::Inactive(p) => Val::Inactive(quote!([#p; #n])),
                }
            }
            Expr::Macro(m) if m.mac.path.is_ident("vec") => {
                if let Ok(elems) = m.mac.parse_body_with(
                    syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated,
                ) {
                    let vals: Vec<Val> = elems.iter().map(|x| self.ex(x, out)).collect();
                    return self.aggregate(vals, |xs| quote!(vec![#(#xs),*]), out);
                }
                let parsed = m.mac.parse_body_with(|input: syn::parse::ParseStream| {
                    let value: Expr = input.parse()?;
                    input.parse::<syn::Token![;]>()?;
                    let count: Expr = input.parse()?;
                    Ok((value, count))
                });
                match parsed {
                    Ok((value, count)) => {
                        if self.ex(&count, out).is_active() {
                            self.refuse(
                                count.span(),
                                "forward mode: a length must not carry a tangent",
                            );
                        }
                        let v = self.ex(&value, out);
                        match v {
                            Val::Tuple(_) => unreachable!("a solid value"),
                            Val::Active { p, t } => {
                                let (hp, ht) = self.temp();
                                out.push(
                                    quote!(let #hp = vec![#p; #count]; let #ht = vec![#t; #count];),
                                );
                                Val::Active {
                                    p: quote!(#hp),
                                    t: quote!(#ht),
                                }
                            }
                            Val::Inactive(p) => Val::Inactive(quote!(vec![#p; #count])),
                        }
                    }
                    Err(_) => {
                        self.refuse(span, "forward mode cannot differentiate this `vec!`");
                        Val::Inactive(e.to_token_stream())
                    }
                }
            }
            Expr::Macro(m) => {
                let name = m.mac.path.to_token_stream().to_string();
                self.refuse(
                    m.mac.path.span(),
                    format!("forward mode cannot differentiate through the macro `{name}!`"),
                );
                Val::Inactive(e.to_token_stream())
            }
            Expr::If(_) | Expr::Match(_) | Expr::Block(_) => self.value_control(e, out),
            Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => {
                self.expr_stmt(e, out);
                Val::Inactive(quote!(::core::unreachable!()))
            }
            Expr::Assign(_) => {
                self.expr_stmt(e, out);
                Val::Inactive(quote!(()))
            }
            Expr::Closure(_) => {
                self.refuse(span, "forward mode cannot differentiate a closure capturing an active value: bind it with `let f = |..| ..;` (it is inlined where it is called)");
                Val::Inactive(e.to_token_stream())
            }
            Expr::Range(_) => Val::Inactive(e.to_token_stream()),
            Expr::Try(_) => {
                self.refuse(span, "forward mode cannot differentiate through `?`");
                Val::Inactive(e.to_token_stream())
            }
            _ => {
                self.refuse(span, "forward mode cannot differentiate this expression");
                Val::Inactive(e.to_token_stream())
            }
        }
    }

    /// `let p = primal; let t = tangent(p, t-of-operands);`
    fn emit(
        &mut self,
        primal: TokenStream,
        tangent: impl FnOnce(&mut Self, &syn::Ident) -> TokenStream,
        out: &mut Vec<TokenStream>,
    ) -> Val {
        let (p, t) = self.temp();
        out.push(quote!(let #p = #primal;));
        let tan = tangent(self, &p);
        out.push(quote!(let #t = #tan;));
        Val::Active {
            p: quote!(#p),
            t: quote!(#t),
        }
    }

    /// A tuple or array: the tangent has a zero where an element has none.
    fn aggregate(
        &mut self,
        vals: Vec<Val>,
        build: impl Fn(&[TokenStream]) -> TokenStream,
        out: &mut Vec<TokenStream>,
    ) -> Val {
        if !vals.iter().any(|v| v.is_active()) {
            let ps: Vec<TokenStream> = vals.iter().map(|v| v.p().clone()).collect();
            return Val::Inactive(build(&ps));
        }
        let mut ps = Vec::new();
        let mut ts = Vec::new();
        for v in vals {
            match self.hold(v, out) {
                Val::Tuple(_) => unreachable!("a solid value"),
                Val::Active { p, t } => {
                    ps.push(p);
                    ts.push(t);
                }
                Val::Inactive(p) => {
                    ts.push(self.zero(&p));
                    ps.push(c(&p));
                }
            }
        }
        let (hp, ht) = self.temp();
        let (bp, bt) = (build(&ps), build(&ts));
        out.push(quote!(let #hp = #bp; let #ht = #bt;));
        Val::Active {
            p: quote!(#hp),
            t: quote!(#ht),
        }
    }

    fn binary(&mut self, b: &syn::ExprBinary, out: &mut Vec<TokenStream>) -> Val {
        use syn::BinOp::*;
        let span = b.span();
        let op = &b.op;
        let arithmetic = matches!(op, Add(_) | Sub(_) | Mul(_) | Div(_));
        if !arithmetic {
            // Comparisons and logic give a `bool`, and `&&`/`||` may not
            // evaluate their right side: kept as written.
            let e = Expr::Binary(b.clone());
            if self.assigns_anything(&e) {
                self.refuse(
                    span,
                    "forward mode: compute the operands of this operator in statements before it",
                );
            } else if !matches!(
                op,
                Lt(_) | Le(_) | Gt(_) | Ge(_) | Eq(_) | Ne(_) | And(_) | Or(_)
            ) {
                let l = self.ex(&b.left, &mut Vec::new());
                let r = self.ex(&b.right, &mut Vec::new());
                if l.is_active() || r.is_active() {
                    self.refuse(
                        span,
                        format!(
                            "forward mode cannot differentiate the operator `{}`",
                            op.to_token_stream()
                        ),
                    );
                }
            }
            return Val::Inactive(e.to_token_stream());
        }
        let l = self.ex(&b.left, out);
        let r = self.ex(&b.right, out);
        if !l.is_active() && !r.is_active() {
            let (lp, rp) = (l.p(), r.p());
            return Val::Inactive(quote!((#lp #op #rp)));
        }
        if !arithmetic {
            if matches!(
                op,
                Lt(_) | Le(_) | Gt(_) | Ge(_) | Eq(_) | Ne(_) | And(_) | Or(_)
            ) {
                let (lp, rp) = (l.p(), r.p());
                return Val::Inactive(quote!((#lp #op #rp)));
            }
            self.refuse(
                span,
                format!(
                    "forward mode cannot differentiate the operator `{}`",
                    op.to_token_stream()
                ),
            );
            return Val::Inactive(b.to_token_stream());
        }
        let l = self.hold(l, out);
        let r = self.hold(r, out);
        let (pl, pr) = (c(&l.p()), c(&r.p()));
        let tl = match &l {
            Val::Active { t, .. } => Some(c(t)),
            _ => None,
        };
        let tr = match &r {
            Val::Active { t, .. } => Some(c(t)),
            _ => None,
        };
        let primal = quote_spanned!(span=> #pl #op #pr);
        let rt = self.rt.clone();
        let private = self.private();
        let like = move |t: TokenStream, y: &syn::Ident| quote!(#private::fwd::like(#t, #rt::stop_gradient(#private::meta(&#y))));
        self.emit(
            primal,
            move |_, y| match (op, tl, tr) {
                (Add(_), Some(a), Some(b)) => quote!(#a + #b),
                (Add(_), Some(a), None) | (Add(_), None, Some(a)) => like(a, y),
                (Sub(_), Some(a), Some(b)) => quote!(#a - #b),
                (Sub(_), Some(a), None) => like(a, y),
                (Sub(_), None, Some(b)) => {
                    let l = like(b, y);
                    quote!(-(#l))
                }
                (Mul(_), Some(a), Some(b)) => quote!(#a * #pr + #pl * #b),
                (Mul(_), Some(a), None) => quote!(#a * #pr),
                (Mul(_), None, Some(b)) => quote!(#pl * #b),
                (Div(_), Some(a), Some(b)) => quote!((#a - (#y).clone() * #b) / #pr),
                (Div(_), Some(a), None) => quote!(#a / #pr),
                (Div(_), None, Some(b)) => quote!(-((#y).clone() * #b) / #pr),
                _ => unreachable!("an arithmetic operator with an active operand"),
            },
            out,
        )
    }

    fn method(&mut self, m: &syn::ExprMethodCall, out: &mut Vec<TokenStream>) -> Val {
        if let Some(looped) = self.iterator_chain(m) {
            return self.ex(&looped, out);
        }
        let name = m.method.to_string();
        // Copies of the values (`x.to_vec()`, `t.item()`): the tangent is
        // the same copy of the tangent. Reverse mode has rules for `item` and
        // `to_vec`; the other copies it counts as carrying no gradient, so it
        // cannot differentiate code that uses them again.
        if COPIES.contains(&name.as_str()) && m.args.is_empty() {
            let receiver = self.ex(&m.receiver, out);
            let method = &m.method;
            if let Val::Active { p, t } = receiver {
                if self.second_order_blocked.is_none() && crate::rules::method(&name, 1).is_none() {
                    self.second_order_blocked = Some(Refusal {
                        span: m.method.span(),
                        message: format!("reverse mode counts `{name}()` as carrying no gradient"),
                    });
                }
                return Val::Active {
                    p: quote!(#p.#method()),
                    t: quote!(#t.#method()),
                };
            }
            let p = receiver.p();
            return Val::Inactive(quote!((#p).#method()));
        }
        if name == "detach" || crate::rules::inactive_method(&name) {
            let receiver = self.ex(&m.receiver, out);
            let args: Vec<TokenStream> =
                m.args.iter().map(|a| self.ex(a, out).p().clone()).collect();
            let (rp, method, turbofish) = (receiver.p(), &m.method, &m.turbofish);
            return Val::Inactive(quote!((#rp).#method #turbofish(#(#args),*)));
        }
        let receiver = self.ex(&m.receiver, out);
        let args: Vec<Val> = m.args.iter().map(|a| self.ex(a, out)).collect();
        let mut ops = vec![receiver];
        ops.extend(args);
        self.method_rule(
            &m.method,
            &m.turbofish.to_token_stream(),
            ops,
            m.span(),
            out,
        )
    }

    /// A primitive method applied to operands (receiver first).
    fn method_rule(
        &mut self,
        method: &syn::Ident,
        turbofish: &TokenStream,
        ops: Vec<Val>,
        span: Span,
        out: &mut Vec<TokenStream>,
    ) -> Val {
        let name = method.to_string();
        if !ops.iter().any(|o| o.is_active()) {
            let ps: Vec<TokenStream> = ops.iter().map(|o| o.p()).collect();
            let (r, rest) = (&ps[0], &ps[1..]);
            return Val::Inactive(quote!((#r).#method #turbofish(#(#rest),*)));
        }
        if !forward_method(&name, ops.len()) {
            self.refuse(
                method.span(),
                format!(
                    "forward mode cannot differentiate the method `{name}`: it has no tangent rule"
                ),
            );
            return Val::Inactive(quote!(::core::unreachable!()));
        }
        for (k, o) in ops.iter().enumerate() {
            if o.is_active() && !differentiable_operand(&name, k) {
                self.refuse(
                    span,
                    format!("forward mode: argument {k} of `{name}` must not carry a tangent"),
                );
            }
        }
        let ops: Vec<Val> = ops.into_iter().map(|o| self.hold(o, out)).collect();
        let p: Vec<TokenStream> = ops.iter().map(|o| c(&o.p())).collect();
        let t: Vec<Option<TokenStream>> = ops
            .iter()
            .map(|o| match o {
                Val::Active { t, .. } => Some(c(t)),
                _ => None,
            })
            .collect();
        // Arguments as written (references, sizes); the receiver by copy.
        let raw: Vec<TokenStream> = ops.iter().map(|o| o.p().clone()).collect();
        let args = &raw[1..];
        let recv = &p[0];
        let primal = quote_spanned!(span=> #recv.#method #turbofish(#(#args),*));
        let rt = self.rt.clone();
        let private = self.private();
        let sg = |x: TokenStream| quote!(#rt::stop_gradient(#x));
        let t0 = t[0].clone();
        let t1 = t.get(1).cloned().flatten();
        let a0 = p[0].clone();
        // Parenthesised: the rules splice it into `a1 as f64`, `a1 - 1`.
        let a1 = raw.get(1).map(|a| quote!((#a)));
        let n1 = raw
            .get(1)
            .and_then(|a| syn::parse2::<syn::LitInt>(a.clone()).ok())
            .and_then(|n| n.base10_parse::<i32>().ok());
        self.emit(
            primal,
            move |_, y| {
                let y = quote!((#y).clone());
                let t0 = t0.clone().unwrap_or_default();
                let a1 = a1.clone().unwrap_or_default();
                match name.as_str() {
                    "sin" => quote!(#t0 * #a0.cos()),
                    "cos" => quote!(-(#t0 * #a0.sin())),
                    "tan" => quote!(#t0 * (1.0 + #y * #y)),
                    "tanh" => quote!(#t0 * (1.0 - #y * #y)),
                    "exp" => quote!(#t0 * #y),
                    "ln" => quote!(#t0 / #a0),
                    "log" if t.len() == 1 => quote!(#t0 / #a0),
                    "sqrt" => quote!(#t0 / (#y * 2.0)),
                    "abs" => {
                        let s = sg(quote!(#private::fwd::abs_slope(&#a0)));
                        quote!(#t0 * #s)
                    }
                    "relu" => {
                        let s = sg(quote!(#private::fwd::relu_slope(&#a0)));
                        quote!(#t0 * #s)
                    }
                    "sigmoid" => quote!(#t0 * (#y * (1.0 - #y))),
                    "recip" => quote!(-(#t0 * (#y * #y))),
                    "powi" => {
                        // n is an i32: 0 gives 0 (as the reverse rule).
                        match n1 {
                            Some(0) => quote!(#t0 * 0.0),
                            Some(n) => {
                                let (m, f) = (n - 1, n as f64);
                                quote!(#t0 * (#a0.powi(#m) * #f))
                            }
                            None => quote!(if #a1 == 0 { #t0 * 0.0 } else { #t0 * (#a0.powi(#a1 - 1) * (#a1 as f64)) }),
                        }
                    }
                    "powf" => {
                        let base = t[0].as_ref().map(|t0| quote!(#t0 * (#a1 * #a0.powf(#a1 - 1.0))));
                        let exponent = t1.as_ref().map(|t1| quote!(#t1 * (#y * #a0.ln())));
                        match (base, exponent) {
                            (Some(a), Some(b)) => quote!(#a + #b),
                            (Some(a), None) | (None, Some(a)) => a,
                            (None, None) => unreachable!(),
                        }
                    }
                    "max" | "min" | "maximum" | "minimum" if t.len() == 2 => {
                        let f = if name == "max" || name == "maximum" { quote!(max_weight) } else { quote!(min_weight) };
                        let w = sg(quote!(#private::fwd::#f(&#a0, &#a1)));
                        match (&t[0], &t1) {
                            (Some(ta), Some(tb)) => quote!(#ta * #w + #tb * (1.0 - #w)),
                            (Some(ta), None) => quote!(#ta * #w),
                            (None, Some(tb)) => quote!(#tb * (1.0 - #w)),
                            (None, None) => unreachable!(),
                        }
                    }
                    "max" | "min" => {
                        let mask = sg(quote!(#private::fwd::extremum_mask(&#a0, &#y)));
                        quote!((#t0 * #mask).sum())
                    }
                    "sum" | "mean" | "t" | "transpose" | "clone" => quote!(#t0.#method()),
                    "sum_dim" | "mean_dim" | "reshape" | "at" => quote!(#t0.#method(#a1)),
                    "slice" => {
                        let a2 = &raw[2];
                        quote!(#t0.slice(#a1, #a2))
                    }
                    "dot" | "matmul" => match (&t[0], &t1) {
                        (Some(ta), Some(tb)) => quote!(#ta.#method(&#a1) + #a0.#method(&#tb)),
                        (Some(ta), None) => quote!(#ta.#method(&#a1)),
                        (None, Some(tb)) => quote!(#a0.#method(&#tb)),
                        (None, None) => unreachable!(),
                    },
                    "norm" => quote!((#a0 * #t0).sum() / #y),
                    "softmax" => {
                        let keep = sg(quote!(#private::fwd::keepdim_shape(&#a0, #a1)));
                        quote!(#y * (#t0 - (#y * #t0).sum_dim(#a1).reshape(&#keep)))
                    }
                    "log_softmax" => {
                        let keep = sg(quote!(#private::fwd::keepdim_shape(&#a0, #a1)));
                        quote!(#t0 - (#a0.softmax(#a1) * #t0).sum_dim(#a1).reshape(&#keep))
                    }
                    "logsumexp" => quote!((#a0.softmax(#a1) * #t0).sum_dim(#a1)),
                    // ẏ = ẋ · f′(x), f′ as the reverse rule's (`ops/table.rs`).
                    "atan" => quote!(#t0 / (1.0 + #a0 * #a0)),
                    "asin" => quote!(#t0 / (1.0 - #a0 * #a0).sqrt()),
                    "acos" => quote!(-(#t0 / (1.0 - #a0 * #a0).sqrt())),
                    "sinh" => quote!(#t0 * #a0.cosh()),
                    "cosh" => quote!(#t0 * #a0.sinh()),
                    "asinh" => quote!(#t0 / (#a0 * #a0 + 1.0).sqrt()),
                    "acosh" => quote!(#t0 / ((#a0 - 1.0).sqrt() * (#a0 + 1.0).sqrt())),
                    "atanh" => quote!(#t0 / (1.0 - #a0 * #a0)),
                    "exp2" => quote!(#t0 * (#y * ::core::f64::consts::LN_2)),
                    "exp_m1" => quote!(#t0 * (#y + 1.0)),
                    "ln_1p" => quote!(#t0 / (1.0 + #a0)),
                    "log2" => quote!(#t0 / (#a0 * ::core::f64::consts::LN_2)),
                    "log10" => quote!(#t0 / (#a0 * ::core::f64::consts::LN_10)),
                    "cbrt" => quote!(#t0 / (#y * #y * 3.0)),
                    "to_degrees" => quote!(#t0 * (180.0 / ::core::f64::consts::PI)),
                    "to_radians" => quote!(#t0 * (::core::f64::consts::PI / 180.0)),
                    // Piecewise constant: 0, as PyTorch.
                    "floor" | "ceil" | "round" | "trunc" | "signum" => quote!(#t0 * 0.0),
                    "erf" | "special_erf" => {
                        quote!(#t0 * ((-(#a0 * #a0)).exp() * ::core::f64::consts::FRAC_2_SQRT_PI))
                    }
                    "erfc" | "special_erfc" => {
                        quote!(-(#t0 * ((-(#a0 * #a0)).exp() * ::core::f64::consts::FRAC_2_SQRT_PI)))
                    }
                    // φ(x) = e^(−x²/2) / √(2π)
                    "ndtr" => quote!(#t0 * ((#a0 * #a0 * -0.5).exp() * (0.5 * ::core::f64::consts::FRAC_2_SQRT_PI * ::core::f64::consts::FRAC_1_SQRT_2))),
                    "lgamma" => quote!(#t0 * #a0.digamma()),
                    "atan2" | "hypot" | "log" => {
                        let b = &p[1];
                        let (da, db) = match name.as_str() {
                            // y = atan2(a, b): ∂a = b/(a² + b²), ∂b = −a/(a² + b²)
                            "atan2" => (
                                quote!(#b / (#a0 * #a0 + #b * #b)),
                                quote!(-(#a0 / (#a0 * #a0 + #b * #b))),
                            ),
                            // y = √(a² + b²): ∂a = a/y, ∂b = b/y
                            "hypot" => (quote!(#a0 / #y), quote!(#b / #y)),
                            // y = ln a / ln b: ∂a = 1/(a ln b), ∂b = −ln a/(b (ln b)²)
                            _ => (
                                quote!(1.0 / (#a0 * #b.ln())),
                                quote!(-(#a0.ln() / (#b * #b.ln() * #b.ln()))),
                            ),
                        };
                        match (&t[0], &t1) {
                            (Some(ta), Some(tb)) => quote!(#ta * (#da) + #tb * (#db)),
                            (Some(ta), None) => quote!(#ta * (#da)),
                            (None, Some(tb)) => quote!(#tb * (#db)),
                            (None, None) => unreachable!(),
                        }
                    }
                    // ẏ = ẋ·[lo ≤ x ≤ hi] + l̇o·[x < lo] + ḣi·[x > hi] (the reverse
                    // rule's routing; the weights are piecewise constant)
                    "clamp" => {
                        let (lo, hi) = (&p[1], &p[2]);
                        let w = |k: syn::Index| {
                            sg(quote!(#private::fwd::clamp_weights(&#a0, &#lo, &#hi).#k))
                        };
                        let mut terms = Vec::new();
                        for (k, tk) in t.iter().enumerate().take(3) {
                            if let Some(tk) = tk {
                                let wk = w(syn::Index::from(k));
                                terms.push(quote!(#tk * #wk));
                            }
                        }
                        quote!(#(#terms)+*)
                    }
                    // y = a.where_(c, b): ẏ = ȧ.where_(c, ḃ), a zero tangent
                    // for the side that has none.
                    "where_" => {
                        let (c, b) = (&p[1], &p[2]);
                        let ta = t[0].clone().unwrap_or_else(|| sg(quote!(#private::fwd::zero_of(&#a0))));
                        let tb = t.get(2).cloned().flatten().unwrap_or_else(|| sg(quote!(#private::fwd::zero_of(&#b))));
                        quote!((#ta).where_(&#c, &(#tb)))
                    }
                    // y = x·a + b: ẏ = ẋ a + x ȧ + ḃ
                    "mul_add" => {
                        let (a, b) = (&p[1], &p[2]);
                        let mut terms = Vec::new();
                        if let Some(tx) = &t[0] {
                            terms.push(quote!(#tx * #a));
                        }
                        if let Some(ta) = &t1 {
                            terms.push(quote!(#a0 * #ta));
                        }
                        if t.get(2).is_some_and(Option::is_some) {
                            let tb = t[2].clone();
                            terms.push(quote!(#tb));
                        }
                        let _ = b;
                        quote!(#(#terms)+*)
                    }
                    _ => unreachable!("every forward method has a rule"),
                }
            },
            out,
        )
    }

    fn call(&mut self, call: &syn::ExprCall, out: &mut Vec<TokenStream>) -> Val {
        let span = call.span();
        let e = Expr::Call(call.clone());
        let Expr::Path(fp) = peel(&call.func) else {
            self.refuse(
                span,
                "forward mode cannot differentiate a call through an expression",
            );
            return Val::Inactive(e.to_token_stream());
        };
        let path = &fp.path;
        let last = path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if last == "stop_gradient" {
            return Val::Inactive(e.to_token_stream());
        }
        if let Some(id) = path.get_ident().and_then(|i| self.resolve(&i.to_string())) {
            if let Some(inlined) = self.inline_closure(id, call) {
                return self.ex(&inlined, out);
            }
            let args: Vec<Val> = call.args.iter().map(|a| self.ex(a, out)).collect();
            let shadowed = self.closures.get(&id).and_then(|c| {
                c.names
                    .iter()
                    .find(|(n, b)| self.resolve(n) != *b)
                    .map(|(n, _)| n.clone())
            });
            if args.iter().any(|a| a.is_active()) || self.captures_active(id) {
                match shadowed {
                    Some(name) => self.refuse(span, format!("forward mode cannot differentiate a call to this closure, which captures `{name}`, where `{name}` names another variable: rename the later `{name}` (the closure is inlined where it is called), or write a named `#[differentiable]` function")),
                    None => self.refuse(span, "forward mode cannot differentiate a call to a closure or function value: define the closure with `let f = |..| ..;` in this function, or call a `#[differentiable]` function"),
                }
            }
            return Val::Inactive(e.to_token_stream());
        }
        // `f64::max(a, b)`, `<f64>::sin(x)`, `Tensor::matmul(&a, &b)`: a method.
        let type_head: Option<String> = match &fp.qself {
            Some(q) => match &*q.ty {
                syn::Type::Path(tp) if tp.qself.is_none() => {
                    tp.path.segments.last().map(|s| s.ident.to_string())
                }
                _ => None,
            },
            None if path.segments.len() >= 2 => {
                Some(path.segments[path.segments.len() - 2].ident.to_string())
            }
            None => None,
        };
        if let Some(head) = &type_head {
            let float = head == "f64" || head == "f32";
            if float || head == "Tensor" {
                let name = path
                    .segments
                    .last()
                    .expect("a path has a segment")
                    .ident
                    .clone();
                if forward_method(&last, call.args.len()) {
                    let ops: Vec<Val> = call.args.iter().map(|a| self.ex(a, out)).collect();
                    return self.method_rule(&name, &TokenStream::new(), ops, span, out);
                }
                if float && last == "from" && call.args.len() == 1 {
                    let v = self.ex(&call.args[0], out);
                    let ty = syn::Ident::new(head, name.span());
                    return match v {
                        Val::Active { p, t } => Val::Active {
                            p: quote!((#p as #ty)),
                            t: quote!((#t as #ty)),
                        },
                        v => {
                            let p = v.p();
                            Val::Inactive(quote!(#ty::from(#p)))
                        }
                    };
                }
            }
        }
        let type_like_head = fp.qself.is_none()
            && type_head
                .as_deref()
                .is_some_and(|h| h.starts_with(|ch: char| ch.is_ascii_uppercase()));
        // `Tensor::from(xs)`, `Vec::from(xs)`: the same copy of the tangent.
        if call.args.len() == 1
            && last == "from"
            && matches!(type_head.as_deref(), Some("Tensor" | "Vec"))
            && fp.qself.is_none()
        {
            let v = self.ex(&call.args[0], out);
            let func = &call.func;
            return match v {
                Val::Active { p, t } => Val::Active {
                    p: quote!(#func(#p)),
                    t: quote!(#func(#t)),
                },
                v => {
                    let p = v.p();
                    Val::Inactive(quote!(#func(#p)))
                }
            };
        }
        // `Real::relu(x)`, `Float::sin(x)`: a method called through its
        // trait or type.
        if type_like_head && forward_method(&last, call.args.len()) {
            let name = path
                .segments
                .last()
                .expect("a path has a segment")
                .ident
                .clone();
            let ops: Vec<Val> = call.args.iter().map(|a| self.ex(a, out)).collect();
            return self.method_rule(&name, &TokenStream::new(), ops, span, out);
        }
        let args: Vec<Val> = call.args.iter().map(|a| self.ex(a, out)).collect();
        if !args.iter().any(|a| a.is_active()) {
            let func = &call.func;
            let ps = args.iter().map(|a| a.p());
            return Val::Inactive(quote!(#func(#(#ps),*)));
        }
        let primitive_head = type_head
            .as_deref()
            .is_some_and(|h| PRIMITIVE_TYPES.contains(&h));
        if last.chars().next().is_some_and(|ch| ch.is_uppercase())
            || type_like_head
            || fp.qself.is_some()
            || primitive_head
        {
            self.refuse(
                span,
                format!(
                    "forward mode cannot differentiate the constructor or associated function `{}`",
                    call.func.to_token_stream().to_string().replace(' ', "")
                ),
            );
            return Val::Inactive(e.to_token_stream());
        }
        // Another differentiable function: through its forward mode (the
        // alias names the fix if the callee has none: `#[differentiable(forward)]`
        // on it, or stop_gradient on the arguments). An
        // argument without a tangent gets a zero (if that parameter is
        // differentiated there) or `NoTangent`, as the callee says
        // (`__ad_z<k>` keeps the zero, `__ad_v<k>` lends it).
        self.calls = true;
        let alias = syn::Ident::new(
            &format!(
                "mark_{}_with_differentiable_forward_or_wrap_its_arguments_in_stop_gradient",
                syn::ext::IdentExt::unraw(
                    &path.segments.last().expect("a path has a segment").ident
                )
            ),
            call.func.span(),
        );
        let mut stores = Vec::new();
        let mut ps = Vec::new();
        let mut ts = Vec::new();
        for (k, a) in args.into_iter().enumerate() {
            match a {
                Val::Tuple(_) => unreachable!("a solid value"),
                Val::Active { p, t } => {
                    ps.push(p);
                    ts.push(t);
                }
                Val::Inactive(p) => {
                    // `__ad_z<k>` takes the argument as the parameter's type
                    // (coercions happen there), and gives it back beside the
                    // zero it keeps.
                    let (z, v) = (format_ident!("__ad_z{}", k), format_ident!("__ad_v{}", k));
                    self.temps += 1;
                    let (held, store) = (
                        format_ident!("__adf_a{}", self.temps),
                        format_ident!("__adf_z{}", self.temps),
                    );
                    stores.push(quote!(let (#held, #store) = #alias::#z(#p);));
                    ps.push(quote!(#held));
                    ts.push(quote!(#alias::#v(&#store)));
                }
            }
        }
        let func = path;
        let (hp, ht) = self.temp();
        out.push(quote_spanned!(span=> let (#hp, #ht) = {
            use #func as #alias;
            #(#stores)*
            #alias::__ad_jvp(#(#ps,)* #(#ts),*)
        };));
        Val::Active {
            p: quote!(#hp),
            t: quote!(#ht),
        }
    }

    /// `f(a, b)` for `let f = |p, q| body;`: `{ let p = a; let q = b; body }`,
    /// if every name the body mentions still means what it meant where the
    /// closure was defined.
    fn inline_closure(&self, id: usize, call: &syn::ExprCall) -> Option<Expr> {
        let closure = self.closures.get(&id)?;
        if closure.inputs.len() != call.args.len() {
            return None;
        }
        if closure.names.iter().any(|(n, b)| self.resolve(n) != *b) {
            return None;
        }
        let mut pats = Vec::new();
        let mut args: Vec<Expr> = Vec::new();
        for (p, a) in closure.inputs.iter().zip(&call.args) {
            let mut p = match p {
                Pat::Type(t) if matches!(&*t.pat, Pat::Reference(_)) => (*t.pat).clone(),
                p => p.clone(),
            };
            let mut a: Expr = a.clone();
            while let Pat::Reference(r) = &p {
                if r.mutability.is_some() {
                    return None;
                }
                a = syn::parse_quote!(*(#a));
                p = (*r.pat).clone();
            }
            pats.push(p);
            args.push(a);
        }
        let body = &closure.body;
        let site = stable_ident("__adf_arg", call.func.span());
        let temps: Vec<syn::Ident> = (0..args.len())
            .map(|k| format_ident!("{}_{}", site, k))
            .collect();
        Some(syn::parse_quote!({ #(let #temps = #args;)* #(let #pats = #temps;)* #body }))
    }

    /// An iterator chain ending in `sum`, `product` or `fold` with `map` and
    /// `filter` steps: the same computation as a `for` loop.
    fn iterator_chain(&mut self, m: &syn::ExprMethodCall) -> Option<Expr> {
        let terminal = m.method.to_string();
        // Every binding of the loop its own name: the element, then each
        // step's result (one name would share one activity between them).
        let acc = stable_ident("__adf_acc", m.method.span());
        let base = stable_ident("__adf_item", m.method.span());
        let step_item = |k: usize| format_ident!("{}_{}", base, k);
        let mut steps: Vec<&syn::ExprMethodCall> = Vec::new();
        let mut e = peel(&m.receiver);
        while let Expr::MethodCall(step) = e {
            let name = step.method.to_string();
            if (name == "map" || name == "filter") && step.args.len() == 1 {
                steps.push(step);
                e = peel(&step.receiver);
            } else {
                break;
            }
        }
        let maps = steps.iter().filter(|s| s.method == "map").count();
        let item = step_item(maps);
        let collect = terminal == "collect" && m.args.is_empty();
        if let Some(t) = &m.turbofish
            && collect
            && !matches!(t.args.first(), Some(syn::GenericArgument::Type(syn::Type::Path(p)))
                if p.path.segments.last().is_some_and(|s| s.ident == "Vec"))
        {
            return None;
        }
        let (init, combine): (Expr, Expr) = match (terminal.as_str(), m.args.len()) {
            ("collect", 0) => (
                syn::parse_quote!(::std::vec::Vec::new()),
                syn::parse_quote!(#acc),
            ),
            ("sum", 0) => (syn::parse_quote!(0.0), syn::parse_quote!(#acc + #item)),
            ("product", 0) => (syn::parse_quote!(1.0), syn::parse_quote!(#acc * #item)),
            ("fold", 2) => {
                let (init, f) = (&m.args[0], &m.args[1]);
                let combine = match peel(f) {
                    Expr::Closure(c)
                        if c.inputs.len() == 2
                            && c.capture.is_none()
                            && !contains_return(&c.body) =>
                    {
                        let (a, b) = (&c.inputs[0], &c.inputs[1]);
                        let body = &c.body;
                        let (fa, fb) = (
                            stable_ident("__adf_fa", c.or1_token.span),
                            stable_ident("__adf_fb", c.or1_token.span),
                        );
                        syn::parse_quote!({ let #fa = #acc; let #fb = #item; let #a = #fa; let #b = #fb; #body })
                    }
                    Expr::Path(p) => syn::parse_quote!(#p(#acc, #item)),
                    _ => return None,
                };
                (init.clone(), combine)
            }
            _ => return None,
        };
        let source = e;
        let iterator_source = match source {
            Expr::Range(_) | Expr::Paren(_) => true,
            Expr::MethodCall(s) => [
                "iter",
                "copied",
                "cloned",
                "enumerate",
                "zip",
                "rev",
                "windows",
                "chunks",
                "chunks_exact",
                "into_iter",
            ]
            .contains(&s.method.to_string().as_str()),
            _ => false,
        };
        if !iterator_source {
            return None;
        }
        let mut body: Vec<TokenStream> = Vec::new();
        let mut k = 0;
        // Over a source of tuples (`enumerate`, `zip`), each part of the
        // element is bound by name and the steps up to the first `map` see
        // a tuple literal of those names: no tuple of an index and an element
        // is bound as one value (it would need a tangent).
        let first = step_item(0);
        let mut pattern: Pat = syn::parse_quote!(#first);
        let mut current: Expr = syn::parse_quote!(#first);
        let mut parts = 0;
        if let Some((p, e)) = crate::syntax::tuple_parts(source, &first, &mut parts) {
            pattern = p;
            current = e;
        }
        for step in steps.iter().rev() {
            let Expr::Closure(c) = peel(&step.args[0]) else {
                return None;
            };
            if c.inputs.len() != 1 || c.capture.is_some() || contains_return(&c.body) {
                return None;
            }
            let (p, b) = (&c.inputs[0], &c.body);
            if step.method == "map" {
                let next = step_item(k + 1);
                match crate::syntax::bind_by_value(p, &current) {
                    Some(lets) => {
                        let lets = lets.iter().map(|(p, e)| quote!(let #p = #e;));
                        body.push(quote!(let #next = { #(#lets)* #b };));
                    }
                    None => body.push(quote!(let #next = { let #p = #current; #b };)),
                }
                k += 1;
                current = syn::parse_quote!(#next);
            } else if let Some(lets) = crate::syntax::bind_through_ref(p, &current) {
                // The parts by name, not a tuple value that would get a
                // tangent (`|(i, _)| i % 2 == 0` after `enumerate`).
                let lets = lets.iter().map(|(p, e)| quote!(let #p = #e;));
                body.push(quote!(if !({ #(#lets)* #b }) { continue; }));
            } else {
                body.push(quote!(if !({ let #p = &#current; #b }) { continue; }));
            }
        }
        if k == 0 && parts > 0 {
            body.push(quote!(let #item = #current;));
        }
        if collect {
            return Some(syn::parse_quote!({
                let mut #acc: ::std::vec::Vec<_> = #init;
                for #pattern in #source {
                    #(#body)*
                    #acc.push(#item);
                }
                #acc
            }));
        }
        Some(syn::parse_quote!({
            let mut #acc = #init;
            for #pattern in #source {
                #(#body)*
                #acc = #combine;
            }
            #acc
        }))
    }
}

/// Methods that copy values out (their tangent is the same copy of the
/// tangent).
const COPIES: &[&str] = &["to_vec", "to_owned", "into_vec", "item", "data"];

/// In-place methods of sequences whose tangent is the same method on the
/// tangent (they move or drop elements, or add one).
const MUTATING: &[&str] = &[
    "push", "clear", "truncate", "reverse", "swap", "insert", "pop", "remove",
];

/// A parameter whose type is a struct of the user's: its tangent's
/// `#[no_grad]` fields are reset.
pub fn needs_sanitize(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => needs_sanitize(&r.elem),
        syn::Type::Paren(p) => needs_sanitize(&p.elem),
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|last| {
            let name = last.ident.to_string();
            !matches!(name.as_str(), "f64" | "f32" | "Tensor" | "Vec")
                && name.starts_with(|c: char| c.is_ascii_uppercase())
        }),
        _ => false,
    }
}

impl crate::syntax::Scope for Fwd<'_> {
    fn is_variable(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }
    fn is_borrowed_param(&self, name: &str) -> bool {
        // Parameters are the first bindings, in order; a shadowing `let`
        // resolves to another.
        let Some(id) = self.resolve(name) else {
            return false;
        };
        self.sig.params.get(id).is_some_and(|p| {
            p.ident == name && matches!(&p.ty, syn::Type::Reference(r) if r.mutability.is_none())
        })
    }
}
