//! Stage 4: the plan — every decision code generation takes, taken before any
//! code is emitted. The emitters (`codegen::emit_forward`,
//! `codegen::emit_reverse`) only read it.
//!
//! * Per site (an active assignment), per node of its expression tree: what
//!   the reverse needs of it (value, shape) and how it gets it ([`Obtain`]:
//!   read in place, evaluated again, saved in the site's slot, or only its
//!   shape kept); the layout of the site's slot ([`Kept`]); which tapes of
//!   shapes it uses; how the cotangent of an element read is accumulated
//!   ([`Accumulate`]); which bindings its reverse rebinds.
//! * Per loop ([`LoopPlan`]): whether the reverse walks it, what it records
//!   (trip count, last counter, how each iteration ended), checkpointing, and
//!   the indexed accumulations summed over one iteration.
//! * Per branch: whether it records the branch taken.
//! * For the whole function: the slots to declare, the parameters the
//!   reverse reads, the sites that save values (drawn by `show`).
//!
//! A new decision goes here, as a variant of one of these enums, and the
//! emitters follow it.

use crate::analyse::{is_active, stable};
use crate::ir::*;
use crate::rules::Need;
use crate::signature::Signature;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use syn::Ident;

pub struct Plan<'a> {
    pub sig: &'a Signature,
    pub body: &'a Body,
    /// Active assignment sites, by site id.
    pub sites: HashMap<usize, SitePlan<'a>>,
    /// `if`/`match` sites that record the branch taken (their reverse is not
    /// empty).
    pub branches: BTreeSet<usize>,
    /// By loop id.
    pub loops: Vec<LoopPlan>,
    /// Slots to declare before the forward pass, by site.
    pub slots: BTreeMap<usize, Slot>,
    /// Parameters the reverse reads (kept on entry).
    pub params_read: BTreeSet<usize>,
    /// Tapes of shapes (`__private::push_meta`), in the order they are named.
    pub meta_tapes: Vec<Ident>,
    /// Sites whose values the forward pass saves for the reverse.
    pub saved_sites: HashSet<usize>,
    /// Integer counters the reverse walks back (`analyse::Facts::walk_back`):
    /// kept once at the end of the block that declares them, undone at each
    /// update (`k -= e` for `k += e`), read where they stand.
    pub counters: BTreeMap<BindId, crate::analyse::WalkBack>,
    /// Vectors whose elements some site reads after their last write: the
    /// forward keeps a copy after that top-level statement (the value: its
    /// index), the reverse reads elements and the length from it.
    pub frozen: BTreeMap<BindId, usize>,
    /// Slice and vector parameters whose gradient starts as zeros of their
    /// length (not a symbolic zero grown on the first write): their
    /// element reads accumulate as [`Accumulate::Dense`].
    pub dense: BTreeSet<BindId>,
    /// Vectors whose shape some site reads and that keep the length they
    /// were declared with (`analyse::Facts::fixed_len`): the forward keeps
    /// it once after the declaration (the value: its statement's index).
    pub fixed_len: BTreeMap<BindId, usize>,
    /// Per loop, the vectors some site inside reads from a copy kept at
    /// each entry of the loop (`analyse::Facts::loop_frozen`).
    pub loop_frozen: BTreeMap<LoopId, BTreeSet<BindId>>,
    /// Bindings known at compile time to be `f64`s.
    pub f64s: Vec<bool>,
    /// Dense gradients written by index only in eager loops (into their
    /// buffers): the pullback's starts as a symbolic zero.
    pub buffered: BTreeSet<BindId>,
}

/// The slot of the copies of vector `id` kept at the entries of loop `l`.
pub fn loop_frozen_site(l: LoopId, id: BindId) -> usize {
    3_000_000 + l * 100_000 + id
}

/// The slot of a walked-back counter's value at the end of its block.
pub fn counter_site(id: BindId) -> usize {
    2_000_000 + id
}

/// Where a site keeps what the reverse needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Slot {
    /// Inside a loop: a `Vec` used as a stack.
    Stack,
    /// Saved values of a site that runs at most once: an `Option`.
    Once,
    /// A branch taken or a trip count recorded at most once: a plain variable,
    /// read by the reverse only on a path the forward took.
    Record,
}

impl Slot {
    pub fn values(in_loop: bool) -> Slot {
        if in_loop { Slot::Stack } else { Slot::Once }
    }
    pub fn record(in_loop: bool) -> Slot {
        if in_loop { Slot::Stack } else { Slot::Record }
    }
}

/// The slot of a checkpointed loop's range and segment length (apart from
/// the sites' own, which are numbered from 1).
pub fn checkpoint_site(l: LoopId) -> usize {
    1_000_000 + l
}

// -------------------------------------------------------------------- loops

pub struct LoopPlan {
    /// The reverse walks the loop (something in it carries a gradient): the
    /// forward records its trips as `trips` says. Otherwise nothing is
    /// recorded and the reverse skips it.
    pub reversed: bool,
    pub trips: Trips,
    pub exits: ExitRecord,
    /// The forward keeps its state every k iterations and runs untaped; the
    /// reverse runs each segment again, taped (`#[checkpoint]`).
    pub checkpointed: bool,
    /// Indexed accumulations into a parameter (`x[i]`) gathered over one
    /// iteration, flushed once per index (in the order they were found).
    pub combined: Vec<Combined>,
    /// The reverse of each iteration runs in the forward, right after it
    /// ([`Eager`]); the pullback only scales what it summed.
    pub eager: Option<Eager>,
}

/// A loop whose only way out for a gradient is one `f64` accumulator `s`
/// (`s += e`, `s -= e`, `s = s + e`; `s` read nowhere else in the loop):
/// `s = s₀ + Σᵢ eᵢ`, so the cotangent s̄ is the same in every iteration and
/// every iteration's contribution to a binding `v` read in the loop is
/// s̄ · ∂eᵢ/∂v. The forward runs each iteration's reverse right after the
/// iteration, seeded with s̄ = 1, summing the cotangents of the bindings
/// declared before the loop into buffers (one pass over the data, as a
/// fused hand-written gradient makes); the pullback adds s̄ · buffer
/// (`__private::acc_scaled`). Everything an iteration's reverse pops, the
/// same iteration pushed just before, so the stacks never grow past one
/// iteration.
pub struct Eager {
    pub accumulator: BindId,
    /// Differentiated bindings declared before the loop whose cotangents
    /// the loop adds to: summed in buffers over the whole loop.
    pub buffers: Vec<BindId>,
    /// Differentiated bindings declared inside it: their cotangents start
    /// at zero in every iteration.
    pub locals: Vec<BindId>,
    /// Neighbouring elements of one dense buffer summed per iteration
    /// (`x̄[i]` and `x̄[i + 1]`, or `x̄[i − 1]` and `x̄[i]`, `i` the loop's
    /// counter): the upper one's sum is carried in a register to the next
    /// iteration, where it is the lower one's, so each element is written
    /// once and no write waits on the one before (W3).
    pub carries: Vec<Carry>,
}

/// Two of an eager loop's [`Combined`] sums, by position: `upper`'s index
/// is `lower`'s plus one.
pub struct Carry {
    pub lower: usize,
    pub upper: usize,
}

/// The slot of an eager loop's buffers.
pub fn eager_site(l: LoopId) -> usize {
    4_000_000 + l
}

/// How the reverse knows how many times to run a loop's body.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Trips {
    /// The forward counts the iterations and records the count.
    Count,
    /// A `for` over a range whose counter the body reads: the count and the
    /// counter's last value are recorded, and the reverse walks the counter
    /// back from it (`__private::prev`).
    CountAndLast,
    /// A `for` over a range whose bounds the reverse can evaluate again and
    /// that no exit leaves early (`analyse::Facts::recomputed_trips`):
    /// nothing is recorded; the reverse computes the count and the last
    /// counter from the bounds (`__private::trips`).
    Recomputed,
}

