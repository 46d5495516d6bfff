//! A three-link planar robot arm reaching a target: gradient descent on the
//! joint angles through nalgebra forward kinematics, differentiated by
//! `#[differentiable]` as written.
//!
//! `cargo run --release --example robot_arm` prints the path of the end
//! effector every few steps and where it ends.

use autodiff::differentiable;
use nalgebra::{Rotation2, Vector2};

/// Where the end effector is: each link rotates by its joint angle relative
/// to the previous link.
#[differentiable(wrt(angles))]
fn end_effector(angles: &[f64], lengths: &[f64]) -> Vector2<f64> {
    let mut tip = Vector2::new(0.0, 0.0);
    let mut heading = 0.0;
    for i in 0..angles.len() {
        heading += angles[i];
        let link = Rotation2::new(heading) * Vector2::new(lengths[i], 0.0);
        tip = tip + link;
    }
    tip
}

/// Squared distance to the target, plus a little effort on the joints.
#[differentiable(wrt(angles))]
fn cost(angles: &[f64], lengths: &[f64], target: Vector2<f64>) -> f64 {
    let tip = end_effector(angles, lengths);
    let mut effort = 0.0;
    for a in angles.iter() {
        effort += a * a;
    }
    (tip - target).norm_squared() + 1e-4 * effort
}

fn main() {
    let lengths = [1.0, 0.8, 0.5];
    let target = Vector2::new(0.9, 1.4);
    let mut angles = vec![0.1, 0.1, 0.1];
    let rate = 0.2;
    for step in 0..=200 {
        let tip = end_effector(&angles, &lengths);
        if step % 25 == 0 {
            println!(
                "step {step:3}: tip ({:.4}, {:.4}), distance {:.2e}",
                tip.x,
                tip.y,
                (tip - target).norm()
            );
        }
        let g = cost::grad(&angles, &lengths, target);
        for (a, g) in angles.iter_mut().zip(&g) {
            *a -= rate * g;
        }
    }
    let tip = end_effector(&angles, &lengths);
    println!(
        "end: angles {angles:.4?}, tip ({:.4}, {:.4}), target ({}, {})",
        tip.x, tip.y, target.x, target.y
    );
    assert!((tip - target).norm() < 1e-2, "the arm reaches the target");
}
