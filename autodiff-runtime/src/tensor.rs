//! [`Tensor`]: storage, constructors, accessors and conversions. The
//! operations live in `ops/`, printing in `format.rs`.

use std::sync::{Arc, LazyLock};

use nalgebra::{DMatrix, DVector};

use crate::pool;
use crate::rng::SplitMix64;

/// An n-dimensional array of `f64`, row-major (C order), like a PyTorch tensor
/// of dtype `float64`.
///
/// The elements live in shared storage (`Arc<Vec<f64>>`): cloning is cheap and
/// never copies the elements; an in-place operation copies them only when the
/// storage is shared (copy on write). Tensors are `Send + Sync`.
///
/// Elementwise operators (`+ - * /`) broadcast like NumPy and PyTorch, and
/// accept every mix of owned tensors, borrowed tensors and `f64`.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// let x = Tensor::arange(4.0);
/// assert_eq!(x.to_string(), "tensor([0., 1., 2., 3.])");
/// let m = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// let y = &m * &x.slice(0, 0..3) + 1.0; // [2, 3] * [3] broadcasts
/// assert_eq!(y.shape(), &[2, 3]);
/// assert_eq!(y.to_vec(), vec![1.0, 3.0, 7.0, 1.0, 6.0, 13.0]);
/// ```
#[derive(Clone)]
pub struct Tensor {
    pub(crate) data: Arc<Vec<f64>>,
    pub(crate) shape: Vec<usize>,
    /// A cotangent that is known to be zero but has no shape yet (see
    /// [`crate::Cotangent::zero`]). Its storage is a 0-d `0.0`, so that any
    /// operation that meets one by accident still computes with a zero.
    pub(crate) symbolic_zero: bool,
}

/// A large buffer that no other tensor shares goes back to the per-thread
/// cache of `pool.rs`, for the next operation to write into.
impl Drop for Tensor {
    fn drop(&mut self) {
        if self.data.capacity() >= pool::MIN_POOLED
            && let Some(data) = Arc::get_mut(&mut self.data)
        {
            pool::recycle(std::mem::take(data));
        }
    }
}

/// The storage shared by every symbolic zero: making one costs a reference
/// count increment, not an allocation.
static ZERO_STORAGE: LazyLock<Arc<Vec<f64>>> = LazyLock::new(|| Arc::new(vec![0.0]));

pub(crate) fn numel_of(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of a contiguous tensor of this shape.
pub(crate) fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut s = 1;
    for (stride, &n) in strides.iter_mut().zip(shape).rev() {
        *stride = s;
        s *= n;
    }
    strides
}

impl Tensor {
    /// Builds a tensor from elements and a shape, trusting that they agree.
    pub(crate) fn from_parts(data: Vec<f64>, shape: Vec<usize>) -> Tensor {
        debug_assert_eq!(data.len(), numel_of(&shape));
        Tensor {
            data: Arc::new(data),
            shape,
            symbolic_zero: false,
        }
    }

    /// The shapeless zero cotangent (see [`crate::Cotangent::zero`]).
    pub(crate) fn symbolic_zero() -> Tensor {
        Tensor {
            data: Arc::clone(&ZERO_STORAGE),
            shape: Vec::new(),
            symbolic_zero: true,
        }
    }

    /// A tensor with these elements (row-major) and this shape.
    ///
    /// Panics if the number of elements is not the product of the shape.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(m.at(&[1, 0]), 4.0);
    /// ```
    pub fn from_vec(data: Vec<f64>, shape: &[usize]) -> Tensor {
        assert!(
            data.len() == numel_of(shape),
            "shape {:?} is invalid for input of size {}",
            shape,
            data.len()
        );
        Tensor::from_parts(data, shape.to_vec())
    }

    /// A 0-dimensional tensor holding one value (PyTorch's `torch.tensor(3.)`).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let s = Tensor::scalar(3.0);
    /// assert_eq!((s.ndim(), s.item()), (0, 3.0));
    /// assert_eq!(s.to_string(), "tensor(3.)");
    /// ```
    pub fn scalar(value: f64) -> Tensor {
        Tensor::from_parts(vec![value], Vec::new())
    }

