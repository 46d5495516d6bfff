//! Derivative rules for nalgebra values: matrices and vectors of `f64`
//! (fixed `SMatrix`/`SVector` and dynamic `DMatrix`/`DVector`), points,
//! `Rotation2`/`Rotation3` and `UnitQuaternion` (see `nalgebra_types.rs` for
//! their tangents: a point's is a vector, a rotation's is its matrix's).
//!
//! The operators reuse the rule names of `f64` and `Tensor` (`add_d0`,
//! `mul_d1`, …: the same rows of the macro's table), with implementations
//! for nalgebra argument types; methods, constructors and rotations get rules
//! of their own. A rule reading a point reads its coordinates, a rule reading
//! a rotation reads its matrix (their [`Operand`] values), so every vector
//! rule serves points and every matrix rule serves rotations.
//!
//! # What the generated code calls
//!
//! Needs are written as in `autodiff-macros/src/rules.rs`: `V(i)` the value
//! of operand `i` (the receiver of a method is operand 0), `M(i)` its
//! shape (`meta`), `Y` the op's output, `-` an operand without a gradient.
//!
//! | Rust (nalgebra) | rule | operand needs |
//! |---|---|---|
//! | `a + b`, `a += b` (matrices of one shape; `Point ± Vector`, `Point − Point`) | `add` | `[M(0)]`, `[M(1)]` (the existing `ADD` row) |
//! | `a - b`, `a -= b` | `sub` | `[M(0)]`, `[M(1)]` (`SUB`) |
//! | `a * b`, `a *= b` (matrix × matrix/vector/point, scalar × matrix, matrix × scalar, rotation or unit quaternion × vector/point/rotation) | `mul` | `[M(0), V(1)]`, `[V(0), M(1)]` (`MUL`) |
//! | `a / s`, `a /= s` (matrix ÷ scalar) | `div` | `[M(0), V(1)]`, `[V(0), V(1)]` (`DIV`) |
//! | `-a` | `neg` | `[]` (`NEG`) |
//! | `a.dot(&b)` | `dot` | `[V(1)]`, `[V(0)]` (existing row) |
//! | `a.cross(&b)` (`Vector3`) | `cross` | `[V(1)]`, `[V(0)]` |
//! | `a.component_mul(&b)` | `component_mul` | `[V(1)]`, `[V(0)]` |
//! | `a.component_div(&b)` | `component_div` | `[V(1)]`, `[V(0), V(1)]` |
//! | `x.norm()`, `x.magnitude()` | `norm` | `[V(0), Y]` (existing row) |
//! | `x.norm_squared()`, `x.magnitude_squared()` | `norm_squared` | `[V(0)]` |
//! | `x.normalize()`, `Unit::new_normalize(x)` | `normalize` | `[V(0)]` |
//! | `x.sum()`, `x.mean()` | `sum`, `mean` | `[M(0)]` (existing rows) |
//! | `m.trace()` | `trace` | `[M(0)]` |
//! | `m.transpose()`, rotation `.transpose()` | `t` | `[]` (existing row: `transpose` → `t`) |
//! | rotation or unit quaternion `.inverse()` | `inverse` | `[]` |
//! | `m.determinant()` (any square size; closed forms for 1–3) | `determinant` | `[V(0)]` |
//! | `m.try_inverse().unwrap()` / `.expect(..)` (square; `DMatrix` too) | `try_inverse` | `[Y]` (the inverse, or the `Option` itself) |
//! | `v[i]`, `m[(i, j)]`, `p[i]` | index: `acc_index(&mut d, &meta, &index, g)` on a variable, else `index_d0(&g, &meta, &index)` | as slices (`IndexMeta` for [`MatrixMeta`]) |
//! | `v.x`, `.y`, `.z`, `.w` (vectors, points) | `x`, `y`, `z`, `w` | `[M(0)]` (or lower as the index `[0]`…`[3]`) |
//! | `Vector2::new(a, b)`, `Vector3::new`, `Vector4::new`, `Matrix2::new` (4 args, row by row), `Matrix3::new` (9), `Matrix4::new` (16), `Point2::new`, `Point3::new`, any fixed `::new` | `new` | `[]` for each argument (argument k: `new_d<k>`) |
//! | `SVector::from_column_slice(&xs)`, `SMatrix::from_column_slice(&xs)`, `DVector::from_column_slice(&xs)` | `from_column_slice` | `[]` for operand 0 |
//! | `DMatrix::from_column_slice(r, c, &xs)` | `from_column_slice` | `-`, `-`, `[]` (`from_column_slice_d2`) |
//! | `…::from_row_slice(&xs)`, `DMatrix::from_row_slice(r, c, &xs)` | `from_row_slice` | `[]` / `-`, `-`, `[]` |
//! | `DVector::from_vec(xs)`, `DMatrix::from_vec(r, c, xs)` | `from_vec` | `[]` / `-`, `-`, `[]` |
//! | `SVector::from_element(s)`, `repeat(s)`; `DVector::from_element(n, s)`; `DMatrix::from_element(r, c, s)` | `from_element` | `[]` / `-`, `[]` / `-`, `-`, `[]` |
//! | `M::from_diagonal(&d)` (square) | `from_diagonal` | `[]` |
//! | `m.diagonal()` (square) | `diagonal` | `[M(0)]` |
//! | `Rotation2::new(θ)` | `rotation2_new` | `[V(0)]` |
//! | `Rotation3::from_axis_angle(&axis, θ)`, `UnitQuaternion::from_axis_angle(&axis, θ)` | `from_axis_angle` | `[V(0), V(1)]`, `[V(0), V(1)]` |
//! | `Rotation3::from_euler_angles(r, p, y)`, `UnitQuaternion::from_euler_angles(r, p, y)` | `from_euler_angles` | `[V(0), V(1), V(2)]` each |
//! | `nalgebra::distance(&p, &q)` | `distance` | `[V(0), V(1), Y]` each |
//! | `nalgebra::distance_squared(&p, &q)` | `distance_squared` | `[V(0), V(1)]` each |
//! | `p.coords`, `Point::from(v)`, `r.matrix()`, `r.into_inner()`, `q.to_rotation_matrix()`, `Rotation3::from(q)`, `axis.into_inner()`, `x.clone()`, `x.into_owned()` | identity: the cotangent passes through | `[]` |
//! | `v.scale(s)` | `mul` | as `v * s` |
//!
//! A rule's cotangent is already the operand's gradient type: a point
//! operand gets a vector, a rotation or unit quaternion a matrix, a slice
//! argument of a constructor a `Vec<f64>`.