/// How the reverse knows how each iteration ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExitRecord {
    /// No exit ends an iteration early: every iteration ran to its end.
    None,
    /// Each iteration pushes the exit that ended it (0: its end) on a stack.
    Stack,
}

/// The contributions of one iteration to `x[index]`, summed in `acc`.
pub struct Combined {
    pub base: BindId,
    pub index: Ex,
    pub key: String,
    pub acc: Ident,
}

// -------------------------------------------------------------------- sites

/// How the reverse gets a value (or shape) it needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Obtain {
    /// The reverse reads nothing of it.
    Unused,
    /// Read where it stands: a parameter, a `for` counter, a `let` evaluated
    /// again from its recipe, a constant, or an inactive expression of those.
    InPlace,
    /// Evaluated again in the reverse from its children.
    Recomputed,
    /// Its value is kept in the site's slot.
    Saved,
    /// Only its shape is kept (on a tape of shapes, where an `f64`'s is
    /// zero-sized).
    ShapeOnly,
    /// Only its shape is needed, and it is the one the vector was declared
    /// with ([`Plan::fixed_len`]): read from the copy kept then.
    FixedShape,
}

/// How the cotangent of an element read `base[index]` reaches the base.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Accumulate {
    /// `w[r][c]` with `w` an active matrix as rows: straight into w̄[r][c]
    /// (the nodes of `w` and of `r`).
    Rows { rows: usize, row_index: usize },
    /// Into a parameter at an index fixed for the iteration: summed over the
    /// iteration in the loop's accumulator, written once.
    Combined { acc: Ident },
    /// Into the binding's cotangent at the index (`acc_index`).
    Indexed { base: BindId },
    /// Into a slice or vector parameter whose gradient starts as zeros of
    /// its length ([`Plan::dense`]), at a scalar index: `d[i] += g`, with
    /// no length check the compiler cannot see through.
    Dense { base: BindId },
    /// Into an element of a parameter's field.
    FieldElement,
    /// Through `index_d0` into the cotangent of the base expression.
    Through,
}

/// What one slot entry of a site holds (the slot is a tuple, in this order).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kept {
    /// A binding's value (node of a `Var`), restored under its own name.
    Binding(usize),
    /// A call's pullback.
    Pullback(usize),
    /// A node's value, restored as `__ad_k<i>`.
    Value(usize),
}

/// One node of a site's expression tree, with what the reverse needs of it.
pub struct Node<'e> {
    pub ex: &'e Ex,
    pub kids: Vec<usize>,
    pub active: bool,
    /// Known at compile time to be an `f64`: its shape is `ScalarMeta`,
    /// never kept or asked for.
    pub is_f64: bool,
    /// The reverse needs its value / its shape.
    pub needs_value: bool,
    pub needs_shape: bool,
    pub obtain: Obtain,
    /// For a node whose shape is kept by this node: the tape.
    pub tape: Option<Ident>,
    /// For an element read the cotangent reaches.
    pub accumulate: Option<Accumulate>,
}

pub struct SitePlan<'e> {
    pub assign: &'e Assign,
    pub nodes: Vec<Node<'e>>,
    pub in_loop: bool,
    /// For a write into an element: the node of its index.
    pub index_node: Option<usize>,
    /// The slot's tuple (empty: the site saves no value).
    pub kept: Vec<Kept>,
    /// Nodes whose shape goes on a tape, in the order the forward pushes them.
    pub shapes: Vec<usize>,
    /// Bindings the reverse binds again under their own names (parameters,
    /// counters, recipes), in order.
    pub rebinds: Vec<BindId>,
    /// Nodes read in place as the base of an element read (`v` in `v[i]`).
    pub place_base: HashSet<usize>,
    /// Element reads whose cotangent may be summed over the iteration.
    combinable: HashSet<usize>,
}

// --------------------------------------------------------------- building

