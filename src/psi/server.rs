//! The server's role: holds the OPRF key (fresh per session), evaluates the client's
//! blinded elements and sends its own set of tags (and, in sum and shares modes, its values
//! encrypted under its Paillier key).

use curve25519_dalek::ristretto::RistrettoPoint;
use rand_core::CryptoRng;
use rayon::prelude::*;
use zeroize::Zeroize;

use super::error::PsiError;
use super::gcs::{Gcs, ceil_log2};
use super::msgs::{
    ClientRequest, EncodedSet, Limits, MAX_ELEMENTS, PROTOCOL_VERSION, ServerHello, ServerResponse,
    SetFormat, SharesRequest, SumReply, SumRequest,
};
use super::oprf::{OprfKey, decode_element, hash_to_group};
use super::server_sum::ServerAwaitServerSum;
use super::{Mode, ServerConfig, ServerOutput, check_elements, output_for, pad, session_dst};
use crate::paillier::{Ciphertext, ModulusProof, Plaintext, SecretKey};

/// The context the server's [`ModulusProof`] is bound to.
pub const MODULUS_CONTEXT: &[u8] = b"shroud psi paillier modulus v2";

/// Elements per batch of parallel work (one shared inversion per batch).
const CHUNK: usize = 1024;

/// A server before the session starts.
pub struct Server {
    config: ServerConfig,
    elements: Vec<Vec<u8>>,
    /// Paillier encryptions of the values (sum and shares modes), made at setup.
    encrypted: Vec<Ciphertext>,
    paillier: Option<SecretKey>,
    /// The proof that the Paillier modulus is sound, made once at setup.
    proof: Option<Vec<u8>>,
    /// The smallest and largest value (server-sum mode's range check).
    range: (u64, u64),
}

impl Drop for Server {
    fn drop(&mut self) {
        self.range.0.zeroize();
        self.range.1.zeroize();
    }
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("mode", &self.config.mode)
            .field("elements", &self.elements.len())
            .finish_non_exhaustive()
    }
}

/// The server after its hello: waits for the client's blinded elements.
pub struct ServerAwaitRequest {
    server: Server,
    key: OprfKey,
    dst: Vec<u8>,
}

/// What the server does after its response.
pub enum ServerNext {
    /// Intersection and cardinality modes: the server is done (it learns nothing).
    Done(ServerOutput),
    /// Sum mode: waits for the client's masked sum.
    AwaitSum(ServerAwaitSum),
    /// Shares mode: waits for the client's masked values.
    AwaitShares(ServerAwaitShares),
    /// Server-sum mode: waits for the client's encrypted sum.
    AwaitServerSum(ServerAwaitServerSum),
}

/// Sum mode, final round.
pub struct ServerAwaitSum {
    sk: SecretKey,
    offset: Plaintext,
    threshold: u64,
    max_count: u64,
}

/// Shares mode, final round.
pub struct ServerAwaitShares {
    sk: SecretKey,
    offset: Plaintext,
    max_count: u64,
}

impl ServerAwaitSum {
    /// The most bytes the client's sum request can take.
    pub fn max_request_bytes(&self) -> usize {
        64 + self.sk.public_key().ciphertext_bytes()
    }
}

impl ServerAwaitShares {
    /// The most bytes the client's shares request can take.
    pub fn max_request_bytes(&self) -> usize {
        let ct = self.sk.public_key().ciphertext_bytes();
        64usize.saturating_add((self.max_count as usize).saturating_mul(ct))
    }

    /// What the decoder of the shares request accepts.
    pub fn limits(&self) -> Limits {
        Limits {
            max_points: 0,
            max_ciphertexts: self.max_count,
            ciphertext_bytes: Some(self.sk.public_key().ciphertext_bytes()),
        }
    }
}

impl ServerAwaitRequest {
    /// The most bytes the client's request may take: its blinded elements, up to the
    /// configured [`ServerConfig::max_client_elements`].
    pub fn max_request_bytes(&self) -> usize {
        64usize.saturating_add((self.server.config.max_client_elements as usize).saturating_mul(32))
    }

    /// What the decoder of the client's request accepts.
    pub fn limits(&self) -> Limits {
        Limits {
            max_points: self.server.config.max_client_elements,
            max_ciphertexts: 0,
            ciphertext_bytes: None,
        }
    }
}

