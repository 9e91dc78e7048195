//! Errors of federated learning.

use thiserror::Error;

use crate::dp::DpError;
use crate::secagg::SecAggError;
use crate::train::TrainError;

/// What went wrong in a federated run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FlError {
    /// A setting is out of range or inconsistent; the text says which.
    #[error("invalid federated-learning setting: {0}")]
    InvalidConfig(String),
    /// Too few participants took part in a round for the aggregation rule.
    #[error("round {round}: {joined} participants sent updates, {needed} needed")]
    TooFewParticipants {
        /// The round.
        round: u32,
        /// How many sent an update.
        joined: usize,
        /// How many the rule needs.
        needed: usize,
    },
    /// An update has the wrong length or a non-finite value.
    #[error("participant {participant}: {reason}")]
    BadUpdate {
        /// Who sent it.
        participant: u32,
        /// What is wrong.
        reason: String,
    },
    /// Local training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The DP layer refused (for example a budget that cannot pay).
    #[error(transparent)]
    Dp(#[from] DpError),
    /// Secure aggregation failed (for example too many dropouts).
    #[error(transparent)]
    SecAgg(#[from] SecAggError),
}
