//! Wire messages of the PSI protocol and their binary encoding.
//!
//! Every message is one frame: a kind byte, then fixed-width big-endian integers and
//! length-prefixed byte strings. Decoding checks every length against what remains before
//! allocating, so a short or hostile frame is a [`PsiError::Malformed`], never a panic or
//! an outsized allocation.
//!
//! Flow: server -> client [`ServerHello`]; client -> server [`ClientRequest`]; server ->
//! client [`ServerResponse`]; then, in sum mode, client -> server [`SumRequest`] and server
//! -> client [`SumReply`]; in shares mode, client -> server [`SharesRequest`]; in server-sum
//! mode, client -> server [`SumRequest`], and server -> client [`SumReply`] only if the hello
//! said the server reveals the sum. Either side may send [`Message::Abort`] instead of its
//! next message, except the server after a server-sum request it does not answer (an abort
//! there would tell the client something about what it decrypted).

use super::Mode;
use super::error::PsiError;

/// Protocol version carried in the hello and in the hash-to-group domain tag.
pub const PROTOCOL_VERSION: u16 = 3;
/// Longest session label.
pub const MAX_LABEL: usize = 64;
/// Most elements a peer may announce in one message.
pub const MAX_ELEMENTS: u64 = 1 << 26;

/// How the server's set of tags travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetFormat {
    /// Sorted truncated tags, 30 + ceil(log2(N * M)) bits each rounded up to bytes.
    Raw,
    /// A Golomb-Rice compressed set ([`super::gcs`]), about 31.6 + log2(M) bits each.
    Compressed,
}

/// The server's opening: the session's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The mode the server runs.
    pub mode: Mode,
    /// Fresh random session identifier (part of the hash-to-group domain tag).
    pub session_id: [u8; 16],
    /// The session's OPRF public key skS * G (for the client's additive blinding).
    pub public_key: [u8; 32],
    /// The application's session label (both sides must agree).
    pub label: Vec<u8>,
    /// Number of server elements.
    pub server_count: u64,
    /// Minimum intersection size for intersection-sum (0: none).
    pub threshold: u64,
    /// Format of the server's set in the response.
    pub format: SetFormat,
    /// Server-sum mode: whether the server sends the sum back ([`SumReply`]) after the
    /// client's [`SumRequest`]; always false in other modes.
    pub reveal_sum: bool,
    /// The server's Paillier modulus n, big-endian (sum and shares modes).
    pub paillier_n: Option<Vec<u8>>,
    /// With `paillier_n`: a [`crate::paillier::ModulusProof`] that gcd(n, phi(n)) = 1.
    pub paillier_proof: Option<Vec<u8>>,
}

/// The client's blinded elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// Serialized ristretto255 points, one per client element.
    pub blinded: Vec<[u8; 32]>,
}

/// The server's set, raw or compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodedSet {
    /// `tags.len() == count * tag_bytes`, sorted.
    Raw {
        /// Bytes per tag.
        tag_bytes: u8,
        /// Concatenated tags.
        tags: Vec<u8>,
    },
    /// Golomb-Rice coded.
    Compressed {
        /// Rice parameter.
        p: u8,
        /// The code.
        data: Vec<u8>,
    },
}

/// The server's evaluations of the client's elements and its own set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerResponse {
    /// skS times each blinded element, in the client's order (intersection and shares
    /// modes) or shuffled (cardinality and sum modes).
    pub evaluated: Vec<[u8; 32]>,
    /// The server's tags.
    pub set: EncodedSet,
    /// Sum and shares modes: for each tag in set order, the Paillier encryption of its
    /// value, one-time padded under a key derived from that element's OPRF output.
    pub values: Vec<Vec<u8>>,
}

/// Intersection-sum (sum and server-sum modes): the client's claimed intersection size
/// and its masked sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumRequest {
    /// Number of matches.
    pub count: u64,
    /// Sum mode: E(sum + r), r uniform in [0, n - 2^L); server-sum mode: E(sum + 2^L r),
    /// r uniform in [0, n / 2^L - 1). Rerandomized, big-endian.
    pub ciphertext: Vec<u8>,
}

/// Intersection-sum: the low L = 64 + ceil(log2(count + 1)) bits of what the server
/// decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumReply {
    /// 16 bytes big-endian: in sum mode (sum + mask) mod 2^L, in server-sum mode the sum
    /// itself (the client's mask is a multiple of 2^L).
    pub masked_sum: Vec<u8>,
}

