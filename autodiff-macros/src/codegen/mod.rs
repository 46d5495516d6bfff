//! Stage 5: emission. The [`Plan`](crate::plan::Plan) has decided everything;
//! `emit_reverse` writes the reverse pass (each site's adjoint, statements
//! backwards, control flow retraced from what the forward recorded) and
//! `emit_forward` the forward pass (the body as written, plus the records
//! and saves the plan asks for). This file assembles the two into the
//! pullback's body and holds what both emit (slots, assignments).

mod emit_forward;
mod emit_reverse;

use crate::ir::*;
use crate::plan::{Plan, Slot};
use crate::signature::Signature;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub struct Gen<'a> {
    plan: &'a Plan<'a>,
    sig: &'a Signature,
    body: &'a Body,
    rt: TokenStream,
    /// Loops being reversed, innermost last.
    current_loop: Vec<LoopId>,
    /// The pullback owns its parameters (kept like saved values) instead of
    /// borrowing them: the variant another differentiable function calls, so
    /// that arguments borrowed from its locals do not outlive it.
    owned: bool,
    /// Emitting the forward of a checkpointed loop's first run: the code as
    /// written, nothing taped (the reverse runs it again, taped).
    plain_mode: bool,
}

fn slot(site: usize) -> syn::Ident {
    format_ident!("__ad_s{}", site)
}

/// A walked-back counter's value in the reverse.
fn counter_var(id: BindId) -> syn::Ident {
    format_ident!("__ad_wb{}", id)
}

/// The shape a fixed-length vector was declared with.
fn fixed_len_var(id: BindId) -> syn::Ident {
    format_ident!("__ad_len{}", id)
}

/// The copy of vector `id` kept at the entry of loop `l`.
fn loop_frozen_var(l: LoopId, id: BindId) -> syn::Ident {
    format_ident!("__ad_fzl{}_{}", l, id)
}

/// The buffer of an eager loop summing binding `id`'s cotangent.
fn eager_buffer(id: BindId) -> syn::Ident {
    format_ident!("__ad_eg{}", id)
}

/// Whether eager loop `l` ran an iteration.
fn eager_ran(l: LoopId) -> syn::Ident {
    format_ident!("__ad_ran{}", l)
}

/// The copy of a frozen vector's final value.
fn frozen_var(id: BindId) -> syn::Ident {
    format_ident!("__ad_fz{}", id)
}

fn adjoint(body: &Body, id: BindId) -> syn::Ident {
    body.adjoints[id].clone()
}

fn unreachable_tape() -> TokenStream {
    quote!(::core::unreachable!(
        "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
    ))
}

impl<'a> Gen<'a> {
    pub fn new(plan: &'a Plan<'a>, owned: bool) -> Self {
        Gen {
            plan,
            sig: plan.sig,
            body: plan.body,
            rt: plan.sig.runtime.clone(),
            current_loop: Vec::new(),
            owned,
            plain_mode: false,
        }
    }

    /// The runtime's items for generated code, under the short name the
    /// pullback's body imports them as (`use <rt>::__private as __ad`).
    fn private(&self) -> TokenStream {
        quote!(__ad)
    }

