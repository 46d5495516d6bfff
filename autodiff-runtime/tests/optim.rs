//! The optimisers against their documented updates (PyTorch's
//! `torch.optim.SGD` and `torch.optim.Adam`), step by step, on quadratics.
//!
//! The SGD numbers are worked out by hand in the comments; the Adam numbers
//! come from the textbook form of the update (`θ − γ m̂ / (√v̂ + ε)`, not the
//! rearranged form the optimiser computes) in 60-digit decimal arithmetic;
//! f64 rounding (1 − β₁ is 0.09999999999999998) leaves them within 1e-13 of
//! each other, far below the effect of any option (weight decay 0.1 moves the
//! first step by 2e-11).

#![allow(clippy::excessive_precision)] // the reference values, as computed

use autodiff_runtime::Tensor;
use autodiff_runtime::optim::{Adam, Optimizer, Parameters, Sgd};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

#[track_caller]
fn assert_close(got: f64, want: f64, rel: f64) {
    assert!(close(got, want, rel), "got {got:e}, want {want:e}");
}

/// Runs `steps` steps on f(x) = x² (gradient 2x) from x = 1, returning x
/// after each step.
fn on_square(opt: &mut impl Optimizer, steps: usize) -> Vec<f64> {
    let mut x = 1.0;
    (0..steps)
        .map(|_| {
            let g = 2.0 * x;
            opt.step(&mut x, &g);
            x
        })
        .collect()
}

#[test]
fn sgd_plain() {
    // x ← x − 0.1·2x = 0.8x.
    let xs = on_square(&mut Sgd::new(0.1), 3);
    for (got, want) in xs.iter().zip([0.8, 0.64, 0.512]) {
        assert_close(*got, want, 1e-15);
    }
}

#[test]
fn sgd_momentum_and_dampening() {
    // μ = 0.9, τ = 0.1, γ = 0.1:
    // t=1: g = 2,     b = 2 (no dampening on the first step), x = 0.8
    // t=2: g = 1.6,   b = 0.9·2 + 0.9·1.6 = 3.24,             x = 0.8 − 0.324 = 0.476
    // t=3: g = 0.952, b = 0.9·3.24 + 0.9·0.952 = 3.7728,      x = 0.476 − 0.37728 = 0.09872
    let xs = on_square(&mut Sgd::new(0.1).momentum(0.9).dampening(0.1), 3);
    for (got, want) in xs.iter().zip([0.8, 0.476, 0.09872]) {
        assert_close(*got, want, 1e-14);
    }
}

#[test]
fn sgd_nesterov() {
    // μ = 0.9, γ = 0.1, the step uses g + μ b:
    // t=1: g = 2,      b = 2,                     d = 2 + 1.8 = 3.8,            x = 0.62
    // t=2: g = 1.24,   b = 1.8 + 1.24 = 3.04,     d = 1.24 + 2.736 = 3.976,     x = 0.2224
    // t=3: g = 0.4448, b = 2.736 + 0.4448 = 3.1808, d = 0.4448 + 2.86272 = 3.30752, x = −0.108352
    let xs = on_square(&mut Sgd::new(0.1).momentum(0.9).nesterov(true), 3);
    for (got, want) in xs.iter().zip([0.62, 0.2224, -0.108352]) {
        assert_close(*got, want, 1e-14);
    }
}

#[test]
fn sgd_weight_decay() {
    // λ = 0.1, μ = 0.5, γ = 0.1: the gradient becomes 2x + 0.1x = 2.1x.
    // t=1: d = 2.1,   b = 2.1,                x = 1 − 0.21 = 0.79
    // t=2: d = 1.659, b = 1.05 + 1.659 = 2.709, x = 0.79 − 0.2709 = 0.5191
    let xs = on_square(&mut Sgd::new(0.1).momentum(0.5).weight_decay(0.1), 2);
    for (got, want) in xs.iter().zip([0.79, 0.5191]) {
        assert_close(*got, want, 1e-14);
    }
}

