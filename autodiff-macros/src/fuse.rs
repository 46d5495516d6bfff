//! Fusion of elementwise tensor chains (issue 11), a pass over the IR between
//! lowering and analysis.
//!
//! A chain like `100.0 * (b − a²)² + (1 − a)²` over tensors is, unfused, one
//! op per node: each writes a temporary tensor forward and one or more in the
//! reverse. This pass finds, at compile time, maximal trees of elementwise
//! ops whose value is a tensor ([`region_op`]: `+ − × ÷` with tensors or `f64`
//! values, negation, `powi`/`powf` with a constant exponent, and the unary
//! functions that `f64` has as std methods), optionally under a `.sum()` or
//! `.mean()`, and
//! rewrites each into one call of the runtime's fused op
//! (`__private::fused::{mapN, sumN, meanN}`, N the number of distinct
//! leaves; `out_sumN`/`out_meanN` at the function's result) as an
//! [`Ex::Call`]: the rest of the macro treats it as a call of a
//! differentiable function, whose pullback gives one cotangent per argument.
//! The call gets the chain's leaves by reference and two closures the pass
//! writes:
//!
//! - the value of one element, `|v: [f64; N]| y`, the chain as written with
//!   `v[k]` in place of leaf k;
//! - its reverse, `|v, ȳ| [v̄₀, …]`: the chain's node values again, then the
//!   nodes in reverse order, each operand's cotangent from the same rule the
//!   unfused code calls (`__ad::rules::<op>_d<k>`, on `f64`: the rules of the
//!   tensor ops apply those per element), so strong zeros and edge values
//!   agree with the unfused chain.
//!
//! `let` bindings of a chain used exactly once, later in the same block and
//! inside another chain, are inlined first (their value moves to the use),
//! so a chain written over several `let`s is one region. A binding read
//! anywhere else (twice, in a loop condition, in a macro, in code kept as
//! written) is kept, and its value is fused on its own and read as a leaf.
//!
//! Types: the macro sees no types, so the pass only fuses what it can tell is
//! a tensor chain: a leaf must be known to be a `Tensor` or an `f64`
//! (parameters and annotated `let`s by their type, other `let`s by the ops
//! that made them), or be an operand of `+ − × ÷` whose other operand is
//! known to be a tensor (the runtime's operators take only `f64` and
//! `Tensor` there). A chain with no tensor leaf is scalar code and is left as
//! it is. Anything else is left unfused: a wrong guess would be a compile
//! error, never a wrong gradient, but code that compiles must keep compiling.

use crate::ir::{
    Assign, AssignKind, BindId, Block, Body, Ex, Loop, LoopKind, Stmt, Syntax, Target,
};
use crate::rules::Need;
use crate::signature::Signature;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};
use std::collections::HashSet;

/// Whether chains not under `.sum()`/`.mean()` are fused too (see
/// [`Fuse::rewrite`]).
const FUSE_MAPS: bool = false;

/// The most leaves a fused op takes (`fused::MAX_LEAVES` in the runtime).
const MAX_LEAVES: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tensor,
    F64,
    Unknown,
}

/// Unary rules whose `Tensor` method maps the `f64` std method of the same name.
const UNARY: &[&str] = &[
    "sin",
    "cos",
    "tan",
    "tanh",
    "exp",
    "ln",
    "sqrt",
    "abs",
    "recip",
    "atan",
    "asin",
    "acos",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "exp2",
    "exp_m1",
    "ln_1p",
    "log2",
    "log10",
    "cbrt",
    "to_degrees",
    "to_radians",
    "floor",
    "ceil",
    "round",
    "trunc",
    "signum",
];

/// Ops whose result is a tensor when their receiver is one.
const TENSOR_VALUED: &[&str] = &[
    "slice",
    "matmul",
    "reshape",
    "t",
    "sum_dim",
    "mean_dim",
    "softmax",
    "log_softmax",
    "logsumexp",
    "where",
    "maximum",
    "minimum",
];

/// Ops whose result is an `f64` when their receiver is a tensor.
const SCALAR_VALUED: &[&str] = &["sum", "mean", "item", "dot", "norm", "max", "min"];

/// Fuses the elementwise tensor chains of `body` (see the module's doc).
pub fn fuse(sig: &Signature, body: &mut Body) {
    // For measuring what fusion gains: the whole build without it.
    if std::env::var_os("AUTODIFF_NO_FUSE").is_some() {
        return;
    }
    let mut pass = Fuse {
        kinds: param_kinds(sig, body),
        mentioned: HashSet::new(),
        uses: Vec::new(),
        reassigned: Vec::new(),
        slices: Vec::new(),
        consumed: Vec::new(),
        output: false,
    };
    pass.infer_block(&body.block);
    mentioned_block(&body.block, &mut pass.mentioned);
    let reassigned: Vec<bool> = body.bindings.iter().map(|b| b.reassigned).collect();
    let idents: Vec<String> = body.bindings.iter().map(|b| b.ident.to_string()).collect();
    loop {
        let mut uses = vec![0usize; body.bindings.len()];
        count_uses_block(&body.block, &mut uses);
        let ctx = Inline {
            uses: &uses,
            reassigned: &reassigned,
            idents: &idents,
        };
        if !pass.inline_block(&mut body.block, &ctx) {
            break;
        }
    }
    pass.uses = vec![0usize; body.bindings.len()];
    count_uses_block(&body.block, &mut pass.uses);
    pass.reassigned = reassigned;
    pass.rewrite_block(&mut body.block);
}

