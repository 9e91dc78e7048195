//! python-paillier's `EncodedNumber`: value = mantissa * 16^exponent, mantissa taken mod n.
//!
//! Precision: a float encoded without `precision` is exact (its exponent is chosen from its
//! least significant bit); with `precision = p` the error is at most 16^floor(log16 p) / 2.
//! Integers are exact. Decoding to a float rounds correctly (half to even) once.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{ToPrimitive, Zero};

use super::ratio_pow2_to_f64_vartime;
use crate::error::{Error, Result};
use crate::paillier::{KeyId, Plaintext, PublicKey};

/// The encoding base of python-paillier.
pub const BASE: u32 = 16;
const LOG2_BASE: i64 = 4;
const FLOAT_MANTISSA_BITS: i64 = 53;
/// Exponents are kept within this range, so 16^|exponent| stays a modest integer.
pub const MAX_ABS_EXPONENT: i32 = 4096;

/// A value decoded from an [`EncodedNumber`]: an integer when the exponent is >= 0, a float
/// otherwise (python-paillier's rule).
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// Exact integer.
    Int(BigInt),
    /// Correctly rounded float.
    Float(f64),
}

impl Decoded {
    /// The value as f64 (integers rounded).
    pub fn to_f64(&self) -> f64 {
        match self {
            Decoded::Int(i) => i.to_f64().unwrap_or(f64::NAN),
            Decoded::Float(f) => *f,
        }
    }
}

impl core::fmt::Display for Decoded {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Decoded::Int(i) => write!(f, "{i}"),
            // Rust's shortest round-trip formatting: parses back to the same double.
            Decoded::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// A number encoded for one public key, compatible with python-paillier 1.5.
///
/// # Security
/// Encoding and decoding use num-bigint: every method of this type is variable time in
/// the value and the exponent (which is why none carries its own `_vartime` suffix: the
/// type is the variable-time interop API). Use it for interop and public scalars; secret
/// model weights on a hot path are better served by [`super::FixedScale`].
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedNumber {
    key: KeyId,
    n: BigUint,
    max_int: BigUint,
    encoding: BigUint,
    exponent: i32,
}

impl core::fmt::Debug for EncodedNumber {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EncodedNumber(<redacted>, exponent {})", self.exponent)
    }
}

fn check_exponent(e: i64) -> Result<i32> {
    i32::try_from(e)
        .ok()
        .filter(|e| e.unsigned_abs() <= MAX_ABS_EXPONENT.unsigned_abs())
        .ok_or_else(|| {
            Error::InvalidExponent(format!("exponent {e} is outside +/-{MAX_ABS_EXPONENT}"))
        })
}

/// 16^diff, refused when it exceeds max_int: python-paillier encodes the factor as a
/// plaintext (`EncryptedNumber.decrease_exponent_to` multiplies by it) and raises
/// "Integer needs to be within +/- max_int"; reducing it mod n instead would silently
/// give a wrong value.
pub(crate) fn exponent_factor(pk: &PublicKey, diff: u32) -> Result<BigUint> {
    // 16^diff has 4 diff + 1 bits: compare lengths first so a huge diff costs nothing.
    if u64::from(diff) * 4 >= pk.max_int().bits() {
        return Err(Error::InvalidExponent(format!(
            "16^{diff} exceeds max_int: the exponents are too far apart"
        )));
    }
    let factor = BigUint::from(BASE).pow(diff);
    if &factor > pk.max_int() {
        return Err(Error::InvalidExponent(format!(
            "16^{diff} exceeds max_int: the exponents are too far apart"
        )));
    }
    Ok(factor)
}

/// frexp's exponent and the exact (mantissa, binary exponent) of a finite double.
fn decompose(x: f64) -> (i64, BigInt, i64) {
    let bits = x.to_bits();
    let sign = if bits >> 63 == 1 { -1 } else { 1 };
    let exp_field = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    if exp_field == 0 {
        if frac == 0 {
            return (0, BigInt::zero(), 0);
        }
        let bl = 64 - i64::from(frac.leading_zeros());
        (bl - 1074, BigInt::from(frac) * sign, -1074)
    } else {
        let mant = frac | (1u64 << 52);
        let e2 = exp_field - 1075;
        (e2 + 53, BigInt::from(mant) * sign, e2)
    }
}

