//! shroud's compact binary format, version 1.
//!
//! ```text
//! header      = "SHRD" | version: u8 = 1 | kind: u8
//! kind 1      public key:   u16 len | n (big-endian, len bytes)
//! kind 2      secret key:   u16 len | p | u16 len | q
//! kind 3      ciphertexts:  key id (32 bytes) | u32 count | u16 width |
//!                           count x (i32 exponent | width bytes, big-endian ciphertext)
//! ```
//! All integers are big-endian. Decoders reject a wrong magic, version or kind, lengths
//! beyond the 8192-bit limit, counts that do not match the bytes present, trailing bytes,
//! and any key or ciphertext that fails validation.

use num_bigint::BigUint;

use crate::encoding::MAX_ABS_EXPONENT;
use crate::error::{Error, Result};
use zeroize::Zeroizing;

use crate::paillier::{EncryptedNumber, LoadOptions, MAX_MODULUS_BITS, PublicKey, SecretKey};

/// Magic bytes.
pub const MAGIC: &[u8; 4] = b"SHRD";
/// Format version.
pub const VERSION: u8 = 1;
const KIND_PUBLIC: u8 = 1;
const KIND_SECRET: u8 = 2;
const KIND_CIPHERTEXTS: u8 = 3;
const MAX_INT_BYTES: usize = (MAX_MODULUS_BITS / 8) as usize;

fn header(kind: u8) -> Vec<u8> {
    let mut v = MAGIC.to_vec();
    v.push(VERSION);
    v.push(kind);
    v
}

fn put_int(out: &mut Vec<u8>, x: &BigUint) {
    let b = x.to_bytes_be();
    // Callers only write validated keys, whose integers are at most 1024 bytes.
    out.extend_from_slice(&u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&b);
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::malformed(format!(
                "truncated input: {what} needs {n} bytes, {} left",
                self.buf.len()
            )));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn int(&mut self, what: &str) -> Result<BigUint> {
        Ok(BigUint::from_bytes_be(self.int_bytes(what)?))
    }
    /// A length-prefixed integer's bytes, untouched (secret integers go straight to
    /// constant-time code; only the length, which is public layout, is looked at).
    fn int_bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.u16(what)? as usize;
        if len == 0 || len > MAX_INT_BYTES {
            return Err(Error::malformed(format!(
                "{what}: length {len} outside 1..={MAX_INT_BYTES}"
            )));
        }
        self.take(len, what)
    }
    fn header(&mut self, kind: u8) -> Result<()> {
        let h = self.take(6, "header")?;
        if &h[..4] != MAGIC {
            return Err(Error::malformed("not shroud binary data (bad magic)"));
        }
        if h[4] != VERSION {
            return Err(Error::malformed(format!(
                "unsupported format version {} (this build reads {VERSION})",
                h[4]
            )));
        }
        if h[5] != kind {
            return Err(Error::malformed(format!(
                "wrong record kind {} (expected {kind})",
                h[5]
            )));
        }
        Ok(())
    }
    fn finish(&self) -> Result<()> {
        if !self.buf.is_empty() {
            return Err(Error::malformed(format!(
                "{} trailing bytes",
                self.buf.len()
            )));
        }
        Ok(())
    }
}

/// Encodes a public key.
pub fn encode_public_key(pk: &PublicKey) -> Vec<u8> {
    let mut v = header(KIND_PUBLIC);
    put_int(&mut v, pk.n());
    v
}

/// Decodes and validates a public key.
///
/// # Errors
/// [`Error::Malformed`], [`Error::InvalidKey`].
pub fn decode_public_key(bytes: &[u8]) -> Result<PublicKey> {
    let mut r = Reader { buf: bytes };
    r.header(KIND_PUBLIC)?;
    let n = r.int("modulus")?;
    r.finish()?;
    PublicKey::from_modulus(&n)
}

/// Encodes a secret key (p, q), each at its fixed width (its limb precision), in
/// constant time. The output is as secret as the key and is wiped on drop.
pub fn encode_secret_key(sk: &SecretKey) -> Zeroizing<Vec<u8>> {
    let (p, q) = sk.primes_be_bytes();
    let mut v = Zeroizing::new(header(KIND_SECRET));
    for x in [&p, &q] {
        // At most 512 bytes for the largest supported key.
        v.extend_from_slice(&u16::try_from(x.len()).unwrap_or(u16::MAX).to_be_bytes());
        v.extend_from_slice(x);
    }
    v
}

