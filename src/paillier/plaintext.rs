//! Plaintexts (elements of Z_n) and encryption randomness, both secret.

use crypto_bigint::{BoxedUint, Choice, CtSelect};
use num_bigint::{BigInt, BigUint, Sign};
use num_traits::One;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{KeyId, PublicKey};
use crate::bigint::{to_biguint_vartime, to_boxed_vartime};
use crate::error::{Error, Result};

/// A Paillier plaintext: an element of Z_n, held at n's precision.
///
/// Signed values follow python-paillier: 0..=max_int are non-negative, n - max_int..n are
/// negative, and the band between is overflow.
///
/// A plaintext belongs to the key it was made for: every operation under another key is
/// [`Error::KeyMismatch`].
///
/// # Security
/// Secret: no `Clone`, no printing `Debug`, zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Plaintext {
    pub(crate) value: BoxedUint,
    #[zeroize(skip)]
    pub(crate) key: KeyId,
}

impl core::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Plaintext(<redacted>)")
    }
}

impl Plaintext {
    /// m in [0, n).
    ///
    /// # Errors
    /// [`Error::PlaintextOutOfRange`] when m >= n.
    ///
    /// # Security
    /// Variable time in the length of m (num-bigint): for values already public to the
    /// caller's process. Use [`Plaintext::from_i64`] / [`Plaintext::from_u64`] on secrets.
    pub fn from_biguint(pk: &PublicKey, m: &BigUint) -> Result<Self> {
        if m >= pk.n() {
            return Err(Error::PlaintextOutOfRange("plaintext must be below n"));
        }
        let value = to_boxed_vartime(m, pk.inner.prec_n)
            .ok_or(Error::PlaintextOutOfRange("plaintext must be below n"))?;
        Ok(Plaintext {
            value,
            key: pk.inner.id,
        })
    }

    /// A signed integer with |m| <= max_int, negatives mapped to n - |m|.
    ///
    /// # Errors
    /// [`Error::PlaintextOutOfRange`] when |m| > max_int.
    ///
    /// # Security
    /// Variable time (num-bigint).
    pub fn from_bigint(pk: &PublicKey, m: &BigInt) -> Result<Self> {
        let mag = m.magnitude();
        if mag > pk.max_int() {
            return Err(Error::PlaintextOutOfRange(
                "|value| exceeds max_int = n/3 - 1",
            ));
        }
        if m.sign() == Sign::Minus {
            Self::from_biguint(pk, &(pk.n() - mag))
        } else {
            Self::from_biguint(pk, mag)
        }
    }

    /// An unsigned 64-bit value. Constant time.
    pub fn from_u64(pk: &PublicKey, m: u64) -> Self {
        let mut value = BoxedUint::zero_with_precision(pk.inner.prec_n);
        value.as_mut_words()[0] = m;
        Plaintext {
            value,
            key: pk.inner.id,
        }
    }

    /// A signed 64-bit value, negatives as n - |m|. Constant time.
    pub fn from_i64(pk: &PublicKey, m: i64) -> Self {
        let (mag, neg) = split_i64(m);
        let mut pos = BoxedUint::zero_with_precision(pk.inner.prec_n);
        pos.as_mut_words()[0] = mag;
        // n - |m| (for m = 0 the choice is false, so 0 stays 0).
        let negv = pk.inner.n.as_ref().wrapping_sub(&pos);
        Plaintext {
            value: pos.ct_select(&negv, neg),
            key: pk.inner.id,
        }
    }

    /// The identifier of the key this plaintext belongs to.
    pub fn key_id(&self) -> KeyId {
        self.key
    }

    #[doc(hidden)]
    /// Address and length of the secret limbs, for the valgrind constant-time harness.
    pub fn secret_regions(&self) -> Vec<(usize, usize)> {
        let w = self.value.as_words();
        vec![(w.as_ptr() as usize, core::mem::size_of_val(w))]
    }

    /// Fixed-width big-endian bytes (n's precision). Constant time.
    pub fn to_bytes_be(&self) -> Vec<u8> {
        self.value.to_be_bytes().into_vec()
    }

    /// The raw value in [0, n). Variable time.
    pub fn to_biguint_vartime(&self) -> BigUint {
        to_biguint_vartime(&self.value)
    }

    /// The signed value under python-paillier's convention.
    ///
    /// # Errors
    /// [`Error::EncodingOverflow`] when the value lies in the overflow band,
    /// [`Error::KeyMismatch`] when the plaintext belongs to another key.
    pub fn to_bigint_vartime(&self, pk: &PublicKey) -> Result<BigInt> {
        pk.check_plaintext(self)?;
        signed_from_residue_vartime(pk, &self.to_biguint_vartime())
    }

    /// The signed value as an i64.
    ///
    /// # Errors
    /// [`Error::EncodingOverflow`] in the overflow band or when it does not fit an i64,
    /// [`Error::KeyMismatch`] when the plaintext belongs to another key.
    pub fn to_i64_vartime(&self, pk: &PublicKey) -> Result<i64> {
        let v = self.to_bigint_vartime(pk)?;
        i64::try_from(v).map_err(|_| Error::EncodingOverflow("value does not fit in an i64"))
    }
}

