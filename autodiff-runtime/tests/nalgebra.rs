//! The nalgebra rules against central differences: every rule on fixed and
//! dynamic sizes, then the minimal forms (a two-link arm, the angle
//! between two vectors, a rotation applied to a point, a quadratic form, a
//! determinant) with the rules chained by hand as the generated code chains
//! them: a forward pass that keeps what the reverse reads, a reverse pass
//! that calls `rules::<op>_d<k>` and accumulates with `acc`.

use autodiff_runtime::__private::{self as rt, acc, acc_index, finish, meta, rules, zero};
use autodiff_runtime::Tensor;
use autodiff_runtime::gradcheck::{Flat, GradCheckConfig, check_vjp_with};
use autodiff_runtime::{Cotangent, Differentiable};
use nalgebra::{
    DMatrix, DVector, Matrix2, Matrix2x3, Matrix3, Matrix3x4, Matrix4, OMatrix, Point2, Point3,
    Rotation2, Rotation3, RowVector3, SMatrix, Unit, UnitQuaternion, Vector2, Vector3, Vector4,
};

/// Runs the checker in 6 directions; panics with its message and the case's name.
fn check<X, Y>(name: &str, f: impl Fn(&X) -> Y, vjp: impl Fn(&X, Y) -> X, x: &X)
where
    X: Flat + Differentiable<Tangent = X>,
    Y: Flat + Differentiable<Tangent = Y>,
{
    let config = GradCheckConfig::default()
        .directions(6)
        .seed(name.len() as u64 * 7 + 1);
    if let Err(e) = check_vjp_with(config, f, vjp, x) {
        panic!("{name}: {e}");
    }
}

fn numbers(n: usize, seed: u64) -> Vec<f64> {
    Tensor::randn(&[n], seed).to_vec()
}

/// A fixed-size matrix of standard normal numbers.
fn rand<const R: usize, const C: usize>(seed: u64) -> SMatrix<f64, R, C> {
    SMatrix::from_column_slice(&numbers(R * C, seed))
}

fn drand(r: usize, c: usize, seed: u64) -> DMatrix<f64> {
    DMatrix::from_column_slice(r, c, &numbers(r * c, seed))
}

fn dvec(n: usize, seed: u64) -> DVector<f64> {
    DVector::from_column_slice(&numbers(n, seed))
}

// ---------------------------------------------------------------- + − × ÷ and negation

#[test]
fn add_sub_neg_fixed_and_dynamic() {
    check(
        "Vector3 + Vector3",
        |(a, b): &(Vector3<f64>, Vector3<f64>)| a + b,
        |(a, b), g| (rules::add_d0(&g, &meta(a)), rules::add_d1(&g, &meta(b))),
        &(rand(1), rand(2)),
    );
    check(
        "Matrix2x3 - Matrix2x3",
        |(a, b): &(Matrix2x3<f64>, Matrix2x3<f64>)| a - b,
        |(a, b), g| (rules::sub_d0(&g, &meta(a)), rules::sub_d1(&g, &meta(b))),
        &(rand(3), rand(4)),
    );
    check(
        "DMatrix - DMatrix",
        |(a, b): &(DMatrix<f64>, DMatrix<f64>)| a - b,
        |(a, b), g| (rules::sub_d0(&g, &meta(a)), rules::sub_d1(&g, &meta(b))),
        &(drand(3, 2, 5), drand(3, 2, 6)),
    );
    check(
        "DVector + DVector",
        |(a, b): &(DVector<f64>, DVector<f64>)| a + b,
        |(a, b), g| (rules::add_d0(&g, &meta(a)), rules::add_d1(&g, &meta(b))),
        &(dvec(5, 7), dvec(5, 8)),
    );
    check(
        "-Matrix3",
        |a: &Matrix3<f64>| -a,
        |_, g| rules::neg_d0(&g),
        &rand(9),
    );
    check(
        "-DVector",
        |a: &DVector<f64>| -a,
        |_, g| rules::neg_d0(&g),
        &dvec(4, 10),
    );
}

/// Points: `p + v` is a point, `p − q` a vector; a point's gradient is a
/// vector, and every rule reads a point's coordinates.
#[test]
fn point_arithmetic() {
    check(
        "Point3 + Vector3 − Point3",
        |(p, v, q): &(Vector3<f64>, Vector3<f64>, Vector3<f64>)| {
            let (p, q) = (Point3::from(*p), Point3::from(*q));
            (p + v) - q
        },
        |(p, v, q), g| {
            let (p, q) = (Point3::from(*p), Point3::from(*q));
            let s = p + v;
            let ds: Vector3<f64> = rules::sub_d0(&g, &meta(&s));
            let dq: Vector3<f64> = rules::sub_d1(&g, &meta(&q));
            (
                rules::add_d0(&ds, &meta(&p)),
                rules::add_d1(&ds, &meta(v)),
                dq,
            )
        },
        &(rand(11), rand(12), rand(13)),
    );
    check(
        "Matrix3 * Point3 * s",
        |(m, p, s): &(Matrix3<f64>, Vector3<f64>, f64)| (m * Point3::from(*p) * *s).coords,
        |(m, p, s), g| {
            let p = Point3::from(*p);
            let mp = m * p;
            let d_mp = rules::mul_d0(&g, &meta(&mp), s);
            let ds = rules::mul_d1(&g, &mp, &meta(s));
            (
                rules::mul_d0(&d_mp, &meta(m), &p),
                rules::mul_d1(&d_mp, m, &meta(&p)),
                ds,
            )
        },
        &(rand(14), rand(15), 0.7),
    );
    check(
        "-Point2 / s",
        |(p, s): &(Vector2<f64>, f64)| (-Point2::from(*p) / *s).coords,
        |(p, s), g| {
            let p = Point2::from(*p);
            let q = -p;
            let dq = rules::div_d0(&g, &meta(&q), s);
            let ds = rules::div_d1(&g, &q, s);
            (rules::neg_d0(&dq), ds)
        },
        &(rand(16), -1.3),
    );
}

