//! The OPRF of RFC 9497 (mode 0x00, suite ristretto255-SHA512), on curve25519-dalek.
//!
//! - `HashToGroup` is RFC 9380's `hash_to_ristretto255`: `expand_message_xmd` with SHA-512
//!   to 64 bytes, then the ristretto255 one-way map (two Elligator evaluations).
//! - `HashToScalar` reduces 64 expanded bytes modulo the group order.
//! - [`Blind`], [`OprfKey::blind_evaluate`] and [`Blind::finalize`] are the RFC's functions; with
//!   the RFC's domain-separation tag ([`RFC_HASH_TO_GROUP_DST`]) they reproduce its test
//!   vectors bit for bit (`tests/kat_oprf.rs`). Private set intersection uses the same
//!   functions with a tag that also names shroud's protocol version and the session
//!   ([`super::session_dst`]).
//!
//! Scalar multiplication, inversion and hashing are constant time (curve25519-dalek);
//! keys and blinds zeroize on drop and print redacted.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::PsiError;

/// RFC 9497's context string for mode 0x00 and ristretto255-SHA512.
pub const RFC_CONTEXT: &[u8] = b"OPRFV1-\x00-ristretto255-SHA512";
/// RFC 9497's `HashToGroup` domain-separation tag for this suite.
pub const RFC_HASH_TO_GROUP_DST: &[u8] = b"HashToGroup-OPRFV1-\x00-ristretto255-SHA512";
/// Bytes of a serialized group element or scalar.
pub const ELEMENT_BYTES: usize = 32;

/// RFC 9380 section 5.3.1 `expand_message_xmd` with SHA-512.
///
/// # Errors
/// [`PsiError::InvalidInput`] if `dst` is longer than 255 bytes or `len` is 0 or more than
/// 255 * 64 bytes (the RFC's limits).
pub fn expand_message_xmd(msg: &[&[u8]], dst: &[u8], len: usize) -> Result<Vec<u8>, PsiError> {
    const B: usize = 64; // SHA-512 output
    const S: usize = 128; // SHA-512 block
    let ell = len.div_ceil(B);
    if dst.len() > 255 || len == 0 || ell > 255 || len > 65535 {
        return Err(PsiError::InvalidInput(
            "expand_message_xmd: domain tag over 255 bytes or output length out of range".into(),
        ));
    }
    let dst_len = [dst.len() as u8]; // checked above
    let mut h = Sha512::new();
    h.update([0u8; S]);
    for m in msg {
        h.update(m);
    }
    h.update((len as u16).to_be_bytes());
    h.update([0u8]);
    h.update(dst);
    h.update(dst_len);
    let b0 = h.finalize();
    let mut out = Vec::with_capacity(ell * B);
    let mut prev = {
        let mut h = Sha512::new();
        h.update(b0);
        h.update([1u8]);
        h.update(dst);
        h.update(dst_len);
        h.finalize()
    };
    out.extend_from_slice(&prev);
    for i in 2..=ell {
        let mut x = [0u8; B];
        for (j, byte) in x.iter_mut().enumerate() {
            *byte = b0[j] ^ prev[j];
        }
        let mut h = Sha512::new();
        h.update(x);
        h.update([i as u8]); // i <= ell <= 255
        h.update(dst);
        h.update(dst_len);
        prev = h.finalize();
        out.extend_from_slice(&prev);
    }
    out.truncate(len);
    Ok(out)
}

/// RFC 9380 `hash_to_ristretto255` with the given domain-separation tag.
///
/// # Errors
/// [`PsiError::InvalidInput`] if the tag is longer than 255 bytes.
pub fn hash_to_group(input: &[u8], dst: &[u8]) -> Result<RistrettoPoint, PsiError> {
    let bytes = expand_message_xmd(&[input], dst, 64)?;
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&bytes);
    Ok(RistrettoPoint::from_uniform_bytes(&wide))
}

/// RFC 9497 `HashToScalar`: 64 expanded bytes reduced modulo the group order.
///
/// # Errors
/// [`PsiError::InvalidInput`] if the tag is longer than 255 bytes.
pub fn hash_to_scalar(input: &[&[u8]], dst: &[u8]) -> Result<Scalar, PsiError> {
    let bytes = expand_message_xmd(input, dst, 64)?;
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&bytes);
    let s = Scalar::from_bytes_mod_order_wide(&wide);
    wide.zeroize();
    Ok(s)
}

