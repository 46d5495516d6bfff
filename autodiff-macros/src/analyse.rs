//! Stage 3: activity analysis and the checks that become compile errors.
//!
//! A binding is *active* when it depends on a differentiated input through
//! differentiable operations and reaches the output. Only active values get
//! an adjoint; conditions, indices and counters never do.

use crate::errors::Errors;
use crate::ir::*;
use crate::signature::Signature;
use quote::ToTokens;

/// Does the expression carry a gradient, given which bindings do?
pub fn is_active(e: &Ex, active: &dyn Fn(BindId) -> bool) -> bool {
    let mut leaves = Vec::new();
    gradient_leaves(e, &mut leaves);
    leaves.into_iter().any(active)
}

pub fn analyse(sig: &Signature, body: &mut Body, errors: &Errors) {
    let n = body.bindings.len();
    // Forward: depends on a differentiated input.
    let mut depends = vec![false; n];
    for (id, b) in body.bindings.iter().enumerate() {
        if let Some(p) = b.param {
            depends[id] = sig.params[p].active;
        }
    }
    loop {
        let mut changed = false;
        for_each_assign(&body.block, |a: &Assign| {
            if matches!(a.kind, AssignKind::Opaque { .. })
                || !is_active(&a.value, &|id| depends[id])
            {
                return;
            }
            for t in a.targets.iter().flatten() {
                if let Target::Bind(id) = t {
                    if !depends[*id] {
                        depends[*id] = true;
                        changed = true;
                    }
                }
            }
        });
        if !changed {
            break;
        }
    }
    // Backward: reaches the output.
    let mut reaches = vec![false; n];
    loop {
        let mut changed = false;
        for_each_assign(&body.block, |a: &Assign| {
            if matches!(a.kind, AssignKind::Opaque { .. }) {
                return;
            }
            let useful = a.targets.iter().flatten().any(|t| match t {
                Target::Out => true,
                Target::Bind(id) => reaches[*id],
            });
            if !useful {
                return;
            }
            let mut leaves = Vec::new();
            gradient_leaves(&a.value, &mut leaves);
            for id in leaves {
                if !reaches[id] {
                    reaches[id] = true;
                    changed = true;
                }
            }
        });
        if !changed {
            break;
        }
    }
    for (id, b) in body.bindings.iter_mut().enumerate() {
        b.active = depends[id] && reaches[id];
    }
    body.zero_gradients = body
        .bindings
        .iter()
        .filter_map(|b| b.param.filter(|p| sig.params[*p].active && !b.active))
        .collect();
    let bindings = &body.bindings;
    struct SiteActivity<'b>(&'b [Binding]);
    impl VisitMut for SiteActivity<'_> {
        fn visit_assign_mut(&mut self, a: &mut Assign) {
            a.active = !matches!(a.kind, AssignKind::Opaque { .. })
                && a.targets.iter().flatten().any(|t| match t {
                    Target::Out => true,
                    Target::Bind(id) => self.0[*id].active,
                });
        }
    }
    SiteActivity(bindings).visit_block_mut(&mut body.block);
    find_recipes(sig, body);
    find_facts(body);
    check(body, &depends, errors);
}

/// A binding the reverse has without saving it: an unreassigned parameter or
/// `for` counter.
pub fn stable(b: &Binding) -> bool {
    (b.param.is_some() || b.counter_of.is_some()) && !b.reassigned && b.keepable
}

/// Pure, cheap, and built of what the reverse has anyway.
fn recomputable(e: &Ex, bindings: &[Binding]) -> bool {
    struct Recomputable<'b> {
        bindings: &'b [Binding],
        ok: bool,
    }
    impl<'e> Visit<'e> for Recomputable<'_> {
        fn visit_ex(&mut self, e: &'e Ex) {
            let known =
                |id: &BindId| stable(&self.bindings[*id]) || self.bindings[*id].recipe.is_some();
            match e {
                Ex::Var { id, .. } => self.ok &= known(id),
                Ex::Inactive { stable, reads, .. } => self.ok &= *stable && reads.iter().all(known),
                Ex::Op { rule, .. } if rule.expensive => self.ok = false,
                Ex::Call { .. } | Ex::Tuple { .. } | Ex::Array { .. } | Ex::Unsupported { .. } => {
                    self.ok = false
                }
                _ => walk_ex(self, e),
            }
        }
    }
    let mut v = Recomputable { bindings, ok: true };
    v.visit_ex(e);
    v.ok
}

