//! The coordinator: selects each round's participants, aggregates their updates and
//! applies the result with a server learning rate and momentum (FedAvg, FedAvgM).

use rand_core::Rng;

use super::error::FlError;
use super::robust::{RobustRule, weighted_mean};
use super::secure::SecureConfig;
use crate::train::network::Network;

/// How each round's participants are chosen (seeded, and logged in [`RoundLog`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Selection {
    /// Everyone, every round.
    All,
    /// A uniform random fraction, at least `min`.
    Fraction {
        /// Fraction of the participants.
        fraction: f64,
        /// Fewest selected.
        min: usize,
    },
    /// As `Fraction`, drawn with probability proportional to data size (weighted
    /// sampling without replacement, Efraimidis and Spirakis 2006).
    WeightedBySize {
        /// Fraction of the participants.
        fraction: f64,
        /// Fewest selected.
        min: usize,
    },
}

/// How updates are combined.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregation {
    /// The coordinator sees only the weighted sum (secure aggregation).
    Secure(SecureConfig),
    /// Plaintext FedAvg: the mean weighted by data size.
    Plain,
    /// A robust rule over plaintext updates (unweighted).
    Robust(RobustRule),
}

/// The coordinator's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerConfig {
    /// Rounds to run.
    pub rounds: u32,
    /// Server learning rate (1 with no momentum is FedAvg).
    pub server_lr: f64,
    /// Server momentum in [0, 1) (FedAvgM when positive).
    pub server_momentum: f64,
    /// Who takes part in a round.
    pub selection: Selection,
    /// How updates are combined.
    pub aggregation: Aggregation,
    /// L2 bound every participant applies to its own update (norm bounding).
    pub update_clip: Option<f64>,
    /// Seed of the selection.
    pub seed: u64,
}

impl ServerConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`FlError::InvalidConfig`] naming the setting.
    pub fn validate(&self) -> Result<(), FlError> {
        let bad = |m: String| Err(FlError::InvalidConfig(m));
        if self.rounds == 0 || self.rounds > 100_000 {
            return bad(format!("rounds {}: must be 1 to 100000", self.rounds));
        }
        if !(self.server_lr.is_finite() && self.server_lr > 0.0) {
            return bad(format!(
                "server learning rate {}: must be positive",
                self.server_lr
            ));
        }
        if !(0.0..1.0).contains(&self.server_momentum) {
            return bad(format!(
                "server momentum {}: must be in [0, 1)",
                self.server_momentum
            ));
        }
        if let Some(c) = self.update_clip
            && !(c.is_finite() && c > 0.0)
        {
            return bad(format!("update bound {c}: must be positive"));
        }
        if let Selection::Fraction { fraction, .. } | Selection::WeightedBySize { fraction, .. } =
            self.selection
            && !(fraction > 0.0 && fraction <= 1.0)
        {
            return bad(format!("selection fraction {fraction}: must be in (0, 1]"));
        }
        if let Aggregation::Secure(s) = self.aggregation
            && self.update_clip != Some(s.update_clip)
        {
            return bad(
                "secure aggregation bounds updates by its own S: set update_clip to it".into(),
            );
        }
        Ok(())
    }
}

/// What happened in one round.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundLog {
    /// The round (from 1).
    pub round: u32,
    /// Selected participants.
    pub selected: Vec<u32>,
    /// Participants whose updates are in the aggregate.
    pub included: Vec<u32>,
    /// Participants that declined, with the reason.
    pub declined: Vec<(u32, String)>,
    /// Participants that dropped out mid-round.
    pub dropped: Vec<u32>,
    /// L2 norm of the applied aggregate.
    pub aggregate_norm: f64,
    /// Accuracy on the coordinator's validation set after the round, if it has one.
    pub validation_accuracy: Option<f64>,
}

/// The coordinator's state after a round, written so that a crashed coordinator resumes
/// where it stopped.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The run.
    pub run_id: String,
    /// Rounds completed.
    pub round: u32,
    /// The global parameters.
    pub params: Vec<f64>,
    /// The server momentum buffer.
    pub velocity: Vec<f64>,
    /// The rounds so far.
    pub log: Vec<RoundLog>,
}

impl Checkpoint {
    /// Writes the checkpoint atomically (a temporary file renamed over `path`).
    ///
    /// # Errors
    /// [`FlError::InvalidConfig`] naming the path when it cannot be written.
    pub fn save(&self, path: &std::path::Path) -> Result<(), FlError> {
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec(self).unwrap_or_default();
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| FlError::InvalidConfig(format!("checkpoint {}: {e}", path.display())))
    }

    /// Reads a checkpoint; `None` if the file does not exist.
    ///
    /// # Errors
    /// [`FlError::InvalidConfig`] for a file that cannot be read or parsed.
    pub fn load(path: &std::path::Path) -> Result<Option<Self>, FlError> {
        match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FlError::InvalidConfig(format!(
                "checkpoint {}: {e}",
                path.display()
            ))),
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| FlError::InvalidConfig(format!("checkpoint {}: {e}", path.display()))),
        }
    }
}

/// The coordinator's state between rounds.
#[derive(Debug)]
pub struct Coordinator {
    cfg: ServerConfig,
    global: Network,
    velocity: Vec<f64>,
    round: u32,
}

