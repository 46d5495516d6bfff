//! The graph's two types, which hold each other: a [`Var`] (a value and,
//! unless it is a leaf, the node that computed it) and a `Node` (the
//! backward function of the op, or recorded call, that produced a `Var`, and
//! the input `Var`s its gradients flow to). Every other file of the graph
//! layer builds on these; `Var`'s methods are in `var.rs`.

use std::borrow::Cow;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::tensor::Tensor;

/// A tensor in the PyTorch-style graph: a value, whether it requires a
/// gradient, its accumulated `.grad()`, and (unless it is a leaf) the node
/// that computed it.
///
/// A `Var` is a handle: cloning it shares the value, the gradient and the
/// node, as assigning a tensor to another name does in Python. `Var` is
/// `Send + Sync`, so graphs can be built and differentiated on other threads.
///
/// ```
/// use autodiff_runtime::graph::Var;
///
/// let x = Var::new(1.0).requires_grad_(true); // torch.tensor(1.0, requires_grad=True)
/// let y = Var::new(2.0);                      // torch.tensor(2.0)
/// let z = &x * &y;
/// assert!(x.is_leaf() && y.is_leaf() && !z.is_leaf());
/// assert_eq!((x.requires_grad(), y.requires_grad(), z.requires_grad()), (true, false, true));
/// assert_eq!(z.grad_fn().as_deref(), Some("<MulBackward0>"));
/// z.backward();
/// assert_eq!(x.grad().unwrap().item(), 2.0);
/// assert!(y.grad().is_none() && z.grad().is_none());
/// ```
#[derive(Clone)]
pub struct Var(pub(super) Arc<VarInner>);

pub(super) struct VarInner {
    pub(super) value: Tensor,
    /// Set by the user on a leaf; fixed (true) on a non-leaf.
    pub(super) requires_grad: AtomicBool,
    /// The accumulated gradient: always on a leaf that requires one, on a
    /// non-leaf only after [`Var::retain_grad`].
    pub(super) grad: Mutex<Option<Tensor>>,
    pub(super) retains_grad: AtomicBool,
    pub(super) grad_fn: Option<Node>,
}

/// A node's backward: given the gradient of its output, one gradient per
/// input, in the order of the inputs.
pub(super) type BackwardFn = dyn Fn(&Tensor) -> Vec<Tensor> + Send + Sync;

/// How a non-leaf [`Var`] was computed (PyTorch's `grad_fn`).
pub(super) struct Node {
    /// What PyTorch prints between `<` and `>`: `MulBackward0`, `FBackward`.
    pub(super) name: Cow<'static, str>,
    /// The inputs, in the order of the backward's results; `None` where the
    /// input did not require a gradient when the node was made (PyTorch
    /// draws no edge there, and nothing keeps that input alive).
    pub(super) inputs: Vec<Option<Var>>,
    /// The backward function and, captured in it, the values it saved.
    /// `None` once a backward without `retain_graph` has freed them.
    backward: Mutex<Option<Arc<BackwardFn>>>,
}

/// Locks a mutex even if a thread panicked while holding it: every value
/// guarded in this layer is valid between any two statements.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Node {
    pub(super) fn new(
        name: Cow<'static, str>,
        inputs: Vec<Option<Var>>,
        backward: Arc<BackwardFn>,
    ) -> Node {
        Node {
            name,
            inputs,
            backward: Mutex::new(Some(backward)),
        }
    }

    /// The backward function, or `None` if it has been freed. The lock is
    /// held only to clone the handle, so that threads can run backwards
    /// through a retained graph at the same time.
    pub(super) fn backward_fn(&self) -> Option<Arc<BackwardFn>> {
        lock(&self.backward).clone()
    }

    /// Drops the backward function and the values it saved.
    pub(super) fn free(&self) {
        lock(&self.backward).take();
    }
}

impl Var {
    /// If this is the last handle to the value, its node, to be taken apart
    /// by the caller (see `Drop for Node`).
    fn into_unique_node(self) -> Option<Node> {
        Arc::into_inner(self.0)?.grad_fn
    }
}

/// Frees a chain of nodes with a loop rather than with recursion: a graph
/// recorded by a long loop of eager ops is a chain as long as the loop, and
/// dropping it node by node through nested `Drop` calls would overflow the
/// stack.
impl Drop for Node {
    fn drop(&mut self) {
        let mut pending: Vec<Var> = std::mem::take(&mut self.inputs)
            .into_iter()
            .flatten()
            .collect();
        while let Some(var) = pending.pop() {
            // Only the last handle to a value takes its node apart; a value
            // still in use elsewhere keeps its node.
            if let Some(mut node) = var.into_unique_node() {
                pending.extend(std::mem::take(&mut node.inputs).into_iter().flatten());
            }
        }
    }
}
