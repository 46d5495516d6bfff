//! Where a loop's forward pass keeps the shapes its reverse pass needs.
//!
//! A rule that undoes broadcasting needs the shape of an operand; inside a
//! loop, the generated code saves that shape on every step. An `f64`'s shape
//! is [`ScalarMeta`], which carries nothing — so its tape is [`ScalarTape`],
//! where pushing and popping do nothing at all and a scalar loop keeps no
//! per-step bookkeeping for shapes. Other shapes go on a stack.

use crate::cotangent::{LenMeta, ScalarMeta, Shape};

/// A shape (`HasMeta::Meta`) and the tape that keeps it.
#[doc(hidden)]
pub trait Meta: Clone {
    type Tape: MetaTape<Meta = Self> + Default + Clone;
}

/// A stack of shapes, popped in the reverse of the order they were pushed.
#[doc(hidden)]
pub trait MetaTape {
    type Meta;
    fn push(&mut self, meta: Self::Meta);
    fn pop(&mut self) -> Self::Meta;
}

/// The tape of an `f64`'s shape: nothing to keep.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ScalarTape;

impl MetaTape for ScalarTape {
    type Meta = ScalarMeta;
    #[inline(always)]
    fn push(&mut self, _: ScalarMeta) {}
    #[inline(always)]
    fn pop(&mut self) -> ScalarMeta {
        ScalarMeta
    }
}

impl Meta for ScalarMeta {
    type Tape = ScalarTape;
}

/// The tape of any other shape: a stack.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct StackTape<M>(Vec<M>);

impl<M> Default for StackTape<M> {
    fn default() -> Self {
        StackTape(Vec::new())
    }
}

impl<M> MetaTape for StackTape<M> {
    type Meta = M;
    #[inline]
    fn push(&mut self, meta: M) {
        self.0.push(meta);
    }
    #[inline]
    fn pop(&mut self) -> M {
        match self.0.pop() {
            Some(meta) => meta,
            None => unreachable!(
                "autodiff: a shape tape is out of step with the reverse pass (a bug in #[differentiable])"
            ),
        }
    }
}

macro_rules! stacked {
    ($($M:ty),*) => { $(impl Meta for $M { type Tape = StackTape<$M>; })* };
}
stacked!(Shape, LenMeta, crate::cotangent::RowsMeta, ());

macro_rules! stacked_tuples {
    ($(($($T:ident),+))*) => {
        $(impl<$($T: Clone),+> Meta for ($($T,)+) { type Tape = StackTape<($($T,)+)>; })*
    };
}
stacked_tuples!((A)(A, B)(A, B, C)(A, B, C, D)(A, B, C, D, E)(
    A, B, C, D, E, F
));

/// Saves a shape on its tape (the tape's type follows from the shape's).
#[doc(hidden)]
#[inline(always)]
pub fn push_meta<M: Meta>(tape: &mut M::Tape, meta: M) {
    tape.push(meta);
}

/// Takes back the shape saved last.
#[doc(hidden)]
#[inline(always)]
pub fn pop_meta<T: MetaTape>(tape: &mut T) -> T::Meta {
    tape.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_shapes_cost_nothing_and_others_stack() {
        let mut scalars = <ScalarMeta as Meta>::Tape::default();
        push_meta(&mut scalars, ScalarMeta);
        assert_eq!(std::mem::size_of_val(&scalars), 0);
        let _: ScalarMeta = pop_meta(&mut scalars);

        let mut shapes = <Shape as Meta>::Tape::default();
        push_meta(&mut shapes, Shape(vec![2, 3]));
        push_meta(&mut shapes, Shape(vec![4]));
        assert_eq!(pop_meta(&mut shapes).0, vec![4]);
        assert_eq!(pop_meta(&mut shapes).0, vec![2, 3]);
    }
}

/// A `for` counter, walked back by the reverse pass: `prev` is the value
/// before (wrapping past the bottom, which the reverse never reads).
#[doc(hidden)]
pub trait Counter: Copy {
    fn prev(self) -> Self;
}

macro_rules! counters {
    ($($T:ty),*) => { $(impl Counter for $T {
        #[inline(always)]
        fn prev(self) -> Self { self.wrapping_sub(1) }
    })* };
}
counters!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

impl Counter for char {
    #[inline]
    fn prev(self) -> Self {
        // Below 'a' of a char range comes the surrogate gap, never read.
        char::from_u32((self as u32).wrapping_sub(1)).unwrap_or(self)
    }
}

/// The counter value one step back.
#[doc(hidden)]
#[inline(always)]
pub fn prev<C: Counter>(counter: C) -> C {
    counter.prev()
}

/// The trip count of a `for` loop over `lo..hi` and its last counter (read
/// only when the count is not zero), computed again by the reverse pass
/// instead of recorded by the forward.
#[doc(hidden)]
#[inline(always)]
pub fn trips<C: Counter>(range: core::ops::Range<C>) -> (usize, C)
where
    core::ops::Range<C>: Iterator,
{
    (range.size_hint().0, range.end.prev())
}

