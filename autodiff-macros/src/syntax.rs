//! Syntax helpers shared by the two pipelines that read the user's body:
//! `lower.rs` (syn → IR, reverse mode) and `forward.rs` (syn → syn, forward
//! mode). Each looks at syn trees only, never at either pipeline's state.

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;
use syn::{Expr, Pat};

/// Strips parentheses and invisible groups.
pub(crate) fn peel(mut e: &Expr) -> &Expr {
    loop {
        match e {
            Expr::Paren(p) => e = &p.expr,
            Expr::Group(g) => e = &g.expr,
            _ => return e,
        }
    }
}

/// Names a pattern binds.
pub(crate) fn pattern_names(p: &Pat) -> Vec<String> {
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut n = Names(Vec::new());
    n.visit_pat(p);
    n.0
}

/// `let pat = value;` as simple lets where the pattern and a tuple value
/// match part for part, and `&p` meets `&e` (read by value).
pub(crate) fn destructure(pat: &Pat, value: &Expr, out: &mut Vec<(Pat, Expr)>) {
    match (pat, peel(value)) {
        (Pat::Paren(p), _) => destructure(&p.pat, value, out),
        (Pat::Tuple(t), Expr::Tuple(v))
            if t.elems.len() == v.elems.len()
                && !t.elems.iter().any(|p| matches!(p, Pat::Rest(_))) =>
        {
            for (p, e) in t.elems.iter().zip(&v.elems) {
                destructure(p, e, out);
            }
        }
        (Pat::Reference(r), Expr::Reference(e))
            if r.mutability.is_none() && e.mutability.is_none() =>
        {
            destructure(&r.pat, &e.expr, out)
        }
        (Pat::Wild(_), _) => {}
        _ => out.push((pat.clone(), value.clone())),
    }
}

/// Every single-segment name an expression mentions.
pub(crate) fn mentioned_names(e: &Expr) -> Vec<String> {
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if let Some(i) = p.path.get_ident() {
                self.0.push(i.to_string());
            }
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            token_idents(m.tokens.clone(), &mut self.0);
        }
    }
    let mut n = Names(Vec::new());
    n.visit_expr(e);
    n.0
}

pub(crate) fn token_idents(t: TokenStream, out: &mut Vec<String>) {
    for tt in t {
        match tt {
            TokenTree::Ident(i) => out.push(i.to_string()),
            TokenTree::Group(g) => token_idents(g.stream(), out),
            _ => {}
        }
    }
}

/// What one step of a loop over a sequence yields, as an expression of the
/// index.
enum Item {
    /// `&xs[i]` (`xs.iter()`, `&xs`).
    Ref,
    /// `xs[i]` (`.copied()`, `.cloned()`).
    Value,
    /// `&xs[i..i + k]` (`xs.windows(k)`).
    Window(Expr),
    /// `&xs[i * k..min((i + 1) * k, len)]` (`xs.chunks(k)`).
    Chunk(Expr),
    /// `&xs[i * k..(i + 1) * k]` (`xs.chunks_exact(k)`).
    ChunkExact(Expr),
}

/// What a pipeline knows of the names in scope, for [`sequence_loop`].
pub(crate) trait Scope {
    /// `name` is a variable of the body (a parameter or a local) here.
    fn is_variable(&self, name: &str) -> bool;
    /// `name` is a parameter the caller lends (`xs: &[f64]`), not shadowed.
    fn is_borrowed_param(&self, name: &str) -> bool;
}

