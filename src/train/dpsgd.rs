//! The training loop: minibatch SGD on Poisson-sampled batches, and DP-SGD (Abadi et al.
//! 2016) when a [`DpSgd`] setting is given.
//!
//! Each DP-SGD step: Poisson-sample a batch (rate q), clip every example's gradient to L2
//! norm C, add Gaussian noise of standard deviation sigma C to the clipped sum through
//! [`crate::dp::release::gaussian_vector`] (exact discrete noise on a grid, no
//! floating-point sampling attack), divide by the expected batch size q n, and update. The
//! privacy record is computed by the DP layer's accountant for the steps actually taken.
//!
//! ```
//! use shroud::data::hospitals::{generate, HospitalConfig};
//! use shroud::dp::{calibrate::Accountant, Delta, NoiseMultiplier, SamplingRate};
//! use shroud::train::dpsgd::{train, ClipNorm, DpSgd, TrainConfig};
//! use shroud::train::network::{Architecture, Network};
//! use shroud::data::scaler::Scaler;
//! let h = generate(&HospitalConfig::new(500, 1, 1).unwrap());
//! let data = Scaler::standardize(&h.hospitals[0]).apply(&h.hospitals[0]).unwrap();
//! let mut net = Network::new(&Architecture::Logistic, 6, 2, 0).unwrap();
//! let cfg = TrainConfig::new(2, SamplingRate::new(0.1).unwrap(), 0.5);
//! let dp = DpSgd {
//!     clip: ClipNorm::new(1.0).unwrap(),
//!     sigma: NoiseMultiplier::new(1.0).unwrap(),
//!     delta: Delta::new(1e-5).unwrap(),
//!     accountant: Accountant::Rdp,
//! };
//! let report = train(&mut net, &data, &cfg, Some(&dp), &mut shroud::rng::seeded(2)).unwrap();
//! assert_eq!(report.steps, 20);
//! let p = report.privacy.unwrap();
//! assert!(p.epsilon > 0.0 && p.epsilon < 10.0);
//! ```

use ndarray::{Array1, Array2, ArrayView2};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::network::{Network, Precision};
use super::optim::{Optimizer, OptimizerConfig};
use super::sampler::PoissonSampler;
use crate::data::Dataset;
use crate::dp::calibrate::{Accountant, dpsgd_epsilon};
use crate::dp::release::gaussian_vector;
use crate::dp::{Delta, DpError, NoiseMultiplier, SamplingRate};

/// A validated clipping norm C: finite and > 0.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct ClipNorm(f64);

impl ClipNorm {
    /// # Errors
    /// [`DpError::InvalidParameter`] unless 0 < C < infinity.
    pub fn new(c: f64) -> Result<Self, DpError> {
        if c.is_finite() && c > 0.0 {
            Ok(ClipNorm(c))
        } else {
            Err(DpError::InvalidParameter(format!(
                "clipping norm must be positive and finite, got {c}"
            )))
        }
    }
    /// The norm.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// DP-SGD settings: clipping norm, noise multiplier, delta and accountant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DpSgd {
    /// Per-example L2 clipping norm C.
    pub clip: ClipNorm,
    /// Noise multiplier sigma: noise standard deviation sigma C on the clipped sum.
    pub sigma: NoiseMultiplier,
    /// The delta at which epsilon is reported.
    pub delta: Delta,
    /// The accountant (RDP by default).
    pub accountant: Accountant,
}

/// Training settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the data: the run takes ceil(epochs / q) steps.
    pub epochs: u32,
    /// Poisson sampling rate q (expected batch size q n).
    pub sampling_rate: SamplingRate,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// Early stopping: stop after this many epochs without a lower validation loss and
    /// keep the best parameters (used only by [`train_validated`]).
    pub patience: Option<u32>,
    /// Arithmetic of the forward and backward passes (f64 by default).
    pub precision: Precision,
}

impl TrainConfig {
    /// `epochs` epochs at rate q with plain SGD at learning rate `lr`.
    pub fn new(epochs: u32, sampling_rate: SamplingRate, lr: f64) -> Self {
        TrainConfig {
            epochs,
            sampling_rate,
            optimizer: OptimizerConfig::sgd(lr),
            patience: None,
            precision: Precision::F64,
        }
    }

