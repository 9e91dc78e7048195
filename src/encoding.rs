//! Encodings of real numbers into Paillier plaintexts.
//!
//! - [`EncodedNumber`]: python-paillier's base-16 floating encoding (interop; variable time).
//! - [`FixedScale`]: shroud's own fixed-point codec, value * 2^f (inference, aggregation).

mod fixed;
mod phe;

pub use fixed::FixedScale;
pub(crate) use phe::exponent_factor;
pub use phe::{BASE, Decoded, EncodedNumber, MAX_ABS_EXPONENT};

/// Correctly rounded (half to even) conversion of mant / 2^k to f64, as Python's true
/// division of integers does. Variable time in mant (num-bigint): for values being
/// revealed (decoded outputs).
///
/// # Errors
/// `None` when the result overflows f64.
pub(crate) fn ratio_pow2_to_f64_vartime(mant: &num_bigint::BigInt, k: u64) -> Option<f64> {
    use num_bigint::{BigUint, Sign};
    use num_traits::{ToPrimitive, Zero};
    let neg = mant.sign() == Sign::Minus;
    let m = mant.magnitude();
    if m.is_zero() {
        return Some(0.0);
    }
    let b = m.bits() as i64;
    let k = k as i64;
    // value in [2^e, 2^(e+1))
    let e = b - 1 - k;
    if e > 1023 {
        return None;
    }
    let prec: i64 = if e >= -1022 { 53 } else { 53 - (-1022 - e) };
    let s = b - prec.max(0);
    let (q, scale) = if s <= 0 {
        (m << ((-s) as u64), s - k)
    } else {
        let s_u = s as u64;
        let q0: BigUint = m >> s_u;
        let rem = m - (&q0 << s_u);
        let half = BigUint::from(1u32) << (s_u - 1);
        let round_up = rem > half || (rem == half && q0.bit(0));
        (if round_up { q0 + 1u32 } else { q0 }, s - k)
    };
    // q has at most 54 bits: exact as f64.
    let mut v = q.to_f64()?;
    let mut sc = scale;
    while sc > 0 {
        let step = sc.min(1000);
        v *= 2f64.powi(step as i32);
        sc -= step;
    }
    while sc < 0 {
        let step = (-sc).min(1000);
        v *= 2f64.powi(-(step as i32));
        sc += step;
    }
    if !v.is_finite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::ratio_pow2_to_f64_vartime;
    use num_bigint::BigInt;

    #[test]
    fn rounding_matches_ieee() {
        for (m, k) in [
            (1i64, 0u64),
            (3, 1),
            (-7, 3),
            (1 << 53 | 1, 1),
            ((1 << 54) + 3, 2),
        ] {
            let want = m as f64 / 2f64.powi(k as i32);
            assert_eq!(
                ratio_pow2_to_f64_vartime(&BigInt::from(m), k),
                Some(want),
                "{m}/2^{k}"
            );
        }
        // ties to even: 2^53 + 1 halves to an exact tie at 2^53 precision
        let tie = BigInt::from((1u64 << 54) + 2);
        assert_eq!(
            ratio_pow2_to_f64_vartime(&tie, 1),
            Some(((1u64 << 53) + 1) as f64)
        );
        // subnormal
        assert_eq!(
            ratio_pow2_to_f64_vartime(&BigInt::from(1), 1074),
            Some(f64::from_bits(1))
        );
        assert_eq!(ratio_pow2_to_f64_vartime(&BigInt::from(1), 1076), Some(0.0));
        assert_eq!(ratio_pow2_to_f64_vartime(&BigInt::from(1), 0).unwrap(), 1.0);
        assert!(ratio_pow2_to_f64_vartime(&(BigInt::from(1) << 1024u32), 0).is_none());
    }
}
