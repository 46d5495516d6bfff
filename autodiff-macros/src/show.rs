//! `#[differentiable(show)]`: what the macro made of a function, for a person
//! to read — the generated code, pretty-printed, and the function's
//! primitive-op graph as Graphviz DOT (the way torchviz draws PyTorch's
//! graphs), both known at compile time.

use crate::ir::*;
use crate::signature::Signature;
use proc_macro2::TokenStream;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;

/// The generated items, formatted by prettyplease (as `cargo expand` would).
pub fn pretty(tokens: &TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}

/// The op graph: parameters, each primitive op (an ellipse named after its
/// rule), calls, assignments to the user's variables, loops and branches as
/// clusters; a value the reverse pass keeps is drawn with a double border.
pub fn dot(sig: &Signature, body: &Body, saved_sites: &HashSet<usize>) -> String {
    let mut g = Dot {
        out: String::new(),
        next: 0,
        current: HashMap::new(),
        body,
        saved_sites,
        depth: 1,
    };
    let _ = writeln!(g.out, "digraph {} {{", sig.name);
    g.line("rankdir=TB;");
    g.line("node [fontname=\"Helvetica\", fontsize=11];");
    for (id, b) in body.bindings.iter().enumerate() {
        if let Some(p) = b.param {
            let active = sig.params[p].active;
            let name = g.fresh();
            let label = display_name(&b.ident.to_string());
            let fill = if active { "lightblue" } else { "lightgrey" };
            g.line(&format!(
                "{name} [label=\"{label}\", shape=box, style=filled, fillcolor={fill}];"
            ));
            g.current.insert(id, name);
        }
    }
    g.visit_block(&body.block);
    g.out.push_str("}\n");
    g.out
}

fn display_name(s: &str) -> String {
    match s.strip_prefix("__ad_") {
        Some("self") => "self".into(),
        Some(_) => "tmp".into(),
        None => s.into(),
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

struct Dot<'a> {
    out: String,
    next: usize,
    /// The node holding each binding's latest value.
    current: HashMap<BindId, String>,
    body: &'a Body,
    saved_sites: &'a HashSet<usize>,
    depth: usize,
}

impl Dot<'_> {
    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("n{}", self.next)
    }

    fn line(&mut self, s: &str) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn cluster(&mut self, label: &str, f: impl FnOnce(&mut Self)) {
        let name = self.fresh();
        self.line(&format!("subgraph cluster_{name} {{"));
        self.depth += 1;
        self.line(&format!("label=\"{}\"; style=rounded;", escape(label)));
        f(self);
        self.depth -= 1;
        self.line("}");
    }

    fn assign(&mut self, a: &Assign) {
        let root = self.ex(&a.value);
        let saved = self.saved_sites.contains(&a.site);
        for t in a.targets.iter().flatten() {
            let (label, id) = match t {
                Target::Out => ("output".to_string(), None),
                Target::Bind(id) => (
                    display_name(&self.body.bindings[*id].ident.to_string()),
                    Some(*id),
                ),
            };
            let name = self.fresh();
            let style = if saved { ", peripheries=2" } else { "" };
            let fill = if a.active { "white" } else { "whitesmoke" };
            self.line(&format!(
                "{name} [label=\"{}\", shape=box, style=filled, fillcolor={fill}{style}];",
                escape(&label)
            ));
            if let Some(root) = &root {
                self.line(&format!("{root} -> {name};"));
            }
            if let Some(id) = id {
                self.current.insert(id, name);
            }
        }
    }

    /// Draws an expression; returns the node holding its value.
    fn ex(&mut self, e: &Ex) -> Option<String> {
        let (label, kids): (String, Vec<&Ex>) = match e {
            Ex::Var { id, .. } => return self.current.get(id).cloned(),
            Ex::Const { tokens } => (tokens.to_string(), vec![]),
            Ex::Inactive { tokens, .. } | Ex::Unsupported { tokens, .. } => {
                let text = tokens.to_string();
                let short: String = text.chars().take(24).collect();
                (short, vec![])
            }
            Ex::Op { rule, args, .. } => (rule.rule.to_string(), args.iter().collect()),
            Ex::Call { func, args, .. } => {
                let name = func
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                (format!("{name}(..)"), args.iter().collect())
            }
            Ex::Index { base, index, .. } => ("index".into(), vec![&**base, &**index]),
            Ex::Field { base, member, .. } => {
                let m = match member {
                    syn::Member::Named(i) => i.to_string(),
                    syn::Member::Unnamed(i) => i.index.to_string(),
                };
                (format!(".{m}"), vec![&**base])
            }
            Ex::Ref { inner, .. } => return self.ex(inner),
            Ex::Tuple { elems } => ("tuple".into(), elems.iter().collect()),
            Ex::Array { elems, .. } => ("array".into(), elems.iter().collect()),
        };
        let name = self.fresh();
        let shape = if kids.is_empty() {
            "plaintext"
        } else {
            "ellipse"
        };
        self.line(&format!(
            "{name} [label=\"{}\", shape={shape}];",
            escape(&label)
        ));
        for k in kids {
            if let Some(kid) = self.ex(k) {
                self.line(&format!("{kid} -> {name};"));
            }
        }
        Some(name)
    }
}

/// Statements: assignments drawn, branches and loops as clusters.
impl<'a> Visit<'a> for Dot<'a> {
    fn visit_assign(&mut self, a: &'a Assign) {
        if !matches!(a.kind, AssignKind::Opaque { .. }) {
            self.assign(a);
        }
    }
    fn visit_if(&mut self, i: &'a If) {
        let cond = i.cond.to_string();
        self.cluster(&format!("if {cond}"), |g| g.visit_block(&i.then));
        if let Some(e) = &i.els {
            self.cluster("else", |g| g.visit_block(e));
        }
    }
    fn visit_match(&mut self, m: &'a Match) {
        let scrutinee = m.scrutinee.to_string();
        for arm in &m.arms {
            let head = arm.head.to_string();
            self.cluster(&format!("match {scrutinee}: {head}"), |g| {
                g.visit_block(&arm.body)
            });
        }
    }
    fn visit_loop(&mut self, l: &'a Loop) {
        let label = match &l.kind {
            LoopKind::While { cond } => format!("while {cond}"),
            LoopKind::Infinite => "loop".into(),
            LoopKind::Range {
                pattern,
                lo,
                hi,
                inclusive,
                ..
            } => {
                let dots = if *inclusive { "..=" } else { ".." };
                format!("for {pattern} in {lo}{dots}{hi}")
            }
            LoopKind::Iter { pattern, iterable } => format!("for {pattern} in {iterable}"),
        };
        self.cluster(&label, |g| g.visit_block(&l.body));
    }
}
