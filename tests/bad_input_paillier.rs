//! Hostile and malformed input: every case is an error with the right variant, never a panic
//! and never a silently wrong result.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use num_bigint::{BigInt, BigUint};
use serde_json::json;
use shroud::Error;
use shroud::encoding::EncodedNumber;
use shroud::format::{binary, jwk, phe_json};
use shroud::paillier::{EncryptedNumber, Nonce, Plaintext, PublicKey, SecretKey};

fn b64(x: &BigUint) -> String {
    URL_SAFE_NO_PAD.encode(x.to_bytes_be())
}

fn invalid_ct(r: Result<impl std::fmt::Debug, Error>) {
    match r {
        Err(Error::InvalidCiphertext(_)) => {}
        other => panic!("expected InvalidCiphertext, got {other:?}"),
    }
}

fn malformed<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(Error::Malformed(_)) => {}
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn invalid_key<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::InvalidKey(m)) => m,
        other => panic!("expected InvalidKey, got {other:?}"),
    }
}

#[test]
fn ciphertexts_outside_z_star_n2_are_rejected() {
    let sk = common::key(2048);
    let pk = sk.public_key();
    let (p, _) = sk.primes_vartime();
    let n2 = pk.n_squared().clone();
    invalid_ct(pk.ciphertext_from_biguint(&BigUint::from(0u32)));
    invalid_ct(pk.ciphertext_from_biguint(&n2));
    invalid_ct(pk.ciphertext_from_biguint(&(&n2 + 1u32)));
    invalid_ct(pk.ciphertext_from_biguint(&p));
    invalid_ct(pk.ciphertext_from_biguint(&(p * 7u32)));
    invalid_ct(pk.ciphertext_from_biguint(pk.n()));
    // the same through JSON
    for v in [BigUint::from(0u32), n2.clone(), &n2 * 2u32] {
        let text = json!({"v": v.to_string(), "e": 0}).to_string();
        let r = phe_json::from_json_str(pk, &text);
        assert!(matches!(r, Err(Error::InvalidCiphertext(_))), "{r:?}");
    }
    // and through binary
    let good = pk
        .encrypt(&Plaintext::from_u64(pk, 1), &mut shroud::rng::seeded(1))
        .unwrap();
    let mut bytes = binary::encode_ciphertexts(
        pk,
        &[EncryptedNumber {
            ciphertext: good,
            exponent: 0,
        }],
    )
    .unwrap();
    let width = pk.ciphertext_bytes();
    let start = bytes.len() - width;
    bytes[start..].fill(0);
    invalid_ct(binary::decode_ciphertexts(pk, &bytes));
    bytes[start..].fill(0xff);
    invalid_ct(binary::decode_ciphertexts(pk, &bytes));
}

#[test]
fn ciphertexts_under_another_key_are_a_key_mismatch() {
    let sk = common::key(2048);
    let other = common::other_key();
    let (pk, opk) = (sk.public_key(), other.public_key());
    let mut rng = shroud::rng::seeded(2);
    let a = pk.encrypt(&Plaintext::from_u64(pk, 1), &mut rng).unwrap();
    let b = opk.encrypt(&Plaintext::from_u64(opk, 2), &mut rng).unwrap();
    assert_eq!(pk.add(&a, &b).unwrap_err(), Error::KeyMismatch);
    assert_eq!(pk.sub(&a, &b).unwrap_err(), Error::KeyMismatch);
    assert_eq!(pk.neg(&b).unwrap_err(), Error::KeyMismatch);
    assert_eq!(pk.mul_i64(&b, 3).unwrap_err(), Error::KeyMismatch);
    assert_eq!(
        pk.add_plaintext(&b, &Plaintext::from_u64(pk, 3))
            .unwrap_err(),
        Error::KeyMismatch
    );
    assert_eq!(
        pk.dot_i64(&[a.clone(), b.clone()], &[1, 2]).unwrap_err(),
        Error::KeyMismatch
    );
    assert_eq!(
        pk.rerandomize(&b, &mut rng).unwrap_err(),
        Error::KeyMismatch
    );
    assert_eq!(sk.decrypt(&b).unwrap_err(), Error::KeyMismatch);
    assert_eq!(other.decrypt(&a).unwrap_err(), Error::KeyMismatch);
    let enc = EncodedNumber::encode_f64(opk, 1.5, None, None).unwrap();
    assert_eq!(
        pk.encrypt_encoded(&enc, &mut rng).unwrap_err(),
        Error::KeyMismatch
    );
    let bytes = binary::encode_ciphertexts(
        opk,
        &[EncryptedNumber {
            ciphertext: b,
            exponent: 0,
        }],
    )
    .unwrap();
    assert_eq!(
        binary::decode_ciphertexts(pk, &bytes).unwrap_err(),
        Error::KeyMismatch
    );
    assert_eq!(
        binary::encode_ciphertexts(
            pk,
            &[EncryptedNumber {
                ciphertext: a.clone(),
                exponent: 0
            }]
        )
        .map(|_| ()),
        Ok(())
    );
    assert!(matches!(
        pk.dot_i64(&[a], &[1, 2]),
        Err(Error::LengthMismatch(_))
    ));
}