    /// The number of steps: ceil(epochs / q).
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] for zero epochs, q = 0, or more than 10^9 steps.
    pub fn steps(&self) -> Result<u64, TrainError> {
        let q = self.sampling_rate.get();
        let steps = (f64::from(self.epochs) / q).ceil();
        if self.epochs == 0 || q == 0.0 || steps.is_nan() || steps > 1e9 {
            return Err(TrainError::InvalidParameter(format!(
                "{} epochs at sampling rate {q}: need epochs >= 1, q > 0, at most 10^9 steps",
                self.epochs
            )));
        }
        Ok(steps as u64)
    }
}

/// The privacy of a training run, as stored with the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacyRecord {
    /// epsilon for the steps taken, from the accountant.
    pub epsilon: f64,
    /// delta.
    pub delta: f64,
    /// sigma.
    pub noise_multiplier: f64,
    /// q.
    pub sampling_rate: f64,
    /// Steps actually taken.
    pub steps: u64,
    /// "rdp" or "pld".
    pub accountant: String,
    /// C.
    pub clip: f64,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Steps taken.
    pub steps: u64,
    /// Mean per-example loss of the sampled batches in each epoch. Computed on the private
    /// data and not noised: a diagnostic for the data owner, not for release.
    pub epoch_losses: Vec<f64>,
    /// The privacy record (None without DP).
    pub privacy: Option<PrivacyRecord>,
    /// Mean validation loss after each epoch (empty without validation data).
    pub validation_losses: Vec<f64>,
}

/// The features of `data` as an n x d matrix.
pub fn feature_matrix(data: &Dataset) -> Array2<f64> {
    // the length is len * n_features by construction of a Dataset
    Array2::from_shape_vec((data.len(), data.n_features()), data.features().to_vec())
        .unwrap_or_else(|_| Array2::zeros((0, data.n_features())))
}

fn gather(x: ArrayView2<f64>, y: &[usize], idx: &[usize]) -> (Array2<f64>, Vec<usize>) {
    (
        x.select(ndarray::Axis(0), idx),
        idx.iter().map(|&i| y[i]).collect(),
    )
}

/// The batch gradient: the clipped sum (DP) or the plain sum, and the losses.
fn batch_gradient(
    net: &Network,
    x: ArrayView2<f64>,
    y: &[usize],
    clip: Option<ClipNorm>,
    precision: Precision,
) -> Result<(Vec<f64>, Array1<f64>), TrainError> {
    let bw = net.backward_with(x, y, precision)?;
    let weights = match clip {
        Some(c) => clip_factors(&Network::per_example_norms(&bw), c),
        None => Array1::ones(x.nrows()),
    };
    Ok((Network::weighted_gradient_sum(&bw, &weights), bw.losses))
}

/// The sum of the per-example gradients, each clipped to L2 norm `clip`, computed without
/// materializing them (the path DP-SGD takes).
///
/// # Errors
/// [`TrainError::Shape`] when the batch does not fit the network.
pub fn clipped_gradient_sum(
    net: &Network,
    x: ArrayView2<f64>,
    y: &[usize],
    clip: ClipNorm,
) -> Result<Vec<f64>, TrainError> {
    Ok(batch_gradient(net, x, y, Some(clip), Precision::F64)?.0)
}

/// Every example's gradient clipped to L2 norm `clip` (n x P), materialized: for tests and
/// audits of [`clipped_gradient_sum`].
///
/// # Errors
/// [`TrainError::Shape`] when the batch does not fit the network.
pub fn clipped_per_example_gradients(
    net: &Network,
    x: ArrayView2<f64>,
    y: &[usize],
    clip: ClipNorm,
) -> Result<Array2<f64>, TrainError> {
    let (mut g, _) = net.per_example_gradients(x, y)?;
    let norms = g.map_axis(ndarray::Axis(1), |r| r.dot(&r).sqrt());
    let f = clip_factors(&norms, clip);
    for (mut row, k) in g.rows_mut().into_iter().zip(&f) {
        row *= *k;
    }
    Ok(g)
}

