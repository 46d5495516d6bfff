//! Differentiable methods called on a field of a parameter
//! (`self.l1.forward(x)`) or on a parameter of a user's type
//! (`net.forward(x)`): the code of a small network written as Rust
//! programmers write it, with layers as structs. Gradients with respect to
//! every field and input, against central differences.

#![allow(clippy::all)]

use autodiff::{Differentiable, Tensor, differentiable};

#[path = "common/reference.rs"]
mod reference;
use reference::*;

#[derive(Clone, Debug, Differentiable)]
struct Layer {
    w: f64,
    b: f64,
}

impl Layer {
    #[differentiable]
    fn forward(&self, x: f64) -> f64 {
        (self.w * x + self.b).tanh()
    }
}

#[derive(Clone, Debug, Differentiable)]
struct Net {
    l1: Layer,
    l2: Layer,
}

impl Net {
    #[differentiable]
    fn forward(&self, x: f64) -> f64 {
        let h = self.l1.forward(x);
        self.l2.forward(h) + 0.5 * self.l1.forward(-x)
    }
}

/// A free function with the network as a parameter.
#[differentiable]
fn loss(net: &Net, xs: &[f64], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..xs.len() {
        let r = net.forward(xs[i]) - ys[i];
        total += r * r;
    }
    total / xs.len() as f64
}

fn net_from(v: &[f64]) -> Net {
    Net {
        l1: Layer { w: v[0], b: v[1] },
        l2: Layer { w: v[2], b: v[3] },
    }
}

fn flat(n: &Net) -> Vec<f64> {
    vec![n.l1.w, n.l1.b, n.l2.w, n.l2.b]
}

#[test]
fn method_of_a_field_of_self() {
    let v = [0.5, 0.1, -1.2, 0.3];
    let net = net_from(&v);
    let (g_net, g_x) = net.forward_grad(0.7);
    close(
        "net",
        &flat(&g_net),
        &cd(|p| net_from(p).forward(0.7), &v),
        1e-7,
    );
    let want_x = cd(|x| net.forward(x[0]), &[0.7]);
    close("x", &[g_x], &want_x, 1e-7);
}

#[test]
fn method_of_a_parameter_in_a_loop() {
    let v = [0.8, -0.2, 1.1, 0.05];
    let xs = [0.1, -0.4, 0.9, 1.3];
    let ys = [0.2, 0.0, -0.3, 0.5];
    let net = net_from(&v);
    let (g_net, g_xs, g_ys) = loss::grad(&net, &xs, &ys);
    close(
        "net",
        &flat(&g_net),
        &cd(|p| loss(&net_from(p), &xs, &ys), &v),
        1e-7,
    );
    close("xs", &g_xs, &cd(|x| loss(&net, x, &ys), &xs), 1e-7);
    close("ys", &g_ys, &cd(|y| loss(&net, &xs, y), &ys), 1e-7);
    // A pullback seeded with another cotangent scales all of them.
    let (_, pullback) = loss::vjp(&net, &xs, &ys);
    let (g2, _, _) = pullback(-2.0);
    let want: Vec<f64> = flat(&g_net).iter().map(|g| -2.0 * g).collect();
    close("net, cotangent −2", &flat(&g2), &want, 1e-12);
}

#[derive(Clone, Copy, Debug, Differentiable)]
struct Knob {
    a: f64,
    c: f64,
}

impl Knob {
    /// By value (`self`), on a `Copy` struct.
    #[differentiable]
    fn apply(self, x: f64) -> f64 {
        (self.a * x).sin() + self.c * x
    }
}

#[derive(Clone, Debug, Differentiable)]
struct Pair {
    knob: Knob,
    k: f64,
}

#[differentiable]
fn by_value(p: &Pair, x: f64) -> f64 {
    let q = p.knob.apply(x) * p.k;
    q * q
}

#[test]
fn by_value_receivers() {
    let from = |v: &[f64]| Pair {
        knob: Knob { a: v[0], c: v[1] },
        k: v[2],
    };
    let v = [0.3, -0.7, 1.5];
    let pair = from(&v);
    let (g, gx) = by_value::grad(&pair, 0.4);
    close(
        "p",
        &[g.knob.a, g.knob.c, g.k],
        &cd(|p| by_value(&from(p), 0.4), &v),
        1e-7,
    );
    close("x", &[gx], &cd(|x| by_value(&pair, x[0]), &[0.4]), 1e-7);
}

/// Two levels of fields, and a tensor layer.
#[derive(Clone, Debug, Differentiable)]
struct Dense {
    w: Tensor,
    b: Tensor,
}

impl Dense {
    #[differentiable]
    fn forward(&self, x: &Tensor) -> Tensor {
        (x.matmul(&self.w) + &self.b).tanh()
    }
}

#[derive(Clone, Debug, Differentiable)]
struct Mlp {
    hidden: Dense,
    out: Dense,
}

#[derive(Clone, Debug, Differentiable)]
struct Model {
    mlp: Mlp,
}

#[differentiable]
fn mlp_loss(m: &Model, x: &Tensor) -> f64 {
    let h = m.mlp.hidden.forward(x);
    m.mlp.out.forward(&h).powi(2).sum()
}

