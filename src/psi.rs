//! Private set intersection on the OPRF of RFC 9497 (ristretto255-SHA512).
//!
//! Two parties with private sets of byte strings learn their overlap and nothing else. The
//! server holds a fresh OPRF key for each session; the client learns the OPRF value of each
//! of its elements without the server seeing them, and compares them with the OPRF values
//! of the server's elements. Four modes ([`Mode`]):
//!
//! | mode | the client learns | the server learns |
//! |---|---|---|
//! | intersection | which of its elements the server holds | the client's set size |
//! | cardinality | the intersection size only | the client's set size |
//! | sum | the size and the sum of the server's values over it | the client's set size, the intersection size |
//! | shares | its elements in the intersection and a Z_2^64 share of each one's server value | the client's set size, the intersection size, the other shares |
//!
//! In every mode both sides learn the other's set size.
//!
//! # Construction
//! - Elements are hashed to ristretto255 with RFC 9380 `expand_message_xmd` (SHA-512) under
//!   the domain tag `HashToGroup-OPRFV1-\0-ristretto255-SHA512-shroud-psi-v1-` followed by
//!   the mode, a 16-byte session id the server draws fresh and the application's session
//!   label ([`session_dst`]). The OPRF arithmetic and output hash are RFC 9497's;
//!   `tests/kat_oprf.rs` checks them against the RFC's vectors.
//! - Intersection and shares: a fresh blind per element; the server answers in order; the
//!   client finalizes with RFC 9497 `Finalize`.
//! - Cardinality and sum: one blind for all elements and the server shuffles its answers,
//!   so the client gets the set of OPRF values of its elements but not which is which; the
//!   output hash then binds the element only (no input).
//! - The server's set travels as sorted truncated tags (30 + log2(N M) bits each) or as a
//!   Golomb-Rice compressed set ([`gcs`]); either way the chance of any false match in the
//!   session is at most 2^-30.
//! - Sum: the server (which holds a Paillier key) sends its values encrypted and each one
//!   padded with a key derived from that element's OPRF value, so the client can only open
//!   the ciphertexts of elements it holds. The client adds up the matched ones, adds a mask
//!   40 bits longer than the largest possible sum, rerandomizes and sends the ciphertext
//!   with the match count; the server refuses counts below its threshold and otherwise
//!   returns the decryption, which the client unmasks.
//! - Shares: as sum, but per match: the client sends E(v_j + r_j) (rerandomized) in its own
//!   order and keeps -r_j mod 2^64; the server's share is (v_j + r_j) mod 2^64.
//!
//! # Trust model and leakage
//! Both parties are semi-honest (they follow the protocol and try to learn more from what
//! they see). Under that model the table above is exactly what each learns. What an active
//! cheater can do:
//! - A client that uses a different blind per element in cardinality or sum mode can undo
//!   the server's shuffle and learn which of its elements matched (as in every DH-based
//!   PSI-cardinality protocol). A client can always pick its set, so it can probe for chosen
//!   elements, and in sum mode it can under-report its count, so the threshold only binds an
//!   honest client: a cheating client can learn the value of any single element it holds.
//! - A server can choose its set and values freely, and in sum mode can lie about the
//!   decryption (the client checks it is in range but cannot detect a plausible lie).
//! - Neither side can learn anything about the other's elements outside the intersection
//!   (beyond set sizes), even when cheating: that rests on the one-more-gap-DH assumption
//!   of RFC 9497, the pads and Paillier's semantic security.
//!
//! # Example
//! ```
//! use shroud::psi::{self, ClientConfig, Mode, ServerConfig};
//! use shroud::net::MemoryTransport;
//!
//! let server_set: Vec<Vec<u8>> = ["alice", "bob", "carol"].iter().map(|s| s.as_bytes().to_vec()).collect();
//! let client_set: Vec<Vec<u8>> = ["bob", "carol", "dave"].iter().map(|s| s.as_bytes().to_vec()).collect();
//! let (mut a, mut b) = MemoryTransport::pair();
//! let server = psi::Server::new(ServerConfig::new(Mode::Intersection), server_set, None, None, &mut shroud::rng::os_rng())?;
//! let handle = std::thread::spawn(move || psi::run_server(&mut a, server, &mut shroud::rng::os_rng()));
//! let client = psi::Client::new(ClientConfig::new(Mode::Intersection), client_set)?;
//! let out = psi::run_client(&mut b, client, &mut shroud::rng::os_rng())?;
//! handle.join().unwrap()?;
//! assert_eq!(out.intersection_size, 2);
//! assert_eq!(out.intersection.unwrap(), vec![b"bob".to_vec(), b"carol".to_vec()]);
//! # Ok::<(), shroud::psi::PsiError>(())
//! ```

