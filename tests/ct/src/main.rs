//! Constant-time check (ctgrind): run every secret-dependent Paillier operation under
//! valgrind memcheck with its secrets marked undefined. Memcheck then reports any
//! conditional jump, or any memory address, that depends on a secret.
//!
//! `shroud-ct keygen BITS`   writes a fresh private JWK (run natively, not under valgrind);
//! `shroud-ct check KEY...`  must report no error, for the 2048-bit interop key and every
//!                           key file given (run.sh passes 3072- and 4096-bit keys);
//! `shroud-ct negative-modpow` runs num-bigint's variable-time `modpow` with a secret
//! exponent and `shroud-ct negative-branch` a textbook square-and-multiply: memcheck must
//! report both (this proves the harness catches leaks).
//!
//! Results that are public by design (a redrawn nonce, a key's pass/fail, n = p q) pass
//! through shroud's declassification hook, which this harness points at
//! `VALGRIND_MAKE_MEM_DEFINED`. Positive checks make sure the run is not vacuous: every
//! region a key declares is marked, a key loaded from marked bytes has every declared
//! region derived from the secret, and every step's output carries the secret's taint
//! before it is declassified.

use std::hint::black_box;

use num_bigint::BigUint;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};
use shroud::format::{binary, jwk};
use shroud::paillier::{
    DjnEncryptor, KeygenOptions, LoadOptions, Nonce, Plaintext, PublicKey, RandomnessPool,
    SecretKey,
};

unsafe extern "C" {
    fn shroud_ct_secret(p: *const u8, n: usize);
    fn shroud_ct_public(p: *const u8, n: usize);
    fn shroud_ct_on_valgrind() -> u32;
    fn shroud_ct_undefined_bytes(p: *const u8, n: usize) -> isize;
}

fn mark_secret(bytes: &[u8]) {
    // SAFETY: a valgrind client request only updates memcheck's shadow state for a
    // region we own; it does not read or write the memory.
    unsafe { shroud_ct_secret(bytes.as_ptr(), bytes.len()) }
}

fn secret_regions(regions: &[(usize, usize)]) {
    for &(addr, len) in regions {
        // SAFETY: as above, for a live buffer of the value that declared the region.
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

fn on_valgrind() -> bool {
    // SAFETY: a client request with no arguments.
    unsafe { shroud_ct_on_valgrind() != 0 }
}

/// Bytes of the region with at least one undefined bit (None off valgrind).
fn undefined_bytes(addr: usize, len: usize) -> Option<usize> {
    // SAFETY: VALGRIND_GET_VBITS reads memcheck's shadow state of a live region.
    let r = unsafe { shroud_ct_undefined_bytes(addr as *const u8, len) };
    if r < 0 {
        assert!(
            !on_valgrind(),
            "VALGRIND_GET_VBITS failed on a declared region"
        );
        return None;
    }
    Some(r as usize)
}

/// Positive check: every byte of every region is undefined (the marking took).
fn assert_fully_marked(what: &str, regions: &[(usize, usize)]) {
    assert!(!regions.is_empty(), "{what}: no secret region declared");
    for (i, &(addr, len)) in regions.iter().enumerate() {
        if let Some(u) = undefined_bytes(addr, len) {
            assert_eq!(
                u, len,
                "{what}: region {i} is not fully marked ({u} of {len} bytes)"
            );
        }
    }
}

/// Positive check: every region carries taint (it was derived from the marked input).
fn assert_derived_from_secret(what: &str, regions: &[(usize, usize)]) {
    for (i, &(addr, len)) in regions.iter().enumerate() {
        if let Some(u) = undefined_bytes(addr, len) {
            assert!(
                u > 0,
                "{what}: region {i} ({len} bytes) holds no secret-derived byte"
            );
        }
    }
}

/// Positive check on a step's output: the secret reached it.
fn assert_tainted(what: &str, bytes: &[u8]) {
    if let Some(u) = undefined_bytes(bytes.as_ptr() as usize, bytes.len()) {
        assert!(
            u > 0,
            "{what}: the output does not depend on the marked secrets"
        );
    }
}

/// Reads a marked value back through memory so the compiler cannot use a clean copy.
fn reload<T: Copy>(x: &T) -> T {
    // SAFETY: `x` is a valid, aligned reference.
    unsafe { std::ptr::read_volatile(x) }
}

/// Checks the output carries the secret's taint, then declassifies it.
fn declassify(what: &str, mut bytes: Vec<u8>) -> Vec<u8> {
    assert_tainted(what, &bytes);
    public(&bytes);
    bytes.shrink_to_fit();
    bytes
}

/// shroud's declassification hook: the bytes are public from here on.
fn declassify_hook(bytes: &mut [u8]) {
    public(bytes);
}

/// A ChaCha20 generator whose every output is marked secret: operations that draw their
/// own randomness (nonces, DJN setup, pool seeds) run with that randomness secret.
struct SecretRng(chacha20::ChaCha20Rng);

impl TryRng for SecretRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let v = black_box(rand_core::Rng::next_u32(&mut self.0));
        secret(&v);
        Ok(reload(&v))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let v = black_box(rand_core::Rng::next_u64(&mut self.0));
        secret(&v);
        Ok(reload(&v))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        rand_core::Rng::fill_bytes(&mut self.0, dst);
        mark_secret(dst);
        Ok(())
    }
}

