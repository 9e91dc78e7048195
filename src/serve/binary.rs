//! The compact binary content type of `POST /v1/score`, beside JSON:
//! `Content-Type: application/vnd.shroud.score.v1+binary`. It carries the same request and
//! answer as the JSON form in shroud's binary format ([`crate::format::binary`]), about
//! 2.4x smaller than decimal JSON and without decimal conversions. Errors are still JSON.
//!
//! ```text
//! request  = "SHSQ" | version: u8 = 1 | flags: u8 (bit 0: pack; the others 0)
//!            | mantissa_bits: u16 (0: the default; must be 0 without packing)
//!            | rows: u32 | features: u32
//!            | key_len: u16 | public key record (format::binary kind 1, key_len bytes)
//!            | ciphertexts record (format::binary kind 3): rows x features, row-major,
//!              each with its exponent; it runs to the end of the body
//! answer   = "SHSR" | version: u8 = 1 | kind: u8
//!   kind 1 (one score per row): ciphertexts record, rows entries, each with its exponent
//!   kind 2 (packed): slot_bits: u32 | slots: u32 | rows: u32 | exponent: i32
//!            | ciphertexts record, ceil(rows / slots) entries (exponent field = exponent)
//! ```
//! All integers are big-endian; a ciphertext takes the key's fixed width
//! ([`PublicKey::ciphertext_bytes`]). The service checks the header, the row and feature
//! counts against `--max-batch` and the model, the key's size, and that the body holds
//! exactly rows x features x (width + 4) bytes of ciphertexts, all before allocating for
//! them; then every ciphertext is checked to lie in Z*_{n^2}.

use num_bigint::BigUint;

use super::ServeError;
use super::msgs::{ParseLimits, ScoreRequest};
use super::score::{DEFAULT_MANTISSA_BITS, MAX_MANTISSA_BITS, Packed, Scored};
use crate::encoding::MAX_ABS_EXPONENT;
use crate::format::binary as fmt;
use crate::paillier::{EncryptedNumber, PublicKey};

/// The media type.
pub const CONTENT_TYPE: &str = "application/vnd.shroud.score.v1+binary";
/// Magic of a request.
pub const REQUEST_MAGIC: &[u8; 4] = b"SHSQ";
/// Magic of an answer.
pub const ANSWER_MAGIC: &[u8; 4] = b"SHSR";
/// Version of both.
pub const VERSION: u8 = 1;
const FLAG_PACK: u8 = 1;
const KIND_ROWS: u8 = 1;
const KIND_PACKED: u8 = 2;
/// Bytes of a ciphertexts record before its entries: header, key id, count, width.
const CT_HEADER: usize = 6 + 32 + 4 + 2;

fn malformed(m: impl Into<String>) -> ServeError {
    ServeError::Malformed(m.into())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ServeError> {
        if self.0.len() < n {
            return Err(malformed(format!(
                "truncated binary body: {what} needs {n} bytes, {} left",
                self.0.len()
            )));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self, what: &str) -> Result<u16, ServeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, ServeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self, what: &str) -> Result<i32, ServeError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Checks a ciphertexts record's header against `pk` and `count`, and that exactly its
/// entries follow; returns the entries' bytes (count x (4 + width)).
fn ciphertext_entries<'a>(
    pk: &PublicKey,
    r: &mut Reader<'a>,
    count: usize,
) -> Result<&'a [u8], ServeError> {
    let h = r.take(CT_HEADER, "the ciphertexts record's header")?;
    if &h[..4] != fmt::MAGIC || h[4] != fmt::VERSION || h[5] != 3 {
        return Err(malformed(
            "the ciphertexts are not a shroud binary ciphertexts record (SHRD, version 1, kind 3)",
        ));
    }
    if &h[6..38] != pk.id().as_bytes() {
        return Err(malformed(
            "the ciphertexts record names another key than the request's public key",
        ));
    }
    let declared = u32::from_be_bytes([h[38], h[39], h[40], h[41]]) as usize;
    if declared != count {
        return Err(malformed(format!(
            "the ciphertexts record holds {declared} entries; rows x features is {count}"
        )));
    }
    let width = u16::from_be_bytes([h[42], h[43]]) as usize;
    if width != pk.ciphertext_bytes() {
        return Err(malformed(format!(
            "ciphertext width {width}; this key's is {}",
            pk.ciphertext_bytes()
        )));
    }
    // count <= max_batch * n_features and width <= 2048: no overflow on 64 bits; checked
    // all the same.
    let need = count
        .checked_mul(width + 4)
        .ok_or_else(|| malformed("size overflows"))?;
    if r.0.len() != need {
        return Err(malformed(format!(
            "{count} ciphertexts of {width} bytes need {need} bytes; {} present",
            r.0.len()
        )));
    }
    r.take(need, "ciphertexts")
}