/// Decodes a secret key with constant-time checks only (see
/// [`SecretKey::from_be_bytes`]; n is p q, validated as a public key).
///
/// # Errors
/// [`Error::Malformed`], [`Error::InvalidKey`].
pub fn decode_secret_key(bytes: &[u8]) -> Result<SecretKey> {
    decode_secret_key_with(bytes, LoadOptions::default())
}

/// Decodes a secret key with load options (`verify` re-proves primality, in variable
/// time).
///
/// # Errors
/// [`Error::Malformed`], [`Error::InvalidKey`].
///
/// # Security
/// The reader looks only at the header and the length prefixes; p and q go from the
/// input bytes straight to [`SecretKey::from_be_bytes`].
pub fn decode_secret_key_with(bytes: &[u8], opts: LoadOptions) -> Result<SecretKey> {
    let mut r = Reader { buf: bytes };
    r.header(KIND_SECRET)?;
    let p = r.int_bytes("p")?;
    let q = r.int_bytes("q")?;
    r.finish()?;
    SecretKey::from_be_bytes(p, q, None, opts)
}

/// Encodes encrypted numbers under one key.
///
/// # Errors
/// [`Error::KeyMismatch`] if any is under another key.
pub fn encode_ciphertexts(pk: &PublicKey, xs: &[EncryptedNumber]) -> Result<Vec<u8>> {
    let width = pk.ciphertext_bytes();
    let mut v = header(KIND_CIPHERTEXTS);
    v.extend_from_slice(pk.id().as_bytes());
    let count =
        u32::try_from(xs.len()).map_err(|_| Error::malformed("more than 2^32 ciphertexts"))?;
    v.extend_from_slice(&count.to_be_bytes());
    v.extend_from_slice(&u16::try_from(width).unwrap_or(u16::MAX).to_be_bytes());
    for x in xs {
        if x.ciphertext.key_id() != pk.id() {
            return Err(Error::KeyMismatch);
        }
        v.extend_from_slice(&x.exponent.to_be_bytes());
        v.extend_from_slice(&x.ciphertext.to_bytes_be());
    }
    Ok(v)
}

/// Decodes and validates encrypted numbers under `pk`.
///
/// # Errors
/// [`Error::Malformed`], [`Error::KeyMismatch`] when they were made under another key,
/// [`Error::InvalidCiphertext`].
pub fn decode_ciphertexts(pk: &PublicKey, bytes: &[u8]) -> Result<Vec<EncryptedNumber>> {
    let mut r = Reader { buf: bytes };
    r.header(KIND_CIPHERTEXTS)?;
    let id = r.take(32, "key id")?;
    if id != pk.id().as_bytes() {
        return Err(Error::KeyMismatch);
    }
    let count = r.u32("count")? as usize;
    let width = r.u16("width")? as usize;
    if width != pk.ciphertext_bytes() {
        return Err(Error::malformed(format!(
            "ciphertext width {width} does not match the key's {}",
            pk.ciphertext_bytes()
        )));
    }
    let need = count
        .checked_mul(width + 4)
        .ok_or_else(|| Error::malformed("count overflows"))?;
    if r.buf.len() != need {
        return Err(Error::malformed(format!(
            "{count} ciphertexts need {need} bytes, {} present",
            r.buf.len()
        )));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let e = i32::from_be_bytes(
            r.take(4, "exponent")?
                .try_into()
                .map_err(|_| Error::malformed("exponent"))?,
        );
        if e.unsigned_abs() > MAX_ABS_EXPONENT as u32 {
            return Err(Error::malformed(format!(
                "ciphertext {i}: exponent {e} out of range"
            )));
        }
        let c = pk.ciphertext_from_bytes_be(r.take(width, "ciphertext")?)?;
        out.push(EncryptedNumber {
            ciphertext: c,
            exponent: e,
        });
    }
    r.finish()?;
    Ok(out)
}
