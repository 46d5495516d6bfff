//! A per-thread cache of large element buffers, so that a chain of tensor
//! operations reuses memory instead of asking the system for fresh pages.
//!
//! Why: an op on a large tensor writes a new buffer, and a gradient runs many
//! such ops. With the system allocator every large buffer is fresh memory
//! from the kernel (glibc returns freed blocks above its thresholds), so each
//! op first takes a page fault per 4 KiB and then writes memory that is not
//! in any cache. On W3 of the benchmark (tensors of 10⁶ `f64`) the gradient
//! spent 60% of its time in the kernel faulting pages in. A buffer given back
//! here when its last tensor is dropped is handed to the next op that needs
//! one of about its size: already mapped, often still in cache. This is what
//! PyTorch's caching allocators do.
//!
//! Only buffers of at least [`MIN_POOLED`] elements are cached; smaller ones
//! come from and return to the global allocator as before. The cache holds at
//! most [`MAX_BUFFERS`] buffers and [`MAX_BYTES`] bytes per thread, and gives
//! the oldest back to the system beyond that.

use std::cell::RefCell;

/// Buffers of fewer elements than this (256 KiB) are not cached.
pub(crate) const MIN_POOLED: usize = 1 << 15;

/// At most this many cached buffers per thread.
const MAX_BUFFERS: usize = 16;

/// At most this many cached bytes per thread.
const MAX_BYTES: usize = 256 << 20;

thread_local! {
    static FREE: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least `len` elements: a cached one of
/// between `len` and `2·len` elements if there is one, else a new one.
pub(crate) fn buffer(len: usize) -> Vec<f64> {
    if len >= MIN_POOLED {
        let cached = FREE
            .try_with(|free| {
                let mut free = free.try_borrow_mut().ok()?;
                let best = free
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.capacity() >= len && b.capacity() <= 2 * len)
                    .min_by_key(|(_, b)| b.capacity())
                    .map(|(i, _)| i)?;
                Some(free.swap_remove(best))
            })
            .ok()
            .flatten();
        if let Some(buffer) = cached {
            return buffer;
        }
    }
    Vec::with_capacity(len)
}

/// A buffer of `len` elements, all `value`.
pub(crate) fn filled(len: usize, value: f64) -> Vec<f64> {
    let mut out = buffer(len);
    out.resize(len, value);
    out
}

/// A buffer holding the `len` values of `values`.
#[inline]
pub(crate) fn collect(len: usize, values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut out = buffer(len);
    out.extend(values);
    out
}

/// Gives a buffer back for reuse (a small one goes straight to the system).
pub(crate) fn recycle(mut buffer: Vec<f64>) {
    if buffer.capacity() < MIN_POOLED {
        return;
    }
    buffer.clear();
    // During thread teardown the cache may be gone: the buffer is then freed.
    let _ = FREE.try_with(|free| {
        let Ok(mut free) = free.try_borrow_mut() else {
            return;
        };
        free.push(buffer);
        let bytes = |free: &Vec<Vec<f64>>| -> usize {
            free.iter().map(|b| b.capacity() * size_of::<f64>()).sum()
        };
        while free.len() > MAX_BUFFERS || bytes(&free) > MAX_BYTES {
            free.remove(0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_a_buffer_of_about_the_right_size() {
        let first = filled(MIN_POOLED * 2, 1.0);
        let address = first.as_ptr();
        recycle(first);
        let again = buffer(MIN_POOLED * 2 - 5);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
        recycle(again);
        // Too big for a small request: not handed out.
        let small = buffer(MIN_POOLED / 2 + MIN_POOLED / 4);
        assert_ne!(small.as_ptr(), address);
    }

    #[test]
    fn a_dropped_tensor_lends_its_storage_to_the_next_op() {
        let a = crate::Tensor::zeros(&[MIN_POOLED]);
        let address = a.data().as_ptr();
        drop(a);
        let b = crate::Tensor::ones(&[MIN_POOLED]);
        assert_eq!(b.data().as_ptr(), address);
        assert!(b.data().iter().all(|&v| v == 1.0));
        // Shared storage stays with the other holder.
        let c = b.clone();
        drop(b);
        assert_eq!(c.data().as_ptr(), address);
        assert_ne!(crate::Tensor::zeros(&[MIN_POOLED]).data().as_ptr(), address);
    }

    #[test]
    fn stays_within_its_bounds() {
        for _ in 0..MAX_BUFFERS + 4 {
            recycle(Vec::with_capacity(MIN_POOLED));
        }
        FREE.with(|free| assert!(free.borrow().len() <= MAX_BUFFERS));
    }
}