impl<'a> Plan<'a> {
    pub fn new(sig: &'a Signature, body: &'a Body) -> Self {
        let mut plan = Plan {
            sig,
            body,
            sites: HashMap::new(),
            branches: BTreeSet::new(),
            loops: Vec::new(),
            slots: BTreeMap::new(),
            params_read: BTreeSet::new(),
            meta_tapes: Vec::new(),
            saved_sites: HashSet::new(),
            counters: body.facts.walk_back.clone(),
            frozen: BTreeMap::new(),
            dense: BTreeSet::new(),
            fixed_len: BTreeMap::new(),
            loop_frozen: BTreeMap::new(),
            f64s: f64_bindings(sig, body),
            buffered: BTreeSet::new(),
        };
        // What carries a gradient (or undoes a counter's update): the loops
        // the reverse walks and the branches it retraces.
        let mut reach = Reach {
            body,
            any: false,
            branches: BTreeSet::new(),
            loops: Vec::new(),
            undone: plan
                .counters
                .values()
                .flat_map(|c| c.updates.keys().copied())
                .collect(),
        };
        reach.visit_block(&body.block);
        plan.branches = reach.branches;
        let mut loops: Vec<Option<&Loop>> = vec![None; body.loops.len()];
        let mut reversed = vec![false; body.loops.len()];
        for (l, r) in reach.loops {
            reversed[l.id] = r;
            loops[l.id] = Some(l);
        }
        for (id, info) in body.loops.iter().enumerate() {
            let l = loops[id];
            let has_checkpoint = |l: Option<&Loop>| l.is_some_and(|l| l.checkpoint.is_some());
            let mut exits = Vec::new();
            if let Some(l) = l {
                exits_ending(&l.body, Region::Loop(id), body, &mut exits);
            }
            let counter = l.is_some_and(|l| {
                matches!(
                    l.kind,
                    LoopKind::Range {
                        counter: Some(_),
                        ..
                    }
                )
            });
            plan.loops.push(LoopPlan {
                reversed: reversed[id],
                trips: if body.facts.recomputed_trips.contains(&id) {
                    Trips::Recomputed
                } else if counter {
                    Trips::CountAndLast
                } else {
                    Trips::Count
                },
                exits: if exits.is_empty() || !reversed[id] {
                    ExitRecord::None
                } else {
                    ExitRecord::Stack
                },
                // The first run of a checkpointed loop inside another is
                // plain: only the outer's taped re-runs keep its state.
                checkpointed: has_checkpoint(l)
                    && info
                        .parents
                        .iter()
                        .all(|p| !has_checkpoint(loops[*p]) || reversed[*p]),
                combined: Vec::new(),
                eager: None,
            });
        }
        // Sites, in the order the reverse emits them (statements backwards).
        let mut order = Backwards {
            body,
            loops: Vec::new(),
            sites: Vec::new(),
        };
        order.visit_block(&body.block);
        for (a, innermost) in order.sites {
            let site = plan.site(a, innermost);
            plan.sites.insert(a.site, site);
        }
        // A parameter summed per iteration at one index per loop (the
        // kernel's μ̄[c]) is dense too; one summed at several (W3's x̄[i],
        // x̄[i + 1]: neighbouring `+=`s, measured 2-3x slower) is not.
        let mut single: BTreeMap<BindId, bool> = BTreeMap::new();
        for lp in &plan.loops {
            let mut count: BTreeMap<BindId, usize> = BTreeMap::new();
            for c in &lp.combined {
                *count.entry(c.base).or_default() += 1;
            }
            for (base, n) in count {
                *single.entry(base).or_insert(true) &= n == 1;
            }
        }
        for (base, one) in single {
            if one && plan.dense_param(base) {
                plan.dense.insert(base);
            }
        }
        // Slots and records.
        for (site, s) in &plan.sites {
            if !s.kept.is_empty() {
                plan.slots.insert(*site, Slot::values(s.in_loop));
                plan.saved_sites.insert(*site);
            }
        }
        let mut in_loop = InLoop(HashMap::new());
        in_loop.visit_block(&body.block);
        for site in &plan.branches {
            plan.slots.insert(*site, Slot::record(in_loop.0[site]));
        }
        let mut rebound = Vec::new();
        for (id, info) in body.loops.iter().enumerate() {
            let lp = &plan.loops[id];
            let nested = !info.parents.is_empty();
            if lp.reversed && lp.trips == Trips::Recomputed {
                if let Some(LoopKind::Range {
                    bound_reads: Some(rd),
                    ..
                }) = loops[id].map(|l| &l.kind)
                {
                    rebound.extend(rd);
                }
            } else if lp.reversed {
                plan.slots.insert(info.site, Slot::record(nested));
            }
            if lp.reversed {
                for c in &lp.combined {
                    rebound.push(c.base);
                    reads(&c.index, &mut rebound);
                }
                if let Some(ck) = loops[id].and_then(|l| l.checkpoint.as_ref()) {
                    rebound.extend(&ck.rebound);
                }
            }
            if lp.checkpointed {
                plan.slots.insert(checkpoint_site(id), Slot::record(nested));
            }
        }
        // Counters walked back: their kept values, and what their steps read.
        for (id, c) in &plan.counters {
            plan.slots
                .insert(counter_site(*id), Slot::record(c.in_loop));
            for (_, step) in c.updates.values() {
                reads(step, &mut rebound);
            }
        }
        // The parameters the reverse reads; the vectors it reads frozen.
        for (site, s) in &plan.sites {
            for (i, n) in s.nodes.iter().enumerate() {
                if let (Obtain::FixedShape, Some((id, _))) = (n.obtain, s.var_of(i)) {
                    plan.fixed_len.insert(id, body.facts.fixed_len[&id]);
                }
            }
            rebound.extend(&s.rebinds);
            for id in &s.rebinds {
                if body.facts.frozen_at(*id, *site) {
                    plan.frozen.insert(*id, body.facts.frozen_after[id]);
                } else if let Some(l) = body.facts.loop_frozen.get(&(*id, *site)) {
                    plan.loop_frozen.entry(*l).or_default().insert(*id);
                }
            }
        }
        for (l, vs) in &plan.loop_frozen {
            let nested = !body.loops[*l].parents.is_empty();
            for id in vs {
                plan.slots
                    .insert(loop_frozen_site(*l, *id), Slot::record(nested));
            }
        }
        let mut seen = HashSet::new();
        for id in rebound {
            plan.read_leaf(id, &mut seen);
        }
        // Loops reversed inside their forward: no trip count to record.
        let mut eager_sites = HashSet::new();
        for l in loops.iter().flatten() {
            if let Some((eager, sites)) = plan.eager(l) {
                let site = body.loops[l.id].site;
                plan.slots.remove(&site);
                plan.slots.insert(eager_site(l.id), Slot::Once);
                // Their buffers of slices are written by index (zeros of
                // the length once, no check per write).
                for id in &eager.buffers {
                    if plan.dense_param(*id) {
                        plan.dense.insert(*id);
                    }
                }
                plan.loops[l.id].eager = Some(eager);
                let carries = plan.carries(l);
                if let Some(e) = plan.loops[l.id].eager.as_mut() {
                    e.carries = carries;
                }
                eager_sites.extend(sites);
            }
        }
        // A dense gradient written by index only in eager loops starts as a
        // symbolic zero in the pullback, which then takes the buffer whole.
        for id in plan.dense.clone() {
            let written_outside = plan.sites.iter().any(|(site, s)| {
                !eager_sites.contains(site)
                    && s.nodes.iter().any(
                        |n| matches!(n.accumulate, Some(Accumulate::Dense { base }) if base == id),
                    )
            }) || plan
                .loops
                .iter()
                .any(|lp| lp.eager.is_none() && lp.combined.iter().any(|c| c.base == id));
            if !written_outside {
                plan.buffered.insert(id);
            }
        }
        plan
    }

    /// The eager loop's neighbouring sums of one dense buffer ([`Carry`]).
    fn carries(&self, l: &Loop) -> Vec<Carry> {
        let LoopKind::Range {
            counter: Some(counter),
            ..
        } = &l.kind
        else {
            return Vec::new();
        };
        let ident = &self.body.bindings[*counter].ident;
        let combined = &self.loops[l.id].combined;
        let offsets: Vec<Option<i64>> = combined
            .iter()
            .map(|c| {
                if self.dense.contains(&c.base) {
                    counter_offset(&c.index, *counter, ident)
                } else {
                    None
                }
            })
            .collect();
        let mut carries = Vec::new();
        let mut used = HashSet::new();
        for (lower, lo) in offsets.iter().enumerate() {
            let Some(lo @ (-1 | 0)) = *lo else { continue };
            let upper = (0..combined.len())
                .find(|&u| offsets[u] == Some(lo + 1) && combined[u].base == combined[lower].base);
            if let Some(upper) = upper {
                if used.insert(lower) && used.insert(upper) {
                    carries.push(Carry { lower, upper });
                }
            }
        }
        carries
    }

