//! nalgebra values as differentiable values: matrices and vectors of `f64`
//! of any size (fixed, `SMatrix`/`SVector`, or dynamic, `DMatrix`/`DVector`),
//! points, rotations and unit quaternions.
//!
//! | value | `Tangent` (its gradient) | `Meta` (what a rule reads of its shape) |
//! |---|---|---|
//! | `OMatrix<f64, R, C>`: `Vector3`, `Matrix2`, `SMatrix<f64, 4, 6>`, `DVector`, `DMatrix`, … | the same type | [`MatrixMeta<R, C>`]: zero-sized for fixed sizes, the dynamic sizes otherwise |
//! | `OPoint<f64, D>`: `Point2`, `Point3` | the vector of its coordinates, `SVector<f64, D>` | `MatrixMeta<D, U1>` |
//! | `Rotation2`, `Rotation3` | the matrix, `Matrix2`/`Matrix3` | `MatrixMeta<D, D>` |
//! | `UnitQuaternion<f64>` | its rotation matrix's, `Matrix3` | `MatrixMeta<U3, U3>` |
//! | `Unit<Vector3<f64>>` (an axis) | the vector, `Vector3` | the vector's |
//!
//! **A point's gradient is a vector**: the difference of two points is a
//! vector, and so is a derivative with respect to a point; it is also what a
//! descent step needs (`p -= lr * grad` is `Point3 -= Vector3`).
//!
//! **A rotation's gradient is the gradient of its matrix** (an element of
//! the ambient space of matrices, not of the rotations' tangent space): the
//! chain rule through `Rotation3::from_axis_angle(&axis, θ)` or
//! `Rotation2::new(θ)` turns it into the angle's gradient, which is what
//! differentiating through a rotation is for. Project it onto the tangent
//! space yourself (`R̄ ↦ Rᵀ R̄ − R̄ᵀ R`, halved) if you need a Riemannian
//! gradient. The same holds for `UnitQuaternion`, which this treats as the
//! rotation it represents.
//!
//! Zeros: for fixed sizes the additive identity is a matrix of zeros; a
//! dynamic matrix has no shape before the first gradient reaches it, so its
//! symbolic zero is empty (`0 × 0`, or `0 × 1` for a `DVector`), grows on the
//! first accumulation (as `Vec<f64>`'s empty vector does) and becomes zeros
//! of the primal's shape in `finish`.
//!
//! ```
//! use autodiff_runtime::__private::{acc, finish, zero};
//! use autodiff_runtime::{Differentiable, HasMeta, MatrixMeta};
//! use nalgebra::{DVector, Point3, Vector3, U1, U3};
//!
//! // Fixed sizes: zeros, and a shape that costs nothing.
//! let mut d: Vector3<f64> = zero();
//! acc(&mut d, Vector3::new(1.0, 2.0, 3.0));
//! assert_eq!(d, Vector3::new(1.0, 2.0, 3.0));
//! assert_eq!(std::mem::size_of_val(&d.meta()), 0);
//! // A point's gradient is a vector.
//! let p = Point3::new(1.0, 2.0, 3.0);
//! let dp: Vector3<f64> = p.zero_tangent();
//! assert_eq!(p.meta(), MatrixMeta(U3, U1));
//! // Dynamic sizes: an empty symbolic zero, grown to the primal's shape.
//! let x = DVector::from_vec(vec![1.0, 2.0]);
//! let dx: DVector<f64> = zero();
//! assert!(dx.is_empty());
//! assert_eq!(finish(dx, &x), DVector::zeros(2));
//! # let _ = dp;
//! ```

use nalgebra::allocator::Allocator;
use nalgebra::{
    Const, DefaultAllocator, Dim, DimName, Dyn, Matrix3, OMatrix, OPoint, OVector, Quaternion,
    Rotation, SMatrix, U1, U3, Unit, UnitQuaternion,
};

use crate::cotangent::{Cotangent, Differentiable, HasMeta, IndexMeta};
use crate::gradcheck::Flat;
use crate::ops::Operand;
use crate::tape::{Meta, MetaTape, StackTape};