/// round(num / 2^s), half to even.
fn round_shift(num: &BigInt, s: u64) -> BigInt {
    if s == 0 {
        return num.clone();
    }
    let mag = num.magnitude();
    let q0: BigUint = mag >> s;
    let rem = mag - (&q0 << s);
    let half = BigUint::from(1u32) << (s - 1);
    let q = if rem > half || (rem == half && q0.bit(0)) {
        q0 + 1u32
    } else {
        q0
    };
    BigInt::from_biguint(
        if num.sign() == Sign::Minus {
            Sign::Minus
        } else {
            Sign::Plus
        },
        q,
    )
}

impl EncodedNumber {
    fn from_signed(pk: &PublicKey, int_rep: BigInt, exponent: i32) -> Result<Self> {
        if int_rep.magnitude() > pk.max_int() {
            return Err(Error::EncodingOverflow(
                "the scaled value exceeds max_int = n/3 - 1",
            ));
        }
        let n = pk.n().clone();
        let encoding = if int_rep.sign() == Sign::Minus {
            &n - int_rep.magnitude()
        } else {
            int_rep.magnitude().clone()
        };
        Ok(EncodedNumber {
            key: pk.id(),
            max_int: pk.max_int().clone(),
            n,
            encoding,
            exponent,
        })
    }

    /// Encodes an integer (exponent 0, or `max_exponent` if lower), as `EncodedNumber.encode`
    /// does for Python ints.
    ///
    /// # Errors
    /// [`Error::EncodingOverflow`] when |value * 16^-exponent| > max_int.
    pub fn encode_int(pk: &PublicKey, value: &BigInt, max_exponent: Option<i32>) -> Result<Self> {
        let exponent = check_exponent(i64::from(max_exponent.map_or(0, |m| m.min(0))))?;
        let int_rep = value * BigInt::from(BASE).pow((-exponent) as u32);
        Self::from_signed(pk, int_rep, exponent)
    }

    /// Encodes a double, as `EncodedNumber.encode` does for Python floats: without
    /// `precision` the exponent is floor((frexp exponent - 53) / 4), which makes the encoding
    /// exact; with `precision` it is floor(log16(precision)); `max_exponent` caps it.
    /// The scaled value is rounded half to even.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for NaN or infinities, [`Error::EncodingOverflow`] when the
    /// scaled value exceeds max_int, [`Error::InvalidExponent`] for a bad precision.
    pub fn encode_f64(
        pk: &PublicKey,
        value: f64,
        precision: Option<f64>,
        max_exponent: Option<i32>,
    ) -> Result<Self> {
        if !value.is_finite() {
            return Err(Error::NonFinite);
        }
        let (frexp_exp, mant, e2) = decompose(value);
        let prec_exponent = match precision {
            None => (frexp_exp - FLOAT_MANTISSA_BITS).div_euclid(LOG2_BASE),
            Some(p) => {
                if !(p.is_finite() && p > 0.0) {
                    return Err(Error::InvalidExponent(
                        "precision must be a positive finite number".into(),
                    ));
                }
                (p.ln() / f64::from(BASE).ln()).floor() as i64
            }
        };
        let exponent = match max_exponent {
            Some(m) => prec_exponent.min(i64::from(m)),
            None => prec_exponent,
        };
        let exponent = check_exponent(exponent)?;
        // value * 16^-exponent = mant * 2^(e2 - 4 exponent)
        let shift = e2 - LOG2_BASE * i64::from(exponent);
        let int_rep = if shift >= 0 {
            mant << (shift as u64)
        } else {
            round_shift(&mant, (-shift) as u64)
        };
        Self::from_signed(pk, int_rep, exponent)
    }