/// A sequence a `for` may run over: a variable or a field of one
/// (`model.weights`), or a sub-slice of one (`x[1..]`, its range returned
/// beside it), and how each step reads it.
fn sequence_source(scope: &dyn Scope, e: &Expr) -> Option<(Expr, Item, Option<syn::ExprRange>)> {
    fn place(scope: &dyn Scope, e: &Expr, sub: &mut Option<syn::ExprRange>) -> Option<Expr> {
        match peel(e) {
            Expr::Path(p) => {
                let ident = p.path.get_ident()?;
                scope
                    .is_variable(&ident.to_string())
                    .then(|| peel(e).clone())
            }
            Expr::Field(f) => {
                place(scope, &f.base, &mut None)?;
                Some(peel(e).clone())
            }
            // A sub-slice `x[1..]`, `x[a..b]`: the steps run over its range
            // of `x`'s indices.
            Expr::Index(ix) if sub.is_none() => match peel(&ix.index) {
                Expr::Range(r) => {
                    let base = place(scope, &ix.expr, &mut None)?;
                    *sub = Some(r.clone());
                    Some(base)
                }
                // A row of a matrix kept as rows, `m[i]` (read `m[i][k]`),
                // by a literal or a name (the caller checks that the loop
                // does not assign it).
                Expr::Lit(_) | Expr::Path(_) => {
                    place(scope, &ix.expr, &mut None)?;
                    Some(peel(e).clone())
                }
                _ => None,
            },
            _ => None,
        }
    }
    let mut sub = None;
    let (seq, item) = match peel(e) {
        Expr::MethodCall(m)
            if (m.method == "copied" || m.method == "cloned") && m.args.is_empty() =>
        {
            match peel(&m.receiver) {
                Expr::MethodCall(inner) if inner.method == "iter" && inner.args.is_empty() => {
                    (place(scope, &inner.receiver, &mut sub)?, Item::Value)
                }
                _ => return None,
            }
        }
        Expr::MethodCall(m) if m.method == "iter" && m.args.is_empty() => {
            (place(scope, &m.receiver, &mut sub)?, Item::Ref)
        }
        Expr::MethodCall(m) if m.method == "windows" && m.args.len() == 1 => (
            place(scope, &m.receiver, &mut sub)?,
            Item::Window(m.args[0].clone()),
        ),
        Expr::MethodCall(m) if m.method == "chunks" && m.args.len() == 1 => (
            place(scope, &m.receiver, &mut None)?,
            Item::Chunk(m.args[0].clone()),
        ),
        Expr::MethodCall(m) if m.method == "chunks_exact" && m.args.len() == 1 => (
            place(scope, &m.receiver, &mut None)?,
            Item::ChunkExact(m.args[0].clone()),
        ),
        Expr::Reference(r) if r.mutability.is_none() => {
            (place(scope, &r.expr, &mut sub)?, Item::Ref)
        }
        // A parameter borrowed by the caller (`xs: &[f64]`) iterates by reference.
        Expr::Path(p) => {
            let ident = p.path.get_ident()?;
            if !scope.is_borrowed_param(&ident.to_string()) {
                return None;
            }
            (peel(e).clone(), Item::Ref)
        }
        _ => return None,
    };
    Some((seq, item, sub))
}

