//! Optimisers with PyTorch's update rules and defaults: [`Sgd`] (with
//! momentum, dampening, Nesterov momentum and weight decay, as
//! `torch.optim.SGD`) and [`Adam`] (as `torch.optim.Adam`, with bias
//! correction and AMSGrad), over any [`Parameters`] value: `f64`, `Vec<f64>`,
//! `[f64; N]`, [`Tensor`](crate::Tensor), tuples of these, or a struct of
//! parameters.
//!
//! A gradient here is a value, not a field of the parameters: there is no
//! `zero_grad`. One step of training is "compute the gradient, hand it to
//! [`Optimizer::step`]":
//!
//! ```
//! use autodiff_runtime::optim::{Adam, Optimizer};
//!
//! // Minimise f(x, y) = (x − 3)² + 10 (y + 1)² from (0, 0).
//! let grad = |p: &[f64; 2]| [2.0 * (p[0] - 3.0), 20.0 * (p[1] + 1.0)];
//! let mut p = [0.0, 0.0];
//! let mut opt = Adam::new(0.1);
//! for _ in 0..500 {
//!     let g = grad(&p);
//!     opt.step(&mut p, &g);
//! }
//! assert!((p[0] - 3.0).abs() < 1e-3 && (p[1] + 1.0).abs() < 1e-3);
//! ```
//!
//! Each optimiser keeps its state (momentum buffers, moment estimates) in
//! flat buffers with one number per number of the parameters, created at the
//! first step; later steps must pass parameters with the same number of
//! numbers (a mismatch panics).

mod params;

pub use params::Parameters;

/// One optimiser step at a time: PyTorch's `optimizer.step()`, with the
/// gradient passed in.
///
/// ```
/// use autodiff_runtime::optim::{Optimizer, Sgd};
///
/// // Gradient descent on f(x) = x², with the learning rate halved halfway.
/// let mut x = 1.0;
/// let mut opt = Sgd::new(0.25);
/// for step in 0..4 {
///     if step == 2 {
///         opt.set_learning_rate(opt.learning_rate() / 2.0);
///     }
///     let g = 2.0 * x;
///     opt.step(&mut x, &g); // x ← x − lr·2x
/// }
/// assert_eq!(x, 0.5 * 0.5 * 0.75 * 0.75);
/// ```
pub trait Optimizer {
    /// Updates `params` in place from their gradient `grad` (same type and
    /// shapes).
    ///
    /// ```
    /// use autodiff_runtime::Tensor;
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// let mut w = Tensor::from([1.0, 2.0]);
    /// Sgd::new(0.1).step(&mut w, &Tensor::from([10.0, -10.0]));
    /// assert_eq!(w, Tensor::from([0.0, 3.0]));
    /// ```
    fn step<P: Parameters + ?Sized>(&mut self, params: &mut P, grad: &P);

    /// The learning rate the next step uses.
    ///
    /// ```
    /// use autodiff_runtime::optim::{Adam, Optimizer};
    ///
    /// assert_eq!(Adam::default().learning_rate(), 1e-3);
    /// ```
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate from the next step on (a schedule), keeping
    /// the state. Panics if negative.
    ///
    /// ```
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// let mut opt = Sgd::new(0.1);
    /// opt.set_learning_rate(0.01);
    /// assert_eq!(opt.learning_rate(), 0.01);
    /// ```
    fn set_learning_rate(&mut self, lr: f64);

    /// Forgets the state (momentum buffers, moment estimates, step count):
    /// the next step is a first step again.
    ///
    /// ```
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// let mut opt = Sgd::new(1.0).momentum(0.5);
    /// let (mut a, mut b) = (0.0, 0.0);
    /// opt.step(&mut a, &1.0);
    /// opt.reset();
    /// opt.step(&mut b, &1.0); // a first step: the buffer starts from the gradient
    /// assert_eq!(a, b);
    /// ```
    fn reset(&mut self);
}

/// Calls `update(p, g, state)` on each leaf of `params` beside the same
/// leaf of `grad` and the same stretch of each flat state buffer.
fn for_each_leaf<P, const K: usize>(
    params: &mut P,
    grad: &P,
    state: [&mut [f64]; K],
    mut update: impl FnMut(&mut [f64], &[f64], [&mut [f64]; K]),
) where
    P: Parameters + ?Sized,
{
    let mut rest = state;
    params.zip_leaves_mut(grad, &mut |p, g| {
        let n = p.len();
        let mut mine: [&mut [f64]; K] = std::array::from_fn(|_| Default::default());
        for (slot, buffer) in mine.iter_mut().zip(rest.iter_mut()) {
            if buffer.is_empty() {
                continue; // a buffer this configuration does not use
            }
            let (head, tail) = std::mem::take(buffer).split_at_mut(n);
            *slot = head;
            *buffer = tail;
        }
        update(p, g, mine);
    });
}