use nalgebra::allocator::Allocator;
use nalgebra::{
    DMatrix, DefaultAllocator, Dim, Matrix2, Matrix3, OMatrix, UnitQuaternion, Vector3,
};

use super::binary::{AddD0, AddD1, DivD0, DivD1, MulD0, MulD1, NegD0, SubD0, SubD1};
use super::linalg::{DotD0, DotD1, NormD0};
use super::reduce::{MeanD0, SumD0};
use super::shape::{IndexD0, TD0, TransposeD0};
use super::{Rule, rule_fn};
use crate::cotangent::{Cotangent, ScalarMeta};
use crate::nalgebra_types::{MatrixIndex, MatrixMeta};

/// An owned nalgebra matrix of `f64`.
type M<R, C> = OMatrix<f64, R, C>;

/// `⟨g, b⟩`, or 0 for a symbolic zero `g`.
#[inline]
fn inner<R: Dim, C: Dim>(g: &M<R, C>, b: &M<R, C>) -> f64
where
    DefaultAllocator: Allocator<R, C>,
{
    if g.is_empty() { 0.0 } else { g.dot(b) }
}

// ---------------------------------------------------------------- + − and negation

/// `a + b` (same shapes; `Point + Vector`), operand `a`: `ā += ḡ`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &MatrixMeta<R, C>)> for AddD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, _): (&M<R, C>, &MatrixMeta<R, C>)) -> M<R, C> {
        g.clone()
    }
}

/// `a + b`, operand `b`: `b̄ += ḡ`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &MatrixMeta<R, C>)> for AddD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, _): (&M<R, C>, &MatrixMeta<R, C>)) -> M<R, C> {
        g.clone()
    }
}

/// `a - b` (same shapes; `Point − Point`, `Point − Vector`), operand `a`: `ā += ḡ`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &MatrixMeta<R, C>)> for SubD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, _): (&M<R, C>, &MatrixMeta<R, C>)) -> M<R, C> {
        g.clone()
    }
}

/// `a - b`, operand `b`: `b̄ −= ḡ`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &MatrixMeta<R, C>)> for SubD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, _): (&M<R, C>, &MatrixMeta<R, C>)) -> M<R, C> {
        -g
    }
}

/// `-x`: `x̄ −= ḡ`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>,)> for NegD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g,): (&M<R, C>,)) -> M<R, C> {
        -g
    }
}

// ---------------------------------------------------------------- products

/// `a * b`, a matrix product (`R×K · K×C`: matrix × matrix, matrix × vector,
/// rotation × vector or point, vector × row vector), operand `a`:
/// `ā += ḡ · bᵀ`.
impl<R: Dim, K: Dim, C: Dim> Rule<(&M<R, C>, &MatrixMeta<R, K>, &M<K, C>)> for MulD0
where
    DefaultAllocator: Allocator<R, C> + Allocator<R, K> + Allocator<K, C> + Allocator<C, K>,
{
    type Out = M<R, K>;
    #[inline]
    fn apply((g, a, b): (&M<R, C>, &MatrixMeta<R, K>, &M<K, C>)) -> M<R, K> {
        if g.is_empty() {
            return Cotangent::zero();
        }
        debug_assert_eq!((g.nrows(), b.nrows()), a.shape());
        g * b.transpose()
    }
}

/// `a * b`, a matrix product, operand `b`: `b̄ += aᵀ · ḡ`.
impl<R: Dim, K: Dim, C: Dim> Rule<(&M<R, C>, &M<R, K>, &MatrixMeta<K, C>)> for MulD1
where
    DefaultAllocator: Allocator<R, C> + Allocator<R, K> + Allocator<K, C>,
{
    type Out = M<K, C>;
    #[inline]
    fn apply((g, a, _): (&M<R, C>, &M<R, K>, &MatrixMeta<K, C>)) -> M<K, C> {
        if g.is_empty() {
            return Cotangent::zero();
        }
        a.tr_mul(g)
    }
}

/// `x * s` (matrix × scalar), operand `x`: `x̄ += ḡ · s`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &MatrixMeta<R, C>, &f64)> for MulD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, _, s): (&M<R, C>, &MatrixMeta<R, C>, &f64)) -> M<R, C> {
        g * *s
    }
}

/// `x * s`, operand `s`: `s̄ += ⟨ḡ, x⟩`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &M<R, C>, &ScalarMeta)> for MulD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = f64;
    #[inline]
    fn apply((g, x, _): (&M<R, C>, &M<R, C>, &ScalarMeta)) -> f64 {
        inner(g, x)
    }
}

/// `s * x` (scalar × matrix), operand `s`: `s̄ += ⟨ḡ, x⟩`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &ScalarMeta, &M<R, C>)> for MulD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = f64;
    #[inline]
    fn apply((g, _, x): (&M<R, C>, &ScalarMeta, &M<R, C>)) -> f64 {
        inner(g, x)
    }
}

/// `s * x`, operand `x`: `x̄ += ḡ · s`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &f64, &MatrixMeta<R, C>)> for MulD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, s, _): (&M<R, C>, &f64, &MatrixMeta<R, C>)) -> M<R, C> {
        g * *s
    }
}

/// `q * v` (unit quaternion × vector or point), operand `v`:
/// `v̄ += R(q)ᵀ ḡ = q⁻¹ ḡ`. (Operand `q`, whose gradient is its rotation
/// matrix's, is the matrix product's: `R̄ += ḡ vᵀ`.)
impl
    Rule<(
        &Vector3<f64>,
        &UnitQuaternion<f64>,
        &MatrixMeta<nalgebra::U3, nalgebra::U1>,
    )> for MulD1
{
    type Out = Vector3<f64>;
    #[inline]
    fn apply(
        (g, q, _): (
            &Vector3<f64>,
            &UnitQuaternion<f64>,
            &MatrixMeta<nalgebra::U3, nalgebra::U1>,
        ),
    ) -> Vector3<f64> {
        q.inverse_transform_vector(g)
    }
}

/// `p * q` (unit quaternions, as rotations `R(p) R(q)`), operand `p`:
/// `R̄(p) += ḡ R(q)ᵀ`.
impl
    Rule<(
        &Matrix3<f64>,
        &MatrixMeta<nalgebra::U3, nalgebra::U3>,
        &UnitQuaternion<f64>,
    )> for MulD0
{
    type Out = Matrix3<f64>;
    #[inline]
    fn apply(
        (g, _, q): (
            &Matrix3<f64>,
            &MatrixMeta<nalgebra::U3, nalgebra::U3>,
            &UnitQuaternion<f64>,
        ),
    ) -> Matrix3<f64> {
        g * q.to_rotation_matrix().matrix().transpose()
    }
}

