//! # shroud
//!
//! Secure computation on private data, for people who train and serve machine-learning
//! models on data they may not see in the clear.
//!
//! This release provides the cryptographic base and the differential-privacy layer:
//! - [`paillier`]: constant-time Paillier (constant-time key loading, CRT decryption,
//!   key-owner CRT encryption, precomputed randomness, multi-exponentiation dot products);
//! - [`encoding`]: python-paillier's `EncodedNumber` and a fixed-point codec;
//! - [`format`](mod@format): python-paillier JSON (JWK keys, `{"v", "e"}` ciphertexts) and a compact
//!   versioned binary format;
//! - [`psi`]: private set intersection on RFC 9497's OPRF over ristretto255 (intersection,
//!   cardinality, intersection-sum with Paillier, secret-shared output);
//! - [`net`]: the channel layer: Noise channels between parties authenticated by pinned
//!   keys, one deadline per message and session-sized frame limits, and an in-memory pair;
//! - [`secagg`]: secure aggregation (SecAgg and SecAgg+) with dropout recovery;
//! - [`dp`]: exact samplers, mechanisms with privacy maps, RDP and PLD accountants, noise
//!   calibration and persistent privacy budgets;
//! - [`data`]: labelled tabular data from CSV files with precise errors, feature scaling
//!   and the built-in synthetic hospitals;
//! - [`train`] (feature `train`, on by default): logistic and softmax regression and MLPs
//!   with exact per-example gradients, DP-SGD with Poisson sampling and accountants bound to
//!   the steps taken, training to a target epsilon charged to a budget ledger;
//! - [`fl`] (feature `train`): federated learning with secure or robust aggregation and
//!   record-level DP charged to each participant's ledger;
//! - [`serve`] (feature `serve`, on by default): the encrypted inference service, an HTTP
//!   API that python-paillier clients use as they are.
//!
//! Secret types are neither `Clone` nor printable and zeroize on drop; every function that
//! branches on data carries a `_vartime` suffix, or its docs say why the data it branches
//! on is public (public keys, ciphertexts, exponents, python-paillier encodings).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod bigint;
#[doc(hidden)]
pub mod ct;
pub mod data;
pub mod dp;
pub mod encoding;
pub mod error;
#[cfg(feature = "train")]
pub mod fl;
pub mod format;
pub mod monty;
pub mod mpc;
pub mod net;
pub mod paillier;
pub mod psi;
pub mod rng;
pub mod secagg;
#[cfg(feature = "serve")]
pub mod serve;
#[cfg(feature = "train")]
pub mod train;
mod util;

pub use error::{Error, Result};
