//! [`Var`]: construction, the leaf flags, `.grad()` and the other
//! accessors PyTorch users reach for.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::node::{BackwardFn, Node, Var, VarInner, lock};
use crate::cotangent::Cotangent;
use crate::tensor::Tensor;

impl Var {
    /// A leaf that does not require a gradient (PyTorch's `torch.tensor(..)`):
    /// from a [`Tensor`], an `f64` (a 0-d tensor), an array or a `Vec<f64>`.
    ///
    /// ```
    /// use autodiff_runtime::{Tensor, graph::Var};
    ///
    /// let x = Var::new(Tensor::arange(4.0));
    /// assert_eq!(x.to_string(), "tensor([0., 1., 2., 3.])");
    /// assert_eq!(Var::new(3.0).to_string(), "tensor(3.)");
    /// assert!(!Var::new([1.0, 2.0]).requires_grad());
    /// ```
    pub fn new(value: impl Into<Tensor>) -> Var {
        Var::leaf_with(value.into(), false)
    }

    /// A leaf that requires a gradient (PyTorch's
    /// `torch.tensor(.., requires_grad=True)`): backward will accumulate
    /// into its [`grad`](Var::grad).
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let m = Var::leaf(4.0);
    /// assert_eq!(m.to_string(), "tensor(4., requires_grad=True)");
    /// assert!(m.is_leaf() && m.requires_grad());
    /// ```
    pub fn leaf(value: impl Into<Tensor>) -> Var {
        Var::leaf_with(value.into(), true)
    }

    fn leaf_with(value: Tensor, requires_grad: bool) -> Var {
        Var(Arc::new(VarInner {
            value: value.detach(),
            requires_grad: AtomicBool::new(requires_grad),
            grad: Mutex::new(None),
            retains_grad: AtomicBool::new(false),
            grad_fn: None,
        }))
    }

    /// The output of a node: requires a gradient iff one of `inputs` does;
    /// if none does, it is a plain leaf and `backward` (with everything it
    /// saved) is dropped at once, as PyTorch records nothing then.
    pub(super) fn from_node(
        name: Cow<'static, str>,
        value: Tensor,
        inputs: Vec<Var>,
        backward: Arc<BackwardFn>,
    ) -> Var {
        let inputs: Vec<Option<Var>> = inputs
            .into_iter()
            .map(|input| input.requires_grad().then_some(input))
            .collect();
        if inputs.iter().all(Option::is_none) {
            return Var::new(value);
        }
        Var(Arc::new(VarInner {
            value: value.detach(),
            requires_grad: AtomicBool::new(true),
            grad: Mutex::new(None),
            retains_grad: AtomicBool::new(false),
            grad_fn: Some(Node::new(name, inputs, backward)),
        }))
    }

    /// Sets whether this leaf requires a gradient (PyTorch's in-place
    /// `x.requires_grad_(True)`) and returns it, so that it also reads as a
    /// constructor.
    ///
    /// Panics, in PyTorch's words, when asked to stop a non-leaf from
    /// requiring a gradient (use [`detach`](Var::detach) instead).
    ///
    /// ```
    /// use autodiff_runtime::{Tensor, graph::Var};
    ///
    /// let x = Var::new(Tensor::arange(4.0));
    /// x.requires_grad_(true); // in place, as in the notebook
    /// assert!(x.requires_grad());
    /// let w = Var::new(3.0).requires_grad_(true); // or as a constructor
    /// assert!(w.requires_grad());
    /// ```
    pub fn requires_grad_(&self, requires_grad: bool) -> Var {
        if !self.is_leaf() {
            assert!(
                requires_grad,
                "you can only change requires_grad flags of leaf variables. If you want to use \
                 a computed variable in a subgraph that doesn't require differentiation use \
                 var_no_grad = var.detach()."
            );
            return self.clone();
        }
        self.0.requires_grad.store(requires_grad, Ordering::SeqCst);
        self.clone()
    }

