//! The Rust people already write — iterator chains, closures, scratch
//! buffers — differentiated as written. Each form is checked against central
//! differences (seeded directions) and, where it is exact, an analytic value.

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};

const XS: [f64; 4] = [0.3, -0.5, 0.8, 1.2];

fn config() -> GradCheckConfig {
    GradCheckConfig::default().directions(5).seed(21)
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

/// Checks a function of one slice against central differences at XS.
macro_rules! check_slice {
    ($f:ident) => {
        check_vjp_with(
            config(),
            |x: &Vec<f64>| $f(x),
            |x: &Vec<f64>, v: f64| $f::vjp(x).1(v),
            &XS.to_vec(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", stringify!($f)))
    };
}

// ---------------------------------------------------------------- iterator chains

#[differentiable]
fn map_sum(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>()
}

#[differentiable]
fn fold_weighted(x: &[f64], w: f64) -> f64 {
    x.iter().fold(0.0, |acc, v| acc + v * w)
}

#[differentiable]
fn product(x: &[f64]) -> f64 {
    x.iter().product::<f64>()
}

#[differentiable]
fn copied_max(x: &[f64]) -> f64 {
    x.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

#[differentiable]
fn windows_diff(x: &[f64]) -> f64 {
    x.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>()
}

#[differentiable]
fn zip_map_sum(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y.iter()).map(|(a, b)| a * b).sum::<f64>()
}

#[differentiable]
fn enumerate_filter(x: &[f64]) -> f64 {
    x.iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, v)| (i as f64 + 1.0) * v.sin())
        .sum::<f64>()
}

#[differentiable]
fn range_map_sum(x: &[f64]) -> f64 {
    (0..x.len() - 1)
        .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
        .sum::<f64>()
}

#[differentiable]
fn rev_fold(x: &[f64], t: f64) -> f64 {
    x.iter().rev().fold(0.0, |s, &c| s * t + c)
}

#[test]
fn iterator_chains() {
    close(&map_sum::grad(&XS), &[0.6, -1.0, 1.6, 2.4]);
    let (dx, dw) = fold_weighted::grad(&XS, 2.0);
    close(&dx, &[2.0; 4]);
    close(&[dw], &[XS.iter().sum()]);
    let p: f64 = XS.iter().product();
    close(&product::grad(&XS), &XS.map(|v| p / v));
    close(&copied_max::grad(&XS), &[0.0, 0.0, 0.0, 1.0]);
    check_slice!(windows_diff);
    let y = [1.0, 2.0, 3.0, 4.0];
    let (dx, dy) = zip_map_sum::grad(&XS, &y);
    close(&dx, &y);
    close(&dy, &XS);
    close(
        &enumerate_filter::grad(&XS),
        &[XS[0].cos(), 0.0, 3.0 * XS[2].cos(), 0.0],
    );
    check_slice!(enumerate_filter);
    check_slice!(range_map_sum);
    let (dc, _) = rev_fold::grad(&XS, 0.5);
    close(&dc, &[1.0, 0.5, 0.25, 0.125]);
}

// ---------------------------------------------------------------- closures

#[differentiable]
fn closure_called(x: f64, y: f64) -> f64 {
    let sq = |v: f64| v * v;
    sq(x) + sq(y) * 3.0
}

#[differentiable]
fn closure_capturing(x: f64, w: f64) -> f64 {
    let scaled = |v: f64| (v * w).sin();
    scaled(x) + scaled(x * x)
}

#[differentiable]
fn closure_in_loop(x: &[f64]) -> f64 {
    let f = |a: f64, b: f64| a * b + b;
    let mut s = 0.0;
    for i in 0..x.len() {
        s += f(x[i], s * 0.5);
    }
    s
}

#[test]
fn closures_are_inlined() {
    assert_eq!(closure_called::grad(0.7, 2.0), (1.4, 12.0));
    check_vjp_with(
        config(),
        |(x, w): &(f64, f64)| closure_capturing(*x, *w),
        |(x, w): &(f64, f64), v: f64| closure_capturing::vjp(*x, *w).1(v),
        &(0.7, 1.3),
    )
    .unwrap();
    check_slice!(closure_in_loop);
}

// ---------------------------------------------------------------- scratch buffers written in place

#[differentiable]
fn scratch_vec(a: &[f64], w: f64) -> f64 {
    let n = a.len();
    let mut buf = vec![0.0; n];
    for i in 0..n {
        buf[i] = a[i] * w;
    }
    let mut s = 0.0;
    for j in 0..n {
        buf[j] += buf[(j + 1) % n] * 0.5;
        s += buf[j] * buf[j];
    }
    s
}

#[differentiable]
fn overwritten_element(x: f64) -> f64 {
    let mut buf = [0.0; 2];
    buf[0] = x * 3.0;
    let y = buf[0] * x;
    buf[0] = x * x;
    buf[1] = 2.0;
    y + buf[0] * buf[1]
}

#[differentiable]
fn multiply_in_place(x: &[f64]) -> f64 {
    let mut buf = x.to_vec();
    for i in 0..buf.len() {
        buf[i] *= x[i] + 1.0;
        buf[i] -= 0.5 * x[0];
    }
    let mut s = 0.0;
    for v in buf.iter() {
        s += v.sin();
    }
    s
}

#[differentiable]
fn multiply_in_place_copied(x: &[f64]) -> f64 {
    let mut buf = vec![0.0; x.len()];
    for i in 0..x.len() {
        buf[i] = x[i];
    }
    for i in 0..buf.len() {
        buf[i] *= x[i] + 1.0;
        buf[i] -= 0.5 * x[0];
    }
    let mut s = 0.0;
    for v in buf.iter() {
        s += v.sin();
    }
    s
}

#[differentiable]
fn pushed(x: &[f64]) -> f64 {
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        out.push(x[i] * x[i]);
    }
    let mut s = 0.0;
    for v in out.iter() {
        s += v * 2.0;
    }
    s
}