impl TryCryptoRng for SecretRng {}

fn secret_rng(seed: u64) -> SecretRng {
    SecretRng(chacha20::ChaCha20Rng::seed_from_u64(seed))
}

fn step(name: &str, f: impl FnOnce() -> bool) {
    eprintln!("ct-check: {name}");
    assert!(f(), "{name}: wrong result");
}

/// The p, q strings of a private JWK and its public key (parsed while still public).
fn jwk_parts(text: &str) -> (String, String, PublicKey) {
    let pk = jwk::public_key_from_jwk(text).expect("public part").0;
    let field = |name: &str| -> String {
        let at = text
            .find(&format!("\"{name}\""))
            .unwrap_or_else(|| panic!("no {name}"));
        let rest = &text[at + name.len() + 2..];
        let open = rest.find('"').expect("value") + 1;
        let close = open + rest[open..].find('"').expect("end");
        rest[open..close].to_string()
    };
    (field("p"), field("q"), pk)
}

/// Loads a key with its p and q marked secret from the first byte on: through the JWK
/// path (constant-time base64url, then the constant-time derivation) and through the
/// binary format (n = p q declassified as the public key).
fn load_marked(text: &str) -> SecretKey {
    let (p, q, pk) = jwk_parts(text);
    let bits = pk.bits();
    step(
        &format!("{bits}-bit key load from JWK, p and q secret"),
        || {
            mark_secret(p.as_bytes());
            mark_secret(q.as_bytes());
            let sk = jwk::secret_key_from_parts(&p, &q, &pk, LoadOptions::default()).unwrap();
            assert_derived_from_secret("JWK key load", &sk.secret_regions());
            sk.public_key() == &pk
        },
    );
    let sk = {
        let public_copy = jwk::secret_key_from_jwk(text).unwrap().0;
        binary::encode_secret_key(&public_copy).to_vec()
    };
    let mut bytes = sk;
    step(
        &format!("{bits}-bit key load from binary, p and q secret"),
        || {
            // header (6 bytes) | u16 len | p | u16 len | q: mark the integers.
            let len_p = usize::from(u16::from_be_bytes([bytes[6], bytes[7]]));
            let q_at = 8 + len_p + 2;
            mark_secret(&bytes[8..8 + len_p]);
            mark_secret(&bytes[q_at..]);
            let loaded = binary::decode_secret_key(&bytes).unwrap();
            assert_derived_from_secret("binary key load", &loaded.secret_regions());
            loaded.public_key() == &pk
        },
    );
    bytes.fill(0);
    let (sk, _) = jwk::secret_key_from_jwk(text).unwrap();
    sk
}

