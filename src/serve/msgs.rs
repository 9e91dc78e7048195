//! Wire messages of `POST /v1/score`, in python-paillier's documented serialization.
//!
//! Request: `{"public_key": {"g": .., "n": ..}, "values": [["<ciphertext>", exponent], ..]}`
//! for one record or `"rows": [[["<ciphertext>", exponent], ..], ..]` for a batch; n and g
//! as JSON integers of any size or decimal strings (the JWK public key is accepted too);
//! `"pack": true` and `"mantissa_bits": N` ask for packing.
//!
//! Answer: `{"values": [["<ciphertext>", exponent]]}` for one record, `{"rows": [{"values":
//! [[..]]}, ..]}` for a batch, or `{"packed": {"slot_bits": B, "slots": k, "rows": r,
//! "exponent": e, "ciphertexts": ["<ciphertext>", ..]}}`.

use num_bigint::BigUint;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;

use serde_json::{Value, json};

use super::ServeError;
use super::score::{DEFAULT_MANTISSA_BITS, MAX_MANTISSA_BITS, Packed, Scored};
use crate::encoding::MAX_ABS_EXPONENT;
use crate::paillier::{EncryptedNumber, MAX_MODULUS_BITS, PublicKey};

/// Most decimal digits of n accepted (an 8192-bit n has 2467).
const MAX_N_DIGITS: usize = 2500;
/// Most decimal digits of a ciphertext accepted (n^2 of an 8192-bit key has 4933).
const MAX_C_DIGITS: usize = 5000;

type Pair = (Box<RawValue>, i64);

#[derive(Deserialize)]
struct RawRequest {
    public_key: Box<RawValue>,
    values: Option<Vec<Pair>>,
    rows: Option<Vec<Vec<Pair>>>,
    #[serde(default)]
    pack: bool,
    mantissa_bits: Option<u32>,
}

/// A parsed and validated scoring request.
pub struct ScoreRequest {
    /// The client's public key (checked, at least the minimum size).
    pub public_key: PublicKey,
    /// The records, each a row of validated ciphertexts.
    pub rows: Vec<Vec<EncryptedNumber>>,
    /// Whether it was a single record (`values`) rather than a batch (`rows`).
    pub single: bool,
    /// The declared mantissa bound when packing was asked for.
    pub pack: Option<u32>,
}

/// Limits applied while parsing.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// Features of the model.
    pub n_features: usize,
    /// Most rows in a batch.
    pub max_batch: usize,
    /// Smallest key size accepted.
    pub min_key_bits: u32,
    /// Largest key size accepted.
    pub max_key_bits: u32,
}

fn malformed(e: impl core::fmt::Display) -> ServeError {
    ServeError::Malformed(e.to_string())
}

/// A non-negative decimal integer written as a JSON integer or a JSON string of digits.
fn big_decimal(raw: &RawValue, what: &str, max_digits: usize) -> Result<BigUint, ServeError> {
    let text = raw.get().trim();
    let digits = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ServeError::Malformed(format!(
            "{what} must be a non-negative decimal integer (a JSON integer or a string of digits)"
        )));
    }
    if digits.len() > max_digits {
        return Err(ServeError::Malformed(format!(
            "{what} has {} digits; at most {max_digits} are accepted",
            digits.len()
        )));
    }
    digits.parse().map_err(malformed)
}

fn parse_key(raw: &RawValue, min_bits: u32, max_bits: u32) -> Result<PublicKey, ServeError> {
    // Not a `Value`: serde_json would read a 617-digit integer as an (overflowing) f64.
    let fields: HashMap<String, Box<RawValue>> = serde_json::from_str(raw.get()).map_err(|_| {
        ServeError::Malformed("public_key must be an object {\"n\", \"g\"} or a JWK".into())
    })?;
    let pk = if fields.contains_key("kty") {
        let (pk, _) = crate::format::jwk::public_key_from_jwk(raw.get()).map_err(|e| match e {
            crate::Error::InvalidKey(m) => ServeError::InvalidKey(m),
            other => ServeError::Malformed(other.to_string()),
        })?;
        pk
    } else {
        let n_raw = fields
            .get("n")
            .ok_or_else(|| ServeError::Malformed("public_key: missing field \"n\"".into()))?;
        let n = big_decimal(n_raw, "public_key.n", MAX_N_DIGITS)?;
        let bits = u32::try_from(n.bits()).unwrap_or(u32::MAX);
        if bits < min_bits {
            return Err(ServeError::KeyTooSmall {
                bits,
                min: min_bits,
            });
        }
        if bits > max_bits {
            return Err(ServeError::KeyTooLarge {
                bits,
                max: max_bits,
            });
        }
        if bits > MAX_MODULUS_BITS {
            return Err(ServeError::InvalidKey(format!(
                "modulus has {bits} bits; at most {MAX_MODULUS_BITS} are supported"
            )));
        }
        if let Some(g) = fields.get("g") {
            let g = big_decimal(g, "public_key.g", MAX_N_DIGITS)?;
            if g != &n + 1u32 {
                return Err(ServeError::InvalidKey(
                    "g must be n + 1 (python-paillier's generator)".into(),
                ));
            }
        }
        PublicKey::from_modulus(&n).map_err(|e| ServeError::InvalidKey(e.to_string()))?
    };
    if pk.bits() < min_bits {
        return Err(ServeError::KeyTooSmall {
            bits: pk.bits(),
            min: min_bits,
        });
    }
    if pk.bits() > max_bits {
        return Err(ServeError::KeyTooLarge {
            bits: pk.bits(),
            max: max_bits,
        });
    }
    Ok(pk)
}

