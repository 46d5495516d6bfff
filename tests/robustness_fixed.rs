//! Bodies that were once pending (their generated code did not compile, or
//! the macro refused them wrongly), each with its right gradient; one module
//! per case, as it was written in `tests/robustness_pending/`.

mod destructuring_assignment {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let (mut a, mut b) = (x, 1.5);
        (a, b) = (a * b, a + b);
        a + b
    }

    #[test]
    fn destructuring_assignment() {
        assert_eq!(f::grad(0.7), 2.5);
    }
}

mod destructuring_assignment_infer {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let mut a = 0.0;
        (a, _) = (x * 2.0, 1.0);
        a
    }

    #[test]
    fn destructuring_assignment_infer() {
        assert_eq!(f::grad(0.7), 2.0);
    }
}

mod f64_from {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        f64::from(x) * 2.0
    }

    #[test]
    fn f64_from() {
        assert_eq!(f::grad(0.7), 2.0);
    }
}

mod labeled_block_inactive {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let k = 'b: {
            if x > 0.0 {
                break 'b 1.0;
            }
            2.0
        };
        x * k
    }

    #[test]
    fn labeled_block_inactive() {
        assert_eq!(f::grad(0.7), 1.0);
    }
}

mod labeled_break_in_condition {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let mut s = x;
        'a: loop {
            if {
                if s > 1.0 {
                    break 'a;
                }
                true
            } {
                s = s * 2.0;
            }
        }
        s
    }

    #[test]
    fn labeled_break_in_condition() {
        assert_eq!(f::grad(0.7), 2.0);
    }
}

mod let_else_inactive {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let Some(k) = Some(2.0) else { panic!() };
        x * k
    }

    #[test]
    fn let_else_inactive() {
        assert_eq!(f::grad(0.7), 2.0);
    }
}

mod mut_ref_param {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(v: &mut f64) -> f64 {
        *v * 2.0
    }

    #[test]
    fn mut_ref_param() {
        assert_eq!(f::grad(&mut 0.7), 2.0);
    }
}

mod mut_slice_param {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(v: &mut [f64]) -> f64 {
        v[0] * 2.0
    }

    #[test]
    fn mut_slice_param() {
        assert_eq!(f::grad(&mut [0.3, -0.5, 0.8]), vec![2.0, 0.0, 0.0]);
    }
}

mod qself_sin {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        <f64>::sin(x)
    }

    #[test]
    fn qself_sin() {
        assert_eq!(f::grad(0.7), 0.7f64.cos());
    }
}

mod qself_trait_relu {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        <f64 as Real>::relu(x)
    }

    #[test]
    fn qself_trait_relu() {
        assert_eq!(f::grad(0.7), 1.0);
    }
}

mod recipe_drops_type_annotation {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let mut s = x;
        for _ in 0..2 {
            let c: f64 = 0.5;
            s = s * c.abs();
        }
        s
    }

    #[test]
    fn recipe_drops_type_annotation() {
        assert_eq!(f::grad(0.7), 0.25);
    }
}

mod std_primitive_path {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        std::primitive::f64::sin(x)
    }

    #[test]
    fn std_primitive_path() {
        assert_eq!(f::grad(0.7), 0.7f64.cos());
    }
}

mod subslice_index {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(xs: &[f64]) -> f64 {
        let t = &xs[1..];
        t[0] * 2.0
    }

    #[test]
    fn subslice_index() {
        assert_eq!(f::grad(&[0.3, -0.5, 0.8]), vec![0.0, 2.0, 0.0]);
    }
}

mod subslice_to_helper {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn first_times_three(v: &[f64]) -> f64 {
        v[0] * 3.0
    }

    #[differentiable]
    fn f(xs: &[f64]) -> f64 {
        first_times_three(&xs[1..])
    }

    #[test]
    fn subslice_to_helper() {
        assert_eq!(f::grad(&[0.3, -0.5, 0.8]), vec![0.0, 3.0, 0.0]);
    }
}

mod tensor_from_slice {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(xs: &[f64]) -> f64 {
        let t = Tensor::from(xs);
        t.sum()
    }

    #[test]
    fn tensor_from_slice() {
        assert_eq!(f::grad(&[0.3, -0.5, 0.8]), vec![1.0, 1.0, 1.0]);
    }
}

mod trait_path_call {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        Real::relu(x)
    }

    #[test]
    fn trait_path_call() {
        assert_eq!(f::grad(0.7), 1.0);
    }
}

mod tuple_with_constant {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let (p, q) = (x, 2.0);
        p
    }

    #[test]
    fn tuple_with_constant() {
        assert_eq!(f::grad(0.7), 1.0);
    }
}

mod type_from_macro_rules {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    macro_rules! with_type {
        ($t:ty) => {
            #[differentiable]
            fn f(x: $t) -> $t {
                x * 2.0
            }
        };
    }

