//! # shroud
//!
//! Secure computation on private data, for people who train and serve machine-learning
//! models on data they may not see in the clear.
//!
//! This release provides the cryptographic base and the differential-privacy layer:
//! - [`paillier`]: constant-time Paillier (real lambda = lcm(p-1, q-1), CRT decryption,
//!   key-owner CRT encryption, precomputed randomness, multi-exponentiation dot products);
//! - [`encoding`]: python-paillier's `EncodedNumber` and a fixed-point codec;
//! - [`format`]: python-paillier JSON (JWK keys, `{"v", "e"}` ciphertexts) and a compact
//!   versioned binary format;
//! - [`psi`]: private set intersection on RFC 9497's OPRF over ristretto255 (intersection,
//!   cardinality, intersection-sum with Paillier, secret-shared output);
//! - [`net`]: transports (TCP frames, in-memory) for the sans-IO protocols;
//! - [`secagg`]: secure aggregation (SecAgg and SecAgg+) with dropout recovery;
//! - [`dp`]: exact samplers, mechanisms with privacy maps, RDP and PLD accountants, noise
//!   calibration and persistent privacy budgets.
//!
//! Secret types are neither `Clone` nor printable and zeroize on drop; every function that
//! branches on data carries a `_vartime` suffix.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bigint;
pub mod dp;
pub mod encoding;
pub mod error;
pub mod format;
pub mod mpc;
pub mod net;
pub mod paillier;
pub mod psi;
pub mod rng;
pub mod secagg;
mod util;

pub use error::{Error, Result};