struct Fuse {
    kinds: Vec<Kind>,
    /// Names that occur in token streams kept as written (conditions,
    /// verbatim statements, inactive expressions): such a binding is never
    /// inlined.
    mentioned: HashSet<String>,
    /// Every binding's number of reads (after inlining).
    uses: Vec<usize>,
    reassigned: Vec<bool>,
    /// `let b = x.slice(0, range);` earlier in the block being rewritten,
    /// which a fused chain may read in place (see [`Fuse::views`]).
    slices: Vec<SliceLet>,
    /// Slice lets a fused call took over: their statements are removed.
    consumed: Vec<BindId>,
    /// Rewriting the function's result (`out_sumN` for a sum at its root).
    output: bool,
}

#[derive(Clone)]
struct SliceLet {
    binding: BindId,
    base: Ex,
    range: Ex,
}

/// `fused::rows(&x, range)`: the cotangent, of `x`'s shape, goes to `x`.
static ROWS: crate::rules::Rule = crate::rules::Rule {
    rule: "identity",
    arity: 2,
    operands: &[Some(&[]), None],
    expensive: false,
    identity: true,
};

struct Inline<'a> {
    uses: &'a [usize],
    reassigned: &'a [bool],
    idents: &'a [String],
}

fn type_kind(ty: &syn::Type) -> Kind {
    match ty {
        syn::Type::Reference(r) => type_kind(&r.elem),
        syn::Type::Paren(p) => type_kind(&p.elem),
        syn::Type::Group(g) => type_kind(&g.elem),
        syn::Type::Path(p) if p.qself.is_none() => match p.path.segments.last() {
            Some(s) if s.arguments.is_empty() && s.ident == "Tensor" => Kind::Tensor,
            Some(s) if s.arguments.is_empty() && s.ident == "f64" && p.path.segments.len() == 1 => {
                Kind::F64
            }
            _ => Kind::Unknown,
        },
        _ => Kind::Unknown,
    }
}

fn param_kinds(sig: &Signature, body: &Body) -> Vec<Kind> {
    body.bindings
        .iter()
        .map(|b| match b.param {
            Some(p) if !b.reassigned => type_kind(&sig.params[p].ty),
            _ => Kind::Unknown,
        })
        .collect()
}

fn strip_ref(e: &Ex) -> &Ex {
    match e {
        Ex::Ref { inner, .. } => strip_ref(inner),
        _ => e,
    }
}

fn is_float_literal(tokens: &TokenStream) -> bool {
    let s = tokens.to_string().replace(' ', "");
    let s = s.strip_prefix('-').unwrap_or(&s);
    syn::parse_str::<syn::LitFloat>(s).is_ok_and(|l| l.suffix().is_empty() || l.suffix() == "f64")
}

/// An operand inlined into the scalar kernel, where it is evaluated for
/// every element: a constant, or pure, cheap syntax that reads no variable
/// (`1.0 / 3.0`, `f64::EPSILON`). A call (`noise()`) is a leaf instead,
/// evaluated once where the chain was.
fn constant(e: &Ex) -> Option<&TokenStream> {
    match e {
        Ex::Const { tokens } => Some(tokens),
        Ex::Inactive {
            tokens,
            reads,
            stable: true,
        } if reads.is_empty() => Some(tokens),
        _ => None,
    }
}

/// What kind of op node `e` is for a region.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Elem {
    Binary,
    Neg,
    Unary,
    /// `powi`/`powf`: the exponent (operand 1) must be a constant for
    /// `powi`; for `powf` it may be a leaf.
    Pow {
        integer: bool,
    },
}

fn elem(e: &Ex) -> Option<Elem> {
    let Ex::Op {
        rule, syntax, args, ..
    } = e
    else {
        return None;
    };
    match (syntax, rule.rule) {
        (Syntax::Binary(_), "add" | "sub" | "mul" | "div") if args.len() == 2 => Some(Elem::Binary),
        (Syntax::Neg, "neg") => Some(Elem::Neg),
        (Syntax::Method { name, turbofish }, r)
            if turbofish.is_empty() && args.len() == 1 && UNARY.contains(&r) && name == r =>
        {
            Some(Elem::Unary)
        }
        (Syntax::Method { name, turbofish }, "powi")
            if turbofish.is_empty() && name == "powi" && args.len() == 2 =>
        {
            constant(strip_ref(&args[1])).map(|_| Elem::Pow { integer: true })
        }
        (Syntax::Method { name, turbofish }, "powf")
            if turbofish.is_empty() && name == "powf" && args.len() == 2 =>
        {
            Some(Elem::Pow { integer: false })
        }
        _ => None,
    }
}