    /// A tensor of this shape filled with `value`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::full(&[2], 7.0).to_vec(), vec![7.0, 7.0]);
    /// ```
    pub fn full(shape: &[usize], value: f64) -> Tensor {
        Tensor::from_parts(pool::filled(numel_of(shape), value), shape.to_vec())
    }

    /// A tensor of zeros.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::zeros(&[2, 2]).to_string(), "tensor([[0., 0.],\n        [0., 0.]])");
    /// ```
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of ones.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::ones(&[3]).sum(), 3.0);
    /// ```
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// Zeros of the shape of `self`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::arange(3.0);
    /// assert_eq!(x.zeros_like().to_vec(), vec![0.0; 3]);
    /// ```
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(&self.shape)
    }

    /// Ones of the shape of `self`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::zeros(&[2, 3]);
    /// assert_eq!(x.ones_like().shape(), &[2, 3]);
    /// ```
    pub fn ones_like(&self) -> Tensor {
        Tensor::ones(&self.shape)
    }

    /// `0, 1, …` up to but excluding `end` (PyTorch's `torch.arange(end)`).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(4.0).to_string(), "tensor([0., 1., 2., 3.])");
    /// ```
    pub fn arange(end: f64) -> Tensor {
        Tensor::arange_range(0.0, end, 1.0)
    }

    /// `start, start + step, …` up to but excluding `end`
    /// (PyTorch's `torch.arange(start, end, step)`).
    ///
    /// Panics if `step` is zero or has the wrong sign.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange_range(1.0, 2.0, 0.25).to_vec(), vec![1.0, 1.25, 1.5, 1.75]);
    /// assert_eq!(Tensor::arange_range(3.0, 0.0, -1.0).to_vec(), vec![3.0, 2.0, 1.0]);
    /// ```
    pub fn arange_range(start: f64, end: f64, step: f64) -> Tensor {
        assert!(
            step != 0.0 && step.is_finite(),
            "arange: step must be nonzero and finite, got {step}"
        );
        assert!(
            (end - start) * step.signum() >= 0.0 || start == end,
            "arange: upper bound and larger bound inconsistent with step sign \
             (start {start}, end {end}, step {step})"
        );
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let data = (0..n).map(|i| start + i as f64 * step).collect();
        Tensor::from_parts(data, vec![n])
    }

    /// `steps` evenly spaced values from `start` to `end`, both included
    /// (PyTorch's `torch.linspace`).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::linspace(0.0, 1.0, 5).to_vec(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// ```
    pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
        let data = match steps {
            0 => Vec::new(),
            1 => vec![start],
            _ => {
                let step = (end - start) / (steps - 1) as f64;
                (0..steps)
                    .map(|i| {
                        // Count from the nearer end, as PyTorch does, so both ends are exact.
                        if i < steps / 2 {
                            start + step * i as f64
                        } else {
                            end - step * (steps - 1 - i) as f64
                        }
                    })
                    .collect()
            }
        };
        Tensor::from_parts(data, vec![steps])
    }

    /// The `n × n` identity matrix.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn eye(n: usize) -> Tensor {
        let mut data = vec![0.0; n * n];
        for i in 0..n {
            data[i * n + i] = 1.0;
        }
        Tensor::from_parts(data, vec![n, n])
    }

    /// Uniform random values in `[0, 1)`, reproducible from `seed`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::rand(&[2, 3], 42);
    /// assert_eq!(a, Tensor::rand(&[2, 3], 42));
    /// assert!(a.data().iter().all(|&v| (0.0..1.0).contains(&v)));
    /// ```
    pub fn rand(shape: &[usize], seed: u64) -> Tensor {
        Tensor::uniform(shape, 0.0, 1.0, seed)
    }

    /// Uniform random values in `[lo, hi)`, reproducible from `seed`.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::uniform(&[100], -2.0, 2.0, 7);
    /// assert!(a.data().iter().all(|&v| (-2.0..2.0).contains(&v)));
    /// ```
    pub fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor {
        let mut rng = SplitMix64::new(seed);
        let data = (0..numel_of(shape))
            .map(|_| lo + (hi - lo) * rng.next_f64())
            .collect();
        Tensor::from_parts(data, shape.to_vec())
    }

    /// Standard normal random values, reproducible from `seed`
    /// (PyTorch's `torch.randn`; `&[]` gives a 0-d tensor).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::randn(&[], 0);
    /// assert_eq!(a.ndim(), 0);
    /// assert_eq!(a, Tensor::randn(&[], 0));
    /// ```
    pub fn randn(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = SplitMix64::new(seed);
        let data = (0..numel_of(shape)).map(|_| rng.next_normal()).collect();
        Tensor::from_parts(data, shape.to_vec())
    }

    /// The size of each dimension.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::zeros(&[2, 3]).shape(), &[2, 3]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of dimensions (0 for a scalar tensor).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::scalar(1.0).ndim(), 0);
    /// assert_eq!(Tensor::zeros(&[2, 3]).ndim(), 2);
    /// ```
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::zeros(&[2, 3]).numel(), 6);
    /// assert_eq!(Tensor::scalar(1.0).numel(), 1);
    /// ```
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The elements, row-major.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(m.data(), &[1.0, 2.0, 3.0, 4.0]);
    /// ```
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// The elements, mutably; copies them first if the storage is shared
    /// with another tensor.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::zeros(&[2]);
    /// let mut b = a.clone();
    /// b.data_mut()[0] = 5.0;
    /// assert_eq!((a.to_vec(), b.to_vec()), (vec![0.0, 0.0], vec![5.0, 0.0]));
    /// ```
    pub fn data_mut(&mut self) -> &mut [f64] {
        self.symbolic_zero = false;
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    /// The elements as a new `Vec`, row-major.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(3.0).to_vec(), vec![0.0, 1.0, 2.0]);
    /// ```
    pub fn to_vec(&self) -> Vec<f64> {
        self.data.to_vec()
    }

    /// The elements as a `Vec`, without copying when the storage is not shared.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::ones(&[2]).into_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn into_vec(mut self) -> Vec<f64> {
        match Arc::get_mut(&mut self.data) {
            Some(data) => std::mem::take(data),
            None => self.data.to_vec(),
        }
    }

    /// The value of a tensor with exactly one element (PyTorch's `.item()`).
    ///
    /// Panics if the tensor has more or fewer elements.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::from([[2.5]]).item(), 2.5);
    /// ```
    pub fn item(&self) -> f64 {
        assert!(
            self.numel() == 1,
            "a Tensor with {} elements (shape {:?}) cannot be converted to a scalar: \
             item() needs exactly one element",
            self.numel(),
            self.shape
        );
        self.data[0]
    }

    /// Row-major offset of a multi-index, checked.
    pub(crate) fn offset_of(&self, index: &[usize]) -> usize {
        assert!(
            index.len() == self.ndim(),
            "index {:?} has {} indices but the tensor of shape {:?} has {} dimensions",
            index,
            index.len(),
            self.shape,
            self.ndim()
        );
        let mut offset = 0;
        for (dim, (&i, &n)) in index.iter().zip(&self.shape).enumerate() {
            assert!(
                i < n,
                "index {i} is out of bounds for dimension {dim} with size {n} (shape {:?})",
                self.shape
            );
            offset = offset * n + i;
        }
        offset
    }

    /// The element at a multi-index, one index per dimension.
    ///
    /// Panics if the index has the wrong length or is out of bounds.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let m = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(m.at(&[1, 0]), 3.0);
    /// assert_eq!(Tensor::scalar(9.0).at(&[]), 9.0);
    /// ```
    pub fn at(&self, index: &[usize]) -> f64 {
        self.data[self.offset_of(index)]
    }

    /// The same values, cut off from any gradient (PyTorch's `.detach()`).
    /// The storage is shared, not copied. `#[differentiable]` treats the result
    /// as a constant.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::arange(3.0);
    /// assert_eq!(x.detach(), x);
    /// ```
    pub fn detach(&self) -> Tensor {
        let mut t = self.clone();
        t.symbolic_zero = false;
        t
    }

    /// Sets every element to zero in place (PyTorch's `.zero_()`), e.g. to
    /// reset an accumulated gradient.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let mut g = Tensor::arange(4.0);
    /// g.zero_();
    /// assert_eq!(g.to_string(), "tensor([0., 0., 0., 0.])");
    /// ```
    pub fn zero_(&mut self) -> &mut Tensor {
        match Arc::get_mut(&mut self.data) {
            Some(data) => data.fill(0.0),
            None => self.data = Arc::new(vec![0.0; self.data.len()]),
        }
        self.symbolic_zero = false;
        self
    }

    /// Applies `f` to every element (not differentiated by `#[differentiable]`:
    /// use it on values, or wrap the result in `stop_gradient`).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(3.0).map(|v| v * 10.0).to_vec(), vec![0.0, 10.0, 20.0]);
    /// ```
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Tensor {
        Tensor::from_parts(
            pool::collect(self.numel(), self.data.iter().map(|&v| f(v))),
            self.shape.clone(),
        )
    }

    /// Like [`map`](Tensor::map), reusing the storage when it is not shared.
    pub(crate) fn map_owned(mut self, f: impl Fn(f64) -> f64) -> Tensor {
        match Arc::get_mut(&mut self.data) {
            Some(data) => {
                data.iter_mut().for_each(|v| *v = f(*v));
                self.symbolic_zero = false;
                self
            }
            None => self.map(f),
        }
    }

    /// Whether every element is within `atol + rtol·|other|` of the element of
    /// `other` at the same place (PyTorch's `allclose`; shapes must be equal).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let a = Tensor::from([1.0, 2.0]);
    /// assert!(a.allclose(&(&a + 1e-12), 1e-9, 0.0));
    /// ```
    pub fn allclose(&self, other: &Tensor, rtol: f64, atol: f64) -> bool {
        self.shape == other.shape
            && self
                .data
                .iter()
                .zip(other.data.iter())
                .all(|(&a, &b)| (a - b).abs() <= atol + rtol * b.abs())
    }
}

