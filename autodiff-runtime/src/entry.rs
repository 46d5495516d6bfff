//! The public functions `#[differentiable]` generates beside a function
//! (`vjp`, `vjp_retained`, `grad`, `value_and_grad`), written once here:
//! each generated one is a single call of these on the function's pullback.

use crate::Differentiable;

/// `vjp` from the pullback over all parameters (`(value, pullback)`):
/// the pullback's result passed through `pick` (which keeps the gradients
/// of the differentiated parameters, a single one unwrapped). The pullback
/// checks that its cotangent has the output's shape (a tensor's, a
/// vector's length), and panics with PyTorch's "Mismatch in shape" if not.
///
/// ```
/// use autodiff_runtime::__private::vjp;
///
/// let all = (2.0, |ct: f64| (3.0 * ct, ()));
/// let (value, pullback) = vjp(all, |(g, ())| g);
/// assert_eq!((value, pullback(1.0)), (2.0, 3.0));
///
/// let all = (vec![1.0, 2.0], |ct: Vec<f64>| (ct[0],));
/// let (_, pullback) = vjp(all, |(g,)| g);
/// assert!(std::panic::catch_unwind(|| pullback(vec![1.0])).is_err());
/// ```
#[doc(hidden)]
#[inline(always)]
pub fn vjp<V: Differentiable<Tangent = C>, C, A, G>(
    (value, pullback): (V, impl FnOnce(C) -> A + Clone),
    pick: impl FnOnce(A) -> G + Clone,
) -> (V, impl FnOnce(C) -> G + Clone) {
    let shape = value.cotangent_shape();
    (value, move |ct: C| {
        crate::cotangent::check_cotangent::<V>(&shape, &ct);
        pick(pullback(ct))
    })
}

/// `vjp_retained` from `vjp`: a pullback that may be called any number of
/// times (each call runs a copy of the one-shot pullback).
///
/// ```
/// use autodiff_runtime::__private::retained;
///
/// let (value, pullback) = retained((2.0, |ct: f64| 3.0 * ct));
/// assert_eq!((value, pullback(1.0), pullback(2.0)), (2.0, 3.0, 6.0));
/// ```
#[doc(hidden)]
#[inline(always)]
pub fn retained<V, C, G>(
    (value, pullback): (V, impl FnOnce(C) -> G + Clone),
) -> (V, impl Fn(C) -> G + Clone) {
    (value, move |ct: C| (pullback.clone())(ct))
}

/// `grad` from `vjp`: the pullback of the seed (1 for a scalar output).
///
/// ```
/// use autodiff_runtime::__private::grad;
///
/// assert_eq!(grad((2.0, |ct: f64| 3.0 * ct)), 3.0);
/// ```
#[doc(hidden)]
#[inline(always)]
pub fn grad<V: Differentiable, G>((value, pullback): (V, impl FnOnce(V::Tangent) -> G)) -> G {
    pullback(crate::cotangent::seed(&value))
}

/// `value_and_grad` from `vjp`: the value and the pullback of the seed.
///
/// ```
/// use autodiff_runtime::__private::value_and_grad;
///
/// assert_eq!(value_and_grad((2.0, |ct: f64| 3.0 * ct)), (2.0, 3.0));
/// ```
#[doc(hidden)]
#[inline(always)]
pub fn value_and_grad<V: Differentiable, G>(
    (value, pullback): (V, impl FnOnce(V::Tangent) -> G),
) -> (V, G) {
    let gradient = pullback(crate::cotangent::seed(&value));
    (value, gradient)
}

/// `f::record`: calls the owning pullback `__ad_vjp_owned` on values read
/// from graph `inputs` (`value_and_pullback`), and records one node whose
/// backward runs a copy of the pullback on the output's gradient;
/// `gradients` turns the pullback's result into one tensor per input.
///
/// ```
/// use autodiff_runtime::__private::record;
/// use autodiff_runtime::graph::{GraphValue, Var};
///
/// let x = Var::leaf(3.0);
/// let held = f64::from_tensor(&x.data());
/// let y = record("square", (held * held, move |ct: f64| (2.0 * held * ct,)), vec![x.clone()], |(g,)| {
///     vec![g.into_tensor()]
/// });
/// y.backward();
/// assert_eq!(x.grad().unwrap().item(), 6.0);
/// ```
#[doc(hidden)]
pub fn record<V, C, A>(
    name: &'static str,
    (value, pullback): (V, impl FnOnce(C) -> A + Clone + Send + Sync + 'static),
    inputs: Vec<crate::graph::Var>,
    gradients: impl Fn(A) -> Vec<crate::Tensor> + Send + Sync + 'static,
) -> crate::graph::Var
where
    V: crate::graph::GraphValue,
    C: crate::graph::GraphValue,
{
    let backward = move |ct: &crate::Tensor| gradients((pullback.clone())(C::from_tensor(ct)));
    crate::graph::Var::__record(name, value.into_tensor(), inputs, Box::new(backward))
}
