//! Stage 3: activity analysis and the checks that become compile errors.
//!
//! A binding is *active* when it depends on a differentiated input through
//! differentiable operations and reaches the output. Only active values get
//! an adjoint; conditions, indices and counters never do.

use crate::errors::Errors;
use crate::ir::*;
use crate::signature::Signature;
use quote::ToTokens;

/// Visits every assignment site of a block, loops and branches included.
pub fn for_each_assign<'b>(block: &'b Block, f: &mut dyn FnMut(&'b Assign)) {
    for stmt in &block.stmts {
        match stmt {
            Stmt::Assign(a) => f(a),
            Stmt::If(i) => {
                for_each_assign(&i.then, f);
                if let Some(e) = &i.els {
                    for_each_assign(e, f);
                }
            }
            Stmt::Match(m) => m.arms.iter().for_each(|arm| for_each_assign(&arm.body, f)),
            Stmt::Loop(l) => for_each_assign(&l.body, f),
            Stmt::Block(b) => for_each_assign(b, f),
            Stmt::Verbatim { .. } | Stmt::Exit(_) => {}
        }
    }
}

fn for_each_assign_mut(block: &mut Block, f: &mut dyn FnMut(&mut Assign)) {
    for stmt in &mut block.stmts {
        match stmt {
            Stmt::Assign(a) => f(a),
            Stmt::If(i) => {
                for_each_assign_mut(&mut i.then, f);
                if let Some(e) = &mut i.els {
                    for_each_assign_mut(e, f);
                }
            }
            Stmt::Match(m) => m
                .arms
                .iter_mut()
                .for_each(|arm| for_each_assign_mut(&mut arm.body, f)),
            Stmt::Loop(l) => for_each_assign_mut(&mut l.body, f),
            Stmt::Block(b) => for_each_assign_mut(b, f),
            Stmt::Verbatim { .. } | Stmt::Exit(_) => {}
        }
    }
}

/// Does the expression carry a gradient, given which bindings do?
pub fn is_active(e: &Ex, active: &dyn Fn(BindId) -> bool) -> bool {
    match e {
        Ex::Var { id, .. } => active(*id),
        Ex::Const { .. } | Ex::Inactive { .. } | Ex::Unsupported { .. } => false,
        Ex::Op { rule, args, .. } => args
            .iter()
            .zip(rule.operands)
            .any(|(a, op)| op.is_some() && is_active(a, active)),
        Ex::Call { args, .. } => args.iter().any(|a| is_active(a, active)),
        Ex::Index { base, .. } | Ex::Field { base, .. } => is_active(base, active),
        Ex::Ref { inner, .. } => is_active(inner, active),
        Ex::Tuple { elems } | Ex::Array { elems, .. } => elems.iter().any(|a| is_active(a, active)),
    }
}