/// Tensors are equal when their shapes and all their elements are equal.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(Tensor::arange(2.0), Tensor::from([0.0, 1.0]));
/// assert_ne!(Tensor::zeros(&[2]), Tensor::zeros(&[2, 1]));
/// ```
impl PartialEq for Tensor {
    fn eq(&self, other: &Tensor) -> bool {
        self.shape == other.shape && self.data == other.data
    }
}

/// A tensor with one element equals that `f64`.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(Tensor::scalar(28.0), 28.0);
/// ```
impl PartialEq<f64> for Tensor {
    fn eq(&self, other: &f64) -> bool {
        self.numel() == 1 && self.data[0] == *other
    }
}

/// The result of an elementwise comparison of tensors (PyTorch's `bool`
/// tensors): prints as `tensor([True, False])`.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// let b = Tensor::from([1.0, 2.0]).eq_elem(&Tensor::from([1.0, 3.0]));
/// assert_eq!(b.to_string(), "tensor([ True, False])");
/// assert!(b.any() && !b.all());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BoolTensor {
    pub(crate) data: Vec<bool>,
    pub(crate) shape: Vec<usize>,
}

impl BoolTensor {
    /// The size of each dimension.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::zeros(&[2, 3]).eq_elem(&Tensor::scalar(0.0)).shape(), &[2, 3]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements, row-major.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(2.0).eq_elem(&Tensor::scalar(1.0)).data(), &[false, true]);
    /// ```
    pub fn data(&self) -> &[bool] {
        &self.data
    }

