//! [`Parameters`]: a value made of `f64` leaves that an optimiser can walk,
//! side by side with its gradient.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, OMatrix};

use crate::tensor::Tensor;

/// A value made of `f64` numbers, laid out in *leaves* (contiguous runs of
/// numbers: an `f64` is a leaf of one, a [`Tensor`] or `Vec<f64>` a leaf of
/// all its elements) that are always walked in the same order. Model
/// parameters implement it, and so do their gradients, which have the same
/// type (the `Tangent` of a [`Differentiable`](crate::Differentiable)
/// parameter is the parameter's own type: `f64` for `f64`, `Tensor` for
/// `Tensor`, a tuple of tangents for a tuple).
///
/// An optimiser ([`Sgd`](super::Sgd), [`Adam`](super::Adam)) walks a value and
/// its gradient leaf by leaf with [`zip_leaves_mut`](Parameters::zip_leaves_mut)
/// and keeps its own state (momentum, moment estimates) in flat buffers, one
/// number per number of the parameters, in the same order.
///
/// Implemented for `f64`, [`Tensor`], nalgebra's matrices and vectors of
/// `f64` (`Vector3`, `DMatrix`, …), slices, arrays and `Vec`s of any
/// `Parameters` type (`Vec<f64>`, `[f64; 3]`, `Vec<Tensor>`, `Vec<Layer>`: a
/// run of `f64` is one leaf), `&mut T`, and tuples of up to 6 of these.
///
/// The provided methods are the arithmetic on gradients that optimisers and
/// line searches need: `self += α·x` ([`add_scaled`](Parameters::add_scaled)),
/// `self *= α` ([`scale_mut`](Parameters::scale_mut)), [`set_zero`](Parameters::set_zero),
/// the inner product over all numbers ([`inner`](Parameters::inner)),
/// the Euclidean [`norm`](Parameters::norm) and the count
/// [`numel`](Parameters::numel).
///
/// ```
/// use autodiff_runtime::Tensor;
/// use autodiff_runtime::optim::Parameters;
///
/// let mut p = (2.0, Tensor::from([1.0, 2.0]));
/// let g = (1.0, Tensor::from([0.5, -1.0]));
/// assert_eq!(g.inner(&g), 1.0 + 0.25 + 1.0);
/// assert_eq!(g.norm(), 2.25f64.sqrt());
/// p.add_scaled(-2.0, &g); // p ← p − 2g
/// assert_eq!(p, (0.0, Tensor::from([0.0, 4.0])));
/// assert_eq!(p.numel(), 3);
/// ```
///
/// # Implementing it for a struct
///
/// A struct of parameters implements the three required methods by calling
/// the same method on each field that holds parameters, in declaration order,
/// passing `f` along; fields that hold no parameters (hyperparameters, data:
/// the ones `#[no_grad]` marks) are skipped. That is all
/// `#[derive(Differentiable)]` needs to generate for it:
///
/// ```
/// use autodiff_runtime::Tensor;
/// use autodiff_runtime::optim::Parameters;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Layer {
///     w: Tensor,
///     b: Tensor,
///     name: &'static str, // not a parameter: skipped
/// }
///
/// impl Parameters for Layer {
///     fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F) {
///         self.w.zip_leaves(&other.w, f);
///         self.b.zip_leaves(&other.b, f);
///     }
///     fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F) {
///         self.w.zip_leaves_mut(&other.w, f);
///         self.b.zip_leaves_mut(&other.b, f);
///     }
///     fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F) {
///         self.w.leaves_mut(f);
///         self.b.leaves_mut(f);
///     }
/// }
///
/// let layer = Layer { w: Tensor::ones(&[2, 2]), b: Tensor::ones(&[2]), name: "l1" };
/// assert_eq!(layer.numel(), 6);
/// assert_eq!(layer.norm(), 6f64.sqrt());
/// ```
pub trait Parameters {
    /// Calls `f` on each leaf of `self` beside the same leaf of `other`, in
    /// order. Panics if the two differ in structure or shape.
    fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F);

    /// Calls `f` on each leaf of `self`, mutably, beside the same leaf of
    /// `other`, in order. Panics if the two differ in structure or shape.
    /// (An optimiser step: `self` the parameters, `other` their gradient.)
    fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F);

    /// Calls `f` on each leaf of `self`, mutably, in order.
    fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F);

    /// A slice of values of this type as one run of numbers, when it is one
    /// (`f64` only): lets `[T]`, `[T; N]` and `Vec<T>` hand a slice of `f64`
    /// to an optimiser as one leaf. Other types keep the default (`None`).
    #[doc(hidden)]
    fn as_numbers(items: &[Self]) -> Option<&[f64]>
    where
        Self: Sized,
    {
        let _ = items;
        None
    }

    /// The mutable form of [`as_numbers`](Parameters::as_numbers).
    #[doc(hidden)]
    fn as_numbers_mut(items: &mut [Self]) -> Option<&mut [f64]>
    where
        Self: Sized,
    {
        let _ = items;
        None
    }

    /// Calls `f` on each leaf of `self`, in order.
    ///
    /// ```
    /// use autodiff_runtime::optim::Parameters;
    ///
    /// let mut lens = vec![];
    /// (1.0, vec![1.0, 2.0, 3.0]).leaves(&mut |leaf| lens.push(leaf.len()));
    /// assert_eq!(lens, vec![1, 3]);
    /// ```
    fn leaves<F: FnMut(&[f64])>(&self, f: &mut F) {
        self.zip_leaves(self, &mut |a, _| f(a));
    }

    /// How many numbers `self` holds.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    /// use autodiff_runtime::optim::Parameters;
    ///
    /// assert_eq!((Tensor::zeros(&[2, 3]), [0.0; 4]).numel(), 10);
    /// ```
    fn numel(&self) -> usize {
        let mut n = 0;
        self.leaves(&mut |leaf| n += leaf.len());
        n
    }

    /// `self ← self + α·x` (BLAS's axpy), leaf by leaf.
    ///
    /// ```
    /// use autodiff_runtime::optim::Parameters;
    ///
    /// let mut y = vec![1.0, 1.0];
    /// y.add_scaled(0.5, &vec![2.0, -4.0]);
    /// assert_eq!(y, vec![2.0, -1.0]);
    /// ```
    fn add_scaled(&mut self, alpha: f64, x: &Self) {
        self.zip_leaves_mut(x, &mut |y, x| {
            for (y, x) in y.iter_mut().zip(x) {
                *y += alpha * x;
            }
        });
    }

    /// `self ← α·self`, in place (named as nalgebra's in-place `scale_mut`:
    /// its `scale` returns a new matrix).
    ///
    /// ```
    /// use autodiff_runtime::optim::Parameters;
    ///
    /// let mut g = (1.0, [2.0, 3.0]);
    /// g.scale_mut(-2.0);
    /// assert_eq!(g, (-2.0, [-4.0, -6.0]));
    /// ```
    fn scale_mut(&mut self, alpha: f64) {
        self.leaves_mut(&mut |y| {
            for y in y {
                *y *= alpha;
            }
        });
    }

    /// Sets every number to `0.0` (PyTorch's `zero_()`), keeping the shapes.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    /// use autodiff_runtime::optim::Parameters;
    ///
    /// let mut g = Tensor::ones(&[2]);
    /// g.set_zero();
    /// assert_eq!(g, Tensor::zeros(&[2]));
    /// ```
    fn set_zero(&mut self) {
        self.leaves_mut(&mut |y| y.fill(0.0));
    }

    /// The inner product `Σᵢ selfᵢ · xᵢ` over all numbers (the dot product of
    /// the flattened values; named `inner` because [`Tensor::dot`] is the
    /// operation on 1-dimensional tensors).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    /// use autodiff_runtime::optim::Parameters;
    ///
    /// let a = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(a.inner(&a), 30.0);
    /// ```
    fn inner(&self, x: &Self) -> f64 {
        let mut sum = 0.0;
        self.zip_leaves(x, &mut |a, b| {
            sum += a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
        });
        sum
    }

    /// The Euclidean norm `√(Σᵢ selfᵢ²)` over all numbers.
    ///
    /// ```
    /// use autodiff_runtime::optim::Parameters;
    ///
    /// assert_eq!((3.0, vec![4.0]).norm(), 5.0);
    /// ```
    fn norm(&self) -> f64 {
        self.inner(self).sqrt()
    }
}

