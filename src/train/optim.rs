//! Optimizers: SGD with momentum and Adam, with L2 weight decay and a per-epoch
//! learning-rate decay. They see only the (noised) batch gradient, so they cost no privacy.
//!
//! ```
//! use shroud::train::optim::{Optimizer, OptimizerConfig};
//! let mut opt = Optimizer::new(OptimizerConfig::sgd(0.1), 1).unwrap();
//! let mut w = [1.0];
//! opt.step(&mut w, &[2.0], 0);
//! assert!((w[0] - 0.8).abs() < 1e-12);
//! ```

use super::TrainError;

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// SGD with (heavy-ball) momentum in [0, 1).
    Sgd {
        /// Momentum.
        momentum: f64,
    },
    /// Adam (Kingma and Ba 2015).
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator offset.
        eps: f64,
    },
}

/// An optimizer's hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerConfig {
    /// The update rule.
    pub rule: Rule,
    /// The learning rate of the first epoch.
    pub lr: f64,
    /// L2 weight decay lambda: lambda * w is added to the gradient.
    pub weight_decay: f64,
    /// The learning rate is multiplied by this after every epoch (1 = constant).
    pub lr_decay: f64,
}

impl OptimizerConfig {
    /// Plain SGD with this learning rate.
    pub fn sgd(lr: f64) -> Self {
        OptimizerConfig {
            rule: Rule::Sgd { momentum: 0.0 },
            lr,
            weight_decay: 0.0,
            lr_decay: 1.0,
        }
    }

    /// Adam with the usual betas (0.9, 0.999) and eps 1e-8.
    pub fn adam(lr: f64) -> Self {
        OptimizerConfig {
            rule: Rule::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            lr,
            weight_decay: 0.0,
            lr_decay: 1.0,
        }
    }
}

/// An optimizer and its state.
#[derive(Clone, Debug)]
pub struct Optimizer {
    cfg: OptimizerConfig,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Optimizer {
    /// An optimizer for `n_params` parameters.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] for a learning rate that is not positive and finite,
    /// a momentum or beta outside [0, 1), a negative weight decay, or a decay outside (0, 1].
    pub fn new(cfg: OptimizerConfig, n_params: usize) -> Result<Self, TrainError> {
        let unit = |v: f64| (0.0..1.0).contains(&v);
        let ok = cfg.lr.is_finite()
            && cfg.lr > 0.0
            && cfg.weight_decay.is_finite()
            && cfg.weight_decay >= 0.0
            && cfg.lr_decay > 0.0
            && cfg.lr_decay <= 1.0
            && match cfg.rule {
                Rule::Sgd { momentum } => unit(momentum),
                Rule::Adam { beta1, beta2, eps } => {
                    unit(beta1) && unit(beta2) && eps.is_finite() && eps > 0.0
                }
            };
        if !ok {
            return Err(TrainError::InvalidParameter(format!(
                "optimizer settings out of range: {cfg:?}"
            )));
        }
        Ok(Optimizer {
            cfg,
            m: vec![0.0; n_params],
            v: vec![0.0; n_params],
            t: 0,
        })
    }

    /// One update of `params` by the batch gradient `grad` during epoch `epoch` (from 0).
    pub fn step(&mut self, params: &mut [f64], grad: &[f64], epoch: u32) {
        let lr = self.cfg.lr * self.cfg.lr_decay.powi(epoch.min(i32::MAX as u32) as i32);
        let wd = self.cfg.weight_decay;
        self.t = self.t.saturating_add(1);
        match self.cfg.rule {
            Rule::Sgd { momentum } => {
                for ((p, g), m) in params.iter_mut().zip(grad).zip(&mut self.m) {
                    *m = momentum * *m + g + wd * *p;
                    *p -= lr * *m;
                }
            }
            Rule::Adam { beta1, beta2, eps } => {
                let (c1, c2) = (1.0 - beta1.powi(self.t), 1.0 - beta2.powi(self.t));
                for (((p, g), m), v) in params
                    .iter_mut()
                    .zip(grad)
                    .zip(&mut self.m)
                    .zip(&mut self.v)
                {
                    let g = g + wd * *p;
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                }
            }
        }
    }
}