/// min(1, C' / |g_i|) with C' = C (1 - 1e-9): the margin covers the float error of scaling
/// and summing, so every clipped gradient has norm at most C, the sensitivity charged.
pub(crate) fn clip_factors(norms: &Array1<f64>, clip: ClipNorm) -> Array1<f64> {
    let c = clip.get() * (1.0 - 1e-9);
    norms.mapv(|n| if n > c { c / n } else { 1.0 })
}

/// Every check that can be made before the data is used: the data fits the network, the
/// step count and the optimizer's settings. Callers that charge a budget run it first, so
/// that a refused run spends nothing.
pub(crate) fn preflight(
    net: &Network,
    data: &Dataset,
    cfg: &TrainConfig,
) -> Result<(u64, Optimizer), TrainError> {
    if data.n_features() != net.n_features() || data.n_classes() != net.n_classes() {
        return Err(TrainError::Shape(format!(
            "data has {} features and {} classes, the model {} and {}",
            data.n_features(),
            data.n_classes(),
            net.n_features(),
            net.n_classes()
        )));
    }
    let steps = cfg.steps()?;
    Ok((steps, Optimizer::new(cfg.optimizer, net.n_params())?))
}

/// Trains `net` on `data` (features already scaled). With `dp`, every step is a DP-SGD step
/// and the report carries the privacy record for the steps taken. `rng` drives the Poisson
/// sampling and the noise: a CSPRNG from the OS for real runs
/// ([`crate::rng::chacha_from_os`]), seeded only in tests.
///
/// # Errors
/// [`TrainError::Shape`] when the data does not fit the network;
/// [`TrainError::InvalidParameter`] for bad settings; [`TrainError::Dp`] when the DP layer
/// refuses (checked before the first step where possible); [`TrainError::Diverged`].
///
/// # Privacy
/// With `dp`: the Poisson-subsampled Gaussian mechanism composed over the steps taken, as
/// accounted by `dp.accountant` ([`crate::dp::calibrate::dpsgd_epsilon`]). Without: none.
pub fn train<R: CryptoRng + ?Sized>(
    net: &mut Network,
    data: &Dataset,
    cfg: &TrainConfig,
    dp: Option<&DpSgd>,
    rng: &mut R,
) -> Result<TrainReport, TrainError> {
    train_validated(net, data, None, cfg, dp, rng)
}

/// As [`train`], with a validation set scored after every epoch; with
/// [`TrainConfig::patience`] the run stops early and keeps the parameters of the best
/// epoch, and the privacy record covers the steps actually taken.
///
/// # Errors
/// Those of [`train`]; [`TrainError::Shape`] for a validation set that does not fit.
///
/// # Privacy
/// As [`train`]. The validation set must not be private data (or be accounted for
/// elsewhere): choosing among the released iterates by it is post-processing of the
/// DP-SGD output only when it is public.
pub fn train_validated<R: CryptoRng + ?Sized>(
    net: &mut Network,
    data: &Dataset,
    validation: Option<&Dataset>,
    cfg: &TrainConfig,
    dp: Option<&DpSgd>,
    rng: &mut R,
) -> Result<TrainReport, TrainError> {
    train_observed(net, data, validation, cfg, dp, rng, None)
}

