//! The small IR the body is lowered to.
//!
//! Statements keep the user's control flow (`if`, `match`, loops, exits);
//! every statement that writes a value is an [`Assign`] *site*; expressions
//! that may carry a gradient are [`Ex`] trees whose leaves are bindings,
//! constants, or opaque inactive expressions kept as the user wrote them.

use crate::rules::Rule;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Ident, Lifetime};

pub type BindId = usize;
pub type LoopId = usize;
pub type ExitId = u32;

pub struct Binding {
    pub ident: Ident,
    /// Index of the parameter this binding is, if any.
    pub param: Option<usize>,
    /// Written by an assignment after its declaration (or declared `mut`).
    pub reassigned: bool,
    /// A parameter the pullback may keep a copy of (a value type of the
    /// runtime, or a differentiated one, which is `Clone`): only then is it
    /// read again in the reverse rather than what was read of it saved.
    pub keepable: bool,
    /// The counter of this `for` loop over a range: the reverse walks the
    /// range backwards and rebinds it, so it is never stored.
    pub counter_of: Option<LoopId>,
    /// Set by analysis for a `let` inside a loop whose value is a pure,
    /// cheap expression of values the reverse has anyway (parameters,
    /// counters, constants, other such lets): the reverse evaluates it again
    /// instead of saving it on every step.
    pub recipe: Option<Ex>,
    /// The type written in its `let` (`let c: f64 = 0.5;`), which the reverse
    /// repeats when it evaluates the value again.
    pub annotation: Option<syn::Type>,
    /// Depends on a differentiated input *and* reaches the output.
    pub active: bool,
}

pub struct Body {
    pub bindings: Vec<Binding>,
    pub block: Block,
    pub loops: Vec<LoopInfo>,
    pub exits: Vec<ExitInfo>,
    /// The function has `return` statements: the forward is a labeled block.
    pub has_return: bool,
    /// Differentiated parameters the output never depends on (their gradient
    /// is always zero): set by analysis, warned about.
    pub zero_gradients: Vec<usize>,
    /// The name of each binding's adjoint in generated code: `b` → `b_bar`
    /// (`b_bar_2` for a second `b`), so that the reverse reads like the
    /// forward.
    pub adjoints: Vec<Ident>,
    /// What the reverse can have again without a tape (set by analysis:
    /// trip counts, counters walked back, vectors frozen after a statement).
    pub facts: crate::analyse::Facts,
}

impl Body {
    /// `written`: the function's source, whose every identifier (a
    /// constant `s_bar`, a function `x_bar`) an adjoint's name must avoid
    /// too, or it would shadow it (E0530 for a constant).
    pub fn name_adjoints(&mut self, written: proc_macro2::TokenStream) {
        let mut taken: std::collections::HashSet<String> =
            self.bindings.iter().map(|b| b.ident.to_string()).collect();
        let mut idents = Vec::new();
        crate::syntax::token_idents(written, &mut idents);
        taken.extend(idents);
        let mut used = std::collections::HashSet::new();
        self.adjoints = self
            .bindings
            .iter()
            .map(|b| {
                let base = syn::ext::IdentExt::unraw(&b.ident).to_string();
                let base = match base.strip_prefix("__ad_") {
                    Some("self") => "self".to_string(),
                    _ => base,
                };
                let mut name = format!("{base}_bar");
                let mut k = 2;
                while taken.contains(&name) || !used.insert(name.clone()) {
                    name = format!("{base}_bar_{k}");
                    k += 1;
                }
                Ident::new(&name, proc_macro2::Span::call_site())
            })
            .collect();
    }
}

#[derive(Default)]
pub struct Block {
    pub stmts: Vec<Stmt>,
}

pub enum Stmt {
    Assign(Assign),
    /// An inactive statement, emitted as written.
    Verbatim {
        tokens: TokenStream,
    },
    If(If),
    Match(Match),
    Loop(Loop),
    Block(Block),
    Exit(Exit),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    Bind(BindId),
    /// The function's result (tail expression or `return`).
    Out,
}

