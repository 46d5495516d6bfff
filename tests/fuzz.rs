//! Differential fuzzer (issue 7): seeded random `#[differentiable]` programs
//! over the supported constructs, each gradient compared with an independent
//! oracle — forward-mode dual numbers along the same control path — to 1e-10
//! relative.
//!
//! The generator (`fuzz/generator.rs`) writes every program twice, over
//! `f64` under `#[differentiable]` and over the dual numbers of
//! `fuzz/dual.rs`. The test writes them into a temporary cargo workspace
//! under this workspace's target directory (a path dependency on the facade
//! package `autodiff`; its own target directory, shared across runs so that
//! the dependencies build once), builds it with cargo, runs it, and reads one
//! verdict per program. For each program it checks that
//!
//! - the generated code compiles (a program that does not is a failure, the
//!   rest of the batch is built without it);
//! - `f::value_and_grad` neither panics nor differs from the primal's value;
//! - every partial derivative equals the dual number's, to 1e-10 relative
//!   (with an absolute floor of 1e-10 times the largest value the program
//!   computes: rounding of sums that cancel).
//!
//! A program whose values grow past 1e6 is skipped (the generator keeps
//! values bounded; the test asserts that skips stay rare).
//!
//! Environment:
//! - `AUTODIFF_FUZZ_SEED` — the run's seed (default: fixed, so CI is reproducible);
//! - `AUTODIFF_FUZZ_COUNT` — programs (default 320 for the CI test, 4000 for
//!   the ignored one);
//! - `AUTODIFF_FUZZ_CRATES` — crates they are spread over (built in parallel; default 2);
//! - `AUTODIFF_FUZZ_FLAGS` — `+name,-name` generator switches (`fuzz/generator.rs`,
//!   `Flags`); the constructs known to be wrong today are off by default,
//!   `+all_known_bad` turns them all on;
//! - `AUTODIFF_FUZZ_SIZE` — scales the length of the programs (default 1);
//! - `AUTODIFF_FUZZ_PROGRAM` — the seed of one program (printed by a failure):
//!   generate and check that program alone.
//!
//! ```sh
//! cargo test --test fuzz -- --nocapture                      # the CI run
//! cargo test --release --test fuzz -- --ignored --nocapture  # thousands
//! AUTODIFF_FUZZ_PROGRAM=0x1234abcd cargo test --test fuzz -- --nocapture
//! ```

#[path = "fuzz/generator.rs"]
mod generator;

use generator::{Flags, Program, generate, program_seed};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x00AD_F022_2026_0007;

const DUAL: &str = include_str!("fuzz/dual.rs");

/// What the generated crate's `main` does for each program.
const HARNESS: &str = r#"
type Verdict = Result<Option<String>, String>;

/// Checks a program at (a, b, xs) and at the points of `more`: right where
/// it is not skipped, and not skipped everywhere.
fn check(
    primal: &dyn Fn(f64, f64, &[f64]) -> f64,
    value_and_grad: &dyn Fn(f64, f64, &[f64]) -> (f64, (f64, f64, Vec<f64>)),
    pullback_twice: &dyn Fn(f64, f64, &[f64], f64) -> [(f64, f64, Vec<f64>); 2],
    dual: &dyn Fn(D, D, &[D]) -> D,
    a: f64,
    b: f64,
    xs: &[f64],
    more: &[(f64, f64, [f64; 3])],
) -> Verdict {
    let mut points = vec![(a, b, xs.to_vec())];
    points.extend(more.iter().map(|(a, b, xs)| (*a, *b, xs.to_vec())));
    let mut skipped = Vec::new();
    let mut nonzero = 0;
    for (k, (a, b, xs)) in points.iter().enumerate() {
        match check_at(primal, value_and_grad, pullback_twice, dual, *a, *b, xs) {
            Ok(None) => nonzero += NONZERO.with(|c| c.get()),
            Ok(Some(why)) => skipped.push(why),
            Err(what) => return Err(format!("at point {k} (a = {a:?}, b = {b:?}, xs = {xs:?}): {what}")),
        }
    }
    if skipped.len() == points.len() {
        return Ok(Some(skipped.join("; ")));
    }
    NONZERO.with(|c| c.set(nonzero));
    Ok(None)
}

