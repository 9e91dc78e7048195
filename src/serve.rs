//! The encrypted inference service (feature `serve`): a model owner serves a linear or
//! logistic model; a client sends its features encrypted under its own Paillier key, in
//! python-paillier's serialization, and gets back the encrypted score, which only it can
//! decrypt.
//!
//! - [`model`]: model files (`sklearn-linear-v1`, the training layer's `shroud-model`),
//!   the scaler folded into the weights, fixed-point weights at a public exponent;
//! - [`msgs`]: the wire format and its validation (every ciphertext checked in Z*_{n^2});
//! - [`score`]: the constant-time multi-exponentiation with exponent alignment, and packing;
//! - [`budget`]: per-client query budgets against model extraction;
//! - [`binary`]: the compact binary content type beside JSON;
//! - [`tokens`]: API tokens (hashed, compared in constant time) that budgets are charged to;
//! - [`noise`]: DP output noise added under encryption, charged to the client's budget;
//! - [`tls`]: HTTPS with rustls; `listener`: the accept loop with its header-read timeout;
//! - [`server`]: the axum service with its limits; [`client`]: a blocking client.
//!
//! What each side learns: the model owner sees the client's public key, the number of
//! records and features and the exponents of the ciphertexts (python-paillier exponents
//! reveal each feature's order of magnitude), never the features. The client learns the
//! score (for a logistic model, the logit) and the public metadata of `GET /v1/model`,
//! never the weights beyond what the scores themselves reveal (d + 1 exact scores determine
//! a linear model: see [`budget`]).
//!
//! ```
//! use shroud::serve::{LinearModel, ServeConfig, server::Handle, client::ScoreClient};
//! use rand_core::SeedableRng;
//!
//! let model = LinearModel::from_json(r#"{"format": "sklearn-linear-v1", "kind": "linear",
//!     "features": ["age", "bmi"], "coef": [0.5, -2.0], "intercept": 1.25}"#).unwrap();
//! let cfg = ServeConfig { min_key_bits: 1024, ..ServeConfig::default() };
//! let server = Handle::start(model, cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
//!
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
//! let opts = shroud::paillier::KeygenOptions { bits: 2048, ..Default::default() };
//! let sk = shroud::paillier::generate_keypair(opts, &mut rng, &|_| {}).unwrap();
//! let client = ScoreClient::new(server.addr().to_string());
//! let scores = client.score(&sk, &[vec![40.0, 22.5]], false, &mut rng).unwrap();
//! assert!((scores[0] - (1.25 + 20.0 - 45.0)).abs() < 1e-9);
//! server.shutdown().unwrap();
//! ```

pub mod binary;
pub mod budget;
pub mod client;
mod error;
mod listener;
pub mod model;
pub mod msgs;
pub mod noise;
pub mod score;
pub mod server;
pub mod tls;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::ServeError;
pub use model::{LinearModel, OutputKind};

/// The service's limits and options.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Most records in one request.
    pub max_batch: usize,
    /// Largest request body in bytes (refused from its Content-Length before reading).
    pub max_body: usize,
    /// Smallest Paillier modulus accepted, in bits.
    pub min_key_bits: u32,
    /// Largest Paillier modulus accepted, in bits (a request's cost grows with its cube).
    pub max_key_bits: u32,
    /// Threads doing the arithmetic (0: one per core).
    pub workers: usize,
    /// Requests processed at once; more are refused with 503.
    pub max_concurrent: usize,
    /// Time limit of one request (reading the body and scoring).
    pub request_timeout: Duration,
    /// How long a shutdown waits for open requests before closing them.
    pub shutdown_grace: Duration,
    /// Records each client (public key) may score, when `budget_file` is set.
    pub query_budget: Option<u64>,
    /// Where the query ledger is persisted.
    pub budget_file: Option<PathBuf>,
    /// Time a client has to send a request's headers (and to finish a TLS handshake) before
    /// its connection is closed: the defence against slowloris.
    pub header_timeout: Duration,
    /// Serve HTTPS with this configuration ([`tls::server_config`]) instead of plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Known API tokens: a request with `Authorization: Bearer TOKEN` is charged to its token.
    pub api_tokens: Option<Arc<tokens::ApiTokens>>,
    /// Refuse requests without a known API token (401).
    pub require_token: bool,
    /// DP output noise on every score, charged to the client's privacy budget.
    pub noise: Option<noise::NoiseConfig>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_batch: 256,
            max_body: 16 << 20,
            min_key_bits: 2048,
            max_key_bits: 4096,
            workers: 0,
            max_concurrent: 64,
            request_timeout: server::DEFAULT_TIMEOUT,
            shutdown_grace: Duration::from_secs(30),
            query_budget: None,
            budget_file: None,
            header_timeout: server::DEFAULT_HEADER_TIMEOUT,
            tls: None,
            api_tokens: None,
            require_token: false,
            noise: None,
        }
    }
}
