// Shared by the fuzz targets and by tests/fuzz_corpus.rs, which replays the corpus in the
// normal test suite. Each function must never panic on any input.
#[allow(dead_code)]
pub mod fuzz_common {
    use std::sync::OnceLock;

    use shroud::encoding::{Decoded, EncodedNumber};
    use shroud::format::{binary, jwk, phe_json};
    use shroud::paillier::{EncryptedNumber, Plaintext, PublicKey, SecretKey};

    /// python-paillier's 1024-bit test key (fast; interop vector).
    pub fn key() -> &'static SecretKey {
        static K: OnceLock<SecretKey> = OnceLock::new();
        K.get_or_init(|| {
            let text = include_str!("../../vectors/phe_interop_1024.json");
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            jwk::secret_key_from_jwk(&v["private_key"].to_string()).unwrap().0
        })
    }

    fn pk() -> &'static PublicKey {
        key().public_key()
    }

    pub fn jwk_public(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok((k, kid)) = jwk::public_key_from_jwk(text) {
                let again = jwk::public_key_to_jwk(&k, kid.as_deref().unwrap_or(""));
                assert_eq!(jwk::public_key_from_jwk(&again.to_string()).unwrap().0, k);
            }
    }

    pub fn jwk_private(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok((k, _)) = jwk::secret_key_from_jwk(text) {
                let again = jwk::secret_key_to_jwk(&k, "");
                let back = jwk::secret_key_from_jwk(&again.to_string()).unwrap().0;
                assert_eq!(back.public_key(), k.public_key());
            }
    }

    pub fn phe_ciphertext(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok(c) = phe_json::from_json_str(pk(), text) {
                let again = phe_json::to_json(&c).to_string();
                assert_eq!(phe_json::from_json_str(pk(), &again).unwrap(), c);
                // decrypting a valid ciphertext never fails; decoding may report overflow
                let m = key().decrypt_encoded(&c).unwrap();
                let _ = m.decode();
            }
    }

    pub fn binary_keys(data: &[u8]) {
        if let Ok(k) = binary::decode_public_key(data) {
            assert_eq!(binary::decode_public_key(&binary::encode_public_key(&k)).unwrap(), k);
        }
        if let Ok(k) = binary::decode_secret_key(data) {
            let back = binary::decode_secret_key(&binary::encode_secret_key(&k)).unwrap();
            assert_eq!(back.public_key(), k.public_key());
        }
    }

    pub fn binary_ciphertexts(data: &[u8]) {
        if let Ok(cs) = binary::decode_ciphertexts(pk(), data) {
            let again = binary::encode_ciphertexts(pk(), &cs).unwrap();
            assert_eq!(binary::decode_ciphertexts(pk(), &again).unwrap(), cs);
        }
    }

    /// Structured round trip: the bytes pick an integer, a float and a scalar; encryption,
    /// the homomorphic operations and the encodings must agree with plain arithmetic.
    pub fn round_trip(data: &[u8]) {
        if data.len() < 24 {
            return;
        }
        let a = i64::from_le_bytes(data[0..8].try_into().unwrap()) >> 2;
        let b = i64::from_le_bytes(data[8..16].try_into().unwrap()) >> 2;
        let x = f64::from_le_bytes(data[16..24].try_into().unwrap());
        let sk = key();
        let pk = pk();
        let mut rng = shroud::rng::seeded(u64::from(data.len() as u32));
        let ca = pk.encrypt(&Plaintext::from_i64(pk, a), &mut rng).unwrap();
        let cb = sk.encrypt(&Plaintext::from_i64(pk, b), &mut rng).unwrap();
        let sum = pk.add(&ca, &cb).unwrap();
        assert_eq!(sk.decrypt(&sum).unwrap().to_i64_vartime(pk).unwrap(), a + b);
        let k = b >> 40;
        let prod = pk.mul_i64(&ca, k).unwrap();
        let want = i128::from(a) * i128::from(k);
        let got = sk.decrypt(&prod).unwrap().to_bigint_vartime(pk).unwrap();
        assert_eq!(got, want.into());
        match EncodedNumber::encode_f64(pk, x, None, None) {
            Ok(e) => {
                let c = pk.encrypt_encoded(&e, &mut rng).unwrap();
                let d = sk.decrypt_encoded(&c).unwrap().decode().unwrap();
                match d {
                    Decoded::Float(f) => assert!(f == x || (f == 0.0 && x == 0.0), "{f} != {x}"),
                    // Large floats get a non-negative exponent and decode as integers, as in
                    // python-paillier; the integer must be the float's exact value.
                    Decoded::Int(i) => {
                        assert!(e.exponent() >= 0);
                        assert_eq!(Some(i), <num_bigint::BigInt as num_traits::FromPrimitive>::from_f64(x));
                    }
                }
                let bytes = shroud::format::binary::encode_ciphertexts(pk, std::slice::from_ref(&c)).unwrap();
                let back: Vec<EncryptedNumber> = shroud::format::binary::decode_ciphertexts(pk, &bytes).unwrap();
                assert_eq!(back, vec![c]);
            }
            Err(e) => assert!(!x.is_finite() || matches!(e, shroud::Error::EncodingOverflow(_)), "{e}"),
        }
    }

    /// PSI frames: decoding never panics, and whatever decodes re-encodes to the same bytes.
    /// The Noise responder's handshake: hostile first and third messages never panic.
    pub fn channel_handshake(data: &[u8]) {
        shroud::net::fuzzing::handshake_responder(data);
    }

    /// Frames from authenticated records: any sequence of record plaintexts either
    /// assembles into frames within the limit or is refused, without panicking.
    pub fn channel_frames(data: &[u8]) {
        shroud::net::fuzzing::frame_records(data);
    }

    pub fn psi_message(data: &[u8]) {
        if let Ok(m) = shroud::psi::Message::decode(data) {
            let again = m.encode();
            // Abort reasons are decoded lossily (invalid UTF-8 is replaced), so only
            // compare the frames whose encoding is canonical.
            if !matches!(m, shroud::psi::Message::Abort(_)) {
                assert_eq!(again, data);
            }
            assert_eq!(shroud::psi::Message::decode(&again).unwrap(), m);
        }
    }

    /// Server-sum's last round (PSI): the server's decoding, range check and reply, and the
    /// client's reading of a revealed sum, on hostile bytes under the 1024-bit test key.
    pub fn psi_server_sum(data: &[u8]) {
        shroud::psi::fuzzing::server_sum_round(key(), data);
    }

    /// Secure-aggregation messages of a 6-client session (complete graph, t = 4, 8 values
    /// of 20 bits): decoding hostile bytes never panics, and what decodes re-encodes
    /// identically.
    pub fn secagg_message(data: &[u8]) {
        use shroud::secagg::{GraphKind, Message, Params};
        let Ok(p) = Params::custom(6, 8, 17, GraphKind::Complete, 5, 4, [3; 32]) else {
            return;
        };
        if let Ok(m) = Message::decode(data, &p) {
            let again = m.encode(&p);
            if !matches!(m, Message::Abort(_)) {
                assert_eq!(again, data);
            }
            assert_eq!(Message::decode(&again, &p).unwrap(), m);
        }
    }

    /// Golomb-Rice sets: decoding hostile bytes never panics or loops, and what decodes
    /// re-encodes identically.
    pub fn psi_gcs(data: &[u8]) {
        if data.len() < 3 {
            return;
        }
        let p = u32::from(data[0] % 70);
        let n = u64::from(u16::from_le_bytes([data[1], data[2]]));
        if let Ok(g) = shroud::psi::gcs::Gcs::decode(&data[3..], n, p) {
            assert_eq!(g.values.len() as u64, n);
            assert_eq!(g.encode(), &data[3..]);
        }
    }

    /// Federated-learning messages: hostile JSON never panics, and whatever decodes
    /// re-encodes to a message that decodes the same.
    pub fn fl_message(data: &[u8]) {
        use shroud::fl::msgs::{FromParticipant, ToParticipant, decode, encode};
        if let Ok(m) = decode::<ToParticipant>(data) {
            assert_eq!(decode::<ToParticipant>(&encode(&m)).unwrap(), m);
        }
        if let Ok(m) = decode::<FromParticipant>(data) {
            assert_eq!(decode::<FromParticipant>(&encode(&m)).unwrap(), m);
        }
    }

    /// Inference-service requests, JSON and binary: hostile bodies never panic.
    pub fn serve_request(data: &[u8]) {
        use shroud::serve::msgs::{ParseLimits, parse_request};
        let limits = ParseLimits {
            n_features: 3,
            max_batch: 8,
            min_key_bits: 512,
            max_key_bits: 4096,
        };
        let _ = parse_request(data, &limits);
        // The same bytes behind the binary type's magic, so the corpus reaches its parser.
        let _ = shroud::serve::binary::parse_request(data, &limits);
        let mut framed = b"SHSQ\x01\x00\x00\x00".to_vec();
        framed.extend_from_slice(data);
        let _ = shroud::serve::binary::parse_request(&framed, &limits);
    }

    /// The two Montgomery kernels against each other and against num-bigint: the input
    /// picks a specialised size and supplies the modulus (made odd, top bit set) and the
    /// operands (reduced below it); products, squares and a short exponentiation agree.
    pub fn monty(data: &[u8]) {
        monty_impl::run(data)
    }

    mod monty_impl {
        use num_bigint::BigUint;
        use shroud::monty::{Backend, raw};

        const SIZES: [usize; 9] = [8, 12, 16, 24, 32, 48, 64, 96, 128];

        fn limbs(bytes: &[u8], n: usize) -> Vec<u64> {
            (0..n)
                .map(|i| {
                    let mut w = [0u8; 8];
                    for (j, b) in w.iter_mut().enumerate() {
                        *b = bytes.get((i * 8 + j) % bytes.len().max(1)).copied().unwrap_or(0)
                            ^ (i as u8).wrapping_mul(31);
                    }
                    u64::from_le_bytes(w)
                })
                .collect()
        }

        fn big(w: &[u64]) -> BigUint {
            BigUint::from_slice(&w.iter().flat_map(|x| [*x as u32, (*x >> 32) as u32]).collect::<Vec<_>>())
        }

        fn words(x: &BigUint, n: usize) -> Vec<u64> {
            let mut v = x.to_u64_digits();
            v.resize(n, 0);
            v
        }

        pub fn run(data: &[u8]) {
        if data.len() < 4 {
            return;
        }
        let n = SIZES[data[0] as usize % SIZES.len()];
        let shape = data[1];
        let rest = &data[2..];
        let mid = rest.len() / 2;
        let mut m = limbs(rest, n);
        // Shapes with long carry chains: all ones, or a sparse modulus.
        match shape % 4 {
            1 => m.iter_mut().for_each(|w| *w = u64::MAX),
            2 => m.iter_mut().skip(1).for_each(|w| *w = 0),
            _ => {}
        }
        m[0] |= 1;
        m[n - 1] |= 1 << 63;
        let mb = big(&m);
        let mut a = big(&limbs(&rest[..mid.max(1)], n)) % &mb;
        let b = big(&limbs(&rest[mid..], n)) % &mb;
        if shape & 0x10 != 0 {
            a = &mb - 1u8;
        }
        let (aw, bw) = (words(&a, n), words(&b, n));
        let r = (BigUint::from(1u8) << (64 * n)) % &mb;
        let rinv = r.modinv(&mb).expect("m is odd");
        let want_mul = words(&(&a * &b * &rinv % &mb), n);
        let want_sqr = words(&(&a * &a * &rinv % &mb), n);
        let e = limbs(&rest[..mid.max(1)], 1);
        let bits = 1 + u32::from(shape >> 5) * 9;
        let e_big = big(&e) % (BigUint::from(1u8) << bits);
        let want_pow = words(&(a.modpow(&e_big, &mb) * &r % &mb), n);
        let am = words(&(&a * &r % &mb), n);
        let one = words(&r, n);
        for be in [Backend::Portable, Backend::Mulx] {
            if !be.available() {
                continue;
            }
            assert_eq!(raw::mont_mul(be, &aw, &bw, &m).unwrap(), want_mul, "mul {be:?} {n}");
            assert_eq!(raw::mont_sqr(be, &aw, &m).unwrap(), want_sqr, "sqr {be:?} {n}");
            assert_eq!(raw::pow(be, &am, &e, bits, &m, &one).unwrap(), want_pow, "pow {be:?} {n}");
        }
        }
    }
}
