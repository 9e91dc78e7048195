//! Keys in pheutil's JWK form.
//!
//! Public: `{"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"], "n": <base64url>, "kid": ..}`.
//! Private: `{"kty": "DAJ", "key_ops": ["decrypt"], "p": .., "q": .., "pub": <public JWK>, "kid": ..}`.
//! Integers are big-endian, base64url without padding (padding is accepted on input).

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use num_bigint::BigUint;
use serde_json::{Map, Value, json};

use zeroize::Zeroizing;

use super::{MAX_JSON_BYTES, b64ct};
use crate::error::{Error, Result};
use crate::paillier::{LoadOptions, PublicKey, SecretKey};

/// Base64url characters needed for an 8192-bit integer, with slack.
const MAX_B64_CHARS: usize = 1400;

fn b64(x: &BigUint) -> String {
    URL_SAFE_NO_PAD.encode(x.to_bytes_be())
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str, what: &str) -> Result<&'a Value> {
    obj.get(name)
        .ok_or_else(|| Error::malformed(format!("{what}: missing field \"{name}\"")))
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str, what: &str) -> Result<&'a str> {
    field(obj, name, what)?
        .as_str()
        .ok_or_else(|| Error::malformed(format!("{what}: field \"{name}\" must be a string")))
}

fn int_field(obj: &Map<String, Value>, name: &str, what: &str) -> Result<BigUint> {
    let s = str_field(obj, name, what)?;
    if s.len() > MAX_B64_CHARS {
        return Err(Error::malformed(format!(
            "{what}: field \"{name}\" is too long"
        )));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .map_err(|e| Error::malformed(format!("{what}: field \"{name}\" is not base64url: {e}")))?;
    Ok(BigUint::from_bytes_be(&bytes))
}

fn check_header(obj: &Map<String, Value>, op: &str, what: &str) -> Result<()> {
    let kty = str_field(obj, "kty", what)?;
    if kty != "DAJ" {
        return Err(Error::malformed(format!(
            "{what}: kty must be \"DAJ\", got \"{kty}\""
        )));
    }
    let ops = field(obj, "key_ops", what)?
        .as_array()
        .ok_or_else(|| Error::malformed(format!("{what}: key_ops must be an array")))?;
    if !ops.iter().any(|o| o.as_str() == Some(op)) {
        return Err(Error::malformed(format!(
            "{what}: key_ops must contain \"{op}\""
        )));
    }
    Ok(())
}

fn parse(text: &str) -> Result<Map<String, Value>> {
    if text.len() > MAX_JSON_BYTES {
        return Err(Error::malformed("key file is larger than 64 KiB"));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::malformed("key must be a JSON object")),
        Err(e) => Err(Error::malformed(format!("key is not valid JSON: {e}"))),
    }
}

fn kid(obj: &Map<String, Value>) -> Option<String> {
    obj.get("kid").and_then(Value::as_str).map(str::to_owned)
}

/// The public key as a JWK value.
pub fn public_key_to_jwk(pk: &PublicKey, kid: &str) -> Value {
    json!({"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"], "n": b64(pk.n()), "kid": kid})
}

/// The private key as a JWK value (with its public key under `pub`).
///
/// # Security
/// p and q are base64url-encoded in constant time; the JSON value then holds them as
/// ordinary strings, which the caller should write out and drop promptly (serde_json does
/// not wipe them).
pub fn secret_key_to_jwk(sk: &SecretKey, kid: &str) -> Value {
    let (p, q) = sk.primes_be_bytes();
    let half = sk.public_key().bits().div_ceil(2) as usize;
    let skip = |b: &[u8]| b.len().saturating_sub(half.div_ceil(8));
    let p64 = b64ct::encode(&p[skip(&p)..]);
    let q64 = b64ct::encode(&q[skip(&q)..]);
    json!({
        "kty": "DAJ",
        "key_ops": ["decrypt"],
        "p": p64.as_str(),
        "q": q64.as_str(),
        "pub": public_key_to_jwk(sk.public_key(), kid),
        "kid": kid,
    })
}

