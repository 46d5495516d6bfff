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
        if !a.in_loop || b.reassigned || b.param.is_some() {
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