/// `p * q` (unit quaternions), operand `q`: `R̄(q) += R(p)ᵀ ḡ`.
impl
    Rule<(
        &Matrix3<f64>,
        &UnitQuaternion<f64>,
        &MatrixMeta<nalgebra::U3, nalgebra::U3>,
    )> for MulD1
{
    type Out = Matrix3<f64>;
    #[inline]
    fn apply(
        (g, p, _): (
            &Matrix3<f64>,
            &UnitQuaternion<f64>,
            &MatrixMeta<nalgebra::U3, nalgebra::U3>,
        ),
    ) -> Matrix3<f64> {
        p.to_rotation_matrix().matrix().tr_mul(g)
    }
}

/// `x / s` (matrix ÷ scalar), operand `x`: `x̄ += ḡ / s`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &MatrixMeta<R, C>, &f64)> for DivD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, _, s): (&M<R, C>, &MatrixMeta<R, C>, &f64)) -> M<R, C> {
        g / *s
    }
}

/// `x / s`, operand `s`: `s̄ −= ⟨ḡ, x⟩ / s²`.
impl<R: Dim, C: Dim> Rule<(&M<R, C>, &M<R, C>, &f64)> for DivD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = f64;
    #[inline]
    fn apply((g, x, s): (&M<R, C>, &M<R, C>, &f64)) -> f64 {
        -inner(g, x) / (s * s)
    }
}

// ---------------------------------------------------------------- reductions and norms

/// `y = x.dot(&b)`, operand `x`: `x̄ += ḡ · b`.
impl<R: Dim, C: Dim> Rule<(&f64, &M<R, C>)> for DotD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, b): (&f64, &M<R, C>)) -> M<R, C> {
        b * *g
    }
}

/// `y = a.dot(&x)`, operand `x`: `x̄ += ḡ · a`.
impl<R: Dim, C: Dim> Rule<(&f64, &M<R, C>)> for DotD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, a): (&f64, &M<R, C>)) -> M<R, C> {
        a * *g
    }
}

/// `y = x.norm()` (Euclidean; Frobenius for matrices): `x̄ += ḡ · x / y`
/// (0 when `y = 0`, as PyTorch).
impl<R: Dim, C: Dim> Rule<(&f64, &M<R, C>, &f64)> for NormD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, x, y): (&f64, &M<R, C>, &f64)) -> M<R, C> {
        if *y == 0.0 {
            let (r, c) = x.shape_generic();
            M::zeros_generic(r, c)
        } else {
            x * (*g / *y)
        }
    }
}

rule_fn!(
    /// `y = x.norm_squared()` (`magnitude_squared`): `x̄ += 2 ḡ x`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::norm_squared_d0;
    /// use nalgebra::Vector2;
    ///
    /// assert_eq!(norm_squared_d0(&0.5, &Vector2::new(1.0, 2.0)), Vector2::new(1.0, 2.0));
    /// ```
    norm_squared_d0 => NormSquaredD0(g: G, x: X: Operand)
);

impl<R: Dim, C: Dim> Rule<(&f64, &M<R, C>)> for NormSquaredD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, x): (&f64, &M<R, C>)) -> M<R, C> {
        x * (2.0 * g)
    }
}

rule_fn!(
    /// `y = x.normalize()` (also `Unit::new_normalize(x)`), `y = x / |x|`:
    /// `x̄ += (ḡ − y ⟨y, ḡ⟩) / |x|` (the part of ḡ across `y`, scaled).
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::normalize_d0;
    /// use nalgebra::Vector2;
    ///
    /// // Along x itself nothing changes; across it, 1/|x|.
    /// let x = Vector2::new(2.0, 0.0);
    /// assert_eq!(normalize_d0(&Vector2::new(1.0, 1.0), &x), Vector2::new(0.0, 0.5));
    /// ```
    normalize_d0 => NormalizeD0(g: G, x: X: Operand)
);

impl<R: Dim, C: Dim> Rule<(&M<R, C>, &M<R, C>)> for NormalizeD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, x): (&M<R, C>, &M<R, C>)) -> M<R, C> {
        if g.is_empty() {
            return Cotangent::zero();
        }
        let n = x.norm();
        let y = x / n;
        (g - &y * y.dot(g)) / n
    }
}

/// `y = x.sum()`: `x̄ += ḡ` at every element.
impl<R: Dim, C: Dim> Rule<(&f64, &MatrixMeta<R, C>)> for SumD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, x): (&f64, &MatrixMeta<R, C>)) -> M<R, C> {
        M::from_element_generic(x.0, x.1, *g)
    }
}

/// `y = x.mean()`: `x̄ += ḡ / n` at every element.
impl<R: Dim, C: Dim> Rule<(&f64, &MatrixMeta<R, C>)> for MeanD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, x): (&f64, &MatrixMeta<R, C>)) -> M<R, C> {
        let (r, c) = x.shape();
        M::from_element_generic(x.0, x.1, *g / (r * c) as f64)
    }
}

rule_fn!(
    /// `y = m.trace()`: `m̄ += ḡ I`.
    ///
    /// ```
    /// use autodiff_runtime::__private::{meta, rules::trace_d0};
    /// use nalgebra::Matrix2;
    ///
    /// assert_eq!(trace_d0(&3.0, &meta(&Matrix2::<f64>::zeros())), Matrix2::identity() * 3.0);
    /// ```
    trace_d0 => TraceD0(g: G, m_meta: Mm)
);

impl<R: Dim, C: Dim> Rule<(&f64, &MatrixMeta<R, C>)> for TraceD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, m): (&f64, &MatrixMeta<R, C>)) -> M<R, C> {
        M::identity_generic(m.0, m.1) * *g
    }
}

// ---------------------------------------------------------------- elementwise and cross products

rule_fn!(
    /// `y = a.cross(&b)` (`Vector3`), operand `a`: `ā += b × ḡ`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::cross_d0;
    /// use nalgebra::Vector3;
    ///
    /// assert_eq!(cross_d0(&Vector3::z(), &Vector3::x()), Vector3::new(0.0, -1.0, 0.0));
    /// ```
    cross_d0 => CrossD0(g: G, b: B: Operand)
);
rule_fn!(
    /// `y = a.cross(&b)` (`Vector3`), operand `b`: `b̄ += ḡ × a`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::cross_d1;
    /// use nalgebra::Vector3;
    ///
    /// assert_eq!(cross_d1(&Vector3::z(), &Vector3::x()), Vector3::new(0.0, 1.0, 0.0));
    /// ```
    cross_d1 => CrossD1(g: G, a: A: Operand)
);

