#!/usr/bin/env bash
# Build cost of the workspace and of #[differentiable] itself.
#
#   scripts/build_cost.sh [N_OPS]      (default 500)
#
# Prints:
#   1. the time of a clean release build of the workspace (all dependencies),
#      and of the workspace's own crates once the dependencies are built;
#   2. the time to compile a crate holding one generated function of N_OPS
#      primitive operations (a straight-line scalar function written by this
#      script), beside the same crate without #[differentiable] on it: the
#      difference is what the macro and the code it generates cost.
#
# Everything is built in a fresh temporary target directory, so the shared
# `target/` is left alone; it is removed at the end. Times are wall-clock on
# whatever else the machine is doing: run it twice if the numbers matter.
set -euo pipefail

n_ops="${1:-500}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"

seconds_of() { # seconds_of COMMAND...: runs it quietly, prints its wall time
    local start end
    start=$(date +%s.%N)
    "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }'
}

cd "$root"
echo "build cost on $(nproc) cores, $(rustc --version)"
echo
clean=$(seconds_of cargo build --release --workspace --locked)
echo "clean release build of the workspace (with dependencies): ${clean} s"
own=$(seconds_of bash -c 'cargo clean --release -p autodiff -p autodiff-macros -p autodiff-runtime && cargo build --release --workspace --locked')
echo "release build of the workspace's own crates (dependencies built): ${own} s"

# ---- the fixture: one function of n_ops primitive operations
fixture="$work/fixture"
mkdir -p "$fixture/src"
cp "$root/Cargo.lock" "$fixture/"
cat >"$fixture/Cargo.toml" <<TOML
[package]
name = "build-cost-fixture"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
autodiff = { path = "$root" }

[workspace]
TOML

# A straight-line function of 8 inputs: each statement is one unary op
# (sin, cos, tanh, exp of a scaled value) or one binary op (+, -, *, / by a
# value kept away from zero) on earlier values, chosen by a seeded
# generator, until the function has n_ops operations; the fixture is the
# same on every run.
write_fixture() { # write_fixture ATTRIBUTE
    local attribute="$1" i=8 ops=0 a b
    RANDOM=4242
    {
        echo "use autodiff::differentiable;"
        echo
        echo "$attribute"
        echo "pub fn fixture(x0: f64, x1: f64, x2: f64, x3: f64, x4: f64, x5: f64, x6: f64, x7: f64) -> f64 {"
        for a in 0 1 2 3 4 5 6 7; do echo "    let v$a = x$a;"; done
        while ((ops < n_ops)); do
            a=$((RANDOM % i))
            b=$((i - 1 - RANDOM % 8))
            case $((RANDOM % 8)) in
                0) echo "    let v$i = v$a.sin();"; ops=$((ops + 1)) ;;
                1) echo "    let v$i = v$a.cos();"; ops=$((ops + 1)) ;;
                2) echo "    let v$i = v$a.tanh();"; ops=$((ops + 1)) ;;
                3) echo "    let v$i = (v$a * 0.001).exp();"; ops=$((ops + 2)) ;;
                4) echo "    let v$i = v$a + v$b;"; ops=$((ops + 1)) ;;
                5) echo "    let v$i = v$a - v$b;"; ops=$((ops + 1)) ;;
                6) echo "    let v$i = v$a * v$b;"; ops=$((ops + 1)) ;;
                7) echo "    let v$i = v$a / (v$b * v$b + 1.0);"; ops=$((ops + 3)) ;;
            esac
            i=$((i + 1))
        done
        echo "    v$((i - 1))"
        echo "}"
        echo
        # Used from a public function, so that the code is generated, not
        # only type-checked (an unused private item of a library is not).
        echo "pub fn use_fixture(x: [f64; 8]) -> f64 {"
        if [[ -n "$attribute" ]]; then
            echo "    let (value, gradient) = fixture::value_and_grad(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]);"
            echo "    value + gradient.0 + gradient.7"
        else
            echo "    fixture(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])"
        fi
        echo "}"
    } >"$fixture/src/lib.rs"
    echo "$ops" >"$fixture/ops"
}

cd "$fixture"
write_fixture ""
seconds_of cargo build --release >/dev/null # dependencies, not timed
plain=$(seconds_of cargo build --release)
touch src/lib.rs
plain=$(seconds_of cargo build --release)
write_fixture "#[differentiable]"
ops=$(cat "$fixture/ops")
generated=$(seconds_of cargo build --release)
touch src/lib.rs
generated=$(seconds_of cargo build --release)
plain_dev=$(seconds_of cargo build)
write_fixture ""
touch src/lib.rs
plain_dev=$(seconds_of cargo build)
write_fixture "#[differentiable]"
generated_dev=$(seconds_of cargo build)
touch src/lib.rs
generated_dev=$(seconds_of cargo build)

echo
echo "one #[differentiable] fn of $ops primitive ops (straight-line f64), compiling its crate:"
awk -v g="$generated" -v p="$plain" -v gd="$generated_dev" -v pd="$plain_dev" 'BEGIN {
    printf "  release: %.1f s (the same fn without the attribute: %.1f s; the macro and its code add %.1f s)\n", g, p, g - p
    printf "  dev:     %.1f s (the same fn without the attribute: %.1f s; the macro and its code add %.1f s)\n", gd, pd, gd - pd
}'