pub enum AssignKind {
    /// `let <pattern tokens> = value;` binding `targets`. `simple`: a name,
    /// `_`, or a flat tuple of those (anything else may not carry a gradient).
    Let { pattern: TokenStream, simple: bool },
    /// A statement kept as written (side effects, element assignment);
    /// `value` is only checked, never differentiated.
    Opaque { tokens: TokenStream },
    /// `name = value;`
    Set,
    /// `name op= rhs;` — the value is `Op(rule, [Var(name), rhs])`.
    Compound { op: syn::BinOp },
    /// The function's result: `__ad_out = value;`
    Out,
    /// A write into one element of a sequence in place: `base[index] = value;`,
    /// `base[index] op= rhs;` (then `value` is `Op(rule, [Index(base, index), rhs])`),
    /// or `base.push(value)` (`index` is `base.len()` before the push). The
    /// target is the sequence; its other elements keep their values and
    /// their cotangents. `index` is pure and cheap (else it was bound to a
    /// variable first).
    Element {
        base: BindId,
        index: Ex,
        op: Option<syn::BinOp>,
        push: bool,
    },
}

pub struct Assign {
    pub site: usize,
    /// What the value flows into. A tuple pattern has several (None for `_`).
    pub targets: Vec<Option<Target>>,
    pub kind: AssignKind,
    pub value: Ex,
    /// Filled by analysis: the target carries a gradient.
    pub active: bool,
    /// Inside some loop (its saves go on a stack, not in a slot).
    pub in_loop: bool,
}

pub struct If {
    pub site: usize,
    /// The condition (or `let pat = expr` of an `if let`), emitted as written.
    pub cond: TokenStream,
    pub then: Block,
    pub els: Option<Block>,
    pub in_loop: bool,
}

pub struct Match {
    pub site: usize,
    pub scrutinee: TokenStream,
    pub arms: Vec<Arm>,
    pub in_loop: bool,
}

pub struct Arm {
    /// `pattern [if guard]`, emitted as written.
    pub head: TokenStream,
    pub body: Block,
}

pub struct Loop {
    pub id: LoopId,
    pub kind: LoopKind,
    pub body: Block,
    /// `#[checkpoint]` / `#[checkpoint(every = k)]` on a `for` over a range:
    /// the forward keeps the loop's state every k iterations (√n when k is
    /// not given) and runs untaped; the reverse runs each segment forward
    /// again, taped, then backwards (Griewank's checkpointing).
    pub checkpoint: Option<Checkpoint>,
}

pub struct Checkpoint {
    pub every: Option<TokenStream>,
    /// Bindings declared before the loop that its body reads or writes:
    /// what a checkpoint keeps.
    pub state: Vec<BindId>,
    /// Parameters and counters it reads, which the reverse has anyway.
    pub rebound: Vec<BindId>,
}

pub enum LoopKind {
    /// `while <cond>` (also `while let`).
    While {
        cond: TokenStream,
    },
    Infinite,
    /// `for <counter> in lo..hi` / `lo..=hi`: reversed by walking the range back.
    Range {
        counter: Option<BindId>,
        pattern: TokenStream,
        lo: TokenStream,
        hi: TokenStream,
        inclusive: bool,
        /// The bindings `lo` and `hi` read, when both are pure and cheap
        /// (literals, names, arithmetic, casts): the reverse may evaluate
        /// them again if what they read does not change.
        bound_reads: Option<Vec<BindId>>,
    },
    /// `for <pattern> in <iterable>`.
    Iter {
        pattern: TokenStream,
        iterable: TokenStream,
    },
}

