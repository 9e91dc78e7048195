//! Private set intersection on the OPRF of RFC 9497 (ristretto255-SHA512).
//!
//! Two parties with private sets of byte strings learn their overlap and nothing else. The
//! server holds a fresh OPRF key for each session; the client learns the OPRF value of each
//! of its elements without the server seeing them, and compares them with the OPRF values
//! of the server's elements. Five modes ([`Mode`]):
//!
//! | mode | the client learns | the server learns |
//! |---|---|---|
//! | intersection | which of its elements the server holds | the client's set size |
//! | cardinality | the intersection size only | the client's set size |
//! | sum | the size and the sum of the server's values over it | the client's set size, the intersection size |
//! | shares | its elements in the intersection and a Z_2^64 share of each one's server value | the client's set size, the intersection size, the other shares |
//! | server-sum | the intersection size (and the sum, if the server reveals it) | the client's set size, the intersection size and the sum of its values over it |
//!
//! Sum and server-sum compute the same thing with different roles. In sum mode the client
//! learns the sum, and a client that cheats can learn one chosen combination of its matched
//! values instead (e.g. one value). Server-sum takes Private Join and Compute's roles: the
//! party that holds the values and the key learns the sum, and nothing decrypted goes back,
//! so a cheating client learns nothing about the values. Use server-sum when the client is
//! not trusted to follow the protocol.
//!
//! In every mode both sides learn the other's set size.
//!
//! # Construction
//! - Elements are hashed to ristretto255 with RFC 9380 `expand_message_xmd` (SHA-512) under
//!   the domain tag `HashToGroup-OPRFV1-\0-ristretto255-SHA512-shroud-psi-v3-` followed by
//!   the mode, a 16-byte session id the server draws fresh and the application's session
//!   label ([`session_dst`]). The OPRF arithmetic and output hash are RFC 9497's;
//!   `tests/kat_oprf.rs` checks them against the RFC's vectors.
//! - Intersection and shares: a fresh blind per element; the server answers in order; the
//!   client finalizes with RFC 9497 `Finalize`.
//! - Cardinality, sum and server-sum: one blind for all elements and the server shuffles its answers,
//!   so the client gets the set of OPRF values of its elements but not which is which; the
//!   output hash then binds the element only (no input).
//! - The server's set travels as sorted truncated tags (30 + log2(N M) bits each) or as a
//!   Golomb-Rice compressed set ([`gcs`]); either way the chance of any false match in the
//!   session is at most 2^-30.
//! - Sum: the server (which holds a Paillier key) sends each value as E(v + u), where u is
//!   a secret offset drawn fresh for the session, one-time padded with a key derived from
//!   that element's OPRF value, so the client can only open the ciphertexts of elements it
//!   holds. The client adds up its c matches, adds a mask r uniform in [0, n - 2^L)
//!   (L = 64 + ceil(log2(c + 1)), the size of an honest sum), rerandomizes and sends the
//!   ciphertext with c. The server refuses c below its threshold, decrypts, subtracts c u
//!   and returns only the low L bits, from which the client removes r.
//! - Shares: as sum, but per match: the client sends E(v_j + u + r_j) (r_j uniform in
//!   [0, n - 2^64), rerandomized) in its own order and keeps -r_j mod 2^64; the server's
//!   share is (decryption - u) mod 2^64.
//! - Server-sum ([`server_sum`]): the server sends each value as E(v) (no offset), padded
//!   as in sum mode. The client adds up its c matches and E(2^L r), r uniform in
//!   [0, n / 2^L - 1), and sends the ciphertext with c; for an honest sum s < 2^L the
//!   masked value never wraps mod n. The server refuses c above min(N, M) or below its
//!   threshold, decrypts, keeps the low L bits and checks that they lie in
//!   [c min v, c max v]. Without reveal it answers nothing at all (an abort would tell a
//!   cheating client whether its chosen plaintext passed the check); with reveal it sends
//!   the sum back, or aborts if it is out of range. A matched value that is not a valid
//!   ciphertext counts as 0.
//!
//! # What each side learns
//! Set sizes are always public. "Semi-honest" is a peer that follows the protocol and
//! studies what it saw; "malicious" one that sends whatever it likes.
//!
//! | mode | client learns, server semi-honest | client learns, client malicious | server learns, client semi-honest | server learns, server malicious |
//! |---|---|---|---|---|
//! | intersection | its elements the server holds | the same, for any set it picks | nothing | nothing |
//! | cardinality | the intersection size | which of its elements matched (per-element blinds undo the shuffle, as in every DH-based PSI-CA) | nothing | nothing |
//! | sum | the size and the sum | which elements matched, and at most L bits per session about their values: one combination of its matched values with coefficients summing to the count it claims, modulo 2^L (e.g. one single value, whatever the threshold) | the size the client reports | the same, within 2^L / n of nothing else, whatever values it encrypted |
//! | shares | its common elements and a share of each value | the same, for any set it picks; it can make the server's shares hold other combinations of matched values (nothing is revealed to it) | the size, its shares | the same, within 2^64 / n of nothing else, whatever values it encrypted |
//! | server-sum | the size | which elements matched (as in cardinality), and nothing about any value: no byte derived from the decryption comes back | the size the client reports, and the sum | the sum mod 2^L of the plaintexts it encrypted over the matches, and at most one bit more (whether the rest of that sum lies below a uniformly random threshold), whatever plaintexts it encrypted |
//! | server-sum, reveal | the size and the sum | which matched, and per session one integer combination of the values of its matched elements plus a constant of its choice, reduced mod n then mod 2^L, if it lies in [c min v, c max v] (e.g. c v_j, so one value v_j), else only that it did not; under a key reused across sessions, the elements it matched in earlier sessions count too | as server-sum | as server-sum |
//!
//! Here L = 64 + ceil(log2(c + 1)), the width of an honest sum of c 64-bit values, and c
//! the count the client reports.
//!
//! Notes on the malicious columns:
//! - A client always chooses its set, so it can probe for chosen elements. The threshold
//!   binds the count a client reports; a cheating client can report any count, so the
//!   threshold limits an honest client only.
//! - Sum mode: a client cannot use the server to decrypt anything else: a packed
//!   combination such as sum 2^(70 j) E(v_j + u) leaves u in the result unless the
//!   coefficients sum to the count (then the low L bits hold one honest-sized value).
//!   Under a key reused outside the service, a foreign ciphertext added to a match leaks L
//!   bits of its plaintext per session, which is why the key must be dedicated. These L
//!   bits are what server-sum removes; keeping the client as the party that learns the sum
//!   without them would need zero-knowledge proofs that its coefficients are 0 or 1 (Miao
//!   et al., CRYPTO 2020).
//! - Server-sum: the client only ever sends one ciphertext and receives nothing, so
//!   whatever it puts in it (a packed combination, one value, a ciphertext from elsewhere)
//!   teaches it nothing; it can make the server's sum wrong (any combination of its
//!   matched values that lands in [c min v, c max v], a false count), which the server
//!   detects only when the result is out of that range. With reveal, the sum the server
//!   sends back is whatever the client had it decrypt, within that range: the row above.
//!   That is no better than sum mode against a cheating client; reveal only to a client
//!   trusted to follow the protocol, or one that may learn one value.
//! - Server-sum is the functionality itself for the server: it learns a sum over the
//!   intersection of values it chose, so with distinct values and a small intersection the
//!   sum can name the matched elements, as in Private Join and Compute. What the protocol
//!   adds is bounded: for any plaintexts a cheating server encrypts (say 2^(140 + j)), it
//!   sees their sum mod 2^L, which is what values below 2^L would give, plus the one
//!   comparison bit; a spoiled ciphertext acts as the value 0, whether or not the client
//!   holds its element. As in sum mode this needs a sound modulus (the client demands the
//!   [`crate::paillier::ModulusProof`]): otherwise the fresh encryption of the mask would not
//!   hide which of the server's ciphertexts were multiplied in.
//! - Sum and shares: a server can choose its set and values, and can make the client's sum or shares
//!   wrong (the client checks only that a sum is no larger than c 64-bit values); it
//!   cannot learn which elements matched: what it decrypts is masked uniformly mod n. That
//!   needs a sound modulus, which the server proves
//!   ([`crate::paillier::ModulusProof`]); and a matched value that is not a valid
//!   ciphertext is replaced by a random encryption, not refused, so spoiling one
//!   element's value does not reveal whether the client holds it.
//! - Neither side learns anything about the other's elements outside the intersection
//!   (beyond set sizes), even when cheating: that rests on the one-more-gap-DH assumption
//!   of RFC 9497, the pads and Paillier's semantic security.
//! - Over a network, the channel layer ([`crate::net`]) authenticates both parties by
//!   pinned keys and encrypts every message; a passive or active network attacker learns
//!   set sizes (from message lengths) and nothing else.
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
#[doc(hidden)]
pub mod fuzzing;
pub mod gcs;
pub mod input;
mod masks;
pub mod msgs;
pub mod oprf;
pub mod server;
pub mod server_sum;

