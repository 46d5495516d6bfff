//! The driver: parse, lower, analyse, generate — or, on failure, the original
//! function unchanged plus every error, so that its callers see no cascade.

use crate::errors::Errors;
use crate::higher::{self, Extra};
use crate::signature::{self, Args, Signature};
use crate::{analyse, codegen, lower};
use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote};
use syn::ItemFn;

pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let error = syn::Error::new(
                e.span(),
                "#[differentiable] goes on a function: `#[differentiable] fn f(x: f64) -> f64 { .. }`",
            )
            .to_compile_error();
            return quote!(#item #error);
        }
    };
    // `$e` of a macro_rules arrives as an invisible group, which rustc may
    // not honour once re-emitted (`$e * 2.0` with `$e = x + 1.0`): make it
    // parentheses, in the function as written too.
    struct Parenthesize;
    impl syn::visit_mut::VisitMut for Parenthesize {
        fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
            syn::visit_mut::visit_expr_mut(self, e);
            if let syn::Expr::Group(g) = e {
                let inner = (*g.expr).clone();
                *e = syn::Expr::Paren(syn::ExprParen {
                    attrs: g.attrs.clone(),
                    paren_token: Default::default(),
                    expr: Box::new(inner),
                });
            }
        }
    }
    syn::visit_mut::VisitMut::visit_item_fn_mut(&mut Parenthesize, &mut func);
    let errors = Errors::default();
    let args: Args = match syn::parse2(attr) {
        Ok(a) => a,
        Err(e) => {
            errors.push(e);
            Args::default()
        }
    };
    // A method: the receiver becomes an ordinary parameter `__ad_self` of
    // the functions generated beside it (associated functions of the impl).
    let receiver = func.sig.inputs.iter().find_map(|a| match a {
        syn::FnArg::Receiver(r) => Some(r.clone()),
        _ => None,
    });
    let mut work = func.clone();
    if let Some(r) = &receiver {
        if r.reference.is_some() && r.mutability.is_some() {
            errors.spanned(
                r,
                "cannot differentiate a method taking `&mut self`: it may change `self` behind the derivative's back\nhelp: take `&self` (or `self`) and return the new value",
            );
        }
        let (ty, attrs) = (&r.ty, &r.attrs);
        for arg in work.sig.inputs.iter_mut() {
            if let syn::FnArg::Receiver(_) = arg {
                *arg = syn::parse_quote!(#(#attrs)* __ad_self: #ty);
            }
        }
        match syn::parse2::<syn::Block>(rename_self(work.block.to_token_stream())) {
            Ok(block) => *work.block = block,
            Err(e) => errors.push(e),
        }
    }
    if receiver.is_none() {
        // The generated functions live one module deeper, in `mod f`.
        match syn::parse2::<syn::Block>(deeper_paths(work.block.to_token_stream())) {
            Ok(block) => *work.block = block,
            Err(e) => errors.push(e),
        }
        for arg in work.sig.inputs.iter_mut() {
            if let syn::FnArg::Typed(pt) = arg {
                if let Ok(ty) = syn::parse2::<syn::Type>(deeper_paths(pt.ty.to_token_stream())) {
                    *pt.ty = ty;
                }
            }
        }
        if let syn::ReturnType::Type(_, ty) = &mut work.sig.output {
            if let Ok(t) = syn::parse2::<syn::Type>(deeper_paths(ty.to_token_stream())) {
                **ty = t;
            }
        }
    }
    let sig = signature::parse(&args, &mut work, &errors);
    // The primal is the function as written, minus our parameter markers. It
    // is part of the API even when only its derivatives are called.
    for arg in func.sig.inputs.iter_mut() {
        match arg {
            syn::FnArg::Typed(pt) => {
                signature::take_no_grad(&mut pt.attrs);
            }
            syn::FnArg::Receiver(r) => {
                signature::take_no_grad(&mut r.attrs);
            }
        }
    }
    let mut primal = func.clone();
    primal.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    // `#[checkpoint]` is ours: the function as written runs without it.
    struct StripCheckpoint;
    impl syn::visit_mut::VisitMut for StripCheckpoint {
        fn visit_expr_for_loop_mut(&mut self, f: &mut syn::ExprForLoop) {
            f.attrs.retain(|a| !a.path().is_ident("checkpoint"));
            syn::visit_mut::visit_expr_for_loop_mut(self, f);
        }
    }
    syn::visit_mut::VisitMut::visit_block_mut(&mut StripCheckpoint, &mut primal.block);
    let primal = &primal;
    let Some(sig) = sig else {
        return with_errors(primal, errors);
    };
    if !errors.is_empty() {
        return with_errors(primal, errors);
    }
    let func = &work;
    // `vjp = rule`: the rule is the derivative; the body is not differentiated.
    let (vjp_body, owned_body, analysed) = match &args.vjp {
        Some(rule) => {
            if let Some(r) = &receiver {
                errors.spanned(r, "a custom `vjp` rule goes on a free function");
                return with_errors(primal, errors);
            }
            let (vjp_body, owned_body) = higher::custom_bodies(&sig, rule);
            (vjp_body, owned_body, None)
        }
        None => {
            if let Some(jvp) = &args.jvp {
                errors.spanned(jvp, "`jvp = rule` goes with `vjp = rule`: give both");
                return with_errors(primal, errors);
            }
            let mut body = lower::lower(&sig, &func.block, &errors);
            // Elementwise tensor chains become one fused op each (issue 11).
            crate::fuse::fuse(&sig, &mut body);
            analyse::analyse(&sig, &mut body, &errors);
            if !errors.is_empty() {
                return with_errors(primal, errors);
            }
            body.name_adjoints(func.block.to_token_stream());
            let plan = crate::plan::Plan::new(&sig, &body);
            // One body when the borrowing pullback would be the owning one.
            let vjp_body = if owns_everything(&sig) {
                TokenStream::new()
            } else {
                codegen::Gen::new(&plan, false).generate()
            };
            let owned_body = codegen::Gen::new(&plan, true).generate();
            let saved_sites = plan.saved_sites;
            (vjp_body, owned_body, Some((body, saved_sites)))
        }
    };
    let allows: Vec<&syn::Attribute> = primal
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("allow"))
        .collect();
    let warnings = match &analysed {
        Some((body, _)) => zero_gradient_warnings(&sig, body, &allows),
        None => TokenStream::new(),
    };
    let shape = shape_of(&receiver);
    // Forward mode, Jacobians, second derivatives (free functions).
    let mut extra = match (&receiver, &args.vjp) {
        (Some(_), _) => Extra::default(),
        _ if !args.forward && !higher::cross_check_forward() => Extra::default(),
        (None, Some(_)) => higher::generate(
            &sig,
            func,
            higher::Rule::Custom {
                jvp: args.jvp.as_ref(),
            },
            args.first_order.as_ref(),
            &pipeline,
        ),
        (None, None) => higher::generate(
            &sig,
            func,
            higher::Rule::Body(&func.block),
            args.first_order.as_ref(),
            &pipeline,
        ),
    };
    if let (true, Some((body, saved_sites))) = (args.show, &analysed) {
        // What the macro made of the function, for a person to read.
        let plain = module(
            &sig,
            func,
            vjp_body.clone(),
            owned_body.clone(),
            shape_of(&receiver),
            &extra,
        );
        let expansion = crate::show::pretty(&quote!(#primal #plain));
        let dot = crate::show::dot(&sig, body, saved_sites);
        let (e, d) = match &receiver {
            Some(_) => {
                let upper = sig.name.to_string().to_uppercase();
                (
                    format_ident!("{}_EXPANSION", upper),
                    format_ident!("{}_GRAPH_DOT", upper),
                )
            }
            None => (format_ident!("EXPANSION"), format_ident!("GRAPH_DOT")),
        };
        let items = &extra.items;
        extra.items = quote!(
            #items
            /// The code `#[differentiable]` generated for this function, pretty-printed.
            pub const #e: &str = #expansion;
            /// The function's primitive-op graph as Graphviz DOT (`dot -Tsvg`): ops,
            /// assignments, loops and branches; values the reverse keeps have a double border.
            pub const #d: &str = #dot;
        );
    }
    let module = module(&sig, func, vjp_body, owned_body, shape, &extra);
    // For working on the macro: AUTODIFF_DUMP=<fn name> prints what it generates.
    if std::env::var("AUTODIFF_DUMP").is_ok_and(|name| sig.name == name) {
        eprintln!("{module}");
    }
    quote!(#primal #module #warnings)
}

/// A warning (through a deprecated item, the way stable Rust lets a macro
/// warn) for each differentiated parameter the output never depends on:
/// its gradient would always be zero, as Swift's compiler warns.
fn zero_gradient_warnings(
    sig: &Signature,
    body: &crate::ir::Body,
    allows: &[&syn::Attribute],
) -> TokenStream {
    // `_` says the parameter is unused on purpose.
    let named = body
        .zero_gradients
        .iter()
        .filter(|&&p| !sig.params[p].ident.to_string().starts_with("__ad_arg"));
    let warnings = named.map(|&p| {
        let param = &sig.params[p].ident;
        let note = format!(
            "the output of `{}` does not depend on `{}`: its gradient is always zero (mark the parameter `#[no_grad]`, or leave it out of `wrt(..)`, to say that this is intended)",
            sig.name,
            if param == "__ad_self" { "self".to_string() } else { param.to_string() },
        );
        let name = syn::Ident::new(
            &format!("gradient_is_always_zero_{}", syn::ext::IdentExt::unraw(param).to_string().trim_start_matches('_')),
            param.span(),
        );
        quote::quote_spanned!(param.span()=>
            #(#allows)*
            const _: () = {
                #[deprecated(note = #note)]
                #[allow(non_upper_case_globals)]
                const #name: () = ();
                #name
            };
        )
    });
    quote!(#(#warnings)*)
}

/// The reverse-mode module of another function (the forward-mode function
/// that `higher` writes, for second derivatives): its items are `#[inline]`,
/// and nothing beyond reverse mode is made of it.
fn pipeline(attr: TokenStream, func: ItemFn) -> Result<TokenStream, String> {
    let errors = Errors::default();
    let args: Args = syn::parse2(attr).map_err(|e| e.to_string())?;
    let mut work = func;
    // Its module is one level deeper again.
    if let Ok(block) = syn::parse2::<syn::Block>(deeper_paths(work.block.to_token_stream())) {
        *work.block = block;
    }
    for arg in work.sig.inputs.iter_mut() {
        if let syn::FnArg::Typed(pt) = arg
            && let Ok(ty) = syn::parse2::<syn::Type>(deeper_paths(pt.ty.to_token_stream()))
        {
            *pt.ty = ty;
        }
    }
    if let syn::ReturnType::Type(_, ty) = &mut work.sig.output
        && let Ok(t) = syn::parse2::<syn::Type>(deeper_paths(ty.to_token_stream()))
    {
        **ty = t;
    }
    let Some(sig) = signature::parse(&args, &mut work, &errors) else {
        return Err(higher::first_message(errors));
    };
    if !errors.is_empty() {
        return Err(higher::first_message(errors));
    }
    let mut body = lower::lower(&sig, &work.block, &errors);
    analyse::analyse(&sig, &mut body, &errors);
    if !errors.is_empty() {
        return Err(higher::first_message(errors));
    }
    body.name_adjoints(work.block.to_token_stream());
    // Only what other generated code calls: the owning pullback.
    let plan = crate::plan::Plan::new(&sig, &body);
    let owned_body = codegen::Gen::new(&plan, true).generate();
    let extra = Extra {
        inline: true,
        ..Extra::default()
    };
    Ok(module(
        &sig,
        &work,
        TokenStream::new(),
        owned_body,
        Shape::Module,
        &extra,
    ))
}

fn with_errors(primal: &ItemFn, errors: Errors) -> TokenStream {
    let errors = match errors.finish() {
        Ok(()) => TokenStream::new(),
        Err(e) => e.to_compile_error(),
    };
    quote!(#primal #errors)
}

/// `mod f { vjp, vjp_retained, grad, value_and_grad, __ad_vjp_all }`
fn shape_of(receiver: &Option<syn::Receiver>) -> Shape<'_> {
    match receiver {
        Some(r) => Shape::Method(r),
        None => Shape::Module,
    }
}

/// Where the generated functions go: a module named after a free function
/// (`f::vjp`), or beside a method in its impl (`m.loss_vjp(..)`).
enum Shape<'r> {
    Module,
    Method(&'r syn::Receiver),
}

/// Paths relative to the function's module, for code one module deeper:
/// `super::x` → `super::super::x`, `self::x` → `super::x`.
fn deeper_paths(tokens: TokenStream) -> TokenStream {
    use proc_macro2::{Group, Punct, Spacing, TokenTree};
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(trees.len());
    let colon =
        |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':');
    for (k, tt) in trees.iter().enumerate() {
        match tt {
            TokenTree::Ident(i)
                if (i == "super" || i == "self")
                    && colon(trees.get(k + 1))
                    && !(k > 0 && colon(trees.get(k - 1))) =>
            {
                let sup = TokenTree::Ident(syn::Ident::new("super", i.span()));
                out.push(sup.clone());
                if i == "super" {
                    out.push(TokenTree::Punct(Punct::new(':', Spacing::Joint)));
                    out.push(TokenTree::Punct(Punct::new(':', Spacing::Alone)));
                    out.push(sup);
                }
            }
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), deeper_paths(g.stream()));
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
            }
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}

/// `self` → `__ad_self` in a method's body (but not `self::path`).
fn rename_self(tokens: TokenStream) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (k, tt) in trees.iter().enumerate() {
        match tt {
            TokenTree::Ident(i) if i == "self" => {
                let path =
                    matches!(trees.get(k + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':');
                if path {
                    out.push(tt.clone());
                } else {
                    out.push(TokenTree::Ident(syn::Ident::new("__ad_self", i.span())));
                }
            }
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), rename_self(g.stream()));
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
            }
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}