pub struct LoopInfo {
    pub label: Lifetime,
    /// Enclosing loops, innermost first.
    pub parents: Vec<LoopId>,
    /// Site id of its trip-count slot.
    pub site: usize,
    /// The first binding declared inside it (bindings are numbered in order).
    pub first_binding: BindId,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExitKind {
    Break,
    Continue,
    Return,
}

pub struct Exit {
    pub id: ExitId,
    pub kind: ExitKind,
    pub span: Span,
}

pub struct ExitInfo {
    pub kind: ExitKind,
    /// Loops whose current iteration this exit ends, innermost first.
    pub ends_iteration_of: Vec<LoopId>,
    /// Loops it leaves for good without landing after them (their trip count
    /// must be recorded at the exit).
    pub leaves: Vec<LoopId>,
    /// The loop it targets (break/continue).
    pub target: Option<LoopId>,
}

/// An expression tree that may carry a gradient.
#[derive(Clone)]
pub enum Ex {
    Var {
        id: BindId,
        ident: Ident,
    },
    /// A literal or a constant path: the same value everywhere, never stored.
    Const {
        tokens: TokenStream,
    },
    /// An expression that carries no gradient, emitted as written; `reads`
    /// are the local bindings it mentions. `stable`: pure and cheap (casts,
    /// arithmetic, literals), so the reverse may evaluate it again.
    Inactive {
        tokens: TokenStream,
        reads: Vec<BindId>,
        stable: bool,
    },
    /// A primitive operation of the rules table.
    Op {
        rule: &'static Rule,
        args: Vec<Ex>,
        syntax: Syntax,
        span: Span,
    },
    /// A call to another `#[differentiable]` function (`method`: a
    /// differentiable method of `Self` called on `self`, which is `args[0]`).
    Call {
        func: syn::Path,
        args: Vec<Ex>,
        span: Span,
        method: bool,
    },
    /// `base[index]`.
    Index {
        base: Box<Ex>,
        index: Box<Ex>,
        span: Span,
    },
    /// `base.field` (also `base.0`): a field of a struct or tuple parameter.
    Field {
        base: Box<Ex>,
        member: syn::Member,
        span: Span,
    },
    /// `&e`: the same value, borrowed.
    Ref {
        inner: Box<Ex>,
        mutable: bool,
    },
    /// `(a, b)` as a value (only as a whole assigned value).
    Tuple {
        elems: Vec<Ex>,
    },
    /// `[a, b, c]` or `vec![a, b, c]`: its cotangent's element k goes to the k-th.
    Array {
        elems: Vec<Ex>,
        vec: bool,
    },
    /// Something that cannot carry a gradient; an error if anything active reaches it.
    Unsupported {
        tokens: TokenStream,
        reads: Vec<BindId>,
        span: Span,
        what: String,
        fix: String,
    },
}

#[derive(Clone)]
pub enum Syntax {
    Binary(syn::BinOp),
    Neg,
    Method {
        name: Ident,
        turbofish: TokenStream,
    },
    Cast {
        ty: TokenStream,
    },
    Deref,
    /// `path(args..)`: an associated function (`Vector3::new(a, b, c)`).
    Call {
        path: TokenStream,
    },
    /// `recv.name().then` (`m.try_inverse().unwrap()`).
    Unwrapped {
        name: Ident,
        then: TokenStream,
    },
    /// `recv.member` (`v.x`).
    Field {
        member: syn::Member,
    },
}

// ------------------------------------------------------------------ visitor

/// A read-only walk over the IR. Every method's default recurses into the
/// node's children (through the matching `walk_*` function); a pass overrides
/// the nodes it cares about and calls `walk_*` to keep descending. This is the
/// one traversal of `Block`/`Stmt`/`Ex` for analyses and the plan; the
/// emitters are folds that build code per node and walk on their own.
pub trait Visit<'b> {
    fn visit_block(&mut self, block: &'b Block) {
        walk_block(self, block)
    }
    fn visit_stmt(&mut self, stmt: &'b Stmt) {
        walk_stmt(self, stmt)
    }
    fn visit_assign(&mut self, assign: &'b Assign) {
        walk_assign(self, assign)
    }
    fn visit_if(&mut self, i: &'b If) {
        walk_if(self, i)
    }
    fn visit_match(&mut self, m: &'b Match) {
        walk_match(self, m)
    }
    fn visit_loop(&mut self, l: &'b Loop) {
        walk_loop(self, l)
    }
    fn visit_exit(&mut self, _exit: &'b Exit) {}
    fn visit_ex(&mut self, e: &'b Ex) {
        walk_ex(self, e)
    }
}

pub fn walk_block<'b, V: Visit<'b> + ?Sized>(v: &mut V, block: &'b Block) {
    for stmt in &block.stmts {
        v.visit_stmt(stmt);
    }
}

pub fn walk_stmt<'b, V: Visit<'b> + ?Sized>(v: &mut V, stmt: &'b Stmt) {
    match stmt {
        Stmt::Assign(a) => v.visit_assign(a),
        Stmt::Verbatim { .. } => {}
        Stmt::If(i) => v.visit_if(i),
        Stmt::Match(m) => v.visit_match(m),
        Stmt::Loop(l) => v.visit_loop(l),
        Stmt::Block(b) => v.visit_block(b),
        Stmt::Exit(e) => v.visit_exit(e),
    }
}

/// The assigned value, then (for a write into an element) the index.
pub fn walk_assign<'b, V: Visit<'b> + ?Sized>(v: &mut V, a: &'b Assign) {
    v.visit_ex(&a.value);
    if let AssignKind::Element { index, .. } = &a.kind {
        v.visit_ex(index);
    }
}

pub fn walk_if<'b, V: Visit<'b> + ?Sized>(v: &mut V, i: &'b If) {
    v.visit_block(&i.then);
    if let Some(e) = &i.els {
        v.visit_block(e);
    }
}

pub fn walk_match<'b, V: Visit<'b> + ?Sized>(v: &mut V, m: &'b Match) {
    for arm in &m.arms {
        v.visit_block(&arm.body);
    }
}

pub fn walk_loop<'b, V: Visit<'b> + ?Sized>(v: &mut V, l: &'b Loop) {
    v.visit_block(&l.body);
}

/// Every child expression, in order (`base` before `index`).
pub fn walk_ex<'b, V: Visit<'b> + ?Sized>(v: &mut V, e: &'b Ex) {
    match e {
        Ex::Var { .. } | Ex::Const { .. } | Ex::Inactive { .. } | Ex::Unsupported { .. } => {}
        Ex::Op { args, .. }
        | Ex::Call { args, .. }
        | Ex::Tuple { elems: args }
        | Ex::Array { elems: args, .. } => args.iter().for_each(|a| v.visit_ex(a)),
        Ex::Index { base, index, .. } => {
            v.visit_ex(base);
            v.visit_ex(index);
        }
        Ex::Field { base, .. } => v.visit_ex(base),
        Ex::Ref { inner, .. } => v.visit_ex(inner),
    }
}

/// A visitor from a closure over every assignment site (loops and branches
/// included, in program order).
pub fn for_each_assign<'b>(block: &'b Block, f: impl FnMut(&'b Assign)) {
    struct Sites<F>(F);
    impl<'b, F: FnMut(&'b Assign)> Visit<'b> for Sites<F> {
        fn visit_assign(&mut self, a: &'b Assign) {
            (self.0)(a)
        }
    }
    Sites(f).visit_block(block)
}