#[test]
fn out_of_range_plaintexts_and_encodings_are_errors() {
    let pk = common::key(2048).public_key();
    assert!(matches!(
        Plaintext::from_biguint(pk, pk.n()),
        Err(Error::PlaintextOutOfRange(_))
    ));
    let too_big = BigInt::from(pk.max_int().clone()) + 1;
    assert!(matches!(
        Plaintext::from_bigint(pk, &too_big),
        Err(Error::PlaintextOutOfRange(_))
    ));
    assert!(matches!(
        EncodedNumber::encode_int(pk, &too_big, None),
        Err(Error::EncodingOverflow(_))
    ));
    assert!(matches!(
        EncodedNumber::encode_int(pk, &-too_big, None),
        Err(Error::EncodingOverflow(_))
    ));
    assert!(EncodedNumber::encode_int(pk, &BigInt::from(pk.max_int().clone()), None).is_ok());
    assert!(matches!(
        EncodedNumber::encode_f64(pk, f64::NAN, None, None),
        Err(Error::NonFinite)
    ));
    assert!(matches!(
        EncodedNumber::encode_f64(pk, f64::NEG_INFINITY, None, None),
        Err(Error::NonFinite)
    ));
    assert!(matches!(
        EncodedNumber::encode_f64(pk, 1.0, Some(-1.0), None),
        Err(Error::InvalidExponent(_))
    ));
    // a value in the overflow band does not decode
    let middle = pk.n() / 2u32;
    let enc = EncodedNumber::from_parts(pk, middle, 0).unwrap();
    assert!(matches!(enc.decode(), Err(Error::EncodingOverflow(_))));
    assert!(matches!(
        EncodedNumber::from_parts(pk, pk.n().clone(), 0),
        Err(Error::PlaintextOutOfRange(_))
    ));
    assert!(matches!(
        enc.decrease_exponent_to(1),
        Err(Error::InvalidExponent(_))
    ));
    assert!(matches!(
        Nonce::from_biguint(pk, &BigUint::from(0u32)),
        Err(Error::PlaintextOutOfRange(_))
    ));
    assert!(matches!(
        Nonce::from_biguint(pk, pk.n()),
        Err(Error::PlaintextOutOfRange(_))
    ));
    // the overflow boundaries of the signed plaintext space
    let max = pk.max_int().clone();
    assert!(
        Plaintext::from_biguint(pk, &max)
            .unwrap()
            .to_bigint_vartime(pk)
            .is_ok()
    );
    let over = Plaintext::from_biguint(pk, &(&max + 1u32)).unwrap();
    assert!(matches!(
        over.to_bigint_vartime(pk),
        Err(Error::EncodingOverflow(_))
    ));
    let neg_edge = Plaintext::from_biguint(pk, &(pk.n() - &max)).unwrap();
    assert_eq!(
        neg_edge.to_bigint_vartime(pk).unwrap(),
        -BigInt::from(max.clone())
    );
    let below = Plaintext::from_biguint(pk, &(pk.n() - &max - 1u32)).unwrap();
    assert!(matches!(
        below.to_bigint_vartime(pk),
        Err(Error::EncodingOverflow(_))
    ));
}

