//! Shared fixtures: seeded test keys (reproducible, generated once per test binary) and the
//! python-paillier vectors.
#![allow(dead_code)]

use std::sync::OnceLock;

use num_bigint::BigUint;
use shroud::paillier::{KeygenOptions, SecretKey, generate_keypair};

/// A seeded key of `bits` bits (1024 only for speed in tests that need many keys).
pub fn key(bits: u32) -> &'static SecretKey {
    static K1024: OnceLock<SecretKey> = OnceLock::new();
    static K2048: OnceLock<SecretKey> = OnceLock::new();
    static K3072: OnceLock<SecretKey> = OnceLock::new();
    static K4096: OnceLock<SecretKey> = OnceLock::new();
    let cell = match bits {
        1024 => &K1024,
        2048 => &K2048,
        3072 => &K3072,
        4096 => &K4096,
        _ => panic!("no test key of {bits} bits"),
    };
    cell.get_or_init(|| {
        let opts = KeygenOptions {
            bits,
            insecure_allow_1024: true,
            ..Default::default()
        };
        generate_keypair(opts, &mut shroud::rng::seeded(u64::from(bits)), &|_| {}).unwrap()
    })
}

/// A second, different 2048-bit key (for key-mismatch tests).
pub fn other_key() -> &'static SecretKey {
    static K: OnceLock<SecretKey> = OnceLock::new();
    K.get_or_init(|| {
        let opts = KeygenOptions {
            bits: 2048,
            ..Default::default()
        };
        generate_keypair(opts, &mut shroud::rng::seeded(99), &|_| {}).unwrap()
    })
}

pub fn vector(name: &str) -> serde_json::Value {
    let path = format!("{}/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

pub fn big(s: &str) -> BigUint {
    s.parse().unwrap()
}

/// Textbook Paillier decryption with num-bigint: the independent oracle.
pub fn textbook_decrypt(p: &BigUint, q: &BigUint, c: &BigUint) -> BigUint {
    use num_integer::Integer;
    let n = p * q;
    let n2 = &n * &n;
    let lambda = (p - 1u32).lcm(&(q - 1u32));
    let u = c.modpow(&lambda, &n2);
    let l = (u - 1u32) / &n;
    let mu = lambda.modinv(&n).unwrap();
    (l * mu) % &n
}