/// `let t = x[i + 1] - x[i] * x[i];` inside a loop over `i`, with `x` a
/// parameter: cheaper to evaluate again in the reverse than to save on every
/// step (a push per step also keeps the loop's other values out of registers).
fn find_recipes(sig: &Signature, body: &mut Body) {
    let mut found: Vec<(BindId, Ex)> = Vec::new();
    for_each_assign(&body.block, |a: &Assign| {
        let (AssignKind::Let { simple: true, .. }, [Some(Target::Bind(id))]) =
            (&a.kind, a.targets.as_slice())
        else {
            return;
        };
        let b = &body.bindings[*id];
        if b.reassigned || b.param.is_some() {
            return;
        }
        // Outside loops only a gradient-free value of scalar arithmetic
        // (`let icf_sz = d * (d + 1) / 2;`): saved once it would cost little,
        // but an index built of it would be saved at every step.
        if !a.in_loop && (b.active || !scalar_arithmetic(&a.value)) {
            return;
        }
        found.push((*id, a.value.clone()));
    });
    // Decided in program order, so that a recipe may use an earlier one.
    for (id, value) in found {
        // A borrow evaluated again must borrow what outlives the reverse's
        // block: a borrowed parameter, not the copy of one passed by value.
        let borrows_owned = matches!(value, Ex::Ref { .. }) && {
            let mut leaves = Vec::new();
            gradient_leaves(&value, &mut leaves);
            leaves.iter().any(|id| {
                body.bindings[*id]
                    .param
                    .is_some_and(|p| !matches!(sig.params[p].ty, syn::Type::Reference(_)))
            })
        };
        if !borrows_owned && recomputable(&value, &body.bindings) {
            body.bindings[id].recipe = Some(value);
        }
    }
}

/// Literals, names, casts and operators: a value computed outside loops that
/// is cheap to evaluate again wherever the reverse needs it.
fn scalar_arithmetic(e: &Ex) -> bool {
    match e {
        // Not `vec![..]` or an array: evaluated again, it would allocate.
        Ex::Const { tokens } => {
            syn::parse2::<syn::Expr>(tokens.clone()).is_ok_and(|e| crate::lower::stable_syntax(&e))
        }
        Ex::Var { .. } => true,
        Ex::Inactive { stable, .. } => *stable,
        Ex::Op { args, syntax, .. } => {
            matches!(
                syntax,
                Syntax::Binary(_) | Syntax::Neg | Syntax::Cast { .. }
            ) && args.iter().all(scalar_arithmetic)
        }
        _ => false,
    }
}

/// What the reverse can have again without a tape, found by analysis and
/// read by code generation.
#[derive(Default)]
pub struct Facts {
    /// Counted `for` loops over a range whose bounds the reverse can
    /// evaluate again (they read only parameters, recipes and counters of
    /// enclosing loops) and that no exit leaves early: their trip count and
    /// last counter are computed again from the bounds, not recorded.
    pub recomputed_trips: std::collections::BTreeSet<LoopId>,
    /// Integer variables updated only by `k += e` / `k -= e` (`e` recomputable):
    /// the reverse walks them back (`k -= e` where the forward did `k += e`)
    /// from their value at the end of the block that declares them, kept
    /// once, instead of keeping them at every read.
    pub walk_back: std::collections::BTreeMap<BindId, WalkBack>,
    /// Local vectors declared at the function's top level and written by no
    /// top-level statement after the one at this index: a read of one of
    /// their elements after that statement is a read of the final vector,
    /// which the forward keeps once (and its length with it).
    pub frozen_after: std::collections::BTreeMap<BindId, usize>,
    /// The top-level statement (index into `body.block.stmts`) each
    /// assignment site is in.
    pub site_top: std::collections::HashMap<usize, usize>,
    /// `Vec<f64>`s declared at the function's top level (`vec![0.0; n]`)
    /// and afterwards only written element by element: their length (their
    /// shape, `LenMeta`) is the one they were declared with, kept once
    /// after the declaration (the value: its statement's index), not on a
    /// tape at every read.
    pub fixed_len: std::collections::BTreeMap<BindId, usize>,
    /// (vector, site) → loop: the site (nested at least two loops deep in
    /// that loop) reads elements of a vector that nothing in the loop
    /// writes: the forward keeps a copy of the vector at each entry of the
    /// loop, and the reverse reads the elements from it, instead of keeping
    /// each element read at every step (proposal 6: form (a)'s
    /// `xcentered[i]` in the loop over `j`).
    pub loop_frozen: std::collections::BTreeMap<(BindId, usize), LoopId>,
}

/// A counter the reverse walks back.
#[derive(Clone)]
pub struct WalkBack {
    /// The site of its `let`: the end of the block holding it is where its
    /// value is kept.
    pub decl_site: usize,
    /// That `let` is inside a loop (the kept values form a stack).
    pub in_loop: bool,
    /// Its updates: site → (`+=`: true, `-=`: false; the step).
    pub updates: std::collections::BTreeMap<usize, (bool, Ex)>,
}

