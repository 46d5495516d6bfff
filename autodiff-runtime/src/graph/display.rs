//! Printing a [`Var`] as PyTorch prints a tensor of the graph:
//! `tensor([0., 1., 2., 3.], requires_grad=True)`,
//! `tensor(28., grad_fn=<MulBackward0>)`.

use std::fmt;

use super::node::Var;

const LINE_WIDTH: usize = 80;
const INDENT: usize = "tensor(".len();

/// PyTorch's `_add_suffixes`: `, suffix` after the elements, on a new line
/// if it would make the last line longer than 80 columns.
fn with_suffix(tensor: &str, suffix: &str) -> String {
    let body = tensor.strip_suffix(')').unwrap_or(tensor);
    // PyTorch measures the last line as `len(s) - s.rfind("\n") + 1`, where
    // `rfind` is -1 when there is no newline; the same count here.
    let last_line_len = match body.rfind('\n') {
        Some(newline) => body.len() - newline + 1,
        None => body.len() + 2,
    };
    if last_line_len + suffix.len() + 2 > LINE_WIDTH {
        format!("{body},\n{}{suffix})", " ".repeat(INDENT))
    } else {
        format!("{body}, {suffix})")
    }
}

/// The value as [`Tensor`](crate::Tensor) prints it, followed by
/// `grad_fn=<…>` for a computed value or `requires_grad=True` for a leaf
/// that requires a gradient, as PyTorch prints them.
///
/// ```
/// use autodiff_runtime::{Tensor, graph::Var};
///
/// let x = Var::new(Tensor::arange(4.0));
/// assert_eq!(x.to_string(), "tensor([0., 1., 2., 3.])");
/// x.requires_grad_(true);
/// assert_eq!(x.to_string(), "tensor([0., 1., 2., 3.], requires_grad=True)");
/// let y = 2.0 * x.dot(&x);
/// assert_eq!(y.to_string(), "tensor(28., grad_fn=<MulBackward0>)");
/// ```
impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tensor = self.0.value.to_string();
        let suffix = match self.grad_fn() {
            Some(name) => format!("grad_fn={name}"),
            None if self.requires_grad() => "requires_grad=True".to_string(),
            None => return f.write_str(&tensor),
        };
        f.write_str(&with_suffix(&tensor, &suffix))
    }
}

/// Same as `Display`, so that a tuple prints as a notebook shows one:
/// `(tensor(3.), tensor(4., requires_grad=True))`.
///
/// ```
/// use autodiff_runtime::graph::Var;
///
/// let (x, m) = (Var::new(3.0), Var::leaf(4.0));
/// assert_eq!(format!("{:?}", (&x, &m)), "(tensor(3.), tensor(4., requires_grad=True))");
/// ```
impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    #[test]
    fn notes_prints() {
        let x = Var::leaf(2.0);
        let z = x.powi(2) + 3.0;
        assert_eq!(z.to_string(), "tensor(7., grad_fn=<AddBackward0>)");
        let big = Var::leaf(-112743.859375);
        assert_eq!(big.to_string(), "tensor(-112743.8594, requires_grad=True)");
    }

    #[test]
    fn long_last_line_moves_the_suffix() {
        // 14 items of width 3 fill the first line; the last line is short.
        let x = Var::leaf(Tensor::arange(20.0));
        assert!(
            x.to_string()
                .ends_with("17., 18., 19.], requires_grad=True)")
        );
        // A last line too long for the suffix: PyTorch breaks before it.
        let wide = Var::leaf(Tensor::full(&[5], 123456.5));
        let printed = wide.to_string();
        assert!(
            printed.contains("],\n       requires_grad=True)"),
            "{printed}"
        );
    }
}