/// Parses and validates a binary request, with the same checks as the JSON form.
///
/// # Errors
/// [`ServeError::Malformed`] for a wrong magic, version, flags or layout, a truncated or
/// overlong body; otherwise the [`ServeError`] the JSON form would give.
pub fn parse_request(body: &[u8], limits: &ParseLimits) -> Result<ScoreRequest, ServeError> {
    let mut r = Reader(body);
    let h = r.take(8, "the header")?;
    if &h[..4] != REQUEST_MAGIC {
        return Err(malformed(
            "not a shroud binary scoring request (bad magic; expected SHSQ)",
        ));
    }
    if h[4] != VERSION {
        return Err(malformed(format!(
            "binary request version {}; this service reads {VERSION}",
            h[4]
        )));
    }
    let flags = h[5];
    if flags & !FLAG_PACK != 0 {
        return Err(malformed(format!("unknown flags {flags:#04x}")));
    }
    let mantissa = u16::from_be_bytes([h[6], h[7]]);
    let pack = if flags & FLAG_PACK != 0 {
        let m = if mantissa == 0 {
            DEFAULT_MANTISSA_BITS
        } else {
            u32::from(mantissa)
        };
        if m > MAX_MANTISSA_BITS {
            return Err(ServeError::Packing(format!(
                "mantissa_bits must lie in 1..={MAX_MANTISSA_BITS}"
            )));
        }
        Some(m)
    } else {
        if mantissa != 0 {
            return Err(ServeError::Packing(
                "mantissa_bits is only meaningful with packing".into(),
            ));
        }
        None
    };
    let rows = r.u32("rows")? as usize;
    let features = r.u32("features")? as usize;
    if rows > limits.max_batch {
        return Err(ServeError::BatchTooLarge {
            rows,
            limit: limits.max_batch,
        });
    }
    if rows == 0 {
        return Err(malformed("a request of no rows"));
    }
    if features != limits.n_features {
        return Err(ServeError::FeatureCount {
            row: 0,
            got: features,
            want: limits.n_features,
        });
    }
    let key_len = r.u16("the key's length")? as usize;
    let key = r.take(key_len, "the public key record")?;
    let public_key = fmt::decode_public_key(key).map_err(|e| match e {
        crate::Error::InvalidKey(m) => ServeError::InvalidKey(m),
        other => malformed(format!("public key record: {other}")),
    })?;
    if public_key.bits() < limits.min_key_bits {
        return Err(ServeError::KeyTooSmall {
            bits: public_key.bits(),
            min: limits.min_key_bits,
        });
    }
    if public_key.bits() > limits.max_key_bits {
        return Err(ServeError::KeyTooLarge {
            bits: public_key.bits(),
            max: limits.max_key_bits,
        });
    }
    let width = public_key.ciphertext_bytes();
    let entries = ciphertext_entries(&public_key, &mut r, rows * features)?;
    let mut out = Vec::with_capacity(rows);
    for (i, row) in entries.chunks_exact(features * (width + 4)).enumerate() {
        let mut values = Vec::with_capacity(features);
        let mut exponents = Vec::with_capacity(features);
        for (feature, e) in row.chunks_exact(width + 4).enumerate() {
            let exponent = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            if exponent.unsigned_abs() > MAX_ABS_EXPONENT.unsigned_abs() {
                return Err(ServeError::Exponent(format!(
                    "row {i}, feature {feature}: exponent {exponent} is outside +/-{MAX_ABS_EXPONENT}"
                )));
            }
            values.push(BigUint::from_bytes_be(&e[4..]));
            exponents.push(exponent);
        }
        let cs = public_key
            .ciphertexts_from_biguints(&values)
            .map_err(|(feature, err)| ServeError::InvalidCiphertext {
                row: i,
                feature,
                reason: match err {
                    crate::Error::InvalidCiphertext(r) => r.to_string(),
                    other => other.to_string(),
                },
            })?;
        out.push(
            cs.into_iter()
                .zip(exponents)
                .map(|(ciphertext, exponent)| EncryptedNumber {
                    ciphertext,
                    exponent,
                })
                .collect(),
        );
    }
    Ok(ScoreRequest {
        public_key,
        rows: out,
        single: false,
        pack,
    })
}