impl Facts {
    /// A read of binding `id` at `site` can be taken from the final value of
    /// the vector (nothing writes it afterwards).
    pub fn frozen_at(&self, id: BindId, site: usize) -> bool {
        match (self.frozen_after.get(&id), self.site_top.get(&site)) {
            (Some(after), Some(top)) => top > after,
            _ => false,
        }
    }
}

/// Does a token stream mention this name (anywhere, conservatively)?
fn mentions(tokens: &proc_macro2::TokenStream, name: &syn::Ident) -> bool {
    tokens.clone().into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == *name,
        proc_macro2::TokenTree::Group(g) => mentions(&g.stream(), name),
        _ => false,
    })
}

/// Might this statement (not its nested statements) change binding `id`
/// (named `name`) other than by assigning it? Code kept as written, and
/// conditions, scrutinees and iterables, are taken to change what they name.
fn touches_opaquely(stmt: &Stmt, id: BindId, name: &syn::Ident) -> bool {
    match stmt {
        Stmt::Verbatim { tokens } => mentions(tokens, name),
        Stmt::Assign(a) => match &a.kind {
            AssignKind::Opaque { tokens } => {
                let mut reads = Vec::new();
                crate::ir::reads(&a.value, &mut reads);
                reads.contains(&id) || mentions(tokens, name)
            }
            _ => false,
        },
        Stmt::If(i) => mentions(&i.cond, name),
        Stmt::Match(m) => {
            mentions(&m.scrutinee, name) || m.arms.iter().any(|a| mentions(&a.head, name))
        }
        Stmt::Loop(l) => header_mentions(l, name),
        Stmt::Block(_) | Stmt::Exit(_) => false,
    }
}

/// A loop's condition, iterable or bounds mention the name.
fn header_mentions(l: &Loop, name: &syn::Ident) -> bool {
    match &l.kind {
        LoopKind::While { cond } => mentions(cond, name),
        LoopKind::Iter { iterable, .. } => mentions(iterable, name),
        LoopKind::Range { lo, hi, .. } => mentions(lo, name) || mentions(hi, name),
        LoopKind::Infinite => false,
    }
}

/// Writes binding `id`: assigns it, writes one of its elements, or may
/// change it behind the IR's back.
fn writes(stmt: &Stmt, id: BindId, name: &syn::Ident) -> bool {
    if touches_opaquely(stmt, id, name) {
        return true;
    }
    match stmt {
        Stmt::Assign(a) => {
            a.targets.iter().flatten().any(|t| *t == Target::Bind(id))
                || matches!(&a.kind, AssignKind::Element { base, .. } if *base == id)
        }
        _ => false,
    }
}

fn has_checkpoint(block: &Block) -> bool {
    let mut found = false;
    for_each_stmt(block, |s| {
        if let Stmt::Loop(l) = s {
            found |= l.checkpoint.is_some();
        }
    });
    found
}

/// Is this value, kept as the declaration of a counter, an integer?
fn integer_init(value: &Ex, annotation: Option<&syn::Type>) -> bool {
    const INTS: &[&str] = &[
        "usize", "isize", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128",
    ];
    let int_type = |ty: &syn::Type| matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.get_ident().is_some_and(|i| INTS.iter().any(|n| i == n)));
    if let Some(ty) = annotation {
        return int_type(ty);
    }
    let tokens = match value {
        Ex::Const { tokens } | Ex::Inactive { tokens, .. } => tokens,
        _ => return false,
    };
    fn int_expr(e: &syn::Expr, int_type: &dyn Fn(&syn::Type) -> bool) -> bool {
        match e {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(_),
                ..
            }) => true,
            syn::Expr::Cast(c) => int_type(&c.ty),
            syn::Expr::Paren(p) => int_expr(&p.expr, int_type),
            syn::Expr::Group(g) => int_expr(&g.expr, int_type),
            _ => false,
        }
    }
    syn::parse2::<syn::Expr>(tokens.clone()).is_ok_and(|e| int_expr(&e, &int_type))
}

/// Visits every statement under `block`, nested ones after their parent.
fn for_each_stmt<'b>(block: &'b Block, f: impl FnMut(&'b Stmt)) {
    struct Stmts<F>(F);
    impl<'b, F: FnMut(&'b Stmt)> Visit<'b> for Stmts<F> {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            (self.0)(stmt);
            walk_stmt(self, stmt)
        }
    }
    Stmts(f).visit_block(block)
}

/// Every assignment site in a statement (itself or nested).
fn visit_assigns_of<'b>(stmt: &'b Stmt, f: impl FnMut(&'b Assign)) {
    struct Sites<F>(F);
    impl<'b, F: FnMut(&'b Assign)> Visit<'b> for Sites<F> {
        fn visit_assign(&mut self, a: &'b Assign) {
            (self.0)(a)
        }
    }
    Sites(f).visit_stmt(stmt)
}

