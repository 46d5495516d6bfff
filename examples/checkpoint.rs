//! Checkpointing a long loop: W2's recurrence, x ← x + 0.01 (p sin x − 0.1 x²),
//! at 10⁶ steps, with and without `#[checkpoint]` — the memory the forward
//! pass keeps for the reverse, and the time of a gradient.
//!
//! `cargo run --release --example checkpoint` (`-- --steps N` for another size).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use autodiff::differentiable;

/// Counts the bytes live at once (the peak), to measure the tape.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[differentiable]
fn taped(x0: f64, p: f64, n: usize) -> f64 {
    let mut x = x0;
    for _ in 0..n {
        x = x + 0.01 * (p * x.sin() - 0.1 * x * x);
    }
    x
}

#[differentiable]
fn checkpointed(x0: f64, p: f64, n: usize) -> f64 {
    let mut x = x0;
    #[checkpoint]
    for _ in 0..n {
        x = x + 0.01 * (p * x.sin() - 0.1 * x * x);
    }
    x
}

/// Peak bytes above what was live before, and the median seconds of a gradient.
fn measure(grad: impl Fn() -> (f64, f64), rounds: usize) -> (usize, f64, (f64, f64)) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let g = grad();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(grad());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (peak, times[rounds / 2], g)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .iter()
        .position(|a| a == "--steps")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000usize);
    let rounds = if n > 100_000 { 7 } else { 21 };
    let (peak_t, time_t, g_t) = measure(|| taped::grad(0.5, 1.3, n), rounds);
    let (peak_c, time_c, g_c) = measure(|| checkpointed::grad(0.5, 1.3, n), rounds);
    assert_eq!(g_t, g_c, "the same gradient, bit for bit");
    println!(
        "W2 at n = {n} steps (gradient ({:.9}, {:.9}))",
        g_t.0, g_t.1
    );
    println!("| variant | kept for the reverse (peak bytes) | per step | gradient (s) |");
    println!("|---|---|---|---|");
    println!(
        "| taped | {peak_t} | {:.1} B | {time_t:.3e} |",
        peak_t as f64 / n.max(1) as f64
    );
    println!(
        "| #[checkpoint] (every √n = {}) | {peak_c} | {:.2} B | {time_c:.3e} |",
        (n as f64).sqrt().ceil(),
        peak_c as f64 / n.max(1) as f64
    );
    println!(
        "memory {:.0}× smaller, time {:.2}× the taped gradient",
        peak_t as f64 / peak_c.max(1) as f64,
        time_c / time_t
    );
}