/// Called after every step with (steps taken, steps planned): a progress bar's hook.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// As [`train_validated`], calling `progress` after every step.
///
/// # Errors
/// Those of [`train_validated`].
///
/// # Privacy
/// As [`train_validated`]; the hook learns the step count only, which is public.
pub fn train_observed<R: CryptoRng + ?Sized>(
    net: &mut Network,
    data: &Dataset,
    validation: Option<&Dataset>,
    cfg: &TrainConfig,
    dp: Option<&DpSgd>,
    rng: &mut R,
    progress: Option<Progress<'_>>,
) -> Result<TrainReport, TrainError> {
    let (steps, mut opt) = preflight(net, data, cfg)?;
    let val = match validation {
        Some(v) => {
            preflight(net, v, cfg)?;
            Some((feature_matrix(v), v.labels()))
        }
        None => None,
    };
    let mut validation_losses = Vec::new();
    let mut best: Option<(f64, Vec<f64>)> = None;
    let mut since_best = 0u32;
    let q = cfg.sampling_rate;
    if let Some(dp) = dp {
        // refuse impossible accounting before touching the data
        dpsgd_epsilon(dp.accountant, q, dp.sigma, steps, dp.delta)?;
    }
    let x = feature_matrix(data);
    let y = data.labels();
    let sampler = PoissonSampler::new(data.len(), q);
    let expected = q.get() * data.len() as f64;
    let epochs = u64::from(cfg.epochs);
    // step s belongs to epoch floor(s epochs / steps) (u128: no overflow)
    let epoch_of = |s: u64| (u128::from(s) * u128::from(epochs) / u128::from(steps)) as u32;
    let mut params = net.params();
    let mut epoch_losses = Vec::new();
    let (mut loss_sum, mut loss_n) = (0.0, 0usize);
    let mut taken = 0u64;
    for step in 0..steps {
        let idx = sampler.sample(rng)?;
        let epoch = epoch_of(step);
        let grad = if idx.is_empty() {
            None
        } else {
            let (xb, yb) = gather(x.view(), y, &idx);
            let (g, losses) =
                batch_gradient(net, xb.view(), &yb, dp.map(|d| d.clip), cfg.precision)?;
            loss_sum += losses.sum();
            loss_n += losses.len();
            Some(g)
        };
        let update = match (dp, grad) {
            (Some(dp), g) => {
                let sum = g.unwrap_or_else(|| vec![0.0; params.len()]);
                let noisy = gaussian_vector(rng, &sum, dp.clip.get(), dp.sigma)?;
                Some(
                    noisy
                        .values
                        .iter()
                        .map(|v| v / expected)
                        .collect::<Vec<_>>(),
                )
            }
            (None, Some(g)) => {
                let b = idx.len() as f64;
                Some(g.iter().map(|v| v / b).collect())
            }
            (None, None) => None,
        };
        if let Some(u) = update {
            opt.step(&mut params, &u, epoch);
            if params.iter().any(|p| !p.is_finite()) {
                return Err(TrainError::Diverged { step });
            }
            net.set_params(&params)?;
        }
        taken += 1;
        if let Some(p) = progress {
            p(taken, steps);
        }
        if taken == steps || epoch_of(taken) != epoch {
            epoch_losses.push(if loss_n > 0 {
                loss_sum / loss_n as f64
            } else {
                f64::NAN
            });
            (loss_sum, loss_n) = (0.0, 0);
            if let Some((vx, vy)) = &val {
                let l = net.losses(vx.view(), vy)?.mean().unwrap_or(f64::NAN);
                validation_losses.push(l);
                if best.as_ref().is_none_or(|(b, _)| l < *b) {
                    best = Some((l, params.clone()));
                    since_best = 0;
                } else {
                    since_best += 1;
                }
                if cfg.patience.is_some_and(|p| since_best >= p) {
                    break;
                }
            }
        }
    }
    if cfg.patience.is_some()
        && let Some((_, p)) = best
    {
        net.set_params(&p)?;
    }
    let privacy = match dp {
        Some(dp) => {
            let (epsilon, _) = dpsgd_epsilon(dp.accountant, q, dp.sigma, taken, dp.delta)?;
            Some(PrivacyRecord {
                epsilon,
                delta: dp.delta.get(),
                noise_multiplier: dp.sigma.get(),
                sampling_rate: q.get(),
                steps: taken,
                accountant: dp.accountant.name().into(),
                clip: dp.clip.get(),
            })
        }
        None => None,
    };
    Ok(TrainReport {
        steps: taken,
        epoch_losses,
        privacy,
        validation_losses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_factors_bound_every_norm() {
        let norms = Array1::from(vec![0.0, 0.5, 1.0, 2.0, 1e9]);
        let c = ClipNorm::new(1.0).unwrap();
        let f = clip_factors(&norms, c);
        for (n, k) in norms.iter().zip(&f) {
            assert!(n * k <= 1.0);
            assert!(*k <= 1.0);
        }
        assert_eq!(f[1], 1.0);
    }
}
