//! nalgebra code differentiated unchanged: the minimal forms, each
//! against central differences (and the analytic value where it is short).

use autodiff::differentiable;
use autodiff::gradcheck::{GradCheckConfig, check_vjp_with};
use nalgebra::{DMatrix, DVector, Matrix3, Point3, Rotation3, Unit, Vector2, Vector3};

fn config() -> GradCheckConfig {
    GradCheckConfig::default().directions(6).seed(17)
}

/// The end point of a two-link arm.
#[differentiable(wrt(t1, t2))]
fn arm_end(t1: f64, t2: f64, l1: f64, l2: f64) -> Vector2<f64> {
    Vector2::new(
        l1 * t1.cos() + l2 * (t1 + t2).cos(),
        l1 * t1.sin() + l2 * (t1 + t2).sin(),
    )
}

#[differentiable(wrt(t1, t2))]
fn arm_distance(t1: f64, t2: f64, l1: f64, l2: f64, target: Vector2<f64>) -> f64 {
    let end = arm_end(t1, t2, l1, l2);
    (end - target).norm_squared()
}

#[differentiable]
fn angle_between(a: Vector3<f64>, b: Vector3<f64>) -> f64 {
    (a.dot(&b) / (a.norm() * b.norm())).acos()
}

#[differentiable(wrt(theta, p))]
fn rotated(axis: Vector3<f64>, theta: f64, p: Point3<f64>) -> f64 {
    let r = Rotation3::from_axis_angle(&Unit::new_normalize(axis), theta);
    let q = r * p;
    q.x * 2.0 + q.y * q.z
}

#[differentiable]
fn quadratic_form(a: &DMatrix<f64>, x: &DVector<f64>) -> f64 {
    x.dot(&(a * x))
}

#[differentiable]
fn det(m: Matrix3<f64>) -> f64 {
    m.determinant()
}

#[test]
fn two_link_arm() {
    let target = Vector2::new(1.0, 0.8);
    check_vjp_with(
        config(),
        |t: &(f64, f64)| arm_distance(t.0, t.1, 1.0, 0.7, target),
        |t: &(f64, f64), v: f64| arm_distance::vjp(t.0, t.1, 1.0, 0.7, target).1(v),
        &(0.4, 0.9),
    )
    .unwrap();
    // The Jacobian row of x: (−l1 sin t1 − l2 sin(t1+t2), −l2 sin(t1+t2)).
    let (dt1, dt2) = arm_end::vjp(0.4, 0.9, 1.0, 0.7).1(Vector2::new(1.0, 0.0));
    let s12 = (1.3f64).sin();
    assert!((dt1 - (-(0.4f64).sin() - 0.7 * s12)).abs() < 1e-12);
    assert!((dt2 - (-0.7 * s12)).abs() < 1e-12);
}

#[test]
fn angle_rotation_quadratic_form_determinant() {
    let pack3 = |v: &Vector3<f64>| vec![v.x, v.y, v.z];
    let a = Vector3::new(1.0, 0.5, -0.3);
    let b = Vector3::new(-0.2, 0.9, 0.4);
    check_vjp_with(
        config(),
        |ab: &Vec<f64>| {
            angle_between(
                Vector3::new(ab[0], ab[1], ab[2]),
                Vector3::new(ab[3], ab[4], ab[5]),
            )
        },
        |ab: &Vec<f64>, v: f64| {
            let (da, db) = angle_between::vjp(
                Vector3::new(ab[0], ab[1], ab[2]),
                Vector3::new(ab[3], ab[4], ab[5]),
            )
            .1(v);
            [pack3(&da), pack3(&db)].concat()
        },
        &[pack3(&a), pack3(&b)].concat(),
    )
    .unwrap();

    let axis = Vector3::new(0.3, -0.2, 0.9);
    check_vjp_with(
        config(),
        |tp: &Vec<f64>| rotated(axis, tp[0], Point3::new(tp[1], tp[2], tp[3])),
        |tp: &Vec<f64>, v: f64| {
            let (dt, dp) = rotated::vjp(axis, tp[0], Point3::new(tp[1], tp[2], tp[3])).1(v);
            vec![dt, dp.x, dp.y, dp.z]
        },
        &vec![0.7, 1.0, -0.5, 0.25],
    )
    .unwrap();

    let m = DMatrix::from_row_slice(3, 3, &[2.0, 0.5, -1.0, 0.3, 1.0, 0.2, -0.4, 0.6, 3.0]);
    let x = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let (dm, dx) = quadratic_form::grad(&m, &x);
    // ∂/∂x xᵀAx = (A + Aᵀ) x; ∂/∂A = x xᵀ.
    let expect_dx = (&m + m.transpose()) * &x;
    let expect_dm = &x * x.transpose();
    assert!((dx - expect_dx).norm() < 1e-12);
    assert!((dm - expect_dm).norm() < 1e-12);

    let m3 = Matrix3::new(2.0, 0.5, -1.0, 0.3, 1.0, 0.2, -0.4, 0.6, 3.0);
    // ∂ det / ∂M = det(M) M⁻ᵀ.
    let expect = m3.determinant() * m3.try_inverse().unwrap().transpose();
    assert!((det::grad(m3) - expect).norm() < 1e-12);
}

/// `p.coords` of a point parameter: the point's vector, whose gradient is the
/// point's (it did not compile: the field was looked up on the gradient).
#[differentiable]
fn point_coords(p: &Point3<f64>, w: Vector3<f64>) -> f64 {
    p.coords.dot(&w) + p.x * 2.0
}

#[test]
fn coords_of_a_point_parameter() {
    let (gp, gw) = point_coords::grad(&Point3::new(1.0, 2.0, 3.0), Vector3::new(0.5, -1.0, 2.0));
    // ∂/∂p = w + (2, 0, 0), ∂/∂w = p
    assert_eq!(gp, Vector3::new(2.5, -1.0, 2.0));
    assert_eq!(gw, Vector3::new(1.0, 2.0, 3.0));
}