#[test]
fn matrix_products() {
    check(
        "Matrix3 * Vector3",
        |(a, b): &(Matrix3<f64>, Vector3<f64>)| a * b,
        |(a, b), g| {
            (
                rules::mul_d0(&g, &meta(a), b),
                rules::mul_d1(&g, a, &meta(b)),
            )
        },
        &(rand(20), rand(21)),
    );
    check(
        "Matrix2x3 * Matrix3x4",
        |(a, b): &(Matrix2x3<f64>, Matrix3x4<f64>)| a * b,
        |(a, b), g| {
            (
                rules::mul_d0(&g, &meta(a), b),
                rules::mul_d1(&g, a, &meta(b)),
            )
        },
        &(rand(22), rand(23)),
    );
    check(
        "&Matrix4 * &Matrix4",
        |(a, b): &(Matrix4<f64>, Matrix4<f64>)| a * b,
        |(a, b), g| {
            // The generated code may hold references: the rules look through them.
            let (ra, rb) = (&a, &b);
            (
                rules::mul_d0(&g, &meta(ra), &rb),
                rules::mul_d1(&g, &ra, &meta(rb)),
            )
        },
        &(rand(24), rand(25)),
    );
    check(
        "Vector3 * RowVector3 (outer product)",
        |(a, b): &(Vector3<f64>, RowVector3<f64>)| a * b,
        |(a, b), g| {
            (
                rules::mul_d0(&g, &meta(a), b),
                rules::mul_d1(&g, a, &meta(b)),
            )
        },
        &(rand(26), rand(27)),
    );
    check(
        "DMatrix * DVector",
        |(a, b): &(DMatrix<f64>, DVector<f64>)| a * b,
        |(a, b), g| {
            (
                rules::mul_d0(&g, &meta(a), b),
                rules::mul_d1(&g, a, &meta(b)),
            )
        },
        &(drand(4, 3, 28), dvec(3, 29)),
    );
    check(
        "DMatrix * DMatrix (gemm sizes)",
        |(a, b): &(DMatrix<f64>, DMatrix<f64>)| a * b,
        |(a, b), g| {
            (
                rules::mul_d0(&g, &meta(a), b),
                rules::mul_d1(&g, a, &meta(b)),
            )
        },
        &(drand(7, 9, 30), drand(9, 8, 31)),
    );
}

#[test]
fn scalar_products_and_quotients() {
    check(
        "s * Vector3",
        |(s, v): &(f64, Vector3<f64>)| *s * v,
        |(s, v), g| {
            (
                rules::mul_d0(&g, &meta(s), v),
                rules::mul_d1(&g, s, &meta(v)),
            )
        },
        &(1.3, rand(40)),
    );
    check(
        "Matrix2 * s",
        |(m, s): &(Matrix2<f64>, f64)| m * *s,
        |(m, s), g| {
            (
                rules::mul_d0(&g, &meta(m), s),
                rules::mul_d1(&g, m, &meta(s)),
            )
        },
        &(rand(41), -0.4),
    );
    check(
        "DVector * s",
        |(v, s): &(DVector<f64>, f64)| v * *s,
        |(v, s), g| {
            (
                rules::mul_d0(&g, &meta(v), s),
                rules::mul_d1(&g, v, &meta(s)),
            )
        },
        &(dvec(5, 42), 2.5),
    );
    check(
        "s * DMatrix",
        |(s, m): &(f64, DMatrix<f64>)| *s * m,
        |(s, m), g| {
            (
                rules::mul_d0(&g, &meta(s), m),
                rules::mul_d1(&g, s, &meta(m)),
            )
        },
        &(0.8, drand(2, 3, 43)),
    );
    check(
        "Vector4 / s",
        |(v, s): &(Vector4<f64>, f64)| v / *s,
        |(v, s), g| (rules::div_d0(&g, &meta(v), s), rules::div_d1(&g, v, s)),
        &(rand(44), 1.7),
    );
    check(
        "DMatrix / s",
        |(m, s): &(DMatrix<f64>, f64)| m / *s,
        |(m, s), g| (rules::div_d0(&g, &meta(m), s), rules::div_d1(&g, m, s)),
        &(drand(3, 3, 45), -0.9),
    );
}

// ---------------------------------------------------------------- methods

#[test]
fn dot_cross_norms() {
    check(
        "Vector3::dot",
        |(a, b): &(Vector3<f64>, Vector3<f64>)| a.dot(b),
        |(a, b), g| (rules::dot_d0(&g, &b), rules::dot_d1(&g, &a)),
        &(rand(50), rand(51)),
    );
    check(
        "DVector::dot",
        |(a, b): &(DVector<f64>, DVector<f64>)| a.dot(b),
        |(a, b), g| (rules::dot_d0(&g, b), rules::dot_d1(&g, a)),
        &(dvec(6, 52), dvec(6, 53)),
    );
    check(
        "Matrix2::dot (Frobenius)",
        |(a, b): &(Matrix2<f64>, Matrix2<f64>)| a.dot(b),
        |(a, b), g| (rules::dot_d0(&g, b), rules::dot_d1(&g, a)),
        &(rand(54), rand(55)),
    );
    check(
        "Vector3::cross",
        |(a, b): &(Vector3<f64>, Vector3<f64>)| a.cross(b),
        |(a, b), g| (rules::cross_d0(&g, b), rules::cross_d1(&g, a)),
        &(rand(56), rand(57)),
    );
    check(
        "Vector3::norm",
        |x: &Vector3<f64>| x.norm(),
        |x, g| rules::norm_d0(&g, x, &x.norm()),
        &rand(58),
    );
    check(
        "DMatrix::norm",
        |x: &DMatrix<f64>| x.norm(),
        |x, g| rules::norm_d0(&g, x, &x.norm()),
        &drand(3, 4, 59),
    );
    check(
        "Vector4::norm_squared",
        |x: &Vector4<f64>| x.norm_squared(),
        |x, g| rules::norm_squared_d0(&g, x),
        &rand(60),
    );
    check(
        "DVector::norm_squared",
        |x: &DVector<f64>| x.norm_squared(),
        |x, g| rules::norm_squared_d0(&g, x),
        &dvec(7, 61),
    );
    check(
        "Vector3::normalize",
        |x: &Vector3<f64>| x.normalize(),
        |x, g| rules::normalize_d0(&g, x),
        &rand(62),
    );
    check(
        "DVector::normalize",
        |x: &DVector<f64>| x.normalize(),
        |x, g| rules::normalize_d0(&g, x),
        &dvec(5, 63),
    );
    check(
        "Unit::new_normalize",
        |x: &Vector3<f64>| Unit::new_normalize(*x).into_inner(),
        |x, g| rules::normalize_d0(&g, x),
        &rand(64),
    );
    assert_eq!(
        rules::norm_d0(&1.0, &Vector2::zeros(), &0.0),
        Vector2::zeros()
    );
}

