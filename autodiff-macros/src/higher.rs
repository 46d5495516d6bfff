//! Beyond one reverse pass: the items `#[differentiable]` adds to a
//! function's module for forward mode (`jvp`), second derivatives (`hvp`,
//! `hessian`), Jacobians (`jacobian`), a differentiable `grad`, and the
//! bodies of a function with a custom derivative rule (`vjp = rule`).
//!
//! Second derivatives are reverse over forward: the forward-mode function
//! `__ad_jvp` (see `forward.rs`) is ordinary Rust over the same primitives,
//! so the reverse-mode pipeline differentiates it again, as another
//! function, into the module `__ad_jvp`; `hvp(x, v)` is its pullback of the
//! tangent output, ∇ₓ⟨∇f(x), v⟩ = H·v.
//!
//! What cannot be done is refused *lazily*: the item exists with the right
//! type, but using it fails to compile (a constant whose evaluation panics
//! with the reason, at the span of what stands in the way), so that a
//! function that is only ever used in reverse mode is not affected by
//! whatever forward mode cannot do. Every item here is `#[inline]`: such an
//! item is compiled only where it is used.

use crate::errors::Errors;
use crate::forward::{self, Refusal};
use crate::signature::{Param, Signature};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ItemFn;

/// What `module()` needs from here.
#[derive(Default)]
pub struct Extra {
    /// Items added to the function's module.
    pub items: TokenStream,
    /// `grad` and `value_and_grad` take the forward path (one `f64` input,
    /// an `f64` output): the bodies.
    pub forward_grad: Option<(TokenStream, TokenStream)>,
    /// Every generated function is `#[inline]` (the modules made here for
    /// second derivatives).
    pub inline: bool,
}

