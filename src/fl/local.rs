//! Every party in one process: the coordinator, the participants, and (in secure mode)
//! secure aggregation with every message through its wire encoding. Attacks and dropouts
//! can be scripted for tests and experiments.

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use super::coordinator::{Aggregation, Coordinator, RoundLog};
use super::ddg::DdgPlan;
use super::error::FlError;
use super::participant::{Participant, RecordLevelPlan, Response};
use super::robust::l2_norm;
use super::secure::{secure_ddg_mean, secure_weighted_mean};
use crate::data::Dataset;
use crate::train::dpsgd::{TrainConfig, feature_matrix};
use crate::train::eval::accuracy;
use crate::train::network::Network;

/// A participant that cheats by sending a crafted update instead of its own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attack {
    /// Sends the negation of its update.
    SignFlip(u32),
    /// Sends its update times K (and skips norm bounding).
    Scale(u32, f64),
}

impl Attack {
    /// Parses `sign-flip:ID` or `scale:ID:K`.
    ///
    /// # Errors
    /// [`FlError::InvalidConfig`] for anything else.
    pub fn parse(s: &str) -> Result<Self, FlError> {
        let bad =
            || FlError::InvalidConfig(format!("attack {s:?}: expected sign-flip:ID or scale:ID:K"));
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["sign-flip", id] => Ok(Attack::SignFlip(id.parse().map_err(|_| bad())?)),
            ["scale", id, k] => {
                let k: f64 = k.parse().map_err(|_| bad())?;
                if !k.is_finite() {
                    return Err(bad());
                }
                Ok(Attack::Scale(id.parse().map_err(|_| bad())?, k))
            }
            _ => Err(bad()),
        }
    }

    fn target(&self) -> u32 {
        match *self {
            Attack::SignFlip(id) | Attack::Scale(id, _) => id,
        }
    }
}

/// A scripted run.
#[derive(Clone, Debug)]
pub struct LocalRun<'a> {
    /// Each participant's local training.
    pub local: TrainConfig,
    /// Record-level DP, if any.
    pub dp: Option<RecordLevelPlan>,
    /// Participant-level DP (needs secure aggregation; the participants must have been
    /// made with [`Participant::with_participant_level`] and the same plan).
    pub participant_dp: Option<DdgPlan>,
    /// Cheating participants.
    pub attacks: Vec<Attack>,
    /// (round, participant) -> the secure-aggregation round after which it vanishes
    /// (1 to 3, as in [`crate::secagg::run_local`]); in a plaintext run its update is lost.
    pub drops: BTreeMap<(u32, u32), u8>,
    /// The coordinator's validation set (public data).
    pub validation: Option<&'a Dataset>,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct FlReport {
    /// One entry per round.
    pub rounds: Vec<RoundLog>,
    /// Each participant's record-level epsilon for the rounds it joined (0 without DP).
    pub epsilon: Vec<(u32, f64)>,
}

/// The accuracy of `net` on `data`.
///
/// # Errors
/// [`FlError::Train`] when the data does not fit the network.
pub fn accuracy_on(net: &Network, data: &Dataset) -> Result<f64, FlError> {
    let pred = net.predict(feature_matrix(data).view())?;
    Ok(accuracy(&pred, data.labels()))
}

/// Runs the coordinator's remaining rounds with `participants` in this process.
///
/// # Errors
/// [`FlError::TooFewParticipants`] when a robust rule lacks updates; the errors of
/// local training, of secure aggregation (too many dropouts) and of the ledger.
pub fn run_local<R: CryptoRng + ?Sized>(
    coord: &mut Coordinator,
    participants: &mut [Participant],
    run: &LocalRun<'_>,
    rng: &mut R,
) -> Result<FlReport, FlError> {
    let mut rounds = Vec::new();
    let registered: Vec<(u32, usize)> = participants
        .iter()
        .map(|p| (p.id(), p.n_records()))
        .collect();
    let max_records = registered.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let cfg = *coord.config();
    if run.participant_dp.is_some() && !matches!(cfg.aggregation, Aggregation::Secure(_)) {
        return Err(FlError::InvalidConfig(
            "participant-level DP adds its noise inside secure aggregation: use secure mode".into(),
        ));
    }
    while !coord.done() {
        let round = coord.round() + 1;
        let selected = coord.select(&registered);
        let mut updates = Vec::new();
        let mut declined = Vec::new();
        let mut lost = Vec::new();
        let mut secagg_drops = BTreeMap::new();
        for p in participants
            .iter_mut()
            .filter(|p| selected.contains(&p.id()))
        {
            let id = p.id();
            let resp = p.local_update(
                coord.global(),
                &run.local,
                run.dp.as_ref(),
                cfg.update_clip,
                rng,
            )?;
            match resp {
                Response::Declined(why) => declined.push((id, why)),
                Response::Update { mut delta, weight } => {
                    for a in run.attacks.iter().filter(|a| a.target() == id) {
                        let k = match *a {
                            Attack::SignFlip(_) => -1.0,
                            Attack::Scale(_, k) => k,
                        };
                        delta.iter_mut().for_each(|x| *x *= k);
                    }
                    if let Some(&at) = run.drops.get(&(round, id)) {
                        if matches!(cfg.aggregation, Aggregation::Secure(_)) {
                            secagg_drops.insert(updates.len() as u32, at);
                        } else {
                            lost.push(id);
                            continue;
                        }
                    }
                    updates.push((id, delta, weight));
                }
            }
        }
        let secure = matches!(cfg.aggregation, Aggregation::Secure(_));
        // In secure mode a "sum" of one update is that update: the round is skipped.
        let (aggregate, included, dropped) = if updates.is_empty() || (secure && updates.len() < 2)
        {
            let mut dropped = lost;
            dropped.extend(updates.iter().map(|u| u.0));
            (vec![0.0; coord.global().n_params()], vec![], dropped)
        } else {
            match cfg.aggregation {
                Aggregation::Secure(s) => {
                    let mut session = [0u8; 32];
                    rng.fill_bytes(&mut session);
                    let m = match &run.participant_dp {
                        Some(plan) => {
                            secure_ddg_mean(&updates, plan, &s, &secagg_drops, session, rng)?
                        }
                        None => secure_weighted_mean(
                            &updates,
                            &s,
                            max_records,
                            &secagg_drops,
                            session,
                            rng,
                        )?,
                    };
                    let mut dropped = lost;
                    dropped.extend(m.dropped);
                    (m.mean, m.included, dropped)
                }
                _ => {
                    let agg = coord.aggregate_plain(&updates)?;
                    (agg, updates.iter().map(|u| u.0).collect(), lost)
                }
            }
        };
        let aggregate_norm = l2_norm(&aggregate);
        coord.apply(&aggregate)?;
        let validation_accuracy = match run.validation {
            Some(v) => Some(accuracy_on(coord.global(), v)?),
            None => None,
        };
        rounds.push(RoundLog {
            round,
            selected,
            included,
            declined,
            dropped,
            aggregate_norm,
            validation_accuracy,
        });
    }
    Ok(FlReport {
        rounds,
        epsilon: participants.iter().map(|p| (p.id(), p.epsilon())).collect(),
    })
}
