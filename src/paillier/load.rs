//! Building a secret key from its factors: constant-time integrity checks and derivations
//! by default, variable-time primality re-checks only on request.

use crypto_bigint::modular::BoxedMontyForm;
use crypto_bigint::{BoxedUint, Choice, ConcatenatingMul, CtEq, CtLt};
use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::One;
use zeroize::{Zeroize, Zeroizing};

use super::secret_key::{PrimePart, SecretKey};
use super::{MAX_MODULUS_BITS, MIN_MODULUS_BITS, PublicKey};
use crate::bigint::{ct_take, limb_precision, resize, to_biguint_vartime, to_boxed_vartime};
use crate::ct::{declassify, declassify_uint};
use crate::error::{Error, Result};

/// How to load a secret key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Also re-prove that p and q are prime (Baillie-PSW plus Miller-Rabin rounds) and run
    /// the variable-time structural checks of [`SecretKey::from_primes`].
    ///
    /// # Security
    /// Variable time in p and q: every load with `verify` hands an observer another
    /// timing trace of the same secret. Use it once, on a key file of unknown origin
    /// (the CLI's `--verify-key`), not on every load.
    pub verify: bool,
}

fn bad<T>(m: &str) -> Result<T> {
    Err(Error::InvalidKey(m.to_string()))
}

/// Reads a big-endian factor into a `BoxedUint` of `prec` bits. The length of `bytes` is
/// public (it is the file's layout); leading zero bytes are accepted while they fit.
fn factor_from_bytes(bytes: &[u8], prec: u32, name: &str) -> Result<Zeroizing<BoxedUint>> {
    let wide = limb_precision(u32::try_from(bytes.len().saturating_mul(8)).unwrap_or(u32::MAX));
    if bytes.is_empty() || wide > MAX_MODULUS_BITS {
        return bad(&format!("{name} has {} bytes", bytes.len()));
    }
    let x = Zeroizing::new(
        BoxedUint::from_be_slice(bytes, wide.max(prec))
            .map_err(|_| Error::InvalidKey(format!("{name} does not fit")))?,
    );
    // The value must fit `prec` bits: the bits above are zero (a constant-time test on
    // the secret, declassified as a pass/fail of the file's integrity; the shift is public).
    let fits = if wide > prec {
        x.wrapping_shr_vartime(prec).is_zero()
    } else {
        Choice::TRUE
    };
    if !declassify(fits) {
        return bad(&format!("{name} is longer than half the modulus"));
    }
    Ok(Zeroizing::new(resize(&x, prec)))
}

impl SecretKey {
    /// Builds and validates a secret key from its factors, with every check:
    /// p and q prime (Baillie-PSW plus Miller-Rabin rounds with random bases), p != q,
    /// equal bit lengths, n = pq of at least [`super::MIN_MODULUS_BITS`] bits with
    /// exactly bits(p) + bits(q) bits, |p - q| > 2^(bits(p) - 100), gcd(n, (p-1)(q-1)) = 1.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] naming the failed check.
    ///
    /// # Security
    /// Variable time in p and q (num-bigint and the primality tests), without a
    /// `_vartime` suffix because the inputs already are variable-time `BigUint`s. To load
    /// a stored key without re-proving primality, in constant time, use
    /// [`SecretKey::from_be_bytes`].
    pub fn from_primes(p: &BigUint, q: &BigUint) -> Result<Self> {
        validate_factors_vartime(p, q)?;
        let prec = limb_precision(u32::try_from(p.bits()).unwrap_or(u32::MAX));
        let (Some(pb), Some(qb)) = (to_boxed_vartime(p, prec), to_boxed_vartime(q, prec)) else {
            return bad("p and q have unequal sizes");
        };
        Self::from_factors(&Zeroizing::new(pb), &Zeroizing::new(qb), None)
    }

