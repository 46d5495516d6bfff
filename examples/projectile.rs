//! A real program: the best launch angle of a projectile with air drag,
//! found by gradient ascent through a simulation that runs until it lands.
//!
//! The loop's trip count depends on the input (the flight lasts as long as
//! it lasts), which is what reverse mode in JAX cannot compile; here the
//! macro differentiates it as written.
//!
//! Run: `cargo run --release --example projectile`

use autodiff::differentiable;

/// Horizontal distance flown, by explicit Euler steps of `dt` seconds, with
/// quadratic drag `drag · |v| · v`, until the projectile is back at height 0.
///
/// The landing point is interpolated between the last two steps: without
/// that, the distance would jump by one step's length whenever the flight
/// gains a step, and its derivative between jumps (the distance after a
/// fixed number of steps) would say nothing about the best angle.
#[differentiable(wrt(angle))]
fn distance(angle: f64, speed: f64, drag: f64, dt: f64) -> f64 {
    let mut x = 0.0;
    let mut y = 0.0;
    let (mut last_x, mut last_y) = (x, y);
    let mut vx = speed * angle.cos();
    let mut vy = speed * angle.sin();
    let mut steps = 0;
    while y >= 0.0 && steps < 1_000_000 {
        last_x = x;
        last_y = y;
        let v = (vx * vx + vy * vy).sqrt();
        vx = vx - dt * drag * v * vx;
        vy = vy - dt * (9.81 + drag * v * vy);
        x = x + dt * vx;
        y = y + dt * vy;
        steps += 1;
    }
    // Where the segment from (last_x, last_y) to (x, y) crosses y = 0.
    x - (x - last_x) * y / (y - last_y)
}

fn main() {
    let (speed, drag, dt) = (50.0, 0.01, 1e-3);
    let mut angle: f64 = 0.2;
    let rate = 4e-4;
    println!("step  angle (deg)  distance (m)  d distance / d angle");
    for step in 0..100 {
        let (d, slope) = distance::value_and_grad(angle, speed, drag, dt);
        if step % 20 == 0 {
            println!(
                "{step:4}  {:11.3}  {d:12.3}  {slope:20.3}",
                angle.to_degrees()
            );
        }
        angle += rate * slope;
    }
    let (d, slope) = distance::value_and_grad(angle, speed, drag, dt);
    println!(
        "best angle {:.2}° flies {d:.2} m (slope {slope:.2e}); without drag it would be 45°",
        angle.to_degrees()
    );

    // The gradient against central differences at the start.
    let h = 1e-6;
    let numeric =
        (distance(0.2 + h, speed, drag, dt) - distance(0.2 - h, speed, drag, dt)) / (2.0 * h);
    let exact = distance::grad(0.2, speed, drag, dt);
    println!("check at 0.2 rad: pullback {exact:.6}, central differences {numeric:.6}");
}
