//! The privacy-utility report: a sweep over epsilon (mean and 95 % confidence interval of
//! holdout accuracy over seeds) against the non-private baseline, the loss-threshold
//! attack on one model per setting, and (with the `plots` feature) the plots and a
//! JSON/markdown summary.
//!
//! The data is split once (seeded) into a training part and a holdout; each seed changes
//! the initialization, and the sampling and noise come from the OS CSPRNG as in a real run.
//! The report is an experiment for the data owner: its accuracies and attack results are
//! computed on the private data without noise and are not a DP release.
//!
//! ```
//! use shroud::train::report::mean_ci95;
//! let (m, h) = mean_ci95(&[0.8, 0.82, 0.81, 0.79, 0.8]);
//! assert!((m - 0.804).abs() < 1e-12 && h > 0.0 && h < 0.02);
//! ```

use rand_core::Rng;
use serde::Serialize;

use super::TrainError;
use super::dpsgd::{ClipNorm, TrainConfig, train};
use super::mia::{MiaReport, loss_threshold_attack};
use super::model_file::Model;
use super::network::{Architecture, Network};
use super::optim::Rule;
use super::private::{EpsilonTarget, RunOptions, train_with_epsilon};
use crate::data::Dataset;
use crate::data::scaler::Scaler;
use crate::dp::calibrate::Accountant;
use crate::dp::{Delta, SamplingRate};

/// Mean and the half-width of a 95 % confidence interval (Student t; 0 for one value).
pub fn mean_ci95(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let sd = (xs.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1.0)).sqrt();
    // t quantiles 0.975 for 1..=29 degrees of freedom, then the normal's
    const T: [f64; 29] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045,
    ];
    let t = T.get(xs.len() - 2).copied().unwrap_or(1.96);
    (mean, t * sd / n.sqrt())
}

/// What to sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepConfig {
    /// The model.
    pub arch: Architecture,
    /// Target epsilons.
    pub epsilons: Vec<f64>,
    /// Epoch counts: one curve each (more epochs need more noise for the same epsilon).
    pub epochs: Vec<u32>,
    /// Seeds per setting (at least 2 for an interval).
    pub seeds: u64,
    /// delta of every private run.
    pub delta: Delta,
    /// Clipping norm.
    pub clip: ClipNorm,
    /// Poisson rate; None for an expected batch of 256 (or 1 for small data).
    pub sampling_rate: Option<f64>,
    /// Learning rate (SGD, momentum 0.9).
    pub lr: f64,
    /// Fraction of the rows held out for accuracy and as attack non-members.
    pub holdout_fraction: f64,
    /// Seed of the split.
    pub split_seed: u64,
}

/// One setting's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Target epsilon (None: not private).
    pub epsilon: Option<f64>,
    /// Epsilon of the steps taken, from the first seed's record.
    pub epsilon_spent: Option<f64>,
    /// Epochs.
    pub epochs: u32,
    /// The calibrated noise multiplier.
    pub noise_multiplier: Option<f64>,
    /// Holdout accuracy per seed.
    pub accuracies: Vec<f64>,
    /// Their mean.
    pub accuracy_mean: f64,
    /// 95 % confidence half-width.
    pub ci95: f64,
    /// The first seed's training loss per epoch.
    pub epoch_losses: Vec<f64>,
    /// Loss-threshold attack on the first seed's model: AUC.
    pub mia_auc: f64,
    /// Its TPR at each of [`super::mia::FPRS`].
    pub mia_tpr_at_fpr: Vec<f64>,
    /// Whether it beat the DP ceiling (a bug).
    pub mia_above_bound: bool,
    /// The attack's ROC curve (for plotting; not serialized).
    #[serde(skip)]
    pub roc: Vec<(f64, f64)>,
}

/// The sweep's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sweep {
    /// The model's name.
    pub model: String,
    /// Training rows.
    pub n_train: usize,
    /// Holdout rows.
    pub n_holdout: usize,
    /// Poisson rate used.
    pub sampling_rate: f64,
    /// delta.
    pub delta: f64,
    /// Seeds per setting.
    pub seeds: u64,
    /// The non-private baseline, one per epoch count.
    pub baselines: Vec<SweepPoint>,
    /// The private settings.
    pub points: Vec<SweepPoint>,
}

/// What the first seed of a setting reports beyond its accuracy.
type FirstRun = (Vec<f64>, MiaReport, Option<f64>, Option<f64>);

fn split(data: &Dataset, fraction: f64, seed: u64) -> Result<(Dataset, Dataset), TrainError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(TrainError::InvalidParameter(format!(
            "holdout fraction {fraction}: need 0 < f < 1"
        )));
    }
    let n = data.len();
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = crate::rng::seeded(seed);
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    let k = ((n as f64) * fraction).round() as usize;
    if k == 0 || k == n {
        return Err(TrainError::InvalidParameter(format!(
            "{n} rows cannot be split {fraction} for a holdout"
        )));
    }
    Ok((data.select(&idx[k..])?, data.select(&idx[..k])?))
}

