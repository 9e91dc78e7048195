//! Dot products with exponent alignment and slot packing, for the inference service.
//!
//! python-paillier ciphertexts carry base-16 exponents that differ from one feature to the
//! next. Aligning them by raising each ciphertext to 16^diff first would cost one more
//! exponentiation per feature; instead the alignment is folded into the secret weight's
//! exponent as `diff` extra zero nibbles, which the 4-bit windowed multi-exponentiation
//! pays for with `diff` more windows in all.

use crypto_bigint::{BoxedUint, CtSelect};

use super::plaintext::split_i64;
use super::{Ciphertext, Plaintext, PublicKey};
use crate::error::{Error, Result};

/// Largest alignment shift, in base-16 digits (nibbles), that [`PublicKey::dot_i64_shifted`]
/// and [`Plaintext::from_i64_shifted`] accept: 16^64 = 2^256.
pub const MAX_SHIFT_NIBBLES: u32 = 64;

fn check_shift(shift: u32) -> Result<()> {
    if shift > MAX_SHIFT_NIBBLES {
        return Err(Error::InvalidExponent(format!(
            "exponent spread of {shift} base-16 digits exceeds {MAX_SHIFT_NIBBLES}"
        )));
    }
    Ok(())
}

impl PublicKey {
    /// E(sum_i w_i 16^(s_i) x_i) by one multi-exponentiation, for secret 64-bit weights w_i
    /// and public shifts s_i (in base-16 digits).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for unequal lengths, [`Error::InvalidExponent`] for a shift
    /// above [`MAX_SHIFT_NIBBLES`], [`Error::KeyMismatch`] for a foreign ciphertext.
    ///
    /// # Security
    /// Constant time in the weights: every exponent has 64 + 4 max(s_i) bits, the shifts are
    /// public (they come from the ciphertexts' exponents) and the sign is chosen in constant
    /// time, as in [`PublicKey::dot_i64`].
    pub fn dot_i64_shifted(
        &self,
        xs: &[Ciphertext],
        ws: &[i64],
        shifts: &[u32],
    ) -> Result<Ciphertext> {
        if ws.len() != shifts.len() {
            return Err(Error::LengthMismatch(format!(
                "{} weights but {} shifts",
                ws.len(),
                shifts.len()
            )));
        }
        let max_shift = shifts.iter().copied().max().unwrap_or(0);
        check_shift(max_shift)?;
        let bound = 64 + 4 * max_shift;
        let precision = crate::bigint::limb_precision(bound);
        let signed = ws
            .iter()
            .zip(shifts)
            .map(|(w, s)| {
                let mut x = self.signed_i64(*w);
                // Widen, then shift by the public amount (below the precision: no panic).
                x.mag = crate::bigint::resize(&x.mag, precision).shl(4 * s);
                x.bits = bound;
                x
            })
            .collect::<Vec<_>>();
        self.dot_signed(xs, &signed, bound)
    }

    /// E(sum_j m_j 2^(j slot_bits)) from E(m_0), E(m_1), ..: several plaintexts packed into
    /// one ciphertext (Horner's rule: slot_bits squarings per extra slot). The caller makes
    /// sure every m_j lies in [0, 2^slot_bits) and the packed total below n.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] for a foreign ciphertext, [`Error::LengthMismatch`] for an
    /// empty list.
    ///
    /// # Security
    /// Constant time: the number of squarings depends only on the public slot count and width.
    pub fn pack(&self, cs: &[Ciphertext], slot_bits: u32) -> Result<Ciphertext> {
        let Some((last, rest)) = cs.split_last() else {
            return Err(Error::LengthMismatch("nothing to pack".into()));
        };
        self.check(last)?;
        let mut acc = last.value.clone();
        for c in rest.iter().rev() {
            self.check(c)?;
            for _ in 0..slot_bits {
                acc = acc.square();
            }
            acc = &acc * &c.value;
        }
        Ok(Ciphertext {
            value: acc,
            key: self.inner.id,
        })
    }
}