/// The mutable twin of [`Visit`], at statement level (what analysis writes
/// back: each site's activity).
pub trait VisitMut {
    fn visit_block_mut(&mut self, block: &mut Block) {
        for stmt in &mut block.stmts {
            self.visit_stmt_mut(stmt);
        }
    }
    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        match stmt {
            Stmt::Assign(a) => self.visit_assign_mut(a),
            Stmt::If(i) => {
                self.visit_block_mut(&mut i.then);
                if let Some(e) = &mut i.els {
                    self.visit_block_mut(e);
                }
            }
            Stmt::Match(m) => m
                .arms
                .iter_mut()
                .for_each(|a| self.visit_block_mut(&mut a.body)),
            Stmt::Loop(l) => self.visit_block_mut(&mut l.body),
            Stmt::Block(b) => self.visit_block_mut(b),
            Stmt::Verbatim { .. } | Stmt::Exit(_) => {}
        }
    }
    fn visit_assign_mut(&mut self, _assign: &mut Assign) {}
}

/// Every binding an expression reads (inactive leaves' `reads` included).
pub fn reads(e: &Ex, out: &mut Vec<BindId>) {
    struct Reads<'o>(&'o mut Vec<BindId>);
    impl<'b> Visit<'b> for Reads<'_> {
        fn visit_ex(&mut self, e: &'b Ex) {
            match e {
                Ex::Var { id, .. } => self.0.push(*id),
                Ex::Inactive { reads, .. } | Ex::Unsupported { reads, .. } => self.0.extend(reads),
                _ => walk_ex(self, e),
            }
        }
    }
    Reads(out).visit_ex(e)
}

