//! The reverse pass: each block's statements backwards (each guarded so that
//! it runs only if the forward reached it), branches and trip counts popped
//! from what the forward recorded, counted `for` loops walked back, and per
//! site the cotangent pushed through the rules to the bindings below it —
//! all as the plan says.

use super::{Gen, adjoint, unreachable_tape};
use crate::ir::*;
use crate::plan::{
    Accumulate, ExitRecord, Kept, Obtain, Region, SitePlan, Trips, exits_ending_stmt,
};
use crate::rules::Need;
use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote};
use std::collections::HashSet;

/// Cotangent `g` of node i, to be read `uses` times: itself if it is a name
/// or read once (the rule's call is written where it is used), else bound
/// to `__ad_g<i>` first.
fn bind_once(i: usize, g: TokenStream, uses: usize) -> (TokenStream, Vec<TokenStream>) {
    let name = {
        let mut trees = g.clone().into_iter();
        matches!(
            (trees.next(), trees.next()),
            (Some(proc_macro2::TokenTree::Ident(_)), None)
        )
    };
    if name || uses <= 1 {
        (g, Vec::new())
    } else {
        let gi = format_ident!("__ad_g{}", i);
        (quote!(#gi), vec![quote!(let #gi = #g;)])
    }
}

/// An index always valid to evaluate: a name or a literal.
fn plain_name(index: &Ex) -> bool {
    match index {
        Ex::Var { .. } => true,
        Ex::Const { tokens } | Ex::Inactive { tokens, .. } => matches!(
            syn::parse2::<syn::Expr>(tokens.clone()),
            Ok(syn::Expr::Path(_) | syn::Expr::Lit(_))
        ),
        _ => false,
    }
}

/// The n-th carry of eager loop `l` and the index it is for.
pub(super) fn carry_var(l: LoopId, n: usize) -> syn::Ident {
    format_ident!("__ad_cy{}_{}", l, n)
}

pub(super) fn carry_index(l: LoopId, n: usize) -> syn::Ident {
    format_ident!("__ad_cyi{}_{}", l, n)
}

fn exit_var(region: Region) -> syn::Ident {
    match region {
        Region::Top => format_ident!("__ad_ret"),
        Region::Loop(l) => format_ident!("__ad_exit{}", l),
    }
}

impl Gen<'_> {
    /// Binds, under its own name, a value the reverse has without a save: a
    /// parameter, a `for` counter, or a `let` evaluated again from its recipe
    /// (in a block of its own, so the names it uses cannot clash).
    pub(super) fn rebind_leaf(&self, id: BindId) -> Option<TokenStream> {
        let b = &self.body.bindings[id];
        let ident = &b.ident;
        if self.plan.counters.contains_key(&id) {
            let var = super::counter_var(id);
            return Some(quote!(let #ident = #var;));
        }
        if self.plan.frozen.contains_key(&id) && b.recipe.is_none() {
            let var = super::frozen_var(id);
            let private = self.private();
            return Some(quote!(let #ident = #private::kept_ref(&#var);));
        }
        if crate::analyse::stable(b) {
            if let Some(p) = b.param {
                return Some(self.param_rebind(p, ident));
            }
            if let Some(l) = b.counter_of {
                let counter = format_ident!("__ad_ctr{}", l);
                return Some(quote!(let #ident = #counter;));
            }
        }
        let recipe = b.recipe.as_ref()?;
        let mut leaves = Vec::new();
        reads(recipe, &mut leaves);
        let mut seen = HashSet::new();
        let inner: Vec<TokenStream> = leaves
            .into_iter()
            .filter(|leaf| seen.insert(*leaf))
            .filter_map(|leaf| self.rebind_leaf(leaf))
            .collect();
        let value = plain(recipe);
        match &b.annotation {
            Some(ty) => Some(quote!(let #ident: #ty = { #(#inner)* #value };)),
            None => Some(quote!(let #ident = { #(#inner)* #value };)),
        }
    }

    /// Binds `roots` and, first, everything their recipes read, each once,
    /// in one scope: `None` when two of the names (or one of `bound`, names
    /// already bound there) would be the same for different bindings (then
    /// each recipe gets a block of its own, [`Self::rebind_leaf`]).
    fn rebind_flat(
        &self,
        roots: &[BindId],
        bound: &[(String, BindId)],
    ) -> Option<Vec<TokenStream>> {
        fn visit(body: &Body, id: BindId, seen: &mut HashSet<BindId>, order: &mut Vec<BindId>) {
            if !seen.insert(id) {
                return;
            }
            let b = &body.bindings[id];
            if let (false, Some(recipe)) = (crate::analyse::stable(b), &b.recipe) {
                let mut leaves = Vec::new();
                reads(recipe, &mut leaves);
                for leaf in leaves {
                    visit(body, leaf, seen, order);
                }
            }
            order.push(id);
        }
        let (mut seen, mut order) = (HashSet::new(), Vec::new());
        for id in roots {
            visit(self.body, *id, &mut seen, &mut order);
        }
        let mut names: std::collections::HashMap<String, BindId> = bound.iter().cloned().collect();
        for id in &order {
            let name = self.body.bindings[*id].ident.to_string();
            if *names.entry(name).or_insert(*id) != *id {
                return None;
            }
        }
        Some(
            order
                .into_iter()
                .filter_map(|id| {
                    let b = &self.body.bindings[id];
                    match &b.recipe {
                        Some(recipe) if !crate::analyse::stable(b) => {
                            let (ident, value) = (&b.ident, plain(recipe));
                            Some(match &b.annotation {
                                Some(ty) => quote!(let #ident: #ty = #value;),
                                None => quote!(let #ident = #value;),
                            })
                        }
                        _ => self.rebind_leaf(id),
                    }
                })
                .collect(),
        )
    }

    /// The reverse of a block: its statements backwards, each guarded so that
    /// it runs only if the forward reached it (no earlier statement exited).
    pub(super) fn rev_block(&mut self, block: &Block, region: Region) -> TokenStream {
        let code = self.rev_block_stmts(block, region);
        // Counters declared here and walked back: their value at the end.
        let mut pops = Vec::new();
        for stmt in &block.stmts {
            let Stmt::Assign(a) = stmt else { continue };
            for (id, c) in &self.plan.counters {
                if c.decl_site == a.site {
                    let var = super::counter_var(*id);
                    pops.push(self.pop_slot(crate::plan::counter_site(*id), quote!(mut #var)));
                }
            }
        }
        if pops.is_empty() {
            return code;
        }
        quote!(#(#pops)* #code)
    }

    /// `k += e` of a counter walked back: `k -= e` (`e` evaluated again).
    fn undo_counter(&self, a: &Assign) -> TokenStream {
        let Some(Some(Target::Bind(id))) = a.targets.first() else {
            return TokenStream::new();
        };
        let Some((plus, step)) = self
            .plan
            .counters
            .get(id)
            .and_then(|c| c.updates.get(&a.site))
        else {
            return TokenStream::new();
        };
        let mut rd = Vec::new();
        reads(step, &mut rd);
        let mut seen = HashSet::new();
        let rebinds: Vec<TokenStream> = rd
            .into_iter()
            .filter(|r| seen.insert(*r))
            .filter_map(|r| self.rebind_leaf(r))
            .collect();
        let var = super::counter_var(*id);
        let value = plain(step);
        if *plus {
            quote!(#var -= { #(#rebinds)* #value };)
        } else {
            quote!(#var += { #(#rebinds)* #value };)
        }
    }

    fn rev_block_stmts(&mut self, block: &Block, region: Region) -> TokenStream {
        let mut parts = Vec::new();
        for (k, stmt) in block.stmts.iter().enumerate().rev() {
            let code = self.rev_stmt(stmt);
            if code.is_empty() {
                continue;
            }
            let mut earlier = Vec::new();
            for s in &block.stmts[..k] {
                exits_ending_stmt(s, region, self.body, &mut earlier);
            }
            if earlier.is_empty() {
                parts.push(code);
            } else {
                let var = exit_var(region);
                let ids = earlier
                    .iter()
                    .map(|id| proc_macro2::Literal::u32_unsuffixed(*id));
                parts.push(quote!(if !::core::matches!(#var, #(#ids)|*) { #code }));
            }
        }
        quote!(#(#parts)*)
    }

    fn rev_stmt(&mut self, stmt: &Stmt) -> TokenStream {
        match stmt {
            Stmt::Assign(a) => match self.plan.sites.get(&a.site) {
                Some(site) => self.site_reverse(site),
                None => self.undo_counter(a),
            },
            Stmt::Verbatim { .. } | Stmt::Exit(_) => TokenStream::new(),
            Stmt::Block(b) => {
                let inner = self.rev_block(b, self.region_of_block());
                if inner.is_empty() {
                    inner
                } else {
                    quote!({ #inner })
                }
            }
            Stmt::If(i) => {
                if !self.plan.branches.contains(&i.site) {
                    return TokenStream::new();
                }
                let region = self.region_of_block();
                let then = self.rev_block(&i.then, region);
                let els = match &i.els {
                    Some(e) => self.rev_block(e, region),
                    None => TokenStream::new(),
                };
                let took_then = self.slot_value(i.site);
                if els.is_empty() {
                    quote!(if #took_then { #then })
                } else if then.is_empty() {
                    quote!(if !#took_then { #els })
                } else {
                    quote!(if #took_then { #then } else { #els })
                }
            }
            Stmt::Match(m) => {
                if !self.plan.branches.contains(&m.site) {
                    return TokenStream::new();
                }
                let region = self.region_of_block();
                let arms: Vec<TokenStream> = m
                    .arms
                    .iter()
                    .map(|arm| self.rev_block(&arm.body, region))
                    .collect();
                let arm = self.slot_value(m.site);
                let indices =
                    (0..arms.len()).map(|k| proc_macro2::Literal::u32_unsuffixed(k as u32));
                let panic = unreachable_tape();
                quote!(match #arm { #(#indices => { #arms })* _ => #panic })
            }
            Stmt::Loop(l) => self.rev_loop(l),
        }
    }

    /// The region (for exit guards) of blocks nested in the current one: the
    /// innermost loop being reversed, or the function.
    fn region_of_block(&self) -> Region {
        match self.current_loop.last() {
            Some(l) => Region::Loop(*l),
            None => Region::Top,
        }
    }

    /// Adds an iteration's sum into the parameter's gradient: `d[i] += acc`
    /// for a dense one, else `acc_index`. Only when the iteration added
    /// something if the index may be valid only where the site ran
    /// (`if i > 0 { .. x[i - 1] .. }`); a name or a literal is always valid
    /// to evaluate.
    /// The flush of loop `l`'s k-th sum, where an eager loop carries
    /// neighbours ([`crate::plan::Carry`]): the lower one adds the carry
    /// from the iteration before; the upper one becomes the carry (and its
    /// index the place of the last one, added after the loop).
    fn flush_carried(&self, l: LoopId, k: usize, carries: &[crate::plan::Carry]) -> TokenStream {
        let c = &self.plan.loops[l].combined[k];
        let Some((n, carry)) = carries
            .iter()
            .enumerate()
            .find(|(_, cy)| cy.lower == k || cy.upper == k)
        else {
            return self.flush(c);
        };
        // Both at the lower one's place: the carry is read before it is
        // replaced. Both indices read only the counter.
        if carry.upper == k {
            return TokenStream::new();
        }
        let (var, at) = (carry_var(l, n), carry_index(l, n));
        let acc = &c.acc;
        let d = adjoint(self.body, c.base);
        let index = plain(&c.index);
        let add = quote!(#d[#index] += #acc + #var;);
        let add = if plain_name(&c.index) {
            add
        } else {
            quote!(if #acc + #var != 0.0 { #add })
        };
        let upper = &self.plan.loops[l].combined[carry.upper];
        let (upper_acc, upper_index) = (&upper.acc, plain(&upper.index));
        quote!(#add #var = #upper_acc; #at = #upper_index;)
    }

    fn flush(&self, c: &crate::plan::Combined) -> TokenStream {
        let private = self.private();
        let (acc, base) = (&c.acc, &self.body.bindings[c.base].ident);
        let d = adjoint(self.body, c.base);
        let index = plain(&c.index);
        let add = if self.plan.dense.contains(&c.base) {
            quote!(#d[#index] += #acc;)
        } else {
            quote!(#private::acc_index(&mut #d, &#private::meta(&#base), &#index, #acc);)
        };
        if plain_name(&c.index) {
            add
        } else {
            quote!(if #acc != 0.0 { #add })
        }
    }

    /// The reverse of one iteration of loop `l`: its body backwards, the
    /// indexed accumulations summed over the iteration flushed after.
    pub(super) fn rev_iteration(
        &mut self,
        l: &Loop,
        carries: &[crate::plan::Carry],
    ) -> TokenStream {
        let lp = &self.plan.loops[l.id];
        self.current_loop.push(l.id);
        let body = self.rev_block(&l.body, Region::Loop(l.id));
        self.current_loop.pop();
        let mut starts = Vec::new();
        let mut flushes = Vec::new();
        // One block for all the flushes when their names do not clash.
        let mut all_reads = Vec::new();
        for c in &lp.combined {
            all_reads.push(c.base);
            reads(&c.index, &mut all_reads);
        }
        let flat = self.rebind_flat(&all_reads, &[]);
        if let Some(rebinds) = &flat {
            let each = (0..lp.combined.len()).map(|k| self.flush_carried(l.id, k, carries));
            if !lp.combined.is_empty() {
                flushes.push(quote!({ #(#rebinds)* #(#each)* }));
            }
        }
        for (k, c) in lp.combined.iter().enumerate() {
            let acc = &c.acc;
            starts.push(quote!(let mut #acc: f64 = -0.0;));
            if flat.is_some() {
                continue;
            }
            let mut rd = vec![c.base];
            reads(&c.index, &mut rd);
            let mut seen = HashSet::new();
            let rebinds: Vec<TokenStream> = rd
                .into_iter()
                .filter(|id| seen.insert(*id))
                .filter_map(|id| self.rebind_leaf(id))
                .collect();
            let flush = self.flush_carried(l.id, k, carries);
            flushes.push(quote!({
                #(#rebinds)*
                #flush
            }));
        }
        quote!(#(#starts)* #body #(#flushes)*)
    }

    /// The pullback's part of a loop reversed in its forward: s̄ times the
    /// buffers it summed, added to their bindings' cotangents. Nothing when
    /// s̄ = 0: the ordinary reverse gives exactly zero there through the
    /// rules' strong zero (√ or ln at 0: 0 · ∞ is 0, not NaN), which a
    /// buffer summed at s̄ = 1 and then scaled by 0 would lose. Nothing
    /// either when no iteration ran (s̄ may be ∞: √ of a sum left at 0).
    fn rev_eager(&self, l: &Loop, eager: &crate::plan::Eager) -> TokenStream {
        let private = self.private();
        let names: Vec<syn::Ident> = eager
            .buffers
            .iter()
            .map(|id| super::eager_buffer(*id))
            .collect();
        let ran = super::eager_ran(l.id);
        let take = self.pop_slot(crate::plan::eager_site(l.id), quote!((#(#names,)* #ran,)));
        let s_bar = adjoint(self.body, eager.accumulator);
        let adds = eager.buffers.iter().zip(&names).map(|(id, name)| {
            let d = adjoint(self.body, *id);
            quote!(#private::acc_scaled(&mut #d, #s_bar, #name);)
        });
        quote!({ #take if #ran && #s_bar != 0.0 { #(#adds)* } })
    }

    fn rev_loop(&mut self, l: &Loop) -> TokenStream {
        let lp = &self.plan.loops[l.id];
        if !lp.reversed {
            return TokenStream::new();
        }
        if let Some(eager) = &lp.eager {
            return self.rev_eager(l, eager);
        }
        let body = self.rev_iteration(l, &[]);
        let lp = &self.plan.loops[l.id];
        let private = self.private();
        let info = &self.body.loops[l.id];
        let exit_var = exit_var(Region::Loop(l.id));
        // How the iteration ended (read by the guards of what follows an exit).
        let status = match lp.exits {
            ExitRecord::None => TokenStream::new(),
            ExitRecord::Stack => {
                let stack = format_ident!("__ad_x{}", l.id);
                quote!(let #exit_var = #private::pop(&mut #stack);)
            }
        };
        let normal = match lp.trips {
            Trips::Recomputed => {
                // The trip count and the last counter, from the bounds again.
                let LoopKind::Range {
                    counter,
                    lo,
                    hi,
                    inclusive,
                    bound_reads,
                    ..
                } = &l.kind
                else {
                    unreachable!("only range loops recompute their trips")
                };
                let mut seen = HashSet::new();
                let rebinds: Vec<TokenStream> = bound_reads
                    .iter()
                    .flatten()
                    .filter(|r| seen.insert(**r))
                    .filter_map(|r| self.rebind_leaf(*r))
                    .collect();
                let trips = if *inclusive {
                    quote!(#private::trips_inclusive((#lo)..=(#hi)))
                } else {
                    quote!(#private::trips((#lo)..(#hi)))
                };
                match counter {
                    Some(_) => {
                        let counter = format_ident!("__ad_ctr{}", l.id);
                        quote!({
                            let (__ad_n, __ad_last) = { #(#rebinds)* #trips };
                            let mut #counter = __ad_last;
                            for _ in 0..__ad_n {
                                #status
                                #body
                                #counter = #private::prev(#counter);
                            }
                        })
                    }
                    None => quote!({
                        let (__ad_n, _) = { #(#rebinds)* #trips };
                        for _ in 0..__ad_n {
                            #status
                            #body
                        }
                    }),
                }
            }
            Trips::CountAndLast => {
                // The counter walks down from the last value the forward saw;
                // sites read it through `__ad_ctr<loop>`.
                let take = self.pop_slot(info.site, quote!((__ad_n, __ad_last)));
                let counter = format_ident!("__ad_ctr{}", l.id);
                quote!({
                    #take
                    let mut #counter = __ad_last;
                    for _ in 0..__ad_n {
                        #status
                        #body
                        #counter = #private::prev(#counter);
                    }
                })
            }
            Trips::Count => {
                let trips = self.slot_value(info.site);
                quote!(
                    for _ in 0..#trips {
                        #status
                        #body
                    }
                )
            }
        };
        // Copies of vectors kept at the loop's entry, for the sites inside.
        let copies: Vec<TokenStream> = self
            .plan
            .loop_frozen
            .get(&l.id)
            .into_iter()
            .flatten()
            .map(|id| {
                let var = super::loop_frozen_var(l.id, *id);
                self.pop_slot(crate::plan::loop_frozen_site(l.id, *id), quote!(#var))
            })
            .collect();
        let normal = if copies.is_empty() {
            normal
        } else {
            quote!({ #(#copies)* #normal })
        };
        match &l.checkpoint {
            Some(ck) => self.rev_checkpointed(l, ck, normal),
            None => normal,
        }
    }

    /// A checkpointed loop's reverse: segment by segment from the last, the
    /// state kept at its start restored, the segment run forward again
    /// (taped), then backwards.
    fn rev_checkpointed(
        &mut self,
        l: &Loop,
        ck: &Checkpoint,
        backwards: TokenStream,
    ) -> TokenStream {
        let private = self.private();
        let take = self.pop_slot(
            crate::plan::checkpoint_site(l.id),
            quote!((__ad_lo, __ad_hi, __ad_every)),
        );
        let stack = format_ident!("__ad_ck{}", l.id);
        let state: Vec<&syn::Ident> = ck
            .state
            .iter()
            .map(|b| &self.body.bindings[*b].ident)
            .collect();
        let kept: Vec<syn::Ident> = (0..state.len())
            .map(|k| format_ident!("__ad_kept_state{}", k))
            .collect();
        let rebinds: Vec<TokenStream> = ck
            .rebound
            .iter()
            .filter_map(|b| self.rebind_leaf(*b))
            .collect();
        let forward = self.fwd_loop_over(l, Some((quote!(__ad_seg_lo), quote!(__ad_seg_hi))));
        quote!({
            #take
            let __ad_segments = (__ad_hi - __ad_lo).div_ceil(__ad_every);
            for __ad_segment in (0..__ad_segments).rev() {
                let __ad_seg_lo = __ad_lo + __ad_segment * __ad_every;
                let __ad_seg_hi = ::core::cmp::min(__ad_seg_lo + __ad_every, __ad_hi);
                let (#(#kept,)*) = #private::pop(&mut #stack);
                #(let mut #state = #private::restore(&#kept);)*
                #(#rebinds)*
                #forward
                #backwards
            }
        })
    }

    // ---------------------------------------------------------------- sites

    /// The names the reverse gives the slot's tuple.
    pub(super) fn kept_names(s: &SitePlan<'_>) -> Vec<TokenStream> {
        s.kept
            .iter()
            .map(|k| match *k {
                Kept::Binding(i) => {
                    let tmp = format_ident!("__ad_l{}", i);
                    quote!(#tmp)
                }
                Kept::Pullback(i) => {
                    let pb = format_ident!("__ad_pb{}", i);
                    quote!(#pb)
                }
                Kept::Value(i) => {
                    let k = format_ident!("__ad_kept{}", i);
                    quote!(#k)
                }
            })
            .collect()
    }

    /// The reverse of one active site.
    fn site_reverse(&self, s: &SitePlan<'_>) -> TokenStream {
        let private = self.private();
        let take = if s.kept.is_empty() {
            TokenStream::new()
        } else {
            let pattern = Self::kept_names(s);
            self.pop_slot(s.assign.site, quote!((#(#pattern,)*)))
        };
        let meta_pops: Vec<TokenStream> = s
            .shapes
            .iter()
            .map(|&i| {
                let name = match s.var_of(i) {
                    Some((id, _)) => format_ident!("__ad_mb{}", id),
                    None => format_ident!("__ad_m{}", i),
                };
                let tape = s.nodes[i].tape.as_ref().expect("a shape has a tape");
                quote!(let #name = #private::pop_meta(&mut #tape);)
            })
            .collect();
        // Saved values, back in the types the forward had.
        let mut rebinds = Vec::new();
        let mut restored = HashSet::new();
        for (i, n) in s.nodes.iter().enumerate() {
            if n.obtain != Obtain::Saved {
                continue;
            }
            match s.var_of(i) {
                Some((id, ident)) => {
                    if restored.insert(id) {
                        let tmp = format_ident!("__ad_l{}", i);
                        rebinds.push(quote!(let #ident = #private::restore(&#tmp);));
                    }
                }
                None => {
                    let (k, kept) = (
                        format_ident!("__ad_k{}", i),
                        format_ident!("__ad_kept{}", i),
                    );
                    rebinds.push(quote!(let #k = #private::restore(&#kept);));
                }
            }
        }
        // Parameters, counters and recomputable lets the reverse reads.
        // Vectors read from the copy kept at the entry of a loop.
        let site = s.assign.site;
        let (loop_copies, rest): (Vec<BindId>, Vec<BindId>) = s.rebinds.iter().partition(|id| {
            self.body.facts.loop_frozen.contains_key(&(**id, site))
                && !self.body.facts.frozen_at(**id, site)
        });
        let mut restored_names: Vec<(String, BindId)> = s
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.obtain == Obtain::Saved)
            .filter_map(|(i, _)| s.var_of(i))
            .map(|(id, ident)| (ident.to_string(), id))
            .collect();
        for id in &loop_copies {
            let l = self.body.facts.loop_frozen[&(*id, site)];
            let ident = &self.body.bindings[*id].ident;
            let var = super::loop_frozen_var(l, *id);
            rebinds.push(quote!(let #ident = #private::kept_ref(&#var);));
            restored_names.push((ident.to_string(), *id));
        }
        match self.rebind_flat(&rest, &restored_names) {
            Some(flat) => rebinds.extend(flat),
            None => rebinds.extend(rest.iter().filter_map(|id| self.rebind_leaf(*id))),
        }
        let mut index_recomputes = Vec::new();
        let element = match (&s.assign.kind, s.index_node) {
            (AssignKind::Element { base, .. }, Some(ix)) => {
                self.recompute_code(s, ix, &mut index_recomputes);
                let d = adjoint(self.body, *base);
                let place = self.rev_place(s, ix);
                Some(quote!(#private::index_cotangent(&mut #d, &#place)))
            }
            _ => None,
        };
        let element_free = element.is_none();
        let cotangent = if let Some(element) = element {
            element
        } else {
            let parts: Vec<TokenStream> = s
                .assign
                .targets
                .iter()
                .map(|t| match t {
                    Some(Target::Out) => quote!(#private::take(&mut __ad_d_out)),
                    Some(Target::Bind(id)) if self.body.bindings[*id].active => {
                        let d = adjoint(self.body, *id);
                        quote!(#private::take(&mut #d))
                    }
                    _ => quote!(#private::zero()),
                })
                .collect();
            if parts.len() == 1 {
                parts[0].clone()
            } else {
                quote!((#(#parts,)*))
            }
        };
        let mut recomputes = Vec::new();
        self.recompute_code(s, 0, &mut recomputes);
        let propagate = if s.nodes[0].active {
            self.prop(s, 0, quote!(__ad_g), &private)
        } else {
            TokenStream::new()
        };
        if propagate.is_empty() {
            // Nothing flows on (an inactive value written over a target):
            // the targets' cotangents are only cleared. Each one alone, so
            // that no untyped `zero()` stands for an inactive target.
            let clears: Vec<TokenStream> = match &s.assign.kind {
                AssignKind::Element { .. } => vec![quote!(let _ = #cotangent;)],
                _ => s
                    .assign
                    .targets
                    .iter()
                    .filter_map(|t| match t {
                        Some(Target::Out) => Some(quote!(let _ = #private::take(&mut __ad_d_out);)),
                        Some(Target::Bind(id)) if self.body.bindings[*id].active => {
                            let d = adjoint(self.body, *id);
                            Some(quote!(let _ = #private::take(&mut #d);))
                        }
                        _ => None,
                    })
                    .collect(),
            };
            return quote!({
                #take
                #(#meta_pops)*
                #(#rebinds)*
                #(#index_recomputes)*
                #(#clears)*
            });
        }
        // One target's adjoint: taken out where it is tested.
        let single = match s.assign.targets.as_slice() {
            [Some(Target::Out)] if element_free => Some(quote!(__ad_d_out)),
            [Some(Target::Bind(id))] if element_free && self.body.bindings[*id].active => {
                Some(adjoint(self.body, *id).into_token_stream())
            }
            _ => None,
        };
        let source = match single {
            Some(d) => quote!(#private::take_nonzero(&mut #d)),
            None => quote!(#private::some_nonzero(#cotangent)),
        };
        let flow = quote!(
            if let #private::Some(__ad_g) = #source {
                #(#recomputes)*
                #propagate
            }
        );
        if take.is_empty()
            && meta_pops.is_empty()
            && rebinds.is_empty()
            && index_recomputes.is_empty()
        {
            return flow;
        }
        quote!({
            #take
            #(#meta_pops)*
            #(#rebinds)*
            #(#index_recomputes)*
            #flow
        })
    }

    fn recompute_code(&self, s: &SitePlan<'_>, i: usize, out: &mut Vec<TokenStream>) {
        let mut order = Vec::new();
        s.post_order(i, &mut order);
        for i in order {
            if s.nodes[i].obtain == Obtain::Recomputed && !s.is_place(i) {
                let r = format_ident!("__ad_r{}", i);
                let code = self.recomputed(s, i);
                out.push(quote!(let #r = #code;));
            }
        }
    }

    /// The reverse's code that evaluates node i again from its children.
    fn recomputed(&self, s: &SitePlan<'_>, i: usize) -> TokenStream {
        let n = &s.nodes[i];
        let mut kids = n.kids.iter();
        rebuild(
            n.ex,
            &mut |_| {
                let k = *kids.next()?;
                Some(match n.ex {
                    // Receivers and index bases are used in place.
                    Ex::Op {
                        syntax:
                            Syntax::Method { .. } | Syntax::Unwrapped { .. } | Syntax::Field { .. },
                        ..
                    } if k == n.kids[0] => self.rev_place(s, k),
                    Ex::Index { .. } | Ex::Field { .. } if k == n.kids[0] => self.rev_place(s, k),
                    _ => self.rev_expr(s, k),
                })
            },
            false,
        )
        .unwrap_or_default()
    }

    /// The reverse's name for node i's value, used by reference.
    fn rev_place(&self, s: &SitePlan<'_>, i: usize) -> TokenStream {
        let i = s.referent(i);
        let n = &s.nodes[i];
        match n.obtain {
            Obtain::Saved => {
                if let Some((_, ident)) = s.var_of(i) {
                    return quote!(#ident);
                }
                let k = format_ident!("__ad_k{}", i);
                return quote!(#k);
            }
            // A field or element is read where it stands (it may not move).
            Obtain::Recomputed if s.is_place(i) => return self.recomputed(s, i),
            Obtain::Recomputed => {
                let r = format_ident!("__ad_r{}", i);
                return quote!(#r);
            }
            _ => {}
        }
        match n.ex {
            Ex::Var { ident, .. } => quote!(#ident),
            Ex::Const { tokens } | Ex::Inactive { tokens, .. } | Ex::Unsupported { tokens, .. } => {
                quote!((#tokens))
            }
            _ => quote!(::core::unreachable!(
                "autodiff: a value the reverse needs was not kept"
            )),
        }
    }

    /// The reverse's code for node i's value inside a recomputed parent.
    fn rev_expr(&self, s: &SitePlan<'_>, i: usize) -> TokenStream {
        let n = &s.nodes[i];
        match n.ex {
            Ex::Ref { mutable, .. } => {
                let inner = self.rev_place(s, n.kids[0]);
                if *mutable {
                    quote!((&mut #inner))
                } else {
                    quote!((&#inner))
                }
            }
            Ex::Const { .. } => self.rev_place(s, i),
            // `Copy` values: an `f64`, a `for` counter.
            _ if n.is_f64 => self.rev_place(s, i),
            Ex::Var { id, .. } if self.body.bindings[*id].counter_of.is_some() => {
                self.rev_place(s, i)
            }
            _ => {
                let place = self.rev_place(s, i);
                quote!(::core::clone::Clone::clone(&#place))
            }
        }
    }

    fn rev_meta(&self, s: &SitePlan<'_>, i: usize, private: &TokenStream) -> TokenStream {
        let i = s.referent(i);
        if s.nodes[i].is_f64 {
            return quote!(#private::ScalarMeta);
        }
        if let (Obtain::FixedShape, Some((id, _))) = (s.nodes[i].obtain, s.var_of(i)) {
            let m = super::fixed_len_var(id);
            return quote!(#m);
        }
        if s.nodes[i].obtain == Obtain::ShapeOnly {
            let m = match s.var_of(i) {
                Some((id, _)) => format_ident!("__ad_mb{}", id),
                None => format_ident!("__ad_m{}", i),
            };
            return quote!(#m);
        }
        let place = self.rev_place(s, i);
        quote!(#private::meta(&#place))
    }

    /// Destructures `tuple` (one cotangent per child of node i) and
    /// propagates each to its child.
    fn prop_each(
        &self,
        s: &SitePlan<'_>,
        i: usize,
        tuple: TokenStream,
        private: &TokenStream,
    ) -> TokenStream {
        let kids = &s.nodes[i].kids;
        let names: Vec<syn::Ident> = (0..kids.len())
            .map(|k| format_ident!("__ad_c{}_{}", i, k))
            .collect();
        let parts: Vec<TokenStream> = kids
            .iter()
            .zip(&names)
            .map(|(k, name)| self.prop(s, *k, quote!(#name), private))
            .collect();
        quote!(let (#(#names,)*) = #tuple; #(#parts)*)
    }

    /// Propagates cotangent `g` from node i to the bindings below it.
    fn prop(
        &self,
        s: &SitePlan<'_>,
        i: usize,
        g: TokenStream,
        private: &TokenStream,
    ) -> TokenStream {
        let n = &s.nodes[i];
        if !n.active {
            return TokenStream::new();
        }
        match n.ex {
            Ex::Var { id, .. } => {
                let d = adjoint(self.body, *id);
                quote!(#private::acc(&mut #d, #g);)
            }
            Ex::Ref { .. } => self.prop(s, n.kids[0], g, private),
            // A tuple's cotangent is a tuple; a call's pullback gives one per argument.
            Ex::Tuple { .. } => self.prop_each(s, i, g, private),
            // Element k of the cotangent goes to the k-th element.
            Ex::Array { .. } => {
                let (gi, mut parts) = bind_once(i, g, n.kids.len());
                for (k, kid) in n.kids.iter().enumerate() {
                    parts.push(self.prop(s, *kid, quote!(#private::part(&#gi, #k)), private));
                }
                quote!(#(#parts)*)
            }
            Ex::Call { .. } => {
                let pb = format_ident!("__ad_pb{}", i);
                self.prop_each(s, i, quote!(#pb(#g)), private)
            }
            // Into the field of the root parameter's gradient (typed where
            // it is declared): `p̄.layer.w += ḡ`.
            Ex::Field { .. } => match s.field_place(i) {
                Some((id, members)) => {
                    let d = adjoint(self.body, id);
                    quote!(#private::acc(&mut #d #(.#members)*, #g);)
                }
                None => {
                    quote!(::core::unreachable!("autodiff: a field of a value that is not a parameter");)
                }
            },
            Ex::Index { .. } => {
                let base = s.referent(n.kids[0]);
                match n
                    .accumulate
                    .as_ref()
                    .expect("the plan decided every element read")
                {
                    Accumulate::Rows { rows, row_index } => {
                        let (id, _) = s.var_of(*rows).expect("rows are a variable");
                        let d = adjoint(self.body, id);
                        let meta = self.rev_meta(s, *rows, private);
                        let r = self.rev_place(s, *row_index);
                        let c = self.rev_place(s, n.kids[1]);
                        quote!(#private::acc_index2(&mut #d, &#meta, &#r, &#c, #g);)
                    }
                    Accumulate::Combined { acc } => quote!(#acc += #g;),
                    Accumulate::Dense { base: id } => {
                        let d = adjoint(self.body, *id);
                        let index = self.rev_place(s, n.kids[1]);
                        quote!(#d[#index] += #g;)
                    }
                    Accumulate::Indexed { base: id } => {
                        let d = adjoint(self.body, *id);
                        let meta = self.rev_meta(s, base, private);
                        let index = self.rev_place(s, n.kids[1]);
                        quote!(#private::acc_index(&mut #d, &#meta, &#index, #g);)
                    }
                    // An element of a parameter's field: straight into it.
                    Accumulate::FieldElement => {
                        let (id, members) = s.field_place(base).expect("checked by the plan");
                        let d = adjoint(self.body, id);
                        let meta = self.rev_meta(s, base, private);
                        let index = self.rev_place(s, n.kids[1]);
                        quote!(#private::acc_index(&mut #d #(.#members)*, &#meta, &#index, #g);)
                    }
                    Accumulate::Through => {
                        let meta = self.rev_meta(s, base, private);
                        let index = self.rev_place(s, n.kids[1]);
                        let c = quote!(#private::rules::index_d0(&#g, &#meta, &#index));
                        self.prop(s, n.kids[0], c, private)
                    }
                }
            }
            Ex::Op { rule, .. } if rule.identity => self.prop(s, n.kids[0], g, private),
            Ex::Op { rule, .. } => {
                let uses = rule
                    .operands
                    .iter()
                    .zip(&n.kids)
                    .filter(|(o, k)| o.is_some() && s.nodes[**k].active)
                    .count();
                let (gi, mut parts) = bind_once(i, g, uses);
                for (k, operand) in rule.operands.iter().enumerate() {
                    let Some(needs) = operand else { continue };
                    if !s.nodes[n.kids[k]].active {
                        continue;
                    }
                    let f = format_ident!("{}_d{}", rule.rule, k);
                    let args = needs.iter().map(|need| match *need {
                        Need::Value(j) => {
                            let v = self.rev_place(s, n.kids[j]);
                            quote!(&#v)
                        }
                        Need::Meta(j) => {
                            let m = self.rev_meta(s, n.kids[j], private);
                            quote!(&#m)
                        }
                        Need::Output => {
                            let v = self.rev_place(s, i);
                            quote!(&#v)
                        }
                    });
                    let c = quote!(#private::rules::#f(&#gi, #(#args),*));
                    parts.push(self.prop(s, n.kids[k], c, private));
                }
                quote!(#(#parts)*)
            }
            Ex::Const { .. } | Ex::Inactive { .. } | Ex::Unsupported { .. } => TokenStream::new(),
        }
    }
}