impl Rule<(&Vector3<f64>, &Vector3<f64>)> for CrossD0 {
    type Out = Vector3<f64>;
    #[inline]
    fn apply((g, b): (&Vector3<f64>, &Vector3<f64>)) -> Vector3<f64> {
        b.cross(g)
    }
}

impl Rule<(&Vector3<f64>, &Vector3<f64>)> for CrossD1 {
    type Out = Vector3<f64>;
    #[inline]
    fn apply((g, a): (&Vector3<f64>, &Vector3<f64>)) -> Vector3<f64> {
        g.cross(a)
    }
}

rule_fn!(
    /// `y = a.component_mul(&b)` (elementwise product), operand `a`:
    /// `ā += ḡ ⊙ b`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::component_mul_d0;
    /// use nalgebra::Vector2;
    ///
    /// let g = Vector2::new(1.0, 2.0);
    /// assert_eq!(component_mul_d0(&g, &Vector2::new(3.0, 4.0)), Vector2::new(3.0, 8.0));
    /// ```
    component_mul_d0 => ComponentMulD0(g: G, b: B: Operand)
);
rule_fn!(
    /// `y = a.component_mul(&b)`, operand `b`: `b̄ += ḡ ⊙ a`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::component_mul_d1;
    /// use nalgebra::Vector2;
    ///
    /// let g = Vector2::new(1.0, 2.0);
    /// assert_eq!(component_mul_d1(&g, &Vector2::new(3.0, 4.0)), Vector2::new(3.0, 8.0));
    /// ```
    component_mul_d1 => ComponentMulD1(g: G, a: A: Operand)
);
rule_fn!(
    /// `y = a.component_div(&b)` (elementwise quotient), operand `a`:
    /// `ā += ḡ ⊘ b`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::component_div_d0;
    /// use nalgebra::Vector2;
    ///
    /// let g = Vector2::new(1.0, 2.0);
    /// assert_eq!(component_div_d0(&g, &Vector2::new(4.0, 4.0)), Vector2::new(0.25, 0.5));
    /// ```
    component_div_d0 => ComponentDivD0(g: G, b: B: Operand)
);
rule_fn!(
    /// `y = a.component_div(&b)`, operand `b`: `b̄ −= ḡ ⊙ a ⊘ b²`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::component_div_d1;
    /// use nalgebra::Vector2;
    ///
    /// let (g, a, b) = (Vector2::new(1.0, 1.0), Vector2::new(2.0, 3.0), Vector2::new(1.0, 2.0));
    /// assert_eq!(component_div_d1(&g, &a, &b), Vector2::new(-2.0, -0.75));
    /// ```
    component_div_d1 => ComponentDivD1(g: G, a: A: Operand, b: B: Operand)
);

macro_rules! elementwise_rule {
    ($Marker:ident, |$g:ident, $x:ident| $e:expr) => {
        impl<R: Dim, C: Dim> Rule<(&M<R, C>, &M<R, C>)> for $Marker
        where
            DefaultAllocator: Allocator<R, C>,
        {
            type Out = M<R, C>;
            #[inline]
            fn apply(($g, $x): (&M<R, C>, &M<R, C>)) -> M<R, C> {
                if $g.is_empty() {
                    return Cotangent::zero();
                }
                $e
            }
        }
    };
}

elementwise_rule!(ComponentMulD0, |g, b| g.component_mul(b));
elementwise_rule!(ComponentMulD1, |g, a| g.component_mul(a));
elementwise_rule!(ComponentDivD0, |g, b| g.component_div(b));

impl<R: Dim, C: Dim> Rule<(&M<R, C>, &M<R, C>, &M<R, C>)> for ComponentDivD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, a, b): (&M<R, C>, &M<R, C>, &M<R, C>)) -> M<R, C> {
        if g.is_empty() {
            return Cotangent::zero();
        }
        g.zip_zip_map(a, b, |g, a, b| -g * a / (b * b))
    }
}

// ---------------------------------------------------------------- transpose, inverse, determinant

/// `y = x.transpose()` (the macro's `t` row; rotations too): `x̄ += ḡᵀ`.
impl<R: Dim, C: Dim> Rule<(&M<C, R>,)> for TD0
where
    DefaultAllocator: Allocator<R, C> + Allocator<C, R>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g,): (&M<C, R>,)) -> M<R, C> {
        g.transpose()
    }
}

/// `y = x.transpose()`: `x̄ += ḡᵀ`.
impl<R: Dim, C: Dim> Rule<(&M<C, R>,)> for TransposeD0
where
    DefaultAllocator: Allocator<R, C> + Allocator<C, R>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g,): (&M<C, R>,)) -> M<R, C> {
        g.transpose()
    }
}

rule_fn!(
    /// `y = r.inverse()` for a rotation or a unit quaternion, whose inverse
    /// is the transpose of its matrix: `R̄ += ḡᵀ`. (Not for general
    /// matrices, which have `try_inverse`.)
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::inverse_d0;
    /// use nalgebra::Matrix2;
    ///
    /// assert_eq!(inverse_d0(&Matrix2::new(1.0, 2.0, 3.0, 4.0)), Matrix2::new(1.0, 3.0, 2.0, 4.0));
    /// ```
    inverse_d0 => InverseD0(g: G)
);

impl<const D: usize> Rule<(&nalgebra::SMatrix<f64, D, D>,)> for InverseD0 {
    type Out = nalgebra::SMatrix<f64, D, D>;
    #[inline]
    fn apply((g,): (&nalgebra::SMatrix<f64, D, D>,)) -> nalgebra::SMatrix<f64, D, D> {
        g.transpose()
    }
}

rule_fn!(
    /// `y = a.try_inverse().unwrap()`, `y = a⁻¹`: `ā −= yᵀ ḡ yᵀ`. Reads the
    /// output: the inverse itself, or the `Option` that `try_inverse`
    /// returned (a `None` never reaches the reverse pass: the forward pass's
    /// `unwrap` stopped first).
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::try_inverse_d0;
    /// use nalgebra::Matrix2;
    ///
    /// let a = Matrix2::new(2.0, 0.0, 0.0, 4.0);
    /// let y = a.try_inverse();
    /// // d(1/a₀₀)/da₀₀ = −1/a₀₀²
    /// assert_eq!(try_inverse_d0(&Matrix2::new(1.0, 0.0, 0.0, 0.0), &y)[(0, 0)], -0.25);
    /// ```
    try_inverse_d0 => TryInverseD0(g: G, y: Y: Operand)
);