/// A binary request for `rows` of encrypted features (all under `pk`).
///
/// # Errors
/// [`crate::Error::KeyMismatch`] for a ciphertext under another key,
/// [`crate::Error::Malformed`] for rows of unequal length or more than 2^32 values.
pub fn encode_request(
    pk: &PublicKey,
    rows: &[Vec<EncryptedNumber>],
    pack: Option<u32>,
) -> crate::Result<Vec<u8>> {
    let features = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != features) {
        return Err(crate::Error::malformed("rows of unequal length"));
    }
    let too_many = || crate::Error::malformed("more than 2^32 rows or features");
    let mut out = REQUEST_MAGIC.to_vec();
    out.push(VERSION);
    out.push(if pack.is_some() { FLAG_PACK } else { 0 });
    let m = u16::try_from(pack.unwrap_or(0)).map_err(|_| too_many())?;
    out.extend_from_slice(&m.to_be_bytes());
    out.extend_from_slice(
        &u32::try_from(rows.len())
            .map_err(|_| too_many())?
            .to_be_bytes(),
    );
    out.extend_from_slice(
        &u32::try_from(features)
            .map_err(|_| too_many())?
            .to_be_bytes(),
    );
    let key = fmt::encode_public_key(pk);
    out.extend_from_slice(
        &u16::try_from(key.len())
            .map_err(|_| too_many())?
            .to_be_bytes(),
    );
    out.extend_from_slice(&key);
    let flat: Vec<EncryptedNumber> = rows.iter().flatten().cloned().collect();
    out.extend_from_slice(&fmt::encode_ciphertexts(pk, &flat)?);
    Ok(out)
}

/// The binary answer.
///
/// # Errors
/// [`ServeError::Internal`] when a ciphertext is not under `pk` (cannot happen for the
/// service's own answers).
pub fn encode_answer(pk: &PublicKey, scored: &Scored) -> Result<Vec<u8>, ServeError> {
    let internal = |e: crate::Error| ServeError::Internal(e.to_string());
    let mut out = ANSWER_MAGIC.to_vec();
    out.push(VERSION);
    match scored {
        Scored::Rows(rows) => {
            out.push(KIND_ROWS);
            out.extend_from_slice(&fmt::encode_ciphertexts(pk, rows).map_err(internal)?);
        }
        Scored::Packed(p) => {
            out.push(KIND_PACKED);
            let u = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
            out.extend_from_slice(&p.slot_bits.to_be_bytes());
            out.extend_from_slice(&u(p.slots).to_be_bytes());
            out.extend_from_slice(&u(p.rows).to_be_bytes());
            out.extend_from_slice(&p.exponent.to_be_bytes());
            let cts: Vec<EncryptedNumber> = p
                .ciphertexts
                .iter()
                .map(|c| EncryptedNumber {
                    ciphertext: c.clone(),
                    exponent: p.exponent,
                })
                .collect();
            out.extend_from_slice(&fmt::encode_ciphertexts(pk, &cts).map_err(internal)?);
        }
    }
    Ok(out)
}

/// Decodes a binary answer (the client's side), checking every ciphertext.
///
/// # Errors
/// [`crate::Error::Malformed`] for a wrong layout or count, [`crate::Error::KeyMismatch`]
/// for another key, [`crate::Error::InvalidCiphertext`].
pub fn decode_answer(pk: &PublicKey, bytes: &[u8], rows: usize) -> crate::Result<Scored> {
    let m = |e: ServeError| crate::Error::malformed(e.to_string());
    let mut r = Reader(bytes);
    let h = r.take(6, "the header").map_err(m)?;
    if &h[..4] != ANSWER_MAGIC || h[4] != VERSION {
        return Err(crate::Error::malformed("not a shroud binary answer"));
    }
    match h[5] {
        KIND_ROWS => {
            let xs = fmt::decode_ciphertexts(pk, r.0)?;
            if xs.len() != rows {
                return Err(crate::Error::malformed(format!(
                    "{} scores for {rows} records",
                    xs.len()
                )));
            }
            Ok(Scored::Rows(xs))
        }
        KIND_PACKED => {
            let slot_bits = r.u32("slot_bits").map_err(m)?;
            let slots = r.u32("slots").map_err(m)? as usize;
            let n = r.u32("rows").map_err(m)? as usize;
            let exponent = r.i32("exponent").map_err(m)?;
            if slot_bits < 2 || slot_bits > pk.bits() || slots == 0 || n != rows {
                return Err(crate::Error::malformed("bad packing parameters"));
            }
            let xs = fmt::decode_ciphertexts(pk, r.0)?;
            if xs.len() != rows.div_ceil(slots) || xs.iter().any(|x| x.exponent != exponent) {
                return Err(crate::Error::malformed(
                    "packed answer does not hold one score per record",
                ));
            }
            Ok(Scored::Packed(Packed {
                slot_bits,
                slots,
                rows,
                exponent,
                ciphertexts: xs.into_iter().map(|x| x.ciphertext).collect(),
            }))
        }
        k => Err(crate::Error::malformed(format!("unknown answer kind {k}"))),
    }
}
