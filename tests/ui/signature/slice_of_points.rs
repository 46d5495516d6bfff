// Particles as a slice of nalgebra points: not differentiated yet (slices
// and Vecs of fixed-size vectors and matrices are), and the message says
// what to pass instead (found by the third user trial).
use autodiff::differentiable;
use nalgebra::Point3;

#[differentiable]
fn coulomb(pos: &[Point3<f64>]) -> f64 {
    let mut e = 0.0;
    for i in 0..pos.len() {
        for j in (i + 1)..pos.len() {
            e += 1.0 / (pos[i] - pos[j]).norm();
        }
    }
    e
}

fn main() {}