    /// Loads a secret key from big-endian p and q (as stored in a key file), checking it
    /// against the public key `n` when the file carries one.
    ///
    /// Checks, in constant time: p and q odd, each of exactly half the bits of n (and
    /// bits(n) even), p != q, p q = n, |p - q| > 2^(bits(p) - 100), and that every CRT
    /// constant exists (q invertible mod p, (p-1)(q-1) invertible mod n, ...). Without `n`
    /// the modulus is p q, validated as a public key. With `opts.verify`, also
    /// [`SecretKey::from_primes`]'s variable-time checks, primality included.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] naming the failed check.
    ///
    /// # Security
    /// Without `verify`, only constant-time work touches p and q: crypto-bigint
    /// multiplication, comparison, Montgomery parameters, 2-adic and safegcd inversions
    /// (no num-bigint division, gcd or inverse; no primality test). What is revealed is
    /// public by design: the byte lengths, which check failed for a key that fails, and
    /// n. Checked under valgrind by `tests/ct/`.
    pub fn from_be_bytes(
        p: &[u8],
        q: &[u8],
        n: Option<&PublicKey>,
        opts: LoadOptions,
    ) -> Result<Self> {
        let prec = match n {
            Some(pk) => limb_precision(pk.bits().div_ceil(2)),
            None => limb_precision(
                u32::try_from(p.len().max(q.len()).saturating_mul(8)).unwrap_or(u32::MAX),
            ),
        };
        let pb = factor_from_bytes(p, prec, "p")?;
        let qb = factor_from_bytes(q, prec, "q")?;
        if opts.verify {
            let (pv, qv) = (to_biguint_vartime(&pb), to_biguint_vartime(&qb));
            validate_factors_vartime(&pv, &qv)?;
        }
        Self::from_factors(&pb, &qb, n)
    }