/// python-paillier's signed decoding of a residue. Variable time in m (num-bigint).
pub(crate) fn signed_from_residue_vartime(pk: &PublicKey, m: &BigUint) -> Result<BigInt> {
    if m >= pk.n() {
        return Err(Error::PlaintextOutOfRange("residue must be below n"));
    }
    if m <= pk.max_int() {
        Ok(BigInt::from(m.clone()))
    } else if m >= &(pk.n() - pk.max_int()) {
        Ok(-BigInt::from(pk.n() - m))
    } else {
        Err(Error::EncodingOverflow(
            "value lies in the overflow band between max_int and n - max_int",
        ))
    }
}

/// |m| and sign of an i64 without branches.
pub(crate) fn split_i64(m: i64) -> (u64, Choice) {
    let mask = (m >> 63) as u64;
    let mag = ((m as u64) ^ mask).wrapping_sub(mask);
    (mag, Choice::from_u64_lsb(mask & 1))
}

/// Encryption randomness r, uniform in Z*_n.
///
/// A nonce belongs to the key it was drawn for: encrypting under another key is
/// [`Error::KeyMismatch`].
///
/// # Security
/// Secret and single-use: whoever learns r decrypts the ciphertext. Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Nonce {
    pub(crate) value: BoxedUint,
    #[zeroize(skip)]
    pub(crate) key: KeyId,
}

impl core::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Nonce(<redacted>)")
    }
}

impl Nonce {
    /// Draws r from Z*_n: a value of bits(n) + 128 random bits reduced mod n (statistical
    /// distance from uniform below 2^-128), redrawn in the negligible case gcd(r, n) != 1.
    ///
    /// # Security
    /// Constant time in r: the reduction and the unit test (a safegcd inversion modulo the
    /// public n) are crypto-bigint's constant-time ones; only the redraw decision is public (it concerns a discarded candidate, and
    /// happens with probability about 2^-(bits(n)/2)).
    pub fn random<R: CryptoRng + ?Sized>(pk: &PublicKey, rng: &mut R) -> Self {
        let inner = &pk.inner;
        let wide_bits = inner.prec_n + 128;
        let mut bytes = vec![0u8; (wide_bits / 8) as usize];
        loop {
            rng.fill_bytes(&mut bytes);
            // The width is a whole number of limbs, so the conversion cannot fail.
            let mut wide = BoxedUint::from_be_slice(&bytes, wide_bits).expect("exact width");
            let nz =
                crypto_bigint::NonZero::new(crate::bigint::resize(inner.n.as_ref(), wide_bits))
                    .expect("n is non-zero");
            let mut r = crate::bigint::resize(&wide.rem(&nz), inner.prec_n);
            wide.zeroize();
            // r is a unit iff it is invertible mod n: crypto-bigint's safegcd inverter
            // with the public modulus is constant time in r (its `BoxedUint::gcd` shifts
            // by r's trailing zeros, which is not).
            let mut rf = crypto_bigint::modular::BoxedMontyForm::new(r.clone(), &inner.params_n);
            let (mut inv, ok) = crate::bigint::ct_take(rf.invert());
            rf.zeroize();
            inv.zeroize();
            if crate::ct::declassify(ok) {
                bytes.zeroize();
                return Nonce {
                    value: r,
                    key: inner.id,
                };
            }
            r.zeroize();
        }
    }

    /// Wraps a caller-supplied r (e.g. for the constant-time harness or known-answer tests).
    ///
    /// # Errors
    /// [`Error::PlaintextOutOfRange`] when r = 0, r >= n or gcd(r, n) != 1 (r is not a
    /// unit: r^n would not be an n-th residue of the right order, and r reveals a factor).
    ///
    /// # Security
    /// Variable time (num-bigint range and gcd checks), without the `_vartime` suffix
    /// because the input type says it: r arrives as a `BigUint`, which the caller already
    /// handles in variable time and which does not zeroize. Use [`Nonce::random`] for
    /// secret nonces.
    pub fn from_biguint(pk: &PublicKey, r: &BigUint) -> Result<Self> {
        use num_integer::Integer;
        if r >= pk.n() || r == &BigUint::ZERO {
            return Err(Error::PlaintextOutOfRange("nonce must lie in [1, n)"));
        }
        if !r.gcd(pk.n()).is_one() {
            return Err(Error::PlaintextOutOfRange(
                "nonce must be a unit mod n (gcd(r, n) = 1)",
            ));
        }
        let value = to_boxed_vartime(r, pk.inner.prec_n)
            .ok_or(Error::PlaintextOutOfRange("nonce must lie in [1, n)"))?;
        Ok(Nonce {
            value,
            key: pk.inner.id,
        })
    }

    /// The identifier of the key this nonce was drawn for.
    pub fn key_id(&self) -> KeyId {
        self.key
    }

    #[doc(hidden)]
    /// Address and length of the secret limbs, for the valgrind constant-time harness.
    pub fn secret_regions(&self) -> Vec<(usize, usize)> {
        let w = self.value.as_words();
        vec![(w.as_ptr() as usize, core::mem::size_of_val(w))]
    }
}
