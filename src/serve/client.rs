//! A blocking client of the service: encrypts records as python-paillier does, posts them,
//! decrypts the scores. HTTP/1.1 over TCP or TLS (rustls, trusting the CA it is given), one
//! request per connection, JSON or the binary content type, with an optional API token.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use num_bigint::BigUint;
use rand_core::CryptoRng;
use serde_json::{Value, json};
use thiserror::Error;

use crate::encoding::EncodedNumber;
use crate::paillier::{EncryptedNumber, PublicKey, SecretKey};

/// Largest answer read.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// What can go wrong on the client's side.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The service answered with an error.
    #[error("service answered {status} ({code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The error message.
        message: String,
    },
    /// The answer is not what the protocol says.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// Encryption, decryption or decoding failed.
    #[error(transparent)]
    Crypto(#[from] crate::Error),
}

fn malformed(m: impl Into<String>) -> ClientError {
    ClientError::Malformed(m.into())
}

/// One HTTP/1.1 request over plain TCP; returns the status and the body.
///
/// # Errors
/// [`ClientError::Io`] for connection failures, [`ClientError::Malformed`] for an answer
/// that is not HTTP or is larger than 64 MiB.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ClientError> {
    let req = Request {
        method,
        path,
        body: body.map(|b| (b, "application/json")),
        token: None,
    };
    exchange(addr, None, &req, timeout)
}

/// One request: method, path, body with its content type, bearer token.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    body: Option<(&'a [u8], &'a str)>,
    token: Option<&'a str>,
}

/// The host part of host:port (without the brackets of an IPv6 literal).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn exchange(
    addr: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    req: &Request<'_>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ClientError> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    match tls {
        None => exchange_on(stream, addr, req),
        Some(cfg) => {
            let name = rustls::pki_types::ServerName::try_from(host_of(addr).to_string())
                .map_err(|e| malformed(format!("server name {:?}: {e}", host_of(addr))))?;
            let conn = rustls::ClientConnection::new(cfg.clone(), name)
                .map_err(|e| ClientError::Io(std::io::Error::other(e)))?;
            exchange_on(rustls::StreamOwned::new(conn, stream), addr, req)
        }
    }
}

fn exchange_on<S: Read + Write>(
    mut stream: S,
    addr: &str,
    req: &Request<'_>,
) -> Result<(u16, Vec<u8>), ClientError> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        req.method, req.path
    );
    if let Some(t) = req.token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some((b, ct)) = req.body {
        head.push_str(&format!(
            "Content-Type: {ct}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some((b, _)) = req.body {
        // The service may refuse from the headers alone and close: its answer still counts.
        let _ = stream.write_all(b);
    }
    let _ = stream.flush();
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                raw.extend_from_slice(&buf[..k]);
                if raw.len() > MAX_ANSWER_BYTES {
                    return Err(malformed("answer larger than 64 MiB"));
                }
            }
            // A TLS peer that closes without close_notify: the answer read so far counts.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    parse_http(&raw)
}

fn parse_http(raw: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| malformed("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| malformed("headers not UTF-8"))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed("no status code"))?;
    let body = &raw[split + 4..];
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| malformed("bad chunk"))?;
        let size_text =
            std::str::from_utf8(&rest[..line_end]).map_err(|_| malformed("bad chunk"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| malformed("bad chunk size"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok((status, out));
        }
        if rest.len() < size + 2 {
            return Err(malformed("truncated chunk"));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The python-paillier request body for `rows` of encrypted features.
pub fn request_body(pk: &PublicKey, rows: &[Vec<EncryptedNumber>], pack: bool) -> Value {
    let pair = |x: &EncryptedNumber| json!([x.ciphertext.to_biguint().to_string(), x.exponent]);
    let key = json!({"g": (pk.n() + 1u32).to_string(), "n": pk.n().to_string()});
    let rows: Vec<Vec<Value>> = rows.iter().map(|r| r.iter().map(pair).collect()).collect();
    if pack {
        json!({"public_key": key, "rows": rows, "pack": true})
    } else {
        json!({"public_key": key, "rows": rows})
    }
}

/// Encrypts each feature as python-paillier's `public_key.encrypt(x)` does (exact encoding,
/// the exponent chosen from the value's magnitude).
///
/// # Errors
/// [`ClientError::Crypto`] for a non-finite or too large value.
pub fn encrypt_rows<R: CryptoRng + ?Sized>(
    pk: &PublicKey,
    rows: &[Vec<f64>],
    rng: &mut R,
) -> Result<Vec<Vec<EncryptedNumber>>, ClientError> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|x| {
                    let e = EncodedNumber::encode_f64(pk, *x, None, None)?;
                    Ok(pk.encrypt_encoded(&e, rng)?)
                })
                .collect()
        })
        .collect()
}