    /// Whether loop `l` can be reversed inside its forward ([`Eager`]).
    fn eager(&self, l: &Loop) -> Option<(Eager, Vec<usize>)> {
        let (lp, info) = (&self.loops[l.id], &self.body.loops[l.id]);
        if !lp.reversed
            || lp.checkpointed
            || l.checkpoint.is_some()
            || !info.parents.is_empty()
            || self.loop_frozen.contains_key(&l.id)
        {
            return None;
        }
        // What is inside: every assignment, whether anything exits, the
        // bindings declared inside.
        #[derive(Default)]
        struct Inside<'b> {
            assigns: Vec<&'b Assign>,
            exits: bool,
            checkpoints: bool,
            declared: HashSet<BindId>,
        }
        impl<'b> Visit<'b> for Inside<'b> {
            fn visit_assign(&mut self, a: &'b Assign) {
                if let AssignKind::Let { .. } = a.kind {
                    for t in a.targets.iter().flatten() {
                        if let Target::Bind(id) = t {
                            self.declared.insert(*id);
                        }
                    }
                }
                self.assigns.push(a);
            }
            fn visit_exit(&mut self, _: &'b Exit) {
                self.exits = true;
            }
            fn visit_loop(&mut self, l: &'b Loop) {
                self.checkpoints |= l.checkpoint.is_some();
                walk_loop(self, l);
            }
        }
        let mut inside = Inside::default();
        inside.visit_block(&l.body);
        if inside.exits || inside.checkpoints {
            return None;
        }
        // Counters declared outside and stepped inside are walked back
        // through the loop by the reverse.
        for c in self.counters.values() {
            let stepped = c
                .updates
                .keys()
                .any(|u| inside.assigns.iter().any(|a| a.site == *u));
            let declared_inside = inside.assigns.iter().any(|a| a.site == c.decl_site);
            if stepped && !declared_inside {
                return None;
            }
        }
        // A counter walked back and declared outside, read inside: the
        // reverse reads it from the pullback's walked-back copy, which the
        // forward, where an eager iteration's reverse runs, does not have.
        for (id, c) in &self.counters {
            if inside.assigns.iter().any(|a| a.site == c.decl_site) {
                continue;
            }
            let read = inside.assigns.iter().any(|a| {
                let mut rd = Vec::new();
                reads(&a.value, &mut rd);
                if let AssignKind::Element { index, .. } = &a.kind {
                    reads(index, &mut rd);
                }
                rd.contains(id)
            });
            if read {
                return None;
            }
        }
        // Bindings are numbered in the order they are declared: what the
        // loop's body mentions from its first binding on is its own.
        let declared = |id: BindId| {
            id >= info.first_binding
                || inside.declared.contains(&id)
                || self.body.bindings[id].counter_of.is_some()
        };
        let differentiated = |id: BindId| {
            let b = &self.body.bindings[id];
            b.active || b.param.is_some_and(|p| self.sig.params[p].active)
        };
        // The one accumulator: the only binding from outside written inside.
        let mut accumulator = None;
        for a in &inside.assigns {
            for t in &a.targets {
                match t {
                    Some(Target::Bind(id)) if declared(*id) || !differentiated(*id) => {}
                    Some(Target::Bind(id)) if accumulator.is_none_or(|s| s == *id) => {
                        accumulator = Some(*id);
                    }
                    Some(_) => return None,
                    None => {}
                }
            }
            if let AssignKind::Element { base, .. } = &a.kind {
                if !declared(*base) && differentiated(*base) {
                    return None;
                }
            }
        }
        let s = accumulator?;
        if !self.f64s[s] || !self.body.bindings[s].active {
            return None;
        }
        // Every write of `s` adds to it; nothing else reads it.
        for a in &inside.assigns {
            let writes_s = a.targets.iter().any(|t| *t == Some(Target::Bind(s)));
            let rest: Vec<&Ex> = if writes_s {
                match (&a.kind, &a.value, a.targets.as_slice()) {
                    (
                        AssignKind::Compound {
                            op: syn::BinOp::AddAssign(_) | syn::BinOp::SubAssign(_),
                        }
                        | AssignKind::Set,
                        Ex::Op { rule, args, .. },
                        [_],
                    ) if (rule.rule == "add" || rule.rule == "sub")
                        && args.len() == 2
                        && matches!(&args[0], Ex::Var { id, .. } if *id == s) =>
                    {
                        vec![&args[1]]
                    }
                    _ => return None,
                }
            } else {
                let mut all = vec![&a.value];
                if let AssignKind::Element { index, .. } = &a.kind {
                    all.push(index);
                }
                all
            };
            let mut leaves = Vec::new();
            for e in rest {
                gradient_leaves(e, &mut leaves);
            }
            if leaves.contains(&s) {
                return None;
            }
        }
        // The buffers: what the iterations' reverse adds to from outside,
        // each of a type whose cotangent can be scaled.
        let mut buffers = BTreeSet::new();
        for a in inside
            .assigns
            .iter()
            .filter(|a| self.sites.contains_key(&a.site))
        {
            let mut leaves = Vec::new();
            gradient_leaves(&a.value, &mut leaves);
            for id in leaves {
                if id != s && !declared(id) && differentiated(id) {
                    buffers.insert(id);
                }
            }
        }
        for id in &buffers {
            let b = &self.body.bindings[*id];
            let scalable = match b.param {
                Some(p) => {
                    let ty = &self.sig.params[p].ty;
                    !matches!(ty, syn::Type::Reference(r) if r.mutability.is_some())
                        && (crate::signature::is_f64(ty)
                            || crate::signature::scalar_elements(ty)
                            || is_tensor(ty))
                }
                // A local's adjoint type is the one its uses in the loop
                // fix; every tangent type is `optim::Parameters`.
                None => true,
            };
            if !scalable {
                return None;
            }
        }
        let mut mentioned = BTreeSet::new();
        for a in &inside.assigns {
            for t in a.targets.iter().flatten() {
                if let Target::Bind(id) = t {
                    mentioned.insert(*id);
                }
            }
            let mut rd = Vec::new();
            reads(&a.value, &mut rd);
            mentioned.extend(rd);
        }
        let locals: Vec<BindId> = mentioned
            .into_iter()
            .filter(|id| *id != s && declared(*id) && self.body.bindings[*id].active)
            .collect();
        Some((
            Eager {
                accumulator: s,
                buffers: buffers.into_iter().collect(),
                locals,
                carries: Vec::new(),
            },
            inside.assigns.iter().map(|a| a.site).collect(),
        ))
    }

    /// Notes the parameters the reverse reads to bind `id` again.
    fn read_leaf(&mut self, id: BindId, seen: &mut HashSet<BindId>) {
        if !seen.insert(id) {
            return;
        }
        let b = &self.body.bindings[id];
        if stable(b) {
            if let Some(p) = b.param {
                self.params_read.insert(p);
                return;
            }
            if b.counter_of.is_some() {
                return;
            }
        }
        if let Some(recipe) = &b.recipe {
            let mut leaves = Vec::new();
            reads(recipe, &mut leaves);
            for leaf in leaves {
                self.read_leaf(leaf, seen);
            }
        }
    }

    fn site(&mut self, a: &'a Assign, innermost: Option<LoopId>) -> SitePlan<'a> {
        let mut s = SitePlan {
            assign: a,
            nodes: Vec::new(),
            in_loop: a.in_loop,
            index_node: None,
            kept: Vec::new(),
            shapes: Vec::new(),
            rebinds: Vec::new(),
            place_base: HashSet::new(),
            combinable: HashSet::new(),
        };
        s.flatten(&a.value, self.body, self.sig, &self.f64s);
        for i in 0..s.nodes.len() {
            if let Ex::Index { .. } = s.nodes[i].ex {
                let base = s.referent(s.nodes[i].kids[0]);
                s.place_base.insert(base);
            }
        }
        if let AssignKind::Element { index, .. } = &a.kind {
            let node = s.flatten(index, self.body, self.sig, &self.f64s);
            s.index_node = Some(node);
        }
        s.combinable = (0..s.nodes.len())
            .filter(|&i| innermost.is_some() && self.combinable(&s, i))
            .collect();
        s.decide(self.body);
        s.layout(&mut self.meta_tapes);
        s.rebinds = s.rebinds();
        if s.nodes[0].active {
            self.accumulations(&mut s, 0, innermost);
        }
        s
    }

    /// Decides, along the path the cotangent takes from node i, how each
    /// element read passes it on (in the order the reverse meets them).
    fn accumulations(&mut self, s: &mut SitePlan<'a>, i: usize, innermost: Option<LoopId>) {
        let n = &s.nodes[i];
        if !n.active {
            return;
        }
        let kids = n.kids.clone();
        match n.ex {
            Ex::Var { .. }
            | Ex::Field { .. }
            | Ex::Const { .. }
            | Ex::Inactive { .. }
            | Ex::Unsupported { .. } => {}
            Ex::Ref { .. } => self.accumulations(s, kids[0], innermost),
            Ex::Tuple { .. } | Ex::Array { .. } | Ex::Call { .. } => {
                for k in kids {
                    self.accumulations(s, k, innermost);
                }
            }
            Ex::Op { rule, .. } if rule.identity => self.accumulations(s, kids[0], innermost),
            Ex::Op { rule, .. } => {
                for (k, operand) in rule.operands.iter().enumerate() {
                    if operand.is_some() && s.nodes[kids[k]].active {
                        self.accumulations(s, kids[k], innermost);
                    }
                }
            }
            Ex::Index { .. } => {
                let acc = self.accumulate(s, i, innermost);
                let through = acc == Accumulate::Through;
                s.nodes[i].accumulate = Some(acc);
                if through {
                    self.accumulations(s, kids[0], innermost);
                }
            }
        }
    }

    /// An element read `x[index]` of a parameter of `f64`s at an index the
    /// reverse has anyway: inside a loop, its contributions are summed over
    /// the iteration ([`Accumulate::Combined`]).
    fn combinable(&self, s: &SitePlan<'a>, i: usize) -> bool {
        let n = &s.nodes[i];
        if !matches!(n.ex, Ex::Index { .. }) || s.row_of(i, self.body).is_some() {
            return false;
        }
        let base = s.referent(n.kids[0]);
        let index = s.referent(n.kids[1]);
        s.var_of(base).is_some_and(|(id, _)| {
            let b = &self.body.bindings[id];
            b.param
                .is_some_and(|p| crate::signature::scalar_elements(&self.sig.params[p].ty))
                && stable(b)
                && s.pure_fixed(index, self.body)
        })
    }

    fn accumulate(&mut self, s: &SitePlan<'a>, i: usize, innermost: Option<LoopId>) -> Accumulate {
        if let Some((rows, row_index)) = s.row_of(i, self.body) {
            return Accumulate::Rows { rows, row_index };
        }
        let n = &s.nodes[i];
        let base = s.referent(n.kids[0]);
        let index_node = s.referent(n.kids[1]);
        match s.var_of(base) {
            // Into a parameter, at an index fixed for the iteration: summed
            // over the iteration, written once (the writes to one element
            // would otherwise chain through memory).
            Some((id, _)) if s.combinable.contains(&i) => {
                let loop_id = innermost.expect("checked");
                let ex = s.nodes[index_node].ex;
                let mut rd = Vec::new();
                reads(ex, &mut rd);
                let key = format!("{} {:?}", plain(ex), rd);
                let group = &mut self.loops[loop_id].combined;
                let acc = match group.iter().find(|c| c.base == id && c.key == key) {
                    Some(c) => c.acc.clone(),
                    None => {
                        let acc = quote::format_ident!("__ad_ix{}_{}", loop_id, group.len());
                        group.push(Combined {
                            base: id,
                            index: ex.clone(),
                            key,
                            acc: acc.clone(),
                        });
                        acc
                    }
                };
                // Dense only if it is the parameter's one sum in every loop
                // (decided once all sites are planned, below).
                Accumulate::Combined { acc }
            }
            Some((id, _))
                if self.dense_param(id) && scalar_index(s.nodes[index_node].ex, self.body) =>
            {
                self.dense.insert(id);
                Accumulate::Dense { base: id }
            }
            Some((id, _)) => Accumulate::Indexed { base: id },
            None if s.field_place(base).is_some() => Accumulate::FieldElement,
            None => Accumulate::Through,
        }
    }
}