fn check_key(text: &str) {
    let sk = load_marked(text);
    let pk = sk.public_key().clone();
    let bits = pk.bits();
    let m = Plaintext::from_u64(&pk, 0x1234_5678_9abc_def0);
    let c = pk
        .encrypt_with_nonce(
            &m,
            &Nonce::from_biguint(&pk, &BigUint::from(987_654_321u64)).unwrap(),
        )
        .unwrap();
    let expected_m = m.to_biguint_vartime();

    // Everything below runs with the secret key marked undefined.
    let regions = sk.secret_regions();
    secret_regions(&regions);
    assert_fully_marked("secret key", &regions);

    step(&format!("{bits}: decrypt (CRT)"), || {
        let out = sk.decrypt(&c).unwrap();
        let bytes = declassify("decrypt", out.to_bytes_be());
        BigUint::from_bytes_be(&bytes) == expected_m
    });
    step(&format!("{bits}: decrypt (textbook, phi and mu)"), || {
        let out = sk.decrypt_textbook(&c).unwrap();
        BigUint::from_bytes_be(&declassify("decrypt_textbook", out.to_bytes_be())) == expected_m
    });
    step(
        &format!("{bits}: key-owner encryption (CRT), secret m and r"),
        || {
            let m2 = Plaintext::from_u64(&pk, 42);
            let r = Nonce::from_biguint(&pk, &BigUint::from(0xdead_beef_u64)).unwrap();
            secret_regions(&m2.secret_regions());
            secret_regions(&r.secret_regions());
            assert_fully_marked("plaintext", &m2.secret_regions());
            assert_fully_marked("nonce", &r.secret_regions());
            let out = sk.encrypt_with_nonce(&m2, &r).unwrap();
            let bytes = declassify("owner encryption", out.to_bytes_be());
            let c2 = pk.ciphertext_from_bytes_be(&bytes).unwrap();
            let back = sk.decrypt(&c2).unwrap();
            BigUint::from_bytes_be(&declassify("decrypt", back.to_bytes_be()))
                == BigUint::from(42u32)
        },
    );
    step(
        &format!("{bits}: key-owner encryption, nonce drawn inside (secret randomness)"),
        || {
            let m2 = Plaintext::from_u64(&pk, 43);
            secret_regions(&m2.secret_regions());
            let out = sk.encrypt(&m2, &mut secret_rng(5)).unwrap();
            let c2 = pk
                .ciphertext_from_bytes_be(&declassify("owner encrypt", out.to_bytes_be()))
                .unwrap();
            BigUint::from_bytes_be(&declassify(
                "decrypt",
                sk.decrypt(&c2).unwrap().to_bytes_be(),
            )) == BigUint::from(43u32)
        },
    );
    step(
        &format!("{bits}: standard encryption, secret m and r (r^n mod n^2)"),
        || {
            let m2 = Plaintext::from_i64(&pk, -7);
            let r = Nonce::from_biguint(&pk, &BigUint::from(0x1357_9bdf_u64)).unwrap();
            secret_regions(&m2.secret_regions());
            secret_regions(&r.secret_regions());
            let out = pk.encrypt_with_nonce(&m2, &r).unwrap();
            !declassify("encrypt_with_nonce", out.to_bytes_be()).is_empty()
        },
    );
    step(
        &format!("{bits}: standard encryption, nonce drawn inside (secret randomness)"),
        || {
            let m2 = Plaintext::from_i64(&pk, -8);
            secret_regions(&m2.secret_regions());
            let out = pk.encrypt(&m2, &mut secret_rng(6)).unwrap();
            !declassify("encrypt", out.to_bytes_be()).is_empty()
        },
    );
    step(
        &format!("{bits}: rerandomize, nonce drawn inside (secret randomness)"),
        || {
            let out = pk.rerandomize(&c, &mut secret_rng(7)).unwrap();
            !declassify("rerandomize", out.to_bytes_be()).is_empty()
        },
    );
    step(&format!("{bits}: signed i64 encoding of a secret"), || {
        let k = black_box(-123_456_789i64);
        secret(&k);
        let m2 = Plaintext::from_i64(&pk, reload(&k));
        assert_tainted("from_i64", &m2.to_bytes_be());
        let out = pk.add_plaintext(&c, &m2).unwrap();
        !declassify("add_plaintext", out.to_bytes_be()).is_empty()
    });
    step(&format!("{bits}: multiply by a secret i64 scalar"), || {
        let k = black_box(-0x0123_4567_89ab_cdefi64);
        secret(&k);
        let out = pk.mul_i64(&c, reload(&k)).unwrap();
        !declassify("mul_i64", out.to_bytes_be()).is_empty()
    });
    step(
        &format!("{bits}: multiply by a secret scalar in Z_n"),
        || {
            let k = Plaintext::from_i64(&pk, -99);
            secret_regions(&k.secret_regions());
            let out = pk.mul_plaintext(&c, &k).unwrap();
            !declassify("mul_plaintext", out.to_bytes_be()).is_empty()
        },
    );
    step(
        &format!("{bits}: dot product with secret i64 weights"),
        || {
            let ws = black_box([3i64, -5, 7, i64::MIN, i64::MAX, 0]);
            secret(&ws);
            let ws = reload(&ws);
            let cs = vec![c.clone(); ws.len()];
            let out = pk.dot_i64(&cs, &ws).unwrap();
            !declassify("dot_i64", out.to_bytes_be()).is_empty()
        },
    );
    step(
        &format!("{bits}: dot product with secret plaintext weights"),
        || {
            let ws: Vec<Plaintext> = [5i64, -6, 0, 1 << 40, -(1 << 50)]
                .iter()
                .map(|w| Plaintext::from_i64(&pk, *w))
                .collect();
            for w in &ws {
                secret_regions(&w.secret_regions());
            }
            let cs = vec![c.clone(); ws.len()];
            let bounded = pk.dot_plaintexts(&cs, &ws, Some(64)).unwrap();
            let full = pk.dot_plaintexts(&cs, &ws, None).unwrap();
            declassify("dot_plaintexts (bounded)", bounded.to_bytes_be())
                == declassify("dot_plaintexts", full.to_bytes_be())
        },
    );
    step(
        &format!("{bits}: pooled encryption, pool filled from secret randomness"),
        || {
            let mut pool = RandomnessPool::new(&pk);
            pool.fill(1, &mut secret_rng(8));
            assert_derived_from_secret("pool", &pool.secret_regions());
            let m2 = Plaintext::from_u64(&pk, 5);
            secret_regions(&m2.secret_regions());
            let out = pool.encrypt(&m2).unwrap();
            !declassify("pool encrypt", out.to_bytes_be()).is_empty()
        },
    );
    step(
        &format!("{bits}: DJN setup and encryption, secret x, exponent and m"),
        || {
            let djn = DjnEncryptor::new(&pk, &mut secret_rng(9));
            let a = djn.random_exponent(&mut secret_rng(10));
            assert_fully_marked("DJN exponent", &a.secret_regions());
            let m2 = Plaintext::from_u64(&pk, 11);
            secret_regions(&m2.secret_regions());
            let out = djn.encrypt_with_exponent(&m2, &a).unwrap();
            let c2 = pk
                .ciphertext_from_bytes_be(&declassify("DJN encrypt", out.to_bytes_be()))
                .unwrap();
            BigUint::from_bytes_be(&declassify(
                "decrypt",
                sk.decrypt(&c2).unwrap().to_bytes_be(),
            )) == BigUint::from(11u32)
        },
    );
}