#[test]
fn sums_traces_elementwise_transposes() {
    check(
        "Matrix2x3::sum",
        |x: &Matrix2x3<f64>| x.sum(),
        |x, g| rules::sum_d0(&g, &meta(x)),
        &rand(70),
    );
    check(
        "DVector::mean",
        |x: &DVector<f64>| x.mean(),
        |x, g| rules::mean_d0(&g, &meta(x)),
        &dvec(5, 71),
    );
    check(
        "Matrix3::trace",
        |x: &Matrix3<f64>| x.trace(),
        |x, g| rules::trace_d0(&g, &meta(x)),
        &rand(72),
    );
    check(
        "DMatrix::trace",
        |x: &DMatrix<f64>| x.trace(),
        |x, g| rules::trace_d0(&g, &meta(x)),
        &drand(4, 4, 73),
    );
    check(
        "component_mul",
        |(a, b): &(Vector3<f64>, Vector3<f64>)| a.component_mul(b),
        |(a, b), g| {
            (
                rules::component_mul_d0(&g, b),
                rules::component_mul_d1(&g, a),
            )
        },
        &(rand(74), rand(75)),
    );
    check(
        "component_div (DMatrix)",
        |(a, b): &(DMatrix<f64>, DMatrix<f64>)| a.component_div(b),
        |(a, b), g| {
            (
                rules::component_div_d0(&g, b),
                rules::component_div_d1(&g, a, b),
            )
        },
        &(
            drand(2, 3, 76),
            drand(2, 3, 77).map(|x| x.signum() * (x.abs() + 0.5)),
        ),
    );
    check(
        "Matrix2x3::transpose",
        |x: &Matrix2x3<f64>| x.transpose(),
        |_, g| rules::t_d0(&g),
        &rand(78),
    );
    check(
        "DMatrix::transpose",
        |x: &DMatrix<f64>| x.transpose(),
        |_, g| rules::transpose_d0(&g),
        &drand(3, 5, 79),
    );
    check(
        "DVector::transpose",
        |x: &DVector<f64>| x.transpose().transpose() * 2.0,
        |_, g| {
            let d_t: OMatrix<f64, nalgebra::U1, nalgebra::Dyn> = rules::t_d0(&(g * 2.0));
            rules::t_d0(&d_t)
        },
        &dvec(4, 80),
    );
}

macro_rules! determinant_case {
    ($name:expr, $n:literal, $a:expr) => {
        check(
            $name,
            |a: &SMatrix<f64, $n, $n>| a.determinant(),
            |a, g| rules::determinant_d0(&g, a),
            &$a,
        )
    };
}

#[test]
fn determinants() {
    determinant_case!("det 1×1", 1, rand(90));
    determinant_case!("det 2×2", 2, rand(91));
    determinant_case!("det 3×3", 3, rand(92));
    determinant_case!("det 4×4 (LU)", 4, rand(93));
    determinant_case!("det 5×5 (LU)", 5, rand(94));
    check(
        "det DMatrix 3×3",
        |a: &DMatrix<f64>| a.determinant(),
        |a, g| rules::determinant_d0(&g, a),
        &drand(3, 3, 95),
    );
    check(
        "det DMatrix 6×6 (LU)",
        |a: &DMatrix<f64>| a.determinant(),
        |a, g| rules::determinant_d0(&g, a),
        &drand(6, 6, 96),
    );
    // Singular matrices (rank n − 1): the gradient is the cofactor matrix,
    // which is not zero; det(a) a⁻ᵀ does not exist there.
    let u: Vector3<f64> = rand(97);
    let v: Vector3<f64> = rand(98);
    let singular3 = Matrix3::from_rows(&[u.transpose(), v.transpose(), (u + v).transpose()]);
    determinant_case!("det singular 3×3", 3, singular3);
    let mut singular5: SMatrix<f64, 5, 5> = rand(99);
    let last = singular5.row(0) + singular5.row(1);
    singular5.set_row(4, &last);
    determinant_case!("det singular 5×5 (minors)", 5, singular5);
    let cof = rules::determinant_d0(&1.0, &singular5);
    assert!(
        cof.norm() > 1e-3,
        "the cofactors of a rank-4 matrix are not all zero"
    );
}

#[test]
fn inverses() {
    check(
        "Matrix2::try_inverse",
        |a: &Matrix2<f64>| a.try_inverse().unwrap(),
        |a, g| rules::try_inverse_d0(&g, &a.try_inverse().unwrap()),
        &rand(100),
    );
    check(
        "Matrix3::try_inverse (rule reads the Option)",
        |a: &Matrix3<f64>| a.try_inverse().unwrap(),
        |a, g| rules::try_inverse_d0(&g, &a.try_inverse()),
        &rand(101),
    );
    check(
        "DMatrix::try_inverse (LU)",
        |a: &DMatrix<f64>| a.clone().try_inverse().unwrap(),
        |a, g| rules::try_inverse_d0(&g, &a.clone().try_inverse().unwrap()),
        &(drand(5, 5, 102) + DMatrix::identity(5, 5) * 3.0),
    );
    check(
        "DMatrix::lu().try_inverse()",
        |a: &DMatrix<f64>| a.clone().lu().try_inverse().unwrap(),
        |a, g| rules::try_inverse_d0(&g, &a.clone().lu().try_inverse()),
        &(drand(3, 3, 103) + DMatrix::identity(3, 3) * 2.0),
    );
}

// ---------------------------------------------------------------- element access and constructors

#[test]
fn element_access() {
    // A variable: acc_index adds in place; `m[(i, j)]` and `v[i]`.
    check(
        "m[(1, 2)] * v[0] (Matrix2x3, Vector3)",
        |(m, v): &(Matrix2x3<f64>, Vector3<f64>)| m[(1, 2)] * v[0],
        |(m, v), g| {
            let mut dm = zero();
            let mut dv = zero();
            acc_index(
                &mut dm,
                &meta(m),
                &(1usize, 2usize),
                rules::mul_d0(&g, &meta(&m[(1, 2)]), &v[0]),
            );
            acc_index(
                &mut dv,
                &meta(v),
                &0usize,
                rules::mul_d1(&g, &m[(1, 2)], &meta(&v[0])),
            );
            (finish(dm, m), finish(dv, v))
        },
        &(rand(110), rand(111)),
    );
    check(
        "m[(2, 0)] + m[5] (DMatrix, from a symbolic zero)",
        |m: &DMatrix<f64>| m[(2, 0)] + m[5],
        |m, g| {
            let mut dm: DMatrix<f64> = zero();
            acc_index(&mut dm, &meta(m), &(2usize, 0usize), g);
            acc_index(&mut dm, &meta(m), &&5usize, g);
            finish(dm, m)
        },
        &drand(3, 2, 112),
    );
    // Not a variable: index_d0 returns the one-hot gradient.
    check(
        "(a + b)[(0, 1)]",
        |(a, b): &(Matrix2<f64>, Matrix2<f64>)| (a + b)[(0, 1)],
        |(a, b), g| {
            let s = a + b;
            let ds = rules::index_d0(&g, &meta(&s), &(0usize, 1usize));
            (rules::add_d0(&ds, &meta(a)), rules::add_d1(&ds, &meta(b)))
        },
        &(rand(113), rand(114)),
    );
    check(
        "v.x · v.y + v.z · v.w",
        |v: &Vector4<f64>| v.x * v.y + v.z * v.w,
        |v, g| {
            let mut d = rules::x_d0(&(g * v.y), &meta(v));
            acc(&mut d, rules::y_d0(&(g * v.x), &meta(v)));
            acc(&mut d, rules::z_d0(&(g * v.w), &meta(v)));
            acc(&mut d, rules::w_d0(&(g * v.z), &meta(v)));
            d
        },
        &rand(115),
    );
    check(
        "Point3: p.x + p[2]",
        |p: &Vector3<f64>| {
            let p = Point3::from(*p);
            p.x + p[2]
        },
        |p, g| {
            let p = Point3::from(*p);
            let mut d = rules::x_d0(&g, &meta(&p));
            acc_index(&mut d, &meta(&p), &2usize, g);
            d
        },
        &rand(116),
    );
}