impl Plan<'_> {
    /// A differentiated parameter the body does not change whose gradient is
    /// a `Vec<f64>`: `&[f64]`, `Vec<f64>`, `&Vec<f64>`.
    fn dense_param(&self, id: BindId) -> bool {
        let b = &self.body.bindings[id];
        let Some(p) = b.param else { return false };
        fn slice_or_vec(ty: &syn::Type) -> bool {
            match ty {
                syn::Type::Reference(r) => r.mutability.is_none() && slice_or_vec(&r.elem),
                syn::Type::Paren(p) => slice_or_vec(&p.elem),
                syn::Type::Group(g) => slice_or_vec(&g.elem),
                syn::Type::Slice(_) => true,
                syn::Type::Array(_) => false,
                _ => true,
            }
        }
        let ty = &self.sig.params[p].ty;
        self.sig.params[p].active
            && b.active
            && stable(b)
            && crate::signature::scalar_elements(ty)
            && slice_or_vec(ty)
    }
}

/// An index that is surely one `usize` (not a range): a literal, arithmetic,
/// a cast, a `for` counter, a counter walked back, or a recipe of those.
fn scalar_index(e: &Ex, body: &Body) -> bool {
    fn syntax(e: &syn::Expr) -> bool {
        match e {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(_),
                ..
            })
            | syn::Expr::Binary(_)
            | syn::Expr::Cast(_) => true,
            syn::Expr::Paren(p) => syntax(&p.expr),
            syn::Expr::Group(g) => syntax(&g.expr),
            _ => false,
        }
    }
    let binding = |id: BindId| {
        let b = &body.bindings[id];
        b.counter_of.is_some()
            || body.facts.walk_back.contains_key(&id)
            || b.recipe.as_ref().is_some_and(|r| scalar_index(r, body))
    };
    match e {
        Ex::Var { id, .. } => binding(*id),
        Ex::Const { tokens } | Ex::Inactive { tokens, .. } => {
            match syn::parse2::<syn::Expr>(tokens.clone()) {
                Ok(syn::Expr::Path(p)) => match e {
                    Ex::Inactive { reads, .. } => {
                        p.path.get_ident().is_some() && reads.len() == 1 && binding(reads[0])
                    }
                    _ => false,
                },
                Ok(ex) => syntax(&ex),
                Err(_) => false,
            }
        }
        Ex::Op {
            syntax: Syntax::Binary(_) | Syntax::Cast { .. },
            ..
        } => true,
        _ => false,
    }
}

/// `Tensor` or `&Tensor` (by its last path segment, as the signature reads types).
fn is_tensor(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => r.mutability.is_none() && is_tensor(&r.elem),
        syn::Type::Paren(p) => is_tensor(&p.elem),
        syn::Type::Group(g) => is_tensor(&g.elem),
        syn::Type::Path(tp) => {
            tp.qself.is_none()
                && tp
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Tensor" && s.arguments.is_empty())
        }
        _ => false,
    }
}

/// `i + k` or `i - k` (k a literal) or `i` for the loop counter `i`: the offset.
fn counter_offset(e: &Ex, counter: BindId, ident: &Ident) -> Option<i64> {
    fn syntax(e: &syn::Expr, ident: &Ident) -> Option<i64> {
        match e {
            syn::Expr::Paren(p) => syntax(&p.expr, ident),
            syn::Expr::Group(g) => syntax(&g.expr, ident),
            syn::Expr::Path(p) if p.path.is_ident(ident) => Some(0),
            syn::Expr::Binary(b) => {
                let k = match &*b.right {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(k),
                        ..
                    }) => k.base10_parse::<i64>().ok()?,
                    syn::Expr::Paren(p) => match &*p.expr {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Int(k),
                            ..
                        }) => k.base10_parse::<i64>().ok()?,
                        _ => return None,
                    },
                    _ => return None,
                };
                let base = syntax(&b.left, ident)?;
                match b.op {
                    syn::BinOp::Add(_) => Some(base + k),
                    syn::BinOp::Sub(_) => Some(base - k),
                    _ => None,
                }
            }
            _ => None,
        }
    }
    match e {
        Ex::Var { id, .. } => (*id == counter).then_some(0),
        Ex::Op {
            syntax: Syntax::Binary(op),
            args,
            ..
        } if args.len() == 2 => {
            let base = counter_offset(&args[0], counter, ident)?;
            let Ex::Const { tokens } = &args[1] else {
                return None;
            };
            let k = syn::parse2::<syn::LitInt>(tokens.clone())
                .ok()?
                .base10_parse::<i64>()
                .ok()?;
            match op {
                syn::BinOp::Add(_) => Some(base + k),
                syn::BinOp::Sub(_) => Some(base - k),
                _ => None,
            }
        }
        Ex::Inactive { tokens, reads, .. } if reads.iter().all(|r| *r == counter) => {
            syntax(&syn::parse2(tokens.clone()).ok()?, ident)
        }
        _ => None,
    }
}