    /// The elements as a `Vec`, row-major.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(2.0).eq_elem(&Tensor::scalar(1.0)).to_vec(), vec![false, true]);
    /// ```
    pub fn to_vec(&self) -> Vec<bool> {
        self.data.clone()
    }

    /// Whether every element is true (true for an empty tensor).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::arange(4.0);
    /// assert!((&x * 2.0).eq_elem(&(&x + &x)).all());
    /// ```
    pub fn all(&self) -> bool {
        self.data.iter().all(|&b| b)
    }

    /// Whether any element is true.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert!(Tensor::arange(4.0).eq_elem(&Tensor::scalar(3.0)).any());
    /// ```
    pub fn any(&self) -> bool {
        self.data.iter().any(|&b| b)
    }

    /// The value of a comparison with exactly one element.
    ///
    /// Panics if there are more or fewer elements.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert!(Tensor::scalar(2.0).eq_elem(&Tensor::scalar(2.0)).item());
    /// ```
    pub fn item(&self) -> bool {
        assert!(
            self.data.len() == 1,
            "a boolean tensor with {} elements (shape {:?}) cannot be converted to a bool",
            self.data.len(),
            self.shape
        );
        self.data[0]
    }
}

/// A 0-dimensional tensor.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(Tensor::from(2.0).ndim(), 0);
/// ```
impl From<f64> for Tensor {
    fn from(value: f64) -> Tensor {
        Tensor::scalar(value)
    }
}

