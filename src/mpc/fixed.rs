//! Fixed-point reals in Z_2^64: signed two's complement with f fractional bits.
//!
//! A real x is encoded as round(x 2^f) mod 2^64, so the representable range is
//! [-2^(63-f), 2^(63-f)) with a rounding error of at most 2^-(f+1). Products of two
//! encodings carry 2f fractional bits and must be truncated by f bits (see
//! [`super::Party::truncate`]); for that to be exact up to one unit in the last place, the product
//! must stay below 2^62 in absolute value, i.e. |x y| < 2^(62-2f) (2^30 with f = 16).

use super::error::MpcError;

/// Number of fractional bits, 1..=40 (default 16, CrypTen's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FractionalBits(u32);

impl Default for FractionalBits {
    fn default() -> Self {
        Self(16)
    }
}

impl FractionalBits {
    /// Checks 1 <= f <= 40.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] outside that range.
    pub fn new(f: u32) -> Result<Self, MpcError> {
        if (1..=40).contains(&f) {
            Ok(Self(f))
        } else {
            Err(MpcError::InvalidInput(format!(
                "fractional bits {f} outside 1..=40"
            )))
        }
    }

    /// f.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The largest magnitude that encodes: 2^(63-f).
    pub fn max_abs(self) -> f64 {
        2f64.powi(63 - self.0 as i32)
    }

    /// Encodes a real.
    ///
    /// # Errors
    /// [`MpcError::Encoding`] for NaN, infinities and |x| >= 2^(63-f).
    pub fn encode(self, x: f64) -> Result<u64, MpcError> {
        if !x.is_finite() {
            return Err(MpcError::Encoding(format!("{x} is not a finite number")));
        }
        let scaled = (x * 2f64.powi(self.0 as i32)).round();
        if scaled.abs() >= 2f64.powi(63) {
            return Err(MpcError::Encoding(format!(
                "{x} is outside the range +/-2^{} of {} fractional bits",
                63 - self.0,
                self.0
            )));
        }
        Ok(scaled as i64 as u64)
    }

    /// Encodes every value.
    ///
    /// # Errors
    /// As [`FractionalBits::encode`], naming the position.
    pub fn encode_all(self, xs: &[f64]) -> Result<Vec<u64>, MpcError> {
        xs.iter()
            .enumerate()
            .map(|(i, &x)| {
                self.encode(x)
                    .map_err(|e| MpcError::Encoding(format!("value {i}: {e}")))
            })
            .collect()
    }

    /// Decodes one value (exact for |v| < 2^53).
    pub fn decode(self, v: u64) -> f64 {
        (v as i64) as f64 / 2f64.powi(self.0 as i32)
    }

    /// Decodes every value.
    pub fn decode_all(self, vs: &[u64]) -> Vec<f64> {
        vs.iter().map(|&v| self.decode(v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_range_and_rejections() {
        let f = FractionalBits::default();
        for x in [0.0, 1.5, -2.25, 1e6, -123.456] {
            let d = f.decode(f.encode(x).unwrap());
            assert!((d - x).abs() <= 2f64.powi(-17), "{x} -> {d}");
        }
        assert!(f.encode(f64::NAN).is_err());
        assert!(f.encode(f64::INFINITY).is_err());
        assert!(f.encode(2f64.powi(47)).is_err());
        assert!(f.encode(2f64.powi(47) - 1.0).is_ok());
        assert!(FractionalBits::new(0).is_err() && FractionalBits::new(41).is_err());
    }
}
