//! The macro's table of primitives (`autodiff-macros/src/rules.rs`) and the
//! runtime's (`autodiff-runtime/src/ops/table.rs`) say the same thing: the
//! same names and arities, the same rule functions, the same needs. And
//! README's list of primitives is the runtime table's, as printed by
//! `table::readme_list()`: `UPDATE_README=1 cargo test --test primitive_table`
//! rewrites it.

use std::collections::BTreeMap;

use autodiff_runtime::__private::table::{Primitive, Syntax, primitives};

type Needs = Vec<Option<Vec<String>>>;

/// `(name, arity)` → `(rule, needs)`.
fn runtime_rows() -> BTreeMap<(String, usize), (String, Needs)> {
    let mut rows = BTreeMap::new();
    for p in primitives().filter(|p| p.syntax != Syntax::RuntimeOnly) {
        let needs = needs_of(p);
        let previous = rows.insert(
            (p.name.to_string(), p.arity),
            (p.rule.to_string(), needs.clone()),
        );
        // One name may have rows for f64 and for tensors: they must agree.
        if let Some(previous) = previous {
            assert_eq!(
                previous,
                (p.rule.to_string(), needs),
                "two runtime rows for {} disagree",
                p.name
            );
        }
    }
    rows
}

fn needs_of(p: &Primitive) -> Needs {
    p.operands
        .iter()
        .map(|op| op.map(|needs| needs.iter().map(|n| n.to_string()).collect()))
        .collect()
}

fn macro_rows() -> BTreeMap<(String, usize), (String, Needs)> {
    let rows: &[(&str, usize, &str, &[Option<&[&str]>])] = autodiff_macros::__primitive_rows!();
    let mut out = BTreeMap::new();
    for (name, arity, rule, operands) in rows {
        let needs = operands
            .iter()
            .map(|op| op.map(|needs| needs.iter().map(|n| n.to_string()).collect()))
            .collect();
        assert!(
            out.insert((name.to_string(), *arity), (rule.to_string(), needs))
                .is_none(),
            "two macro rows for {name} with {arity} operands"
        );
    }
    out
}

#[test]
fn the_macro_and_the_runtime_tables_agree() {
    let runtime = runtime_rows();
    let macros = macro_rows();
    let mut problems = Vec::new();
    for (key, row) in &macros {
        match runtime.get(key) {
            None => problems.push(format!(
                "the macro has {key:?} (rule {}), the runtime's table does not",
                row.0
            )),
            Some(r) if r != row => problems.push(format!(
                "{key:?}: the macro says {row:?}, the runtime {r:?}"
            )),
            Some(_) => {}
        }
    }
    for key in runtime.keys() {
        if !macros.contains_key(key) {
            problems.push(format!(
                "the runtime's table has {key:?}, the macro does not"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the tables differ:\n{}",
        problems.join("\n")
    );
    assert!(macros.len() > 60, "only {} rows", macros.len());
}

const BEGIN: &str = "<!-- primitives:begin -->\n";
const END: &str = "<!-- primitives:end -->";

#[test]
fn readme_lists_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("README has <!-- primitives:begin -->")
        + BEGIN.len();
    let end = readme
        .find(END)
        .expect("README has <!-- primitives:end -->");
    let want = autodiff_runtime::__private::table::readme_list();
    if readme[start..end] == want {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{}{}", &readme[..start], want, &readme[end..]);
        std::fs::write(path, updated).expect("write README.md");
        return;
    }
    panic!(
        "README's list of primitives differs from the table; rewrite it with\n  \
         UPDATE_README=1 cargo test --test primitive_table\nThe table's list:\n{want}"
    );
}
