//! A node of the graph: the backward function of the op (or recorded call)
//! that produced a [`Var`], and the inputs its gradients flow to.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};

use super::var::Var;
use crate::tensor::Tensor;

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