impl Fuse {
    fn kind(&self, e: &Ex) -> Kind {
        match e {
            Ex::Var { id, .. } => self.kinds[*id],
            Ex::Const { tokens } if is_float_literal(tokens) => Kind::F64,
            Ex::Ref { inner, .. } => self.kind(inner),
            Ex::Op { rule, args, .. } => {
                let k = |i: usize| args.get(i).map_or(Kind::Unknown, |a| self.kind(a));
                match elem(e) {
                    Some(Elem::Binary) => match (k(0), k(1)) {
                        (Kind::Tensor, _) | (_, Kind::Tensor) => Kind::Tensor,
                        (Kind::F64, Kind::F64) => Kind::F64,
                        _ => Kind::Unknown,
                    },
                    Some(_) => k(0),
                    None if TENSOR_VALUED.contains(&rule.rule) && k(0) == Kind::Tensor => {
                        Kind::Tensor
                    }
                    None if SCALAR_VALUED.contains(&rule.rule)
                        && rule.arity == 1
                        && k(0) == Kind::Tensor =>
                    {
                        Kind::F64
                    }
                    None if rule.rule == "dot" && k(0) == Kind::Tensor => Kind::F64,
                    None => Kind::Unknown,
                }
            }
            _ => Kind::Unknown,
        }
    }

    /// A node that belongs to a tensor region.
    fn region_op(&self, e: &Ex) -> bool {
        elem(e).is_some() && self.kind(e) == Kind::Tensor
    }

    // ------------------------------------------------------------ kinds of lets

    fn infer_block(&mut self, block: &Block) {
        for stmt in &block.stmts {
            match stmt {
                Stmt::Assign(a) => self.infer_assign(a),
                Stmt::If(i) => {
                    self.infer_block(&i.then);
                    if let Some(e) = &i.els {
                        self.infer_block(e);
                    }
                }
                Stmt::Match(m) => m.arms.iter().for_each(|a| self.infer_block(&a.body)),
                Stmt::Loop(l) => self.infer_block(&l.body),
                Stmt::Block(b) => self.infer_block(b),
                Stmt::Verbatim { .. } | Stmt::Exit(_) => {}
            }
        }
    }

    fn infer_assign(&mut self, a: &Assign) {
        let (AssignKind::Let { simple: true, .. }, [Some(Target::Bind(id))]) =
            (&a.kind, a.targets.as_slice())
        else {
            return;
        };
        let kind = self.kind(&a.value);
        self.kinds[*id] = kind;
    }

    // ------------------------------------------------------------ inlining lets

    /// Inlines one `let` of a tensor chain used once, later in this block,
    /// inside another chain; true if it did.
    fn inline_block(&mut self, block: &mut Block, ctx: &Inline<'_>) -> bool {
        for i in 0..block.stmts.len() {
            if let Some(id) = self.inlinable(&block.stmts[i], ctx) {
                for j in i + 1..block.stmts.len() {
                    let Stmt::Assign(user) = &block.stmts[j] else {
                        if mentions(&block.stmts[j], id) {
                            break;
                        }
                        continue;
                    };
                    if !matches!(
                        user.kind,
                        AssignKind::Let { .. } | AssignKind::Set | AssignKind::Out
                    ) || !self.used_in_region(&user.value, id, false)
                    {
                        if mentions(&block.stmts[j], id) {
                            break;
                        }
                        continue;
                    }
                    let Stmt::Assign(def) = block.stmts.remove(i) else {
                        unreachable!()
                    };
                    let Stmt::Assign(user) = &mut block.stmts[j - 1] else {
                        unreachable!()
                    };
                    substitute(&mut user.value, id, &def.value);
                    return true;
                }
            }
        }
        for stmt in &mut block.stmts {
            let changed = match stmt {
                Stmt::If(i) => {
                    self.inline_block(&mut i.then, ctx)
                        || i.els.as_mut().is_some_and(|e| self.inline_block(e, ctx))
                }
                Stmt::Match(m) => m
                    .arms
                    .iter_mut()
                    .any(|a| self.inline_block(&mut a.body, ctx)),
                Stmt::Loop(Loop {
                    body, checkpoint, ..
                }) if checkpoint.is_none() => self.inline_block(body, ctx),
                Stmt::Block(b) => self.inline_block(b, ctx),
                _ => false,
            };
            if changed {
                return true;
            }
        }
        false
    }

    /// The binding a statement declares, if it may be inlined.
    fn inlinable(&self, stmt: &Stmt, ctx: &Inline<'_>) -> Option<BindId> {
        let Stmt::Assign(a) = stmt else { return None };
        let (
            AssignKind::Let {
                simple: true,
                pattern,
            },
            [Some(Target::Bind(id))],
        ) = (&a.kind, a.targets.as_slice())
        else {
            return None;
        };
        let id = *id;
        let ident = &ctx.idents[id];
        let pure = pure_chain(&a.value, ctx.reassigned);
        (pattern.to_string() == *ident
            && !ctx.reassigned[id]
            && ctx.uses[id] == 1
            && !self.mentioned.contains(ident)
            && self.region_op(&a.value)
            && pure)
            .then_some(id)
    }