/// `for PAT in xs.iter()` (also `&xs`, `.copied()`, `.cloned()`,
/// `.enumerate()`, `.zip(ys.iter())`, `.rev()`, `.windows(k)`, `.chunks(k)`,
/// `.chunks_exact(k)`) as a loop over
/// indices `i` (named by the caller): the range `0..len` (or its `.rev()`)
/// and the lets each step begins with, `PAT_k = &xs[i]..` (the pattern split
/// where the element is a tuple). `None` if the loop is not of that form.
pub(crate) fn sequence_loop(
    scope: &dyn Scope,
    f: &syn::ExprForLoop,
    i: &syn::Ident,
) -> Option<(Expr, Vec<(Pat, Expr)>)> {
    let mut e = peel(&f.expr);
    let mut enumerate = false;
    let mut rev = false;
    // `xs.iter().enumerate().rev()`: the true indices, last first.
    if let Expr::MethodCall(m) = e
        && m.method == "rev"
        && m.args.is_empty()
        && let Expr::MethodCall(inner) = peel(&m.receiver)
        && inner.method == "enumerate"
        && inner.args.is_empty()
    {
        rev = true;
        e = peel(&m.receiver);
    }
    if let Expr::MethodCall(m) = e
        && m.method == "enumerate"
        && m.args.is_empty()
    {
        enumerate = true;
        e = peel(&m.receiver);
    }
    if let Expr::MethodCall(m) = e
        && m.method == "rev"
        && m.args.is_empty()
        && !enumerate
        && !rev
    {
        rev = true;
        e = peel(&m.receiver);
    }
    // A row `m[i]` whose index the loop's body assigns would be read at
    // another index than the one Rust evaluated once: not lowered.
    if assigns_any(&f.body, &row_indices(e)) {
        return None;
    }
    let sources: Vec<(Expr, Item, Option<syn::ExprRange>)> = match e {
        Expr::MethodCall(m) if m.method == "zip" && m.args.len() == 1 && !rev => {
            vec![
                sequence_source(scope, &m.receiver)?,
                sequence_source(scope, &m.args[0])?,
            ]
        }
        other => vec![sequence_source(scope, other)?],
    };
    // A sub-slice (`for v in x[1..].iter()`, `x[a..b].windows(k)`): the
    // loop runs over its indices into `x`, the range evaluated once, as
    // Rust evaluates the sub-slice once. Alone, without `enumerate`.
    if let [(seq, item, Some(r))] = sources.as_slice() {
        if enumerate || matches!(item, Item::Chunk(_) | Item::ChunkExact(_)) {
            return None;
        }
        let start: Expr = match &r.start {
            Some(a) => syn::parse_quote!((#a)),
            None => syn::parse_quote!(0),
        };
        let end: Expr = match (&r.end, &r.limits) {
            (Some(b), syn::RangeLimits::HalfOpen(_)) => syn::parse_quote!((#b)),
            (Some(b), syn::RangeLimits::Closed(_)) => syn::parse_quote!((#b) + 1),
            (None, _) => syn::parse_quote!(#seq.len()),
        };
        // (The function as written checks the sub-slice's bounds; here an
        // index past the end panics as well.)
        let checked = &start;
        let (element, last): (Expr, Expr) = match item {
            Item::Window(k) => (
                syn::parse_quote!(&#seq[#i..#i + #k]),
                syn::parse_quote!((#end + 1).saturating_sub(#k)),
            ),
            Item::Value => (syn::parse_quote!(#seq[#i]), end.clone()),
            _ => (syn::parse_quote!(&#seq[#i]), end.clone()),
        };
        let pat = match &*f.pat {
            Pat::Paren(p) => &*p.pat,
            p => p,
        };
        let mut lets: Vec<(Pat, Expr)> = Vec::new();
        destructure(pat, &element, &mut lets);
        let range: Expr = if rev {
            syn::parse_quote!((#checked..#last).rev())
        } else {
            syn::parse_quote!(#checked..#last)
        };
        return Some((range, lets));
    }
    if sources.iter().any(|(_, _, sub)| sub.is_some()) {
        return None;
    }
    let sources: Vec<(Expr, Item)> = sources.into_iter().map(|(s, i, _)| (s, i)).collect();
    let element = |(seq, item): &(Expr, Item)| -> Expr {
        match item {
            Item::Window(k) => syn::parse_quote!(&#seq[#i..#i + #k]),
            Item::Chunk(k) => {
                syn::parse_quote!(&#seq[#i * (#k)..::core::cmp::min((#i + 1) * (#k), #seq.len())])
            }
            Item::ChunkExact(k) => syn::parse_quote!(&#seq[#i * (#k)..(#i + 1) * (#k)]),
            Item::Value => syn::parse_quote!(#seq[#i]),
            Item::Ref => syn::parse_quote!(&#seq[#i]),
        }
    };
    let elements: Vec<Expr> = sources.iter().map(element).collect();
    let mut yielded: Expr = match elements.as_slice() {
        [one] => one.clone(),
        [a, b] => syn::parse_quote!((#a, #b)),
        _ => return None,
    };
    if enumerate {
        yielded = syn::parse_quote!((#i, #yielded));
    }
    let pat = match &*f.pat {
        Pat::Paren(p) => &*p.pat,
        p => p,
    };
    let mut lets: Vec<(Pat, Expr)> = Vec::new();
    destructure(pat, &yielded, &mut lets);
    let lens: Vec<Expr> = sources
        .iter()
        .map(|(s, item)| match item {
            Item::Window(k) => syn::parse_quote!((#s.len() + 1).saturating_sub(#k)),
            Item::Chunk(k) => syn::parse_quote!(#s.len().div_ceil(#k)),
            Item::ChunkExact(k) => syn::parse_quote!(#s.len() / (#k)),
            _ => syn::parse_quote!(#s.len()),
        })
        .collect();
    let len: Expr = match lens.as_slice() {
        [one] => one.clone(),
        [a, b] => syn::parse_quote!(::core::cmp::min(#a, #b)),
        _ => return None,
    };
    let range: Expr = if rev {
        syn::parse_quote!((0..#len).rev())
    } else {
        syn::parse_quote!(0..#len)
    };
    Some((range, lets))
}

/// The parts of what a source of tuples yields (`xs.iter().enumerate()`,
/// `a.iter().zip(b.iter())`, nested), as a pattern of fresh names and the
/// tuple literal of the same names; `None` for a source of single values.
pub(crate) fn tuple_parts(
    source: &Expr,
    item: &syn::Ident,
    parts: &mut usize,
) -> Option<(Pat, Expr)> {
    let Expr::MethodCall(m) = peel(source) else {
        return None;
    };
    let leaf = |parts: &mut usize| -> (Pat, Expr) {
        let name = quote::format_ident!("{}_{}", item, *parts);
        *parts += 1;
        (syn::parse_quote!(#name), syn::parse_quote!(#name))
    };
    let (a, b) = match (m.method.to_string().as_str(), m.args.len()) {
        ("enumerate", 0) => {
            let a = leaf(parts);
            let b = tuple_parts(&m.receiver, item, parts).unwrap_or_else(|| leaf(parts));
            (a, b)
        }
        ("zip", 1) => {
            let a = tuple_parts(&m.receiver, item, parts).unwrap_or_else(|| leaf(parts));
            let b = tuple_parts(&m.args[0], item, parts).unwrap_or_else(|| leaf(parts));
            (a, b)
        }
        ("rev", 0) => return tuple_parts(&m.receiver, item, parts),
        _ => return None,
    };
    let ((pa, ea), (pb, eb)) = (a, b);
    Some((syn::parse_quote!((#pa, #pb)), syn::parse_quote!((#ea, #eb))))
}

/// The lets that a closure's parameter pattern `p` makes of `&value`,
/// where `value` is a tuple literal of names ([`tuple_parts`]): `|(i, _)|`
/// binds `i = &e0` (default binding through the reference), `|&(i, v)|`
/// binds `i = e0, v = e1`, `|&(i, &v)|` binds `v = *e1`. `None` where the
/// pattern is not made of these (the caller binds `let p = &value;`).
pub(crate) fn bind_through_ref(p: &Pat, value: &Expr) -> Option<Vec<(Pat, Expr)>> {
    if !matches!(peel(value), Expr::Tuple(_)) {
        return None;
    }
    let mut out = Vec::new();
    match p {
        Pat::Reference(r) if r.mutability.is_none() => bind_parts(&r.pat, value, false, &mut out)?,
        Pat::Tuple(_) | Pat::Paren(_) => bind_parts(p, value, true, &mut out)?,
        Pat::Type(t) => return bind_through_ref(&t.pat, value),
        _ => return None,
    }
    Some(out)
}

/// The lets that a closure's parameter pattern `p` makes of `value`, a
/// tuple literal of names ([`tuple_parts`]): `|(i, &v)|` binds `i = e0,
/// v = *e1`. `None` where the pattern is not made of names, `_`, `&` and
/// tuples, or `value` is not a tuple literal.
pub(crate) fn bind_by_value(p: &Pat, value: &Expr) -> Option<Vec<(Pat, Expr)>> {
    if !matches!(peel(value), Expr::Tuple(_)) {
        return None;
    }
    let mut out = Vec::new();
    bind_parts(p, value, false, &mut out)?;
    Some(out)
}

/// One step of [`bind_through_ref`] and [`bind_by_value`]: `by_ref` when
/// the value is reached through a reference in default binding mode.
fn bind_parts(p: &Pat, value: &Expr, by_ref: bool, out: &mut Vec<(Pat, Expr)>) -> Option<()> {
    match p {
        Pat::Paren(q) => bind_parts(&q.pat, value, by_ref, out),
        Pat::Type(t) => bind_parts(&t.pat, value, by_ref, out),
        Pat::Wild(_) => Some(()),
        Pat::Ident(i) if i.subpat.is_none() && i.by_ref.is_none() => {
            let v: Expr = if by_ref {
                syn::parse_quote!(&#value)
            } else {
                value.clone()
            };
            out.push((p.clone(), v));
            Some(())
        }
        Pat::Reference(r) if !by_ref && r.mutability.is_none() => match peel(value) {
            Expr::Reference(e) if e.mutability.is_none() => bind_parts(&r.pat, &e.expr, false, out),
            Expr::Tuple(_) => None,
            v => bind_parts(&r.pat, &syn::parse_quote!(*#v), false, out),
        },
        Pat::Tuple(t) => match peel(value) {
            Expr::Tuple(v)
                if v.elems.len() == t.elems.len()
                    && !t.elems.iter().any(|q| matches!(q, Pat::Rest(_))) =>
            {
                for (q, e) in t.elems.iter().zip(&v.elems) {
                    bind_parts(q, e, by_ref, out)?;
                }
                Some(())
            }
            _ => None,
        },
        _ => None,
    }
}

/// The names used as indices of rows (`m[i]` in `m[i].iter()`) in a loop's
/// sequence expression.
fn row_indices(e: &Expr) -> Vec<String> {
    struct Rows(Vec<String>);
    impl<'ast> Visit<'ast> for Rows {
        fn visit_expr_index(&mut self, ix: &'ast syn::ExprIndex) {
            if let Expr::Path(p) = peel(&ix.index)
                && let Some(i) = p.path.get_ident()
            {
                self.0.push(i.to_string());
            }
            syn::visit::visit_expr_index(self, ix);
        }
    }
    let mut rows = Rows(Vec::new());
    rows.visit_expr(e);
    rows.0
}

/// Does `block` assign (`=`, `+=`, ..) or shadow one of `names`?
fn assigns_any(block: &syn::Block, names: &[String]) -> bool {
    struct Assigns<'a>(&'a [String], bool);
    impl<'ast> Visit<'ast> for Assigns<'_> {
        fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
            self.1 |= mentioned_names(&a.left).iter().any(|n| self.0.contains(n));
            syn::visit::visit_expr_assign(self, a);
        }
        fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
            use syn::BinOp::*;
            if matches!(
                b.op,
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
            ) {
                self.1 |= mentioned_names(&b.left).iter().any(|n| self.0.contains(n));
            }
            syn::visit::visit_expr_binary(self, b);
        }
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.1 |= self.0.contains(&p.ident.to_string());
        }
    }
    if names.is_empty() {
        return false;
    }
    let mut a = Assigns(names, false);
    a.visit_block(block);
    a.1
}
