//! Every row of the table of primitives passes its check: its rules agree
//! with central differences (on `f64`, on tensors and broadcast where the op
//! takes them), the graph layer's op agrees too where it has one, and a zero
//! cotangent gives exactly zero where the row claims the strong zero. A row
//! added to the table is checked here without a line more.

use std::collections::HashSet;

use autodiff_runtime::__private::table::{Need, Syntax, primitives};

#[test]
fn every_row_passes_its_check() {
    let mut failures = Vec::new();
    let mut count = 0;
    for p in primitives() {
        count += 1;
        if let Err(e) = (p.check)() {
            failures.push(format!("{} ({}): {e}", p.name, p.call));
        }
    }
    assert!(count > 60, "the table has only {count} rows");
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rows_are_consistent() {
    let mut seen = HashSet::new();
    for p in primitives() {
        assert!(
            seen.insert((p.name, p.arity, p.on.label())),
            "two rows for {} with {} operands on {}",
            p.name,
            p.arity,
            p.on.label()
        );
        if p.syntax != Syntax::RuntimeOnly {
            assert_eq!(
                p.operands.len(),
                p.arity,
                "{}: one entry per operand",
                p.name
            );
        }
        for needs in p.operands.iter().flatten() {
            for need in *needs {
                if let Need::Value(i) | Need::Meta(i) = need {
                    assert!(
                        *i < p.arity,
                        "{}: {need} reads past its {} operands",
                        p.name,
                        p.arity
                    );
                }
            }
        }
        assert!(!p.math.is_empty(), "{}: no math", p.name);
    }
}

/// A check that cannot fail checks nothing: a wrong rule is caught.
#[test]
fn a_wrong_rule_fails_its_check() {
    use autodiff_runtime::Tensor;
    use autodiff_runtime::gradcheck::{GradCheckConfig, check_vjp_with};
    let wrong = |x: &Tensor, g: Tensor| g * x.sin(); // d/dx sin x is cos x
    assert!(
        check_vjp_with(
            GradCheckConfig::default(),
            |x: &Tensor| x.sin(),
            wrong,
            &Tensor::randn(&[3], 1)
        )
        .is_err()
    );
}
