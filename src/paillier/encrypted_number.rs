//! Encrypted numbers with a base-16 exponent, python-paillier's `EncryptedNumber`.

use num_bigint::BigInt;
use rand_core::CryptoRng;

use super::{Ciphertext, PublicKey, SecretKey};
use crate::encoding::EncodedNumber;
use crate::error::{Error, Result};

/// A ciphertext with the exponent of the encoding inside it.
///
/// Adding aligns exponents (the larger one is lowered by multiplying by 16^diff);
/// multiplying by an encoded scalar adds them. Results match python-paillier 1.5 ciphertext
/// for ciphertext (its arithmetic adds no randomness either).
///
/// # Security
/// The ciphertext and the exponent are public: the methods branch on exponents and raise
/// to the public power 16^diff in variable time, without a `_vartime` suffix for that
/// reason. A scalar multiplication by an [`EncodedNumber`] is constant time in the
/// scalar's value once it is a plaintext (its encoding itself is variable time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedNumber {
    /// The ciphertext.
    pub ciphertext: Ciphertext,
    /// The base-16 exponent.
    pub exponent: i32,
}

impl EncryptedNumber {
    /// The same value with a lower exponent: c^(16^(exponent - new_exp)).
    ///
    /// # Errors
    /// [`Error::InvalidExponent`] when `new_exp` is above the current exponent or when
    /// 16^(exponent - new_exp) exceeds max_int (python-paillier refuses this too: the
    /// factor would be reduced mod n and the result silently wrong),
    /// [`Error::KeyMismatch`].
    pub fn decrease_exponent_to(&self, pk: &PublicKey, new_exp: i32) -> Result<Self> {
        if new_exp > self.exponent {
            return Err(Error::InvalidExponent(format!(
                "new exponent {new_exp} should be at most the current {}",
                self.exponent
            )));
        }
        let diff = u32::try_from(i64::from(self.exponent) - i64::from(new_exp))
            .map_err(|_| Error::InvalidExponent("exponent difference too large".into()))?;
        let factor = BigInt::from(crate::encoding::exponent_factor(pk, diff)?);
        Ok(EncryptedNumber {
            ciphertext: pk.mul_scalar_vartime(&self.ciphertext, &factor)?,
            exponent: new_exp,
        })
    }

    /// E(a + b), aligning exponents.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when the operands are under different keys.
    pub fn add(&self, pk: &PublicKey, other: &EncryptedNumber) -> Result<Self> {
        let (a, b) = align(pk, self, other)?;
        Ok(EncryptedNumber {
            ciphertext: pk.add(&a.ciphertext, &b.ciphertext)?,
            exponent: a.exponent,
        })
    }

    /// E(a + s) for an encoded scalar s (as python-paillier: (1 + n)^s with r = 1, no fresh
    /// randomness; rerandomize before sending).
    ///
    /// # Errors
    /// [`Error::KeyMismatch`], [`Error::InvalidExponent`].
    pub fn add_encoded(&self, pk: &PublicKey, s: &EncodedNumber) -> Result<Self> {
        let (a, s) = if self.exponent > s.exponent() {
            (self.decrease_exponent_to(pk, s.exponent())?, s.clone())
        } else {
            (self.clone(), s.decrease_exponent_to(self.exponent)?)
        };
        Ok(EncryptedNumber {
            ciphertext: pk.add_plaintext(&a.ciphertext, &s.to_plaintext(pk)?)?,
            exponent: a.exponent,
        })
    }

    /// E(a + x) for a double x, encoded with `max_exponent` = this number's exponent.
    ///
    /// # Errors
    /// As [`EncodedNumber::encode_f64`] and [`EncryptedNumber::add_encoded`].
    pub fn add_f64(&self, pk: &PublicKey, x: f64) -> Result<Self> {
        self.add_encoded(
            pk,
            &EncodedNumber::encode_f64(pk, x, None, Some(self.exponent))?,
        )
    }

    /// E(a * s) for an encoded scalar s: c^s (constant time in s), exponents added.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`], [`Error::InvalidExponent`].
    pub fn mul_encoded(&self, pk: &PublicKey, s: &EncodedNumber) -> Result<Self> {
        let exponent = self
            .exponent
            .checked_add(s.exponent())
            .ok_or_else(|| Error::InvalidExponent("exponent overflow".into()))?;
        Ok(EncryptedNumber {
            ciphertext: pk.mul_plaintext(&self.ciphertext, &s.to_plaintext(pk)?)?,
            exponent,
        })
    }
}

fn align(
    pk: &PublicKey,
    a: &EncryptedNumber,
    b: &EncryptedNumber,
) -> Result<(EncryptedNumber, EncryptedNumber)> {
    pk.check(&a.ciphertext)?;
    pk.check(&b.ciphertext)?;
    Ok(if a.exponent > b.exponent {
        (a.decrease_exponent_to(pk, b.exponent)?, b.clone())
    } else if a.exponent < b.exponent {
        (a.clone(), b.decrease_exponent_to(pk, a.exponent)?)
    } else {
        (a.clone(), b.clone())
    })
}

impl PublicKey {
    /// Encrypts an encoded number (standard encryption).
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when it was encoded for another key.
    pub fn encrypt_encoded<R: CryptoRng + ?Sized>(
        &self,
        x: &EncodedNumber,
        rng: &mut R,
    ) -> Result<EncryptedNumber> {
        Ok(EncryptedNumber {
            ciphertext: self.encrypt(&x.to_plaintext(self)?, rng)?,
            exponent: x.exponent(),
        })
    }
}

impl SecretKey {
    /// Decrypts to an encoded number (decode it with [`EncodedNumber::decode`]).
    ///
    /// # Errors
    /// [`Error::KeyMismatch`].
    pub fn decrypt_encoded(&self, x: &EncryptedNumber) -> Result<EncodedNumber> {
        let m = self.decrypt(&x.ciphertext)?;
        EncodedNumber::from_parts(self.public_key(), m.to_biguint_vartime(), x.exponent)
    }
}
