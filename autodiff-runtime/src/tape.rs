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