pub mod client;
pub mod error;
pub mod gcs;
pub mod input;
pub mod msgs;
pub mod oprf;
pub mod server;

use std::collections::HashSet;

use rand_core::{CryptoRng, SeedableRng};

pub use client::{Client, ClientAwaitResponse, ClientAwaitSum, ClientStep};
pub use error::PsiError;
pub use msgs::{Message, SetFormat};
pub use server::{Server, ServerAwaitRequest, ServerAwaitShares, ServerAwaitSum, ServerNext};

use crate::net::Transport;

/// Longest element accepted (RFC 9497 encodes input lengths in two bytes).
pub const MAX_ELEMENT_BYTES: usize = 65535;

/// What the client learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Which of the client's elements the server holds.
    Intersection,
    /// Only how many.
    Cardinality,
    /// How many, and the sum of the server's values over them.
    Sum,
    /// The intersection, with each element's server value split into Z_2^64 shares.
    Shares,
}

impl Mode {
    pub(crate) fn code(self) -> u8 {
        match self {
            Mode::Intersection => 1,
            Mode::Cardinality => 2,
            Mode::Sum => 3,
            Mode::Shares => 4,
        }
    }

    pub(crate) fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => Mode::Intersection,
            2 => Mode::Cardinality,
            3 => Mode::Sum,
            4 => Mode::Shares,
            _ => return None,
        })
    }
}

impl core::fmt::Display for Mode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Mode::Intersection => "intersection",
            Mode::Cardinality => "cardinality",
            Mode::Sum => "sum",
            Mode::Shares => "shares",
        })
    }
}

impl core::str::FromStr for Mode {
    type Err = PsiError;
    fn from_str(s: &str) -> Result<Self, PsiError> {
        Ok(match s {
            "intersection" => Mode::Intersection,
            "cardinality" => Mode::Cardinality,
            "sum" => Mode::Sum,
            "shares" => Mode::Shares,
            _ => {
                return Err(PsiError::InvalidInput(format!(
                    "unknown mode {s:?}: use intersection, cardinality, sum or shares"
                )));
            }
        })
    }
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The mode.
    pub mode: Mode,
    /// Session label both sides must agree on (at most 64 bytes).
    pub label: String,
    /// How the server's set is sent.
    pub format: SetFormat,
    /// Sum mode: refuse sums over fewer matches (0: no threshold).
    pub threshold: u64,
}

impl ServerConfig {
    /// Defaults: label `shroud-psi`, compressed set, no threshold.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            label: "shroud-psi".into(),
            format: SetFormat::Compressed,
            threshold: 0,
        }
    }

    fn check(&self) -> Result<(), PsiError> {
        if self.label.len() > msgs::MAX_LABEL {
            return Err(PsiError::InvalidInput("session label over 64 bytes".into()));
        }
        if self.threshold > 0 && self.mode != Mode::Sum {
            return Err(PsiError::InvalidInput(
                "a threshold applies to sum mode only".into(),
            ));
        }
        Ok(())
    }
}

/// The client's settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The mode the client expects the server to run.
    pub mode: Mode,
    /// Session label both sides must agree on.
    pub label: String,
    /// Smallest server Paillier key the client accepts (sum and shares modes).
    pub min_paillier_bits: u32,
}

