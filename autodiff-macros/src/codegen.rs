//! Stage 4: emit the forward pass (the body as written, plus what the reverse
//! needs) and the reverse pass (each site's adjoint, in reverse order).
//!
//! Each assignment is a *site*. What a site's reverse reads is decided from the
//! rules table: values it can evaluate again (parameters, `for` counters,
//! constants, cheap expressions of them) are recomputed; anything else is saved
//! in the site's own slot — an `Option` for a site that runs at most once, a
//! `Vec` used as a stack inside loops. Control flow is retraced from what the
//! forward recorded: the branch each `if`/`match` took, each loop's trip count,
//! and, for loops that can be left early, how each iteration ended.

use crate::analyse::is_active;
use crate::ir::*;
use crate::rules::Need;
use crate::signature::Signature;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub struct Gen<'a> {
    sig: &'a Signature,
    body: &'a Body,
    rt: TokenStream,
    /// Slots to declare before the forward pass: site → lives in a loop (a stack).
    slots: BTreeMap<usize, Slot>,
    /// `if`/`match` sites that record the branch taken.
    branches: BTreeSet<usize>,
    /// Loops whose trip count is recorded (their reverse is not empty).
    counted: BTreeSet<LoopId>,
    /// Loops that record how each iteration ended.
    statuses: BTreeSet<LoopId>,
    /// Forward code of each active site, produced with its reverse.
    forward_sites: HashMap<usize, TokenStream>,
    /// Parameters the reverse reads (cloned on entry).
    params_read: BTreeSet<usize>,
    /// Loops being reversed, innermost last.
    current_loop: Vec<LoopId>,
    /// Tapes of shapes saved inside loops (`__private::push_meta`).
    meta_tapes: Vec<syn::Ident>,
    /// For each loop being reversed: the indexed accumulations into a
    /// parameter (`x[i]`) gathered over one iteration, flushed once per index.
    combined: Vec<Vec<Combined>>,
    /// The pullback owns its parameters (kept like saved values) instead of
    /// borrowing them: the variant another differentiable function calls, so
    /// that arguments borrowed from its locals do not outlive it.
    owned: bool,
    /// Sites whose values the forward pass saves for the reverse.
    pub saved_sites: HashSet<usize>,
    /// Emitting the forward of a checkpointed loop's first run: the code as
    /// written, nothing taped (the reverse runs it again, taped).
    plain_mode: bool,
    /// Checkpointed loops (their stacks of kept states).
    checkpointed: BTreeSet<LoopId>,
}

#[derive(Clone, Copy)]
enum Region {
    Top,
    Loop(LoopId),
}

/// Where a site keeps what the reverse needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Slot {
    /// Inside a loop: a `Vec` used as a stack.
    Stack,
    /// Saved values of a site that runs at most once: an `Option`.
    Once,
    /// A branch taken or a trip count recorded at most once: a plain variable,
    /// read by the reverse only on a path the forward took.
    Record,
}

impl Slot {
    fn values(in_loop: bool) -> Slot {
        if in_loop { Slot::Stack } else { Slot::Once }
    }
    fn record(in_loop: bool) -> Slot {
        if in_loop { Slot::Stack } else { Slot::Record }
    }
}

/// The slot of a checkpointed loop's range and segment length (apart from
/// the sites' own, which are numbered from 1).
fn checkpoint_site(l: LoopId) -> usize {
    1_000_000 + l
}