#[differentiable]
fn literals(x: f64, y: f64) -> f64 {
    let a = [x, y * 2.0, 3.0];
    let v = vec![x * y, a[1]];
    a[0] * v[0] + v[1] * a[2]
}

#[differentiable]
fn array_destructured(x: f64) -> f64 {
    let arr = [x, x * x];
    let [p, q] = arr;
    p * q
}

#[differentiable]
fn vec_output(x: &[f64], w: f64) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for i in 0..x.len() {
        out[i] = x[i] * w + x[i].powi(2);
    }
    out
}

#[differentiable]
fn array_output(x: f64) -> [f64; 2] {
    [x.sin(), x * x]
}

#[test]
fn scratch_buffers_written_in_place() {
    check_vjp_with(
        config(),
        |(a, w): &(Vec<f64>, f64)| scratch_vec(a, *w),
        |(a, w): &(Vec<f64>, f64), v: f64| scratch_vec::vjp(a, *w).1(v),
        &(XS.to_vec(), 1.3),
    )
    .unwrap();
    // y = 3x², then buf[0] = x², buf[1] = 2: f = 3x² + 2x² → 10x.
    close(&[overwritten_element::grad(0.7)], &[7.0]);
    check_slice!(multiply_in_place_copied);
    check_slice!(multiply_in_place);
    check_slice!(pushed);
    close(&pushed::grad(&XS), &XS.map(|v| 4.0 * v));
    // f = x²y + 6y  → (2xy, x² + 6)
    let (dx, dy) = literals::grad(0.7, 2.0);
    close(&[dx, dy], &[2.8, 6.49]);
    close(&[array_destructured::grad(0.7)], &[3.0 * 0.49]);
    // One-hot cotangents give the Jacobian row by row (note 001's pattern).
    let x = [0.5, -1.0];
    for k in 0..2 {
        let mut e = vec![0.0; 2];
        e[k] = 1.0;
        let (dx, dw) = vec_output::vjp(&x, 2.0).1(e);
        let mut row = vec![0.0; 2];
        row[k] = 2.0 + 2.0 * x[k];
        close(&dx, &row);
        close(&[dw], &[x[k]]);
    }
    assert_eq!(array_output::vjp(0.7).1([1.0, 0.0]), 0.7f64.cos());
    assert_eq!(array_output::vjp(0.7).1([0.0, 1.0]), 1.4);
}

// Forms that were compile errors before and are differentiated now.

#[differentiable]
fn array_pattern_of_literal(x: f64) -> f64 {
    let [a, b] = [x, x * 2.0];
    a * b
}

#[differentiable]
fn closure_capturing_active(x: f64) -> f64 {
    let scale = |t: f64| t * x;
    scale(3.0)
}

#[differentiable]
fn element_assigned(x: f64) -> f64 {
    let mut v = [0.0; 2];
    v[0] = x * 2.0;
    v[0] + v[1]
}

#[differentiable]
fn vec_literal(x: f64) -> f64 {
    let v = vec![x, 2.0 * x];
    v[0] + v[1]
}

#[differentiable]
fn pushed_and_summed(x: f64) -> f64 {
    let mut values = Vec::new();
    values.push(x * 2.0);
    values.iter().sum()
}

