//! The workloads of benches/README.md (W1–W4, ADBench's GMM in three forms
//! at four sizes, the Q·x kernel), each timed three ways in one run: the
//! gradient that `#[differentiable]` generates, a gradient written by hand in
//! plain Rust beside it, and the primal alone; some rows time references
//! beside them (other hand-written forms, hand-edited generated code).
//!
//! ```text
//! cargo bench --bench workloads                 # checks, then the table
//! cargo bench --bench workloads -- --check-only # only the correctness checks
//! cargo bench --bench workloads -- --rounds 41 w3 w4
//! cargo bench --bench workloads -- gmm-d10      # the GMM rows at d10 K25
//! cargo bench --bench workloads -- kernel       # the Q·x kernel rows
//! ```
//!
//! Before timing anything it checks that every generated gradient equals the
//! hand-written one (1e-9 relative) and the known values (W1: 409600; W2: the
//! two gradients add up to 0.317977768; GMM: the hand-written gradient against
//! central differences), and exits non-zero if one does not.
//!
//! Timing: these machines are shared and noisy, so the three variants of a
//! workload are timed in interleaved rounds (the order rotates every round),
//! each round runs a batch long enough to be measured, and the table shows
//! medians over rounds. Ratios are the medians of the per-round ratios, so a
//! slow spell that hits one round hits both sides of its ratio.
//!
//! Tape memory: a counting global allocator (below) sees every allocation.
//! For a workload with a loop, "tape" is what the forward pass of `vjp`
//! allocates beyond what the primal allocates, per loop step; "live" is what
//! stays allocated while the pullback is held (the tape's capacity, which is
//! what occupies memory: a `Vec` grown by doubling holds up to twice its
//! length).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use autodiff::{Tensor, differentiable};
use nalgebra::{DMatrix, DVector};

mod gmm;
use gmm::GmmInput;
use gmm::kernel::KernelInput;

// ---------------------------------------------------------------- allocation counting

/// Counts the bytes allocated, the bytes live and the peak of live bytes.
struct CountingAllocator;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note_alloc(size: usize) {
    ALLOCATED.fetch_add(size, Ordering::Relaxed);
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn note_dealloc(size: usize) {
    LIVE.fetch_sub(size, Ordering::Relaxed);
}

// SAFETY: the only `unsafe` of the project outside its dependencies, and only
// in this benchmark binary (the library crates forbid unsafe code): a global
// allocator must be an `unsafe impl`. Every method forwards to `System` with
// the caller's arguments unchanged, so it upholds `GlobalAlloc`'s contract
// exactly as `System` does; the counters are plain atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_dealloc(layout.size());
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A growing `Vec` reallocates: count the new block as allocated and
        // the old one as freed, as a copy to a new place would be.
        note_dealloc(layout.size());
        note_alloc(new_size);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// What the allocator saw while `f` ran: bytes allocated, bytes still live
/// when it returned (beyond those live before), and the peak above the start.
struct AllocReport<T> {
    value: T,
    allocated: usize,
    retained: usize,
    peak: usize,
}

/// The generated code's tapes come from a per-thread pool: it is off while
/// allocations are counted, so that they show the tape's size.
fn count_allocations<T>(f: impl FnOnce() -> T) -> AllocReport<T> {
    let pooled = autodiff::__private::set_tape_pool(false);
    let allocated0 = ALLOCATED.load(Ordering::Relaxed);
    let live0 = LIVE.load(Ordering::Relaxed);
    PEAK.store(live0, Ordering::Relaxed);
    let value = f();
    autodiff::__private::set_tape_pool(pooled);
    AllocReport {
        value,
        allocated: ALLOCATED.load(Ordering::Relaxed) - allocated0,
        retained: LIVE.load(Ordering::Relaxed).saturating_sub(live0),
        peak: PEAK.load(Ordering::Relaxed) - live0,
    }
}

// ---------------------------------------------------------------- W1: the notes' f(a)

#[differentiable(forward)]
#[allow(clippy::assign_op_pattern)] // as the notes write it
fn w1(a: f64) -> f64 {
    let mut b = a * 2.0;
    while b.abs() < 1000.0 {
        b = b * 2.0;
    }
    if b > 0.0 { b } else { 100.0 * b }
}

/// `(f(a), f'(a))`: the derivative is carried along (one input, so forward
/// is what a careful person writes): every doubling doubles it.
fn w1_hand(a: f64) -> (f64, f64) {
    let mut b = a * 2.0;
    let mut db = 2.0;
    while b.abs() < 1000.0 {
        b *= 2.0;
        db *= 2.0;
    }
    if b > 0.0 {
        (b, db)
    } else {
        (100.0 * b, 100.0 * db)
    }
}

/// `(f(a), f'(a))` in reverse mode, as the generated code does it: count
/// the trips, remember the branch, then walk back. A reference for what
/// reverse mode costs here: the forward mode above rides along the primal's
/// loop, while reverse mode needs a second pass over the trips.
fn w1_hand_reverse(a: f64) -> (f64, f64) {
    let mut b = a * 2.0;
    let mut trips = 0usize;
    while b.abs() < 1000.0 {
        b *= 2.0;
        trips += 1;
    }
    let took_then = b > 0.0;
    let value = if took_then { b } else { 100.0 * b };
    let mut d = if took_then { 1.0 } else { 100.0 };
    for _ in 0..trips {
        d *= 2.0;
    }
    (value, 2.0 * d)
}

// ---------------------------------------------------------------- W2: scalar recurrence

const W2_STEPS: usize = 10_000;

#[differentiable]
fn w2(x0: f64, p: f64) -> f64 {
    let mut x = x0;
    for _ in 0..10000 {
        x = x + 0.01 * (p * x.sin() - 0.1 * x * x);
    }
    x
}

/// W2 with its loop checkpointed: states kept every √n steps, segments run
/// again in the reverse (less tape, more time).
#[differentiable]
fn w2_checkpointed(x0: f64, p: f64) -> f64 {
    let mut x = x0;
    #[checkpoint]
    for _ in 0..10000 {
        x = x + 0.01 * (p * x.sin() - 0.1 * x * x);
    }
    x
}

/// `(x_N, ∂x_N/∂x0, ∂x_N/∂p)` in reverse mode: the forward keeps each `x`
/// (one f64 per step), the reverse walks them back.
fn w2_hand(x0: f64, p: f64) -> (f64, f64, f64) {
    let mut xs = Vec::with_capacity(W2_STEPS);
    let mut x = x0;
    for _ in 0..W2_STEPS {
        xs.push(x);
        x += 0.01 * (p * x.sin() - 0.1 * x * x);
    }
    let (mut dx, mut dp) = (1.0, 0.0);
    for &x in xs.iter().rev() {
        let (sin, cos) = x.sin_cos();
        dp += dx * 0.01 * sin;
        dx *= 1.0 + 0.01 * (p * cos - 0.2 * x);
    }
    (x, dx, dp)
}

// ---------------------------------------------------------------- W3: Rosenbrock

const W3_N: usize = 1_000_000;

/// The index-loop form, over a slice.
#[differentiable]
fn w3_loop(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        total += 100.0 * t * t + u * u;
    }
    total
}

