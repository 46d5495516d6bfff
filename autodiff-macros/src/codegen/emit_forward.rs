//! The forward pass: the body as written, plus what the plan asks the
//! reverse to find — each site's saves (its slot, its tapes of shapes), the
//! branch each recording `if`/`match` took, trip counts, how iterations
//! ended, checkpoints.

use super::{Gen, assignment};
use crate::ir::*;
use crate::plan::{ExitRecord, Kept, Obtain, SitePlan, Trips, checkpoint_site};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

impl Gen<'_> {
    pub(super) fn fwd_block(&mut self, block: &Block) -> TokenStream {
        let parts: Vec<TokenStream> = block.stmts.iter().map(|s| self.fwd_stmt(s)).collect();
        let keeps = self.counter_keeps(block);
        quote!(#(#parts)* #(#keeps)*)
    }

    /// The values at the end of `block` of the counters it declares that
    /// the reverse walks back.
    fn counter_keeps(&self, block: &Block) -> Vec<TokenStream> {
        if self.plain_mode {
            return Vec::new();
        }
        let mut keeps = Vec::new();
        for stmt in &block.stmts {
            let Stmt::Assign(a) = stmt else { continue };
            for (id, c) in &self.plan.counters {
                if c.decl_site == a.site {
                    let ident = &self.body.bindings[*id].ident;
                    keeps.push(self.push_slot(crate::plan::counter_site(*id), quote!(#ident)));
                }
            }
        }
        keeps
    }

    /// The function's block: as [`Self::fwd_block`], and after the last
    /// write of a vector the reverse reads frozen, a copy of it (kept as
    /// `Keep` keeps: a borrowed vector as its owned pointee).
    pub(super) fn fwd_top_block(&mut self, block: &Block) -> TokenStream {
        let private = self.private();
        let mut parts = Vec::new();
        for (top, stmt) in block.stmts.iter().enumerate() {
            parts.push(self.fwd_stmt(stmt));
            for (id, at) in &self.plan.fixed_len {
                if *at == top {
                    let ident = &self.body.bindings[*id].ident;
                    let var = super::fixed_len_var(*id);
                    parts.push(quote!(let #var = #private::meta(&#ident);));
                }
            }
            for (id, after) in &self.plan.frozen {
                if *after == top {
                    let ident = &self.body.bindings[*id].ident;
                    let var = super::frozen_var(*id);
                    parts.push(quote!(let #var = (&#private::Keep(&#ident)).keep();));
                }
            }
        }
        parts.extend(self.counter_keeps(block));
        quote!(#(#parts)*)
    }

    fn fwd_stmt(&mut self, stmt: &Stmt) -> TokenStream {
        match stmt {
            Stmt::Verbatim { tokens } => tokens.clone(),
            Stmt::Assign(a) if self.plain_mode => self.plain_assign(a),
            Stmt::Assign(a) => match self.plan.sites.get(&a.site) {
                Some(s) => self.site_forward(s),
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
                if self.plan.branches.contains(&i.site) && !self.plain_mode {
                    let yes = self.push_slot(i.site, quote!(true));
                    let no = self.push_slot(i.site, quote!(false));
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
                let record = self.plan.branches.contains(&m.site) && !self.plain_mode;
                let mut arms = Vec::new();
                for (k, arm) in m.arms.iter().enumerate() {
                    let head = &arm.head;
                    let body = self.fwd_block(&arm.body);
                    let mark = if record {
                        self.push_slot(m.site, quote!(#k as u32))
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

    /// What the forward records of a loop's trips.
    fn trips_value(&self, id: LoopId) -> TokenStream {
        let n = format_ident!("__ad_n{}", id);
        match self.plan.loops[id].trips {
            Trips::CountAndLast => {
                let last = format_ident!("__ad_last{}", id);
                quote!((#n, #last))
            }
            Trips::Count => quote!(#n),
            Trips::Recomputed => TokenStream::new(),
        }
    }

    fn fwd_loop(&mut self, l: &Loop) -> TokenStream {
        if self.plan.loops[l.id].checkpointed && !self.plain_mode {
            return self.fwd_checkpointed(l);
        }
        let looped = self.fwd_loop_over(l, None);
        // Vectors the sites inside read from a copy kept at the entry.
        let private = self.private();
        let copies: Vec<TokenStream> = self
            .plan
            .loop_frozen
            .get(&l.id)
            .into_iter()
            .flatten()
            .map(|id| {
                let ident = &self.body.bindings[*id].ident;
                self.push_slot(
                    crate::plan::loop_frozen_site(l.id, *id),
                    quote!((&#private::Keep(&#ident)).keep()),
                )
            })
            .collect();
        if copies.is_empty() || self.plain_mode {
            looped
        } else {
            quote!(#(#copies)* #looped)
        }
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
        let label = self.body.loops[l.id].label.clone();
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
        let record = self.push_slot(
            checkpoint_site(l.id),
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
    pub(super) fn fwd_loop_over(
        &mut self,
        l: &Loop,
        range: Option<(TokenStream, TokenStream)>,
    ) -> TokenStream {
        let lp = &self.plan.loops[l.id];
        let info = &self.body.loops[l.id];
        let label = info.label.clone();
        let site = info.site;
        let eager = lp
            .eager
            .as_ref()
            .filter(|_| !self.plain_mode && range.is_none());
        let counted =
            lp.reversed && !self.plain_mode && lp.trips != Trips::Recomputed && eager.is_none();
        let body = self.fwd_block(&l.body);
        let body = match eager {
            Some(eager) => self.eager_iteration(l, eager, body),
            None => body,
        };
        let n = format_ident!("__ad_n{}", l.id);
        let count = if counted {
            quote!(#n += 1;)
        } else {
            TokenStream::new()
        };
        let end_status = if lp.exits == ExitRecord::Stack && !self.plain_mode {
            let stack = format_ident!("__ad_x{}", l.id);
            quote!(#stack.push(0u32);)
        } else {
            TokenStream::new()
        };
        let trips = self.trips_value(l.id);
        let (declare, record) = if counted {
            (quote!(let mut #n: usize = 0;), self.push_slot(site, trips))
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
                ..
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
        match eager {
            Some(eager) => {
                let names: Vec<syn::Ident> = eager
                    .buffers
                    .iter()
                    .map(|id| super::eager_buffer(*id))
                    .collect();
                let inits = eager.buffers.iter().map(|id| self.adjoint_init(*id, true));
                // Whether any iteration ran: if none did, the pullback adds
                // nothing (not s̄ · 0, NaN where s̄ is infinite).
                let ran = super::eager_ran(l.id);
                let keep =
                    self.push_slot(crate::plan::eager_site(l.id), quote!((#(#names,)* #ran,)));
                // The carries: zero before the first iteration, the last one
                // added after the last.
                let mut carry_decls = Vec::new();
                let mut carry_ends = Vec::new();
                for (n, cy) in eager.carries.iter().enumerate() {
                    let c = &lp.combined[cy.upper];
                    let (var, at) = (
                        super::emit_reverse::carry_var(l.id, n),
                        super::emit_reverse::carry_index(l.id, n),
                    );
                    let buffer = super::eager_buffer(c.base);
                    carry_decls.push(quote!(let mut #var: f64 = -0.0; let mut #at: usize = 0;));
                    carry_ends.push(quote!(if #var != 0.0 { #buffer[#at] += #var; }));
                }
                quote!({
                    #(let mut #names #inits;)*
                    let mut #ran = false;
                    #(#carry_decls)*
                    #looped
                    #(#carry_ends)*
                    #keep
                })
            }
            None => quote!({ #declare #looped #record }),
        }
    }

    /// An iteration of an eager loop ([`crate::plan::Eager`]): the body as
    /// written, then its reverse seeded with s̄ = 1, adding into the loop's
    /// buffers (taken out under the adjoints' names for the iteration).
    fn eager_iteration(
        &mut self,
        l: &Loop,
        eager: &crate::plan::Eager,
        body: TokenStream,
    ) -> TokenStream {
        let private = self.private();
        let counter = match &l.kind {
            LoopKind::Range {
                counter: Some(id), ..
            } => {
                let ident = &self.body.bindings[*id].ident;
                let var = format_ident!("__ad_ctr{}", l.id);
                quote!(let #var = #ident;)
            }
            _ => TokenStream::new(),
        };
        let reverse = self.rev_iteration(l, &eager.carries);
        let mut takes = Vec::new();
        let mut puts = Vec::new();
        for id in &eager.buffers {
            let (d, buffer) = (super::adjoint(self.body, *id), super::eager_buffer(*id));
            takes.push(quote!(let mut #d = #private::take(&mut #buffer);));
            puts.push(quote!(#buffer = #d;));
        }
        let locals = eager.locals.iter().map(|id| {
            let d = super::adjoint(self.body, *id);
            let init = self.adjoint_init(*id, false);
            quote!(let mut #d #init;)
        });
        let s_bar = super::adjoint(self.body, eager.accumulator);
        let ran = super::eager_ran(l.id);
        quote!(
            #counter
            { #body }
            {
                #ran = true;
                #(#takes)*
                #(#locals)*
                let mut #s_bar: f64 = 1.0;
                #reverse
                #(#puts)*
            }
        )
    }

    fn fwd_exit(&mut self, e: &Exit) -> TokenStream {
        let info = &self.body.exits[e.id as usize - 1];
        let id = proc_macro2::Literal::u32_unsuffixed(e.id);
        let mut book = Vec::new();
        for l in &info.ends_iteration_of {
            if self.plan.loops[*l].exits == ExitRecord::Stack && !self.plain_mode {
                let stack = format_ident!("__ad_x{}", l);
                book.push(quote!(#stack.push(#id);));
            }
        }
        for l in &info.leaves {
            if self.plan.loops[*l].reversed
                && self.plan.loops[*l].trips != Trips::Recomputed
                && !self.plain_mode
            {
                let site = self.body.loops[*l].site;
                let trips = self.trips_value(*l);
                book.push(self.push_slot(site, trips));
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

    // ---------------------------------------------------------------- sites

    /// The forward of one active site: the saves of bindings, the hoisted
    /// nodes (children before parents), the slot's record, the statement.
    fn site_forward(&self, s: &SitePlan<'_>) -> TokenStream {
        let private = self.private();
        let mut code = Vec::new();
        // Bindings, kept before the statement may change them.
        for (i, n) in s.nodes.iter().enumerate() {
            let Some((_, ident)) = s.var_of(i) else {
                continue;
            };
            if s.kept.contains(&Kept::Binding(i)) {
                let tmp = format_ident!("__ad_l{}", i);
                code.push(quote!(let #tmp = (&#private::Keep(&#ident)).keep();));
            } else if let Some(tape) = &n.tape {
                code.push(quote!(#private::push_meta(&mut #tape, #private::meta(&#ident));));
            }
        }
        self.hoists(s, 0, &mut code);
        let value = match s.assign.kind {
            AssignKind::Compound { .. } | AssignKind::Element { op: Some(_), .. } => {
                self.fwd_expr(s, s.nodes[0].kids[1])
            }
            _ => self.fwd_expr(s, 0),
        };
        let index = match s.index_node {
            Some(ix) => {
                self.hoists(s, ix, &mut code);
                self.fwd_expr(s, ix)
            }
            None => TokenStream::new(),
        };
        let statement = assignment(self.body, s.assign, value, index);
        let record = if s.kept.is_empty() {
            TokenStream::new()
        } else {
            let values = Self::kept_names(s);
            self.push_slot(s.assign.site, quote!((#(#values,)*)))
        };
        quote!(#(#code)* #record #statement)
    }

    /// The hoisted nodes of node i's subtree, children before parents, with
    /// what each keeps.
    fn hoists(&self, s: &SitePlan<'_>, i: usize, out: &mut Vec<TokenStream>) {
        let private = self.private();
        let mut order = Vec::new();
        s.post_order(i, &mut order);
        for i in order {
            if !s.hoisted(i) {
                continue;
            }
            let n = &s.nodes[i];
            let h = format_ident!("__ad_h{}", i);
            match n.ex {
                // `self.layer.m(..)`, `net.m(..)`: the owning pullback as a
                // method of the receiver's type (generated beside `m`), called
                // on the receiver as written.
                Ex::Call {
                    func,
                    span,
                    method: true,
                    args,
                } if n.active
                    && !matches!(&args[0], Ex::Var { ident, .. } if ident == "__ad_self") =>
                {
                    let pb = format_ident!("__ad_pb{}", i);
                    let kids: Vec<TokenStream> =
                        n.kids.iter().map(|k| self.fwd_expr(s, *k)).collect();
                    let (recv, rest) = (&kids[0], &kids[1..]);
                    let name = func
                        .segments
                        .last()
                        .map(|s| syn::ext::IdentExt::unraw(&s.ident).to_string())
                        .unwrap_or_default();
                    // At the method's name: where rustc points if it is not one.
                    let at = func.segments.last().map_or(*span, |s| s.ident.span());
                    let by_method = syn::Ident::new(
                        &format!(
                            "mark_{name}_with_differentiable_or_wrap_the_receiver_in_stop_gradient"
                        ),
                        at,
                    );
                    out.push(
                        quote_spanned!(*span=> let (#h, #pb) = (#recv).#by_method(#(#rest),*);),
                    );
                }
                Ex::Call {
                    func,
                    span,
                    method: true,
                    ..
                } if n.active => {
                    let pb = format_ident!("__ad_pb{}", i);
                    let mut kids: Vec<TokenStream> =
                        n.kids.iter().map(|k| self.fwd_expr(s, *k)).collect();
                    // The receiver as the callee takes it (`self` or `&self`).
                    if let Some(r) = kids.first_mut() {
                        let private = self.private();
                        *r = quote!(#private::receiver(&#r));
                    }
                    let name = func.segments.last().map(|s| s.ident.clone());
                    let owned = name.map(|n| format_ident!("__ad_{}_vjp_owned", n));
                    out.push(quote_spanned!(*span=> let (#h, #pb) = Self::#owned(#(#kids),*);));
                }
                Ex::Call { func, span, .. } if n.active => {
                    let pb = format_ident!("__ad_pb{}", i);
                    let kids: Vec<TokenStream> =
                        n.kids.iter().map(|k| self.fwd_expr(s, *k)).collect();
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
                }
                // A place (`p.w`, `xs[i]`) is read where it stands (moving it
                // out could be impossible); what is kept is a copy of it.
                _ if s.is_place(i) => {}
                _ => {
                    let code = self.rebuild_fwd_node(s, i);
                    out.push(quote!(let #h = #code;));
                }
            }
            let h = if s.is_place(i) {
                self.rebuild_fwd_node(s, i)
            } else {
                quote!(#h)
            };
            match n.obtain {
                Obtain::Saved => {
                    let k = format_ident!("__ad_kept{}", i);
                    out.push(quote!(let #k = (&#private::Keep(&#h)).keep();));
                }
                Obtain::ShapeOnly => {
                    let tape = n.tape.as_ref().expect("a kept shape has a tape");
                    out.push(quote!(#private::push_meta(&mut #tape, #private::meta(&#h));));
                }
                _ => {}
            }
        }
    }

    /// Forward code of node i, as it appears inside its parent.
    fn fwd_expr(&self, s: &SitePlan<'_>, i: usize) -> TokenStream {
        if s.hoisted(i) && !s.is_place(i) {
            let h = format_ident!("__ad_h{}", i);
            return quote!(#h);
        }
        self.rebuild_fwd_node(s, i)
    }

    fn rebuild_fwd_node(&self, s: &SitePlan<'_>, i: usize) -> TokenStream {
        let n = &s.nodes[i];
        let mut kids = n.kids.iter();
        rebuild(
            n.ex,
            &mut |_| kids.next().map(|k| self.fwd_expr(s, *k)),
            false,
        )
        .unwrap_or_default()
    }
}
