//! The fuzzer's program generator: seeded random `#[differentiable]`
//! functions over the constructs the macro supports, each written twice —
//! over `f64` (the function under test) and over the dual numbers of
//! `dual.rs` (the oracle) — from one random draw, so that both follow the
//! same control path.
//!
//! Every program has the signature `f(a: f64, b: f64, xs: &[f64]) -> f64`
//! (`xs` of length [`LEN`]) and may call helper functions generated before it
//! (`#[differentiable]` too, each with its own dual twin). Values stay
//! bounded: growth is tracked as a bound per value and squashed (`tanh`,
//! `sin`) when it passes [`BMAX`]; `ln` and `sqrt` take guarded positive
//! arguments, divisions guarded denominators (≥ 1); loops have small trip
//! counts and every `while`/`loop` a counter that ends it. The dual twin
//! also measures the largest value, and the harness skips the rare program
//! that still grows too much.

use std::fmt::Write;

/// Length of the slice parameter `xs`.
pub const LEN: usize = 3;
/// Points besides (A, B, XS) at which each program is checked.
pub const MORE_POINTS: usize = 2;
/// Bound on values before they are squashed.
const BMAX: f64 = 4.0;

/// What the generator may use. The `known_bad` ones are constructs that the
/// macro gets wrong today (issue 7): off by default so CI runs green on what
/// works, to be turned on (`AUTODIFF_FUZZ_FLAGS=+name`) once fixed.
#[derive(Clone, Debug)]
pub struct Flags {
    /// Scales the number of statements of every function (1 by default).
    pub size: u32,
    pub calls: bool,
    pub tuples: bool,
    pub slices: bool,
    pub labels: bool,
    pub early_return: bool,
    pub stop_gradient: bool,
    pub match_stmt: bool,
    pub while_loops: bool,
    pub infinite_loops: bool,
    pub if_values: bool,
    pub shadowing: bool,
    pub compound: bool,
    pub max_min_abs: bool,
    /// `tan`, `recip`, `powf`, `sigmoid`, `relu` besides the primitives of the brief.
    pub more_primitives: bool,
    /// `let v: f64;` assigned in both branches of an `if`.
    pub uninit_let: bool,
    /// `while let Some(j) = stack.pop()` over inactive integers.
    pub while_let: bool,
    /// `mut` parameters, assigned in the body.
    pub mut_params: bool,
    // ---- known bad today (issue 7); off by default.
    /// Tuple lets anywhere, one of whose elements may end up dead (unused,
    /// shadowed, overwritten, out of scope): issue 7, item 6, E0283 in the
    /// generated code when the dead element is a constant or a `+`, `-`,
    /// negation. Off: tuples only at a function's top level, immutable,
    /// never shadowed, and both elements summed into the result.
    pub tuple_dead_element: bool,
    /// `match e { v => .. }`, `if let v = e`: active pattern bindings (item 2).
    pub pattern_bindings: bool,
    /// Assignments inside `if`/`while` conditions and on the right of `&&`/`||` (item 4).
    pub assign_in_condition: bool,
    /// `for v in xs.iter()` / `for &v in xs` over the active slice (item 1).
    pub slice_iteration: bool,
    /// `&xs[1..]` passed to a helper (item 7).
    pub subslices: bool,
    /// `break`/`continue` inside an `if` condition block (item 5; with a
    /// label, the generated code does not compile: E0426).
    pub exit_in_condition: bool,
    /// `let v: f64 = 0.07;` (a literal typed by the annotation only) inside a
    /// loop: the reverse evaluates the `let` again without its annotation,
    /// and a method on `v` does not type-check (E0689). Off: such a value is
    /// written `((0.07) as f64)`.
    pub annotated_literal_let: bool,
}

impl Default for Flags {
    fn default() -> Flags {
        Flags {
            size: 1,
            calls: true,
            tuples: true,
            slices: true,
            labels: true,
            early_return: true,
            stop_gradient: true,
            match_stmt: true,
            while_loops: true,
            infinite_loops: true,
            if_values: true,
            shadowing: true,
            compound: true,
            max_min_abs: true,
            more_primitives: true,
            uninit_let: true,
            while_let: true,
            mut_params: true,
            tuple_dead_element: true,
            pattern_bindings: false,
            assign_in_condition: false,
            slice_iteration: true,
            subslices: true,
            exit_in_condition: true,
            annotated_literal_let: true,
        }
    }
}

impl Flags {
    /// Applies `+name,-name,..` (as in `AUTODIFF_FUZZ_FLAGS`).
    pub fn apply(&mut self, spec: &str) -> Result<(), String> {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (on, name) = match item.as_bytes()[0] {
                b'+' => (true, &item[1..]),
                b'-' => (false, &item[1..]),
                _ => (true, item),
            };
            let slot = match name {
                "calls" => &mut self.calls,
                "tuples" => &mut self.tuples,
                "slices" => &mut self.slices,
                "labels" => &mut self.labels,
                "early_return" => &mut self.early_return,
                "stop_gradient" => &mut self.stop_gradient,
                "match_stmt" => &mut self.match_stmt,
                "while_loops" => &mut self.while_loops,
                "infinite_loops" => &mut self.infinite_loops,
                "if_values" => &mut self.if_values,
                "shadowing" => &mut self.shadowing,
                "compound" => &mut self.compound,
                "max_min_abs" => &mut self.max_min_abs,
                "more_primitives" => &mut self.more_primitives,
                "uninit_let" => &mut self.uninit_let,
                "while_let" => &mut self.while_let,
                "mut_params" => &mut self.mut_params,
                "tuple_dead_element" => &mut self.tuple_dead_element,
                "pattern_bindings" => &mut self.pattern_bindings,
                "assign_in_condition" => &mut self.assign_in_condition,
                "slice_iteration" => &mut self.slice_iteration,
                "subslices" => &mut self.subslices,
                "exit_in_condition" => &mut self.exit_in_condition,
                "annotated_literal_let" => &mut self.annotated_literal_let,
                "all_known_bad" => {
                    self.tuple_dead_element = on;
                    self.pattern_bindings = on;
                    self.assign_in_condition = on;
                    self.slice_iteration = on;
                    self.subslices = on;
                    self.exit_in_condition = on;
                    self.annotated_literal_let = on;
                    continue;
                }
                other => return Err(format!("unknown fuzzer flag `{other}`")),
            };
            *slot = on;
        }
        Ok(())
    }
}

