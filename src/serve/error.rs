//! Errors of the inference service, each with the HTTP status and the stable code it is
//! answered with.

use thiserror::Error;

/// What went wrong with a model file or a scoring request.
///
/// Every variant that a client can cause maps to a 4xx status ([`ServeError::status`]) and a
/// stable machine-readable code ([`ServeError::code`]); the message names the problem
/// without echoing ciphertexts or weights.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServeError {
    /// The model file is unreadable, malformed or out of range (a start-up error).
    #[error("model file: {0}")]
    Model(String),
    /// The request body is not the expected JSON (syntax, types, missing fields, nesting).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The request's content type is neither JSON, the binary type, nor absent.
    #[error(
        "unsupported content type {0:?}: send application/json or application/vnd.shroud.score.v1+binary"
    )]
    UnsupportedMediaType(String),
    /// The request body exceeds `--max-body`.
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A batch has more rows than `--max-batch`.
    #[error("batch of {rows} rows exceeds the limit of {limit}")]
    BatchTooLarge {
        /// Rows sent.
        rows: usize,
        /// The limit.
        limit: usize,
    },
    /// The public key is malformed or fails validation (even, composite with a small
    /// factor, a square, g != n + 1).
    #[error("invalid public key: {0}")]
    InvalidKey(String),
    /// The public key is smaller than `--min-key-bits`.
    #[error("public key has {bits} bits; this service requires at least {min}")]
    KeyTooSmall {
        /// Bits of the key sent.
        bits: u32,
        /// The service's minimum.
        min: u32,
    },
    /// The public key is larger than `--max-key-bits` (bounds the work one request costs).
    #[error("public key has {bits} bits; this service accepts at most {max}")]
    KeyTooLarge {
        /// Bits of the key sent.
        bits: u32,
        /// The service's maximum.
        max: u32,
    },
    /// A ciphertext is not in Z*_{n^2}.
    #[error("invalid ciphertext in row {row}, feature {feature}: {reason}")]
    InvalidCiphertext {
        /// Row index (0 for a single record).
        row: usize,
        /// Feature index.
        feature: usize,
        /// Which condition failed.
        reason: String,
    },
    /// A row has the wrong number of features.
    #[error("row {row} has {got} values; the model takes {want} features")]
    FeatureCount {
        /// Row index.
        row: usize,
        /// Values sent.
        got: usize,
        /// Features of the model.
        want: usize,
    },
    /// An exponent is out of range, or the exponents of a row (or of a packed batch) spread
    /// too far to be aligned.
    #[error("exponent problem: {0}")]
    Exponent(String),
    /// Packing was asked for with impossible parameters.
    #[error("packing: {0}")]
    Packing(String),
    /// The client's query budget does not cover this request.
    #[error("query budget exceeded: {requested} records requested, {remaining} remaining")]
    BudgetExceeded {
        /// Records in this request.
        requested: u64,
        /// Records left for this client.
        remaining: u64,
    },
    /// The request's API token is missing (when one is required), unknown or malformed.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The client's privacy budget for noisy scores does not cover this request.
    #[error("privacy budget exceeded: epsilon {requested} requested, {remaining} remaining")]
    PrivacyBudgetExceeded {
        /// Epsilon this request would spend.
        requested: f64,
        /// Epsilon left for this client.
        remaining: f64,
    },
    /// Too many requests in flight.
    #[error("the service is busy: too many concurrent requests, retry later")]
    Busy,
    /// The request took longer than the service's time limit.
    #[error("the request exceeded the time limit of {0} ms")]
    Timeout(u64),
    /// A failure on the service's side (never caused by the input alone).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServeError {
    /// The HTTP status code of the answer.
    pub fn status(&self) -> u16 {
        match self {
            ServeError::Malformed(_) => 400,
            ServeError::UnsupportedMediaType(_) => 415,
            ServeError::BodyTooLarge { .. } | ServeError::BatchTooLarge { .. } => 413,
            ServeError::InvalidKey(_)
            | ServeError::KeyTooSmall { .. }
            | ServeError::KeyTooLarge { .. }
            | ServeError::InvalidCiphertext { .. }
            | ServeError::FeatureCount { .. }
            | ServeError::Exponent(_)
            | ServeError::Packing(_) => 422,
            ServeError::BudgetExceeded { .. } | ServeError::PrivacyBudgetExceeded { .. } => 429,
            ServeError::Unauthorized(_) => 401,
            ServeError::Busy => 503,
            ServeError::Timeout(_) => 504,
            ServeError::Model(_) | ServeError::Internal(_) => 500,
        }
    }

    /// A stable machine-readable code for the error (the `code` field of the JSON answer).
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::Model(_) => "model",
            ServeError::Malformed(_) => "malformed",
            ServeError::UnsupportedMediaType(_) => "unsupported_media_type",
            ServeError::BodyTooLarge { .. } => "body_too_large",
            ServeError::BatchTooLarge { .. } => "batch_too_large",
            ServeError::InvalidKey(_) => "invalid_key",
            ServeError::KeyTooSmall { .. } => "key_too_small",
            ServeError::KeyTooLarge { .. } => "key_too_large",
            ServeError::InvalidCiphertext { .. } => "invalid_ciphertext",
            ServeError::FeatureCount { .. } => "feature_count",
            ServeError::Exponent(_) => "exponent",
            ServeError::Packing(_) => "packing",
            ServeError::BudgetExceeded { .. } => "budget_exceeded",
            ServeError::PrivacyBudgetExceeded { .. } => "privacy_budget_exceeded",
            ServeError::Unauthorized(_) => "unauthorized",
            ServeError::Busy => "busy",
            ServeError::Timeout(_) => "timeout",
            ServeError::Internal(_) => "internal",
        }
    }
}
