//! The models: logistic regression, softmax regression and multilayer perceptrons, all as
//! stacks of dense layers with exact per-example gradients.
//!
//! A network's per-example gradient of layer l is the outer product h_i delta_i^T (and
//! delta_i for the bias), with h_i the layer's input and delta_i the loss gradient at its
//! output, so its squared norm is |h_i|^2 |delta_i|^2 + |delta_i|^2 and a weighted sum of
//! per-example gradients is the matrix product H^T diag(c) Delta: clipping never
//! materializes the n x P per-example matrix (Goodfellow 2015's trick). Matrix products use
//! ndarray (matrixmultiply).
//!
//! ```
//! use ndarray::array;
//! use shroud::train::network::{Architecture, Network};
//! let net = Network::new(&Architecture::Logistic, 2, 2, 0).unwrap();
//! let x = array![[1.0, 2.0], [0.5, -1.0]];
//! let (g, losses) = net.per_example_gradients(x.view(), &[1, 0]).unwrap();
//! assert_eq!(g.dim(), (2, 3)); // two weights and a bias per example
//! assert!((losses[0] - std::f64::consts::LN_2).abs() < 1e-12); // zero init: p = 1/2
//! ```

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand_core::Rng;
use serde::{Deserialize, Serialize};

use super::TrainError;

mod kernels;
use kernels::{backward_in, forward_in, head, sigmoid};

/// Hidden-layer activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x)
    Relu,
    /// tanh(x)
    Tanh,
}

/// The arithmetic of the forward and backward passes. With [`Precision::F32`] the
/// activations and output gradients are computed in f32 (matrix products at twice the
/// width per instruction) and converted to f64 for the per-example norms, the clipped sum,
/// the noise and the optimizer, so clipping bounds the sensitivity exactly as in f64.
/// The model's weights are kept in f64 either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// f32 forward and backward passes.
    F32,
    /// f64 throughout.
    #[default]
    F64,
}

impl Precision {
    /// Parses `f32` or `f64`.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] for anything else.
    pub fn parse(s: &str) -> Result<Self, TrainError> {
        match s {
            "f32" => Ok(Precision::F32),
            "f64" => Ok(Precision::F64),
            _ => Err(TrainError::InvalidParameter(format!(
                "precision {s:?}: expected f32 or f64"
            ))),
        }
    }
}

/// What kind of model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Architecture {
    /// Binary logistic regression (one logit, sigmoid cross-entropy).
    Logistic,
    /// Multinomial logistic regression (one logit per class, softmax cross-entropy).
    Softmax,
    /// A multilayer perceptron; the head is a sigmoid for two classes, a softmax otherwise.
    Mlp {
        /// Hidden layer widths, input side first.
        hidden: Vec<usize>,
        /// Hidden activation.
        activation: Activation,
    },
}

impl Architecture {
    /// Parses `logreg`, `softmax`, `mlp:32,16` or `mlp:32,16:tanh` (ReLU by default).
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] for anything else, or a zero or huge layer width.
    pub fn parse(s: &str) -> Result<Self, TrainError> {
        let bad = || {
            TrainError::InvalidParameter(format!(
                "model {s:?}: expected logreg, softmax or mlp:W1,W2[:relu|tanh]"
            ))
        };
        match s {
            "logreg" | "logistic" => return Ok(Architecture::Logistic),
            "softmax" => return Ok(Architecture::Softmax),
            _ => {}
        }
        let rest = s.strip_prefix("mlp:").ok_or_else(bad)?;
        let mut parts = rest.split(':');
        let widths = parts.next().ok_or_else(bad)?;
        let activation = match parts.next() {
            None | Some("relu") => Activation::Relu,
            Some("tanh") => Activation::Tanh,
            Some(_) => return Err(bad()),
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        let hidden = widths
            .split(',')
            .map(|w| match w.trim().parse::<usize>() {
                Ok(v) if (1..=4096).contains(&v) => Ok(v),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if hidden.len() > 16 {
            return Err(bad());
        }
        Ok(Architecture::Mlp { hidden, activation })
    }

    /// The short name (`logreg`, `softmax`, `mlp:32,16:relu`).
    pub fn name(&self) -> String {
        match self {
            Architecture::Logistic => "logreg".into(),
            Architecture::Softmax => "softmax".into(),
            Architecture::Mlp { hidden, activation } => {
                let w: Vec<String> = hidden.iter().map(ToString::to_string).collect();
                let a = match activation {
                    Activation::Relu => "relu",
                    Activation::Tanh => "tanh",
                };
                format!("mlp:{}:{a}", w.join(","))
            }
        }
    }
}

/// One dense layer: inputs times `w` (in x out) plus `b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// Weights, in x out.
    pub w: Array2<f64>,
    /// Biases, out.
    pub b: Array1<f64>,
}

/// A model: an architecture and its layers.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    arch: Architecture,
    n_features: usize,
    n_classes: usize,
    layers: Vec<Dense>,
}