fn module(
    sig: &Signature,
    func: &ItemFn,
    vjp_body: TokenStream,
    owned_body: TokenStream,
    shape: Shape<'_>,
    extra: &Extra,
) -> TokenStream {
    let rt = &sig.runtime;
    let name = &sig.name;
    let vis = &sig.vis;
    let lifetimes = &sig.lifetimes;
    let type_generics = &sig.type_generics;
    let generics = if lifetimes.is_empty() && type_generics.is_empty() {
        quote!()
    } else {
        quote!(<#(#lifetimes,)* #(#type_generics),*>)
    };
    // Type and const parameters are captured by every returned closure.
    let generic_names: Vec<TokenStream> = type_generics
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Type(t) => Some(t.ident.to_token_stream()),
            syn::GenericParam::Const(c) => Some(c.ident.to_token_stream()),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    // Nothing to capture (no lifetime, no type parameter): the pullback's
    // type is 'static without saying so.
    let (captures, owned_captures) = if lifetimes.is_empty() && generic_names.is_empty() {
        (quote!(), quote!())
    } else {
        (
            quote!(+ use<#(#lifetimes,)* #(#generic_names),*>),
            quote!(+ use<#(#generic_names),*> + 'static),
        )
    };
    let where_clause = &sig.where_clause;
    // The owning variant's pullback is 'static: so must its type parameters be.
    let owned_where = {
        let statics = type_generics.iter().filter_map(|p| match p {
            syn::GenericParam::Type(t) => {
                let ident = &t.ident;
                Some(quote!(#ident: 'static))
            }
            _ => None,
        });
        let existing = where_clause.iter().flat_map(|w| w.predicates.iter());
        quote!(where #(#existing,)* #(#statics,)*)
    };
    let out = &sig.output;
    let ct = tangent_type(rt, out);
    let tangent = |ty: &syn::Type| tangent_type(rt, ty);

    let params_in: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|p| {
            let (ident, ty) = (&p.ident, &p.ty);
            quote!(#ident: #ty)
        })
        .collect();
    // The differentiating function keeps `mut` where the body reassigns a parameter.
    let original: Vec<TokenStream> = func
        .sig
        .inputs
        .iter()
        .zip(&sig.params)
        .map(|(input, p)| {
            let ty = &p.ty;
            match input {
                syn::FnArg::Typed(pt) => match &*pt.pat {
                    syn::Pat::Wild(_) => {
                        let ident = &p.ident;
                        quote!(#ident: #ty)
                    }
                    pat => quote!(#pat: #ty),
                },
                syn::FnArg::Receiver(_) => quote!(),
            }
        })
        .collect();
    let args_in: Vec<&syn::Ident> = sig.params.iter().map(|p| &p.ident).collect();
    let all_grads: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|p| {
            if p.active {
                tangent(&p.ty)
            } else {
                quote!(#rt::__private::NotDifferentiated)
            }
        })
        .collect();
    // The owning variant captures no lifetime: its signature names the same
    // tangent types with every lifetime made 'static.
    let owned_grads: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|p| {
            if p.active {
                tangent(&static_lifetimes(&p.ty))
            } else {
                quote!(#rt::__private::NotDifferentiated)
            }
        })
        .collect();
    let owned_out = static_lifetimes(out);
    let owned_ct = tangent_type(rt, &owned_out);
    let active: Vec<usize> = (0..sig.params.len())
        .filter(|i| sig.params[*i].active)
        .collect();
    let grads = if active.len() == 1 {
        tangent(&sig.params[active[0]].ty)
    } else {
        let each = active.iter().map(|i| tangent(&sig.params[*i].ty));
        quote!((#(#each),*))
    };
    let names: Vec<syn::Ident> = (0..sig.params.len())
        .map(|i| format_ident!("__ad_g{}", i))
        .collect();
    let patterns = sig
        .params
        .iter()
        .zip(&names)
        .map(|(p, n)| if p.active { quote!(#n) } else { quote!(_) });
    let picked: Vec<&syn::Ident> = active.iter().map(|i| &names[*i]).collect();
    let result = if picked.len() == 1 {
        quote!(#(#picked)*)
    } else {
        quote!((#(#picked),*))
    };
    let wrt_list = active
        .iter()
        .map(|i| format!("`{}`", sig.params[*i].ident))
        .collect::<Vec<_>>()
        .join(", ");
    let doc_module = format!(
        "Derivatives of [`{name}`](fn@{name}), generated by `#[differentiable]` (with respect to {wrt_list})."
    );
    let doc_vjp = format!(
        "The value of [`{name}`](fn@{name}) and its pullback: given the cotangent of the output, the pullback returns the gradient with respect to {wrt_list}. It consumes what the forward pass saved, so it can be called once; see [`vjp_retained`] to call it again."
    );
    let doc_grad = format!(
        "The gradient of [`{name}`](fn@{name}) with respect to {wrt_list} (the output must be a scalar: an `f64` or a one-element `Tensor`)."
    );
    // Lint levels on the module apply to all its items; beside a method,
    // each generated item carries them.
    let allow = quote!(#[allow(unused, non_snake_case, clippy::all)]);
    let receiver = match shape {
        Shape::Method(r) => Some(r),
        Shape::Module => None,
    };
    let item_allow = match receiver {
        Some(_) => allow.clone(),
        None => TokenStream::new(),
    };
    // Names of the generated items, and how they call each other.
    let named = |item: &str| -> syn::Ident {
        match receiver {
            Some(_) if item.starts_with("__ad_") => format_ident!("__ad_{}_{}", name, &item[5..]),
            Some(_) => format_ident!("{}_{}", name, item),
            None => format_ident!("{}", item),
        }
    };
    let (vjp_all, vjp_owned, vjp, vjp_retained, grad, value_and_grad) = (
        named("__ad_vjp_all"),
        named("__ad_vjp_owned"),
        named("vjp"),
        named("vjp_retained"),
        named("grad"),
        named("value_and_grad"),
    );
    let call = |item: &syn::Ident| match receiver {
        Some(_) => quote!(Self::#item),
        None => quote!(#item),
    };
    // Without borrowed parameters, lifetimes or type parameters the borrowing
    // pullback would be the owning one: the body is emitted once.
    let single = owns_everything(sig);
    let call_all = if single {
        call(&vjp_owned)
    } else {
        call(&vjp_all)
    };
    let call_vjp = call(&vjp);

    // A method's public functions take the receiver as written, and pass it on.
    let (params, args): (Vec<TokenStream>, Vec<TokenStream>) = match receiver {
        Some(r) => {
            // `self: &'l Self`, with the lifetime the pullback captures named.
            let ty = &sig.params[0].ty;
            let mutability = &r.mutability;
            let first = quote!(#mutability self: #ty);
            let mut params = vec![first];
            params.extend(params_in.iter().skip(1).cloned());
            let mut args = vec![quote!(self)];
            args.extend(args_in.iter().skip(1).map(|a| quote!(#a)));
            (params, args)
        }
        None => (
            params_in.clone(),
            args_in.iter().map(|a| quote!(#a)).collect(),
        ),
    };
    // The runtime's entry helpers: `__ad` in the module (imported there),
    // the full path beside a method.
    let private = match receiver {
        Some(_) => quote!(#rt::__private),
        None => quote!(__ad),
    };
    // Forward mode where it is cheaper (one `f64` in, one out).
    let (grad_body, value_and_grad_body) = match &extra.forward_grad {
        Some((g, vg)) => (g.clone(), vg.clone()),
        None => (
            quote!(#private::grad(#call_vjp(#(#args),*))),
            quote!(#private::value_and_grad(#call_vjp(#(#args),*))),
        ),
    };
    let inline = extra.inline.then(|| quote!(#[inline]));
    let hidden = extra.inline.then(|| quote!(#[doc(hidden)]));
    let extra_items = &extra.items;
    // A module made for second derivatives holds the owning pullback only.
    if extra.inline {
        return quote!(
            #[doc(hidden)]
            #allow
            #vis mod #name {
                use super::*;
                #[doc(hidden)]
                #[inline]
                pub fn #vjp_owned #generics (#(#original),*) -> (#out, impl ::core::ops::FnOnce(#owned_ct) -> (#(#owned_grads,)*) + ::core::clone::Clone #owned_captures) #owned_where {
                    #owned_body
                }
            }
        );
    }
    let borrowing = (!single).then(|| {
        quote!(
            #[doc(hidden)]
            #item_allow
            #inline
            pub fn #vjp_all #generics (#(#original),*) -> (#out, impl ::core::ops::FnOnce(#ct) -> (#(#all_grads,)*) + ::core::clone::Clone #captures) #where_clause {
                #vjp_body
            }
        )
    });
    let items = quote!(
        #borrowing

        // What another differentiable function calls: the pullback owns
        // what it reads, so it may outlive the caller's locals it was given.
        #[doc(hidden)]
        #item_allow
        #inline
        pub fn #vjp_owned #generics (#(#original),*) -> (#out, impl ::core::ops::FnOnce(#owned_ct) -> (#(#owned_grads,)*) + ::core::clone::Clone #owned_captures) #owned_where {
            #owned_body
        }

        #[doc = #doc_vjp]
        #inline
        pub fn #vjp #generics (#(#params),*) -> (#out, impl ::core::ops::FnOnce(#ct) -> #grads + ::core::clone::Clone #captures) #where_clause {
            #private::vjp(#call_all(#(#args),*), |(#(#patterns,)*)| #result)
        }

        /// Like the `vjp`, but the pullback can be called any number of times
        /// (PyTorch's `retain_graph=True`); each call gives the same result.
        #inline
        pub fn #vjp_retained #generics (#(#params),*) -> (#out, impl ::core::ops::Fn(#ct) -> #grads + ::core::clone::Clone #captures) #where_clause {
            #private::retained(#call_vjp(#(#args),*))
        }

        #[doc = #doc_grad]
        #inline
        pub fn #grad #generics (#(#params),*) -> #grads #where_clause {
            #grad_body
        }

        /// The value and the gradient together, for the price of one gradient.
        #inline
        pub fn #value_and_grad #generics (#(#params),*) -> (#out, #grads) #where_clause {
            #value_and_grad_body
        }

        #extra_items
    );
    if let Some(r) = receiver {
        // What a differentiable function calls for `self.layer.m(..)` or
        // `net.m(..)`, where the receiver's type is not written: the owning
        // pullback as a method, so that method resolution finds it. Its name
        // is what rustc reports when the method is not differentiable.
        let ty = &sig.params[0].ty;
        let mutability = &r.mutability;
        let by_method = format_ident!(
            "mark_{}_with_differentiable_or_wrap_the_receiver_in_stop_gradient",
            syn::ext::IdentExt::unraw(name)
        );
        let rest_params = original.iter().skip(1);
        let rest_args = args_in.iter().skip(1);
        let by_method_item = quote!(
            #[doc(hidden)]
            #item_allow
            #[inline(always)]
            pub fn #by_method #generics (#mutability self: #ty, #(#rest_params),*) -> (#out, impl ::core::ops::FnOnce(#owned_ct) -> (#(#owned_grads,)*) + ::core::clone::Clone #owned_captures) #owned_where {
                Self::#vjp_owned(self, #(#rest_args),*)
            }
        );
        let items = quote!(#items #by_method_item);
        // Beside the method, in its impl block; with its visibility.
        let vis_items = items.into_iter().map(|tt| match &tt {
            proc_macro2::TokenTree::Ident(i) if i == "pub" => vis.to_token_stream(),
            _ => tt.into(),
        });
        let items: TokenStream = vis_items.collect();
        return items;
    }
    let record = if type_generics.is_empty() {
        record(sig, &generics, &names)
    } else {
        TokenStream::new()
    };
    quote!(
        #[doc = #doc_module]
        #hidden
        #allow
        #vis mod #name {
            use super::*;
            use #rt::__private as __ad;
            #items
            #record
        }
    )
}

/// The gradient type of `ty`: `f64` for an `f64` (written out, so that the
/// generated signatures read as the user's), else `<ty as Differentiable>::Tangent`.
pub fn tangent_type(rt: &TokenStream, ty: &syn::Type) -> TokenStream {
    if crate::signature::is_f64(ty) {
        quote!(f64)
    } else {
        quote!(<#ty as #rt::Differentiable>::Tangent)
    }
}

/// No borrowed parameter, lifetime or type parameter: the pullback that
/// borrows its parameters and the one that owns them are the same code (and
/// the owning one serves both).
pub fn owns_everything(sig: &Signature) -> bool {
    struct Borrows(bool);
    impl<'ast> syn::visit::Visit<'ast> for Borrows {
        fn visit_type_reference(&mut self, _: &'ast syn::TypeReference) {
            self.0 = true;
        }
        fn visit_lifetime(&mut self, _: &'ast syn::Lifetime) {
            self.0 = true;
        }
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut borrows = Borrows(!sig.lifetimes.is_empty() || !sig.type_generics.is_empty());
    for p in &sig.params {
        syn::visit::Visit::visit_type(&mut borrows, &p.ty);
    }
    syn::visit::Visit::visit_type(&mut borrows, &sig.output);
    !borrows.0
}

/// The type with every lifetime replaced by `'static`.
pub fn static_lifetimes(ty: &syn::Type) -> syn::Type {
    struct Static;
    impl syn::visit_mut::VisitMut for Static {
        fn visit_lifetime_mut(&mut self, l: &mut syn::Lifetime) {
            *l = syn::Lifetime::new("'static", l.apostrophe);
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Static, &mut ty);
    ty
}

/// How a parameter crosses into the graph layer: the owned type a `Var`'s
/// tensor converts to, and whether the function borrows it.
struct GraphParam {
    owned: TokenStream,
    borrowed: bool,
}

fn is_named(ty: &syn::Type, names: &[&str]) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| names.contains(&s.ident.to_string().as_str())
            && matches!(s.arguments, syn::PathArguments::None)))
}

fn is_vec_of(ty: &syn::Type, names: &[&str]) -> bool {
    let syn::Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    if last.ident != "Vec" {
        return false;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => {
            a.args.len() == 1
                && matches!(&a.args[0], syn::GenericArgument::Type(t) if is_named(t, names))
        }
        _ => false,
    }
}

const PRIMITIVES: &[&str] = &[
    "f64", "f32", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
    "usize", "bool", "char",
];

/// The graph layer holds tensors: a parameter qualifies if it is (a borrow
/// of) `f64`, `Tensor` or `Vec<f64>` when differentiated, or a primitive, a
/// slice or `Vec` of primitives, `str` or `Tensor` when not.
fn graph_param(ty: &syn::Type, active: bool) -> Option<GraphParam> {
    let owned_value = |t: &syn::Type| -> Option<TokenStream> {
        if active {
            (is_named(t, &["f64", "Tensor"]) || is_vec_of(t, &["f64"])).then(|| quote!(#t))
        } else {
            (is_named(t, PRIMITIVES) || is_named(t, &["Tensor"]) || is_vec_of(t, PRIMITIVES))
                .then(|| quote!(#t))
        }
    };
    match ty {
        syn::Type::Reference(r) if r.mutability.is_none() => {
            let owned = match &*r.elem {
                syn::Type::Slice(s)
                    if (active && is_named(&s.elem, &["f64"]))
                        || (!active && is_named(&s.elem, PRIMITIVES)) =>
                {
                    let elem = &s.elem;
                    quote!(::std::vec::Vec<#elem>)
                }
                t if !active && is_named(t, &["str"]) => quote!(::std::string::String),
                t => owned_value(t)?,
            };
            Some(GraphParam {
                owned,
                borrowed: true,
            })
        }
        t => owned_value(t).map(|owned| GraphParam {
            owned,
            borrowed: false,
        }),
    }
}

/// `record(..) -> Var`: one node of the PyTorch-style graph whose backward is
/// this function's generated pullback.
fn record(sig: &Signature, generics: &TokenStream, names: &[syn::Ident]) -> TokenStream {
    let rt = &sig.runtime;
    let graph = quote!(#rt::graph);
    let out = &sig.output;
    if !(is_named(out, &["f64", "Tensor"]) || is_vec_of(out, &["f64"])) {
        return TokenStream::new();
    }
    let mut params = Vec::new();
    let mut conversions = Vec::new();
    let mut call_args = Vec::new();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for (p, g) in sig.params.iter().zip(names) {
        let Some(gp) = graph_param(&p.ty, p.active) else {
            return TokenStream::new();
        };
        let (ident, ty, owned) = (&p.ident, &p.ty, &gp.owned);
        let held = format_ident!("__ad_held_{}", ident);
        if p.active {
            params.push(quote!(#ident: &#graph::Var));
            conversions.push(quote!(let #held: #owned = <#owned as #graph::GraphValue>::from_tensor(&#ident.data());));
            inputs.push(quote!(::core::clone::Clone::clone(#ident)));
            outputs.push(quote!(#graph::GraphValue::into_tensor(#g)));
        } else {
            params.push(quote!(#ident: #ty));
            if gp.borrowed {
                conversions
                    .push(quote!(let #held: #owned = ::std::borrow::ToOwned::to_owned(#ident);));
            } else {
                conversions.push(quote!(let #held: #owned = #ident;));
            }
        }
        call_args.push(if gp.borrowed {
            quote!(&#held)
        } else {
            quote!(::core::clone::Clone::clone(&#held))
        });
    }
    let patterns = sig
        .params
        .iter()
        .zip(names)
        .map(|(p, n)| if p.active { quote!(#n) } else { quote!(_) });
    let name = &sig.name;
    let label = name.to_string();
    let doc = format!(
        "Calls [`{label}`](fn@{label}) on graph values, recording one node whose backward is its generated pullback (PyTorch-style use: `.backward()`, `.grad()`)."
    );
    quote!(
        #[doc = #doc]
        pub fn record #generics (#(#params),*) -> #graph::Var {
            #(#conversions)*
            __ad::record(
                #label,
                __ad_vjp_owned(#(#call_args),*),
                ::std::vec![#(#inputs),*],
                |(#(#patterns,)*)| ::std::vec![#(#outputs),*],
            )
        }
    )
}

#[cfg(test)]
mod tests {
    use super::expand;
    use quote::quote;

    /// Odd, partly invalid functions: the macro must answer each with code
    /// (perhaps a compile error), never with a panic, and what it answers must
    /// still parse as Rust items.
    #[test]
    fn never_panics_on_user_input() {
        let cases = [
            quote!(
                fn f(x: f64) -> f64 {
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {}
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    return x;
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    loop {}
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    break;
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    'a: loop {
                        break 'b;
                    }
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    continue;
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let _ = x;
                    let (a, _) = (x, x);
                    a
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let S { a, .. } = s;
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    match x {
                        y if y > 0.0 => y,
                        _ => -x,
                    }
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    if let Some(v) = o {
                        v
                    } else if let Ok(w) = r {
                        w
                    } else {
                        x
                    }
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    for _ in (0..3).rev() {}
                    for i in 0..=3 {
                        let _ = i;
                    }
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let c = || x;
                    async { x };
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    const K: f64 = 2.0;
                    fn g() {}
                    x * K
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    #[allow(unused)]
                    let y = x;
                    y
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    ((x as i32) as f64) * -x + !true as i32 as f64
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    x.sin().cos().exp().ln().sqrt().abs()
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    x.unknown().method(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    (x, x).0
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    [x][0]
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    S { a: x }.a
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    x?
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    unsafe { x }
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let y;
                    if x > 0.0 {
                        y = x
                    } else {
                        y = -x
                    }
                    y
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let mut y = x;
                    y += y;
                    y -= 1.0;
                    y *= y;
                    y /= 2.0;
                    y %= 3.0;
                    y
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    g(x, x)(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    (g)(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    <f64 as Tr>::g(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    r#type(x) + r#match::g(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    m!(x) + n![x]
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    'a: { break 'a x }
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let z = loop {
                        break x;
                    };
                    z
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let Some(y) = Some(x) else { panic!() };
                    y
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    while let Some(_) = None::<u8> {
                        return x;
                    }
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    if x > 0.0 { return x } else { panic!("no") }
                }
            ),
            quote!(
                fn f(x: &mut f64) -> f64 {
                    *x
                }
            ),
            quote!(
                fn f(x: impl Fn()) -> f64 {
                    0.0
                }
            ),
            quote!(
                fn f<T>(x: T) -> T {
                    x
                }
            ),
            quote!(
                fn f<'a>(x: &'a [f64], y: &'_ Tensor) -> f64 {
                    x[0]
                }
            ),
            quote!(
                fn f(self) -> f64 {
                    0.0
                }
            ),
            quote!(
                fn f((a, b): (f64, f64)) -> f64 {
                    a
                }
            ),
            quote!(
                fn f(x: f64) {}
            ),
            quote!(
                fn f(n: usize) -> f64 {
                    0.0
                }
            ),
            quote!(
                async unsafe extern "C" fn f(x: f64) -> f64 {
                    x
                }
            ),
            quote!(
                struct S;
            ),
            quote!(),
        ];
        let attributes = [
            quote!(),
            quote!(wrt(x)),
            quote!(wrt(nope)),
            quote!(crate = ::x),
            quote!(what),
            quote!(wrt),
        ];
        for (i, case) in cases.iter().enumerate() {
            for attr in &attributes {
                let out = std::panic::catch_unwind(|| expand(attr.clone(), case.clone()))
                    .unwrap_or_else(|_| {
                        panic!("case {i} panicked: #[differentiable({attr})] {case}")
                    });
                syn::parse2::<syn::File>(out.clone())
                    .unwrap_or_else(|e| panic!("case {i}: output does not parse ({e}): {out}"));
            }
        }
    }
}

/// Expansion snapshots: each `tests/expand/<case>.rs` (one function with its
/// attribute) is expanded and pretty-printed into `<case>.expanded.rs`
/// beside it, so that a change in what the macro emits shows in review.
/// `UPDATE_EXPAND=1 cargo test -p autodiff-macros snapshots` rewrites them.
#[cfg(test)]
mod snapshots {
    use super::expand;
    use std::path::Path;

    #[test]
    fn snapshots() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/expand");
        let update = std::env::var_os("UPDATE_EXPAND").is_some();
        let mut cases: Vec<_> = std::fs::read_dir(&dir)
            .expect("tests/expand exists")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "rs")
                    && !p.to_string_lossy().ends_with(".expanded.rs")
            })
            .collect();
        cases.sort();
        assert!(cases.len() >= 6, "expected the six snapshot cases");
        let mut stale = Vec::new();
        let mut ratios = Vec::new();
        for case in cases {
            let source = std::fs::read_to_string(&case).expect("readable case");
            let file: syn::File = syn::parse_str(&source).expect("a case parses");
            let syn::Item::Fn(mut func) = file.items.into_iter().next().expect("one function")
            else {
                panic!("{}: expected a function", case.display());
            };
            let attr = func.attrs.remove(0);
            let args = match attr.meta {
                syn::Meta::List(l) => l.tokens,
                _ => proc_macro2::TokenStream::new(),
            };
            let out = expand(args, quote::ToTokens::to_token_stream(&func));
            let pretty = crate::show::pretty(&out);
            let expected_path = case.with_extension("expanded.rs");
            let lines_in = source.lines().count();
            let lines_out = pretty.lines().count();
            ratios.push(format!(
                "{}: {lines_in} → {lines_out} lines ({:.1}×)",
                case.file_stem().unwrap().to_string_lossy(),
                lines_out as f64 / lines_in as f64
            ));
            if update {
                std::fs::write(&expected_path, &pretty).expect("writable snapshot");
                continue;
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if expected != pretty {
                stale.push(expected_path.display().to_string());
            }
        }
        eprintln!("{}", ratios.join("\n"));
        assert!(
            stale.is_empty(),
            "the macro's expansion changed for {stale:?}: review the difference, then rewrite them with UPDATE_EXPAND=1 cargo test -p autodiff-macros snapshots"
        );
    }

    /// The functions of tests/eager_loops.rs: those the file says are
    /// reversed inside their forward are, the others are not (that suite
    /// checks the gradients of both).
    #[test]
    fn eager_loops_are_planned_as_the_suite_says() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/eager_loops.rs");
        let source = std::fs::read_to_string(path).expect("tests/eager_loops.rs");
        let eager = [
            "rosenbrock",
            "minus_and_set",
            "branches_scratch_calls",
            "while_loop",
            "tensor_rows",
            "laplacian",
            "guarded_neighbour",
            "smoothness",
            "sample_loss",
        ];
        let carried = [
            "rosenbrock",
            "minus_and_set",
            "laplacian",
            "guarded_neighbour",
            "smoothness",
        ];
        let ordinary = [
            "reads_accumulator",
            "two_carried",
            "product",
            "reset_inside",
            "early_break",
        ];
        let file: syn::File = syn::parse_str(&source).expect("the suite parses");
        let mut seen = Vec::new();
        for item in file.items {
            let syn::Item::Fn(mut func) = item else {
                continue;
            };
            let name = func.sig.ident.to_string();
            if !eager.contains(&name.as_str()) && !ordinary.contains(&name.as_str()) {
                continue;
            }
            func.attrs.retain(|a| !a.path().is_ident("differentiable"));
            let out = expand(
                proc_macro2::TokenStream::new(),
                quote::ToTokens::to_token_stream(&func),
            )
            .to_string();
            assert!(!out.contains("compile_error"), "{name}: {out}");
            assert_eq!(
                out.contains("acc_scaled"),
                eager.contains(&name.as_str()),
                "{name}: eager as the suite says"
            );
            assert_eq!(
                out.contains("__ad_cy"),
                carried.contains(&name.as_str()),
                "{name}: neighbours carried as the suite says"
            );
            seen.push(name);
        }
        assert_eq!(
            seen.len(),
            eager.len() + ordinary.len(),
            "every function found: {seen:?}"
        );
    }
}
