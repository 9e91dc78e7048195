//! Wire messages of secure aggregation and their binary encoding.
//!
//! A message is one frame: a kind byte, the protocol version byte, the 32-byte session
//! identifier, then fixed-width little-endian fields and lists with a 4-byte count.
//! [`Message::decode`] sizes everything from the session's [`Params`]: a list longer
//! than a client's degree allows, or a masked vector of any length but the session's, is
//! refused before anything is allocated for it, so a peer cannot make a party buffer more
//! than the session needs.
//!
//! Flow (client u, server S): u -> S [`AdvertiseKeys`]; S -> u [`KeyList`];
//! u -> S [`EncryptedShares`]; S -> u [`ForwardedShares`]; u -> S [`MaskedInput`];
//! S -> u [`UnmaskRequest`]; u -> S [`UnmaskShares`]. Either side may send
//! [`Message::Abort`] instead.

use super::ClientId;
use super::error::SecAggError;
use super::params::Params;

/// Protocol version carried in every message.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes of a sealed share: sender, recipient (4 bytes each), two 32-byte shares and the
/// 16-byte Poly1305 tag.
pub const SEALED_LEN: usize = 4 + 4 + 32 + 32 + 16;
/// Longest abort reason.
pub const MAX_REASON: usize = 1024;
const HEADER: usize = 2 + 32;

/// Round 1, client -> server: the client's two X25519 public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertiseKeys {
    /// Key that share encryption keys are agreed with.
    pub enc_pk: [u8; 32],
    /// Key that pairwise mask seeds are agreed with.
    pub mask_pk: [u8; 32],
}

/// One neighbour's public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerKeys {
    /// The neighbour.
    pub id: ClientId,
    /// Its encryption public key.
    pub enc_pk: [u8; 32],
    /// Its mask public key.
    pub mask_pk: [u8; 32],
}

/// Round 1, server -> client: the keys of the client's neighbours that advertised,
/// ascending by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyList {
    /// Neighbours' keys.
    pub keys: Vec<PeerKeys>,
}

/// A share pair sealed by one client for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedShare {
    /// The recipient (in [`EncryptedShares`]) or the sender (in [`ForwardedShares`]).
    pub peer: ClientId,
    /// ChaCha20-Poly1305 ciphertext of sender, recipient, share of b_u, share of the mask
    /// key.
    pub ct: [u8; SEALED_LEN],
}

/// Round 2, client -> server: one sealed share pair for each neighbour in the key list,
/// ascending by recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedShares {
    /// The sealed shares.
    pub shares: Vec<SealedShare>,
}

/// Round 2, server -> client: the sealed shares addressed to the client, ascending by
/// sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedShares {
    /// The sealed shares.
    pub shares: Vec<SealedShare>,
}

/// Round 3, client -> server: the masked input y_u, values below 2^b.
#[derive(Clone, PartialEq, Eq)]
pub struct MaskedInput {
    /// y_u.
    pub y: Vec<u64>,
}

impl core::fmt::Debug for MaskedInput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MaskedInput({} values)", self.y.len())
    }
}

/// Round 4, server -> client: which of the client's neighbours survived (their self-mask
/// shares are wanted; the client itself is listed) and which dropped after sharing keys
/// (their mask-key shares are wanted). Both ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmaskRequest {
    /// Clients whose masked input arrived.
    pub survivors: Vec<ClientId>,
    /// Clients that shared keys but sent no masked input.
    pub dropped: Vec<ClientId>,
}

/// One revealed share.
#[derive(Clone, PartialEq, Eq)]
pub struct RevealedShare {
    /// The client the share is of.
    pub peer: ClientId,
    /// The share (a canonical scalar encoding).
    pub share: [u8; 32],
}

impl core::fmt::Debug for RevealedShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RevealedShare(of {}, <redacted>)", self.peer)
    }
}

/// Round 4, client -> server: the shares asked for, ascending by peer, and the peers
/// whose sealed shares failed to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmaskShares {
    /// Shares of survivors' self-mask seeds.
    pub self_mask: Vec<RevealedShare>,
    /// Shares of dropped clients' mask keys.
    pub mask_key: Vec<RevealedShare>,
    /// Peers whose sealed share failed authentication (they or the server tampered).
    pub unreadable: Vec<ClientId>,
}

/// Consistency check, server -> client: every client whose masked input arrived,
/// ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurvivorList {
    /// The survivors.
    pub survivors: Vec<ClientId>,
}

/// Consistency check, client -> server: the client's Ed25519 signature on the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurvivorSignature {
    /// The signature.
    pub signature: [u8; 64],
}