fn public_from_obj(obj: &Map<String, Value>) -> Result<(PublicKey, Option<String>)> {
    let what = "public key";
    check_header(obj, "encrypt", what)?;
    let alg = str_field(obj, "alg", what)?;
    if alg != "PAI-GN1" {
        return Err(Error::malformed(format!(
            "{what}: alg must be \"PAI-GN1\", got \"{alg}\""
        )));
    }
    let n = int_field(obj, "n", what)?;
    Ok((PublicKey::from_modulus(&n)?, kid(obj)))
}

/// Parses and validates a public-key JWK (a private-key JWK is accepted too: its `pub`).
///
/// # Errors
/// [`Error::Malformed`] for bad JSON or fields, [`Error::InvalidKey`] for a bad modulus.
pub fn public_key_from_jwk(text: &str) -> Result<(PublicKey, Option<String>)> {
    let obj = parse(text)?;
    if let Some(Value::Object(inner)) = obj.get("pub") {
        return public_from_obj(inner);
    }
    public_from_obj(&obj)
}

/// Parses and checks a private-key JWK in constant time (see
/// [`SecretKey::from_be_bytes`]): p q = n, the sizes, the CRT constants. Primality is not
/// re-proven; use [`secret_key_from_jwk_with`] with `verify` for that.
///
/// # Errors
/// [`Error::Malformed`] for bad JSON or fields, [`Error::InvalidKey`] for a bad key.
///
/// # Security
/// p and q are decoded from base64url in constant time and never enter num-bigint. The
/// JSON tokenizer (serde_json) still scans the characters of the p and q strings for
/// quotes and escapes, and keeps unwiped copies of them.
pub fn secret_key_from_jwk(text: &str) -> Result<(SecretKey, Option<String>)> {
    secret_key_from_jwk_with(text, LoadOptions::default())
}

/// As [`secret_key_from_jwk`], with load options (`verify` re-proves primality, in
/// variable time).
///
/// # Errors
/// As [`secret_key_from_jwk`].
pub fn secret_key_from_jwk_with(
    text: &str,
    opts: LoadOptions,
) -> Result<(SecretKey, Option<String>)> {
    let obj = parse(text)?;
    let what = "private key";
    check_header(&obj, "decrypt", what)?;
    let p = secret_str_field(&obj, "p", what)?;
    let q = secret_str_field(&obj, "q", what)?;
    let public = match field(&obj, "pub", what)? {
        Value::Object(m) => m,
        _ => return Err(Error::malformed("private key: \"pub\" must be an object")),
    };
    let (pk, pub_kid) = public_from_obj(public)?;
    let sk = secret_key_from_parts(p, q, &pk, opts)?;
    Ok((sk, kid(&obj).or(pub_kid)))
}

fn secret_str_field<'a>(obj: &'a Map<String, Value>, name: &str, what: &str) -> Result<&'a str> {
    let s = str_field(obj, name, what)?;
    if s.len() > MAX_B64_CHARS {
        return Err(Error::malformed(format!(
            "{what}: field \"{name}\" is too long"
        )));
    }
    Ok(s)
}

#[doc(hidden)]
/// The secret half of [`secret_key_from_jwk_with`]: base64url p and q, checked against
/// `pk`. Public so that the constant-time harness can run it with the strings marked.
///
/// # Errors
/// As [`secret_key_from_jwk`].
pub fn secret_key_from_parts(
    p: &str,
    q: &str,
    pk: &PublicKey,
    opts: LoadOptions,
) -> Result<SecretKey> {
    let field = |e: Error, name: &str| match e {
        Error::Malformed(m) => Error::malformed(format!("private key: field \"{name}\": {m}")),
        other => other,
    };
    let pb: Zeroizing<Vec<u8>> = b64ct::decode(p).map_err(|e| field(e, "p"))?;
    let qb: Zeroizing<Vec<u8>> = b64ct::decode(q).map_err(|e| field(e, "q"))?;
    SecretKey::from_be_bytes(&pb, &qb, Some(pk), opts)
}
