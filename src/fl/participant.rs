//! A participant (a hospital): trains the global model on its own records and returns
//! the change, after charging its own budget ledger for what the round will cost.

use rand_core::CryptoRng;

use super::ddg::DdgPlan;
use super::error::FlError;
use super::robust::clip_norm;
use crate::data::Dataset;
use crate::dp::budget::Ledger;
use crate::dp::calibrate::{Accountant, calibrate_noise_multiplier, dpsgd_epsilon};
use crate::dp::{Delta, NoiseMultiplier};
use crate::train::dpsgd::{ClipNorm, DpSgd, TrainConfig, train};
use crate::train::network::Network;

/// Record-level DP for a federated run: every participant runs DP-SGD locally, with the
/// noise calibrated so that joining all `rounds` rounds costs at most `epsilon`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecordLevelDp {
    /// The target epsilon per participant for the whole run.
    pub epsilon: f64,
    /// delta.
    pub delta: Delta,
    /// Per-example clipping norm.
    pub clip: ClipNorm,
    /// The accountant.
    pub accountant: Accountant,
}

/// The calibrated noise for a run: sigma, and the steps one round takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecordLevelPlan {
    /// The settings.
    pub dp: RecordLevelDp,
    /// The noise multiplier every participant uses.
    pub sigma: NoiseMultiplier,
    /// DP-SGD steps per round.
    pub steps_per_round: u64,
}

impl RecordLevelPlan {
    /// Calibrates sigma so that `rounds` rounds of `local` training cost at most
    /// `dp.epsilon`.
    ///
    /// # Errors
    /// [`FlError::Train`] for bad local settings; [`FlError::Dp`] if no sigma meets the
    /// target.
    ///
    /// # Privacy
    /// The epsilon of `rounds * steps_per_round` Poisson-subsampled Gaussian steps is at
    /// most the target; a participant that joins fewer rounds spends less.
    pub fn calibrate(dp: RecordLevelDp, local: &TrainConfig, rounds: u32) -> Result<Self, FlError> {
        let steps_per_round = local.steps()?;
        let total = steps_per_round.saturating_mul(u64::from(rounds));
        let (sigma, _) = calibrate_noise_multiplier(
            dp.accountant,
            local.sampling_rate,
            total,
            dp.delta,
            dp.epsilon,
        )?;
        Ok(RecordLevelPlan {
            dp,
            sigma,
            steps_per_round,
        })
    }
}

/// A participant's ledger account.
#[derive(Debug)]
pub struct LedgerAccount {
    /// The ledger.
    pub ledger: Ledger,
    /// The data set's name in it.
    pub dataset: String,
    /// The principal that spends.
    pub principal: String,
}

/// What a participant answers when asked to train.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// The change to the global parameters, and the weight (its number of records, or 1
    /// under DP: the exact count is not private).
    Update {
        /// New parameters minus the global ones.
        delta: Vec<f64>,
        /// The participant's number of records.
        weight: f64,
    },
    /// It does not take part in this round, and why (a short budget, unavailability).
    Declined(String),
}

/// What a participant has spent so far (kept across restarts with its state file).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Accounting {
    /// DP-SGD steps taken over the run.
    pub steps_taken: u64,
    /// Rounds trained in.
    pub rounds_joined: u32,
    /// epsilon of those steps.
    pub epsilon: f64,
}

/// A participant.
#[derive(Debug)]
pub struct Participant {
    id: u32,
    data: Dataset,
    account: Option<LedgerAccount>,
    participant_level: Option<DdgPlan>,
    availability: f64,
    steps_taken: u64,
    rounds_joined: u32,
    epsilon: f64,
}

impl Participant {
    /// A participant with its (already scaled) records and, optionally, the ledger
    /// account it charges.
    pub fn new(id: u32, data: Dataset, account: Option<LedgerAccount>) -> Self {
        Participant {
            id,
            data,
            account,
            participant_level: None,
            availability: 1.0,
            steps_taken: 0,
            rounds_joined: 0,
            epsilon: 0.0,
        }
    }

    /// Takes part under participant-level DP: before each round it joins it charges the
    /// epsilon that round adds under `plan` (instead of record-level DP-SGD).
    pub fn with_participant_level(mut self, plan: DdgPlan) -> Self {
        self.participant_level = Some(plan);
        self
    }

    /// Takes part in a round it is selected for with probability `p` (a phone on a
    /// charger, a hospital's nightly window); otherwise it declines, before training or
    /// charging anything. `p` is clamped to [0, 1].
    pub fn with_availability(mut self, p: f64) -> Self {
        self.availability = if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
        self
    }