/// Sizes a state buffer on the first step and checks it on later ones.
fn prepare(buffer: &mut Vec<f64>, numel: usize, what: &str) {
    if buffer.is_empty() {
        *buffer = vec![0.0; numel];
    }
    assert!(
        buffer.len() == numel,
        "{what}: the parameters have {numel} numbers, but the optimiser's state was made for {} \
         (use one optimiser per set of parameters, or call reset())",
        buffer.len()
    );
}

// ---------------------------------------------------------------- SGD

/// Stochastic gradient descent, optionally with momentum: PyTorch's
/// `torch.optim.SGD`, same options, same defaults (`lr = 1e-3`, no momentum,
/// no dampening, no weight decay, no Nesterov), same update.
///
/// For learning rate γ, weight decay λ, momentum μ, dampening τ, at step t
/// with gradient gₜ of the parameters θ:
///
/// ```text
/// g ← −gₜ if maximize, else gₜ
/// g ← g + λ θ                          if λ ≠ 0
/// if μ ≠ 0:
///     b ← g                            at t = 1
///     b ← μ b + (1 − τ) g              at t > 1
///     g ← g + μ b  if nesterov, else  g ← b
/// θ ← θ − γ g
/// ```
///
/// ```
/// use autodiff_runtime::optim::{Optimizer, Sgd};
///
/// // f(x) = x², f'(x) = 2x, from x = 1 with lr 0.1 and momentum 0.9.
/// let mut x = 1.0;
/// let mut opt = Sgd::new(0.1).momentum(0.9);
/// let g = 2.0 * x;
/// opt.step(&mut x, &g); // b = 2, x = 1 − 0.1·2 = 0.8
/// assert!((x - 0.8).abs() < 1e-15);
/// let g = 2.0 * x;
/// opt.step(&mut x, &g); // b = 0.9·2 + 1.6 = 3.4, x = 0.8 − 0.34 = 0.46
/// assert!((x - 0.46).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
    /// The momentum buffer b, flat; empty before the first step.
    buffer: Vec<f64>,
}

/// `lr = 1e-3` (PyTorch's default), no momentum.
impl Default for Sgd {
    fn default() -> Self {
        Sgd::new(1e-3)
    }
}

impl Sgd {
    /// Plain SGD with learning rate `lr`: `θ ← θ − lr · g`.
    ///
    /// Panics if `lr < 0` (PyTorch's "Invalid learning rate").
    ///
    /// ```
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// let mut p = vec![1.0, 2.0];
    /// Sgd::new(0.5).step(&mut p, &vec![1.0, -1.0]);
    /// assert_eq!(p, vec![0.5, 2.5]);
    /// ```
    pub fn new(lr: f64) -> Self {
        assert!(lr >= 0.0, "Invalid learning rate: {lr}");
        Sgd {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            buffer: Vec::new(),
        }
    }

    /// The learning rate γ.
    ///
    /// ```
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// assert_eq!(Sgd::default().lr(0.01).learning_rate(), 0.01);
    /// ```
    pub fn lr(mut self, lr: f64) -> Self {
        assert!(lr >= 0.0, "Invalid learning rate: {lr}");
        self.lr = lr;
        self
    }

    /// The momentum factor μ (default 0: none). Panics if negative.
    ///
    /// ```
    /// use autodiff_runtime::optim::Sgd;
    ///
    /// let opt = Sgd::new(0.1).momentum(0.9);
    /// ```
    pub fn momentum(mut self, momentum: f64) -> Self {
        assert!(momentum >= 0.0, "Invalid momentum value: {momentum}");
        self.momentum = momentum;
        self
    }

    /// The dampening τ of the momentum (default 0): the gradient enters the
    /// buffer with weight `1 − τ` from the second step on.
    ///
    /// ```
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// let mut x = 0.0;
    /// let mut opt = Sgd::new(1.0).momentum(0.5).dampening(0.5);
    /// opt.step(&mut x, &1.0); // b = 1
    /// opt.step(&mut x, &1.0); // b = 0.5 + 0.5 = 1
    /// assert_eq!(x, -2.0);
    /// ```
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }

    /// The weight decay λ (an L2 penalty `λ/2 ‖θ‖²` added to the loss;
    /// default 0). Panics if negative.
    ///
    /// ```
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// let mut x = 2.0;
    /// Sgd::new(0.1).weight_decay(0.5).step(&mut x, &0.0);
    /// assert_eq!(x, 2.0 - 0.1 * 0.5 * 2.0);
    /// ```
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        assert!(
            weight_decay >= 0.0,
            "Invalid weight_decay value: {weight_decay}"
        );
        self.weight_decay = weight_decay;
        self
    }

    /// Nesterov momentum (default off). It needs a momentum μ > 0 and zero
    /// dampening: the first step panics otherwise, as PyTorch's constructor
    /// raises.
    ///
    /// ```
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// let mut x = 1.0;
    /// let mut opt = Sgd::new(0.1).momentum(0.9).nesterov(true);
    /// opt.step(&mut x, &2.0); // b = 2, g = 2 + 0.9·2 = 3.8
    /// assert!((x - 0.62).abs() < 1e-15);
    /// ```
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Ascend instead of descend (default off).
    ///
    /// ```
    /// use autodiff_runtime::optim::{Optimizer, Sgd};
    ///
    /// let mut x = 1.0;
    /// Sgd::new(0.5).maximize(true).step(&mut x, &2.0);
    /// assert_eq!(x, 2.0);
    /// ```
    pub fn maximize(mut self, maximize: bool) -> Self {
        self.maximize = maximize;
        self
    }
}