/// A 1-dimensional tensor.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(Tensor::from(vec![1.0, 2.0]).shape(), &[2]);
/// ```
impl From<Vec<f64>> for Tensor {
    fn from(data: Vec<f64>) -> Tensor {
        let n = data.len();
        Tensor::from_parts(data, vec![n])
    }
}

/// A 1-dimensional tensor.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// let v = [1.0, 2.0, 3.0];
/// assert_eq!(Tensor::from(&v[..2]).to_vec(), vec![1.0, 2.0]);
/// ```
impl From<&[f64]> for Tensor {
    fn from(data: &[f64]) -> Tensor {
        Tensor::from(data.to_vec())
    }
}

/// A 1-dimensional tensor.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(Tensor::from([1.0, 2.0, 3.0]).shape(), &[3]);
/// ```
impl<const N: usize> From<[f64; N]> for Tensor {
    fn from(data: [f64; N]) -> Tensor {
        Tensor::from_parts(data.to_vec(), vec![N])
    }
}

/// A 2-dimensional tensor: `N` rows of `M` columns.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// let m = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// assert_eq!((m.shape(), m.at(&[1, 2])), (&[2, 3][..], 6.0));
/// ```
impl<const M: usize, const N: usize> From<[[f64; M]; N]> for Tensor {
    fn from(rows: [[f64; M]; N]) -> Tensor {
        Tensor::from_parts(rows.iter().flatten().copied().collect(), vec![N, M])
    }
}

/// A 1-dimensional tensor with the vector's elements.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use nalgebra::DVector;
///
/// let v = DVector::from_vec(vec![1.0, 2.0]);
/// assert_eq!(Tensor::from(&v).to_vec(), vec![1.0, 2.0]);
/// ```
impl From<&DVector<f64>> for Tensor {
    fn from(v: &DVector<f64>) -> Tensor {
        Tensor::from(v.as_slice().to_vec())
    }
}

/// A 1-dimensional tensor with the vector's elements (no copy).
///
/// ```
/// use autodiff_runtime::Tensor;
/// use nalgebra::DVector;
///
/// assert_eq!(Tensor::from(DVector::from_element(3, 1.0)).shape(), &[3]);
/// ```
impl From<DVector<f64>> for Tensor {
    fn from(v: DVector<f64>) -> Tensor {
        Tensor::from(Vec::from(v.data))
    }
}

/// A 2-dimensional tensor of shape `(nrows, ncols)` with the matrix's entries
/// (nalgebra stores columns first, `Tensor` rows first: the entries are
/// reordered, `t.at(&[i, j]) == m[(i, j)]`).
///
/// ```
/// use autodiff_runtime::Tensor;
/// use nalgebra::DMatrix;
///
/// let m = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let t = Tensor::from(&m);
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.at(&[0, 2]), m[(0, 2)]);
/// ```
impl From<&DMatrix<f64>> for Tensor {
    fn from(m: &DMatrix<f64>) -> Tensor {
        let (rows, cols) = m.shape();
        // The column-major buffer of mᵀ is the row-major buffer of m.
        let data = m.transpose().as_slice().to_vec();
        Tensor::from_parts(data, vec![rows, cols])
    }
}

/// See `From<&DMatrix<f64>>`.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use nalgebra::DMatrix;
///
/// let t = Tensor::from(DMatrix::from_fn(2, 2, |i, j| (i * 2 + j) as f64));
/// assert_eq!(t.to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
/// ```
impl From<DMatrix<f64>> for Tensor {
    fn from(m: DMatrix<f64>) -> Tensor {
        Tensor::from(&m)
    }
}

/// The elements of a 0- or 1-dimensional tensor as a vector.
///
/// Panics for a tensor with two or more dimensions (reshape it first).
///
/// ```
/// use autodiff_runtime::Tensor;
/// use nalgebra::DVector;
///
/// let v = DVector::from(&Tensor::arange(3.0));
/// assert_eq!(v, DVector::from_vec(vec![0.0, 1.0, 2.0]));
/// ```
impl From<&Tensor> for DVector<f64> {
    fn from(t: &Tensor) -> DVector<f64> {
        assert!(
            t.ndim() <= 1,
            "cannot convert a tensor of shape {:?} to a DVector: it needs 0 or 1 dimensions",
            t.shape
        );
        DVector::from_column_slice(t.data())
    }
}

