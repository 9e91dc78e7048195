//! The forward and backward passes, generic over the element type (f64, or f32 for
//! [`super::Precision::F32`]).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::Activation;

/// The element types of the forward and backward passes.
pub(super) trait Elem:
    ndarray::LinalgScalar + num_traits::Float + ndarray::ScalarOperand + Send + Sync
{
}

impl Elem for f64 {}
impl Elem for f32 {}

pub(super) fn sigmoid<F: Elem>(z: F) -> F {
    if z >= F::zero() {
        F::one() / (F::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (F::one() + e)
    }
}

fn activate<F: Elem>(z: &mut Array2<F>, act: Activation) {
    match act {
        Activation::Relu => z.mapv_inplace(|v| v.max(F::zero())),
        Activation::Tanh => z.mapv_inplace(F::tanh),
    }
}

/// Forward pass through layers (ws, bs): the inputs of every layer and the output logits.
pub(super) fn forward_in<F: Elem>(
    ws: &[ArrayView2<F>],
    bs: &[ArrayView1<F>],
    act: Option<Activation>,
    x: ArrayView2<F>,
) -> (Vec<Array2<F>>, Array2<F>) {
    let mut inputs = Vec::with_capacity(ws.len());
    let mut h = x.to_owned();
    for (i, (w, b)) in ws.iter().zip(bs).enumerate() {
        let mut z = h.dot(w) + b;
        inputs.push(h);
        if i + 1 < ws.len()
            && let Some(a) = act
        {
            activate(&mut z, a);
        }
        h = z;
    }
    (inputs, h)
}

/// Forward and backward pass: every layer's input and output gradient, and the losses.
pub(super) fn backward_in<F: Elem>(
    ws: &[ArrayView2<F>],
    bs: &[ArrayView1<F>],
    act: Option<Activation>,
    x: ArrayView2<F>,
    y: &[usize],
) -> (Vec<Array2<F>>, Vec<Array2<F>>, Array1<F>) {
    let (inputs, z) = forward_in(ws, bs, act, x);
    let (mut delta, losses) = head(&z, y);
    let mut deltas = vec![Array2::zeros((0, 0)); ws.len()];
    for l in (0..ws.len()).rev() {
        let next = if l > 0 {
            let mut d = delta.dot(&ws[l].t());
            // the activation's derivative, from the activated input of layer l
            let a = &inputs[l];
            match act {
                Some(Activation::Relu) => d.zip_mut_with(a, |g, &h| {
                    if h <= F::zero() {
                        *g = F::zero();
                    }
                }),
                _ => d.zip_mut_with(a, |g, &h| *g = *g * (F::one() - h * h)),
            }
            Some(d)
        } else {
            None
        };
        deltas[l] = delta;
        if let Some(d) = next {
            delta = d;
        } else {
            break;
        }
    }
    (inputs, deltas, losses)
}

/// The output layer's loss gradient (n x out) and the per-example losses.
pub(super) fn head<F: Elem>(z: &Array2<F>, y: &[usize]) -> (Array2<F>, Array1<F>) {
    let n = z.nrows();
    let mut losses = Array1::zeros(n);
    let mut d = Array2::zeros(z.dim());
    if z.ncols() == 1 {
        for i in 0..n {
            let (v, t) = (z[[i, 0]], if y[i] == 1 { F::one() } else { F::zero() });
            // softplus(v) - t v, stably
            losses[i] = v.max(F::zero()) - t * v + (-v.abs()).exp().ln_1p();
            d[[i, 0]] = sigmoid(v) - t;
        }
    } else {
        for i in 0..n {
            let row = z.row(i);
            let m = row.fold(F::neg_infinity(), |a, &b| a.max(b));
            let lse = m + row
                .iter()
                .map(|&v| (v - m).exp())
                .fold(F::zero(), |a, b| a + b)
                .ln();
            losses[i] = lse - row[y[i]];
            for (k, &v) in row.iter().enumerate() {
                let t = if k == y[i] { F::one() } else { F::zero() };
                d[[i, k]] = (v - lse).exp() - t;
            }
        }
    }
    (d, losses)
}
