//! The client's role: blinds its elements, unblinds the server's evaluations and matches
//! them against the server's set.

use curve25519_dalek::ristretto::{RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use num_bigint::BigUint;
use rand_core::CryptoRng;
use rayon::prelude::*;
use std::collections::HashMap;
use zeroize::Zeroize;

use super::error::PsiError;
use super::gcs::Gcs;
use super::msgs::{
    ClientRequest, EncodedSet, Limits, PROTOCOL_VERSION, ServerHello, ServerResponse,
    SharesRequest, SumReply, SumRequest,
};
use super::oprf::{Blind, compress_halved_batch, decode_element, hash_to_group};
use super::server_sum::{ClientAwaitRelease, client_sum};
use super::{ClientConfig, ClientOutput, Mode, check_elements, output_for, pad, session_dst};
use crate::paillier::{Ciphertext, ModulusProof, Plaintext, PublicKey};

/// A client before the session starts.
pub struct Client {
    config: ClientConfig,
    elements: Vec<Vec<u8>>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("mode", &self.config.mode)
            .field("elements", &self.elements.len())
            .finish_non_exhaustive()
    }
}

/// Blinds: one per element (intersection, shares) or one for all (cardinality, sum).
enum Blinds {
    /// Additive: the client sends H(x) + r G and subtracts r pkS from the evaluation.
    PerElement(Vec<Blind>, Box<RistrettoBasepointTable>),
    /// Multiplicative (RFC 9497's `Blind`), one r for every element.
    Shared(Blind),
}

/// Elements per batch of parallel work.
const CHUNK: usize = 1024;

/// The client after sending its blinded elements.
pub struct ClientAwaitResponse {
    client: Client,
    hello: ServerHello,
    blinds: Blinds,
    pk: Option<PublicKey>,
}

/// What the client does after the server's response.
pub enum ClientStep {
    /// Intersection and cardinality modes: the result.
    Done(ClientOutput),
    /// Sum mode: send this request and wait for the reply.
    SendSum(SumRequest, ClientAwaitSum),
    /// Shares mode: send this request; the output is final.
    SendShares(SharesRequest, ClientOutput),
    /// Server-sum mode without reveal: send this encrypted sum; the output (the count) is
    /// final.
    SendSumToServer(SumRequest, ClientOutput),
    /// Server-sum mode with reveal: send this encrypted sum and wait for the server's.
    SendSumAwaitRelease(SumRequest, ClientAwaitRelease),
}

/// Sum mode, waiting for the decrypted masked sum.
pub struct ClientAwaitSum {
    /// The low [`super::server::sum_bits`] bits of the mask.
    mask_low: u128,
    count: usize,
}

impl Drop for ClientAwaitSum {
    fn drop(&mut self) {
        self.mask_low.zeroize();
    }
}

impl Client {
    /// A client over distinct `elements`.
    ///
    /// # Errors
    /// [`PsiError::InvalidInput`] if an element is longer than 65535 bytes, elements repeat,
    /// or there are more than 2^26 of them.
    pub fn new(config: ClientConfig, elements: Vec<Vec<u8>>) -> Result<Self, PsiError> {
        check_elements(&elements)?;
        config.check()?;
        Ok(Self { config, elements })
    }