/// See `From<&Tensor> for DVector<f64>`; does not copy when the storage is not shared.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use nalgebra::DVector;
///
/// assert_eq!(DVector::from(Tensor::ones(&[2])).len(), 2);
/// ```
impl From<Tensor> for DVector<f64> {
    fn from(t: Tensor) -> DVector<f64> {
        assert!(
            t.ndim() <= 1,
            "cannot convert a tensor of shape {:?} to a DVector: it needs 0 or 1 dimensions",
            t.shape
        );
        DVector::from_vec(t.into_vec())
    }
}

/// The matrix of a 2-dimensional tensor, `m[(i, j)] == t.at(&[i, j])`; a
/// 1-dimensional tensor becomes a column.
///
/// Panics for other numbers of dimensions.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use nalgebra::DMatrix;
///
/// let t = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// let m = DMatrix::from(&t);
/// assert_eq!(m.shape(), (2, 3));
/// assert_eq!(m[(1, 0)], 4.0);
/// assert_eq!(Tensor::from(&m), t);
/// ```
impl From<&Tensor> for DMatrix<f64> {
    fn from(t: &Tensor) -> DMatrix<f64> {
        match *t.shape() {
            [rows, cols] => DMatrix::from_row_slice(rows, cols, t.data()),
            [n] => DMatrix::from_column_slice(n, 1, t.data()),
            _ => panic!(
                "cannot convert a tensor of shape {:?} to a DMatrix: it needs 1 or 2 dimensions",
                t.shape
            ),
        }
    }
}

/// See `From<&Tensor> for DMatrix<f64>`.
///
/// ```
/// use autodiff_runtime::Tensor;
/// use nalgebra::DMatrix;
///
/// assert_eq!(DMatrix::from(Tensor::eye(3)), DMatrix::identity(3, 3));
/// ```
impl From<Tensor> for DMatrix<f64> {
    fn from(t: Tensor) -> DMatrix<f64> {
        DMatrix::from(&t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_sync_and_cheap_clone() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tensor>();
        let a = Tensor::zeros(&[1000]);
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.data, &b.data));
    }

    #[test]
    fn nalgebra_round_trips() {
        let m = DMatrix::from_fn(3, 4, |i, j| (10 * i + j) as f64);
        let t = Tensor::from(&m);
        assert_eq!(t.shape(), &[3, 4]);
        for i in 0..3 {
            for j in 0..4 {
                assert_eq!(t.at(&[i, j]), m[(i, j)]);
            }
        }
        assert_eq!(DMatrix::from(&t), m);
        assert_eq!(DMatrix::from(t.clone()), m);
        let v = DVector::from_fn(5, |i, _| i as f64 * 0.5);
        let tv = Tensor::from(v.clone());
        assert_eq!(tv.shape(), &[5]);
        assert_eq!(DVector::from(&tv), v);
        assert_eq!(DVector::from(tv), v);
        let col = DMatrix::from(&Tensor::arange(3.0));
        assert_eq!(col.shape(), (3, 1));
    }

    #[test]
    #[should_panic(expected = "cannot convert a tensor of shape [2, 2] to a DVector")]
    fn dvector_from_matrix_tensor_panics() {
        let _ = DVector::from(&Tensor::eye(2));
    }

    #[test]
    #[should_panic(expected = "cannot be converted to a scalar")]
    fn item_of_many_panics() {
        Tensor::arange(3.0).item();
    }

    #[test]
    fn arange_counts() {
        assert_eq!(Tensor::arange(0.0).numel(), 0);
        assert_eq!(Tensor::arange_range(0.0, 1.0, 0.3).numel(), 4);
        assert_eq!(
            Tensor::linspace(-1.0, 1.0, 3).to_vec(),
            vec![-1.0, 0.0, 1.0]
        );
    }

    #[test]
    fn zero_in_place_copies_only_when_shared() {
        let mut a = Tensor::arange(3.0);
        let b = a.clone();
        a.zero_();
        assert_eq!(b.to_vec(), vec![0.0, 1.0, 2.0]);
        assert_eq!(a.to_vec(), vec![0.0; 3]);
    }
}
