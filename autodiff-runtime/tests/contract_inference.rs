//! Code shaped like what `#[differentiable]` generates: no type is named,
//! every type flows from the arguments of the `__private` functions.

use autodiff_runtime::__private::{self as rt, rules};
use autodiff_runtime::Tensor;

/// `f(a) = sin(a) * a + 2 / a`, reverse pass written as the macro would.
fn vjp_scalar(a: f64) -> (f64, impl FnOnce(f64) -> f64) {
    let a_meta = rt::meta(&a);
    let t0 = a.sin();
    let t1 = t0 * a;
    let t2 = 2.0 / a;
    let y = t1 + t2;
    let t0_meta = rt::meta(&t0);
    let t1_meta = rt::meta(&t1);
    let t2_meta = rt::meta(&t2);
    (y, move |d_y| {
        let mut d_a = rt::zero();
        let mut d_t0 = rt::zero();
        let mut d_t1 = rt::zero();
        let mut d_t2 = rt::zero();
        rt::acc(&mut d_t1, rules::add_d0(&d_y, &t1_meta));
        rt::acc(&mut d_t2, rules::add_d1(&d_y, &t2_meta));
        let g = rt::take(&mut d_t2);
        if rt::nonzero(&g) {
            rt::acc(&mut d_a, rules::div_d1(&g, &2.0, &a));
        }
        let g = rt::take(&mut d_t1);
        rt::acc(&mut d_t0, rules::mul_d0(&g, &t0_meta, &a));
        rt::acc(&mut d_a, rules::mul_d1(&g, &t0, &a_meta));
        let g = rt::take(&mut d_t0);
        rt::acc(&mut d_a, rules::sin_d0(&g, &a));
        rt::finish(d_a, &a)
    })
}

#[test]
fn scalar_chain() {
    let a = 0.7;
    let (y, pullback) = vjp_scalar(a);
    assert_eq!(y, a.sin() * a + 2.0 / a);
    let d = pullback(1.0);
    let expected = a.cos() * a + a.sin() - 2.0 / (a * a);
    assert!((d - expected).abs() < 1e-12);
}

/// `f(w, x) = sum(relu(w.matmul(x) + b))` over references, as for `&Tensor` parameters.
fn vjp_tensor<'a>(
    w: &'a Tensor,
    x: &'a Tensor,
    b: f64,
) -> (f64, impl FnOnce(f64) -> (Tensor, Tensor, f64) + 'a) {
    let t0 = w.matmul(x);
    let t1 = &t0 + b;
    let t2 = t1.relu();
    let y = t2.sum();
    let t0_meta = rt::meta(&t0);
    let b_meta = rt::meta(&b);
    let t2_meta = rt::meta(&t2);
    (y, move |d_y| {
        let mut d_w = rt::zero_for(&w);
        let mut d_x = rt::zero_for(&x);
        let mut d_b = rt::zero();
        let mut d_t0 = rt::zero();
        let mut d_t1 = rt::zero();
        let mut d_t2 = rt::zero();
        rt::acc(&mut d_t2, rules::sum_d0(&d_y, &t2_meta));
        let g = rt::take(&mut d_t2);
        rt::acc(&mut d_t1, rules::relu_d0(&g, &t1));
        let g = rt::take(&mut d_t1);
        rt::acc(&mut d_t0, rules::add_d0(&g, &t0_meta));
        rt::acc(&mut d_b, rules::add_d1(&g, &b_meta));
        let g = rt::take(&mut d_t0);
        rt::acc(&mut d_w, rules::matmul_d0(&g, &x));
        rt::acc(&mut d_x, rules::matmul_d1(&g, &w));
        (
            rt::finish(d_w, &w),
            rt::finish(d_x, &x),
            rt::finish(d_b, &b),
        )
    })
}

#[test]
fn tensor_chain_through_references() {
    let w = Tensor::randn(&[3, 4], 1);
    let x = Tensor::randn(&[4, 2], 2);
    let (y, pullback) = vjp_tensor(&w, &x, 0.1);
    let (d_w, d_x, d_b) = pullback(1.0);
    assert!(y.is_finite());
    assert_eq!(d_w.shape(), &[3, 4]);
    assert_eq!(d_x.shape(), &[4, 2]);
    let active = (&w.matmul(&x) + 0.1).gt_elem(&Tensor::scalar(0.0));
    let count = active.data().iter().filter(|&&b| b).count() as f64;
    assert_eq!(d_b, count);
}

#[test]
fn index_and_slices() {
    let xs = vec![1.0, 2.0, 3.0];
    let s: &[f64] = &xs;
    let m = rt::meta(&s);
    let mut d = rt::zero();
    rt::acc_index(&mut d, &m, &2usize, 5.0);
    rt::acc(&mut d, rules::index_d0(&1.0, &m, &0usize));
    assert_eq!(rt::finish(d, &s), vec![1.0, 0.0, 5.0]);
}

#[test]
fn powi_literal_and_sum_dim() {
    let x = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    let g = rules::powi_d0(&Tensor::ones(&[2, 2]), &x, &3);
    assert_eq!(g.to_vec(), vec![3.0, 12.0, 27.0, 48.0]);
    let s = rules::sum_dim_d0(&Tensor::from([1.0, 2.0]), &rt::meta(&x), &1);
    assert_eq!(s.to_vec(), vec![1.0, 1.0, 2.0, 2.0]);
    let z: f64 = rules::powi_d0(&1.0, &2.0, &2);
    assert_eq!(z, 4.0);
}