fn big(v: &Value, what: &str) -> Result<BigUint, ClientError> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed(format!("{what} is not a decimal string")))
}

fn exponent(v: &Value) -> Result<i32, ClientError> {
    v.as_i64()
        .and_then(|e| i32::try_from(e).ok())
        .filter(|e| e.unsigned_abs() <= crate::encoding::MAX_ABS_EXPONENT.unsigned_abs())
        .ok_or_else(|| malformed("bad exponent"))
}

/// Decrypts an answer of `rows` records to their scores.
///
/// # Errors
/// [`ClientError::Malformed`] for an answer of the wrong shape or count,
/// [`ClientError::Crypto`] for a ciphertext outside Z*_{n^2} or a score that overflows.
pub fn decrypt_answer(
    sk: &SecretKey,
    answer: &Value,
    rows: usize,
) -> Result<Vec<f64>, ClientError> {
    let pk = sk.public_key();
    let decode = |c: &Value, e: &Value| -> Result<f64, ClientError> {
        let x = EncryptedNumber {
            ciphertext: pk.ciphertext_from_biguint(&big(c, "ciphertext")?)?,
            exponent: exponent(e)?,
        };
        Ok(sk.decrypt_encoded(&x)?.decode()?.to_f64())
    };
    if let Some(p) = answer.get("packed") {
        let slot_bits = p["slot_bits"]
            .as_u64()
            .and_then(|b| u32::try_from(b).ok())
            .filter(|b| (2..=pk.bits()).contains(b))
            .ok_or_else(|| malformed("bad slot_bits"))?;
        let slots = p["slots"]
            .as_u64()
            .filter(|s| *s >= 1)
            .ok_or_else(|| malformed("bad slots"))? as usize;
        let e = exponent(&p["exponent"])?;
        let cts = p["ciphertexts"]
            .as_array()
            .ok_or_else(|| malformed("no ciphertexts"))?;
        if p["rows"].as_u64() != Some(rows as u64) || cts.len() != rows.div_ceil(slots) {
            return Err(malformed(
                "packed answer does not hold one score per record",
            ));
        }
        let cts = cts
            .iter()
            .map(|c| Ok(pk.ciphertext_from_biguint(&big(c, "ciphertext")?)?))
            .collect::<Result<Vec<_>, ClientError>>()?;
        return unpack_scores(sk, &cts, slot_bits, slots, e, rows);
    }
    let items: Vec<(Value, Value)> = if let Some(rs) = answer.get("rows").and_then(Value::as_array)
    {
        rs.iter()
            .map(|r| {
                let v = &r["values"][0];
                (v[0].clone(), v[1].clone())
            })
            .collect()
    } else if let Some(vs) = answer.get("values").and_then(Value::as_array) {
        vs.iter().map(|v| (v[0].clone(), v[1].clone())).collect()
    } else {
        return Err(malformed("answer has neither values, rows nor packed"));
    };
    if items.len() != rows {
        return Err(malformed(format!(
            "{} scores for {rows} records",
            items.len()
        )));
    }
    items.iter().map(|(c, e)| decode(c, e)).collect()
}

fn unpack_scores(
    sk: &SecretKey,
    cts: &[crate::paillier::Ciphertext],
    slot_bits: u32,
    slots: usize,
    e: i32,
    rows: usize,
) -> Result<Vec<f64>, ClientError> {
    let pk = sk.public_key();
    let mut out = Vec::with_capacity(rows);
    for (i, c) in cts.iter().enumerate() {
        let m = sk.decrypt(c)?.to_biguint_vartime();
        let count = slots.min(rows.saturating_sub(i * slots));
        for s in super::score::unpack(&m, slot_bits, count) {
            let r = EncodedNumber::from_parts(
                pk,
                crate::paillier::Plaintext::from_bigint(pk, &s)?.to_biguint_vartime(),
                e,
            )?;
            out.push(r.decode()?.to_f64());
        }
    }
    Ok(out)
}

/// Decrypts a decoded binary answer ([`super::binary::decode_answer`]) of `rows` records.
///
/// # Errors
/// [`ClientError::Malformed`] for the wrong count, [`ClientError::Crypto`] for a score that
/// does not decode.
pub fn decrypt_scored(
    sk: &SecretKey,
    scored: &super::score::Scored,
    rows: usize,
) -> Result<Vec<f64>, ClientError> {
    match scored {
        super::score::Scored::Rows(xs) => {
            if xs.len() != rows {
                return Err(malformed(format!("{} scores for {rows} records", xs.len())));
            }
            xs.iter()
                .map(|x| Ok(sk.decrypt_encoded(x)?.decode()?.to_f64()))
                .collect()
        }
        super::score::Scored::Packed(p) => {
            if p.rows != rows || p.ciphertexts.len() != rows.div_ceil(p.slots.max(1)) {
                return Err(malformed(
                    "packed answer does not hold one score per record",
                ));
            }
            unpack_scores(sk, &p.ciphertexts, p.slot_bits, p.slots, p.exponent, rows)
        }
    }
}