impl<D: Dim> Rule<(&M<D, D>, &M<D, D>)> for TryInverseD0
where
    DefaultAllocator: Allocator<D, D>,
{
    type Out = M<D, D>;
    fn apply((g, y): (&M<D, D>, &M<D, D>)) -> M<D, D> {
        if g.is_empty() {
            return Cotangent::zero();
        }
        let yt = y.transpose();
        -(&yt * g * &yt)
    }
}

rule_fn!(
    /// `y = a.determinant()`: `ā += ḡ · cof(a)`, the cofactor matrix
    /// (`cof(a) = det(a) a⁻ᵀ` when `a` is invertible, and still right when
    /// it is not). Closed forms for sizes 1–3 (for 3×3 the rows of `cof(a)`
    /// are `a₁ × a₂`, `a₂ × a₀`, `a₀ × a₁`, from the rows `aᵢ` of `a`);
    /// larger sizes through LU (`DMatrix` too), falling back to the minors
    /// for a singular matrix.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::determinant_d0;
    /// use nalgebra::Matrix2;
    ///
    /// // det [[a, b], [c, d]] = ad − bc
    /// let a = Matrix2::new(1.0, 2.0, 3.0, 4.0);
    /// assert_eq!(determinant_d0(&1.0, &a), Matrix2::new(4.0, -3.0, -2.0, 1.0));
    /// ```
    determinant_d0 => DeterminantD0(g: G, a: A: Operand)
);

impl<D: Dim> Rule<(&f64, &M<D, D>)> for DeterminantD0
where
    DefaultAllocator: Allocator<D, D>,
{
    type Out = M<D, D>;
    fn apply((g, a): (&f64, &M<D, D>)) -> M<D, D> {
        cofactors(a) * *g
    }
}

/// The cofactor matrix: `cof(a)ᵢⱼ = (−1)^(i+j) det(a without row i and column j)`,
/// the gradient of `det(a)`.
fn cofactors<D: Dim>(a: &M<D, D>) -> M<D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let (r, c) = a.shape_generic();
    assert!(
        a.nrows() == a.ncols(),
        "determinant: a {}×{} matrix is not square",
        a.nrows(),
        a.ncols()
    );
    // Computed on plain column-major numbers: concrete nalgebra types inside
    // this generic function would be resolved against its where-clause.
    M::from_column_slice_generic(r, c, &cofactors_of(a.nrows(), a.as_slice()))
}

/// [`cofactors`] of the `n × n` column-major matrix `a`, column-major.
fn cofactors_of(n: usize, a: &[f64]) -> Vec<f64> {
    let e = |i: usize, j: usize| a[i + j * n];
    match n {
        0 => Vec::new(),
        1 => vec![1.0],
        2 => vec![e(1, 1), -e(0, 1), -e(1, 0), e(0, 0)],
        3 => {
            let row = |i: usize| Vector3::new(e(i, 0), e(i, 1), e(i, 2));
            let (a0, a1, a2) = (row(0), row(1), row(2));
            // Rows of cof(a); as columns of a column-major buffer, the transpose.
            let cof = Matrix3::from_rows(&[
                a1.cross(&a2).transpose(),
                a2.cross(&a0).transpose(),
                a0.cross(&a1).transpose(),
            ]);
            cof.as_slice().to_vec()
        }
        _ => {
            let d = DMatrix::from_column_slice(n, n, a);
            let lu = d.clone().lu();
            let det = lu.determinant();
            let cof = match lu.try_inverse() {
                Some(inv) if det != 0.0 => inv.transpose() * det,
                _ => DMatrix::from_fn(n, n, |i, j| {
                    let minor = d.clone().remove_row(i).remove_column(j).determinant();
                    if (i + j) % 2 == 0 { minor } else { -minor }
                }),
            };
            cof.as_slice().to_vec()
        }
    }
}

// ---------------------------------------------------------------- element access

/// `y = v[i]` or `y = m[(i, j)]` (nalgebra's `Index`: a `usize` is the
/// column-major position) of a value that is not a variable: `x̄ += ḡ` at
/// that element, zeros elsewhere (one-hot). On a variable, the generated code
/// calls `acc_index`, which adds in place.
impl<R: Dim, C: Dim, I: MatrixIndex + ?Sized> Rule<(&f64, &MatrixMeta<R, C>, &I)> for IndexD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    fn apply((g, x, i): (&f64, &MatrixMeta<R, C>, &I)) -> M<R, C> {
        let mut out = x.zeros();
        crate::cotangent::IndexMeta::acc_index(x, &mut out, i, *g);
        out
    }
}

macro_rules! field_rules {
    ($($name:ident => $Marker:ident $k:literal $field:literal;)*) => {$(
        rule_fn!(
            #[doc = concat!("`y = v.", $field, "` (a vector's or point's coordinate ", stringify!($k), "): `v̄ += ḡ` at ", stringify!($k), ", zeros elsewhere (one-hot).")]
            ///
            /// ```
            /// use autodiff_runtime::__private::{meta, rules};
            /// use nalgebra::Vector4;
            ///
            /// let v = Vector4::new(1.0, 2.0, 3.0, 4.0);
            #[doc = concat!("let d = rules::", stringify!($name), "(&5.0, &meta(&v));")]
            #[doc = concat!("assert_eq!(d[", stringify!($k), "], 5.0);")]
            /// assert_eq!(d.sum(), 5.0);
            /// ```
            $name => $Marker(g: G, v_meta: Mv)
        );

        impl<R: Dim, C: Dim> Rule<(&f64, &MatrixMeta<R, C>)> for $Marker
        where
            DefaultAllocator: Allocator<R, C>,
        {
            type Out = M<R, C>;
            #[inline]
            fn apply((g, x): (&f64, &MatrixMeta<R, C>)) -> M<R, C> {
                let mut out = x.zeros();
                out[$k] = *g;
                out
            }
        }

        /// A struct that derives `Differentiable`, read at its field of this name.
        impl<T> Rule<(&<T as crate::components::Component<$k>>::Field, &crate::components::StructMeta<T>)> for $Marker
        where
            T: crate::components::Component<$k> + crate::cotangent::Cotangent,
            <T as crate::components::Component<$k>>::Field: Clone,
        {
            type Out = T;
            #[inline]
            fn apply((g, _): (&<T as crate::components::Component<$k>>::Field, &crate::components::StructMeta<T>)) -> T {
                crate::components::one_hot::<T, $k>(g)
            }
        }
    )*};
}

field_rules! {
    x_d0 => XD0 0 "x";
    y_d0 => YD0 1 "y";
    z_d0 => ZD0 2 "z";
    w_d0 => WD0 3 "w";
}

