//! Keys in pheutil's JWK form.
//!
//! Public: `{"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"], "n": <base64url>, "kid": ..}`.
//! Private: `{"kty": "DAJ", "key_ops": ["decrypt"], "p": .., "q": .., "pub": <public JWK>, "kid": ..}`.
//! Integers are big-endian, base64url without padding (padding is accepted on input).

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use num_bigint::BigUint;
use serde_json::{Map, Value, json};

use super::MAX_JSON_BYTES;
use crate::error::{Error, Result};
use crate::paillier::{PublicKey, SecretKey};

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
pub fn secret_key_to_jwk(sk: &SecretKey, kid: &str) -> Value {
    let (p, q) = sk.primes_vartime();
    json!({
        "kty": "DAJ",
        "key_ops": ["decrypt"],
        "p": b64(&p),
        "q": b64(&q),
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

/// Parses and validates a private-key JWK: p and q prime, pq = n, the size rules of
/// [`SecretKey::from_primes`].
///
/// # Errors
/// [`Error::Malformed`] for bad JSON or fields, [`Error::InvalidKey`] for a bad key.
pub fn secret_key_from_jwk(text: &str) -> Result<(SecretKey, Option<String>)> {
    let obj = parse(text)?;
    let what = "private key";
    check_header(&obj, "decrypt", what)?;
    let p = int_field(&obj, "p", what)?;
    let q = int_field(&obj, "q", what)?;
    let public = match field(&obj, "pub", what)? {
        Value::Object(m) => m,
        _ => return Err(Error::malformed("private key: \"pub\" must be an object")),
    };
    let (pk, pub_kid) = public_from_obj(public)?;
    if &(&p * &q) != pk.n() {
        return Err(Error::InvalidKey(
            "p * q does not equal the public modulus n".into(),
        ));
    }
    let sk = SecretKey::from_primes(&p, &q)?;
    Ok((sk, kid(&obj).or(pub_kid)))
}