    /// An encoding from its parts (e.g. a decrypted plaintext and its exponent).
    ///
    /// # Errors
    /// [`Error::PlaintextOutOfRange`] when encoding >= n; [`Error::InvalidExponent`].
    pub fn from_parts(pk: &PublicKey, encoding: BigUint, exponent: i32) -> Result<Self> {
        if &encoding >= pk.n() {
            return Err(Error::PlaintextOutOfRange("encoding must be below n"));
        }
        let exponent = check_exponent(i64::from(exponent))?;
        Ok(EncodedNumber {
            key: pk.id(),
            n: pk.n().clone(),
            max_int: pk.max_int().clone(),
            encoding,
            exponent,
        })
    }

    /// The residue mod n.
    pub fn encoding(&self) -> &BigUint {
        &self.encoding
    }

    /// The base-16 exponent.
    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// The key this number was encoded for.
    pub fn key_id(&self) -> KeyId {
        self.key
    }

    /// As a plaintext for encryption or scalar multiplication.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when encoded for another key.
    pub fn to_plaintext(&self, pk: &PublicKey) -> Result<Plaintext> {
        if pk.id() != self.key {
            return Err(Error::KeyMismatch);
        }
        Plaintext::from_biguint(pk, &self.encoding)
    }

    /// The signed mantissa (python-paillier's decode rule).
    ///
    /// # Errors
    /// [`Error::EncodingOverflow`] in the overflow band.
    pub fn mantissa(&self) -> Result<BigInt> {
        if self.encoding <= self.max_int {
            Ok(BigInt::from(self.encoding.clone()))
        } else if self.encoding >= &self.n - &self.max_int {
            Ok(-BigInt::from(&self.n - &self.encoding))
        } else {
            Err(Error::EncodingOverflow(
                "overflow detected in decrypted number",
            ))
        }
    }

    /// Decodes: mantissa * 16^exponent as an integer when exponent >= 0, otherwise the
    /// correctly rounded double of mantissa / 16^-exponent.
    ///
    /// # Errors
    /// [`Error::EncodingOverflow`] in the overflow band or when the float overflows.
    pub fn decode(&self) -> Result<Decoded> {
        let mantissa = self.mantissa()?;
        if self.exponent >= 0 {
            Ok(Decoded::Int(
                mantissa * BigInt::from(BASE).pow(self.exponent as u32),
            ))
        } else {
            let k = 4 * u64::from(self.exponent.unsigned_abs());
            ratio_pow2_to_f64_vartime(&mantissa, k)
                .map(Decoded::Float)
                .ok_or(Error::EncodingOverflow(
                    "decoded result too large for a float",
                ))
        }
    }

    /// The same value with a lower exponent: encoding * 16^(exponent - new_exp) mod n.
    ///
    /// # Errors
    /// [`Error::InvalidExponent`] when `new_exp` is above the current exponent, or when
    /// 16^(exponent - new_exp) exceeds max_int (as python-paillier's
    /// `EncryptedNumber.decrease_exponent_to` refuses; the result would be garbage).
    pub fn decrease_exponent_to(&self, new_exp: i32) -> Result<Self> {
        if new_exp > self.exponent {
            return Err(Error::InvalidExponent(format!(
                "new exponent {new_exp} should be at most the current {}",
                self.exponent
            )));
        }
        let new_exp = check_exponent(i64::from(new_exp))?;
        let diff = self.exponent.abs_diff(new_exp);
        if u64::from(diff) * 4 >= self.max_int.bits() {
            return Err(Error::InvalidExponent(format!(
                "16^{diff} exceeds max_int: the exponents are too far apart"
            )));
        }
        let factor = BigUint::from(BASE).pow(diff);
        if factor > self.max_int {
            return Err(Error::InvalidExponent(format!(
                "16^{diff} exceeds max_int: the exponents are too far apart"
            )));
        }
        Ok(EncodedNumber {
            encoding: (&self.encoding * factor) % &self.n,
            exponent: new_exp,
            ..self.clone()
        })
    }
}