macro_rules! tuple_rules {
    ($($name:ident $k:literal;)*) => {$(
        #[doc = concat!("`y = t.", stringify!($k), "` of a tuple computed in the body: \
            `t̄ += (0, …, ḡ, …, 0)`, ḡ at part ", stringify!($k), " (the tuple's type comes from \
            where the cotangent goes).")]
        ///
        /// ```
        /// use autodiff_runtime::__private::rules;
        ///
        /// let t: (f64, f64) = rules::tuple1_d0(&2.5);
        /// assert_eq!(t, (0.0, 2.5));
        /// ```
        #[inline]
        pub fn $name<T: crate::components::TupleField<$k>>(g: &T::Part) -> T {
            T::with_part(g.clone())
        }
    )*};
}

tuple_rules! {
    tuple0_d0 0;
    tuple1_d0 1;
    tuple2_d0 2;
    tuple3_d0 3;
    tuple4_d0 4;
    tuple5_d0 5;
}

// ---------------------------------------------------------------- constructors

macro_rules! new_rules {
    ($($name:ident => $Marker:ident $k:literal;)*) => {$(
        rule_fn!(
            #[doc = concat!("`y = T::new(x₀, x₁, …)` for a fixed-size vector, matrix or point `T` \
                (`Vector3::new`, `Matrix2::new`, `Point2::new`, …), argument ", stringify!($k),
                ": `x̄ += ḡ` at that argument's element. Matrices take their arguments row by row, so \
                argument k is element `(k / C, k % C)` of an `R × C` matrix.")]
            ///
            /// ```
            /// use autodiff_runtime::__private::rules;
            /// use nalgebra::Matrix4;
            ///
            /// let g = Matrix4::from_fn(|i, j| (4 * i + j) as f64); // g at argument 4i + j
            #[doc = concat!("assert_eq!(rules::", stringify!($name), "(&g), ", stringify!($k), ".0);")]
            /// ```
            $name => $Marker(g: G)
        );

        impl<R: Dim, C: Dim> Rule<(&M<R, C>,)> for $Marker
        where
            DefaultAllocator: Allocator<R, C>,
        {
            type Out = f64;
            #[inline]
            fn apply((g,): (&M<R, C>,)) -> f64 {
                g[($k / g.ncols(), $k % g.ncols())]
            }
        }
    )*};
}

new_rules! {
    new_d0 => NewD0 0;
    new_d1 => NewD1 1;
    new_d2 => NewD2 2;
    new_d3 => NewD3 3;
    new_d4 => NewD4 4;
    new_d5 => NewD5 5;
    new_d6 => NewD6 6;
    new_d7 => NewD7 7;
    new_d8 => NewD8 8;
    new_d9 => NewD9 9;
    new_d10 => NewD10 10;
    new_d11 => NewD11 11;
    new_d12 => NewD12 12;
    new_d13 => NewD13 13;
    new_d14 => NewD14 14;
    new_d15 => NewD15 15;
}

/// The elements of `g` row by row.
fn row_major<R: Dim, C: Dim>(g: &M<R, C>) -> Vec<f64>
where
    DefaultAllocator: Allocator<R, C>,
{
    (0..g.nrows())
        .flat_map(|i| (0..g.ncols()).map(move |j| g[(i, j)]))
        .collect()
}

macro_rules! slice_rules {
    ($($name:ident => $Marker:ident, $order:literal, |$g:ident| $e:expr;)*) => {$(
        rule_fn!(
            #[doc = concat!("`y = T::", stringify!($name), "(…, xs)` (the slice or `Vec` argument \
                of a vector or matrix constructor): `x̄s += ḡ` read in ", $order,
                " order, as a `Vec<f64>` (a slice's gradient).")]
            ///
            /// ```
            /// use autodiff_runtime::__private::rules;
            /// use nalgebra::Matrix2;
            ///
            /// let g = Matrix2::new(1.0, 2.0, 3.0, 4.0);
            #[doc = concat!("let d = rules::", stringify!($name), "(&g);")]
            /// assert_eq!(d.len(), 4);
            /// ```
            $name => $Marker(g: G)
        );

        impl<R: Dim, C: Dim> Rule<(&M<R, C>,)> for $Marker
        where
            DefaultAllocator: Allocator<R, C>,
        {
            type Out = Vec<f64>;
            #[inline]
            fn apply(($g,): (&M<R, C>,)) -> Vec<f64> {
                if $g.is_empty() {
                    return Vec::new();
                }
                $e
            }
        }
    )*};
}

slice_rules! {
    from_column_slice_d0 => FromColumnSliceD0, "column-major", |g| g.as_slice().to_vec();
    from_column_slice_d2 => FromColumnSliceD2, "column-major", |g| g.as_slice().to_vec();
    from_row_slice_d0 => FromRowSliceD0, "row-major", |g| row_major(g);
    from_row_slice_d2 => FromRowSliceD2, "row-major", |g| row_major(g);
    from_vec_d0 => FromVecD0, "column-major", |g| g.as_slice().to_vec();
    from_vec_d2 => FromVecD2, "column-major", |g| g.as_slice().to_vec();
}

macro_rules! element_rules {
    ($($name:ident => $Marker:ident $k:literal $args:literal;)*) => {$(
        rule_fn!(
            #[doc = concat!("`y = T::from_element(", $args, ")` or `T::repeat(", $args,
                ")` (every element `s`), operand `s`: `s̄ += Σ ḡ`.")]
            ///
            /// ```
            /// use autodiff_runtime::__private::rules;
            /// use nalgebra::Matrix2;
            ///
            #[doc = concat!("assert_eq!(rules::", stringify!($name), "(&Matrix2::new(1.0, 2.0, 3.0, 4.0)), 10.0);")]
            /// ```
            $name => $Marker(g: G)
        );

        impl<R: Dim, C: Dim> Rule<(&M<R, C>,)> for $Marker
        where
            DefaultAllocator: Allocator<R, C>,
        {
            type Out = f64;
            #[inline]
            fn apply((g,): (&M<R, C>,)) -> f64 {
                g.sum()
            }
        }
    )*};
}

element_rules! {
    from_element_d0 => FromElementD0 0 "s";
    from_element_d1 => FromElementD1 1 "n, s";
    from_element_d2 => FromElementD2 2 "r, c, s";
}

rule_fn!(
    /// `y = M::from_diagonal(&d)` (a square matrix with `d` on its
    /// diagonal): `d̄ += diag(ḡ)`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::from_diagonal_d0;
    /// use nalgebra::{Matrix2, Vector2};
    ///
    /// assert_eq!(from_diagonal_d0(&Matrix2::new(1.0, 2.0, 3.0, 4.0)), Vector2::new(1.0, 4.0));
    /// ```
    from_diagonal_d0 => FromDiagonalD0(g: G)
);

