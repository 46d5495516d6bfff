//! Why a backward cannot run, in PyTorch's words.

use std::fmt;

/// Why a backward cannot run. `Display` prints PyTorch's message word for
/// word, so that a program can print it as a notebook's `except
/// RuntimeError as e: print(e)` does; the alternate form (`{:#}`, used by the
/// panicking `backward`) adds what to do about it.
///
/// When a backward fails, nothing has changed: no gradient was accumulated
/// and nothing was freed.
///
/// ```
/// use autodiff_runtime::graph::{BackwardError, Var};
///
/// let q = Var::leaf([2.0, 3.0]).powi(3);
/// let err = q.try_backward().unwrap_err();
/// assert_eq!(err, BackwardError::NotScalar { shape: vec![2] });
/// assert_eq!(err.to_string(), "grad can be implicitly created only for scalar outputs");
/// assert!(format!("{err:#}").contains("backward_with"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackwardError {
    /// `backward()` without a gradient on an output with more than one
    /// element: which combination of its elements to differentiate is
    /// ambiguous.
    NotScalar {
        /// The shape of the output.
        shape: Vec<usize>,
    },
    /// The gradient given to `backward_with` does not have the output's shape.
    ShapeMismatch {
        /// The shape of the gradient passed in.
        gradient: Vec<usize>,
        /// The shape of the output.
        output: Vec<usize>,
    },
    /// The output does not require a gradient: nothing it was computed from
    /// requires one, so there is nowhere for gradients to go.
    DoesNotRequireGrad,
    /// A node on the way back was already freed by an earlier backward
    /// without `retain_graph`.
    GraphFreed {
        /// The name of the first freed node met (`MulBackward0`).
        node: String,
    },
}

/// PyTorch's `torch.Size([2, 3])`.
fn torch_size(shape: &[usize]) -> String {
    format!("torch.Size({shape:?})")
}

impl fmt::Display for BackwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackwardError::NotScalar { shape } => {
                f.write_str("grad can be implicitly created only for scalar outputs")?;
                if f.alternate() {
                    write!(
                        f,
                        " (the output has shape {shape:?}: call backward_with(&gradient) with a \
                         gradient of that shape, e.g. Tensor::ones(&{shape:?}), or reduce the \
                         output first, e.g. .sum().backward())"
                    )?;
                }
                Ok(())
            }
            BackwardError::ShapeMismatch { gradient, output } => write!(
                f,
                "Mismatch in shape: grad_output[0] has a shape of {} and output[0] has a shape of {}.",
                torch_size(gradient),
                torch_size(output)
            ),
            BackwardError::DoesNotRequireGrad => {
                f.write_str(
                    "element 0 of tensors does not require grad and does not have a grad_fn",
                )?;
                if f.alternate() {
                    f.write_str(
                        " (no value it was computed from requires a gradient: create the inputs \
                         with Var::leaf(..) or call .requires_grad_(true) on them before \
                         computing with them)",
                    )?;
                }
                Ok(())
            }
            BackwardError::GraphFreed { node } => {
                f.write_str(
                    "Trying to backward through the graph a second time (or directly access saved \
                     tensors after they have already been freed). Saved intermediate values of the \
                     graph are freed when you call .backward() or autograd.grad(). Specify \
                     retain_graph=True if you need to backward through the graph a second time or \
                     if you need to access saved tensors after calling backward.",
                )?;
                if f.alternate() {
                    write!(
                        f,
                        " (the saved values of {node} were freed by an earlier backward: pass \
                         retain_graph = true to backward_opts on every backward but the last)"
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for BackwardError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_mismatch_names_both_shapes() {
        let err = BackwardError::ShapeMismatch {
            gradient: vec![3],
            output: vec![2],
        };
        assert_eq!(
            err.to_string(),
            "Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] has \
             a shape of torch.Size([2])."
        );
        let scalar = BackwardError::ShapeMismatch {
            gradient: vec![1],
            output: vec![],
        };
        assert!(scalar.to_string().contains("torch.Size([])"));
    }

    #[test]
    fn plain_display_is_pytorch_text_only() {
        let err = BackwardError::GraphFreed {
            node: "MulBackward0".to_string(),
        };
        assert!(err.to_string().ends_with("after calling backward."));
        assert!(format!("{err:#}").contains("MulBackward0"));
    }
}