/// The tensor form: slices of one tensor, elementwise ops, one sum.
#[differentiable]
fn w3_tensor(x: &Tensor) -> f64 {
    let n = x.shape()[0];
    let head = x.slice(0, 0..n - 1);
    let tail = x.slice(0, 1..n);
    let t = tail - head.powi(2);
    let u = 1.0 - head;
    (100.0 * t.powi(2) + u.powi(2)).sum()
}

/// Value and gradient in two plain loops (the hand-written reference of
/// benches/README.md: one for the value, one for the gradient).
fn w3_hand(x: &[f64]) -> (f64, Vec<f64>) {
    let n = x.len();
    let mut value = 0.0;
    for i in 0..n - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        value += 100.0 * t * t + u * u;
    }
    let mut grad = vec![0.0; n];
    for i in 0..n - 1 {
        let t = x[i + 1] - x[i] * x[i];
        grad[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i]);
        grad[i + 1] += 200.0 * t;
    }
    (value, grad)
}

/// Value and gradient in one fused pass, the best a person would write:
/// `x` is read once and the gradient written once, element `i` of the
/// gradient computed where it is written,
/// `∂_i = 200 (x_i − x_{i−1}²) − 400 x_i (x_{i+1} − x_i²) − 2 (1 − x_i)`
/// (the first term for i ≥ 1, the others for i ≤ n − 2), and the value summed
/// in eight lanes, so that no step depends on the one before and the loop
/// vectorises (to the width the build targets: SSE2's two `f64` for the
/// default x86-64 target). Writes into `grad` (length n).
fn w3_fused_into(x: &[f64], grad: &mut [f64]) -> f64 {
    const LANES: usize = 8;
    let n = x.len();
    assert!(n >= 2 && grad.len() == n);
    let term = |a: f64, b: f64| {
        let t = b - a * a;
        let u = 1.0 - a;
        100.0 * t * t + u * u
    };
    // i = 0: no left neighbour.
    let mut value = term(x[0], x[1]);
    grad[0] = -400.0 * x[0] * (x[1] - x[0] * x[0]) - 2.0 * (1.0 - x[0]);
    // 1 ≤ i ≤ n − 2, eight at a time: a window of x[i − 1 ..= i + 8].
    let mut lanes = [0.0; LANES];
    let mut i = 1;
    while i + LANES < n {
        let w: &[f64; LANES + 2] = x[i - 1..i + LANES + 1].try_into().unwrap();
        let g: &mut [f64; LANES] = (&mut grad[i..i + LANES]).try_into().unwrap();
        for l in 0..LANES {
            let (left, a, right) = (w[l], w[l + 1], w[l + 2]);
            let t = right - a * a;
            let u = 1.0 - a;
            lanes[l] += 100.0 * t * t + u * u;
            g[l] = 200.0 * (a - left * left) - 400.0 * a * t - 2.0 * u;
        }
        i += LANES;
    }
    value += lanes.iter().sum::<f64>();
    while i < n - 1 {
        let (left, a, right) = (x[i - 1], x[i], x[i + 1]);
        value += term(a, right);
        grad[i] = 200.0 * (a - left * left) - 400.0 * a * (right - a * a) - 2.0 * (1.0 - a);
        i += 1;
    }
    // i = n − 1: no right neighbour.
    grad[n - 1] = 200.0 * (x[n - 1] - x[n - 2] * x[n - 2]);
    value
}

/// [`w3_fused_into`] into a new gradient vector, as `value_and_grad` returns one.
fn w3_fused(x: &[f64]) -> (f64, Vec<f64>) {
    let mut grad = vec![0.0; x.len()];
    let value = w3_fused_into(x, &mut grad);
    (value, grad)
}

/// Value and gradient as a reverse pass by hand: the loop, then the loop
/// walked backwards adding each local derivative into the gradient, one
/// `+=` per use of an element (what a reverse pass does). A reference for
/// the order: walked backwards, each step's `grad[i] +=` reads the element
/// the step before has just written, a store→load chain that the compiler
/// does not turn into a register for a descending loop.
fn w3_hand_reverse(x: &[f64]) -> (f64, Vec<f64>) {
    let n = x.len();
    let mut value = 0.0;
    for i in 0..n - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        value += 100.0 * t * t + u * u;
    }
    let mut grad = vec![0.0; n];
    for i in (0..n - 1).rev() {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        let d_t = 200.0 * t;
        grad[i + 1] += d_t;
        grad[i] -= 2.0 * u;
        grad[i] -= d_t * x[i];
        grad[i] -= d_t * x[i];
    }
    (value, grad)
}

// ---------------------------------------------------------------- W4: MLP loss

const W4_BATCH: usize = 128;
const W4_IN: usize = 784;
const W4_HIDDEN: usize = 256;
const W4_CLASSES: usize = 10;

/// Softmax cross-entropy of `tanh(x·w1 + b1)·w2 + b2` against one-hot labels,
/// averaged over the batch.
#[differentiable(wrt(w1, b1, w2, b2))]
fn w4(x: &Tensor, y_onehot: &Tensor, w1: &Tensor, b1: &Tensor, w2: &Tensor, b2: &Tensor) -> f64 {
    let h = (x.matmul(w1) + b1).tanh();
    let logits = h.matmul(w2) + b2;
    let logp = logits.log_softmax(1);
    -(y_onehot * logp).sum_dim(1).mean()
}

/// The same data as nalgebra matrices, for the hand-written gradient.
struct MlpMatrices {
    x: DMatrix<f64>,
    /// `x` transposed once, as the data is fixed: `xᵀ·δ` is then a plain
    /// product (nalgebra's `tr_mul` takes a slow dot-product path).
    x_t: DMatrix<f64>,
    labels: Vec<usize>,
    w1: DMatrix<f64>,
    b1: DVector<f64>,
    w2: DMatrix<f64>,
    b2: DVector<f64>,
}

struct MlpGradient {
    loss: f64,
    w1: DMatrix<f64>,
    b1: DVector<f64>,
    w2: DMatrix<f64>,
    b2: DVector<f64>,
}