impl<D: Dim> Rule<(&M<D, D>,)> for FromDiagonalD0
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    type Out = nalgebra::OVector<f64, D>;
    #[inline]
    fn apply((g,): (&M<D, D>,)) -> nalgebra::OVector<f64, D> {
        if g.is_empty() {
            return Cotangent::zero();
        }
        g.diagonal()
    }
}

rule_fn!(
    /// `y = m.diagonal()` (of a square matrix): `m̄ += ḡ` on the diagonal,
    /// zeros elsewhere.
    ///
    /// ```
    /// use autodiff_runtime::__private::{meta, rules::diagonal_d0};
    /// use nalgebra::{Matrix2, Vector2};
    ///
    /// let m = Matrix2::<f64>::zeros();
    /// assert_eq!(diagonal_d0(&Vector2::new(1.0, 4.0), &meta(&m)), Matrix2::new(1.0, 0.0, 0.0, 4.0));
    /// ```
    diagonal_d0 => DiagonalD0(g: G, m_meta: Mm)
);

impl<D: Dim> Rule<(&nalgebra::OVector<f64, D>, &MatrixMeta<D, D>)> for DiagonalD0
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    type Out = M<D, D>;
    #[inline]
    fn apply((g, m): (&nalgebra::OVector<f64, D>, &MatrixMeta<D, D>)) -> M<D, D> {
        if g.is_empty() {
            return Cotangent::zero();
        }
        let mut out = m.zeros();
        for (i, d) in g.iter().enumerate() {
            out[(i, i)] = *d;
        }
        out
    }
}

// ---------------------------------------------------------------- rotations

rule_fn!(
    /// `R = Rotation2::new(θ)`, `R = [[cos θ, −sin θ], [sin θ, cos θ]]`:
    /// `θ̄ += ⟨R̄, dR/dθ⟩ = −sin θ (R̄₀₀ + R̄₁₁) + cos θ (R̄₁₀ − R̄₀₁)`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::rotation2_new_d0;
    /// use nalgebra::Matrix2;
    ///
    /// // At θ = 0, dR/dθ = [[0, −1], [1, 0]].
    /// assert_eq!(rotation2_new_d0(&Matrix2::new(0.0, -1.0, 1.0, 0.0), &0.0), 2.0);
    /// ```
    rotation2_new_d0 => Rotation2NewD0(g: G, theta: T: Operand)
);

impl Rule<(&Matrix2<f64>, &f64)> for Rotation2NewD0 {
    type Out = f64;
    #[inline]
    fn apply((g, theta): (&Matrix2<f64>, &f64)) -> f64 {
        let (s, c) = theta.sin_cos();
        -s * (g[(0, 0)] + g[(1, 1)]) + c * (g[(1, 0)] - g[(0, 1)])
    }
}

/// `(m₂₁ − m₁₂, m₀₂ − m₂₀, m₁₀ − m₀₁)`: `⟨m, [a]×⟩ = a · vex(m)`.
fn vex(m: &Matrix3<f64>) -> Vector3<f64> {
    Vector3::new(
        m[(2, 1)] - m[(1, 2)],
        m[(0, 2)] - m[(2, 0)],
        m[(1, 0)] - m[(0, 1)],
    )
}

rule_fn!(
    /// `R = Rotation3::from_axis_angle(&a, θ)` (also
    /// `UnitQuaternion::from_axis_angle`, whose gradient is its matrix's),
    /// `R = cos θ I + sin θ [a]× + (1 − cos θ) a aᵀ` (Rodrigues, as nalgebra
    /// computes it), operand `a` (the axis; a `Unit<Vector3>`, gradient a
    /// `Vector3`): `ā += sin θ vex(R̄) + (1 − cos θ)(R̄ + R̄ᵀ) a`, where
    /// `vex(R̄) = (R̄₂₁ − R̄₁₂, R̄₀₂ − R̄₂₀, R̄₁₀ − R̄₀₁)`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::from_axis_angle_d0;
    /// use nalgebra::{Matrix3, Vector3};
    ///
    /// // At θ = 0 the rotation is I whatever the axis.
    /// let d = from_axis_angle_d0(&Matrix3::from_element(1.0), &Vector3::z_axis(), &0.0);
    /// assert_eq!(d, Vector3::zeros());
    /// ```
    from_axis_angle_d0 => FromAxisAngleD0(g: G, axis: A: Operand, angle: T: Operand)
);
rule_fn!(
    /// `R = Rotation3::from_axis_angle(&a, θ)` (also
    /// `UnitQuaternion::from_axis_angle`), operand `θ`:
    /// `θ̄ += ⟨R̄, dR/dθ⟩ = −sin θ tr(R̄) + cos θ a·vex(R̄) + sin θ aᵀR̄a`
    /// (`dR/dθ = −sin θ I + cos θ [a]× + sin θ a aᵀ`).
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::from_axis_angle_d1;
    /// use nalgebra::{Matrix3, Vector3};
    ///
    /// // About z at θ = 0, dR/dθ = [z]×, whose entries (1,0) and (0,1) are 1 and −1.
    /// let g = Matrix3::new(0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    /// assert_eq!(from_axis_angle_d1(&g, &Vector3::z_axis(), &0.0), 2.0);
    /// ```
    from_axis_angle_d1 => FromAxisAngleD1(g: G, axis: A: Operand, angle: T: Operand)
);

impl Rule<(&Matrix3<f64>, &Vector3<f64>, &f64)> for FromAxisAngleD0 {
    type Out = Vector3<f64>;
    #[inline]
    fn apply((g, a, theta): (&Matrix3<f64>, &Vector3<f64>, &f64)) -> Vector3<f64> {
        let (s, c) = theta.sin_cos();
        vex(g) * s + (g + g.transpose()) * a * (1.0 - c)
    }
}

impl Rule<(&Matrix3<f64>, &Vector3<f64>, &f64)> for FromAxisAngleD1 {
    type Out = f64;
    #[inline]
    fn apply((g, a, theta): (&Matrix3<f64>, &Vector3<f64>, &f64)) -> f64 {
        let (s, c) = theta.sin_cos();
        -s * g.trace() + c * a.dot(&vex(g)) + s * a.dot(&(g * a))
    }
}

