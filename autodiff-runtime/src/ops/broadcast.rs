//! NumPy broadcasting: the kernel behind every elementwise binary op, and its
//! adjoint, [`sum_to_shape`], which every binary rule uses to reduce a
//! gradient back to an operand's shape.

use std::sync::Arc;

use crate::pool;
use crate::tensor::{Tensor, numel_of};

/// The shape two operands broadcast to. Panics in PyTorch's words, naming
/// both shapes, when they do not broadcast.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let nd = a.len().max(b.len());
    let mut out = vec![0; nd];
    for (i, o) in out.iter_mut().enumerate() {
        // Dimensions are aligned from the right; missing ones count as 1.
        let da = if i + a.len() >= nd {
            a[i + a.len() - nd]
        } else {
            1
        };
        let db = if i + b.len() >= nd {
            b[i + b.len() - nd]
        } else {
            1
        };
        *o = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            panic!(
                "The size of tensor a ({da}) must match the size of tensor b ({db}) at \
                 non-singleton dimension {i} (shapes {a:?} and {b:?})"
            )
        };
    }
    out
}

/// Strides of an operand of shape `shape` seen through the broadcast shape
/// `out`: 0 along broadcast dimensions.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let nd = out.len();
    let lead = nd - shape.len();
    let mut strides = vec![0; nd];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        if shape[i] != 1 {
            strides[lead + i] = s;
        }
        s *= shape[i];
    }
    strides
}

/// If an operand of shape `small` broadcast to `out` only repeats whole
/// (its shape, leading 1s aside, is the tail of `out`, like a bias row added
/// to every row of a matrix), the number of elements it repeats in blocks
/// of: the broadcast is then a loop over contiguous blocks.
pub(crate) fn repeated_block(small: &[usize], out: &[usize]) -> Option<usize> {
    let leading_ones = small.iter().take_while(|&&d| d == 1).count();
    let tail = &small[leading_ones..];
    let block = numel_of(tail);
    (tail.len() <= out.len() && out.ends_with(tail) && block > 0).then_some(block)
}

/// Visits every position of `out_shape` in row-major order, handing `visit`
/// the offsets of the two operands there (strides from [`broadcast_strides`]).
fn for_each_offset(
    out_shape: &[usize],
    sa: &[usize],
    sb: &[usize],
    mut visit: impl FnMut(usize, usize),
) {
    if numel_of(out_shape) == 0 {
        return;
    }
    let nd = out_shape.len();
    if nd == 0 {
        visit(0, 0);
        return;
    }
    let inner = out_shape[nd - 1];
    let (ia, ib) = (sa[nd - 1], sb[nd - 1]);
    let mut index = vec![0usize; nd];
    let (mut oa, mut ob) = (0usize, 0usize);
    loop {
        for j in 0..inner {
            visit(oa + j * ia, ob + j * ib);
        }
        // Odometer step over the outer dimensions.
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            oa += sa[d];
            ob += sb[d];
            if index[d] < out_shape[d] {
                break;
            }
            oa -= sa[d] * out_shape[d];
            ob -= sb[d] * out_shape[d];
            index[d] = 0;
        }
    }
}

/// `f` applied elementwise to `a` and `b`, broadcast.
pub(crate) fn zip(a: &Tensor, b: &Tensor, f: impl Fn(f64, f64) -> f64) -> Tensor {
    if a.shape == b.shape {
        let data = pool::collect(
            a.numel(),
            a.data.iter().zip(b.data.iter()).map(|(&x, &y)| f(x, y)),
        );
        return Tensor::from_parts(data, a.shape.clone());
    }
    let out_shape = broadcast_shape(&a.shape, &b.shape);
    if b.numel() == 1 && out_shape == a.shape {
        let y = b.data[0];
        return a.map(|x| f(x, y));
    }
    if a.numel() == 1 && out_shape == b.shape {
        let x = a.data[0];
        return b.map(|y| f(x, y));
    }
    let mut data = pool::buffer(numel_of(&out_shape));
    if out_shape == a.shape
        && let Some(block) = repeated_block(&b.shape, &out_shape)
    {
        for rows in a.data.chunks_exact(block) {
            data.extend(rows.iter().zip(b.data.iter()).map(|(&x, &y)| f(x, y)));
        }
        return Tensor::from_parts(data, out_shape);
    }
    if out_shape == b.shape
        && let Some(block) = repeated_block(&a.shape, &out_shape)
    {
        for rows in b.data.chunks_exact(block) {
            data.extend(a.data.iter().zip(rows.iter()).map(|(&x, &y)| f(x, y)));
        }
        return Tensor::from_parts(data, out_shape);
    }
    let sa = broadcast_strides(&a.shape, &out_shape);
    let sb = broadcast_strides(&b.shape, &out_shape);
    for_each_offset(&out_shape, &sa, &sb, |i, j| {
        data.push(f(a.data[i], b.data[j]))
    });
    Tensor::from_parts(data, out_shape)
}