#[test]
fn constructors() {
    check(
        "Vector2::new",
        |(a, b): &(f64, f64)| Vector2::new(a * b, *b),
        |(a, b), g| {
            let c = rules::new_d0(&g);
            (c * b, c * a + rules::new_d1(&g))
        },
        &(0.3, -1.2),
    );
    check(
        "Vector3::new / Point3::new",
        |(a, b, c): &(f64, f64, f64)| Vector3::new(*a, *b, *c) + Point3::new(*c, *a, *b).coords,
        |_, g| {
            let p = g; // the point's gradient is a vector; `.coords` passes it through
            (
                rules::new_d0(&g) + rules::new_d1(&p),
                rules::new_d1(&g) + rules::new_d2(&p),
                rules::new_d2(&g) + rules::new_d0(&p),
            )
        },
        &(0.3, -1.2, 2.0),
    );
    check(
        "Vector4::new",
        |x: &Vector4<f64>| Vector4::new(x[0], x[1], x[2], x[3]),
        |_, g| {
            Vector4::new(
                rules::new_d0(&g),
                rules::new_d1(&g),
                rules::new_d2(&g),
                rules::new_d3(&g),
            )
        },
        &rand(120),
    );
    check(
        "Point2::new",
        |x: &Vector2<f64>| Point2::new(x[0], x[1]).coords * 3.0,
        |_, g| {
            let dp = g * 3.0;
            Vector2::new(rules::new_d0(&dp), rules::new_d1(&dp))
        },
        &rand(121),
    );
    // Matrices take their arguments row by row.
    check(
        "Matrix2::new",
        |x: &Vector4<f64>| Matrix2::new(x[0], x[1], x[2], x[3]),
        |_, g| {
            Vector4::new(
                rules::new_d0(&g),
                rules::new_d1(&g),
                rules::new_d2(&g),
                rules::new_d3(&g),
            )
        },
        &rand(122),
    );
    check(
        "Matrix2x3::new",
        |x: &SMatrix<f64, 6, 1>| Matrix2x3::new(x[0], x[1], x[2], x[3], x[4], x[5]),
        |_, g| {
            SMatrix::<f64, 6, 1>::from_column_slice(&[
                rules::new_d0(&g),
                rules::new_d1(&g),
                rules::new_d2(&g),
                rules::new_d3(&g),
                rules::new_d4(&g),
                rules::new_d5(&g),
            ])
        },
        &rand(123),
    );
    check(
        "Matrix3::new",
        |x: &SMatrix<f64, 9, 1>| Matrix3::new(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8]),
        |_, g| {
            SMatrix::<f64, 9, 1>::from_column_slice(&[
                rules::new_d0(&g),
                rules::new_d1(&g),
                rules::new_d2(&g),
                rules::new_d3(&g),
                rules::new_d4(&g),
                rules::new_d5(&g),
                rules::new_d6(&g),
                rules::new_d7(&g),
                rules::new_d8(&g),
            ])
        },
        &rand(124),
    );
    check(
        "Matrix4::new",
        |x: &SMatrix<f64, 16, 1>| {
            Matrix4::new(
                x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11], x[12],
                x[13], x[14], x[15],
            )
        },
        |_, g| {
            SMatrix::<f64, 16, 1>::from_column_slice(&[
                rules::new_d0(&g),
                rules::new_d1(&g),
                rules::new_d2(&g),
                rules::new_d3(&g),
                rules::new_d4(&g),
                rules::new_d5(&g),
                rules::new_d6(&g),
                rules::new_d7(&g),
                rules::new_d8(&g),
                rules::new_d9(&g),
                rules::new_d10(&g),
                rules::new_d11(&g),
                rules::new_d12(&g),
                rules::new_d13(&g),
                rules::new_d14(&g),
                rules::new_d15(&g),
            ])
        },
        &rand(125),
    );
}

#[test]
fn slice_constructors() {
    check(
        "Matrix2x3::from_column_slice",
        |x: &Vec<f64>| Matrix2x3::from_column_slice(x),
        |_, g| rules::from_column_slice_d0(&g),
        &numbers(6, 130),
    );
    check(
        "Matrix2x3::from_row_slice",
        |x: &Vec<f64>| Matrix2x3::from_row_slice(x),
        |_, g| rules::from_row_slice_d0(&g),
        &numbers(6, 131),
    );
    check(
        "DVector::from_column_slice",
        |x: &Vec<f64>| DVector::from_column_slice(x),
        |_, g| rules::from_column_slice_d0(&g),
        &numbers(5, 132),
    );
    check(
        "DMatrix::from_column_slice(r, c, xs)",
        |x: &Vec<f64>| DMatrix::from_column_slice(2, 3, x),
        |_, g| rules::from_column_slice_d2(&g),
        &numbers(6, 133),
    );
    check(
        "DMatrix::from_row_slice(r, c, xs)",
        |x: &Vec<f64>| DMatrix::from_row_slice(3, 2, x),
        |_, g| rules::from_row_slice_d2(&g),
        &numbers(6, 134),
    );
    check(
        "DVector::from_vec / DMatrix::from_vec",
        |x: &Vec<f64>| {
            DVector::from_vec(x.clone()).sum() + DMatrix::from_vec(2, 2, x.clone()).determinant()
        },
        |x, g| {
            let m = DMatrix::from_vec(2, 2, x.clone());
            let mut d =
                rules::from_vec_d0(&rules::sum_d0(&g, &meta(&DVector::from_vec(x.clone()))));
            acc(&mut d, rules::from_vec_d2(&rules::determinant_d0(&g, &m)));
            d
        },
        &numbers(4, 135),
    );
    assert!(rules::from_column_slice_d0(&DVector::<f64>::zero()).is_empty());
}

