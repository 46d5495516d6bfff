//! The PyTorch notes' computations, with the reverse pass written by hand
//! from the runtime's rules: same numbers, printed the same way.

use autodiff_runtime::__private::{self as rt, rules};
use autodiff_runtime::Tensor;

#[test]
fn y_equals_two_x_dot_x() {
    let x = Tensor::arange(4.0);
    assert_eq!(x.to_string(), "tensor([0., 1., 2., 3.])");
    let dot = x.dot(&x);
    let y = 2.0 * dot;
    assert_eq!(Tensor::scalar(y).to_string(), "tensor(28.)");
    // y = 2·d, d = x·x
    let d_y = rt::seed(&y);
    let d_dot = rules::mul_d1(&d_y, &2.0, &rt::meta(&dot));
    let mut grad = rt::zero();
    rt::acc(&mut grad, rules::dot_d0(&d_dot, &x));
    rt::acc(&mut grad, rules::dot_d1(&d_dot, &x));
    assert_eq!(grad.to_string(), "tensor([ 0.,  4.,  8., 12.])");
    assert_eq!(
        grad.eq_elem(&(4.0 * &x)).to_string(),
        "tensor([True, True, True, True])"
    );
    grad.zero_();
    assert_eq!(
        format!("{:?}", (&grad, Tensor::scalar(y))),
        "(tensor([0., 0., 0., 0.]), tensor(28.))"
    );
    // y = x.sum()
    rt::acc(&mut grad, rules::sum_d0(&1.0, &rt::meta(&x)));
    assert_eq!(grad.to_string(), "tensor([1., 1., 1., 1.])");
}

#[test]
fn backward_with_weights_accumulates() {
    let x = Tensor::from([1.0, 2.0]);
    let y = x.powi(2);
    let _z = y.powi(3);
    let w = Tensor::from([1.0, 1.0]);
    let mut x_grad = rt::zero();
    for expected in ["tensor([  6., 192.])", "tensor([ 12., 384.])"] {
        let d_y = rules::powi_d0(&w, &y, &3);
        rt::acc(&mut x_grad, rules::powi_d0(&d_y, &x, &2));
        assert_eq!(x_grad.to_string(), expected);
    }
}

#[test]
fn gentle_introduction_q() {
    let a = Tensor::from([2.0, 3.0]);
    let b = Tensor::from([6.0, 4.0]);
    let q = 3.0 * a.powi(3) - b.powi(2);
    assert_eq!(q.to_string(), "tensor([-12.,  65.])");
    let external = Tensor::from([1.0, 1.0]);
    // Q = t − s, t = 3·a³, s = b²
    let d_t = rules::sub_d0(&external, &rt::meta(&q));
    let d_s = rules::sub_d1(&external, &rt::meta(&q));
    let d_a3 = rules::mul_d1(&d_t, &3.0, &rt::meta(&a));
    let a_grad = rules::powi_d0(&d_a3, &a, &3);
    let b_grad = rules::powi_d0(&d_s, &b, &2);
    assert_eq!(
        format!("{:?}", (&a_grad, &b_grad)),
        "(tensor([36., 81.]), tensor([-12.,  -8.]))"
    );
    assert!((9.0 * a.powi(2)).eq_elem(&a_grad).all());
    assert!((-2.0 * &b).eq_elem(&b_grad).all());
}

#[test]
#[should_panic(expected = "grad can be implicitly created only for scalar outputs")]
fn implicit_backward_of_a_vector() {
    let q = Tensor::from([-12.0, 65.0]);
    rt::seed(&q);
}

#[test]
fn one_hot_weights_pick_rows_of_the_jacobian() {
    let x = Tensor::from([[1.0, 2.0, 3.0, 4.0]]);
    let z = 2.0 * &x;
    let x_meta = rt::meta(&x);
    let z_meta = rt::meta(&z);
    let mut printed = Vec::new();
    for w in [
        Tensor::from([[1.0, 0.0, 0.0, 0.0]]),
        Tensor::from([[0.0, 1.0, 0.0, 0.0]]),
        Tensor::from([[1.0, 1.0, 1.0, 1.0]]),
    ] {
        printed.push(rules::mul_d1(&w, &2.0, &x_meta).to_string());
    }
    // loss = z.sum(dim=1): a [1] output, seeded with ones
    let loss = z.sum_dim(1);
    let d_z = rules::sum_dim_d0(&rt::seed(&loss), &z_meta, &1);
    printed.push(rules::mul_d1(&d_z, &2.0, &x_meta).to_string());
    assert_eq!(
        printed,
        [
            "tensor([[2., 0., 0., 0.]])",
            "tensor([[0., 2., 0., 0.]])",
            "tensor([[2., 2., 2., 2.]])",
            "tensor([[2., 2., 2., 2.]])",
        ]
    );
}

#[test]
fn detach_cuts_the_path() {
    let x = Tensor::arange(4.0);
    let y = &x * &x;
    let u = y.detach();
    let z = &u * &x;
    // z.sum().backward(): only the direct path through x
    let d_z = rules::sum_d0(&1.0, &rt::meta(&z));
    let x_grad = rules::mul_d1(&d_z, &u, &rt::meta(&x));
    assert_eq!(x_grad.to_string(), "tensor([0., 1., 4., 9.])");
    assert!(x_grad.eq_elem(&u).all());
}

/// The notes' control-flow example, `b` doubled until its norm reaches 1000.
#[test]
fn gradient_through_control_flow() {
    let a = Tensor::randn(&[], 0);
    let mut b = &a * 2.0;
    let mut trips = 0;
    while b.norm() < 1000.0 {
        b = &b * 2.0;
        trips += 1;
    }
    let took_then = b.sum() > 0.0;
    let d = if took_then { b.clone() } else { 100.0 * &b };
    // reverse
    let mut d_b = if took_then {
        rt::seed(&d)
    } else {
        rules::mul_d1(&rt::seed(&d), &100.0, &rt::meta(&b))
    };
    for _ in 0..trips {
        d_b = rules::mul_d0(&d_b, &rt::meta(&b), &2.0);
    }
    let a_grad = rules::mul_d0(&d_b, &rt::meta(&a), &2.0);
    assert_eq!(a_grad.eq_elem(&(&d / &a)).to_string(), "tensor(True)");
    // The notes' numbers print the same way.
    assert_eq!(
        Tensor::scalar(-112743.859375).to_string(),
        "tensor(-112743.8594)"
    );
    assert_eq!(Tensor::scalar(409600.0).to_string(), "tensor(409600.)");
}