fn check_len(what: &str, a: usize, b: usize) {
    assert!(
        a == b,
        "{what} of {b} numbers does not match parameters of {a} numbers"
    );
}

impl Parameters for f64 {
    #[inline]
    fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F) {
        f(std::slice::from_ref(self), std::slice::from_ref(other));
    }
    #[inline]
    fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F) {
        f(std::slice::from_mut(self), std::slice::from_ref(other));
    }
    #[inline]
    fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F) {
        f(std::slice::from_mut(self));
    }
    #[inline]
    fn as_numbers(items: &[f64]) -> Option<&[f64]> {
        Some(items)
    }
    #[inline]
    fn as_numbers_mut(items: &mut [f64]) -> Option<&mut [f64]> {
        Some(items)
    }
}

/// `[T]`, `[T; N]` and `Vec<T>` walk their elements in order; when the
/// elements are `f64`, the whole container is one leaf.
impl<T: Parameters> Parameters for [T] {
    fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F) {
        check_len("a slice", self.len(), other.len());
        match (T::as_numbers(self), T::as_numbers(other)) {
            (Some(a), Some(b)) => f(a, b),
            _ => {
                for (a, b) in self.iter().zip(other) {
                    a.zip_leaves(b, f);
                }
            }
        }
    }
    fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F) {
        check_len("a slice", self.len(), other.len());
        if let Some(b) = T::as_numbers(other)
            && let Some(a) = T::as_numbers_mut(self)
        {
            return f(a, b);
        }
        for (a, b) in self.iter_mut().zip(other) {
            a.zip_leaves_mut(b, f);
        }
    }
    fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F) {
        if let Some(a) = T::as_numbers_mut(self) {
            return f(a);
        }
        for a in self {
            a.leaves_mut(f);
        }
    }
}

