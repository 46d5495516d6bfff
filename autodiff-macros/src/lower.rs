//! Stage 2: lower the function body to the IR of [`crate::ir`].
//!
//! Names are resolved here (shadowing gives a new binding), control flow used
//! as a value (`let c = if .. { b } else { 100.0 * b }`) becomes assignments
//! in each branch, and every loop and exit gets an id so that the reverse can
//! retrace which path the forward took.

use crate::errors::Errors;
use crate::ir::*;
use crate::rules;
use crate::signature::Signature;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Pat};

pub struct Lowerer<'a> {
    errors: &'a Errors,
    bindings: Vec<Binding>,
    scopes: Vec<Vec<(String, BindId)>>,
    loops: Vec<LoopInfo>,
    /// Open loops, innermost last: (id, user label).
    open_loops: Vec<(LoopId, Option<String>)>,
    exits: Vec<ExitInfo>,
    sites: usize,
    temps: usize,
    has_return: bool,
}

pub fn lower(sig: &Signature, block: &syn::Block, errors: &Errors) -> Body {
    let mut l = Lowerer {
        errors,
        bindings: Vec::new(),
        scopes: vec![Vec::new()],
        loops: Vec::new(),
        open_loops: Vec::new(),
        exits: Vec::new(),
        sites: 0,
        temps: 0,
        has_return: false,
    };
    for (index, param) in sig.params.iter().enumerate() {
        let id = l.declare(param.ident.clone());
        l.bindings[id].param = Some(index);
    }
    let block = l.block(block, Some(Target::Out));
    Body {
        bindings: l.bindings,
        block,
        loops: l.loops,
        exits: l.exits,
        has_return: l.has_return,
    }
}

/// Strips parentheses and invisible groups.
fn peel(mut e: &Expr) -> &Expr {
    loop {
        match e {
            Expr::Paren(p) => e = &p.expr,
            Expr::Group(g) => e = &g.expr,
            _ => return e,
        }
    }
}