/// Forward and backward of the MLP with nalgebra products, as a careful
/// person writes it: `δ₂ = (softmax − onehot)/B`, `∂W2 = Hᵀδ₂`, `δ₁ =
/// (δ₂W2ᵀ) ⊙ (1 − H²)`, `∂W1 = Xᵀδ₁`, biases get column sums.
fn w4_hand(m: &MlpMatrices) -> MlpGradient {
    let batch = m.x.nrows();
    let mut h = &m.x * &m.w1;
    for (mut column, &b) in h.column_iter_mut().zip(m.b1.iter()) {
        column.apply(|v| *v = (*v + b).tanh());
    }
    let mut delta2 = &h * &m.w2;
    for (mut column, &b) in delta2.column_iter_mut().zip(m.b2.iter()) {
        column.add_scalar_mut(b);
    }
    // Row-wise log-softmax; δ₂ overwrites the logits.
    let mut loss = 0.0;
    for (r, &label) in m.labels.iter().enumerate() {
        let mut row = delta2.row_mut(r);
        let shift = row.max();
        let total: f64 = row.iter().map(|v| (v - shift).exp()).sum();
        let lse = shift + total.ln();
        loss -= row[label] - lse;
        row.apply(|v| *v = (*v - lse).exp() / batch as f64);
        row[label] -= 1.0 / batch as f64;
    }
    loss /= batch as f64;
    let d_w2 = h.transpose() * &delta2;
    let d_b2 = delta2.row_sum().transpose();
    let mut delta1 = &delta2 * m.w2.transpose();
    delta1.zip_apply(&h, |d, h| *d *= 1.0 - h * h);
    let d_w1 = &m.x_t * &delta1;
    let d_b1 = delta1.row_sum().transpose();
    MlpGradient {
        loss,
        w1: d_w1,
        b1: d_b1,
        w2: d_w2,
        b2: d_b2,
    }
}

struct MlpTensors {
    x: Tensor,
    y_onehot: Tensor,
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

fn mlp_data() -> (MlpTensors, MlpMatrices) {
    let x = Tensor::uniform(&[W4_BATCH, W4_IN], 0.0, 1.0, 41);
    let labels: Vec<usize> = (0..W4_BATCH).map(|i| (i * 7 + 3) % W4_CLASSES).collect();
    let mut onehot = vec![0.0; W4_BATCH * W4_CLASSES];
    for (r, &label) in labels.iter().enumerate() {
        onehot[r * W4_CLASSES + label] = 1.0;
    }
    let y_onehot = Tensor::from_vec(onehot, &[W4_BATCH, W4_CLASSES]);
    let scale1 = 1.0 / (W4_IN as f64).sqrt();
    let scale2 = 1.0 / (W4_HIDDEN as f64).sqrt();
    let w1 = Tensor::uniform(&[W4_IN, W4_HIDDEN], -scale1, scale1, 42);
    let b1 = Tensor::uniform(&[W4_HIDDEN], -0.1, 0.1, 43);
    let w2 = Tensor::uniform(&[W4_HIDDEN, W4_CLASSES], -scale2, scale2, 44);
    let b2 = Tensor::uniform(&[W4_CLASSES], -0.1, 0.1, 45);
    let matrices = MlpMatrices {
        x: DMatrix::from(&x),
        x_t: DMatrix::from(&x).transpose(),
        labels,
        w1: DMatrix::from(&w1),
        b1: DVector::from(&b1),
        w2: DMatrix::from(&w2),
        b2: DVector::from(&b2),
    };
    let tensors = MlpTensors {
        x,
        y_onehot,
        w1,
        b1,
        w2,
        b2,
    };
    (tensors, matrices)
}

// ---------------------------------------------------------------- checks

/// Collects failed checks; every check runs, then all failures are reported.
#[derive(Default)]
struct Checks {
    failures: Vec<String>,
}

/// Relative agreement to 1e-9, elementwise. An element that is tiny next to
/// the largest of its vector (where rounding in a different summation order
/// is not small relative to it) is held to 1e-9 of that largest instead.
fn close(ours: &[f64], hand: &[f64]) -> Result<(), String> {
    const RTOL: f64 = 1e-9;
    if ours.len() != hand.len() {
        return Err(format!("lengths {} and {}", ours.len(), hand.len()));
    }
    let scale = hand.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (&a, &b)) in ours.iter().zip(hand).enumerate() {
        let tolerance = RTOL * a.abs().max(b.abs()).max(1e-6 * scale);
        let agrees = (a - b).abs() <= tolerance; // false for NaN, as it should be
        if !agrees {
            return Err(format!("element {i}: ours {a:e}, hand-written {b:e}"));
        }
    }
    Ok(())
}

impl Checks {
    fn agree(&mut self, what: &str, ours: &[f64], hand: &[f64]) {
        if let Err(e) = close(ours, hand) {
            self.failures.push(format!("{what}: {e}"));
        }
    }

    fn expect(&mut self, what: &str, ok: bool, detail: String) {
        if !ok {
            self.failures.push(format!("{what}: {detail}"));
        }
    }
}