/// `a[i] = f(a[i], b[…])` in place; `a` must already have the broadcast
/// shape and its storage must be writable.
fn zip_into_left(a: &mut [f64], a_shape: &[usize], b: &Tensor, f: impl Fn(f64, f64) -> f64) {
    if a_shape == b.shape.as_slice() {
        a.iter_mut()
            .zip(b.data.iter())
            .for_each(|(x, &y)| *x = f(*x, y));
    } else if b.numel() == 1 {
        let y = b.data[0];
        a.iter_mut().for_each(|x| *x = f(*x, y));
    } else if let Some(block) = repeated_block(&b.shape, a_shape) {
        for rows in a.chunks_exact_mut(block) {
            rows.iter_mut()
                .zip(b.data.iter())
                .for_each(|(x, &y)| *x = f(*x, y));
        }
    } else {
        let sb = broadcast_strides(&b.shape, a_shape);
        let contiguous = crate::tensor::strides_of(a_shape);
        let mut k = 0;
        for_each_offset(a_shape, &contiguous, &sb, |_, j| {
            a[k] = f(a[k], b.data[j]);
            k += 1;
        });
    }
}

/// `f(a, b)`, writing into the storage of `a` when nobody else holds it and
/// it already has the broadcast shape.
pub(crate) fn zip_owned_left(mut a: Tensor, b: &Tensor, f: impl Fn(f64, f64) -> f64) -> Tensor {
    if !a.symbolic_zero
        && broadcast_shape(&a.shape, &b.shape) == a.shape
        && let Some(data) = Arc::get_mut(&mut a.data)
    {
        zip_into_left(data, &a.shape, b, f);
        return a;
    }
    zip(&a, b, f)
}

/// `f(a, b)`, writing into the storage of `b` when nobody else holds it and
/// it already has the broadcast shape.
pub(crate) fn zip_owned_right(a: &Tensor, mut b: Tensor, f: impl Fn(f64, f64) -> f64) -> Tensor {
    if !b.symbolic_zero
        && broadcast_shape(&a.shape, &b.shape) == b.shape
        && let Some(data) = Arc::get_mut(&mut b.data)
    {
        zip_into_left(data, &b.shape, a, |y, x| f(x, y));
        return b;
    }
    zip(a, &b, f)
}

/// `f(a, b)` reusing whichever owned storage can hold the result.
pub(crate) fn zip_owned(a: Tensor, b: Tensor, f: impl Fn(f64, f64) -> f64) -> Tensor {
    let out_shape = broadcast_shape(&a.shape, &b.shape);
    if out_shape == a.shape && !a.symbolic_zero && Arc::strong_count(&a.data) == 1 {
        zip_owned_left(a, &b, f)
    } else {
        zip_owned_right(&a, b, f)
    }
}

/// `a = f(a, b)` in place (the compound assignment operators). The result
/// must have the shape of `a`, as in PyTorch.
pub(crate) fn zip_assign(a: &mut Tensor, b: &Tensor, f: impl Fn(f64, f64) -> f64) {
    if a.symbolic_zero {
        *a = zip(a, b, f);
        return;
    }
    let out_shape = broadcast_shape(&a.shape, &b.shape);
    assert!(
        out_shape == a.shape,
        "output with shape {:?} doesn't match the broadcast shape {:?}",
        a.shape,
        out_shape
    );
    let shape = a.shape.clone();
    zip_into_left(a.data_mut(), &shape, b, f);
}

/// The adjoint of broadcasting: sums `g` over the dimensions along which an
/// operand of shape `shape` was broadcast, giving a tensor of that shape.
///
/// Panics, naming both shapes, if `shape` does not broadcast to `g`'s shape.
pub(crate) fn sum_to_shape(g: &Tensor, shape: &[usize]) -> Tensor {
    if g.shape == shape {
        return g.clone();
    }
    assert!(
        shape.len() <= g.shape.len() && broadcast_shape(shape, &g.shape) == g.shape,
        "cannot reduce a gradient of shape {:?} to an operand of shape {:?}",
        g.shape,
        shape
    );
    let n = numel_of(shape);
    if n == 1 {
        return Tensor::from_parts(vec![g.data.iter().sum()], shape.to_vec());
    }
    let mut out = vec![0.0; n];
    if let Some(block) = repeated_block(shape, &g.shape) {
        // The same sums in the same order as the general loop below.
        for rows in g.data.chunks_exact(block) {
            out.iter_mut().zip(rows).for_each(|(o, &v)| *o += v);
        }
        return Tensor::from_parts(out, shape.to_vec());
    }
    let target = broadcast_strides(shape, &g.shape);
    let contiguous = crate::tensor::strides_of(&g.shape);
    for_each_offset(&g.shape, &target, &contiguous, |t, i| out[t] += g.data[i]);
    Tensor::from_parts(out, shape.to_vec())
}