#[test]
fn element_and_diagonal_constructors() {
    check(
        "Vector3::repeat(s) + Matrix2::from_element(s)",
        |s: &f64| {
            Vector3::repeat(*s).norm_squared() + Matrix2::from_element(*s).determinant() + s * s
        },
        |s, g| {
            let v = Vector3::repeat(*s);
            let m = Matrix2::from_element(*s);
            rules::from_element_d0(&rules::norm_squared_d0(&g, &v))
                + rules::from_element_d0(&rules::determinant_d0(&g, &m))
                + 2.0 * s * g
        },
        &0.7,
    );
    check(
        "DVector::from_element(n, s), DMatrix::from_element(r, c, s)",
        |s: &f64| {
            DVector::from_element(3, *s)
                .component_mul(&DVector::from_vec(vec![1.0, 2.0, 3.0]))
                .norm()
                + DMatrix::from_element(2, 3, *s).map(|x| x * x).sum()
        },
        |s, g| {
            let w = DVector::from_vec(vec![1.0, 2.0, 3.0]);
            let v = DVector::from_element(3, *s);
            let y = v.component_mul(&w);
            let dv = rules::component_mul_d0(&rules::norm_d0(&g, &y, &y.norm()), &w);
            // `map` is not a rule: the square's adjoint by hand, then from_element.
            let m = DMatrix::from_element(2, 3, *s);
            let dm = m * (2.0 * g);
            rules::from_element_d1(&dv) + rules::from_element_d2(&dm)
        },
        &-0.4,
    );
    check(
        "Matrix3::from_diagonal(&d) * v, then .diagonal()",
        |(d, v): &(Vector3<f64>, Vector3<f64>)| {
            (Matrix3::from_diagonal(d) * v)
                .component_mul(&(Matrix3::from_diagonal(v) * Matrix3::from_diagonal(d)).diagonal())
        },
        |(d, v), g| {
            let (md, mv) = (Matrix3::from_diagonal(d), Matrix3::from_diagonal(v));
            let a = md * v;
            let p = mv * md;
            let b = p.diagonal();
            let da = rules::component_mul_d0(&g, &b);
            let db = rules::component_mul_d1(&g, &a);
            let dp = rules::diagonal_d0(&db, &meta(&p));
            let mut dd = rules::from_diagonal_d0(&rules::mul_d0(&da, &meta(&md), v));
            let mut dv = rules::mul_d1(&da, &md, &meta(v));
            acc(
                &mut dv,
                rules::from_diagonal_d0(&rules::mul_d0(&dp, &meta(&mv), &md)),
            );
            acc(
                &mut dd,
                rules::from_diagonal_d0(&rules::mul_d1(&dp, &mv, &meta(&md))),
            );
            (dd, dv)
        },
        &(rand(127), rand(128)),
    );
    check(
        "DMatrix::from_diagonal(&d).determinant()",
        |d: &DVector<f64>| DMatrix::from_diagonal(d).determinant(),
        |d, g| rules::from_diagonal_d0(&rules::determinant_d0(&g, &DMatrix::from_diagonal(d))),
        &dvec(4, 129),
    );
}

// ---------------------------------------------------------------- rotations

#[test]
fn rotation2_applied_to_a_vector() {
    // y = Rotation2::new(θ) * v: R̄ = mul_d0, θ̄ = rotation2_new_d0(R̄, θ), v̄ = mul_d1.
    check(
        "Rotation2::new(θ) * v",
        |(theta, v): &(f64, Vector2<f64>)| Rotation2::new(*theta) * v,
        |(theta, v), g| {
            let r = Rotation2::new(*theta);
            let dr = rules::mul_d0(&g, &meta(&r), v);
            let dv = rules::mul_d1(&g, &r, &meta(v));
            (rules::rotation2_new_d0(&dr, theta), dv)
        },
        &(0.7, rand(140)),
    );
    check(
        "Rotation2::new(θ).inverse() * Point2",
        |(theta, p): &(f64, Vector2<f64>)| {
            (Rotation2::new(*theta).inverse() * Point2::from(*p)).coords
        },
        |(theta, p), g| {
            let p = Point2::from(*p);
            let r = Rotation2::new(*theta);
            let ri = r.inverse();
            let dri = rules::mul_d0(&g, &meta(&ri), &p);
            let dp = rules::mul_d1(&g, &ri, &meta(&p));
            let dr = rules::inverse_d0(&dri);
            (rules::rotation2_new_d0(&dr, theta), dp)
        },
        &(-2.1, rand(141)),
    );
}

#[test]
fn rotation3_and_unit_quaternion_from_axis_angle() {
    let axis = Unit::new_normalize(Vector3::new(0.3, -0.5, 0.8));
    check(
        "Rotation3::from_axis_angle(&axis, θ) * v",
        |(theta, v): &(f64, Vector3<f64>)| Rotation3::from_axis_angle(&axis, *theta) * v,
        |(theta, v), g| {
            let r = Rotation3::from_axis_angle(&axis, *theta);
            let dr = rules::mul_d0(&g, &meta(&r), v);
            let dv = rules::mul_d1(&g, &r, &meta(v));
            (rules::from_axis_angle_d1(&dr, &axis, theta), dv)
        },
        &(1.1, rand(150)),
    );
    check(
        "UnitQuaternion::from_axis_angle(&axis, θ) * v",
        |(theta, v): &(f64, Vector3<f64>)| UnitQuaternion::from_axis_angle(&axis, *theta) * v,
        |(theta, v), g| {
            let q = UnitQuaternion::from_axis_angle(&axis, *theta);
            let dq = rules::mul_d0(&g, &meta(&q), v);
            let dv = rules::mul_d1(&g, &q, &meta(v));
            (rules::from_axis_angle_d1(&dq, &axis, theta), dv)
        },
        &(-0.4, rand(151)),
    );
    // The axis too, through Unit::new_normalize.
    check(
        "Rotation3::from_axis_angle(&Unit::new_normalize(a), θ) * v",
        |(a, theta, v): &(Vector3<f64>, f64, Vector3<f64>)| {
            Rotation3::from_axis_angle(&Unit::new_normalize(*a), *theta) * v
        },
        |(a, theta, v), g| {
            let axis = Unit::new_normalize(*a);
            let r = Rotation3::from_axis_angle(&axis, *theta);
            let dr = rules::mul_d0(&g, &meta(&r), v);
            let daxis = rules::from_axis_angle_d0(&dr, &axis, theta);
            (
                rules::normalize_d0(&daxis, a),
                rules::from_axis_angle_d1(&dr, &axis, theta),
                rules::mul_d1(&g, &r, &meta(v)),
            )
        },
        &(rand(152), 0.9, rand(153)),
    );
    check(
        "UnitQuaternion::from_axis_angle(&Unit::new_normalize(a), θ) * v",
        |(a, theta, v): &(Vector3<f64>, f64, Vector3<f64>)| {
            UnitQuaternion::from_axis_angle(&Unit::new_normalize(*a), *theta) * v
        },
        |(a, theta, v), g| {
            let axis = Unit::new_normalize(*a);
            let q = UnitQuaternion::from_axis_angle(&axis, *theta);
            let dq = rules::mul_d0(&g, &meta(&q), v);
            let daxis = rules::from_axis_angle_d0(&dq, &axis, theta);
            (
                rules::normalize_d0(&daxis, a),
                rules::from_axis_angle_d1(&dq, &axis, theta),
                rules::mul_d1(&g, &q, &meta(v)),
            )
        },
        &(rand(154), 2.4, rand(155)),
    );
}