use std::collections::HashSet;

use rand_core::{CryptoRng, SeedableRng};

pub use client::{Client, ClientAwaitResponse, ClientAwaitSum, ClientStep};
pub use error::PsiError;
pub use msgs::{Message, SetFormat};
pub use server::{Server, ServerAwaitRequest, ServerAwaitShares, ServerAwaitSum, ServerNext};
pub use server_sum::{ClientAwaitRelease, ServerAwaitServerSum};

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
    /// Private Join and Compute's roles: the server, which holds the values and the Paillier
    /// key, learns the sum of its values over the intersection; the client learns how many
    /// (and the sum only if the server releases it, [`ServerConfig::reveal_sum`]).
    ServerSum,
}

impl Mode {
    pub(crate) fn code(self) -> u8 {
        match self {
            Mode::Intersection => 1,
            Mode::Cardinality => 2,
            Mode::Sum => 3,
            Mode::Shares => 4,
            Mode::ServerSum => 5,
        }
    }

    pub(crate) fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => Mode::Intersection,
            2 => Mode::Cardinality,
            3 => Mode::Sum,
            4 => Mode::Shares,
            5 => Mode::ServerSum,
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
            Mode::ServerSum => "server-sum",
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
            "server-sum" => Mode::ServerSum,
            _ => {
                return Err(PsiError::InvalidInput(format!(
                    "unknown mode {s:?}: use intersection, cardinality, sum, shares or server-sum"
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
    /// Sum and server-sum modes: refuse sums over fewer matches (0: no threshold).
    pub threshold: u64,
    /// Server-sum mode: also send the sum to the client, if it lies within the range the
    /// claimed count allows. Off by default: a cheating client can choose what the server
    /// decrypts, so a released sum can be one chosen combination of its matched values
    /// (see the module documentation).
    pub reveal_sum: bool,
    /// Most elements a client may send: the server refuses a larger request before
    /// reading it (32 bytes an element).
    pub max_client_elements: u64,
    /// Sum, shares and server-sum modes: encrypt the values with the DJN short-exponent
    /// mode ([`crate::paillier::DjnEncryptor`], about 2.5x faster than key-owner CRT
    /// encryption at 2048 and 3072 bits) instead of key-owner CRT encryption. Off by
    /// default: it adds the short-exponent assumption to Paillier's.
    pub djn: bool,
}

impl ServerConfig {
    /// Defaults: label `shroud-psi`, compressed set, no threshold, clients of up to 2^20
    /// elements (a 32 MiB request).
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            label: "shroud-psi".into(),
            format: SetFormat::Compressed,
            threshold: 0,
            reveal_sum: false,
            max_client_elements: 1 << 20,
            djn: false,
        }
    }

    fn check(&self) -> Result<(), PsiError> {
        if self.label.len() > msgs::MAX_LABEL {
            return Err(PsiError::InvalidInput("session label over 64 bytes".into()));
        }
        if self.threshold > 0 && !matches!(self.mode, Mode::Sum | Mode::ServerSum) {
            return Err(PsiError::InvalidInput(
                "a threshold applies to sum and server-sum modes only".into(),
            ));
        }
        if self.reveal_sum && self.mode != Mode::ServerSum {
            return Err(PsiError::InvalidInput(
                "reveal_sum applies to server-sum mode only".into(),
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
    /// Largest server Paillier key the client accepts (its ciphertexts size the response).
    pub max_paillier_bits: u32,
    /// Largest server set the client accepts: the server's response is sized by the count
    /// it announces, so this bounds what a server can make the client buffer.
    pub max_server_elements: u64,
}

impl ClientConfig {
    /// Defaults: label `shroud-psi`, Paillier keys of 2048 to 4096 bits, servers of up to
    /// 2^20 elements.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            label: "shroud-psi".into(),
            min_paillier_bits: 2048,
            max_paillier_bits: 4096,
            max_server_elements: 1 << 20,
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
    /// Sum mode, and server-sum mode when the server reveals it: the sum of the server's
    /// values over the intersection.
    pub intersection_sum: Option<u128>,
    /// Shares mode: the client's share of each common element's value, aligned with
    /// `intersection` and with the server's shares.
    pub shares: Option<Vec<u64>>,
}

/// What the server ends with (its `Debug` prints the number of shares, not their values).
#[derive(Clone, PartialEq, Eq)]
pub struct ServerOutput {
    /// Sum, shares and server-sum modes: the intersection size (as reported by the client).
    pub intersection_size: Option<usize>,
    /// Server-sum mode: the sum of the server's values over the intersection.
    pub intersection_sum: Option<u128>,
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
/// the element in ordered modes, over the group element alone in shuffled ones. `element`
/// is the compressed OPRF evaluation k * H(input).
pub fn output_for(mode: Mode, input: &[u8], element: &[u8; 32]) -> [u8; 64] {
    match mode {
        Mode::Intersection | Mode::Shares => oprf::finalize_element(input, element),
        Mode::Cardinality | Mode::Sum | Mode::ServerSum => {
            oprf::finalize_element(b"shroud-psi-unordered", element)
        }
    }
}

/// XORs `data` with a ChaCha20 keystream keyed by bytes 32..64 of an OPRF output (bytes
/// 0..16 make the tag, so the two are independent): how a server's encrypted value is
/// hidden from every client that does not hold its element.
pub fn pad(output: &[u8; 64], data: &mut [u8]) {
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

/// Frames no message may exceed before the session has fixed its sizes: hellos (with a
/// Paillier modulus and its proof of 14 roots, at most 8192 bits each), sum replies,
/// aborts.
const SMALL_FRAME: usize = 64 << 10;

/// Receives one message of kind `expected`, accepting frames of at most `max_frame` bytes
/// and lists within `limits`.
fn recv<T: Transport + ?Sized>(
    t: &mut T,
    expected: &'static str,
    max_frame: usize,
    limits: &msgs::Limits,
) -> Result<Message, PsiError> {
    t.set_max_frame(max_frame.max(SMALL_FRAME));
    let frame = t.recv()?;
    let msg = or_abort(t, Message::decode_with(&frame, limits))?;
    match msg {
        Message::Abort(reason) => Err(PsiError::PeerAborted(reason)),
        m if m.name() == expected => Ok(m),
        m => Err(PsiError::UnexpectedMessage {
            expected,
            got: m.name().to_string(),
        }),
    }
}

/// On a local error, tells the peer (best effort, and only what it may know) before
/// returning the error.
fn or_abort<T: Transport + ?Sized, X>(t: &mut T, r: Result<X, PsiError>) -> Result<X, PsiError> {
    if let Err(e) = &r
        && !matches!(e, PsiError::Net(_) | PsiError::PeerAborted(_))
    {
        let _ = t.send(&Message::Abort(e.peer_text()).encode());
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
    let (max, limits) = (state.max_request_bytes(), state.limits());
    let Message::ClientRequest(req) = recv(t, "ClientRequest", max, &limits)? else {
        unreachable!("recv checks the kind")
    };
    let r = state.respond(req, rng);
    let (resp, next) = or_abort(t, r)?;
    t.send(&Message::ServerResponse(resp).encode())?;
    match next {
        ServerNext::Done(out) => Ok(out),
        ServerNext::AwaitSum(s) => {
            let max = s.max_request_bytes();
            let Message::SumRequest(req) = recv(t, "SumRequest", max, &msgs::Limits::NO_LISTS)?
            else {
                unreachable!("recv checks the kind")
            };
            let r = s.finish(req);
            let (reply, out) = or_abort(t, r)?;
            t.send(&Message::SumReply(reply).encode())?;
            Ok(out)
        }
        ServerNext::AwaitShares(s) => {
            let (max, limits) = (s.max_request_bytes(), s.limits());
            let Message::SharesRequest(req) = recv(t, "SharesRequest", max, &limits)? else {
                unreachable!("recv checks the kind")
            };
            let r = s.finish(req);
            or_abort(t, r)
        }
        ServerNext::AwaitServerSum(s) => {
            let max = s.max_request_bytes();
            let Message::SumRequest(req) = recv(t, "SumRequest", max, &msgs::Limits::NO_LISTS)?
            else {
                unreachable!("recv checks the kind")
            };
            if !s.reveals() {
                // Nothing goes back, not even an abort: whether the sum passed the range
                // check would be a bit about a plaintext a cheating client chose.
                return s.finish(req).map(|(_, out)| out);
            }
            let (reply, out) = or_abort(t, s.finish(req))?;
            if let Some(reply) = reply {
                t.send(&Message::SumReply(reply).encode())?;
            }
            Ok(out)
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
    let Message::ServerHello(hello) = recv(t, "ServerHello", SMALL_FRAME, &msgs::Limits::NO_LISTS)?
    else {
        unreachable!("recv checks the kind")
    };
    let r = client.start(hello, rng);
    let (req, state) = or_abort(t, r)?;
    t.send(&Message::ClientRequest(req).encode())?;
    let (max, limits) = (state.max_response_bytes(), state.limits());
    let Message::ServerResponse(resp) = recv(t, "ServerResponse", max, &limits)? else {
        unreachable!("recv checks the kind")
    };
    let r = state.finish(resp, rng);
    match or_abort(t, r)? {
        ClientStep::Done(out) => Ok(out),
        ClientStep::SendSum(req, state) => {
            t.send(&Message::SumRequest(req).encode())?;
            let Message::SumReply(reply) =
                recv(t, "SumReply", SMALL_FRAME, &msgs::Limits::NO_LISTS)?
            else {
                unreachable!("recv checks the kind")
            };
            state.finish(reply)
        }
        ClientStep::SendShares(req, out) => {
            t.send(&Message::SharesRequest(req).encode())?;
            Ok(out)
        }
        ClientStep::SendSumToServer(req, out) => {
            t.send(&Message::SumRequest(req).encode())?;
            Ok(out)
        }
        ClientStep::SendSumAwaitRelease(req, state) => {
            t.send(&Message::SumRequest(req).encode())?;
            let Message::SumReply(reply) =
                recv(t, "SumReply", SMALL_FRAME, &msgs::Limits::NO_LISTS)?
            else {
                unreachable!("recv checks the kind")
            };
            state.finish(reply)
        }
    }
}