    /// Round 1: checks the server's hello and blinds every element.
    ///
    /// # Errors
    /// [`PsiError::SessionMismatch`] if the version, mode or label differ from this
    /// client's; [`PsiError::Malformed`] or [`PsiError::Paillier`] if the Paillier key is
    /// missing, invalid or smaller than the client accepts.
    pub fn start<R: CryptoRng + ?Sized>(
        self,
        hello: ServerHello,
        rng: &mut R,
    ) -> Result<(ClientRequest, ClientAwaitResponse), PsiError> {
        if hello.version != PROTOCOL_VERSION {
            return Err(PsiError::SessionMismatch(format!(
                "server speaks protocol version {}, this client {PROTOCOL_VERSION}",
                hello.version
            )));
        }
        if hello.mode != self.config.mode {
            return Err(PsiError::SessionMismatch(format!(
                "server runs {} mode, the client asked for {}",
                hello.mode, self.config.mode
            )));
        }
        if hello.server_count > self.config.max_server_elements {
            return Err(PsiError::SessionMismatch(format!(
                "server announces {} elements, this client accepts at most {}",
                hello.server_count, self.config.max_server_elements
            )));
        }
        if hello.label != self.config.label.as_bytes() {
            return Err(PsiError::SessionMismatch(format!(
                "server's session label {:?} is not the client's {:?}",
                String::from_utf8_lossy(&hello.label),
                self.config.label
            )));
        }
        if hello.reveal_sum && hello.mode != Mode::ServerSum {
            return Err(PsiError::Malformed(format!(
                "a server that reveals the sum in {} mode",
                hello.mode
            )));
        }
        let pk = match (self.config.mode, &hello.paillier_n) {
            (Mode::Sum | Mode::Shares | Mode::ServerSum, Some(n)) => {
                let pk = PublicKey::from_modulus(&BigUint::from_bytes_be(n))?;
                if pk.bits() < self.config.min_paillier_bits
                    || pk.bits() > self.config.max_paillier_bits
                {
                    return Err(PsiError::SessionMismatch(format!(
                        "server's Paillier key has {} bits, the client accepts {} to {}",
                        pk.bits(),
                        self.config.min_paillier_bits,
                        self.config.max_paillier_bits
                    )));
                }
                // Without this, a server with n = p q, q | p - 1, reads the matches out
                // of the client's masked ciphertexts (see paillier::ModulusProof).
                let proof = hello.paillier_proof.as_deref().unwrap_or_default();
                ModulusProof::from_bytes(&pk, proof)
                    .and_then(|p| p.verify(&pk, super::server::MODULUS_CONTEXT))
                    .map_err(|e| {
                        PsiError::PeerMisbehaved(format!(
                            "the server's Paillier modulus is not proven sound: {e}"
                        ))
                    })?;
                Some(pk)
            }
            (Mode::Sum | Mode::Shares | Mode::ServerSum, None) => {
                return Err(PsiError::Malformed(format!(
                    "{} mode needs the server's Paillier key",
                    self.config.mode
                )));
            }
            (_, Some(_)) => {
                return Err(PsiError::Malformed(
                    "unexpected Paillier key in hello".into(),
                ));
            }
            (_, None) => None,
        };
        let dst = session_dst(hello.mode, &hello.session_id, &hello.label);
        let hashed: Vec<RistrettoPoint> = self
            .elements
            .par_iter()
            .map(|x| hash_to_group(x, &dst))
            .collect::<Result<_, _>>()?;
        let (blinded, blinds) = match self.config.mode {
            Mode::Intersection | Mode::Shares => {
                // Additive blinding: H(x) + r G is uniform whatever x is, and the fixed-base
                // multiplications (by G now, by pkS after) cost about half a variable-base one.
                let pk_s = decode_element(&hello.public_key, 0).map_err(|_| {
                    PsiError::Malformed(
                        "the server's OPRF public key is not a valid element".into(),
                    )
                })?;
                let blinds: Vec<Blind> = (0..hashed.len()).map(|_| Blind::random(rng)).collect();
                let blinded = hashed
                    .par_iter()
                    .zip(blinds.par_iter())
                    .map(|(h, b)| {
                        (h + RistrettoPoint::mul_base(b.scalar()))
                            .compress()
                            .to_bytes()
                    })
                    .collect();
                let table = Box::new(RistrettoBasepointTable::create(&pk_s));
                (blinded, Blinds::PerElement(blinds, table))
            }
            Mode::Cardinality | Mode::Sum | Mode::ServerSum => {
                let b = Blind::random(rng);
                let half = b.scalar() * Scalar::from(2u8).invert();
                let blinded = hashed
                    .par_chunks(CHUNK)
                    .flat_map_iter(|hs| {
                        let halves: Vec<RistrettoPoint> = hs.iter().map(|h| h * half).collect();
                        compress_halved_batch(&halves)
                    })
                    .collect();
                (blinded, Blinds::Shared(b))
            }
        };
        Ok((
            ClientRequest { blinded },
            ClientAwaitResponse {
                client: self,
                hello,
                blinds,
                pk,
            },
        ))
    }
}

