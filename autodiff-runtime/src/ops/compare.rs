//! Elementwise comparisons of tensors (`==`, `!=`, `<`, `<=`, `>`, `>=`),
//! broadcasting like the arithmetic ops, into a [`BoolTensor`]. They are not
//! differentiable and have no derivative rules: their results are masks and
//! checks, as PyTorch's `x.grad == 4 * x`.

use super::broadcast::zip;
use crate::tensor::{BoolTensor, Tensor};

impl Tensor {
    fn compare(&self, other: &Tensor, f: impl Fn(f64, f64) -> bool) -> BoolTensor {
        let out = zip(self, other, |a, b| if f(a, b) { 1.0 } else { 0.0 });
        BoolTensor {
            data: out.data.iter().map(|&v| v != 0.0).collect(),
            shape: out.shape.clone(),
        }
    }

    /// Elementwise `==`, broadcasting (PyTorch's `a == b` on tensors).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// let x = Tensor::arange(4.0);
    /// let grad = Tensor::from([0.0, 4.0, 8.0, 12.0]);
    /// assert_eq!(grad.eq_elem(&(4.0 * &x)).to_string(), "tensor([True, True, True, True])");
    /// ```
    pub fn eq_elem(&self, other: &Tensor) -> BoolTensor {
        self.compare(other, |a, b| a == b)
    }

    /// Elementwise `!=`, broadcasting.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(2.0).ne_elem(&Tensor::scalar(0.0)).to_vec(), vec![false, true]);
    /// ```
    pub fn ne_elem(&self, other: &Tensor) -> BoolTensor {
        self.compare(other, |a, b| a != b)
    }

    /// Elementwise `<`, broadcasting.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(3.0).lt_elem(&Tensor::scalar(1.0)).to_vec(), vec![true, false, false]);
    /// ```
    pub fn lt_elem(&self, other: &Tensor) -> BoolTensor {
        self.compare(other, |a, b| a < b)
    }

    /// Elementwise `<=`, broadcasting.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(3.0).le_elem(&Tensor::scalar(1.0)).to_vec(), vec![true, true, false]);
    /// ```
    pub fn le_elem(&self, other: &Tensor) -> BoolTensor {
        self.compare(other, |a, b| a <= b)
    }

    /// Elementwise `>`, broadcasting.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(3.0).gt_elem(&Tensor::scalar(1.0)).to_vec(), vec![false, false, true]);
    /// ```
    pub fn gt_elem(&self, other: &Tensor) -> BoolTensor {
        self.compare(other, |a, b| a > b)
    }

    /// Elementwise `>=`, broadcasting.
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    ///
    /// assert_eq!(Tensor::arange(3.0).ge_elem(&Tensor::scalar(1.0)).to_vec(), vec![false, true, true]);
    /// ```
    pub fn ge_elem(&self, other: &Tensor) -> BoolTensor {
        self.compare(other, |a, b| a >= b)
    }
}