/// `Ok(None)`: right (how many partial derivatives are not zero is left in
/// `NONZERO`); `Ok(Some(why))`: skipped; `Err(what)`: wrong.
fn check_at(
    primal: &dyn Fn(f64, f64, &[f64]) -> f64,
    value_and_grad: &dyn Fn(f64, f64, &[f64]) -> (f64, (f64, f64, Vec<f64>)),
    pullback_twice: &dyn Fn(f64, f64, &[f64], f64) -> [(f64, f64, Vec<f64>); 2],
    dual: &dyn Fn(D, D, &[D]) -> D,
    a: f64,
    b: f64,
    xs: &[f64],
) -> Verdict {
    let p = primal(a, b, xs);
    let n = 2 + xs.len();
    dual::reset_magnitude();
    let mut forward = Vec::new();
    let mut dual_value = 0.0;
    for k in 0..n {
        let t = |j: usize| if j == k { 1.0 } else { 0.0 };
        let dxs: Vec<D> = xs.iter().enumerate().map(|(j, v)| dual::input(*v, t(j + 2))).collect();
        let y = dual(dual::input(a, t(0)), dual::input(b, t(1)), &dxs);
        forward.push(y.d);
        dual_value = y.v;
    }
    let magnitude = dual::magnitude().max(p.abs());
    if !(magnitude <= 1e6) || forward.iter().any(|d| !d.is_finite()) {
        return Ok(Some(format!("values reach {magnitude:e}")));
    }
    if p.to_bits() != dual_value.to_bits() {
        return Err(format!("ORACLE: the dual program computes {dual_value:?}, the primal {p:?}"));
    }
    let (value, (ga, gb, gxs)) = value_and_grad(a, b, xs);
    if value.to_bits() != p.to_bits() {
        return Err(format!("value_and_grad gives the value {value:?}, the primal {p:?}"));
    }
    let mut reverse = vec![ga, gb];
    reverse.extend(gxs);
    if reverse.len() != n {
        return Err(format!("{} partial derivatives for {n} inputs", reverse.len()));
    }
    let names = ["a", "b", "xs[0]", "xs[1]", "xs[2]", "xs[3]", "xs[4]"];
    let mut wrong = Vec::new();
    for k in 0..n {
        let (r, f) = (reverse[k], forward[k]);
        let tol = 1e-10 * r.abs().max(f.abs()).max(magnitude).max(1.0);
        if !((r - f).abs() <= tol) {
            wrong.push(format!("d/d{} = {r:?}, forward mode {f:?}", names[k]));
        }
    }
    // The pullback is linear in the cotangent, and a retained one gives the
    // same gradient on every call.
    let [first, second] = pullback_twice(a, b, xs, -0.5);
    if first != second {
        wrong.push(format!("vjp_retained gives {first:?}, then {second:?}"));
    }
    let mut scaled = vec![first.0, first.1];
    scaled.extend(first.2);
    for k in 0..n {
        let (s, r) = (scaled[k], -0.5 * reverse[k]);
        if !((s - r).abs() <= 1e-12 * s.abs().max(r.abs()).max(1e-300)) {
            wrong.push(format!("the pullback of -0.5 gives d/d{} = {s:?}, -0.5 × grad = {r:?}", names[k]));
        }
    }
    if wrong.is_empty() {
        NONZERO.with(|c| c.set(reverse.iter().filter(|g| **g != 0.0).count()));
        Ok(None)
    } else {
        Err(wrong.join("; "))
    }
}

thread_local! {
    static NONZERO: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    for (name, run) in PROGRAMS {
        let verdict = match std::panic::catch_unwind(*run) {
            Ok(v) => v,
            Err(payload) => Err(format!(
                "PANIC: {}",
                payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
            )),
        };
        match verdict {
            Ok(None) => println!("@@ {name} ok {}", NONZERO.with(|c| c.get())),
            Ok(Some(why)) => println!("@@ {name} skip {why}"),
            Err(what) => println!("@@ {name} FAIL {}", what.replace('\n', " ")),
        }
    }
}
"#;

fn env_u64(name: &str) -> Option<u64> {
    let s = std::env::var(name).ok()?;
    let s = s.trim();
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={s}: {e}")))
}

fn flags() -> Flags {
    let mut flags = Flags::default();
    if let Some(size) = env_u64("AUTODIFF_FUZZ_SIZE") {
        flags.size = size.max(1) as u32;
    }
    if let Ok(spec) = std::env::var("AUTODIFF_FUZZ_FLAGS") {
        flags
            .apply(&spec)
            .unwrap_or_else(|e| panic!("AUTODIFF_FUZZ_FLAGS: {e}"));
    }
    flags
}

/// The outcome of one program.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    /// Right, with how many partial derivatives are not zero.
    Ok(usize),
    Skip(String),
    /// Its generated code does not compile.
    CompileError(String),
    /// Wrong value or gradient, or a panic.
    Fail(String),
}

struct Report {
    verdicts: BTreeMap<u64, Verdict>,
    sources: BTreeMap<u64, String>,
    build: Duration,
    run: Duration,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("autodiff-fuzz")
}