/// Every block of a body (the body's own first).
fn for_each_block<'b>(block: &'b Block, f: impl FnMut(&'b Block)) {
    struct Blocks<F>(F);
    impl<'b, F: FnMut(&'b Block)> Visit<'b> for Blocks<F> {
        fn visit_block(&mut self, block: &'b Block) {
            (self.0)(block);
            walk_block(self, block)
        }
    }
    Blocks(f).visit_block(block)
}

/// Finds the [`Facts`] of a body (after activity and recipes).
fn find_facts(body: &mut Body) {
    let mut facts = Facts::default();
    for (top, stmt) in body.block.stmts.iter().enumerate() {
        visit_assigns_of(stmt, |a| {
            facts.site_top.insert(a.site, top);
        });
    }
    // Trip counts.
    let known = |id: &BindId| stable(&body.bindings[*id]) || body.bindings[*id].recipe.is_some();
    for_each_stmt(&body.block, |s| {
        let Stmt::Loop(l) = s else { return };
        let LoopKind::Range {
            bound_reads: Some(reads),
            ..
        } = &l.kind
        else {
            return;
        };
        let runs_to_end = body.exits.iter().all(|x| {
            !x.ends_iteration_of.contains(&l.id)
                || (x.kind == ExitKind::Continue && x.target == Some(l.id))
        });
        if l.checkpoint.is_none() && runs_to_end && reads.iter().all(known) {
            facts.recomputed_trips.insert(l.id);
        }
    });
    if !has_checkpoint(&body.block) {
        find_loop_frozen(body, &mut facts);
        find_walk_backs(body, &mut facts);
        if !body.has_return {
            find_frozen(body, &mut facts);
            find_fixed_len(body, &mut facts);
        }
    }
    body.facts = facts;
}

/// The bindings declared by a plain `let` of a value that is not a borrow
/// (`let r = &x;` would be kept as the borrow it is, which the pullback
/// cannot own): the vectors whose copies the forward may keep.
fn owned_lets(body: &Body) -> std::collections::HashSet<BindId> {
    let mut out = std::collections::HashSet::new();
    for_each_assign(&body.block, |a| {
        if let (AssignKind::Let { simple: true, .. }, [Some(Target::Bind(id))]) =
            (&a.kind, a.targets.as_slice())
        {
            // Not a borrow, nor a copy of a binding that is one.
            let borrowed = match &a.value {
                Ex::Ref { .. } => true,
                Ex::Var { id: from, .. } => {
                    body.bindings[*from].param.is_none() && !out.contains(from)
                }
                _ => false,
            };
            if !borrowed {
                out.insert(*id);
            }
        }
    });
    out
}

fn find_loop_frozen(body: &Body, facts: &mut Facts) {
    let owned = owned_lets(body);
    // Each loop statement, and each active site with its enclosing loops
    // (innermost first).
    struct Walk<'b> {
        loops: std::collections::HashMap<LoopId, &'b Loop>,
        open: Vec<LoopId>,
        sites: Vec<(&'b Assign, Vec<LoopId>)>,
    }
    impl<'b> Visit<'b> for Walk<'b> {
        fn visit_loop(&mut self, l: &'b Loop) {
            self.loops.insert(l.id, l);
            self.open.push(l.id);
            walk_loop(self, l);
            self.open.pop();
        }
        fn visit_assign(&mut self, a: &'b Assign) {
            if a.active && self.open.len() >= 2 {
                self.sites
                    .push((a, self.open.iter().rev().copied().collect()));
            }
        }
    }
    let mut w = Walk {
        loops: std::collections::HashMap::new(),
        open: Vec::new(),
        sites: Vec::new(),
    };
    w.visit_block(&body.block);
    // The vectors whose elements a site reads: bases of element reads.
    fn bases(e: &Ex, out: &mut Vec<BindId>) {
        struct Bases<'o>(&'o mut Vec<BindId>);
        impl<'b> Visit<'b> for Bases<'_> {
            fn visit_ex(&mut self, e: &'b Ex) {
                if let Ex::Index { base, .. } = e {
                    let mut b: &Ex = base;
                    while let Ex::Ref { inner, .. } = b {
                        b = inner;
                    }
                    if let Ex::Var { id, .. } = b {
                        self.0.push(*id);
                    }
                }
                walk_ex(self, e)
            }
        }
        Bases(out).visit_ex(e)
    }
    let mut untouched: std::collections::HashMap<(BindId, LoopId), bool> =
        std::collections::HashMap::new();
    for (a, chain) in &w.sites {
        let mut vs = Vec::new();
        bases(&a.value, &mut vs);
        for v in vs {
            let b = &body.bindings[v];
            if b.param.is_some() || !owned.contains(&v) || facts.frozen_at(v, a.site) {
                continue;
            }
            let name = &b.ident;
            // The outermost enclosing loop (not the innermost) that neither
            // declares nor writes v.
            let mut chosen = None;
            for l in chain.iter().skip(1) {
                let ok = *untouched.entry((v, *l)).or_insert_with(|| {
                    let lp = w.loops[l];
                    let mut ok = !header_mentions(lp, name);
                    for_each_stmt(&lp.body, |s| {
                        ok &= !writes(s, v, name);
                        if let Stmt::Assign(d) = s {
                            ok &= !d.targets.iter().flatten().any(|t| *t == Target::Bind(v))
                                || !matches!(d.kind, AssignKind::Let { .. });
                        }
                    });
                    ok
                });
                if ok {
                    chosen = Some(*l);
                } else {
                    break;
                }
            }
            if let Some(l) = chosen {
                facts.loop_frozen.insert((v, a.site), l);
            }
        }
    }
}