/// The rotations about x, y and z by `t`, and their derivatives in `t`.
fn rx(t: f64) -> (Matrix3<f64>, Matrix3<f64>) {
    let (s, c) = t.sin_cos();
    (
        Matrix3::new(1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c),
        Matrix3::new(0.0, 0.0, 0.0, 0.0, -s, -c, 0.0, c, -s),
    )
}
fn ry(t: f64) -> (Matrix3<f64>, Matrix3<f64>) {
    let (s, c) = t.sin_cos();
    (
        Matrix3::new(c, 0.0, s, 0.0, 1.0, 0.0, -s, 0.0, c),
        Matrix3::new(-s, 0.0, c, 0.0, 0.0, 0.0, -c, 0.0, -s),
    )
}
fn rz(t: f64) -> (Matrix3<f64>, Matrix3<f64>) {
    let (s, c) = t.sin_cos();
    (
        Matrix3::new(c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0),
        Matrix3::new(-s, -c, 0.0, c, -s, 0.0, 0.0, 0.0, 0.0),
    )
}

macro_rules! euler_rules {
    ($($name:ident => $Marker:ident $angle:literal |$x:ident, $y:ident, $z:ident| $dr:expr;)*) => {$(
        rule_fn!(
            #[doc = concat!("`R = Rotation3::from_euler_angles(roll, pitch, yaw)` (also \
                `UnitQuaternion::from_euler_angles`), `R = Rz(yaw) Ry(pitch) Rx(roll)` as nalgebra \
                builds it, operand `", $angle, "`: `", $angle, "̄ += ⟨R̄, dR/d", $angle, "⟩`.")]
            ///
            /// ```
            /// use autodiff_runtime::__private::rules;
            /// use nalgebra::Matrix3;
            ///
            /// // A gradient of zero gives zero.
            #[doc = concat!("assert_eq!(rules::", stringify!($name), "(&Matrix3::zeros(), &0.1, &0.2, &0.3), 0.0);")]
            /// ```
            $name => $Marker(g: G, roll: A: Operand, pitch: B: Operand, yaw: C: Operand)
        );

        impl Rule<(&Matrix3<f64>, &f64, &f64, &f64)> for $Marker {
            type Out = f64;
            #[inline]
            fn apply((g, roll, pitch, yaw): (&Matrix3<f64>, &f64, &f64, &f64)) -> f64 {
                let ($x, $y, $z) = (rx(*roll), ry(*pitch), rz(*yaw));
                g.dot(&$dr)
            }
        }
    )*};
}

euler_rules! {
    from_euler_angles_d0 => FromEulerAnglesD0 "roll" |x, y, z| z.0 * y.0 * x.1;
    from_euler_angles_d1 => FromEulerAnglesD1 "pitch" |x, y, z| z.0 * y.1 * x.0;
    from_euler_angles_d2 => FromEulerAnglesD2 "yaw" |x, y, z| z.1 * y.0 * x.0;
}

// ---------------------------------------------------------------- distances between points

rule_fn!(
    /// `y = nalgebra::distance(&p, &q)`, `y = |p − q|`, operand `p`:
    /// `p̄ += ḡ (p − q) / y` (0 when `y = 0`, as `norm`).
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::distance_d0;
    /// use nalgebra::{Point2, Vector2};
    ///
    /// let (p, q) = (Point2::new(3.0, 4.0), Point2::origin());
    /// assert_eq!(distance_d0(&5.0, &p, &q, &5.0), Vector2::new(3.0, 4.0));
    /// ```
    distance_d0 => DistanceD0(g: G, p: P: Operand, q: Q: Operand, y: Y: Operand)
);
rule_fn!(
    /// `y = nalgebra::distance(&p, &q)`, operand `q`: `q̄ −= ḡ (p − q) / y`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::distance_d1;
    /// use nalgebra::{Point2, Vector2};
    ///
    /// let (p, q) = (Point2::new(3.0, 4.0), Point2::origin());
    /// assert_eq!(distance_d1(&5.0, &p, &q, &5.0), Vector2::new(-3.0, -4.0));
    /// ```
    distance_d1 => DistanceD1(g: G, p: P: Operand, q: Q: Operand, y: Y: Operand)
);
rule_fn!(
    /// `y = nalgebra::distance_squared(&p, &q)`, `y = |p − q|²`, operand `p`:
    /// `p̄ += 2 ḡ (p − q)`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::distance_squared_d0;
    /// use nalgebra::{Point2, Vector2};
    ///
    /// let (p, q) = (Point2::new(3.0, 4.0), Point2::new(1.0, 1.0));
    /// assert_eq!(distance_squared_d0(&1.0, &p, &q), Vector2::new(4.0, 6.0));
    /// ```
    distance_squared_d0 => DistanceSquaredD0(g: G, p: P: Operand, q: Q: Operand)
);
rule_fn!(
    /// `y = nalgebra::distance_squared(&p, &q)`, operand `q`: `q̄ −= 2 ḡ (p − q)`.
    ///
    /// ```
    /// use autodiff_runtime::__private::rules::distance_squared_d1;
    /// use nalgebra::{Point2, Vector2};
    ///
    /// let (p, q) = (Point2::new(3.0, 4.0), Point2::new(1.0, 1.0));
    /// assert_eq!(distance_squared_d1(&1.0, &p, &q), Vector2::new(-4.0, -6.0));
    /// ```
    distance_squared_d1 => DistanceSquaredD1(g: G, p: P: Operand, q: Q: Operand)
);

impl<R: Dim, C: Dim> Rule<(&f64, &M<R, C>, &M<R, C>, &f64)> for DistanceD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, p, q, y): (&f64, &M<R, C>, &M<R, C>, &f64)) -> M<R, C> {
        if *y == 0.0 {
            let (r, c) = p.shape_generic();
            return M::zeros_generic(r, c);
        }
        (p - q) * (g / y)
    }
}

impl<R: Dim, C: Dim> Rule<(&f64, &M<R, C>, &M<R, C>, &f64)> for DistanceD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, p, q, y): (&f64, &M<R, C>, &M<R, C>, &f64)) -> M<R, C> {
        if *y == 0.0 {
            let (r, c) = p.shape_generic();
            return M::zeros_generic(r, c);
        }
        (q - p) * (g / y)
    }
}

impl<R: Dim, C: Dim> Rule<(&f64, &M<R, C>, &M<R, C>)> for DistanceSquaredD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, p, q): (&f64, &M<R, C>, &M<R, C>)) -> M<R, C> {
        (p - q) * (2.0 * g)
    }
}

impl<R: Dim, C: Dim> Rule<(&f64, &M<R, C>, &M<R, C>)> for DistanceSquaredD1
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = M<R, C>;
    #[inline]
    fn apply((g, p, q): (&f64, &M<R, C>, &M<R, C>)) -> M<R, C> {
        (q - p) * (2.0 * g)
    }
}
