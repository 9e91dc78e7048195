//! Errors of the private-set-intersection protocol.

use thiserror::Error;

use crate::net::NetError;

/// What went wrong in a PSI session. Variants that start with a peer's action (`InvalidPoint`,
/// `Malformed`, `UnexpectedMessage`, `PeerAborted`) mean the other side sent something it
/// must not; the session is over and nothing was output.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PsiError {
    /// The caller's own input or configuration is unusable (an element over 65535 bytes, a
    /// values vector of the wrong length, a label too long, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A peer sent a group element that is not a canonical ristretto255 encoding or is the
    /// identity.
    #[error("peer sent an invalid group element at position {index}: {reason}")]
    InvalidPoint {
        /// Position of the element in its message.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A peer sent well-formed data that fails a check it must pass (a proof that does not
    /// verify): it is cheating or broken.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(String),
    /// A peer's message does not parse (wrong length, truncated, out-of-range count, ...).
    #[error("malformed message from peer: {0}")]
    Malformed(String),
    /// A peer sent a message of another kind than the protocol expects at this point.
    #[error("unexpected message from peer: expected {expected}, got {got}")]
    UnexpectedMessage {
        /// The message the protocol expected.
        expected: &'static str,
        /// The message that arrived.
        got: String,
    },
    /// The two sides were configured differently (protocol version, mode or session label).
    #[error("the peers disagree on the session: {0}")]
    SessionMismatch(String),
    /// Intersection-sum refused: fewer matches than the server's threshold.
    #[error(
        "intersection-sum refused: {matches} matches, the server requires at least {threshold}"
    )]
    ThresholdNotMet {
        /// Size of the intersection.
        matches: usize,
        /// The server's minimum.
        threshold: usize,
    },
    /// The peer ended the session with an abort message (its text with control characters
    /// replaced).
    #[error("peer aborted the session: {0}")]
    PeerAborted(String),
    /// A Paillier operation failed (a ciphertext from the peer outside Z*_{n^2}, a key too
    /// small, ...).
    #[error("paillier: {0}")]
    Paillier(#[from] crate::Error),
    /// The transport failed (connection closed, timeout, oversized frame).
    #[error(transparent)]
    Net(#[from] NetError),
}

impl PsiError {
    /// The text sent to the peer in an abort message: what it needs to know, and nothing
    /// of this side's private data (below the threshold, the peer is not told by how much;
    /// a local input problem is not described).
    pub fn peer_text(&self) -> String {
        match self {
            PsiError::ThresholdNotMet { .. } => {
                "intersection-sum refused: the intersection is below the threshold".into()
            }
            PsiError::InvalidInput(_) => "the peer could not use its own input".into(),
            e => e.to_string(),
        }
    }
}