/// One client's signature, as the server forwards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    /// The signer.
    pub id: ClientId,
    /// Its signature on the survivor list.
    pub signature: [u8; 64],
}

/// Consistency check, server -> client: the unmasking request with the signatures the
/// server collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUnmaskRequest {
    /// The request.
    pub request: UnmaskRequest,
    /// The survivors' signatures.
    pub signatures: Vec<SignedBy>,
}

/// Any message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Round 1, client -> server.
    AdvertiseKeys(AdvertiseKeys),
    /// Round 1, server -> client.
    KeyList(KeyList),
    /// Round 2, client -> server.
    EncryptedShares(EncryptedShares),
    /// Round 2, server -> client.
    ForwardedShares(ForwardedShares),
    /// Round 3, client -> server.
    MaskedInput(MaskedInput),
    /// Round 4, server -> client.
    UnmaskRequest(UnmaskRequest),
    /// Round 4, client -> server.
    UnmaskShares(UnmaskShares),
    /// Consistency check, server -> client.
    SurvivorList(SurvivorList),
    /// Consistency check, client -> server.
    SurvivorSignature(SurvivorSignature),
    /// Consistency check, server -> client (replaces [`Message::UnmaskRequest`]).
    SignedUnmaskRequest(SignedUnmaskRequest),
    /// Either side ends the session (the reason, at most [`MAX_REASON`] bytes).
    Abort(String),
}

/// The longest prefix of `reason` of at most [`MAX_REASON`] bytes that ends on a
/// character boundary.
fn clip_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

impl Message {
    fn kind(&self) -> u8 {
        match self {
            Message::AdvertiseKeys(_) => 1,
            Message::KeyList(_) => 2,
            Message::EncryptedShares(_) => 3,
            Message::ForwardedShares(_) => 4,
            Message::MaskedInput(_) => 5,
            Message::UnmaskRequest(_) => 6,
            Message::UnmaskShares(_) => 7,
            Message::SurvivorList(_) => 8,
            Message::SurvivorSignature(_) => 9,
            Message::SignedUnmaskRequest(_) => 10,
            Message::Abort(_) => 0xff,
        }
    }

