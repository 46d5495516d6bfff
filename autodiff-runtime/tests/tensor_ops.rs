//! Values of tensor operations: operators in every owned/borrowed mix,
//! broadcasting, storage reuse, matmul against a naive product, reductions,
//! shape ops, and the error messages.

use autodiff_runtime::Tensor;

fn naive_matmul(a: &Tensor, b: &Tensor) -> Tensor {
    let (m, k) = (a.shape()[0], a.shape()[1]);
    let n = b.shape()[1];
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|l| a.at(&[i, l]) * b.at(&[l, j])).sum();
        }
    }
    Tensor::from_vec(out, &[m, n])
}

#[test]
#[allow(clippy::op_ref)] // every borrowed mix is the point
fn operators_in_every_mix_agree() {
    let a = Tensor::randn(&[2, 3], 1);
    let b = Tensor::randn(&[3], 2);
    let expected_add = Tensor::from_vec(
        (0..6).map(|i| a.data()[i] + b.data()[i % 3]).collect(),
        &[2, 3],
    );
    assert_eq!(&a + &b, expected_add);
    assert_eq!(a.clone() + &b, expected_add);
    assert_eq!(&a + b.clone(), expected_add);
    assert_eq!(a.clone() + b.clone(), expected_add);

    let s = 1.5;
    let scaled = a.map(|v| v * s);
    assert_eq!(&a * s, scaled);
    assert_eq!(a.clone() * s, scaled);
    assert_eq!(s * &a, scaled);
    assert_eq!(s * a.clone(), scaled);
    assert_eq!(&a * &s, scaled);
    assert_eq!(&s * &a, scaled);

    assert_eq!(&a - &a, Tensor::zeros(&[2, 3]));
    assert_eq!(2.0 - &Tensor::from([1.0]), Tensor::from([1.0]));
    assert_eq!(1.0 / Tensor::from([4.0]), Tensor::from([0.25]));
    assert_eq!(Tensor::from([4.0]) / 2.0, Tensor::from([2.0]));
    assert_eq!(-&a, a.map(|v| -v));
    assert_eq!(-a.clone(), a.map(|v| -v));
}

#[test]
fn compound_assignment() {
    let mut x = Tensor::ones(&[2, 3]);
    x += &Tensor::from([1.0, 2.0, 3.0]);
    assert_eq!(x.to_vec(), vec![2.0, 3.0, 4.0, 2.0, 3.0, 4.0]);
    x -= 1.0;
    x *= Tensor::from_vec(vec![2.0, 3.0], &[2, 1]);
    assert_eq!(x.to_vec(), vec![2.0, 4.0, 6.0, 3.0, 6.0, 9.0]);
    x /= &2.0;
    assert_eq!(x.to_vec(), vec![1.0, 2.0, 3.0, 1.5, 3.0, 4.5]);
    // copy on write: a clone taken before is unchanged
    let before = x.clone();
    x += 1.0;
    assert_eq!(before.to_vec(), vec![1.0, 2.0, 3.0, 1.5, 3.0, 4.5]);
}

#[test]
#[should_panic(expected = "output with shape [3] doesn't match the broadcast shape [2, 3]")]
fn compound_assignment_cannot_grow() {
    let mut x = Tensor::ones(&[3]);
    x += Tensor::ones(&[2, 3]);
}

#[test]
#[should_panic(
    expected = "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0"
)]
fn mismatched_shapes_name_both() {
    let _ = Tensor::ones(&[3]) + Tensor::ones(&[4]);
}

#[test]
fn owned_operands_reuse_storage() {
    let a = Tensor::ones(&[1000]);
    let before = a.data().as_ptr();
    let c = a * 2.0 + 1.0;
    assert_eq!(c.data().as_ptr(), before);
    let b = Tensor::ones(&[1000]);
    let before = b.data().as_ptr();
    let d = &Tensor::ones(&[1000]) - b;
    assert_eq!(d.data().as_ptr(), before);
    // a shared operand is not written through
    let e = Tensor::ones(&[3]);
    let keep = e.clone();
    let _ = e + 1.0;
    assert_eq!(keep.to_vec(), vec![1.0; 3]);
}

#[test]
fn matmul_matches_naive_product() {
    for (i, (m, k, n)) in [(1, 1, 1), (2, 3, 4), (17, 33, 9), (5, 1, 5), (8, 8, 8)]
        .into_iter()
        .enumerate()
    {
        let a = Tensor::randn(&[m, k], 10 + i as u64);
        let b = Tensor::randn(&[k, n], 20 + i as u64);
        let c = a.matmul(&b);
        assert_eq!(c.shape(), &[m, n]);
        assert!(
            c.allclose(&naive_matmul(&a, &b), 1e-12, 1e-12),
            "{m}x{k}·{k}x{n}"
        );
    }
}