#[test]
fn euler_angles_and_compositions() {
    check(
        "Rotation3::from_euler_angles(r, p, y) * v",
        |(a, v): &(Vector3<f64>, Vector3<f64>)| Rotation3::from_euler_angles(a[0], a[1], a[2]) * v,
        |(a, v), g| {
            let r = Rotation3::from_euler_angles(a[0], a[1], a[2]);
            let dr = rules::mul_d0(&g, &meta(&r), v);
            let da = Vector3::new(
                rules::from_euler_angles_d0(&dr, &a[0], &a[1], &a[2]),
                rules::from_euler_angles_d1(&dr, &a[0], &a[1], &a[2]),
                rules::from_euler_angles_d2(&dr, &a[0], &a[1], &a[2]),
            );
            (da, rules::mul_d1(&g, &r, &meta(v)))
        },
        &(Vector3::new(0.3, -0.7, 1.9), rand(160)),
    );
    check(
        "UnitQuaternion::from_euler_angles(r, p, y) * Point3",
        |(a, p): &(Vector3<f64>, Vector3<f64>)| {
            (UnitQuaternion::from_euler_angles(a[0], a[1], a[2]) * Point3::from(*p)).coords
        },
        |(a, p), g| {
            let p = Point3::from(*p);
            let q = UnitQuaternion::from_euler_angles(a[0], a[1], a[2]);
            let dq = rules::mul_d0(&g, &meta(&q), &p);
            let da = Vector3::new(
                rules::from_euler_angles_d0(&dq, &a[0], &a[1], &a[2]),
                rules::from_euler_angles_d1(&dq, &a[0], &a[1], &a[2]),
                rules::from_euler_angles_d2(&dq, &a[0], &a[1], &a[2]),
            );
            (da, rules::mul_d1(&g, &q, &meta(&p)))
        },
        &(Vector3::new(-1.2, 0.4, 0.5), rand(161)),
    );
    // q1 * q2 * v and r1 * r2ᵀ * v: products of rotations are matrix products.
    let x = Vector3::x_axis();
    let z = Vector3::z_axis();
    check(
        "(q(θ₁) * q(θ₂)) * v",
        |t: &Vector3<f64>| {
            (UnitQuaternion::from_axis_angle(&x, t[0]) * UnitQuaternion::from_axis_angle(&z, t[1]))
                * Vector3::new(1.0, 2.0, t[2])
        },
        |t, g| {
            let (q1, q2) = (
                UnitQuaternion::from_axis_angle(&x, t[0]),
                UnitQuaternion::from_axis_angle(&z, t[1]),
            );
            let q = q1 * q2;
            let v = Vector3::new(1.0, 2.0, t[2]);
            let dq = rules::mul_d0(&g, &meta(&q), &v);
            let dv = rules::mul_d1(&g, &q, &meta(&v));
            let dq1 = rules::mul_d0(&dq, &meta(&q1), &q2);
            let dq2 = rules::mul_d1(&dq, &q1, &meta(&q2));
            Vector3::new(
                rules::from_axis_angle_d1(&dq1, &x, &t[0]),
                rules::from_axis_angle_d1(&dq2, &z, &t[1]),
                rules::new_d2(&dv),
            )
        },
        &Vector3::new(0.4, -1.0, 0.6),
    );
    check(
        "(r(θ₁) * r(θ₂)ᵀ) * v",
        |(t, v): &(Vector2<f64>, Vector3<f64>)| {
            (Rotation3::from_axis_angle(&x, t[0])
                * Rotation3::from_axis_angle(&z, t[1]).transpose())
                * v
        },
        |(t, v), g| {
            let (r1, r2) = (
                Rotation3::from_axis_angle(&x, t[0]),
                Rotation3::from_axis_angle(&z, t[1]),
            );
            let r2t = r2.transpose();
            let r = r1 * r2t;
            let dr = rules::mul_d0(&g, &meta(&r), v);
            let dv = rules::mul_d1(&g, &r, &meta(v));
            let dr1 = rules::mul_d0(&dr, &meta(&r1), &r2t);
            let dr2t = rules::mul_d1(&dr, &r1, &meta(&r2t));
            let dr2 = rules::t_d0(&dr2t);
            (
                Vector2::new(
                    rules::from_axis_angle_d1(&dr1, &x, &t[0]),
                    rules::from_axis_angle_d1(&dr2, &z, &t[1]),
                ),
                dv,
            )
        },
        &(Vector2::new(1.3, 0.2), rand(162)),
    );
}

#[test]
fn distances() {
    check(
        "nalgebra::distance",
        |(p, q): &(Vector3<f64>, Vector3<f64>)| {
            nalgebra::distance(&Point3::from(*p), &Point3::from(*q))
        },
        |(p, q), g| {
            let (p, q) = (Point3::from(*p), Point3::from(*q));
            let y = nalgebra::distance(&p, &q);
            (
                rules::distance_d0(&g, &p, &q, &y),
                rules::distance_d1(&g, &p, &q, &y),
            )
        },
        &(rand(170), rand(171)),
    );
    check(
        "nalgebra::distance_squared",
        |(p, q): &(Vector2<f64>, Vector2<f64>)| {
            nalgebra::distance_squared(&Point2::from(*p), &Point2::from(*q))
        },
        |(p, q), g| {
            let (p, q) = (Point2::from(*p), Point2::from(*q));
            (
                rules::distance_squared_d0(&g, &p, &q),
                rules::distance_squared_d1(&g, &p, &q),
            )
        },
        &(rand(172), rand(173)),
    );
}