fn find_walk_backs(body: &Body, facts: &mut Facts) {
    // Bindings active sites read.
    let mut read_by_active = std::collections::HashSet::new();
    for_each_assign(&body.block, |a| {
        if a.active {
            let mut reads = Vec::new();
            crate::ir::reads(&a.value, &mut reads);
            if let AssignKind::Element { index, .. } = &a.kind {
                crate::ir::reads(index, &mut reads);
            }
            read_by_active.extend(reads);
        }
    });
    for_each_block(&body.block, |block| {
        // Loops nested in this block: exits to them do not skip its end.
        let mut inner_loops = Vec::new();
        let mut leaves_block = false;
        for_each_stmt(block, |s| {
            if let Stmt::Loop(l) = s {
                inner_loops.push(l.id);
            }
        });
        for_each_stmt(block, |s| {
            if let Stmt::Exit(e) = s {
                let info = &body.exits[e.id as usize - 1];
                if !info.target.is_some_and(|t| inner_loops.contains(&t)) {
                    leaves_block = true;
                }
            }
        });
        if leaves_block {
            return;
        }
        for stmt in &block.stmts {
            let Stmt::Assign(decl) = stmt else { continue };
            let (AssignKind::Let { simple: true, .. }, [Some(Target::Bind(id))]) =
                (&decl.kind, decl.targets.as_slice())
            else {
                continue;
            };
            let id = *id;
            let b = &body.bindings[id];
            if b.param.is_some()
                || b.counter_of.is_some()
                || b.active
                || !b.reassigned
                || !read_by_active.contains(&id)
                || !integer_init(&decl.value, b.annotation.as_ref())
            {
                continue;
            }
            let name = &b.ident;
            let mut updates = std::collections::BTreeMap::new();
            let mut ok = true;
            for_each_stmt(block, |s| {
                if !ok {
                    return;
                }
                if touches_opaquely(s, id, name) {
                    ok = false;
                    return;
                }
                let Stmt::Assign(a) = s else { return };
                if a.site == decl.site {
                    return;
                }
                let targets_it = a.targets.iter().flatten().any(|t| *t == Target::Bind(id))
                    || matches!(&a.kind, AssignKind::Element { base, .. } if *base == id);
                if !targets_it {
                    return;
                }
                match (&a.kind, &a.value) {
                    (AssignKind::Compound { op }, Ex::Op { args, .. }) if args.len() == 2 => {
                        let plus = match op {
                            syn::BinOp::AddAssign(_) => true,
                            syn::BinOp::SubAssign(_) => false,
                            _ => {
                                ok = false;
                                return;
                            }
                        };
                        let step = &args[1];
                        let mut reads = Vec::new();
                        crate::ir::reads(step, &mut reads);
                        if reads.contains(&id) || !recomputable(step, &body.bindings) {
                            ok = false;
                            return;
                        }
                        updates.insert(a.site, (plus, step.clone()));
                    }
                    _ => ok = false,
                }
            });
            if ok && !updates.is_empty() {
                facts.walk_back.insert(
                    id,
                    WalkBack {
                        decl_site: decl.site,
                        in_loop: decl.in_loop,
                        updates,
                    },
                );
            }
        }
    });
}