/// A uniformly random non-zero scalar from 64 bytes of `rng` (bias below 2^-250).
pub fn random_scalar<R: CryptoRng + ?Sized>(rng: &mut R) -> Scalar {
    loop {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        let s = Scalar::from_bytes_mod_order_wide(&wide);
        wide.zeroize();
        if !bool::from(s.ct_eq(&Scalar::ZERO)) {
            return s;
        }
    }
}

/// Parses a serialized group element received from outside.
///
/// # Errors
/// [`PsiError::InvalidPoint`] if the 32 bytes are not a canonical ristretto255 encoding or
/// encode the identity (RFC 9497 section 3.3.1 requires rejecting both).
pub fn decode_element(
    bytes: &[u8; ELEMENT_BYTES],
    index: usize,
) -> Result<RistrettoPoint, PsiError> {
    let p = CompressedRistretto(*bytes)
        .decompress()
        .ok_or(PsiError::InvalidPoint {
            index,
            reason: "not a canonical ristretto255 encoding",
        })?;
    if p == RistrettoPoint::identity() {
        return Err(PsiError::InvalidPoint {
            index,
            reason: "the identity element",
        });
    }
    Ok(p)
}

/// A server's OPRF secret key skS (single session in PSI; zeroizes on drop).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct OprfKey {
    sk: Scalar,
}

impl core::fmt::Debug for OprfKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("OprfKey(<redacted>)")
    }
}

impl OprfKey {
    /// A fresh random key.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            sk: random_scalar(rng),
        }
    }

    /// RFC 9497 `DeriveKeyPair(seed, info)` for this suite (the public key is not needed
    /// in mode 0x00 and is not returned).
    ///
    /// # Errors
    /// [`PsiError::InvalidInput`] if `info` is longer than 65535 bytes or 256 attempts in a
    /// row give the zero scalar (probability about 2^-64000).
    pub fn derive(seed: &[u8; 32], info: &[u8]) -> Result<Self, PsiError> {
        let info_len = u16::try_from(info.len())
            .map_err(|_| PsiError::InvalidInput("DeriveKeyPair info over 65535 bytes".into()))?;
        let mut dst = b"DeriveKeyPair".to_vec();
        dst.extend_from_slice(RFC_CONTEXT);
        for counter in 0u8..=255 {
            let mut sk = hash_to_scalar(&[seed, &info_len.to_be_bytes(), info, &[counter]], &dst)?;
            if !bool::from(sk.ct_eq(&Scalar::ZERO)) {
                return Ok(Self { sk });
            }
            sk.zeroize();
        }
        Err(PsiError::InvalidInput(
            "DeriveKeyPair: no non-zero scalar".into(),
        ))
    }

    /// The serialized secret scalar (little-endian, as in the RFC's vectors). Handle with
    /// care: this is the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.sk.to_bytes()
    }

    /// The public key pkS = skS * G (RFC 9497 section 3.2), used by additive blinding.
    pub fn public_key(&self) -> RistrettoPoint {
        RistrettoPoint::mul_base(&self.sk)
    }

    /// `BlindEvaluate` of many elements, serialized: skS * P for each P.
    ///
    /// Uses curve25519-dalek's batch "double and compress" on (skS / 2) * P, which shares
    /// one field inversion across the batch instead of an inverse square root per point.
    /// Constant time in skS and the points; skS / 2 is wiped after use.
    pub fn blind_evaluate_batch_compressed(&self, points: &[RistrettoPoint]) -> Vec<[u8; 32]> {
        let mut half = self.sk * Scalar::from(2u8).invert();
        let halves: Vec<RistrettoPoint> = points.iter().map(|p| p * half).collect();
        half.zeroize();
        RistrettoPoint::double_and_compress_batch(&halves)
            .into_iter()
            .map(|c| c.to_bytes())
            .collect()
    }

    /// RFC 9497 `BlindEvaluate`: skS * blindedElement.
    pub fn blind_evaluate(&self, blinded: &RistrettoPoint) -> RistrettoPoint {
        blinded * self.sk
    }

    /// The OPRF value of `input` computed with the key directly (the server's side of RFC
    /// 9497 `Evaluate`, before the final hash): skS * HashToGroup(input).
    ///
    /// # Errors
    /// [`PsiError::InvalidInput`] if the tag is too long or the input hashes to the
    /// identity (probability 2^-252; the RFC requires the check).
    pub fn evaluate_element(&self, input: &[u8], dst: &[u8]) -> Result<RistrettoPoint, PsiError> {
        let p = hash_to_group(input, dst)?;
        if p == RistrettoPoint::identity() {
            return Err(PsiError::InvalidInput(
                "input hashes to the identity".into(),
            ));
        }
        Ok(p * self.sk)
    }

    /// RFC 9497 `Evaluate(skS, input)`: the 64-byte OPRF output, as the client would get it.
    ///
    /// # Errors
    /// As [`OprfKey::evaluate_element`].
    pub fn evaluate(&self, input: &[u8], dst: &[u8]) -> Result<[u8; 64], PsiError> {
        let e = self.evaluate_element(input, dst)?;
        Ok(finalize_element(input, &e.compress().to_bytes()))
    }
}