/// What a decoder accepts, from what the session has fixed so far: lists are checked
/// against these before anything is allocated for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most group elements in one list.
    pub max_points: u64,
    /// Most ciphertexts in one list.
    pub max_ciphertexts: u64,
    /// Exact byte length of every ciphertext (the session key's), when known.
    pub ciphertext_bytes: Option<usize>,
}

impl Limits {
    /// For messages that carry no lists (hellos, sum requests and replies, aborts).
    pub const NO_LISTS: Limits = Limits {
        max_points: 0,
        max_ciphertexts: 0,
        ciphertext_bytes: None,
    };
}

impl Default for Limits {
    /// Only the protocol's absolute caps ([`MAX_ELEMENTS`]).
    fn default() -> Self {
        Self {
            max_points: MAX_ELEMENTS,
            max_ciphertexts: MAX_ELEMENTS,
            ciphertext_bytes: None,
        }
    }
}

/// Shares mode: E(v_j + r_j) for each match, in the client's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharesRequest {
    /// Rerandomized ciphertexts, big-endian.
    pub ciphertexts: Vec<Vec<u8>>,
}

/// Any PSI message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// See [`ServerHello`].
    ServerHello(ServerHello),
    /// See [`ClientRequest`].
    ClientRequest(ClientRequest),
    /// See [`ServerResponse`].
    ServerResponse(ServerResponse),
    /// See [`SumRequest`].
    SumRequest(SumRequest),
    /// See [`SumReply`].
    SumReply(SumReply),
    /// See [`SharesRequest`].
    SharesRequest(SharesRequest),
    /// The sender stops the session; the text says why.
    Abort(String),
}

