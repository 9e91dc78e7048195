//! A non-interactive proof that a Paillier modulus n has gcd(n, phi(n)) = 1: n-th roots
//! modulo n of challenges derived by hashing (the certificate of Goldberg, Reyzin, Sagga
//! and Baldimtsi, "Efficient noninteractive certification of RSA moduli and beyond",
//! ASIACRYPT 2019).
//!
//! Why a peer needs it: with gcd(n, phi(n)) != 1 (n = p q with q | p - 1, or n = p^2 q),
//! Z*_{n^2} has elements that rerandomization cannot erase, and a key owner can read them
//! back out of ciphertexts that the other party computed (a PSI client's masked sum, for
//! instance), while every decryption still comes out right. When gcd(n, phi(n)) = 1,
//! x -> x^n permutes Z*_n, so every challenge has an n-th root; otherwise some prime
//! r | gcd(n, phi(n)) divides n, so r > 1000 ([`PublicKey::from_modulus`] refuses smaller
//! factors), and a uniform challenge has a root with probability at most 1/r < 2^-9.96.
//! [`ROUNDS`] = 14 challenges leave a forger a chance below 2^-139.

use crypto_bigint::modular::BoxedMontyForm;
use crypto_bigint::{BoxedUint, NonZero};
use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::One;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, Zeroizing};

use super::secret_key::PrimePart;
use super::{PublicKey, SecretKey};
use crate::bigint::{resize, to_biguint_vartime, to_boxed_vartime};
use crate::error::{Error, Result};

/// Number of challenges.
pub const ROUNDS: usize = 14;

/// The proof: one n-th root modulo n per challenge. Public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulusProof {
    roots: Vec<BigUint>,
}

/// Challenge i for modulus n and `context`: 128 bits more than n from SHA-512 in counter
/// mode, reduced mod n (bias below 2^-128).
fn challenge(pk: &PublicKey, context: &[u8], i: usize) -> BigUint {
    let n = pk.n();
    let want = (n.bits() as usize + 128).div_ceil(8);
    let mut bytes = Vec::with_capacity(want + 64);
    let mut block = 0u32;
    while bytes.len() < want {
        let mut h = Sha512::new();
        h.update(b"shroud paillier modulus proof v1\0");
        h.update((context.len() as u64).to_be_bytes());
        h.update(context);
        h.update(n.to_bytes_be());
        h.update((i as u64).to_be_bytes());
        h.update(block.to_be_bytes());
        bytes.extend_from_slice(&h.finalize());
        block += 1;
    }
    BigUint::from_bytes_be(&bytes[..want]) % n
}

/// y^(n^-1 mod (p-1)) mod p, constant time in p, q and the result. n^-1 = q^-1 mod
/// (p - 1), as n = p q is q mod (p - 1).
fn root_mod_prime(part: &PrimePart, other: &PrimePart, y: &BoxedUint) -> BoxedUint {
    let pm1 = NonZero::new(part.pm1.clone());
    let q = resize(&other.p, part.pm1.bits_precision());
    // p - 1 is non-zero and q is invertible mod p - 1 for a key that loaded (gcd(n,
    // phi(n)) = 1 is what this proves); a placeholder keeps a bad key from panicking and
    // yields a proof that fails verification.
    let mut d = pm1
        .into_option()
        .and_then(|m| q.invert_mod(&m).into_option())
        .unwrap_or_else(|| BoxedUint::one_with_precision(part.pm1.bits_precision()));
    let yp = super::secret_key::reduce(y, &part.params_p, &part.r_p);
    let mut x = crate::monty::pow(&yp, &d, part.bits);
    d.zeroize();
    let out = x.retrieve();
    x.zeroize();
    out
}