/// How the function's derivatives are defined.
pub enum Rule<'a> {
    /// By its body.
    Body(&'a syn::Block),
    /// By the user's rules: `vjp = path`, and perhaps `jvp = path`.
    Custom { jvp: Option<&'a syn::Path> },
}

const ALLOW: &str = "#[allow(unused_imports, unused_variables, unused_mut, unused_assignments, unused_parens, unused_braces, unreachable_code, unused_unsafe, non_snake_case, dead_code, clippy::all)]";

fn allow() -> TokenStream {
    ALLOW.parse().expect("the allow attribute parses")
}

/// A path written beside the function, as seen from inside its module.
pub fn from_module(path: &syn::Path) -> TokenStream {
    let first = path
        .segments
        .first()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    match first.as_str() {
        "self" => {
            let rest = path.segments.iter().skip(1);
            quote!(super #(::#rest)*)
        }
        "super" => quote!(super::#path),
        _ => quote!(#path),
    }
}

struct Names {
    /// Generics for every generated function: `<'l.., T.., const N..>`.
    generics: TokenStream,
    where_clause: TokenStream,
    /// `x: X` for each parameter (patterns as written, `mut` kept).
    params: Vec<TokenStream>,
    /// Each parameter's name.
    args: Vec<syn::Ident>,
    /// `__adf_d_x` for each parameter.
    tangents: Vec<syn::Ident>,
    /// Public names of the tangents (`x_dot`).
    dots: Vec<syn::Ident>,
}

fn names(sig: &Signature, func: &ItemFn) -> Names {
    let lifetimes = &sig.lifetimes;
    let type_generics = &sig.type_generics;
    let generics = if lifetimes.is_empty() && type_generics.is_empty() {
        quote!()
    } else {
        quote!(<#(#lifetimes,)* #(#type_generics),*>)
    };
    let where_clause = sig.where_clause.to_token_stream();
    let params = func
        .sig
        .inputs
        .iter()
        .zip(&sig.params)
        .map(|(input, p)| {
            let ty = &p.ty;
            match input {
                syn::FnArg::Typed(pt) => match &*pt.pat {
                    syn::Pat::Ident(pi) => {
                        let (m, i) = (&pi.mutability, &p.ident);
                        quote!(#m #i: #ty)
                    }
                    _ => {
                        let i = &p.ident;
                        quote!(#i: #ty)
                    }
                },
                syn::FnArg::Receiver(_) => quote!(),
            }
        })
        .collect();
    let args: Vec<syn::Ident> = sig.params.iter().map(|p| p.ident.clone()).collect();
    let tangents = sig
        .params
        .iter()
        .map(|p| forward::tangent_ident(&p.ident))
        .collect();
    let taken: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let dots = sig
        .params
        .iter()
        .map(|p| {
            let dot = format_ident!("{}_dot", syn::ext::IdentExt::unraw(&p.ident));
            if taken.contains(&dot.to_string()) {
                forward::tangent_ident(&p.ident)
            } else {
                dot
            }
        })
        .collect();
    Names {
        generics,
        where_clause,
        params,
        args,
        tangents,
        dots,
    }
}

/// `f64`, `Tensor`, `Vec<f64>`, `[f64]`, `[f64; N]`, behind `&` too: values
/// with a flat view (Jacobians, Hessians).
fn flat_type(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => r.mutability.is_none() && flat_type(&r.elem),
        syn::Type::Paren(p) => flat_type(&p.elem),
        syn::Type::Slice(s) => is_ident(&s.elem, "f64"),
        syn::Type::Array(a) => is_ident(&a.elem, "f64"),
        syn::Type::Tuple(t) => !t.elems.is_empty() && t.elems.len() <= 6 && t.elems.iter().all(flat_type),
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|last| {
            let name = last.ident.to_string();
            match name.as_str() {
                "f64" | "Tensor" => last.arguments.is_empty(),
                "Vec" => matches!(&last.arguments, syn::PathArguments::AngleBracketed(a)
                    if a.args.len() == 1 && matches!(&a.args[0], syn::GenericArgument::Type(t) if is_ident(t, "f64"))),
                _ => false,
            }
        }),
        _ => false,
    }
}

fn is_ident(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident(name))
}

/// A type whose tangent is a value of the same type, which forward mode's
/// rewriting assumes: `f64`, `Tensor`, `Vec<f64>`, `[f64; N]`, slices
/// behind `&`, tuples of those, and structs deriving `Differentiable`
/// (named without type arguments). Not, say, nalgebra's `Point3<f64>`, whose
/// tangent is a `Vector3<f64>`.
fn self_tangent(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => {
            r.mutability.is_none()
                && (self_tangent(&r.elem) || matches!(&*r.elem, syn::Type::Slice(s) if is_ident(&s.elem, "f64") || self_tangent(&s.elem)))
        }
        syn::Type::Paren(p) => self_tangent(&p.elem),
        syn::Type::Array(a) => is_ident(&a.elem, "f64"),
        syn::Type::Tuple(t) => t.elems.iter().all(self_tangent),
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|last| {
            let name = last.ident.to_string();
            match name.as_str() {
                "f64" | "f32" | "Tensor" => last.arguments.is_empty(),
                "Vec" => matches!(&last.arguments, syn::PathArguments::AngleBracketed(a)
                    if a.args.len() == 1 && matches!(&a.args[0], syn::GenericArgument::Type(t) if is_ident(t, "f64"))),
                n => n.starts_with(|c: char| c.is_ascii_uppercase()) && last.arguments.is_empty(),
            }
        }),
        _ => false,
    }
}

/// `AUTODIFF_FORWARD_GRAD=1` when the macro runs: every free function gets
/// forward mode (as with `forward`), and `grad` of every function of `f64`
/// parameters with an `f64` result is computed in forward mode (one `jvp` per
/// parameter), so that the test suites written against `grad` check forward
/// mode too (`touch` the tests so that they expand again).
pub fn cross_check_forward() -> bool {
    std::env::var_os("AUTODIFF_FORWARD_GRAD").is_some_and(|v| v == "1")
}

/// A scalar output: `f64` or a (one-element) `Tensor`.
fn scalar_output(ty: &syn::Type) -> bool {
    is_ident(ty, "f64") || is_ident(ty, "Tensor")
}

/// A parameter that `hessian` and `jacobian` may pass several times.
fn clonable(p: &Param) -> bool {
    matches!(p.ty, syn::Type::Reference(_))
        || crate::signature::keepable_type(&p.ty)
        || (p.active && flat_type(&p.ty))
}

/// A lazily refused item: a generic constant whose evaluation panics with
/// `message` at `span`, and a function that evaluates it.
struct Refusals {
    /// (name, message at its span)
    consts: Vec<(syn::Ident, TokenStream)>,
}

impl Refusals {
    /// A call that fails to compile where the enclosing item is used: it
    /// evaluates a constant whose evaluation panics with `message`, at `span`.
    fn refuse(&mut self, name: &str, span: Span, message: &str) -> TokenStream {
        let c = format_ident!("{}", name);
        let f = format_ident!("__ad_refuse_{}", name.to_lowercase());
        if !self.consts.iter().any(|(n, _)| *n == c) {
            let panic = quote_spanned!(span=> ::core::panic!(#message));
            self.consts.push((c, panic));
        }
        quote!(#f::<()>())
    }

    fn items(&self) -> TokenStream {
        if self.consts.is_empty() {
            return TokenStream::new();
        }
        let consts = self.consts.iter().map(|(c, panic)| {
            quote!(
                #[doc(hidden)]
                pub const #c: () = #panic;
            )
        });
        let fns = self.consts.iter().map(|(c, _)| {
            let f = format_ident!("__ad_refuse_{}", c.to_string().to_lowercase());
            quote!(
                #[doc(hidden)]
                #[inline]
                pub fn #f<__AdT: ?Sized>() {
                    let () = __AdRefused::<__AdT>::#c;
                }
            )
        });
        quote!(
            #[doc(hidden)]
            pub struct __AdRefused<__AdT: ?Sized>(::core::marker::PhantomData<__AdT>);
            #[allow(non_upper_case_globals)]
            impl<__AdT: ?Sized> __AdRefused<__AdT> {
                #(#consts)*
            }
            #(#fns)*
        )
    }
}

/// The items for a free function's module. `expand` hands in the pipeline
/// that makes a module of derivatives for another function (used on the
/// forward-mode function, for second derivatives).
pub fn generate(
    sig: &Signature,
    func: &ItemFn,
    rule: Rule<'_>,
    first_order: Option<&syn::Ident>,
    pipeline: &dyn Fn(TokenStream, ItemFn) -> Result<TokenStream, String>,
) -> Extra {
    let rt = &sig.runtime;
    let private = quote!(#rt::__private);
    let name = &sig.name;
    let n = names(sig, func);
    let Names {
        generics,
        where_clause,
        params,
        args,
        tangents,
        dots,
    } = &n;
    let out = &sig.output;
    let out_tangent = quote!(<#out as #rt::Differentiable>::Tangent);
    let mut refusals = Refusals { consts: Vec::new() };
    let allow = allow();
    let inline = quote!(#[inline]);
    let active: Vec<usize> = (0..sig.params.len())
        .filter(|i| sig.params[*i].active)
        .collect();
    let type_generic = !sig.type_generics.is_empty();
    // What a pullback that owns its data may mention: the type and const
    // parameters (which must then be 'static), no lifetime.
    let generic_names: Vec<TokenStream> = sig
        .type_generics
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Type(t) => Some(t.ident.to_token_stream()),
            syn::GenericParam::Const(c) => Some(c.ident.to_token_stream()),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    let owned_captures = quote!(use<#(#generic_names),*>);
    let owned_where = {
        let statics = sig.type_generics.iter().filter_map(|p| match p {
            syn::GenericParam::Type(t) => {
                let ident = &t.ident;
                Some(quote!(#ident: 'static))
            }
            _ => None,
        });
        let existing = sig.where_clause.iter().flat_map(|w| w.predicates.iter());
        quote!(where #(#existing,)* #(#statics,)*)
    };
    let static_tangent = |ty: &syn::Type| {
        let ty = crate::expand::static_lifetimes(ty);
        quote!(<#ty as #rt::Differentiable>::Tangent)
    };
    let static_out = crate::expand::static_lifetimes(out);

    // Tangent parameters of `__ad_jvp`: one per parameter, `NoTangent` for
    // those not differentiated.
    // The type of a parameter's tangent: its own type, or (where forward
    // mode is refused for its type) its gradient type.
    let tangent_ty = |ty: &syn::Type| -> TokenStream {
        if self_tangent(ty) {
            quote!(#ty)
        } else {
            quote!(<#ty as #rt::Differentiable>::Tangent)
        }
    };
    let tangent_params: Vec<TokenStream> = sig
        .params
        .iter()
        .zip(tangents)
        .map(|(p, t)| {
            if p.active {
                let ty = tangent_ty(&p.ty);
                let m = p.mutable.then(|| quote!(mut));
                quote!(#m #t: #ty)
            } else {
                quote!(#t: #private::fwd::NoTangent)
            }
        })
        .collect();
    let no_tangents = |i: usize| -> TokenStream {
        if sig.params[i].active {
            let d = &dots[i];
            quote!(#d)
        } else {
            quote!(#private::fwd::NoTangent)
        }
    };
    let public_tangent_params: Vec<TokenStream> = active
        .iter()
        .map(|i| {
            let (d, ty) = (&dots[*i], tangent_ty(&sig.params[*i].ty));
            quote!(#d: #ty)
        })
        .collect();
    // Forward mode rewrites values into tangents of the same types.
    let unsupported_type = active
        .iter()
        .map(|i| &sig.params[*i].ty)
        .chain(std::iter::once(out))
        .find(|ty| !self_tangent(ty));
    let public_tangent_args: Vec<TokenStream> = (0..sig.params.len()).map(no_tangents).collect();

    // ---------------------------------------------------------- forward mode
    let mut forward_ok = false;
    let mut calls = true;
    let mut forward_refusal: Option<Refusal> = None;
    let jvp_sig = quote!(
        pub fn __ad_jvp #generics (#(#params,)* #(#tangent_params),*) -> (#out, #out_tangent) #where_clause
    );
    let mut second_order_source: Option<ItemFn> = None;
    let mut second_blocked: Option<Refusal> = None;
    let transformed = match (&rule, unsupported_type) {
        (Rule::Body(_), Some(ty)) => Some(Err(Refusal {
            span: syn::spanned::Spanned::span(ty),
            message: format!(
                "its tangent would not be a `{}` (forward mode supports values of type f64, Tensor, Vec<f64>, [f64; N], slices, and structs deriving `Differentiable`)",
                ty.to_token_stream().to_string().replace(' ', "")
            ),
        })),
        (Rule::Body(block), None) => Some(forward::transform(sig, block, rt)),
        _ => None,
    };
    let jvp_item = match &rule {
        Rule::Body(_) => match transformed.expect("a body") {
            Ok(f) => {
                forward_ok = true;
                calls = f.calls;
                second_blocked = f.second_order_blocked;
                let body = f.body;
                let item: TokenStream = quote!(
                    #[doc(hidden)]
                    #allow
                    #inline
                    #jvp_sig { #body }
                );
                second_order_source = syn::parse2(item.clone()).ok();
                item
            }
            Err(r) => {
                let message = format!("forward mode cannot differentiate `{name}`: {}", r.message);
                let call = refusals.refuse("FORWARD", r.span, &message);
                forward_refusal = Some(r);
                quote!(
                    #[doc(hidden)]
                    #allow
                    #inline
                    #jvp_sig { #call; ::core::unreachable!() }
                )
            }
        },
        Rule::Custom { jvp: Some(j) } => {
            let j = from_module(j);
            let pass: Vec<TokenStream> = active
                .iter()
                .map(|i| {
                    let t = &tangents[*i];
                    quote!(#t)
                })
                .collect();
            forward_ok = true;
            quote!(
                #[doc(hidden)]
                #allow
                #inline
                #jvp_sig { #j(#(#args,)* #(#pass),*) }
            )
        }
        Rule::Custom { jvp: None } => {
            // Forward mode from the pullback: one pullback per output
            // component (one in all for an `f64` output).
            let flat = active.iter().all(|i| flat_type(&sig.params[*i].ty)) && flat_type(out);
            if flat {
                forward_ok = true;
                let grads: Vec<syn::Ident> = (0..sig.params.len())
                    .map(|i| format_ident!("__ad_g{}", i))
                    .collect();
                let pattern = grads.iter().enumerate().map(|(i, g)| {
                    if sig.params[i].active {
                        quote!(#g)
                    } else {
                        quote!(_)
                    }
                });
                let terms = active.iter().map(|i| {
                    let (g, t) = (&grads[*i], &tangents[*i]);
                    if is_ident(&sig.params[*i].ty, "f64") {
                        quote!(#g * #t)
                    } else {
                        quote!(#private::fwd::dot_flat(&#g, &#t))
                    }
                });
                let dot = quote!(0.0 #(+ #terms)*);
                let body = if is_ident(out, "f64") {
                    quote!(
                        let (__ad_y, __ad_pb) = __ad_vjp_owned(#(#args),*);
                        let (#(#pattern,)*) = __ad_pb(1.0);
                        (__ad_y, #dot)
                    )
                } else {
                    quote!(
                        let (__ad_y, __ad_pb) = __ad_vjp_owned(#(#args),*);
                        let __ad_m = #private::fwd::Flat::flat_len(&__ad_y);
                        let mut __ad_t = ::std::vec::Vec::with_capacity(__ad_m);
                        for __ad_k in 0..__ad_m {
                            let (#(#pattern,)*) = (::core::clone::Clone::clone(&__ad_pb))(#private::fwd::Basis::one_hot(&__ad_y, __ad_k));
                            __ad_t.push(#dot);
                        }
                        let __ad_dy = #private::fwd::Basis::unflatten(&__ad_y, &__ad_t);
                        (__ad_y, __ad_dy)
                    )
                };
                quote!(
                    #[doc(hidden)]
                    #allow
                    #inline
                    #jvp_sig { #body }
                )
            } else {
                let message = format!(
                    "forward mode of `{name}`: its rule is a `vjp`, and a tangent is built from pullbacks only for parameters and outputs of type f64, Tensor, Vec<f64>, [f64] and [f64; N]; give it a `jvp = rule` too"
                );
                let call = refusals.refuse("FORWARD", name.span(), &message);
                quote!(
                    #[doc(hidden)]
                    #allow
                    #inline
                    #jvp_sig { #call; ::core::unreachable!() }
                )
            }
        }
    };

    // Where a caller passes no tangent: a zero if the parameter is
    // differentiated (`__ad_z` keeps it, `__ad_v` lends it), else `NoTangent`.
    let lifetimes = &sig.lifetimes;
    let type_generics = &sig.type_generics;
    let adapters = sig.params.iter().enumerate().map(|(k, p)| {
        let (z, v) = (format_ident!("__ad_z{}", k), format_ident!("__ad_v{}", k));
        if !p.active {
            return quote!(
                #[doc(hidden)] #inline pub fn #z<__AdA>(x: __AdA) -> (__AdA, #private::fwd::NoTangent) { (x, #private::fwd::NoTangent) }
                #[doc(hidden)] #inline pub fn #v(_: &#private::fwd::NoTangent) -> #private::fwd::NoTangent { #private::fwd::NoTangent }
            );
        }
        let ty = &p.ty;
        // A zero tangent; a struct's `#[no_grad]` fields reset too.
        let clean = if forward::needs_sanitize(ty) { quote!(#private::fwd::sanitize) } else { quote!() };
        if !self_tangent(ty) {
            // Forward mode is refused for this type: a zero of its gradient type.
            let t = tangent_ty(ty);
            let zero = match ty {
                syn::Type::Reference(_) => quote!(#rt::Differentiable::zero_tangent(x)),
                _ => quote!(#rt::Differentiable::zero_tangent(&x)),
            };
            return quote!(
                #[doc(hidden)] #inline pub fn #z<#(#lifetimes,)* #(#type_generics),*>(x: #ty) -> (#ty, #t) #where_clause {
                    let z = #zero;
                    (x, z)
                }
                #[doc(hidden)] #inline pub fn #v<#(#lifetimes,)* #(#type_generics),*>(z: &#t) -> #t #where_clause {
                    ::core::clone::Clone::clone(z)
                }
            );
        }
        match ty {
            syn::Type::Reference(r) => {
                let elem = &r.elem;
                quote!(
                    #[doc(hidden)] #inline pub fn #z<#(#lifetimes,)* #(#type_generics),*>(x: #ty) -> (#ty, <#elem as #rt::Differentiable>::Tangent) #where_clause {
                        let z = #clean(#rt::Differentiable::zero_tangent(x));
                        (x, z)
                    }
                    #[doc(hidden)] #inline pub fn #v<'__ad_s, #(#type_generics),*>(z: &'__ad_s <#elem as #rt::Differentiable>::Tangent) -> &'__ad_s #elem #where_clause {
                        ::core::borrow::Borrow::borrow(z)
                    }
                )
            }
            _ => quote!(
                #[doc(hidden)] #inline pub fn #z<#(#lifetimes,)* #(#type_generics),*>(x: #ty) -> (#ty, #ty) #where_clause {
                    let z = #clean(#rt::Differentiable::zero_tangent(&x));
                    (x, z)
                }
                #[doc(hidden)] #inline pub fn #v<#(#lifetimes,)* #(#type_generics),*>(z: &#ty) -> #ty #where_clause {
                    ::core::clone::Clone::clone(z)
                }
            ),
        }
    });
    let adapters: TokenStream = adapters.collect();

    let wrt_list = active
        .iter()
        .map(|i| format!("`{}`", sig.params[*i].ident))
        .collect::<Vec<_>>()
        .join(", ");
    let doc_jvp = format!(
        "The value of [`{name}`](fn@{name}) and its tangent (forward mode, a Jacobian–vector product): given a tangent for each of {wrt_list}, of the same type as the parameter, the directional derivative of the output, of the output's type. No tape: the tangents are computed alongside the value."
    );
    // A struct's `#[no_grad]` fields carry no tangent, whatever the caller
    // passed: reset to their `Default`.
    let sanitize: Vec<TokenStream> = active
        .iter()
        .filter(|i| {
            forward::needs_sanitize(&sig.params[**i].ty) && self_tangent(&sig.params[**i].ty)
        })
        .map(|i| {
            let d = &dots[*i];
            if matches!(sig.params[*i].ty, syn::Type::Reference(_)) {
                quote!(let #d = &#private::fwd::sanitize(::core::clone::Clone::clone(#d));)
            } else {
                quote!(let #d = #private::fwd::sanitize(#d);)
            }
        })
        .collect();
    let jvp_public = quote!(
        #[doc = #doc_jvp]
        #inline
        pub fn jvp #generics (#(#params,)* #(#public_tangent_params),*) -> (#out, #out_tangent) #where_clause {
            #(#sanitize)*
            __ad_jvp(#(#args,)* #(#public_tangent_args),*)
        }
    );

    // ---------------------------------------------------------- second order
    let pattern_all = |names: &[syn::Ident]| -> Vec<TokenStream> {
        (0..2 * sig.params.len())
            .map(|i| {
                if i < sig.params.len() && sig.params[i].active {
                    let n = &names[i];
                    quote!(#n)
                } else {
                    quote!(_)
                }
            })
            .collect()
    };
    let gx: Vec<syn::Ident> = (0..sig.params.len())
        .map(|i| format_ident!("__ad_g{}", i))
        .collect();
    let picked: Vec<&syn::Ident> = active.iter().map(|i| &gx[*i]).collect();
    // Flattened one gradient at a time (tuples have traits up to 6 parts).
    let flatten_picked = {
        let parts = picked
            .iter()
            .map(|g| quote!(#private::fwd::Flat::flat_into(&#g, &mut __ad_flat);));
        quote!({ let mut __ad_flat = ::std::vec::Vec::new(); #(#parts)* __ad_flat })
    };
    let picked = if picked.len() == 1 {
        quote!(#(#picked)*)
    } else {
        quote!((#(#picked),*))
    };
    let tangent_of = |ty: &syn::Type| quote!(<#ty as #rt::Differentiable>::Tangent);
    let grads_ty = if active.len() == 1 {
        tangent_of(&sig.params[active[0]].ty)
    } else {
        let each = active.iter().map(|i| tangent_of(&sig.params[*i].ty));
        quote!((#(#each),*))
    };

    let mut second_refusal: Option<(Span, String)> = None;
    let second_module = match (&rule, second_order_source) {
        (_, _) if first_order.is_some() => {
            let at = first_order.expect("checked");
            second_refusal = Some((
                at.span(),
                format!(
                    "second derivatives of `{name}` are off: it is declared `#[differentiable(first_order)]`"
                ),
            ));
            TokenStream::new()
        }
        (Rule::Body(_), Some(_)) if second_blocked.is_some() => {
            let r = second_blocked.as_ref().expect("checked");
            second_refusal = Some((
                r.span,
                format!(
                    "second derivatives of `{name}` are not available: {}",
                    r.message
                ),
            ));
            TokenStream::new()
        }
        (Rule::Body(_), Some(source)) => {
            let wrt: Vec<&syn::Ident> = active
                .iter()
                .map(|i| &args[*i])
                .chain(active.iter().map(|i| &tangents[*i]))
                .collect();
            let attr = quote!(wrt(#(#wrt),*), crate = #rt);
            match pipeline(attr, source) {
                Ok(module) => module,
                Err(message) => {
                    second_refusal = Some((
                        name.span(),
                        format!(
                            "second derivatives of `{name}` are not available: reverse mode cannot differentiate its forward-mode code ({message})"
                        ),
                    ));
                    TokenStream::new()
                }
            }
        }
        (Rule::Body(_), None) => {
            let (span, message) = match &forward_refusal {
                Some(r) => (
                    r.span,
                    format!(
                        "second derivatives of `{name}` are not available: forward mode cannot differentiate it ({})",
                        r.message
                    ),
                ),
                None => (
                    name.span(),
                    format!("second derivatives of `{name}` are not available"),
                ),
            };
            second_refusal = Some((span, message));
            TokenStream::new()
        }
        (Rule::Custom { jvp: Some(j) }, _) => {
            // The jvp rule is itself differentiable: its reverse mode gives
            // the second derivatives.
            let j = from_module(j);
            let pass: Vec<TokenStream> = active
                .iter()
                .map(|i| {
                    let t = &tangents[*i];
                    quote!(#t)
                })
                .collect();
            let rule_grads: Vec<syn::Ident> = (0..sig.params.len() + active.len())
                .map(|i| format_ident!("__ad_r{}", i))
                .collect();
            let mut all = Vec::new();
            let mut all_ty = Vec::new();
            for (i, r) in rule_grads.iter().enumerate().take(sig.params.len()) {
                if sig.params[i].active {
                    all.push(quote!(#r));
                    all_ty.push(tangent_of(&crate::expand::static_lifetimes(
                        &sig.params[i].ty,
                    )));
                } else {
                    all.push(quote!(#rt::__private::NotDifferentiated));
                    all_ty.push(quote!(#rt::__private::NotDifferentiated));
                }
            }
            for i in 0..sig.params.len() {
                match active.iter().position(|a| *a == i) {
                    Some(k) => {
                        let r = &rule_grads[sig.params.len() + k];
                        all.push(quote!(#r));
                        all_ty.push(tangent_of(&crate::expand::static_lifetimes(
                            &sig.params[i].ty,
                        )));
                    }
                    None => {
                        all.push(quote!(#rt::__private::NotDifferentiated));
                        all_ty.push(quote!(#rt::__private::NotDifferentiated));
                    }
                }
            }
            let cot = quote!(<(#static_out, <#static_out as #rt::Differentiable>::Tangent) as #rt::Differentiable>::Tangent);
            quote!(
                #[doc(hidden)]
                #allow
                pub mod __ad_jvp {
                    use super::*;
                    #[doc(hidden)]
                    #inline
                    pub fn __ad_vjp_owned #generics (#(#params,)* #(#tangent_params),*) -> ((#out, #out_tangent), impl ::core::ops::FnOnce(#cot) -> (#(#all_ty,)*) + ::core::clone::Clone + #owned_captures + 'static) #owned_where {
                        let (__ad_value, __ad_pb) = { use #j as __ad_rule; __ad_rule::__ad_vjp_owned(#(#args,)* #(#pass),*) };
                        (__ad_value, move |__ad_ct: #cot| {
                            let (#(#rule_grads,)*) = __ad_pb(__ad_ct);
                            (#(#all,)*)
                        })
                    }
                }
            )
        }
        (Rule::Custom { jvp: None }, _) => {
            second_refusal = Some((
                name.span(),
                format!(
                    "second derivatives of `{name}` are not available: it has a custom `vjp` rule, and the macro does not differentiate a pullback; give it a `jvp = rule` that is itself `#[differentiable]`"
                ),
            ));
            TokenStream::new()
        }
    };
    let second_call = second_refusal
        .as_ref()
        .map(|(span, message)| refusals.refuse("SECOND", *span, message));
    let second_module = match &second_call {
        Some(call) => {
            // A stub with the types callers expect; using it fails to compile.
            let cot = quote!(<(#static_out, <#static_out as #rt::Differentiable>::Tangent) as #rt::Differentiable>::Tangent);
            let grads_all: Vec<TokenStream> = sig
                .params
                .iter()
                .map(|p| {
                    if p.active {
                        static_tangent(&p.ty)
                    } else {
                        quote!(#rt::__private::NotDifferentiated)
                    }
                })
                .chain(sig.params.iter().map(|p| {
                    if p.active {
                        static_tangent(&p.ty)
                    } else {
                        quote!(#rt::__private::NotDifferentiated)
                    }
                }))
                .collect();
            let stub = |f: &str| {
                let f = format_ident!("{}", f);
                quote!(
                    #[doc(hidden)]
                    #inline
                    pub fn #f #generics (#(#params,)* #(#tangent_params),*) -> ((#out, #out_tangent), impl ::core::ops::FnOnce(#cot) -> (#(#grads_all,)*) + ::core::clone::Clone + #owned_captures + 'static) #owned_where {
                        super::#call;
                        (::core::unreachable!(), move |_: #cot| -> (#(#grads_all,)*) { ::core::unreachable!() })
                    }
                )
            };
            let owned = stub("__ad_vjp_owned");
            quote!(
                #[doc(hidden)]
                #allow
                pub mod __ad_jvp {
                    use super::*;
                    #owned
                }
            )
        }
        None => second_module,
    };

    let scalar = scalar_output(out);
    let hvp = if scalar {
        let doc = format!(
            "A Hessian–vector product of [`{name}`](fn@{name}): `H·v`, the derivative of the gradient (with respect to {wrt_list}) in the direction `v`, exact, without forming the Hessian (reverse mode over forward mode). `v` has one part per differentiated parameter, of that parameter's type; the result has the gradient's type."
        );
        let pattern = pattern_all(&gx);
        quote!(
            #[doc = #doc]
            #inline
            pub fn hvp #generics (#(#params,)* #(#public_tangent_params),*) -> #grads_ty #owned_where {
                #(#sanitize)*
                let (__ad_value, __ad_pullback) = __ad_jvp::__ad_vjp_owned(#(#args,)* #(#public_tangent_args),*);
                let (#(#pattern,)*) = __ad_pullback((#private::zero(), #private::seed(&__ad_value.1)));
                #picked
            }
        )
    } else {
        TokenStream::new()
    };

    // Hessian and Jacobian: flat parameters and outputs, each parameter
    // passed as often as there are columns.
    let flat_params = !active.is_empty()
        && active.iter().all(|i| flat_type(&sig.params[*i].ty))
        && sig.params.iter().all(clonable);
    let clone_args: Vec<TokenStream> = args
        .iter()
        .map(|a| quote!(::core::clone::Clone::clone(&#a)))
        .collect();
    let single_f64 = active.len() == 1 && is_ident(&sig.params[active[0]].ty, "f64");
    let lens: Vec<TokenStream> = active
        .iter()
        .map(|i| {
            let a = &args[*i];
            quote!(#private::fwd::Flat::flat_len(&#a))
        })
        .collect();
    let shapes: Vec<TokenStream> = active
        .iter()
        .map(|i| {
            let a = &args[*i];
            quote!(#private::fwd::Flat::flat_shape(&#a))
        })
        .collect();
    // The unit tangents of column `__ad_j`, one per parameter.
    let units = || -> (TokenStream, Vec<TokenStream>) {
        let mut lets = Vec::new();
        let mut pass = Vec::new();
        for (k, i) in (0..sig.params.len()).enumerate() {
            let _ = k;
            if !sig.params[i].active {
                pass.push(quote!(#private::fwd::NoTangent));
                continue;
            }
            let (a, u) = (&args[i], format_ident!("__ad_u{}", i));
            let pos = active.iter().position(|x| *x == i).expect("active");
            lets.push(quote!(let #u = #private::fwd::unit_at(&#a, __ad_j, __ad_offsets[#pos]);));
            if matches!(sig.params[i].ty, syn::Type::Reference(_)) {
                pass.push(quote!(&#u));
            } else {
                pass.push(quote!(#u));
            }
        }
        (quote!(#(#lets)*), pass)
    };
    let offsets = quote!(
        let __ad_lens = [#(#lens),*];
        let __ad_offsets = {
            let mut __ad_o = ::std::vec::Vec::new();
            let mut __ad_at = 0usize;
            for __ad_l in __ad_lens.iter() { __ad_o.push(__ad_at); __ad_at += *__ad_l; }
            __ad_o
        };
        let __ad_total: usize = __ad_lens.iter().sum();
        let __ad_in_shape = #private::fwd::in_shape(::std::vec![#(#shapes),*], &__ad_lens);
    );
    let hessian = if scalar && flat_params && !type_generic {
        let doc = format!(
            "The Hessian of [`{name}`](fn@{name}) with respect to {wrt_list}, exact: one Hessian–vector product (`hvp`) per column. For one `f64` parameter it is that second derivative; otherwise a tensor of shape `s ++ s`, where `s` is the parameter's shape (`[n]` for a slice or `Vec`, and `[n]` for several parameters laid end to end)."
        );
        if single_f64 {
            let one = public_tangent_args.iter().enumerate().map(|(i, a)| {
                if sig.params[i].active {
                    quote!(1.0)
                } else {
                    a.clone()
                }
            });
            let pattern = pattern_all(&gx);
            quote!(
                #[doc = #doc]
                #inline
                pub fn hessian #generics (#(#params),*) -> f64 #owned_where {
                    let (__ad_value, __ad_pullback) = __ad_jvp::__ad_vjp_owned(#(#args,)* #(#one),*);
                    let (#(#pattern,)*) = __ad_pullback((#private::zero(), #private::seed(&__ad_value.1)));
                    #picked
                }
            )
        } else {
            let (unit_lets, pass) = units();
            let pattern = pattern_all(&gx);
            let offsets = offsets.clone();
            quote!(
                #[doc = #doc]
                #inline
                pub fn hessian #generics (#(#params),*) -> #rt::Tensor #owned_where {
                    #offsets
                    let mut __ad_columns = ::std::vec::Vec::with_capacity(__ad_total);
                    for __ad_j in 0..__ad_total {
                        #unit_lets
                        let (__ad_value, __ad_pullback) = __ad_jvp::__ad_vjp_owned(#(#clone_args,)* #(#pass),*);
                        let (#(#pattern,)*) = __ad_pullback((#private::zero(), #private::seed(&__ad_value.1)));
                        __ad_columns.push(#flatten_picked);
                    }
                    #private::fwd::matrix_from_columns(__ad_columns, &__ad_in_shape, &__ad_in_shape)
                }
            )
        }
    } else if !type_generic && !active.is_empty() {
        // Not laid out: say why where `hessian` is used, instead of rustc's
        // "cannot find function `hessian`".
        let message = if !scalar {
            format!(
                "`{name}::hessian` is not available: a Hessian is of a function with one `f64` (or one-element `Tensor`) output; use `{name}::jacobian`, or `{name}::hvp` of a scalar function of the output"
            )
        } else {
            format!(
                "`{name}::hessian` is not available: it is laid out over parameters of type `f64`, `Tensor`, `[f64]`, `Vec<f64>` or `[f64; N]`, and `{name}` differentiates another type (a struct, nalgebra values): use `{name}::hvp` with a tangent of that type, or pass the numbers as a slice"
            )
        };
        let call = refusals.refuse("HESSIAN", name.span(), &message);
        quote!(
            #[doc(hidden)]
            #allow
            #inline
            pub fn hessian #generics (#(#params),*) -> #rt::Tensor #owned_where {
                #call;
                ::core::unreachable!()
            }
        )
    } else {
        TokenStream::new()
    };

    let jacobian = if flat_params && flat_type(out) && !type_generic {
        let doc = format!(
            "The Jacobian of [`{name}`](fn@{name}) with respect to {wrt_list}, exact: a tensor of shape `out ++ in` (the output's shape, then the parameter's; `[n]` for several parameters laid end to end). Built row by row in reverse mode (one pullback per output component) or column by column in forward mode (one `jvp` per input component), whichever takes fewer passes (PyTorch's `jacrev`/`jacfwd`)."
        );
        let (unit_lets, pass) = units();
        let forward_columns = if forward_ok {
            quote!(
                if __ad_m > __ad_total {
                    let mut __ad_columns = ::std::vec::Vec::with_capacity(__ad_total);
                    for __ad_j in 0..__ad_total {
                        #unit_lets
                        let (_, __ad_t) = __ad_jvp(#(#clone_args,)* #(#pass),*);
                        __ad_columns.push(#private::fwd::Flat::flat(&__ad_t));
                    }
                    return #private::fwd::matrix_from_columns(__ad_columns, &__ad_out_shape, &__ad_in_shape);
                }
            )
        } else {
            TokenStream::new()
        };
        let vjp_args = clone_args.clone();
        if single_f64 && is_ident(out, "f64") {
            quote!(
                #[doc = #doc]
                #inline
                pub fn jacobian #generics (#(#params),*) -> f64 #where_clause {
                    grad(#(#args),*)
                }
            )
        } else {
            quote!(
                #[doc = #doc]
                #inline
                pub fn jacobian #generics (#(#params),*) -> #rt::Tensor #where_clause {
                    #offsets
                    let (__ad_y, __ad_pullback) = vjp_retained(#(#vjp_args),*);
                    let __ad_m = #private::fwd::Flat::flat_len(&__ad_y);
                    let __ad_out_shape = #private::fwd::Flat::flat_shape(&__ad_y);
                    #forward_columns
                    let mut __ad_rows = ::std::vec::Vec::with_capacity(__ad_m);
                    for __ad_k in 0..__ad_m {
                        let #picked = __ad_pullback(#private::fwd::Basis::one_hot(&__ad_y, __ad_k));
                        __ad_rows.push(#flatten_picked);
                    }
                    #private::fwd::matrix(__ad_rows, &__ad_out_shape, &__ad_in_shape)
                }
            )
        }
    } else if !type_generic && !active.is_empty() {
        let message = format!(
            "`{name}::jacobian` is not available: it is laid out over parameters and outputs of type `f64`, `Tensor`, `[f64]`, `Vec<f64>` or `[f64; N]` (and tuples of outputs), and `{name}` has another (a struct, nalgebra values): use `{name}::vjp_retained` row by row or `{name}::jvp` column by column"
        );
        let call = refusals.refuse("JACOBIAN", name.span(), &message);
        quote!(
            #[doc(hidden)]
            #allow
            #inline
            pub fn jacobian #generics (#(#params),*) -> #rt::Tensor #where_clause {
                #call;
                ::core::unreachable!()
            }
        )
    } else {
        TokenStream::new()
    };

    // `f::grad` inside another differentiable function: its pullback is a
    // Hessian–vector product (the Hessian is symmetric), its tangent too.
    let picked_tangents: Vec<&syn::Ident> = active.iter().map(|i| &tangents[*i]).collect();
    let keepable = sig
        .params
        .iter()
        .all(|p| crate::signature::keepable_type(&p.ty) || (p.active && flat_type(&p.ty)));
    let grad_module = if scalar && !type_generic && keepable && !hvp.is_empty() && active.len() <= 6
    {
        let kept: Vec<syn::Ident> = args
            .iter()
            .map(|a| format_ident!("__ad_kept_{}", syn::ext::IdentExt::unraw(a)))
            .collect();
        let keeps = args
            .iter()
            .zip(&kept)
            .map(|(a, k)| quote!(let #k = (&#private::Keep(&#a)).keep();));
        let restored = kept.iter().map(|k| quote!(#private::restore(&#k)));
        let us: Vec<syn::Ident> = active
            .iter()
            .map(|i| format_ident!("__ad_u{}", i))
            .collect();
        let u_pattern = if us.len() == 1 {
            quote!(#(#us)*)
        } else {
            quote!((#(#us),*))
        };
        let u_pass = active.iter().zip(&us).map(|(i, u)| {
            if matches!(sig.params[*i].ty, syn::Type::Reference(_))
                && self_tangent(&sig.params[*i].ty)
            {
                quote!(&#u)
            } else {
                quote!(#u)
            }
        });
        let hs: Vec<syn::Ident> = active
            .iter()
            .map(|i| format_ident!("__ad_h{}", i))
            .collect();
        let h_pattern = if hs.len() == 1 {
            quote!(#(#hs)*)
        } else {
            quote!((#(#hs),*))
        };
        let all_out = (0..sig.params.len()).map(|i| match active.iter().position(|a| *a == i) {
            Some(k) => {
                let h = &hs[k];
                quote!(#h)
            }
            None => quote!(#rt::__private::NotDifferentiated),
        });
        let all_ty: Vec<TokenStream> = sig
            .params
            .iter()
            .map(|p| {
                if p.active {
                    tangent_of(&crate::expand::static_lifetimes(&p.ty))
                } else {
                    quote!(#rt::__private::NotDifferentiated)
                }
            })
            .collect();
        let grads_static = if active.len() == 1 {
            tangent_of(&crate::expand::static_lifetimes(&sig.params[active[0]].ty))
        } else {
            let each = active
                .iter()
                .map(|i| tangent_of(&crate::expand::static_lifetimes(&sig.params[*i].ty)));
            quote!((#(#each),*))
        };
        let third = refusals.refuse("THIRD", name.span(), &format!("third derivatives of `{name}` are not available: `{name}::grad` is differentiated by Hessian–vector products, which are not differentiated again"));
        let cot = quote!(<(#grads_static, #grads_static) as #rt::Differentiable>::Tangent);
        let grads_all: Vec<TokenStream> = sig
            .params
            .iter()
            .map(|p| {
                if p.active {
                    static_tangent(&p.ty)
                } else {
                    quote!(#rt::__private::NotDifferentiated)
                }
            })
            .collect();
        let stub_pairs: Vec<TokenStream> = grads_all
            .iter()
            .cloned()
            .chain(grads_all.iter().cloned())
            .collect();
        let adapter_names: Vec<syn::Ident> = (0..sig.params.len())
            .flat_map(|k| [format_ident!("__ad_z{}", k), format_ident!("__ad_v{}", k)])
            .collect();
        let third_stub = |f: &str| {
            let f = format_ident!("{}", f);
            quote!(
                #[doc(hidden)]
                #inline
                pub fn #f #generics (#(#params,)* #(#tangent_params),*) -> ((#grads_ty, #grads_ty), impl ::core::ops::FnOnce(#cot) -> (#(#stub_pairs,)*) + ::core::clone::Clone + #owned_captures + 'static) #owned_where {
                    super::super::#third;
                    (::core::unreachable!(), move |_: #cot| -> (#(#stub_pairs,)*) { ::core::unreachable!() })
                }
            )
        };
        let t_owned = third_stub("__ad_vjp_owned");
        quote!(
            /// `grad` as a differentiable function: inside another
            /// `#[differentiable]` function, `f::grad(x)` is differentiated
            /// exactly (its pullback and its tangent are Hessian–vector
            /// products).
            #allow
            pub mod grad {
                use super::*;
                pub use super::{#(#adapter_names),*};

                #[doc(hidden)]
                #inline
                pub fn __ad_vjp_owned #generics (#(#params),*) -> (#grads_static, impl ::core::ops::FnOnce(#grads_static) -> (#(#all_ty,)*) + ::core::clone::Clone + use<> + 'static) #where_clause {
                    use #private::{KeepBorrowed as _, KeepOwned as _};
                    #(#keeps)*
                    let __ad_value = super::grad(#(#args),*);
                    (__ad_value, move |__ad_u: #grads_static| {
                        let #u_pattern = __ad_u;
                        let #h_pattern = super::hvp(#(#restored,)* #(#u_pass),*);
                        (#(#all_out,)*)
                    })
                }

                #[doc(hidden)]
                #inline
                pub fn __ad_jvp #generics (#(#params,)* #(#tangent_params),*) -> (#grads_ty, #grads_ty) #where_clause {
                    (super::grad(#(#clone_args),*), super::hvp(#(#args,)* #(#picked_tangents),*))
                }

                #[doc(hidden)]
                pub mod __ad_jvp {
                    use super::*;
                    #t_owned
                }
            }
        )
    } else {
        TokenStream::new()
    };

    // `grad` by forward mode: one f64 in, one f64 out, nothing called that
    // could refuse forward mode.
    let forward_grad = if matches!(rule, Rule::Body(_))
        && forward_ok
        && !calls
        && single_f64
        && is_ident(out, "f64")
    {
        let one: Vec<TokenStream> = public_tangent_args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if sig.params[i].active {
                    quote!(1.0)
                } else {
                    a.clone()
                }
            })
            .collect();
        Some((
            quote!(__ad_jvp(#(#args,)* #(#one),*).1),
            quote!(__ad_jvp(#(#args,)* #(#one),*)),
        ))
    } else if cross_check_forward()
        && matches!(rule, Rule::Body(_))
        && forward_ok
        && !active.is_empty()
        && active.iter().all(|i| is_ident(&sig.params[*i].ty, "f64"))
        && is_ident(out, "f64")
        && !type_generic
    {
        // For checking forward mode against the test suites (see
        // `cross_check_forward`): every partial derivative by a `jvp`, the
        // arguments copied for each.
        let parts: Vec<TokenStream> = active
            .iter()
            .map(|k| {
                let tangents = (0..sig.params.len()).map(|i| {
                    if !sig.params[i].active {
                        quote!(#private::fwd::NoTangent)
                    } else if i == *k {
                        quote!(1.0)
                    } else {
                        quote!(0.0)
                    }
                });
                quote!(__ad_jvp(#(#clone_args,)* #(#tangents),*).1)
            })
            .collect();
        let grads = if parts.len() == 1 {
            quote!(#(#parts)*)
        } else {
            quote!((#(#parts),*))
        };
        let zeros = (0..sig.params.len()).map(|i| {
            if sig.params[i].active {
                quote!(0.0)
            } else {
                quote!(#private::fwd::NoTangent)
            }
        });
        Some((
            quote!(#grads),
            quote!((__ad_jvp(#(#clone_args,)* #(#zeros),*).0, #grads)),
        ))
    } else {
        None
    };

    let refusal_items = refusals.items();
    let items = quote!(
        #jvp_item
        #adapters
        #jvp_public
        #second_module
        #hvp
        #hessian
        #jacobian
        #grad_module
        #refusal_items
    );
    Extra {
        items,
        forward_grad,
        inline: false,
    }
}

/// The bodies of `__ad_vjp_all` and `__ad_vjp_owned` for a function with a
/// custom rule `vjp = rule`: the rule's value and pullback, with `()` for
/// every parameter that is not differentiated left as the rule gives it.
pub fn custom_bodies(sig: &Signature, rule: &syn::Path) -> (TokenStream, TokenStream) {
    let span = syn::spanned::Spanned::span(rule);
    let rule = from_module(rule);
    let args: Vec<&syn::Ident> = sig.params.iter().map(|p| &p.ident).collect();
    let owned = quote_spanned!(span=> #rule(#(#args),*));
    let all = quote!(__ad_vjp_owned(#(#args),*));
    (all, owned)
}

/// Parses the errors of a pipeline run into one message.
pub fn first_message(errors: Errors) -> String {
    match errors.finish() {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    }
}