/// `vec![0.0; n]` or `vec![1.0, 2.0]`: surely a `Vec<f64>`.
fn float_vec(value: &Ex) -> bool {
    let tokens = match value {
        Ex::Const { tokens } | Ex::Inactive { tokens, .. } => tokens,
        _ => return false,
    };
    let float = |e: &syn::Expr| {
        matches!(
            e,
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(_),
                ..
            })
        )
    };
    let Ok(syn::Expr::Macro(m)) = syn::parse2::<syn::Expr>(tokens.clone()) else {
        return false;
    };
    if !m.mac.path.is_ident("vec") {
        return false;
    }
    let repeat = m.mac.parse_body_with(|input: syn::parse::ParseStream| {
        let value: syn::Expr = input.parse()?;
        input.parse::<syn::Token![;]>()?;
        let _len: syn::Expr = input.parse()?;
        Ok(value)
    });
    if let Ok(value) = repeat {
        return float(&value);
    }
    m.mac
        .parse_body_with(syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
        .is_ok_and(|elems| !elems.is_empty() && elems.iter().all(float))
}

fn find_fixed_len(body: &Body, facts: &mut Facts) {
    for (top, stmt) in body.block.stmts.iter().enumerate() {
        let Stmt::Assign(decl) = stmt else { continue };
        let (AssignKind::Let { simple: true, .. }, [Some(Target::Bind(id))]) =
            (&decl.kind, decl.targets.as_slice())
        else {
            continue;
        };
        let id = *id;
        let b = &body.bindings[id];
        if b.param.is_some() || !float_vec(&decl.value) {
            continue;
        }
        let name = &b.ident;
        let mut ok = true;
        for_each_stmt(&body.block, |s| {
            if touches_opaquely(s, id, name) {
                ok = false;
            }
            if let Stmt::Assign(a) = s {
                if a.site != decl.site
                    && !matches!(a.kind, AssignKind::Element { .. })
                    && a.targets.iter().flatten().any(|t| *t == Target::Bind(id))
                {
                    ok = false;
                }
                if let AssignKind::Element { base, push, .. } = &a.kind {
                    ok &= !(*base == id && *push);
                }
            }
        });
        if ok {
            facts.fixed_len.insert(id, top);
        }
    }
}

fn find_frozen(body: &Body, facts: &mut Facts) {
    let owned = owned_lets(body);
    for stmt in &body.block.stmts {
        let Stmt::Assign(decl) = stmt else { continue };
        let (AssignKind::Let { simple: true, .. }, [Some(Target::Bind(id))]) =
            (&decl.kind, decl.targets.as_slice())
        else {
            continue;
        };
        let id = *id;
        let b = &body.bindings[id];
        if b.param.is_some() || b.counter_of.is_some() || !owned.contains(&id) {
            continue;
        }
        let name = &b.ident;
        let mut last = None;
        for (top, s) in body.block.stmts.iter().enumerate() {
            let mut touched = false;
            if let Stmt::Assign(a) = s {
                touched |= writes(s, id, name) || a.site == decl.site;
            }
            match s {
                Stmt::Assign(_) => {}
                _ => {
                    touched |= writes(s, id, name);
                    let inner: &Block = match s {
                        Stmt::Loop(l) => &l.body,
                        Stmt::Block(b) => b,
                        _ => &Block::default(),
                    };
                    for_each_stmt(inner, |t| touched |= writes(t, id, name));
                    if let Stmt::If(i) = s {
                        for_each_stmt(&i.then, |t| touched |= writes(t, id, name));
                        if let Some(e) = &i.els {
                            for_each_stmt(e, |t| touched |= writes(t, id, name));
                        }
                    }
                    if let Stmt::Match(m) = s {
                        for arm in &m.arms {
                            for_each_stmt(&arm.body, |t| touched |= writes(t, id, name));
                        }
                    }
                }
            }
            if touched {
                last = Some(top);
            }
        }
        if let Some(last) = last {
            facts.frozen_after.insert(id, last);
        }
    }
}