/// Does the site have a reverse? Not a top-level `let` of a value that
/// carries no gradient: it runs once, and nothing before it reads its
/// binding's adjoint, so there is nothing to clear.
pub fn reversed_site(a: &Assign, body: &Body) -> bool {
    a.active
        && !(matches!(a.kind, AssignKind::Let { .. })
            && !a.in_loop
            && !is_active(&a.value, &|id| body.bindings[id].active))
}

/// Which loops and branches contain an active site (their reverse is not
/// empty).
struct Reach<'b> {
    body: &'b Body,
    any: bool,
    branches: BTreeSet<usize>,
    loops: Vec<(&'b Loop, bool)>,
    /// Updates of counters walked back (their reverse is an undo).
    undone: HashSet<usize>,
}

impl<'b> Visit<'b> for Reach<'b> {
    fn visit_assign(&mut self, a: &'b Assign) {
        self.any |= reversed_site(a, self.body) || self.undone.contains(&a.site);
    }
    fn visit_if(&mut self, i: &'b If) {
        let outer = std::mem::take(&mut self.any);
        walk_if(self, i);
        if self.any {
            self.branches.insert(i.site);
        }
        self.any |= outer;
    }
    fn visit_match(&mut self, m: &'b Match) {
        let outer = std::mem::take(&mut self.any);
        walk_match(self, m);
        if self.any {
            self.branches.insert(m.site);
        }
        self.any |= outer;
    }
    fn visit_loop(&mut self, l: &'b Loop) {
        let outer = std::mem::take(&mut self.any);
        walk_loop(self, l);
        self.loops.push((l, self.any));
        self.any |= outer;
    }
}

/// Active sites in the order the reverse pass emits them (each block's
/// statements backwards), with their innermost loop.
struct Backwards<'b> {
    body: &'b Body,
    loops: Vec<LoopId>,
    sites: Vec<(&'b Assign, Option<LoopId>)>,
}

impl<'b> Visit<'b> for Backwards<'b> {
    fn visit_block(&mut self, block: &'b Block) {
        for stmt in block.stmts.iter().rev() {
            self.visit_stmt(stmt);
        }
    }
    fn visit_assign(&mut self, a: &'b Assign) {
        if reversed_site(a, self.body) {
            self.sites.push((a, self.loops.last().copied()));
        }
    }
    fn visit_loop(&mut self, l: &'b Loop) {
        self.loops.push(l.id);
        walk_loop(self, l);
        self.loops.pop();
    }
}

/// Whether each branch site is inside a loop.
struct InLoop(HashMap<usize, bool>);

impl<'b> Visit<'b> for InLoop {
    fn visit_if(&mut self, i: &'b If) {
        self.0.insert(i.site, i.in_loop);
        walk_if(self, i);
    }
    fn visit_match(&mut self, m: &'b Match) {
        self.0.insert(m.site, m.in_loop);
        walk_match(self, m);
    }
}

/// What exits are relative to: a loop's iteration, or the function.
#[derive(Clone, Copy)]
pub enum Region {
    Top,
    Loop(LoopId),
}

/// The exits in `block` that end the region (an iteration of the loop, or
/// the function for `return`).
pub fn exits_ending(block: &Block, region: Region, body: &Body, out: &mut Vec<ExitId>) {
    for stmt in &block.stmts {
        exits_ending_stmt(stmt, region, body, out);
    }
}

/// [`exits_ending`] of one statement.
pub fn exits_ending_stmt(stmt: &Stmt, region: Region, body: &Body, out: &mut Vec<ExitId>) {
    struct Exits<'o> {
        region: Region,
        body: &'o Body,
        out: &'o mut Vec<ExitId>,
    }
    impl<'b> Visit<'b> for Exits<'_> {
        fn visit_assign(&mut self, _: &'b Assign) {}
        fn visit_exit(&mut self, e: &'b Exit) {
            let info = &self.body.exits[e.id as usize - 1];
            let relevant = match self.region {
                Region::Top => info.kind == ExitKind::Return,
                Region::Loop(l) => info.ends_iteration_of.contains(&l),
            };
            if relevant {
                self.out.push(e.id);
            }
        }
    }
    Exits { region, body, out }.visit_stmt(stmt)
}

impl<'e> SitePlan<'e> {
    /// Appends the nodes of `e`'s tree (parents before children, children
    /// in order); returns the root's index.
    fn flatten(&mut self, e: &'e Ex, body: &Body, sig: &Signature, f64s: &[bool]) -> usize {
        struct Flatten<'s, 'e> {
            nodes: &'s mut Vec<Node<'e>>,
            parents: Vec<usize>,
            body: &'s Body,
            sig: &'s Signature,
            f64s: &'s [bool],
        }
        impl<'e> Visit<'e> for Flatten<'_, 'e> {
            fn visit_ex(&mut self, e: &'e Ex) {
                let index = self.nodes.len();
                let body = self.body;
                self.nodes.push(Node {
                    ex: e,
                    kids: Vec::new(),
                    active: is_active(e, &|id| body.bindings[id].active),
                    is_f64: known_type(e, self.f64s, self.sig, body) == Known::F64,
                    needs_value: false,
                    needs_shape: false,
                    obtain: Obtain::Unused,
                    tape: None,
                    accumulate: None,
                });
                if let Some(&parent) = self.parents.last() {
                    self.nodes[parent].kids.push(index);
                }
                self.parents.push(index);
                walk_ex(self, e);
                self.parents.pop();
            }
        }
        let root = self.nodes.len();
        Flatten {
            nodes: &mut self.nodes,
            parents: Vec::new(),
            body,
            sig,
            f64s,
        }
        .visit_ex(e);
        root
    }

    /// Through `&`: the node whose value a rule reads.
    pub fn referent(&self, mut i: usize) -> usize {
        while let Ex::Ref { .. } = self.nodes[i].ex {
            i = self.nodes[i].kids[0];
        }
        i
    }

    pub fn var_of(&self, i: usize) -> Option<(BindId, &'e syn::Ident)> {
        match self.nodes[i].ex {
            Ex::Var { id, ident } => Some((*id, ident)),
            _ => None,
        }
    }

    /// A field or element read, which is evaluated in place even when kept.
    pub fn is_place(&self, i: usize) -> bool {
        matches!(self.nodes[i].ex, Ex::Field { .. } | Ex::Index { .. })
    }

    /// Evaluated into `__ad_h<i>` before the statement in the forward: an
    /// active call (its pullback), and any other node whose value or shape
    /// is kept.
    pub fn hoisted(&self, i: usize) -> bool {
        let n = &self.nodes[i];
        match n.ex {
            Ex::Call { .. } if n.active => true,
            Ex::Var { .. } => false,
            _ => matches!(n.obtain, Obtain::Saved | Obtain::ShapeOnly),
        }
    }

    /// The reverse has it without a save: stable, evaluated again, or a
    /// counter walked back.
    fn stable(id: BindId, body: &Body) -> bool {
        let b = &body.bindings[id];
        stable(b) || b.recipe.is_some() || body.facts.walk_back.contains_key(&id)
    }

    /// Node i is a vector whose element this site reads after its last
    /// write: the reverse reads the copy of its final value.
    fn frozen(&self, i: usize, body: &Body) -> bool {
        match self.nodes[i].ex {
            Ex::Var { id, .. } => {
                self.place_base.contains(&i)
                    && (body.facts.frozen_at(*id, self.assign.site)
                        || body
                            .facts
                            .loop_frozen
                            .contains_key(&(*id, self.assign.site)))
            }
            _ => false,
        }
    }