/// Most parameters a network may have.
pub const MAX_PARAMS: usize = 50_000_000;

/// Inputs and output gradients of every layer for a batch, and the per-example losses.
pub(crate) struct Backward {
    pub(crate) inputs: Vec<Array2<f64>>,
    pub(crate) deltas: Vec<Array2<f64>>,
    pub(crate) losses: Array1<f64>,
}

impl Network {
    /// A seeded network: zero weights for the (convex) linear models, Glorot-uniform
    /// weights (He-uniform for ReLU) and zero biases for an MLP. The seed only makes the
    /// initialization reproducible; it carries no privacy guarantee.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] for zero features, fewer than two classes,
    /// logistic regression with more than two classes, or more than [`MAX_PARAMS`].
    pub fn new(
        arch: &Architecture,
        n_features: usize,
        n_classes: usize,
        seed: u64,
    ) -> Result<Self, TrainError> {
        if n_features == 0 || n_classes < 2 {
            return Err(TrainError::InvalidParameter(
                "a classifier needs at least one feature and two classes".into(),
            ));
        }
        if *arch == Architecture::Logistic && n_classes != 2 {
            return Err(TrainError::InvalidParameter(format!(
                "logistic regression is binary; the data has {n_classes} classes (use softmax)"
            )));
        }
        let out = if n_classes == 2 && *arch != Architecture::Softmax {
            1
        } else {
            n_classes
        };
        let mut widths = vec![n_features];
        if let Architecture::Mlp { hidden, .. } = arch {
            widths.extend(hidden);
        }
        widths.push(out);
        // Saturating: widths come from files and peers, and must not wrap past the cap.
        let params: usize = widths
            .windows(2)
            .map(|w| w[0].saturating_add(1).saturating_mul(w[1]))
            .fold(0, usize::saturating_add);
        if params > MAX_PARAMS {
            return Err(TrainError::InvalidParameter(format!(
                "{params} parameters is more than {MAX_PARAMS}"
            )));
        }
        let mut rng = crate::rng::seeded(seed);
        let relu = matches!(
            arch,
            Architecture::Mlp {
                activation: Activation::Relu,
                ..
            }
        );
        let layers = widths
            .windows(2)
            .map(|w| {
                let (fan_in, fan_out) = (w[0], w[1]);
                let weights = if matches!(arch, Architecture::Mlp { .. }) {
                    let a = if relu {
                        (6.0 / fan_in as f64).sqrt()
                    } else {
                        (6.0 / (fan_in + fan_out) as f64).sqrt()
                    };
                    Array2::from_shape_simple_fn((fan_in, fan_out), || {
                        let u = (rng.next_u64() >> 11) as f64 * 2f64.powi(-53);
                        a * (2.0 * u - 1.0)
                    })
                } else {
                    Array2::zeros((fan_in, fan_out))
                };
                Dense {
                    w: weights,
                    b: Array1::zeros(fan_out),
                }
            })
            .collect();
        Ok(Network {
            arch: arch.clone(),
            n_features,
            n_classes,
            layers,
        })
    }