/// Reports every construct that an active value reaches but that cannot be
/// differentiated, on the smallest span we have.
fn check(body: &Body, depends: &[bool], errors: &Errors) {
    struct Check<'c> {
        body: &'c Body,
        depends: &'c [bool],
        errors: &'c Errors,
    }
    impl Check<'_> {
        fn active(&self, e: &Ex) -> bool {
            is_active(e, &|id| self.depends[id])
        }
        // Names the user wrote; the lowering's own variables are described.
        fn name_of(&self, id: BindId) -> String {
            let name = self.body.bindings[id].ident.to_string();
            match name.strip_prefix("__ad_") {
                Some("self") => "self".to_string(),
                Some(_) => "a value computed here".to_string(),
                None => name,
            }
        }
    }
    impl<'e> Visit<'e> for Check<'_> {
        fn visit_assign(&mut self, a: &'e Assign) {
            self.visit_ex(&a.value);
            if let AssignKind::Element { index, .. } = &a.kind {
                if self.active(index) {
                    self.errors.at(
                        proc_macro2::Span::call_site(),
                        "an index cannot carry a gradient\nhelp: compute the index from inactive values",
                    );
                }
            }
            if let AssignKind::Let {
                pattern,
                simple: false,
            } = &a.kind
            {
                if self.active(&a.value) {
                    self.errors.spanned(
                        pattern,
                        "cannot give a gradient to a value destructured by this pattern\nhelp: bind it to a name, or to a flat tuple of names `(a, b)`",
                    );
                }
            }
        }

        fn visit_ex(&mut self, e: &'e Ex) {
            match e {
                Ex::Unsupported {
                    reads,
                    span,
                    what,
                    fix,
                    ..
                } => {
                    if let Some(id) = reads.iter().find(|id| self.depends[**id]) {
                        let n = self.name_of(*id);
                        let n = if n.contains(' ') { n } else { format!("`{n}`") };
                        self.errors.at(
                            *span,
                            format!(
                                "cannot differentiate {what}: it uses {n}, which carries a gradient\nhelp: {fix}"
                            ),
                        );
                    }
                }
                Ex::Op {
                    rule,
                    args,
                    span,
                    syntax,
                } => {
                    for (k, (a, op)) in args.iter().zip(rule.operands).enumerate() {
                        if op.is_none() && self.active(a) {
                            let name = match syntax {
                                Syntax::Method { name, .. } => name.to_string(),
                                _ => rule.rule.to_string(),
                            };
                            self.errors.at(
                                *span,
                                format!(
                                    "argument {k} of `{name}` cannot carry a gradient (it is a count, a dimension or a shape)\nhelp: wrap it in `stop_gradient(..)` if its value is all you need"
                                ),
                            );
                        }
                        self.visit_ex(a);
                    }
                }
                Ex::Field { base, span, .. } => {
                    // The gradient goes into the field of a parameter's gradient,
                    // whose type the generated code names.
                    if self.active(base)
                        && field_root(base).is_none_or(|id| self.body.bindings[id].param.is_none())
                    {
                        self.errors.at(
                            *span,
                            "cannot differentiate a field of this value: only fields of parameters (`p.w`, `p.layer.w`) carry gradients\nhelp: read the field from the parameter, or destructure the value into names (`let (a, b) = pair;`)",
                        );
                    }
                    walk_ex(self, e);
                }
                Ex::Index { index, span, .. } => {
                    if self.active(index) {
                        self.errors.at(*span, "an index cannot carry a gradient\nhelp: compute the index from inactive values");
                    }
                    walk_ex(self, e);
                }
                Ex::Ref { inner, mutable } => {
                    if *mutable && self.active(inner) {
                        self.errors.spanned(
                            inner_tokens(inner),
                            "cannot differentiate through `&mut` of an active value: the callee could change it behind the macro's back\nhelp: pass it by value or by `&`, and return the new value",
                        );
                    }
                    walk_ex(self, e);
                }
                _ => walk_ex(self, e),
            }
        }
    }
    Check {
        body,
        depends,
        errors,
    }
    .visit_block(&body.block);
}

fn inner_tokens(e: &Ex) -> proc_macro2::TokenStream {
    match e {
        Ex::Var { ident, .. } => ident.to_token_stream(),
        Ex::Const { tokens } | Ex::Inactive { tokens, .. } | Ex::Unsupported { tokens, .. } => {
            tokens.clone()
        }
        _ => proc_macro2::TokenStream::new(),
    }
}