/// [`trips`] of `lo..=hi`.
#[doc(hidden)]
#[inline(always)]
pub fn trips_inclusive<C: Counter>(range: core::ops::RangeInclusive<C>) -> (usize, C)
where
    core::ops::RangeInclusive<C>: Iterator,
{
    (range.size_hint().0, *range.end())
}

#[cfg(test)]
mod trips_tests {
    use super::*;

    #[test]
    fn trip_counts_and_last_counters_of_ranges() {
        assert_eq!(trips(2usize..7), (5, 6));
        assert_eq!(trips(7usize..2).0, 0);
        assert_eq!(trips(-3i32..2), (5, 1));
        assert_eq!(trips(0u64..1), (1, 0));
        assert_eq!(trips_inclusive(2usize..=7), (6, 7));
        assert_eq!(trips_inclusive(3i64..=2).0, 0);
        assert_eq!(trips('a'..'d'), (3, 'c'));
        for (lo, hi) in [(0usize, 0usize), (0, 1), (3, 10)] {
            assert_eq!(trips(lo..hi).0, (lo..hi).count());
        }
    }
}

/// The tape of a fixed-size array's shape: nothing to keep, as for `f64`.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ArrayTape<const N: usize>;

impl<const N: usize> MetaTape for ArrayTape<N> {
    type Meta = crate::cotangent::ArrayMeta<N>;
    #[inline(always)]
    fn push(&mut self, _: Self::Meta) {}
    #[inline(always)]
    fn pop(&mut self) -> Self::Meta {
        crate::cotangent::ArrayMeta
    }
}

impl<const N: usize> Meta for crate::cotangent::ArrayMeta<N> {
    type Tape = ArrayTape<N>;
}

// ------------------------------------------------------------------ tape pool

/// Element types whose tape vectors are pooled per thread: the values the
/// generated forward keeps (`ByVal`/`ByRef` of scalars, vectors of scalars
/// and tensors), records (integers, `bool`), and tuples of those. All are
/// `'static`, which the pool's keying by type needs; any other element type
/// (a callee's pullback, a value borrowing a lifetime) gets a fresh vector,
/// chosen at compile time (see [`Refill`]).
#[doc(hidden)]
pub trait Pooled: 'static + Sized {}

/// The scalars and owned values a pooled element may be built of.
#[doc(hidden)]
pub trait PoolLeaf: 'static {}

macro_rules! pool_leaves {
    ($($T:ty),*) => { $(impl PoolLeaf for $T {} impl Pooled for $T {})* };
}
pool_leaves!(
    f64,
    f32,
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    crate::Tensor
);
impl<X: PoolLeaf> PoolLeaf for Vec<X> {}
impl<X: PoolLeaf> Pooled for crate::keep::ByVal<X> {}
impl<X: PoolLeaf> Pooled for crate::keep::ByRef<X> {}

macro_rules! pooled_tuples {
    ($(($($T:ident),+))*) => { $(impl<$($T: Pooled),+> Pooled for ($($T,)+) {})* };
}
pooled_tuples!((A)(A, B)(A, B, C)(A, B, C, D)(A, B, C, D, E)(
    A, B, C, D, E, F
));

/// At most this many spare vectors are kept per element type and thread.
const POOL_DEPTH: usize = 4;
/// A vector larger than this (bytes of capacity) is freed, not kept.
const POOL_MAX_BYTES: usize = 1 << 30;

std::thread_local! {
    static POOL_ON: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
    static POOL: std::cell::RefCell<
        std::collections::HashMap<std::any::TypeId, Box<dyn std::any::Any>>,
    > = std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Turns this thread's tape pool on or off (it is on); returns what it
/// was. Off, every tape is a fresh vector and none is kept: what a benchmark
/// that counts the tape's bytes by its allocations needs.
#[doc(hidden)]
pub fn set_tape_pool(on: bool) -> bool {
    POOL_ON.try_with(|p| p.replace(on)).unwrap_or(true)
}

fn pool_on() -> bool {
    POOL_ON.try_with(|p| p.get()).unwrap_or(false)
}

/// A spare vector for elements `T` from this thread's pool (empty, with the
/// capacity an earlier pullback left it), or a new one.
#[doc(hidden)]
pub fn take_pooled<T: Pooled>() -> Vec<T> {
    if !pool_on() {
        return Vec::new();
    }
    POOL.try_with(|pool| {
        pool.borrow_mut()
            .get_mut(&std::any::TypeId::of::<T>())
            .and_then(|spares| spares.downcast_mut::<Vec<Vec<T>>>())
            .and_then(Vec::pop)
    })
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// Gives a tape vector back to this thread's pool (emptied; dropped instead
/// if the pool is full or the vector very large).
#[doc(hidden)]
pub fn give_back_pooled<T: Pooled>(mut tape: Vec<T>) {
    tape.clear();
    let bytes = tape
        .capacity()
        .saturating_mul(std::mem::size_of::<T>().max(1));
    if tape.capacity() == 0 || bytes > POOL_MAX_BYTES || !pool_on() {
        return;
    }
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let spares = pool
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Box::new(Vec::<Vec<T>>::new()));
        if let Some(spares) = spares.downcast_mut::<Vec<Vec<T>>>() {
            if spares.len() < POOL_DEPTH {
                spares.push(tape);
            }
        }
    });
}

