//! Compile-fail cases: every message #[differentiable] gives, and the compile
//! errors that stand in for PyTorch's runtime errors.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
}
