//! Printing tensors exactly as PyTorch does (its `_tensor_str.py` with the
//! default print options: 4 digits, 80 columns, summaries past 1000
//! elements showing 3 items at each edge).

use std::fmt;

use crate::tensor::{BoolTensor, Tensor, numel_of};

const PRECISION: usize = 4;
const LINE_WIDTH: usize = 80;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const PREFIX: &str = "tensor(";

/// How every element of one tensor is printed, decided once from all the
/// (shown) elements, as PyTorch's `_Formatter`.
struct Formatter {
    /// Every finite element is an integer: print `3.` rather than `3.0000`.
    int_mode: bool,
    /// Print `1.0000e+10`.
    sci_mode: bool,
    /// Elements are right-aligned to this width.
    width: usize,
}

/// Python's `"{:.4e}"`: a two-digit (or longer) signed exponent.
fn python_sci(v: f64) -> String {
    if !v.is_finite() {
        return python_fixed(v, PRECISION);
    }
    let s = format!("{:.*e}", PRECISION, v);
    let (mantissa, exponent) = s.split_once('e').expect("`{:e}` always has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// Python's `"{:.Nf}"`, which spells NaN `nan`.
fn python_fixed(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else {
        format!("{:.*}", digits, v)
    }
}

impl Formatter {
    fn new(values: &[f64]) -> Formatter {
        let mut f = Formatter {
            int_mode: true,
            sci_mode: false,
            width: 1,
        };
        let shown: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v != 0.0)
            .collect();
        if shown.is_empty() {
            return f;
        }
        let min = shown.iter().map(|v| v.abs()).fold(f64::INFINITY, f64::min);
        let max = shown.iter().map(|v| v.abs()).fold(0.0, f64::max);
        f.int_mode = shown.iter().all(|v| v.ceil() == *v);
        let wide_range = max / min > 1000.0 || max > 1.0e8;
        if f.int_mode {
            if wide_range {
                f.sci_mode = true;
                f.width = shown
                    .iter()
                    .map(|&v| python_sci(v).len())
                    .max()
                    .unwrap_or(1);
            } else {
                // The `+ 1` is the trailing dot of `3.`.
                f.width = shown
                    .iter()
                    .map(|&v| python_fixed(v, 0).len() + 1)
                    .max()
                    .unwrap_or(1);
            }
        } else if wide_range || min < 1.0e-4 {
            f.sci_mode = true;
            f.width = shown
                .iter()
                .map(|&v| python_sci(v).len())
                .max()
                .unwrap_or(1);
        } else {
            f.width = shown
                .iter()
                .map(|&v| python_fixed(v, PRECISION).len())
                .max()
                .unwrap_or(1);
        }
        f
    }

    fn format(&self, v: f64) -> String {
        let s = if self.sci_mode {
            python_sci(v)
        } else if self.int_mode {
            let mut s = python_fixed(v, 0);
            if v.is_finite() {
                s.push('.');
            }
            s
        } else {
            python_fixed(v, PRECISION)
        };
        format!("{s:>width$}", width = self.width)
    }
}

/// The elements that a summarized print shows (the edges of every dimension).
fn summarized<T: Copy>(data: &[T], shape: &[usize], summarize: bool, out: &mut Vec<T>) {
    match shape {
        [] => out.extend_from_slice(&data[..1]),
        [n, rest @ ..] => {
            let step = numel_of(rest);
            let rows: Vec<usize> = if summarize && *n > 2 * EDGE_ITEMS {
                (0..EDGE_ITEMS).chain(n - EDGE_ITEMS..*n).collect()
            } else {
                (0..*n).collect()
            };
            for i in rows {
                summarized(&data[i * step..(i + 1) * step], rest, summarize, out);
            }
        }
    }
}

/// PyTorch's `_tensor_str_with_formatter`: nested brackets, rows separated
/// by `,` and one newline per remaining dimension, wrapped at 80 columns.
fn nested<T: Copy>(
    data: &[T],
    shape: &[usize],
    indent: usize,
    summarize: bool,
    format: &dyn Fn(T) -> String,
    width: usize,
) -> String {
    match shape {
        [] => format(data[0]),
        [n] => {
            let items: Vec<String> = if summarize && *n > 2 * EDGE_ITEMS {
                let mut items: Vec<String> =
                    data[..EDGE_ITEMS].iter().map(|&v| format(v)).collect();
                items.push(" ...".to_string());
                items.extend(data[n - EDGE_ITEMS..].iter().map(|&v| format(v)));
                items
            } else {
                data.iter().map(|&v| format(v)).collect()
            };
            let per_line = (LINE_WIDTH.saturating_sub(indent) / (width + 2)).max(1);
            let lines: Vec<String> = items.chunks(per_line).map(|line| line.join(", ")).collect();
            format!(
                "[{}]",
                lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
            )
        }
        [n, rest @ ..] => {
            let step = numel_of(rest);
            let row = |i: usize| {
                nested(
                    &data[i * step..(i + 1) * step],
                    rest,
                    indent + 1,
                    summarize,
                    format,
                    width,
                )
            };
            let rows: Vec<String> = if summarize && *n > 2 * EDGE_ITEMS {
                let mut rows: Vec<String> = (0..EDGE_ITEMS).map(row).collect();
                rows.push("...".to_string());
                rows.extend((n - EDGE_ITEMS..*n).map(row));
                rows
            } else {
                (0..*n).map(row).collect()
            };
            let separator = format!(",{}{}", "\n".repeat(rest.len()), " ".repeat(indent + 1));
            format!("[{}]", rows.join(&separator))
        }
    }
}

/// `tensor(…)` around the nested elements, or `tensor([], size=(0, 3))`.
fn write_tensor<T: Copy>(
    f: &mut fmt::Formatter<'_>,
    data: &[T],
    shape: &[usize],
    make_format: impl FnOnce(&[T]) -> (Box<dyn Fn(T) -> String>, usize),
) -> fmt::Result {
    if data.is_empty() {
        return if shape.len() == 1 {
            write!(f, "{PREFIX}[])")
        } else {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            let size = if dims.len() == 1 {
                format!("({},)", dims[0])
            } else {
                format!("({})", dims.join(", "))
            };
            write!(f, "{PREFIX}[], size={size})")
        };
    }
    let summarize = data.len() > THRESHOLD;
    let mut shown = Vec::new();
    summarized(data, shape, summarize, &mut shown);
    let (format, width) = make_format(&shown);
    let body = nested(data, shape, PREFIX.len(), summarize, &*format, width);
    write!(f, "{PREFIX}{body})")
}

/// Prints as PyTorch does: `tensor([ 0.,  4.,  8., 12.])`, `tensor(28.)`,
/// `tensor(-112743.8594)`, `tensor([1.0000e+00, 1.0000e+04])`, with nested
/// rows for more dimensions.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(Tensor::from([0.0, 4.0, 8.0, 12.0]).to_string(), "tensor([ 0.,  4.,  8., 12.])");
/// assert_eq!(Tensor::scalar(-112743.859375).to_string(), "tensor(-112743.8594)");
/// assert_eq!(Tensor::from([[2.0, 0.0, 0.0, 0.0]]).to_string(), "tensor([[2., 0., 0., 0.]])");
/// ```
impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tensor(f, self.data(), self.shape(), |shown| {
            let formatter = Formatter::new(shown);
            let width = formatter.width;
            (Box::new(move |v| formatter.format(v)), width)
        })
    }
}

