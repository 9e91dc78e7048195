//! Encrypted numbers as python-paillier writes them: `{"v": "<decimal ciphertext>", "e": <exponent>}`.

use num_bigint::BigUint;
use serde_json::{Value, json};

use super::MAX_JSON_BYTES;
use crate::encoding::MAX_ABS_EXPONENT;
use crate::error::{Error, Result};
use crate::paillier::{EncryptedNumber, PublicKey};

/// As a JSON value.
pub fn to_json(x: &EncryptedNumber) -> Value {
    json!({"v": x.ciphertext.to_biguint().to_string(), "e": x.exponent})
}

/// Parses and validates `{"v": .., "e": ..}` under `pk` (0 < v < n^2, gcd(v, n) = 1).
///
/// # Errors
/// [`Error::Malformed`] for bad JSON or fields, [`Error::InvalidCiphertext`] for a value
/// outside Z*_{n^2}.
pub fn from_json_str(pk: &PublicKey, text: &str) -> Result<EncryptedNumber> {
    if text.len() > MAX_JSON_BYTES {
        return Err(Error::malformed("ciphertext file is larger than 64 KiB"));
    }
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Error::malformed(format!("ciphertext is not valid JSON: {e}")))?;
    from_json(pk, &v)
}

/// As [`from_json_str`], from a parsed value.
///
/// # Errors
/// As [`from_json_str`].
pub fn from_json(pk: &PublicKey, v: &Value) -> Result<EncryptedNumber> {
    let obj = v
        .as_object()
        .ok_or_else(|| Error::malformed("ciphertext must be a JSON object {\"v\", \"e\"}"))?;
    let digits = match obj.get("v") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(Error::malformed(
                "ciphertext: \"v\" must be a decimal string",
            ));
        }
        None => return Err(Error::malformed("ciphertext: missing field \"v\"")),
    };
    // n^2 of an 8192-bit key has at most 4933 decimal digits.
    if digits.is_empty() || digits.len() > 5000 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::malformed(
            "ciphertext: \"v\" must be a decimal string of at most 5000 digits",
        ));
    }
    let e = match obj.get("e") {
        // Checked all the way: i64::MIN has no absolute value, and the exponent must fit
        // an i32 (python-paillier writes any Python int).
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|e| e.unsigned_abs() <= u64::from(MAX_ABS_EXPONENT.unsigned_abs()))
            .and_then(|e| i32::try_from(e).ok())
            .ok_or_else(|| {
                Error::malformed(format!(
                    "ciphertext: \"e\" must be an integer within +/-{MAX_ABS_EXPONENT}"
                ))
            })?,
        Some(_) => return Err(Error::malformed("ciphertext: \"e\" must be an integer")),
        None => return Err(Error::malformed("ciphertext: missing field \"e\"")),
    };
    let c: BigUint = digits
        .parse()
        .map_err(|_| Error::malformed("ciphertext: \"v\" is not a decimal integer"))?;
    Ok(EncryptedNumber {
        ciphertext: pk.ciphertext_from_biguint(&c)?,
        exponent: e,
    })
}
