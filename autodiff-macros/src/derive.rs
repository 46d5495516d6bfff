//! `#[derive(Differentiable)]`: a struct whose fields carry gradients.
//!
//! The gradient of a struct is a value of the same struct (PyTorch users
//! think of a model's parameters as one object, JAX users of a pytree): each
//! differentiated field holds that field's gradient, and a `#[no_grad]`
//! field (a hyperparameter, data) holds its `Default` in a zero gradient and
//! is copied from the primal when the gradient is finished. Every
//! differentiated field's type must be its own gradient type (`f64`,
//! `Tensor`, `Vec<f64>`, `[f64; N]`, nalgebra's vectors and matrices,
//! another `#[derive(Differentiable)]` struct).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

pub fn derive(input: TokenStream) -> TokenStream {
    let item: syn::DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    match expand(&item) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

fn runtime(item: &syn::DeriveInput) -> syn::Result<TokenStream> {
    for attr in &item.attrs {
        if attr.path().is_ident("autodiff") {
            let mut path = None;
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    path = Some(meta.value()?.parse::<syn::Path>()?);
                    Ok(())
                } else {
                    Err(meta.error("expected `crate = path`"))
                }
            })?;
            if let Some(p) = path {
                return Ok(quote!(#p));
            }
        }
    }
    Ok(quote!(::autodiff))
}