impl ClientAwaitResponse {
    /// The most bytes the server's response can take in this session: the evaluated
    /// elements, the set at its widest encoding, and the padded ciphertexts.
    pub fn max_response_bytes(&self) -> usize {
        let (n, m) = (self.hello.server_count as usize, self.client.elements.len());
        let ct = self.pk.as_ref().map_or(0, PublicKey::ciphertext_bytes);
        // Raw tags are at most 32 bytes; a Golomb-Rice code at most p + 2 <= 66 bits.
        let per_server = 33usize.saturating_add(ct);
        64usize
            .saturating_add(m.saturating_mul(32))
            .saturating_add(n.saturating_mul(per_server))
    }

    /// What the decoder of the server's response accepts: one evaluation per blinded
    /// element, one ciphertext of the session key's width per server element.
    pub fn limits(&self) -> Limits {
        Limits {
            max_points: self.client.elements.len() as u64,
            max_ciphertexts: if self.pk.is_some() {
                self.hello.server_count
            } else {
                0
            },
            ciphertext_bytes: self.pk.as_ref().map(PublicKey::ciphertext_bytes),
        }
    }
}

/// The server's set, ready for lookups: position of a tag in set order.
enum Lookup {
    Raw(HashMap<Vec<u8>, usize>, usize),
    Compressed(Gcs),
}

impl Lookup {
    fn find(&self, output: &[u8; 64]) -> Option<usize> {
        match self {
            Lookup::Raw(map, tb) => map.get(&output[..*tb]).copied(),
            Lookup::Compressed(g) => g.position_vartime(Gcs::map(output, g.n, g.p)),
        }
    }
}