    /// Its identifier.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Its number of records.
    pub fn n_records(&self) -> usize {
        self.data.len()
    }

    /// What it has spent so far.
    pub fn accounting(&self) -> Accounting {
        Accounting {
            steps_taken: self.steps_taken,
            rounds_joined: self.rounds_joined,
            epsilon: self.epsilon,
        }
    }

    /// Restores what it had spent before a restart (from its own state file: the ledger
    /// holds the charges themselves).
    pub fn restore(&mut self, a: Accounting) {
        self.steps_taken = a.steps_taken;
        self.rounds_joined = a.rounds_joined;
        self.epsilon = a.epsilon;
    }

    /// Rounds it trained in.
    pub fn rounds_joined(&self) -> u32 {
        self.rounds_joined
    }

    /// The record-level epsilon of the rounds it joined (0 without DP).
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// Charges the ledger (if any); `Some(reason)` when the budget is short.
    fn charge(&self, cost: f64, delta: f64) -> Result<Option<String>, FlError> {
        let Some(a) = &self.account else {
            return Ok(None);
        };
        match a.ledger.spend(&a.dataset, &a.principal, cost, delta) {
            Ok(()) => Ok(None),
            Err(crate::dp::DpError::BudgetExceeded { remaining, .. }) => Ok(Some(format!(
                "budget: this round costs epsilon {cost:.4}, {:.4} remains",
                remaining.0
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Trains `global` on its records and returns the change, clipped to L2 norm
    /// `update_clip` when given. With record-level DP it first charges its ledger the
    /// epsilon this round adds (the accountant's epsilon after the round minus before it,
    /// and delta with the first round), and declines if the ledger refuses.
    ///
    /// # Errors
    /// [`FlError::Train`] when training fails; [`FlError::Dp`] for ledger storage errors
    /// or accounting the DP layer refuses (a short budget is a decline, not an error).
    ///
    /// # Privacy
    /// Record-level: the charges telescope to the accountant's epsilon for all the steps
    /// this participant took, at the run's delta.
    pub fn local_update<R: CryptoRng + ?Sized>(
        &mut self,
        global: &Network,
        local: &TrainConfig,
        dp: Option<&RecordLevelPlan>,
        update_clip: Option<f64>,
        rng: &mut R,
    ) -> Result<Response, FlError> {
        if self.availability < 1.0 {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            if u >= self.availability {
                return Ok(Response::Declined("not available this round".into()));
            }
        }
        let mut net = global.clone();
        let before = net.params();
        if let Some(plan) = self.participant_level {
            let after = plan.epsilon(self.rounds_joined + 1);
            let delta = if self.rounds_joined == 0 {
                plan.dp.delta
            } else {
                0.0
            };
            if let Some(why) = self.charge((after - self.epsilon).max(0.0), delta)? {
                return Ok(Response::Declined(why));
            }
            self.epsilon = after;
        }
        let sgd = match dp {
            Some(plan) => {
                let after_steps = self.steps_taken + plan.steps_per_round;
                let q = local.sampling_rate;
                let (eps_after, _) = dpsgd_epsilon(
                    plan.dp.accountant,
                    q,
                    plan.sigma,
                    after_steps,
                    plan.dp.delta,
                )?;
                let cost = (eps_after - self.epsilon).max(0.0);
                let delta = if self.steps_taken == 0 {
                    plan.dp.delta.get()
                } else {
                    0.0
                };
                if let Some(why) = self.charge(cost, delta)? {
                    return Ok(Response::Declined(why));
                }
                self.steps_taken = after_steps;
                self.epsilon = eps_after;
                Some(DpSgd {
                    clip: plan.dp.clip,
                    sigma: plan.sigma,
                    delta: plan.dp.delta,
                    accountant: plan.dp.accountant,
                })
            }
            None => None,
        };
        train(&mut net, &self.data, local, sgd.as_ref(), rng)?;
        self.rounds_joined += 1;
        let mut delta: Vec<f64> = net
            .params()
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect();
        if let Some(c) = update_clip {
            clip_norm(&mut delta, c);
        }
        // Under DP the exact record count would be a non-private release: weight 1.
        let private = dp.is_some() || self.participant_level.is_some();
        Ok(Response::Update {
            delta,
            weight: if private { 1.0 } else { self.data.len() as f64 },
        })
    }
}
