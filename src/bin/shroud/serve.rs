//! `shroud serve-model` (the inference service) and `shroud score` (its client).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use shroud::serve::client::ScoreClient;
use shroud::serve::noise::NoiseConfig;
use shroud::serve::server::Handle;
use shroud::serve::tokens::ApiTokens;
use shroud::serve::{LinearModel, ServeConfig};
use std::sync::Arc;

use crate::Failure;

#[derive(Args)]
pub struct ServeModelArgs {
    /// The model: sklearn-linear-v1 JSON or the model.json of `shroud train` (logreg).
    #[arg(long)]
    model: PathBuf,
    /// Address to listen on. Plain HTTP is served on a loopback address only, unless
    /// --insecure-http is given.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Most records in one request.
    #[arg(long, default_value_t = 256)]
    max_batch: usize,
    /// Largest request body in bytes (refused from its Content-Length, before reading).
    #[arg(long, default_value_t = 16 << 20)]
    max_body: usize,
    /// Threads doing the arithmetic (0: one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Smallest client key accepted, in bits.
    #[arg(long, default_value_t = 2048)]
    min_key_bits: u32,
    /// Largest client key accepted, in bits (a request's cost grows with its cube).
    #[arg(long, default_value_t = 4096)]
    max_key_bits: u32,
    /// Requests processed at once; more get 503.
    #[arg(long, default_value_t = 64)]
    max_concurrent: usize,
    /// Time limit of one request, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Records each client (public key) may score in all; needs --budget-file.
    #[arg(long)]
    query_budget: Option<u64>,
    /// The query ledger (JSON), persisted on every charge.
    #[arg(long)]
    budget_file: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (put a TLS-terminating proxy in front).
    #[arg(long, conflicts_with = "tls_cert")]
    insecure_http: bool,
    /// Serve HTTPS (rustls): the certificate chain, PEM, leaf first. Needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds a client has to send a request's headers (and finish the TLS handshake)
    /// before its connection is closed (slowloris).
    #[arg(long, default_value_t = 10)]
    header_timeout_secs: u64,
    /// API tokens: lines "NAME SHA256-HEX" (printf %s "$TOKEN" | sha256sum). A request with
    /// Authorization: Bearer TOKEN is charged to its token instead of its public key.
    #[arg(long)]
    api_tokens: Option<PathBuf>,
    /// Refuse requests without a known API token.
    #[arg(long, requires = "api_tokens")]
    require_token: bool,
    /// Add DP noise to every score: epsilon per record (needs --dp-budget,
    /// --dp-weight-resolution, --feature-bounds and --budget-file).
    #[arg(long, requires_all = ["dp_budget", "dp_weight_resolution", "feature_bounds", "budget_file"])]
    dp_epsilon: Option<f64>,
    /// Total epsilon each client (token or public key) may spend.
    #[arg(long, requires = "dp_epsilon")]
    dp_budget: Option<f64>,
    /// The weight change to hide: models whose weights (intercept included) differ by at
    /// most this much in L1 norm are neighbours.
    #[arg(long, requires = "dp_epsilon")]
    dp_weight_resolution: Option<f64>,
    /// Declared feature bounds, JSON {"feature": bound, ..}: |x_i| <= bound. The noise
    /// protects the weights only against records within them (see the README).
    #[arg(long, requires = "dp_epsilon")]
    feature_bounds: Option<PathBuf>,
}