fn parse_row(
    pk: &PublicKey,
    row: &[Pair],
    index: usize,
    d: usize,
) -> Result<Vec<EncryptedNumber>, ServeError> {
    if row.len() != d {
        return Err(ServeError::FeatureCount {
            row: index,
            got: row.len(),
            want: d,
        });
    }
    let mut values = Vec::with_capacity(d);
    let mut exponents = Vec::with_capacity(d);
    for (feature, (c, e)) in row.iter().enumerate() {
        if e.unsigned_abs() > u64::from(MAX_ABS_EXPONENT.unsigned_abs()) {
            return Err(ServeError::Exponent(format!(
                "row {index}, feature {feature}: exponent {e} is outside +/-{MAX_ABS_EXPONENT}"
            )));
        }
        values.push(big_decimal(c, "a ciphertext", MAX_C_DIGITS)?);
        // Checked above: |e| <= 4096 fits an i32.
        exponents.push(i32::try_from(*e).unwrap_or(0));
    }
    let cs = pk
        .ciphertexts_from_biguints(&values)
        .map_err(|(feature, err)| ServeError::InvalidCiphertext {
            row: index,
            feature,
            reason: match err {
                crate::Error::InvalidCiphertext(r) => r.to_string(),
                other => other.to_string(),
            },
        })?;
    Ok(cs
        .into_iter()
        .zip(exponents)
        .map(|(ciphertext, exponent)| EncryptedNumber {
            ciphertext,
            exponent,
        })
        .collect())
}

/// Parses and validates a request body: JSON syntax and shape, key, batch size, feature
/// count, exponents and every ciphertext (in Z*_{n^2}).
///
/// # Errors
/// The [`ServeError`] naming the first problem found.
pub fn parse_request(body: &[u8], limits: &ParseLimits) -> Result<ScoreRequest, ServeError> {
    let req: RawRequest = serde_json::from_slice(body).map_err(malformed)?;
    let (rows, single) = match (req.values, req.rows) {
        (Some(v), None) => (vec![v], true),
        (None, Some(r)) => (r, false),
        _ => {
            return Err(ServeError::Malformed(
                "give exactly one of \"values\" (one record) or \"rows\" (a batch)".into(),
            ));
        }
    };
    if rows.len() > limits.max_batch {
        return Err(ServeError::BatchTooLarge {
            rows: rows.len(),
            limit: limits.max_batch,
        });
    }
    if rows.is_empty() {
        return Err(ServeError::Malformed("\"rows\" is empty".into()));
    }
    let pack = match (req.pack, req.mantissa_bits) {
        (false, None) => None,
        (false, Some(_)) => {
            return Err(ServeError::Packing(
                "mantissa_bits is only meaningful with \"pack\": true".into(),
            ));
        }
        (true, m) => {
            let m = m.unwrap_or(DEFAULT_MANTISSA_BITS);
            if m == 0 || m > MAX_MANTISSA_BITS {
                return Err(ServeError::Packing(format!(
                    "mantissa_bits must lie in 1..={MAX_MANTISSA_BITS}"
                )));
            }
            Some(m)
        }
    };
    if pack.is_some() && single {
        return Err(ServeError::Packing(
            "packing needs a batch (\"rows\"), not a single record".into(),
        ));
    }
    let public_key = parse_key(&req.public_key, limits.min_key_bits, limits.max_key_bits)?;
    let rows = rows
        .iter()
        .enumerate()
        .map(|(i, r)| parse_row(&public_key, r, i, limits.n_features))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ScoreRequest {
        public_key,
        rows,
        single,
        pack,
    })
}

fn pair(x: &EncryptedNumber) -> Value {
    json!([x.ciphertext.to_biguint().to_string(), x.exponent])
}

/// The JSON answer.
pub fn response(scored: &Scored, single: bool) -> Value {
    match scored {
        Scored::Rows(rows) if single => {
            json!({"values": rows.iter().map(pair).collect::<Vec<_>>()})
        }
        Scored::Rows(rows) => json!({
            "rows": rows.iter().map(|x| json!({"values": [pair(x)]})).collect::<Vec<_>>()
        }),
        Scored::Packed(Packed {
            slot_bits,
            slots,
            rows,
            exponent,
            ciphertexts,
        }) => json!({"packed": {
            "slot_bits": slot_bits,
            "slots": slots,
            "rows": rows,
            "exponent": exponent,
            "ciphertexts": ciphertexts.iter().map(|c| c.to_biguint().to_string()).collect::<Vec<_>>(),
        }}),
    }
}

/// An error message safe to log and to send: runs of more than 16 digits (a ciphertext or
/// a key that a parser error quoted) are elided and the whole is cut at 300 characters.
pub fn sanitized_message(e: &ServeError) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len().min(320));
    let mut digits = 0usize;
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits += 1;
            if digits <= 16 {
                out.push(ch);
            } else if digits == 17 {
                out.push_str("..");
            }
        } else {
            digits = 0;
            out.push(ch);
        }
        if out.len() >= 300 {
            out.push_str("..");
            break;
        }
    }
    out
}

/// The JSON body of an error answer.
pub fn error_body(e: &ServeError) -> Value {
    json!({"error": {"code": e.code(), "message": sanitized_message(e)}})
}