/// The Montgomery kernels themselves, on every backend this CPU (as valgrind presents it)
/// offers, at the moduli Paillier uses: multiplication, squaring and a windowed
/// exponentiation with the operands, the modulus and the exponent all secret.
fn check_kernels() {
    use shroud::monty::{Backend, raw};
    let mut rng = chacha20::ChaCha20Rng::seed_from_u64(77);
    for be in [Backend::Portable, Backend::Mulx] {
        if !be.available() {
            eprintln!(
                "ct-check: kernel backend {} not offered by this CPU: skipped",
                be.name()
            );
            continue;
        }
        for bits in [1024u32, 1536, 2048, 3072, 4096, 6144, 8192] {
            let limbs = (bits / 64) as usize;
            let mut m: Vec<u64> = (0..limbs).map(|_| rng.next_u64()).collect();
            m[0] |= 1;
            m[limbs - 1] |= 1 << 63;
            // Operands below m: clear the top bit.
            let mut a: Vec<u64> = (0..limbs).map(|_| rng.next_u64()).collect();
            let mut b = a.clone();
            b.reverse();
            a[limbs - 1] >>= 1;
            b[limbs - 1] >>= 1;
            let e: Vec<u64> = (0..limbs / 2).map(|_| rng.next_u64()).collect();
            let mb = BigUint::from_slice(&to_u32(&m));
            let r = (BigUint::from(1u8) << (64 * limbs)) % &mb;
            let mut one = r.to_u64_digits();
            one.resize(limbs, 0);
            let want_mul = BigUint::from_slice(&to_u32(&a))
                * BigUint::from_slice(&to_u32(&b))
                * r.modinv(&mb).unwrap()
                % &mb;
            let want_pow =
                BigUint::from_slice(&to_u32(&a)).modpow(&BigUint::from_slice(&to_u32(&e)), &mb);
            // a read as a Montgomery form, for the exponentiation: a^e R^(1-e) comes out.
            let am = (BigUint::from_slice(&to_u32(&a)) * &r) % &mb;
            let mut amw = am.to_u64_digits();
            amw.resize(limbs, 0);
            let want_pow_m = (&want_pow * &r) % &mb;
            for x in [&m, &a, &b, &e, &amw] {
                secret_regions(&[(x.as_ptr() as usize, x.len() * 8)]);
            }
            step(
                &format!(
                    "kernel {}: {bits}-bit Montgomery product, all secret",
                    be.name()
                ),
                || {
                    let out = raw::mont_mul(be, &a, &b, &m).unwrap();
                    let bytes = declassify(
                        "mont_mul",
                        out.iter().flat_map(|w| w.to_le_bytes()).collect(),
                    );
                    BigUint::from_bytes_le(&bytes) == want_mul
                },
            );
            step(
                &format!(
                    "kernel {}: {bits}-bit Montgomery square, all secret",
                    be.name()
                ),
                || {
                    let out = raw::mont_sqr(be, &a, &m).unwrap();
                    declassify(
                        "mont_sqr",
                        out.iter().flat_map(|w| w.to_le_bytes()).collect(),
                    );
                    true
                },
            );
            if bits <= 4096 {
                step(
                    &format!(
                        "kernel {}: {}-bit exponent mod {bits} bits, all secret",
                        be.name(),
                        bits / 2
                    ),
                    || {
                        let out = raw::pow(be, &amw, &e, bits / 2, &m, &one).unwrap();
                        let bytes =
                            declassify("pow", out.iter().flat_map(|w| w.to_le_bytes()).collect());
                        BigUint::from_bytes_le(&bytes) == want_pow_m
                    },
                );
            }
        }
    }
}

