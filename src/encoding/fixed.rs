//! shroud's fixed-point codec: x -> round(x * 2^f) as a signed 64-bit integer.
//!
//! Precision: for |x| < 2^(63 - f) the encoding error is at most 2^-(f+1) (round half to
//! even); a product of two encodings carries 2f fractional bits and is decoded with
//! `decode_*` at that scale. Decoding a Paillier plaintext detects overflow when the value
//! lands in the band between max_int and n - max_int (python-paillier's rule); sums that
//! wrap past n are not detectable, so callers bound their inputs (|x| < 2^(63 - f) per
//! term and fewer than n / 2^64 terms).

use num_traits::ToPrimitive;

use super::ratio_pow2_to_f64_vartime;
use crate::error::{Error, Result};
use crate::paillier::{Plaintext, PublicKey};

/// Largest supported number of fractional bits.
pub const MAX_FRAC_BITS: u32 = 62;

/// A fixed-point scale: `frac_bits` fractional bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedScale {
    frac_bits: u32,
}

impl FixedScale {
    /// A scale with `frac_bits` fractional bits (0..=62).
    ///
    /// # Errors
    /// [`Error::InvalidExponent`] above 62.
    pub fn new(frac_bits: u32) -> Result<Self> {
        if frac_bits > MAX_FRAC_BITS {
            return Err(Error::InvalidExponent(format!(
                "fractional bits must be at most {MAX_FRAC_BITS}, got {frac_bits}"
            )));
        }
        Ok(FixedScale { frac_bits })
    }

    /// The number of fractional bits.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// round(x * 2^f), half to even.
    ///
    /// # Security
    /// One float multiplication and rounding: constant time for normal doubles; the range
    /// check reveals only whether x is in range.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for NaN / infinities; [`Error::EncodingOverflow`] when the result
    /// does not fit an i64.
    pub fn encode_i64(&self, x: f64) -> Result<i64> {
        if !x.is_finite() {
            return Err(Error::NonFinite);
        }
        let scaled = (x * 2f64.powi(self.frac_bits as i32)).round_ties_even();
        // 2^63 is exactly representable; i64 holds [-2^63, 2^63).
        if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&scaled) {
            return Err(Error::EncodingOverflow(
                "value * 2^f does not fit in an i64",
            ));
        }
        Ok(scaled as i64)
    }

    /// v / 2^(f * products), correctly rounded. `products` is the number of encodings
    /// multiplied together (1 for a plain value, 2 for a weight times a feature).
    ///
    /// # Security
    /// Variable time in v (num-bigint rounding): decoding is the step that reveals a
    /// value, so it runs on outputs, not on secrets kept inside a computation.
    pub fn decode_i64(&self, v: i64, products: u32) -> f64 {
        let k = u64::from(self.frac_bits) * u64::from(products.max(1));
        // An i64 over at least 2^0 always fits in f64's range.
        ratio_pow2_to_f64_vartime(&num_bigint::BigInt::from(v), k).unwrap_or(f64::NAN)
    }

    /// Encodes x as a Paillier plaintext (negatives as n - |v|).
    ///
    /// # Errors
    /// As [`FixedScale::encode_i64`].
    pub fn encode_plaintext(&self, pk: &PublicKey, x: f64) -> Result<Plaintext> {
        Ok(Plaintext::from_i64(pk, self.encode_i64(x)?))
    }

    /// Decodes a plaintext carrying `products * f` fractional bits.
    ///
    /// # Errors
    /// [`Error::EncodingOverflow`] in the overflow band or beyond f64's range,
    /// [`Error::KeyMismatch`] when m belongs to another key.
    ///
    /// # Security
    /// Variable time in m, like [`FixedScale::decode_i64`]: for decrypted results being
    /// revealed.
    pub fn decode_plaintext(&self, pk: &PublicKey, m: &Plaintext, products: u32) -> Result<f64> {
        let v = m.to_bigint_vartime(pk)?;
        let k = u64::from(self.frac_bits) * u64::from(products.max(1));
        ratio_pow2_to_f64_vartime(&v, k).ok_or(Error::EncodingOverflow("decoded value exceeds f64"))
    }

    /// The largest |x| that [`FixedScale::encode_i64`] accepts (about 2^(63 - f)).
    pub fn max_abs(&self) -> f64 {
        (i64::MAX as f64 / 2f64.powi(self.frac_bits as i32))
            .to_f64()
            .unwrap_or(f64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let s = FixedScale::new(16).unwrap();
        assert_eq!(s.encode_i64(1.5).unwrap(), 3 << 15);
        assert_eq!(s.decode_i64(s.encode_i64(-2.25).unwrap(), 1), -2.25);
        assert!(matches!(s.encode_i64(f64::NAN), Err(Error::NonFinite)));
        assert!(matches!(s.encode_i64(f64::INFINITY), Err(Error::NonFinite)));
        assert!(matches!(
            s.encode_i64(2f64.powi(47)),
            Err(Error::EncodingOverflow(_))
        ));
        assert!(s.encode_i64(2f64.powi(46)).is_ok());
        // error bound 2^-(f+1)
        let x = 0.123_456_789_f64;
        let err = (s.decode_i64(s.encode_i64(x).unwrap(), 1) - x).abs();
        assert!(err <= 2f64.powi(-17), "{err}");
        assert!(FixedScale::new(63).is_err());
    }
}
