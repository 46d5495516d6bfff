//! Elementwise loops over large tensors split over the cores (rayon).
//!
//! Why: an elementwise op on a tensor of a million elements streams 16–24 MB
//! through memory and does almost no arithmetic; one core cannot use the
//! bandwidth that two can (W3's tensor form is a chain of such ops, and W4's
//! `tanh` and bias add are). Below [`PAR_MIN`] elements the loop runs on the
//! calling thread: handing work to another thread costs a few microseconds.
//!
//! Every element is computed by the same closure as in the sequential loop,
//! so the results are the same bits whichever thread computes them; only
//! elementwise work is split here, never a sum (its rounding would depend on
//! the split). `RAYON_NUM_THREADS=1` keeps everything on one thread.

use rayon::prelude::*;

use crate::pool;

/// Tensors of at least this many elements (512 KiB of `f64`) are split.
pub(crate) const PAR_MIN: usize = 1 << 16;

/// Elements per task: large enough that a task outweighs its scheduling.
const CHUNK: usize = 1 << 14;

/// `f(a[i])` for every `i`, into a (pooled) new buffer.
pub(crate) fn map(a: &[f64], f: impl Fn(f64) -> f64 + Sync + Send) -> Vec<f64> {
    let mut out = pool::buffer(a.len());
    if a.len() < PAR_MIN {
        out.extend(a.iter().map(|&x| f(x)));
    } else {
        out.par_extend(a.par_iter().with_min_len(CHUNK).map(|&x| f(x)));
    }
    out
}

/// `f(a[i], b[i])` for every `i` (equal lengths), into a new buffer.
pub(crate) fn zip(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64 + Sync + Send) -> Vec<f64> {
    debug_assert_eq!(a.len(), b.len());
    let mut out = pool::buffer(a.len());
    if a.len() < PAR_MIN {
        out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
    } else {
        out.par_extend(
            a.par_iter()
                .zip(b.par_iter())
                .with_min_len(CHUNK)
                .map(|(&x, &y)| f(x, y)),
        );
    }
    out
}

/// `a[i] = f(a[i])` in place.
pub(crate) fn map_in_place(a: &mut [f64], f: impl Fn(f64) -> f64 + Sync + Send) {
    if a.len() < PAR_MIN {
        a.iter_mut().for_each(|x| *x = f(*x));
    } else {
        a.par_chunks_mut(CHUNK)
            .for_each(|c| c.iter_mut().for_each(|x| *x = f(*x)));
    }
}

/// `a[i] = f(a[i], b[i])` in place (equal lengths).
pub(crate) fn zip_in_place(a: &mut [f64], b: &[f64], f: impl Fn(f64, f64) -> f64 + Sync + Send) {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < PAR_MIN {
        a.iter_mut().zip(b).for_each(|(x, &y)| *x = f(*x, y));
    } else {
        a.par_chunks_mut(CHUNK)
            .zip(b.par_chunks(CHUNK))
            .for_each(|(c, d)| c.iter_mut().zip(d).for_each(|(x, &y)| *x = f(*x, y)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split loops give the sequential loops' bits, at lengths around
    /// the threshold and the chunk size.
    #[test]
    fn split_loops_equal_the_sequential_loops() {
        for n in [
            0,
            5,
            PAR_MIN - 1,
            PAR_MIN,
            PAR_MIN + CHUNK + 3,
            3 * PAR_MIN + 1,
        ] {
            let a = crate::Tensor::randn(&[n], 1);
            let b = crate::Tensor::randn(&[n], 2);
            let (a, b) = (a.data(), b.data());
            let f = |x: f64| x.sin() * 3.0;
            let g = |x: f64, y: f64| x * y - y.cos();
            let want_map: Vec<f64> = a.iter().map(|&x| f(x)).collect();
            let want_zip: Vec<f64> = a.iter().zip(b).map(|(&x, &y)| g(x, y)).collect();
            assert_eq!(map(a, f), want_map);
            assert_eq!(zip(a, b, g), want_zip);
            let mut c = a.to_vec();
            map_in_place(&mut c, f);
            assert_eq!(c, want_map);
            let mut c = a.to_vec();
            zip_in_place(&mut c, b, g);
            assert_eq!(c, want_zip);
        }
    }
}
