//! Constant-time check (ctgrind): run every secret-dependent Paillier operation under
//! valgrind memcheck with its secrets marked undefined. Memcheck then reports any
//! conditional jump, or any memory address, that depends on a secret.
//!
//! `shroud-ct check`    must report no error;
//! `shroud-ct negative-modpow` runs num-bigint's variable-time `modpow` with a secret
//! exponent and `shroud-ct negative-branch` a textbook square-and-multiply: memcheck must
//! report both (this proves the harness catches leaks).

use std::hint::black_box;

use num_bigint::BigUint;
use shroud::format::jwk;
use shroud::paillier::{Nonce, Plaintext, RandomnessPool};

unsafe extern "C" {
    fn shroud_ct_secret(p: *const u8, n: usize);
    fn shroud_ct_public(p: *const u8, n: usize);
    fn shroud_ct_on_valgrind() -> u32;
}

fn secret_regions(regions: &[(usize, usize)]) {
    for &(addr, len) in regions {
        // SAFETY: a valgrind client request only updates memcheck's shadow state for a
        // region we own; it does not read or write the memory.
        unsafe { shroud_ct_secret(addr as *const u8, len) }
    }
}

fn secret<T>(x: &T) {
    // SAFETY: as above, for the bytes of `x`.
    unsafe { shroud_ct_secret((x as *const T).cast(), std::mem::size_of::<T>()) }
}

fn public(bytes: &[u8]) {
    // SAFETY: as above.
    unsafe { shroud_ct_public(bytes.as_ptr(), bytes.len()) }
}

/// Reads a marked value back through memory so the compiler cannot use a clean copy.
fn reload<T: Copy>(x: &T) -> T {
    // SAFETY: `x` is a valid, aligned reference.
    unsafe { std::ptr::read_volatile(x) }
}

/// Declassify an output and return it.
fn declassify(mut bytes: Vec<u8>) -> Vec<u8> {
    public(&bytes);
    bytes.shrink_to_fit();
    bytes
}

fn step(name: &str, f: impl FnOnce() -> bool) {
    eprintln!("ct-check: {name}");
    assert!(f(), "{name}: wrong result");
}

fn check() {
    let text = include_str!("../../../vectors/phe_interop_2048.json");
    let v: serde_json_lite::Value = serde_json_lite::parse(text);
    let sk = jwk::secret_key_from_jwk(&v.private_key)
        .expect("test key")
        .0;
    let pk = sk.public_key().clone();
    let m = Plaintext::from_u64(&pk, 0x1234_5678_9abc_def0);
    let c = pk.encrypt_with_nonce(
        &m,
        &Nonce::from_biguint(&pk, &BigUint::from(987_654_321u64)).unwrap(),
    );
    let expected_m = m.to_biguint_vartime();

    // Everything below runs with the secret key marked undefined.
    secret_regions(&sk.secret_regions());

    step("decrypt (CRT)", || {
        let out = sk.decrypt(&c).unwrap();
        let bytes = declassify(out.to_bytes_be());
        BigUint::from_bytes_be(&bytes) == expected_m
    });
    step("decrypt (textbook, lambda and mu)", || {
        let out = sk.decrypt_textbook(&c).unwrap();
        BigUint::from_bytes_be(&declassify(out.to_bytes_be())) == expected_m
    });
    step("key-owner encryption (CRT), secret m and r", || {
        let m2 = Plaintext::from_u64(&pk, 42);
        let r = Nonce::from_biguint(&pk, &BigUint::from(0xdead_beef_u64)).unwrap();
        secret_regions(&m2.secret_regions());
        secret_regions(&r.secret_regions());
        let out = sk.encrypt_with_nonce(&m2, &r);
        let bytes = declassify(out.to_bytes_be());
        let c2 = pk.ciphertext_from_bytes_be(&bytes).unwrap();
        let back = sk.decrypt(&c2).unwrap();
        BigUint::from_bytes_be(&declassify(back.to_bytes_be())) == BigUint::from(42u32)
    });
    step("standard encryption, secret m and r (r^n mod n^2)", || {
        let m2 = Plaintext::from_i64(&pk, -7);
        let r = Nonce::from_biguint(&pk, &BigUint::from(0x1357_9bdf_u64)).unwrap();
        secret_regions(&m2.secret_regions());
        secret_regions(&r.secret_regions());
        let out = pk.encrypt_with_nonce(&m2, &r);
        !declassify(out.to_bytes_be()).is_empty()
    });
    step("signed i64 encoding of a secret", || {
        let k = black_box(-123_456_789i64);
        secret(&k);
        let m2 = Plaintext::from_i64(&pk, reload(&k));
        secret_regions(&m2.secret_regions());
        let out = pk.add_plaintext(&c, &m2).unwrap();
        !declassify(out.to_bytes_be()).is_empty()
    });
    step("multiply by a secret i64 scalar", || {
        let k = black_box(-0x0123_4567_89ab_cdefi64);
        secret(&k);
        let out = pk.mul_i64(&c, reload(&k)).unwrap();
        !declassify(out.to_bytes_be()).is_empty()
    });
    step("multiply by a secret scalar in Z_n", || {
        let k = Plaintext::from_i64(&pk, -99);
        secret_regions(&k.secret_regions());
        let out = pk.mul_plaintext(&c, &k).unwrap();
        !declassify(out.to_bytes_be()).is_empty()
    });
    step("dot product with secret weights", || {
        let ws = black_box([3i64, -5, 7, i64::MIN, i64::MAX, 0]);
        secret(&ws);
        let ws = reload(&ws);
        let cs = vec![c.clone(); ws.len()];
        let out = pk.dot_i64(&cs, &ws).unwrap();
        !declassify(out.to_bytes_be()).is_empty()
    });
    step("pooled encryption (precomputed r^n secret)", || {
        let mut pool = RandomnessPool::new(&pk);
        pool.fill(1, &mut shroud::rng::seeded(1));
        secret_regions(&pool.secret_regions());
        let m2 = Plaintext::from_u64(&pk, 5);
        secret_regions(&m2.secret_regions());
        let out = pool.encrypt(&m2).unwrap();
        !declassify(out.to_bytes_be()).is_empty()
    });
    step(
        "DJN short-exponent encryption, secret m and exponent",
        || {
            let djn = shroud::paillier::DjnEncryptor::new(&pk, &mut shroud::rng::seeded(2));
            let a = djn.random_exponent(&mut shroud::rng::seeded(3));
            let m2 = Plaintext::from_u64(&pk, 11);
            secret_regions(&a.secret_regions());
            secret_regions(&m2.secret_regions());
            let out = djn.encrypt_with_exponent(&m2, &a);
            !declassify(out.to_bytes_be()).is_empty()
        },
    );
    eprintln!("ct-check: all operations ran with secrets marked undefined");
}

