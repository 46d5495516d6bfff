use autodiff::differentiable;

#[differentiable]
fn f<T: std::ops::Mul<Output = T> + Copy>(x: T) -> T {
    x * x
}

fn main() {}