/// SplitMix64: small, seedable, and the same on every platform.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seed of program `index` of a run: what a failure prints, and what
/// `AUTODIFF_FUZZ_PROGRAM` takes to generate that one program alone.
pub fn program_seed(run_seed: u64, index: usize) -> u64 {
    let mut r = Rng::new(run_seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    r.next_u64()
}

/// A value in both renderings: over f64 (`f`) and over dual numbers (`d`).
#[derive(Clone, Debug)]
struct Ex {
    f: String,
    d: String,
    /// |value| ≤ bound.
    bound: f64,
    /// Only constants and inactive integers: never carries a gradient.
    constant: bool,
    /// Built of unsuffixed float literals only (`{float}` for rustc): a
    /// method called on it needs a type first.
    untyped: bool,
}

impl Ex {
    fn same(text: String, bound: f64, constant: bool) -> Ex {
        Ex {
            d: text.clone(),
            f: text,
            bound,
            constant,
            untyped: false,
        }
    }

    /// The f64 rendering as the receiver of a method.
    fn recv(&self) -> String {
        if self.untyped {
            format!("(({}) as f64)", self.f)
        } else {
            self.f.clone()
        }
    }
}

/// Two renderings of statements.
#[derive(Default)]
struct Code {
    f: String,
    d: String,
}

impl Code {
    fn line(&mut self, indent: usize, f: &str, d: &str) {
        let pad = "    ".repeat(indent);
        let _ = writeln!(self.f, "{pad}{f}");
        let _ = writeln!(self.d, "{pad}{d}");
    }
    fn same(&mut self, indent: usize, text: &str) {
        self.line(indent, text, text);
    }
}

#[derive(Clone)]
struct Var {
    name: String,
    bound: f64,
    mutable: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum LoopKind {
    /// `for` over a range: `continue` is always safe.
    For,
    /// `while`/`loop` with a counter incremented at the top of the body.
    Counted,
}

struct LoopCtx {
    label: Option<String>,
    #[allow(dead_code)]
    kind: LoopKind,
}

/// A helper function the program may call.
#[derive(Clone)]
enum Helper {
    /// `h(p: f64, q: f64) -> f64`
    Scalar2 { name: String },
    /// `h(p: f64) -> (f64, f64)`
    Pair { name: String },
    /// `h(v: &[f64], p: f64) -> f64`, reading `v[0..LEN]`
    Slice { name: String },
}

struct Gen<'a> {
    rng: Rng,
    flags: &'a Flags,
    scopes: Vec<Vec<Var>>,
    /// Integer values usable as indices and in `match`: (name, exclusive upper bound).
    ints: Vec<Vec<(String, usize)>>,
    loops: Vec<LoopCtx>,
    /// The slice parameter in scope, if any.
    slice: Option<String>,
    helpers: Vec<Helper>,
    fresh: usize,
    /// Statements left to generate in this function.
    budget: i32,
    /// The function returns from the middle (`return e;`) and its return type.
    can_return: bool,
    /// Loop nesting depth (trip counts multiply).
    loop_depth: usize,
    /// Names the result must read (tuple elements unless `tuple_dead_element`).
    must_use: Vec<String>,
    /// `scopes.len()` at the function's top level.
    top: usize,
}

impl<'a> Gen<'a> {
    fn name(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn vars(&self) -> Vec<Var> {
        // Innermost binding of each name.
        let mut seen: Vec<Var> = Vec::new();
        for scope in self.scopes.iter().rev() {
            for v in scope.iter().rev() {
                if !seen.iter().any(|s| s.name == v.name) {
                    seen.push(v.clone());
                }
            }
        }
        seen
    }

    fn int_vars(&self) -> Vec<(String, usize)> {
        self.ints.iter().flatten().cloned().collect()
    }

    fn declare(&mut self, var: Var) {
        self.scopes.last_mut().expect("a scope").push(var);
    }

    fn set_bound(&mut self, name: &str, bound: f64) {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(v) = scope.iter_mut().rev().find(|v| v.name == name) {
                v.bound = bound;
                return;
            }
        }
    }

    fn constant(&mut self) -> Ex {
        let v: f64 = if self.rng.chance(0.5) {
            *self.rng.pick(&[0.5, 1.5, 2.0, -0.75, 0.25, 3.0, -1.0, 0.1])
        } else {
            ((self.rng.unit() * 4.0 - 2.0) * 100.0).round() / 100.0
        };
        let text = lit(v);
        // Sometimes typed by a suffix (`0.5f64`, `(-0.75_f64)`).
        let suffixed = self.rng.chance(0.2);
        let f = match (suffixed, text.strip_suffix(')')) {
            (false, _) => text.clone(),
            (true, Some(neg)) => format!("{neg}_f64)"),
            (true, None) => format!("{text}f64"),
        };
        Ex {
            d: format!("c({text})"),
            f,
            bound: v.abs(),
            constant: true,
            untyped: !suffixed,
        }
    }

    /// An index into the slice: a constant, or a counter modulo LEN.
    fn index(&mut self) -> String {
        let ints = self.int_vars();
        if !ints.is_empty() && self.rng.chance(0.7) {
            let (i, _) = self.rng.pick(&ints).clone();
            match self.rng.below(3) {
                0 => format!("{i} % {LEN}"),
                1 => format!("({i} + {}) % {LEN}", 1 + self.rng.below(LEN - 1)),
                _ => format!("({LEN} - 1 - {i} % {LEN})"),
            }
        } else {
            self.rng.below(LEN).to_string()
        }
    }

    fn leaf(&mut self) -> Ex {
        let vars = self.vars();
        let ints = self.int_vars();
        loop {
            match self.rng.below(10) {
                0..=4 if !vars.is_empty() => {
                    let v = self.rng.pick(&vars).clone();
                    return Ex::same(v.name, v.bound, false);
                }
                5 | 6 if self.slice.is_some() => {
                    let s = self.slice.clone().expect("checked");
                    let i = self.index();
                    // Slice elements are inputs in [-1.5, 1.5].
                    return Ex::same(format!("{s}[{i}]"), 1.5, false);
                }
                7 if !ints.is_empty() => {
                    let (i, hi) = self.rng.pick(&ints).clone();
                    return Ex {
                        f: format!("({i} as f64)"),
                        d: format!("c({i} as f64)"),
                        bound: hi as f64,
                        constant: true,
                        untyped: false,
                    };
                }
                8 | 9 => return self.constant(),
                _ => {}
            }
        }
    }

    /// Keeps a value within BMAX.
    fn squash(&mut self, e: Ex) -> Ex {
        if e.bound <= BMAX {
            return e;
        }
        match self.rng.below(3) {
            0 => Ex {
                f: format!("({}).tanh() * 2.0", e.recv()),
                d: format!("({}).tanh() * c(2.0)", e.d),
                bound: 2.0,
                constant: e.constant,
                untyped: false,
            },
            1 => Ex {
                f: format!("({}).sin()", e.recv()),
                d: format!("({}).sin()", e.d),
                bound: 1.0,
                constant: e.constant,
                untyped: false,
            },
            _ => Ex {
                f: format!("({}) / (({}).abs() + 1.0)", e.f, e.recv()),
                d: format!("({}) / (({}).abs() + c(1.0))", e.d, e.d),
                bound: 1.0,
                constant: e.constant,
                untyped: false,
            },
        }
    }

    fn expr(&mut self, depth: usize) -> Ex {
        if depth == 0 || self.rng.chance(0.25) {
            return self.leaf();
        }
        let e = match self.rng.below(24) {
            0..=2 => {
                let (l, r) = (self.expr(depth - 1), self.expr(depth - 1));
                let op = *self.rng.pick(&["+", "-"]);
                Ex {
                    f: format!("({} {op} {})", l.f, r.f),
                    d: format!("({} {op} {})", l.d, r.d),
                    bound: l.bound + r.bound,
                    constant: l.constant && r.constant,
                    untyped: l.untyped && r.untyped,
                }
            }
            3..=5 => {
                let (l, r) = (self.expr(depth - 1), self.expr(depth - 1));
                Ex {
                    f: format!("({} * {})", l.f, r.f),
                    d: format!("({} * {})", l.d, r.d),
                    bound: l.bound * r.bound,
                    constant: l.constant && r.constant,
                    untyped: l.untyped && r.untyped,
                }
            }
            6 => {
                // Division by a guarded denominator ≥ 1.
                let (l, r) = (self.expr(depth - 1), self.expr(depth - 1));
                let (rf, rd) = match self.rng.below(2) {
                    0 => (
                        format!("(({}).powi(2) + 1.0)", r.recv()),
                        format!("(({}).powi(2) + c(1.0))", r.d),
                    ),
                    _ => (
                        format!("(({}).abs() + 1.0)", r.recv()),
                        format!("(({}).abs() + c(1.0))", r.d),
                    ),
                };
                Ex {
                    f: format!("({} / {rf})", l.f),
                    d: format!("({} / {rd})", l.d),
                    bound: l.bound,
                    constant: l.constant && r.constant,
                    untyped: false,
                }
            }
            7 => {
                let x = self.expr(depth - 1);
                Ex {
                    f: format!("(-{})", x.f),
                    d: format!("(-{})", x.d),
                    ..x
                }
            }
            8..=10 => {
                let x = self.expr(depth - 1);
                let m = *self.rng.pick(&["sin", "cos", "tanh"]);
                Ex {
                    f: format!("({}).{m}()", x.recv()),
                    d: format!("({}).{m}()", x.d),
                    bound: 1.0,
                    constant: x.constant,
                    untyped: false,
                }
            }
            11 => {
                let x = self.expr(depth - 1);
                let x = if x.bound > 2.0 {
                    Ex {
                        f: format!("({}).tanh()", x.recv()),
                        d: format!("({}).tanh()", x.d),
                        bound: 1.0,
                        constant: x.constant,
                        untyped: false,
                    }
                } else {
                    x
                };
                Ex {
                    f: format!("({}).exp()", x.recv()),
                    d: format!("({}).exp()", x.d),
                    bound: x.bound.exp(),
                    constant: x.constant,
                    untyped: false,
                }
            }
            12 => {
                // ln and sqrt of a guarded positive argument.
                let x = self.expr(depth - 1);
                let (gf, gd, g) = if self.rng.chance(0.5) {
                    (
                        format!("(({}).powi(2) + 0.5)", x.recv()),
                        format!("(({}).powi(2) + c(0.5))", x.d),
                        x.bound * x.bound + 0.5,
                    )
                } else {
                    (
                        format!("(({}).abs() + 0.25)", x.recv()),
                        format!("(({}).abs() + c(0.25))", x.d),
                        x.bound + 0.25,
                    )
                };
                if self.rng.chance(0.5) {
                    Ex {
                        f: format!("{gf}.ln()"),
                        d: format!("{gd}.ln()"),
                        bound: g.ln().abs().max(2.0_f64.ln()),
                        constant: x.constant,
                        untyped: false,
                    }
                } else {
                    Ex {
                        f: format!("{gf}.sqrt()"),
                        d: format!("{gd}.sqrt()"),
                        bound: g.sqrt(),
                        constant: x.constant,
                        untyped: false,
                    }
                }
            }
            13 => {
                let x = self.expr(depth - 1);
                let n: i32 = *self.rng.pick(&[2, 3, 2, 0, 1]);
                let x = if x.bound > 2.0 {
                    self.squash_hard(x)
                } else {
                    x
                };
                Ex {
                    f: format!("({}).powi({n})", x.recv()),
                    d: format!("({}).powi({n})", x.d),
                    bound: x.bound.powi(n).max(1.0),
                    constant: x.constant,
                    untyped: false,
                }
            }
            14 | 15 if self.flags.max_min_abs => {
                let (l, r) = (self.expr(depth - 1), self.expr(depth - 1));
                let m = *self.rng.pick(&["max", "min"]);
                Ex {
                    f: format!("({}).{m}({})", l.recv(), r.f),
                    d: format!("({}).{m}({})", l.d, r.d),
                    bound: l.bound.max(r.bound),
                    constant: l.constant && r.constant,
                    untyped: false,
                }
            }
            16 if self.flags.max_min_abs => {
                let x = self.expr(depth - 1);
                Ex {
                    f: format!("({}).abs()", x.recv()),
                    d: format!("({}).abs()", x.d),
                    ..x
                }
            }
            17 | 18 if self.flags.calls && !self.helpers.is_empty() => self.call(depth),
            19 if self.flags.stop_gradient => {
                let x = self.expr(depth - 1);
                Ex {
                    f: format!("stop_gradient({})", x.f),
                    d: format!("sg({})", x.d),
                    ..x
                }
            }
            20 if self.flags.if_values => {
                let cond = self.condition(depth - 1);
                let (l, r) = (self.expr(depth - 1), self.expr(depth - 1));
                Ex {
                    f: format!("(if {} {{ {} }} else {{ {} }})", cond.f, l.f, r.f),
                    d: format!("(if {} {{ {} }} else {{ {} }})", cond.d, l.d, r.d),
                    bound: l.bound.max(r.bound),
                    constant: false,
                    untyped: l.untyped && r.untyped,
                }
            }
            21 if self.flags.if_values && !self.int_vars().is_empty() => {
                let ints = self.int_vars();
                let (i, _) = self.rng.pick(&ints).clone();
                let (x, y, z) = (
                    self.expr(depth - 1),
                    self.expr(depth - 1),
                    self.expr(depth - 1),
                );
                Ex {
                    f: format!(
                        "(match {i} % 3 {{ 0 => {}, 1 => {}, _ => {} }})",
                        x.f, y.f, z.f
                    ),
                    d: format!(
                        "(match {i} % 3 {{ 0 => {}, 1 => {}, _ => {} }})",
                        x.d, y.d, z.d
                    ),
                    bound: x.bound.max(y.bound).max(z.bound),
                    constant: false,
                    untyped: x.untyped && y.untyped && z.untyped,
                }
            }
            22 | 23 if self.flags.more_primitives => {
                let x = self.expr(depth - 1);
                let x = self.squash_hard_if(x, 1.0);
                match self.rng.below(5) {
                    // |x| ≤ 1: tan is bounded by tan 1.
                    0 => Ex {
                        f: format!("({}).tan()", x.recv()),
                        d: format!("({}).tan()", x.d),
                        bound: 1.6,
                        constant: x.constant,
                        untyped: false,
                    },
                    1 => Ex {
                        f: format!("(({}).powi(2) + 1.0).recip()", x.recv()),
                        d: format!("(({}).powi(2) + c(1.0)).recip()", x.d),
                        bound: 1.0,
                        constant: x.constant,
                        untyped: false,
                    },
                    2 => {
                        // A guarded positive base; the exponent a constant or a value in [-1, 1].
                        let y = if self.rng.chance(0.5) {
                            self.constant()
                        } else {
                            self.expr(depth - 1)
                        };
                        let y = self.squash_hard_if(y, 1.0);
                        let y = if y.bound > 2.0 {
                            self.squash_hard(y)
                        } else {
                            y
                        };
                        Ex {
                            f: format!("(({}).abs() + 0.5).powf({})", x.recv(), y.f),
                            d: format!("(({}).abs() + c(0.5)).powf({})", x.d, y.d),
                            bound: 1.5f64.powf(y.bound).max(2.0),
                            constant: x.constant && y.constant,
                            untyped: false,
                        }
                    }
                    3 => Ex {
                        f: format!("({}).sigmoid()", x.recv()),
                        d: format!("({}).sigmoid()", x.d),
                        bound: 1.0,
                        constant: x.constant,
                        untyped: false,
                    },
                    _ => Ex {
                        f: format!("({}).relu()", x.recv()),
                        d: format!("({}).relu()", x.d),
                        bound: x.bound,
                        constant: x.constant,
                        untyped: false,
                    },
                }
            }
            _ => self.leaf(),
        };
        self.squash(e)
    }

    /// Squashes to ≤ 1 whatever the bound.
    fn squash_hard(&mut self, e: Ex) -> Ex {
        Ex {
            f: format!("({}).tanh()", e.recv()),
            d: format!("({}).tanh()", e.d),
            bound: 1.0,
            constant: e.constant,
            untyped: false,
        }
    }

    fn call(&mut self, depth: usize) -> Ex {
        let scalar: Vec<Helper> = self
            .helpers
            .iter()
            .filter(|h| !matches!(h, Helper::Pair { .. }))
            .filter(|h| !matches!(h, Helper::Slice { .. }) || self.slice.is_some())
            .cloned()
            .collect();
        if scalar.is_empty() {
            return self.leaf();
        }
        let h = self.rng.pick(&scalar).clone();
        match h {
            Helper::Scalar2 { name } => {
                let (p, q) = (self.expr(depth - 1), self.expr(depth - 1));
                let (p, q) = (self.squash_hard_if(p, 2.0), self.squash_hard_if(q, 2.0));
                Ex {
                    f: format!("{name}({}, {})", p.f, q.f),
                    d: format!("{name}_dual({}, {})", p.d, q.d),
                    bound: BMAX,
                    constant: false,
                    untyped: false,
                }
            }
            Helper::Slice { name } => {
                let s = self.slice.clone().expect("filtered");
                let p = self.expr(depth - 1);
                let p = self.squash_hard_if(p, 2.0);
                let sub = self.flags.subslices && self.rng.chance(0.3);
                let (sf, sd) = if sub {
                    // Not exercised unless `subslices`: a helper reads v[0..LEN].
                    (format!("&{s}[..]"), format!("&{s}[..]"))
                } else {
                    (s.clone(), s.clone())
                };
                Ex {
                    f: format!("{name}({sf}, {})", p.f),
                    d: format!("{name}_dual({sd}, {})", p.d),
                    bound: BMAX,
                    constant: false,
                    untyped: false,
                }
            }
            Helper::Pair { .. } => unreachable!("filtered"),
        }
    }

    fn squash_hard_if(&mut self, e: Ex, limit: f64) -> Ex {
        if e.bound > limit {
            self.squash_hard(e)
        } else {
            e
        }
    }

    /// A condition: comparisons of values (data-dependent), of counters, and
    /// their combinations with `&&`, `||`, `!`.
    fn condition(&mut self, depth: usize) -> Ex {
        let ints = self.int_vars();

        match self.rng.below(7) {
            0 if !ints.is_empty() => {
                let (i, hi) = self.rng.pick(&ints).clone();
                let k = self.rng.below(hi.max(1) + 1);
                let op = *self.rng.pick(&["<", ">", "==", "!=", ">="]);
                Ex::same(format!("{i} {op} {k}"), 0.0, true)
            }
            1 if !ints.is_empty() => {
                let (i, _) = self.rng.pick(&ints).clone();
                Ex::same(format!("{i} % 2 == {}", self.rng.below(2)), 0.0, true)
            }
            2 if depth > 0 => {
                let (l, r) = (self.condition(depth - 1), self.condition(depth - 1));
                let op = *self.rng.pick(&["&&", "||"]);
                Ex {
                    f: format!("({} {op} {})", l.f, r.f),
                    d: format!("({} {op} {})", l.d, r.d),
                    bound: 0.0,
                    constant: false,
                    untyped: false,
                }
            }
            3 if depth > 0 => {
                let x = self.condition(depth - 1);
                Ex {
                    f: format!("!({})", x.f),
                    d: format!("!({})", x.d),
                    ..x
                }
            }
            4 => {
                let (l, r) = (self.expr(depth.min(2)), self.expr(depth.min(2)));
                let op = *self.rng.pick(&["<", ">", "<=", ">="]);
                Ex {
                    f: format!("{} {op} {}", l.f, r.f),
                    d: format!("{} {op} {}", l.d, r.d),
                    bound: 0.0,
                    constant: false,
                    untyped: false,
                }
            }
            _ => {
                let x = self.expr(depth.min(2));
                let t = self.constant();
                let op = *self.rng.pick(&["<", ">", "<=", ">="]);
                Ex {
                    f: format!("{} {op} {}", x.f, t.f),
                    d: format!("{} {op} {}", x.d, t.d),
                    bound: 0.0,
                    constant: false,
                    untyped: false,
                }
            }
        }
    }

    fn block(&mut self, indent: usize, stmts: usize, out: &mut Code) {
        self.scopes.push(Vec::new());
        self.ints.push(Vec::new());
        for _ in 0..stmts {
            if self.budget <= 0 {
                break;
            }
            self.stmt(indent, out);
        }
        self.ints.pop();
        self.scopes.pop();
    }

    fn stmt(&mut self, indent: usize, out: &mut Code) {
        self.budget -= 1;
        let mutable: Vec<Var> = self.vars().into_iter().filter(|v| v.mutable).collect();
        let nesting = self.scopes.len();
        match self.rng.below(26) {
            0..=3 => self.let_stmt(indent, out),
            4..=7 if !mutable.is_empty() => {
                let v = self.rng.pick(&mutable).clone();
                let e = self.expr(3);
                let e = self.loop_safe(e);
                self.set_bound(&v.name, e.bound);
                out.line(
                    indent,
                    &format!("{} = {};", v.name, e.f),
                    &format!("{} = {};", v.name, e.d),
                );
            }
            8 | 9 if self.flags.compound && !mutable.is_empty() => {
                let v = self.rng.pick(&mutable).clone();
                let e = self.expr(2);
                let (op, bound) = match self.rng.below(4) {
                    0 => ("+=", v.bound + e.bound.min(1.0)),
                    1 => ("-=", v.bound + e.bound.min(1.0)),
                    2 => ("*=", v.bound * 1.0),
                    _ => ("/=", v.bound),
                };
                let (ef, ed) = match op {
                    // Keep the factor in [-1, 1] so that loops cannot blow up.
                    "*=" => (
                        format!("({}).tanh()", e.recv()),
                        format!("({}).tanh()", e.d),
                    ),
                    "/=" => (
                        format!("(({}).powi(2) + 1.0)", e.recv()),
                        format!("(({}).powi(2) + c(1.0))", e.d),
                    ),
                    _ if e.bound > 1.0 => {
                        (format!("({}).sin()", e.recv()), format!("({}).sin()", e.d))
                    }
                    _ => (e.f, e.d),
                };
                out.line(
                    indent,
                    &format!("{} {op} {ef};", v.name),
                    &format!("{} {op} {ed};", v.name),
                );
                // In a loop, `+=` may run many times: squash right after.
                if self.loop_depth > 0 && (op == "+=" || op == "-=") {
                    out.line(
                        indent,
                        &format!("{0} = ({0}).tanh() * 3.0;", v.name),
                        &format!("{0} = ({0}).tanh() * c(3.0);", v.name),
                    );
                    self.set_bound(&v.name, 3.0);
                } else {
                    self.set_bound(&v.name, bound.min(BMAX * 2.0));
                }
            }
            10 | 11 if nesting < 5 => self.if_stmt(indent, out),
            12 if nesting < 5 && self.flags.match_stmt && !self.int_vars().is_empty() => {
                self.match_stmt(indent, out)
            }
            13 | 14 if nesting < 4 && self.loop_depth < 2 => self.for_stmt(indent, out),
            15 if nesting < 4 && self.loop_depth < 2 && self.flags.while_loops => {
                self.while_stmt(indent, out)
            }
            16 if nesting < 4 && self.loop_depth < 2 && self.flags.infinite_loops => {
                self.loop_stmt(indent, out)
            }
            17 if !self.loops.is_empty() => self.exit_stmt(indent, out),
            18 if self.can_return && self.flags.early_return && self.rng.chance(0.5) => {
                let c = self.condition(1);
                let e = self.expr(3);
                out.line(indent, &format!("if {} {{", c.f), &format!("if {} {{", c.d));
                out.line(
                    indent + 1,
                    &format!("return {};", e.f),
                    &format!("return {};", e.d),
                );
                out.same(indent, "}");
            }
            19 if self.flags.tuples => self.tuple_stmt(indent, out),
            20 if nesting < 5 => {
                out.same(indent, "{");
                let n = 1 + self.rng.below(3);
                self.block(indent + 1, n, out);
                out.same(indent, "}");
            }
            21 if self.flags.pattern_bindings => self.binding_stmt(indent, out),
            22 if self.flags.assign_in_condition && !mutable.is_empty() => {
                self.assign_in_condition(indent, out)
            }
            23 if self.flags.slice_iteration && self.slice.is_some() && !mutable.is_empty() => {
                self.slice_iteration(indent, out)
            }
            24 if self.flags.uninit_let && nesting < 5 => self.uninit_let(indent, out),
            25 if self.flags.while_let && nesting < 4 && self.loop_depth < 2 => {
                self.while_let(indent, out)
            }
            _ => self.let_stmt(indent, out),
        }
    }

    /// `let v: f64; if c { v = e1; } else { v = e2; }`
    fn uninit_let(&mut self, indent: usize, out: &mut Code) {
        let name = self.name("u");
        let c = self.condition(1);
        let (l, r) = (self.expr(2), self.expr(2));
        let (l, r) = (self.loop_safe(l), self.loop_safe(r));
        out.line(
            indent,
            &format!("let {name}: f64;"),
            &format!("let {name}: D;"),
        );
        out.line(indent, &format!("if {} {{", c.f), &format!("if {} {{", c.d));
        out.line(
            indent + 1,
            &format!("{name} = {};", l.f),
            &format!("{name} = {};", l.d),
        );
        out.same(indent, "} else {");
        out.line(
            indent + 1,
            &format!("{name} = {};", r.f),
            &format!("{name} = {};", r.d),
        );
        out.same(indent, "}");
        self.declare(Var {
            name,
            bound: l.bound.max(r.bound),
            mutable: false,
        });
    }

    /// `while let Some(j) = stack.pop() { .. }` over inactive integers.
    fn while_let(&mut self, indent: usize, out: &mut Code) {
        let stack = self.name("st");
        let j = self.name("j");
        let n = 1 + self.rng.below(3);
        let items: Vec<String> = (0..n).map(|_| self.rng.below(LEN).to_string()).collect();
        out.same(
            indent,
            &format!("let mut {stack}: Vec<usize> = vec![{}];", items.join(", ")),
        );
        out.same(indent, &format!("while let Some({j}) = {stack}.pop() {{"));
        self.ints.push(vec![(j, LEN)]);
        // `continue` is safe: every iteration pops.
        self.loop_body(indent + 1, None, LoopKind::Counted, out);
        self.ints.pop();
        out.same(indent, "}");
    }

    /// Inside a loop a value may be assigned again from itself on every
    /// iteration: keep it squashed.
    fn loop_safe(&mut self, e: Ex) -> Ex {
        if self.loop_depth > 0 && e.bound > 2.0 {
            self.squash_hard(e)
        } else {
            e
        }
    }

    fn let_stmt(&mut self, indent: usize, out: &mut Code) {
        let e = self.expr(3);
        let e = self.loop_safe(e);
        let vars = self.vars();
        let vars: Vec<Var> = vars
            .into_iter()
            .filter(|v| !self.must_use.contains(&v.name))
            .collect();
        let name = if self.flags.shadowing && !vars.is_empty() && self.rng.chance(0.2) {
            self.rng.pick(&vars).name.clone()
        } else {
            self.name("v")
        };
        let mutable = self.rng.chance(0.5);
        let m = if mutable { "mut " } else { "" };
        let e = if e.untyped && !self.flags.annotated_literal_let {
            Ex {
                f: e.recv(),
                untyped: false,
                ..e
            }
        } else {
            e
        };
        let ty = if e.untyped || self.rng.chance(0.2) {
            ": f64"
        } else {
            ""
        };
        let dty = if ty.is_empty() { "" } else { ": D" };
        out.line(
            indent,
            &format!("let {m}{name}{ty} = {};", e.f),
            &format!("let {m}{name}{dty} = {};", e.d),
        );
        self.declare(Var {
            name,
            bound: e.bound,
            mutable,
        });
    }

    fn tuple_stmt(&mut self, indent: usize, out: &mut Code) {
        let pairs: Vec<Helper> = self
            .helpers
            .iter()
            .filter(|h| matches!(h, Helper::Pair { .. }))
            .cloned()
            .collect();
        let dead_ok = self.flags.tuple_dead_element;
        if !dead_ok && self.scopes.len() != self.top {
            return self.let_stmt(indent, out);
        }
        let (p, q) = (self.name("t"), self.name("t"));
        let (mp, mq) = if dead_ok {
            (self.rng.chance(0.3), self.rng.chance(0.3))
        } else {
            (false, false)
        };
        if !dead_ok {
            self.must_use.push(p.clone());
            self.must_use.push(q.clone());
        }
        let pat = |m: bool, n: &str| if m { format!("mut {n}") } else { n.to_string() };
        let pattern = format!("({}, {})", pat(mp, &p), pat(mq, &q));
        if self.flags.calls && !pairs.is_empty() && self.rng.chance(0.5) {
            let Helper::Pair { name } = self.rng.pick(&pairs).clone() else {
                unreachable!()
            };
            let x = self.expr(2);
            let x = self.squash_hard_if(x, 2.0);
            out.line(
                indent,
                &format!("let {pattern} = {name}({});", x.f),
                &format!("let {pattern} = {name}_dual({});", x.d),
            );
            for (n, m) in [(p, mp), (q, mq)] {
                self.declare(Var {
                    name: n,
                    bound: BMAX,
                    mutable: m,
                });
            }
        } else {
            let mut l = self.expr(2);
            let r = self.expr(2);
            if self.rng.chance(0.3) {
                l = self.leaf_active().unwrap_or(l);
            }
            let ty = if l.untyped || r.untyped {
                ": (f64, f64)"
            } else {
                ""
            };
            let dty = if ty.is_empty() { "" } else { ": (D, D)" };
            out.line(
                indent,
                &format!("let {pattern}{ty} = ({}, {});", l.f, r.f),
                &format!("let {pattern}{dty} = ({}, {});", l.d, r.d),
            );
            self.declare(Var {
                name: p,
                bound: l.bound,
                mutable: mp,
            });
            self.declare(Var {
                name: q,
                bound: r.bound,
                mutable: mq,
            });
        }
    }

    /// A variable or slice element (something that may carry a gradient).
    fn leaf_active(&mut self) -> Option<Ex> {
        let vars = self.vars();
        if !vars.is_empty() && (self.slice.is_none() || self.rng.chance(0.6)) {
            let v = self.rng.pick(&vars).clone();
            return Some(Ex::same(v.name, v.bound, false));
        }
        let s = self.slice.clone()?;
        let i = self.index();
        Some(Ex::same(format!("{s}[{i}]"), 1.5, false))
    }

    fn if_stmt(&mut self, indent: usize, out: &mut Code) {
        let c = self.condition(2);
        out.line(indent, &format!("if {} {{", c.f), &format!("if {} {{", c.d));
        let n = 1 + self.rng.below(3);
        self.branch(indent + 1, n, out);
        match self.rng.below(3) {
            0 => out.same(indent, "}"),
            1 => {
                out.same(indent, "} else {");
                let n = 1 + self.rng.below(3);
                self.branch(indent + 1, n, out);
                out.same(indent, "}");
            }
            _ => {
                let c2 = self.condition(1);
                out.line(
                    indent,
                    &format!("}} else if {} {{", c2.f),
                    &format!("}} else if {} {{", c2.d),
                );
                let n = 1 + self.rng.below(2);
                self.branch(indent + 1, n, out);
                out.same(indent, "} else {");
                let n = 1 + self.rng.below(2);
                self.branch(indent + 1, n, out);
                out.same(indent, "}");
            }
        }
    }

    /// A branch body: bounds of values assigned in it may differ after the
    /// branch; take the larger of before and after.
    fn branch(&mut self, indent: usize, n: usize, out: &mut Code) {
        let before = self.vars();
        self.block(indent, n, out);
        for v in before {
            let now = self
                .vars()
                .into_iter()
                .find(|w| w.name == v.name)
                .map(|w| w.bound)
                .unwrap_or(v.bound);
            self.set_bound(&v.name, now.max(v.bound));
        }
    }

    fn match_stmt(&mut self, indent: usize, out: &mut Code) {
        let ints = self.int_vars();
        let (i, _) = self.rng.pick(&ints).clone();
        let arms = 2 + self.rng.below(2);
        out.same(indent, &format!("match {i} % {arms} {{"));
        for k in 0..arms {
            let head = if k + 1 == arms {
                "_".to_string()
            } else {
                k.to_string()
            };
            out.same(indent + 1, &format!("{head} => {{"));
            let n = 1 + self.rng.below(2);
            self.branch(indent + 2, n, out);
            out.same(indent + 1, "}");
        }
        out.same(indent, "}");
    }

    fn label(&mut self) -> Option<String> {
        (self.flags.labels && self.rng.chance(0.3)).then(|| self.name("'l"))
    }

    fn loop_body(&mut self, indent: usize, label: Option<String>, kind: LoopKind, out: &mut Code) {
        // Every value assigned in the loop may be assigned again: before the
        // body, assume the worst bound for the mutable ones.
        for v in self.vars().into_iter().filter(|v| v.mutable) {
            self.set_bound(&v.name, BMAX);
        }
        self.loops.push(LoopCtx { label, kind });
        self.loop_depth += 1;
        let n = 1 + self.rng.below(4);
        self.branch(indent, n, out);
        self.loop_depth -= 1;
        self.loops.pop();
    }

    fn for_stmt(&mut self, indent: usize, out: &mut Code) {
        let i = self.name("i");
        let label = self.label();
        let lab = label.as_ref().map(|l| format!("{l}: ")).unwrap_or_default();
        let lo = self.rng.below(2);
        let hi = lo + 1 + self.rng.below(3);
        let (range, top) = match self.rng.below(4) {
            0 => (format!("{lo}..={hi}"), hi + 1),
            1 => (format!("({lo}..{hi}).rev()"), hi),
            2 if !self.int_vars().is_empty() => {
                // Inner bound from an outer counter: a triangular loop.
                let (j, jhi) = self.rng.pick(&self.int_vars()).clone();
                (format!("{lo}..({j} + {})", 1 + self.rng.below(2)), jhi + 3)
            }
            _ => (format!("{lo}..{hi}"), hi),
        };
        out.same(indent, &format!("{lab}for {i} in {range} {{"));
        self.ints.push(vec![(i, top)]);
        self.loop_body(indent + 1, label, LoopKind::For, out);
        self.ints.pop();
        out.same(indent, "}");
    }

    fn while_stmt(&mut self, indent: usize, out: &mut Code) {
        let k = self.name("k");
        let n = 1 + self.rng.below(4);
        let label = self.label();
        let lab = label.as_ref().map(|l| format!("{l}: ")).unwrap_or_default();
        let c = self.condition(1);
        out.same(indent, &format!("let mut {k} = 0;"));
        out.line(
            indent,
            &format!("{lab}while {k} < {n} && {} {{", c.f),
            &format!("{lab}while {k} < {n} && {} {{", c.d),
        );
        out.same(indent + 1, &format!("{k} += 1;"));
        self.ints.push(vec![(k, n + 1)]);
        self.loop_body(indent + 1, label, LoopKind::Counted, out);
        self.ints.pop();
        out.same(indent, "}");
    }

    fn loop_stmt(&mut self, indent: usize, out: &mut Code) {
        let k = self.name("k");
        let n = 1 + self.rng.below(4);
        let label = self.label();
        let lab = label.as_ref().map(|l| format!("{l}: ")).unwrap_or_default();
        out.same(indent, &format!("let mut {k} = 0;"));
        out.same(indent, &format!("{lab}loop {{"));
        out.same(indent + 1, &format!("{k} += 1;"));
        out.same(indent + 1, &format!("if {k} > {n} {{"));
        out.same(indent + 2, "break;");
        out.same(indent + 1, "}");
        self.ints.push(vec![(k, n + 1)]);
        self.loop_body(indent + 1, label, LoopKind::Counted, out);
        self.ints.pop();
        out.same(indent, "}");
    }

    /// `if cond { break/continue [label]; }` — every loop's counter is
    /// incremented before its body, so `continue` always makes progress.
    fn exit_stmt(&mut self, indent: usize, out: &mut Code) {
        let which = self.rng.below(self.loops.len());
        let target = &self.loops[self.loops.len() - 1 - which];
        let kw = if self.rng.chance(0.5) {
            "break"
        } else {
            "continue"
        };
        let exit = match (&target.label, which) {
            (_, 0) if self.rng.chance(0.5) => kw.to_string(),
            (Some(l), _) => format!("{kw} {l}"),
            // An outer loop without a label: exit the innermost instead.
            (None, _) => kw.to_string(),
        };
        let c = self.condition(1);
        if self.flags.exit_in_condition && self.rng.chance(0.3) {
            // issue 7, item 5: the exit inside the condition of an `if`.
            let c2 = self.condition(1);
            out.line(
                indent,
                &format!("if {{ if {} {{ {exit}; }} {} }} {{", c.f, c2.f),
                &format!("if {{ if {} {{ {exit}; }} {} }} {{", c.d, c2.d),
            );
            let n = 1 + self.rng.below(2);
            self.branch(indent + 1, n, out);
            out.same(indent, "}");
            return;
        }
        out.line(indent, &format!("if {} {{", c.f), &format!("if {} {{", c.d));
        out.same(indent + 1, &format!("{exit};"));
        out.same(indent, "}");
    }

    /// `match e { v => .. }` / `if let v = e { .. }` binding an active value (issue 7, item 2).
    fn binding_stmt(&mut self, indent: usize, out: &mut Code) {
        let e = self.expr(2);
        let e = self.loop_safe(e);
        let v = self.name("b");
        let r = self.name("v");
        let body = self.expr(1);
        let (bf, bd) = (format!("{v} * {}", body.f), format!("{v} * {}", body.d));
        if self.rng.chance(0.5) {
            out.line(
                indent,
                &format!("let {r}: f64 = match {} {{ {v} => {bf} }};", e.f),
                &format!("let {r}: D = match {} {{ {v} => {bd} }};", e.d),
            );
        } else {
            out.line(
                indent,
                &format!("#[allow(irrefutable_let_patterns)] let {r}: f64 = if let {v} = {} {{ {bf} }} else {{ 0.0 }};", e.f),
                &format!("#[allow(irrefutable_let_patterns)] let {r}: D = if let {v} = {} {{ {bd} }} else {{ c(0.0) }};", e.d),
            );
        }
        let bound = e.bound * body.bound;
        self.declare(Var {
            name: r,
            bound,
            mutable: false,
        });
    }

    /// `if { v = ..; cond } { .. }` and `cond && { v = ..; true }` (issue 7, item 4).
    fn assign_in_condition(&mut self, indent: usize, out: &mut Code) {
        let mutable: Vec<Var> = self.vars().into_iter().filter(|v| v.mutable).collect();
        let v = self.rng.pick(&mutable).clone();
        let e = self.expr(2);
        let e = self.squash_hard_if(e, 2.0);
        let c = self.condition(1);
        if self.rng.chance(0.5) {
            out.line(
                indent,
                &format!("if {{ {} = {}; {} }} {{", v.name, e.f, c.f),
                &format!("if {{ {} = {}; {} }} {{", v.name, e.d, c.d),
            );
        } else {
            out.line(
                indent,
                &format!("if {} && {{ {} = {}; true }} {{", c.f, v.name, e.f),
                &format!("if {} && {{ {} = {}; true }} {{", c.d, v.name, e.d),
            );
        }
        self.set_bound(&v.name, e.bound.max(v.bound));
        let n = 1 + self.rng.below(2);
        self.branch(indent + 1, n, out);
        out.same(indent, "}");
    }

    /// `for v in xs.iter() { s = s + f(v) }` over the active slice (issue 7, item 1).
    fn slice_iteration(&mut self, indent: usize, out: &mut Code) {
        let mutable: Vec<Var> = self.vars().into_iter().filter(|v| v.mutable).collect();
        let acc = self.rng.pick(&mutable).clone();
        let s = self.slice.clone().expect("checked");
        let v = self.name("e");
        let (head_f, head_d) = match self.rng.below(3) {
            0 => (format!("for &{v} in {s}"), format!("for &{v} in {s}")),
            1 => (
                format!("for {v} in {s}.iter().copied()"),
                format!("for {v} in {s}.iter().copied()"),
            ),
            _ => (
                format!("for {v} in {s}.iter()"),
                format!("for {v} in {s}.iter()"),
            ),
        };
        let deref = if head_f.contains(".iter()") && !head_f.contains("copied") {
            "*"
        } else {
            ""
        };
        out.line(indent, &format!("{head_f} {{"), &format!("{head_d} {{"));
        out.line(
            indent + 1,
            &format!("{0} = ({0} + {deref}{v} * {deref}{v}).tanh();", acc.name),
            &format!("{0} = ({0} + {deref}{v} * {deref}{v}).tanh();", acc.name),
        );
        out.same(indent, "}");
        self.set_bound(&acc.name, 1.0);
    }

    /// The function's result: a sum of some values in scope.
    fn tail(&mut self) -> Ex {
        let vars = self.vars();
        let mut f = String::new();
        let mut d = String::new();
        let picks = 1 + self.rng.below(4);
        let mut bound = 0.0;
        for k in 0..picks {
            let e = if vars.is_empty() || self.rng.chance(0.2) {
                self.expr(2)
            } else {
                // Mostly the latest values (vars() lists the innermost first).
                let i = if self.rng.chance(0.6) {
                    self.rng.below(vars.len().min(3))
                } else {
                    self.rng.below(vars.len())
                };
                let v = vars[i].clone();
                Ex::same(v.name, v.bound, false)
            };
            if k > 0 {
                f.push_str(" + ");
                d.push_str(" + ");
            }
            f.push_str(&e.f);
            d.push_str(&e.d);
            bound += e.bound;
        }
        for name in std::mem::take(&mut self.must_use) {
            let _ = write!(f, " + {name}");
            let _ = write!(d, " + {name}");
            bound += BMAX;
        }
        Ex {
            f,
            d,
            bound,
            constant: false,
            untyped: false,
        }
    }
}

/// A literal that reads back as the same f64, parenthesized if negative.
fn lit(v: f64) -> String {
    let s = format!("{v:?}");
    if v < 0.0 { format!("({s})") } else { s }
}

/// One generated program: the source of its module (both renderings, the
/// inputs) and what a report shows.
pub struct Program {
    pub seed: u64,
    pub module: String,
}

/// Generates the program of `seed` as the body of a module `name`.
pub fn generate(seed: u64, flags: &Flags) -> Program {
    let mut rng = Rng::new(seed);
    let mut module = String::new();
    let _ = writeln!(module, "// program seed {seed:#018x}");
    let _ = writeln!(module, "use super::*;\n");
    // Inputs in [-1.5, 1.5], away from 0.
    let input = |rng: &mut Rng| {
        let v = rng.unit() * 1.4 + 0.1;
        let v = (v * 1e6).round() / 1e6;
        if rng.chance(0.5) { -v } else { v }
    };
    let a = input(&mut rng);
    let b = input(&mut rng);
    let xs: Vec<f64> = (0..LEN).map(|_| input(&mut rng)).collect();
    let _ = writeln!(module, "pub const A: f64 = {a:?};");
    let _ = writeln!(module, "pub const B: f64 = {b:?};");
    let _ = writeln!(
        module,
        "pub const XS: [f64; {LEN}] = [{}];",
        xs.iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // More points, where the program may take other paths (drawn apart, so
    // that the program of a seed stays the same).
    let mut points = Rng::new(seed ^ 0x5151_5151_5151_5151);
    let more: Vec<String> = (0..MORE_POINTS)
        .map(|_| {
            let a = input(&mut points);
            let b = input(&mut points);
            let xs: Vec<String> = (0..LEN)
                .map(|_| format!("{:?}", input(&mut points)))
                .collect();
            format!("({a:?}, {b:?}, [{}])", xs.join(", "))
        })
        .collect();
    let _ = writeln!(
        module,
        "pub const MORE: [(f64, f64, [f64; {LEN}]); {MORE_POINTS}] = [{}];\n",
        more.join(", ")
    );

    let mut helpers: Vec<Helper> = Vec::new();
    let mut fresh = 0;
    if flags.calls {
        let count = rng.below(4);
        for k in 0..count {
            let name = format!("h{k}");
            let helper = match rng.below(3) {
                0 => Helper::Scalar2 { name: name.clone() },
                1 if flags.tuples => Helper::Pair { name: name.clone() },
                2 if flags.slices => Helper::Slice { name: name.clone() },
                _ => Helper::Scalar2 { name: name.clone() },
            };
            let (params_f, params_d, vars, slice, ret_f, ret_d) = match &helper {
                Helper::Scalar2 { .. } => (
                    "p: f64, q: f64".to_string(),
                    "p: D, q: D".to_string(),
                    vec!["p", "q"],
                    None,
                    "f64",
                    "D",
                ),
                Helper::Pair { .. } => (
                    "p: f64".to_string(),
                    "p: D".to_string(),
                    vec!["p"],
                    None,
                    "(f64, f64)",
                    "(D, D)",
                ),
                Helper::Slice { .. } => (
                    "v: &[f64], p: f64".to_string(),
                    "v: &[D], p: D".to_string(),
                    vec!["p"],
                    Some("v".to_string()),
                    "f64",
                    "D",
                ),
            };
            let mp = flags.mut_params && rng.chance(0.3);
            let (params_f, params_d) = if mp {
                (
                    params_f.replacen("p: f64", "mut p: f64", 1),
                    params_d.replacen("p: D", "mut p: D", 1),
                )
            } else {
                (params_f, params_d)
            };
            let mut g = Gen {
                rng: Rng::new(rng.next_u64()),
                flags,
                scopes: vec![
                    vars.iter()
                        .map(|n| Var {
                            name: n.to_string(),
                            bound: 2.0,
                            mutable: mp && *n == "p",
                        })
                        .collect(),
                ],
                ints: vec![Vec::new()],
                loops: Vec::new(),
                slice,
                helpers: helpers.clone(),
                fresh,
                budget: (2 + rng.below(5) as i32) * flags.size as i32,
                // A `return` in a pair helper would need a pair.
                can_return: !matches!(helper, Helper::Pair { .. }),
                loop_depth: 0,
                must_use: Vec::new(),
                top: 2,
            };
            let n = g.budget as usize;
            let mut code = Code::default();
            g.scopes.push(Vec::new());
            for _ in 0..n {
                if g.budget <= 0 {
                    break;
                }
                g.stmt(1, &mut code);
            }
            let (tf, td) = match &helper {
                Helper::Pair { .. } => {
                    let (x, y) = (g.tail(), g.tail());
                    let (x, y) = (g.squash_hard_if(x, BMAX), g.squash_hard_if(y, BMAX));
                    (format!("({}, {})", x.f, y.f), format!("({}, {})", x.d, y.d))
                }
                _ => {
                    let x = g.tail();
                    let x = g.squash_hard_if(x, BMAX);
                    (x.f, x.d)
                }
            };
            fresh = g.fresh;
            let _ = writeln!(
                module,
                "#[differentiable]\npub fn {name}({params_f}) -> {ret_f} {{\n{}    {tf}\n}}\n",
                code.f
            );
            let _ = writeln!(
                module,
                "pub fn {name}_dual({params_d}) -> {ret_d} {{\n{}    {td}\n}}\n",
                code.d
            );
            helpers.push(helper);
        }
    }

    let (ma, mb) = (
        flags.mut_params && rng.chance(0.3),
        flags.mut_params && rng.chance(0.3),
    );
    let mut g = Gen {
        rng: Rng::new(rng.next_u64()),
        flags,
        scopes: vec![vec![
            Var {
                name: "a".into(),
                bound: 1.5,
                mutable: ma,
            },
            Var {
                name: "b".into(),
                bound: 1.5,
                mutable: mb,
            },
        ]],
        ints: vec![Vec::new()],
        loops: Vec::new(),
        slice: flags.slices.then(|| "xs".to_string()),
        helpers,
        fresh,
        budget: (6 + rng.below(14) as i32) * flags.size as i32,
        can_return: true,
        loop_depth: 0,
        must_use: Vec::new(),
        top: 2,
    };
    let mut code = Code::default();
    g.scopes.push(Vec::new());
    while g.budget > 0 {
        g.stmt(1, &mut code);
    }
    let t = g.tail();
    let t = g.squash_hard_if(t, 100.0);
    let m = |on: bool| if on { "mut " } else { "" };
    let (ma, mb) = (m(ma), m(mb));
    let _ = writeln!(
        module,
        "#[differentiable]\npub fn f({ma}a: f64, {mb}b: f64, xs: &[f64]) -> f64 {{\n{}    {}\n}}\n",
        code.f, t.f
    );
    let _ = writeln!(
        module,
        "pub fn f_dual({ma}a: D, {mb}b: D, xs: &[D]) -> D {{\n{}    {}\n}}",
        code.d, t.d
    );
    Program { seed, module }
}