fn negative_modpow() {
    // num-bigint's modpow: variable time in the exponent.
    let base = BigUint::from(0x1234_5678u64);
    let modulus = (BigUint::from(1u32) << 1024u32) + 297u32;
    let digits = vec![0x9e37_79b9_7f4a_7c15u64; 16];
    for d in &digits {
        secret(d);
    }
    let e = BigUint::from_slice(
        &digits
            .iter()
            .flat_map(|d| [*d as u32, (*d >> 32) as u32])
            .collect::<Vec<_>>(),
    );
    let r = base.modpow(&e, &modulus);
    eprintln!(
        "negative control: num-bigint modpow ran ({} bits)",
        r.bits()
    );
}

#[inline(never)]
fn negative_branch() {
    // Textbook square-and-multiply on a secret u64 exponent.
    let k = black_box(0xa5a5_a5a5_a5a5_a5a5u64);
    secret(&k);
    let k = reload(&k);
    let (mut acc, mut b, m) = (1u128, 7u128, 1_000_000_007u128);
    for i in 0..64 {
        if (k >> i) & 1 == 1 {
            acc = acc * b % m;
        }
        b = b * b % m;
    }
    eprintln!(
        "negative control: square-and-multiply ran ({})",
        black_box(acc) > 0
    );
}

fn main() {
    // SAFETY: a client request with no arguments.
    if unsafe { shroud_ct_on_valgrind() } == 0 {
        eprintln!(
            "note: not running under valgrind; the checks only mean something under `valgrind --tool=memcheck`"
        );
    }
    match std::env::args().nth(1).as_deref() {
        Some("check") => check(),
        Some("negative-modpow") => negative_modpow(),
        Some("negative-branch") => negative_branch(),
        _ => {
            eprintln!("usage: shroud-ct check|negative-modpow|negative-branch");
            std::process::exit(2);
        }
    }
}

/// A tiny extractor for the one field we need from the vector file (keeps the harness
/// free of serde, whose parser would only add noise under valgrind).
mod serde_json_lite {
    pub struct Value {
        pub private_key: String,
    }
    pub fn parse(text: &str) -> Value {
        let start = text.find("\"private_key\"").expect("private_key");
        let open = start + text[start..].find('{').expect("{");
        let mut depth = 0;
        for (i, ch) in text[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Value {
                            private_key: text[open..open + i + 1].to_string(),
                        };
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced JSON");
    }
}
