//! The HTTP service: axum routes over tokio, the arithmetic on a rayon pool.
//!
//! Why rayon for the arithmetic: a batch is data-parallel (one multi-exponentiation per
//! row, one rerandomization per answer), which rayon splits across `--workers` threads with
//! work stealing, and the tokio threads that read and write sockets never run a modular
//! exponentiation (a blocked tokio worker would stall every connection it serves). A
//! request hands its job to the pool and awaits a oneshot channel; `spawn_blocking` would
//! give each request one thread, so a batch of 64 would not use more than one core.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};

use super::budget::QueryLedger;
use super::model::{LinearModel, WEIGHT_EXPONENT};
use super::msgs::{ParseLimits, error_body, parse_request, response};
use super::score::{DEFAULT_MANTISSA_BITS, score_rows};
use super::tokens::Principal;
use super::{ServeConfig, ServeError};

struct Service {
    model: LinearModel,
    cfg: ServeConfig,
    pool: rayon::ThreadPool,
    in_flight: Arc<Semaphore>,
    ledger: Option<Mutex<QueryLedger>>,
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(e: &ServeError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &error_body(e))
}

async fn model_info(State(svc): State<Arc<Service>>) -> Response {
    let m = &svc.model;
    let body = json!({
        "format": m.source,
        "kind": m.kind.as_str(),
        "output": match m.kind {
            super::OutputKind::Linear => "score",
            super::OutputKind::Logistic => "logit (apply the sigmoid after decrypting)",
        },
        "features": m.features,
        "n_features": m.n_features(),
        "weight_exponent": WEIGHT_EXPONENT,
        "fixed_point_step": 16f64.powi(WEIGHT_EXPONENT),
        "min_key_bits": svc.cfg.min_key_bits,
        "max_key_bits": svc.cfg.max_key_bits,
        "max_batch": svc.cfg.max_batch,
        "max_body_bytes": svc.cfg.max_body,
        "packing": {"available": true, "default_mantissa_bits": DEFAULT_MANTISSA_BITS},
        "query_budget": svc.cfg.query_budget,
        "content_types": ["application/json", super::binary::CONTENT_TYPE],
        "api_tokens": match (&svc.cfg.api_tokens, svc.cfg.require_token) {
            (None, _) => "none",
            (Some(_), false) => "optional (Authorization: Bearer TOKEN; budgets charged to the token)",
            (Some(_), true) => "required (Authorization: Bearer TOKEN)",
        },
        "dp_noise": svc.cfg.noise.as_ref().map(|n| json!({
            "mechanism": "discrete Laplace on the score's grid, added under encryption",
            "epsilon_per_record": n.epsilon,
            "epsilon_budget_per_client": n.epsilon_budget,
            "sensitivity": n.sensitivity,
            "laplace_scale": n.scale(),
        })),
        "serialization": "python-paillier: {\"public_key\": {\"g\", \"n\"}, \"values\": [[\"<ciphertext>\", exponent], ..]} or \"rows\"",
    });
    json_response(StatusCode::OK, &body)
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": {"code": "not_found", "message": "no such endpoint: use GET /v1/model, POST /v1/score, GET /healthz"}}),
    )
}

async fn method_not_allowed() -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error": {"code": "method_not_allowed", "message": "method not allowed on this endpoint"}}),
    )
}

/// The two wire forms of `POST /v1/score`; the answer uses the request's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    Json,
    Binary,
}

/// What a successful request produced.
struct Answer {
    rows: usize,
    bits: u32,
    body: Vec<u8>,
    wire: Wire,
}

async fn score(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let result = score_inner(&svc, &headers, body).await;
    let ms = start.elapsed().as_millis() as u64;
    match result {
        Ok(a) => {
            tracing::info!(rows = a.rows, key_bits = a.bits, ms, status = 200, "scored");
            let ct = match a.wire {
                Wire::Json => "application/json",
                Wire::Binary => super::binary::CONTENT_TYPE,
            };
            (StatusCode::OK, [(header::CONTENT_TYPE, ct)], a.body).into_response()
        }
        Err(e) => {
            // The message names the problem; it never holds ciphertexts or weights.
            let error = super::msgs::sanitized_message(&e);
            tracing::warn!(status = e.status(), code = e.code(), ms, error, "refused");
            error_response(&e)
        }
    }
}