impl<T: Parameters, const N: usize> Parameters for [T; N] {
    fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F) {
        self.as_slice().zip_leaves(other.as_slice(), f);
    }
    fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F) {
        self.as_mut_slice().zip_leaves_mut(other.as_slice(), f);
    }
    fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F) {
        self.as_mut_slice().leaves_mut(f);
    }
}

impl<T: Parameters> Parameters for Vec<T> {
    fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F) {
        self.as_slice().zip_leaves(other.as_slice(), f);
    }
    fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F) {
        self.as_mut_slice().zip_leaves_mut(other.as_slice(), f);
    }
    fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F) {
        self.as_mut_slice().leaves_mut(f);
    }
}

/// The numbers of a tensor gradient; a symbolic zero (a gradient nothing
/// was added to) stands for zeros of the shape of `like`.
fn tensor_numbers<'a>(g: &'a Tensor, like: &Tensor, zeros: &'a mut Vec<f64>) -> &'a [f64] {
    if g.symbolic_zero {
        *zeros = vec![0.0; like.numel()];
        return zeros;
    }
    assert!(
        g.shape == like.shape,
        "a tensor of shape {:?} does not match a parameter of shape {:?}",
        g.shape,
        like.shape
    );
    g.data()
}

impl Parameters for Tensor {
    fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F) {
        let mut zeros = Vec::new();
        f(self.data(), tensor_numbers(other, self, &mut zeros));
    }
    fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F) {
        let mut zeros = Vec::new();
        let other = tensor_numbers(other, self, &mut zeros);
        f(self.data_mut(), other);
    }
    fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F) {
        f(self.data_mut());
    }
}

/// The numbers of a matrix gradient (column-major, as nalgebra stores
/// them); an empty gradient of a non-empty dynamic matrix (its symbolic
/// zero) stands for zeros.
fn matrix_numbers<'a, R: Dim, C: Dim>(
    g: &'a OMatrix<f64, R, C>,
    like: &OMatrix<f64, R, C>,
    zeros: &'a mut Vec<f64>,
) -> &'a [f64]
where
    DefaultAllocator: Allocator<R, C>,
{
    if g.is_empty() && !like.is_empty() {
        *zeros = vec![0.0; like.len()];
        return zeros;
    }
    assert!(
        g.shape() == like.shape(),
        "a matrix of shape {:?} does not match a parameter of shape {:?}",
        g.shape(),
        like.shape()
    );
    g.as_slice()
}

/// nalgebra's matrices and vectors of `f64` (`Vector3`, `Matrix2`,
/// `DVector`, `DMatrix`, …): one leaf, column-major. (Points and rotations
/// are not their own gradients: optimise their coordinates or angles.)
impl<R: Dim, C: Dim> Parameters for OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F) {
        let mut zeros = Vec::new();
        f(self.as_slice(), matrix_numbers(other, self, &mut zeros));
    }
    fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F) {
        let mut zeros = Vec::new();
        let other = matrix_numbers(other, self, &mut zeros);
        f(self.as_mut_slice(), other);
    }
    fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F) {
        f(self.as_mut_slice());
    }
}

impl<T: Parameters + ?Sized> Parameters for &mut T {
    fn zip_leaves<F: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut F) {
        (**self).zip_leaves(&**other, f);
    }
    fn zip_leaves_mut<F: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut F) {
        (**self).zip_leaves_mut(&**other, f);
    }
    fn leaves_mut<F: FnMut(&mut [f64])>(&mut self, f: &mut F) {
        (**self).leaves_mut(f);
    }
}

