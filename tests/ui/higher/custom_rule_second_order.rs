// A custom `vjp` rule gives first derivatives; second derivatives through it
// need a `jvp` rule that is itself differentiable. Without one, asking for
// them does not compile (and says so), while first derivatives still do.
use autodiff::differentiable;

#[differentiable(vjp = cube_root_vjp, forward)]
fn cube_root(a: f64) -> f64 {
    a.cbrt()
}

fn cube_root_vjp(a: f64) -> (f64, impl FnOnce(f64) -> (f64,) + Clone + 'static) {
    let y = a.cbrt();
    (y, move |g: f64| (g / (3.0 * y * y),))
}

#[differentiable(forward)]
fn uses_it(x: f64) -> f64 {
    cube_root(x * x + 1.0) * x
}

fn main() {
    let _first = uses_it::grad(2.0);
    let _second = uses_it::hessian(2.0);
}