impl Message {
    /// A short name for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Message::ServerHello(_) => "ServerHello",
            Message::ClientRequest(_) => "ClientRequest",
            Message::ServerResponse(_) => "ServerResponse",
            Message::SumRequest(_) => "SumRequest",
            Message::SumReply(_) => "SumReply",
            Message::SharesRequest(_) => "SharesRequest",
            Message::Abort(_) => "Abort",
        }
    }

    /// Serializes the message into one frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::new();
        match self {
            Message::ServerHello(h) => {
                w.push(1);
                w.extend_from_slice(&h.version.to_be_bytes());
                w.push(h.mode.code());
                w.extend_from_slice(&h.session_id);
                w.extend_from_slice(&h.public_key);
                put_bytes(&mut w, &h.label);
                w.extend_from_slice(&h.server_count.to_be_bytes());
                w.extend_from_slice(&h.threshold.to_be_bytes());
                w.push(match h.format {
                    SetFormat::Raw => 0,
                    SetFormat::Compressed => 1,
                });
                w.push(u8::from(h.reveal_sum));
                match (&h.paillier_n, &h.paillier_proof) {
                    (Some(n), Some(proof)) => {
                        w.push(1);
                        put_bytes(&mut w, n);
                        put_bytes(&mut w, proof);
                    }
                    // A key without its proof is sent as no key at all: the client then
                    // refuses a sum or shares session.
                    _ => w.push(0),
                }
            }
            Message::ClientRequest(r) => {
                w.push(2);
                put_points(&mut w, &r.blinded);
            }
            Message::ServerResponse(r) => {
                w.push(3);
                put_points(&mut w, &r.evaluated);
                match &r.set {
                    EncodedSet::Raw { tag_bytes, tags } => {
                        w.push(0);
                        w.push(*tag_bytes);
                        put_bytes(&mut w, tags);
                    }
                    EncodedSet::Compressed { p, data } => {
                        w.push(1);
                        w.push(*p);
                        put_bytes(&mut w, data);
                    }
                }
                put_fixed_list(&mut w, &r.values);
            }
            Message::SumRequest(s) => {
                w.push(4);
                w.extend_from_slice(&s.count.to_be_bytes());
                put_bytes(&mut w, &s.ciphertext);
            }
            Message::SumReply(s) => {
                w.push(5);
                put_bytes(&mut w, &s.masked_sum);
            }
            Message::SharesRequest(s) => {
                w.push(6);
                put_fixed_list(&mut w, &s.ciphertexts);
            }
            Message::Abort(reason) => {
                w.push(0xff);
                put_bytes(&mut w, reason.as_bytes());
            }
        }
        w
    }

    /// Parses one frame.
    ///
    /// # Errors
    /// [`PsiError::Malformed`] on an unknown kind, a truncated or over-long frame, or any
    /// length that does not fit.
    pub fn decode(frame: &[u8]) -> Result<Self, PsiError> {
        Self::decode_with(frame, &Limits::default())
    }

    /// Parses one frame, refusing lists longer than `limits` allows or ciphertexts of
    /// another width than the session's before allocating anything for them.
    ///
    /// # Errors
    /// As [`Message::decode`], and [`PsiError::Malformed`] for a list over the limits.
    pub fn decode_with(frame: &[u8], limits: &Limits) -> Result<Self, PsiError> {
        let mut r = Reader {
            buf: frame,
            limits: *limits,
        };
        let kind = r.u8("message kind")?;
        let msg = match kind {
            1 => {
                let version = r.u16("version")?;
                let mode = Mode::from_code(r.u8("mode")?)
                    .ok_or_else(|| PsiError::Malformed("unknown mode".into()))?;
                let session_id = r.array::<16>("session id")?;
                let public_key = r.array::<32>("public key")?;
                let label = r.bytes("label")?;
                if label.len() > MAX_LABEL {
                    return Err(PsiError::Malformed("session label over 64 bytes".into()));
                }
                let server_count = r.u64("server count")?;
                if server_count > MAX_ELEMENTS {
                    return Err(PsiError::Malformed(format!(
                        "server count {server_count} over the limit"
                    )));
                }
                let threshold = r.u64("threshold")?;
                let format = match r.u8("set format")? {
                    0 => SetFormat::Raw,
                    1 => SetFormat::Compressed,
                    f => return Err(PsiError::Malformed(format!("unknown set format {f}"))),
                };
                let reveal_sum = match r.u8("reveal flag")? {
                    0 => false,
                    1 => true,
                    f => return Err(PsiError::Malformed(format!("bad reveal flag {f}"))),
                };
                let (paillier_n, paillier_proof) = match r.u8("key flag")? {
                    0 => (None, None),
                    1 => (
                        Some(r.bytes("paillier modulus")?),
                        Some(r.bytes("modulus proof")?),
                    ),
                    f => return Err(PsiError::Malformed(format!("bad key flag {f}"))),
                };
                Message::ServerHello(ServerHello {
                    version,
                    mode,
                    session_id,
                    public_key,
                    label,
                    server_count,
                    threshold,
                    format,
                    reveal_sum,
                    paillier_n,
                    paillier_proof,
                })
            }
            2 => Message::ClientRequest(ClientRequest {
                blinded: r.points("blinded elements")?,
            }),
            3 => {
                let evaluated = r.points("evaluated elements")?;
                let set = match r.u8("set format")? {
                    0 => {
                        let tag_bytes = r.u8("tag length")?;
                        if !(4..=32).contains(&tag_bytes) {
                            return Err(PsiError::Malformed(format!(
                                "tag length {tag_bytes} out of 4..=32"
                            )));
                        }
                        let tags = r.bytes("tags")?;
                        if tags.len() % tag_bytes as usize != 0 {
                            return Err(PsiError::Malformed(
                                "tag list is not a whole number of tags".into(),
                            ));
                        }
                        EncodedSet::Raw { tag_bytes, tags }
                    }
                    1 => {
                        let p = r.u8("set parameter")?;
                        EncodedSet::Compressed {
                            p,
                            data: r.bytes("compressed set")?,
                        }
                    }
                    f => return Err(PsiError::Malformed(format!("unknown set format {f}"))),
                };
                let values = r.fixed_list("encrypted values")?;
                Message::ServerResponse(ServerResponse {
                    evaluated,
                    set,
                    values,
                })
            }
            4 => Message::SumRequest(SumRequest {
                count: r.u64("count")?,
                ciphertext: r.bytes("ciphertext")?,
            }),
            5 => Message::SumReply(SumReply {
                masked_sum: r.bytes("masked sum")?,
            }),
            6 => Message::SharesRequest(SharesRequest {
                ciphertexts: r.fixed_list("ciphertexts")?,
            }),
            0xff => {
                // A peer's text ends up on a terminal: no control characters, bounded.
                let b = r.bytes("abort reason")?;
                // (Cut, not marked as cut, so decoding a re-encoded abort changes nothing.)
                let text = String::from_utf8_lossy(&b[..b.len().min(1024)]).into_owned();
                Message::Abort(
                    text.chars()
                        .take(200)
                        .map(|c| if c.is_control() { '?' } else { c })
                        .collect(),
                )
            }
            k => return Err(PsiError::Malformed(format!("unknown message kind {k}"))),
        };
        if !r.buf.is_empty() {
            return Err(PsiError::Malformed(format!(
                "{} trailing bytes after {}",
                r.buf.len(),
                msg.name()
            )));
        }
        Ok(msg)
    }
}

fn put_bytes(w: &mut Vec<u8>, b: &[u8]) {
    // Every byte string we send is far below 4 GiB (frames are capped at 1 GiB).
    w.extend_from_slice(&(b.len() as u32).to_be_bytes());
    w.extend_from_slice(b);
}