    /// The constant-time builder behind every load and key generation. `p` and `q` have
    /// the same precision.
    pub(crate) fn from_factors(
        p: &BoxedUint,
        q: &BoxedUint,
        n: Option<&PublicKey>,
    ) -> Result<Self> {
        let prec = p.bits_precision();
        if q.bits_precision() != prec {
            return bad("p and q have unequal sizes");
        }
        let n_pq = Zeroizing::new(p.concatenating_mul(q));
        let pk = match n {
            Some(pk) => pk.clone(),
            None => {
                // n = p q is the public key: declassified, then validated as one.
                let mut n_pub = (*n_pq).clone();
                declassify_uint(&mut n_pub);
                PublicKey::from_modulus(&to_biguint_vartime(&n_pub))?
            }
        };
        let nbits = pk.bits();
        if nbits % 2 != 0 || limb_precision(nbits / 2) != prec {
            return bad("p and q must each have half the bits of n");
        }
        let half = nbits / 2;
        let sizes = Choice::from_u32_eq(p.bits(), half).and(Choice::from_u32_eq(q.bits(), half));
        if !declassify(sizes) {
            return bad("p and q must each have half the bits of n (unequal sizes)");
        }
        if !declassify(p.ct_eq(q).not()) {
            return bad("p = q");
        }
        let wide = pk.inner.prec_n.max(2 * prec);
        let n_matches = resize(&n_pq, wide).ct_eq(&resize(pk.inner.n.as_ref(), wide));
        if !declassify(n_matches) {
            return bad("p * q does not equal the public modulus n");
        }
        // |p - q| > 2^(half - 100), or n falls to Fermat's method. The shift is public.
        let p_lt_q = p.ct_lt(q);
        let d1 = Zeroizing::new(p.wrapping_sub(q));
        let d2 = Zeroizing::new(q.wrapping_sub(p));
        let diff = Zeroizing::new(crypto_bigint::CtSelect::ct_select(&*d1, &*d2, p_lt_q));
        let far = diff
            .wrapping_shr_vartime(half.saturating_sub(100))
            .is_nonzero();
        if !declassify(far) {
            return bad("|p - q| <= 2^(bits(p) - 100): n could be factored by Fermat's method");
        }
        let (pp, ok_p) = PrimePart::new(p, q, half);
        let (qp, ok_q) = PrimePart::new(q, p, half);
        if !declassify(ok_p.and(ok_q)) {
            return bad("p and q must be odd and coprime (they are not the factors of a key)");
        }
        // CRT constants, all by constant-time Montgomery inversion.
        let q_mod_p = BoxedMontyForm::new(q.clone(), &pp.params_p);
        let p_mod_q = BoxedMontyForm::new(p.clone(), &qp.params_p);
        let (q_inv_p, ok_a) = ct_take(q_mod_p.invert());
        let qq = Zeroizing::new(q.concatenating_mul(q));
        let mut qq_form = BoxedMontyForm::new((*qq).clone(), &pp.params_pp);
        let (qq_inv_pp, ok_b) = ct_take(qq_form.invert());
        qq_form.zeroize();
        // phi = n - p - q + 1 < n.
        let prec_n = pk.inner.prec_n;
        let (p_wide, q_wide) = (
            Zeroizing::new(resize(p, prec_n)),
            Zeroizing::new(resize(q, prec_n)),
        );
        let phi = pk
            .inner
            .n
            .as_ref()
            .wrapping_sub(&*p_wide)
            .wrapping_sub(&*q_wide)
            .wrapping_add(BoxedUint::one_with_precision(prec_n));
        let mut phi_form = BoxedMontyForm::new(phi.clone(), &pk.inner.params_n);
        let (mu, ok_c) = ct_take(phi_form.invert());
        phi_form.zeroize();
        let (n_inv_2k, _) = pk.inner.n.as_ref().invert_mod2k(prec_n);
        // Built before the last check so that a refused key is wiped on drop.
        let sk = SecretKey {
            pk,
            p: pp,
            q: qp,
            q_inv_p,
            q_mod_p,
            p_mod_q,
            qq_inv_pp,
            phi,
            mu,
            n_inv_2k,
        };
        let ok = ok_a.and(ok_b).and(ok_c);
        if !declassify(ok) {
            return bad("gcd(n, (p-1)(q-1)) != 1 or q is not invertible mod p");
        }
        Ok(sk)
    }
}

/// The checks of [`SecretKey::from_primes`] (and of a verified load). Variable time in p
/// and q: num-bigint arithmetic and the primality tests.
pub(crate) fn validate_factors_vartime(p: &BigUint, q: &BigUint) -> Result<()> {
    if p == q {
        return bad("p = q");
    }
    let (bp, bq) = (p.bits(), q.bits());
    if bp != bq {
        return bad(&format!("p and q have unequal sizes ({bp} and {bq} bits)"));
    }
    let n = p * q;
    let nbits = u32::try_from(n.bits()).unwrap_or(u32::MAX);
    if nbits < MIN_MODULUS_BITS {
        return bad(&format!(
            "n has {nbits} bits; at least {MIN_MODULUS_BITS} are required"
        ));
    }
    if nbits > MAX_MODULUS_BITS {
        return bad(&format!(
            "n has {nbits} bits; at most {MAX_MODULUS_BITS} are supported"
        ));
    }
    if u64::from(nbits) != bp + bq {
        return bad("n = pq is shorter than bits(p) + bits(q)");
    }
    let diff = if p > q { p - q } else { q - p };
    if diff.bits() <= bp.saturating_sub(100) {
        return bad("|p - q| <= 2^(bits(p) - 100): n could be factored by Fermat's method");
    }
    for (name, x) in [("p", p), ("q", q)] {
        if !super::keygen::is_prime_checked_vartime(x) {
            return bad(&format!("{name} is not prime"));
        }
    }
    let phi = (p - 1u32) * (q - 1u32);
    if !n.gcd(&phi).is_one() {
        return bad("gcd(n, (p-1)(q-1)) != 1");
    }
    Ok(())
}
