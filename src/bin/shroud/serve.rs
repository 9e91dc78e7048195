//! `shroud serve-model` (the inference service) and `shroud score` (its client).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use shroud::serve::client::ScoreClient;
use shroud::serve::server::Handle;
use shroud::serve::{LinearModel, ServeConfig};

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
    #[arg(long)]
    insecure_http: bool,
}

pub fn serve_model(a: ServeModelArgs) -> Result<(), Failure> {
    if !a.listen.ip().is_loopback() && !a.insecure_http {
        return Err(Failure(format!(
            "refusing plain HTTP on {}: this build serves HTTP only; listen on a loopback \
             address behind a TLS proxy, or pass --insecure-http",
            a.listen
        )));
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
    };
    let (kind, d) = (model.kind.as_str(), model.n_features());
    let handle = Handle::start(model, cfg, a.listen)?;
    tracing::info!(addr = %handle.addr(), kind, features = d, "serving");
    eprintln!(
        "shroud: serving a {kind} model of {d} features on http://{}",
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
    let scores = ScoreClient::new(a.server).score(&sk, &rows, a.pack, &mut rng)?;
    println!("{}", serde_json::json!({ "scores": scores }));
    Ok(())
}