impl Lowerer<'_> {
    fn site(&mut self) -> usize {
        self.sites += 1;
        self.sites
    }

    fn in_loop(&self) -> bool {
        !self.open_loops.is_empty()
    }

    fn declare(&mut self, ident: syn::Ident) -> BindId {
        let id = self.bindings.len();
        self.bindings.push(Binding {
            ident: ident.clone(),
            param: None,
            reassigned: false,
            counter_of: None,
            recipe: None,
            active: false,
        });
        self.scopes
            .last_mut()
            .expect("a scope is open")
            .push((ident.to_string(), id));
        id
    }

    fn resolve(&self, name: &str) -> Option<BindId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    fn temp(&mut self) -> (BindId, syn::Ident) {
        self.temps += 1;
        let ident = format_ident!("__ad_v{}", self.temps);
        (self.declare(ident.clone()), ident)
    }

    /// Declares every name a pattern binds.
    fn declare_pattern(&mut self, pat: &Pat) -> Vec<BindId> {
        struct Names(Vec<syn::Ident>);
        impl<'ast> Visit<'ast> for Names {
            fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
                self.0.push(p.ident.clone());
                syn::visit::visit_pat_ident(self, p);
            }
        }
        let mut names = Names(Vec::new());
        names.visit_pat(pat);
        names
            .0
            .into_iter()
            .map(|ident| self.declare(ident))
            .collect()
    }

    /// Bindings a condition introduces (`if let`, `while let`, `let` chains).
    fn declare_condition(&mut self, cond: &Expr) {
        match peel(cond) {
            Expr::Let(l) => {
                self.declare_pattern(&l.pat);
            }
            Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_)) => {
                self.declare_condition(&b.left);
                self.declare_condition(&b.right);
            }
            _ => {}
        }
    }

    /// Local bindings an expression mentions (conservatively: every
    /// single-segment path, and every identifier inside macro invocations).
    fn reads(&self, e: &Expr) -> Vec<BindId> {
        struct Reads<'l, 'a> {
            l: &'l Lowerer<'a>,
            out: Vec<BindId>,
        }
        impl<'ast> Visit<'ast> for Reads<'_, '_> {
            fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
                if let Some(ident) = p.path.get_ident() {
                    if let Some(id) = self.l.resolve(&ident.to_string()) {
                        self.out.push(id);
                    }
                }
            }
            fn visit_macro(&mut self, m: &'ast syn::Macro) {
                self.l.token_reads(m.tokens.clone(), &mut self.out);
            }
        }
        let mut r = Reads {
            l: self,
            out: Vec::new(),
        };
        r.visit_expr(e);
        r.out.sort_unstable();
        r.out.dedup();
        r.out
    }

    fn token_reads(&self, tokens: TokenStream, out: &mut Vec<BindId>) {
        for tt in tokens {
            match tt {
                TokenTree::Ident(i) => {
                    if let Some(id) = self.resolve(&i.to_string()) {
                        out.push(id);
                    }
                }
                TokenTree::Group(g) => self.token_reads(g.stream(), out),
                _ => {}
            }
        }
    }

    fn block(&mut self, block: &syn::Block, target: Option<Target>) -> Block {
        self.scopes.push(Vec::new());
        let mut out = Vec::new();
        let n = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            match stmt {
                syn::Stmt::Expr(e, None) if i + 1 == n && target.is_some() => {
                    self.value(e, target.expect("checked"), &mut out);
                }
                _ => self.stmt(stmt, &mut out),
            }
        }
        self.scopes.pop();
        Block { stmts: out }
    }

    fn stmt(&mut self, stmt: &syn::Stmt, out: &mut Vec<Stmt>) {
        match stmt {
            syn::Stmt::Local(local) => self.local(local, out),
            syn::Stmt::Item(item) => out.push(Stmt::Verbatim {
                tokens: item.to_token_stream(),
            }),
            syn::Stmt::Macro(m) => out.push(Stmt::Verbatim {
                tokens: m.to_token_stream(),
            }),
            syn::Stmt::Expr(e, semi) => self.expr_stmt(e, semi.is_some(), out),
        }
    }

    fn local(&mut self, local: &syn::Local, out: &mut Vec<Stmt>) {
        let Some(init) = &local.init else {
            self.declare_pattern(&local.pat);
            out.push(Stmt::Verbatim {
                tokens: local.to_token_stream(),
            });
            return;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.errors.spanned(
                else_token,
                "`let .. else` is not supported in a differentiable function: use `match` or `if let`",
            );
            return;
        }
        let pat = &local.pat;
        let control_flow = matches!(
            peel(&init.expr),
            Expr::If(_) | Expr::Match(_) | Expr::Block(_)
        );
        if control_flow {
            // `let x = if c { a } else { b };` → `let x; if c { x = a } else { x = b }`
            let (tid, tident) = self.temp();
            out.push(Stmt::Verbatim {
                tokens: quote!(let #tident;),
            });
            self.value(&init.expr, Target::Bind(tid), out);
            let targets = self.pattern_targets(pat);
            let value = Ex::Var {
                id: tid,
                ident: tident,
            };
            self.push_let(local, targets, value, out);
            return;
        }
        let mut pre = Vec::new();
        let value = self.ex(&init.expr, &mut pre);
        out.extend(pre);
        let targets = self.pattern_targets(pat);
        self.push_let(local, targets, value, out);
    }

    fn push_let(
        &mut self,
        local: &syn::Local,
        targets: Option<Vec<Option<Target>>>,
        value: Ex,
        out: &mut Vec<Stmt>,
    ) {
        let pat = &local.pat;
        let site = self.site();
        let (targets, simple) = match targets {
            Some(t) => (t, true),
            None => (Vec::new(), false),
        };
        out.push(Stmt::Assign(Assign {
            site,
            targets,
            kind: AssignKind::Let {
                pattern: quote!(#pat),
                simple,
            },
            value,
            active: false,
            in_loop: self.in_loop(),
        }));
    }

    /// Targets of a `let` pattern: a name, `_`, or a flat tuple of those.
    /// Declares the names. `None` for any other pattern.
    fn pattern_targets(&mut self, pat: &Pat) -> Option<Vec<Option<Target>>> {
        fn simple(p: &Pat) -> Option<Option<&syn::Ident>> {
            match p {
                Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                    Some(Some(&pi.ident))
                }
                Pat::Wild(_) => Some(None),
                Pat::Type(t) => simple(&t.pat),
                Pat::Paren(p) => simple(&p.pat),
                _ => None,
            }
        }
        let inner = match pat {
            Pat::Type(t) => &*t.pat,
            p => p,
        };
        let names: Option<Vec<Option<&syn::Ident>>> = match inner {
            Pat::Tuple(t) => t.elems.iter().map(simple).collect(),
            p => simple(p).map(|one| vec![one]),
        };
        match names {
            Some(names) => {
                let names: Vec<Option<syn::Ident>> =
                    names.into_iter().map(|n| n.cloned()).collect();
                Some(
                    names
                        .into_iter()
                        .map(|n| n.map(|ident| Target::Bind(self.declare(ident))))
                        .collect(),
                )
            }
            None => {
                self.declare_pattern(pat);
                None
            }
        }
    }

    fn expr_stmt(&mut self, e: &Expr, _semi: bool, out: &mut Vec<Stmt>) {
        match peel(e) {
            Expr::Assign(a) => self.assign(&a.left, None, &a.right, e, out),
            Expr::Binary(b) if is_compound(&b.op) => {
                self.assign(&b.left, Some(b.op), &b.right, e, out)
            }
            c if is_control(c) => self.control(e, None, out),
            Expr::Macro(m) => out.push(Stmt::Verbatim {
                tokens: quote!(#m;),
            }),
            other => {
                // Evaluated for its side effects, never differentiated: parsed
                // only to check that no active value disappears into it.
                let mut discarded = Vec::new();
                let value = self.ex(other, &mut discarded);
                let site = self.site();
                out.push(Stmt::Assign(Assign {
                    site,
                    targets: Vec::new(),
                    kind: AssignKind::Opaque {
                        tokens: quote!(#other;),
                    },
                    value,
                    active: false,
                    in_loop: self.in_loop(),
                }));
            }
        }
    }

    fn assign(
        &mut self,
        left: &Expr,
        op: Option<syn::BinOp>,
        right: &Expr,
        whole: &Expr,
        out: &mut Vec<Stmt>,
    ) {
        let target = match peel(left) {
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|i| self.resolve(&i.to_string()))
                .map(|id| (id, p.path.get_ident().cloned().expect("ident"))),
            _ => None,
        };
        let Some((id, ident)) = target else {
            // `v[i] = ..`, `s.f = ..`: fine while nothing in it is active.
            let mut reads = self.reads(left);
            reads.extend(self.reads(right));
            let site = self.site();
            out.push(Stmt::Assign(Assign {
                site,
                targets: Vec::new(),
                kind: AssignKind::Opaque { tokens: quote!(#whole;) },
                value: Ex::Unsupported {
                    tokens: whole.to_token_stream(),
                    reads,
                    span: left.span(),
                    what: format!("an assignment into `{}`", left.to_token_stream().to_string().replace(' ', "")),
                    fix: "keep active values in plain variables (`let`, `=`, `+=`); an element or a field cannot be assigned an active value".into(),
                },
                active: false,
                in_loop: self.in_loop(),
            }));
            return;
        };
        self.bindings[id].reassigned = true;
        if matches!(peel(right), Expr::If(_) | Expr::Match(_) | Expr::Block(_)) && op.is_none() {
            self.value(right, Target::Bind(id), out);
            return;
        }
        let mut pre = Vec::new();
        let rhs = self.ex(right, &mut pre);
        out.extend(pre);
        let site = self.site();
        let (kind, value) = match op {
            None => (AssignKind::Set, rhs),
            Some(op) => match rules::binary(&op) {
                Some(rule) => (
                    AssignKind::Compound { op },
                    Ex::Op {
                        rule,
                        args: vec![Ex::Var { id, ident }, rhs],
                        syntax: Syntax::Binary(op),
                        span: whole.span(),
                    },
                ),
                // `%=` and the bitwise ones: kept as written, an error if active.
                None => (
                    AssignKind::Opaque {
                        tokens: quote!(#whole;),
                    },
                    Ex::Unsupported {
                        tokens: whole.to_token_stream(),
                        reads: vec![id],
                        span: whole.span(),
                        what: format!("the operator `{}`", op.to_token_stream()),
                        fix: "write it with `+`, `-`, `*`, `/` or a differentiable method".into(),
                    },
                ),
            },
        };
        out.push(Stmt::Assign(Assign {
            site,
            targets: vec![Some(Target::Bind(id))],
            kind,
            value,
            active: false,
            in_loop: self.in_loop(),
        }));
    }

    /// Lowers an expression whose value flows into `target`.
    fn value(&mut self, e: &Expr, target: Target, out: &mut Vec<Stmt>) {
        match peel(e) {
            c if is_control(c) => self.control(e, Some(target), out),
            Expr::Macro(m) if is_diverging(&m.mac) => out.push(Stmt::Verbatim {
                tokens: quote!(#m;),
            }),
            other => {
                let mut pre = Vec::new();
                let value = self.ex(other, &mut pre);
                out.extend(pre);
                let site = self.site();
                let kind = match target {
                    Target::Out => AssignKind::Out,
                    Target::Bind(_) => AssignKind::Set,
                };
                out.push(Stmt::Assign(Assign {
                    site,
                    targets: vec![Some(target)],
                    kind,
                    value,
                    active: false,
                    in_loop: self.in_loop(),
                }));
            }
        }
    }

    fn control(&mut self, e: &Expr, target: Option<Target>, out: &mut Vec<Stmt>) {
        match peel(e) {
            Expr::If(i) => {
                let stmt = self.if_(i, target);
                out.push(stmt);
            }
            Expr::Match(m) => {
                let site = self.site();
                let scrutinee = m.expr.to_token_stream();
                let mut arms = Vec::new();
                for arm in &m.arms {
                    self.scopes.push(Vec::new());
                    self.declare_pattern(&arm.pat);
                    let pat = &arm.pat;
                    let head = match &arm.guard {
                        Some((if_token, guard)) => quote!(#pat #if_token #guard),
                        None => quote!(#pat),
                    };
                    let mut stmts = Vec::new();
                    match target {
                        Some(t) => self.value(&arm.body, t, &mut stmts),
                        None => self.expr_stmt(&arm.body, true, &mut stmts),
                    }
                    self.scopes.pop();
                    arms.push(Arm {
                        head,
                        body: Block { stmts },
                    });
                }
                out.push(Stmt::Match(Match {
                    site,
                    scrutinee,
                    arms,
                    in_loop: self.in_loop(),
                }));
            }
            Expr::Block(b) => {
                if let Some(label) = &b.label {
                    self.errors.spanned(
                        label,
                        "labeled blocks are not supported in a differentiable function: use a `loop` with `break`",
                    );
                    return;
                }
                let block = self.block(&b.block, target);
                out.push(Stmt::Block(block));
            }
            Expr::Unsafe(u) => {
                self.errors.spanned(
                    u.unsafe_token,
                    "cannot differentiate an `unsafe` block: the macro cannot see what it does to active values; move it into a function called with inactive values, or give that function its own #[differentiable]",
                );
            }
            Expr::While(w) => {
                let id = self.open_loop(w.label.as_ref().map(|l| &l.name));
                self.scopes.push(Vec::new());
                self.declare_condition(&w.cond);
                let body = self.block(&w.body, None);
                self.scopes.pop();
                self.close_loop();
                out.push(Stmt::Loop(Loop {
                    id,
                    kind: LoopKind::While {
                        cond: w.cond.to_token_stream(),
                    },
                    body,
                }));
            }
            Expr::Loop(l) => {
                let id = self.open_loop(l.label.as_ref().map(|l| &l.name));
                let body = self.block(&l.body, None);
                self.close_loop();
                out.push(Stmt::Loop(Loop {
                    id,
                    kind: LoopKind::Infinite,
                    body,
                }));
            }
            Expr::ForLoop(f) => {
                let range = match peel(&f.expr) {
                    Expr::Range(r) if r.start.is_some() && r.end.is_some() => Some(r),
                    _ => None,
                };
                let id = self.open_loop(f.label.as_ref().map(|l| &l.name));
                let loop_id = id;
                self.scopes.push(Vec::new());
                let pat = &f.pat;
                let kind = match range {
                    Some(r) => {
                        let counter = match &*f.pat {
                            Pat::Ident(pi)
                                if pi.mutability.is_none()
                                    && pi.subpat.is_none()
                                    && pi.by_ref.is_none() =>
                            {
                                let id = self.declare(pi.ident.clone());
                                self.bindings[id].counter_of = Some(loop_id);
                                Some(id)
                            }
                            other => {
                                self.declare_pattern(other);
                                None
                            }
                        };
                        LoopKind::Range {
                            counter,
                            pattern: quote!(#pat),
                            lo: r.start.as_ref().expect("checked").to_token_stream(),
                            hi: r.end.as_ref().expect("checked").to_token_stream(),
                            inclusive: matches!(r.limits, syn::RangeLimits::Closed(_)),
                        }
                    }
                    None => {
                        self.declare_pattern(&f.pat);
                        LoopKind::Iter {
                            pattern: quote!(#pat),
                            iterable: f.expr.to_token_stream(),
                        }
                    }
                };
                let body = self.block(&f.body, None);
                self.scopes.pop();
                self.close_loop();
                out.push(Stmt::Loop(Loop { id, kind, body }));
            }
            Expr::Break(b) => {
                if let Some(value) = &b.expr {
                    self.errors.spanned(
                        value,
                        "`break` with a value is not supported in a differentiable function: assign the value to a variable declared before the loop, then `break`",
                    );
                    return;
                }
                if let Some(exit) = self.exit(ExitKind::Break, b.label.as_ref(), b.span()) {
                    out.push(Stmt::Exit(exit));
                }
            }
            Expr::Continue(c) => {
                if let Some(exit) = self.exit(ExitKind::Continue, c.label.as_ref(), c.span()) {
                    out.push(Stmt::Exit(exit));
                }
            }
            Expr::Return(r) => {
                self.has_return = true;
                match &r.expr {
                    Some(value) => self.value(value, Target::Out, out),
                    None => self
                        .errors
                        .spanned(r, "a differentiable function must return a value"),
                }
                if let Some(exit) = self.exit(ExitKind::Return, None, r.span()) {
                    out.push(Stmt::Exit(exit));
                }
            }
            other => self.value(other, target.unwrap_or(Target::Out), out),
        }
    }

    fn if_(&mut self, i: &syn::ExprIf, target: Option<Target>) -> Stmt {
        let site = self.site();
        self.scopes.push(Vec::new());
        self.declare_condition(&i.cond);
        let then = self.block(&i.then_branch, target);
        self.scopes.pop();
        let els = i.else_branch.as_ref().map(|(_, e)| match peel(e) {
            Expr::If(inner) => Block {
                stmts: vec![self.if_(inner, target)],
            },
            Expr::Block(b) => self.block(&b.block, target),
            other => {
                let mut stmts = Vec::new();
                self.control(other, target, &mut stmts);
                Block { stmts }
            }
        });
        Stmt::If(If {
            site,
            cond: i.cond.to_token_stream(),
            then,
            els,
            in_loop: self.in_loop(),
        })
    }

    fn open_loop(&mut self, label: Option<&syn::Lifetime>) -> LoopId {
        let id = self.loops.len();
        let site = self.site();
        let lifetime = syn::Lifetime::new(&format!("'__ad_loop{id}"), Span::call_site());
        self.loops.push(LoopInfo {
            label: lifetime,
            parents: self.open_loops.iter().rev().map(|(id, _)| *id).collect(),
            site,
        });
        self.open_loops
            .push((id, label.map(|l| l.ident.to_string())));
        id
    }

    fn close_loop(&mut self) {
        self.open_loops.pop();
    }

    fn exit(&mut self, kind: ExitKind, label: Option<&syn::Lifetime>, span: Span) -> Option<Exit> {
        let open: Vec<LoopId> = self.open_loops.iter().rev().map(|(id, _)| *id).collect();
        let (target, position) = match kind {
            ExitKind::Return => (None, open.len()),
            _ => {
                let position = match label {
                    Some(l) => self
                        .open_loops
                        .iter()
                        .rev()
                        .position(|(_, name)| name.as_deref() == Some(&l.ident.to_string())),
                    None => (!open.is_empty()).then_some(0),
                };
                let Some(position) = position else {
                    // rustc reports the unknown label or the break outside a loop.
                    return None;
                };
                (Some(open[position]), position + 1)
            }
        };
        let ends_iteration_of = open[..position].to_vec();
        let leaves = match kind {
            ExitKind::Return => open.clone(),
            _ => open[..position - 1].to_vec(),
        };
        self.exits.push(ExitInfo {
            kind,
            ends_iteration_of,
            leaves,
            target,
        });
        Some(Exit {
            id: self.exits.len() as ExitId,
            kind,
            span,
        })
    }

    /// Parses an expression into an [`Ex`] tree; control flow inside it is
    /// hoisted into statements pushed to `pre`.
    fn ex(&mut self, e: &Expr, pre: &mut Vec<Stmt>) -> Ex {
        let span = e.span();
        match e {
            Expr::Paren(p) => self.ex(&p.expr, pre),
            Expr::Group(g) => self.ex(&g.expr, pre),
            Expr::Lit(_) => Ex::Const { tokens: e.to_token_stream() },
            Expr::Path(p) => match p.path.get_ident().and_then(|i| self.resolve(&i.to_string())) {
                Some(id) => Ex::Var { id, ident: p.path.get_ident().cloned().expect("ident") },
                None => Ex::Const { tokens: e.to_token_stream() },
            },
            Expr::Binary(b) => match rules::binary(&b.op) {
                Some(rule) if !is_compound(&b.op) => {
                    let l = self.ex(&b.left, pre);
                    let r = self.ex(&b.right, pre);
                    Ex::Op { rule, args: vec![l, r], syntax: Syntax::Binary(b.op), span }
                }
                _ => match b.op {
                    syn::BinOp::Rem(_) => {
                        let l = self.ex(&b.left, pre);
                        let r = self.ex(&b.right, pre);
                        let mut reads = Vec::new();
                        gradient_reads(&l, &mut reads);
                        gradient_reads(&r, &mut reads);
                        if reads.is_empty() {
                            self.inactive(e)
                        } else {
                            Ex::Unsupported {
                                tokens: e.to_token_stream(),
                                reads,
                                span: b.op.span(),
                                what: "the remainder operator `%`".into(),
                                fix: "compute the remainder of inactive values (cast to an integer first), or wrap the operand in `stop_gradient(..)`".into(),
                            }
                        }
                    }
                    _ => self.inactive(e),
                },
            },
            Expr::Unary(u) => match u.op {
                syn::UnOp::Neg(_) => {
                    let inner = self.ex(&u.expr, pre);
                    Ex::Op { rule: &rules::NEG, args: vec![inner], syntax: Syntax::Neg, span }
                }
                syn::UnOp::Deref(_) => {
                    let inner = self.ex(&u.expr, pre);
                    match inner {
                        Ex::Const { .. } | Ex::Inactive { .. } => self.inactive(e),
                        inner => Ex::Op {
                            rule: &rules::IDENTITY,
                            args: vec![inner],
                            syntax: Syntax::Deref,
                            span,
                        },
                    }
                }
                _ => self.inactive(e),
            },
            Expr::Reference(r) => {
                let inner = self.ex(&r.expr, pre);
                match inner {
                    Ex::Const { .. } => Ex::Const { tokens: e.to_token_stream() },
                    Ex::Inactive { .. } => self.inactive(e),
                    inner => Ex::Ref { inner: Box::new(inner), mutable: r.mutability.is_some() },
                }
            }
            Expr::Cast(c) => {
                let float = matches!(&*c.ty, syn::Type::Path(p) if p.path.is_ident("f64") || p.path.is_ident("f32"));
                if float {
                    let inner = self.ex(&c.expr, pre);
                    let ty = &c.ty;
                    Ex::Op { rule: &rules::IDENTITY, args: vec![inner], syntax: Syntax::Cast { ty: quote!(#ty) }, span }
                } else {
                    self.inactive(e)
                }
            }
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                if name == "detach" || rules::inactive_method(&name) {
                    return self.inactive(e);
                }
                match rules::method(&name, m.args.len() + 1) {
                    Some(rule) => {
                        let mut args = vec![self.ex(&m.receiver, pre)];
                        for a in &m.args {
                            args.push(self.ex(a, pre));
                        }
                        Ex::Op {
                            rule,
                            args,
                            syntax: Syntax::Method { name: m.method.clone(), turbofish: m.turbofish.to_token_stream() },
                            span,
                        }
                    }
                    None => {
                        let fix = if rules::method_known_any_arity(&name) {
                            format!("`{name}` is differentiable, but not with {} argument(s)", m.args.len())
                        } else {
                            format!(
                                "compute it on inactive values, wrap the receiver in `stop_gradient(..)`, or use a differentiable method ({})",
                                rules::suggest(&name)
                            )
                        };
                        self.unsupported_at(e, m.method.span(), &format!("the method `{name}`"), &fix)
                    }
                }
            }
            Expr::Call(c) => {
                let Expr::Path(p) = peel(&c.func) else {
                    return self.unsupported(e, "a call through an expression", "call a named function");
                };
                let path = &p.path;
                let last = path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
                if last == "stop_gradient" {
                    return self.inactive(e);
                }
                if path.get_ident().is_some_and(|i| self.resolve(&i.to_string()).is_some()) {
                    return self.unsupported(e, "a call to a closure or function value", "call a named `#[differentiable]` function instead");
                }
                // `f64::max(a, b)` / `Tensor::matmul(&a, &b)`: a method in path form.
                if path.segments.len() == 2 {
                    let first = path.segments[0].ident.to_string();
                    if first == "f64" || first == "Tensor" {
                        if let Some(rule) = rules::method(&last, c.args.len()) {
                            let args: Vec<Ex> = c.args.iter().map(|a| self.ex(a, pre)).collect();
                            return Ex::Op {
                                rule,
                                args,
                                syntax: Syntax::Method { name: path.segments[1].ident.clone(), turbofish: TokenStream::new() },
                                span,
                            };
                        }
                    }
                }
                if last.chars().next().is_some_and(|ch| ch.is_uppercase()) || p.qself.is_some() {
                    return self.unsupported(e, &format!("the constructor or associated function `{}`", path.to_token_stream()), "build the value from inactive data, or keep active values in plain variables");
                }
                let args: Vec<Ex> = c.args.iter().map(|a| self.ex(a, pre)).collect();
                Ex::Call { func: path.clone(), args, span }
            }
            Expr::Index(i) => {
                let base = self.ex(&i.expr, pre);
                let index = self.ex(&i.index, pre);
                Ex::Index { base: Box::new(base), index: Box::new(index), span }
            }
            Expr::Tuple(t) => Ex::Tuple { elems: t.elems.iter().map(|a| self.ex(a, pre)).collect() },
            Expr::If(_) | Expr::Match(_) | Expr::Block(_) => {
                let (id, ident) = self.temp();
                pre.push(Stmt::Verbatim { tokens: quote!(let #ident;) });
                self.value(e, Target::Bind(id), pre);
                Ex::Var { id, ident }
            }
            Expr::Unsafe(u) => {
                self.errors.spanned(
                    u.unsafe_token,
                    "cannot differentiate an `unsafe` block: the macro cannot see what it does to active values; move it into a function called with inactive values",
                );
                Ex::Const { tokens: e.to_token_stream() }
            }
            Expr::Try(t) => {
                self.errors.spanned(
                    t.question_token,
                    "the `?` operator is not supported in a differentiable function: handle the error before calling it, or `match` on the result",
                );
                Ex::Const { tokens: e.to_token_stream() }
            }
            Expr::Closure(_) => self.unsupported(e, "a closure capturing an active value", "write the closure's body inline, or make it a named `#[differentiable]` function"),
            Expr::Macro(m) => {
                let name = m.mac.path.to_token_stream().to_string();
                self.unsupported(e, &format!("the macro `{name}!`"), "build the value with ordinary expressions, or compute it from inactive values")
            }
            Expr::Array(_) | Expr::Repeat(_) => self.unsupported(e, "an array", "keep active values in separate variables, or in a `Tensor` computed with its own operations"),
            Expr::Struct(_) => self.unsupported(e, "a struct literal", "keep active values in plain variables and pass them to the function that needs them"),
            Expr::Field(_) => self.unsupported(e, "a field access", "destructure tuples with `let (a, b) = ..`, and keep active values in plain variables"),
            Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) => self.unsupported(e, "a loop used as a value", "assign to a variable declared before the loop"),
            _ => self.unsupported(e, "this expression", "compute it from inactive values, or wrap the active value in `stop_gradient(..)`"),
        }
    }

    fn inactive(&self, e: &Expr) -> Ex {
        Ex::Inactive {
            tokens: e.to_token_stream(),
            reads: self.reads(e),
            stable: stable_syntax(e),
        }
    }

    fn unsupported(&self, e: &Expr, what: &str, fix: &str) -> Ex {
        self.unsupported_at(e, e.span(), what, fix)
    }

    fn unsupported_at(&self, e: &Expr, span: Span, what: &str, fix: &str) -> Ex {
        Ex::Unsupported {
            tokens: e.to_token_stream(),
            reads: self.reads(e),
            span,
            what: what.into(),
            fix: fix.into(),
        }
    }
}

/// Bindings an expression could carry a gradient from (not those only read
/// inside inactive parts such as casts to integers or comparisons).
fn gradient_reads(e: &Ex, out: &mut Vec<BindId>) {
    match e {
        Ex::Var { id, .. } => out.push(*id),
        Ex::Const { .. } | Ex::Inactive { .. } => {}
        Ex::Unsupported { reads, .. } => out.extend(reads),
        Ex::Op { args, .. } | Ex::Call { args, .. } | Ex::Tuple { elems: args } => {
            args.iter().for_each(|a| gradient_reads(a, out))
        }
        Ex::Index { base, .. } => gradient_reads(base, out),
        Ex::Ref { inner, .. } => gradient_reads(inner, out),
    }
}

fn is_compound(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(
        op,
        AddAssign(_)
            | SubAssign(_)
            | MulAssign(_)
            | DivAssign(_)
            | RemAssign(_)
            | BitXorAssign(_)
            | BitAndAssign(_)
            | BitOrAssign(_)
            | ShlAssign(_)
            | ShrAssign(_)
    )
}

/// Control flow, lowered to statements rather than parsed as a value.
fn is_control(e: &Expr) -> bool {
    matches!(
        e,
        Expr::If(_)
            | Expr::Match(_)
            | Expr::Block(_)
            | Expr::Unsafe(_)
            | Expr::Break(_)
            | Expr::Continue(_)
            | Expr::Return(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
    )
}

fn is_diverging(m: &syn::Macro) -> bool {
    let name = m
        .path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    matches!(
        name.as_str(),
        "panic" | "unreachable" | "todo" | "unimplemented"
    )
}

/// Pure and cheap to evaluate again: literals, names, arithmetic, casts.
fn stable_syntax(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(p) => stable_syntax(&p.expr),
        Expr::Group(g) => stable_syntax(&g.expr),
        Expr::Cast(c) => stable_syntax(&c.expr),
        Expr::Unary(u) => !matches!(u.op, syn::UnOp::Deref(_)) && stable_syntax(&u.expr),
        Expr::Binary(b) => !is_compound(&b.op) && stable_syntax(&b.left) && stable_syntax(&b.right),
        Expr::Reference(r) => r.mutability.is_none() && stable_syntax(&r.expr),
        _ => false,
    }
}