/// The bindings a gradient would flow into from this expression: through the
/// operands of a rule that carry one, the base (not the index) of an element
/// or field read, and everything else.
pub fn gradient_leaves(e: &Ex, out: &mut Vec<BindId>) {
    struct Leaves<'o>(&'o mut Vec<BindId>);
    impl<'b> Visit<'b> for Leaves<'_> {
        fn visit_ex(&mut self, e: &'b Ex) {
            match e {
                Ex::Var { id, .. } => self.0.push(*id),
                Ex::Op { rule, args, .. } => {
                    for (a, op) in args.iter().zip(rule.operands) {
                        if op.is_some() {
                            self.visit_ex(a);
                        }
                    }
                }
                Ex::Index { base, .. } => self.visit_ex(base),
                _ => walk_ex(self, e),
            }
        }
    }
    Leaves(out).visit_ex(e)
}

// ------------------------------------------------------------------ as written

/// The expression as the user wrote it (for the forward of inactive code).
pub fn plain(e: &Ex) -> TokenStream {
    rebuild(e, &mut |k| Some(plain(k)), false).unwrap_or_default()
}

/// Rebuilds an expression node from its children's code. `child` gives each
/// child's code; `place` is true when the node is used by reference (receiver,
/// index base, `&`), where the reverse must not clone.
pub fn rebuild(
    e: &Ex,
    child: &mut dyn FnMut(&Ex) -> Option<TokenStream>,
    _place: bool,
) -> Option<TokenStream> {
    Some(match e {
        Ex::Var { ident, .. } => quote!(#ident),
        Ex::Const { tokens } | Ex::Inactive { tokens, .. } | Ex::Unsupported { tokens, .. } => {
            quote!((#tokens))
        }
        Ex::Op {
            args, syntax, span, ..
        } => {
            let span = *span;
            let kids: Vec<TokenStream> = args.iter().map(&mut *child).collect::<Option<_>>()?;
            match syntax {
                Syntax::Binary(op) => {
                    let (l, r) = (&kids[0], &kids[1]);
                    quote_spanned!(span=> (#l #op #r))
                }
                Syntax::Neg => {
                    let x = &kids[0];
                    quote_spanned!(span=> (-#x))
                }
                Syntax::Deref => {
                    let x = &kids[0];
                    quote_spanned!(span=> (*#x))
                }
                Syntax::Cast { ty } => {
                    let x = &kids[0];
                    quote_spanned!(span=> (#x as #ty))
                }
                Syntax::Method { name, turbofish } => {
                    let recv = &kids[0];
                    let rest = &kids[1..];
                    quote_spanned!(span=> #recv.#name #turbofish (#(#rest),*))
                }
                Syntax::Call { path } => quote_spanned!(span=> #path(#(#kids),*)),
                Syntax::Unwrapped { name, then } => {
                    let recv = &kids[0];
                    quote_spanned!(span=> #recv.#name().#then)
                }
                // A copy of the field, not a move out of the value: `r.w` of
                // a struct that is not `Copy` (a derived struct's field `w`
                // holding a `Vec`) is read where a value is needed.
                Syntax::Field { member } => {
                    let recv = &kids[0];
                    quote_spanned!(span=> ::core::clone::Clone::clone(&#recv.#member))
                }
            }
        }
        Ex::Call {
            func,
            args,
            span,
            method,
        } => {
            let kids: Vec<TokenStream> = args.iter().map(&mut *child).collect::<Option<_>>()?;
            if *method {
                let (recv, rest) = (&kids[0], &kids[1..]);
                quote_spanned!(*span=> #recv.#func(#(#rest),*))
            } else {
                quote_spanned!(*span=> #func(#(#kids),*))
            }
        }
        Ex::Index { base, index, span } => {
            let b = child(base)?;
            let i = child(index)?;
            quote_spanned!(*span=> #b[#i])
        }
        Ex::Field { base, member, span } => {
            let b = child(base)?;
            quote_spanned!(*span=> #b.#member)
        }
        Ex::Ref { inner, mutable } => {
            let x = child(inner)?;
            if *mutable {
                quote!((&mut #x))
            } else {
                quote!((&#x))
            }
        }
        Ex::Tuple { elems } => {
            let kids: Vec<TokenStream> = elems.iter().map(&mut *child).collect::<Option<_>>()?;
            quote!((#(#kids,)*))
        }
        Ex::Array { elems, vec } => {
            let kids: Vec<TokenStream> = elems.iter().map(&mut *child).collect::<Option<_>>()?;
            if *vec {
                quote!(::std::vec![#(#kids),*])
            } else {
                quote!([#(#kids),*])
            }
        }
    })
}
