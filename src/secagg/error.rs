//! Errors of the secure-aggregation protocol.

use thiserror::Error;

use crate::net::NetError;

use super::ClientId;

/// What went wrong in a secure-aggregation session.
///
/// Variants that start with a peer's action (`Malformed`, `PeerMisbehaved`,
/// `UnexpectedMessage`, `SessionMismatch`, `PeerAborted`) mean the other side sent
/// something it must not. On the server such an error concerns one client, which is then
/// treated as dropped; the others' sum goes on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SecAggError {
    /// The parameters do not give the stated security or correctness (or are out of
    /// range); nothing was sent.
    #[error("refused parameters: {0}")]
    InsecureParams(String),
    /// The caller's own input is unusable (wrong length, a value over the input bound).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A message does not parse (wrong length, truncated, a count over what the session
    /// allows, a non-canonical field element, ...).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A message parses but breaks the protocol (a client that is not a neighbour, a
    /// repeated entry, a key of small order, a share that fails authentication, ...).
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(String),
    /// The server asked this client to reveal both the self-mask share and the mask-key
    /// share of one client: together they would unmask that client's input. An honest
    /// client refuses the whole request.
    #[error(
        "refused to unmask: the server asked for both the self-mask share and the mask-key \
         share of client {peer}, which together would reveal its input"
    )]
    UnmaskRefused {
        /// The client both shares were asked for.
        peer: ClientId,
    },
    /// A message of another kind than the protocol expects at this point.
    #[error("unexpected message: expected {expected}, got {got}")]
    UnexpectedMessage {
        /// The message the protocol expected.
        expected: &'static str,
        /// The message that arrived.
        got: String,
    },
    /// The message belongs to another session.
    #[error("message from another session")]
    SessionMismatch,
    /// Too few clients are left for the protocol to finish: the session is aborted and
    /// nothing about any input is revealed.
    #[error(
        "too many dropouts at round {round}: client {client} has {alive} live share holders, \
         {needed} are needed"
    )]
    TooManyDropouts {
        /// Protocol round (1 = advertise keys, 2 = share keys, 3 = masked input,
        /// 4 = unmasking).
        round: u8,
        /// The client whose secrets could no longer be handled.
        client: ClientId,
        /// Its share holders still in the protocol (itself included).
        alive: usize,
        /// The threshold t.
        needed: usize,
    },
    /// The shares the server received for a client's mask key do not reconstruct the key
    /// it advertised (some share holder lied or a share was corrupted).
    #[error("the shares of client {0}'s mask key do not match its public key")]
    ReconstructionFailed(ClientId),
    /// The peer ended the session with an abort message.
    #[error("peer aborted the session: {0}")]
    PeerAborted(String),
    /// The transport failed (connection closed, timeout, oversized frame).
    #[error(transparent)]
    Net(#[from] NetError),
}