/// Runs the sweep on `data` (raw features: standardized with the training part's
/// statistics, which the report does not protect).
///
/// # Errors
/// [`TrainError::InvalidParameter`] for empty lists, one seed, or a holdout that leaves a
/// part empty; those of the training and the attack.
pub fn sweep(data: &Dataset, cfg: &SweepConfig) -> Result<Sweep, TrainError> {
    if cfg.epsilons.is_empty() || cfg.epochs.is_empty() || cfg.seeds < 2 || cfg.seeds > 1000 {
        return Err(TrainError::InvalidParameter(
            "need at least one epsilon and one epoch count, and 2 to 1000 seeds".into(),
        ));
    }
    let (train_raw, holdout) = split(data, cfg.holdout_fraction, cfg.split_seed)?;
    let scaler = Scaler::standardize(&train_raw);
    let train_set = scaler.apply(&train_raw)?;
    let q = cfg
        .sampling_rate
        .unwrap_or_else(|| (256.0 / train_set.len() as f64).min(1.0));
    let q = SamplingRate::new(q)?;
    let model_of = |net: Network, privacy| Model {
        network: net,
        feature_names: data.feature_names().to_vec(),
        label: data.label_name().into(),
        classes: data.classes().to_vec(),
        scaler: scaler.clone(),
        privacy,
    };
    let run = |eps: Option<f64>, epochs: u32| -> Result<SweepPoint, TrainError> {
        let mut tc = TrainConfig::new(epochs, q, cfg.lr);
        tc.optimizer.rule = Rule::Sgd { momentum: 0.9 };
        let mut accs = Vec::new();
        // the first seed's losses, attack, epsilon spent and sigma
        let mut first: Option<FirstRun> = None;
        for seed in 0..cfg.seeds {
            let mut net = Network::new(
                &cfg.arch,
                train_set.n_features(),
                train_set.n_classes(),
                seed,
            )?;
            let mut rng = crate::rng::chacha_from_os();
            let report = match eps {
                None => train(&mut net, &train_set, &tc, None, &mut rng)?,
                Some(e) => {
                    let target = EpsilonTarget::new(e, cfg.delta, Accountant::Rdp)?;
                    train_with_epsilon(
                        &mut net,
                        &train_set,
                        &tc,
                        cfg.clip,
                        &target,
                        RunOptions::default(),
                        &mut rng,
                    )?
                }
            };
            let model = model_of(net, report.privacy.clone());
            accs.push(model.evaluate(&holdout)?.accuracy);
            if first.is_none() {
                let mia = loss_threshold_attack(&model, &train_raw, &holdout)?;
                let p = report.privacy.as_ref();
                first = Some((
                    report.epoch_losses.clone(),
                    mia,
                    p.map(|p| p.epsilon),
                    p.map(|p| p.noise_multiplier),
                ));
            }
        }
        let (mean, ci) = mean_ci95(&accs);
        // seeds >= 2, so the first run exists
        let (losses, mia, spent, sigma) =
            first.ok_or_else(|| TrainError::InvalidParameter("no seed ran".into()))?;
        Ok(SweepPoint {
            epsilon: eps,
            epsilon_spent: spent,
            epochs,
            noise_multiplier: sigma,
            accuracies: accs,
            accuracy_mean: mean,
            ci95: ci,
            epoch_losses: losses,
            mia_auc: mia.auc,
            mia_tpr_at_fpr: mia.tpr_at_fpr.iter().map(|t| t.2).collect(),
            mia_above_bound: mia.above_bound,
            roc: mia.roc,
        })
    };
    let mut baselines = Vec::new();
    let mut points = Vec::new();
    for &epochs in &cfg.epochs {
        baselines.push(run(None, epochs)?);
        for &e in &cfg.epsilons {
            points.push(run(Some(e), epochs)?);
        }
    }
    Ok(Sweep {
        model: cfg.arch.name(),
        n_train: train_set.len(),
        n_holdout: holdout.len(),
        sampling_rate: q.get(),
        delta: cfg.delta.get(),
        seeds: cfg.seeds,
        baselines,
        points,
    })
}

#[cfg(feature = "plots")]
mod write;
#[cfg(feature = "plots")]
pub use write::write_report;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ci95_matches_a_hand_computation() {
        let (m, h) = mean_ci95(&[1.0, 3.0]);
        // sd sqrt(2), t 12.706, n 2: 12.706 * sqrt(2) / sqrt(2)
        assert_eq!(m, 2.0);
        assert!((h - 12.706).abs() < 1e-9);
        assert_eq!(mean_ci95(&[5.0]), (5.0, 0.0));
    }
}