impl Coordinator {
    /// Starts from `initial`.
    ///
    /// # Errors
    /// [`FlError::InvalidConfig`] for bad settings.
    pub fn new(cfg: ServerConfig, initial: Network) -> Result<Self, FlError> {
        cfg.validate()?;
        let velocity = vec![0.0; initial.n_params()];
        Ok(Coordinator {
            cfg,
            global: initial,
            velocity,
            round: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// The global model.
    pub fn global(&self) -> &Network {
        &self.global
    }

    /// Rounds completed.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// The state to checkpoint.
    pub fn checkpoint(&self, run_id: &str, log: &[RoundLog]) -> Checkpoint {
        Checkpoint {
            run_id: run_id.to_string(),
            round: self.round,
            params: self.global.params(),
            velocity: self.velocity.clone(),
            log: log.to_vec(),
        }
    }

    /// Continues from a checkpoint of the same model.
    ///
    /// # Errors
    /// [`FlError::InvalidConfig`] when the checkpoint does not fit the model or is past
    /// the configured rounds.
    pub fn resume(&mut self, c: &Checkpoint) -> Result<(), FlError> {
        let d = self.global.n_params();
        if c.params.len() != d
            || c.velocity.len() != d
            || c.round > self.cfg.rounds
            || c.params.iter().chain(&c.velocity).any(|x| !x.is_finite())
        {
            return Err(FlError::InvalidConfig(format!(
                "the checkpoint (round {}, {} parameters) does not fit this run ({} rounds, {d} parameters)",
                c.round,
                c.params.len(),
                self.cfg.rounds
            )));
        }
        self.global.set_params(&c.params)?;
        self.velocity.clone_from(&c.velocity);
        self.round = c.round;
        Ok(())
    }

    /// Whether every round ran.
    pub fn done(&self) -> bool {
        self.round >= self.cfg.rounds
    }

    /// The participants of the next round, from (id, records) of those registered; the
    /// draw is seeded by the run's seed and the round number.
    pub fn select(&self, registered: &[(u32, usize)]) -> Vec<u32> {
        let mut rng = crate::rng::seeded(self.cfg.seed ^ (u64::from(self.round + 1) << 32));
        let n = registered.len();
        let count =
            |fraction: f64, min: usize| ((fraction * n as f64).ceil() as usize).max(min).min(n);
        let mut chosen: Vec<u32> = match self.cfg.selection {
            Selection::All => registered.iter().map(|r| r.0).collect(),
            Selection::Fraction { fraction, min } => {
                let mut keyed: Vec<(u64, u32)> =
                    registered.iter().map(|r| (rng.next_u64(), r.0)).collect();
                keyed.sort_unstable();
                keyed
                    .iter()
                    .take(count(fraction, min))
                    .map(|k| k.1)
                    .collect()
            }
            Selection::WeightedBySize { fraction, min } => {
                // key = u^(1 / w): the largest keys are a weighted sample without replacement.
                let mut keyed: Vec<(f64, u32)> = registered
                    .iter()
                    .map(|&(id, w)| {
                        let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                        (u.ln() / (w.max(1) as f64), id)
                    })
                    .collect();
                keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                keyed
                    .iter()
                    .take(count(fraction, min))
                    .map(|k| k.1)
                    .collect()
            }
        };
        chosen.sort_unstable();
        chosen
    }

    /// Combines plaintext updates (participant, update, records) by the configured rule.
    ///
    /// # Errors
    /// [`FlError::TooFewParticipants`]; [`FlError::BadUpdate`] for an update of the wrong
    /// length or with a non-finite value; [`FlError::InvalidConfig`] when the run is
    /// secure (use [`super::secure::secure_weighted_mean`]).
    pub fn aggregate_plain(&self, updates: &[(u32, Vec<f64>, f64)]) -> Result<Vec<f64>, FlError> {
        let d = self.global.n_params();
        for (id, u, w) in updates {
            if u.len() != d || u.iter().any(|x| !x.is_finite()) || !(w.is_finite() && *w >= 0.0) {
                return Err(FlError::BadUpdate {
                    participant: *id,
                    reason: format!("an update must be {d} finite numbers with a weight >= 0"),
                });
            }
        }
        let round = self.round + 1;
        let with_round = |e: FlError| match e {
            FlError::TooFewParticipants { joined, needed, .. } => FlError::TooFewParticipants {
                round,
                joined,
                needed,
            },
            e => e,
        };
        let vecs: Vec<Vec<f64>> = updates.iter().map(|u| u.1.clone()).collect();
        match self.cfg.aggregation {
            Aggregation::Plain => {
                if updates.is_empty() {
                    return Err(with_round(FlError::TooFewParticipants {
                        round,
                        joined: 0,
                        needed: 1,
                    }));
                }
                let w: Vec<f64> = updates.iter().map(|u| u.2).collect();
                Ok(weighted_mean(&vecs, &w))
            }
            Aggregation::Robust(rule) => rule.aggregate(&vecs).map_err(with_round),
            Aggregation::Secure(_) => Err(FlError::InvalidConfig(
                "a secure run aggregates with secure_weighted_mean".into(),
            )),
        }
    }

    /// Applies the aggregate update: velocity = momentum * velocity + update, then
    /// params += server_lr * velocity. Ends the round.
    ///
    /// # Errors
    /// [`FlError::BadUpdate`] for a wrong length or non-finite values.
    pub fn apply(&mut self, update: &[f64]) -> Result<(), FlError> {
        if update.len() != self.velocity.len() || update.iter().any(|x| !x.is_finite()) {
            return Err(FlError::BadUpdate {
                participant: u32::MAX,
                reason: "the aggregate has the wrong length or a non-finite value".into(),
            });
        }
        let mut p = self.global.params();
        for ((v, u), w) in self.velocity.iter_mut().zip(update).zip(p.iter_mut()) {
            *v = self.cfg.server_momentum * *v + u;
            *w += self.cfg.server_lr * *v;
        }
        self.global.set_params(&p)?;
        self.round += 1;
        Ok(())
    }
}
