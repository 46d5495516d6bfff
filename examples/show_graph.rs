//! What `#[differentiable]` made of the notes' `f(a)`: the generated code,
//! pretty-printed, and the op graph as Graphviz DOT (and SVG, where `dot`
//! is installed), the way torchviz draws PyTorch's graphs.
//!
//! `cargo run --example show_graph` writes `target/f_graph.dot` (and
//! `target/f_graph.svg`) and prints the expansion.

use autodiff::differentiable;

#[differentiable(show)]
fn f(a: f64) -> f64 {
    let mut b = a * 2.0;
    while b.abs() < 1000.0 {
        b = b * 2.0;
    }
    if b > 0.0 { b } else { 100.0 * b }
}

fn main() -> std::io::Result<()> {
    println!("{}", f::EXPANSION);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir)?;
    let dot = dir.join("f_graph.dot");
    std::fs::write(&dot, f::GRAPH_DOT)?;
    println!("wrote {}", dot.display());
    let svg = dir.join("f_graph.svg");
    match std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg(&dot)
        .arg("-o")
        .arg(&svg)
        .status()
    {
        Ok(s) if s.success() => println!("wrote {}", svg.display()),
        _ => println!(
            "(install Graphviz's `dot` to render it: dot -Tsvg {} -o f_graph.svg)",
            dot.display()
        ),
    }
    assert_eq!(f::grad(-0.2753), 409600.0);
    Ok(())
}
