//! The likelihood ratio attack (LiRA, Carlini et al. 2022, "Membership Inference Attacks
//! From First Principles"), online variant with a fixed (global) variance.
//!
//! The attacker knows the candidate rows (members and non-members together, the target's
//! population), the model's architecture, its scaler and its training recipe. It trains
//! `shadows` models on random halves of that population, paired so that every row is in
//! exactly half of them: shadow 2j takes a random half S, shadow 2j + 1 its complement.
//! For each row it records the shadows' logit-scaled confidence
//! phi = log(p / (1 - p)), with p the probability of the row's true class, and fits one
//! Gaussian to the values from the shadows that trained on the row (IN) and one to the
//! others (OUT): per-row means and, as the paper advises below 64 shadows, one pooled
//! variance per side. The score of a row is the log likelihood ratio
//! log N(phi_target; mu_in, s_in) - log N(phi_target; mu_out, s_out), where phi_target is
//! the target model's confidence on it.
//!
//! Shadow training uses the attacker's own seeded randomness; with a DP recipe the shadows
//! are trained by DP-SGD like the target.
//!
//! ```
//! use shroud::train::mia::lira::logit_confidence;
//! // loss ln 2 is p = 1/2: confidence 0
//! assert!(logit_confidence(std::f64::consts::LN_2).abs() < 1e-12);
//! assert!(logit_confidence(1e-3) > 6.0 && logit_confidence(5.0) < -4.0);
//! ```

use rand_core::Rng;

use super::{MiaReport, model_losses, report_from_scores};
use crate::data::Dataset;
use crate::train::TrainError;
use crate::train::dpsgd::{DpSgd, TrainConfig, train};
use crate::train::model_file::Model;
use crate::train::network::Network;

/// Most shadow models one attack may train.
pub const MAX_SHADOWS: u32 = 1024;

/// How the attacker trains its shadow models.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiraConfig {
    /// Number of shadow models: even, 2 to [`MAX_SHADOWS`].
    pub shadows: u32,
    /// The shadows' training recipe (the target's, as far as the attacker knows it).
    pub train: TrainConfig,
    /// DP-SGD settings of the shadows (the target's record), or None.
    pub dp: Option<DpSgd>,
    /// Seed of the halves, the shadows' initialization, sampling and noise.
    pub seed: u64,
}

impl LiraConfig {
    /// The recipe that the model file states, for `shadows` shadows on a population of
    /// `population` rows: with a privacy record, its sampling rate, epochs (steps times q,
    /// rounded) and DP-SGD settings; without one, rate min(1, 256 / (population / 2)) and
    /// `epochs`. SGD with momentum 0.9 at rate `lr` either way (`shroud train`'s default).
    ///
    /// # Errors
    /// [`TrainError::Dp`] for a record whose values are out of range,
    /// [`TrainError::ModelFile`] for an unknown accountant name.
    pub fn from_model(
        model: &Model,
        shadows: u32,
        population: usize,
        epochs: u32,
        lr: f64,
        seed: u64,
    ) -> Result<Self, TrainError> {
        use crate::dp::calibrate::Accountant;
        use crate::dp::{Delta, NoiseMultiplier, SamplingRate};
        use crate::train::dpsgd::ClipNorm;
        use crate::train::optim::Rule;
        let (q, epochs, dp) = match &model.privacy {
            Some(p) => {
                let accountant = match p.accountant.as_str() {
                    "rdp" => Accountant::Rdp,
                    "pld" => Accountant::Pld,
                    other => {
                        return Err(TrainError::ModelFile(format!(
                            "unknown accountant {other:?}"
                        )));
                    }
                };
                let e = (p.steps as f64 * p.sampling_rate).round().clamp(1.0, 1e6) as u32;
                let dp = DpSgd {
                    clip: ClipNorm::new(p.clip)?,
                    sigma: NoiseMultiplier::new(p.noise_multiplier)?,
                    delta: Delta::new(p.delta)?,
                    accountant,
                };
                (p.sampling_rate, e, Some(dp))
            }
            None => ((512.0 / population.max(1) as f64).min(1.0), epochs, None),
        };
        let mut train = TrainConfig::new(epochs, SamplingRate::new(q)?, lr);
        train.optimizer.rule = Rule::Sgd { momentum: 0.9 };
        Ok(LiraConfig {
            shadows,
            train,
            dp,
            seed,
        })
    }
}

/// The logit-scaled confidence log(p / (1 - p)) of a row whose cross-entropy loss is
/// `loss` (p = e^-loss), computed stably; losses below 1e-30 count as 1e-30 so the value
/// stays finite.
pub fn logit_confidence(loss: f64) -> f64 {
    let l = loss.max(1e-30);
    -l - (-(-l).exp_m1()).ln()
}

fn confidences(model: &Model, d: &Dataset) -> Result<Vec<f64>, TrainError> {
    Ok(model_losses(model, d)?
        .into_iter()
        .map(logit_confidence)
        .collect())
}