#[test]
fn sgd_maximize_ascends() {
    // f(x) = −x², gradient −2x; ascending: x ← x + 0.1·(−2x) = 0.8x.
    let mut x = 1.0;
    let mut opt = Sgd::new(0.1).maximize(true);
    let g = -2.0 * x;
    opt.step(&mut x, &g);
    assert_close(x, 0.8, 1e-15);
}

#[test]
fn sgd_defaults_are_pytorchs() {
    let mut x = 1.0;
    let mut opt = Sgd::default();
    assert_eq!(opt.learning_rate(), 1e-3);
    opt.step(&mut x, &1.0);
    assert_eq!(x, 1.0 - 1e-3);
}

#[test]
#[should_panic(expected = "Nesterov momentum requires a momentum and zero dampening")]
fn sgd_nesterov_needs_momentum() {
    Sgd::new(0.1).nesterov(true).step(&mut 1.0, &1.0);
}

#[test]
#[should_panic(expected = "Invalid learning rate: -0.1")]
fn sgd_negative_lr() {
    Sgd::new(-0.1);
}

/// Adam on f(x, y) = x² + 10y² (gradient (2x, 20y)) from (1, 1).
fn adam_on_ellipse(mut opt: Adam) -> Vec<[f64; 2]> {
    let mut p = [1.0, 1.0];
    (0..3)
        .map(|_| {
            let g = [2.0 * p[0], 20.0 * p[1]];
            opt.step(&mut p, &g);
            p
        })
        .collect()
}

#[test]
fn adam_steps() {
    // Both coordinates move by about lr per step whatever their curvature
    // (that is Adam); they differ by ε's share of the denominator.
    let want = [
        [9.00000000499999997500e-1, 9.00000000049999999975e-1],
        [8.00412228691792145237e-1, 8.00412227773301414812e-1],
        [7.01586272946029545164e-1, 7.01586271543483328395e-1],
    ];
    let got = adam_on_ellipse(Adam::new(0.1));
    for (g, w) in got.iter().zip(want) {
        assert_close(g[0], w[0], 1e-13);
        assert_close(g[1], w[1], 1e-13);
    }
}

#[test]
fn adam_weight_decay() {
    let want = [
        [9.00000000476190473923e-1, 9.00000000049751243756e-1],
        [8.00412228643194752310e-1, 8.00412227772793680852e-1],
        [7.01586272871820750973e-1, 7.01586271542708012627e-1],
    ];
    let got = adam_on_ellipse(Adam::new(0.1).weight_decay(0.1));
    for (g, w) in got.iter().zip(want) {
        assert_close(g[0], w[0], 1e-13);
        assert_close(g[1], w[1], 1e-13);
    }
}

#[test]
fn adam_amsgrad_keeps_the_largest_second_moment() {
    // Gradients 10, 0.1, 0.1 (v falls after the first step, v_max does not).
    let run = |opt: Adam| {
        let mut opt = opt;
        let mut x = 0.0;
        [10.0, 0.1, 0.1]
            .iter()
            .map(|g| {
                opt.step(&mut x, g);
                x
            })
            .collect::<Vec<_>>()
    };
    let with = run(Adam::new(0.1).amsgrad(true));
    let without = run(Adam::new(0.1));
    let want_with = [
        -9.99999999000000001000e-2,
        -1.67716450748854269589e-1,
        -2.20674098047311740946e-1,
    ];
    let want_without = [
        -9.99999999000000001000e-2,
        -1.67746943736003879420e-1,
        -2.20752293461742599611e-1,
    ];
    for i in 0..3 {
        assert_close(with[i], want_with[i], 1e-13);
        assert_close(without[i], want_without[i], 1e-13);
    }
}