/// The shape of a nalgebra matrix or vector operand: its numbers of rows and
/// columns as nalgebra's dimension values (`Const<N>` for a fixed size, which
/// is zero-sized, `Dyn(n)` for a dynamic one). What a derivative rule reads
/// to build a gradient of that shape, and the type by which the rules tell
/// a matrix operand (`MatrixMeta<R, C>`) from a scalar one (`ScalarMeta`).
///
/// ```
/// use autodiff_runtime::{HasMeta, MatrixMeta};
/// use nalgebra::{DMatrix, Dyn, Matrix2x3, U2, U3};
///
/// assert_eq!(Matrix2x3::<f64>::zeros().meta(), MatrixMeta(U2, U3));
/// assert_eq!(DMatrix::<f64>::zeros(4, 5).meta(), MatrixMeta(Dyn(4), Dyn(5)));
/// assert_eq!(MatrixMeta(Dyn(4), U3).shape(), (4, 3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatrixMeta<R: Dim, C: Dim>(pub R, pub C);

impl<R: Dim, C: Dim> MatrixMeta<R, C> {
    /// `(rows, columns)`.
    ///
    /// ```
    /// use autodiff_runtime::MatrixMeta;
    /// use nalgebra::{U1, U3};
    ///
    /// assert_eq!(MatrixMeta(U3, U1).shape(), (3, 1));
    /// ```
    pub fn shape(&self) -> (usize, usize) {
        (self.0.value(), self.1.value())
    }

    /// Zeros of this shape.
    pub(crate) fn zeros(&self) -> OMatrix<f64, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        OMatrix::zeros_generic(self.0, self.1)
    }
}

/// The symbolic zero of `OMatrix<f64, R, C>`: zeros for fixed sizes, an empty
/// matrix along each dynamic dimension.
pub(crate) fn symbolic_zero<R: Dim, C: Dim>() -> OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let r = R::from_usize(R::try_to_usize().unwrap_or(0));
    let c = C::from_usize(C::try_to_usize().unwrap_or(0));
    OMatrix::zeros_generic(r, c)
}

// ---------------------------------------------------------------- matrices and vectors

impl<R: Dim, C: Dim> Differentiable for OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Tangent = OMatrix<f64, R, C>;

    fn zero_tangent(&self) -> Self::Tangent {
        let (r, c) = self.shape_generic();
        OMatrix::zeros_generic(r, c)
    }

    fn finish_tangent(&self, d: Self::Tangent) -> Self::Tangent {
        if d.is_empty() && !self.is_empty() {
            self.zero_tangent()
        } else {
            d
        }
    }

    fn cotangent_shape(&self) -> crate::cotangent::CotangentShape {
        crate::cotangent::CotangentShape::Dims(vec![self.nrows(), self.ncols()])
    }

    fn shape_of_cotangent(ct: &Self::Tangent) -> crate::cotangent::CotangentShape {
        // An empty matrix is the zero of a dynamic one (see `finish_tangent`).
        if ct.is_empty() {
            crate::cotangent::CotangentShape::Any
        } else {
            crate::cotangent::CotangentShape::Dims(vec![ct.nrows(), ct.ncols()])
        }
    }

    fn seed_tangent(&self) -> Self::Tangent {
        assert!(
            self.len() == 1,
            "grad can be implicitly created only for scalar outputs \
             (the output is a {}×{} matrix: pass a gradient of that shape instead)",
            self.nrows(),
            self.ncols()
        );
        let (r, c) = self.shape_generic();
        OMatrix::from_element_generic(r, c, 1.0)
    }
}

impl<R: Dim, C: Dim> Cotangent for OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn zero() -> Self {
        symbolic_zero()
    }

    #[inline(always)]
    fn is_symbolic_zero(&self) -> bool {
        // Only a dynamic dimension can be empty here; a fixed-size
        // gradient is never symbolic (as `f64`'s zero is an ordinary number).
        (R::try_to_usize().is_none() || C::try_to_usize().is_none()) && self.is_empty()
    }

    #[inline]
    fn accumulate(&mut self, other: Self) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other;
            return;
        }
        assert!(
            self.shape() == other.shape(),
            "cannot accumulate a gradient of shape {:?} into a gradient of shape {:?}",
            other.shape(),
            self.shape()
        );
        *self += other;
    }
}

