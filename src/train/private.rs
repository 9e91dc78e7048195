//! Training to a target epsilon (Opacus's `make_private_with_epsilon`): the noise
//! multiplier is calibrated by the DP layer so that the planned steps never exceed the
//! target, the spend is charged to the budget ledger before training starts, and a short
//! budget refuses with [`DpError::BudgetExceeded`] having trained nothing.
//!
//! ```
//! use shroud::dp::{calibrate::Accountant, Delta, SamplingRate};
//! use shroud::train::private::{calibrate, EpsilonTarget};
//! use shroud::train::dpsgd::TrainConfig;
//! let cfg = TrainConfig::new(3, SamplingRate::new(0.01).unwrap(), 0.1);
//! let target = EpsilonTarget::new(3.0, Delta::new(1e-5).unwrap(), Accountant::Rdp).unwrap();
//! let plan = calibrate(&target, &cfg).unwrap();
//! assert!(plan.epsilon <= 3.0 && plan.steps == 300);
//! ```

use rand_core::CryptoRng;

use super::TrainError;
use super::dpsgd::{
    ClipNorm, DpSgd, Progress, TrainConfig, TrainReport, preflight, train_observed,
};
use super::network::Network;
use crate::data::Dataset;
use crate::dp::budget::Ledger;
use crate::dp::calibrate::{Accountant, calibrate_noise_multiplier};
use crate::dp::{Delta, DpError, NoiseMultiplier};

/// A target (epsilon, delta) and the accountant that must meet it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpsilonTarget {
    epsilon: f64,
    delta: Delta,
    accountant: Accountant,
}

impl EpsilonTarget {
    /// # Errors
    /// [`DpError::InvalidParameter`] unless epsilon is positive and finite.
    pub fn new(epsilon: f64, delta: Delta, accountant: Accountant) -> Result<Self, DpError> {
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(DpError::InvalidParameter(format!(
                "target epsilon must be positive and finite, got {epsilon}"
            )));
        }
        Ok(EpsilonTarget {
            epsilon,
            delta,
            accountant,
        })
    }
}

/// A calibrated plan: the noise multiplier and the epsilon of the planned steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// The smallest noise multiplier found whose epsilon meets the target.
    pub sigma: NoiseMultiplier,
    /// The epsilon of `steps` steps at that sigma (never above the target).
    pub epsilon: f64,
    /// The planned steps, ceil(epochs / q).
    pub steps: u64,
}

/// Calibrates sigma for the run `cfg` describes.
///
/// # Errors
/// [`TrainError::InvalidParameter`] for bad settings; [`TrainError::Dp`] when no noise
/// multiplier up to 1000 meets the target.
pub fn calibrate(target: &EpsilonTarget, cfg: &TrainConfig) -> Result<Plan, TrainError> {
    let steps = cfg.steps()?;
    let (sigma, epsilon) = calibrate_noise_multiplier(
        target.accountant,
        cfg.sampling_rate,
        steps,
        target.delta,
        target.epsilon,
    )?;
    Ok(Plan {
        sigma,
        epsilon,
        steps,
    })
}

/// Where to charge a run: a ledger and its (data set, principal) account.
#[derive(Clone, Copy, Debug)]
pub struct Charge<'a> {
    /// The ledger.
    pub ledger: &'a Ledger,
    /// The data set's name in the ledger.
    pub dataset: &'a str,
    /// Who spends.
    pub principal: &'a str,
}

/// What else a private run uses: a public validation set for early stopping, the
/// ledger account to charge, and a progress hook.
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// Public validation data (early stopping with [`TrainConfig::patience`]).
    pub validation: Option<&'a Dataset>,
    /// The account to charge before training.
    pub charge: Option<Charge<'a>>,
    /// Called after every step with (steps taken, steps planned).
    pub progress: Option<Progress<'a>>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("validation", &self.validation.map(Dataset::len))
            .field("charge", &self.charge)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Calibrates, charges the ledger (if any) the planned (epsilon, delta) once, then trains
/// (with early stopping on `opts.validation`, public data, when [`TrainConfig::patience`] is set;
/// the charge stays that of the planned steps, toward more loss).
///
/// # Errors
/// Those of [`calibrate`] and [`train_validated`](super::dpsgd::train_validated); [`TrainError::Dp`] with
/// [`DpError::BudgetExceeded`] when the account cannot pay, in which case nothing was
/// trained and nothing spent. A failure after the charge (a diverged run) keeps the charge:
/// the data was touched.
///
/// # Privacy
/// The run's epsilon is at most the target; the record's epsilon is that of the steps
/// taken.
pub fn train_with_epsilon<R: CryptoRng + ?Sized>(
    net: &mut Network,
    data: &Dataset,
    cfg: &TrainConfig,
    clip: ClipNorm,
    target: &EpsilonTarget,
    opts: RunOptions<'_>,
    rng: &mut R,
) -> Result<TrainReport, TrainError> {
    preflight(net, data, cfg)?;
    let plan = calibrate(target, cfg)?;
    if let Some(c) = opts.charge {
        c.ledger
            .spend(c.dataset, c.principal, plan.epsilon, target.delta.get())?;
    }
    let dp = DpSgd {
        clip,
        sigma: plan.sigma,
        delta: target.delta,
        accountant: target.accountant,
    };
    train_observed(
        net,
        data,
        opts.validation,
        cfg,
        Some(&dp),
        rng,
        opts.progress,
    )
}

/// Trains with a given noise multiplier, first charging the ledger (if any) the epsilon of
/// the planned steps at `dp.delta`.
///
/// # Errors
/// Those of [`train_validated`](super::dpsgd::train_validated); [`TrainError::Dp`] with [`DpError::BudgetExceeded`] when the account
/// cannot pay (nothing trained, nothing spent) or [`DpError::Unbounded`] when no finite
/// epsilon exists for the plan.
///
/// # Privacy
/// As [`train_validated`](super::dpsgd::train_validated); the charge is for the planned steps, at least the steps taken.
pub fn train_with_noise_multiplier<R: CryptoRng + ?Sized>(
    net: &mut Network,
    data: &Dataset,
    cfg: &TrainConfig,
    dp: &DpSgd,
    opts: RunOptions<'_>,
    rng: &mut R,
) -> Result<TrainReport, TrainError> {
    let (steps, _) = preflight(net, data, cfg)?;
    let (epsilon, _) = crate::dp::calibrate::dpsgd_epsilon(
        dp.accountant,
        cfg.sampling_rate,
        dp.sigma,
        steps,
        dp.delta,
    )?;
    if let Some(c) = opts.charge {
        c.ledger
            .spend(c.dataset, c.principal, epsilon, dp.delta.get())?;
    }
    train_observed(
        net,
        data,
        opts.validation,
        cfg,
        Some(dp),
        rng,
        opts.progress,
    )
}