#[test]
fn once_refused_now_differentiated() {
    close(&[array_pattern_of_literal::grad(0.7)], &[2.8]);
    assert_eq!(closure_capturing_active::grad(0.7), 3.0);
    assert_eq!(element_assigned::grad(0.7), 2.0);
    assert_eq!(vec_literal::grad(0.7), 3.0);
    assert_eq!(pushed_and_summed::grad(0.7), 2.0);
}

// ---------------------------------------------------------------- structs

use autodiff::{Differentiable, Tensor};

#[derive(Clone, Debug, Differentiable)]
struct Layer {
    w: Tensor,
    b: Tensor,
}

#[derive(Clone, Debug, Differentiable)]
struct Mlp {
    hidden: Layer,
    out: Layer,
    #[no_grad]
    slope: f64,
}

#[differentiable(wrt(p))]
fn mlp_loss(p: &Mlp, x: &Tensor) -> f64 {
    let h = (x.matmul(&p.hidden.w) + &p.hidden.b).tanh() * p.slope;
    let y = h.matmul(&p.out.w) + &p.out.b;
    (&y * &y).mean()
}

#[derive(Clone, Debug, Differentiable)]
struct Point {
    x: f64,
    y: f64,
    coords: [f64; 2],
}

#[differentiable]
fn point_energy(p: Point, k: f64) -> f64 {
    let mut e = 0.0;
    for i in 0..2 {
        e += p.coords[i] * p.coords[i] * k;
    }
    e + (p.x * p.y).sin()
}

#[differentiable]
fn tuple_field(pair: (f64, f64)) -> f64 {
    pair.0 * pair.1 * 3.0
}

#[test]
fn struct_parameters_get_struct_gradients() {
    let p = Mlp {
        hidden: Layer {
            w: Tensor::randn(&[3, 4], 1),
            b: Tensor::randn(&[4], 2),
        },
        out: Layer {
            w: Tensor::randn(&[4, 2], 3),
            b: Tensor::randn(&[2], 4),
        },
        slope: 0.5,
    };
    let x = Tensor::randn(&[5, 3], 5);
    let g = mlp_loss::grad(&p, &x);
    assert_eq!(g.slope, 0.5, "a #[no_grad] field is copied from the primal");
    // Central differences on each tensor of the struct.
    let h = 1e-6;
    let fields: [fn(&mut Mlp) -> &mut Tensor; 4] = [
        |m| &mut m.hidden.w,
        |m| &mut m.hidden.b,
        |m| &mut m.out.w,
        |m| &mut m.out.b,
    ];
    let grads = [&g.hidden.w, &g.hidden.b, &g.out.w, &g.out.b];
    for (field, grad) in fields.iter().zip(grads) {
        let n = field(&mut p.clone()).numel();
        for k in 0..n {
            let mut plus = p.clone();
            let mut minus = p.clone();
            let mut vp = field(&mut plus).to_vec();
            vp[k] += h;
            *field(&mut plus) = Tensor::from_vec(vp, field(&mut p.clone()).shape());
            let mut vm = field(&mut minus).to_vec();
            vm[k] -= h;
            *field(&mut minus) = Tensor::from_vec(vm, field(&mut p.clone()).shape());
            let fd = (mlp_loss(&plus, &x) - mlp_loss(&minus, &x)) / (2.0 * h);
            let ours = grad.to_vec()[k];
            assert!(
                (fd - ours).abs() < 1e-6 * (1.0 + fd.abs()),
                "{k}: {fd} vs {ours}"
            );
        }
    }
    let p = Point {
        x: 0.3,
        y: -0.8,
        coords: [1.5, -2.0],
    };
    let (gp, gk) = point_energy::grad(p.clone(), 0.5);
    let c = (p.x * p.y).cos();
    close(&[gp.x, gp.y], &[p.y * c, p.x * c]);
    close(&gp.coords, &[1.5, -2.0]);
    close(&[gk], &[1.5f64.powi(2) + 4.0]);
    assert_eq!(tuple_field::grad((2.0, 5.0)), (15.0, 6.0));
}

// ------------------------------------------- destructured struct parameters

#[derive(Clone, Debug, Differentiable)]
struct Body2 {
    x: f64,
    y: f64,
    v: Vec<f64>,
}

#[derive(Clone, Debug, Differentiable)]
struct Pair(f64, f64);

/// The parameter destructured by a struct pattern, through `&` (the names are
/// references: `*x` as the pattern binds them), with renaming and `..`.
#[differentiable]
fn destructured(b: &Body2, k: &Pair) -> f64 {
    let Body2 { x, y: height, v } = b;
    let Pair(a, _) = *k;
    (*x * height).sin() + v[0] * v[1] * a
}

