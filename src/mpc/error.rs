//! Errors of the secret-sharing engine.

use thiserror::Error;

use crate::net::NetError;

/// What went wrong in a multi-party computation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MpcError {
    /// A peer deviated from the protocol and was caught (a failed MAC check, an opening
    /// that does not match its commitment, a message about material already used). The
    /// computation is aborted; nothing it computed may be trusted.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(String),
    /// A peer's message does not parse or has the wrong length.
    #[error("malformed message from party {party}: {reason}")]
    Malformed {
        /// Index of the sender.
        party: usize,
        /// What is wrong.
        reason: String,
    },
    /// The caller's input is unusable (lengths that differ, a party index out of range, a
    /// value that cannot be encoded, too few parties, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Not enough correlated randomness left for the operation.
    #[error("correlated randomness exhausted: {0}")]
    Exhausted(String),
    /// A fixed-point value is NaN, infinite or out of the encodable range.
    #[error("fixed-point encoding: {0}")]
    Encoding(String),
    /// The Paillier offline phase failed.
    #[error("paillier: {0}")]
    Paillier(#[from] crate::Error),
    /// The transport failed.
    #[error(transparent)]
    Net(#[from] NetError),
}
