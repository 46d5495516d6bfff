#!/usr/bin/env python3
"""Times the JAX and PyTorch anchors of issue 11 for W3 (Rosenbrock over 10^6
values, tensor form) and W4 (the MLP loss), where they are installed:

    python3 -m venv venv && venv/bin/pip install jax   # and/or torch
    venv/bin/python scripts/anchors.py [--rounds 11]

Not run by CI. The workloads are benches/workloads.rs's (same shapes and
formulas, data of the same distributions; the seeds differ, which does not
change the work). Each variant is timed in interleaved rounds (the order
rotates, as in the Rust benchmark), each round a batch of at least 0.2 s;
the medians and the range over rounds are printed in seconds per gradient.

JAX computes in float32 unless x64 is enabled: both are timed, f64 (what the
Rust benchmark computes) and f32 (JAX's default), so that a number measured
with the default is not mistaken for an f64 one.
"""

import argparse
import statistics
import time

B, I, H, C = 128, 784, 256, 10
N3 = 1_000_000


def jax_variants():
    try:
        import jax
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    out = {}
    for dt in (jnp.float64, jnp.float32):
        k = jax.random.split(jax.random.PRNGKey(0), 6)
        x = jax.random.uniform(k[0], (B, I), dtype=dt)
        y = jax.nn.one_hot(jnp.arange(B) * 7 % C, C, dtype=dt)
        w1 = jax.random.uniform(k[1], (I, H), dtype=dt, minval=-I**-0.5, maxval=I**-0.5)
        b1 = jax.random.uniform(k[2], (H,), dtype=dt, minval=-0.1, maxval=0.1)
        w2 = jax.random.uniform(k[3], (H, C), dtype=dt, minval=-H**-0.5, maxval=H**-0.5)
        b2 = jax.random.uniform(k[4], (C,), dtype=dt, minval=-0.1, maxval=0.1)
        x3 = jax.random.uniform(k[5], (N3,), dtype=dt, minval=-2.0, maxval=2.0)

        def w4(w1, b1, w2, b2, x=x, y=y):
            h = jnp.tanh(x @ w1 + b1)
            logp = jax.nn.log_softmax(h @ w2 + b2, axis=1)
            return -(y * logp).sum(1).mean()

        def w3(x):
            a, b = x[:-1], x[1:]
            return (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum()

        g4 = jax.jit(jax.value_and_grad(w4, argnums=(0, 1, 2, 3)))
        g3 = jax.jit(jax.value_and_grad(w3))
        name = "f64" if dt == jnp.float64 else "f32"
        assert g4(w1, b1, w2, b2)[1][0].dtype == dt
        out[f"JAX jit W4 {name}"] = lambda g4=g4, a=(w1, b1, w2, b2): jax.block_until_ready(g4(*a))
        out[f"JAX jit W3 {name}"] = lambda g3=g3, x3=x3: jax.block_until_ready(g3(x3))
    return out


def torch_variants():
    try:
        import torch
    except ImportError:
        return {}
    torch.manual_seed(0)
    dt = torch.float64
    x = torch.rand(B, I, dtype=dt)
    y = torch.nn.functional.one_hot(torch.arange(B) * 7 % C, C).to(dt)
    s1, s2 = I**-0.5, H**-0.5
    w1 = ((torch.rand(I, H, dtype=dt) * 2 - 1) * s1).requires_grad_()
    b1 = ((torch.rand(H, dtype=dt) * 2 - 1) * 0.1).requires_grad_()
    w2 = ((torch.rand(H, C, dtype=dt) * 2 - 1) * s2).requires_grad_()
    b2 = ((torch.rand(C, dtype=dt) * 2 - 1) * 0.1).requires_grad_()
    x3 = ((torch.rand(N3, dtype=dt) * 4) - 2).requires_grad_()

    def w4():
        h = torch.tanh(x @ w1 + b1)
        logp = torch.log_softmax(h @ w2 + b2, dim=1)
        loss = -(y * logp).sum(1).mean()
        return torch.autograd.grad(loss, (w1, b1, w2, b2))

    def w3():
        a, b = x3[:-1], x3[1:]
        loss = (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum()
        return torch.autograd.grad(loss, (x3,))

    return {"PyTorch eager W4 f64": w4, "PyTorch eager W3 f64": w3}


def batch_seconds(f, at_least=0.2):
    n, start = 0, time.perf_counter()
    while True:
        f()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= at_least:
            return elapsed / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=11)
    rounds = parser.parse_args().rounds
    variants = {**jax_variants(), **torch_variants()}
    if not variants:
        print("neither jax nor torch is installed: nothing to time")
        return
    for f in variants.values():  # compile and warm up
        for _ in range(5):
            f()
    names = list(variants)
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            times[name].append(batch_seconds(variants[name]))
    print(f"{rounds} rounds, medians (range) in seconds per gradient")
    for name in names:
        t = times[name]
        print(f"{name:24} {statistics.median(t):.2e}  ({min(t):.2e}–{max(t):.2e})")


if __name__ == "__main__":
    main()