#[test]
fn bad_private_keys_are_rejected() {
    let sk = common::key(2048);
    let (p, q) = sk.primes_vartime();
    assert!(invalid_key(SecretKey::from_primes(&p, &p)).contains("p = q"));
    // composite "prime" of the right size
    let composite = &p + 2u32 * 3u32 * 5u32;
    let m = invalid_key(SecretKey::from_primes(&composite, &q));
    assert!(m.contains("not prime") || m.contains("gcd"), "{m}");
    // unequal sizes
    let small = common::key(1024).primes_vartime().0;
    assert!(invalid_key(SecretKey::from_primes(&small, &q)).contains("unequal"));
    // small n (two 256-bit primes)
    let p256 = BigUint::parse_bytes(
        b"ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        16,
    )
    .unwrap();
    let q256 =
        BigUint::parse_bytes(b"fffffffffffffffffffffffffffffffeffffffffffffffff", 16).unwrap();
    let _ = invalid_key(SecretKey::from_primes(&p256, &q256));
    // p and q too close (Fermat)
    let mut near = &p + 2u32;
    while !num_prime_check(&near) {
        near += 2u32;
    }
    assert!(invalid_key(SecretKey::from_primes(&p, &near)).contains("Fermat"));
    // n != pq in a JWK
    let mut jk = jwk::secret_key_to_jwk(sk, "k");
    jk["q"] = json!(b64(&common::other_key().primes_vartime().1));
    assert!(invalid_key(jwk::secret_key_from_jwk(&jk.to_string())).contains("does not equal"));
}

fn num_prime_check(x: &BigUint) -> bool {
    // Fermat base 2 and 3 are enough to find a candidate near p for this test.
    let two = BigUint::from(2u32);
    let three = BigUint::from(3u32);
    let e = x - 1u32;
    two.modpow(&e, x) == BigUint::from(1u32) && three.modpow(&e, x) == BigUint::from(1u32)
}

#[test]
fn bad_public_keys_are_rejected() {
    invalid_key(PublicKey::from_modulus(&BigUint::from(15u32)));
    let (p, q) = common::key(2048).primes_vartime();
    invalid_key(PublicKey::from_modulus(&(&p * &q * 2u32)));
    invalid_key(PublicKey::from_modulus(&(&p * &p)));
    invalid_key(PublicKey::from_modulus(&(&p * 3u32 * 5u32)));
    invalid_key(PublicKey::from_modulus(
        &(BigUint::from(1u32) << 9000u32 | BigUint::from(1u32)),
    ));
}

