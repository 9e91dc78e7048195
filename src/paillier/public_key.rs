//! The Paillier public key: modulus n, g = n + 1, and the Montgomery parameters for n and n^2.

use std::sync::Arc;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, ConcatenatingMul, NonZero, Odd};
use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use super::{Ciphertext, Nonce, Plaintext};
use crate::bigint::{limb_precision, to_boxed_vartime};
use crate::error::{Error, Result};

/// Smallest modulus shroud accepts from outside, in bits. Smaller moduli are factorable.
/// (1024-bit keys load, for interop tests with python-paillier's vectors, but are not secure.)
pub const MIN_MODULUS_BITS: u32 = 1024;
/// Largest modulus shroud accepts from outside, in bits (bounds work done on hostile input).
pub const MAX_MODULUS_BITS: u32 = 8192;

/// A 32-byte identifier of a public key: SHA-256 over a domain tag and n.
/// Ciphertexts carry it so that an operation under the wrong key is an error.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub(crate) [u8; 32]);

impl KeyId {
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KeyId(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

pub(crate) struct PkInner {
    pub(crate) bits: u32,
    pub(crate) prec_n: u32,
    pub(crate) prec_n2: u32,
    pub(crate) n: NonZero<BoxedUint>,
    pub(crate) n2: NonZero<BoxedUint>,
    pub(crate) params_n: BoxedMontyParams,
    pub(crate) params_n2: BoxedMontyParams,
    pub(crate) n_big: BigUint,
    pub(crate) n2_big: BigUint,
    pub(crate) max_int: BigUint,
    /// n - max_int at n's precision: plaintexts at or above it read as negative.
    pub(crate) neg_threshold: BoxedUint,
    pub(crate) id: KeyId,
}

/// A Paillier public key (n, g = n + 1).
///
/// Cheap to clone (shared). Constructed only through [`PublicKey::from_modulus`], which
/// validates n, or from a secret key.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) inner: Arc<PkInner>,
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.inner.bits)
            .field("id", &self.inner.id)
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}
impl Eq for PublicKey {}

/// Primes below 1000, for a cheap sanity check that a public modulus has no small factor.
fn small_primes() -> impl Iterator<Item = u32> {
    (3u32..1000).filter(|k| (2..*k).take_while(|d| d * d <= *k).all(|d| k % d != 0))
}

impl PublicKey {
    /// Validates and wraps a modulus n.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when n is even, smaller than [`MIN_MODULUS_BITS`], larger than
    /// [`MAX_MODULUS_BITS`], has a factor below 1000 or is a perfect square.
    ///
    /// # Security
    /// Variable time in n, which is public (no `_vartime` suffix: a public key has no
    /// secret to leak).
    pub fn from_modulus(n: &BigUint) -> Result<Self> {
        let bits = u32::try_from(n.bits()).unwrap_or(u32::MAX);
        if bits < MIN_MODULUS_BITS {
            return Err(Error::InvalidKey(format!(
                "modulus has {bits} bits; at least {MIN_MODULUS_BITS} are required"
            )));
        }
        if bits > MAX_MODULUS_BITS {
            return Err(Error::InvalidKey(format!(
                "modulus has {bits} bits; at most {MAX_MODULUS_BITS} are supported"
            )));
        }
        if n.is_even() {
            return Err(Error::InvalidKey("modulus is even".into()));
        }
        for p in small_primes() {
            if (n % p).is_zero() {
                return Err(Error::InvalidKey(format!("modulus is divisible by {p}")));
            }
        }
        let root = n.sqrt();
        if &root * &root == *n {
            return Err(Error::InvalidKey(
                "modulus is a perfect square (p = q)".into(),
            ));
        }
        Ok(Self::from_modulus_unchecked(n))
    }