/// Coordinates `.x`, `.y` of a struct value computed in the body (the macro
/// reads them as it reads a nalgebra vector's; the derive makes them fields).
#[differentiable]
fn local_coordinates(b: Body2, s: f64) -> f64 {
    let c = b.clone();
    let Body2 { v, .. } = b;
    c.x * c.y * s + v[1]
}

#[derive(Clone, Debug, Differentiable)]
struct Layer1 {
    w: Vec<f64>,
    #[no_grad]
    n: usize,
}

/// An index read from a `#[no_grad]` integer field of a differentiated
/// struct (it carries no gradient; it was refused as "an index cannot carry
/// a gradient").
#[differentiable]
fn last_weights(l: &Layer1, x: f64) -> f64 {
    l.w[l.n - 1] * x + l.w[l.n - 2]
}

#[test]
fn struct_patterns_and_local_coordinates() {
    let l = Layer1 {
        w: vec![1.0, 2.0, 3.0],
        n: 3,
    };
    let (gl, gx) = last_weights::grad(&l, 5.0);
    close(&gl.w, &[0.0, 1.0, 5.0]);
    close(&[gx], &[3.0]);
    let b = Body2 {
        x: 0.4,
        y: -1.3,
        v: vec![0.5, 2.0],
    };
    let k = Pair(1.5, 7.0);
    let (gb, gk) = destructured::grad(&b, &k);
    let c = (b.x * b.y).cos();
    close(&[gb.x, gb.y], &[b.y * c, b.x * c]);
    close(&gb.v, &[b.v[1] * k.0, b.v[0] * k.0]);
    close(&[gk.0, gk.1], &[b.v[0] * b.v[1], 0.0]);
    let (gb, gs) = local_coordinates::grad(b.clone(), 2.0);
    close(&[gb.x, gb.y, gs], &[b.y * 2.0, b.x * 2.0, b.x * b.y]);
    close(&gb.v, &[0.0, 1.0]);
}

// ---------------------------------------------------------------- methods

#[derive(Clone, Debug, Differentiable)]
struct Spring {
    k: f64,
    rest: f64,
    #[no_grad]
    name: String,
}

impl Spring {
    #[differentiable]
    fn energy(&self, x: f64) -> f64 {
        let d = x - self.rest;
        0.5 * self.k * d * d
    }

    #[differentiable]
    fn twice_energy(&self, x: f64) -> f64 {
        self.energy(x) + self.energy(x * 2.0)
    }

    #[differentiable]
    pub fn energy_sum(&self, xs: &[f64]) -> f64 {
        xs.iter()
            .map(|x| {
                let d = x - self.rest;
                0.5 * self.k * d * d
            })
            .sum::<f64>()
    }
}

#[test]
fn methods_on_differentiable_structs() {
    let s = Spring {
        k: 2.0,
        rest: 1.0,
        name: "a".into(),
    };
    let (g, dx) = s.energy_grad(1.5);
    close(&[g.k, g.rest, dx], &[0.125, -1.0, 1.0]);
    assert_eq!(g.name, "a");
    // E(x) + E(2x): k/2 (x−r)² + k/2 (2x−r)²
    let (g, dx) = s.twice_energy_grad(1.5);
    close(&[g.k, g.rest, dx], &[0.125 + 2.0, -1.0 - 4.0, 1.0 + 8.0]);
    let (v, (g, dxs)) = s.energy_sum_value_and_grad(&[1.5, 0.0]);
    close(&[v], &[0.25 + 1.0]);
    close(&[g.k, g.rest], &[0.125 + 0.5, -1.0 + 2.0]);
    close(&dxs, &[1.0, -2.0]);
}

struct Scaler {
    factor: f64,
}

impl Scaler {
    #[differentiable]
    fn scaled_square(#[no_grad] &self, x: f64) -> f64 {
        x * x * self.factor
    }
}

#[test]
fn a_method_of_a_plain_struct_with_no_grad_self() {
    let s = Scaler { factor: 3.0 };
    assert_eq!(s.scaled_square_grad(2.0), 12.0);
}

// ---------------------------------------------------------------- generics

#[differentiable]
fn weighted_norm<const N: usize>(x: [f64; N], w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..N {
        s += x[i] * x[i] * w;
    }
    s
}

#[differentiable]
fn with_schedule<F: Fn(usize) -> f64>(x: f64, schedule: F, steps: usize) -> f64 {
    let mut y = x;
    for k in 0..steps {
        y = y * schedule(k) + x;
    }
    y
}