fn run_checks(inputs: &Inputs) -> Checks {
    let mut checks = Checks::default();

    let (value, grad) = w1::value_and_grad(inputs.a);
    let (hand_value, hand_grad) = w1_hand(inputs.a);
    checks.agree("W1 value", &[value], &[hand_value]);
    checks.agree("W1 gradient vs hand-written", &[grad], &[hand_grad]);
    let (reverse_value, reverse_grad) = w1_hand_reverse(inputs.a);
    checks.agree(
        "W1 hand-written reverse mode",
        &[reverse_value, reverse_grad],
        &[hand_value, hand_grad],
    );
    checks.expect(
        "W1 gradient is 409600",
        grad == 409600.0,
        format!("got {grad}"),
    );

    let (value, (gx0, gp)) = w2::value_and_grad(inputs.x0, inputs.p);
    let (hand_value, hand_gx0, hand_gp) = w2_hand(inputs.x0, inputs.p);
    checks.agree("W2 value", &[value], &[hand_value]);
    checks.agree(
        "W2 gradient vs hand-written",
        &[gx0, gp],
        &[hand_gx0, hand_gp],
    );
    checks.expect(
        "W2 gradients add up to 0.317977768",
        (gx0 + gp - 0.317977768).abs() < 1e-8,
        format!("got {gx0} + {gp} = {}", gx0 + gp),
    );

    let (hand_value, hand_grad) = w3_hand(&inputs.x3);
    let (reverse_value, reverse_grad) = w3_hand_reverse(&inputs.x3);
    checks.agree(
        "W3 hand-written reverse value",
        &[reverse_value],
        &[hand_value],
    );
    checks.agree(
        "W3 hand-written reverse gradient",
        &reverse_grad,
        &hand_grad,
    );
    let (fused_value, fused_grad) = w3_fused(&inputs.x3);
    checks.agree("W3 hand-written fused value", &[fused_value], &[hand_value]);
    checks.agree("W3 hand-written fused gradient", &fused_grad, &hand_grad);
    // And at lengths around the eight lanes, where the fused pass's ends meet.
    for n in 2..27 {
        let x = &inputs.x3[..n];
        let (fv, fg) = w3_fused(x);
        let (hv, hg) = w3_hand(x);
        checks.agree(&format!("W3 fused value, n = {n}"), &[fv], &[hv]);
        checks.agree(&format!("W3 fused gradient, n = {n}"), &fg, &hg);
    }
    let (value, grad) = w3_loop::value_and_grad(&inputs.x3);
    checks.agree("W3 loop value", &[value], &[hand_value]);
    checks.agree("W3 loop gradient vs hand-written", &grad, &hand_grad);
    let (value, grad) = w3_tensor::value_and_grad(&inputs.x3_tensor);
    checks.agree("W3 tensor value", &[value], &[hand_value]);
    checks.agree(
        "W3 tensor gradient vs hand-written",
        grad.data(),
        &hand_grad,
    );

    let t = &inputs.mlp;
    let (value, (gw1, gb1, gw2, gb2)) =
        w4::value_and_grad(&t.x, &t.y_onehot, &t.w1, &t.b1, &t.w2, &t.b2);
    let hand = w4_hand(&inputs.mlp_matrices);
    checks.agree("W4 loss", &[value], &[hand.loss]);
    checks.agree(
        "W4 ∂W1 vs hand-written",
        DMatrix::from(&gw1).as_slice(),
        hand.w1.as_slice(),
    );
    checks.agree("W4 ∂b1 vs hand-written", gb1.data(), hand.b1.as_slice());
    checks.agree(
        "W4 ∂W2 vs hand-written",
        DMatrix::from(&gw2).as_slice(),
        hand.w2.as_slice(),
    );
    checks.agree("W4 ∂b2 vs hand-written", gb2.data(), hand.b2.as_slice());

    gmm_checks(&mut checks, inputs);
    for q in &inputs.kernel {
        let few = KernelInput::seeded(q.d, 200, 7);
        let (hand_value, hand) = few.grad_hand();
        for (what, (value, grad)) in [
            ("generated", few.grad()),
            ("counter walked back", few.grad_walk()),
            ("all edits", few.grad_all()),
        ] {
            checks.agree(
                &format!("Q·x kernel d{} {what} value", q.d),
                &[value],
                &[hand_value],
            );
            checks.agree(
                &format!("Q·x kernel d{} {what} gradient vs hand-written", q.d),
                &grad,
                &hand,
            );
        }
    }
    checks
}

/// Central differences `(f(p + h eᵢ) − f(p − h eᵢ)) / 2h` for every
/// coordinate, against `grad` to `rtol` (of the larger of the two, or of a
/// thousandth of the largest gradient element for a tiny one).
fn central_differences(
    f: impl Fn(&[f64]) -> f64,
    p: &[f64],
    grad: &[f64],
    rtol: f64,
) -> Result<(), String> {
    let scale = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let mut q = p.to_vec();
    for i in 0..p.len() {
        let h = 1e-6 * p[i].abs().max(1.0);
        q[i] = p[i] + h;
        let up = f(&q);
        q[i] = p[i] - h;
        let down = f(&q);
        q[i] = p[i];
        let numeric = (up - down) / (2.0 * h);
        let tolerance = rtol * numeric.abs().max(grad[i].abs()).max(1e-3 * scale);
        if (numeric - grad[i]).abs() > tolerance || grad[i].is_nan() {
            return Err(format!(
                "element {i}: gradient {:e}, central differences {numeric:e}",
                grad[i]
            ));
        }
    }
    Ok(())
}

/// GMM: the hand-written gradient against central differences (ADBench's
/// small test input and a seeded d5 K4 n20 one, every coordinate); every
/// form's value and generated gradient against the hand-written ones on
/// those two inputs and at every benchmark size.
fn gmm_checks(checks: &mut Checks, inputs: &Inputs) {
    let small = [GmmInput::adbench_test(), GmmInput::seeded(5, 4, 20, 7)];
    for (g, what) in small
        .iter()
        .zip(["ADBench's test input", "seeded d5 K4 n20"])
    {
        let (_, hand) = g.grad_hand();
        if let Err(e) = central_differences(|p| g.objective_at(p), &g.params(), &hand, 1e-6) {
            checks.failures.push(format!(
                "GMM hand-written gradient vs central differences, {what}: {e}"
            ));
        }
    }
    // The two larger sizes with 20 of their points: the same code at the same
    // d and K (n is only the trip count of the outer loop), without the
    // tapes of n = 1000 (form a keeps 9 GiB at d64 K100); the timing run
    // checks each row on its full input before timing it.
    let reduced: Vec<GmmInput> = inputs
        .gmm
        .iter()
        .filter(|g| g.d > 10)
        .map(|g| g.with_n(20))
        .collect();
    let full = inputs.gmm.iter().filter(|g| g.d <= 10);
    for g in small.iter().chain(full).chain(&reduced) {
        let size = format!("GMM d{} K{} n{}", g.d, g.k, g.n);
        let (hand_value, hand) = g.grad_hand();
        checks.agree(
            &format!("{size} (a) primal"),
            &[g.primal_scratch()],
            &[hand_value],
        );
        checks.agree(
            &format!("{size} (b) primal"),
            &[g.primal_slices()],
            &[hand_value],
        );
        checks.agree(
            &format!("{size} (c) primal"),
            &[g.primal_tensor()],
            &[hand_value],
        );
        for (form, (value, grad)) in [
            ("(a) scratch arrays", g.grad_scratch()),
            ("(b) loops over slices", g.grad_slices()),
            ("(b) hand-edited generated code", g.grad_slices_edited()),
            ("(c) tensors", g.grad_tensor()),
        ] {
            checks.agree(&format!("{size} {form} value"), &[value], &[hand_value]);
            checks.agree(
                &format!("{size} {form} gradient vs hand-written"),
                &grad,
                &hand,
            );
        }
    }
}

// ---------------------------------------------------------------- timing

/// ADBench's GMM sizes (d, K), each with n = 1000 points.
const GMM_SIZES: [(usize, usize); 4] = [(2, 5), (10, 25), (20, 50), (64, 100)];
const GMM_N: usize = 1000;