impl<R: Dim, C: Dim> HasMeta for OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Meta = MatrixMeta<R, C>;
    #[inline(always)]
    fn meta(&self) -> MatrixMeta<R, C> {
        let (r, c) = self.shape_generic();
        MatrixMeta(r, c)
    }
}

impl<R: Dim, C: Dim> Operand for OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Value = OMatrix<f64, R, C>;
    #[inline(always)]
    fn value(&self) -> &Self::Value {
        self
    }
}

/// `m.try_inverse()` handed to a rule before `.unwrap()`: the rule sees the
/// inverse. Panics on `None`, which the forward pass's `unwrap` has already
/// refused.
impl<R: Dim, C: Dim> Operand for Option<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Value = OMatrix<f64, R, C>;
    fn value(&self) -> &Self::Value {
        self.as_ref()
            .expect("try_inverse: the matrix is not invertible")
    }
}

impl<R: Dim, C: Dim> Flat for OMatrix<f64, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn flat_len(&self) -> usize {
        self.len()
    }
    fn write_flat(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self.as_slice());
    }
    fn read_flat(&self, src: &mut &[f64]) -> Self {
        let n = self.len();
        assert!(
            src.len() >= n,
            "flat buffer too short: need {n} more numbers, have {}",
            src.len()
        );
        let (head, tail) = src.split_at(n);
        *src = tail;
        let (r, c) = self.shape_generic();
        OMatrix::from_column_slice_generic(r, c, head)
    }
}

// ---------------------------------------------------------------- points

impl<D: DimName> Differentiable for OPoint<f64, D>
where
    DefaultAllocator: Allocator<D>,
{
    type Tangent = OVector<f64, D>;
    fn zero_tangent(&self) -> Self::Tangent {
        self.coords.zero_tangent()
    }
    fn finish_tangent(&self, d: Self::Tangent) -> Self::Tangent {
        self.coords.finish_tangent(d)
    }
    fn seed_tangent(&self) -> Self::Tangent {
        self.coords.seed_tangent()
    }
}

impl<D: DimName> HasMeta for OPoint<f64, D>
where
    DefaultAllocator: Allocator<D>,
{
    type Meta = MatrixMeta<D, U1>;
    #[inline(always)]
    fn meta(&self) -> Self::Meta {
        self.coords.meta()
    }
}

/// A rule reading a point reads its coordinates: every vector rule serves
/// points too.
impl<D: DimName> Operand for OPoint<f64, D>
where
    DefaultAllocator: Allocator<D>,
{
    type Value = OVector<f64, D>;
    #[inline(always)]
    fn value(&self) -> &Self::Value {
        &self.coords
    }
}

impl<D: DimName> Flat for OPoint<f64, D>
where
    DefaultAllocator: Allocator<D>,
{
    fn flat_len(&self) -> usize {
        self.coords.len()
    }
    fn write_flat(&self, out: &mut Vec<f64>) {
        self.coords.write_flat(out);
    }
    fn read_flat(&self, src: &mut &[f64]) -> Self {
        OPoint {
            coords: self.coords.read_flat(src),
        }
    }
}

// ---------------------------------------------------------------- rotations

impl<const D: usize> Differentiable for Rotation<f64, D> {
    type Tangent = SMatrix<f64, D, D>;
    fn zero_tangent(&self) -> Self::Tangent {
        SMatrix::zeros()
    }
}

impl<const D: usize> HasMeta for Rotation<f64, D> {
    type Meta = MatrixMeta<Const<D>, Const<D>>;
    #[inline(always)]
    fn meta(&self) -> Self::Meta {
        MatrixMeta(Const, Const)
    }
}

/// A rule reading a rotation reads its matrix: every matrix rule serves
/// rotations too.
impl<const D: usize> Operand for Rotation<f64, D> {
    type Value = SMatrix<f64, D, D>;
    #[inline(always)]
    fn value(&self) -> &Self::Value {
        self.matrix()
    }
}

