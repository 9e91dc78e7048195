//! Property tests: homomorphic laws against plaintext arithmetic, CRT decryption against a
//! num-bigint textbook oracle, for every key size, with seeded keys.

mod common;

use num_bigint::{BigInt, BigUint};
use proptest::prelude::*;
use shroud::paillier::{Nonce, Plaintext, RandomnessPool};

const SIZES: [u32; 3] = [2048, 3072, 4096];

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 8,
        ..ProptestConfig::default()
    }
}

fn signed(pk: &shroud::paillier::PublicKey, m: &Plaintext) -> i128 {
    i128::try_from(m.to_bigint_vartime(pk).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn crt_decryption_equals_textbook(size in 0usize..3, m in any::<u64>(), seed in any::<u64>()) {
        let sk = common::key(SIZES[size]);
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(seed);
        let c = pk.encrypt(&Plaintext::from_u64(pk, m), &mut rng).unwrap();
        let (p, q) = sk.primes_vartime();
        let oracle = common::textbook_decrypt(&p, &q, &c.to_biguint());
        prop_assert_eq!(sk.decrypt(&c).unwrap().to_biguint_vartime(), oracle.clone());
        prop_assert_eq!(sk.decrypt_textbook(&c).unwrap().to_biguint_vartime(), oracle);
    }

    #[test]
    fn arbitrary_ciphertexts_decrypt_like_textbook(seed in any::<u64>()) {
        // Any element of Z*_{n^2}, not only ones we produced.
        use rand_core::Rng;
        let sk = common::key(2048);
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(seed);
        let mut bytes = vec![0u8; 512];
        rng.fill_bytes(&mut bytes);
        let c_big = BigUint::from_bytes_be(&bytes) % pk.n_squared();
        if let Ok(c) = pk.ciphertext_from_biguint(&c_big) {
            let (p, q) = sk.primes_vartime();
            prop_assert_eq!(sk.decrypt(&c).unwrap().to_biguint_vartime(), common::textbook_decrypt(&p, &q, &c_big));
        }
    }

    #[test]
    fn homomorphic_laws(size in 0usize..3, a in any::<i32>(), b in any::<i32>(), k in any::<i64>(), seed in any::<u64>()) {
        let sk = common::key(SIZES[size]);
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(seed);
        let (a, b) = (i64::from(a), i64::from(b));
        let ca = pk.encrypt(&Plaintext::from_i64(pk, a), &mut rng).unwrap();
        let cb = sk.encrypt(&Plaintext::from_i64(pk, b), &mut rng).unwrap();
        let dec = |c: &shroud::paillier::Ciphertext| -> i128 { signed(pk, &sk.decrypt(c).unwrap()) };
        prop_assert_eq!(dec(&ca), i128::from(a));
        prop_assert_eq!(dec(&cb), i128::from(b));
        prop_assert_eq!(dec(&pk.add(&ca, &cb).unwrap()), i128::from(a + b));
        prop_assert_eq!(dec(&pk.sub(&ca, &cb).unwrap()), i128::from(a - b));
        prop_assert_eq!(dec(&pk.neg(&ca).unwrap()), -i128::from(a));
        prop_assert_eq!(dec(&pk.add_plaintext(&ca, &Plaintext::from_i64(pk, b)).unwrap()), i128::from(a + b));
        prop_assert_eq!(dec(&pk.mul_i64(&ca, k).unwrap()), i128::from(a) * i128::from(k));
        prop_assert_eq!(dec(&pk.mul_plaintext(&ca, &Plaintext::from_i64(pk, k)).unwrap()), i128::from(a) * i128::from(k));
        prop_assert_eq!(dec(&pk.mul_scalar_vartime(&ca, &BigInt::from(k)).unwrap()), i128::from(a) * i128::from(k));
        let re = pk.rerandomize(&ca, &mut rng).unwrap();
        prop_assert_ne!(&re, &ca);
        prop_assert_eq!(dec(&re), i128::from(a));
    }

    #[test]
    fn dot_product_matches_plaintext(size in 0usize..3, xs in proptest::collection::vec(any::<i32>(), 0..17),
                                      ws in proptest::collection::vec(any::<i64>(), 17), seed in any::<u64>()) {
        let sk = common::key(SIZES[size]);
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(seed);
        let ws = &ws[..xs.len()];
        let cts: Vec<_> = xs.iter().map(|x| pk.encrypt(&Plaintext::from_i64(pk, i64::from(*x)), &mut rng).unwrap()).collect();
        let want: i128 = xs.iter().zip(ws).map(|(x, w)| i128::from(*x) * i128::from(*w)).sum();
        let dot = pk.dot_i64(&cts, ws).unwrap();
        prop_assert_eq!(signed(pk, &sk.decrypt(&dot).unwrap()), want);
        let wp: Vec<Plaintext> = ws.iter().map(|w| Plaintext::from_i64(pk, *w)).collect();
        let dot2 = pk.dot_plaintexts(&cts, &wp, Some(64)).unwrap();
        prop_assert_eq!(signed(pk, &sk.decrypt(&dot2).unwrap()), want);
        let dot3 = pk.dot_plaintexts(&cts, &wp, None).unwrap();
        prop_assert_eq!(dot3, dot2);
    }

    #[test]
    fn owner_encryption_is_an_nth_residue_times_g_m(m in any::<i64>(), seed in any::<u64>()) {
        // c * g^-m must be an n-th residue: (c g^-m)^lambda = 1 mod n^2.
        use num_integer::Integer;
        let sk = common::key(2048);
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(seed);
        let pt = Plaintext::from_i64(pk, m);
        let c = sk.encrypt(&pt, &mut rng).unwrap().to_biguint();
        let n = pk.n();
        let n2 = pk.n_squared();
        let gm = (BigUint::from(1u32) + pt.to_biguint_vartime() * n) % n2;
        let s = (c * gm.modinv(n2).unwrap()) % n2;
        let (p, q) = sk.primes_vartime();
        let lambda = (p - 1u32).lcm(&(q - 1u32));
        prop_assert_eq!(s.modpow(&lambda, n2), BigUint::from(1u32));
    }

    #[test]
    fn pooled_and_nonce_encryptions_agree(m in any::<i64>(), seed in any::<u64>()) {
        let sk = common::key(2048);
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(seed);
        let mut pool = RandomnessPool::new(pk);
        pool.fill(2, &mut rng);
        let pt = Plaintext::from_i64(pk, m);
        let c = pool.encrypt(&pt).unwrap();
        prop_assert_eq!(signed(pk, &sk.decrypt(&c).unwrap()), i128::from(m));
        // Encrypting with a known r matches the textbook formula.
        let r = BigUint::from(seed | 1) + BigUint::from(12345u32);
        let nonce = Nonce::from_biguint(pk, &r).unwrap();
        let c = pk.encrypt_with_nonce(&pt, &nonce).unwrap().to_biguint();
        let n2 = pk.n_squared();
        let want = ((BigUint::from(1u32) + pt.to_biguint_vartime() * pk.n()) * r.modpow(pk.n(), n2)) % n2;
        prop_assert_eq!(c, want);
    }
}

#[test]
fn batch_operations_round_trip() {
    let sk = common::key(2048);
    let pk = sk.public_key();
    let mut rng = shroud::rng::seeded(5);
    let values: Vec<i64> = (-20..20).map(|i| i * 1_000_003).collect();
    let pts: Vec<Plaintext> = values.iter().map(|v| Plaintext::from_i64(pk, *v)).collect();
    let cts = pk.encrypt_batch(&pts, &mut rng).unwrap();
    let owner = sk.encrypt_batch(&pts, &mut rng).unwrap();
    let back: Vec<i64> = sk
        .decrypt_batch(&cts)
        .unwrap()
        .iter()
        .map(|m| m.to_i64_vartime(pk).unwrap())
        .collect();
    let back2: Vec<i64> = sk
        .decrypt_batch(&owner)
        .unwrap()
        .iter()
        .map(|m| m.to_i64_vartime(pk).unwrap())
        .collect();
    assert_eq!(back, values);
    assert_eq!(back2, values);
}

#[test]
fn pool_runs_dry_with_an_error() {
    let sk = common::key(2048);
    let pk = sk.public_key();
    let mut pool = RandomnessPool::new(pk);
    assert!(pool.is_empty());
    assert_eq!(
        pool.encrypt(&Plaintext::from_u64(pk, 1)).unwrap_err(),
        shroud::Error::PoolEmpty
    );
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn djn_encryption_decrypts(size in 0usize..3, m in any::<i64>(), seed in any::<u64>()) {
        let sk = common::key(SIZES[size]);
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(seed);
        let djn = shroud::paillier::DjnEncryptor::new(pk, &mut rng);
        prop_assert_eq!(djn.exponent_bits(), SIZES[size] / 2);
        let c1 = djn.encrypt(&Plaintext::from_i64(pk, m), &mut rng).unwrap();
        let c2 = djn.encrypt(&Plaintext::from_i64(pk, m), &mut rng).unwrap();
        prop_assert_ne!(&c1, &c2);
        prop_assert_eq!(signed(pk, &sk.decrypt(&c1).unwrap()), i128::from(m));
        // a valid element of Z*_{n^2} that survives the trust-boundary check
        prop_assert!(pk.ciphertext_from_biguint(&c2.to_biguint()).is_ok());
    }
}