    /// [`Self::pure_stable`], and the same over a whole iteration of the
    /// loop being reversed (a counter walked back changes within it).
    pub fn pure_fixed(&self, i: usize, body: &Body) -> bool {
        let mut rd = Vec::new();
        reads(self.nodes[i].ex, &mut rd);
        self.pure_stable(i, body) && rd.iter().all(|id| !body.facts.walk_back.contains_key(id))
    }

    /// Pure, and built only of things the reverse has anyway.
    pub fn pure_stable(&self, i: usize, body: &Body) -> bool {
        let n = &self.nodes[i];
        match n.ex {
            Ex::Const { .. } => true,
            Ex::Var { id, .. } => Self::stable(*id, body) || self.frozen(i, body),
            Ex::Inactive { reads, stable, .. } => {
                *stable && reads.iter().all(|id| Self::stable(*id, body))
            }
            Ex::Unsupported { .. } | Ex::Call { .. } => false,
            Ex::Op { .. }
            | Ex::Index { .. }
            | Ex::Field { .. }
            | Ex::Ref { .. }
            | Ex::Tuple { .. }
            | Ex::Array { .. } => n.kids.iter().all(|k| self.pure_stable(*k, body)),
        }
    }

    /// Marks what the rules read, following the cotangent from the root.
    fn need(&mut self, i: usize, body: &Body) {
        if !self.nodes[i].active {
            return;
        }
        let kids = self.nodes[i].kids.clone();
        match self.nodes[i].ex {
            Ex::Var { .. } | Ex::Const { .. } | Ex::Inactive { .. } | Ex::Unsupported { .. } => {}
            Ex::Ref { .. } => self.need(kids[0], body),
            Ex::Tuple { .. } | Ex::Array { .. } | Ex::Call { .. } => {
                kids.iter().for_each(|k| self.need(*k, body))
            }
            Ex::Field { .. } => self.need(kids[0], body),
            // Summed over the iteration: the loop's flush reads the base and
            // the index itself.
            Ex::Index { .. } if self.combinable.contains(&i) => {}
            Ex::Index { .. } => {
                let base = self.referent(kids[0]);
                let index = self.referent(kids[1]);
                self.nodes[index].needs_value = true;
                match self.row_of(i, body) {
                    // `w[r][c]` goes straight into w̄[r][c]: w's shape, r.
                    Some((rows, row_index)) => {
                        self.nodes[rows].needs_shape = true;
                        self.nodes[row_index].needs_value = true;
                    }
                    None => {
                        self.nodes[base].needs_shape = true;
                        self.need(kids[0], body);
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
                                self.nodes[r].needs_value = true;
                            }
                            Need::Meta(j) => {
                                let r = self.referent(kids[j]);
                                // An `f64`'s shape is known: nothing to keep.
                                if !self.nodes[r].is_f64 {
                                    self.nodes[r].needs_shape = true;
                                }
                            }
                            Need::Output => self.nodes[i].needs_value = true,
                        }
                    }
                    self.need(kids[k], body);
                }
            }
        }
    }

    /// Decides, top-down, how the reverse gets each value it needs.
    fn decide(&mut self, body: &Body) {
        self.need(0, body);
        if let Some(ix) = self.index_node {
            // The reverse reads the element's cotangent at this index.
            let r = self.referent(ix);
            self.nodes[r].needs_value = true;
        }
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            let (val, meta, active) = (n.needs_value, n.needs_shape, n.active);
            let leaf = n.kids.is_empty();
            // The value if it is read, else the shape.
            let kept = if val {
                Obtain::Saved
            } else {
                Obtain::ShapeOnly
            };
            let obtain = match n.ex {
                Ex::Call { .. } if active => {
                    if val || meta {
                        Obtain::Saved
                    } else {
                        Obtain::Unused
                    }
                }
                // A tuple or array the reverse reads whole (`x.at(&[i, j])`)
                // is obtained below like any inactive value.
                Ex::Const { .. } | Ex::Ref { .. } | Ex::Tuple { .. } | Ex::Array { .. }
                    if active || matches!(n.ex, Ex::Const { .. } | Ex::Ref { .. }) =>
                {
                    if val || meta {
                        Obtain::InPlace
                    } else {
                        Obtain::Unused
                    }
                }
                Ex::Var { id, .. } if val || meta => {
                    if self.pure_stable(i, body) {
                        Obtain::InPlace
                    } else if !val && body.facts.fixed_len.contains_key(id) {
                        Obtain::FixedShape
                    } else {
                        kept
                    }
                }
                // A value the reverse reads is kept outside loops (each site
                // runs once) and for expensive ops; inside loops it is
                // evaluated again. A shape alone is kept as a shape.
                Ex::Op { .. } | Ex::Index { .. } | Ex::Field { .. } if active && (val || meta) => {
                    let expensive = matches!(n.ex, Ex::Op { rule, .. } if rule.expensive);
                    // An element of a sequence that may change later is
                    // read now: its value is kept, not read again.
                    let changing_base = match n.ex {
                        Ex::Index { .. } => {
                            let base = self.referent(n.kids[0]);
                            !self.pure_stable(base, body)
                        }
                        _ => false,
                    };
                    if val && (!self.in_loop || expensive || changing_base) {
                        Obtain::Saved
                    } else if val {
                        Obtain::Recomputed
                    } else {
                        Obtain::ShapeOnly
                    }
                }
                _ if !active && (val || meta) => {
                    if self.pure_stable(i, body) {
                        if leaf {
                            Obtain::InPlace
                        } else {
                            Obtain::Recomputed
                        }
                    } else {
                        kept
                    }
                }
                _ if val || meta => Obtain::InPlace,
                _ => Obtain::Unused,
            };
            self.nodes[i].obtain = obtain;
            if obtain == Obtain::Recomputed {
                for k in self.nodes[i].kids.clone() {
                    let r = self.referent(k);
                    self.nodes[r].needs_value = true;
                }
            }
        }
    }

    /// The slot's tuple and the tapes of shapes, in the order the forward
    /// pushes them: bindings first (node order), then hoisted nodes children
    /// before parents (the value, then the index of an element write).
    fn layout(&mut self, tapes: &mut Vec<Ident>) {
        let site = self.assign.site;
        let mut tape = |s: &mut Self, i: usize| {
            let t = quote::format_ident!("__ad_mt{}_{}", site, tapes.len());
            tapes.push(t.clone());
            s.nodes[i].tape = Some(t);
            s.shapes.push(i);
        };
        let mut seen = HashSet::new();
        for i in 0..self.nodes.len() {
            let Some((id, _)) = self.var_of(i) else {
                continue;
            };
            let obtain = self.nodes[i].obtain;
            let saved = obtain == Obtain::Saved;
            if matches!(obtain, Obtain::Saved | Obtain::ShapeOnly) && seen.insert((id, saved)) {
                if saved {
                    self.kept.push(Kept::Binding(i));
                } else {
                    tape(self, i);
                }
            }
        }
        let mut order = Vec::new();
        self.post_order(0, &mut order);
        if let Some(ix) = self.index_node {
            self.post_order(ix, &mut order);
        }
        for i in order {
            if !self.hoisted(i) {
                continue;
            }
            if let Ex::Call { .. } = self.nodes[i].ex
                && self.nodes[i].active
            {
                self.kept.push(Kept::Pullback(i));
            }
            match self.nodes[i].obtain {
                Obtain::Saved => self.kept.push(Kept::Value(i)),
                Obtain::ShapeOnly => tape(self, i),
                _ => {}
            }
        }
    }

    /// Node i's subtree, children before parents.
    pub fn post_order(&self, i: usize, out: &mut Vec<usize>) {
        for k in &self.nodes[i].kids {
            self.post_order(*k, out);
        }
        out.push(i);
    }

    /// The bindings the reverse binds again: what it reads in place.
    fn rebinds(&self) -> Vec<BindId> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let read = n.needs_value || n.needs_shape || n.obtain == Obtain::Recomputed;
            let kept = matches!(
                n.obtain,
                Obtain::Saved | Obtain::ShapeOnly | Obtain::FixedShape
            );
            if let Some((id, _)) = self.var_of(i) {
                if read && !kept && seen.insert(id) {
                    out.push(id);
                }
            }
            if let Ex::Inactive { reads, .. } = n.ex {
                if n.obtain == Obtain::Recomputed
                    || (!self.hoisted(i) && (n.needs_value || n.needs_shape))
                {
                    for id in reads {
                        if seen.insert(*id) {
                            out.push(*id);
                        }
                    }
                }
            }
        }
        out
    }

    /// For a chain of field reads from a binding (`p.layer.w`): the binding
    /// and the fields, outermost first.
    pub fn field_place(&self, i: usize) -> Option<(BindId, Vec<syn::Member>)> {
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
    fn row_of(&self, i: usize, body: &Body) -> Option<(usize, usize)> {
        let Ex::Index { .. } = self.nodes[i].ex else {
            return None;
        };
        let inner = self.referent(self.nodes[i].kids[0]);
        let Ex::Index { .. } = self.nodes[inner].ex else {
            return None;
        };
        let rows = self.referent(self.nodes[inner].kids[0]);
        let (id, _) = self.var_of(rows)?;
        if !body.bindings[id].active {
            return None;
        }
        Some((rows, self.referent(self.nodes[inner].kids[1])))
    }
}