impl ClientAwaitResponse {
    /// Round 2: unblinds the evaluations, finds the matches and produces the result (or,
    /// in sum and shares modes, the next message).
    ///
    /// # Errors
    /// [`PsiError::Malformed`] if the response's counts or lengths disagree with the
    /// session; [`PsiError::InvalidPoint`] for an invalid evaluated element;
    /// [`PsiError::ThresholdNotMet`] in sum mode below the server's threshold;
    /// [`PsiError::Paillier`] if a matched encrypted value is not a valid ciphertext.
    pub fn finish<R: CryptoRng + ?Sized>(
        self,
        response: ServerResponse,
        rng: &mut R,
    ) -> Result<ClientStep, PsiError> {
        let Self {
            client,
            hello,
            blinds,
            pk,
        } = self;
        let m = client.elements.len();
        if response.evaluated.len() != m {
            return Err(PsiError::Malformed(format!(
                "{} evaluated elements for {m} blinded ones",
                response.evaluated.len()
            )));
        }
        let n = hello.server_count;
        let lookup = match response.set {
            EncodedSet::Raw { tag_bytes, tags } => {
                let tb = tag_bytes as usize;
                let need = super::server::raw_tag_bytes(n, m as u64);
                if tb < need {
                    return Err(PsiError::Malformed(format!(
                        "raw tags of {tb} bytes; {n} x {m} elements need {need} to keep false matches under 2^-30"
                    )));
                }
                if tags.len() as u64 != n * tb as u64 {
                    return Err(PsiError::Malformed(format!(
                        "raw set has {} bytes, expected {n} tags of {tb} bytes",
                        tags.len()
                    )));
                }
                let mut map = HashMap::with_capacity(n as usize);
                for (i, t) in tags.chunks_exact(tb).enumerate() {
                    map.insert(t.to_vec(), i);
                }
                Lookup::Raw(map, tb)
            }
            EncodedSet::Compressed { p, data } => {
                let p = p as u32;
                let need = Gcs::parameter_for(m as u64);
                if p < need {
                    return Err(PsiError::Malformed(format!(
                        "compressed set parameter {p}; {m} queries need at least {need} to keep false matches under 2^-30"
                    )));
                }
                Lookup::Compressed(Gcs::decode(&data, n, p)?)
            }
        };
        let needs_values = matches!(hello.mode, Mode::Sum | Mode::Shares | Mode::ServerSum);
        if needs_values && response.values.len() as u64 != n {
            return Err(PsiError::Malformed(format!(
                "{} encrypted values for {n} server elements",
                response.values.len()
            )));
        }
        if !needs_values && !response.values.is_empty() {
            return Err(PsiError::Malformed("unexpected encrypted values".into()));
        }
        let evaluated: Vec<RistrettoPoint> = response
            .evaluated
            .par_iter()
            .enumerate()
            .map(|(i, e)| decode_element(e, i))
            .collect::<Result<_, _>>()?;
        // The client's OPRF outputs.
        let outputs: Vec<[u8; 64]> = match blinds {
            Blinds::PerElement(blinds, table) => evaluated
                .par_iter()
                .zip(blinds.par_iter())
                .zip(client.elements.par_iter())
                .map(|((z, r), x)| {
                    let n = z - &*table * r.scalar();
                    output_for(hello.mode, x, &n.compress().to_bytes())
                })
                .collect(),
            Blinds::Shared(b) => {
                let mut half_inv = b.scalar().invert() * Scalar::from(2u8).invert();
                let out = evaluated
                    .par_chunks(CHUNK)
                    .flat_map_iter(|zs| {
                        let halves: Vec<RistrettoPoint> = zs.iter().map(|z| z * half_inv).collect();
                        compress_halved_batch(&halves)
                            .into_iter()
                            .map(|e| output_for(hello.mode, &[], &e))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                half_inv.zeroize();
                out
            }
        };
        // Matches, in the client's order (for shuffled modes the order is meaningless).
        let matches: Vec<(usize, usize)> = outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| lookup.find(o).map(|j| (i, j)))
            .collect();
        // The client's common elements, in its input order.
        let common = || -> Vec<Vec<u8>> {
            matches
                .iter()
                .map(|&(i, _)| client.elements[i].clone())
                .collect()
        };
        match hello.mode {
            Mode::Intersection => Ok(ClientStep::Done(ClientOutput {
                intersection_size: matches.len(),
                intersection: Some(common()),
                intersection_sum: None,
                shares: None,
            })),
            Mode::Cardinality => Ok(ClientStep::Done(ClientOutput {
                intersection_size: matches.len(),
                intersection: None,
                intersection_sum: None,
                shares: None,
            })),
            Mode::Sum => {
                let threshold = hello.threshold as usize;
                if matches.len() < threshold {
                    return Err(PsiError::ThresholdNotMet {
                        matches: matches.len(),
                        threshold,
                    });
                }
                let pk = pk.ok_or_else(|| PsiError::Malformed("no Paillier key".into()))?;
                let cts = unwrap_values(&pk, &response.values, &outputs, &matches, rng)?;
                let mut sum =
                    pk.encrypt_with_nonce(&Plaintext::from_u64(&pk, 0), &one_nonce(&pk)?)?;
                for c in &cts {
                    sum = pk.add(&sum, c)?;
                }
                // A mask uniform over all but the top 2^L of Z_n: the server's decryption
                // is within 2^L / n of uniform whatever values it encrypted.
                let bits = super::server::sum_bits(matches.len() as u64);
                let mask = super::masks::uniform_below_top(&pk, bits, rng);
                let masked = pk.add_plaintext(&sum, &mask)?;
                let masked = pk.rerandomize(&masked, rng)?;
                Ok(ClientStep::SendSum(
                    SumRequest {
                        count: matches.len() as u64,
                        ciphertext: masked.to_bytes_be(),
                    },
                    ClientAwaitSum {
                        mask_low: super::masks::low_bits(&mask, bits),
                        count: matches.len(),
                    },
                ))
            }
            Mode::ServerSum => {
                let threshold = hello.threshold as usize;
                if matches.len() < threshold {
                    return Err(PsiError::ThresholdNotMet {
                        matches: matches.len(),
                        threshold,
                    });
                }
                let pk = pk.ok_or_else(|| PsiError::Malformed("no Paillier key".into()))?;
                let req = client_sum(&pk, &response.values, &outputs, &matches, rng)?;
                let count = matches.len();
                Ok(if hello.reveal_sum {
                    ClientStep::SendSumAwaitRelease(req, ClientAwaitRelease { count })
                } else {
                    ClientStep::SendSumToServer(
                        req,
                        ClientOutput {
                            intersection_size: count,
                            intersection: None,
                            intersection_sum: None,
                            shares: None,
                        },
                    )
                })
            }
            Mode::Shares => {
                let pk = pk.ok_or_else(|| PsiError::Malformed("no Paillier key".into()))?;
                let cts = unwrap_values(&pk, &response.values, &outputs, &matches, rng)?;
                // Masks uniform over all but the top 2^64 of Z_n: the server sees each
                // v + r within 2^64 / n of uniform whatever v it encrypted.
                let masks: Vec<Plaintext> = (0..cts.len())
                    .map(|_| super::masks::uniform_below_top(&pk, 64, rng))
                    .collect();
                let mut seeds: Vec<[u8; 32]> = (0..cts.len())
                    .map(|_| {
                        let mut s = [0u8; 32];
                        rng.fill_bytes(&mut s);
                        s
                    })
                    .collect();
                let masked: Vec<Vec<u8>> = cts
                    .par_iter()
                    .zip(masks.par_iter())
                    .zip(seeds.par_iter())
                    .map(|((c, r), seed)| {
                        let mut child =
                            <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed(*seed);
                        let c = pk.add_plaintext(c, r)?;
                        Ok(pk.rerandomize(&c, &mut child)?.to_bytes_be())
                    })
                    .collect::<Result<_, crate::Error>>()?;
                seeds.zeroize();
                let shares = masks
                    .iter()
                    .map(|r| (super::masks::low_bits(r, 64) as u64).wrapping_neg())
                    .collect();
                Ok(ClientStep::SendShares(
                    SharesRequest {
                        ciphertexts: masked,
                    },
                    ClientOutput {
                        intersection_size: matches.len(),
                        intersection: Some(common()),
                        intersection_sum: None,
                        shares: Some(shares),
                    },
                ))
            }
        }
    }
}

impl ClientAwaitSum {
    /// Round 3 (sum mode): removes the mask from the low bits the server returned.
    ///
    /// # Errors
    /// [`PsiError::Malformed`] if the reply is not L bits or the sum it gives is larger
    /// than `count` 64-bit values can add up to (the server lied or the reply was damaged).
    pub fn finish(self, reply: SumReply) -> Result<ClientOutput, PsiError> {
        let bits = super::server::sum_bits(self.count as u64);
        let bad = || PsiError::Malformed("server's masked sum is out of range".into());
        let got: [u8; 16] = reply.masked_sum.as_slice().try_into().map_err(|_| bad())?;
        let got = u128::from_be_bytes(got);
        let modulus_mask = (1u128 << bits) - 1;
        if got > modulus_mask {
            return Err(bad());
        }
        let sum = got.wrapping_sub(self.mask_low) & modulus_mask;
        if sum > u128::from(u64::MAX) * self.count as u128 {
            return Err(bad());
        }
        Ok(ClientOutput {
            intersection_size: self.count,
            intersection: None,
            intersection_sum: Some(sum),
            shares: None,
        })
    }
}

/// Removes the one-time pads of the matched values and parses them as ciphertexts.
///
/// A matched value that is not a valid ciphertext is replaced by an encryption of a
/// random value, made up front whether it is needed or not: refusing would tell the
/// server that the element it spoiled is one the client holds (a selective-failure
/// attack). The result is then wrong, which the client notices only after its last
/// message (sum mode's range check) or not at all (shares).
fn unwrap_values<R: CryptoRng + ?Sized>(
    pk: &PublicKey,
    values: &[Vec<u8>],
    outputs: &[[u8; 64]],
    matches: &[(usize, usize)],
    rng: &mut R,
) -> Result<Vec<Ciphertext>, PsiError> {
    let junk = pk.encrypt(&super::masks::uniform(pk, rng), rng)?;
    Ok(matches
        .par_iter()
        .map(|&(i, j)| {
            let mut c = values[j].clone();
            if c.len() != pk.ciphertext_bytes() {
                return junk.clone();
            }
            pad(&outputs[i], &mut c);
            pk.ciphertext_from_bytes_be(&c)
                .unwrap_or_else(|_| junk.clone())
        })
        .collect())
}

/// The nonce 1 (an encryption of 0 with r = 1 is the neutral element g^0 1^n = 1).
fn one_nonce(pk: &PublicKey) -> Result<crate::paillier::Nonce, PsiError> {
    Ok(crate::paillier::Nonce::from_biguint(
        pk,
        &BigUint::from(1u8),
    )?)
}