fn slot(site: usize) -> syn::Ident {
    format_ident!("__ad_s{}", site)
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
    pub fn new(sig: &'a Signature, body: &'a Body, owned: bool) -> Self {
        Gen {
            sig,
            body,
            rt: sig.runtime.clone(),
            slots: BTreeMap::new(),
            branches: BTreeSet::new(),
            counted: BTreeSet::new(),
            statuses: BTreeSet::new(),
            forward_sites: HashMap::new(),
            params_read: BTreeSet::new(),
            current_loop: Vec::new(),
            meta_tapes: Vec::new(),
            combined: Vec::new(),
            owned,
            saved_sites: HashSet::new(),
            plain_mode: false,
            checkpointed: BTreeSet::new(),
        }
    }

    fn private(&self) -> TokenStream {
        let rt = &self.rt;
        quote!(#rt::__private)
    }

    fn push_slot(&mut self, site: usize, kind: Slot, value: TokenStream) -> TokenStream {
        self.slots.insert(site, kind);
        let s = slot(site);
        match kind {
            Slot::Stack => quote!(#s.push(#value);),
            Slot::Once => quote!(#s = ::core::option::Option::Some(#value);),
            Slot::Record => quote!(#s = #value;),
        }
    }

    fn pop_slot(&self, site: usize, pattern: TokenStream) -> TokenStream {
        let s = slot(site);
        let panic = unreachable_tape();
        match self.slots.get(&site) {
            Some(Slot::Stack) => {
                quote!(let ::core::option::Option::Some(#pattern) = #s.pop() else { #panic };)
            }
            Some(Slot::Record) => quote!(let #pattern = #s;),
            _ => quote!(let ::core::option::Option::Some(#pattern) = #s.take() else { #panic };),
        }
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

    // ---------------------------------------------------------------- reverse

    /// Binds, under its own name, a value the reverse has without a save: a
    /// parameter, a `for` counter, or a `let` evaluated again from its recipe
    /// (in a block of its own, so the names it uses cannot clash).
    fn rebind_leaf(&mut self, id: BindId) -> Option<TokenStream> {
        let b = &self.body.bindings[id];
        let ident = &b.ident;
        if crate::analyse::stable(b) {
            if let Some(p) = b.param {
                self.params_read.insert(p);
                return Some(self.param_rebind(p, ident));
            }
            if let Some(l) = b.counter_of {
                let counter = format_ident!("__ad_ctr{}", l);
                return Some(quote!(let #ident = #counter;));
            }
        }
        let recipe = b.recipe.as_ref()?;
        let mut leaves = Vec::new();
        recipe_reads(recipe, &mut leaves);
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

    fn exits_in_block(&self, block: &Block, region: Region, out: &mut Vec<ExitId>) {
        for s in &block.stmts {
            self.exits_in(s, region, out);
        }
    }

    fn exits_in(&self, stmt: &Stmt, region: Region, out: &mut Vec<ExitId>) {
        match stmt {
            Stmt::Exit(e) => {
                let info = &self.body.exits[e.id as usize - 1];
                let relevant = match region {
                    Region::Top => info.kind == ExitKind::Return,
                    Region::Loop(l) => info.ends_iteration_of.contains(&l),
                };
                if relevant {
                    out.push(e.id);
                }
            }
            Stmt::If(i) => {
                self.exits_in_block(&i.then, region, out);
                if let Some(e) = &i.els {
                    self.exits_in_block(e, region, out);
                }
            }
            Stmt::Match(m) => m
                .arms
                .iter()
                .for_each(|a| self.exits_in_block(&a.body, region, out)),
            Stmt::Loop(l) => self.exits_in_block(&l.body, region, out),
            Stmt::Block(b) => self.exits_in_block(b, region, out),
            Stmt::Assign(_) | Stmt::Verbatim { .. } => {}
        }
    }

    fn exit_var(region: Region) -> syn::Ident {
        match region {
            Region::Top => format_ident!("__ad_ret"),
            Region::Loop(l) => format_ident!("__ad_exit{}", l),
        }
    }

    /// The reverse of a block: its statements backwards, each guarded so that
    /// it runs only if the forward reached it (no earlier statement exited).
    fn rev_block(&mut self, block: &Block, region: Region) -> TokenStream {
        let mut parts = Vec::new();
        for (k, stmt) in block.stmts.iter().enumerate().rev() {
            let code = self.rev_stmt(stmt);
            if code.is_empty() {
                continue;
            }
            let mut earlier = Vec::new();
            for s in &block.stmts[..k] {
                self.exits_in(s, region, &mut earlier);
            }
            if earlier.is_empty() {
                parts.push(code);
            } else {
                let var = Self::exit_var(region);
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
            Stmt::Assign(a) if a.active => {
                let (fwd, rev) = self.site(a);
                self.forward_sites.insert(a.site, fwd);
                rev
            }
            Stmt::Assign(_) | Stmt::Verbatim { .. } | Stmt::Exit(_) => TokenStream::new(),
            Stmt::Block(b) => {
                let inner = self.rev_block(b, self.region_of_block());
                if inner.is_empty() {
                    inner
                } else {
                    quote!({ #inner })
                }
            }
            Stmt::If(i) => {
                let region = self.region_of_block();
                let then = self.rev_block(&i.then, region);
                let els = match &i.els {
                    Some(e) => self.rev_block(e, region),
                    None => TokenStream::new(),
                };
                if then.is_empty() && els.is_empty() {
                    return TokenStream::new();
                }
                self.branches.insert(i.site);
                self.slots.insert(i.site, Slot::record(i.in_loop));
                let take = self.pop_slot(i.site, quote!(__ad_took_then));
                quote!({ #take if __ad_took_then { #then } else { #els } })
            }
            Stmt::Match(m) => {
                let region = self.region_of_block();
                let arms: Vec<TokenStream> = m
                    .arms
                    .iter()
                    .map(|arm| self.rev_block(&arm.body, region))
                    .collect();
                if arms.iter().all(|a| a.is_empty()) {
                    return TokenStream::new();
                }
                self.branches.insert(m.site);
                self.slots.insert(m.site, Slot::record(m.in_loop));
                let take = self.pop_slot(m.site, quote!(__ad_arm));
                let indices =
                    (0..arms.len()).map(|k| proc_macro2::Literal::u32_unsuffixed(k as u32));
                let panic = unreachable_tape();
                quote!({ #take match __ad_arm { #(#indices => { #arms })* _ => #panic } })
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

    fn rev_loop(&mut self, l: &Loop) -> TokenStream {
        self.current_loop.push(l.id);
        self.combined.push(Vec::new());
        let body = self.rev_block(&l.body, Region::Loop(l.id));
        let combined = self.combined.pop().unwrap_or_default();
        self.current_loop.pop();
        if body.is_empty() {
            return TokenStream::new();
        }
        let private = self.private();
        let mut starts = Vec::new();
        let mut flushes = Vec::new();
        for c in &combined {
            let acc = &c.acc;
            starts.push(quote!(let mut #acc: f64 = -0.0;));
            let mut reads = vec![c.base];
            recipe_reads(&c.index, &mut reads);
            let mut seen = HashSet::new();
            let rebinds: Vec<TokenStream> = reads
                .into_iter()
                .filter(|id| seen.insert(*id))
                .filter_map(|id| self.rebind_leaf(id))
                .collect();
            let base = &self.body.bindings[c.base].ident;
            let d = adjoint(self.body, c.base);
            let index = plain(&c.index);
            flushes.push(quote!({
                #(#rebinds)*
                #private::acc_index(&mut #d, &#private::meta(&#base), &#index, #acc);
            }));
        }
        let body = quote!(#(#starts)* #body #(#flushes)*);
        let info = &self.body.loops[l.id];
        let in_loop = !info.parents.is_empty();
        self.counted.insert(l.id);
        self.slots.insert(info.site, Slot::record(in_loop));
        let mut exits = Vec::new();
        self.exits_in_block(&l.body, Region::Loop(l.id), &mut exits);
        let exit_var = Self::exit_var(Region::Loop(l.id));
        let status = if exits.is_empty() {
            quote!(let #exit_var: u32 = 0;)
        } else {
            self.statuses.insert(l.id);
            let stack = format_ident!("__ad_x{}", l.id);
            let panic = unreachable_tape();
            quote!(let ::core::option::Option::Some(#exit_var) = #stack.pop() else { #panic };)
        };
        let normal = match &l.kind {
            LoopKind::Range {
                counter: Some(_), ..
            } => {
                // The counter walks down from the last value the forward saw;
                // sites read it through `__ad_ctr<loop>`.
                let take = self.pop_slot(info.site, quote!((__ad_n, __ad_last)));
                let counter = format_ident!("__ad_ctr{}", l.id);
                let private = self.private();
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
            _ => {
                let take = self.pop_slot(info.site, quote!(__ad_n));
                quote!({
                    #take
                    for _ in 0..__ad_n {
                        #status
                        #body
                    }
                })
            }
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
        let info = &self.body.loops[l.id];
        let in_loop = !info.parents.is_empty();
        let record_site = checkpoint_site(l.id);
        self.slots.insert(record_site, Slot::record(in_loop));
        let take = self.pop_slot(record_site, quote!((__ad_lo, __ad_hi, __ad_every)));
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
        let panic = unreachable_tape();
        quote!({
            #take
            let __ad_segments = (__ad_hi - __ad_lo).div_ceil(__ad_every);
            for __ad_segment in (0..__ad_segments).rev() {
                let __ad_seg_lo = __ad_lo + __ad_segment * __ad_every;
                let __ad_seg_hi = ::core::cmp::min(__ad_seg_lo + __ad_every, __ad_hi);
                let ::core::option::Option::Some((#(#kept,)*)) = #stack.pop() else { #panic };
                #(let mut #state = #private::restore(&#kept);)*
                #(#rebinds)*
                #forward
                #backwards
            }
        })
    }

    // ---------------------------------------------------------------- sites

    /// Forward and reverse code of one active assignment.
    fn site(&mut self, a: &Assign) -> (TokenStream, TokenStream) {
        let mut plan = Plan::new(self, a);
        plan.decide();
        let (forward, saved) = plan.forward(self);
        let reverse = plan.reverse(self, saved);
        (forward, reverse)
    }

    // ---------------------------------------------------------------- forward

    fn fwd_block(&mut self, block: &Block) -> TokenStream {
        let parts: Vec<TokenStream> = block.stmts.iter().map(|s| self.fwd_stmt(s)).collect();
        quote!(#(#parts)*)
    }

    fn fwd_stmt(&mut self, stmt: &Stmt) -> TokenStream {
        match stmt {
            Stmt::Verbatim { tokens } => tokens.clone(),
            Stmt::Assign(a) if self.plain_mode => self.plain_assign(a),
            Stmt::Assign(a) => match self.forward_sites.remove(&a.site) {
                Some(code) => code,
                None => self.plain_assign(a),
            },
            Stmt::Block(b) => {
                let inner = self.fwd_block(b);
                quote!({ #inner })
            }
            Stmt::If(i) => {
                let cond = &i.cond;
                let then = self.fwd_block(&i.then);
                let els = i.els.as_ref().map(|e| self.fwd_block(e));
                if self.branches.contains(&i.site) && !self.plain_mode {
                    let yes = self.push_slot(i.site, Slot::record(i.in_loop), quote!(true));
                    let no = self.push_slot(i.site, Slot::record(i.in_loop), quote!(false));
                    let els = els.unwrap_or_default();
                    quote!(if #cond { #yes #then } else { #no #els })
                } else {
                    match els {
                        Some(els) => quote!(if #cond { #then } else { #els }),
                        None => quote!(if #cond { #then }),
                    }
                }
            }
            Stmt::Match(m) => {
                let scrutinee = &m.scrutinee;
                let record = self.branches.contains(&m.site) && !self.plain_mode;
                let mut arms = Vec::new();
                for (k, arm) in m.arms.iter().enumerate() {
                    let head = &arm.head;
                    let body = self.fwd_block(&arm.body);
                    let mark = if record {
                        self.push_slot(m.site, Slot::record(m.in_loop), quote!(#k as u32))
                    } else {
                        TokenStream::new()
                    };
                    arms.push(quote!(#head => { #mark #body }));
                }
                quote!(match #scrutinee { #(#arms)* })
            }
            Stmt::Loop(l) => self.fwd_loop(l),
            Stmt::Exit(e) => self.fwd_exit(e),
        }
    }

    fn trips_value(&self, id: LoopId) -> TokenStream {
        let n = format_ident!("__ad_n{}", id);
        match &self.body.loops_kind(id) {
            Some(true) => {
                let last = format_ident!("__ad_last{}", id);
                quote!((#n, #last))
            }
            _ => quote!(#n),
        }
    }

    fn fwd_loop(&mut self, l: &Loop) -> TokenStream {
        if l.checkpoint.is_some() && !self.plain_mode {
            return self.fwd_checkpointed(l);
        }
        self.fwd_loop_over(l, None)
    }

    /// A checkpointed loop's first run: as written, untaped, keeping its
    /// state every k iterations (and the range and k for the reverse).
    fn fwd_checkpointed(&mut self, l: &Loop) -> TokenStream {
        let Some(ck) = &l.checkpoint else {
            return TokenStream::new();
        };
        let LoopKind::Range {
            pattern,
            lo,
            hi,
            inclusive,
            ..
        } = &l.kind
        else {
            return TokenStream::new();
        };
        let private = self.private();
        let info = &self.body.loops[l.id];
        let (label, site, in_loop) = (info.label.clone(), info.site, !info.parents.is_empty());
        self.checkpointed.insert(l.id);
        let stack = format_ident!("__ad_ck{}", l.id);
        let state: Vec<&syn::Ident> = ck
            .state
            .iter()
            .map(|b| &self.body.bindings[*b].ident)
            .collect();
        let every = match &ck.every {
            Some(k) => quote!(::core::cmp::max((#k) as usize, 1)),
            None => quote!(::core::cmp::max(
                ((__ad_hi - __ad_lo) as f64).sqrt().ceil() as usize,
                1
            )),
        };
        let hi_excl = if *inclusive {
            quote!((#hi) + 1)
        } else {
            quote!(#hi)
        };
        let was = std::mem::replace(&mut self.plain_mode, true);
        let body = self.fwd_block(&l.body);
        self.plain_mode = was;
        let _ = site;
        let record = self.push_slot(
            checkpoint_site(l.id),
            Slot::record(in_loop),
            quote!((__ad_lo, __ad_hi, __ad_every)),
        );
        quote!({
            let __ad_lo: usize = #lo;
            let __ad_hi: usize = ::core::cmp::max(#hi_excl, __ad_lo);
            let __ad_every: usize = #every;
            let mut __ad_j: usize = 0;
            #label: for #pattern in __ad_lo..__ad_hi {
                if __ad_j % __ad_every == 0 {
                    #stack.push((#((&#private::Keep(&#state)).keep(),)*));
                }
                __ad_j += 1;
                #body
            }
            #record
        })
    }

    /// The loop's forward, taped unless in plain mode; `range` replaces a
    /// range loop's own (a checkpointed segment run again).
    fn fwd_loop_over(
        &mut self,
        l: &Loop,
        range: Option<(TokenStream, TokenStream)>,
    ) -> TokenStream {
        let info = &self.body.loops[l.id];
        let label = info.label.clone();
        let site = info.site;
        let in_loop = !info.parents.is_empty();
        let counted = self.counted.contains(&l.id) && !self.plain_mode;
        let body = self.fwd_block(&l.body);
        let n = format_ident!("__ad_n{}", l.id);
        let count = if counted {
            quote!(#n += 1;)
        } else {
            TokenStream::new()
        };
        let end_status = if self.statuses.contains(&l.id) && !self.plain_mode {
            let stack = format_ident!("__ad_x{}", l.id);
            quote!(#stack.push(0u32);)
        } else {
            TokenStream::new()
        };
        let trips = self.trips_value(l.id);
        let (declare, record) = if counted {
            (
                quote!(let mut #n: usize = 0;),
                self.push_slot(site, Slot::record(in_loop), trips),
            )
        } else {
            (TokenStream::new(), TokenStream::new())
        };
        let looped = match &l.kind {
            LoopKind::While { cond } => quote!(#label: while #cond { #count #body #end_status }),
            LoopKind::Infinite => quote!(#label: loop { #count #body #end_status }),
            LoopKind::Iter { pattern, iterable } => {
                quote!(#label: for #pattern in #iterable { #count #body #end_status })
            }
            LoopKind::Range {
                counter,
                pattern,
                lo,
                hi,
                inclusive,
            } => {
                let lo_var = format_ident!("__ad_lo{}", l.id);
                let last = format_ident!("__ad_last{}", l.id);
                let (lo, range) = match &range {
                    Some((seg_lo, seg_hi)) => (seg_lo.clone(), quote!(#lo_var..(#seg_hi))),
                    None if *inclusive => (lo.clone(), quote!(#lo_var..=(#hi))),
                    None => (lo.clone(), quote!(#lo_var..(#hi))),
                };
                match (counter, counted) {
                    (Some(id), true) => {
                        let ident = &self.body.bindings[*id].ident;
                        quote!(
                            let #lo_var = #lo;
                            let mut #last = #lo_var;
                            #label: for #pattern in #range { #count #last = #ident; #body #end_status }
                        )
                    }
                    _ => quote!(
                        let #lo_var = #lo;
                        #label: for #pattern in #range { #count #body #end_status }
                    ),
                }
            }
        };
        quote!({ #declare #looped #record })
    }

    fn fwd_exit(&mut self, e: &Exit) -> TokenStream {
        let info = &self.body.exits[e.id as usize - 1];
        let id = proc_macro2::Literal::u32_unsuffixed(e.id);
        let mut book = Vec::new();
        for l in &info.ends_iteration_of {
            if self.statuses.contains(l) && !self.plain_mode {
                let stack = format_ident!("__ad_x{}", l);
                book.push(quote!(#stack.push(#id);));
            }
        }
        for l in &info.leaves {
            if self.counted.contains(l) && !self.plain_mode {
                let site = self.body.loops[*l].site;
                let in_loop = !self.body.loops[*l].parents.is_empty();
                let trips = self.trips_value(*l);
                book.push(self.push_slot(site, Slot::record(in_loop), trips));
            }
        }
        let span = e.span;
        let jump = match (e.kind, info.target) {
            (ExitKind::Return, _) => quote_spanned!(span=> __ad_ret = #id; break '__ad_body;),
            (ExitKind::Break, Some(t)) => {
                let label = &self.body.loops[t].label;
                quote_spanned!(span=> break #label;)
            }
            (ExitKind::Continue, Some(t)) => {
                let label = &self.body.loops[t].label;
                quote_spanned!(span=> continue #label;)
            }
            _ => quote!(::core::unreachable!()),
        };
        quote!({ #(#book)* #jump })
    }

    /// An inactive assignment: the statement as the user wrote it.
    fn plain_assign(&mut self, a: &Assign) -> TokenStream {
        let value = match (&a.kind, &a.value) {
            (AssignKind::Compound { .. }, Ex::Op { args, .. })
            | (AssignKind::Element { op: Some(_), .. }, Ex::Op { args, .. }) => plain(&args[1]),
            (_, value) => plain(value),
        };
        let index = match &a.kind {
            AssignKind::Element { index, .. } => plain(index),
            _ => TokenStream::new(),
        };
        assignment(self.body, a, value, index)
    }

    // ---------------------------------------------------------------- whole

    pub fn generate(self) -> TokenStream {
        self.generate_with_saves().0
    }

    /// The code, and the sites whose values it saves for the reverse.
    pub fn generate_with_saves(mut self) -> (TokenStream, HashSet<usize>) {
        let reverse = self.rev_block(&self.body.block, Region::Top);
        let forward = self.fwd_block(&self.body.block);
        let private = self.private();
        let rt = &self.rt;
        let sig = self.sig;

        let slot_decls = self.slots.iter().map(|(site, kind)| {
            let s = slot(*site);
            match kind {
                Slot::Stack => quote!(let mut #s = ::std::vec::Vec::new();),
                Slot::Once => quote!(let mut #s = ::core::option::Option::None;),
                Slot::Record => quote!(let mut #s = ::core::default::Default::default();),
            }
        });
        let meta_tape_decls = self
            .meta_tapes
            .iter()
            .map(|t| quote!(let mut #t = ::core::default::Default::default();));
        let checkpoint_decls = self.checkpointed.iter().map(|l| {
            let s = format_ident!("__ad_ck{}", l);
            quote!(let mut #s = ::std::vec::Vec::new();)
        });
        let checkpoint_decls: Vec<TokenStream> = checkpoint_decls.collect();
        let status_decls = self.statuses.iter().map(|l| {
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
            if p.active || self.params_read.contains(&index) {
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
            .map(|(id, b)| {
                let d = adjoint(self.body, id);
                match b.param {
                    // Typed, so that `p̄.field` can be written into.
                    Some(p) => {
                        let ty = crate::expand::static_lifetimes(&sig.params[p].ty);
                        quote!(let mut #d: <#ty as #rt::Differentiable>::Tangent = #private::zero();)
                    }
                    None => quote!(let mut #d = #private::zero();),
                }
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
                quote!(())
            }
        });
        let output = &sig.output;
        let saved_sites = std::mem::take(&mut self.saved_sites);
        let code = quote!(
            #[allow(unused_imports)]
            use #private::{KeepBorrowed as _, KeepOwned as _};
            #(#clones)*
            #(#slot_decls)*
            #(#meta_tape_decls)*
            #(#status_decls)*
            #(#checkpoint_decls)*
            let __ad_out;
            #forward
            (__ad_out, move |__ad_ct: <#output as #rt::Differentiable>::Tangent| {
                #(#adjoint_decls)*
                let mut __ad_d_out = __ad_ct;
                #reverse
                (#(#results,)*)
            })
        );
        (code, saved_sites)
    }
}

impl Body {
    /// `Some(true)` for a range loop that walks back over its counter.
    fn loops_kind(&self, id: LoopId) -> Option<bool> {
        fn find(block: &Block, id: LoopId) -> Option<bool> {
            for s in &block.stmts {
                let found = match s {
                    Stmt::Loop(l) if l.id == id => {
                        return Some(matches!(
                            l.kind,
                            LoopKind::Range {
                                counter: Some(_),
                                ..
                            }
                        ));
                    }
                    Stmt::Loop(l) => find(&l.body, id),
                    Stmt::If(i) => {
                        find(&i.then, id).or_else(|| i.els.as_ref().and_then(|e| find(e, id)))
                    }
                    Stmt::Match(m) => m.arms.iter().find_map(|a| find(&a.body, id)),
                    Stmt::Block(b) => find(b, id),
                    _ => None,
                };
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        find(&self.block, id)
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

/// Every binding an expression reads.
fn recipe_reads(e: &Ex, out: &mut Vec<BindId>) {
    match e {
        Ex::Var { id, .. } => out.push(*id),
        Ex::Const { .. } => {}
        Ex::Inactive { reads, .. } | Ex::Unsupported { reads, .. } => out.extend(reads),
        Ex::Op { args, .. }
        | Ex::Call { args, .. }
        | Ex::Tuple { elems: args }
        | Ex::Array { elems: args, .. } => args.iter().for_each(|a| recipe_reads(a, out)),
        Ex::Index { base, index, .. } => {
            recipe_reads(base, out);
            recipe_reads(index, out);
        }
        Ex::Field { base, .. } => recipe_reads(base, out),
        Ex::Ref { inner, .. } => recipe_reads(inner, out),
    }
}

/// The expression as the user wrote it (for the forward of inactive code).
fn plain(e: &Ex) -> TokenStream {
    rebuild(e, &mut |k| Some(plain(k)), false).unwrap_or_default()
}

/// Rebuilds an expression node from its children's code. `child` gives each
/// child's code; `place` is true when the node is used by reference (receiver,
/// index base, `&`), where the reverse must not clone.
fn rebuild(
    e: &Ex,
    child: &mut dyn FnMut(&Ex) -> Option<TokenStream>,
    _place: bool,
) -> Option<TokenStream> {
    Some(match e {
        Ex::Var { ident, .. } => quote!(#ident),
        Ex::Const { tokens } | Ex::Inactive { tokens, .. } | Ex::Unsupported { tokens, .. } => {
            quote!((#tokens))
        }
        Ex::Op {
            args, syntax, span, ..
        } => {
            let span = *span;
            let kids: Vec<TokenStream> = args.iter().map(&mut *child).collect::<Option<_>>()?;
            match syntax {
                Syntax::Binary(op) => {
                    let (l, r) = (&kids[0], &kids[1]);
                    quote_spanned!(span=> (#l #op #r))
                }
                Syntax::Neg => {
                    let x = &kids[0];
                    quote_spanned!(span=> (-#x))
                }
                Syntax::Deref => {
                    let x = &kids[0];
                    quote_spanned!(span=> (*#x))
                }
                Syntax::Cast { ty } => {
                    let x = &kids[0];
                    quote_spanned!(span=> (#x as #ty))
                }
                Syntax::Method { name, turbofish } => {
                    let recv = &kids[0];
                    let rest = &kids[1..];
                    quote_spanned!(span=> #recv.#name #turbofish (#(#rest),*))
                }
                Syntax::Call { path } => quote_spanned!(span=> #path(#(#kids),*)),
                Syntax::Unwrapped { name, then } => {
                    let recv = &kids[0];
                    quote_spanned!(span=> #recv.#name().#then)
                }
                Syntax::Field { member } => {
                    let recv = &kids[0];
                    quote_spanned!(span=> #recv.#member)
                }
            }
        }
        Ex::Call {
            func,
            args,
            span,
            method,
        } => {
            let kids: Vec<TokenStream> = args.iter().map(&mut *child).collect::<Option<_>>()?;
            if *method {
                let (recv, rest) = (&kids[0], &kids[1..]);
                quote_spanned!(*span=> #recv.#func(#(#rest),*))
            } else {
                quote_spanned!(*span=> #func(#(#kids),*))
            }
        }
        Ex::Index { base, index, span } => {
            let b = child(base)?;
            let i = child(index)?;
            quote_spanned!(*span=> #b[#i])
        }
        Ex::Field { base, member, span } => {
            let b = child(base)?;
            quote_spanned!(*span=> #b.#member)
        }
        Ex::Ref { inner, mutable } => {
            let x = child(inner)?;
            if *mutable {
                quote!((&mut #x))
            } else {
                quote!((&#x))
            }
        }
        Ex::Tuple { elems } => {
            let kids: Vec<TokenStream> = elems.iter().map(&mut *child).collect::<Option<_>>()?;
            quote!((#(#kids,)*))
        }
        Ex::Array { elems, vec } => {
            let kids: Vec<TokenStream> = elems.iter().map(&mut *child).collect::<Option<_>>()?;
            if *vec {
                quote!(::std::vec![#(#kids),*])
            } else {
                quote!([#(#kids),*])
            }
        }
    })
}

// -------------------------------------------------------------------- plans

/// The contributions of one iteration to `x[index]`, summed in `acc`.
struct Combined {
    base: BindId,
    index: Ex,
    key: String,
    acc: syn::Ident,
}

/// What a site's forward saved: the slot's tuple (its pattern in the
/// reverse, its values in the forward) and the shapes kept on tapes.
struct Saved {
    pattern: Vec<TokenStream>,
    values: Vec<TokenStream>,
    meta_pops: Vec<TokenStream>,
}

/// One node of a site's expression tree, with what the reverse needs of it.
struct Node<'e> {
    ex: &'e Ex,
    kids: Vec<usize>,
    active: bool,
    /// The reverse needs its value / its shape.
    val: bool,
    meta: bool,
    /// Evaluated into `__ad_h<i>` before the statement in the forward.
    hoist: bool,
    /// Its value (`__ad_k<i>`) / shape (`__ad_m<i>`) is saved in the slot.
    save_val: bool,
    save_meta: bool,
    /// The reverse evaluates it again (`__ad_r<i>`).
    recompute: bool,
}

struct Plan<'a, 'e> {
    assign: &'e Assign,
    nodes: Vec<Node<'e>>,
    body: &'a Body,
    in_loop: bool,
    /// For a write into an element: the node of its index.
    index_node: Option<usize>,
}

impl<'a, 'e> Plan<'a, 'e> {
    fn new(g: &Gen<'a>, a: &'e Assign) -> Self {
        let mut plan = Plan {
            assign: a,
            nodes: Vec::new(),
            body: g.body,
            in_loop: a.in_loop,
            index_node: None,
        };
        plan.flatten(&a.value);
        if let AssignKind::Element { index, .. } = &a.kind {
            let node = plan.flatten(index);
            plan.index_node = Some(node);
        }
        plan
    }

    fn flatten(&mut self, e: &'e Ex) -> usize {
        let index = self.nodes.len();
        let body = self.body;
        let active = is_active(e, &|id| body.bindings[id].active);
        self.nodes.push(Node {
            ex: e,
            kids: Vec::new(),
            active,
            val: false,
            meta: false,
            hoist: false,
            save_val: false,
            save_meta: false,
            recompute: false,
        });
        let kids: Vec<usize> = match e {
            Ex::Op { args, .. }
            | Ex::Call { args, .. }
            | Ex::Tuple { elems: args }
            | Ex::Array { elems: args, .. } => args.iter().map(|a| self.flatten(a)).collect(),
            Ex::Index { base, index, .. } => vec![self.flatten(base), self.flatten(index)],
            Ex::Field { base, .. } => vec![self.flatten(base)],
            Ex::Ref { inner, .. } => vec![self.flatten(inner)],
            _ => Vec::new(),
        };
        self.nodes[index].kids = kids;
        index
    }

    /// Through `&`: the node whose value a rule reads.
    fn referent(&self, mut i: usize) -> usize {
        while let Ex::Ref { .. } = self.nodes[i].ex {
            i = self.nodes[i].kids[0];
        }
        i
    }

    /// The reverse has it without a save: stable, or evaluated again.
    fn stable(&self, id: BindId) -> bool {
        let b = &self.body.bindings[id];
        crate::analyse::stable(b) || b.recipe.is_some()
    }

    /// Pure, and built only of things the reverse has anyway.
    fn pure_stable(&self, i: usize) -> bool {
        let n = &self.nodes[i];
        match n.ex {
            Ex::Const { .. } => true,
            Ex::Var { id, .. } => self.stable(*id),
            Ex::Inactive { reads, stable, .. } => {
                *stable && reads.iter().all(|id| self.stable(*id))
            }
            Ex::Unsupported { .. } | Ex::Call { .. } => false,
            Ex::Op { .. }
            | Ex::Index { .. }
            | Ex::Field { .. }
            | Ex::Ref { .. }
            | Ex::Tuple { .. }
            | Ex::Array { .. } => n.kids.iter().all(|k| self.pure_stable(*k)),
        }
    }

    /// Marks what the rules read, following the cotangent from the root.
    fn need(&mut self, i: usize) {
        if !self.nodes[i].active {
            return;
        }
        let kids = self.nodes[i].kids.clone();
        match self.nodes[i].ex {
            Ex::Var { .. } | Ex::Const { .. } | Ex::Inactive { .. } | Ex::Unsupported { .. } => {}
            Ex::Ref { .. } => self.need(kids[0]),
            Ex::Tuple { .. } | Ex::Array { .. } | Ex::Call { .. } => {
                kids.iter().for_each(|k| self.need(*k))
            }
            Ex::Field { .. } => self.need(kids[0]),
            Ex::Index { .. } => {
                let base = self.referent(kids[0]);
                let index = self.referent(kids[1]);
                self.nodes[index].val = true;
                match self.row_of(i) {
                    // `w[r][c]` goes straight into w̄[r][c]: w's shape, r.
                    Some((rows, row_index)) => {
                        self.nodes[rows].meta = true;
                        self.nodes[row_index].val = true;
                    }
                    None => {
                        self.nodes[base].meta = true;
                        self.need(kids[0]);
                    }
                }
            }
            Ex::Op { rule, .. } => {
                for (k, operand) in rule.operands.iter().enumerate() {
                    let Some(needs) = operand else { continue };
                    if !self.nodes[kids[k]].active {
                        continue;
                    }
                    for need in needs.iter() {
                        match *need {
                            Need::Value(j) => {
                                let r = self.referent(kids[j]);
                                self.nodes[r].val = true;
                            }
                            Need::Meta(j) => {
                                let r = self.referent(kids[j]);
                                self.nodes[r].meta = true;
                            }
                            Need::Output => self.nodes[i].val = true,
                        }
                    }
                    self.need(kids[k]);
                }
            }
        }
    }

    /// Decides, top-down, how the reverse gets each value it needs.
    fn decide(&mut self) {
        self.need(0);
        if let Some(ix) = self.index_node {
            // The reverse reads the element's cotangent at this index.
            let r = self.referent(ix);
            self.nodes[r].val = true;
        }
        for i in 0..self.nodes.len() {
            let (val, meta, active) = (self.nodes[i].val, self.nodes[i].meta, self.nodes[i].active);
            let leaf = self.nodes[i].kids.is_empty();
            match self.nodes[i].ex {
                Ex::Call { .. } if active => {
                    self.nodes[i].hoist = true;
                    self.nodes[i].save_val = val || meta;
                }
                Ex::Const { .. } | Ex::Ref { .. } | Ex::Tuple { .. } | Ex::Array { .. } => {}
                Ex::Var { .. } if val || meta => {
                    if !self.pure_stable(i) {
                        self.nodes[i].save_val = val;
                        self.nodes[i].save_meta = meta && !val;
                    }
                }
                // A value the reverse reads is kept outside loops (each site
                // runs once) and for expensive ops; inside loops it is
                // evaluated again. A shape alone is kept as a shape.
                Ex::Op { .. } | Ex::Index { .. } | Ex::Field { .. } if active && (val || meta) => {
                    let expensive =
                        matches!(self.nodes[i].ex, Ex::Op { rule, .. } if rule.expensive);
                    // An element of a sequence that may change later is
                    // read now: its value is kept, not read again.
                    let changing_base = match self.nodes[i].ex {
                        Ex::Index { .. } => {
                            let base = self.referent(self.nodes[i].kids[0]);
                            !self.pure_stable(base)
                        }
                        _ => false,
                    };
                    if val && (!self.in_loop || expensive || changing_base) {
                        self.nodes[i].hoist = true;
                        self.nodes[i].save_val = true;
                    } else if val {
                        self.nodes[i].recompute = true;
                    } else {
                        self.nodes[i].hoist = true;
                        self.nodes[i].save_meta = true;
                    }
                }
                _ if !active && (val || meta) => {
                    if self.pure_stable(i) {
                        if !leaf {
                            self.nodes[i].recompute = true;
                        }
                    } else {
                        self.nodes[i].hoist = true;
                        self.nodes[i].save_val = val;
                        self.nodes[i].save_meta = meta && !val;
                    }
                }
                _ => {}
            }
            if self.nodes[i].recompute {
                for k in self.nodes[i].kids.clone() {
                    let r = self.referent(k);
                    self.nodes[r].val = true;
                }
            }
        }
    }

    fn var_of(&self, i: usize) -> Option<(BindId, &'e syn::Ident)> {
        match self.nodes[i].ex {
            Ex::Var { id, ident } => Some((*id, ident)),
            _ => None,
        }
    }

    /// Saves shape `meta` (named `name` in the reverse) on a tape of its own,
    /// where an `f64`'s costs nothing.
    fn save_meta(
        &self,
        g: &mut Gen<'_>,
        name: &syn::Ident,
        meta: TokenStream,
        code: &mut Vec<TokenStream>,
        pops: &mut Vec<TokenStream>,
    ) {
        let private = g.private();
        let tape = format_ident!("__ad_mt{}_{}", self.assign.site, g.meta_tapes.len());
        g.meta_tapes.push(tape.clone());
        code.push(quote!(#private::push_meta(&mut #tape, #meta);));
        pops.push(quote!(let #name = #private::pop_meta(&mut #tape);));
    }

    /// The forward code of the site, and what it saved.
    fn forward(&self, g: &mut Gen<'_>) -> (TokenStream, Saved) {
        let private = g.private();
        let mut leaf_saves = Vec::new();
        let mut saved_pattern = Vec::new();
        let mut saved_values = Vec::new();
        let mut meta_pops = Vec::new();
        let mut seen = HashSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some((id, ident)) = self.var_of(i) {
                if (n.save_val || n.save_meta) && seen.insert((id, n.save_val)) {
                    if n.save_val {
                        let tmp = format_ident!("__ad_l{}", i);
                        leaf_saves.push(quote!(let #tmp = (&#private::Keep(&#ident)).keep();));
                        saved_values.push(quote!(#tmp));
                        saved_pattern.push(quote!(#tmp));
                    } else {
                        let m = format_ident!("__ad_mb{}", id);
                        self.save_meta(
                            g,
                            &m,
                            quote!(#private::meta(&#ident)),
                            &mut leaf_saves,
                            &mut meta_pops,
                        );
                    }
                }
            }
        }
        // Hoists, children before parents.
        let mut hoists = Vec::new();
        let mut saved = Saved {
            pattern: saved_pattern,
            values: saved_values,
            meta_pops,
        };
        self.hoist_code(0, g, &mut hoists, &mut saved);
        let value = match self.assign.kind {
            AssignKind::Compound { .. } | AssignKind::Element { op: Some(_), .. } => {
                self.fwd_expr(self.nodes[0].kids[1])
            }
            _ => self.fwd_expr(0),
        };
        let index = match self.index_node {
            Some(ix) => {
                self.hoist_code(ix, g, &mut hoists, &mut saved);
                self.fwd_expr(ix)
            }
            None => TokenStream::new(),
        };
        let statement = assignment(self.body, self.assign, value, index);
        let record = if saved.values.is_empty() {
            TokenStream::new()
        } else {
            let values = &saved.values;
            g.saved_sites.insert(self.assign.site);
            g.push_slot(
                self.assign.site,
                Slot::values(self.in_loop),
                quote!((#(#values,)*)),
            )
        };
        (
            quote!(#(#leaf_saves)* #(#hoists)* #record #statement),
            saved,
        )
    }

    fn hoist_code(&self, i: usize, g: &mut Gen<'_>, out: &mut Vec<TokenStream>, saved: &mut Saved) {
        for k in &self.nodes[i].kids {
            self.hoist_code(*k, g, out, saved);
        }
        let n = &self.nodes[i];
        if !n.hoist {
            return;
        }
        let private = g.private();
        let h = format_ident!("__ad_h{}", i);
        match n.ex {
            Ex::Call {
                func,
                span,
                method: true,
                ..
            } if n.active => {
                let pb = format_ident!("__ad_pb{}", i);
                let kids: Vec<TokenStream> = n.kids.iter().map(|k| self.fwd_expr(*k)).collect();
                let name = func.segments.last().map(|s| s.ident.clone());
                let owned = name.map(|n| format_ident!("__ad_{}_vjp_owned", n));
                out.push(quote_spanned!(*span=> let (#h, #pb) = Self::#owned(#(#kids),*);));
                saved.pattern.push(quote!(#pb));
                saved.values.push(quote!(#pb));
            }
            Ex::Call { func, span, .. } if n.active => {
                let pb = format_ident!("__ad_pb{}", i);
                let kids: Vec<TokenStream> = n.kids.iter().map(|k| self.fwd_expr(*k)).collect();
                // Through an alias that says what is wrong if `func` has no
                // generated module: rustc then reports "cannot find module `mark_g_with_differentiable_or_..`
                // is not a crate or module" at the call.
                let last = func
                    .segments
                    .last()
                    .map(|s| syn::ext::IdentExt::unraw(&s.ident).to_string())
                    .unwrap_or_default();
                let alias = syn::Ident::new(
                    &format!(
                        "mark_{last}_with_differentiable_or_wrap_its_arguments_in_stop_gradient"
                    ),
                    *span,
                );
                out.push(quote_spanned!(*span=> let (#h, #pb) = {
                    use #func as #alias;
                    #alias::__ad_vjp_owned(#(#kids),*)
                };));
                saved.pattern.push(quote!(#pb));
                saved.values.push(quote!(#pb));
            }
            // A place (`p.w`, `xs[i]`) is read where it stands (moving it
            // out could be impossible); what is kept is a copy of it.
            _ if self.is_place(i) => {}
            _ => {
                let code = self.rebuild_fwd_node(i);
                out.push(quote!(let #h = #code;));
            }
        }
        let h = if self.is_place(i) {
            self.rebuild_fwd_node(i)
        } else {
            quote!(#h)
        };
        if n.save_val {
            let k = format_ident!("__ad_kept{}", i);
            out.push(quote!(let #k = (&#private::Keep(&#h)).keep();));
            saved.pattern.push(quote!(#k));
            saved.values.push(quote!(#k));
        }
        if n.save_meta {
            let m = format_ident!("__ad_m{}", i);
            self.save_meta(
                g,
                &m,
                quote!(#private::meta(&#h)),
                out,
                &mut saved.meta_pops,
            );
        }
    }

    /// Forward code of node i, as it appears inside its parent.
    /// For a chain of field reads from a binding (`p.layer.w`): the binding
    /// and the fields, outermost first.
    fn field_place(&self, i: usize) -> Option<(BindId, Vec<syn::Member>)> {
        let mut members = Vec::new();
        let mut k = i;
        loop {
            match self.nodes[k].ex {
                Ex::Field { member, .. } => {
                    members.push(member.clone());
                    k = self.nodes[k].kids[0];
                }
                Ex::Ref { .. } => k = self.nodes[k].kids[0],
                _ => break,
            }
        }
        if members.is_empty() {
            return None;
        }
        members.reverse();
        self.var_of(k).map(|(id, _)| (id, members))
    }

    /// For `w[r][c]` with `w` an active variable (a matrix as rows): the
    /// nodes of `w` and of `r`.
    fn row_of(&self, i: usize) -> Option<(usize, usize)> {
        let Ex::Index { .. } = self.nodes[i].ex else {
            return None;
        };
        let inner = self.referent(self.nodes[i].kids[0]);
        let Ex::Index { .. } = self.nodes[inner].ex else {
            return None;
        };
        let rows = self.referent(self.nodes[inner].kids[0]);
        let (id, _) = self.var_of(rows)?;
        if !self.body.bindings[id].active {
            return None;
        }
        Some((rows, self.referent(self.nodes[inner].kids[1])))
    }

    /// A field or element read, which is evaluated in place even when kept.
    fn is_place(&self, i: usize) -> bool {
        matches!(self.nodes[i].ex, Ex::Field { .. } | Ex::Index { .. })
    }

    fn fwd_expr(&self, i: usize) -> TokenStream {
        if self.nodes[i].hoist && !self.is_place(i) {
            let h = format_ident!("__ad_h{}", i);
            return quote!(#h);
        }
        self.rebuild_fwd_node(i)
    }

    fn rebuild_fwd_node(&self, i: usize) -> TokenStream {
        let n = &self.nodes[i];
        let mut kids = n.kids.iter();
        rebuild(n.ex, &mut |_| kids.next().map(|k| self.fwd_expr(*k)), false).unwrap_or_default()
    }

    /// The reverse's name for node i's value, used by reference.
    fn rev_place(&self, i: usize) -> TokenStream {
        let i = self.referent(i);
        let n = &self.nodes[i];
        if n.save_val {
            if let Some((_, ident)) = self.var_of(i) {
                return quote!(#ident);
            }
            let k = format_ident!("__ad_k{}", i);
            return quote!(#k);
        }
        if n.recompute && self.is_place(i) {
            // A field or element is read where it stands (it may not move).
            return self.recomputed(i);
        }
        if n.recompute {
            let r = format_ident!("__ad_r{}", i);
            return quote!(#r);
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
    fn rev_expr(&self, i: usize) -> TokenStream {
        let n = &self.nodes[i];
        match n.ex {
            Ex::Ref { .. } => {
                let inner = self.rev_place(n.kids[0]);
                match n.ex {
                    Ex::Ref { mutable: true, .. } => quote!((&mut #inner)),
                    _ => quote!((&#inner)),
                }
            }
            Ex::Const { .. } => self.rev_place(i),
            _ => {
                let place = self.rev_place(i);
                quote!(::core::clone::Clone::clone(&#place))
            }
        }
    }

    fn rev_meta(&self, i: usize, private: &TokenStream) -> TokenStream {
        let i = self.referent(i);
        let n = &self.nodes[i];
        if n.save_meta {
            return match self.var_of(i) {
                Some((id, _)) => {
                    let m = format_ident!("__ad_mb{}", id);
                    quote!(#m)
                }
                None => {
                    let m = format_ident!("__ad_m{}", i);
                    quote!(#m)
                }
            };
        }
        let place = self.rev_place(i);
        quote!(#private::meta(&#place))
    }

    fn reverse(&self, g: &mut Gen<'_>, saved: Saved) -> TokenStream {
        let private = g.private();
        let take = if saved.pattern.is_empty() {
            TokenStream::new()
        } else {
            let pattern = &saved.pattern;
            g.pop_slot(self.assign.site, quote!((#(#pattern,)*)))
        };
        let meta_pops = &saved.meta_pops;
        // Saved values, back in the types the forward had.
        let mut rebinds = Vec::new();
        let mut restored = HashSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.save_val {
                continue;
            }
            match self.var_of(i) {
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
        let mut seen = HashSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let read = n.val || n.meta || n.recompute;
            if let Some((id, _)) = self.var_of(i) {
                if read && !n.save_val && !n.save_meta && seen.insert(id) {
                    rebinds.extend(g.rebind_leaf(id));
                }
            }
            if let Ex::Inactive { reads, .. } = n.ex {
                if n.recompute || (!n.hoist && (n.val || n.meta)) {
                    for id in reads {
                        if seen.insert(*id) {
                            rebinds.extend(g.rebind_leaf(*id));
                        }
                    }
                }
            }
        }
        let mut index_recomputes = Vec::new();
        let element = match (&self.assign.kind, self.index_node) {
            (AssignKind::Element { base, .. }, Some(ix)) => {
                self.recompute_code(ix, &mut index_recomputes);
                let d = adjoint(self.body, *base);
                let place = self.rev_place(ix);
                Some(quote!(#private::index_cotangent(&mut #d, &#place)))
            }
            _ => None,
        };
        let cotangent = if let Some(element) = element {
            element
        } else {
            let parts: Vec<TokenStream> = self
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
        self.recompute_code(0, &mut recomputes);
        let propagate = if self.nodes[0].active {
            self.prop(g, 0, quote!(__ad_g), &private)
        } else {
            TokenStream::new()
        };
        if propagate.is_empty() {
            // Nothing flows on (an inactive value written over a target):
            // the targets' cotangents are only cleared. Each one alone, so
            // that no untyped `zero()` stands for an inactive target.
            let clears: Vec<TokenStream> = match &self.assign.kind {
                AssignKind::Element { .. } => vec![quote!(let _ = #cotangent;)],
                _ => self
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
        quote!({
            #take
            #(#meta_pops)*
            #(#rebinds)*
            #(#index_recomputes)*
            let __ad_g = #cotangent;
            if #private::nonzero(&__ad_g) {
                #(#recomputes)*
                #propagate
            }
        })
    }

    fn recompute_code(&self, i: usize, out: &mut Vec<TokenStream>) {
        for k in &self.nodes[i].kids {
            self.recompute_code(*k, out);
        }
        let n = &self.nodes[i];
        if n.recompute && !self.is_place(i) {
            let r = format_ident!("__ad_r{}", i);
            let code = self.recomputed(i);
            out.push(quote!(let #r = #code;));
        }
    }

    /// The reverse's code that evaluates node i again from its children.
    fn recomputed(&self, i: usize) -> TokenStream {
        let n = &self.nodes[i];
        {
            let mut kids = n.kids.iter();
            let code = rebuild(
                n.ex,
                &mut |child| {
                    let k = *kids.next()?;
                    Some(match (n.ex, child) {
                        // Receivers and index bases are used in place.
                        (
                            Ex::Op {
                                syntax:
                                    Syntax::Method { .. }
                                    | Syntax::Unwrapped { .. }
                                    | Syntax::Field { .. },
                                ..
                            },
                            _,
                        ) if k == n.kids[0] => self.rev_place(k),
                        (Ex::Index { .. } | Ex::Field { .. }, _) if k == n.kids[0] => {
                            self.rev_place(k)
                        }
                        _ => self.rev_expr(k),
                    })
                },
                false,
            )
            .unwrap_or_default();
            code
        }
    }

    /// Destructures `tuple` (one cotangent per child of node i) and
    /// propagates each to its child.
    fn prop_each(
        &self,
        cx: &mut Gen<'_>,
        i: usize,
        tuple: TokenStream,
        private: &TokenStream,
    ) -> TokenStream {
        let kids = &self.nodes[i].kids;
        let names: Vec<syn::Ident> = (0..kids.len())
            .map(|k| format_ident!("__ad_c{}_{}", i, k))
            .collect();
        let parts: Vec<TokenStream> = kids
            .iter()
            .zip(&names)
            .map(|(k, name)| self.prop(cx, *k, quote!(#name), private))
            .collect();
        quote!(let (#(#names,)*) = #tuple; #(#parts)*)
    }

    /// Propagates cotangent `g` from node i to the bindings below it.
    fn prop(
        &self,
        cx: &mut Gen<'_>,
        i: usize,
        g: TokenStream,
        private: &TokenStream,
    ) -> TokenStream {
        let n = &self.nodes[i];
        if !n.active {
            return TokenStream::new();
        }
        match n.ex {
            Ex::Var { id, .. } => {
                let d = adjoint(self.body, *id);
                quote!(#private::acc(&mut #d, #g);)
            }
            Ex::Ref { .. } => self.prop(cx, n.kids[0], g, private),
            // A tuple's cotangent is a tuple; a call's pullback gives one per argument.
            Ex::Tuple { .. } => self.prop_each(cx, i, g, private),
            // Element k of the cotangent goes to the k-th element.
            Ex::Array { .. } => {
                let gi = format_ident!("__ad_g{}", i);
                let mut parts = vec![quote!(let #gi = #g;)];
                for (k, kid) in n.kids.iter().enumerate() {
                    let c = format_ident!("__ad_c{}_{}", i, k);
                    parts.push(quote!(let #c = #private::part(&#gi, #k);));
                    parts.push(self.prop(cx, *kid, quote!(#c), private));
                }
                quote!(#(#parts)*)
            }
            Ex::Call { .. } => {
                let pb = format_ident!("__ad_pb{}", i);
                self.prop_each(cx, i, quote!(#pb(#g)), private)
            }
            // Into the field of the root parameter's gradient (typed where
            // it is declared): `p̄.layer.w += ḡ`.
            Ex::Field { .. } => match self.field_place(i) {
                Some((id, members)) => {
                    let d = adjoint(self.body, id);
                    quote!(#private::acc(&mut #d #(.#members)*, #g);)
                }
                None => {
                    quote!(::core::unreachable!("autodiff: a field of a value that is not a parameter");)
                }
            },
            Ex::Index { .. } if self.row_of(i).is_some() => {
                let (rows, row_index) = self.row_of(i).expect("checked");
                let (id, _) = self.var_of(rows).expect("row_of gives a variable");
                let d = adjoint(self.body, id);
                let meta = self.rev_meta(rows, private);
                let r = self.rev_place(row_index);
                let c = self.rev_place(n.kids[1]);
                quote!(#private::acc_index2(&mut #d, &#meta, &#r, &#c, #g);)
            }
            Ex::Index { .. } => {
                let base = self.referent(n.kids[0]);
                let meta = self.rev_meta(base, private);
                let index = self.rev_place(n.kids[1]);
                let index_node = self.referent(n.kids[1]);
                match self.var_of(base) {
                    // Into a parameter, at an index fixed for the iteration:
                    // summed over the iteration, written once (the writes to
                    // one element would otherwise chain through memory).
                    Some((id, _))
                        if !cx.combined.is_empty()
                            && self.body.bindings[id].param.is_some_and(|p| {
                                crate::signature::scalar_elements(&cx.sig.params[p].ty)
                            })
                            && crate::analyse::stable(&self.body.bindings[id])
                            && self.pure_stable(index_node) =>
                    {
                        let ex = self.nodes[index_node].ex;
                        let mut reads = Vec::new();
                        recipe_reads(ex, &mut reads);
                        let key = format!("{} {:?}", plain(ex), reads);
                        let loop_id = *cx.current_loop.last().expect("combining inside a loop");
                        let group = cx.combined.last_mut().expect("combining inside a loop");
                        let acc = match group.iter().find(|c| c.base == id && c.key == key) {
                            Some(c) => c.acc.clone(),
                            None => {
                                let acc = format_ident!("__ad_ix{}_{}", loop_id, group.len());
                                group.push(Combined {
                                    base: id,
                                    index: ex.clone(),
                                    key,
                                    acc: acc.clone(),
                                });
                                acc
                            }
                        };
                        quote!(#acc += #g;)
                    }
                    Some((id, _)) => {
                        let d = adjoint(self.body, id);
                        quote!(#private::acc_index(&mut #d, &#meta, &#index, #g);)
                    }
                    // An element of a parameter's field: straight into it.
                    None if self.field_place(base).is_some() => {
                        let (id, members) = self.field_place(base).expect("checked");
                        let d = adjoint(self.body, id);
                        quote!(#private::acc_index(&mut #d #(.#members)*, &#meta, &#index, #g);)
                    }
                    None => {
                        let c = format_ident!("__ad_c{}_0", i);
                        let rest = self.prop(cx, n.kids[0], quote!(#c), private);
                        quote!(let #c = #private::rules::index_d0(&#g, &#meta, &#index); #rest)
                    }
                }
            }
            Ex::Op { rule, .. } if rule.identity => self.prop(cx, n.kids[0], g, private),
            Ex::Op { rule, .. } => {
                let gi = format_ident!("__ad_g{}", i);
                let mut parts = vec![quote!(let #gi = #g;)];
                for (k, operand) in rule.operands.iter().enumerate() {
                    let Some(needs) = operand else { continue };
                    if !self.nodes[n.kids[k]].active {
                        continue;
                    }
                    let f = format_ident!("{}_d{}", rule.rule, k);
                    let args = needs.iter().map(|need| match *need {
                        Need::Value(j) => {
                            let v = self.rev_place(n.kids[j]);
                            quote!(&#v)
                        }
                        Need::Meta(j) => {
                            let m = self.rev_meta(n.kids[j], private);
                            quote!(&#m)
                        }
                        Need::Output => {
                            let v = self.rev_place(i);
                            quote!(&#v)
                        }
                    });
                    let c = format_ident!("__ad_c{}_{}", i, k);
                    parts.push(quote!(let #c = #private::rules::#f(&#gi, #(#args),*);));
                    parts.push(self.prop(cx, n.kids[k], quote!(#c), private));
                }
                quote!(#(#parts)*)
            }
            Ex::Const { .. } | Ex::Inactive { .. } | Ex::Unsupported { .. } => TokenStream::new(),
        }
    }
}