impl ClientConfig {
    /// Defaults: label `shroud-psi`, Paillier keys of at least 2048 bits.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            label: "shroud-psi".into(),
            min_paillier_bits: 2048,
        }
    }

    fn check(&self) -> Result<(), PsiError> {
        if self.label.len() > msgs::MAX_LABEL {
            return Err(PsiError::InvalidInput("session label over 64 bytes".into()));
        }
        Ok(())
    }
}

/// What the client ends with (its `Debug` prints the number of shares, not their values).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientOutput {
    /// Number of common elements.
    pub intersection_size: usize,
    /// Intersection and shares modes: the common elements, in the client's input order.
    pub intersection: Option<Vec<Vec<u8>>>,
    /// Sum mode: the sum of the server's values over the intersection.
    pub intersection_sum: Option<u128>,
    /// Shares mode: the client's share of each common element's value, aligned with
    /// `intersection` and with the server's shares.
    pub shares: Option<Vec<u64>>,
}

/// What the server ends with (its `Debug` prints the number of shares, not their values).
#[derive(Clone, PartialEq, Eq)]
pub struct ServerOutput {
    /// Sum and shares modes: the intersection size (as reported by the client).
    pub intersection_size: Option<usize>,
    /// Shares mode: the server's shares, in the client's order.
    pub shares: Option<Vec<u64>>,
}

impl core::fmt::Debug for ClientOutput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientOutput")
            .field("intersection_size", &self.intersection_size)
            .field("intersection", &self.intersection.as_ref().map(Vec::len))
            .field("intersection_sum", &self.intersection_sum)
            .field(
                "shares",
                &self
                    .shares
                    .as_ref()
                    .map(|s| format!("{} shares, <redacted>", s.len())),
            )
            .finish()
    }
}

impl core::fmt::Debug for ServerOutput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerOutput")
            .field("intersection_size", &self.intersection_size)
            .field(
                "shares",
                &self
                    .shares
                    .as_ref()
                    .map(|s| format!("{} shares, <redacted>", s.len())),
            )
            .finish()
    }
}

/// The hash-to-group domain tag of a session: RFC 9497's tag, then
/// `-shroud-psi-v1-`, the mode code, the session id and the label.
pub fn session_dst(mode: Mode, session_id: &[u8; 16], label: &[u8]) -> Vec<u8> {
    let mut dst = oprf::RFC_HASH_TO_GROUP_DST.to_vec();
    dst.extend_from_slice(b"-shroud-psi-v");
    dst.extend_from_slice(msgs::PROTOCOL_VERSION.to_string().as_bytes());
    dst.push(b'-');
    dst.push(mode.code());
    dst.extend_from_slice(session_id);
    dst.extend_from_slice(label);
    dst
}

/// The 64-byte OPRF output an element's tag and pad come from: RFC 9497 `Finalize` over
/// the element in ordered modes, over the group element alone in shuffled ones.
pub(crate) fn output_for(mode: Mode, input: &[u8], element: &[u8; 32]) -> [u8; 64] {
    match mode {
        Mode::Intersection | Mode::Shares => oprf::finalize_element(input, element),
        Mode::Cardinality | Mode::Sum => oprf::finalize_element(b"shroud-psi-unordered", element),
    }
}

/// XORs `data` with a ChaCha20 keystream keyed by bytes 32..64 of an OPRF output (bytes
/// 0..16 make the tag, so the two are independent).
pub(crate) fn pad(output: &[u8; 64], data: &mut [u8]) {
    let mut key = [0u8; 32];
    key.copy_from_slice(&output[32..]);
    let mut ks = chacha20::ChaCha20Rng::from_seed(key);
    let mut stream = vec![0u8; data.len()];
    rand_core::Rng::fill_bytes(&mut ks, &mut stream);
    for (d, s) in data.iter_mut().zip(&stream) {
        *d ^= s;
    }
    zeroize::Zeroize::zeroize(&mut key);
}