    fn push_slot(&self, site: usize, value: TokenStream) -> TokenStream {
        let s = slot(site);
        let private = self.private();
        match self.plan.slots.get(&site) {
            // The first push takes a spare vector from the thread's pool.
            Some(Slot::Stack) => quote!({
                let __ad_v = #value;
                if #s.capacity() == 0 {
                    (&#private::Refill::new(&mut #s, &__ad_v)).refill();
                }
                #s.push(__ad_v);
            }),
            Some(Slot::Record) => quote!(#s = #value;),
            _ => quote!(#s = ::core::option::Option::Some(#value);),
        }
    }

    /// What the reverse reads back from a site's slot (popped from a stack,
    /// taken from an `Option`, or the record itself).
    fn slot_value(&self, site: usize) -> TokenStream {
        let s = slot(site);
        let private = self.private();
        match self.plan.slots.get(&site) {
            Some(Slot::Stack) => quote!(#private::pop(&mut #s)),
            Some(Slot::Record) => quote!(#s),
            _ => quote!(#private::take_once(&mut #s)),
        }
    }

    fn pop_slot(&self, site: usize, pattern: TokenStream) -> TokenStream {
        let value = self.slot_value(site);
        quote!(let #pattern = #value;)
    }

    /// Binds a parameter under its own name inside a site's reverse.
    fn param_rebind(&self, index: usize, ident: &syn::Ident) -> TokenStream {
        let saved = self.sig.param_ident(index);
        if self.owned {
            let private = self.private();
            quote!(let #ident = #private::restore(&#saved);)
        } else {
            quote!(let #ident = ::core::clone::Clone::clone(&#saved);)
        }
    }

    /// What a binding's adjoint is declared with: `: type = value`, or
    /// `= value` where its uses fix the type.
    /// `buffer`: an eager loop's buffer, written by index if dense.
    fn adjoint_init(&self, id: BindId, buffer: bool) -> TokenStream {
        let (sig, rt, private) = (self.sig, &self.rt, self.private());
        let dense = self.plan.dense.contains(&id) && (buffer || !self.plan.buffered.contains(&id));
        match self.body.bindings[id].param {
            // Zeros of the parameter's length, written by index.
            Some(p) if dense => {
                let ty = crate::expand::static_lifetimes(&sig.params[p].ty);
                let saved = sig.param_ident(p);
                let len = if self.owned {
                    quote!(#private::restore(&#saved).len())
                } else {
                    quote!(#saved.len())
                };
                quote!(: <#ty as #rt::Differentiable>::Tangent = ::std::vec![0.0; #len])
            }
            // Typed, so that `p̄.field` can be written into.
            Some(p) => {
                let ty = crate::expand::static_lifetimes(&sig.params[p].ty);
                let tangent = crate::expand::tangent_type(rt, &ty);
                quote!(: #tangent = #private::zero())
            }
            None if self.plan.f64s[id] => quote!(: f64 = #private::zero()),
            None => quote!(= #private::zero()),
        }
    }

    /// The pullback's body: the forward, then the closure running the
    /// reverse.
    pub fn generate(mut self) -> TokenStream {
        let plan = self.plan;
        let reverse = self.rev_block(&self.body.block, crate::plan::Region::Top);
        let forward = self.fwd_top_block(&self.body.block);
        let private = self.private();
        let rt = &self.rt;
        let sig = self.sig;

        let slot_decls = plan.slots.iter().map(|(site, kind)| {
            let s = slot(*site);
            match kind {
                Slot::Stack => quote!(let mut #s = ::std::vec::Vec::new();),
                Slot::Once => quote!(let mut #s = ::core::option::Option::None;),
                Slot::Record => quote!(let mut #s = ::core::default::Default::default();),
            }
        });
        let meta_tape_decls = plan
            .meta_tapes
            .iter()
            .map(|t| quote!(let mut #t = ::core::default::Default::default();));
        let checkpoint_decls: Vec<TokenStream> = plan
            .loops
            .iter()
            .enumerate()
            .filter(|(_, l)| l.checkpointed)
            .map(|(l, _)| {
                let s = format_ident!("__ad_ck{}", l);
                quote!(let mut #s = ::std::vec::Vec::new();)
            })
            .collect();
        let status_decls = plan
            .loops
            .iter()
            .enumerate()
            .filter(|(_, l)| l.exits == crate::plan::ExitRecord::Stack)
            .map(|(l, _)| {
                let s = format_ident!("__ad_x{}", l);
                quote!(let mut #s: ::std::vec::Vec<u32> = ::std::vec::Vec::new();)
            });
        let forward = if self.body.has_return {
            quote!(let mut __ad_ret: u32 = 0; '__ad_body: { #forward })
        } else {
            forward
        };

        // Parameters: cloned on entry when the reverse reads them (their
        // gradient's shape, or a value a rule needs).
        let mut clones = Vec::new();
        for (index, p) in sig.params.iter().enumerate() {
            if p.active || plan.params_read.contains(&index) {
                let ident = &p.ident;
                let saved = sig.param_ident(index);
                let mutable_borrow =
                    matches!(&p.ty, syn::Type::Reference(r) if r.mutability.is_some());
                clones.push(if mutable_borrow {
                    // `&mut` (the body may write through it): what it held on
                    // entry, as a shared borrow kept by copy.
                    quote!(let #saved = (&#private::Keep(&&*#ident)).keep();)
                } else if self.owned {
                    quote!(let #saved = (&#private::Keep(&#ident)).keep();)
                } else {
                    quote!(let #saved = ::core::clone::Clone::clone(&#ident);)
                });
            }
        }
        let adjoint_decls = self
            .body
            .bindings
            .iter()
            .enumerate()
            .filter(|(_, b)| b.active || b.param.is_some_and(|p| sig.params[p].active))
            // Declared inside an eager loop: its adjoint lives in the forward.
            .filter(|(id, _)| {
                !plan
                    .loops
                    .iter()
                    .any(|lp| lp.eager.as_ref().is_some_and(|e| e.locals.contains(id)))
            })
            .map(|(id, _)| {
                let d = adjoint(self.body, id);
                let init = self.adjoint_init(id, false);
                quote!(let mut #d #init;)
            });
        let results = sig.params.iter().enumerate().map(|(index, p)| {
            if p.active {
                let id = self
                    .body
                    .bindings
                    .iter()
                    .position(|b| b.param == Some(index))
                    .expect("every parameter has a binding");
                let d = adjoint(self.body, id);
                let saved = sig.param_ident(index);
                let mutable_borrow =
                    matches!(&p.ty, syn::Type::Reference(r) if r.mutability.is_some());
                if self.owned || mutable_borrow {
                    quote!(#private::finish(#d, &#private::restore(&#saved)))
                } else {
                    quote!(#private::finish(#d, &#saved))
                }
            } else {
                quote!(#private::NotDifferentiated)
            }
        });
        let output = crate::expand::tangent_type(rt, &sig.output);
        // Stacks given back to the thread's pool once the reverse is done.
        let give_backs: Vec<TokenStream> = plan
            .slots
            .iter()
            .filter(|(_, k)| **k == Slot::Stack)
            .map(|(site, _)| {
                let s = slot(*site);
                quote!((&#private::GiveBack::new(&mut #s)).give_back();)
            })
            .collect();
        quote!(
            use #rt::__private::{
                self as __ad, GiveBackAny as _, GiveBackPooled as _, KeepBorrowed as _,
                KeepOwned as _, RefillAny as _, RefillPooled as _,
            };
            #(#clones)*
            #(#slot_decls)*
            #(#meta_tape_decls)*
            #(#status_decls)*
            #(#checkpoint_decls)*
            let __ad_out;
            #forward
            (__ad_out, move |mut __ad_d_out: #output| {
                #(#adjoint_decls)*
                #reverse
                #(#give_backs)*
                (#(#results,)*)
            })
        )
    }
}

/// The statement that stores `value` into the site's targets.
/// For `x op= rhs`, `value` is the code of `rhs`.
fn assignment(body: &Body, a: &Assign, value: TokenStream, index: TokenStream) -> TokenStream {
    match &a.kind {
        AssignKind::Element { base, op, push, .. } => {
            let base = &body.bindings[*base].ident;
            match (op, push) {
                (_, true) => quote!(#base.push(#value);),
                (Some(op), _) => quote!(#base[#index] #op #value;),
                (None, _) => quote!(#base[#index] = #value;),
            }
        }
        AssignKind::Let { pattern, .. } => quote!(let #pattern = #value;),
        AssignKind::Set => {
            let ident = target_ident(body, a);
            quote!(#ident = #value;)
        }
        AssignKind::Compound { op } => {
            let ident = target_ident(body, a);
            quote!(#ident #op #value;)
        }
        AssignKind::Out => quote!(__ad_out = #value;),
        AssignKind::Opaque { tokens } => tokens.clone(),
    }
}

fn target_ident(body: &Body, a: &Assign) -> TokenStream {
    match a.targets.first() {
        Some(Some(Target::Bind(id))) => {
            let ident = &body.bindings[*id].ident;
            quote!(#ident)
        }
        _ => quote!(__ad_out),
    }
}