/// Mean and pooled variance of the deviations from per-row means; rows with no values get
/// the mean of all values.
fn fit(values: &[Vec<f64>]) -> (Vec<f64>, f64) {
    let all: Vec<f64> = values.iter().flatten().copied().collect();
    let global = if all.is_empty() {
        0.0
    } else {
        all.iter().sum::<f64>() / all.len() as f64
    };
    let means: Vec<f64> = values
        .iter()
        .map(|v| {
            if v.is_empty() {
                global
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        })
        .collect();
    let (mut ss, mut n) = (0.0, 0usize);
    for (v, m) in values.iter().zip(&means) {
        ss += v.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
        n += v.len();
    }
    let fitted = values.iter().filter(|v| !v.is_empty()).count();
    let var = if n > fitted {
        ss / (n - fitted) as f64
    } else {
        0.0
    };
    // a floor keeps the likelihood finite when the shadows agree exactly
    (means, var.max(1e-6))
}

fn log_normal(x: f64, mean: f64, var: f64) -> f64 {
    -0.5 * ((x - mean) * (x - mean) / var + var.ln())
}

/// Runs LiRA against `model`: the shadows train on halves of `members` and `nonmembers`
/// together, then every row is scored by its likelihood ratio.
///
/// # Errors
/// [`TrainError::InvalidParameter`] for an odd, zero or too large shadow count, or empty
/// sets; [`TrainError::Shape`] when the data does not fit the model; those of
/// [`train`] for the shadows (a DP recipe whose accounting fails, a diverging run).
pub fn lira_attack(
    model: &Model,
    members: &Dataset,
    nonmembers: &Dataset,
    cfg: &LiraConfig,
) -> Result<MiaReport, TrainError> {
    if cfg.shadows < 2 || !cfg.shadows.is_multiple_of(2) || cfg.shadows > MAX_SHADOWS {
        return Err(TrainError::InvalidParameter(format!(
            "{} shadow models: need an even number from 2 to {MAX_SHADOWS}",
            cfg.shadows
        )));
    }
    if members.is_empty() || nonmembers.is_empty() {
        return Err(TrainError::InvalidParameter(
            "need members and non-members".into(),
        ));
    }
    let target_m = confidences(model, members)?;
    let target_nm = confidences(model, nonmembers)?;
    // the population, scaled as the target saw it, with labels as the model's classes
    let names = model.feature_names.clone();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for d in [members, nonmembers] {
        x.extend_from_slice(model.scaler.apply(d)?.features());
        y.extend(model.class_indices(d)?);
    }
    let n = y.len();
    let d = names.len();
    let label = model.label.clone();
    let mut rng = crate::rng::seeded(cfg.seed);
    let mut ins: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut outs: Vec<Vec<f64>> = vec![Vec::new(); n];
    let full = Dataset::from_parts(
        names.clone(),
        &label,
        x.clone(),
        y.clone(),
        model.classes.clone(),
    );
    let eval_x = crate::train::dpsgd::feature_matrix(&full);
    for pair in 0..cfg.shadows / 2 {
        let half: Vec<bool> = (0..n).map(|_| rng.next_u32() & 1 == 1).collect();
        for side in [true, false] {
            let idx: Vec<usize> = (0..n).filter(|&i| half[i] == side).collect();
            if idx.is_empty() {
                continue;
            }
            let sx: Vec<f64> = idx
                .iter()
                .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
                .collect();
            let sy: Vec<usize> = idx.iter().map(|&i| y[i]).collect();
            let subset = Dataset::from_parts(names.clone(), &label, sx, sy, model.classes.clone());
            let k = u64::from(pair) * 2 + u64::from(side);
            let mut net = Network::new(
                model.network.architecture(),
                d,
                model.classes.len(),
                cfg.seed.wrapping_add(k),
            )?;
            let mut shadow_rng = crate::rng::seeded(cfg.seed ^ (0x5eed_0000 + k));
            train(
                &mut net,
                &subset,
                &cfg.train,
                cfg.dp.as_ref(),
                &mut shadow_rng,
            )?;
            let losses = net.losses(eval_x.view(), &y)?;
            for i in 0..n {
                let phi = logit_confidence(losses[i]);
                if half[i] == side {
                    ins[i].push(phi);
                } else {
                    outs[i].push(phi);
                }
            }
        }
    }
    let (mu_in, var_in) = fit(&ins);
    let (mu_out, var_out) = fit(&outs);
    let score = |i: usize, phi: f64| {
        log_normal(phi, mu_in[i], var_in) - log_normal(phi, mu_out[i], var_out)
    };
    let m: Vec<f64> = target_m
        .iter()
        .enumerate()
        .map(|(i, &p)| score(i, p))
        .collect();
    let off = target_m.len();
    let nm: Vec<f64> = target_nm
        .iter()
        .enumerate()
        .map(|(i, &p)| score(off + i, p))
        .collect();
    report_from_scores(model, &m, &nm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_pools_the_deviations() {
        let (m, v) = fit(&[vec![1.0, 3.0], vec![10.0, 12.0], vec![]]);
        assert_eq!(m, vec![2.0, 11.0, 6.5]);
        // deviations +-1 four times, 4 values, 2 fitted means: 4 / 2
        assert!((v - 2.0).abs() < 1e-12);
    }

    #[test]
    fn logit_confidence_is_stable_at_the_extremes() {
        assert!(logit_confidence(0.0).is_finite());
        assert!(logit_confidence(700.0).is_finite());
        assert!(logit_confidence(0.0) > 60.0);
    }
}
