// Iterating a row `m[i]` is lowered to reads `m[i][k]`; when the loop body
// changes `i`, that would read another row than the one Rust evaluated once,
// so it is refused (third user trial).
use autodiff::differentiable;

#[differentiable]
fn row_index_changes(m: &[Vec<f64>]) -> f64 {
    let mut i = 0;
    let mut s = 0.0;
    for v in m[i].iter() {
        s += v * (i as f64 + 1.0);
        i += 1;
    }
    s
}

fn main() {}