    /// Builds the key without validation (callers have checked n).
    pub(crate) fn from_modulus_unchecked(n: &BigUint) -> Self {
        let bits = u32::try_from(n.bits()).unwrap_or(u32::MAX);
        let prec_n = limb_precision(bits);
        let prec_n2 = 2 * prec_n;
        let n2_big = n * n;
        // Both conversions fit by construction of the precisions.
        let n_box = to_boxed_vartime(n, prec_n).expect("n fits its precision");
        let n2_box = to_boxed_vartime(&n2_big, prec_n2).expect("n^2 fits its precision");
        // n is odd and non-zero (checked by callers); so is n^2.
        let n_odd = Odd::new(n_box.clone()).expect("n is odd");
        let n2_odd = Odd::new(n2_box.clone()).expect("n^2 is odd");
        let params_n = BoxedMontyParams::new_vartime(n_odd);
        let params_n2 = BoxedMontyParams::new_vartime(n2_odd);
        let mut h = Sha256::new();
        h.update(b"shroud/paillier/key-id/v1");
        h.update(n.to_bytes_be());
        let id = KeyId(h.finalize().into());
        let max_int = n / 3u32 - BigUint::one();
        let neg_threshold = to_boxed_vartime(&(n - &max_int), prec_n).expect("below n");
        PublicKey {
            inner: Arc::new(PkInner {
                bits,
                prec_n,
                prec_n2,
                n: NonZero::new(n_box).expect("n is non-zero"),
                n2: NonZero::new(n2_box).expect("n^2 is non-zero"),
                params_n,
                params_n2,
                n_big: n.clone(),
                n2_big,
                max_int,
                neg_threshold,
                id,
            }),
        }
    }

    /// The modulus n.
    pub fn n(&self) -> &BigUint {
        &self.inner.n_big
    }

    /// n^2.
    pub fn n_squared(&self) -> &BigUint {
        &self.inner.n2_big
    }

    /// Bit length of n.
    pub fn bits(&self) -> u32 {
        self.inner.bits
    }

    /// Largest magnitude of a signed plaintext: floor(n / 3) - 1 (python-paillier's `max_int`).
    /// Values above it and below n - max_int are the overflow band.
    pub fn max_int(&self) -> &BigUint {
        &self.inner.max_int
    }

    /// This key's identifier.
    pub fn id(&self) -> KeyId {
        self.inner.id
    }

    /// Bytes in a fixed-width ciphertext (n^2 rounded to whole limbs).
    pub fn ciphertext_bytes(&self) -> usize {
        (self.inner.prec_n2 / 8) as usize
    }

    pub(crate) fn check(&self, c: &Ciphertext) -> Result<()> {
        if c.key != self.inner.id {
            return Err(Error::KeyMismatch);
        }
        Ok(())
    }

    /// Checks that a plaintext belongs to this key.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when it was made for another key.
    pub fn check_plaintext(&self, m: &Plaintext) -> Result<()> {
        if m.key != self.inner.id {
            return Err(Error::KeyMismatch);
        }
        Ok(())
    }

    pub(crate) fn check_nonce(&self, r: &Nonce) -> Result<()> {
        if r.key != self.inner.id {
            return Err(Error::KeyMismatch);
        }
        Ok(())
    }

    /// Validates a ciphertext value arriving from outside: 0 < c < n^2 and gcd(c, n) = 1.
    ///
    /// Variable time in c, which is public.
    ///
    /// # Errors
    /// [`Error::InvalidCiphertext`] naming the failed condition.
    pub fn ciphertext_from_biguint(&self, c: &BigUint) -> Result<Ciphertext> {
        if c.is_zero() {
            return Err(Error::InvalidCiphertext("c = 0"));
        }
        if c >= &self.inner.n2_big {
            return Err(Error::InvalidCiphertext("c >= n^2"));
        }
        if !c.gcd(&self.inner.n_big).is_one() {
            return Err(Error::InvalidCiphertext("c shares a factor with n"));
        }
        let boxed =
            to_boxed_vartime(c, self.inner.prec_n2).ok_or(Error::InvalidCiphertext("c >= n^2"))?;
        Ok(Ciphertext {
            value: BoxedMontyForm::new(boxed, &self.inner.params_n2),
            key: self.inner.id,
        })
    }

    /// Validates a big-endian ciphertext (any width up to the key's ciphertext width).
    /// Variable time in the (public) ciphertext, as [`PublicKey::ciphertext_from_biguint`].
    ///
    /// # Errors
    /// [`Error::InvalidCiphertext`] or [`Error::Malformed`] for a wrong length.
    pub fn ciphertext_from_bytes_be(&self, bytes: &[u8]) -> Result<Ciphertext> {
        if bytes.len() > self.ciphertext_bytes() {
            return Err(Error::malformed(format!(
                "ciphertext has {} bytes; at most {} expected",
                bytes.len(),
                self.ciphertext_bytes()
            )));
        }
        self.ciphertext_from_biguint(&BigUint::from_bytes_be(bytes))
    }

