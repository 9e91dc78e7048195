//! Known answers from python-paillier 1.5.0 (vectors/phe_interop_{1024,2048}.json):
//! keys load, every encoding is reproduced, every ciphertext decrypts to phe's value, and the
//! linear model computed on phe's ciphertexts decrypts to exactly phe's encoding and score.
//! (phe obfuscates a computed ciphertext with fresh r^n when it serializes it, so computed
//! ciphertexts are compared through their decryptions: mantissa and exponent.)

mod common;

use num_bigint::BigInt;
use serde_json::Value;
use shroud::encoding::{Decoded, EncodedNumber};
use shroud::format::{jwk, phe_json};
use shroud::paillier::{EncryptedNumber, PublicKey, SecretKey};

fn load(name: &str) -> (Value, SecretKey, PublicKey) {
    let v = common::vector(name);
    assert!(v["source"].as_str().unwrap().contains("python-paillier"));
    let (sk, kid) = jwk::secret_key_from_jwk(&v["private_key"].to_string()).unwrap();
    assert!(kid.unwrap().starts_with("phe test key"));
    let (pk, _) = jwk::public_key_from_jwk(&v["public_key"].to_string()).unwrap();
    assert_eq!(&pk, sk.public_key());
    assert_eq!(u64::from(pk.bits()), v["bits"].as_u64().unwrap());
    assert_eq!(
        pk.max_int(),
        &common::big(v["encoding"]["max_int"].as_str().unwrap())
    );
    (v, sk, pk)
}

fn encode(pk: &PublicKey, value: &str, is_int: bool) -> EncodedNumber {
    if is_int {
        EncodedNumber::encode_int(pk, &value.parse::<BigInt>().unwrap(), None).unwrap()
    } else {
        EncodedNumber::encode_f64(pk, value.parse::<f64>().unwrap(), None, None).unwrap()
    }
}

fn same_value(decoded: &Decoded, want: &str) {
    match decoded {
        Decoded::Int(i) => assert_eq!(i.to_string(), want),
        Decoded::Float(f) => assert_eq!(*f, want.parse::<f64>().unwrap(), "want {want}"),
    }
}

fn check_numbers(name: &str) {
    let (v, sk, pk) = load(name);
    let numbers = v["numbers"].as_array().unwrap();
    assert!(numbers.len() >= 20);
    for x in numbers {
        let value = x["value"].as_str().unwrap();
        let enc = encode(&pk, value, x["is_int"].as_bool().unwrap());
        assert_eq!(
            enc.encoding(),
            &common::big(x["encoding"].as_str().unwrap()),
            "encoding of {value}"
        );
        assert_eq!(
            i64::from(enc.exponent()),
            x["exponent"].as_i64().unwrap(),
            "exponent of {value}"
        );
        let ct = phe_json::from_json(&pk, &x["ciphertext"]).unwrap();
        let dec = sk.decrypt_encoded(&ct).unwrap();
        assert_eq!(dec.encoding(), enc.encoding(), "decryption of {value}");
        same_value(&dec.decode().unwrap(), x["decrypted"].as_str().unwrap());
    }
}

fn check_linear_model(name: &str) {
    let (v, sk, pk) = load(name);
    let lm = &v["linear_model"];
    let floats = |k: &str| -> Vec<f64> {
        lm[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap())
            .collect()
    };
    let features = floats("features");
    let weights = floats("weights");
    let bias: f64 = lm["bias"].as_str().unwrap().parse().unwrap();
    let enc: Vec<EncryptedNumber> = lm["encrypted_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| phe_json::from_json(&pk, c).unwrap())
        .collect();
    for (c, f) in enc.iter().zip(&features) {
        assert_eq!(
            sk.decrypt_encoded(c).unwrap().decode().unwrap(),
            Decoded::Float(*f)
        );
    }
    // sum of the encrypted features, as Python's sum() does it (left to right)
    let mut sum = enc[0].clone();
    for c in &enc[1..] {
        sum = sum.add(&pk, c).unwrap();
    }
    let want_sum = phe_json::from_json(&pk, &lm["encrypted_sum"]).unwrap();
    assert_eq!(sum.exponent, want_sum.exponent);
    assert_eq!(
        sk.decrypt_encoded(&sum).unwrap(),
        sk.decrypt_encoded(&want_sum).unwrap(),
        "sum differs from phe's"
    );
    same_value(
        &sk.decrypt_encoded(&sum).unwrap().decode().unwrap(),
        lm["sum_decrypted"].as_str().unwrap(),
    );

    // score = sum_i x_i * w_i + b, each weight encoded as phe encodes a float
    let mut score: Option<EncryptedNumber> = None;
    for (c, w) in enc.iter().zip(&weights) {
        let term = c
            .mul_encoded(
                &pk,
                &EncodedNumber::encode_f64(&pk, *w, None, None).unwrap(),
            )
            .unwrap();
        score = Some(match score {
            None => term,
            Some(s) => s.add(&pk, &term).unwrap(),
        });
    }
    let score = score.unwrap().add_f64(&pk, bias).unwrap();
    let want = phe_json::from_json(&pk, &lm["encrypted_score"]).unwrap();
    assert_eq!(score.exponent, want.exponent);
    assert_eq!(
        sk.decrypt_encoded(&score).unwrap(),
        sk.decrypt_encoded(&want).unwrap(),
        "score differs from phe's"
    );
    let got = sk.decrypt_encoded(&score).unwrap().decode().unwrap();
    same_value(&got, lm["score_decrypted"].as_str().unwrap());
    // and phe's own ciphertext decrypts to phe's score
    same_value(
        &sk.decrypt_encoded(&want).unwrap().decode().unwrap(),
        lm["score_decrypted"].as_str().unwrap(),
    );
}

#[test]
fn phe_1024_numbers() {
    check_numbers("phe_interop_1024.json");
}

#[test]
fn phe_2048_numbers() {
    check_numbers("phe_interop_2048.json");
}

#[test]
fn phe_1024_linear_model() {
    check_linear_model("phe_interop_1024.json");
}

#[test]
fn phe_2048_linear_model() {
    check_linear_model("phe_interop_2048.json");
}

#[test]
fn keys_round_trip_through_jwk() {
    let (v, sk, _) = load("phe_interop_2048.json");
    let out = jwk::secret_key_to_jwk(&sk, "phe test key 2048");
    assert_eq!(
        out, v["private_key"],
        "our JWK must equal pheutil's byte for byte"
    );
    let out = jwk::public_key_to_jwk(sk.public_key(), "phe test key 2048");
    assert_eq!(out, v["public_key"]);
}