/// A tape vector about to receive its first element `like`:
/// `(&Refill::new(&mut tape, &value)).refill()` replaces it by a pooled one
/// when the element type is [`Pooled`] (method resolution picks
/// [`RefillPooled`]), and does nothing otherwise ([`RefillAny`], one autoref
/// later).
#[doc(hidden)]
pub struct Refill<'a, T>(std::cell::Cell<Option<&'a mut Vec<T>>>);

impl<'a, T> Refill<'a, T> {
    #[inline(always)]
    pub fn new(tape: &'a mut Vec<T>, _like: &T) -> Self {
        Refill(std::cell::Cell::new(Some(tape)))
    }
}

#[doc(hidden)]
pub trait RefillPooled {
    fn refill(&self);
}

impl<T: Pooled> RefillPooled for Refill<'_, T> {
    #[inline(never)]
    fn refill(&self) {
        if let Some(tape) = self.0.take() {
            if tape.capacity() == 0 {
                let pooled = take_pooled::<T>();
                let _ = std::mem::replace(tape, pooled);
            }
        }
    }
}

#[doc(hidden)]
pub trait RefillAny {
    fn refill(&self);
}

impl<T> RefillAny for &Refill<'_, T> {
    #[inline(always)]
    fn refill(&self) {}
}

/// A tape vector the pullback is done with:
/// `(&GiveBack::new(&mut tape)).give_back()` returns it to the pool when its
/// element type is [`Pooled`], and drops it otherwise.
#[doc(hidden)]
pub struct GiveBack<'a, T>(std::cell::Cell<Option<&'a mut Vec<T>>>);

impl<'a, T> GiveBack<'a, T> {
    #[inline(always)]
    pub fn new(tape: &'a mut Vec<T>) -> Self {
        GiveBack(std::cell::Cell::new(Some(tape)))
    }
}

#[doc(hidden)]
pub trait GiveBackPooled {
    fn give_back(&self);
}

impl<T: Pooled> GiveBackPooled for GiveBack<'_, T> {
    #[inline]
    fn give_back(&self) {
        if let Some(tape) = self.0.take() {
            give_back_pooled(std::mem::take(tape));
        }
    }
}

#[doc(hidden)]
pub trait GiveBackAny {
    fn give_back(&self);
}

impl<T> GiveBackAny for &GiveBack<'_, T> {
    #[inline(always)]
    fn give_back(&self) {}
}

#[cfg(test)]
mod pool_tests {
    use super::*;
    use crate::keep::ByVal;

    #[test]
    fn a_tape_given_back_is_taken_again_with_its_capacity() {
        let mut tape: Vec<(ByVal<f64>,)> = Vec::new();
        let first = (ByVal(1.0),);
        (&Refill::new(&mut tape, &first)).refill();
        tape.push(first);
        for k in 0..1000 {
            tape.push((ByVal(k as f64),));
        }
        let capacity = tape.capacity();
        (&GiveBack::new(&mut tape)).give_back();
        assert_eq!(tape.capacity(), 0, "the pool has it now");
        let mut again: Vec<(ByVal<f64>,)> = Vec::new();
        let like = (ByVal(0.0),);
        (&Refill::new(&mut again, &like)).refill();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity);
        // Another element type has a pool of its own.
        let mut other: Vec<(usize, usize)> = Vec::new();
        (&Refill::new(&mut other, &(1, 2))).refill();
        assert_eq!(other.capacity(), 0);
    }

    #[test]
    fn elements_that_cannot_be_pooled_get_fresh_vectors() {
        let data = [1.0, 2.0];
        let borrowed: &[f64] = &data;
        let mut tape: Vec<(&[f64], fn())> = Vec::new();
        let like: (&[f64], fn()) = (borrowed, || {});
        (&Refill::new(&mut tape, &like)).refill();
        tape.push(like);
        (&GiveBack::new(&mut tape)).give_back();
        // Not pooled: the vector stays where it was.
        assert_eq!(tape.len(), 1);
        // An integer whose type is still being inferred resolves to a pooled one.
        let mut counts = Vec::new();
        let n = 3;
        (&Refill::new(&mut counts, &(n, 0))).refill();
        counts.push((n, 0usize));
        (&GiveBack::new(&mut counts)).give_back();
        assert_eq!(counts.capacity(), 0);
    }
}
