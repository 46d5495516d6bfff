//! Stage 1: the attribute's arguments and the function's signature.
//!
//! Which parameters are differentiated is decided here, from the types the
//! user wrote: the macro sees tokens, not types, so it recognises the value
//! types of the runtime by name and lets `wrt(..)` / `#[no_grad]` override.

use crate::errors::Errors;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ItemFn, Lifetime, Pat, ReturnType, Token, Type};

/// `#[differentiable(wrt(a, b), crate = some::path, vjp = rule, jvp = rule)]`
#[derive(Default)]
pub struct Args {
    pub wrt: Option<Vec<Ident>>,
    pub krate: Option<syn::Path>,
    /// `show`: also generate the pretty-printed expansion and the op graph.
    pub show: bool,
    /// `forward`: also generate forward mode (`jvp`), `jacobian`, `hvp` and
    /// `hessian` (they cost compile time, so they are asked for).
    pub forward: bool,
    /// A custom derivative rule: the body is not differentiated.
    pub vjp: Option<syn::Path>,
    /// Its forward-mode rule (with `vjp` only).
    pub jvp: Option<syn::Path>,
    /// `first_order`: no second derivatives (they cost compile time).
    pub first_order: Option<Ident>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            if input.peek(Token![crate]) {
                input.parse::<Token![crate]>()?;
                input.parse::<Token![=]>()?;
                args.krate = Some(input.call(syn::Path::parse_mod_style)?);
            } else {
                let key: Ident = input.parse()?;
                if key == "forward" {
                    args.forward = true;
                    if !input.is_empty() {
                        input.parse::<Token![,]>()?;
                    }
                    continue;
                }
                if key == "show" {
                    args.show = true;
                    if !input.is_empty() {
                        input.parse::<Token![,]>()?;
                    }
                    continue;
                }
                if key == "first_order" {
                    args.first_order = Some(key);
                    if !input.is_empty() {
                        input.parse::<Token![,]>()?;
                    }
                    continue;
                }
                if key == "vjp" || key == "jvp" {
                    input.parse::<Token![=]>()?;
                    let path: syn::Path = input.parse()?;
                    if key == "vjp" {
                        args.vjp = Some(path);
                    } else {
                        args.jvp = Some(path);
                    }
                    if !input.is_empty() {
                        input.parse::<Token![,]>()?;
                    }
                    continue;
                }
                if key != "wrt" {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{key}`: expected `wrt(param, ..)`, `crate = path`, `show`, `forward`, `vjp = rule` or `first_order`"
                        ),
                    ));
                }
                let content;
                syn::parenthesized!(content in input);
                let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                args.wrt = Some(names.into_iter().collect());
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// One parameter of the differentiated function.
pub struct Param {
    pub ident: Ident,
    /// The type as written, elided lifetimes named (for the generated signatures).
    pub ty: Type,
    /// Differentiated: its gradient is part of the pullback's result.
    pub active: bool,
    /// Declared `mut`: the body may change it.
    pub mutable: bool,
}

pub struct Signature {
    /// Type and const parameters, with their bounds, and the where clause.
    pub type_generics: Vec<syn::GenericParam>,
    pub where_clause: Option<syn::WhereClause>,
    pub name: Ident,
    pub vis: syn::Visibility,
    pub params: Vec<Param>,
    pub output: Type,
    /// Lifetimes the generated functions declare and the pullback captures.
    pub lifetimes: Vec<Lifetime>,
    pub runtime: TokenStream,
}

/// Value types of the runtime that carry a gradient, recognised by name.
/// A fixed-size nalgebra vector or matrix of `f64` (`Vector3<f64>`,
/// `Matrix2<f64>`, `SVector<f64, 4>`): an element of a differentiated
/// `&[..]` or `Vec<..>` (particles, points built in a loop).
fn is_fixed_nalgebra(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    let name = last.ident.to_string();
    (name.starts_with("Vector")
        || name.starts_with("Matrix")
        || name == "SVector"
        || name == "SMatrix")
        && matches!(&last.arguments, syn::PathArguments::AngleBracketed(a)
            if matches!(a.args.first(), Some(syn::GenericArgument::Type(t)) if is_f64(t)))
}

fn differentiable_type(ty: &Type) -> bool {
    match ty {
        // Behind `&mut` too: the gradient is with respect to what it held on
        // entry (the body may write into it, element by element).
        Type::Reference(r) => differentiable_type(&r.elem),
        Type::Paren(p) => differentiable_type(&p.elem),
        Type::Group(g) => differentiable_type(&g.elem),
        Type::Slice(s) => is_f64(&s.elem) || is_vec_f64(&s.elem) || is_fixed_nalgebra(&s.elem),
        Type::Array(a) => is_f64(&a.elem),
        Type::Tuple(t) => !t.elems.is_empty() && t.elems.iter().all(differentiable_type),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            let name = last.ident.to_string();
            // nalgebra's vectors, matrices, points, rotations of f64.
            if crate::rules::nalgebra_type(&name) {
                return match &last.arguments {
                    syn::PathArguments::AngleBracketed(a) => a
                        .args
                        .iter()
                        .any(|arg| matches!(arg, syn::GenericArgument::Type(t) if is_f64(t))),
                    _ => false,
                };
            }
            match name.as_str() {
                "f64" | "Tensor" => true,
                // A type of the user's (a struct of parameters): differentiated,
                // and rustc says so if it does not derive `Differentiable`.
                n if last.arguments.is_empty()
                    && n.starts_with(|c: char| c.is_ascii_uppercase())
                    && !NOT_DIFFERENTIABLE.contains(&n) =>
                {
                    true
                }
                // nalgebra's DVector/DMatrix join once the runtime differentiates them.
                // Vec<f64>, and Vec<Vec<f64>> (a matrix as rows).
                "Vec" => match &last.arguments {
                    syn::PathArguments::AngleBracketed(a) => a.args.iter().any(|arg| {
                        matches!(arg, syn::GenericArgument::Type(t) if is_f64(t) || is_vec_f64(t) || is_fixed_nalgebra(t))
                    }),
                    _ => false,
                },
                _ => false,
            }
        }
        _ => false,
    }
}

pub fn is_f64(ty: &Type) -> bool {
    match ty {
        Type::Group(g) => is_f64(&g.elem),
        Type::Path(p) => p.path.is_ident("f64"),
        _ => false,
    }
}

/// Names every elided lifetime in parameter types (`&T` → `&'__ad_l0 T`,
/// `'_` → `'__ad_l1`) so the pullback can say which borrows it captures.
struct NameLifetimes {
    named: Vec<Lifetime>,
}

impl NameLifetimes {
    fn fresh(&mut self, span: Span) -> Lifetime {
        let lifetime = Lifetime::new(&format!("'__ad_l{}", self.named.len()), span);
        self.named.push(lifetime.clone());
        lifetime
    }
}

impl VisitMut for NameLifetimes {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        if r.lifetime.is_none() {
            r.lifetime = Some(self.fresh(r.and_token.span));
        }
        syn::visit_mut::visit_type_reference_mut(self, r);
    }
    fn visit_lifetime_mut(&mut self, l: &mut Lifetime) {
        if l.ident == "_" {
            *l = self.fresh(l.apostrophe);
        }
    }
}

/// Removes our parameter attribute (`#[no_grad]`) and reports whether it was there.
pub fn take_no_grad(attrs: &mut Vec<syn::Attribute>) -> bool {
    let before = attrs.len();
    attrs.retain(|a| !a.path().is_ident("no_grad"));
    attrs.len() != before
}

pub fn parse(args: &Args, item: &mut ItemFn, errors: &Errors) -> Option<Signature> {
    let sig = &mut item.sig;
    if let Some(asyncness) = &sig.asyncness {
        errors.spanned(
            asyncness,
            "cannot differentiate an `async fn`: make it a plain `fn`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(
            unsafety,
            "cannot differentiate an `unsafe fn`: the generated pullback would have to repeat its unsafe operations; wrap the unsafe part in a safe function called with inactive values",
        );
    }

    if let Some(v) = &sig.variadic {
        errors.spanned(v, "cannot differentiate a variadic function");
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => {
            errors.spanned(
                &sig.ident,
                "a differentiable function must return the value to differentiate: add `-> f64` (or `-> Tensor`) and return it",
            );
            return None;
        }
    };
    if let Type::ImplTrait(_) = output {
        errors.spanned(
            &output,
            "cannot differentiate a function returning `impl Trait`: name the type",
        );
    }

    let generic_types: Vec<String> = sig
        .generics
        .type_params()
        .map(|t| t.ident.to_string())
        .collect();
    // Type parameters that are functions (`F: Fn(usize) -> f64`) carry no
    // gradient; any other may be the number type itself.
    let callable = |t: &syn::TypeParam| {
        let bounds = t.bounds.iter().map(|b| b.to_token_stream().to_string());
        let in_where = sig.generics.where_clause.iter().flat_map(|w| w.predicates.iter()).filter_map(|p| match p {
            syn::WherePredicate::Type(pt) if matches!(&pt.bounded_ty, Type::Path(tp) if tp.path.is_ident(&t.ident)) => {
                Some(pt.bounds.to_token_stream().to_string())
            }
            _ => None,
        });
        bounds.chain(in_where).any(|b| {
            b.starts_with("Fn") || b.contains(" Fn") || b.contains("FnMut") || b.contains("FnOnce")
        })
    };
    let number_types: Vec<String> = sig
        .generics
        .type_params()
        .filter(|t| !callable(t))
        .map(|t| t.ident.to_string())
        .collect();
    let mut namer = NameLifetimes { named: Vec::new() };
    let mut params = Vec::new();
    for input in sig.inputs.iter_mut() {
        match input {
            FnArg::Receiver(r) => {
                errors.spanned(
                    &*r,
                    "#[differentiable] works on free functions: a method cannot be differentiated yet; make `self` an ordinary parameter",
                );
            }
            FnArg::Typed(pt) => {
                let no_grad = take_no_grad(&mut pt.attrs);
                let mutable = matches!(&*pt.pat, Pat::Ident(pi) if pi.mutability.is_some());
                let ident = match &*pt.pat {
                    Pat::Ident(pi) if pi.subpat.is_none() => pi.ident.clone(),
                    // An unused parameter still needs a name in the generated code.
                    Pat::Wild(w) => {
                        format_ident!("__ad_arg{}", params.len(), span = w.underscore_token.span)
                    }
                    other => {
                        errors.spanned(
                            other,
                            "a parameter of a differentiable function must be a plain name: destructure it in the body",
                        );
                        continue;
                    }
                };
                if let Type::ImplTrait(_) = &*pt.ty {
                    errors.spanned(
                        &pt.ty,
                        "cannot differentiate a parameter of type `impl Trait`: name the type",
                    );
                }
                let mut ty = (*pt.ty).clone();
                namer.visit_type_mut(&mut ty);
                // Generic over the differentiated number type: the derivative
                // rules are those of f64 and Tensor.
                if !no_grad && generic_value(&pt.ty, &number_types) {
                    errors.spanned(
                        &pt.ty,
                        "cannot differentiate a value of a generic type: the derivative rules are written for `f64` and `Tensor`\nhelp: write the function for `f64` (or `Tensor`), or mark the parameter `#[no_grad]` if it carries no gradient",
                    );
                }
                let active =
                    !no_grad && differentiable_type(&pt.ty) && !mentions(&pt.ty, &generic_types);
                params.push(Param {
                    ident,
                    ty,
                    active,
                    mutable,
                });
            }
        }
    }
    if let Some(wrt) = &args.wrt {
        for p in params.iter_mut() {
            p.active = false;
        }
        for name in wrt {
            match params.iter_mut().find(|p| p.ident == *name) {
                Some(p) => p.active = true,
                None => errors.spanned(
                    name,
                    format!("`wrt` names `{name}`, which is not a parameter of this function"),
                ),
            }
        }
    }
    if errors.is_empty() && !params.iter().any(|p| p.active) {
        // Say why for the parameters a user meant: `f32` numbers, and
        // sequences of nalgebra values (`&[Vector3<f64>]`).
        let why = params.iter().find_map(|p| {
            let ty = p.ty.to_token_stream().to_string().replace(' ', "");
            let name = &p.ident;
            if ty.contains("f32") {
                Some((p, format!(
                    "nothing to differentiate: `{name}` is of `f32`, and the derivative rules are those of `f64` (`Tensor` holds `f64` too): write the function for `f64`"
                )))
            } else if ["Point", "Rotation", "UnitQuaternion", "DVector", "DMatrix"]
                .iter()
                .any(|n| ty.contains(&format!("[{n}")) || ty.contains(&format!("Vec<{n}")))
            {
                Some((p, format!(
                    "nothing to differentiate: `{name}` is a sequence of nalgebra points, rotations or dynamic matrices, which is not differentiated yet (sequences of fixed-size vectors and matrices are): pass the coordinates as `&[f64]` and read each vector where it is used, `Vector3::new(x[3 * i], x[3 * i + 1], x[3 * i + 2])`"
                )))
            } else {
                None
            }
        });
        match why {
            Some((p, message)) => errors.spanned(&p.ty, message),
            None => errors.spanned(
                &sig.ident,
                "nothing to differentiate: no parameter is `f64`, `Tensor`, `&[f64]` or `Vec<f64>`; name the parameters with `#[differentiable(wrt(..))]`",
            ),
        }
    }
    let mut lifetimes: Vec<Lifetime> = sig
        .generics
        .lifetimes()
        .map(|l| l.lifetime.clone())
        .collect();
    lifetimes.extend(namer.named);
    let runtime = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::autodiff),
    };
    Some(Signature {
        type_generics: sig
            .generics
            .params
            .iter()
            .filter(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
            .cloned()
            .collect(),
        where_clause: sig.generics.where_clause.clone(),
        name: sig.ident.clone(),
        vis: item.vis.clone(),
        params,
        output,
        lifetimes,
        runtime,
    })
}

impl Signature {
    pub fn param_ident(&self, index: usize) -> Ident {
        format_ident!("__ad_p_{}", self.params[index].ident)
    }
}

/// Types that never carry a gradient, though their names look like a
/// user's struct: std's and the runtime's own.
const NOT_DIFFERENTIABLE: &[&str] = &[
    "String",
    "PathBuf",
    "Path",
    "OsString",
    "Duration",
    "Instant",
    "SystemTime",
    "Ordering",
    "BoolTensor",
    "Shape",
    "Var",
    "Rng",
    "StdRng",
];

/// Does the type mention one of these names (the function's type parameters)?
fn mentions(ty: &Type, names: &[String]) -> bool {
    struct Finder<'n>(&'n [String], bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_ident(&mut self, i: &'ast Ident) {
            if self.0.iter().any(|n| i == n) {
                self.1 = true;
            }
        }
    }
    let mut f = Finder(names, false);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.1
}