pub fn serve_model(a: ServeModelArgs) -> Result<(), Failure> {
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(shroud::serve::tls::server_config_from_files(c, k)?),
        _ => None,
    };
    if tls.is_none() && !a.listen.ip().is_loopback() && !a.insecure_http {
        return Err(Failure(format!(
            "refusing plain HTTP on {}: give --tls-cert and --tls-key for HTTPS, listen on a \
             loopback address behind a TLS proxy, or pass --insecure-http",
            a.listen
        )));
    }
    if a.header_timeout_secs == 0 {
        return Err(Failure("--header-timeout-secs must be positive".into()));
    }
    if a.min_key_bits > a.max_key_bits {
        return Err(Failure("--min-key-bits exceeds --max-key-bits".into()));
    }
    if a.max_batch == 0 || a.max_body == 0 || a.timeout_secs == 0 {
        return Err(Failure(
            "--max-batch, --max-body and --timeout-secs must be positive".into(),
        ));
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let model = LinearModel::load(&a.model)?;
    let api_tokens = match &a.api_tokens {
        Some(p) => Some(Arc::new(ApiTokens::load(p)?)),
        None => None,
    };
    let noise = match (
        a.dp_epsilon,
        a.dp_budget,
        a.dp_weight_resolution,
        &a.feature_bounds,
    ) {
        (Some(e), Some(budget), Some(res), Some(bounds)) => {
            let text = std::fs::read_to_string(bounds)
                .map_err(|e| Failure(format!("{}: {e}", bounds.display())))?;
            Some(NoiseConfig::from_bounds_json(
                &text,
                &model.features,
                e,
                budget,
                res,
            )?)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let cfg = ServeConfig {
        max_batch: a.max_batch,
        max_body: a.max_body,
        min_key_bits: a.min_key_bits,
        max_key_bits: a.max_key_bits,
        workers: a.workers,
        max_concurrent: a.max_concurrent,
        request_timeout: Duration::from_secs(a.timeout_secs),
        shutdown_grace: Duration::from_secs(a.timeout_secs.min(30)),
        query_budget: a.query_budget,
        budget_file: a.budget_file,
        header_timeout: Duration::from_secs(a.header_timeout_secs),
        tls,
        api_tokens,
        require_token: a.require_token,
        noise,
    };
    let (kind, d) = (model.kind.as_str(), model.n_features());
    let handle = Handle::start(model, cfg, a.listen)?;
    tracing::info!(addr = %handle.addr(), kind, features = d, "serving");
    eprintln!(
        "shroud: serving a {kind} model of {d} features on {scheme}://{}",
        handle.addr()
    );
    handle.wait_for_signal()?;
    Ok(())
}

#[derive(Args)]
pub struct ScoreArgs {
    /// The service address, host:port.
    #[arg(long)]
    server: String,
    /// Your private key (pheutil JWK); its public key is sent.
    #[arg(long)]
    key: PathBuf,
    /// Records: a JSON file holding an array of rows (arrays of numbers, the model's
    /// feature order), or "-" for standard input.
    #[arg(long)]
    rows: String,
    /// Ask for packed scores (one decryption per pack).
    #[arg(long)]
    pack: bool,
    /// Speak HTTPS, trusting the CA certificate(s) in this PEM file (and no other).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// A file holding your API token (sent as Authorization: Bearer). The environment
    /// variable SHROUD_API_TOKEN is used when this is not given.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Use the compact binary content type instead of JSON.
    #[arg(long)]
    binary: bool,
}

pub fn score(a: ScoreArgs) -> Result<(), Failure> {
    let sk = crate::keys::load_secret(&a.key)?;
    use std::io::Read;
    let mut text = String::new();
    let limit = 64u64 << 20;
    if a.rows == "-" {
        std::io::stdin().take(limit).read_to_string(&mut text)?;
    } else {
        std::fs::File::open(&a.rows)
            .map_err(|e| Failure(format!("{}: {e}", a.rows)))?
            .take(limit)
            .read_to_string(&mut text)?;
    }
    let rows: Vec<Vec<f64>> = serde_json::from_str(&text).map_err(|e| {
        Failure(format!(
            "rows must be a JSON array of arrays of numbers: {e}"
        ))
    })?;
    let mut rng = shroud::rng::chacha_from_os();
    let mut client = ScoreClient::new(a.server).with_binary(a.binary);
    if let Some(ca) = &a.ca_cert {
        let pem = std::fs::read(ca).map_err(|e| Failure(format!("{}: {e}", ca.display())))?;
        client = client.with_tls(shroud::serve::tls::client_config(&pem)?);
    }
    let token = match &a.token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| Failure(format!("{}: {e}", p.display())))?
                .trim()
                .to_string(),
        ),
        None => std::env::var("SHROUD_API_TOKEN").ok(),
    };
    if let Some(t) = token {
        client = client.with_token(t);
    }
    let scores = client.score(&sk, &rows, a.pack, &mut rng)?;
    println!("{}", serde_json::json!({ "scores": scores }));
    Ok(())
}