    /// Whether `Var(id)` occurs in `e` as an operand of a region op (or of a
    /// `.sum()` of a tensor).
    fn used_in_region(&self, e: &Ex, id: BindId, parent_region: bool) -> bool {
        match e {
            Ex::Var { id: v, .. } => *v == id && parent_region,
            Ex::Ref { inner, .. } => self.used_in_region(inner, id, parent_region),
            Ex::Op { rule, args, .. } => {
                let here = self.region_op(e)
                    || (matches!(rule.rule, "sum" | "mean")
                        && rule.arity == 1
                        && args.first().is_some_and(|a| self.kind(a) == Kind::Tensor));
                args.iter().any(|a| self.used_in_region(a, id, here))
            }
            Ex::Call { args, .. } | Ex::Tuple { elems: args } | Ex::Array { elems: args, .. } => {
                args.iter().any(|a| self.used_in_region(a, id, false))
            }
            Ex::Index { base, index, .. } => {
                self.used_in_region(base, id, false) || self.used_in_region(index, id, false)
            }
            Ex::Field { base, .. } => self.used_in_region(base, id, false),
            _ => false,
        }
    }

    // ------------------------------------------------------------ rewriting

    fn rewrite_block(&mut self, block: &mut Block) {
        // Slice lets are only read in place by chains of the same block.
        let outer = std::mem::take(&mut self.slices);
        let consumed_before = self.consumed.len();
        for stmt in &mut block.stmts {
            match stmt {
                Stmt::Assign(a) => {
                    if matches!(
                        a.kind,
                        AssignKind::Let { .. } | AssignKind::Set | AssignKind::Out
                    ) {
                        self.output = matches!(a.kind, AssignKind::Out);
                        self.rewrite(&mut a.value);
                        self.output = false;
                    }
                    if let Some(slice) = self.slice_let(a) {
                        self.slices.push(slice);
                    }
                }
                Stmt::If(i) => {
                    self.rewrite_block(&mut i.then);
                    if let Some(e) = &mut i.els {
                        self.rewrite_block(e);
                    }
                }
                Stmt::Match(m) => m
                    .arms
                    .iter_mut()
                    .for_each(|a| self.rewrite_block(&mut a.body)),
                Stmt::Loop(l) => {
                    if l.checkpoint.is_none() {
                        self.rewrite_block(&mut l.body)
                    }
                }
                Stmt::Block(b) => self.rewrite_block(b),
                Stmt::Verbatim { .. } | Stmt::Exit(_) => {}
            }
        }
        // The slice lets a fused call now reads in place.
        let consumed = &self.consumed[consumed_before..];
        block.stmts.retain(|stmt| {
            !matches!(stmt, Stmt::Assign(a)
                if matches!(a.kind, AssignKind::Let { .. })
                    && matches!(a.targets.as_slice(), [Some(Target::Bind(id))] if consumed.contains(id)))
        });
        self.slices = outer;
    }

    /// `let b = x.slice(0, range);` with `x` a tensor variable and `range`
    /// pure, neither of them reassigned anywhere: a chain that is the only
    /// reader of `b` may read those rows of `x` in place.
    fn slice_let(&self, a: &Assign) -> Option<SliceLet> {
        let (
            AssignKind::Let {
                simple: true,
                pattern,
            },
            [Some(Target::Bind(id))],
        ) = (&a.kind, a.targets.as_slice())
        else {
            return None;
        };
        let Ex::Op {
            rule, args, syntax, ..
        } = &a.value
        else {
            return None;
        };
        let (Syntax::Method { name, turbofish }, "slice", 3) = (syntax, rule.rule, args.len())
        else {
            return None;
        };
        if name != "slice" || !turbofish.is_empty() || self.reassigned[*id] {
            return None;
        }
        let base = strip_ref(&args[0]);
        let Ex::Var { id: x, .. } = base else {
            return None;
        };
        let zero = matches!(&args[1], Ex::Const { tokens } if matches!(tokens.to_string().as_str(), "0" | "0usize"));
        // A range of plain arithmetic over variables nothing reassigns: the
        // same value where the fused call evaluates it.
        let range_pure = match &args[2] {
            Ex::Inactive { tokens, reads, .. } | Ex::Unsupported { tokens, reads, .. } => {
                reads.iter().all(|r| !self.reassigned[*r]) && plain_range(tokens)
            }
            _ => false,
        };
        let ident = syn::ext::IdentExt::unraw(&self.ident_of(a)).to_string();
        (zero
            && range_pure
            && !self.reassigned[*x]
            && self.kinds[*x] == Kind::Tensor
            && pattern.to_string() == ident
            && !self.mentioned.contains(&ident))
        .then(|| SliceLet {
            binding: *id,
            base: base.clone(),
            range: args[2].clone(),
        })
    }

    fn ident_of(&self, a: &Assign) -> syn::Ident {
        match &a.kind {
            AssignKind::Let { pattern, .. } => syn::parse2::<syn::Ident>(pattern.clone())
                .unwrap_or_else(|_| format_ident!("__ad_not_a_name")),
            _ => format_ident!("__ad_not_a_name"),
        }
    }