/// A client of one service address.
pub struct ScoreClient {
    addr: String,
    /// Time limit of one request.
    pub timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: Option<String>,
    binary: bool,
}

impl ScoreClient {
    /// A client of the service at `addr` (host:port).
    pub fn new(addr: impl Into<String>) -> Self {
        ScoreClient {
            addr: addr.into(),
            timeout: Duration::from_secs(300),
            tls: None,
            token: None,
            binary: false,
        }
    }

    /// Speaks HTTPS with this configuration ([`super::tls::client_config`] trusts the CA
    /// certificates it is given); the server's certificate must name the host of `addr`.
    pub fn with_tls(mut self, cfg: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(cfg);
        self
    }

    /// Sends `Authorization: Bearer TOKEN` with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Scores with the binary content type ([`super::binary`]) instead of JSON.
    pub fn with_binary(mut self, binary: bool) -> Self {
        self.binary = binary;
        self
    }

    /// One request with this client's TLS and token: `body` with its content type; returns
    /// the status and the raw answer.
    ///
    /// # Errors
    /// [`ClientError::Io`] for connection and TLS failures, [`ClientError::Malformed`] for an
    /// answer that is not HTTP.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<(&[u8], &str)>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let req = Request {
            method,
            path,
            body,
            token: self.token.as_deref(),
        };
        exchange(&self.addr, self.tls.as_ref(), &req, self.timeout)
    }

    fn refused(status: u16, answer: &[u8]) -> ClientError {
        match serde_json::from_slice::<Value>(answer) {
            Ok(v) => ClientError::Refused {
                status,
                code: v["error"]["code"].as_str().unwrap_or("").into(),
                message: v["error"]["message"].as_str().unwrap_or("").into(),
            },
            Err(e) => malformed(format!("answer is not JSON (status {status}): {e}")),
        }
    }

    /// Posts a binary body to `/v1/score` and returns the binary answer.
    ///
    /// # Errors
    /// [`ClientError::Refused`] with the service's (JSON) error, or a connection error.
    pub fn post_binary(&self, body: &[u8]) -> Result<Vec<u8>, ClientError> {
        let (status, answer) = self.send(
            "POST",
            "/v1/score",
            Some((body, super::binary::CONTENT_TYPE)),
        )?;
        if status != 200 {
            return Err(Self::refused(status, &answer));
        }
        Ok(answer)
    }

    /// Posts a JSON body to `/v1/score` and returns the answer.
    ///
    /// # Errors
    /// [`ClientError::Refused`] with the service's error, or a connection or format error.
    pub fn post(&self, body: &[u8]) -> Result<Value, ClientError> {
        let (status, answer) = self.send("POST", "/v1/score", Some((body, "application/json")))?;
        if status != 200 {
            return Err(Self::refused(status, &answer));
        }
        serde_json::from_slice(&answer)
            .map_err(|e| malformed(format!("answer is not JSON (status {status}): {e}")))
    }

    /// The service's public model metadata.
    ///
    /// # Errors
    /// As [`ScoreClient::post`].
    pub fn model(&self) -> Result<Value, ClientError> {
        let (status, answer) = self.send("GET", "/v1/model", None)?;
        if status != 200 {
            return Err(malformed(format!("GET /v1/model answered {status}")));
        }
        serde_json::from_slice(&answer).map_err(|e| malformed(e.to_string()))
    }

    /// Encrypts `rows`, scores them (packed if asked) and decrypts the scores.
    ///
    /// # Errors
    /// As [`ScoreClient::post`], [`encrypt_rows`] and [`decrypt_answer`].
    pub fn score<R: CryptoRng + ?Sized>(
        &self,
        sk: &SecretKey,
        rows: &[Vec<f64>],
        pack: bool,
        rng: &mut R,
    ) -> Result<Vec<f64>, ClientError> {
        let pk = sk.public_key();
        let enc = encrypt_rows(pk, rows, rng)?;
        if self.binary {
            let body = super::binary::encode_request(pk, &enc, pack.then_some(0))?;
            let answer = self.post_binary(&body)?;
            let scored = super::binary::decode_answer(pk, &answer, rows.len())?;
            return decrypt_scored(sk, &scored, rows.len());
        }
        let body = request_body(pk, &enc, pack).to_string();
        let answer = self.post(body.as_bytes())?;
        decrypt_answer(sk, &answer, rows.len())
    }
}