/// The Q·x kernel alone at d = 2, 10, 20, each over 25 000 points (as many
/// triangles as GMM's n·K at d10 K25).
const KERNEL_SIZES: [usize; 3] = [2, 10, 20];
const KERNEL_N: usize = 25_000;

struct Inputs {
    a: f64,
    x0: f64,
    p: f64,
    x3: Vec<f64>,
    x3_tensor: Tensor,
    mlp: MlpTensors,
    mlp_matrices: MlpMatrices,
    gmm: Vec<GmmInput>,
    kernel: Vec<KernelInput>,
}

fn inputs() -> Inputs {
    let x3_tensor = Tensor::uniform(&[W3_N], -1.0, 1.0, 3);
    let (mlp, mlp_matrices) = mlp_data();
    Inputs {
        a: -0.2753,
        x0: 0.5,
        p: 1.3,
        x3: x3_tensor.to_vec(),
        x3_tensor,
        mlp,
        mlp_matrices,
        gmm: GMM_SIZES
            .iter()
            .zip(0..)
            .map(|(&(d, k), i)| GmmInput::seeded(d, k, GMM_N, 100 + 10 * i))
            .collect(),
        kernel: KERNEL_SIZES
            .iter()
            .zip(0..)
            .map(|(&d, i)| KernelInput::seeded(d, KERNEL_N, 200 + 10 * i))
            .collect(),
    }
}

/// A closure that runs one variant of a workload once.
type Variant<'a> = Box<dyn FnMut() + 'a>;

/// What the allocator sees of a workload's tape: bytes that `vjp`'s forward
/// allocates beyond the primal, bytes still live while the pullback is held,
/// and the peak.
type TapeProbe<'a> = Box<dyn Fn() -> (usize, usize, usize) + 'a>;

/// The variants of one workload, each a closure that runs it once.
struct Workload<'a> {
    name: String,
    ours: Variant<'a>,
    primal: Variant<'a>,
    hand: Variant<'a>,
    /// Whether the hand-written gradient has the same primal as `primal`
    /// (so that hand/primal means something).
    hand_shares_primal: bool,
    /// Loop steps, for the tape bytes per step (for GMM: point–component pairs).
    steps: Option<usize>,
    /// Whether the allocator sees the whole tape: not where tensors hold it,
    /// as their buffers are recycled through the runtime's buffer cache.
    tape_visible: bool,
    tape: TapeProbe<'a>,
    /// Other gradients to compare with, timed in the same rounds: other
    /// hand-written forms, or hand-edited copies of generated code.
    references: Vec<(&'static str, Variant<'a>)>,
    /// Checks the gradient on the very input that is timed, before timing
    /// (where `--check-only` checks a smaller one).
    check: Option<Check<'a>>,
    /// The bytes the pullback will hold, estimated from a run on fewer
    /// points, where that can be more than this machine should give.
    live_estimate: Option<Box<dyn Fn() -> f64 + 'a>>,
}

type Check<'a> = Box<dyn Fn() -> Result<(), String> + 'a>;

/// The tape of one workload: what `vjp`'s forward allocates and keeps.
fn tape<P>(primal: impl FnOnce(), vjp: impl FnOnce() -> P) -> (usize, usize, usize) {
    let primal = count_allocations(primal);
    let forward = count_allocations(vjp);
    drop(black_box(forward.value));
    (
        forward.allocated.saturating_sub(primal.allocated),
        forward.retained,
        forward.peak,
    )
}

