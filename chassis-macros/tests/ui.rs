//! Compile-time behaviour of `#[chassis::service]`: what expands and runs (`ui/pass`), and
//! what fails with an error on the offending token (`ui/fail`, snapshots in `.stderr`); and
//! of the first API a service's code meets, the client's routes (`ui/client`): a path built
//! with `format!` gets an error about templates.
//!
//! Regenerate snapshots with `TRYBUILD=overwrite cargo test -p chassis-macros --test ui`,
//! then review every changed `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.compile_fail("tests/ui/client/*.rs");
}
