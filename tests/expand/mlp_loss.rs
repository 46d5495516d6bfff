#[differentiable(wrt(w1, b1, w2, b2))]
fn loss(x: &Tensor, labels: &[usize], w1: &Tensor, b1: &Tensor, w2: &Tensor, b2: &Tensor) -> f64 {
    let h = (x.matmul(w1) + b1).tanh();
    let logits = h.matmul(w2) + b2;
    let logp = logits.log_softmax(1);
    let mut nll = 0.0;
    for i in 0..labels.len() {
        nll -= logp.at(&[i, labels[i]]);
    }
    nll / labels.len() as f64
}