/// Like [`sum_to_shape`], consuming `g` (no copy when the shapes agree).
pub(crate) fn sum_to_shape_owned(g: Tensor, shape: &[usize]) -> Tensor {
    if g.shape == shape {
        g
    } else {
        sum_to_shape(&g, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(broadcast_shape(&[2, 3], &[3]), vec![2, 3]);
        assert_eq!(broadcast_shape(&[2, 1], &[1, 4]), vec![2, 4]);
        assert_eq!(broadcast_shape(&[], &[5]), vec![5]);
        assert_eq!(broadcast_shape(&[4, 1, 3], &[2, 1]), vec![4, 2, 3]);
    }

    #[test]
    #[should_panic(
        expected = "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1 (shapes [2, 3] and [4])"
    )]
    fn mismatch_names_both() {
        broadcast_shape(&[2, 3], &[4]);
    }

    #[test]
    fn zip_general_case() {
        let a = Tensor::from_vec(vec![1.0, 2.0], &[2, 1]);
        let b = Tensor::from_vec(vec![10.0, 20.0, 30.0], &[1, 3]);
        let c = zip(&a, &b, |x, y| x + y);
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.to_vec(), vec![11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
        let d = zip_owned_right(&a, b.clone(), |x, y| x - y);
        assert_eq!(d.to_vec(), vec![-9.0, -19.0, -29.0, -8.0, -18.0, -28.0]);
    }

    #[test]
    fn sum_to_shape_inverts_broadcast() {
        let g = Tensor::arange(6.0).reshape(&[2, 3]);
        assert_eq!(sum_to_shape(&g, &[3]).to_vec(), vec![3.0, 5.0, 7.0]);
        assert_eq!(sum_to_shape(&g, &[2, 1]).to_vec(), vec![3.0, 12.0]);
        assert_eq!(sum_to_shape(&g, &[]).to_vec(), vec![15.0]);
        assert_eq!(sum_to_shape(&g, &[1, 1]).shape(), &[1, 1]);
    }

    /// The loops over repeated blocks give what the general odometer gives.
    #[test]
    fn repeated_blocks_agree_with_the_general_loop() {
        assert_eq!(repeated_block(&[3], &[2, 3]), Some(3));
        assert_eq!(repeated_block(&[1, 1, 4], &[5, 2, 4]), Some(4));
        assert_eq!(repeated_block(&[2, 1], &[2, 3]), None);
        assert_eq!(repeated_block(&[0], &[2, 0]), None);
        let m = Tensor::randn(&[4, 2, 3], 1);
        for small in [vec![3], vec![2, 3], vec![1, 2, 3], vec![1, 3]] {
            let v = Tensor::randn(&small, 2);
            let general = |a: &Tensor, b: &Tensor, f: fn(f64, f64) -> f64| {
                let out = broadcast_shape(&a.shape, &b.shape);
                let sa = broadcast_strides(&a.shape, &out);
                let sb = broadcast_strides(&b.shape, &out);
                let mut data = Vec::new();
                for_each_offset(&out, &sa, &sb, |i, j| data.push(f(a.data[i], b.data[j])));
                data
            };
            let sub = |x: f64, y: f64| x - y;
            assert_eq!(zip(&m, &v, sub).to_vec(), general(&m, &v, sub));
            assert_eq!(zip(&v, &m, sub).to_vec(), general(&v, &m, sub));
            let mut in_place = m.clone();
            zip_assign(&mut in_place, &v, sub);
            assert_eq!(in_place.to_vec(), general(&m, &v, sub));
            let sums = sum_to_shape(&m, &small);
            let mut expected = vec![0.0; v.numel()];
            let target = broadcast_strides(&small, &m.shape);
            let contiguous = crate::tensor::strides_of(&m.shape);
            for_each_offset(&m.shape, &target, &contiguous, |t, i| {
                expected[t] += m.data[i]
            });
            assert_eq!(sums.to_vec(), expected);
        }
    }

    #[test]
    fn owned_reuses_storage() {
        let a = Tensor::ones(&[2, 3]);
        let p = Arc::as_ptr(&a.data);
        let c = zip_owned_left(a, &Tensor::from([1.0, 2.0, 3.0]), |x, y| x * y);
        assert_eq!(Arc::as_ptr(&c.data), p);
        assert_eq!(c.to_vec(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    }
}
