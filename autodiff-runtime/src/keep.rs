//! How the generated forward pass keeps a value for the reverse pass.
//!
//! A value the reverse needs is saved on the tape, which the pullback owns.
//! A reference (say `w: &f64` from iterating a local array) cannot go on the
//! tape: it would outlive what it borrows. So a reference is kept as an owned
//! clone of what it points to ([`ByRef`]), and handed back as a reference to
//! that clone; any other value is kept as a clone of itself ([`ByVal`]). The
//! choice is made at compile time by method resolution (autoref
//! specialisation), so the reverse sees exactly the types the forward saw.

/// The value being kept, borrowed: `(&Keep(&x)).keep()`.
#[doc(hidden)]
pub struct Keep<'a, T: ?Sized>(pub &'a T);

/// A kept reference: the owned pointee (`Vec<f64>` for a `&[f64]`).
#[doc(hidden)]
#[derive(Clone, Debug, Default)]
pub struct ByRef<T>(pub T);

/// A kept value: a clone of it.
#[doc(hidden)]
#[derive(Clone, Debug, Default)]
pub struct ByVal<T>(pub T);

/// Found first by method resolution: `Keep<&T>` keeps the pointee.
#[doc(hidden)]
pub trait KeepBorrowed {
    type Kept;
    fn keep(&self) -> Self::Kept;
}

impl<T: ?Sized + ToOwned> KeepBorrowed for Keep<'_, &T> {
    type Kept = ByRef<T::Owned>;
    #[inline(always)]
    fn keep(&self) -> ByRef<T::Owned> {
        ByRef((**self.0).to_owned())
    }
}

/// Found one autoref later: any other value keeps a clone of itself.
#[doc(hidden)]
pub trait KeepOwned {
    type Kept;
    fn keep(&self) -> Self::Kept;
}

impl<T: Clone> KeepOwned for &Keep<'_, T> {
    type Kept = ByVal<T>;
    #[inline(always)]
    fn keep(&self) -> ByVal<T> {
        ByVal(self.0.clone())
    }
}

/// Hands a kept value back in the type the forward pass had.
#[doc(hidden)]
pub trait Restore {
    type Out;
    fn restore(self) -> Self::Out;
}

impl<'a, T> Restore for &'a ByRef<T> {
    type Out = &'a T;
    #[inline(always)]
    fn restore(self) -> &'a T {
        &self.0
    }
}

impl<T: Clone> Restore for &ByVal<T> {
    type Out = T;
    #[inline(always)]
    fn restore(self) -> T {
        self.0.clone()
    }
}

/// `restore(&kept)`: the kept value, as a reference again if it was one.
#[doc(hidden)]
#[inline(always)]
pub fn restore<R: Restore>(kept: R) -> R::Out {
    kept.restore()
}

/// A kept value seen in place, without a clone: `kept_ref(&kept)`.
#[doc(hidden)]
pub trait KeptRef {
    type Target;
    fn kept_ref(&self) -> &Self::Target;
}

impl<T> KeptRef for ByRef<T> {
    type Target = T;
    #[inline(always)]
    fn kept_ref(&self) -> &T {
        &self.0
    }
}

impl<T> KeptRef for ByVal<T> {
    type Target = T;
    #[inline(always)]
    fn kept_ref(&self) -> &T {
        &self.0
    }
}

/// A kept value (a vector the reverse reads elements of), borrowed where it
/// is kept: a reference to the owned pointee or to the clone.
#[doc(hidden)]
#[inline(always)]
pub fn kept_ref<K: KeptRef>(kept: &K) -> &K::Target {
    kept.kept_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_come_back_as_references() {
        let weights = [0.5, 2.0];
        let w: &f64 = &weights[1];
        let kept = (&Keep(&w)).keep();
        let back: &f64 = restore(&kept);
        assert_eq!(*back, 2.0);
        let x = 3.0;
        let kept = (&Keep(&x)).keep();
        let back: f64 = restore(&kept);
        assert_eq!(back, 3.0);
        let slice: &[f64] = &weights;
        let kept = (&Keep(&slice)).keep();
        let back: &Vec<f64> = restore(&kept);
        assert_eq!(back, &vec![0.5, 2.0]);
        assert_eq!(kept_ref(&kept)[1], 2.0);
        let owned = (&Keep(&vec![1.0, 3.0])).keep();
        assert_eq!(kept_ref(&owned)[1], 3.0);
    }
}