/// Same as `Display`, so that `{:?}` of a tuple of tensors reads like
/// PyTorch's `(tensor([0., 0.]), tensor(28.))`.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// let pair = (Tensor::zeros(&[2]), Tensor::scalar(28.0));
/// assert_eq!(format!("{pair:?}"), "(tensor([0., 0.]), tensor(28.))");
/// ```
impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Prints as PyTorch does: `tensor([True, True])`, `tensor([ True, False])`,
/// `tensor(True)`.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// let x = Tensor::arange(4.0);
/// assert_eq!((&x * 4.0).eq_elem(&(4.0 * &x)).to_string(), "tensor([True, True, True, True])");
/// assert_eq!(Tensor::scalar(1.0).eq_elem(&Tensor::scalar(1.0)).to_string(), "tensor(True)");
/// ```
impl fmt::Display for BoolTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |b: bool| if b { "True" } else { "False" };
        write_tensor(f, self.data(), self.shape(), |shown| {
            let width = shown.iter().map(|&b| name(b).len()).max().unwrap_or(1);
            (Box::new(move |b| format!("{:>width$}", name(b))), width)
        })
    }
}

/// Same as `Display`.
///
/// ```
/// use autodiff_runtime::Tensor;
///
/// assert_eq!(format!("{:?}", Tensor::scalar(0.0).eq_elem(&Tensor::scalar(1.0))), "tensor(False)");
/// ```
impl fmt::Debug for BoolTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(data: &[f64]) -> String {
        Tensor::from(data.to_vec()).to_string()
    }

    #[test]
    fn notes_examples() {
        assert_eq!(show(&[0.0, 4.0, 8.0, 12.0]), "tensor([ 0.,  4.,  8., 12.])");
        assert_eq!(Tensor::scalar(28.0).to_string(), "tensor(28.)");
        assert_eq!(
            Tensor::from([[2.0, 0.0, 0.0, 0.0]]).to_string(),
            "tensor([[2., 0., 0., 0.]])"
        );
        assert_eq!(show(&[6.0, 192.0]), "tensor([  6., 192.])");
        assert_eq!(show(&[-12.0, 65.0]), "tensor([-12.,  65.])");
        assert_eq!(
            Tensor::scalar(-112743.859375).to_string(),
            "tensor(-112743.8594)"
        );
        assert_eq!(Tensor::scalar(409600.0).to_string(), "tensor(409600.)");
        assert_eq!(show(&[0.0, 1.0, 2.0, 3.0]), "tensor([0., 1., 2., 3.])");
        assert_eq!(Tensor::scalar(-0.2753).to_string(), "tensor(-0.2753)");
        assert_eq!(show(&[36.0, 81.0]), "tensor([36., 81.])");
        assert_eq!(show(&[-12.0, -8.0]), "tensor([-12.,  -8.])");
        assert_eq!(show(&[0.0, 0.0, 0.0, 0.0]), "tensor([0., 0., 0., 0.])");
        assert_eq!(Tensor::scalar(3.0).to_string(), "tensor(3.)");
    }

    #[test]
    fn fractions_and_scientific() {
        assert_eq!(show(&[0.5, 1.25]), "tensor([0.5000, 1.2500])");
        assert_eq!(show(&[-0.5, 10.25]), "tensor([-0.5000, 10.2500])");
        assert_eq!(show(&[1.0, 1e4]), "tensor([1.0000e+00, 1.0000e+04])");
        assert_eq!(show(&[1e10]), "tensor([1.0000e+10])");
        assert_eq!(show(&[0.5, 1e-5]), "tensor([5.0000e-01, 1.0000e-05])");
        assert_eq!(show(&[1.5, -2.0e9]), "tensor([ 1.5000e+00, -2.0000e+09])");
        assert_eq!(Tensor::scalar(1e-5).to_string(), "tensor(1.0000e-05)");
        assert_eq!(
            Tensor::scalar(123456789.0).to_string(),
            "tensor(1.2346e+08)"
        );
    }

    #[test]
    fn non_finite() {
        assert_eq!(show(&[1.0, f64::NAN]), "tensor([1., nan])");
        assert_eq!(show(&[1.5, f64::INFINITY]), "tensor([1.5000,    inf])");
        assert_eq!(show(&[f64::NEG_INFINITY, 2.0]), "tensor([-inf, 2.])");
    }

    #[test]
    fn matrices_and_more() {
        let m = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 60.0]]);
        assert_eq!(
            m.to_string(),
            "tensor([[ 1.,  2.,  3.],\n        [ 4.,  5., 60.]])"
        );
        let c = Tensor::arange(8.0).reshape(&[2, 2, 2]);
        assert_eq!(
            c.to_string(),
            "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])"
        );
    }

    #[test]
    fn wraps_long_rows() {
        // 7 + 14 items of width 3 (+2) per 80 columns, as PyTorch.
        let s = Tensor::arange(20.0).to_string();
        assert_eq!(
            s,
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n        14., 15., 16., 17., 18., 19.])"
        );
    }

    #[test]
    fn summarizes_large() {
        assert_eq!(
            Tensor::arange(1001.0).to_string(),
            "tensor([   0.,    1.,    2.,  ...,  998.,  999., 1000.])"
        );
        assert_eq!(
            Tensor::ones(&[2000]).to_string(),
            "tensor([1., 1., 1.,  ..., 1., 1., 1.])"
        );
    }

    #[test]
    fn empty() {
        assert_eq!(Tensor::zeros(&[0]).to_string(), "tensor([])");
        assert_eq!(
            Tensor::zeros(&[0, 3]).to_string(),
            "tensor([], size=(0, 3))"
        );
    }

    #[test]
    fn booleans() {
        let t = Tensor::from([1.0, 2.0]).eq_elem(&Tensor::from([1.0, 3.0]));
        assert_eq!(t.to_string(), "tensor([ True, False])");
        let m = Tensor::eye(2).eq_elem(&Tensor::scalar(1.0));
        assert_eq!(
            m.to_string(),
            "tensor([[ True, False],\n        [False,  True]])"
        );
    }
}