#[test]
fn malformed_json_is_rejected() {
    let sk = common::key(2048);
    let pk = sk.public_key();
    let good_pub = jwk::public_key_to_jwk(pk, "k");
    let good_priv = jwk::secret_key_to_jwk(sk, "k");
    for text in [
        "",
        "{",
        "[]",
        "null",
        "42",
        "\"DAJ\"",
        "{\"kty\": \"RSA\"}",
        &"x".repeat(70_000),
    ] {
        malformed(jwk::public_key_from_jwk(text));
        malformed(jwk::secret_key_from_jwk(text));
        malformed(phe_json::from_json_str(pk, text));
    }
    let truncated = &good_pub.to_string()[..40];
    malformed(jwk::public_key_from_jwk(truncated));
    for (field, value) in [
        ("kty", json!("EC")),
        ("alg", json!("RS256")),
        ("key_ops", json!(["sign"])),
        ("key_ops", json!("encrypt")),
        ("n", json!(12345)),
        ("n", json!("not base64!")),
        ("n", json!("A".repeat(5000))),
    ] {
        let mut v = good_pub.clone();
        v[field] = value;
        malformed(jwk::public_key_from_jwk(&v.to_string()));
    }
    for field in ["p", "q", "pub", "kty", "key_ops"] {
        let mut v = good_priv.clone();
        v.as_object_mut().unwrap().remove(field);
        malformed(jwk::secret_key_from_jwk(&v.to_string()));
    }
    for text in [
        r#"{"v": 12345, "e": 0}"#,
        r#"{"v": "12a45", "e": 0}"#,
        r#"{"v": "-5", "e": 0}"#,
        r#"{"v": "", "e": 0}"#,
        r#"{"v": "5"}"#,
        r#"{"e": 0}"#,
        r#"{"v": "5", "e": 1.5}"#,
        r#"{"v": "5", "e": "0"}"#,
        r#"{"v": "5", "e": 99999999999}"#,
    ] {
        malformed(phe_json::from_json_str(pk, text));
    }
    let huge = format!(r#"{{"v": "{}", "e": 0}}"#, "9".repeat(6000));
    malformed(phe_json::from_json_str(pk, &huge));
}

#[test]
fn malformed_binary_is_rejected() {
    let sk = common::key(2048);
    let pk = sk.public_key();
    let mut rng = shroud::rng::seeded(3);
    let cts: Vec<EncryptedNumber> = (0..3)
        .map(|i| EncryptedNumber {
            ciphertext: pk.encrypt(&Plaintext::from_u64(pk, i), &mut rng).unwrap(),
            exponent: -2,
        })
        .collect();
    let good = binary::encode_ciphertexts(pk, &cts).unwrap();
    assert_eq!(binary::decode_ciphertexts(pk, &good).unwrap(), cts);
    let pkb = binary::encode_public_key(pk);
    assert_eq!(&binary::decode_public_key(&pkb).unwrap(), pk);
    let skb = binary::encode_secret_key(sk);
    assert_eq!(binary::decode_secret_key(&skb).unwrap().public_key(), pk);
    // every truncation and one extra byte
    for cut in 0..good.len() {
        assert!(
            binary::decode_ciphertexts(pk, &good[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
    for cut in 0..pkb.len() {
        assert!(binary::decode_public_key(&pkb[..cut]).is_err());
    }
    for cut in 0..skb.len() {
        assert!(binary::decode_secret_key(&skb[..cut]).is_err());
    }
    let mut extra = good.clone();
    extra.push(0);
    malformed(binary::decode_ciphertexts(pk, &extra));
    // wrong magic, version, kind; a lying count; an oversized length
    for (i, b) in [(0usize, b'X'), (4, 2), (5, 1)] {
        let mut bad = good.clone();
        bad[i] = b;
        malformed(binary::decode_ciphertexts(pk, &bad));
    }
    let mut lying = good.clone();
    lying[38..42].copy_from_slice(&u32::MAX.to_be_bytes());
    malformed(binary::decode_ciphertexts(pk, &lying));
    let mut bad_exp = good.clone();
    bad_exp[44..48].copy_from_slice(&i32::MAX.to_be_bytes());
    malformed(binary::decode_ciphertexts(pk, &bad_exp));
    let mut long = pkb.clone();
    long[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
    malformed(binary::decode_public_key(&long));
    malformed(binary::decode_public_key(b"garbage garbage garbage"));
    malformed(binary::decode_secret_key(&[]));
}

#[test]
fn phe_json_exponent_of_i64_min_is_a_clean_error() {
    // i64::MIN has no absolute value: it panicked in debug builds and read as exponent 0
    // in release builds. Values beyond i32 must not wrap either.
    let pk = common::key(2048).public_key();
    let c = pk
        .encrypt(&Plaintext::from_u64(pk, 5), &mut shroud::rng::seeded(4))
        .unwrap()
        .to_biguint()
        .to_string();
    for e in [
        "-9223372036854775808",
        "9223372036854775807",
        "-2147483648",
        "4294967296",
        "4097",
        "-4097",
    ] {
        let text = format!("{{\"v\": \"{c}\", \"e\": {e}}}");
        malformed(phe_json::from_json_str(pk, &text));
    }
    for (e, want) in [("-4096", -4096), ("4096", 4096), ("0", 0)] {
        let text = format!("{{\"v\": \"{c}\", \"e\": {e}}}");
        assert_eq!(phe_json::from_json_str(pk, &text).unwrap().exponent, want);
    }
}

#[test]
fn nonce_must_be_a_unit_mod_n() {
    let sk = common::key(2048);
    let pk = sk.public_key();
    let (p, q) = sk.primes_vartime();
    for r in [p.clone(), q.clone(), &p * 3u32, &q * 5u32] {
        assert!(
            matches!(
                Nonce::from_biguint(pk, &r),
                Err(Error::PlaintextOutOfRange(m)) if m.contains("unit")
            ),
            "a nonce sharing a factor with n was accepted"
        );
    }
    assert!(Nonce::from_biguint(pk, &(&p + 2u32)).is_ok());
}

#[test]
fn plaintexts_and_nonces_under_another_key_are_a_key_mismatch() {
    use shroud::encoding::FixedScale;
    use shroud::paillier::{DjnEncryptor, RandomnessPool};
    let sk = common::key(2048);
    let pk = sk.public_key();
    let mut rng = shroud::rng::seeded(8);
    let c = pk.encrypt(&Plaintext::from_u64(pk, 3), &mut rng).unwrap();
    // Another key of the same size, and one of another size (whose plaintexts have
    // another precision: this was a debug assertion in crypto-bigint, and silently wrong
    // in release builds).
    for other in [common::other_key(), common::key(1024), common::key(3072)] {
        let opk = other.public_key();
        let foreign = || Plaintext::from_u64(opk, 7);
        let km = |r: Result<_, Error>, what: &str| {
            assert!(
                matches!(r, Err(Error::KeyMismatch)),
                "{what}: a foreign plaintext was not a KeyMismatch"
            );
        };
        km(pk.encrypt(&foreign(), &mut rng).map(|_| ()), "encrypt");
        km(
            sk.encrypt(&foreign(), &mut rng).map(|_| ()),
            "owner encrypt",
        );
        km(
            sk.encrypt_with_nonce(&foreign(), &Nonce::random(pk, &mut rng))
                .map(|_| ()),
            "owner encrypt, foreign m",
        );
        km(
            sk.encrypt_with_nonce(&Plaintext::from_u64(pk, 1), &Nonce::random(opk, &mut rng))
                .map(|_| ()),
            "owner encrypt, foreign nonce",
        );
        km(
            pk.add_plaintext(&c, &foreign()).map(|_| ()),
            "add_plaintext",
        );
        km(
            pk.mul_plaintext(&c, &foreign()).map(|_| ()),
            "mul_plaintext",
        );
        km(
            pk.dot_plaintexts(std::slice::from_ref(&c), &[foreign()], None)
                .map(|_| ()),
            "dot_plaintexts",
        );
        km(
            pk.encrypt_batch(&[Plaintext::from_u64(pk, 1), foreign()], &mut rng)
                .map(|_| ()),
            "encrypt_batch",
        );
        km(
            sk.encrypt_batch(&[Plaintext::from_u64(pk, 1), foreign()], &mut rng)
                .map(|_| ()),
            "owner encrypt_batch",
        );
        km(
            pk.encrypt_with_nonce(&foreign(), &Nonce::random(pk, &mut rng))
                .map(|_| ()),
            "encrypt_with_nonce, foreign m",
        );
        km(
            pk.encrypt_with_nonce(&Plaintext::from_u64(pk, 1), &Nonce::random(opk, &mut rng))
                .map(|_| ()),
            "encrypt_with_nonce, foreign nonce",
        );
        let mut pool = RandomnessPool::new(pk);
        pool.fill(1, &mut rng);
        km(pool.encrypt(&foreign()).map(|_| ()), "pooled encrypt");
        assert_eq!(
            pool.len(),
            1,
            "a refused encryption must not use up a value"
        );
        let djn = DjnEncryptor::new(pk, &mut rng);
        km(djn.encrypt(&foreign(), &mut rng).map(|_| ()), "DJN encrypt");
        km(foreign().to_i64_vartime(pk).map(|_| ()), "to_i64_vartime");
        km(
            FixedScale::new(8)
                .unwrap()
                .decode_plaintext(pk, &foreign(), 1)
                .map(|_| ()),
            "fixed-point decode",
        );
        assert!(pk.check_plaintext(&foreign()).is_err());
    }
}

#[test]
fn decrease_exponent_refuses_a_factor_above_max_int() {
    // python-paillier encodes 16^diff as a plaintext and refuses it above max_int;
    // reducing it mod n gave a silently wrong result.
    let sk = common::key(2048);
    let pk = sk.public_key();
    let mut rng = shroud::rng::seeded(9);
    let x = EncodedNumber::encode_int(pk, &BigInt::from(1), None).unwrap();
    let c = pk.encrypt_encoded(&x, &mut rng).unwrap();
    // max_int has 2047 bits: 16^511 = 2^2044 fits, 16^512 = 2^2048 does not.
    let ok = c.decrease_exponent_to(pk, -511).unwrap();
    let dec = sk.decrypt_encoded(&ok).unwrap();
    assert_eq!(dec.mantissa().unwrap(), BigInt::from(1) << 2044u32);
    for new_exp in [-512, -600, -4096] {
        assert!(
            matches!(
                c.decrease_exponent_to(pk, new_exp),
                Err(Error::InvalidExponent(_))
            ),
            "16^{} accepted",
            -new_exp
        );
        assert!(matches!(
            x.decrease_exponent_to(new_exp),
            Err(Error::InvalidExponent(_))
        ));
    }
    assert!(x.decrease_exponent_to(-511).is_ok());
    // The same through addition, which aligns exponents.
    let cf = EncryptedNumber {
        ciphertext: c.ciphertext.clone(),
        exponent: -600,
    };
    assert!(matches!(c.add(pk, &cf), Err(Error::InvalidExponent(_))));
}

/// A private JWK for arbitrary (p, q), with n = p q as its public key.
fn jwk_for(p: &BigUint, q: &BigUint) -> String {
    let n = p * q;
    json!({
        "kty": "DAJ",
        "key_ops": ["decrypt"],
        "p": b64(p),
        "q": b64(q),
        "pub": {"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"], "n": b64(&n), "kid": "t"},
        "kid": "t",
    })
    .to_string()
}

#[test]
fn key_load_checks_structure_in_constant_time_and_primality_only_on_request() {
    use num_integer::Integer;
    use shroud::paillier::LoadOptions;
    let sk = common::key(2048);
    let (p, q) = sk.primes_vartime();
    let verify = LoadOptions { verify: true };
    // A real key loads both ways, to the same key, from JWK and binary.
    let text = jwk::secret_key_to_jwk(sk, "k").to_string();
    for opts in [LoadOptions::default(), verify] {
        let (back, _) = jwk::secret_key_from_jwk_with(&text, opts).unwrap();
        assert_eq!(back.primes_vartime(), (p.clone(), q.clone()));
        let bin = binary::encode_secret_key(sk);
        let back = binary::decode_secret_key_with(&bin, opts).unwrap();
        assert_eq!(back.primes_vartime(), (p.clone(), q.clone()));
    }
    // A composite q that passes every structural check (odd, right size, no small factor,
    // far from p, all CRT constants exist): the 1024-bit modulus of another key. The
    // default load does no primality test; `verify` does.
    let fake = common::key(1024).public_key().n().clone();
    let phi = (&p - 1u32) * (&fake - 1u32);
    assert_eq!((&p * &fake).gcd(&phi), BigUint::from(1u32));
    let text = jwk_for(&p, &fake);
    assert!(jwk::secret_key_from_jwk(&text).is_ok());
    assert!(invalid_key(jwk::secret_key_from_jwk_with(&text, verify)).contains("not prime"));
    let bin = binary::encode_secret_key(&jwk::secret_key_from_jwk(&text).unwrap().0);
    assert!(binary::decode_secret_key(&bin).is_ok());
    assert!(invalid_key(binary::decode_secret_key_with(&bin, verify)).contains("not prime"));
}

#[test]
fn key_load_refuses_inconsistent_factors() {
    let sk = common::key(2048);
    let (p, q) = sk.primes_vartime();
    // p q != n (q from another key).
    let mut jk = jwk::secret_key_to_jwk(sk, "k");
    jk["q"] = json!(b64(&common::other_key().primes_vartime().1));
    assert!(invalid_key(jwk::secret_key_from_jwk(&jk.to_string())).contains("does not equal"));
    // p and q swapped still describe the key.
    let mut jk = jwk::secret_key_to_jwk(sk, "k");
    jk["p"] = json!(b64(&q));
    jk["q"] = json!(b64(&p));
    assert!(jwk::secret_key_from_jwk(&jk.to_string()).is_ok());
    // Unequal sizes with p q = n: a 512-bit and a 1536-bit factor of a 2048-bit n.
    let (s1, s2) = common::key(1024).primes_vartime(); // 512 bits each
    let big = &q * &s2;
    let m = invalid_key(jwk::secret_key_from_jwk(&jwk_for(&s1, &big)));
    assert!(m.contains("half"), "{m}");
    let m = invalid_key(jwk::secret_key_from_jwk(&jwk_for(&big, &s1)));
    assert!(m.contains("half"), "{m}");
    // Close factors (Fermat).
    let mut near = &p + 2u32;
    while !num_prime_check(&near) {
        near += 2u32;
    }
    let m = invalid_key(jwk::secret_key_from_jwk(&jwk_for(&p, &near)));
    assert!(m.contains("Fermat"), "{m}");
    // p = q: the public key p^2 is refused as a perfect square, in both formats.
    invalid_key(jwk::secret_key_from_jwk(&jwk_for(&p, &p)));
    let mut bin = binary::encode_secret_key(sk).to_vec();
    let half = (bin.len() - 6) / 2;
    let p_field = bin[6..6 + half].to_vec();
    bin.truncate(6);
    bin.extend_from_slice(&p_field);
    bin.extend_from_slice(&p_field);
    invalid_key(binary::decode_secret_key(&bin));
    // An even factor, a factor longer than half of n, non-base64 text.
    let m = invalid_key(jwk::secret_key_from_jwk(&jwk_for(
        &(&p + 1u32),
        &(&q + 2u32),
    )));
    assert!(m.contains("odd") || m.contains("modulus is even"), "{m}");
    let mut jk = jwk::secret_key_to_jwk(sk, "k");
    jk["p"] = json!(b64(&(&p << 64u32)));
    invalid_key(jwk::secret_key_from_jwk(&jk.to_string()));
    jk["p"] = json!("not*base64");
    malformed(jwk::secret_key_from_jwk(&jk.to_string()));
}