/// Writes `programs` as `crates` member crates of a workspace in `dir`.
fn write_workspace(dir: &Path, crates: usize, programs: &[Program]) -> Vec<Vec<u64>> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the fuzz workspace");
    let autodiff = root();
    let members: Vec<String> = (0..crates).map(|c| format!("\"c{c}\"")).collect();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[workspace]\nmembers = [{}]\nresolver = \"3\"\n\n\
             [workspace.dependencies]\nautodiff = {{ path = {:?} }}\n\n\
             # Compile fast: the programs run in microseconds.\n\
             [profile.dev]\ndebug = 0\nincremental = false\n\n\
             [profile.dev.package.\"*\"]\ndebug = 0\n",
            members.join(", "),
            autodiff.display().to_string()
        ),
    )
    .expect("write Cargo.toml");
    // The workspace's own lock: the same dependency versions, no resolution.
    let _ = std::fs::copy(autodiff.join("Cargo.lock"), dir.join("Cargo.lock"));
    let mut layout = vec![Vec::new(); crates];
    for (k, p) in programs.iter().enumerate() {
        layout[k % crates].push(p.seed);
    }
    for (c, seeds) in layout.iter().enumerate() {
        let src = dir.join(format!("c{c}")).join("src");
        std::fs::create_dir_all(&src).expect("create a crate");
        std::fs::write(
            dir.join(format!("c{c}/Cargo.toml")),
            format!(
                "[package]\nname = \"c{c}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nautodiff.workspace = true\n"
            ),
        )
        .expect("write a crate's Cargo.toml");
        std::fs::write(src.join("dual.rs"), DUAL).expect("write dual.rs");
        let mut main = String::from(
            "#![allow(unused, unused_parens, unused_braces, unused_mut, unused_variables, unused_assignments, \
             unreachable_code, irrefutable_let_patterns, non_snake_case, clippy::all)]\n\
             use autodiff::differentiable;\nuse autodiff::prelude::*;\nmod dual;\nuse dual::{D, c, sg};\n\n",
        );
        for seed in seeds {
            let _ = writeln!(main, "mod p{seed:016x};");
        }
        main.push_str("\nconst PROGRAMS: &[(&str, fn() -> Verdict)] = &[\n");
        for seed in seeds {
            let m = format!("p{seed:016x}");
            let _ = writeln!(
                main,
                "    (\"{m}\", || check(&|a, b, xs| {m}::f(a, b, xs), &|a, b, xs| {m}::f::value_and_grad(a, b, xs), &|a, b, xs, ct| {{ let (_, pb) = {m}::f::vjp_retained(a, b, xs); [pb(ct), pb(ct)] }}, &{m}::f_dual, {m}::A, {m}::B, &{m}::XS, &{m}::MORE)),"
            );
        }
        main.push_str("];\n");
        main.push_str(HARNESS);
        std::fs::write(src.join("main.rs"), main).expect("write main.rs");
        for p in programs.iter().filter(|p| seeds.contains(&p.seed)) {
            std::fs::write(src.join(format!("p{:016x}.rs", p.seed)), &p.module)
                .expect("write a program");
        }
    }
    layout
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.env("CARGO_TARGET_DIR", work_dir().join("target"));
    cmd
}