fn workloads(inputs: &Inputs) -> Vec<Workload<'_>> {
    let t = &inputs.mlp;
    let fused_buffer = &*Box::leak(Box::new(std::cell::RefCell::new(vec![0.0; W3_N])));
    let mut all = vec![
        Workload {
            name: "W1".into(),
            ours: Box::new(|| {
                black_box(w1::value_and_grad(black_box(inputs.a)));
            }),
            primal: Box::new(|| {
                black_box(w1(black_box(inputs.a)));
            }),
            hand: Box::new(|| {
                black_box(w1_hand(black_box(inputs.a)));
            }),
            hand_shares_primal: true,
            steps: None,
            tape_visible: true,
            tape: Box::new(|| {
                tape(
                    || {
                        black_box(w1(inputs.a));
                    },
                    || w1::vjp(inputs.a),
                )
            }),
            references: vec![(
                "hand-written reverse mode (count the trips, walk them back)",
                Box::new(|| {
                    black_box(w1_hand_reverse(black_box(inputs.a)));
                }),
            )],
            check: None,
            live_estimate: None,
        },
        Workload {
            name: "W2".into(),
            ours: Box::new(|| {
                black_box(w2::value_and_grad(
                    black_box(inputs.x0),
                    black_box(inputs.p),
                ));
            }),
            primal: Box::new(|| {
                black_box(w2(black_box(inputs.x0), black_box(inputs.p)));
            }),
            hand: Box::new(|| {
                black_box(w2_hand(black_box(inputs.x0), black_box(inputs.p)));
            }),
            hand_shares_primal: true,
            steps: Some(W2_STEPS),
            tape_visible: true,
            tape: Box::new(|| {
                tape(
                    || {
                        black_box(w2(inputs.x0, inputs.p));
                    },
                    || w2::vjp(inputs.x0, inputs.p),
                )
            }),
            references: Vec::new(),
            check: None,
            live_estimate: None,
        },
        Workload {
            name: "W2 ckpt".into(),
            ours: Box::new(|| {
                black_box(w2_checkpointed::value_and_grad(
                    black_box(inputs.x0),
                    black_box(inputs.p),
                ));
            }),
            primal: Box::new(|| {
                black_box(w2(black_box(inputs.x0), black_box(inputs.p)));
            }),
            hand: Box::new(|| {
                black_box(w2_hand(black_box(inputs.x0), black_box(inputs.p)));
            }),
            hand_shares_primal: true,
            steps: Some(W2_STEPS),
            tape_visible: true,
            tape: Box::new(|| {
                tape(
                    || {
                        black_box(w2(inputs.x0, inputs.p));
                    },
                    || w2_checkpointed::vjp(inputs.x0, inputs.p),
                )
            }),
            references: Vec::new(),
            check: None,
            live_estimate: None,
        },
        Workload {
            name: "W3 loop".into(),
            ours: Box::new(|| {
                black_box(w3_loop::value_and_grad(black_box(&inputs.x3)));
            }),
            primal: Box::new(|| {
                black_box(w3_loop(black_box(&inputs.x3)));
            }),
            hand: Box::new(|| {
                black_box(w3_fused(black_box(&inputs.x3)));
            }),
            hand_shares_primal: true,
            steps: Some(W3_N - 1),
            tape_visible: true,
            tape: Box::new(|| {
                tape(
                    || {
                        black_box(w3_loop(&inputs.x3));
                    },
                    || w3_loop::vjp(&inputs.x3),
                )
            }),
            references: vec![
                (
                    "hand-written fused pass into a reused buffer (no allocation)",
                    Box::new(move || {
                        black_box(w3_fused_into(
                            black_box(&inputs.x3),
                            &mut fused_buffer.borrow_mut(),
                        ));
                    }),
                ),
                (
                    "hand-written two plain loops (the former baseline)",
                    Box::new(|| {
                        black_box(w3_hand(black_box(&inputs.x3)));
                    }),
                ),
                (
                    "hand-written reverse pass (the loop walked backwards)",
                    Box::new(|| {
                        black_box(w3_hand_reverse(black_box(&inputs.x3)));
                    }),
                ),
            ],
            check: None,
            live_estimate: None,
        },
        Workload {
            name: "W3 tensor".into(),
            ours: Box::new(|| {
                black_box(w3_tensor::value_and_grad(black_box(&inputs.x3_tensor)));
            }),
            primal: Box::new(|| {
                black_box(w3_tensor(black_box(&inputs.x3_tensor)));
            }),
            hand: Box::new(|| {
                black_box(w3_fused(black_box(&inputs.x3)));
            }),
            hand_shares_primal: false,
            steps: None,
            tape_visible: false,
            tape: Box::new(|| {
                tape(
                    || {
                        black_box(w3_tensor(&inputs.x3_tensor));
                    },
                    || w3_tensor::vjp(&inputs.x3_tensor),
                )
            }),
            references: vec![(
                "hand-written two plain loops (the former baseline)",
                Box::new(|| {
                    black_box(w3_hand(black_box(&inputs.x3)));
                }),
            )],
            check: None,
            live_estimate: None,
        },
        Workload {
            name: "W4".into(),
            ours: Box::new(|| {
                black_box(w4::value_and_grad(
                    &t.x,
                    &t.y_onehot,
                    black_box(&t.w1),
                    &t.b1,
                    &t.w2,
                    &t.b2,
                ));
            }),
            primal: Box::new(|| {
                black_box(w4(&t.x, &t.y_onehot, black_box(&t.w1), &t.b1, &t.w2, &t.b2));
            }),
            hand: Box::new(|| {
                black_box(w4_hand(black_box(&inputs.mlp_matrices)));
            }),
            hand_shares_primal: false,
            steps: None,
            tape_visible: false,
            tape: Box::new(|| {
                tape(
                    || {
                        black_box(w4(&t.x, &t.y_onehot, &t.w1, &t.b1, &t.w2, &t.b2));
                    },
                    || w4::vjp(&t.x, &t.y_onehot, &t.w1, &t.b1, &t.w2, &t.b2),
                )
            }),
            references: Vec::new(),
            check: None,
            live_estimate: None,
        },
    ];
    for g in &inputs.gmm {
        all.extend(gmm_workloads(g));
    }
    for q in &inputs.kernel {
        all.push(kernel_workload(q));
    }
    all
}

/// The issue's triangular loop alone, beside hand-edited copies of its
/// generated code.
fn kernel_workload(q: &KernelInput) -> Workload<'_> {
    Workload {
        name: format!("Q·x kernel d{}", q.d),
        ours: Box::new(move || {
            black_box(black_box(q).grad());
        }),
        primal: Box::new(move || {
            black_box(black_box(q).primal());
        }),
        hand: Box::new(move || {
            black_box(black_box(q).grad_hand());
        }),
        hand_shares_primal: true,
        steps: Some(q.n * q.d * (q.d - 1) / 2),
        tape_visible: true,
        tape: Box::new(move || {
            tape(
                move || {
                    black_box(q.primal());
                },
                || gmm::kernel::qx_kernel::vjp(q.d, q.n, &q.l, &q.x, &q.mu),
            )
        }),
        references: vec![
            (
                "hand-edited copy of the generated code, the counter walked back (EDIT 0)",
                Box::new(move || {
                    black_box(black_box(q).grad_walk());
                }),
            ),
            (
                "hand-edited copy of the generated code, all edits (EDITS 0, 1, 4, 6)",
                Box::new(move || {
                    black_box(black_box(q).grad_all());
                }),
            ),
        ],
        check: Some(Box::new(move || {
            let (hand_value, hand) = q.grad_hand();
            for (what, (value, grad)) in [
                ("generated", q.grad()),
                ("counter walked back", q.grad_walk()),
                ("all edits", q.grad_all()),
            ] {
                close(&[value], &[hand_value]).map_err(|e| format!("{what} value: {e}"))?;
                close(&grad, &hand).map_err(|e| format!("{what} gradient: {e}"))?;
            }
            Ok(())
        })),
        live_estimate: None,
    }
}