impl PublicKey {
    /// Validates many ciphertexts arriving from outside, as
    /// [`PublicKey::ciphertext_from_biguint`] does one: 0 < c < n^2 and gcd(c, n) = 1, with
    /// one gcd in all (gcd(prod c_i mod n, n) = 1 iff every gcd(c_i, n) = 1: a prime of n
    /// divides the product iff it divides a factor). Variable time in the (public) ciphertexts.
    ///
    /// # Errors
    /// The index of the first invalid ciphertext and [`Error::InvalidCiphertext`] naming
    /// the failed condition.
    pub fn ciphertexts_from_biguints(
        &self,
        cs: &[num_bigint::BigUint],
    ) -> core::result::Result<Vec<Ciphertext>, (usize, Error)> {
        use num_integer::Integer;
        use num_traits::{One, Zero};
        let n = self.n();
        let mut prod = num_bigint::BigUint::one();
        for (i, c) in cs.iter().enumerate() {
            if c.is_zero() {
                return Err((i, Error::InvalidCiphertext("c = 0")));
            }
            if c >= self.n_squared() {
                return Err((i, Error::InvalidCiphertext("c >= n^2")));
            }
            prod = (prod * (c % n)) % n;
        }
        if !prod.gcd(n).is_one() {
            // Rare (a hostile or broken client): find the culprit the slow way.
            for (i, c) in cs.iter().enumerate() {
                if !c.gcd(n).is_one() {
                    return Err((i, Error::InvalidCiphertext("c shares a factor with n")));
                }
            }
        }
        cs.iter()
            .enumerate()
            .map(|(i, c)| {
                let boxed = crate::bigint::to_boxed_vartime(c, self.inner.prec_n2)
                    .ok_or((i, Error::InvalidCiphertext("c >= n^2")))?;
                Ok(Ciphertext {
                    value: crypto_bigint::modular::BoxedMontyForm::new(
                        boxed,
                        &self.inner.params_n2,
                    ),
                    key: self.inner.id,
                })
            })
            .collect()
    }
}

impl Plaintext {
    /// m 16^shift as a signed plaintext (negatives as n - |m| 16^shift), for a public shift.
    ///
    /// # Errors
    /// [`Error::InvalidExponent`] for a shift above [`MAX_SHIFT_NIBBLES`].
    ///
    /// # Security
    /// Constant time in m; the shift is public.
    pub fn from_i64_shifted(pk: &PublicKey, m: i64, shift: u32) -> Result<Self> {
        check_shift(shift)?;
        // 64 + 256 bits < 1024 <= bits(n): the value is below max_int, the shift in range.
        let (mag, neg) = split_i64(m);
        let mut pos = BoxedUint::zero_with_precision(pk.inner.prec_n);
        pos.as_mut_words()[0] = mag;
        let pos = pos.shl(4 * shift);
        let negv = pk.inner.n.as_ref().wrapping_sub(&pos);
        let value = pos.ct_select(&negv, neg);
        Ok(Plaintext {
            value,
            key: pk.inner.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn shifted_dot_and_pack_match_plaintext() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
        let opts = crate::paillier::KeygenOptions {
            bits: 2048,
            ..Default::default()
        };
        let sk = crate::paillier::generate_keypair(opts, &mut rng, &|_| {}).unwrap();
        let pk = sk.public_key();
        let xs = [5i64, -7, 11];
        let cs: Vec<Ciphertext> = xs
            .iter()
            .map(|x| pk.encrypt(&Plaintext::from_i64(pk, *x), &mut rng).unwrap())
            .collect();
        let ws = [-3i64, 1 << 40, 9];
        let shifts = [0u32, 2, 5];
        let got = sk
            .decrypt(&pk.dot_i64_shifted(&cs, &ws, &shifts).unwrap())
            .unwrap()
            .to_bigint_vartime(pk)
            .unwrap();
        let want: num_bigint::BigInt = xs
            .iter()
            .zip(&ws)
            .zip(&shifts)
            .map(|((x, w), s)| {
                num_bigint::BigInt::from(*x) * *w * num_bigint::BigInt::from(16).pow(*s)
            })
            .sum();
        assert_eq!(got, want);
        let p = Plaintext::from_i64_shifted(pk, -5, 3).unwrap();
        assert_eq!(
            p.to_bigint_vartime(pk).unwrap(),
            num_bigint::BigInt::from(-5 * 4096)
        );
        assert!(Plaintext::from_i64_shifted(pk, 1, MAX_SHIFT_NIBBLES + 1).is_err());
        // pack 3 small non-negative values into 20-bit slots
        let vals = [3i64, 0, 1000];
        let cs: Vec<Ciphertext> = vals
            .iter()
            .map(|x| pk.encrypt(&Plaintext::from_i64(pk, *x), &mut rng).unwrap())
            .collect();
        let packed = sk
            .decrypt(&pk.pack(&cs, 20).unwrap())
            .unwrap()
            .to_biguint_vartime();
        let want = num_bigint::BigUint::from(3u64 + (1000u64 << 40));
        assert_eq!(packed, want);
        assert!(pk.pack(&[], 20).is_err());
        // batch validation: the same answers as one at a time
        let n = pk.n().clone();
        let good: Vec<num_bigint::BigUint> = cs.iter().map(|c| c.to_biguint()).collect();
        assert_eq!(pk.ciphertexts_from_biguints(&good).unwrap(), cs);
        for (bad, want) in [
            (num_bigint::BigUint::ZERO, "c = 0"),
            (pk.n_squared().clone(), "c >= n^2"),
            (&n * 3u32, "shares a factor"),
        ] {
            let mut v = good.clone();
            v.insert(1, bad);
            let (i, e) = pk.ciphertexts_from_biguints(&v).unwrap_err();
            assert_eq!(i, 1);
            assert!(e.to_string().contains(want), "{e}");
        }
    }
}