    /// Whether gradients flow to this value: set by the user on a leaf, true
    /// on every value computed from one that requires a gradient.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let x = Var::leaf(1.0);
    /// assert!((&x * 2.0).requires_grad());
    /// assert!(!(Var::new(1.0) * 2.0).requires_grad());
    /// ```
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::SeqCst)
    }

    /// Whether this value was made by the user rather than computed from
    /// values that require a gradient (PyTorch's `is_leaf`). Only leaves
    /// accumulate `.grad()` (unless [`retain_grad`](Var::retain_grad) is
    /// called).
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let x = Var::leaf(2.0);
    /// assert!(x.is_leaf());
    /// assert!(!x.powi(2).is_leaf());
    /// assert!(x.detach().is_leaf());
    /// ```
    pub fn is_leaf(&self) -> bool {
        self.0.grad_fn.is_none()
    }

    /// The accumulated gradient: `None` until a backward reaches this leaf,
    /// then the sum of every backward since, until
    /// [`zero_grad`](Var::zero_grad). `None` for a non-leaf unless
    /// [`retain_grad`](Var::retain_grad) was called, as in PyTorch.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let x = Var::leaf([1.0, 2.0]);
    /// assert!(x.grad().is_none());
    /// x.sum().backward();
    /// x.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 2.0]);
    /// ```
    pub fn grad(&self) -> Option<Tensor> {
        lock(&self.0.grad).clone()
    }

    /// Adds a gradient to the accumulated one (the first one is stored as it is).
    pub(super) fn accumulate_grad(&self, gradient: Tensor) {
        let mut slot = lock(&self.0.grad);
        match slot.as_mut() {
            Some(total) => total.accumulate(gradient),
            None => *slot = Some(gradient),
        }
    }

    /// Sets the accumulated gradient to zeros, in place, and returns it
    /// (PyTorch's `x.grad.zero_()`); `None`, changing nothing, if there is no
    /// gradient yet.
    ///
    /// ```
    /// use autodiff_runtime::{Tensor, graph::Var};
    ///
    /// let x = Var::leaf(Tensor::arange(4.0));
    /// assert!(x.zero_grad().is_none());
    /// x.sum().backward();
    /// assert_eq!(x.zero_grad().unwrap().to_string(), "tensor([0., 0., 0., 0.])");
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 4]);
    /// ```
    pub fn zero_grad(&self) -> Option<Tensor> {
        let mut slot = lock(&self.0.grad);
        let grad = slot.as_mut()?;
        grad.zero_();
        Some(grad.clone())
    }

    /// Makes this non-leaf keep the gradient that backwards bring it, in
    /// [`grad`](Var::grad) (PyTorch's `y.retain_grad()`). Does nothing on a
    /// leaf, which keeps its gradient anyway.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let x = Var::leaf([1.0, 2.0]);
    /// let y = x.powi(2);
    /// y.retain_grad();
    /// y.sum().backward();
    /// assert_eq!(y.grad().unwrap().to_vec(), vec![1.0, 1.0]);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0]);
    /// ```
    pub fn retain_grad(&self) {
        if !self.is_leaf() {
            self.0.retains_grad.store(true, Ordering::SeqCst);
        }
    }

    /// Whether this non-leaf keeps its gradient (PyTorch's `retains_grad`).
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let y = Var::leaf(1.0).exp();
    /// assert!(!y.retains_grad());
    /// y.retain_grad();
    /// assert!(y.retains_grad());
    /// ```
    pub fn retains_grad(&self) -> bool {
        self.0.retains_grad.load(Ordering::SeqCst)
    }

    /// The value, as a plain tensor (PyTorch's `.data`). The storage is
    /// shared, not copied.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let z = Var::leaf(1.0) * 2.0;
    /// assert_eq!(z.data().to_string(), "tensor(2.)");
    /// ```
    pub fn data(&self) -> Tensor {
        self.0.value.clone()
    }

    /// The same value as a new leaf that does not require a gradient
    /// (PyTorch's `.detach()`): computations on it are not traced back
    /// through this value.
    ///
    /// ```
    /// use autodiff_runtime::{Tensor, graph::Var};
    ///
    /// let x = Var::leaf(Tensor::arange(4.0));
    /// let u = (&x * &x).detach();
    /// (&u * &x).sum().backward();
    /// assert_eq!(x.grad().unwrap(), u.data()); // u is a constant here
    /// ```
    pub fn detach(&self) -> Var {
        Var::new(self.data())
    }

    /// The name PyTorch prints for the node that computed this value, as in
    /// `grad_fn=<MulBackward0>`: `Some("<MulBackward0>")` for an eager op,
    /// `Some("<FBackward>")` for a recorded call of a `#[differentiable] fn f`;
    /// `None` for a leaf.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let x = Var::leaf(1.0);
    /// assert_eq!(x.grad_fn(), None);
    /// assert_eq!((&x + 1.0).grad_fn().as_deref(), Some("<AddBackward0>"));
    /// ```
    pub fn grad_fn(&self) -> Option<String> {
        self.0
            .grad_fn
            .as_ref()
            .map(|node| format!("<{}>", node.name))
    }

    /// What Python prints for the node itself, `print(z.grad_fn)`:
    /// `<MulBackward0 object at 0x…>`, with the node's address.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let z = Var::leaf(1.0) * 2.0;
    /// assert!(z.grad_fn_object().unwrap().starts_with("<MulBackward0 object at 0x"));
    /// ```
    pub fn grad_fn_object(&self) -> Option<String> {
        let node = self.0.grad_fn.as_ref()?;
        Some(format!("<{} object at {:p}>", node.name, node))
    }

    /// The shape of the value.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// assert_eq!(Var::new([[1.0, 2.0, 3.0, 4.0]]).shape(), &[1, 4]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    /// The value of a one-element `Var` (PyTorch's `.item()`), for control
    /// flow and printing. Panics if there are more or fewer elements.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let b = Var::leaf([3.0, 4.0]);
    /// assert_eq!(b.norm().item(), 5.0);
    /// ```
    pub fn item(&self) -> f64 {
        self.0.value.item()
    }

    /// The node that computed this value, if any.
    pub(super) fn node(&self) -> Option<&Node> {
        self.0.grad_fn.as_ref()
    }

    /// An identity for this value, the same for every clone of the handle.
    pub(super) fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

/// A leaf that does not require a gradient, as [`Var::new`].
///
/// ```
/// use autodiff_runtime::{Tensor, graph::Var};
///
/// let v: Var = Tensor::ones(&[2]).into();
/// assert!(v.is_leaf() && !v.requires_grad());
/// ```
impl From<Tensor> for Var {
    fn from(value: Tensor) -> Var {
        Var::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Var>();
    }

    #[test]
    fn clones_share_grad_and_flags() {
        let x = Var::new(1.0);
        let alias = x.clone();
        x.requires_grad_(true);
        assert!(alias.requires_grad());
        (&alias * 3.0).backward();
        assert_eq!(x.grad().unwrap().item(), 3.0);
    }

    #[test]
    #[should_panic(expected = "you can only change requires_grad flags of leaf variables")]
    fn non_leaf_cannot_stop_requiring_grad() {
        let y = Var::leaf(1.0) * 2.0;
        y.requires_grad_(false);
    }

    #[test]
    fn non_leaf_requires_grad_true_is_a_no_op() {
        let y = Var::leaf(1.0) * 2.0;
        assert!(y.requires_grad_(true).requires_grad());
    }
}