/// The binding a chain of field reads starts from (`p` in `p.layer.w`).
pub fn field_root(mut e: &Ex) -> Option<BindId> {
    loop {
        match e {
            Ex::Var { id, .. } => return Some(*id),
            Ex::Field { base: inner, .. } | Ex::Ref { inner, .. } => e = inner,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Errors;

    /// Lowers and analyses `func` (differentiated in all its `f64`-like
    /// parameters, or in those `wrt` names).
    fn analysed(wrt: &str, func: proc_macro2::TokenStream) -> Body {
        let args: crate::signature::Args = syn::parse_str(wrt).expect("arguments parse");
        let mut item: syn::ItemFn = syn::parse2(func).expect("a function");
        let errors = Errors::default();
        let sig = crate::signature::parse(&args, &mut item, &errors).expect("a signature");
        let mut body = crate::lower::lower(&sig, &item.block, &errors);
        analyse(&sig, &mut body, &errors);
        assert!(errors.is_empty(), "no errors");
        body
    }

    fn id(body: &Body, name: &str) -> BindId {
        body.bindings
            .iter()
            .position(|b| b.ident == name)
            .expect("a binding of that name")
    }

    #[test]
    fn the_kernel_walks_its_counter_back_and_recomputes_its_trip_counts() {
        let body = analysed(
            "wrt(l, mu)",
            quote::quote!(
                fn k(d: usize, n: usize, l: &[f64], x: &[f64], mu: &[f64]) -> f64 {
                    let mut s = 0.0;
                    for i in 0..n {
                        let mut k = 0;
                        for j in 0..d {
                            let mut qx = x[i * d + j] - mu[j];
                            for c in 0..j {
                                qx += l[k] * (x[i * d + c] - mu[c]);
                                k += 1;
                            }
                            s += qx * qx;
                        }
                    }
                    s
                }
            ),
        );
        let k = id(&body, "k");
        let walk = body.facts.walk_back.get(&k).expect("k is walked back");
        assert!(walk.in_loop);
        assert_eq!(walk.updates.len(), 1);
        assert!(walk.updates.values().all(|(plus, _)| *plus));
        // The accumulators are not counters.
        assert!(!body.facts.walk_back.contains_key(&id(&body, "qx")));
        assert!(!body.facts.walk_back.contains_key(&id(&body, "s")));
        assert_eq!(
            body.facts
                .recomputed_trips
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn counters_that_change_otherwise_or_blocks_left_early_are_kept() {
        let body = analysed(
            "wrt(l)",
            quote::quote!(
                fn k(n: usize, l: &[f64]) -> f64 {
                    let mut s = 0.0;
                    let mut a = 0;
                    let mut b = 0;
                    let mut c = 0.0;
                    for i in 0..n {
                        s += l[a] * l[b] + c;
                        a += i;
                        b = b + 1;
                        c += 1.0;
                    }
                    let mut e = 0;
                    for i in 0..n {
                        s += l[e];
                        e += 1;
                        if s > 3.0 {
                            break;
                        }
                    }
                    s
                }
            ),
        );
        assert!(body.facts.walk_back.contains_key(&id(&body, "a")));
        // `b = b + 1` is not a walked-back update; `c` is not an integer;
        // `e`'s block (the function) is left early by nothing, but its loop is
        // left by `break`: its counter still walks back, its trip count is
        // recorded.
        assert!(!body.facts.walk_back.contains_key(&id(&body, "b")));
        assert!(!body.facts.walk_back.contains_key(&id(&body, "c")));
        assert!(body.facts.walk_back.contains_key(&id(&body, "e")));
        assert_eq!(
            body.facts
                .recomputed_trips
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![0]
        );
    }

    #[test]
    fn a_counter_in_a_block_left_by_continue_is_kept() {
        let body = analysed(
            "wrt(l)",
            quote::quote!(
                fn k(n: usize, l: &[f64]) -> f64 {
                    let mut s = 0.0;
                    for i in 0..n {
                        let mut k = 0;
                        for j in 0..i {
                            s += l[k];
                            k += 1;
                        }
                        if s > 1.0 {
                            continue;
                        }
                        s += 1.0;
                    }
                    s
                }
            ),
        );
        assert!(body.facts.walk_back.is_empty());
        // `continue` keeps the outer loop's trip count: it is recomputed.
        assert!(body.facts.recomputed_trips.contains(&0));
    }

    #[test]
    fn lets_outside_loops_are_recipes_and_vectors_freeze_after_their_last_write() {
        let body = analysed(
            "wrt(icf)",
            quote::quote!(
                fn g(d: usize, k: usize, icf: &[f64]) -> f64 {
                    let icf_sz = d * (d + 1) / 2;
                    let mut qdiags = vec![0.0; d * k];
                    for ik in 0..k {
                        for j in 0..d {
                            qdiags[ik * d + j] = icf[ik * icf_sz + j].exp();
                        }
                    }
                    let mut s = 0.0;
                    for ik in 0..k {
                        for j in 0..d {
                            s += qdiags[ik * d + j] * icf[ik * icf_sz + j];
                        }
                    }
                    for il in d..icf_sz {
                        s += icf[il];
                    }
                    s
                }
            ),
        );
        assert!(body.bindings[id(&body, "icf_sz")].recipe.is_some());
        let q = id(&body, "qdiags");
        assert_eq!(body.facts.frozen_after.get(&q), Some(&2));
        // The last loop's bounds read the recipe: recomputed too.
        assert_eq!(body.facts.recomputed_trips.len(), 5);
        // The accumulator is written everywhere.
        let s = id(&body, "s");
        assert_eq!(body.facts.frozen_after.get(&s), Some(&5));
        let mut sites = Vec::new();
        for_each_assign(&body.block, |a| {
            if matches!(a.kind, AssignKind::Compound { .. }) && a.active {
                sites.push(a.site);
            }
        });
        assert!(body.facts.frozen_at(q, sites[0]));
        // Written element by element only: its length is the declared one.
        assert_eq!(body.facts.fixed_len.get(&q), Some(&1));
    }
}