#[test]
fn tensor_layers_two_fields_deep() {
    let model = |v: &[f64]| Model {
        mlp: Mlp {
            hidden: Dense {
                w: Tensor::from_vec(v[0..6].to_vec(), &[2, 3]),
                b: Tensor::from_vec(v[6..9].to_vec(), &[3]),
            },
            out: Dense {
                w: Tensor::from_vec(v[9..12].to_vec(), &[3, 1]),
                b: Tensor::from_vec(v[12..13].to_vec(), &[1]),
            },
        },
    };
    let v: Vec<f64> = (0..13).map(|i| ((i as f64) * 0.37).sin() * 0.8).collect();
    let x = Tensor::from_vec(vec![0.3, -0.5, 1.1, 0.2], &[2, 2]);
    let (g, _) = mlp_loss::grad(&model(&v), &x);
    let got: Vec<f64> = [
        g.mlp.hidden.w.to_vec(),
        g.mlp.hidden.b.to_vec(),
        g.mlp.out.w.to_vec(),
        g.mlp.out.b.to_vec(),
    ]
    .concat();
    close("model", &got, &cd(|p| mlp_loss(&model(p), &x), &v), 1e-6);
}

// ------------------------------------------------ a parameter under another name

#[derive(Clone, Debug, Differentiable)]
struct Weights {
    w: Vec<f64>,
    x: f64,
}

/// `let r = q;` then `r.w[0]`: a field named like a coordinate (`w`, `x`)
/// holding a `Vec` was moved out of the borrowed value by the generated
/// code (E0507); it is read by a copy now.
#[differentiable]
fn through_alias(p: &Weights, q: &Weights) -> f64 {
    let r = q;
    r.w[0] * p.w[1] * r.x + r.w[1].sin()
}

#[test]
fn fields_of_a_parameter_bound_to_another_name() {
    let from = |v: &[f64]| Weights {
        w: vec![v[0], v[1]],
        x: v[2],
    };
    let (vp, vq) = ([1.0, 2.0, 1.5], [3.0, 4.0, -0.5]);
    let (gp, gq) = through_alias::grad(&from(&vp), &from(&vq));
    close(
        "p",
        &[gp.w[0], gp.w[1], gp.x],
        &cd(|v| through_alias(&from(v), &from(&vq)), &vp),
        1e-7,
    );
    close(
        "q",
        &[gq.w[0], gq.w[1], gq.x],
        &cd(|v| through_alias(&from(&vp), &from(v)), &vq),
        1e-7,
    );
}

// --------------------------- a method of a struct parameter, from a free function

#[derive(Clone, Debug, Differentiable)]
struct Particle {
    x: f64,
    v: f64,
}

impl Particle {
    #[differentiable]
    fn energy(&self, k: f64) -> f64 {
        0.5 * self.v * self.v + 0.5 * k * self.x * self.x
    }
}

/// `b.energy(k)`, `(&b).energy(k)` and `(*b).energy(k)` (the third user
/// trial found the first refused, with a message naming a method that is
/// differentiable).
#[differentiable]
fn total(b: &Particle, k: f64) -> f64 {
    b.energy(k) * 2.0 + (&b).energy(k * 0.5) - (*b).energy(1.0).sqrt()
}

#[test]
fn method_of_a_struct_parameter() {
    let from = |v: &[f64]| Particle { x: v[0], v: v[1] };
    let (v, k) = ([0.8, -1.3], 2.5);
    let (gb, gk) = total::grad(&from(&v), k);
    close("b", &[gb.x, gb.v], &cd(|p| total(&from(p), k), &v), 1e-7);
    close("k", &[gk], &cd(|kk| total(&from(&v), kk[0]), &[k]), 1e-7);
}

// ------------------------------------------------ parts of a computed tuple

#[differentiable]
fn polar(x: f64, y: f64) -> (f64, f64) {
    ((x * x + y * y).sqrt(), y.atan2(x))
}

/// `r.0`, `r.1` of a helper's tuple result, and of a tuple built in the body
/// (the third trial found them refused: "only fields of parameters").
#[differentiable]
fn uses_parts(x: f64, y: f64) -> f64 {
    let r = polar(x, y);
    let t = (x * 2.0, y.sin());
    r.0 * r.1.cos() + t.0 * t.1 + polar(y, x).1
}

#[test]
fn parts_of_a_computed_tuple() {
    let (x, y) = (0.7, -1.3);
    let (gx, gy) = uses_parts::grad(x, y);
    close("x", &[gx], &cd(|v| uses_parts(v[0], y), &[x]), 1e-7);
    close("y", &[gy], &cd(|v| uses_parts(x, v[0]), &[y]), 1e-7);
}

#[differentiable]
fn method_on_a_part(x: f64) -> f64 {
    let t = (x, 1.0);
    t.0.sin() * t.1
}

#[test]
fn method_on_a_part_of_a_tuple() {
    close("x", &[method_on_a_part::grad(0.4)], &[0.4f64.cos()], 1e-12);
}
