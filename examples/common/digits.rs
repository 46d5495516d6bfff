//! What the digits examples share: the data set (the 8×8 handwritten digits
//! that scikit-learn ships, kept in `examples/data/digits.csv.gz`; see
//! `examples/data/README.md` for its source and licence), a seeded split, and
//! the model: a one-hidden-layer MLP whose loss is `#[differentiable]`.

#![allow(dead_code)] // each example uses part of it

use std::io::Read;

use autodiff::differentiable;
use autodiff::prelude::*;

/// The data set, gzipped CSV: one image a line, 64 pixel values in 0..=16
/// (row by row) and the digit.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");

pub const PIXELS: usize = 64;
pub const CLASSES: usize = 10;

/// Images (one a row, pixels scaled to [0, 1]) and their digits.
pub struct Digits {
    pub images: Tensor,
    pub labels: Vec<usize>,
}

impl Digits {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The images and labels at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Digits {
        let mut data = Vec::with_capacity(rows.len() * PIXELS);
        for &r in rows {
            data.extend_from_slice(&self.images.data()[r * PIXELS..(r + 1) * PIXELS]);
        }
        Digits {
            images: Tensor::from_vec(data, &[rows.len(), PIXELS]),
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
        }
    }

    /// The labels one-hot, `[n, 10]`, as the loss takes them.
    pub fn one_hot(&self) -> Tensor {
        let mut data = vec![0.0; self.len() * CLASSES];
        for (i, &label) in self.labels.iter().enumerate() {
            data[i * CLASSES + label] = 1.0;
        }
        Tensor::from_vec(data, &[self.len(), CLASSES])
    }
}

/// All 1,797 images.
pub fn load() -> Digits {
    let mut csv = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut csv)
        .expect("examples/data/digits.csv.gz is gzipped text");
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for line in csv.lines().filter(|l| !l.is_empty()) {
        let values: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse().expect("a number"))
            .collect();
        assert_eq!(values.len(), PIXELS + 1, "64 pixels and a label per line");
        pixels.extend(values[..PIXELS].iter().map(|p| p / 16.0));
        labels.push(values[PIXELS] as usize);
    }
    let n = labels.len();
    Digits {
        images: Tensor::from_vec(pixels, &[n, PIXELS]),
        labels,
    }
}

/// The numbers 0..n in an order drawn from `seed`.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let keys = Tensor::rand(&[n], seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| keys.data()[a].total_cmp(&keys.data()[b]));
    order
}

/// A seeded split: 80% for training (1,437 images), 20% for testing (360).
pub fn split(all: &Digits) -> (Digits, Digits) {
    let order = permutation(all.len(), 2024);
    let n_train = all.len() * 4 / 5;
    (all.select(&order[..n_train]), all.select(&order[n_train..]))
}

/// The parameters `(w1, b1, w2, b2)` of the MLP: 64 → `hidden` (tanh) → 10.
pub type Params = (Tensor, Tensor, Tensor, Tensor);

/// PyTorch's `nn.Linear` initialisation: weights and biases uniform in
/// ±1/√fan_in, seeded.
pub fn init(hidden: usize, seed: u64) -> Params {
    let b1 = 1.0 / (PIXELS as f64).sqrt();
    let b2 = 1.0 / (hidden as f64).sqrt();
    (
        Tensor::uniform(&[PIXELS, hidden], -b1, b1, seed),
        Tensor::uniform(&[hidden], -b1, b1, seed + 1),
        Tensor::uniform(&[hidden, CLASSES], -b2, b2, seed + 2),
        Tensor::uniform(&[CLASSES], -b2, b2, seed + 3),
    )
}

/// The scores of each class for each image: `tanh(x·w1 + b1)·w2 + b2`.
#[differentiable(wrt(w1, b1, w2, b2))]
pub fn logits(x: &Tensor, w1: &Tensor, b1: &Tensor, w2: &Tensor, b2: &Tensor) -> Tensor {
    let hidden = (x.matmul(w1) + b1).tanh();
    hidden.matmul(w2) + b2
}

/// Softmax cross-entropy summed over the images of `x`, divided by
/// `denominator`: the batch's mean loss when `denominator` is the batch's
/// size. (A part of a batch, divided by the whole batch's size, gives the
/// part's share of the mean: the shares' gradients add up to the batch's.)
#[differentiable(wrt(w1, b1, w2, b2))]
pub fn loss(
    x: &Tensor,
    one_hot: &Tensor,
    w1: &Tensor,
    b1: &Tensor,
    w2: &Tensor,
    b2: &Tensor,
    denominator: f64,
) -> f64 {
    let scores = logits(x, w1, b1, w2, b2);
    -(one_hot * scores.log_softmax(1)).sum() / denominator
}

/// The mean loss of `params` on `data` and its gradient.
pub fn loss_and_grad(params: &Params, data: &Digits) -> (f64, Params) {
    let (w1, b1, w2, b2) = params;
    let n = data.len() as f64;
    loss::value_and_grad(&data.images, &data.one_hot(), w1, b1, w2, b2, n)
}

/// The mean loss of `params` on `data` (no gradient: the function as written).
pub fn mean_loss(params: &Params, data: &Digits) -> f64 {
    let (w1, b1, w2, b2) = params;
    loss(
        &data.images,
        &data.one_hot(),
        w1,
        b1,
        w2,
        b2,
        data.len() as f64,
    )
}

/// The fraction of `data` whose highest score is the right digit.
pub fn accuracy(params: &Params, data: &Digits) -> f64 {
    let (w1, b1, w2, b2) = params;
    let scores = logits(&data.images, w1, b1, w2, b2);
    let right = data
        .labels
        .iter()
        .enumerate()
        .filter(|&(i, &label)| {
            let row = &scores.data()[i * CLASSES..(i + 1) * CLASSES];
            let best = (0..CLASSES)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            best == label
        })
        .count();
    right as f64 / data.len() as f64
}