    /// A network from stored layers (a model file), checked against the architecture.
    ///
    /// # Errors
    /// [`TrainError::Shape`] when the layers do not match the architecture,
    /// [`TrainError::ModelFile`] for non-finite weights.
    pub fn from_layers(
        arch: &Architecture,
        n_features: usize,
        n_classes: usize,
        layers: Vec<Dense>,
    ) -> Result<Self, TrainError> {
        let template = Network::new(arch, n_features, n_classes, 0)?;
        let shapes_match = template.layers.len() == layers.len()
            && template
                .layers
                .iter()
                .zip(&layers)
                .all(|(t, l)| t.w.dim() == l.w.dim() && t.b.len() == l.b.len());
        if !shapes_match {
            return Err(TrainError::Shape(
                "layer shapes do not match the architecture".into(),
            ));
        }
        if layers
            .iter()
            .any(|l| l.w.iter().chain(l.b.iter()).any(|v| !v.is_finite()))
        {
            return Err(TrainError::ModelFile("non-finite weight".into()));
        }
        Ok(Network { layers, ..template })
    }

    /// The architecture.
    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// Number of parameters P.
    pub fn n_params(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// The parameters, flat: each layer's weights row-major, then its biases.
    pub fn params(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(self.n_params());
        for l in &self.layers {
            v.extend(l.w.iter());
            v.extend(l.b.iter());
        }
        v
    }

    /// Sets the parameters from the flat form of [`Network::params`].
    ///
    /// # Errors
    /// [`TrainError::Shape`] for a wrong length.
    pub fn set_params(&mut self, p: &[f64]) -> Result<(), TrainError> {
        if p.len() != self.n_params() {
            return Err(TrainError::Shape(format!(
                "{} parameters given, the network has {}",
                p.len(),
                self.n_params()
            )));
        }
        let mut k = 0;
        for l in &mut self.layers {
            for v in l.w.iter_mut().chain(l.b.iter_mut()) {
                *v = p[k];
                k += 1;
            }
        }
        Ok(())
    }

    fn check(&self, x: ArrayView2<f64>, y: Option<&[usize]>) -> Result<(), TrainError> {
        if x.ncols() != self.n_features {
            return Err(TrainError::Shape(format!(
                "{} features, the model takes {}",
                x.ncols(),
                self.n_features
            )));
        }
        if let Some(y) = y {
            if y.len() != x.nrows() {
                return Err(TrainError::Shape("one label per row needed".into()));
            }
            if let Some(c) = y.iter().find(|&&c| c >= self.n_classes) {
                return Err(TrainError::Shape(format!(
                    "class index {c}, the model has {} classes",
                    self.n_classes
                )));
            }
        }
        Ok(())
    }

    fn hidden_activation(&self) -> Option<Activation> {
        match self.arch {
            Architecture::Mlp { activation, .. } => Some(activation),
            _ => None,
        }
    }

    /// Forward pass: the inputs of every layer and the output logits.
    fn forward(&self, x: ArrayView2<f64>) -> (Vec<Array2<f64>>, Array2<f64>) {
        let ws: Vec<ArrayView2<f64>> = self.layers.iter().map(|l| l.w.view()).collect();
        let bs: Vec<ArrayView1<f64>> = self.layers.iter().map(|l| l.b.view()).collect();
        forward_in(&ws, &bs, self.hidden_activation(), x)
    }

    /// Class probabilities, n x classes.
    ///
    /// # Errors
    /// [`TrainError::Shape`] for a wrong feature count.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TrainError> {
        self.check(x, None)?;
        let (_, z) = self.forward(x);
        Ok(if z.ncols() == 1 {
            let mut p = Array2::zeros((z.nrows(), 2));
            for (i, v) in z.column(0).iter().enumerate() {
                let s = sigmoid(*v);
                p[[i, 0]] = 1.0 - s;
                p[[i, 1]] = s;
            }
            p
        } else {
            let mut p = z;
            for mut row in p.rows_mut() {
                let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                row.mapv_inplace(|v| (v - m).exp());
                let s = row.sum();
                row /= s;
            }
            p
        })
    }