fn to_u32(w: &[u64]) -> Vec<u32> {
    w.iter()
        .flat_map(|x| [*x as u32, (*x >> 32) as u32])
        .collect()
}

fn check(extra_keys: &[String]) {
    shroud::ct::set_declassify_hook(declassify_hook);
    eprintln!(
        "ct-check: Montgomery backend in use: {}",
        shroud::monty::backend().name()
    );
    check_kernels();
    let text = include_str!("../../../vectors/phe_interop_2048.json");
    let v: serde_json_lite::Value = serde_json_lite::parse(text);
    check_key(&v.private_key);
    for path in extra_keys {
        let key = std::fs::read_to_string(path).expect("key file");
        check_key(&key);
    }
    eprintln!("ct-check: all operations ran with secrets marked undefined");
}

fn keygen(bits: u32) {
    // Run natively: prime search is variable time by design (and slow under valgrind).
    let opts = KeygenOptions {
        bits,
        ..Default::default()
    };
    let sk = shroud::paillier::generate_keypair(opts, &mut shroud::rng::os_rng(), &|_| {})
        .expect("key generation");
    println!("{}", jwk::secret_key_to_jwk(&sk, "ct"));
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
    if !on_valgrind() {
        eprintln!(
            "note: not running under valgrind; the checks only mean something under `valgrind --tool=memcheck`"
        );
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => check(&args[1..]),
        Some("keygen") => keygen(args.get(1).and_then(|b| b.parse().ok()).unwrap_or(3072)),
        Some("negative-modpow") => negative_modpow(),
        Some("negative-branch") => negative_branch(),
        _ => {
            eprintln!(
                "usage: shroud-ct check [KEY.json...]|keygen BITS|negative-modpow|negative-branch"
            );
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