/// The GMM rows of one size: forms (a) scratch arrays, (b) loops over
/// slices, (c) tensors, each beside the hand-written gradient.
fn gmm_workloads(g: &GmmInput) -> Vec<Workload<'_>> {
    let size = format!("GMM d{} K{}", g.d, g.k);
    let hand = move || -> Variant<'_> {
        Box::new(move || {
            black_box(black_box(g).grad_hand());
        })
    };
    let check = move |grad: fn(&GmmInput) -> (f64, Vec<f64>)| -> Option<Check<'_>> {
        Some(Box::new(move || {
            let (hand_value, hand) = g.grad_hand();
            let (value, ours) = grad(g);
            close(&[value], &[hand_value]).map_err(|e| format!("value: {e}"))?;
            close(&ours, &hand).map_err(|e| format!("gradient vs hand-written: {e}"))
        }))
    };
    // The pullback's bytes at n points, from a run on 10.
    let estimate = move |held: fn(&GmmInput) -> usize| -> Option<Box<dyn Fn() -> f64 + '_>> {
        Some(Box::new(move || {
            let few = g.with_n(10);
            held(&few) as f64 * g.n as f64 / few.n as f64
        }))
    };
    vec![
        Workload {
            name: format!("{size} a"),
            ours: Box::new(move || {
                black_box(black_box(g).grad_scratch());
            }),
            primal: Box::new(move || {
                black_box(black_box(g).primal_scratch());
            }),
            hand: hand(),
            // (a)'s primal is ADBench's objective itself.
            hand_shares_primal: true,
            steps: Some(g.n * g.k),
            tape_visible: true,
            tape: Box::new(move || {
                tape(
                    move || {
                        black_box(g.primal_scratch());
                    },
                    || {
                        gmm::gmm_scratch::vjp(
                            g.d, g.k, g.n, &g.alphas, &g.means, &g.icf, &g.x, g.gamma, g.m,
                        )
                    },
                )
            }),
            references: Vec::new(),
            check: check(GmmInput::grad_scratch),
            live_estimate: estimate(|g| {
                tape(
                    || {
                        black_box(g.primal_scratch());
                    },
                    || {
                        gmm::gmm_scratch::vjp(
                            g.d, g.k, g.n, &g.alphas, &g.means, &g.icf, &g.x, g.gamma, g.m,
                        )
                    },
                )
                .1
            }),
        },
        Workload {
            name: format!("{size} b"),
            ours: Box::new(move || {
                black_box(black_box(g).grad_slices());
            }),
            primal: Box::new(move || {
                black_box(black_box(g).primal_slices());
            }),
            hand: hand(),
            hand_shares_primal: false,
            steps: Some(g.n * g.k),
            tape_visible: true,
            tape: Box::new(move || {
                tape(
                    move || {
                        black_box(g.primal_slices());
                    },
                    || {
                        gmm::gmm_slices::vjp(
                            g.d, g.k, g.n, &g.alphas, &g.means, &g.icf, &g.x, g.gamma, g.m,
                        )
                    },
                )
            }),
            references: vec![(
                "hand-edited copy of the generated code (benches/gmm/edited.rs)",
                Box::new(move || {
                    black_box(black_box(g).grad_slices_edited());
                }),
            )],
            check: check(GmmInput::grad_slices),
            live_estimate: estimate(|g| {
                tape(
                    || {
                        black_box(g.primal_slices());
                    },
                    || {
                        gmm::gmm_slices::vjp(
                            g.d, g.k, g.n, &g.alphas, &g.means, &g.icf, &g.x, g.gamma, g.m,
                        )
                    },
                )
                .1
            }),
        },
        Workload {
            name: format!("{size} c"),
            ours: Box::new(move || {
                black_box(black_box(g).grad_tensor());
            }),
            primal: Box::new(move || {
                black_box(black_box(g).primal_tensor());
            }),
            hand: hand(),
            hand_shares_primal: false,
            steps: None,
            tape_visible: false,
            tape: Box::new(move || {
                tape(
                    move || {
                        black_box(g.primal_tensor());
                    },
                    || {
                        gmm::gmm_tensor::vjp(
                            &g.t_alphas,
                            &g.t_means,
                            &g.t_icf,
                            &g.t_x,
                            g.gamma,
                            g.m,
                        )
                    },
                )
            }),
            references: Vec::new(),
            check: check(GmmInput::grad_tensor),
            live_estimate: None,
        },
    ]
}

/// Seconds per call of `f`, over a batch of `reps` calls.
fn time_batch(f: &mut dyn FnMut(), reps: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed().as_secs_f64() / reps as f64
}