/// A parameter type the pullback can keep a copy of without knowing more
/// about it: the runtime's value types, primitives, and borrows of them.
pub fn keepable_type(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => r.mutability.is_none() && keepable_type(&r.elem),
        Type::Paren(p) => keepable_type(&p.elem),
        Type::Group(g) => keepable_type(&g.elem),
        Type::Slice(s) => keepable_type(&s.elem),
        Type::Array(a) => keepable_type(&a.elem),
        Type::Tuple(t) => t.elems.iter().all(keepable_type),
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|last| {
            let name = last.ident.to_string();
            match name.as_str() {
                n if crate::rules::nalgebra_type(n) => true,
                "Vec" => match &last.arguments {
                    syn::PathArguments::AngleBracketed(a) => a.args.iter().all(|arg| match arg {
                        syn::GenericArgument::Type(t) => keepable_type(t),
                        _ => false,
                    }),
                    _ => false,
                },
                _ => {
                    last.arguments.is_empty()
                        && ([
                            "Tensor", "str", "String", "bool", "char", "f32", "f64", "usize",
                            "isize", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64",
                            "i128",
                        ]
                        .contains(&name.as_str()))
                }
            }
        }),
        _ => false,
    }
}

/// A value whose type is one of the function's type parameters (`T`, `&T`,
/// `&[T]`, `Vec<T>`, `[T; N]`) — a number type the function is generic over.
fn generic_value(ty: &Type, names: &[String]) -> bool {
    match ty {
        Type::Reference(r) => generic_value(&r.elem, names),
        Type::Paren(p) => generic_value(&p.elem, names),
        Type::Group(g) => generic_value(&g.elem, names),
        Type::Slice(s) => generic_value(&s.elem, names),
        Type::Array(a) => generic_value(&a.elem, names),
        Type::Path(p) if p.qself.is_none() => {
            if let Some(i) = p.path.get_ident() {
                return names.iter().any(|n| i == n);
            }
            p.path.segments.last().is_some_and(|last| {
                last.ident == "Vec"
                    && matches!(&last.arguments, syn::PathArguments::AngleBracketed(a)
                        if a.args.iter().any(|arg| matches!(arg, syn::GenericArgument::Type(t) if generic_value(t, names))))
            })
        }
        _ => false,
    }
}

fn is_vec_f64(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|last| last.ident == "Vec"
        && matches!(&last.arguments, syn::PathArguments::AngleBracketed(a)
            if a.args.len() == 1 && matches!(&a.args[0], syn::GenericArgument::Type(t) if is_f64(t)))))
}

/// A sequence of `f64` (`[f64]`, `Vec<f64>`, `[f64; N]`, borrowed or not):
/// indexing it gives one `f64`.
pub fn scalar_elements(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => scalar_elements(&r.elem),
        Type::Paren(p) => scalar_elements(&p.elem),
        Type::Group(g) => scalar_elements(&g.elem),
        Type::Slice(s) => is_f64(&s.elem),
        Type::Array(a) => is_f64(&a.elem),
        t => is_vec_f64(t),
    }
}