impl Differentiable for UnitQuaternion<f64> {
    type Tangent = Matrix3<f64>;
    fn zero_tangent(&self) -> Matrix3<f64> {
        Matrix3::zeros()
    }
}

impl HasMeta for UnitQuaternion<f64> {
    type Meta = MatrixMeta<U3, U3>;
    #[inline(always)]
    fn meta(&self) -> Self::Meta {
        MatrixMeta(U3, U3)
    }
}

impl Operand for Unit<Quaternion<f64>> {
    type Value = UnitQuaternion<f64>;
    #[inline(always)]
    fn value(&self) -> &Self::Value {
        self
    }
}

// ---------------------------------------------------------------- unit vectors (axes)

impl<R: Dim, C: Dim> Differentiable for Unit<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Tangent = OMatrix<f64, R, C>;
    fn zero_tangent(&self) -> Self::Tangent {
        self.as_ref().zero_tangent()
    }
    fn finish_tangent(&self, d: Self::Tangent) -> Self::Tangent {
        self.as_ref().finish_tangent(d)
    }
}

impl<R: Dim, C: Dim> HasMeta for Unit<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Meta = MatrixMeta<R, C>;
    #[inline(always)]
    fn meta(&self) -> Self::Meta {
        self.as_ref().meta()
    }
}

/// A rule reading a unit vector reads the vector.
impl<R: Dim, C: Dim> Operand for Unit<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Value = OMatrix<f64, R, C>;
    #[inline(always)]
    fn value(&self) -> &Self::Value {
        self.as_ref()
    }
}

// ---------------------------------------------------------------- shapes on loop tapes

/// The tape of a fixed-size matrix's shape: nothing to keep (as an `f64`'s).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FixedMetaTape<const R: usize, const C: usize>;

impl<const R: usize, const C: usize> MetaTape for FixedMetaTape<R, C> {
    type Meta = MatrixMeta<Const<R>, Const<C>>;
    #[inline(always)]
    fn push(&mut self, _: Self::Meta) {}
    #[inline(always)]
    fn pop(&mut self) -> Self::Meta {
        MatrixMeta(Const, Const)
    }
}

impl<const R: usize, const C: usize> Meta for MatrixMeta<Const<R>, Const<C>> {
    type Tape = FixedMetaTape<R, C>;
}
impl Meta for MatrixMeta<Dyn, Dyn> {
    type Tape = StackTape<Self>;
}
impl<const C: usize> Meta for MatrixMeta<Dyn, Const<C>> {
    type Tape = StackTape<Self>;
}
impl<const R: usize> Meta for MatrixMeta<Const<R>, Dyn> {
    type Tape = StackTape<Self>;
}

// ---------------------------------------------------------------- indexed accumulation

/// An index into a nalgebra matrix, as its `Index` impls take it: `usize`
/// (the linear, column-major position; `v[i]` for a vector) or
/// `(usize, usize)` (row, column), or a reference to one.
#[doc(hidden)]
pub trait MatrixIndex {
    /// The column-major position in a matrix with `rows` rows.
    fn position(&self, rows: usize) -> usize;
}

impl MatrixIndex for usize {
    #[inline(always)]
    fn position(&self, _rows: usize) -> usize {
        *self
    }
}

impl MatrixIndex for (usize, usize) {
    #[inline(always)]
    fn position(&self, rows: usize) -> usize {
        self.0 + self.1 * rows
    }
}

impl<T: MatrixIndex + ?Sized> MatrixIndex for &T {
    #[inline(always)]
    fn position(&self, rows: usize) -> usize {
        (**self).position(rows)
    }
}