/// How many calls make a batch of at least `batch`.
/// Also returns the seconds per call seen while calibrating.
fn calibrate(f: &mut dyn FnMut(), batch: Duration) -> (usize, f64) {
    f(); // warm up: page in, fill caches, start thread pools
    let mut reps = 1;
    loop {
        let per_call = time_batch(f, reps);
        if per_call * reps as f64 >= batch.as_secs_f64() / 4.0 || reps >= 1 << 30 {
            let needed = (batch.as_secs_f64() / per_call.max(1e-12)).ceil() as usize;
            return (needed.clamp(1, 1 << 30), per_call);
        }
        reps *= 2;
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

struct Row {
    name: String,
    ours: f64,
    primal: f64,
    hand: f64,
    ours_over_primal: f64,
    ours_over_hand: f64,
    hand_over_primal: Option<f64>,
    /// Tape bytes per loop step: (allocated beyond the primal, live).
    tape_per_step: Option<(f64, f64)>,
    /// Bytes the pullback holds, where the allocator can see them.
    retained: Option<usize>,
    /// (lowest, highest) per-round ours/hand-written, to show the noise.
    ours_over_hand_range: (f64, f64),
    /// Rounds timed (fewer than asked for where a round is long).
    rounds: usize,
    /// Other references: (what it is, seconds, ours/it, it/primal).
    references: Vec<(&'static str, f64, f64, f64)>,
}

/// Times the variants of `w` in `rounds` interleaved rounds, fewer (but at
/// least 5) where a round takes so long that they would exceed `budget`.
fn measure(w: &mut Workload, rounds: usize, batch: Duration, budget: Duration) -> Row {
    let mut variants: Vec<&mut dyn FnMut()> = vec![&mut *w.ours, &mut *w.primal, &mut *w.hand];
    for (_, reference) in &mut w.references {
        variants.push(&mut **reference);
    }
    let (reps, per_call): (Vec<usize>, Vec<f64>) =
        variants.iter_mut().map(|f| calibrate(*f, batch)).unzip();
    let round_seconds: f64 = reps.iter().zip(&per_call).map(|(&r, t)| r as f64 * t).sum();
    let rounds = rounds.min(((budget.as_secs_f64() / round_seconds) as usize).max(5));
    let mut times = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let which = (round + k) % variants.len();
            times[which].push(time_batch(variants[which], reps[which]));
        }
    }
    let per_round = |a: usize, b: usize| -> Vec<f64> {
        times[a].iter().zip(&times[b]).map(|(x, y)| x / y).collect()
    };
    let mut ours_over_hand = per_round(0, 2);
    let ours_over_hand_range = (
        ours_over_hand.iter().copied().fold(f64::INFINITY, f64::min),
        ours_over_hand.iter().copied().fold(0.0, f64::max),
    );
    Row {
        name: w.name.clone(),
        ours: median(&mut times[0].clone()),
        primal: median(&mut times[1].clone()),
        hand: median(&mut times[2].clone()),
        ours_over_primal: median(&mut per_round(0, 1)),
        ours_over_hand: median(&mut ours_over_hand),
        hand_over_primal: w.hand_shares_primal.then(|| median(&mut per_round(2, 1))),
        tape_per_step: None,
        retained: None,
        ours_over_hand_range,
        rounds,
        references: w
            .references
            .iter()
            .enumerate()
            .map(|(r, (what, _))| {
                (
                    *what,
                    median(&mut times[3 + r].clone()),
                    median(&mut per_round(0, 3 + r)),
                    median(&mut per_round(3 + r, 1)),
                )
            })
            .collect(),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| workload       | gradient (s) | primal (s) | gradient/primal | hand-written (s) | ours/hand-written | hand/primal | tape B/step (allocated, live) |"
    );
    println!(
        "|----------------|--------------|------------|-----------------|------------------|-------------------|-------------|-------------------------------|"
    );
    for r in rows {
        let hand_over_primal = r
            .hand_over_primal
            .map_or("-".to_string(), |v| format!("{v:.2}"));
        let tape = r
            .tape_per_step
            .map_or("-".to_string(), |(a, l)| format!("{a:.1}, {l:.1}"));
        println!(
            "| {:<14} | {:>12.2e} | {:>10.2e} | {:>15.2} | {:>16.2e} | {:>17.2} | {:>11} | {:>29} |",
            r.name,
            r.ours,
            r.primal,
            r.ours_over_primal,
            r.hand,
            r.ours_over_hand,
            hand_over_primal,
            tape
        );
    }
}

struct Options {
    rounds: usize,
    batch: Duration,
    check_only: bool,
    only: Vec<String>,
    /// `--profile VARIANT SECONDS`: run only that variant (`ours`, `primal`,
    /// `hand`, or `ref1`, `ref2`, .. for the references) of the selected
    /// workloads, for a profiler to watch.
    profile: Option<(String, f64)>,
    /// `--row-seconds S`: at most about S seconds of rounds per row (but at
    /// least 5 rounds).
    row_budget: Duration,
    /// `--tape-budget-gib G`: skip a row whose pullback would hold more.
    tape_budget: f64,
}

fn options() -> Options {
    let mut options = Options {
        rounds: 21,
        batch: Duration::from_millis(20),
        check_only: false,
        only: Vec::new(),
        profile: None,
        row_budget: Duration::from_secs(30),
        tape_budget: 2.0 * (1u64 << 30) as f64,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                options.rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds takes a number");
            }
            "--batch-ms" => {
                let ms = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--batch-ms takes a number");
                options.batch = Duration::from_millis(ms);
            }
            "--check-only" => options.check_only = true,
            "--row-seconds" => {
                let seconds: f64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--row-seconds takes a number");
                options.row_budget = Duration::from_secs_f64(seconds);
            }
            "--tape-budget-gib" => {
                let gib: f64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--tape-budget-gib takes a number");
                options.tape_budget = gib * (1u64 << 30) as f64;
            }
            "--profile" => {
                let variant = args.next().expect("--profile takes a variant and seconds");
                let seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--profile takes a variant and seconds");
                options.profile = Some((variant, seconds));
            }
            "--quick" => {
                options.rounds = 5;
                options.batch = Duration::from_millis(5);
            }
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            filter if !filter.starts_with('-') => options.only.push(filter.to_lowercase()),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

fn main() -> ExitCode {
    let options = options();
    let inputs = inputs();

    let checks = run_checks(&inputs);
    if !checks.failures.is_empty() {
        eprintln!("CORRECTNESS CHECKS FAILED — no timing was done:");
        for failure in &checks.failures {
            eprintln!("  {failure}");
        }
        return ExitCode::FAILURE;
    }
    println!(
        "checks passed: every gradient equals the hand-written one (1e-9 relative); \
         W1 = 409600; W2 gradients add up to 0.317977768; GMM's hand-written gradient \
         equals central differences (1e-6 relative) in every coordinate"
    );
    if options.check_only {
        return ExitCode::SUCCESS;
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{} rounds, batches of ≥ {} ms, medians; {threads} hardware threads\n",
        options.rounds,
        options.batch.as_millis()
    );
    let mut rows = Vec::new();
    for mut w in workloads(&inputs) {
        let selected = options.only.is_empty()
            || options.only.iter().any(|f| {
                let dashed = w.name.to_lowercase().replace(' ', "-");
                dashed.starts_with(f.as_str())
                    || w.name.to_lowercase().starts_with(f.as_str())
                    // A later word of the name (`kernel` for the Q·x rows).
                    || dashed.contains(&format!("-{f}"))
            });
        if !selected {
            continue;
        }
        if let Some((variant, seconds)) = &options.profile {
            let f: &mut dyn FnMut() = match variant.as_str() {
                "ours" => &mut *w.ours,
                "primal" => &mut *w.primal,
                "hand" => &mut *w.hand,
                other => match other
                    .strip_prefix("ref")
                    .and_then(|r| r.parse::<usize>().ok())
                {
                    Some(r) if (1..=w.references.len()).contains(&r) => &mut *w.references[r - 1].1,
                    _ => panic!("--profile: no variant {other} (ours, primal, hand, ref1, ..)"),
                },
            };
            let start = Instant::now();
            let mut calls = 0u64;
            while start.elapsed().as_secs_f64() < *seconds {
                f();
                calls += 1;
            }
            println!(
                "{} {variant}: {calls} calls, {:.3e} s per call",
                w.name,
                start.elapsed().as_secs_f64() / calls as f64
            );
            continue;
        }
        if let Some(estimate) = &w.live_estimate {
            let bytes = estimate();
            if bytes > options.tape_budget {
                println!(
                    "{}: not timed: its pullback would hold {:.1} GiB (estimated from 10 points; \
                     --tape-budget-gib {:.0} to allow it)",
                    w.name,
                    bytes / (1u64 << 30) as f64,
                    options.tape_budget / (1u64 << 30) as f64,
                );
                continue;
            }
        }
        if let Some(check) = &w.check
            && let Err(e) = check()
        {
            eprintln!(
                "CORRECTNESS CHECK FAILED on the timed input of {}: {e}",
                w.name
            );
            return ExitCode::FAILURE;
        }
        let mut row = measure(&mut w, options.rounds, options.batch, options.row_budget);
        let (allocated, retained, _peak) = (w.tape)();
        row.retained = w.tape_visible.then_some(retained);
        row.tape_per_step = w
            .steps
            .map(|n| (allocated as f64 / n as f64, retained as f64 / n as f64));
        rows.push(row);
    }
    if rows.is_empty() {
        return ExitCode::SUCCESS;
    }
    print_table(&rows);
    println!();
    for r in &rows {
        let held = r.retained.map_or(String::new(), |bytes| {
            format!("; the pullback holds {:.1} KiB", bytes as f64 / 1024.0)
        });
        println!(
            "{}: ours/hand-written ranged {:.2}–{:.2} over {} rounds{held}",
            r.name, r.ours_over_hand_range.0, r.ours_over_hand_range.1, r.rounds,
        );
        for (what, seconds, ours_over, over_primal) in &r.references {
            println!(
                "    beside a {what}: {seconds:.2e} s; ours/it {ours_over:.2}; it/primal {over_primal:.2}"
            );
        }
    }
    ExitCode::SUCCESS
}
