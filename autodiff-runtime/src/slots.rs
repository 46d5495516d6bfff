//! Reading back what the forward pass recorded for the reverse pass: a
//! site's slot (an `Option` for a site that runs once, a `Vec` used as a
//! stack inside loops). The generated reverse calls these so that each read
//! is one short line; a missing record is a bug of the macro, said so.

/// The last record pushed on a slot used as a stack.
#[doc(hidden)]
#[inline(always)]
#[track_caller]
pub fn pop<T>(stack: &mut Vec<T>) -> T {
    match stack.pop() {
        Some(value) => value,
        None => out_of_step(),
    }
}

/// The record of a site that ran once.
#[doc(hidden)]
#[inline(always)]
#[track_caller]
pub fn take_once<T>(slot: &mut Option<T>) -> T {
    match slot.take() {
        Some(value) => value,
        None => out_of_step(),
    }
}

/// The cotangent `g`, if it may be nonzero (is not the symbolic zero): the
/// reverse of a site runs only then (`if let Some(g) = some_nonzero(..)`).
#[doc(hidden)]
#[inline(always)]
pub fn some_nonzero<T: crate::Cotangent>(g: T) -> Option<T> {
    if crate::cotangent::nonzero(&g) {
        Some(g)
    } else {
        None
    }
}

/// The cotangent taken out of `adjoint` (leaving zero), if it may be
/// nonzero: `some_nonzero(take(adjoint))`.
#[doc(hidden)]
#[inline(always)]
pub fn take_nonzero<T: crate::Cotangent>(adjoint: &mut T) -> Option<T> {
    some_nonzero(crate::cotangent::take(adjoint))
}

#[cold]
#[inline(never)]
#[track_caller]
fn out_of_step() -> ! {
    unreachable!(
        "autodiff: the tape is out of step with the reverse pass (a bug in #[differentiable])"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_last_first_and_once() {
        let mut stack = vec![1, 2];
        assert_eq!(pop(&mut stack), 2);
        assert_eq!(pop(&mut stack), 1);
        let mut once = Some(3.5);
        assert_eq!(take_once(&mut once), 3.5);
        assert!(once.is_none());
    }

    #[test]
    fn only_a_cotangent_that_may_be_nonzero_flows_on() {
        assert_eq!(some_nonzero(0.0), Some(0.0));
        assert!(some_nonzero(crate::Tensor::zeros(&[2])).is_some());
        let symbolic: crate::Tensor = crate::cotangent::zero();
        assert!(some_nonzero(symbolic).is_none());
        let mut adjoint = 2.5;
        assert_eq!(take_nonzero(&mut adjoint), Some(2.5));
        assert_eq!(adjoint, 0.0);
    }

    #[test]
    #[should_panic(expected = "out of step")]
    fn a_missing_record_is_a_bug_said_so() {
        pop::<u32>(&mut Vec::new());
    }
}