fn put_points(w: &mut Vec<u8>, ps: &[[u8; 32]]) {
    w.extend_from_slice(&(ps.len() as u32).to_be_bytes());
    for p in ps {
        w.extend_from_slice(p);
    }
}

/// A list of equal-length byte strings: count, width, then the data.
fn put_fixed_list(w: &mut Vec<u8>, items: &[Vec<u8>]) {
    let width = items.first().map_or(0, Vec::len);
    debug_assert!(items.iter().all(|i| i.len() == width));
    w.extend_from_slice(&(items.len() as u32).to_be_bytes());
    w.extend_from_slice(&(width as u32).to_be_bytes());
    for i in items {
        w.extend_from_slice(i);
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    limits: Limits,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PsiError> {
        if self.buf.len() < n {
            return Err(PsiError::Malformed(format!(
                "truncated {what}: need {n} bytes, {} left",
                self.buf.len()
            )));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], PsiError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, PsiError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, PsiError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, PsiError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, PsiError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn bytes(&mut self, what: &str) -> Result<Vec<u8>, PsiError> {
        let n = self.u32(what)? as usize;
        Ok(self.take(n, what)?.to_vec())
    }

    fn points(&mut self, what: &str) -> Result<Vec<[u8; 32]>, PsiError> {
        let n = self.u32(what)? as usize;
        if n as u64 > self.limits.max_points {
            return Err(PsiError::Malformed(format!(
                "{what}: {n} elements, the session allows at most {}",
                self.limits.max_points
            )));
        }
        let data = self.take(
            n.checked_mul(32)
                .ok_or_else(|| PsiError::Malformed("count overflow".into()))?,
            what,
        )?;
        Ok(data
            .chunks_exact(32)
            .map(|c| {
                let mut p = [0u8; 32];
                p.copy_from_slice(c);
                p
            })
            .collect())
    }

    fn fixed_list(&mut self, what: &str) -> Result<Vec<Vec<u8>>, PsiError> {
        let n = self.u32(what)? as usize;
        let width = self.u32(what)? as usize;
        if n as u64 > self.limits.max_ciphertexts {
            return Err(PsiError::Malformed(format!(
                "{what}: {n} items, the session allows at most {}",
                self.limits.max_ciphertexts
            )));
        }
        if let Some(w) = self.limits.ciphertext_bytes
            && n > 0
            && width != w
        {
            return Err(PsiError::Malformed(format!(
                "{what}: items of {width} bytes, the session's ciphertexts have {w}"
            )));
        }
        if (n > 0) != (width > 0) {
            // An empty list is encoded with width 0 and items are never empty, so every
            // list has exactly one encoding.
            return Err(PsiError::Malformed(format!(
                "{what}: {n} items of width {width}"
            )));
        }
        let total = n
            .checked_mul(width)
            .ok_or_else(|| PsiError::Malformed("count overflow".into()))?;
        let data = self.take(total, what)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        Ok(data.chunks_exact(width).map(<[u8]>::to_vec).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_and_truncations_fail() {
        let msgs = vec![
            Message::ServerHello(ServerHello {
                version: 1,
                mode: Mode::Sum,
                session_id: [7; 16],
                public_key: [8; 32],
                label: b"x".to_vec(),
                server_count: 3,
                threshold: 2,
                format: SetFormat::Compressed,
                reveal_sum: true,
                paillier_n: Some(vec![1, 2, 3]),
                paillier_proof: Some(vec![4, 5]),
            }),
            Message::ClientRequest(ClientRequest {
                blinded: vec![[1; 32], [2; 32]],
            }),
            Message::ServerResponse(ServerResponse {
                evaluated: vec![[3; 32]],
                set: EncodedSet::Raw {
                    tag_bytes: 8,
                    tags: vec![0; 16],
                },
                values: vec![vec![1, 2], vec![3, 4]],
            }),
            Message::SumRequest(SumRequest {
                count: 5,
                ciphertext: vec![9; 10],
            }),
            Message::SumReply(SumReply {
                masked_sum: vec![1],
            }),
            Message::SharesRequest(SharesRequest {
                ciphertexts: vec![vec![1; 4]; 3],
            }),
            Message::Abort("no".into()),
        ];
        for m in msgs {
            let bytes = m.encode();
            assert_eq!(Message::decode(&bytes).unwrap(), m);
            for cut in 0..bytes.len() {
                assert!(
                    Message::decode(&bytes[..cut]).is_err(),
                    "{} cut at {cut}",
                    m.name()
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Message::decode(&longer).is_err());
        }
    }
}
