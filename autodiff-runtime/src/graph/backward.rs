//! `backward`: walks the graph from an output back to its leaves, in
//! topological order, and accumulates gradients in the leaves' `.grad()`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::error::BackwardError;
use super::node::{BackwardFn, Var};
use crate::cotangent::Cotangent;
use crate::tensor::Tensor;

impl Var {
    /// Computes the gradient of this one-element output with respect to
    /// every leaf it was computed from, and adds it to their
    /// [`grad`](Var::grad) (PyTorch's `y.backward()`). Frees the values the
    /// graph saved: a second backward through it fails (see
    /// [`backward_opts`](Var::backward_opts) to keep them).
    ///
    /// Panics with PyTorch's message and a hint when the output has more
    /// than one element, does not require a gradient, or its graph was
    /// freed; [`try_backward`](Var::try_backward) returns the error instead.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let x = Var::leaf(1.0);
    /// let z = x.powi(3);
    /// z.backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor(3.)");
    /// ```
    #[track_caller]
    pub fn backward(&self) {
        self.try_backward().unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// [`backward`](Var::backward), returning the error rather than panicking.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let q = Var::leaf([2.0, 3.0]) * 3.0;
    /// let err = q.try_backward().unwrap_err();
    /// assert_eq!(err.to_string(), "grad can be implicitly created only for scalar outputs");
    /// ```
    pub fn try_backward(&self) -> Result<(), BackwardError> {
        self.try_backward_opts(None, false)
    }

    /// The vector-Jacobian product: backward from an output of any shape,
    /// weighting its elements by `gradient`, which must have the output's
    /// shape (PyTorch's `y.backward(gradient)`). With all ones it gives the
    /// gradient of `y.sum()`. Frees the graph's saved values.
    ///
    /// Panics, naming both shapes, if the shapes differ;
    /// [`try_backward_with`](Var::try_backward_with) returns the error.
    ///
    /// ```
    /// use autodiff_runtime::{Tensor, graph::Var};
    ///
    /// let x = Var::leaf([1.0, 2.0]);
    /// let y = x.powi(2);
    /// y.backward_with(&Tensor::from([1.0, 1.0]));
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([2., 4.])");
    /// ```
    #[track_caller]
    pub fn backward_with(&self, gradient: &Tensor) {
        self.try_backward_with(gradient)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// [`backward_with`](Var::backward_with), returning the error rather than
    /// panicking.
    ///
    /// ```
    /// use autodiff_runtime::{Tensor, graph::Var};
    ///
    /// let y = Var::leaf([1.0, 2.0]) * 2.0;
    /// let err = y.try_backward_with(&Tensor::ones(&[3])).unwrap_err();
    /// assert!(err.to_string().contains("torch.Size([3])"));
    /// assert!(err.to_string().contains("torch.Size([2])"));
    /// ```
    pub fn try_backward_with(&self, gradient: &Tensor) -> Result<(), BackwardError> {
        self.try_backward_opts(Some(gradient), false)
    }

    /// Backward with every option of PyTorch's `y.backward(gradient,
    /// retain_graph)`: `gradient` `None` means ones for a one-element output;
    /// `retain_graph` keeps the saved values so that the graph can be
    /// differentiated again, each backward adding to the leaves' gradients.
    ///
    /// ```
    /// use autodiff_runtime::{Tensor, graph::Var};
    ///
    /// let x = Var::leaf([2.0, 2.0]);
    /// let y = x.powi(2);
    /// let w = Tensor::ones(&[2]);
    /// y.backward_opts(Some(&w), true);
    /// y.backward_opts(Some(&w), true);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![8.0, 8.0]);
    /// ```
    #[track_caller]
    pub fn backward_opts(&self, gradient: Option<&Tensor>, retain_graph: bool) {
        self.try_backward_opts(gradient, retain_graph)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// [`backward_opts`](Var::backward_opts), returning the error rather than
    /// panicking. On error nothing has changed: no gradient was accumulated
    /// and nothing was freed.
    ///
    /// ```
    /// use autodiff_runtime::graph::Var;
    ///
    /// let y = Var::leaf(2.0) * 3.0;
    /// y.try_backward_opts(None, false).unwrap();
    /// let err = y.try_backward_opts(None, false).unwrap_err();
    /// assert!(err.to_string().starts_with("Trying to backward through the graph a second time"));
    /// ```
    pub fn try_backward_opts(
        &self,
        gradient: Option<&Tensor>,
        retain_graph: bool,
    ) -> Result<(), BackwardError> {
        // The checks come in PyTorch's order: the gradient first, then
        // whether anything requires one.
        let seed = seed_gradient(self, gradient)?;
        if !self.requires_grad() {
            return Err(BackwardError::DoesNotRequireGrad);
        }
        let order = topological_order(self);
        // Take every backward function before running any, so that a freed
        // node anywhere leaves the leaves' gradients as they were.
        let backward_fns = order
            .iter()
            .map(|var| {
                let node = var
                    .node()
                    .expect("the topological order holds non-leaves only");
                node.backward_fn().ok_or_else(|| BackwardError::GraphFreed {
                    node: node.name.to_string(),
                })
            })
            .collect::<Result<Vec<Arc<BackwardFn>>, BackwardError>>()?;

        let mut pending: HashMap<usize, Tensor> = HashMap::new();
        pending.insert(self.id(), seed);
        let mut leaves: Vec<Var> = Vec::new();
        if self.is_leaf() {
            leaves.push(self.clone());
        }
        for (var, backward_fn) in order.iter().zip(&backward_fns) {
            // Every consumer of `var` comes earlier in the order, so its
            // gradient is complete. (None if every path to it was zero.)
            let Some(gradient) = pending.remove(&var.id()) else {
                continue;
            };
            if var.retains_grad() {
                var.accumulate_grad(gradient.clone());
            }
            let node = var
                .node()
                .expect("the topological order holds non-leaves only");
            let input_grads = backward_fn(&gradient);
            assert!(
                input_grads.len() == node.inputs.len(),
                "{} returned {} gradients for {} inputs",
                node.name,
                input_grads.len(),
                node.inputs.len()
            );
            for (index, (input, input_grad)) in node.inputs.iter().zip(input_grads).enumerate() {
                let Some(input) = input else { continue };
                if input_grad.is_symbolic_zero() {
                    continue;
                }
                let input_grad = fit_to_input(input_grad, input, &node.name, index);
                match pending.get_mut(&input.id()) {
                    Some(total) => total.accumulate(input_grad),
                    None => {
                        if input.is_leaf() {
                            leaves.push(input.clone());
                        }
                        pending.insert(input.id(), input_grad);
                    }
                }
            }
        }
        for leaf in leaves {
            if let Some(gradient) = pending.remove(&leaf.id()) {
                leaf.accumulate_grad(gradient);
            }
        }
        if !retain_graph {
            for var in &order {
                if let Some(node) = var.node() {
                    node.free();
                }
            }
        }
        Ok(())
    }
}

/// The gradient a backward starts from: ones for a one-element output, or
/// the given gradient if its shape is the output's.
fn seed_gradient(output: &Var, gradient: Option<&Tensor>) -> Result<Tensor, BackwardError> {
    match gradient {
        None if output.0.value.numel() == 1 => Ok(output.0.value.ones_like()),
        None => Err(BackwardError::NotScalar {
            shape: output.shape().to_vec(),
        }),
        Some(gradient) if gradient.shape() == output.shape() => Ok(gradient.detach()),
        Some(gradient) => Err(BackwardError::ShapeMismatch {
            gradient: gradient.shape().to_vec(),
            output: output.shape().to_vec(),
        }),
    }
}

/// The non-leaf values that `root` depends on through values requiring a
/// gradient, `root` first, each before everything it was computed from
/// (reverse post-order of a depth-first search, which runs on its own stack
/// so that long chains do not overflow the thread's).
fn topological_order(root: &Var) -> Vec<Var> {
    let mut post_order = Vec::new();
    if root.is_leaf() {
        return post_order;
    }
    let mut visited: HashSet<usize> = HashSet::from([root.id()]);
    // Each entry: a value and the index of the next input to visit.
    let mut stack: Vec<(Var, usize)> = vec![(root.clone(), 0)];
    while let Some((var, next_input)) = stack.last_mut() {
        let node = var.node().expect("only non-leaves are pushed");
        match node.inputs.get(*next_input) {
            Some(input) => {
                *next_input += 1;
                if let Some(input) = input
                    && !input.is_leaf()
                    && visited.insert(input.id())
                {
                    let input = input.clone();
                    stack.push((input, 0));
                }
            }
            None => {
                let (var, _) = stack.pop().expect("the loop saw an entry");
                post_order.push(var);
            }
        }
    }
    post_order.reverse();
    post_order
}

/// Gives a node's gradient for one input that input's shape: a recorded
/// function returns an `f64` input's gradient as a 0-d tensor even when the
/// `Var` holds a one-element tensor of another shape.
fn fit_to_input(gradient: Tensor, input: &Var, node: &str, index: usize) -> Tensor {
    if gradient.shape() == input.shape() {
        return gradient;
    }
    assert!(
        gradient.numel() == input.0.value.numel(),
        "{node} returned a gradient of shape {:?} for its input {index}, which has shape {:?}",
        gradient.shape(),
        input.shape()
    );
    gradient.reshape(input.shape())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_chains_neither_overflow_backward_nor_drop() {
        let x = Var::leaf(1.0);
        let mut y = x.clone();
        for _ in 0..200_000 {
            y = &y * 1.0;
        }
        y.backward();
        assert_eq!(x.grad().unwrap().item(), 1.0);
        drop(y);
    }

    #[test]
    fn leaf_root_gets_the_seed() {
        let x = Var::leaf(5.0);
        x.backward();
        x.backward();
        assert_eq!(x.grad().unwrap().item(), 2.0);
    }

    #[test]
    fn failed_backward_changes_nothing() {
        let x = Var::leaf(2.0);
        let shared = &x * 3.0;
        let a = &shared + 1.0;
        let b = &shared * 2.0;
        a.backward(); // frees `shared`'s node
        assert_eq!(x.grad().unwrap().item(), 3.0);
        let err = b.try_backward().unwrap_err();
        assert_eq!(
            err,
            BackwardError::GraphFreed {
                node: "MulBackward0".into()
            }
        );
        assert_eq!(x.grad().unwrap().item(), 3.0);
    }

    #[test]
    fn error_order_follows_pytorch() {
        let plain = Var::new([1.0, 2.0]);
        assert_eq!(
            plain.try_backward().unwrap_err(),
            BackwardError::NotScalar { shape: vec![2] }
        );
        assert_eq!(
            Var::new(1.0).try_backward().unwrap_err(),
            BackwardError::DoesNotRequireGrad
        );
    }
}