    fn rewrite(&mut self, e: &mut Ex) {
        // Only the root of the result is the result.
        let output = std::mem::replace(&mut self.output, false);
        // `chain.sum()`, `chain.mean()`.
        if let Ex::Op {
            rule, args, span, ..
        } = &*e
            && matches!(rule.rule, "sum" | "mean")
            && rule.arity == 1
            && self.region_op(strip_ref(&args[0]))
            && let Some(call) = self.fused(
                strip_ref(&args[0]),
                Some((rule.rule == "mean", output)),
                *span,
            )
        {
            *e = call;
            self.rewrite_leaves(e);
            return;
        }
        // A chain that is not summed stays as its ops: measured in one run
        // of the benchmark (11 rounds, load below 2), fusing those made GMM
        // form (c) 2.12 → 4.94× its objective at d64 K100 (its broadcast
        // `x·Qᵀ − b` then `z²`, and `α + Σq − ½ sqnorm`) and W4 0.89 → 1.01×
        // the hand-written gradient (bias and `tanh`), where the tensor ops
        // run vectorised and their rules reduce a broadcast operand's
        // cotangent directly. `FUSE_MAPS` turns them back on.
        if FUSE_MAPS
            && self.region_op(e)
            && let Ex::Op { span, .. } = &*e
            && let Some(call) = self.fused(e, None, *span)
        {
            *e = call;
            self.rewrite_leaves(e);
            return;
        }
        match e {
            Ex::Op { args, .. }
            | Ex::Call { args, .. }
            | Ex::Tuple { elems: args }
            | Ex::Array { elems: args, .. } => args.iter_mut().for_each(|a| self.rewrite(a)),
            Ex::Index { base, index, .. } => {
                self.rewrite(base);
                self.rewrite(index);
            }
            Ex::Field { base, .. } => self.rewrite(base),
            Ex::Ref { inner, .. } => self.rewrite(inner),
            _ => {}
        }
    }

    /// Chains inside the leaves of a fused call (`x.matmul(&(a * b + c))`).
    fn rewrite_leaves(&mut self, call: &mut Ex) {
        if let Ex::Call { args, .. } = call {
            for a in args.iter_mut().skip(2) {
                self.rewrite(a);
            }
        }
    }