impl Optimizer for Sgd {
    fn step<P: Parameters + ?Sized>(&mut self, params: &mut P, grad: &P) {
        assert!(
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            "Nesterov momentum requires a momentum and zero dampening"
        );
        let Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
            ref mut buffer,
        } = *self;
        if momentum == 0.0 {
            for_each_leaf(params, grad, [], |p, g, []| {
                for (p, &g) in p.iter_mut().zip(g) {
                    let mut d = if maximize { -g } else { g };
                    if weight_decay != 0.0 {
                        d += weight_decay * *p;
                    }
                    *p += -lr * d;
                }
            });
            return;
        }
        let first = buffer.is_empty();
        prepare(buffer, params.numel(), "Sgd::step");
        for_each_leaf(params, grad, [buffer.as_mut_slice()], |p, g, [b]| {
            for ((p, &g), b) in p.iter_mut().zip(g).zip(b.iter_mut()) {
                let mut d = if maximize { -g } else { g };
                if weight_decay != 0.0 {
                    d += weight_decay * *p;
                }
                *b = if first {
                    d
                } else {
                    momentum * *b + (1.0 - dampening) * d
                };
                let d = if nesterov { d + momentum * *b } else { *b };
                *p += -lr * d;
            }
        });
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        assert!(lr >= 0.0, "Invalid learning rate: {lr}");
        self.lr = lr;
    }

    fn reset(&mut self) {
        self.buffer = Vec::new();
    }
}

// ---------------------------------------------------------------- Adam

/// Adam (Kingma & Ba, 2015): PyTorch's `torch.optim.Adam`, same options,
/// same defaults (`lr = 1e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`, no
/// weight decay, no AMSGrad), same update.
///
/// For learning rate γ, betas β₁ β₂, weight decay λ, at step t = 1, 2, …
/// with gradient gₜ of the parameters θ (m and v start at zero):
///
/// ```text
/// g ← −gₜ if maximize, else gₜ
/// g ← g + λ θ                          if λ ≠ 0 (L2 penalty, not AdamW's decoupled decay)
/// m ← β₁ m + (1 − β₁) g
/// v ← β₂ v + (1 − β₂) g²
/// v_max ← max(v_max, v)                if amsgrad (then v_max replaces v below)
/// θ ← θ − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// The last line is PyTorch's arrangement of `θ ← θ − γ m̂ / (√v̂ + ε)` with
/// the bias-corrected `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`.
///
/// ```
/// use autodiff_runtime::optim::{Adam, Optimizer};
///
/// // The first step moves each number by about lr against the sign of its
/// // gradient, whatever the gradient's size: m̂ = g, v̂ = g².
/// let mut p = vec![1.0, 1.0];
/// Adam::new(0.1).step(&mut p, &vec![1000.0, -0.001]);
/// assert!((p[0] - 0.9).abs() < 1e-9 && (p[1] - 1.1).abs() < 1e-5);
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    /// Steps taken so far (t of the last step).
    t: u64,
    /// First moment m, second moment v, and (AMSGrad) max of v; flat.
    m: Vec<f64>,
    v: Vec<f64>,
    v_max: Vec<f64>,
}

/// PyTorch's defaults: `lr = 1e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`.
impl Default for Adam {
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl Adam {
    /// Adam with learning rate `lr` and PyTorch's other defaults.
    ///
    /// Panics if `lr < 0` (PyTorch's "Invalid learning rate").
    ///
    /// ```
    /// use autodiff_runtime::optim::{Adam, Optimizer};
    ///
    /// assert_eq!(Adam::new(0.01).learning_rate(), 0.01);
    /// assert_eq!(Adam::default().learning_rate(), 1e-3);
    /// ```
    pub fn new(lr: f64) -> Self {
        assert!(lr >= 0.0, "Invalid learning rate: {lr}");
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
            v_max: Vec::new(),
        }
    }

