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
use crate::syntax::{mentioned_names, pattern_names, peel};
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

pub struct Lowerer<'a> {
    errors: &'a Errors,
    sig: &'a Signature,
    bindings: Vec<Binding>,
    scopes: Vec<Vec<(String, BindId)>>,
    loops: Vec<LoopInfo>,
    /// Open loops, innermost last: (id, user label).
    open_loops: Vec<(LoopId, Option<String>)>,
    exits: Vec<ExitInfo>,
    sites: usize,
    temps: usize,
    has_return: bool,
    /// Closures bound by `let f = |..| ..;`, inlined where they are called.
    closures: std::collections::HashMap<BindId, Closure>,
    /// Closures bound by name that are not inlined, and why (for the
    /// message at their calls).
    opaque_closures: std::collections::HashMap<String, &'static str>,
}

/// A closure the lowering inlines at its calls: its parameters, its body,
/// and what each name its body mentions meant where it was defined.
struct Closure {
    inputs: Vec<Pat>,
    body: Expr,
    names: Vec<(String, Option<BindId>)>,
}

pub fn lower(sig: &Signature, block: &syn::Block, errors: &Errors) -> Body {
    let mut l = Lowerer {
        errors,
        sig,
        bindings: Vec::new(),
        scopes: vec![Vec::new()],
        loops: Vec::new(),
        open_loops: Vec::new(),
        exits: Vec::new(),
        sites: 0,
        temps: 0,
        has_return: false,
        closures: std::collections::HashMap::new(),
        opaque_closures: std::collections::HashMap::new(),
    };
    for (index, param) in sig.params.iter().enumerate() {
        let id = l.declare(param.ident.clone());
        l.bindings[id].param = Some(index);
        // What the body may change is not what the reverse finds on entry.
        let mutable_borrow = matches!(&param.ty, syn::Type::Reference(r) if r.mutability.is_some());
        l.bindings[id].reassigned = param.mutable || mutable_borrow;
        l.bindings[id].keepable = param.active || crate::signature::keepable_type(&param.ty);
    }
    let block = l.block(block, Some(Target::Out));
    Body {
        bindings: l.bindings,
        block,
        loops: l.loops,
        exits: l.exits,
        has_return: l.has_return,
        zero_gradients: Vec::new(),
        adjoints: Vec::new(),
        facts: Default::default(),
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
            keepable: true,
            counter_of: None,
            recipe: None,
            annotation: None,
            active: false,
        });
        self.scopes
            .last_mut()
            .expect("a scope is open")
            .push((ident.to_string(), id));
        id
    }

    /// A method receiver whose type the macro cannot name but whose
    /// gradient has a place: a field of a parameter (`self.layer`, `net.l1`),
    /// or a parameter whose type is a user's type (not `f64`, a tensor, a
    /// vector or a matrix, whose methods are the rules table's).
    fn struct_receiver(&self, e: &Expr) -> bool {
        let e = match peel(e) {
            Expr::Reference(r) if r.mutability.is_none() => peel(&r.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => peel(&u.expr),
            e => e,
        };
        match e {
            Expr::Field(f) => {
                fn rooted(l: &Lowerer<'_>, e: &Expr) -> bool {
                    match peel(e) {
                        Expr::Path(p) => p
                            .path
                            .get_ident()
                            .and_then(|i| l.resolve(&i.to_string()))
                            .is_some_and(|id| l.bindings[id].param.is_some()),
                        Expr::Field(f) => rooted(l, &f.base),
                        _ => false,
                    }
                }
                matches!(f.member, syn::Member::Named(_)) && rooted(self, &f.base)
            }
            Expr::Path(p) => {
                let Some(id) = p
                    .path
                    .get_ident()
                    .and_then(|i| self.resolve(&i.to_string()))
                else {
                    return false;
                };
                let Some(param) = self.bindings[id].param else {
                    return false;
                };
                fn user_type(ty: &syn::Type) -> bool {
                    const RUNTIME: &[&str] = &[
                        "f64",
                        "f32",
                        "Tensor",
                        "Vec",
                        "DVector",
                        "DMatrix",
                        "Vector2",
                        "Vector3",
                        "Vector4",
                        "Matrix2",
                        "Matrix3",
                        "Matrix4",
                        "SVector",
                        "SMatrix",
                        "Point2",
                        "Point3",
                        "Rotation2",
                        "Rotation3",
                        "UnitQuaternion",
                        "Quaternion",
                        "Var",
                    ];
                    match ty {
                        syn::Type::Reference(r) => r.mutability.is_none() && user_type(&r.elem),
                        syn::Type::Paren(p) => user_type(&p.elem),
                        syn::Type::Group(g) => user_type(&g.elem),
                        syn::Type::Path(tp) => {
                            tp.qself.is_none()
                                && tp.path.segments.last().is_some_and(|s| {
                                    !RUNTIME.contains(&s.ident.to_string().as_str())
                                        && s.ident
                                            .to_string()
                                            .starts_with(|c: char| c.is_ascii_uppercase())
                                })
                        }
                        _ => false,
                    }
                }
                user_type(&self.sig.params[param].ty)
            }
            _ => false,
        }
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
        struct Names(Vec<(syn::Ident, bool)>);
        impl<'ast> Visit<'ast> for Names {
            fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
                self.0.push((p.ident.clone(), p.mutability.is_some()));
                syn::visit::visit_pat_ident(self, p);
            }
        }
        let mut names = Names(Vec::new());
        names.visit_pat(pat);
        names
            .0
            .into_iter()
            .map(|(ident, mutable)| {
                let id = self.declare(ident);
                self.bindings[id].reassigned |= mutable;
                id
            })
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
        self.mentions(e, false)
    }

    /// The bindings `e` mentions; with `skip_gradient_free`, not those only
    /// inside `stop_gradient(..)` or as the receiver of a method that gives
    /// no gradient (`xs.len()`).
    fn mentions(&self, e: &Expr, skip_gradient_free: bool) -> Vec<BindId> {
        struct Reads<'l, 'a> {
            l: &'l Lowerer<'a>,
            out: Vec<BindId>,
            skip: bool,
        }
        impl<'ast> Visit<'ast> for Reads<'_, '_> {
            fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
                if let Some(ident) = p.path.get_ident() {
                    if let Some(id) = self.l.resolve(&ident.to_string()) {
                        self.out.push(id);
                        // A closure reads what it captures.
                        if self.l.closures.contains_key(&id) {
                            self.out.extend(self.l.closure_reads(id));
                        }
                    }
                }
            }
            fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
                if !(self.skip && rules::inactive_method(&m.method.to_string())) {
                    self.visit_expr(&m.receiver);
                }
                for a in &m.args {
                    self.visit_expr(a);
                }
            }
            fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
                let stop = matches!(peel(&c.func), Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "stop_gradient"));
                if !(self.skip && stop) {
                    syn::visit::visit_expr_call(self, c);
                }
            }
            fn visit_macro(&mut self, m: &'ast syn::Macro) {
                self.l.token_reads(m.tokens.clone(), &mut self.out);
            }
        }
        let mut r = Reads {
            l: self,
            out: Vec::new(),
            skip: skip_gradient_free,
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
            syn::Stmt::Macro(m) => self.macro_stmt(&m.mac, m.to_token_stream(), out),
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
        if let Some((_, diverge)) = &init.diverge {
            // `let PAT = e else { .. };` is
            // `let (names..) = match e { PAT => (names..), _ => { .. } };`,
            // so that the `else` (which leaves) is lowered like any exit.
            let names: Vec<syn::Ident> = pattern_names(&local.pat)
                .iter()
                .map(|n| syn::Ident::new(n, proc_macro2::Span::call_site()))
                .collect();
            let (pat, expr) = (&local.pat, &init.expr);
            let desugared = make_local(quote!(
                let (#(#names,)*) = match #expr { #pat => (#(#names,)*), _ => #diverge };
            ));
            self.local(&desugared, out);
            return;
        }
        if self.split_tuple_let(local, &init.expr, out)
            || self.split_struct_let(local, &init.expr, out)
        {
            return;
        }
        if let (Pat::Ident(pi), Expr::Closure(c)) = (&local.pat, peel(&init.expr)) {
            let why = if c.capture.is_some() {
                Some("it is a `move` closure")
            } else if contains_return(&c.body) {
                Some("it has a `return` in it (write its value as an `if`/`else` instead)")
            } else {
                None
            };
            match why {
                Some(why) => self.opaque_closures.insert(pi.ident.to_string(), why),
                None => self.opaque_closures.remove(&pi.ident.to_string()),
            };
            if pi.subpat.is_none()
                && pi.by_ref.is_none()
                && c.capture.is_none()
                && !contains_return(&c.body)
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
                let id = self.declare(pi.ident.clone());
                self.bindings[id].reassigned |= pi.mutability.is_some();
                self.closures.insert(
                    id,
                    Closure {
                        inputs: c.inputs.iter().cloned().collect(),
                        body: (*c.body).clone(),
                        names,
                    },
                );
                // Kept as written (it may also be used as a value); its calls
                // are inlined.
                out.push(Stmt::Verbatim {
                    tokens: local.to_token_stream(),
                });
                return;
            }
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

    /// `let (p, q) = (a, b);` is two `let`s: each name gets its own site, so
    /// no cotangent has to be built for a tuple whose parts' types are
    /// unknown. Right-hand sides are evaluated first (into temporaries) when a
    /// later one reads a name the pattern rebinds. Returns false if the
    /// statement is not of that form.
    fn split_tuple_let(&mut self, local: &syn::Local, init: &Expr, out: &mut Vec<Stmt>) -> bool {
        let (pat, ty) = match &local.pat {
            Pat::Type(t) => (&*t.pat, Some(&*t.ty)),
            p => (p, None),
        };
        if let Pat::Slice(sp) = pat {
            return self.split_array_let(sp, ty, init, out);
        }
        let (Pat::Tuple(tp), Expr::Tuple(te)) = (pat, peel(init)) else {
            return false;
        };
        let n = tp.elems.len();
        if n == 0 || te.elems.len() != n || !local.attrs.is_empty() {
            return false;
        }
        let types: Vec<Option<&syn::Type>> = match ty {
            None => vec![None; n],
            Some(syn::Type::Tuple(tt)) if tt.elems.len() == n => {
                tt.elems.iter().map(Some).collect()
            }
            Some(_) => return false,
        };
        if tp.elems.iter().any(|p| matches!(p, Pat::Rest(_))) {
            return false;
        }
        let lets: Vec<(Pat, Expr)> = tp
            .elems
            .iter()
            .zip(&te.elems)
            .zip(types)
            .map(|((p, e), t)| {
                let p = match t {
                    Some(t) => Pat::Type(syn::PatType {
                        attrs: Vec::new(),
                        pat: Box::new(p.clone()),
                        colon_token: Default::default(),
                        ty: Box::new(t.clone()),
                    }),
                    None => p.clone(),
                };
                (p, e.clone())
            })
            .collect();
        self.lower_parallel_lets(lets, out);
        true
    }

    /// `let P { x, y: b, .. } = p;` with `p` a parameter (or a field of one,
    /// or `*p`, `&p`) is `let x = p.x.clone(); let b = p.y.clone();`: each
    /// field a read of the parameter's field, whose gradient goes into that
    /// field of `p̄`. Through a reference (`p: &P`, `&q`) the fields are
    /// bound by reference, as the pattern binds them (`let x = &p.x;`); from
    /// an owned value, by a clone (the pattern would move them, and the
    /// generated code still reads `p`). Returns false if the statement is
    /// not of that form.
    fn split_struct_let(&mut self, local: &syn::Local, init: &Expr, out: &mut Vec<Stmt>) -> bool {
        if !local.attrs.is_empty() {
            return false;
        }
        // The place the fields are read from, rooted at a parameter.
        fn param_place(l: &Lowerer<'_>, e: &Expr) -> Option<Expr> {
            match peel(e) {
                Expr::Path(p) => {
                    let ident = p.path.get_ident()?;
                    let id = l.resolve(&ident.to_string())?;
                    l.bindings[id].param?;
                    Some(peel(e).clone())
                }
                Expr::Field(f) => {
                    param_place(l, &f.base)?;
                    Some(peel(e).clone())
                }
                Expr::Unary(syn::ExprUnary {
                    op: syn::UnOp::Deref(_),
                    expr,
                    ..
                }) => param_place(l, expr),
                Expr::Reference(r) if r.mutability.is_none() => param_place(l, &r.expr),
                _ => None,
            }
        }
        let fields: Vec<(syn::Member, Pat)> = match &local.pat {
            Pat::Struct(ps) if ps.qself.is_none() => ps
                .fields
                .iter()
                .map(|f| (f.member.clone(), (*f.pat).clone()))
                .collect(),
            Pat::TupleStruct(ps)
                if ps.qself.is_none() && !ps.elems.iter().any(|p| matches!(p, Pat::Rest(_))) =>
            {
                ps.elems
                    .iter()
                    .enumerate()
                    .map(|(k, p)| (syn::Member::Unnamed(syn::Index::from(k)), p.clone()))
                    .collect()
            }
            _ => return false,
        };
        // Names and nested patterns of the same kind; `ref` bindings and
        // other patterns stay with the general rule (which refuses them
        // when they would carry a gradient).
        let simple = |p: &Pat| match p {
            Pat::Ident(pi) => pi.by_ref.is_none() && pi.subpat.is_none(),
            Pat::Wild(_) | Pat::Struct(_) | Pat::TupleStruct(_) => true,
            _ => false,
        };
        if fields.is_empty() || !fields.iter().all(|(_, p)| simple(p)) {
            return false;
        }
        let Some(place) = param_place(self, init) else {
            return false;
        };
        // Through a reference the pattern binds references (match
        // ergonomics): `&p.x`, so that `*x` means what it meant.
        let by_ref = match peel(init) {
            Expr::Reference(_) => true,
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|i| self.resolve(&i.to_string()))
                .and_then(|id| self.bindings[id].param)
                .is_some_and(|k| matches!(self.sig.params[k].ty, syn::Type::Reference(_))),
            _ => false,
        };
        let lets: Vec<(Pat, Expr)> = fields
            .into_iter()
            .filter(|(_, p)| !matches!(p, Pat::Wild(_)))
            .map(|(m, p)| {
                let read: Expr = if by_ref {
                    syn::parse_quote!(&(#place).#m)
                } else {
                    syn::parse_quote!((#place).#m.clone())
                };
                (p, read)
            })
            .collect();
        self.lower_parallel_lets(lets, out);
        true
    }

    /// Lowers `let p_k = e_k;` for every k as if all right-hand sides were
    /// evaluated before any name is bound.
    fn lower_parallel_lets(&mut self, lets: Vec<(Pat, Expr)>, out: &mut Vec<Stmt>) {
        let mut bound: Vec<String> = Vec::new();
        let mut clash = false;
        for (p, e) in &lets {
            let mentioned = mentioned_names(e);
            if bound.iter().any(|b| mentioned.contains(b)) {
                clash = true;
            }
            bound.extend(pattern_names(p));
        }
        if !clash {
            for (p, e) in lets {
                let l = make_local(quote!(let #p = #e;));
                self.local(&l, out);
            }
            return;
        }
        let mut temps = Vec::new();
        for (_, e) in &lets {
            self.temps += 1;
            let t = format_ident!("__ad_t{}", self.temps);
            let l = make_local(quote!(let #t = #e;));
            self.local(&l, out);
            temps.push(t);
        }
        for ((p, _), t) in lets.into_iter().zip(temps) {
            let l = make_local(quote!(let #p = #t;));
            self.local(&l, out);
        }
    }

    /// `(a, b) = (e1, e2);` (Rust's destructuring assignment): every
    /// right-hand side into a temporary, then each name assigned.
    fn destructuring_assign(&mut self, a: &syn::ExprAssign, out: &mut Vec<Stmt>) {
        let Expr::Tuple(left) = peel(&a.left) else {
            return;
        };
        let n = left.elems.len();
        let mut temps = Vec::new();
        match peel(&a.right) {
            Expr::Tuple(right) if right.elems.len() == n => {
                for e in &right.elems {
                    self.temps += 1;
                    let t = format_ident!("__ad_t{}", self.temps);
                    let l = make_local(quote!(let #t = #e;));
                    self.local(&l, out);
                    temps.push(t);
                }
            }
            right => {
                for _ in 0..n {
                    self.temps += 1;
                    temps.push(format_ident!("__ad_t{}", self.temps));
                }
                let l = make_local(quote!(let (#(#temps),*) = #right;));
                self.local(&l, out);
            }
        }
        for (target, t) in left.elems.iter().zip(temps) {
            match peel(target) {
                Expr::Infer(_) => {}
                Expr::Tuple(_) => {
                    let e: Expr = syn::parse_quote!(#target = #t);
                    self.expr_stmt(&e, true, out);
                }
                _ => {
                    let e: Expr = syn::parse_quote!(#target = #t);
                    self.expr_stmt(&e, true, out);
                }
            }
        }
    }

    /// A statement macro: the formatting and assertion macros of std only
    /// read their arguments; any other macro could change an active value
    /// behind the macro's back, so it may not mention one.
    fn macro_stmt(&mut self, mac: &syn::Macro, tokens: TokenStream, out: &mut Vec<Stmt>) {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        // Their arguments may still assign (`println!("{}", { s = ..; s })`).
        let arguments_pure = mac
            .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated)
            .map(|args| !args.iter().any(effectful))
            .unwrap_or(true);
        if READ_ONLY_MACROS.contains(&name.as_str()) && arguments_pure {
            out.push(Stmt::Verbatim { tokens });
            return;
        }
        let mut reads = Vec::new();
        self.token_reads(mac.tokens.clone(), &mut reads);
        let site = self.site();
        out.push(Stmt::Assign(Assign {
            site,
            targets: Vec::new(),
            kind: AssignKind::Opaque { tokens: tokens.clone() },
            value: Ex::Unsupported {
                tokens,
                reads,
                span: mac.path.span(),
                what: format!("the macro `{name}!`"),
                fix: "the macro could change the value behind the derivative's back: call it on inactive values (wrap them in `stop_gradient(..)`), or write its expansion out".into(),
            },
            active: false,
            in_loop: self.in_loop(),
        }));
    }

    /// A statement that emits nothing and refuses the function if any of
    /// `reads` carries a gradient (`what` cannot pass one on).
    fn refuse_if_active(
        &mut self,
        tokens: TokenStream,
        reads: Vec<BindId>,
        span: Span,
        what: String,
        fix: String,
        out: &mut Vec<Stmt>,
    ) {
        if reads.is_empty() {
            return;
        }
        let site = self.site();
        out.push(Stmt::Assign(Assign {
            site,
            targets: Vec::new(),
            kind: AssignKind::Opaque {
                tokens: TokenStream::new(),
            },
            value: Ex::Unsupported {
                tokens,
                reads,
                span,
                what,
                fix,
            },
            active: false,
            in_loop: self.in_loop(),
        }));
    }

    /// Local bindings an expression could pass a gradient from: every name
    /// it mentions, except inside `stop_gradient(..)` and as the receiver
    /// of a method that gives no gradient (`xs.len()`).
    fn value_reads(&self, e: &Expr) -> Vec<BindId> {
        self.mentions(e, true)
    }

    /// An `if`/`while` condition. One with assignments, blocks or exits in it
    /// is evaluated first, as statements, into a `bool`; patterns of
    /// `if let`/`while let` may not bind parts of an active value. Returns
    /// the condition to emit.
    fn condition(&mut self, cond: &Expr, out: &mut Vec<Stmt>) -> TokenStream {
        if effectful(cond) {
            if contains_let(cond) {
                self.errors.spanned(
                    cond,
                    "an assignment, block or exit inside an `if let`/`while let` condition is not supported in a differentiable function\nhelp: compute it in a statement before the condition",
                );
                return cond.to_token_stream();
            }
            let (tid, tident) = self.temp();
            out.push(Stmt::Verbatim {
                tokens: quote!(let #tident: bool;),
            });
            self.value(cond, Target::Bind(tid), out);
            return quote!(#tident);
        }
        self.check_condition(cond, out);
        cond.to_token_stream()
    }

    /// Refusals for a condition kept as written: a `let` pattern that binds
    /// (part of) an active value, and `&mut` of an active value.
    fn check_condition(&mut self, cond: &Expr, out: &mut Vec<Stmt>) {
        let mut lets = Vec::new();
        collect_lets(cond, &mut lets);
        for l in lets {
            if pattern_names(&l.pat).is_empty() {
                continue;
            }
            let reads = self.value_reads(&l.expr);
            self.refuse_if_active(
                l.expr.to_token_stream(),
                reads,
                l.expr.span(),
                "a value bound by an `if let`/`while let` pattern".into(),
                "bind it with `let` (or `match` it against a name pattern `v => ..`), or wrap it in `stop_gradient(..)`".into(),
                out,
            );
        }
        self.check_mut_borrows(cond, out);
    }

    /// `&mut v` of an active `v` inside code kept as written.
    fn check_mut_borrows(&mut self, e: &Expr, out: &mut Vec<Stmt>) {
        struct Muts(Vec<Expr>);
        impl<'ast> Visit<'ast> for Muts {
            fn visit_expr_reference(&mut self, r: &'ast syn::ExprReference) {
                if r.mutability.is_some() {
                    self.0.push((*r.expr).clone());
                }
                syn::visit::visit_expr_reference(self, r);
            }
        }
        let mut m = Muts(Vec::new());
        m.visit_expr(e);
        for target in m.0 {
            let reads = self.value_reads(&target);
            self.refuse_if_active(
                target.to_token_stream(),
                reads,
                target.span(),
                "`&mut` of a value in a condition".into(),
                "the callee could change it behind the macro's back: pass it by value or by `&`"
                    .into(),
                out,
            );
        }
    }

    /// Code kept as written (a loop's range or iterable, a match guard) with
    /// an assignment or a block inside: refused if it touches an active value.
    fn check_effects(&mut self, e: &Expr, out: &mut Vec<Stmt>) {
        if contains_exit(e) {
            self.errors.spanned(
                e,
                "a `return`, `break`, `continue` or `?` inside a match guard, a loop's range or its iterable is not supported in a differentiable function\nhelp: compute it in a statement before",
            );
        }
        if effectful(e) {
            let reads = self.reads(e);
            self.refuse_if_active(
                e.to_token_stream(),
                reads,
                e.span(),
                "an assignment, block or exit inside this expression".into(),
                "compute it in a statement of its own before it".into(),
                out,
            );
        }
        self.check_mut_borrows(e, out);
    }

    fn sequence_loop(&mut self, f: &syn::ExprForLoop) -> Option<Expr> {
        let i = {
            self.temps += 1;
            format_ident!("__ad_i{}", self.temps)
        };
        let (range, lets) = crate::syntax::sequence_loop(self, f, &i)?;
        // One tuple `let`: a pattern name that rebinds a sequence's name
        // still reads the sequence, as the iterator did.
        let pats = lets.iter().map(|(p, _)| p);
        let exprs = lets.iter().map(|(_, e)| e);
        let (attrs, label, body) = (&f.attrs, &f.label, &f.body);
        Some(syn::parse_quote!(
            #(#attrs)* #label for #i in #range { let (#(#pats,)*) = (#(#exprs,)*); #body }
        ))
    }

    /// Bindings a closure's body mentions (what it captures), and what the
    /// closures it calls capture.
    fn closure_reads(&self, id: BindId) -> Vec<BindId> {
        let mut reads: Vec<BindId> = Vec::new();
        let mut todo = vec![id];
        while let Some(c) = todo.pop() {
            for b in self.closures[&c].names.iter().filter_map(|(_, b)| *b) {
                if !reads.contains(&b) {
                    reads.push(b);
                    if self.closures.contains_key(&b) {
                        todo.push(b);
                    }
                }
            }
        }
        reads.sort_unstable();
        reads
    }

    /// `f(a, b)` for a closure `let f = |p, q| body;`: the block
    /// `{ let (p, q) = (a, b); body }`, provided every name the body
    /// mentions still means what it meant where the closure was defined.
    fn inline_closure(&self, id: BindId, call: &syn::ExprCall) -> Option<Expr> {
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
            // `|&v| ..` receives a reference: `let v = *a;`.
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
        Some(if pats.is_empty() {
            syn::parse_quote!({ #body })
        } else {
            let lets = pats.iter().zip(&args).map(|(p, a)| quote!(let #p = #a;));
            // Arguments are evaluated before any parameter is bound.
            let clash = pats.iter().enumerate().any(|(k, p)| {
                let bound = pattern_names(p);
                args[k + 1..]
                    .iter()
                    .any(|a| mentioned_names(a).iter().any(|n| bound.contains(n)))
            });
            if clash {
                let temps: Vec<syn::Ident> = (0..args.len())
                    .map(|k| format_ident!("__ad_arg_{}_{}", id, k))
                    .collect();
                syn::parse_quote!({ #(let #temps = #args;)* #(let #pats = #temps;)* #body })
            } else {
                syn::parse_quote!({ #(#lets)* #body })
            }
        })
    }

    /// An iterator chain ending in `sum`, `product` or `fold`, over a
    /// sequence or a range, with `map` and `filter` steps whose closures are
    /// inlined: the same computation as a `for` loop, which is then
    /// differentiated like one (and runs as fast).
    /// `xs.iter().map(|v| v * v).sum::<f64>()` becomes
    /// `{ let mut acc = 0.0; for item in xs.iter() { let item = {v * v}; acc = acc + item; } acc }`.
    fn iterator_chain(&mut self, m: &syn::ExprMethodCall) -> Option<Expr> {
        let terminal = m.method.to_string();
        // `collect()` into a `Vec` (`collect::<Vec<_>>()`, or typed by the
        // `let`): a loop that pushes.
        let collect = terminal == "collect" && m.args.is_empty();
        // A sum of integers (`sum::<i32>()`) is no business of ours.
        if let Some(t) = &m.turbofish {
            let f64_sum = t.args.len() == 1
                && matches!(&t.args[0], syn::GenericArgument::Type(ty) if matches!(ty, syn::Type::Path(p) if p.path.is_ident("f64")));
            let vec = t.args.len() == 1
                && matches!(&t.args[0], syn::GenericArgument::Type(syn::Type::Path(p))
                    if p.path.segments.last().is_some_and(|s| s.ident == "Vec"));
            if !(f64_sum || collect && vec) {
                return None;
            }
        }
        // Nothing in it can carry a gradient: left as written.
        if self.value_reads(&Expr::MethodCall(m.clone())).is_empty() {
            return None;
        }
        self.temps += 1;
        let (acc, item) = (
            format_ident!("__ad_acc{}", self.temps),
            format_ident!("__ad_item{}", self.temps),
        );
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
                    Expr::Closure(c) if c.inputs.len() == 2 && !contains_return(&c.body) => {
                        let call = syn::parse_quote!(__ad_f(#acc, #item));
                        self.inline_closure_expr(c, &call)?
                    }
                    Expr::Path(p) => syn::parse_quote!(#p(#acc, #item)),
                    _ => return None,
                };
                (init.clone(), combine)
            }
            _ => return None,
        };
        // Steps, outermost first, down to the source.
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
        let source = e;
        let iterator_source = match source {
            Expr::Range(_) => true,
            Expr::MethodCall(s) => ITERATOR_SOURCES.contains(&s.method.to_string().as_str()),
            Expr::Paren(_) => true,
            _ => false,
        };
        if !iterator_source {
            return None;
        }
        let mut body: Vec<TokenStream> = Vec::new();
        // The first step a `map` taking a tuple apart (`|(i, v)|` after
        // `enumerate`, `|(a, b)|` after `zip`): its pattern becomes the
        // loop's, so that no tuple of an index and an element is bound as
        // one value (a `_` in it then needs no gradient type).
        let mut pattern: Pat = syn::parse_quote!(#item);
        let mut first = 0;
        if let Some(step) = steps.last()
            && step.method == "map"
            && let Expr::Closure(c) = peel(&step.args[0])
            && c.inputs.len() == 1
            && c.capture.is_none()
            && !contains_return(&c.body)
        {
            let p = match &c.inputs[0] {
                Pat::Type(t) => &*t.pat,
                p => p,
            };
            if let Pat::Tuple(_) = p {
                pattern = p.clone();
                let b = &c.body;
                body.push(quote!(let #item = #b;));
                first = 1;
            }
        }
        // Otherwise, over a source of tuples (`enumerate`, `zip`), the loop
        // binds each part by name and the steps up to the first `map` see
        // a tuple literal of those names (`x.iter().enumerate().filter(|(i,
        // _)| ..).map(|(_, v)| ..)`): a tuple of an index and an element is
        // never one value, whose `_` part would need a gradient type.
        let mut current: Expr = syn::parse_quote!(#item);
        if first == 0 {
            let mut parts = 0;
            if let Some((pat, expr)) = crate::syntax::tuple_parts(source, &item, &mut parts) {
                pattern = pat;
                current = expr;
            }
        }
        for step in steps.iter().rev().skip(first) {
            let Expr::Closure(c) = peel(&step.args[0]) else {
                return None;
            };
            if c.inputs.len() != 1 || contains_return(&c.body) {
                return None;
            }
            if step.method == "map" {
                let call = syn::parse_quote!(__ad_f(#current));
                // A tuple pattern over the tuple literal of the parts:
                // bound part by part (`|(i, &v)|`: `v = *e1`).
                let p = match &c.inputs[0] {
                    Pat::Type(t) => &*t.pat,
                    p => p,
                };
                let mapped = match crate::syntax::bind_by_value(p, &current) {
                    Some(lets) if c.capture.is_none() => {
                        let lets = lets.iter().map(|(p, e)| quote!(let #p = #e;));
                        let b = &c.body;
                        syn::parse_quote!({ #(#lets)* #b })
                    }
                    _ => self.inline_closure_expr(c, &call)?,
                };
                body.push(quote!(let #item = #mapped;));
                current = syn::parse_quote!(#item);
            } else {
                let call = syn::parse_quote!(__ad_f(&#current));
                let kept = self.inline_closure_expr(c, &call)?;
                body.push(quote!(if !(#kept) { continue; }));
            }
        }
        if !matches!(&current, Expr::Path(p) if p.path.is_ident(&item)) {
            body.push(quote!(let #item = #current;));
        }
        // A literal start (`fold(0.0, f64::max)`) is an `f64`, as the
        // iterator's item type made it; the loop alone would leave it
        // `{float}`.
        let typed: TokenStream = match peel(&init) {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(_),
                ..
            }) => quote!(: f64),
            Expr::Unary(u)
                if matches!(
                    peel(&u.expr),
                    Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Float(_),
                        ..
                    })
                ) =>
            {
                quote!(: f64)
            }
            _ => TokenStream::new(),
        };
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
            let mut #acc #typed = #init;
            for #pattern in #source {
                #(#body)*
                #acc = #combine;
            }
            #acc
        }))
    }

    /// A closure literal applied to `call`'s arguments, as a block (see
    /// [`Self::inline_closure`]).
    fn inline_closure_expr(&mut self, c: &syn::ExprClosure, call: &syn::ExprCall) -> Option<Expr> {
        if c.capture.is_some() {
            return None;
        }
        let id = self.bindings.len();
        let params: Vec<String> = c.inputs.iter().flat_map(pattern_names).collect();
        let names = mentioned_names(&c.body)
            .into_iter()
            .filter(|n| !params.contains(n))
            .map(|n| {
                let b = self.resolve(&n);
                (n, b)
            })
            .collect();
        self.closures.insert(
            id,
            Closure {
                inputs: c.inputs.iter().cloned().collect(),
                body: (*c.body).clone(),
                names,
            },
        );
        let inlined = self.inline_closure(id, call);
        self.closures.remove(&id);
        inlined
    }

    /// A sequence variable that elements can be written into in place.
    fn element_base(&self, e: &Expr) -> Option<BindId> {
        let Expr::Path(p) = peel(e) else { return None };
        let id = self.resolve(&p.path.get_ident()?.to_string())?;
        (!self.closures.contains_key(&id)).then_some(id)
    }

    /// `base[index] = right`, `base[index] op= right`, `base.push(right)`.
    #[allow(clippy::too_many_arguments)]
    fn element_write(
        &mut self,
        base: BindId,
        index: &Expr,
        op: Option<syn::BinOp>,
        right: &Expr,
        whole: &Expr,
        push: bool,
        out: &mut Vec<Stmt>,
    ) {
        let rule = match op {
            Some(op) => match rules::binary(&op) {
                Some(rule) => Some((op, rule)),
                None => {
                    let mut reads = self.reads(whole);
                    reads.push(base);
                    let site = self.site();
                    out.push(Stmt::Assign(Assign {
                        site,
                        targets: Vec::new(),
                        kind: AssignKind::Opaque {
                            tokens: quote!(#whole;),
                        },
                        value: Ex::Unsupported {
                            tokens: whole.to_token_stream(),
                            reads,
                            span: whole.span(),
                            what: format!("the operator `{}`", op.to_token_stream()),
                            fix: "write it with `+`, `-`, `*`, `/` or a differentiable method"
                                .into(),
                        },
                        active: false,
                        in_loop: self.in_loop(),
                    }));
                    return;
                }
            },
            None => None,
        };
        self.bindings[base].reassigned = true;
        // An index with side effects or cost is evaluated once, into a variable.
        let index = if push || stable_syntax(index) {
            let mut pre = Vec::new();
            let ex = self.ex(index, &mut pre);
            out.extend(pre);
            ex
        } else {
            let (tid, tident) = self.temp();
            out.push(Stmt::Verbatim {
                tokens: quote!(let #tident;),
            });
            self.value(index, Target::Bind(tid), out);
            Ex::Var {
                id: tid,
                ident: tident,
            }
        };
        let mut pre = Vec::new();
        let rhs = self.ex(right, &mut pre);
        out.extend(pre);
        let base_ident = self.bindings[base].ident.clone();
        let span = whole.span();
        let value = match rule {
            Some((op, rule)) => Ex::Op {
                rule,
                args: vec![
                    Ex::Index {
                        base: Box::new(Ex::Var {
                            id: base,
                            ident: base_ident,
                        }),
                        index: Box::new(index.clone()),
                        span,
                    },
                    rhs,
                ],
                syntax: Syntax::Binary(op),
                span,
            },
            None => rhs,
        };
        let site = self.site();
        out.push(Stmt::Assign(Assign {
            site,
            targets: vec![Some(Target::Bind(base))],
            kind: AssignKind::Element {
                base,
                index,
                op: rule.map(|(op, _)| op),
                push,
            },
            value,
            active: false,
            in_loop: self.in_loop(),
        }));
    }

    /// `[v; n]`, `vec![v; n]`: a buffer to write into, from an inactive `v`.
    fn repeat(&self, e: &Expr, value: &Expr) -> Ex {
        let reads = self.value_reads(value);
        if reads.is_empty() {
            return Ex::Inactive {
                tokens: e.to_token_stream(),
                reads: self.reads(e),
                stable: false,
            };
        }
        Ex::Unsupported {
            tokens: e.to_token_stream(),
            reads,
            span: e.span(),
            what: "an array or `vec!` of a repeated active value".into(),
            fix: "write the elements out (`[a, a, a]`), or build it from inactive values (`vec![0.0; n]`) and write active values into its elements".into(),
        }
    }

    /// `let [p, q] = value;` as `let p = value[0]; let q = value[1];` (through
    /// a variable unless `value` is one, or parallel lets of an array literal).
    fn split_array_let(
        &mut self,
        sp: &syn::PatSlice,
        ty: Option<&syn::Type>,
        init: &Expr,
        out: &mut Vec<Stmt>,
    ) -> bool {
        if sp.elems.is_empty() || sp.elems.iter().any(|p| matches!(p, Pat::Rest(_))) {
            return false;
        }
        if let Expr::Array(a) = peel(init) {
            if a.elems.len() != sp.elems.len() {
                return false;
            }
            let lets = sp
                .elems
                .iter()
                .cloned()
                .zip(a.elems.iter().cloned())
                .collect();
            self.lower_parallel_lets(lets, out);
            return true;
        }
        let source: Expr = match peel(init) {
            Expr::Path(p) if p.path.get_ident().is_some() => peel(init).clone(),
            _ => {
                self.temps += 1;
                let t = format_ident!("__ad_t{}", self.temps);
                let l = match ty {
                    Some(ty) => make_local(quote!(let #t: #ty = #init;)),
                    None => make_local(quote!(let #t = #init;)),
                };
                self.local(&l, out);
                syn::parse_quote!(#t)
            }
        };
        for (k, p) in sp.elems.iter().enumerate() {
            let l = make_local(quote!(let #p = #source[#k];));
            self.local(&l, out);
        }
        true
    }

    /// An array or `vec!` literal: constant or inactive as a whole when no
    /// element can carry a gradient (`&[1, 2]` as a tensor index).
    /// An argument written as an array or tuple literal (`t.at(&[i, 1])`),
    /// bound to a temporary first (`let t = [i, 1]; t.at(&t)`): a rule that
    /// reads the argument in the reverse finds it kept or evaluated again
    /// like any variable.
    fn hoist_literal(&mut self, a: &Expr, pre: &mut Vec<Stmt>) -> Expr {
        self.hoist_literal_if(a, pre, false)
    }

    /// [`Self::hoist_literal`]; with `always`, any array or tuple literal
    /// (a receiver: `[x[0], x[1]].to_vec()` reads its shape).
    fn hoist_literal_if(&mut self, a: &Expr, pre: &mut Vec<Stmt>, always: bool) -> Expr {
        // A receiver that is a sub-slice (`x[0..2].to_vec()`): borrowed into
        // a temporary, as `&x[0..2]` passed to a helper is.
        if always
            && let Expr::Index(ix) = peel(a)
            && matches!(peel(&ix.index), Expr::Range(_))
        {
            let (tid, tident) = self.temp();
            pre.push(Stmt::Verbatim {
                tokens: quote!(let #tident;),
            });
            let borrowed: Expr = syn::parse_quote!(&#ix);
            self.value(&borrowed, Target::Bind(tid), pre);
            return syn::parse_quote!(#tident);
        }
        let (literal, borrowed) = match peel(a) {
            Expr::Reference(r) if r.mutability.is_none() => (peel(&r.expr), true),
            e => (e, false),
        };
        // Only literals mixed with names (`[i, 1]`, `(0, 1)`): the plan
        // evaluates other element expressions again where it can
        // (`[i, labels[i]]`), which costs no tape.
        let elems: Vec<&Expr> = match literal {
            Expr::Array(x) => x.elems.iter().collect(),
            Expr::Tuple(x) => x.elems.iter().collect(),
            _ => return a.clone(),
        };
        let has_literal = elems.iter().any(|e| matches!(peel(e), Expr::Lit(_)));
        let simple = elems
            .iter()
            .all(|e| matches!(peel(e), Expr::Lit(_) | Expr::Path(_)));
        if !always && !(has_literal && simple) {
            return a.clone();
        }
        let (tid, tident) = self.temp();
        pre.push(Stmt::Verbatim {
            tokens: quote!(let #tident;),
        });
        self.value(literal, Target::Bind(tid), pre);
        if borrowed {
            syn::parse_quote!(&#tident)
        } else {
            syn::parse_quote!(#tident)
        }
    }

    fn array(&self, e: &Expr, elems: Vec<Ex>, vec: bool) -> Ex {
        if elems.iter().all(|x| matches!(x, Ex::Const { .. })) {
            return Ex::Const {
                tokens: e.to_token_stream(),
            };
        }
        if elems
            .iter()
            .all(|x| matches!(x, Ex::Const { .. } | Ex::Inactive { .. }))
        {
            return self.inactive(e);
        }
        Ex::Array { elems, vec }
    }

    /// `#[checkpoint]` or `#[checkpoint(every = k)]` on a `for` loop over a
    /// range whose iterations are not left early; what its checkpoints keep.
    fn checkpoint(
        &mut self,
        f: &syn::ExprForLoop,
        id: LoopId,
        kind: &LoopKind,
        body: &Block,
    ) -> Option<Checkpoint> {
        let attr = f.attrs.iter().find(|a| a.path().is_ident("checkpoint"))?;
        let mut every = None;
        if let syn::Meta::List(_) = &attr.meta {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("every") {
                    every = Some(meta.value()?.parse::<Expr>()?.to_token_stream());
                    Ok(())
                } else {
                    Err(meta.error("expected `every = k`"))
                }
            });
            if let Err(e) = parsed {
                self.errors.push(e);
                return None;
            }
        }
        if !matches!(kind, LoopKind::Range { .. }) {
            self.errors.spanned(
                attr,
                "`#[checkpoint]` goes on a `for` loop over a range (`for i in 0..n`)",
            );
            return None;
        }
        if self.exits.iter().any(|x| x.ends_iteration_of.contains(&id)) {
            self.errors.spanned(attr, "`#[checkpoint]` needs a loop whose iterations all run to their end: no `break`, `continue` or `return` inside it");
            return None;
        }
        // What the body reads or writes of what was declared before the loop.
        let first = self.loops[id].first_binding;
        let mut state = Vec::new();
        let mut names = Vec::new();
        collect_block_reads(body, &mut state, &mut names);
        for name in names {
            if let Some(b) = (0..first).rev().find(|b| self.bindings[*b].ident == name) {
                state.push(b);
            }
        }
        state.retain(|b| *b < first);
        state.sort_unstable();
        state.dedup();
        let (rebound, state): (Vec<BindId>, Vec<BindId>) = state
            .into_iter()
            .partition(|b| crate::analyse::stable(&self.bindings[*b]));
        Some(Checkpoint {
            every,
            state,
            rebound,
        })
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
        fn simple(p: &Pat) -> Option<Option<(&syn::Ident, bool)>> {
            match p {
                Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                    Some(Some((&pi.ident, pi.mutability.is_some())))
                }
                Pat::Wild(_) => Some(None),
                Pat::Type(t) => simple(&t.pat),
                Pat::Paren(p) => simple(&p.pat),
                _ => None,
            }
        }
        let (inner, annotation) = match pat {
            Pat::Type(t) => (&*t.pat, Some((*t.ty).clone())),
            p => (p, None),
        };
        let names: Option<Vec<Option<(&syn::Ident, bool)>>> = match inner {
            Pat::Tuple(t) => t.elems.iter().map(simple).collect(),
            p => simple(p).map(|one| vec![one]),
        };
        let single = !matches!(inner, Pat::Tuple(_));
        match names {
            Some(names) => {
                let names: Vec<Option<(syn::Ident, bool)>> = names
                    .into_iter()
                    .map(|n| n.map(|(i, m)| (i.clone(), m)))
                    .collect();
                Some(
                    names
                        .into_iter()
                        .map(|n| {
                            n.map(|(ident, mutable)| {
                                let id = self.declare(ident);
                                // `mut` may be changed in place (`v[i] = ..`):
                                // never evaluated again from a recipe.
                                self.bindings[id].reassigned |= mutable;
                                if single {
                                    self.bindings[id].annotation = annotation.clone();
                                }
                                Target::Bind(id)
                            })
                        })
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
            Expr::Assign(a) if matches!(peel(&a.left), Expr::Tuple(_)) => {
                self.destructuring_assign(a, out)
            }
            Expr::Assign(a) => self.assign(&a.left, None, &a.right, e, out),
            Expr::Binary(b) if is_compound(&b.op) => {
                self.assign(&b.left, Some(b.op), &b.right, e, out)
            }
            c if is_control(c) => self.control(e, None, out),
            Expr::Macro(m) => self.macro_stmt(&m.mac, quote!(#m;), out),
            Expr::MethodCall(m)
                if m.method == "push"
                    && m.args.len() == 1
                    && self.element_base(&m.receiver).is_some() =>
            {
                let base = self.element_base(&m.receiver).expect("checked");
                let ident = &self.bindings[base].ident;
                let index: Expr = syn::parse_quote!(#ident.len());
                self.element_write(base, &index, None, &m.args[0], e, true, out);
            }
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
        if target.is_none() {
            if let Expr::Index(ix) = peel(left) {
                if let Some(base) = self.element_base(&ix.expr) {
                    self.element_write(base, &ix.index, op, right, whole, false, out);
                    return;
                }
            }
        }
        let Some((id, ident)) = target else {
            // `s.f = ..`, `v[i][j] = ..`: fine while nothing in it is active.
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
                    fix: "write active values into plain variables (`let`, `=`, `+=`) or into an element of a sequence variable (`buf[i] = ..`, `buf[i] += ..`, `buf.push(..)`)".into(),
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
            Expr::If(i) => self.if_(i, target, out),
            Expr::Match(m) => {
                let binds = m.arms.iter().any(|arm| !pattern_names(&arm.pat).is_empty());
                // The value the arms' name patterns receive: a variable, or a
                // value expression evaluated first into one.
                let scrutinee_expr = peel(&m.expr);
                let place = matches!(
                    scrutinee_expr,
                    Expr::Field(_)
                        | Expr::Index(_)
                        | Expr::Unary(syn::ExprUnary {
                            op: syn::UnOp::Deref(_),
                            ..
                        })
                );
                let (scrutinee, source) = match scrutinee_expr {
                    Expr::Path(p)
                        if p.path
                            .get_ident()
                            .is_some_and(|i| self.resolve(&i.to_string()).is_some()) =>
                    {
                        let ident = p.path.get_ident().cloned().expect("checked");
                        let id = self.resolve(&ident.to_string()).expect("checked");
                        (m.expr.to_token_stream(), Some((id, ident)))
                    }
                    e if effectful(e) || (binds && !place && !self.value_reads(e).is_empty()) => {
                        let (tid, tident) = self.temp();
                        out.push(Stmt::Verbatim {
                            tokens: quote!(let #tident;),
                        });
                        self.value(e, Target::Bind(tid), out);
                        (quote!(#tident), Some((tid, tident)))
                    }
                    _ => (m.expr.to_token_stream(), None),
                };
                let site = self.site();
                let mut arms = Vec::new();
                for arm in &m.arms {
                    self.scopes.push(Vec::new());
                    self.declare_pattern(&arm.pat);
                    let pat = &arm.pat;
                    let head = match &arm.guard {
                        Some((if_token, guard)) => {
                            self.check_effects(guard, out);
                            quote!(#pat #if_token #guard)
                        }
                        None => quote!(#pat),
                    };
                    let mut stmts = Vec::new();
                    // A name pattern (`v`, `mut v`, `v @ ..`) receives the
                    // whole value: it is rebound from the scrutinee, so that
                    // a gradient flows from `v` into it.
                    let rebind = match (&arm.pat, &source) {
                        (Pat::Ident(pi), Some((id, ident))) if pi.by_ref.is_none() => {
                            let (name, mutability) = (&pi.ident, &pi.mutability);
                            let l = make_local(quote!(let #mutability #name = #ident;));
                            let _ = id;
                            Some(l)
                        }
                        _ => None,
                    };
                    match rebind {
                        Some(l) => self.local(&l, &mut stmts),
                        None if !pattern_names(&arm.pat).is_empty() => {
                            let reads = match &source {
                                Some((id, _)) => vec![*id],
                                None => self.value_reads(&m.expr),
                            };
                            self.refuse_if_active(
                                arm.pat.to_token_stream(),
                                reads,
                                arm.pat.span(),
                                "a value destructured by a `match` pattern".into(),
                                "match it against a name pattern (`v => ..`), bind the parts with `let`, or wrap the scrutinee in `stop_gradient(..)`".into(),
                                out,
                            );
                        }
                        None => {}
                    }
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
            Expr::Block(b) if b.label.is_some() => {
                // `'b: { ..; break 'b v; ..; tail }` is a loop that runs once:
                // `'b: loop { ..; { t = v; break 'b; } ..; t = tail; break 'b; }`.
                let label = b.label.as_ref().map(|l| l.name.clone()).expect("checked");
                let (tid, tident) = self.temp();
                let mut block = b.block.clone();
                BreakWithValue {
                    label: &label,
                    temp: &tident,
                }
                .visit_block_mut(&mut block);
                let tail = match block.stmts.last() {
                    Some(syn::Stmt::Expr(_, None)) if target.is_some() => block.stmts.pop(),
                    _ => None,
                };
                if target.is_some() {
                    out.push(Stmt::Verbatim {
                        tokens: quote!(let #tident;),
                    });
                }
                let stmts = &block.stmts;
                let finish = match tail {
                    Some(syn::Stmt::Expr(tail, None)) => quote!(#tident = #tail; break #label;),
                    _ => quote!(break #label;),
                };
                let looped: Expr = syn::parse_quote!(#label: loop { #(#stmts)* #finish });
                self.control(&looped, None, out);
                if let Some(t) = target {
                    let value: Expr = syn::parse_quote!(#tident);
                    self.value(&value, t, out);
                }
                let _ = tid;
            }
            Expr::Block(b) => {
                let block = self.block(&b.block, target);
                out.push(Stmt::Block(block));
            }
            Expr::While(w) if effectful(&w.cond) && !contains_let(&w.cond) => {
                // `'l: while c { body }` is `'l: loop { if !(c) { break; } body }`,
                // so that what the condition does is lowered like any statement.
                let (label, cond, body) = (&w.label, &w.cond, &w.body);
                let desugared: Expr =
                    syn::parse_quote!(#label loop { if !(#cond) { break; } #body });
                self.control(&desugared, target, out);
            }
            Expr::While(w) => {
                let mut checks = Vec::new();
                let id = self.open_loop(w.label.as_ref().map(|l| &l.name));
                self.scopes.push(Vec::new());
                self.check_condition(&w.cond, &mut checks);
                self.declare_condition(&w.cond);
                let body = self.block(&w.body, None);
                self.scopes.pop();
                self.close_loop();
                out.extend(checks);
                out.push(Stmt::Loop(Loop {
                    id,
                    checkpoint: None,
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
                    checkpoint: None,
                    kind: LoopKind::Infinite,
                    body,
                }));
            }
            Expr::ForLoop(f) => {
                if let Some(indexed) = self.sequence_loop(f) {
                    self.control(&indexed, target, out);
                    return;
                }
                let range = match peel(&f.expr) {
                    Expr::Range(r) if r.start.is_some() && r.end.is_some() => Some(r),
                    _ => None,
                };
                // Read before the loop's scope opens: the bounds' names are
                // the ones outside it.
                let bound_reads = range.and_then(|r| {
                    let (lo, hi) = (r.start.as_deref()?, r.end.as_deref()?);
                    (stable_syntax(lo) && stable_syntax(hi)).then(|| {
                        let mut reads = self.reads(lo);
                        reads.extend(self.reads(hi));
                        reads
                    })
                });
                self.check_effects(&f.expr, out);
                if range.is_none() {
                    let reads = self.value_reads(&f.expr);
                    self.refuse_if_active(
                        f.expr.to_token_stream(),
                        reads,
                        f.expr.span(),
                        format!("iteration over `{}`", f.expr.to_token_stream().to_string().replace(' ', "")),
                        "iterate with `for v in xs.iter()` (also `.copied()`, `.enumerate()`, `.zip(ys.iter())`, `.rev()`, `.windows(k)`, `.chunks(k)`) over a slice or vector named by a variable, a row `m[i]` or a sub-slice `xs[a..b]` whose index the loop does not change, or write an index loop `for i in 0..xs.len()`".into(),
                        out,
                    );
                }
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
                            bound_reads: bound_reads.clone(),
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
                let checkpoint = self.checkpoint(f, id, &kind, &body);
                out.push(Stmt::Loop(Loop {
                    id,
                    kind,
                    body,
                    checkpoint,
                }));
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

    /// Lowers `if` (and its `else if` chain) into `out`: what its condition
    /// computes first, then the branch statement.
    fn if_(&mut self, i: &syn::ExprIf, target: Option<Target>, out: &mut Vec<Stmt>) {
        let cond = self.condition(&i.cond, out);
        let site = self.site();
        self.scopes.push(Vec::new());
        self.declare_condition(&i.cond);
        let then = self.block(&i.then_branch, target);
        self.scopes.pop();
        let els = i.else_branch.as_ref().map(|(_, e)| match peel(e) {
            Expr::If(inner) => {
                let mut stmts = Vec::new();
                self.if_(inner, target, &mut stmts);
                Block { stmts }
            }
            Expr::Block(b) => self.block(&b.block, target),
            other => {
                let mut stmts = Vec::new();
                self.control(other, target, &mut stmts);
                Block { stmts }
            }
        });
        out.push(Stmt::If(If {
            site,
            cond,
            then,
            els,
            in_loop: self.in_loop(),
        }));
    }

    fn open_loop(&mut self, label: Option<&syn::Lifetime>) -> LoopId {
        let id = self.loops.len();
        let site = self.site();
        let lifetime = syn::Lifetime::new(&format!("'__ad_loop{id}"), Span::call_site());
        self.loops.push(LoopInfo {
            label: lifetime,
            parents: self.open_loops.iter().rev().map(|(id, _)| *id).collect(),
            site,
            first_binding: self.bindings.len(),
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
                // A closure passed on as a value: what it does with what it
                // captures is out of sight.
                Some(id) if self.closures.contains_key(&id) => {
                    let reads = self.closure_reads(id);
                    Ex::Unsupported {
                        tokens: e.to_token_stream(),
                        reads,
                        span,
                        what: "a closure used as a value".into(),
                        fix: "call it directly (`f(x)`: calls are inlined), or write a named `#[differentiable]` function".into(),
                    }
                }
                Some(id) => Ex::Var { id, ident: p.path.get_ident().cloned().expect("ident") },
                None => Ex::Const { tokens: e.to_token_stream() },
            },
            // `a && b`, `a || b`, `!a` whose operands assign or branch: as
            // `if`s, so that what they do is lowered like any statement
            // (and only when Rust would evaluate it).
            Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_) | syn::BinOp::Or(_)) && effectful(e) => {
                let (l, r) = (&b.left, &b.right);
                let as_if: Expr = match b.op {
                    syn::BinOp::And(_) => syn::parse_quote!(if (#l) { #r } else { false }),
                    _ => syn::parse_quote!(if (#l) { true } else { #r }),
                };
                self.ex(&as_if, pre)
            }
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Not(_)) && effectful(e) => {
                let inner = &u.expr;
                let as_if: Expr = syn::parse_quote!(if (#inner) { false } else { true });
                self.ex(&as_if, pre)
            }
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
                let last_segment = |ty: &syn::Type| match ty {
                    syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
                    syn::Type::Group(g) => match &*g.elem {
                        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                        _ => None,
                    },
                    _ => None,
                };
                let target = last_segment(&c.ty).unwrap_or_default();
                // `f64`, `std::primitive::f64`: the same value; integers and
                // bool: piecewise constant (no gradient); anything else (an
                // alias) the macro cannot see through.
                let f64_cast = target == "f64";
                let f32_cast = target == "f32";
                let integer_cast = PRIMITIVE_TYPES.contains(&target.as_str()) && !f64_cast && !f32_cast;
                if !f64_cast && !f32_cast && !integer_cast {
                    self.unsupported(e, &format!("a cast to `{}`", c.ty.to_token_stream().to_string().replace(' ', "")), "cast to `f64` by its name (the macro cannot see what a type alias stands for)")
                } else if f32_cast {
                    // The rules are written for f64: a gradient through f32
                    // would need rules of its own.
                    self.unsupported(e, "a cast to `f32`", "keep the computation in `f64` (the derivative rules are those of f64 and Tensor)")
                } else if f64_cast {
                    let inner = self.ex(&c.expr, pre);
                    let ty = &c.ty;
                    Ex::Op { rule: &rules::IDENTITY, args: vec![inner], syntax: Syntax::Cast { ty: quote!(#ty) }, span }
                } else {
                    self.inactive(e)
                }
            }
            Expr::MethodCall(m) => {
                if let Some(looped) = self.iterator_chain(m) {
                    return self.ex(&looped, pre);
                }
                // `m.try_inverse().unwrap()`: one op on the unwrapped inverse.
                if m.method == "unwrap" || m.method == "expect" {
                    if let Expr::MethodCall(inner) = peel(&m.receiver) {
                        if inner.method == "try_inverse" && inner.args.is_empty() {
                            let recv = self.ex(&inner.receiver, pre);
                            let (name, args) = (&m.method, &m.args);
                            return Ex::Op {
                                rule: &rules::TRY_INVERSE,
                                args: vec![recv],
                                syntax: Syntax::Unwrapped { name: inner.method.clone(), then: quote!(#name(#args)) },
                                span,
                            };
                        }
                    }
                }
                let name = m.method.to_string();
                if name == "detach" || rules::inactive_method(&name) {
                    return self.inactive(e);
                }
                match rules::method(&name, m.args.len() + 1) {
                    Some(rule) => {
                        let receiver = self.hoist_literal_if(&m.receiver, pre, true);
                        let mut args = vec![self.ex(&receiver, pre)];
                        for a in &m.args {
                            let a = self.hoist_literal(a, pre);
                            args.push(self.ex(&a, pre));
                        }
                        Ex::Op {
                            rule,
                            args,
                            syntax: Syntax::Method { name: m.method.clone(), turbofish: m.turbofish.to_token_stream() },
                            span,
                        }
                    }
                    // `self.other(..)` in a method: another differentiable method.
                    None if matches!(peel(&m.receiver), Expr::Path(p) if p.path.is_ident("__ad_self")) => {
                        let mut args = vec![self.ex(&m.receiver, pre)];
                        for a in &m.args {
                            args.push(self.ex(a, pre));
                        }
                        let func: syn::Path = syn::Path::from(m.method.clone());
                        Ex::Call { func, args, span, method: true }
                    }
                    // `self.layer.forward(x)`, `net.forward(x)`: a method of a
                    // field of a parameter, or of a parameter of a user type,
                    // called through the owning pullback generated beside a
                    // differentiable method (`mark_<m>_with_differentiable_..`,
                    // which is what rustc names if the method is not one).
                    None if !ITERATOR_STEPS.contains(&name.as_str())
                        && !rules::method_known_any_arity(&name)
                        && self.struct_receiver(&m.receiver) =>
                    {
                        let mut args = vec![self.ex(&m.receiver, pre)];
                        for a in &m.args {
                            args.push(self.ex(a, pre));
                        }
                        let func: syn::Path = syn::Path::from(m.method.clone());
                        Ex::Call { func, args, span, method: true }
                    }
                    // A step of an iterator chain the macro lowers, over a
                    // step it does not (`x.iter().take(2).map(..)`): name that.
                    None if ITERATOR_STEPS.contains(&name.as_str()) && unlowered_step(m).is_some() => {
                        let (step, span) = unlowered_step(m).expect("checked");
                        self.unsupported_at(
                            e,
                            span,
                            &format!("this iterator chain: `{step}` is not a step the macro turns into a loop"),
                            "write the loop with an index (`for i in 0..k { .. }`) or bind a sub-slice first (`let s = &x[..k];`); the steps it lowers are `iter`, `copied`, `cloned`, `enumerate`, `zip`, `rev`, `windows`, `chunks` over a slice or vector, or a range, then `map`, `filter` and `sum`, `product`, `fold` or `collect` (into a `Vec`)",
                        )
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
                if let Some(id) = path.get_ident().and_then(|i| self.resolve(&i.to_string())) {
                    if let Some(inlined) = self.inline_closure(id, c) {
                        return self.ex(&inlined, pre);
                    }
                    if let Some(name) = self.closures.get(&id).and_then(|cl| {
                        cl.names.iter().find(|(n, b)| self.resolve(n) != *b).map(|(n, _)| n.clone())
                    }) {
                        return self.unsupported(
                            e,
                            &format!("a call to this closure, which captures `{name}`, where `{name}` names another variable"),
                            &format!("rename the later `{name}` (the closure is inlined where it is called, and `{name}` must still mean what it meant where the closure was written), or write a named `#[differentiable]` function"),
                        );
                    }
                    if let Some(why) = path.get_ident().and_then(|i| self.opaque_closures.get(&i.to_string())) {
                        return self.unsupported(
                            e,
                            &format!("a call to this closure: it is not inlined, as {why}"),
                            "closures are inlined where they are called; otherwise write a named `#[differentiable]` function",
                        );
                    }
                    return self.unsupported(e, "a call to a closure or function value", "define the closure with `let f = |..| ..;` in this function (it is then inlined), or call a named `#[differentiable]` function");
                }
                // `f64::max(a, b)`, `<f64>::sin(x)`, `Tensor::matmul(&a, &b)`:
                // a method in path form; `f64::from(x)` is `x as f64`.
                let type_head: Option<String> = match &p.qself {
                    Some(q) => match &*q.ty {
                        syn::Type::Path(tp) if tp.qself.is_none() => tp.path.segments.last().map(|s| s.ident.to_string()),
                        _ => None,
                    },
                    None if path.segments.len() >= 2 => Some(path.segments[path.segments.len() - 2].ident.to_string()),
                    None => None,
                };
                if let Some(head) = &type_head {
                    let float = head == "f64" || head == "f32";
                    if float || head == "Tensor" {
                        let name = path.segments.last().expect("a path has a segment").ident.clone();
                        if let Some(rule) = rules::method(&last, c.args.len()) {
                            // `f64::powf(2.0, x)` is `2.0f64.powf(x)`: a bare
                            // literal receiver takes the type the path names.
                            let typed = |k: usize, a: &Expr| -> Expr {
                                match a {
                                    Expr::Lit(syn::ExprLit { lit: syn::Lit::Float(l), .. }) if k == 0 && float && l.suffix().is_empty() => {
                                        let lit = syn::LitFloat::new(&format!("{}{head}", l.base10_digits()), l.span());
                                        syn::parse_quote!(#lit)
                                    }
                                    Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(l), .. }) if k == 0 && float && l.suffix().is_empty() => {
                                        let lit = syn::LitFloat::new(&format!("{}.0{head}", l.base10_digits()), l.span());
                                        syn::parse_quote!(#lit)
                                    }
                                    a => a.clone(),
                                }
                            };
                            let args: Vec<Ex> = c.args.iter().enumerate().map(|(k, a)| self.ex(&typed(k, a), pre)).collect();
                            return Ex::Op { rule, args, syntax: Syntax::Method { name, turbofish: TokenStream::new() }, span };
                        }
                        if float && last == "from" && c.args.len() == 1 {
                            let inner = self.ex(&c.args[0], pre);
                            let ty = syn::Ident::new(head, name.span());
                            return Ex::Op { rule: &rules::IDENTITY, args: vec![inner], syntax: Syntax::Cast { ty: quote!(#ty) }, span };
                        }
                    }
                }
                // nalgebra's constructors: `Vector3::new(a, b, c)`, `Rotation2::new(θ)`, ..
                let nalgebra_head = match &p.qself {
                    None if path.segments.len() >= 2 => Some(path.segments[path.segments.len() - 2].ident.to_string()),
                    _ => None,
                };
                if let Some(head) = &nalgebra_head {
                    if let Some(rule) = rules::nalgebra_function(head, &last, c.args.len()) {
                        let args: Vec<Ex> = c.args.iter().map(|a| self.ex(a, pre)).collect();
                        let path_tokens = c.func.to_token_stream();
                        return Ex::Op { rule, args, syntax: Syntax::Call { path: path_tokens }, span };
                    }
                }
                // `Tensor::from(xs)`, `Vec::from(xs)` of an active sequence.
                if c.args.len() == 1 && last == "from" {
                    let rule = match nalgebra_head.as_deref() {
                        Some("Tensor") => Some(&rules::TENSOR_FROM),
                        Some("Vec") => Some(&rules::IDENTITY),
                        _ => None,
                    };
                    if let Some(rule) = rule {
                        let args = vec![self.ex(&c.args[0], pre)];
                        return Ex::Op { rule, args, syntax: Syntax::Call { path: c.func.to_token_stream() }, span };
                    }
                }
                // `Real::relu(x)`, `Float::sin(x)`: a differentiable method
                // called through its trait or type.
                if let Some(head) = &nalgebra_head {
                    if head.starts_with(|ch: char| ch.is_ascii_uppercase()) {
                        if let Some(rule) = rules::method(&last, c.args.len()) {
                            let args: Vec<Ex> = c.args.iter().map(|a| self.ex(a, pre)).collect();
                            return Ex::Op { rule, args, syntax: Syntax::Call { path: c.func.to_token_stream() }, span };
                        }
                    }
                }
                let primitive_head = type_head.as_deref().is_some_and(|h| PRIMITIVE_TYPES.contains(&h));
                let type_like_head = nalgebra_head.as_deref().is_some_and(|h| h.starts_with(|ch: char| ch.is_ascii_uppercase()));
                if last.chars().next().is_some_and(|ch| ch.is_uppercase()) || p.qself.is_some() || primitive_head || type_like_head {
                    return self.unsupported(e, &format!("the constructor or associated function `{}`", c.func.to_token_stream().to_string().replace(' ', "")), "build the value from inactive data, or call a differentiable method (`x.sin()`), or keep active values in plain variables");
                }
                if path.is_ident(&self.sig.name) {
                    return self.unsupported(
                        e,
                        "a call of the function to itself (recursion)",
                        "write the recursion as a loop (`while n > 0 { .. }`): the generated pullback would have to contain itself",
                    );
                }
                let args: Vec<Ex> = c.args.iter().map(|a| self.ex(a, pre)).collect();
                Ex::Call { func: path.clone(), args, span, method: false }
            }
            Expr::Index(i) => {
                let base = self.ex(&i.expr, pre);
                let index = self.hoist_literal(&i.index, pre);
                // An index is an integer (or a range of them): one that reads
                // a field of a differentiated struct (`l.w[l.n - 1]`, `n` a
                // `#[no_grad] usize`) carries no gradient.
                let index = if reads_field(&index) && !matches!(peel(&index), Expr::Path(_)) {
                    self.inactive(&index)
                } else {
                    self.ex(&index, pre)
                };
                Ex::Index { base: Box::new(base), index: Box::new(index), span }
            }
            Expr::Tuple(t) => Ex::Tuple { elems: t.elems.iter().map(|a| self.ex(a, pre)).collect() },
            Expr::If(_) | Expr::Match(_) | Expr::Block(_) => {
                let (id, ident) = self.temp();
                pre.push(Stmt::Verbatim { tokens: quote!(let #ident;) });
                self.value(e, Target::Bind(id), pre);
                Ex::Var { id, ident }
            }
            Expr::Unsafe(_) => self.unsupported(e, "an `unsafe` block", "the macro cannot see what it does to active values: move it into a function called with inactive values (or wrap them in `stop_gradient(..)`)"),
            Expr::Try(t) => {
                self.errors.spanned(
                    t.question_token,
                    "the `?` operator is not supported in a differentiable function: handle the error before calling it, or `match` on the result",
                );
                Ex::Const { tokens: e.to_token_stream() }
            }
            Expr::Closure(_) => self.unsupported(e, "a closure capturing an active value", "write the closure's body inline, or make it a named `#[differentiable]` function"),
            Expr::Macro(m) if m.mac.path.is_ident("vec") => match m.mac.parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated) {
                Ok(elems) => {
                    let elems = elems.iter().map(|x| self.ex(x, pre)).collect();
                    self.array(e, elems, true)
                }
                Err(_) => match m.mac.parse_body_with(|input: syn::parse::ParseStream| {
                    let value: Expr = input.parse()?;
                    input.parse::<syn::Token![;]>()?;
                    let _count: Expr = input.parse()?;
                    Ok(value)
                }) {
                    Ok(value) => self.repeat(e, &value),
                    Err(_) => self.unsupported(e, "this `vec!`", "write the elements out (`vec![a, b]`)"),
                },
            },
            Expr::Macro(m) => {
                let name = m.mac.path.to_token_stream().to_string();
                self.unsupported(e, &format!("the macro `{name}!`"), "build the value with ordinary expressions, or compute it from inactive values")
            }
            Expr::Array(a) => {
                let elems = a.elems.iter().map(|x| self.ex(x, pre)).collect();
                self.array(e, elems, false)
            }
            Expr::Repeat(r) => self.repeat(e, &r.expr),
            Expr::Struct(_) => self.unsupported(e, "a struct literal", "keep active values in plain variables and pass them to the function that needs them"),
            Expr::Field(f) => {
                let base = self.ex(&f.base, pre);
                let component = match &f.member {
                    syn::Member::Named(i) => rules::component(&i.to_string()),
                    syn::Member::Unnamed(_) => None,
                };
                let from_param = crate::analyse::field_root(&base).is_some_and(|id| self.bindings[id].param.is_some());
                // `p.coords` of a nalgebra point parameter: the point's own
                // vector, which is also its gradient's type (p̄ += ḡ).
                let point_param = matches!(&base, Ex::Var { id, .. } if self.bindings[*id].param.is_some_and(|k| {
                    let ty = match &self.sig.params[k].ty {
                        syn::Type::Reference(r) => &*r.elem,
                        t => t,
                    };
                    // nalgebra's `Point3<f64>`, `Point<f64, 3>` (a struct of
                    // the user's named `Point` has no `<f64..>`).
                    matches!(ty, syn::Type::Path(tp) if tp.path.segments.last().is_some_and(|s| {
                        s.ident.to_string().starts_with("Point")
                            && matches!(&s.arguments, syn::PathArguments::AngleBracketed(a)
                                if matches!(a.args.first(), Some(syn::GenericArgument::Type(syn::Type::Path(t))) if t.path.is_ident("f64")))
                    }))
                }));
                if point_param && matches!(&f.member, syn::Member::Named(i) if i == "coords") {
                    return Ex::Op {
                        rule: &rules::IDENTITY,
                        args: vec![base],
                        syntax: Syntax::Field { member: f.member.clone() },
                        span,
                    };
                }
                let tuple_part = match &f.member {
                    syn::Member::Unnamed(i) if !from_param => rules::tuple_field(i.index as usize),
                    _ => None,
                };
                match base {
                    Ex::Const { .. } | Ex::Inactive { .. } => self.inactive(e),
                    // `r.0` of a tuple computed in the body (a helper's
                    // results): its cotangent is the tuple with ḡ at part 0.
                    base if tuple_part.is_some() => Ex::Op {
                        rule: tuple_part.expect("checked"),
                        args: vec![base],
                        syntax: Syntax::Field { member: f.member.clone() },
                        span,
                    },
                    // `v.x` of a nalgebra vector computed in the body.
                    base if component.is_some() && !from_param => Ex::Op {
                        rule: component.expect("checked"),
                        args: vec![base],
                        syntax: Syntax::Field { member: f.member.clone() },
                        span,
                    },
                    base => Ex::Field { base: Box::new(base), member: f.member.clone(), span },
                }
            }
            Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) => self.unsupported(e, "a loop used as a value", "assign to a variable declared before the loop"),
            _ => self.unsupported(e, "this expression", "compute it from inactive values, or wrap the active value in `stop_gradient(..)`"),
        }
    }

    fn inactive(&self, e: &Expr) -> Ex {
        if contains_exit(e) {
            // Kept as written, a `return` would leave the generated function.
            self.errors.spanned(
                e,
                "a `return`, `break`, `continue` or `?` inside this expression is not supported in a differentiable function\nhelp: compute it in a statement of its own (`if .. { return .. }`)",
            );
        }
        if effectful(e) {
            return self.unsupported(
                e,
                "an assignment, block or exit inside this expression",
                "compute it in a statement of its own before this expression",
            );
        }
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
            // Sizes of active values (`xs.len()`) pass no gradient.
            reads: self.value_reads(e),
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
        Ex::Op { args, .. }
        | Ex::Call { args, .. }
        | Ex::Tuple { elems: args }
        | Ex::Array { elems: args, .. } => args.iter().for_each(|a| gradient_reads(a, out)),
        Ex::Index { base, .. } | Ex::Field { base, .. } => gradient_reads(base, out),
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
pub fn stable_syntax(e: &Expr) -> bool {
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

/// Macros that only read their arguments (formatting, assertions, exits).
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

/// Does evaluating the expression do more than compute a value: assign,
/// leave (`return`, `break`, `?`), loop, borrow mutably, call a method that
/// changes its receiver, or run an unknown macro? (`if`, `match` and blocks
/// that only compute values do not count; closures count only if they
/// assign.)
fn effectful(e: &Expr) -> bool {
    struct Effects {
        found: bool,
        in_closure: usize,
    }
    impl<'ast> Visit<'ast> for Effects {
        fn visit_expr(&mut self, e: &'ast Expr) {
            let outside = self.in_closure == 0;
            let effect = match e {
                Expr::Assign(_) => true,
                Expr::Binary(b) => is_compound(&b.op),
                Expr::Break(_) | Expr::Continue(_) | Expr::Return(_) | Expr::Try(_) => outside,
                Expr::Loop(_)
                | Expr::While(_)
                | Expr::ForLoop(_)
                | Expr::Unsafe(_)
                | Expr::Yield(_)
                | Expr::TryBlock(_)
                | Expr::Async(_)
                | Expr::Await(_) => outside,
                Expr::Reference(r) => r.mutability.is_some() && outside,
                Expr::MethodCall(m) => {
                    outside && MUTATING_METHODS.contains(&m.method.to_string().as_str())
                }
                Expr::Macro(m) => {
                    let name = m
                        .mac
                        .path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default();
                    outside && name != "vec" && !READ_ONLY_MACROS.contains(&name.as_str())
                }
                _ => false,
            };
            if effect {
                self.found = true;
                return;
            }
            if let Expr::Closure(c) = e {
                self.in_closure += 1;
                self.visit_expr(&c.body);
                self.in_closure -= 1;
                return;
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = Effects {
        found: false,
        in_closure: 0,
    };
    v.visit_expr(e);
    v.found
}

/// Methods of std's collections, strings and iterators that change their
/// receiver.
const MUTATING_METHODS: &[&str] = &[
    "push",
    "pop",
    "insert",
    "remove",
    "clear",
    "sort",
    "sort_by",
    "sort_by_key",
    "sort_unstable",
    "sort_unstable_by",
    "sort_unstable_by_key",
    "swap",
    "fill",
    "fill_with",
    "extend",
    "extend_from_slice",
    "truncate",
    "resize",
    "resize_with",
    "retain",
    "drain",
    "append",
    "set",
    "replace",
    "take",
    "iter_mut",
    "as_mut",
    "as_mut_slice",
    "get_mut",
    "split_at_mut",
    "copy_from_slice",
    "clone_from_slice",
    "clone_from",
    "reverse",
    "rotate_left",
    "rotate_right",
    "dedup",
    "dedup_by",
    "dedup_by_key",
    "push_str",
    "write",
    "write_str",
    "write_fmt",
    "next",
    "next_back",
    "nth",
    "swap_remove",
    "split_off",
    "last_mut",
    "first_mut",
];

fn contains_let(e: &Expr) -> bool {
    let mut lets = Vec::new();
    collect_lets(e, &mut lets);
    !lets.is_empty()
}

/// The `let` parts of a condition (`if let`, `while let`, let chains).
fn collect_lets<'e>(e: &'e Expr, out: &mut Vec<&'e syn::ExprLet>) {
    match peel(e) {
        Expr::Let(l) => out.push(l),
        Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_)) => {
            collect_lets(&b.left, out);
            collect_lets(&b.right, out);
        }
        _ => {}
    }
}

/// Primitive types: a path call `f64::f(..)` is one of their associated functions.
const PRIMITIVE_TYPES: &[&str] = &[
    "f64", "f32", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
    "usize", "bool", "char", "str",
];

/// A `let` statement built by the lowering (always well-formed).
fn make_local(tokens: TokenStream) -> syn::Local {
    match syn::parse2::<syn::Stmt>(tokens) {
        Ok(syn::Stmt::Local(l)) => l,
        _ => unreachable!("the lowering builds `let` statements from parsed parts"),
    }
}

/// A `return` that would leave the enclosing closure (not a nested one).
fn contains_return(e: &Expr) -> bool {
    struct Returns(bool);
    impl<'ast> Visit<'ast> for Returns {
        fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
            self.0 = true;
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

/// Methods that start an iterator the lowering can turn into a loop.
/// The steps of an iterator chain the macro lowers after its source.
const ITERATOR_STEPS: &[&str] = &["map", "filter", "sum", "product", "fold"];

/// The first step of `m`'s receiver chain (from the source) that is neither
/// a source nor a step the macro lowers, with its span.
fn unlowered_step(m: &syn::ExprMethodCall) -> Option<(String, proc_macro2::Span)> {
    let mut chain = Vec::new();
    let mut e = peel(&m.receiver);
    while let Expr::MethodCall(inner) = e {
        chain.push(inner);
        e = peel(&inner.receiver);
    }
    chain.iter().rev().find_map(|c| {
        let n = c.method.to_string();
        (!ITERATOR_SOURCES.contains(&n.as_str()) && !ITERATOR_STEPS.contains(&n.as_str()))
            .then(|| (n, c.method.span()))
    })
}

const ITERATOR_SOURCES: &[&str] = &[
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
];

/// `break 'label value` → `{ temp = value; break 'label; }` (for a labeled
/// block lowered to a loop that runs once).
struct BreakWithValue<'a> {
    label: &'a syn::Lifetime,
    temp: &'a syn::Ident,
}

impl syn::visit_mut::VisitMut for BreakWithValue<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Break(b) = e {
            if b.label.as_ref() == Some(self.label) {
                if let Some(value) = b.expr.take() {
                    let (label, temp) = (self.label, self.temp);
                    *e = syn::parse_quote!({ #temp = #value; break #label; });
                    return;
                }
            }
        }
        if let Expr::Closure(_) = e {
            return;
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// An exit that would leave code kept as written (not inside a closure).
fn contains_exit(e: &Expr) -> bool {
    struct Exits(bool);
    impl<'ast> Visit<'ast> for Exits {
        fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
            self.0 = true;
        }
        fn visit_expr_try(&mut self, _: &'ast syn::ExprTry) {
            self.0 = true;
        }
        fn visit_expr_break(&mut self, _: &'ast syn::ExprBreak) {
            self.0 = true;
        }
        fn visit_expr_continue(&mut self, _: &'ast syn::ExprContinue) {
            self.0 = true;
        }
        // A loop inside contains its own breaks.
        fn visit_expr_loop(&mut self, _: &'ast syn::ExprLoop) {}
        fn visit_expr_while(&mut self, _: &'ast syn::ExprWhile) {}
        fn visit_expr_for_loop(&mut self, _: &'ast syn::ExprForLoop) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut x = Exits(false);
    x.visit_expr(e);
    x.0
}

/// Bindings a block reads or writes (through the IR), and the names its
/// statements kept as written mention (conditions, ranges, declarations).
fn collect_block_reads(block: &Block, ids: &mut Vec<BindId>, names: &mut Vec<String>) {
    fn ex(e: &Ex, ids: &mut Vec<BindId>) {
        match e {
            Ex::Var { id, .. } => ids.push(*id),
            Ex::Const { .. } => {}
            Ex::Inactive { reads, .. } | Ex::Unsupported { reads, .. } => ids.extend(reads),
            Ex::Op { args, .. }
            | Ex::Call { args, .. }
            | Ex::Tuple { elems: args }
            | Ex::Array { elems: args, .. } => args.iter().for_each(|a| ex(a, ids)),
            Ex::Index { base, index, .. } => {
                ex(base, ids);
                ex(index, ids);
            }
            Ex::Field { base, .. } => ex(base, ids),
            Ex::Ref { inner, .. } => ex(inner, ids),
        }
    }
    fn tokens(t: &TokenStream, names: &mut Vec<String>) {
        for tt in t.clone() {
            match tt {
                TokenTree::Ident(i) => names.push(i.to_string()),
                TokenTree::Group(g) => tokens(&g.stream(), names),
                _ => {}
            }
        }
    }
    for stmt in &block.stmts {
        match stmt {
            Stmt::Assign(a) => {
                ex(&a.value, ids);
                for t in a.targets.iter().flatten() {
                    if let Target::Bind(b) = t {
                        ids.push(*b);
                    }
                }
                match &a.kind {
                    AssignKind::Element { base, index, .. } => {
                        ids.push(*base);
                        ex(index, ids);
                    }
                    AssignKind::Opaque { tokens: t } | AssignKind::Let { pattern: t, .. } => {
                        tokens(t, names)
                    }
                    _ => {}
                }
            }
            Stmt::Verbatim { tokens: t } => tokens(t, names),
            Stmt::If(i) => {
                tokens(&i.cond, names);
                collect_block_reads(&i.then, ids, names);
                if let Some(e) = &i.els {
                    collect_block_reads(e, ids, names);
                }
            }
            Stmt::Match(m) => {
                tokens(&m.scrutinee, names);
                for arm in &m.arms {
                    tokens(&arm.head, names);
                    collect_block_reads(&arm.body, ids, names);
                }
            }
            Stmt::Loop(l) => {
                match &l.kind {
                    LoopKind::While { cond } => tokens(cond, names),
                    LoopKind::Range { lo, hi, .. } => {
                        tokens(lo, names);
                        tokens(hi, names);
                    }
                    LoopKind::Iter { iterable, .. } => tokens(iterable, names),
                    LoopKind::Infinite => {}
                }
                collect_block_reads(&l.body, ids, names);
            }
            Stmt::Block(b) => collect_block_reads(b, ids, names),
            Stmt::Exit(_) => {}
        }
    }
}

impl crate::syntax::Scope for Lowerer<'_> {
    fn is_variable(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }
    fn is_borrowed_param(&self, name: &str) -> bool {
        self.resolve(name)
            .and_then(|id| self.bindings[id].param)
            .is_some_and(|p| matches!(&self.sig.params[p].ty, syn::Type::Reference(r) if r.mutability.is_none()))
    }
}

/// Does `e` read a field (`p.n`, `self.len`)?
fn reads_field(e: &Expr) -> bool {
    struct Fields(bool);
    impl<'ast> Visit<'ast> for Fields {
        fn visit_expr_field(&mut self, _: &'ast syn::ExprField) {
            self.0 = true;
        }
    }
    let mut v = Fields(false);
    v.visit_expr(e);
    v.0
}
