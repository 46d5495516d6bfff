//! Data-parallel gradients: the digits training step (see `digits.rs`) with
//! each batch split across the cores by rayon, each part's gradient computed
//! on its own thread, and the parts' gradients summed. A gradient is a plain
//! value (`Send`, here a tuple of tensors), so that is all it takes; the sum
//! equals the one-thread gradient of the whole batch up to rounding, which
//! this example asserts (to 1e-12), before timing both and training with the
//! parallel one.
//!
//! Run: `cargo run --release --example digits_parallel`
//! (`-- --short` for a quick run, as CI does).
//!
//! matrixmultiply, under the matrix products, may split a large product over
//! two threads by itself; `MATMUL_NUM_THREADS=1` keeps the one-thread
//! gradient on one thread, for a clean comparison.

#[path = "common/digits.rs"]
mod digits;

use std::time::Instant;

use autodiff::Cotangent;
use autodiff::optim::{Adam, Optimizer, Parameters};
use digits::{Digits, Params};
use rayon::prelude::*;

const HIDDEN: usize = 64;
const BATCH: usize = 512;

/// The mean loss of `params` on `batch` and its gradient, on this thread.
fn gradient_one_thread(params: &Params, batch: &Digits) -> (f64, Params) {
    digits::loss_and_grad(params, batch)
}

/// The same, with `batch` split into parts (four per thread of rayon's pool,
/// so that a thread slowed by other work on the machine leaves its parts to
/// the others): each part's share of the mean loss (its sum divided by the
/// whole batch's size) and of the gradient, summed.
fn gradient_parallel(params: &Params, batch: &Digits) -> (f64, Params) {
    let (w1, b1, w2, b2) = params;
    let n = batch.len();
    let rows: Vec<usize> = (0..n).collect();
    let part = n.div_ceil(4 * rayon::current_num_threads());
    rows.par_chunks(part)
        .map(|rows| {
            let part = batch.select(rows);
            digits::loss::value_and_grad(&part.images, &part.one_hot(), w1, b1, w2, b2, n as f64)
        })
        .reduce_with(|(loss_a, mut grad_a), (loss_b, grad_b)| {
            grad_a.accumulate(grad_b); // gradients add: Cotangent::accumulate
            (loss_a + loss_b, grad_a)
        })
        .expect("a batch has at least one image")
}

/// The largest difference between two gradients, relative to the largest
/// number in them.
fn max_relative_difference(a: &Params, b: &Params) -> f64 {
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    a.zip_leaves(b, &mut |a, b| {
        for (x, y) in a.iter().zip(b) {
            diff = diff.max((x - y).abs());
            scale = scale.max(x.abs());
        }
    });
    diff / scale
}

fn main() {
    let short = std::env::args().any(|a| a == "--short");
    let threads = rayon::current_num_threads();
    let all = digits::load();
    let (train, test) = digits::split(&all);
    println!(
        "digits: {} training images, batches of {BATCH} split over {threads} threads (rayon)",
        train.len()
    );

    // 1. The same gradient: the sum of the parts' gradients is the batch's.
    let params = digits::init(HIDDEN, 1);
    let batch = train.select(&digits::permutation(train.len(), 7)[..BATCH]);
    let (loss_1, grad_1) = gradient_one_thread(&params, &batch);
    let (loss_n, grad_n) = gradient_parallel(&params, &batch);
    let diff = max_relative_difference(&grad_1, &grad_n);
    println!(
        "loss {loss_1:.15} (one thread) vs {loss_n:.15} ({threads} threads); gradients differ by {diff:.1e} (relative)"
    );
    assert!(
        diff <= 1e-12 && (loss_1 - loss_n).abs() <= 1e-12 * loss_1,
        "the parallel gradient differs from the one-thread gradient"
    );

    // 2. Time: the two, alternating (so that a busy spell of the machine
    // slows both alike), best of several rounds.
    let (rounds, reps) = if short { (3, 5) } else { (15, 40) };
    let (mut best_1, mut best_n) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(gradient_one_thread(&params, &batch));
        }
        best_1 = best_1.min(t.elapsed().as_secs_f64() / reps as f64);
        let t = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(gradient_parallel(&params, &batch));
        }
        best_n = best_n.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    println!(
        "gradient of a batch of {BATCH}: {:.3} ms on one thread, {:.3} ms on {threads}: speed-up {:.2}x",
        best_1 * 1e3,
        best_n * 1e3,
        best_1 / best_n
    );

    // 3. Training with the parallel gradient.
    let epochs = if short { 2 } else { 60 };
    let mut params = digits::init(HIDDEN, 1);
    let mut opt = Adam::new(1e-2);
    let start = Instant::now();
    for epoch in 0..epochs {
        let order = digits::permutation(train.len(), 100 + epoch as u64);
        for rows in order.chunks(BATCH) {
            let (_, grad) = gradient_parallel(&params, &train.select(rows));
            opt.step(&mut params, &grad);
        }
    }
    println!(
        "{epochs} epochs with the parallel gradient ({:.1} s): test accuracy {:.2}%",
        start.elapsed().as_secs_f64(),
        100.0 * digits::accuracy(&params, &test)
    );
}