    /// Standard Paillier encryption, c = (1 + n)^m * r^n mod n^2, with r uniform in Z*_n.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when m was made for another key.
    ///
    /// # Security
    /// Constant time in m and r (Montgomery exponentiation with the public exponent n).
    pub fn encrypt<R: CryptoRng + ?Sized>(&self, m: &Plaintext, rng: &mut R) -> Result<Ciphertext> {
        self.check_plaintext(m)?;
        let r = Nonce::random(self, rng);
        Ok(self.encrypt_with_nonce_unchecked(m, &r))
    }

    /// Encryption with caller-chosen randomness r (which must stay secret and never be reused).
    ///
    /// # Errors
    /// [`crate::Error::KeyMismatch`] when m or r was made for another key.
    ///
    /// # Security
    /// Constant time in m and r.
    pub fn encrypt_with_nonce(&self, m: &Plaintext, r: &Nonce) -> Result<Ciphertext> {
        if m.key != self.inner.id || r.key != self.inner.id {
            return Err(crate::Error::KeyMismatch);
        }
        Ok(self.encrypt_with_nonce_unchecked(m, r))
    }

    /// [`PublicKey::encrypt_with_nonce`] for a plaintext and nonce already checked.
    pub(crate) fn encrypt_with_nonce_unchecked(&self, m: &Plaintext, r: &Nonce) -> Ciphertext {
        let mut rn = self.nth_power(r);
        let x = zeroize::Zeroizing::new(rn.as_montgomery().rem(&self.inner.n));
        let c = self.absorb_plaintext(rn.as_montgomery(), &x, &m.value);
        zeroize::Zeroize::zeroize(&mut rn);
        Ciphertext {
            value: BoxedMontyForm::from_montgomery(c, &self.inner.params_n2),
            key: self.inner.id,
        }
    }

    /// r^n mod n^2 in Montgomery form (constant time in r; the caller wipes the result).
    pub(crate) fn nth_power(&self, r: &Nonce) -> BoxedMontyForm {
        use zeroize::Zeroize;
        let inner = &self.inner;
        let wide = crate::bigint::resize(&r.value, inner.prec_n2);
        let mut rf = BoxedMontyForm::new(wide, &inner.params_n2);
        let out = crate::monty::pow(&rf, inner.n.as_ref(), inner.bits);
        rf.zeroize();
        out
    }

    /// Given `c_mont` = c * R mod n^2 (Montgomery form of a ciphertext or of r^n) and
    /// `x` = c_mont mod n, returns the Montgomery form of c * (1 + n)^m mod n^2.
    ///
    /// Uses c * (1 + m n) = c + n * (m c mod n) (mod n^2): two multiplications modulo n and
    /// one n-by-n product instead of a multiplication modulo n^2. Constant time.
    pub(crate) fn absorb_plaintext(
        &self,
        c_mont: &BoxedUint,
        x: &BoxedUint,
        m: &BoxedUint,
    ) -> BoxedUint {
        use zeroize::Zeroize;
        let inner = &self.inner;
        // mont_n(m R, x) = m * x = m * c * R mod n: the Montgomery form of m * c.
        // Every intermediate depends on m and is wiped.
        let mut m_mont = BoxedMontyForm::new(m.clone(), &inner.params_n);
        let mut x_form = BoxedMontyForm::from_montgomery(x.clone(), &inner.params_n);
        let mut prod = m_mont.clone() * &x_form;
        m_mont.zeroize();
        x_form.zeroize();
        let mut nu = inner.n.as_ref().concatenating_mul(prod.as_montgomery());
        prod.zeroize();
        let out = c_mont.add_mod(&nu, &inner.n2);
        nu.zeroize();
        out
    }

    /// The ciphertext 1 (an encryption of zero with r = 1), for folds.
    pub(crate) fn one_ciphertext(&self) -> Ciphertext {
        Ciphertext {
            value: BoxedMontyForm::one(&self.inner.params_n2),
            key: self.inner.id,
        }
    }
}