/// Builds the workspace; on errors, returns the programs they point into
/// (with the first message of each) — or panics if the harness itself fails.
fn build(dir: &Path) -> Result<(), BTreeMap<u64, String>> {
    let out = cargo()
        .current_dir(dir)
        .args(["build", "--workspace", "--message-format=short"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run cargo");
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut broken = BTreeMap::new();
    for line in stderr.lines() {
        // c0/src/p0123456789abcdef.rs:12:5: error[E0283]: type annotations needed
        let Some(pos) = line.find("/src/p") else {
            continue;
        };
        if !line.contains(": error") {
            continue;
        }
        let hex = &line[pos + 6..];
        let Some(seed) = hex.get(..16).and_then(|h| u64::from_str_radix(h, 16).ok()) else {
            continue;
        };
        broken.entry(seed).or_insert_with(|| line.to_string());
    }
    if broken.is_empty() {
        panic!(
            "the fuzz workspace in {} does not build:\n{stderr}",
            dir.display()
        );
    }
    Err(broken)
}

/// Runs a crate's binary, with a deadline.
fn run_binary(exe: &Path) -> String {
    let mut child = Command::new(exe)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reader.join().expect("read stdout")
}

/// Generates, builds and runs `programs` in the workspace `dir`.
fn check_programs(dir: &Path, crates: usize, programs: Vec<Program>) -> Report {
    let sources: BTreeMap<u64, String> = programs
        .iter()
        .map(|p| (p.seed, p.module.clone()))
        .collect();
    let mut verdicts = BTreeMap::new();
    let mut remaining = programs;
    let start = Instant::now();
    let layout = loop {
        let layout = write_workspace(dir, crates, &remaining);
        match build(dir) {
            Ok(()) => break layout,
            Err(broken) => {
                for (seed, message) in &broken {
                    verdicts.insert(*seed, Verdict::CompileError(message.clone()));
                }
                remaining.retain(|p| !broken.contains_key(&p.seed));
            }
        }
    };
    let build_time = start.elapsed();
    let start = Instant::now();
    for (c, seeds) in layout.iter().enumerate() {
        if seeds.is_empty() {
            continue;
        }
        let exe = work_dir()
            .join("target")
            .join("debug")
            .join(format!("c{c}"));
        let output = run_binary(&exe);
        for line in output.lines() {
            let Some(rest) = line.strip_prefix("@@ p") else {
                continue;
            };
            let (hex, verdict) = rest.split_at(16);
            let seed = u64::from_str_radix(hex, 16).expect("a program name");
            let verdict = verdict.trim_start();
            let v = if let Some(nonzero) = verdict.strip_prefix("ok ") {
                Verdict::Ok(nonzero.trim().parse().unwrap_or(0))
            } else if let Some(why) = verdict.strip_prefix("skip ") {
                Verdict::Skip(why.to_string())
            } else {
                Verdict::Fail(verdict.trim_start_matches("FAIL ").to_string())
            };
            verdicts.insert(seed, v);
        }
        for seed in seeds {
            verdicts.entry(*seed).or_insert_with(|| {
                Verdict::Fail("no verdict: the process died or timed out".into())
            });
        }
    }
    Report {
        verdicts,
        sources,
        build: build_time,
        run: start.elapsed(),
    }
}

/// Checks `count` programs of the run `seed`, in batches of `per_batch`;
/// returns the failures, printed with their seeds and sources.
fn fuzz(name: &str, seed: u64, count: usize, per_batch: usize, crates: usize) -> Vec<String> {
    let flags = flags();
    let single = env_u64("AUTODIFF_FUZZ_PROGRAM");
    let seeds: Vec<u64> = match single {
        Some(s) => vec![s],
        None => (0..count).map(|i| program_seed(seed, i)).collect(),
    };
    let mut failures = Vec::new();
    let (mut ok, mut skipped, mut checked, mut trivial) = (0, 0, 0, 0);
    let started = Instant::now();
    for (b, batch) in seeds.chunks(per_batch.max(1)).enumerate() {
        let programs: Vec<Program> = batch.iter().map(|s| generate(*s, &flags)).collect();
        let dir = work_dir().join(format!("{name}-{b}"));
        let report = check_programs(&dir, crates.min(batch.len()).max(1), programs);
        eprintln!(
            "fuzz {name}: batch {b}: {} programs, build {:.1} s, run {:.1} s",
            batch.len(),
            report.build.as_secs_f64(),
            report.run.as_secs_f64()
        );
        for (seed, verdict) in &report.verdicts {
            checked += 1;
            match verdict {
                Verdict::Ok(nonzero) => {
                    ok += 1;
                    trivial += (*nonzero == 0) as usize;
                }
                Verdict::Skip(_) => skipped += 1,
                Verdict::CompileError(what) | Verdict::Fail(what) => {
                    let kind = if matches!(verdict, Verdict::CompileError(_)) {
                        "does not compile"
                    } else {
                        "is wrong"
                    };
                    failures.push(format!(
                        "program {seed:#018x} {kind}: {what}\n(AUTODIFF_FUZZ_PROGRAM={seed:#x} checks it alone; flags {flags:?})\n{}",
                        report.sources[seed]
                    ));
                }
            }
        }
    }
    eprintln!(
        "fuzz {name}: seed {seed:#x}, {checked} programs: {ok} right ({trivial} of them with a zero gradient), {skipped} skipped, {} failed, in {:.1} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        skipped * 10 <= checked.max(1),
        "{skipped} of {checked} programs skipped: the generator lets values grow too much"
    );
    failures
}

#[test]
fn random_programs_agree_with_forward_mode() {
    let seed = env_u64("AUTODIFF_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_u64("AUTODIFF_FUZZ_COUNT").unwrap_or(320) as usize;
    let crates = env_u64("AUTODIFF_FUZZ_CRATES").unwrap_or(2) as usize;
    let failures = fuzz("ci", seed, count, count, crates);
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Thousands of programs, in batches of 500: `cargo test --test fuzz -- --ignored`.
#[test]
#[ignore]
fn many_random_programs_agree_with_forward_mode() {
    let seed = env_u64("AUTODIFF_FUZZ_SEED").unwrap_or(DEFAULT_SEED ^ 0xFFFF);
    let count = env_u64("AUTODIFF_FUZZ_COUNT").unwrap_or(4000) as usize;
    let crates = env_u64("AUTODIFF_FUZZ_CRATES").unwrap_or(2) as usize;
    let failures = fuzz("many", seed, count, 500, crates);
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