    /// The learning rate γ (default `1e-3`).
    ///
    /// ```
    /// use autodiff_runtime::optim::{Adam, Optimizer};
    ///
    /// assert_eq!(Adam::default().lr(0.05).learning_rate(), 0.05);
    /// ```
    pub fn lr(mut self, lr: f64) -> Self {
        assert!(lr >= 0.0, "Invalid learning rate: {lr}");
        self.lr = lr;
        self
    }

    /// The decay rates (β₁, β₂) of the moment estimates (default
    /// `(0.9, 0.999)`); each must lie in `[0, 1)`.
    ///
    /// ```
    /// use autodiff_runtime::optim::Adam;
    ///
    /// let opt = Adam::new(1e-2).betas(0.8, 0.99);
    /// ```
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&beta1),
            "Invalid beta parameter at index 0: {beta1}"
        );
        assert!(
            (0.0..1.0).contains(&beta2),
            "Invalid beta parameter at index 1: {beta2}"
        );
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// The ε added to the denominator (default `1e-8`). Panics if negative.
    ///
    /// ```
    /// use autodiff_runtime::optim::Adam;
    ///
    /// let opt = Adam::default().eps(1e-6);
    /// ```
    pub fn eps(mut self, eps: f64) -> Self {
        assert!(eps >= 0.0, "Invalid epsilon value: {eps}");
        self.eps = eps;
        self
    }

    /// The weight decay λ, added to the gradient as `λ θ` (an L2 penalty, as
    /// in `torch.optim.Adam`; default 0). Panics if negative.
    ///
    /// ```
    /// use autodiff_runtime::optim::Adam;
    ///
    /// let opt = Adam::default().weight_decay(1e-4);
    /// ```
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        assert!(
            weight_decay >= 0.0,
            "Invalid weight_decay value: {weight_decay}"
        );
        self.weight_decay = weight_decay;
        self
    }

    /// AMSGrad (Reddi et al., 2018): divide by the running maximum of v
    /// instead of v (default off).
    ///
    /// ```
    /// use autodiff_runtime::optim::Adam;
    ///
    /// let opt = Adam::default().amsgrad(true);
    /// ```
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// Ascend instead of descend (default off).
    ///
    /// ```
    /// use autodiff_runtime::optim::{Adam, Optimizer};
    ///
    /// let mut x = 0.0;
    /// Adam::new(0.1).maximize(true).step(&mut x, &1.0);
    /// assert!((x - 0.1).abs() < 1e-9);
    /// ```
    pub fn maximize(mut self, maximize: bool) -> Self {
        self.maximize = maximize;
        self
    }

    /// How many steps were taken (PyTorch's `state['step']`).
    ///
    /// ```
    /// use autodiff_runtime::optim::{Adam, Optimizer};
    ///
    /// let mut opt = Adam::default();
    /// opt.step(&mut 1.0, &1.0);
    /// assert_eq!(opt.steps(), 1);
    /// ```
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl Optimizer for Adam {
    fn step<P: Parameters + ?Sized>(&mut self, params: &mut P, grad: &P) {
        let numel = params.numel();
        prepare(&mut self.m, numel, "Adam::step");
        prepare(&mut self.v, numel, "Adam::step");
        if self.amsgrad {
            prepare(&mut self.v_max, numel, "Adam::step");
        }
        self.t += 1;
        let Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            t,
            ref mut m,
            ref mut v,
            ref mut v_max,
        } = *self;
        // PyTorch computes these in Python floats: `beta ** step`.
        let bias_correction1 = 1.0 - beta1.powf(t as f64);
        let bias_correction2 = 1.0 - beta2.powf(t as f64);
        let step_size = lr / bias_correction1;
        let bias_correction2_sqrt = bias_correction2.sqrt();
        let state = [m.as_mut_slice(), v.as_mut_slice(), v_max.as_mut_slice()];
        for_each_leaf(params, grad, state, |p, g, [m, v, v_max]| {
            for (i, (p, &g)) in p.iter_mut().zip(g).enumerate() {
                let mut g = if maximize { -g } else { g };
                if weight_decay != 0.0 {
                    g += weight_decay * *p;
                }
                m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                let second = if amsgrad {
                    v_max[i] = v_max[i].max(v[i]);
                    v_max[i]
                } else {
                    v[i]
                };
                let denom = second.sqrt() / bias_correction2_sqrt + eps;
                *p += -step_size * (m[i] / denom);
            }
        });
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        assert!(lr >= 0.0, "Invalid learning rate: {lr}");
        self.lr = lr;
    }

    fn reset(&mut self) {
        self.t = 0;
        self.m = Vec::new();
        self.v = Vec::new();
        self.v_max = Vec::new();
    }
}
