//! Compile-fail cases: every message #[differentiable] gives, and the compile
//! errors that stand in for PyTorch's runtime errors.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
    // A passing case makes trybuild build (not only check) every case: the
    // refusals of forward mode and second derivatives are found when the
    // code that uses them is compiled.
    cases.pass("tests/ui_pass/*.rs");
}