/// A symbolic zero (an empty dynamic gradient) costs nothing and stays zero.
#[test]
fn symbolic_zeros_pass_through() {
    let g: DVector<f64> = zero();
    let a = drand(3, 2, 180);
    let x = dvec(2, 181);
    assert!(rules::mul_d0(&g, &meta(&a), &x).is_symbolic_zero());
    assert!(rules::mul_d1(&g, &a, &meta(&x)).is_symbolic_zero());
    assert_eq!(rules::mul_d1(&g, &x, &meta(&2.0)), 0.0);
    assert!(rules::normalize_d0(&g, &x).is_symbolic_zero());
    assert!(rules::component_mul_d0(&g, &x).is_symbolic_zero());
    let gm: DMatrix<f64> = zero();
    assert!(rules::try_inverse_d0(&gm, &DMatrix::<f64>::identity(2, 2)).is_symbolic_zero());
    assert!(rules::t_d0(&gm).is_symbolic_zero());
    assert_eq!(
        finish(rules::add_d0(&gm, &meta(&a)), &a),
        DMatrix::zeros(3, 2)
    );
}

// ---------------------------------------------------------------- the minimal forms

/// The end point of a two-link arm, as the generated code differentiates
/// `Vector2::new(l1 * t1.cos() + l2 * (t1 + t2).cos(), l1 * t1.sin() + l2 * (t1 + t2).sin())`,
/// and its squared distance to a target, `(end - target).norm_squared()`.
fn arm_vjp((l1, l2, t1, t2): &(f64, f64, f64, f64), g_end: Vector2<f64>) -> (f64, f64, f64, f64) {
    // Forward: what the reverse reads.
    let t12 = t1 + t2;
    let (c1, s1, c12, s12) = (t1.cos(), t1.sin(), t12.cos(), t12.sin());
    // Reverse.
    let dx = rules::new_d0(&g_end);
    let dy = rules::new_d1(&g_end);
    // x = l1 * c1 + l2 * c12
    let (mut dl1, mut dl2, mut dt1, mut dt12) = (zero(), zero(), zero(), zero());
    acc(&mut dl1, rules::mul_d0(&dx, &meta(l1), &c1));
    let dc1 = rules::mul_d1(&dx, l1, &meta(&c1));
    acc(&mut dl2, rules::mul_d0(&dx, &meta(l2), &c12));
    let dc12 = rules::mul_d1(&dx, l2, &meta(&c12));
    acc(&mut dt1, rules::cos_d0(&dc1, t1));
    acc(&mut dt12, rules::cos_d0(&dc12, &t12));
    // y = l1 * s1 + l2 * s12
    acc(&mut dl1, rules::mul_d0(&dy, &meta(l1), &s1));
    let ds1 = rules::mul_d1(&dy, l1, &meta(&s1));
    acc(&mut dl2, rules::mul_d0(&dy, &meta(l2), &s12));
    let ds12 = rules::mul_d1(&dy, l2, &meta(&s12));
    acc(&mut dt1, rules::sin_d0(&ds1, t1));
    acc(&mut dt12, rules::sin_d0(&ds12, &t12));
    // t12 = t1 + t2
    acc(&mut dt1, rules::add_d0(&dt12, &meta(t1)));
    let dt2 = rules::add_d1(&dt12, &meta(t2));
    (
        finish(dl1, l1),
        finish(dl2, l2),
        finish(dt1, t1),
        finish(dt2, t2),
    )
}

fn arm((l1, l2, t1, t2): &(f64, f64, f64, f64)) -> Vector2<f64> {
    Vector2::new(
        l1 * t1.cos() + l2 * (t1 + t2).cos(),
        l1 * t1.sin() + l2 * (t1 + t2).sin(),
    )
}

#[test]
fn two_link_arm_end_point() {
    check(
        "two-link arm end point",
        arm,
        arm_vjp,
        &(1.0, 0.7, 0.4, 1.1),
    );
}

#[test]
fn two_link_arm_squared_distance_to_target() {
    let target = Vector2::new(0.5, 1.2);
    let loss = |x: &(f64, f64, f64, f64)| (arm(x) - target).norm_squared();
    let vjp = |x: &(f64, f64, f64, f64), g: f64| {
        let end = arm(x);
        let diff = end - target;
        let d_diff = rules::norm_squared_d0(&g, &diff);
        let d_end = rules::sub_d0(&d_diff, &meta(&end));
        arm_vjp(x, d_end)
    };
    check(
        "two-link arm squared distance",
        loss,
        vjp,
        &(1.0, 0.7, 0.4, 1.1),
    );
    // Against the gradient worked out by hand.
    let (l1, l2, t1, t2) = (1.0, 0.7, 0.4, 1.1);
    let e = arm(&(l1, l2, t1, t2)) - target;
    let dt2 = 2.0 * (e.x * -l2 * (t1 + t2).sin() + e.y * l2 * (t1 + t2).cos());
    let dt1 = dt2 + 2.0 * (e.x * -l1 * t1.sin() + e.y * l1 * t1.cos());
    let got = vjp(&(l1, l2, t1, t2), 1.0);
    assert!(
        (got.2 - dt1).abs() < 1e-12 && (got.3 - dt2).abs() < 1e-12,
        "{got:?}"
    );
}

