//! Data-parallel gradients across processes: the digits training step (see
//! `digits.rs`) with each batch split over the MPI processes, each part's
//! gradient computed in its own process, and the gradients summed by MPI's
//! allreduce, as Horovod does for PyTorch. Every process then takes the same
//! Adam step on the same summed gradient, so the parameters stay identical
//! everywhere (checked at the end).
//!
//! Needs an MPI library (Debian: `apt-get install libopenmpi-dev openmpi-bin
//! libclang-dev`) and the `mpi` feature:
//!
//! ```text
//! cargo build --release --features mpi --example digits_mpi
//! mpirun -np 2 target/release/examples/digits_mpi          # -- --short: a quick run
//! ```
//!
//! (Open MPI refuses to run as root unless `--allow-run-as-root` is given.)

#[path = "common/digits.rs"]
mod digits;

use std::time::Instant;

use autodiff::optim::{Adam, Optimizer, Parameters};
use digits::{Digits, Params};
use mpi::collective::SystemOperation;
use mpi::traits::*;

const HIDDEN: usize = 64;
const BATCH: usize = 512;

/// Sums `grad` over all processes, in place: its numbers go into one flat
/// buffer (walked by `Parameters`, as Horovod fuses tensors into one buffer),
/// one allreduce, and back.
fn all_reduce_sum(world: &impl Communicator, grad: &mut Params) {
    let mut flat = Vec::with_capacity(grad.numel());
    grad.leaves(&mut |leaf| flat.extend_from_slice(leaf));
    let mut sum = vec![0.0; flat.len()];
    world.all_reduce_into(&flat[..], &mut sum[..], SystemOperation::sum());
    let mut rest = &sum[..];
    grad.leaves_mut(&mut |leaf| {
        let (head, tail) = rest.split_at(leaf.len());
        leaf.copy_from_slice(head);
        rest = tail;
    });
}

/// The mean loss of `params` on `batch` and its gradient: this process
/// computes its part's share (its rows' loss divided by the whole batch's
/// size), and the shares are summed over the processes.
fn gradient(world: &impl Communicator, params: &Params, batch: &Digits) -> (f64, Params) {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let n = batch.len();
    let part = n.div_ceil(size);
    let rows: Vec<usize> = (rank * part..((rank + 1) * part).min(n)).collect();
    let mine = batch.select(&rows);
    let (w1, b1, w2, b2) = params;
    let (loss, mut grad) =
        digits::loss::value_and_grad(&mine.images, &mine.one_hot(), w1, b1, w2, b2, n as f64);
    all_reduce_sum(world, &mut grad);
    let mut total = 0.0;
    world.all_reduce_into(&loss, &mut total, SystemOperation::sum());
    (total, grad)
}

fn main() {
    let short = std::env::args().any(|a| a == "--short");
    let universe = mpi::initialize().expect("MPI is initialised once");
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    // Every process loads the data and draws the same split and batches.
    let all = digits::load();
    let (train, test) = digits::split(&all);
    if rank == 0 {
        println!("digits over MPI: {size} processes, batches of {BATCH} split between them");
    }

    // 1. The summed gradient is the one-process gradient of the whole batch.
    let params = digits::init(HIDDEN, 1);
    let batch = train.select(&digits::permutation(train.len(), 7)[..BATCH]);
    let (loss_all, grad_all) = gradient(&world, &params, &batch);
    let (loss_one, grad_one) = digits::loss_and_grad(&params, &batch);
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    grad_one.zip_leaves(&grad_all, &mut |a, b| {
        for (x, y) in a.iter().zip(b) {
            diff = diff.max((x - y).abs());
            scale = scale.max(x.abs());
        }
    });
    if rank == 0 {
        println!(
            "loss {loss_one:.15} (one process) vs {loss_all:.15} (allreduce); gradients differ by {:.1e} (relative)",
            diff / scale
        );
    }
    assert!(
        diff <= 1e-12 * scale && (loss_one - loss_all).abs() <= 1e-12 * loss_one,
        "the allreduced gradient differs from the one-process gradient"
    );

    // 2. Training: the same step in every process.
    let epochs = if short { 2 } else { 60 };
    let mut params = digits::init(HIDDEN, 1);
    let mut opt = Adam::new(1e-2);
    let start = Instant::now();
    for epoch in 0..epochs {
        let order = digits::permutation(train.len(), 100 + epoch as u64);
        for rows in order.chunks(BATCH) {
            let (_, grad) = gradient(&world, &params, &train.select(rows));
            opt.step(&mut params, &grad);
        }
    }
    let seconds = start.elapsed().as_secs_f64();

    // The parameters are the same in every process: compare with process 0's.
    let mut flat = Vec::new();
    params.leaves(&mut |leaf| flat.extend_from_slice(leaf));
    let mut root = flat.clone();
    world.process_at_rank(0).broadcast_into(&mut root[..]);
    assert!(
        root == flat,
        "process {rank}'s parameters differ from process 0's"
    );
    world.barrier();
    if rank == 0 {
        println!(
            "{epochs} epochs ({seconds:.1} s), parameters identical in all {size} processes: test accuracy {:.2}%",
            100.0 * digits::accuracy(&params, &test)
        );
    }
}