#[test]
fn adam_defaults_are_pytorchs() {
    // The first step of Adam moves by lr·g/(|g| + ε/…): with PyTorch's
    // lr = 1e-3 and ε = 1e-8, x = 1 − 1e-3·2/(2 + 1e-8).
    let mut x = 1.0;
    let mut opt = Adam::default();
    opt.step(&mut x, &2.0);
    assert_close(x, 1.0 - 1e-3 * 2.0 / (2.0 + 1e-8), 1e-15);
    assert_eq!(opt.steps(), 1);
    opt.reset();
    assert_eq!(opt.steps(), 0);
}

#[test]
#[should_panic(expected = "Invalid beta parameter at index 1: 1")]
fn adam_beta_out_of_range() {
    Adam::default().betas(0.9, 1.0);
}

/// Tensors, vectors, arrays and scalars in one tuple get the same update as
/// each would alone: the optimiser's state follows the leaves.
#[test]
fn nested_parameters_match_separate_runs() {
    let w0 = Tensor::from([[1.0, -2.0], [0.5, 3.0]]);
    let v0 = vec![0.25, -4.0];
    let grad_w = |w: &Tensor| w * 2.0 + 1.0;
    let grad_v = |v: &Vec<f64>| v.iter().map(|x| x.sin()).collect::<Vec<_>>();
    let grad_s = |s: f64| 3.0 * s * s;

    let mut together = (w0.clone(), v0.clone(), 0.5);
    let mut opt = Adam::new(0.05);
    let (mut w, mut v, mut s) = (w0, v0, 0.5);
    let (mut ow, mut ov, mut os) = (Adam::new(0.05), Adam::new(0.05), Adam::new(0.05));
    for _ in 0..5 {
        let g = (grad_w(&together.0), grad_v(&together.1), grad_s(together.2));
        opt.step(&mut together, &g);
        let (gw, gv, gs) = (grad_w(&w), grad_v(&v), grad_s(s));
        ow.step(&mut w, &gw);
        ov.step(&mut v, &gv);
        os.step(&mut s, &gs);
    }
    assert_eq!(together, (w, v, s));
}

#[test]
#[should_panic(
    expected = "the parameters have 3 numbers, but the optimiser's state was made for 2"
)]
fn state_size_is_checked() {
    let mut opt = Adam::default();
    opt.step(&mut vec![1.0, 2.0], &vec![1.0, 1.0]);
    opt.step(&mut vec![1.0, 2.0, 3.0], &vec![1.0, 1.0, 1.0]);
}

#[test]
fn slices_and_references() {
    let mut buf = [1.0, 2.0, 3.0];
    let slice: &mut [f64] = &mut buf[1..];
    Sgd::new(1.0).step(slice, &[1.0, 1.0][..]);
    assert_eq!(buf, [1.0, 1.0, 2.0]);
    let g = vec![1.0; 3];
    assert_eq!(g.inner(&g), 3.0);
}

/// Nested containers (a `Vec` of layers, each a tuple) walk their numbers
/// in order: the optimiser gives the same numbers as on one flat vector.
#[test]
fn nested_containers_match_a_flat_vector() {
    let grad_of = |flat: &[f64]| flat.iter().map(|x| x.cos() + 0.5 * x).collect::<Vec<_>>();
    let mut flat = vec![0.5, -1.0, 2.0, 0.25, 1.5, -0.75];
    let mut nested = vec![
        (Tensor::from([0.5, -1.0]), [2.0]),
        (Tensor::from([0.25, 1.5]), [-0.75]),
    ];
    let flatten = |n: &Vec<(Tensor, [f64; 1])>| {
        let mut v = vec![];
        n.leaves(&mut |l| v.extend_from_slice(l));
        v
    };
    let (mut a, mut b) = (Adam::new(0.1).amsgrad(true), Adam::new(0.1).amsgrad(true));
    for _ in 0..4 {
        let g = grad_of(&flat);
        a.step(&mut flat, &g);
        let g = grad_of(&flatten(&nested));
        let g = vec![
            (Tensor::from([g[0], g[1]]), [g[2]]),
            (Tensor::from([g[3], g[4]]), [g[5]]),
        ];
        b.step(&mut nested, &g);
    }
    assert_eq!(flatten(&nested), flat);
}