fn expand(item: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let rt = runtime(item)?;
    let syn::Data::Struct(data) = &item.data else {
        return Err(syn::Error::new(
            item.ident.span(),
            "#[derive(Differentiable)] works on structs: write the enum's differentiable values as a struct",
        ));
    };
    let name = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let mut grads = Vec::new();
    let mut fixed = Vec::new();
    for (k, field) in data.fields.iter().enumerate() {
        let member: syn::Member = match &field.ident {
            Some(i) => syn::Member::Named(i.clone()),
            None => syn::Member::Unnamed(syn::Index::from(k)),
        };
        let no_grad = field.attrs.iter().any(|a| a.path().is_ident("no_grad"));
        if no_grad {
            fixed.push(member);
        } else {
            grads.push((member, field.ty.clone()));
        }
    }
    let d = |tokens: TokenStream| tokens;
    let zero_tangent = grads
        .iter()
        .map(|(m, _)| d(quote!(#m: #rt::Differentiable::zero_tangent(&self.#m))));
    let finish = grads
        .iter()
        .map(|(m, _)| quote!(#m: #rt::Differentiable::finish_tangent(&self.#m, d.#m)));
    let zeros = grads
        .iter()
        .map(|(m, _)| quote!(#m: #rt::Cotangent::zero()));
    let fixed_clone = fixed
        .iter()
        .map(|m| quote!(#m: ::core::clone::Clone::clone(&self.#m)));
    let fixed_clone2 = fixed
        .iter()
        .map(|m| quote!(#m: ::core::clone::Clone::clone(&self.#m)));
    let fixed_default = fixed
        .iter()
        .map(|m| quote!(#m: ::core::default::Default::default()));
    let symbolic = grads
        .iter()
        .map(|(m, _)| quote!(#rt::Cotangent::is_symbolic_zero(&self.#m)));
    let accumulate = grads
        .iter()
        .map(|(m, _)| quote!(#rt::Cotangent::accumulate(&mut self.#m, other.#m);));
    // Each differentiated field must be its own gradient type.
    let checks = grads
        .iter()
        .map(|(_, ty)| quote_spanned!(ty.span()=> #rt::__private::assert_own_tangent::<#ty>();));
    // `q.x` of a local the macro reads as a coordinate: the fields named
    // like nalgebra's coordinates are reachable by index.
    let components = grads.iter().filter_map(|(m, ty)| {
        let syn::Member::Named(ident) = m else {
            return None;
        };
        let k = ["x", "y", "z", "w"].iter().position(|c| ident == c)?;
        Some(quote!(
            impl #impl_generics #rt::__private::Component<#k> for #name #ty_generics #where_clause {
                type Field = #ty;
                fn component(t: &mut Self) -> &mut #ty {
                    &mut t.#m
                }
            }
        ))
    });
    let label = name.to_string();
    // What an optimiser walks (`optim::Parameters`) and the gradient checker
    // flattens (`gradcheck::Flat`): field by field, in declaration order.
    // Points and rotations have another gradient type: no such impls then.
    let walkable = grads.iter().all(|(_, ty)| walkable_type(ty));
    let walks = if walkable {
        let zip = grads
            .iter()
            .map(|(m, _)| quote!(#rt::optim::Parameters::zip_leaves(&self.#m, &other.#m, f);));
        let zip_mut = grads.iter().map(
            |(m, _)| quote!(#rt::optim::Parameters::zip_leaves_mut(&mut self.#m, &other.#m, f);),
        );
        let leaves = grads
            .iter()
            .map(|(m, _)| quote!(#rt::optim::Parameters::leaves_mut(&mut self.#m, f);));
        let flat_len = grads
            .iter()
            .map(|(m, _)| quote!(#rt::gradcheck::Flat::flat_len(&self.#m)));
        let write = grads
            .iter()
            .map(|(m, _)| quote!(#rt::gradcheck::Flat::write_flat(&self.#m, out);));
        let read = grads
            .iter()
            .map(|(m, _)| quote!(#m: #rt::gradcheck::Flat::read_flat(&self.#m, src)));
        let fixed_clone3 = fixed
            .iter()
            .map(|m| quote!(#m: ::core::clone::Clone::clone(&self.#m)));
        quote!(
            impl #impl_generics #rt::optim::Parameters for #name #ty_generics #where_clause {
                fn zip_leaves<__AdWalk: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut __AdWalk) {
                    #(#zip)*
                    let _ = (other, f);
                }
                fn zip_leaves_mut<__AdWalk: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut __AdWalk) {
                    #(#zip_mut)*
                    let _ = (other, f);
                }
                fn leaves_mut<__AdWalk: FnMut(&mut [f64])>(&mut self, f: &mut __AdWalk) {
                    #(#leaves)*
                    let _ = f;
                }
            }

            impl #impl_generics #rt::gradcheck::Flat for #name #ty_generics #where_clause {
                fn flat_len(&self) -> usize {
                    0 #(+ #flat_len)*
                }
                fn write_flat(&self, out: &mut ::std::vec::Vec<f64>) {
                    #(#write)*
                    let _ = out;
                }
                fn read_flat(&self, src: &mut &[f64]) -> Self {
                    let _ = &src;
                    #name { #(#read,)* #(#fixed_clone3,)* }
                }
            }
        )
    } else {
        TokenStream::new()
    };
    Ok(quote!(
        const _: () = {
            #[allow(dead_code)]
            fn __ad_fields_are_their_own_gradients #impl_generics () #where_clause {
                #(#checks)*
            }

            impl #impl_generics #rt::Differentiable for #name #ty_generics #where_clause {
                type Tangent = Self;
                fn zero_tangent(&self) -> Self {
                    #name { #(#zero_tangent,)* #(#fixed_clone,)* }
                }
                fn finish_tangent(&self, d: Self) -> Self {
                    #name { #(#finish,)* #(#fixed_clone2,)* }
                }
                fn seed_tangent(&self) -> Self {
                    ::core::panic!(
                        "grad can be implicitly created only for scalar outputs (the output is a `{}`: pass a gradient of that type to the pullback instead)",
                        #label
                    )
                }
            }

            impl #impl_generics #rt::Cotangent for #name #ty_generics #where_clause {
                fn zero() -> Self {
                    #name { #(#zeros,)* #(#fixed_default,)* }
                }
                fn is_symbolic_zero(&self) -> bool {
                    true #(&& #symbolic)*
                }
                fn accumulate(&mut self, other: Self) {
                    #(#accumulate)*
                    let _ = other;
                }
            }

            impl #impl_generics #rt::HasMeta for #name #ty_generics #where_clause {
                type Meta = #rt::__private::StructMeta<Self>;
                fn meta(&self) -> Self::Meta {
                    #rt::__private::StructMeta::new()
                }
            }

            #(#components)*

            #walks
        };
    ))
}

/// A field type whose gradient has its own type and so can be walked by an
/// optimiser (not nalgebra's points and rotations).
fn walkable_type(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) => p.path.segments.iter().all(|s| {
            let n = s.ident.to_string();
            !(n.starts_with("Point")
                || n.starts_with("Rotation")
                || n.starts_with("Unit")
                || n == "Isometry")
        }),
        syn::Type::Array(a) => walkable_type(&a.elem),
        syn::Type::Tuple(t) => t.elems.iter().all(walkable_type),
        _ => false,
    }
}