    /// The most probable class of each row.
    ///
    /// # Errors
    /// [`TrainError::Shape`] for a wrong feature count.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>, TrainError> {
        let p = self.predict_proba(x)?;
        Ok(p.rows()
            .into_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    )
                    .0
            })
            .collect())
    }

    /// Per-example cross-entropy losses.
    ///
    /// # Errors
    /// [`TrainError::Shape`] for a wrong feature count or bad labels.
    pub fn losses(&self, x: ArrayView2<f64>, y: &[usize]) -> Result<Array1<f64>, TrainError> {
        self.check(x, Some(y))?;
        let (_, z) = self.forward(x);
        Ok(head(&z, y).1)
    }

    /// Forward and backward pass for a batch, in f64.
    pub(crate) fn backward(&self, x: ArrayView2<f64>, y: &[usize]) -> Result<Backward, TrainError> {
        self.backward_with(x, y, Precision::F64)
    }

    /// Forward and backward pass for a batch in `precision`; the result in f64.
    pub(crate) fn backward_with(
        &self,
        x: ArrayView2<f64>,
        y: &[usize],
        precision: Precision,
    ) -> Result<Backward, TrainError> {
        self.check(x, Some(y))?;
        let act = self.hidden_activation();
        Ok(match precision {
            Precision::F64 => {
                let ws: Vec<ArrayView2<f64>> = self.layers.iter().map(|l| l.w.view()).collect();
                let bs: Vec<ArrayView1<f64>> = self.layers.iter().map(|l| l.b.view()).collect();
                let (inputs, deltas, losses) = backward_in(&ws, &bs, act, x, y);
                Backward {
                    inputs,
                    deltas,
                    losses,
                }
            }
            Precision::F32 => {
                let to32 = |v: &f64| *v as f32;
                let w32: Vec<Array2<f32>> = self.layers.iter().map(|l| l.w.map(to32)).collect();
                let b32: Vec<Array1<f32>> = self.layers.iter().map(|l| l.b.map(to32)).collect();
                let ws: Vec<ArrayView2<f32>> = w32.iter().map(Array2::view).collect();
                let bs: Vec<ArrayView1<f32>> = b32.iter().map(Array1::view).collect();
                let x32 = x.map(to32);
                let (inputs, deltas, losses) = backward_in(&ws, &bs, act, x32.view(), y);
                let to64 = |a: Vec<Array2<f32>>| -> Vec<Array2<f64>> {
                    a.iter().map(|m| m.mapv(f64::from)).collect()
                };
                Backward {
                    inputs: to64(inputs),
                    deltas: to64(deltas),
                    losses: losses.mapv(f64::from),
                }
            }
        })
    }

    /// Every example's gradient (n x P, in the order of [`Network::params`]) and loss.
    /// Materializes the full matrix: for tests and small batches.
    ///
    /// # Errors
    /// [`TrainError::Shape`] for a wrong feature count or bad labels.
    pub fn per_example_gradients(
        &self,
        x: ArrayView2<f64>,
        y: &[usize],
    ) -> Result<(Array2<f64>, Array1<f64>), TrainError> {
        let bw = self.backward(x, y)?;
        let n = x.nrows();
        let mut g = Array2::zeros((n, self.n_params()));
        for i in 0..n {
            let mut k = 0;
            for (h, d) in bw.inputs.iter().zip(&bw.deltas) {
                let (hi, di) = (h.row(i), d.row(i));
                for a in hi {
                    for b in di {
                        g[[i, k]] = a * b;
                        k += 1;
                    }
                }
                for b in di {
                    g[[i, k]] = *b;
                    k += 1;
                }
            }
        }
        Ok((g, bw.losses))
    }

    /// The sum over the batch of the per-example gradients, each scaled by `weights[i]`
    /// (clipping factors, or 1), flat in the order of [`Network::params`].
    pub(crate) fn weighted_gradient_sum(bw: &Backward, weights: &Array1<f64>) -> Vec<f64> {
        let mut out = Vec::new();
        for (h, d) in bw.inputs.iter().zip(&bw.deltas) {
            let scaled = d * &weights.view().insert_axis(Axis(1));
            let gw = h.t().dot(&scaled);
            out.extend(gw.iter());
            out.extend(scaled.sum_axis(Axis(0)).iter());
        }
        out
    }

    /// Every example's gradient L2 norm, without materializing the gradients.
    pub(crate) fn per_example_norms(bw: &Backward) -> Array1<f64> {
        let n = bw.losses.len();
        let mut sq = Array1::<f64>::zeros(n);
        for (h, d) in bw.inputs.iter().zip(&bw.deltas) {
            let hn = h.map_axis(Axis(1), |r| r.dot(&r));
            let dn = d.map_axis(Axis(1), |r| r.dot(&r));
            sq += &(&dn * &(hn + 1.0));
        }
        sq.mapv(f64::sqrt)
    }
}