fn check_elements(elements: &[Vec<u8>]) -> Result<(), PsiError> {
    if elements.len() as u64 > msgs::MAX_ELEMENTS {
        return Err(PsiError::InvalidInput(format!(
            "{} elements, over the limit of {}",
            elements.len(),
            msgs::MAX_ELEMENTS
        )));
    }
    if let Some(i) = elements.iter().position(|e| e.len() > MAX_ELEMENT_BYTES) {
        return Err(PsiError::InvalidInput(format!(
            "element {i} is over {MAX_ELEMENT_BYTES} bytes"
        )));
    }
    let mut seen = HashSet::with_capacity(elements.len());
    for (i, e) in elements.iter().enumerate() {
        if !seen.insert(e.as_slice()) {
            return Err(PsiError::InvalidInput(format!(
                "element {i} repeats an earlier one: deduplicate first (psi::input::dedup)"
            )));
        }
    }
    Ok(())
}

fn recv<T: Transport + ?Sized>(t: &mut T, expected: &'static str) -> Result<Message, PsiError> {
    let msg = Message::decode(&t.recv()?)?;
    match msg {
        Message::Abort(reason) => Err(PsiError::PeerAborted(reason)),
        m if m.name() == expected => Ok(m),
        m => Err(PsiError::UnexpectedMessage {
            expected,
            got: m.name().to_string(),
        }),
    }
}

/// On a local error, tells the peer (best effort) before returning the error.
fn or_abort<T: Transport + ?Sized, X>(t: &mut T, r: Result<X, PsiError>) -> Result<X, PsiError> {
    if let Err(e) = &r
        && !matches!(e, PsiError::Net(_) | PsiError::PeerAborted(_))
    {
        let _ = t.send(&Message::Abort(e.to_string()).encode());
    }
    r
}

/// Drives a server session over a transport.
///
/// # Errors
/// Any [`PsiError`]: transport failures, a peer's malformed or invalid messages, an abort.
/// On a local error the peer is sent an abort message first.
pub fn run_server<T: Transport + ?Sized, R: CryptoRng + ?Sized>(
    t: &mut T,
    server: Server,
    rng: &mut R,
) -> Result<ServerOutput, PsiError> {
    let (hello, state) = server.start(rng);
    t.send(&Message::ServerHello(hello).encode())?;
    let Message::ClientRequest(req) = recv(t, "ClientRequest")? else {
        unreachable!("recv checks the kind")
    };
    let r = state.respond(req, rng);
    let (resp, next) = or_abort(t, r)?;
    t.send(&Message::ServerResponse(resp).encode())?;
    match next {
        ServerNext::Done(out) => Ok(out),
        ServerNext::AwaitSum(s) => {
            let Message::SumRequest(req) = recv(t, "SumRequest")? else {
                unreachable!("recv checks the kind")
            };
            let r = s.finish(req);
            let (reply, out) = or_abort(t, r)?;
            t.send(&Message::SumReply(reply).encode())?;
            Ok(out)
        }
        ServerNext::AwaitShares(s) => {
            let Message::SharesRequest(req) = recv(t, "SharesRequest")? else {
                unreachable!("recv checks the kind")
            };
            let r = s.finish(req);
            or_abort(t, r)
        }
    }
}

/// Drives a client session over a transport.
///
/// # Errors
/// As [`run_server`].
pub fn run_client<T: Transport + ?Sized, R: CryptoRng + ?Sized>(
    t: &mut T,
    client: Client,
    rng: &mut R,
) -> Result<ClientOutput, PsiError> {
    let Message::ServerHello(hello) = recv(t, "ServerHello")? else {
        unreachable!("recv checks the kind")
    };
    let r = client.start(hello, rng);
    let (req, state) = or_abort(t, r)?;
    t.send(&Message::ClientRequest(req).encode())?;
    let Message::ServerResponse(resp) = recv(t, "ServerResponse")? else {
        unreachable!("recv checks the kind")
    };
    let r = state.finish(resp, rng);
    match or_abort(t, r)? {
        ClientStep::Done(out) => Ok(out),
        ClientStep::SendSum(req, state) => {
            t.send(&Message::SumRequest(req).encode())?;
            let Message::SumReply(reply) = recv(t, "SumReply")? else {
                unreachable!("recv checks the kind")
            };
            state.finish(reply)
        }
        ClientStep::SendShares(req, out) => {
            t.send(&Message::SharesRequest(req).encode())?;
            Ok(out)
        }
    }
}
