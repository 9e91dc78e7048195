//! Wire messages between the coordinator and a participant: JSON objects tagged by
//! `type`, one per channel frame. Secure aggregation runs its own binary messages on the
//! same channel between a [`ToParticipant::SecAgg`] and the next JSON message.
//!
//! Frames are bounded by [`max_frame`] for the session's model size before they are
//! parsed, and every decoded message is checked against the session (parameter counts,
//! finite numbers, the round in progress) by the driver.

use serde::{Deserialize, Serialize};

use crate::data::scaler::Scaler;
use crate::train::network::Architecture;

/// Local training settings, as the coordinator sends them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// Local epochs per round.
    pub epochs: u32,
    /// Poisson sampling rate.
    pub sampling_rate: f64,
    /// Learning rate.
    pub lr: f64,
}

/// Record-level DP settings, as calibrated by the coordinator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpSettings {
    /// Target epsilon per participant for the run.
    pub epsilon: f64,
    /// delta.
    pub delta: f64,
    /// Per-example clipping norm.
    pub clip: f64,
    /// `rdp` or `pld`.
    pub accountant: String,
}

/// Everything a participant needs to take part, sent once after the handshake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Identifies the run (a resumed coordinator keeps it).
    pub run_id: String,
    /// Rounds in the run.
    pub rounds: u32,
    /// The model.
    pub architecture: Architecture,
    /// Feature columns, in order.
    pub feature_names: Vec<String>,
    /// Label values, in class order.
    pub classes: Vec<f64>,
    /// The scaling every participant applies (computed on the coordinator's public data or
    /// from public bounds).
    pub scaler: Scaler,
    /// Local training.
    pub local: LocalSettings,
    /// Record-level DP, if any.
    pub dp: Option<DpSettings>,
    /// L2 bound on each update.
    pub update_clip: Option<f64>,
    /// Bits per coordinate when updates are summed securely; `None` for plaintext.
    pub secure_bits: Option<u32>,
    /// Participant-level DP: each participant adds its share of discrete Gaussian noise
    /// (calibrated by itself from these settings and the update bound).
    #[serde(default)]
    pub participant_dp: Option<ParticipantDpSettings>,
}

/// Participant-level DP settings, as the coordinator sends them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantDpSettings {
    /// Target epsilon for a participant that joins every round.
    pub epsilon: f64,
    /// delta.
    pub delta: f64,
    /// Participants whose noise is guaranteed to be in each round's sum.
    pub min_survivors: u32,
}

/// Coordinator to participant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToParticipant {
    /// The run's settings.
    Setup(Box<Setup>),
    /// Train from these global parameters.
    Train {
        /// The round (from 1).
        round: u32,
        /// The global parameters.
        params: Vec<f64>,
        /// The weight normalization (largest registered record count).
        max_records: f64,
    },
    /// Not selected this round.
    Skip {
        /// The round.
        round: u32,
    },
    /// Sum the update securely as client `index` of the session that follows.
    SecAgg {
        /// The round.
        round: u32,
        /// Client id in the secure-aggregation session.
        index: u32,
    },
    /// The run is over.
    Finish {
        /// The final global parameters.
        params: Vec<f64>,
    },
    /// The coordinator ends the session.
    Abort {
        /// Why.
        reason: String,
    },
}

/// Participant to coordinator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromParticipant {
    /// Answer to the setup: the participant's number of records.
    Hello {
        /// Records.
        records: u64,
    },
    /// A plaintext update.
    Update {
        /// The round.
        round: u32,
        /// New parameters minus the global ones.
        delta: Vec<f64>,
    },
    /// Trained, and ready to sum its update securely.
    Ready {
        /// The round.
        round: u32,
    },
    /// Does not take part in this round.
    Declined {
        /// The round.
        round: u32,
        /// Why.
        reason: String,
    },
    /// The participant ends the session.
    Abort {
        /// Why.
        reason: String,
    },
}

/// The longest frame a session with `n_params` parameters and `names` bytes of feature
/// names needs (a parameter is at most 25 bytes of JSON).
pub fn max_frame(n_params: usize, names: usize) -> usize {
    4096 + 26 * n_params + 4 * names
}

/// Encodes a message.
pub fn encode<T: Serialize>(m: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail (no maps with non-string keys).
    serde_json::to_vec(m).unwrap_or_default()
}

/// Decodes a message.
///
/// # Errors
/// The parser's message for anything that is not one of the messages.
pub fn decode<'a, T: Deserialize<'a>>(frame: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(frame).map_err(|e| format!("malformed message: {e}"))
}