/// Serializes points in one batch (one shared field inversion; see
/// [`OprfKey::blind_evaluate_batch_compressed`]): each point is halved by a scalar
/// multiplication first, so this only pays off when a multiplication is needed anyway.
pub fn compress_halved_batch(halves: &[RistrettoPoint]) -> Vec<[u8; 32]> {
    RistrettoPoint::double_and_compress_batch(halves)
        .into_iter()
        .map(|c| c.to_bytes())
        .collect()
}

/// A client's blinding scalar for one input (zeroizes on drop, consumed by `finalize`).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Blind {
    r: Scalar,
}

impl core::fmt::Debug for Blind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Blind(<redacted>)")
    }
}

impl Blind {
    /// A fresh random blind.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            r: random_scalar(rng),
        }
    }

    /// A blind from its 32-byte little-endian encoding (for test vectors).
    ///
    /// # Errors
    /// [`PsiError::InvalidInput`] if the bytes are not a canonical non-zero scalar.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, PsiError> {
        let r: Option<Scalar> = Scalar::from_canonical_bytes(bytes).into();
        match r {
            Some(r) if r != Scalar::ZERO => Ok(Self { r }),
            _ => Err(PsiError::InvalidInput(
                "blind is not a canonical non-zero scalar".into(),
            )),
        }
    }

    /// RFC 9497 `Blind`: r * HashToGroup(input).
    ///
    /// # Errors
    /// [`PsiError::InvalidInput`] if the tag is too long or the input hashes to the identity.
    pub fn blind(&self, input: &[u8], dst: &[u8]) -> Result<RistrettoPoint, PsiError> {
        let p = hash_to_group(input, dst)?;
        if p == RistrettoPoint::identity() {
            return Err(PsiError::InvalidInput(
                "input hashes to the identity".into(),
            ));
        }
        Ok(p * self.r)
    }

    /// RFC 9497 `Finalize`: unblinds the server's evaluation and hashes it with the input.
    /// r^-1 is wiped after use.
    pub fn finalize(self, input: &[u8], evaluated: &RistrettoPoint) -> [u8; 64] {
        let mut r_inv = self.r.invert();
        let n = evaluated * r_inv;
        r_inv.zeroize();
        finalize_element(input, &n.compress().to_bytes())
    }

    pub(crate) fn scalar(&self) -> &Scalar {
        &self.r
    }
}

/// RFC 9497's final hash: SHA-512(len(input) || input || len(element) || element || "Finalize").
pub fn finalize_element(input: &[u8], element: &[u8; 32]) -> [u8; 64] {
    let mut h = Sha512::new();
    // Inputs longer than 65535 bytes are refused when sets are built.
    h.update((input.len().min(65535) as u16).to_be_bytes());
    h.update(input);
    h.update(32u16.to_be_bytes());
    h.update(element);
    h.update(b"Finalize");
    h.finalize().into()
}