/// The client a request is charged to when it carries a token: checked from the headers,
/// before the body is read.
fn principal(svc: &Service, headers: &HeaderMap) -> Result<Option<Principal>, ServeError> {
    match (headers.get(header::AUTHORIZATION), &svc.cfg.api_tokens) {
        (Some(v), Some(tokens)) => tokens.authenticate(v.as_bytes()).map(Some),
        (Some(_), None) => Err(ServeError::Unauthorized(
            "this service has no API tokens: send no Authorization header".into(),
        )),
        (None, _) if svc.cfg.require_token => Err(ServeError::Unauthorized(
            "this service requires an API token: Authorization: Bearer TOKEN".into(),
        )),
        (None, _) => Ok(None),
    }
}

async fn score_inner(
    svc: &Arc<Service>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Answer, ServeError> {
    // Limits that cost nothing first: content type, token and declared length, before any read.
    let wire = match headers.get(header::CONTENT_TYPE) {
        None => Wire::Json,
        Some(ct) => {
            let ct = ct.to_str().unwrap_or("");
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media == "application/json" {
                Wire::Json
            } else if media == super::binary::CONTENT_TYPE {
                Wire::Binary
            } else {
                return Err(ServeError::UnsupportedMediaType(
                    ct.chars().take(64).collect(),
                ));
            }
        }
    };
    let who = principal(svc, headers)?;
    let limit = svc.cfg.max_body;
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ServeError::Malformed("bad Content-Length".into()))?;
        if len > limit as u64 {
            return Err(ServeError::BodyTooLarge { limit });
        }
    }
    let permit = svc
        .in_flight
        .clone()
        .try_acquire_owned()
        .map_err(|_| ServeError::Busy)?;
    let timeout = svc.cfg.request_timeout;
    let cancel = Arc::new(AtomicBool::new(false));
    let work = async {
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| ServeError::BodyTooLarge { limit })?;
        let (tx, rx) = oneshot::channel();
        let job_svc = svc.clone();
        let job_cancel = cancel.clone();
        svc.pool.spawn(move || {
            let result = run_job(&job_svc, &bytes, wire, who, &job_cancel);
            // Released before the answer goes out: a client that sends its next request
            // as soon as it has the answer must find the slot free.
            drop(permit);
            let _ = tx.send(result);
        });
        rx.await
            .map_err(|_| ServeError::Internal("the worker stopped".into()))?
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => {
            cancel.store(true, Ordering::Relaxed);
            Err(ServeError::Timeout(timeout.as_millis() as u64))
        }
    }
}

/// Parse, charge the budgets, score: on a pool thread.
fn run_job(
    svc: &Service,
    body: &[u8],
    wire: Wire,
    who: Option<Principal>,
    cancel: &AtomicBool,
) -> Result<Answer, ServeError> {
    let limits = ParseLimits {
        n_features: svc.model.n_features(),
        max_batch: svc.cfg.max_batch,
        min_key_bits: svc.cfg.min_key_bits,
        max_key_bits: svc.cfg.max_key_bits,
    };
    let req = match wire {
        Wire::Json => parse_request(body, &limits)?,
        Wire::Binary => super::binary::parse_request(body, &limits)?,
    };
    if svc.cfg.noise.is_some() && req.pack.is_some() {
        return Err(ServeError::Packing(
            "this service adds DP noise to every score, which does not fit packed slots: \
             send the batch unpacked"
                .into(),
        ));
    }
    let who = who.unwrap_or_else(|| Principal::Key(req.public_key.id()));
    let records = req.rows.len() as u64;
    let ledger = |f: &dyn Fn(&mut QueryLedger) -> Result<(), ServeError>| match &svc.ledger {
        Some(l) => f(&mut *l
            .lock()
            .map_err(|_| ServeError::Internal("query ledger lock poisoned".into()))?),
        None => Ok(()),
    };
    let epsilon = svc
        .cfg
        .noise
        .as_ref()
        .map(|n| n.epsilon_for(records))
        .transpose()?;
    // Charged before scoring (concurrent requests cannot overdraw), refunded on failure.
    ledger(&|l| l.charge(&who, records, epsilon))?;
    let scored = score_rows(
        &req.public_key,
        &svc.model,
        &req.rows,
        req.pack,
        svc.cfg.noise.as_ref(),
        cancel,
    );
    let scored = match scored {
        Ok(s) => s,
        Err(e) => {
            let _ = ledger(&|l| l.refund(&who, records, epsilon));
            return Err(e);
        }
    };
    let body = match wire {
        Wire::Json => response(&scored, req.single).to_string().into_bytes(),
        Wire::Binary => super::binary::encode_answer(&req.public_key, &scored)?,
    };
    Ok(Answer {
        rows: req.rows.len(),
        bits: req.public_key.bits(),
        body,
        wire,
    })
}