/// `v[i]`, `m[(i, j)]`, `v.x`: the element's cotangent is added in place; a
/// symbolic zero (an empty dynamic gradient) is first grown to the shape.
impl<R: Dim, C: Dim, I: MatrixIndex + ?Sized> IndexMeta<I> for MatrixMeta<R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Tangent = OMatrix<f64, R, C>;
    type Part = f64;
    #[inline]
    fn acc_index(&self, dst: &mut OMatrix<f64, R, C>, index: &I, g: f64) {
        let (rows, cols) = self.shape();
        if dst.len() != rows * cols {
            *dst = self.zeros();
        }
        let k = index.position(rows);
        assert!(
            k < rows * cols,
            "index out of bounds: a {rows}×{cols} matrix has no element at position {k}"
        );
        dst.as_mut_slice()[k] += g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::{acc, acc_index, finish, meta, pop_meta, push_meta, zero};
    use nalgebra::{DMatrix, DVector, Matrix2, Point2, Rotation2, Vector2, Vector3};

    #[test]
    fn dynamic_zero_grows_and_finishes() {
        let x = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let mut d: DMatrix<f64> = zero();
        assert!(d.is_symbolic_zero());
        acc(&mut d, zero());
        assert!(d.is_empty());
        acc_index(&mut d, &meta(&x), &(1usize, 2usize), 2.0);
        acc_index(&mut d, &meta(&x), &0usize, 1.0);
        assert_eq!(
            d,
            DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 0.0, 2.0])
        );
        acc(&mut d, DMatrix::from_element(2, 3, 1.0));
        assert_eq!(d[(1, 2)], 3.0);
        assert_eq!(finish(zero(), &x), DMatrix::zeros(2, 3));
        let v = DVector::from_vec(vec![1.0, 2.0, 3.0]);
        let dv: DVector<f64> = zero();
        assert_eq!(dv.shape(), (0, 1));
        assert_eq!(finish(dv, &v), DVector::zeros(3));
    }

    #[test]
    #[should_panic(expected = "cannot accumulate a gradient of shape (2, 1)")]
    fn dynamic_shape_mismatch_names_both() {
        let mut d = DVector::from_vec(vec![1.0, 2.0, 3.0]);
        acc(&mut d, DVector::from_vec(vec![1.0, 2.0]));
    }

    #[test]
    fn fixed_zero_is_real_and_shapes_are_free() {
        let d: Matrix2<f64> = zero();
        assert_eq!(d, Matrix2::zeros());
        assert!(!d.is_symbolic_zero());
        let mut tape = <MatrixMeta<U3, U1> as Meta>::Tape::default();
        push_meta(&mut tape, meta(&Vector3::new(1.0, 2.0, 3.0)));
        assert_eq!(std::mem::size_of_val(&tape), 0);
        assert_eq!(pop_meta(&mut tape), MatrixMeta(U3, U1));
        let mut tape = <MatrixMeta<Dyn, U1> as Meta>::Tape::default();
        push_meta(&mut tape, meta(&DVector::<f64>::zeros(4)));
        assert_eq!(pop_meta(&mut tape).shape(), (4, 1));
    }

    #[test]
    fn points_rotations_and_seeds() {
        let p = Point2::new(1.0, 2.0);
        let dp: Vector2<f64> = finish(zero(), &p);
        assert_eq!(dp, Vector2::zeros());
        assert_eq!(Operand::value(&p), &Vector2::new(1.0, 2.0));
        let r = Rotation2::new(0.5);
        assert_eq!(Operand::value(&r), r.matrix());
        assert_eq!(r.zero_tangent(), Matrix2::zeros());
        assert_eq!(
            nalgebra::Matrix1::new(3.0).seed_tangent(),
            nalgebra::Matrix1::new(1.0)
        );
    }

    #[test]
    #[should_panic(expected = "grad can be implicitly created only for scalar outputs")]
    fn seed_of_vector_panics() {
        Vector2::new(1.0, 2.0).seed_tangent();
    }

    #[test]
    #[allow(clippy::needless_borrow)] // `(&Keep(&x)).keep()` is the generated code's form
    fn values_are_plain_static_send_sync_and_kept_by_clone() {
        fn plain<T: 'static + Send + Sync + Clone>() {}
        plain::<Vector3<f64>>();
        plain::<DMatrix<f64>>();
        plain::<Point2<f64>>();
        plain::<Rotation2<f64>>();
        plain::<UnitQuaternion<f64>>();
        plain::<MatrixMeta<Dyn, Dyn>>();
        use crate::__private::{Keep, KeepBorrowed, KeepOwned, restore};
        let v = Vector3::new(1.0, 2.0, 3.0);
        let kept = (&Keep(&v)).keep();
        let back: Vector3<f64> = restore(&kept);
        assert_eq!(back, v);
        let r = &v;
        let kept = (&Keep(&r)).keep();
        let back: &Vector3<f64> = restore(&kept);
        assert_eq!(back, &v);
    }
}