/// The angle between two `Vector3`s, two ways: `acos(a·b / (|a| |b|))`
/// through `normalize`, and `atan2(|a × b|, a·b)` through `cross`.
#[test]
fn angle_between_two_vectors() {
    let x = (Vector3::new(1.0, 0.3, -0.5), Vector3::new(-0.2, 0.9, 0.4));
    check(
        "acos(â · b̂)",
        |(a, b): &(Vector3<f64>, Vector3<f64>)| a.normalize().dot(&b.normalize()).acos(),
        |(a, b), g| {
            let (na, nb) = (a.normalize(), b.normalize());
            let c = na.dot(&nb);
            let dc = g * (-1.0 / (1.0 - c * c).sqrt()); // acos′, by hand: not a nalgebra rule
            let dna = rules::dot_d0(&dc, &nb);
            let dnb = rules::dot_d1(&dc, &na);
            (rules::normalize_d0(&dna, a), rules::normalize_d0(&dnb, b))
        },
        &x,
    );
    check(
        "atan2(|a × b|, a · b)",
        |(a, b): &(Vector3<f64>, Vector3<f64>)| a.cross(b).norm().atan2(a.dot(b)),
        |(a, b), g| {
            let c = a.cross(b);
            let (s, d) = (c.norm(), a.dot(b));
            let r2 = s * s + d * d;
            let (ds, dd) = (g * d / r2, -g * s / r2); // atan2′, by hand
            let dcross = rules::norm_d0(&ds, &c, &s);
            let mut da = rules::cross_d0(&dcross, b);
            let mut db = rules::cross_d1(&dcross, a);
            acc(&mut da, rules::dot_d0(&dd, b));
            acc(&mut db, rules::dot_d1(&dd, a));
            (da, db)
        },
        &x,
    );
    // Both give the same angle and the same gradient.
    let (a, b) = x;
    let one = a.normalize().dot(&b.normalize()).acos();
    let two = a.cross(&b).norm().atan2(a.dot(&b));
    assert!((one - two).abs() < 1e-12);
}

/// A `Rotation3` applied to a point: `Rotation3::from_axis_angle(&axis, θ) * p`,
/// gradients for θ and for the point (a vector).
#[test]
fn rotation3_applied_to_a_point() {
    let axis = Vector3::y_axis();
    check(
        "Rotation3::from_axis_angle(&axis, θ) * p",
        |(theta, p): &(f64, Vector3<f64>)| {
            (Rotation3::from_axis_angle(&axis, *theta) * Point3::from(*p)).coords
        },
        |(theta, p), g| {
            let p = Point3::from(*p);
            let r = Rotation3::from_axis_angle(&axis, *theta);
            let dr = rules::mul_d0(&g, &meta(&r), &p);
            let dp: Vector3<f64> = rules::mul_d1(&g, &r, &meta(&p));
            (rules::from_axis_angle_d1(&dr, &axis, theta), dp)
        },
        &(0.6, Vector3::new(1.0, 2.0, 3.0)),
    );
    // By hand: about y, d/dθ (R p) = (p_z cos θ − p_x sin θ, 0, −p_x cos θ − p_z sin θ).
    let (theta, p) = (0.6f64, Point3::new(1.0, 2.0, 3.0));
    let r = Rotation3::from_axis_angle(&axis, theta);
    let g = Vector3::new(1.0, 1.0, 1.0);
    let dtheta = rules::from_axis_angle_d1(&rules::mul_d0(&g, &meta(&r), &p), &axis, &theta);
    let by_hand =
        (p.z * theta.cos() - p.x * theta.sin()) + (-p.x * theta.cos() - p.z * theta.sin());
    assert!((dtheta - by_hand).abs() < 1e-12);
}

/// The quadratic form `x.dot(&(a * &x))` with `DMatrix`/`DVector`:
/// `ā = x xᵀ`, `x̄ = (a + aᵀ) x`.
#[test]
fn quadratic_form_dmatrix_dvector() {
    let f = |(a, x): &(DMatrix<f64>, DVector<f64>)| x.dot(&(a * x));
    let vjp = |(a, x): &(DMatrix<f64>, DVector<f64>), g: f64| {
        let ax = a * x;
        let (mut da, mut dx) = (zero::<DMatrix<f64>>(), zero::<DVector<f64>>());
        acc(&mut dx, rules::dot_d0(&g, &ax));
        let dax = rules::dot_d1(&g, x);
        acc(&mut da, rules::mul_d0(&dax, &meta(a), &x));
        acc(&mut dx, rules::mul_d1(&dax, a, &meta(&x)));
        (finish(da, a), finish(dx, x))
    };
    let x0 = (drand(5, 5, 190), dvec(5, 191));
    check("x·(A x)", f, vjp, &x0);
    let (da, dx) = vjp(&x0, 1.0);
    let (a, x) = &x0;
    assert!((da - x * x.transpose()).norm() < 1e-12);
    assert!((dx - (a + a.transpose()) * x).norm() < 1e-12);
}

/// A `Matrix3` determinant, `ā = cof(a)`, equal to `det(a) a⁻ᵀ` for an
/// invertible matrix.
#[test]
fn matrix3_determinant() {
    let a: Matrix3<f64> = rand(200);
    check(
        "Matrix3::determinant",
        |a: &Matrix3<f64>| a.determinant(),
        |a, g| rules::determinant_d0(&g, a),
        &a,
    );
    let expected = a.determinant() * a.try_inverse().unwrap().transpose();
    assert!((rules::determinant_d0(&1.0, &a) - expected).norm() < 1e-12);
    // Reached from a variable's elements, through Matrix3::new.
    check(
        "Matrix3::new(..).determinant()",
        |x: &SMatrix<f64, 9, 1>| {
            Matrix3::new(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8]).determinant()
        },
        |x, g| {
            let m = Matrix3::new(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8]);
            let dm = rules::determinant_d0(&g, &m);
            let mut dx = zero();
            let news = [
                rules::new_d0(&dm),
                rules::new_d1(&dm),
                rules::new_d2(&dm),
                rules::new_d3(&dm),
                rules::new_d4(&dm),
                rules::new_d5(&dm),
                rules::new_d6(&dm),
                rules::new_d7(&dm),
                rules::new_d8(&dm),
            ];
            for (k, d) in news.into_iter().enumerate() {
                acc_index(&mut dx, &meta(x), &k, d);
            }
            finish(dx, x)
        },
        &rand(201),
    );
}

/// Shapes of dynamic operands kept on a loop's tape, and values kept by the
/// forward pass, come back as they went.
#[test]
#[allow(clippy::needless_borrow)] // `(&Keep(&x)).keep()` is the generated code's form
fn tapes_and_kept_values() {
    use rt::{Keep, KeepBorrowed, KeepOwned, pop_meta, push_meta, restore};
    let a = drand(2, 3, 210);
    let mut tape = Default::default();
    push_meta(&mut tape, meta(&a));
    push_meta(&mut tape, meta(&drand(4, 1, 211)));
    assert_eq!(pop_meta(&mut tape).shape(), (4, 1));
    assert_eq!(pop_meta(&mut tape).shape(), (2, 3));
    let kept = (&Keep(&a)).keep();
    let back: DMatrix<f64> = restore(&kept);
    assert_eq!(back, a);
    let q = UnitQuaternion::from_euler_angles(0.1, 0.2, 0.3);
    let kept = (&Keep(&&q)).keep();
    let back: &UnitQuaternion<f64> = restore(&kept);
    assert_eq!(*back, q);
}