impl Server {
    /// Sets up a server over distinct `elements`. In sum and shares modes, `values` holds
    /// one non-negative value per element and `paillier` the server's Paillier key; the
    /// values are encrypted here (key-owner CRT encryption on all cores), so this is the
    /// expensive, session-independent step and can run ahead of time.
    ///
    /// # Errors
    /// [`PsiError::InvalidInput`] if an element is longer than 65535 bytes, elements repeat,
    /// there are more than 2^26 of them, values or the key are missing in sum / shares mode
    /// or given in another mode, or the label is over 64 bytes.
    ///
    /// # Security
    /// `paillier` must be dedicated to this PSI service: every session decrypts a
    /// ciphertext the client supplies. The per-session offset makes a ciphertext from
    /// elsewhere decrypt to noise, but a key that also protects other data should not be
    /// exposed to that at all (the CLI requires `--dedicated-key` with `--key`).
    pub fn new<R: CryptoRng + ?Sized>(
        config: ServerConfig,
        elements: Vec<Vec<u8>>,
        values: Option<Vec<u64>>,
        paillier: Option<SecretKey>,
        rng: &mut R,
    ) -> Result<Self, PsiError> {
        check_elements(&elements)?;
        config.check()?;
        let needs_values = matches!(config.mode, Mode::Sum | Mode::Shares | Mode::ServerSum);
        let mut range = (0, 0);
        let encrypted = match (needs_values, values, &paillier) {
            (true, Some(values), Some(sk)) => {
                if values.len() != elements.len() {
                    return Err(PsiError::InvalidInput(format!(
                        "{} values for {} elements",
                        values.len(),
                        elements.len()
                    )));
                }
                range = values
                    .iter()
                    .fold((u64::MAX, 0), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                let pk = sk.public_key();
                let ms: Vec<Plaintext> =
                    values.iter().map(|&v| Plaintext::from_u64(pk, v)).collect();
                if config.djn {
                    encrypt_djn(pk, &ms, rng)?
                } else {
                    sk.encrypt_batch(&ms, rng)?
                }
            }
            (true, _, _) => {
                return Err(PsiError::InvalidInput(format!(
                    "{} mode needs a value per element and a Paillier key",
                    config.mode
                )));
            }
            (false, None, None) => Vec::new(),
            (false, _, _) => {
                return Err(PsiError::InvalidInput(format!(
                    "values and a Paillier key are only used in sum, shares and server-sum modes, not {}",
                    config.mode
                )));
            }
        };
        let proof = paillier
            .as_ref()
            .map(|sk| ModulusProof::prove(sk, MODULUS_CONTEXT).to_bytes(sk.public_key()));
        Ok(Self {
            config,
            elements,
            encrypted,
            paillier,
            proof,
            range,
        })
    }

    /// Number of server elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether the server set is empty.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Round 1: draws the session's fresh OPRF key and session id and sends the hello.
    pub fn start<R: CryptoRng + ?Sized>(self, rng: &mut R) -> (ServerHello, ServerAwaitRequest) {
        let mut session_id = [0u8; 16];
        rng.fill_bytes(&mut session_id);
        let hello = ServerHello {
            public_key: [0; 32],
            version: PROTOCOL_VERSION,
            mode: self.config.mode,
            session_id,
            label: self.config.label.clone().into_bytes(),
            server_count: self.elements.len() as u64,
            threshold: self.config.threshold,
            format: self.config.format,
            reveal_sum: self.config.reveal_sum,
            paillier_n: self
                .paillier
                .as_ref()
                .map(|sk| sk.public_key().n().to_bytes_be()),
            paillier_proof: self.proof.clone(),
        };
        let dst = session_dst(self.config.mode, &session_id, self.config.label.as_bytes());
        let key = OprfKey::random(rng);
        let hello = ServerHello {
            public_key: key.public_key().compress().to_bytes(),
            ..hello
        };
        (
            hello,
            ServerAwaitRequest {
                server: self,
                key,
                dst,
            },
        )
    }
}

impl ServerAwaitRequest {
    /// Round 2: evaluates the client's blinded elements (shuffled in cardinality and sum
    /// modes) and sends the server's own tags. The OPRF key is dropped (and zeroized) at
    /// the end of this round: it is never used again.
    ///
    /// # Errors
    /// [`PsiError::InvalidPoint`] if a blinded element is not a canonical non-identity
    /// point; [`PsiError::Malformed`] if the client sent more than 2^26 of them.
    pub fn respond<R: CryptoRng + ?Sized>(
        self,
        request: ClientRequest,
        rng: &mut R,
    ) -> Result<(ServerResponse, ServerNext), PsiError> {
        let Self {
            mut server,
            key,
            dst,
        } = self;
        let m = request.blinded.len() as u64;
        let most = server.config.max_client_elements.min(MAX_ELEMENTS);
        if m > most {
            return Err(PsiError::Malformed(format!(
                "{m} blinded elements, over the server's limit of {most}"
            )));
        }
        let points: Vec<RistrettoPoint> = request
            .blinded
            .par_iter()
            .enumerate()
            .map(|(i, b)| decode_element(b, i))
            .collect::<Result<_, _>>()?;
        let mut evaluated: Vec<[u8; 32]> = points
            .par_chunks(CHUNK)
            .flat_map_iter(|c| key.blind_evaluate_batch_compressed(c))
            .collect();
        let mode = server.config.mode;
        if matches!(mode, Mode::Cardinality | Mode::Sum | Mode::ServerSum) {
            shuffle(&mut evaluated, rng);
        }
        // The server's own OPRF outputs.
        let outputs: Vec<[u8; 64]> = server
            .elements
            .par_chunks(CHUNK)
            .map(|ys| {
                let hashed = ys
                    .iter()
                    .map(|y| hash_to_group(y, &dst))
                    .collect::<Result<Vec<_>, _>>()?;
                let evals = key.blind_evaluate_batch_compressed(&hashed);
                Ok(ys
                    .iter()
                    .zip(&evals)
                    .map(|(y, e)| output_for(mode, y, e))
                    .collect::<Vec<_>>())
            })
            .collect::<Result<Vec<_>, PsiError>>()?
            .into_iter()
            .flatten()
            .collect();
        drop(key);
        let n = outputs.len() as u64;
        // Sort (tag, index) so the set order says nothing about the input order.
        let (set, order) = match server.config.format {
            SetFormat::Raw => {
                let tb = raw_tag_bytes(n, m);
                let mut idx: Vec<usize> = (0..outputs.len()).collect();
                idx.sort_unstable_by(|&a, &b| outputs[a][..tb].cmp(&outputs[b][..tb]));
                let mut tags = Vec::with_capacity(outputs.len() * tb);
                for &i in &idx {
                    tags.extend_from_slice(&outputs[i][..tb]);
                }
                (
                    EncodedSet::Raw {
                        tag_bytes: tb as u8,
                        tags,
                    },
                    idx,
                )
            }
            SetFormat::Compressed => {
                let p = Gcs::parameter_for(m);
                let mapped: Vec<u128> = outputs.iter().map(|o| Gcs::map(o, n, p)).collect();
                let mut idx: Vec<usize> = (0..outputs.len()).collect();
                idx.sort_unstable_by_key(|&i| mapped[i]);
                let gcs = Gcs::from_values(mapped, p);
                (
                    EncodedSet::Compressed {
                        p: p as u8,
                        data: gcs.encode(),
                    },
                    idx,
                )
            }
        };
        // Sum and shares: each value travels as E(v + u) for a fresh secret offset u, so
        // whatever the client decrypts through this session is offset by u unless it
        // combined the session's own ciphertexts with coefficients summing to its count,
        // and a ciphertext from anywhere else decrypts to noise. Server-sum: as E(v), since
        // the client gets nothing decrypted (or, with reveal, only a sum in range).
        let offset = server
            .paillier
            .as_ref()
            .filter(|_| matches!(mode, Mode::Sum | Mode::Shares))
            .map(|sk| super::masks::uniform(sk.public_key(), rng));
        let values: Vec<Vec<u8>> = match &server.paillier {
            Some(sk) if !server.encrypted.is_empty() => {
                let pk = sk.public_key();
                order
                    .par_iter()
                    .map(|&i| {
                        let mut c = match &offset {
                            Some(u) => pk.add_plaintext(&server.encrypted[i], u)?.to_bytes_be(),
                            None => server.encrypted[i].to_bytes_be(),
                        };
                        pad(&outputs[i], &mut c);
                        Ok(c)
                    })
                    .collect::<Result<_, crate::Error>>()?
            }
            _ => Vec::new(),
        };
        let response = ServerResponse {
            evaluated,
            set,
            values,
        };
        let max_count = n.min(m);
        let (threshold, reveal, range) = (
            server.config.threshold,
            server.config.reveal_sum,
            server.range,
        );
        let next = match (mode, server.paillier.take(), offset) {
            (Mode::Sum, Some(sk), Some(offset)) => ServerNext::AwaitSum(ServerAwaitSum {
                sk,
                offset,
                threshold: server.config.threshold,
                max_count,
            }),
            (Mode::Shares, Some(sk), Some(offset)) => ServerNext::AwaitShares(ServerAwaitShares {
                sk,
                offset,
                max_count,
            }),
            (Mode::ServerSum, Some(sk), None) => ServerNext::AwaitServerSum(ServerAwaitServerSum {
                sk,
                threshold,
                max_count,
                reveal,
                range,
            }),
            _ => ServerNext::Done(ServerOutput {
                intersection_size: None,
                intersection_sum: None,
                shares: None,
            }),
        };
        Ok((response, next))
    }
}

impl ServerAwaitSum {
    /// Round 3 (sum mode): checks the claimed count against the threshold, decrypts the
    /// client's masked sum, removes count times the session offset and returns only the
    /// low L = 64 + ceil(log2(count + 1)) bits: what an honest sum needs. The server learns
    /// the count and a value the client's uniform mask hides.
    ///
    /// # Errors
    /// [`PsiError::ThresholdNotMet`] if the client reports fewer matches than the
    /// threshold; [`PsiError::Malformed`] if it reports more matches than possible;
    /// [`PsiError::Paillier`] if the ciphertext is not in Z*_{n^2}.
    ///
    /// # Security
    /// A client that cheats learns at most L bits about the values of elements it holds
    /// (see the module documentation); the offset and the truncation are what bound it.
    pub fn finish(self, request: SumRequest) -> Result<(SumReply, ServerOutput), PsiError> {
        if request.count > self.max_count {
            return Err(PsiError::Malformed(format!(
                "client claims {} matches, at most {} are possible",
                request.count, self.max_count
            )));
        }
        if request.count < self.threshold {
            return Err(PsiError::ThresholdNotMet {
                matches: request.count as usize,
                threshold: self.threshold as usize,
            });
        }
        let pk = self.sk.public_key();
        let c = pk.ciphertext_from_bytes_be(&request.ciphertext)?;
        let d = self.sk.decrypt(&c)?;
        let v = super::masks::sub_multiple(pk, &d, request.count, &self.offset);
        let low = super::masks::low_bits(&v, sum_bits(request.count));
        Ok((
            SumReply {
                masked_sum: low.to_be_bytes().to_vec(),
            },
            ServerOutput {
                intersection_size: Some(request.count as usize),
                intersection_sum: None,
                shares: None,
            },
        ))
    }
}

/// Bits of an honest sum of `count` 64-bit values, and of the sum reply: 64 +
/// ceil(log2(count + 1)).
pub fn sum_bits(count: u64) -> u32 {
    64 + ceil_log2(count.saturating_add(1))
}

impl ServerAwaitShares {
    /// Round 3 (shares mode): decrypts v_j + u + r_j for each match, removes the session
    /// offset u; the server's share is the low 64 bits.
    ///
    /// # Errors
    /// [`PsiError::Malformed`] if there are more ciphertexts than possible matches;
    /// [`PsiError::Paillier`] if one is not in Z*_{n^2}.
    pub fn finish(self, request: SharesRequest) -> Result<ServerOutput, PsiError> {
        let count = request.ciphertexts.len() as u64;
        if count > self.max_count {
            return Err(PsiError::Malformed(format!(
                "client sent {count} shares, at most {} matches are possible",
                self.max_count
            )));
        }
        let pk = self.sk.public_key();
        let shares = request
            .ciphertexts
            .par_iter()
            .map(|b| {
                let c = pk.ciphertext_from_bytes_be(b)?;
                let d = self.sk.decrypt(&c)?;
                let v = super::masks::sub_multiple(pk, &d, 1, &self.offset);
                Ok(super::masks::low_bits(&v, 64) as u64)
            })
            .collect::<Result<Vec<u64>, crate::Error>>()?;
        Ok(ServerOutput {
            intersection_size: Some(shares.len()),
            intersection_sum: None,
            shares: Some(shares),
        })
    }
}

/// Tag length in the raw format: 30 + ceil(log2(N * M)) bits, rounded up to bytes, so the
/// chance that any of the N * M pairs of distinct elements collides is at most 2^-30.
pub fn raw_tag_bytes(n: u64, m: u64) -> usize {
    let pairs = ceil_log2(n.max(1)) + ceil_log2(m.max(1));
    (30 + pairs).div_ceil(8).max(4) as usize
}

/// Fisher-Yates with a CSPRNG (rejection sampling for uniform indices).
fn shuffle<T, R: CryptoRng + ?Sized>(v: &mut [T], rng: &mut R) {
    for i in (1..v.len()).rev() {
        let bound = i as u64 + 1;
        let zone = u64::MAX - (u64::MAX % bound);
        let j = loop {
            let mut b = [0u8; 8];
            rng.fill_bytes(&mut b);
            let x = u64::from_le_bytes(b);
            if x < zone {
                break (x % bound) as usize;
            }
        };
        v.swap(i, j);
    }
}

/// The values under the DJN short-exponent mode, on all cores: the exponents are drawn
/// here from `rng`, the encryptions run in parallel. Constant time in the values.
fn encrypt_djn<R: CryptoRng + ?Sized>(
    pk: &crate::paillier::PublicKey,
    ms: &[Plaintext],
    rng: &mut R,
) -> Result<Vec<Ciphertext>, PsiError> {
    let djn = crate::paillier::DjnEncryptor::new(pk, rng);
    let exps: Vec<_> = ms.iter().map(|_| djn.random_exponent(rng)).collect();
    ms.par_iter()
        .zip(exps.par_iter())
        .map(|(m, a)| djn.encrypt_with_exponent(m, a))
        .collect::<crate::Result<Vec<_>>>()
        .map_err(PsiError::from)
}