// ---------------------------------------------------------------- Vec of fixed-size matrices and vectors

/// The length of a `Vec` of fixed-size nalgebra values (`Vec<Vector2<f64>>`,
/// points built in a loop and pushed): what the reverse of `pts[i]` needs to
/// add an element's cotangent at `i`.
///
/// ```
/// use autodiff_runtime::__private::{acc_index, index_cotangent, meta, zero};
/// use nalgebra::Vector2;
///
/// let pts = vec![Vector2::new(1.0, 2.0), Vector2::new(3.0, 4.0)];
/// let mut d: Vec<Vector2<f64>> = zero();
/// acc_index(&mut d, &meta(&pts), &1usize, Vector2::new(1.0, 1.0));
/// assert_eq!(d, vec![Vector2::zeros(), Vector2::new(1.0, 1.0)]);
/// assert_eq!(index_cotangent(&mut d, &1usize), Vector2::new(1.0, 1.0));
/// assert_eq!(d[1], Vector2::zeros());
/// ```
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElementsMeta<R: DimName, C: DimName>(pub usize, std::marker::PhantomData<(R, C)>);

/// `d` grown with zeros to `n` elements.
fn grown<R: DimName, C: DimName>(d: &mut Vec<OMatrix<f64, R, C>>, n: usize)
where
    DefaultAllocator: Allocator<R, C>,
{
    if d.len() < n {
        d.resize(n, OMatrix::zeros_generic(R::name(), C::name()));
    }
}

impl<R: DimName, C: DimName> Differentiable for Vec<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Tangent = Vec<OMatrix<f64, R, C>>;
    fn zero_tangent(&self) -> Self::Tangent {
        vec![OMatrix::zeros_generic(R::name(), C::name()); self.len()]
    }
    fn finish_tangent(&self, mut d: Self::Tangent) -> Self::Tangent {
        grown(&mut d, self.len());
        d.truncate(self.len());
        d
    }
    fn seed_tangent(&self) -> Self::Tangent {
        panic!(
            "grad can be implicitly created only for scalar outputs (the output is a Vec of nalgebra values: pass a gradient of that shape instead)"
        )
    }
    fn cotangent_shape(&self) -> crate::cotangent::CotangentShape {
        crate::cotangent::CotangentShape::Dims(vec![self.len()])
    }
    fn shape_of_cotangent(ct: &Self::Tangent) -> crate::cotangent::CotangentShape {
        crate::cotangent::CotangentShape::Dims(vec![ct.len()])
    }
}

impl<R: DimName, C: DimName> Cotangent for Vec<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn zero() -> Self {
        Vec::new()
    }
    fn is_symbolic_zero(&self) -> bool {
        self.is_empty()
    }
    fn accumulate(&mut self, other: Self) {
        grown(self, other.len());
        for (d, o) in self.iter_mut().zip(other) {
            *d += o;
        }
    }
}

impl<R: DimName, C: DimName> HasMeta for Vec<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Meta = ElementsMeta<R, C>;
    fn meta(&self) -> Self::Meta {
        ElementsMeta(self.len(), std::marker::PhantomData)
    }
}

/// One element `xs[i]`: its cotangent is added at `i`.
impl<R: DimName, C: DimName, I: crate::cotangent::ScalarIndex + ?Sized> IndexMeta<I>
    for ElementsMeta<R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Tangent = Vec<OMatrix<f64, R, C>>;
    type Part = OMatrix<f64, R, C>;
    fn acc_index(&self, dst: &mut Self::Tangent, index: &I, g: Self::Part) {
        grown(dst, self.0);
        dst[index.index()] += g;
    }
}