    with_type!(f64);
    #[test]
    fn type_from_macro_rules() {
        assert_eq!(f::grad(0.7), 2.0);
    }
}

mod underscore_param {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64, _: f64) -> f64 {
        x
    }

    #[test]
    fn underscore_param() {
        assert_eq!(f::grad(0.7, -1.3), (1.0, 0.0));
    }
}

mod unsafe_block_inactive {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let c = unsafe { 3.0 };
        c * x
    }

    #[test]
    fn unsafe_block_inactive() {
        assert_eq!(f::grad(0.7), 3.0);
    }
}

mod vec_from_slice {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(xs: &[f64]) -> f64 {
        let v = Vec::from(xs);
        v[0]
    }

    #[test]
    fn vec_from_slice() {
        assert_eq!(f::grad(&[0.3, -0.5, 0.8]), vec![1.0, 0.0, 0.0]);
    }
}

mod return_inside_while_condition {
    #![allow(unused)]

    use autodiff::differentiable;
    use autodiff::prelude::*;

    #[differentiable]
    fn f(x: f64) -> f64 {
        let mut s = x;
        while {
            if s > 1.0 {
                return s * 3.0;
            }
            true
        } {
            s = s * 2.0;
        }
        s
    }

    #[test]
    fn return_inside_while_condition() {
        assert_eq!(f::grad(0.7), 6.0);
    }
}

// Found by a new user's trial: generated code that did not compile.

mod enumerate_unused_index {
    use autodiff::differentiable;

    /// The index of `enumerate` dropped by `_` in the closure's pattern.
    #[differentiable]
    fn f(x: &[f64]) -> f64 {
        x.iter().enumerate().map(|(_, v)| v * v).sum()
    }

    #[test]
    fn enumerate_unused_index() {
        assert_eq!(f::grad(&[1.0, -2.0, 0.5]), vec![2.0, -4.0, 1.0]);
    }
}

mod path_call_float_literal {
    use autodiff::differentiable;

    /// A literal receiver in path form: `f64::powf(2.0, x)` is `2ˣ`.
    #[differentiable]
    fn f(x: f64) -> f64 {
        f64::powf(2.0, x) + f64::hypot(3.0, x)
    }

    #[test]
    fn path_call_float_literal() {
        let x: f64 = 4.0;
        // 2ˣ ln 2 + x / hypot(3, x)
        let want = 2f64.powf(x) * 2f64.ln() + x / 5.0;
        assert!((f::grad(x) - want).abs() < 1e-12);
    }
}

mod literal_index_arguments {
    use autodiff::Tensor;
    use autodiff::differentiable;
    use nalgebra::Matrix2;

    /// An index written as an array literal, read by the rule in reverse.
    #[differentiable]
    fn at(t: &Tensor, i: usize) -> f64 {
        t.at(&[i, 1]) * 2.0
    }

    /// A matrix indexed by a tuple literal.
    #[differentiable]
    fn entry(m: Matrix2<f64>) -> f64 {
        m[(0, 1)] * 2.0
    }

    #[test]
    fn literal_index_arguments() {
        assert_eq!(
            at::grad(&Tensor::zeros(&[2, 2]), 1).to_vec(),
            vec![0.0, 0.0, 0.0, 2.0]
        );
        assert_eq!(
            entry::grad(Matrix2::zeros()),
            Matrix2::new(0.0, 2.0, 0.0, 0.0)
        );
    }
}

mod copies_and_folds {
    use autodiff::differentiable;

    #[differentiable]
    fn array_to_vec(x: [f64; 2]) -> f64 {
        let z = x.to_vec();
        z[0] * z[1]
    }

    /// A literal start and a path function: `fold(0.0, f64::max)`.
    #[differentiable]
    fn fold_literal_path(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).fold(0.0, f64::max)
    }

    /// An array literal of active values as a receiver.
    #[differentiable]
    fn literal_array_to_vec(x: &[f64]) -> f64 {
        let z = [x[0], x[1] * 2.0].to_vec();
        z[0] * z[1]
    }

    /// A copy of a sub-slice.
    #[differentiable]
    fn range_index_to_vec(x: &[f64]) -> f64 {
        let v = x[0..2].to_vec();
        v[1] * 2.0 + x[1..].to_vec()[1]
    }

    #[test]
    fn copies_and_folds() {
        assert_eq!(
            range_index_to_vec::grad(&[2.0, 3.0, 4.0]),
            vec![0.0, 2.0, 1.0]
        );
        assert_eq!(array_to_vec::grad([2.0, 3.0]), [3.0, 2.0]);
        // max(4, 9, 1) = 9 at x = −3: 2x
        assert_eq!(
            fold_literal_path::grad(&[2.0, -3.0, 1.0]),
            vec![0.0, -6.0, 0.0]
        );
        // 2 x₀ x₁
        assert_eq!(literal_array_to_vec::grad(&[2.0, 3.0]), vec![6.0, 4.0]);
    }
}