impl ModulusProof {
    /// Proves that `sk`'s modulus has gcd(n, phi(n)) = 1, for challenges bound to
    /// `context`.
    ///
    /// # Security
    /// Constant time in p and q (crypto-bigint inversion and Montgomery exponentiation
    /// with CRT), except that the inversion modulo p - 1 runs in time depending on the
    /// number of trailing zero bits of p - 1. The roots are public.
    pub fn prove(sk: &SecretKey, context: &[u8]) -> Self {
        let pk = sk.public_key();
        let roots = (0..ROUNDS)
            .map(|i| {
                let y = to_boxed_vartime(&challenge(pk, context, i), pk.inner.prec_n)
                    .expect("a challenge is reduced mod n, so it fits n's precision");
                let xp = root_mod_prime(&sk.p, &sk.q, &y);
                let xq = root_mod_prime(&sk.q, &sk.p, &y);
                // x = xq + q ((xp - xq) q^-1 mod p)
                let xq_p = BoxedMontyForm::new(resize(&xq, sk.p.prec), &sk.p.params_p);
                let xp_f = BoxedMontyForm::new(xp, &sk.p.params_p);
                let h = Zeroizing::new(((xp_f - xq_p) * &sk.q_inv_p).retrieve());
                let wide = pk.inner.prec_n;
                let x = resize(&sk.q.p, wide)
                    .wrapping_mul(resize(&h, wide))
                    .wrapping_add(resize(&xq, wide));
                to_biguint_vartime(&x)
            })
            .collect();
        Self { roots }
    }

    /// Checks the proof for `pk` and `context`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if a root is missing, out of range or wrong, or a challenge
    /// shares a factor with n: n is not a modulus whose ciphertexts rerandomization can
    /// be trusted to hide.
    pub fn verify(&self, pk: &PublicKey, context: &[u8]) -> Result<()> {
        let n = pk.n();
        if self.roots.len() != ROUNDS {
            return Err(Error::InvalidKey(format!(
                "modulus proof has {} roots, {ROUNDS} expected",
                self.roots.len()
            )));
        }
        for (i, x) in self.roots.iter().enumerate() {
            let y = challenge(pk, context, i);
            if !y.gcd(n).is_one() {
                return Err(Error::InvalidKey(
                    "a proof challenge shares a factor with n".into(),
                ));
            }
            if x >= n || x.modpow(n, n) != y {
                return Err(Error::InvalidKey(format!(
                    "modulus proof fails at challenge {i}: gcd(n, phi(n)) != 1 or the proof is forged"
                )));
            }
        }
        Ok(())
    }

    /// The roots as fixed-width big-endian integers of n's byte length, concatenated.
    pub fn to_bytes(&self, pk: &PublicKey) -> Vec<u8> {
        let w = pk.n().bits().div_ceil(8) as usize;
        let mut out = Vec::with_capacity(w * ROUNDS);
        for r in &self.roots {
            let b = r.to_bytes_be();
            out.extend(std::iter::repeat_n(0u8, w - b.len()));
            out.extend_from_slice(&b);
        }
        out
    }

    /// Parses [`ModulusProof::to_bytes`] for `pk`.
    ///
    /// # Errors
    /// [`Error::Malformed`] if the length is not [`ROUNDS`] roots of n's byte length.
    pub fn from_bytes(pk: &PublicKey, bytes: &[u8]) -> Result<Self> {
        let w = pk.n().bits().div_ceil(8) as usize;
        if bytes.len() != w * ROUNDS {
            return Err(Error::malformed(format!(
                "modulus proof of {} bytes, {} expected",
                bytes.len(),
                w * ROUNDS
            )));
        }
        Ok(Self {
            roots: bytes.chunks_exact(w).map(BigUint::from_bytes_be).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_keys_prove_and_bad_moduli_do_not() {
        let opts = crate::paillier::KeygenOptions {
            bits: 1024,
            insecure_allow_1024: true,
            ..Default::default()
        };
        let sk =
            crate::paillier::generate_keypair(opts, &mut crate::rng::seeded(3), &|_| {}).unwrap();
        let pk = sk.public_key();
        let proof = ModulusProof::prove(&sk, b"ctx");
        proof.verify(pk, b"ctx").unwrap();
        assert_eq!(
            ModulusProof::from_bytes(pk, &proof.to_bytes(pk)).unwrap(),
            proof
        );
        assert!(proof.verify(pk, b"other context").is_err());
        let mut forged = proof.clone();
        forged.roots[3] += BigUint::one();
        assert!(forged.verify(pk, b"ctx").is_err());
        assert!(ModulusProof::from_bytes(pk, &[0; 10]).is_err());
    }
}