#[test]
fn generic_functions_with_inactive_parameters() {
    let (dx, dw) = weighted_norm::grad([1.0, 2.0, 3.0], 0.5);
    close(&dx, &[1.0, 2.0, 3.0]);
    close(&[dw], &[14.0]);
    // y₀ = x; y ← y·s_k + x with s = 0.5, 0.25: y₂ = x(0.5·0.25 + 0.25 + 1)
    let g = with_schedule::grad(0.7, |k| 0.5 / (k as f64 + 1.0), 2);
    close(&[g], &[0.125 + 0.25 + 1.0]);
}

// ---------------------------------------------------------------- a matrix as rows

#[differentiable]
fn rows_quadratic(w: &[Vec<f64>], x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..w.len() {
        let mut wx = 0.0;
        for j in 0..x.len() {
            wx += w[i][j] * x[j];
        }
        s += wx * wx;
    }
    s
}

#[differentiable]
fn rows_owned(w: Vec<Vec<f64>>) -> f64 {
    let mut s = 0.0;
    for row in w.iter() {
        for v in row.iter() {
            s += v * v * v;
        }
    }
    s
}

#[test]
fn nested_vectors() {
    let w = vec![vec![1.0, 2.0], vec![-0.5, 0.3], vec![0.0, 1.5]];
    let x = [0.7, -1.1];
    let (dw, dx) = rows_quadratic::grad(&w, &x);
    for i in 0..3 {
        let wx = w[i][0] * x[0] + w[i][1] * x[1];
        close(&dw[i], &[2.0 * wx * x[0], 2.0 * wx * x[1]]);
    }
    let mut expect = [0.0; 2];
    for row in &w {
        let wx = row[0] * x[0] + row[1] * x[1];
        expect[0] += 2.0 * wx * row[0];
        expect[1] += 2.0 * wx * row[1];
    }
    close(&dx, &expect);
    let d = rows_owned::grad(w.clone());
    for i in 0..3 {
        close(&d[i], &[3.0 * w[i][0] * w[i][0], 3.0 * w[i][1] * w[i][1]]);
    }
}

// ---------------------------------------------------------------- a derived struct trained by an optimiser

#[derive(Clone, Debug, Differentiable)]
struct Line {
    m: f64,
    c: f64,
    #[no_grad]
    label: &'static str,
}

#[differentiable(wrt(line))]
fn line_loss(line: &Line, xs: &[f64], ys: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in xs.iter().zip(ys.iter()) {
        let r = line.m * x + line.c - y;
        s += r * r;
    }
    s / xs.len() as f64
}

#[test]
fn derived_structs_are_parameters_and_flat() {
    use autodiff::gradcheck::Flat;
    use autodiff::optim::{Adam, Optimizer, Parameters};
    let xs: Vec<f64> = (0..20).map(|i| i as f64 / 10.0).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 3.0 * x - 1.0).collect();
    let mut line = Line {
        m: 0.0,
        c: 0.0,
        label: "fit",
    };
    let g = line_loss::grad(&line, &xs, &ys);
    assert_eq!(g.numel(), 2);
    assert_eq!(g.flatten().len(), 2);
    let mut adam = Adam::new(0.1);
    for _ in 0..2000 {
        let g = line_loss::grad(&line, &xs, &ys);
        adam.step(&mut line, &g);
    }
    assert!(
        (line.m - 3.0).abs() < 1e-3 && (line.c + 1.0).abs() < 1e-3,
        "{line:?}"
    );
    assert_eq!(line.label, "fit");
}

// ------------------------------------------- methods of either receiver

#[derive(Clone, Copy, Debug, Differentiable)]
struct Gain {
    k: f64,
}

impl Gain {
    #[differentiable]
    fn by_value(self, x: f64) -> f64 {
        self.k * x
    }

    #[differentiable]
    fn by_ref(&self, x: f64) -> f64 {
        self.k * x * x
    }

    /// A `&self` method calling a `self` method (and a `&self` one): the
    /// receiver is passed as each callee takes it (it did not compile).
    #[differentiable]
    fn from_ref(&self, x: f64) -> f64 {
        self.by_value(x) * 2.0 + self.by_ref(x)
    }

    #[differentiable]
    fn from_value(self, x: f64) -> f64 {
        self.by_value(x) * 2.0 + self.by_ref(x)
    }
}

#[test]
fn methods_call_methods_of_either_receiver() {
    let g = Gain { k: 3.0 };
    // f = 2kx + kx²: ∂k = 2x + x², ∂x = 2k + 2kx
    for (gg, gx) in [g.from_ref_grad(2.0), g.from_value_grad(2.0)] {
        close(&[gg.k, gx], &[8.0, 18.0]);
    }
}