macro_rules! tuple_impls {
    ($($T:ident $i:tt),+) => {
        impl<$($T: Parameters),+> Parameters for ($($T,)+) {
            fn zip_leaves<Visit: FnMut(&[f64], &[f64])>(&self, other: &Self, f: &mut Visit) {
                $(self.$i.zip_leaves(&other.$i, f);)+
            }
            fn zip_leaves_mut<Visit: FnMut(&mut [f64], &[f64])>(&mut self, other: &Self, f: &mut Visit) {
                $(self.$i.zip_leaves_mut(&other.$i, f);)+
            }
            fn leaves_mut<Visit: FnMut(&mut [f64])>(&mut self, f: &mut Visit) {
                $(self.$i.leaves_mut(f);)+
            }
        }
    };
}

tuple_impls!(A 0);
tuple_impls!(A 0, B 1);
tuple_impls!(A 0, B 1, C 2);
tuple_impls!(A 0, B 1, C 2, D 3);
tuple_impls!(A 0, B 1, C 2, D 3, E 4);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_come_in_order() {
        let p = (1.0, Tensor::from([[2.0, 3.0]]), vec![4.0], [5.0, 6.0]);
        let mut seen = vec![];
        p.leaves(&mut |l| seen.extend_from_slice(l));
        assert_eq!(seen, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(p.numel(), 6);
    }

    #[test]
    fn arithmetic() {
        let mut p = (1.0, Tensor::from([2.0, 3.0]), vec![Tensor::from([4.0])]);
        let nested = vec![[1.0, 2.0], [3.0, 4.0]];
        let mut runs = vec![];
        nested.leaves(&mut |l| runs.push(l.to_vec()));
        assert_eq!(runs, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
        let g = (1.0, Tensor::from([-1.0, 1.0]), vec![Tensor::from([2.0])]);
        assert_eq!(p.inner(&g), 1.0 - 2.0 + 3.0 + 8.0);
        p.add_scaled(2.0, &g);
        assert_eq!(p.0, 3.0);
        assert_eq!(p.1.to_vec(), vec![0.0, 5.0]);
        assert_eq!(p.2[0].to_vec(), vec![8.0]);
        p.scale_mut(0.5);
        assert_eq!(p.1.to_vec(), vec![0.0, 2.5]);
        p.set_zero();
        assert_eq!(p.norm(), 0.0);
        assert_eq!(p.1.shape(), &[2]);
    }

    /// Writing through a tensor parameter leaves other tensors that share
    /// its storage unchanged.
    #[test]
    fn shared_tensor_storage_is_copied_on_write() {
        let a = Tensor::ones(&[2]);
        let mut b = a.clone();
        b.scale_mut(3.0);
        assert_eq!(a.to_vec(), vec![1.0, 1.0]);
        assert_eq!(b.to_vec(), vec![3.0, 3.0]);
    }

    #[test]
    fn nalgebra_matrices() {
        use nalgebra::{DMatrix, Matrix2, Vector3};
        let mut v = Vector3::new(1.0, 2.0, 3.0);
        v.add_scaled(2.0, &Vector3::new(1.0, 0.0, -1.0));
        assert_eq!(v, Vector3::new(3.0, 2.0, 1.0));
        let m = Matrix2::new(1.0, 2.0, 3.0, 4.0);
        assert_eq!(m.inner(&Matrix2::identity()), 5.0);
        // A dynamic matrix's symbolic zero (empty) stands for zeros.
        let mut d = DMatrix::from_element(2, 3, 1.0);
        d.add_scaled(1.0, &DMatrix::zeros(0, 0));
        assert_eq!(d, DMatrix::from_element(2, 3, 1.0));
    }

    #[test]
    fn symbolic_zero_gradient_is_zeros() {
        use crate::Cotangent;
        let mut p = Tensor::ones(&[3]);
        p.add_scaled(1.0, &Tensor::zero());
        assert_eq!(p.to_vec(), vec![1.0; 3]);
    }

    #[test]
    #[should_panic(expected = "a tensor of shape [3] does not match a parameter of shape [2]")]
    fn tensor_shape_mismatch() {
        let mut p = Tensor::ones(&[2]);
        p.add_scaled(1.0, &Tensor::ones(&[3]));
    }

    #[test]
    #[should_panic(expected = "a slice of 3 numbers does not match parameters of 2 numbers")]
    fn vec_length_mismatch() {
        let mut p = vec![0.0; 2];
        p.add_scaled(1.0, &vec![0.0; 3]);
    }
}