#[test]
fn matmul_vector_forms() {
    let a = Tensor::randn(&[3, 4], 1);
    let v = Tensor::randn(&[4], 2);
    let w = Tensor::randn(&[3], 3);
    let av = a.matmul(&v);
    assert_eq!(av.shape(), &[3]);
    assert!(av.allclose(
        &naive_matmul(&a, &v.reshape(&[4, 1])).reshape(&[3]),
        1e-12,
        1e-12
    ));
    let wa = w.matmul(&a);
    assert_eq!(wa.shape(), &[4]);
    assert!(wa.allclose(
        &naive_matmul(&w.reshape(&[1, 3]), &a).reshape(&[4]),
        1e-12,
        1e-12
    ));
    let vv = v.matmul(&v);
    assert_eq!(vv.shape(), &[] as &[usize]);
    assert!((vv.item() - v.dot(&v)).abs() < 1e-12);
}

#[test]
fn matmul_with_empty_inner_dimension_is_zero() {
    let c = Tensor::zeros(&[2, 0]).matmul(&Tensor::zeros(&[0, 3]));
    assert_eq!(c, Tensor::zeros(&[2, 3]));
}

#[test]
#[should_panic(expected = "matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)")]
fn matmul_mismatch_names_both() {
    Tensor::zeros(&[2, 3]).matmul(&Tensor::zeros(&[4, 5]));
}

#[test]
fn reductions_along_dimensions() {
    let x = Tensor::arange(24.0).reshape(&[2, 3, 4]);
    assert_eq!(x.sum(), 276.0);
    let s1 = x.sum_dim(1);
    assert_eq!(s1.shape(), &[2, 4]);
    assert_eq!(s1.at(&[1, 2]), 14.0 + 18.0 + 22.0);
    assert_eq!(x.sum_dim(2).at(&[0, 1]), 4.0 + 5.0 + 6.0 + 7.0);
    assert_eq!(x.mean_dim(0).at(&[2, 3]), (11.0 + 23.0) / 2.0);
    assert_eq!(Tensor::scalar(3.0).sum_dim(0), Tensor::scalar(3.0));
}

#[test]
#[should_panic(expected = "Dimension out of range")]
fn reduction_dimension_out_of_range() {
    Tensor::zeros(&[2, 3]).sum_dim(2);
}

#[test]
fn softmax_family_values() {
    let x = Tensor::from([[1.0, 2.0, 3.0], [-1.0, 0.0, 1e3]]);
    let p = x.softmax(1);
    for row in 0..2 {
        let total: f64 = (0..3).map(|j| p.at(&[row, j])).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
    assert!(p.data().iter().all(|v| v.is_finite()));
    let lp = x.log_softmax(1);
    // Equal to ln(softmax) where that is representable, finite where it is not.
    assert!(
        lp.slice(0, 0..1)
            .allclose(&p.slice(0, 0..1).ln(), 1e-12, 1e-12)
    );
    assert_eq!(lp.at(&[1, 0]), -1001.0);
    let lse = x.logsumexp(1);
    assert_eq!(lse.shape(), &[2]);
    assert!((lse.at(&[0]) - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln()).abs() < 1e-12);
    assert!((lse.at(&[1]) - 1e3).abs() < 1e-9);
    let neg_inf = Tensor::from([f64::NEG_INFINITY, f64::NEG_INFINITY]);
    assert_eq!(neg_inf.logsumexp(0).item(), f64::NEG_INFINITY);
}

#[test]
fn slices_and_reshapes_share_or_copy_as_documented() {
    let x = Tensor::arange(12.0).reshape(&[3, 4]);
    assert_eq!(
        x.slice(0, 1..3).to_vec(),
        (4..12).map(f64::from).collect::<Vec<_>>()
    );
    assert_eq!(x.slice(1, 3..4).to_vec(), vec![3.0, 7.0, 11.0]);
    assert_eq!(x.t().t(), x);
    assert_eq!(x.reshape(&[12]).data().as_ptr(), x.data().as_ptr());
}

#[test]
fn seeded_random_tensors_are_reproducible() {
    assert_eq!(Tensor::randn(&[4, 4], 9), Tensor::randn(&[4, 4], 9));
    assert_ne!(Tensor::randn(&[4, 4], 9), Tensor::randn(&[4, 4], 10));
    let u = Tensor::uniform(&[10_000], -1.0, 3.0, 5);
    assert!(u.min() >= -1.0 && u.max() < 3.0);
    assert!((u.mean() - 1.0).abs() < 0.05);
}

#[test]
fn comparisons_print_like_pytorch() {
    let x = Tensor::arange(4.0);
    let grad = Tensor::from([0.0, 4.0, 8.0, 12.0]);
    assert_eq!(
        grad.eq_elem(&(4.0 * &x)).to_string(),
        "tensor([True, True, True, True])"
    );
    assert_eq!(
        Tensor::scalar(2.0)
            .eq_elem(&Tensor::scalar(2.0))
            .to_string(),
        "tensor(True)"
    );
}

#[test]
fn tensors_cross_threads() {
    let x = Tensor::randn(&[100], 1);
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let x = x.clone();
            std::thread::spawn(move || (&x * i as f64).sum())
        })
        .collect();
    let sums: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(sums[0], 0.0);
    assert!((sums[1] - x.sum()).abs() < 1e-12);
}