fn router(svc: Arc<Service>) -> Router {
    Router::new()
        .route("/v1/model", get(model_info))
        .route("/v1/score", post(score))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(svc)
}

/// A running service (on its own thread and runtime), for tests, benchmarks and the CLI.
pub struct Handle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Handle {
    /// Binds `addr` (port 0 for any) and serves `model` until [`Handle::shutdown`].
    ///
    /// # Errors
    /// [`ServeError::Internal`] when the address cannot be bound or the worker pool or the
    /// runtime cannot be built, [`ServeError::Model`] for an unreadable query ledger.
    pub fn start(
        model: LinearModel,
        cfg: ServeConfig,
        addr: SocketAddr,
    ) -> Result<Self, ServeError> {
        let internal = |e: std::io::Error| ServeError::Internal(e.to_string());
        let std_listener = std::net::TcpListener::bind(addr).map_err(internal)?;
        std_listener.set_nonblocking(true).map_err(internal)?;
        let addr = std_listener.local_addr().map_err(internal)?;
        let epsilon_limit = cfg.noise.as_ref().map(|n| n.epsilon_budget);
        let ledger = match (&cfg.budget_file, cfg.query_budget, epsilon_limit) {
            (Some(path), limit, eps) => Some(Mutex::new(QueryLedger::open(
                path,
                limit.unwrap_or(u64::MAX),
                eps,
            )?)),
            (None, Some(_), _) | (None, _, Some(_)) => {
                return Err(ServeError::Model(
                    "a query or privacy budget needs a ledger file (--budget-file) to persist it"
                        .into(),
                ));
            }
            (None, None, None) => None,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.workers)
            .thread_name(|i| format!("shroud-serve-{i}"))
            .build()
            .map_err(|e| ServeError::Internal(e.to_string()))?;
        let svc = Arc::new(Service {
            in_flight: Arc::new(Semaphore::new(cfg.max_concurrent.max(1))),
            model,
            cfg,
            pool,
            ledger,
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(internal)?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let grace = svc.cfg.shutdown_grace;
        let header_timeout = svc.cfg.header_timeout;
        let tls = svc.cfg.tls.clone();
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener)?;
                // Graceful shutdown waits for every open request; a client that never
                // finishes would hold it forever, so after the grace period what is left is
                // closed.
                super::listener::serve(listener, router(svc), tls, header_timeout, grace, stop_rx)
                    .await
            })
        });
        Ok(Handle {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server thread.
    ///
    /// # Errors
    /// [`ServeError::Internal`] when the server had failed.
    pub fn shutdown(mut self) -> Result<(), ServeError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Err(e))) => Err(ServeError::Internal(e.to_string())),
            Some(Err(_)) => Err(ServeError::Internal("server thread panicked".into())),
            _ => Ok(()),
        }
    }

    /// Serves until Ctrl-C (SIGINT) or SIGTERM, then shuts down gracefully.
    ///
    /// # Errors
    /// As [`Handle::shutdown`].
    pub fn wait_for_signal(mut self) -> Result<(), ServeError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ServeError::Internal(e.to_string()))?;
        rt.block_on(async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {},
                            _ = term.recv() => {},
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        });
        tracing::info!("shutting down");
        self.stop_and_join()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// The default time limit of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The default time a client has to send a request's headers (and finish a TLS handshake).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