    /// The message's name (for errors).
    pub fn name(&self) -> &'static str {
        match self {
            Message::AdvertiseKeys(_) => "AdvertiseKeys",
            Message::KeyList(_) => "KeyList",
            Message::EncryptedShares(_) => "EncryptedShares",
            Message::ForwardedShares(_) => "ForwardedShares",
            Message::MaskedInput(_) => "MaskedInput",
            Message::UnmaskRequest(_) => "UnmaskRequest",
            Message::UnmaskShares(_) => "UnmaskShares",
            Message::SurvivorList(_) => "SurvivorList",
            Message::SurvivorSignature(_) => "SurvivorSignature",
            Message::SignedUnmaskRequest(_) => "SignedUnmaskRequest",
            Message::Abort(_) => "Abort",
        }
    }

    /// The encoding of the message in session `params`.
    pub fn encode(&self, params: &Params) -> Vec<u8> {
        let mut out = vec![self.kind(), PROTOCOL_VERSION];
        out.extend_from_slice(params.session_id());
        let ids = |out: &mut Vec<u8>, ids: &[ClientId]| {
            out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
            for i in ids {
                out.extend_from_slice(&i.to_le_bytes());
            }
        };
        let sealed = |out: &mut Vec<u8>, s: &[SealedShare]| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            for x in s {
                out.extend_from_slice(&x.peer.to_le_bytes());
                out.extend_from_slice(&x.ct);
            }
        };
        let revealed = |out: &mut Vec<u8>, s: &[RevealedShare]| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            for x in s {
                out.extend_from_slice(&x.peer.to_le_bytes());
                out.extend_from_slice(&x.share);
            }
        };
        match self {
            Message::AdvertiseKeys(m) => {
                out.extend_from_slice(&m.enc_pk);
                out.extend_from_slice(&m.mask_pk);
            }
            Message::KeyList(m) => {
                out.extend_from_slice(&(m.keys.len() as u32).to_le_bytes());
                for k in &m.keys {
                    out.extend_from_slice(&k.id.to_le_bytes());
                    out.extend_from_slice(&k.enc_pk);
                    out.extend_from_slice(&k.mask_pk);
                }
            }
            Message::EncryptedShares(m) => sealed(&mut out, &m.shares),
            Message::ForwardedShares(m) => sealed(&mut out, &m.shares),
            Message::MaskedInput(m) => {
                let wb = params.wire_bytes();
                out.reserve(m.y.len() * wb);
                for v in &m.y {
                    out.extend_from_slice(&v.to_le_bytes()[..wb]);
                }
            }
            Message::UnmaskRequest(m) => {
                ids(&mut out, &m.survivors);
                ids(&mut out, &m.dropped);
            }
            Message::UnmaskShares(m) => {
                revealed(&mut out, &m.self_mask);
                revealed(&mut out, &m.mask_key);
                ids(&mut out, &m.unreadable);
            }
            Message::SurvivorList(m) => ids(&mut out, &m.survivors),
            Message::SurvivorSignature(m) => out.extend_from_slice(&m.signature),
            Message::SignedUnmaskRequest(m) => {
                ids(&mut out, &m.request.survivors);
                ids(&mut out, &m.request.dropped);
                out.extend_from_slice(&(m.signatures.len() as u32).to_le_bytes());
                for s in &m.signatures {
                    out.extend_from_slice(&s.id.to_le_bytes());
                    out.extend_from_slice(&s.signature);
                }
            }
            Message::Abort(r) => out.extend_from_slice(clip_reason(r).as_bytes()),
        }
        out
    }

    /// The reason in an abort frame of any session (a server may abort before the client
    /// knows the session), control characters replaced; `None` for any other frame.
    pub fn abort_reason(frame: &[u8]) -> Option<String> {
        if frame.len() < HEADER || frame[0] != 0xff || frame.len() > HEADER + MAX_REASON {
            return None;
        }
        Some(
            String::from_utf8_lossy(&frame[HEADER..])
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect(),
        )
    }

    /// The longest frame any message of session `params` can take (what a transport's
    /// frame limit should be set to).
    pub fn max_len(params: &Params) -> usize {
        let k = params.graph().degree() as usize + 1;
        let n = params.n() as usize;
        let lists = (12 + 3 * k * (4 + 64)).max(12 + 2 * 4 * k + 68 * n);
        HEADER
            + (params.dim() * params.wire_bytes())
                .max(lists)
                .max(MAX_REASON)
    }

    /// Decodes one frame of session `params`.
    ///
    /// # Errors
    /// [`SecAggError::SessionMismatch`] for another session's message,
    /// [`SecAggError::Malformed`] for anything that does not parse or whose lists exceed
    /// what the session allows.
    pub fn decode(frame: &[u8], params: &Params) -> Result<Message, SecAggError> {
        if frame.len() < HEADER {
            return Err(SecAggError::Malformed(format!(
                "frame of {} bytes, shorter than the header",
                frame.len()
            )));
        }
        if frame[1] != PROTOCOL_VERSION {
            return Err(SecAggError::Malformed(format!(
                "protocol version {}, expected {PROTOCOL_VERSION}",
                frame[1]
            )));
        }
        if &frame[2..HEADER] != params.session_id() {
            return Err(SecAggError::SessionMismatch);
        }
        let mut r = Reader {
            buf: &frame[HEADER..],
        };
        // A client has at most `degree` neighbours, and is listed among its own
        // survivors: lists hold at most degree + 1 entries.
        let max = params.graph().degree() as usize + 1;
        let msg = match frame[0] {
            1 => Message::AdvertiseKeys(AdvertiseKeys {
                enc_pk: r.array()?,
                mask_pk: r.array()?,
            }),
            2 => {
                let n = r.count(max, 68)?;
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push(PeerKeys {
                        id: r.u32()?,
                        enc_pk: r.array()?,
                        mask_pk: r.array()?,
                    });
                }
                Message::KeyList(KeyList { keys })
            }
            3 => Message::EncryptedShares(EncryptedShares {
                shares: r.sealed(max)?,
            }),
            4 => Message::ForwardedShares(ForwardedShares {
                shares: r.sealed(max)?,
            }),
            5 => {
                let wb = params.wire_bytes();
                let want = params.dim() * wb;
                if r.buf.len() != want {
                    return Err(SecAggError::Malformed(format!(
                        "masked input of {} bytes, the session's is {want}",
                        r.buf.len()
                    )));
                }
                let mask = params.mask();
                let mut y = Vec::with_capacity(params.dim());
                for c in r.buf.chunks_exact(wb) {
                    let mut b = [0u8; 8];
                    b[..wb].copy_from_slice(c);
                    let v = u64::from_le_bytes(b);
                    if v > mask {
                        return Err(SecAggError::Malformed(format!(
                            "masked value over 2^{}",
                            params.modulus_bits()
                        )));
                    }
                    y.push(v);
                }
                r.buf = &[];
                Message::MaskedInput(MaskedInput { y })
            }
            6 => Message::UnmaskRequest(UnmaskRequest {
                survivors: r.ids(max)?,
                dropped: r.ids(max)?,
            }),
            7 => Message::UnmaskShares(UnmaskShares {
                self_mask: r.revealed(max)?,
                mask_key: r.revealed(max)?,
                unreadable: r.ids(max)?,
            }),
            8 => Message::SurvivorList(SurvivorList {
                survivors: r.ids(params.n() as usize)?,
            }),
            9 => Message::SurvivorSignature(SurvivorSignature {
                signature: r.array()?,
            }),
            10 => {
                let request = UnmaskRequest {
                    survivors: r.ids(max)?,
                    dropped: r.ids(max)?,
                };
                let k = r.count(params.n() as usize, 68)?;
                let mut signatures = Vec::with_capacity(k);
                for _ in 0..k {
                    signatures.push(SignedBy {
                        id: r.u32()?,
                        signature: r.array()?,
                    });
                }
                Message::SignedUnmaskRequest(SignedUnmaskRequest {
                    request,
                    signatures,
                })
            }
            0xff => {
                if r.buf.len() > MAX_REASON {
                    return Err(SecAggError::Malformed("abort reason too long".into()));
                }
                let s: String = String::from_utf8_lossy(r.buf)
                    .chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect();
                r.buf = &[];
                // Replacement characters can make the text longer than its bytes were.
                Message::Abort(clip_reason(&s).to_owned())
            }
            k => return Err(SecAggError::Malformed(format!("unknown message kind {k}"))),
        };
        if !r.buf.is_empty() {
            return Err(SecAggError::Malformed(format!(
                "{} trailing bytes after {}",
                r.buf.len(),
                msg.name()
            )));
        }
        Ok(msg)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], SecAggError> {
        if self.buf.len() < n {
            return Err(SecAggError::Malformed("truncated message".into()));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SecAggError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, SecAggError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A list count, checked against the session's maximum and against the bytes left
    /// (`item` bytes per entry) before the caller allocates.
    fn count(&mut self, max: usize, item: usize) -> Result<usize, SecAggError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(SecAggError::Malformed(format!(
                "a list of {n} entries, over the session's {max}"
            )));
        }
        if self.buf.len() < n * item {
            return Err(SecAggError::Malformed("truncated list".into()));
        }
        Ok(n)
    }

    fn ids(&mut self, max: usize) -> Result<Vec<ClientId>, SecAggError> {
        let n = self.count(max, 4)?;
        (0..n).map(|_| self.u32()).collect()
    }

    fn sealed(&mut self, max: usize) -> Result<Vec<SealedShare>, SecAggError> {
        let n = self.count(max, 4 + SEALED_LEN)?;
        (0..n)
            .map(|_| {
                Ok(SealedShare {
                    peer: self.u32()?,
                    ct: self.array()?,
                })
            })
            .collect()
    }

    fn revealed(&mut self, max: usize) -> Result<Vec<RevealedShare>, SecAggError> {
        let n = self.count(max, 36)?;
        (0..n)
            .map(|_| {
                Ok(RevealedShare {
                    peer: self.u32()?,
                    share: self.array()?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secagg::GraphKind;

    /// Found by the fuzzer: invalid bytes decode to 3-byte replacement characters, so a
    /// 1024-byte reason grew past the limit and re-encoding cut it (once mid-character).
    #[test]
    fn abort_reasons_round_trip_at_the_limit() {
        let p = Params::custom(6, 8, 17, GraphKind::Complete, 5, 4, [3; 32]).unwrap();
        let mut bad = Message::Abort(String::new()).encode(&p);
        bad.extend(std::iter::repeat_n(0xffu8, MAX_REASON));
        let m = Message::decode(&bad, &p).unwrap();
        let again = m.encode(&p);
        assert!(again.len() <= HEADER + MAX_REASON);
        assert_eq!(Message::decode(&again, &p).unwrap(), m);
        // A reason cut in the middle of a multi-byte character loses the character.
        let long = format!("{}é", "a".repeat(MAX_REASON - 1));
        let frame = Message::Abort(long).encode(&p);
        assert_eq!(frame.len(), HEADER + MAX_REASON - 1);
        assert_eq!(
            Message::decode(&frame, &p).unwrap(),
            Message::Abort("a".repeat(MAX_REASON - 1))
        );
    }
}