/// The bindings a gradient would flow into from this expression.
fn gradient_leaves(e: &Ex, out: &mut Vec<BindId>) {
    match e {
        Ex::Var { id, .. } => out.push(*id),
        Ex::Const { .. } | Ex::Inactive { .. } | Ex::Unsupported { .. } => {}
        Ex::Op { rule, args, .. } => {
            for (a, op) in args.iter().zip(rule.operands) {
                if op.is_some() {
                    gradient_leaves(a, out);
                }
            }
        }
        Ex::Call { args, .. } | Ex::Tuple { elems: args } | Ex::Array { elems: args, .. } => {
            args.iter().for_each(|a| gradient_leaves(a, out))
        }
        Ex::Index { base, .. } | Ex::Field { base, .. } => gradient_leaves(base, out),
        Ex::Ref { inner, .. } => gradient_leaves(inner, out),
    }
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
        for_each_assign(&body.block, &mut |a| {
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
        for_each_assign(&body.block, &mut |a| {
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
    for_each_assign_mut(&mut body.block, &mut |a| {
        a.active = !matches!(a.kind, AssignKind::Opaque { .. })
            && a.targets.iter().flatten().any(|t| match t {
                Target::Out => true,
                Target::Bind(id) => bindings[*id].active,
            });
    });
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
    let known = |id: &BindId| stable(&bindings[*id]) || bindings[*id].recipe.is_some();
    match e {
        Ex::Const { .. } => true,
        Ex::Var { id, .. } => known(id),
        Ex::Inactive { stable, reads, .. } => *stable && reads.iter().all(known),
        Ex::Op { rule, args, .. } => {
            !rule.expensive && args.iter().all(|a| recomputable(a, bindings))
        }
        Ex::Index { base, index, .. } => {
            recomputable(base, bindings) && recomputable(index, bindings)
        }
        Ex::Field { base, .. } => recomputable(base, bindings),
        Ex::Ref { inner, .. } => recomputable(inner, bindings),
        Ex::Call { .. } | Ex::Tuple { .. } | Ex::Array { .. } | Ex::Unsupported { .. } => false,
    }
}

/// `let t = x[i + 1] - x[i] * x[i];` inside a loop over `i`, with `x` a
/// parameter: cheaper to evaluate again in the reverse than to save on every
/// step (a push per step also keeps the loop's other values out of registers).
fn find_recipes(sig: &Signature, body: &mut Body) {
    let mut found: Vec<(BindId, Ex)> = Vec::new();
    for_each_assign(&body.block, &mut |a| {
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
    // Names the user wrote; the lowering's own variables are described.
    let name_of = |id: BindId| {
        let name = body.bindings[id].ident.to_string();
        match name.strip_prefix("__ad_") {
            Some("self") => "self".to_string(),
            Some(_) => "a value computed here".to_string(),
            None => name,
        }
    };
    let param_roots: Vec<bool> = body.bindings.iter().map(|b| b.param.is_some()).collect();
    fn walk(
        e: &Ex,
        depends: &[bool],
        name_of: &dyn Fn(BindId) -> String,
        errors: &Errors,
        param_roots: &[bool],
    ) {
        match e {
            Ex::Unsupported {
                reads,
                span,
                what,
                fix,
                ..
            } => {
                if let Some(id) = reads.iter().find(|id| depends[**id]) {
                    errors.at(
                        *span,
                        format!(
                            "cannot differentiate {what}: it uses {}, which carries a gradient\nhelp: {fix}",
                            {
                                let n = name_of(*id);
                                if n.contains(' ') { n } else { format!("`{n}`") }
                            }
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
                    if op.is_none() && is_active(a, &|id| depends[id]) {
                        let name = match syntax {
                            Syntax::Method { name, .. } => name.to_string(),
                            _ => rule.rule.to_string(),
                        };
                        errors.at(
                            *span,
                            format!(
                                "argument {k} of `{name}` cannot carry a gradient (it is a count, a dimension or a shape)\nhelp: wrap it in `stop_gradient(..)` if its value is all you need"
                            ),
                        );
                    }
                    walk(a, depends, name_of, errors, param_roots);
                }
            }
            Ex::Field { base, span, .. } => {
                // The gradient goes into the field of a parameter's gradient,
                // whose type the generated code names.
                if is_active(base, &|id| depends[id])
                    && field_root(base).is_none_or(|id| !param_roots[id])
                {
                    errors.at(
                        *span,
                        "cannot differentiate a field of this value: only fields of parameters (`p.w`, `p.layer.w`) carry gradients\nhelp: read the field from the parameter, or destructure the value into names (`let (a, b) = pair;`)",
                    );
                }
                walk(base, depends, name_of, errors, param_roots);
            }
            Ex::Index { base, index, span } => {
                if is_active(index, &|id| depends[id]) {
                    errors.at(*span, "an index cannot carry a gradient\nhelp: compute the index from inactive values");
                }
                walk(base, depends, name_of, errors, param_roots);
                walk(index, depends, name_of, errors, param_roots);
            }
            Ex::Ref { inner, mutable } => {
                if *mutable && is_active(inner, &|id| depends[id]) {
                    errors.spanned(
                        inner_tokens(inner),
                        "cannot differentiate through `&mut` of an active value: the callee could change it behind the macro's back\nhelp: pass it by value or by `&`, and return the new value",
                    );
                }
                walk(inner, depends, name_of, errors, param_roots);
            }
            Ex::Call { args, .. } | Ex::Tuple { elems: args } | Ex::Array { elems: args, .. } => {
                args.iter()
                    .for_each(|a| walk(a, depends, name_of, errors, param_roots))
            }
            Ex::Var { .. } | Ex::Const { .. } | Ex::Inactive { .. } => {}
        }
    }
    for_each_assign(&body.block, &mut |a| {
        walk(&a.value, depends, &name_of, errors, &param_roots);
        if let AssignKind::Element { index, .. } = &a.kind {
            if is_active(index, &|id| depends[id]) {
                errors.at(
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
            if is_active(&a.value, &|id| depends[id]) {
                errors.spanned(
                    pattern,
                    "cannot give a gradient to a value destructured by this pattern\nhelp: bind it to a name, or to a flat tuple of names `(a, b)`",
                );
            }
        }
    });
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
pub fn field_root(e: &Ex) -> Option<BindId> {
    match e {
        Ex::Var { id, .. } => Some(*id),
        Ex::Field { base, .. } => field_root(base),
        Ex::Ref { inner, .. } => field_root(inner),
        _ => None,
    }
}
