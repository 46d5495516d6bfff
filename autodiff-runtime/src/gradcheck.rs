//! Gradient checking (see `check_vjp`).