/// The reverse of a write `xs[i] = v`: `v̄ = x̄s[i]`, then `x̄s[i] = 0`.
impl<R: DimName, C: DimName, I: crate::cotangent::ScalarIndex + ?Sized>
    crate::cotangent::TakeIndex<I> for Vec<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Part = OMatrix<f64, R, C>;
    fn take_index(&mut self, index: &I) -> Self::Part {
        let zero = OMatrix::zeros_generic(R::name(), C::name());
        match self.get_mut(index.index()) {
            Some(d) => std::mem::replace(d, zero),
            None => zero,
        }
    }
}

impl<R: DimName, C: DimName> Meta for ElementsMeta<R, C> {
    type Tape = StackTape<Self>;
}

impl<R: DimName, C: DimName> Differentiable for [OMatrix<f64, R, C>]
where
    DefaultAllocator: Allocator<R, C>,
{
    type Tangent = Vec<OMatrix<f64, R, C>>;
    fn zero_tangent(&self) -> Self::Tangent {
        vec![OMatrix::zeros_generic(R::name(), C::name()); self.len()]
    }
    fn finish_tangent(&self, mut d: Self::Tangent) -> Self::Tangent {
        grown(&mut d, self.len());
        d.truncate(self.len());
        d
    }
    fn cotangent_shape(&self) -> crate::cotangent::CotangentShape {
        crate::cotangent::CotangentShape::Dims(vec![self.len()])
    }
    fn shape_of_cotangent(ct: &Self::Tangent) -> crate::cotangent::CotangentShape {
        crate::cotangent::CotangentShape::Dims(vec![ct.len()])
    }
}

impl<R: DimName, C: DimName> HasMeta for [OMatrix<f64, R, C>]
where
    DefaultAllocator: Allocator<R, C>,
{
    type Meta = ElementsMeta<R, C>;
    fn meta(&self) -> Self::Meta {
        ElementsMeta(self.len(), std::marker::PhantomData)
    }
}

/// A range of a `Vec` of nalgebra values (`&pts[i..i + 2]`, `windows(2)`):
/// its cotangent is added to the elements it covers.
macro_rules! elements_range_index {
    ($($range:ty),*) => {$(
        impl<R: DimName, C: DimName> IndexMeta<$range> for ElementsMeta<R, C>
        where
            DefaultAllocator: Allocator<R, C>,
        {
            type Tangent = Vec<OMatrix<f64, R, C>>;
            type Part = Vec<OMatrix<f64, R, C>>;
            fn acc_index(&self, dst: &mut Self::Tangent, index: &$range, g: Self::Part) {
                if g.is_empty() {
                    return;
                }
                grown(dst, self.0);
                let start = match std::ops::RangeBounds::start_bound(index) {
                    std::ops::Bound::Included(&s) => s,
                    std::ops::Bound::Excluded(&s) => s + 1,
                    std::ops::Bound::Unbounded => 0,
                };
                for (d, v) in dst[start..].iter_mut().zip(g) {
                    *d += v;
                }
            }
        }
    )*};
}

elements_range_index!(
    std::ops::Range<usize>,
    std::ops::RangeFrom<usize>,
    std::ops::RangeTo<usize>,
    std::ops::RangeInclusive<usize>,
    std::ops::RangeToInclusive<usize>,
    std::ops::RangeFull
);

/// `y = xs.to_vec()` of a slice or `Vec` of nalgebra values: `x̄s += ȳ`.
impl<R: DimName, C: DimName> crate::ops::Rule<(&Vec<OMatrix<f64, R, C>>, &ElementsMeta<R, C>)>
    for crate::ops::shape::ToVecD0
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = Vec<OMatrix<f64, R, C>>;
    fn apply((g, _): (&Vec<OMatrix<f64, R, C>>, &ElementsMeta<R, C>)) -> Self::Out {
        g.clone()
    }
}

/// A `Vec` of nalgebra values, element after element (each column-major).
impl<R: DimName, C: DimName> Flat for Vec<OMatrix<f64, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn flat_len(&self) -> usize {
        self.iter().map(|m| m.len()).sum()
    }
    fn write_flat(&self, out: &mut Vec<f64>) {
        for m in self {
            m.write_flat(out);
        }
    }
    fn read_flat(&self, src: &mut &[f64]) -> Self {
        self.iter().map(|m| m.read_flat(src)).collect()
    }
}
