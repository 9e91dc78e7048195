//! Errors of shroud's cryptographic layer.
//!
//! One enum for the Paillier / encoding / format area. Every variant says what the caller
//! (or the peer that sent the data) did wrong, so a service can map it to a response.

use thiserror::Error;

/// Errors raised by Paillier keys, ciphertexts, encodings and their wire formats.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A ciphertext does not lie in Z*_{n^2} (zero, at least n^2, or sharing a factor with n).
    #[error("invalid ciphertext: {0}")]
    InvalidCiphertext(&'static str),
    /// A ciphertext or encoded number made under one key was given to another key's operation.
    #[error("key mismatch: the value was produced under a different Paillier key")]
    KeyMismatch,
    /// A plaintext is not in [0, n) or a signed value does not fit the key's plaintext space.
    #[error("plaintext out of range: {0}")]
    PlaintextOutOfRange(&'static str),
    /// An encoded number falls in the overflow band (the middle third of Z_n) or an encoding
    /// would not fit its target type.
    #[error("encoding overflow: {0}")]
    EncodingOverflow(&'static str),
    /// A real number that cannot be encoded (NaN or an infinity).
    #[error("cannot encode a non-finite number")]
    NonFinite,
    /// A public or private key failed validation.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A key size that shroud does not generate.
    #[error("unsupported key size {0} bits: use 2048, 3072 or 4096")]
    UnsupportedKeySize(u32),
    /// Serialized input (JSON or binary) is malformed or hostile.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// A precomputed-randomness pool has no values left.
    #[error("randomness pool is empty: refill it before encrypting")]
    PoolEmpty,
    /// An exponent operation that cannot be done (e.g. raising an encoding's exponent).
    #[error("invalid exponent: {0}")]
    InvalidExponent(String),
    /// Mismatched lengths of vectors that must be equal (e.g. a dot product).
    #[error("length mismatch: {0}")]
    LengthMismatch(String),
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        Error::Malformed(msg.into())
    }
}