// ------------------------------------------------------------- known types

/// What the macro knows of a value's type without the compiler: enough to
/// know that an `f64`'s shape is `ScalarMeta` (nothing to keep or ask for).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Known {
    F64,
    /// `2.0`: an `f64` next to one (no other float carries a gradient).
    FloatLiteral,
    Unknown,
}

/// `f64` methods whose result is an `f64` when the receiver is one (and the
/// other arguments are `f64`s, or, for `powi`, an integer).
const F64_METHODS: &[&str] = &[
    "abs",
    "sqrt",
    "cbrt",
    "exp",
    "exp2",
    "exp_m1",
    "ln",
    "ln_1p",
    "log2",
    "log10",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "recip",
    "to_degrees",
    "to_radians",
    "signum",
    "floor",
    "ceil",
    "round",
    "trunc",
    "fract",
    "clone",
    "powi",
    "powf",
    "atan2",
    "hypot",
    "max",
    "min",
    "copysign",
    "mul_add",
    "log",
];

/// `f64::INFINITY`, `std::f64::consts::PI` and the other `f64` constants of
/// the standard library.
fn f64_constant(tokens: &proc_macro2::TokenStream) -> bool {
    const CONSTANTS: &[&str] = &[
        "INFINITY",
        "NEG_INFINITY",
        "NAN",
        "MAX",
        "MIN",
        "MIN_POSITIVE",
        "EPSILON",
    ];
    let Ok(syn::Expr::Path(p)) = syn::parse2::<syn::Expr>(tokens.clone()) else {
        return false;
    };
    let names: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match names.as_slice() {
        ["f64", c] | ["std" | "core", "f64", c] => CONSTANTS.contains(c),
        ["f64" | "std" | "core", .., "consts", _] => {
            names.iter().filter(|n| **n == "f64").count() == 1
                && (names[0] == "f64" || names[1] == "f64")
        }
        _ => false,
    }
}

fn known_type(e: &Ex, f64s: &[bool], sig: &Signature, body: &Body) -> Known {
    let known = |e: &Ex| known_type(e, f64s, sig, body);
    let both = |a: Known, b: Known| match (a, b) {
        (Known::F64, Known::F64 | Known::FloatLiteral) | (Known::FloatLiteral, Known::F64) => {
            Known::F64
        }
        (Known::FloatLiteral, Known::FloatLiteral) => Known::FloatLiteral,
        _ => Known::Unknown,
    };
    match e {
        Ex::Var { id, .. } if f64s[*id] => Known::F64,
        Ex::Const { tokens } | Ex::Inactive { tokens, .. } if f64_constant(tokens) => Known::F64,
        Ex::Const { tokens } => match syn::parse2::<syn::LitFloat>(tokens.clone()) {
            Ok(lit) if lit.suffix() == "f64" => Known::F64,
            Ok(lit) if lit.suffix().is_empty() => Known::FloatLiteral,
            _ => Known::Unknown,
        },
        Ex::Op { args, syntax, .. } => match syntax {
            Syntax::Binary(
                syn::BinOp::Add(_)
                | syn::BinOp::Sub(_)
                | syn::BinOp::Mul(_)
                | syn::BinOp::Div(_)
                | syn::BinOp::Rem(_),
            ) if args.len() == 2 => both(known(&args[0]), known(&args[1])),
            Syntax::Neg if args.len() == 1 => known(&args[0]),
            Syntax::Cast { ty } if ty.to_string() == "f64" => Known::F64,
            Syntax::Method { name, turbofish } if turbofish.is_empty() => {
                let name = name.to_string();
                let rest_ok = args[1..].iter().all(|a| {
                    name == "powi" || matches!(known(a), Known::F64 | Known::FloatLiteral)
                });
                if known(&args[0]) == Known::F64 && F64_METHODS.contains(&name.as_str()) && rest_ok
                {
                    Known::F64
                } else {
                    Known::Unknown
                }
            }
            _ => Known::Unknown,
        },
        // An element of a parameter of `f64`s (`&[f64]`, `Vec<f64>`, `[f64; N]`).
        Ex::Index { base, .. } => {
            let var = match &**base {
                Ex::Var { id, .. } => Some(*id),
                Ex::Ref { inner, .. } => match &**inner {
                    Ex::Var { id, .. } => Some(*id),
                    _ => None,
                },
                _ => None,
            };
            match var.map(|id| (id, body.bindings[id].param)) {
                Some((_, Some(p))) if crate::signature::scalar_elements(&sig.params[p].ty) => {
                    Known::F64
                }
                // A local declared `vec![<float>; n]` (a `Vec` of floats for
                // good: `analyse::Facts::fixed_len`): `f64`s if it carries a
                // gradient, else floats of a type inference picks.
                Some((id, None)) if body.facts.fixed_len.contains_key(&id) => {
                    if body.bindings[id].active {
                        Known::F64
                    } else {
                        Known::FloatLiteral
                    }
                }
                _ => Known::Unknown,
            }
        }
        _ => Known::Unknown,
    }
}

/// The bindings known to be `f64`s: parameters and lets written or
/// evaluated as such (a binding keeps the type of its declaration).
fn f64_bindings(sig: &Signature, body: &Body) -> Vec<bool> {
    let mut f64s: Vec<bool> = body
        .bindings
        .iter()
        .map(|b| {
            b.param
                .is_some_and(|p| crate::signature::is_f64(&sig.params[p].ty))
                || b.annotation.as_ref().is_some_and(crate::signature::is_f64)
        })
        .collect();
    // In program order: a let's value reads only bindings declared before it.
    for_each_assign(&body.block, |a: &Assign| {
        if let (AssignKind::Let { simple: true, .. }, [Some(Target::Bind(id))]) =
            (&a.kind, a.targets.as_slice())
        {
            let b = &body.bindings[*id];
            if b.annotation.is_none() && b.param.is_none() {
                f64s[*id] = match known_type(&a.value, &f64s, sig, body) {
                    Known::F64 => true,
                    Known::FloatLiteral => b.active,
                    Known::Unknown => false,
                };
            }
        }
    });
    f64s
}