    /// The fused call of the region rooted at `root`, if it is worth it and
    /// every leaf has a known kind.
    /// `reduce`: for a chain under `.sum()` or `.mean()`, `Some((mean, at
    /// the function's result))`.
    fn fused(&mut self, root: &Ex, reduce: Option<(bool, bool)>, span: Span) -> Option<Ex> {
        let mut r = Region::default();
        self.collect(root, &mut r)?;
        if r.ops + usize::from(reduce.is_some()) < 2
            || r.leaves.is_empty()
            || r.leaves.len() > MAX_LEAVES
        {
            return None;
        }
        if !r.kinds.contains(&Kind::Tensor) {
            return None;
        }
        let n = r.leaves.len();
        let nodes = self.nodes(root, &r);
        let value = kernel_value(&nodes);
        let vjp = kernel_vjp(&nodes, n);
        // At the result, the sum's pullback is usually called with the seed
        // 1: `out_sumN` computes those cotangents with the value, in one pass.
        let kind = match reduce {
            None => "map",
            Some((false, false)) => "sum",
            Some((false, true)) => "out_sum",
            Some((true, false)) => "mean",
            Some((true, true)) => "out_mean",
        };
        let name = format_ident!("{}{}", kind, n);
        let func: syn::Path = syn::parse_quote!(__ad::fused::#name);
        let mut args = vec![
            Ex::Inactive {
                tokens: quote!(move |__ad_v: [f64; #n]| -> f64 { #value }),
                reads: vec![],
                stable: false,
            },
            Ex::Inactive {
                tokens: quote!(move |__ad_v: [f64; #n], __ad_g: f64| -> [f64; #n] { #vjp }),
                reads: vec![],
                stable: false,
            },
        ];
        // `fused::leaf(&x)`: the value, kept without its lifetime; the
        // identity rule passes its cotangent back to `x`.
        for (k, leaf) in r.leaves.into_iter().enumerate() {
            // A slice only this chain reads: rows of its tensor, in place.
            if let Some(view) = r.vars[k].and_then(|b| {
                self.slices
                    .iter()
                    .find(|s| s.binding == b && self.uses[b] == r.counts[k])
                    .cloned()
            }) {
                self.consumed.push(view.binding);
                args.push(Ex::Op {
                    rule: &ROWS,
                    args: vec![
                        Ex::Ref {
                            inner: Box::new(view.base),
                            mutable: false,
                        },
                        view.range,
                    ],
                    syntax: Syntax::Call {
                        path: quote!(__ad::fused::rows),
                    },
                    span,
                });
                continue;
            }
            let leaf = match leaf {
                e @ Ex::Ref { .. } => e,
                e => Ex::Ref {
                    inner: Box::new(e),
                    mutable: false,
                },
            };
            args.push(Ex::Op {
                rule: &crate::rules::IDENTITY,
                args: vec![leaf],
                syntax: Syntax::Call {
                    path: quote!(__ad::fused::leaf),
                },
                span,
            });
        }
        // For working on the macro: AUTODIFF_FUSE_DEBUG=1 prints each fused chain.
        if std::env::var_os("AUTODIFF_FUSE_DEBUG").is_some() {
            let leaves: Vec<String> = args
                .iter()
                .skip(2)
                .map(|a| crate::ir::plain(a).to_string())
                .collect();
            eprintln!("fused {name}: {} ops, leaves {}", r.ops, leaves.join(" | "));
        }
        Some(Ex::Call {
            func,
            args,
            span,
            method: false,
        })
    }

    /// Walks a region: its op nodes, leaves and constants. `None` if some
    /// operand cannot be fused.
    fn collect(&self, e: &Ex, r: &mut Region) -> Option<()> {
        let Ex::Op { args, .. } = e else { return None };
        let kind = elem(e)?;
        r.ops += 1;
        for (k, arg) in args.iter().enumerate() {
            let a = strip_ref(arg);
            if self.region_op(a) {
                self.collect(a, r)?;
                continue;
            }
            // A constant of a binary op next to a tensor is an `f64`; the
            // exponent of `powi` an `i32`, of `powf` an `f64`: inlined.
            if constant(a).is_some() {
                continue;
            }
            // The exponent of `powi` is a constant (checked by `elem`).
            let partner_tensor =
                kind == Elem::Binary && self.kind(strip_ref(&args[1 - k])) == Kind::Tensor;
            let leaf_kind = match self.kind(a) {
                Kind::Unknown if partner_tensor => Kind::Unknown,
                Kind::Unknown => return None,
                known => known,
            };
            match a {
                Ex::Var { .. }
                | Ex::Op { .. }
                | Ex::Index { .. }
                | Ex::Field { .. }
                | Ex::Inactive { .. } => {}
                _ => return None,
            }
            r.leaf(a, leaf_kind);
        }
        Some(())
    }
}

#[derive(Default)]
struct Region {
    ops: usize,
    /// Distinct leaves, in order of first occurrence.
    leaves: Vec<Ex>,
    kinds: Vec<Kind>,
    /// The binding of each leaf that is a variable (`None` for others).
    vars: Vec<Option<BindId>>,
    /// Leaf of each non-variable leaf occurrence, in walk order.
    others: Vec<usize>,
    /// How many times the region reads each leaf.
    counts: Vec<usize>,
}

impl Region {
    fn leaf(&mut self, e: &Ex, kind: Kind) {
        if let Ex::Var { id, .. } = e {
            if let Some(k) = self.vars.iter().position(|v| *v == Some(*id)) {
                self.counts[k] += 1;
                return;
            }
            self.vars.push(Some(*id));
        } else {
            self.others.push(self.leaves.len());
            self.vars.push(None);
        }
        self.leaves.push(e.clone());
        self.kinds.push(kind);
        self.counts.push(1);
    }
}

/// A node of the kernel: a region op, a leaf, or a constant (`i32` for the
/// exponent of `powi`, else `f64`).
enum Node<'e> {
    Op { ex: &'e Ex, kids: Vec<usize> },
    Leaf(usize),
    Const { tokens: &'e TokenStream, int: bool },
}

impl Fuse {
    /// The region's nodes, children before parents (the root last): the
    /// walk of [`Fuse::collect`] again, with the same decisions.
    fn nodes<'e>(&self, root: &'e Ex, r: &Region) -> Vec<Node<'e>> {
        let mut out = Vec::new();
        let mut next_other = 0;
        self.walk(root, r, &mut next_other, &mut out);
        out
    }

    fn walk<'e>(
        &self,
        e: &'e Ex,
        r: &Region,
        next_other: &mut usize,
        out: &mut Vec<Node<'e>>,
    ) -> usize {
        let Ex::Op { args, rule, .. } = e else {
            unreachable!("a region's root and inner nodes are ops")
        };
        let mut kids = Vec::new();
        for (k, arg) in args.iter().enumerate() {
            let a = strip_ref(arg);
            let id = if self.region_op(a) {
                self.walk(a, r, next_other, out)
            } else if let Some(tokens) = constant(a) {
                out.push(Node::Const {
                    tokens,
                    int: rule.rule == "powi" && k == 1,
                });
                out.len() - 1
            } else {
                let leaf = match a {
                    Ex::Var { id, .. } => r
                        .vars
                        .iter()
                        .position(|v| *v == Some(*id))
                        .expect("a leaf of the region"),
                    _ => {
                        let l = r.others[*next_other];
                        *next_other += 1;
                        l
                    }
                };
                out.push(Node::Leaf(leaf));
                out.len() - 1
            };
            kids.push(id);
        }
        out.push(Node::Op { ex: e, kids });
        out.len() - 1
    }
}

/// The value of node `i` in the kernels.
fn value_of(nodes: &[Node<'_>], i: usize) -> TokenStream {
    match &nodes[i] {
        Node::Op { .. } | Node::Const { .. } => {
            let x = format_ident!("__ad_x{}", i);
            quote!(#x)
        }
        Node::Leaf(k) => quote!(__ad_v[#k]),
    }
}

/// The kernel's `let`s: constants once, then every op's value.
fn node_lets(nodes: &[Node<'_>]) -> Vec<TokenStream> {
    (0..nodes.len())
        .filter_map(|i| {
            let x = format_ident!("__ad_x{}", i);
            match &nodes[i] {
                Node::Op { .. } => {
                    let e = op_expr(nodes, i);
                    Some(quote!(let #x: f64 = #e;))
                }
                Node::Const { tokens, int: true } => Some(quote!(let #x: i32 = (#tokens);)),
                // `f64` or `&f64`, as the operators take both.
                Node::Const { tokens, int: false } => {
                    Some(quote!(let #x: f64 = __ad::fused::scalar((#tokens));))
                }
                Node::Leaf(_) => None,
            }
        })
        .collect()
}

/// The expression of op node `i` from its children's values.
fn op_expr(nodes: &[Node<'_>], i: usize) -> TokenStream {
    let Node::Op { ex, kids } = &nodes[i] else {
        unreachable!()
    };
    let kid = |k: usize| value_of(nodes, kids[k]);
    let Ex::Op { syntax, .. } = ex else {
        unreachable!()
    };
    match syntax {
        Syntax::Binary(op) => {
            let (l, r) = (kid(0), kid(1));
            quote!((#l #op #r))
        }
        Syntax::Neg => {
            let x = kid(0);
            quote!((-#x))
        }
        // `tanh` as `Tensor::tanh` computes it; the others are std's.
        Syntax::Method { name, .. } if name == "tanh" => {
            let x = kid(0);
            quote!(__ad::fused::tanh(#x))
        }
        Syntax::Method { name, .. } => {
            let x = kid(0);
            let rest: Vec<TokenStream> = (1..kids.len()).map(kid).collect();
            quote!(f64::#name(#x #(, #rest)*))
        }
        _ => unreachable!("region ops are operators and methods"),
    }
}

fn kernel_value(nodes: &[Node<'_>]) -> TokenStream {
    let lets = node_lets(nodes);
    let y = value_of(nodes, nodes.len() - 1);
    quote!(#(#lets)* #y)
}

fn kernel_vjp(nodes: &[Node<'_>], n: usize) -> TokenStream {
    let ops: Vec<usize> = (0..nodes.len())
        .filter(|&i| matches!(nodes[i], Node::Op { .. }))
        .collect();
    let lets = node_lets(nodes);
    let root = nodes.len() - 1;
    let g_root = format_ident!("__ad_g{}", root);
    let mut reverse = Vec::new();
    for &i in ops.iter().rev() {
        let Node::Op { ex, kids } = &nodes[i] else {
            unreachable!()
        };
        let Ex::Op { rule, .. } = ex else {
            unreachable!()
        };
        let gi = format_ident!("__ad_g{}", i);
        for (k, operand) in rule.operands.iter().enumerate() {
            let Some(needs) = operand else { continue };
            let target = kids[k];
            if matches!(nodes[target], Node::Const { .. }) {
                continue;
            }
            let f = format_ident!("{}_d{}", rule.rule, k);
            let args = needs.iter().map(|need| match *need {
                Need::Value(j) => {
                    let v = value_of(nodes, kids[j]);
                    quote!(&#v)
                }
                Need::Meta(j) => {
                    let v = value_of(nodes, kids[j]);
                    quote!(&__ad::meta(&#v))
                }
                Need::Output => {
                    let v = value_of(nodes, i);
                    quote!(&#v)
                }
            });
            let c = quote!(__ad::rules::#f(&#gi, #(#args),*));
            reverse.push(match &nodes[target] {
                Node::Op { .. } => {
                    let gt = format_ident!("__ad_g{}", target);
                    quote!(let #gt: f64 = #c;)
                }
                Node::Leaf(l) => quote!(__ad_c[#l] += #c;),
                Node::Const { .. } => unreachable!(),
            });
        }
    }
    quote!(
        #(#lets)*
        let mut __ad_c = [0.0f64; #n];
        let #g_root: f64 = __ad_g;
        #(#reverse)*
        __ad_c
    )
}

/// `a..b` with `a` and `b` literals, names, arithmetic, casts and parentheses.
fn plain_range(tokens: &TokenStream) -> bool {
    fn plain(e: &syn::Expr) -> bool {
        match e {
            syn::Expr::Lit(_) | syn::Expr::Path(_) => true,
            syn::Expr::Paren(p) => plain(&p.expr),
            syn::Expr::Group(g) => plain(&g.expr),
            syn::Expr::Cast(c) => plain(&c.expr),
            syn::Expr::Binary(b) => {
                matches!(
                    b.op,
                    syn::BinOp::Add(_)
                        | syn::BinOp::Sub(_)
                        | syn::BinOp::Mul(_)
                        | syn::BinOp::Div(_)
                ) && plain(&b.left)
                    && plain(&b.right)
            }
            _ => false,
        }
    }
    match syn::parse2::<syn::Expr>(tokens.clone()) {
        Ok(syn::Expr::Range(r)) => {
            matches!(r.limits, syn::RangeLimits::HalfOpen(_))
                && r.start.as_deref().is_some_and(plain)
                && r.end.as_deref().is_some_and(plain)
        }
        Ok(syn::Expr::Paren(p)) => plain_range(&p.expr.to_token_stream()),
        _ => false,
    }
}

// ---------------------------------------------------------------- uses

/// A chain that may be moved to its use: region ops over variables that are
/// never reassigned and constants.
fn pure_chain(e: &Ex, reassigned: &[bool]) -> bool {
    match e {
        Ex::Var { id, .. } => !reassigned[*id],
        Ex::Const { .. } => true,
        // Moved past other statements: nothing with a side effect.
        Ex::Inactive { reads, stable, .. } => reads.is_empty() && *stable,
        Ex::Ref { inner, .. } => pure_chain(inner, reassigned),
        Ex::Op { args, .. } if elem(e).is_some() => args.iter().all(|a| pure_chain(a, reassigned)),
        _ => false,
    }
}

fn substitute(e: &mut Ex, id: BindId, value: &Ex) {
    match e {
        Ex::Var { id: v, .. } if *v == id => *e = value.clone(),
        Ex::Op { args, .. }
        | Ex::Call { args, .. }
        | Ex::Tuple { elems: args }
        | Ex::Array { elems: args, .. } => args.iter_mut().for_each(|a| substitute(a, id, value)),
        Ex::Index { base, index, .. } => {
            substitute(base, id, value);
            substitute(index, id, value);
        }
        Ex::Field { base, .. } => substitute(base, id, value),
        Ex::Ref { inner, .. } => substitute(inner, id, value),
        _ => {}
    }
}

fn count_uses_ex(e: &Ex, uses: &mut [usize]) {
    match e {
        Ex::Var { id, .. } => uses[*id] += 1,
        Ex::Inactive { reads, .. } | Ex::Unsupported { reads, .. } => {
            reads.iter().for_each(|r| uses[*r] += 1)
        }
        Ex::Const { .. } => {}
        Ex::Op { args, .. }
        | Ex::Call { args, .. }
        | Ex::Tuple { elems: args }
        | Ex::Array { elems: args, .. } => args.iter().for_each(|a| count_uses_ex(a, uses)),
        Ex::Index { base, index, .. } => {
            count_uses_ex(base, uses);
            count_uses_ex(index, uses);
        }
        Ex::Field { base, .. } => count_uses_ex(base, uses),
        Ex::Ref { inner, .. } => count_uses_ex(inner, uses),
    }
}

fn count_uses_block(block: &Block, uses: &mut [usize]) {
    crate::ir::for_each_assign(block, |a| {
        count_uses_ex(&a.value, uses);
        if let AssignKind::Element { index, base, .. } = &a.kind {
            count_uses_ex(index, uses);
            uses[*base] += 1;
        }
        for t in a.targets.iter().flatten() {
            if let Target::Bind(id) = t
                && !matches!(a.kind, AssignKind::Let { .. })
            {
                uses[*id] += 1;
            }
        }
    });
}

/// Whether a statement may read binding `id` (any statement but an
/// assignment is assumed to).
fn mentions(stmt: &Stmt, id: BindId) -> bool {
    match stmt {
        Stmt::Assign(a) => {
            let mut reads = Vec::new();
            crate::ir::reads(&a.value, &mut reads);
            if let AssignKind::Element { index, base, .. } = &a.kind {
                crate::ir::reads(index, &mut reads);
                reads.push(*base);
            }
            reads.contains(&id) || matches!(a.kind, AssignKind::Opaque { .. })
        }
        _ => true,
    }
}

fn idents(tokens: &TokenStream, out: &mut HashSet<String>) {
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => idents(&g.stream(), out),
            _ => {}
        }
    }
}

fn mentioned_ex(e: &Ex, out: &mut HashSet<String>) {
    match e {
        Ex::Inactive { tokens, .. } | Ex::Unsupported { tokens, .. } => idents(tokens, out),
        Ex::Op { args, .. }
        | Ex::Call { args, .. }
        | Ex::Tuple { elems: args }
        | Ex::Array { elems: args, .. } => args.iter().for_each(|a| mentioned_ex(a, out)),
        Ex::Index { base, index, .. } => {
            mentioned_ex(base, out);
            mentioned_ex(index, out);
        }
        Ex::Field { base, .. } => mentioned_ex(base, out),
        Ex::Ref { inner, .. } => mentioned_ex(inner, out),
        Ex::Var { .. } | Ex::Const { .. } => {}
    }
}

/// Every name in the token streams the IR keeps as written.
fn mentioned_block(block: &Block, out: &mut HashSet<String>) {
    for stmt in &block.stmts {
        match stmt {
            Stmt::Assign(a) => {
                mentioned_ex(&a.value, out);
                match &a.kind {
                    AssignKind::Opaque { tokens } => idents(tokens, out),
                    AssignKind::Element { index, .. } => mentioned_ex(index, out),
                    _ => {}
                }
            }
            Stmt::Verbatim { tokens } => idents(tokens, out),
            Stmt::If(i) => {
                idents(&i.cond, out);
                mentioned_block(&i.then, out);
                if let Some(e) = &i.els {
                    mentioned_block(e, out);
                }
            }
            Stmt::Match(m) => {
                idents(&m.scrutinee, out);
                for arm in &m.arms {
                    idents(&arm.head, out);
                    mentioned_block(&arm.body, out);
                }
            }
            Stmt::Loop(l) => {
                match &l.kind {
                    LoopKind::While { cond } => idents(cond, out),
                    LoopKind::Infinite => {}
                    LoopKind::Range { lo, hi, .. } => {
                        idents(lo, out);
                        idents(hi, out);
                    }
                    LoopKind::Iter { iterable, .. } => idents(iterable, out),
                }
                if let Some(c) = &l.checkpoint
                    && let Some(every) = &c.every
                {
                    idents(every, out);
                }
                mentioned_block(&l.body, out);
            }
            Stmt::Block(b) => mentioned_block(b, out),
            Stmt::Exit(_) => {}
        }
    }
}
