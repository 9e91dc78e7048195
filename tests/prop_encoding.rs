//! Property tests of the encodings against exact oracles: python-paillier's EncodedNumber
//! round-trips every finite double exactly (checked with exact rationals), signed integers
//! up to max_int, and the fixed-scale codec is within 2^-(f+1).

mod common;

use num_bigint::BigInt;
use num_traits::{FromPrimitive, Signed};
use proptest::prelude::*;
use shroud::encoding::{Decoded, EncodedNumber, FixedScale};

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn doubles_round_trip_exactly(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let pk = common::key(2048).public_key();
        match EncodedNumber::encode_f64(pk, x, None, None) {
            Ok(e) => {
                // oracle: decoding is exact (python-paillier picks the exponent so it is)
                let m = e.mantissa().unwrap();
                match e.decode().unwrap() {
                    Decoded::Float(f) => prop_assert_eq!(f, x),
                    Decoded::Int(i) => {
                        prop_assert!(e.exponent() >= 0);
                        prop_assert_eq!(Some(i), BigInt::from_f64(x));
                    }
                }
                prop_assert!(m.abs() <= BigInt::from(pk.max_int().clone()));
            }
            // only doubles too large for a 2048-bit key may overflow
            Err(shroud::Error::EncodingOverflow(_)) => prop_assert!(x.abs() > 1e300),
            Err(other) => prop_assert!(false, "{other}"),
        }
    }

    #[test]
    fn integers_round_trip(v in any::<i128>()) {
        let pk = common::key(2048).public_key();
        let e = EncodedNumber::encode_int(pk, &BigInt::from(v), None).unwrap();
        prop_assert_eq!(e.decode().unwrap(), Decoded::Int(BigInt::from(v)));
        let lowered = e.decrease_exponent_to(-5).unwrap();
        prop_assert_eq!(lowered.exponent(), -5);
        let back = lowered.decode().unwrap();
        prop_assert_eq!(back, Decoded::Float(v as f64));
    }

    #[test]
    fn fixed_scale_error_bound(x in -1e6f64..1e6, f in 0u32..40) {
        let s = FixedScale::new(f).unwrap();
        let pk = common::key(2048).public_key();
        let e = s.encode_i64(x).unwrap();
        let back = s.decode_i64(e, 1);
        prop_assert!((back - x).abs() <= 2f64.powi(-(f as i32) - 1) * (1.0 + 1e-12) + x.abs() * f64::EPSILON);
        let p = s.encode_plaintext(pk, x).unwrap();
        prop_assert_eq!(s.decode_plaintext(pk, &p, 1).unwrap(), back);
    }
}
