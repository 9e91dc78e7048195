//! The Paillier secret key: CRT decryption and key-owner encryption, in constant time.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, ConcatenatingMul, Odd};
use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::One;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Ciphertext, Nonce, Plaintext, PublicKey};
use crate::bigint::{limb_precision, resize, to_biguint_vartime, to_boxed_vartime};
use crate::error::{Error, Result};

/// Precomputed constants for one prime factor (p or q).
#[derive(Zeroize)]
pub(crate) struct PrimePart {
    pub(crate) bits: u32,
    pub(crate) prec: u32,
    /// The prime.
    pub(crate) p: BoxedUint,
    /// p^2 (precision 2 * prec).
    pub(crate) pp: BoxedUint,
    /// p - 1, the half-length decryption exponent.
    pub(crate) pm1: BoxedUint,
    /// p^-1 mod 2^prec, for the exact division in L_p.
    pub(crate) p_inv_2k: BoxedUint,
    /// h_p = L_p(g^(p-1) mod p^2)^-1 mod p, in Montgomery form mod p.
    pub(crate) hp: BoxedMontyForm,
    /// R mod p and R' mod p^2 (the Montgomery radixes) in Montgomery form: reducing a
    /// wider integer x = hi R + lo is then hi * [R] + lo, with no division by a secret.
    pub(crate) r_p: BoxedMontyForm,
    pub(crate) r_pp: BoxedMontyForm,
    /// Montgomery parameters mod p and mod p^2.
    /// crypto-bigint 0.7 gives `BoxedMontyParams` no `Zeroize`: see `SecretKey`'s docs.
    #[zeroize(skip)]
    pub(crate) params_p: BoxedMontyParams,
    #[zeroize(skip)]
    pub(crate) params_pp: BoxedMontyParams,
}

impl PrimePart {
    fn new(p_big: &BigUint, n_big: &BigUint) -> Self {
        let bits = u32::try_from(p_big.bits()).unwrap_or(u32::MAX);
        let prec = limb_precision(bits);
        // Fits by construction of prec; p is odd (checked by the caller).
        let p = to_boxed_vartime(p_big, prec).expect("p fits");
        let pp = p.concatenating_mul(&p);
        let params_p = BoxedMontyParams::new(Odd::new(p.clone()).expect("p is odd"));
        let params_pp = BoxedMontyParams::new(Odd::new(pp.clone()).expect("p^2 is odd"));
        let pm1 = p.wrapping_sub(BoxedUint::one_with_precision(prec));
        let (p_inv_2k, _) = p.invert_mod2k(prec);
        // g^(p-1) mod p^2 with g = n + 1 is 1 + (p-1) n mod p^2, so L_p of it is
        // ((p-1) n / p) mod p = (p-1) q mod p. Computed once, at load, with num-bigint.
        let q_big = n_big / p_big;
        let lp = ((p_big - 1u32) * &q_big) % p_big;
        let hp_big = lp
            .modinv(p_big)
            .expect("(p-1) q is invertible mod p since p does not divide q");
        let hp = BoxedMontyForm::new(to_boxed_vartime(&hp_big, prec).expect("h_p < p"), &params_p);
        PrimePart {
            bits,
            prec,
            p,
            pp,
            pm1,
            p_inv_2k,
            hp,
            r_p: radix_form(&params_p),
            r_pp: radix_form(&params_pp),
            params_p,
            params_pp,
        }
    }

    /// m_p = L_p(c^(p-1) mod p^2) * h_p mod p. Constant time.
    fn half_decrypt(&self, c: &BoxedUint) -> BoxedUint {
        let x = reduce(c, &self.params_pp, &self.r_pp)
            .pow_bounded_exp(&self.pm1, self.bits)
            .retrieve();
        // x = 1 + L p with L < p: the exact quotient is (x - 1) * p^-1 mod 2^prec.
        let xm1 = x.wrapping_sub(BoxedUint::one_with_precision(x.bits_precision()));
        let l = resize(&xm1, self.prec).wrapping_mul(&self.p_inv_2k);
        (BoxedMontyForm::new(l, &self.params_p) * &self.hp).retrieve()
    }

    /// A uniform n-th residue modulo p^2 and g^m mod p^2, multiplied. Constant time.
    ///
    /// The n-th residues modulo p^2 form the subgroup of order p - 1; u -> u^p maps
    /// Z*_p onto it uniformly, so (u mod p)^p has the distribution of r^n mod p^2.
    fn half_encrypt(&self, m: &BoxedUint, q_mod_p: &BoxedMontyForm, r: &BoxedUint) -> BoxedUint {
        let wide = self.pp.bits_precision();
        // g^m = 1 + m n = 1 + p (m q mod p)  (mod p^2)
        let m_p = reduce(m, &self.params_p, &self.r_p);
        let a = (m_p * q_mod_p).retrieve();
        let gm = self
            .p
            .concatenating_mul(&a)
            .wrapping_add(BoxedUint::one_with_precision(wide));
        // u = r mod p, then lifted to p^2's precision (u < p < p^2).
        let u = resize(&reduce(r, &self.params_p, &self.r_p).retrieve(), wide);
        let s = BoxedMontyForm::new(u, &self.params_pp).pow_bounded_exp(&self.p, self.bits);
        (BoxedMontyForm::new(gm, &self.params_pp) * s).retrieve()
    }
}

/// The Montgomery form of R mod m, where R = 2^precision is the Montgomery radix.
fn radix_form(params: &BoxedMontyParams) -> BoxedMontyForm {
    BoxedMontyForm::new(BoxedMontyForm::one(params).as_montgomery().clone(), params)
}

/// x mod m in Montgomery form, for x below R^2, without dividing by the (secret) modulus:
/// x = hi R + lo, so [x] = [hi] [R] + [lo]. Constant time.
fn reduce(x: &BoxedUint, params: &BoxedMontyParams, r_form: &BoxedMontyForm) -> BoxedMontyForm {
    let k = params.bits_precision();
    let wide = resize(x, 2 * k);
    let lo = resize(&wide, k);
    // The shift amount is public.
    let hi = resize(&wide.wrapping_shr_vartime(k), k);
    BoxedMontyForm::new(hi, params) * r_form + BoxedMontyForm::new(lo, params)
}

/// A Paillier secret key: the factors p and q with every constant CRT decryption needs
/// (lambda = lcm(p-1, q-1), mu = lambda^-1 mod n, h_p, h_q, q^-1 mod p, (q^2)^-1 mod p^2).
///
/// # Security
/// - Not `Clone` and not `Copy`; its `Debug` is redacted.
/// - Every operation on it is constant time (crypto-bigint Montgomery arithmetic with
///   public exponent lengths); checked under valgrind in CI (`tests/ct/`).
/// - Zeroized on drop, with one exception we cannot reach: crypto-bigint 0.7's
///   `BoxedMontyParams` (the Montgomery constants for p, q, p^2 and q^2, held behind an
///   `Arc`) implements no `Zeroize`, so those copies of the moduli are freed unwiped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    #[zeroize(skip)]
    pk: PublicKey,
    pub(crate) p: PrimePart,
    pub(crate) q: PrimePart,
    /// q^-1 mod p (Montgomery form mod p), for the plaintext CRT.
    q_inv_p: BoxedMontyForm,
    /// q mod p (Montgomery form mod p) and p mod q, for g^m in key-owner encryption.
    q_mod_p: BoxedMontyForm,
    p_mod_q: BoxedMontyForm,
    /// (q^2)^-1 mod p^2 (Montgomery form mod p^2), for the ciphertext CRT.
    qq_inv_pp: BoxedMontyForm,
    /// lambda = lcm(p-1, q-1) and mu = lambda^-1 mod n (textbook decryption).
    lambda: BoxedUint,
    mu: BoxedMontyForm,
    n_inv_2k: BoxedUint,
}

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecretKey")
            .field("public", &self.pk)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl SecretKey {
    /// Builds and validates a secret key from its factors.
    ///
    /// Checks: p and q prime (Baillie-PSW plus Miller-Rabin rounds with random bases),
    /// p != q, equal bit lengths, n = pq of at least [`super::MIN_MODULUS_BITS`] bits with
    /// exactly bits(p) + bits(q) bits, |p - q| > 2^(bits(p) - 100), gcd(n, (p-1)(q-1)) = 1.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] naming the failed check.
    pub fn from_primes(p: &BigUint, q: &BigUint) -> Result<Self> {
        validate_factors(p, q)?;
        Ok(Self::from_primes_unchecked(p, q))
    }

    /// Builds the key from factors already validated (key generation).
    pub(crate) fn from_primes_unchecked(p_big: &BigUint, q_big: &BigUint) -> Self {
        let n_big = p_big * q_big;
        let pk = PublicKey::from_modulus_unchecked(&n_big);
        let p = PrimePart::new(p_big, &n_big);
        let q = PrimePart::new(q_big, &n_big);
        // Public-key-sized constants derived with num-bigint at load time.
        let q_inv_p_big = q_big.modinv(p_big).expect("q invertible mod p");
        let q_inv_p = BoxedMontyForm::new(
            to_boxed_vartime(&q_inv_p_big, p.prec).expect("fits"),
            &p.params_p,
        );
        let q_mod_p = BoxedMontyForm::new(
            to_boxed_vartime(&(q_big % p_big), p.prec).expect("fits"),
            &p.params_p,
        );
        let p_mod_q = BoxedMontyForm::new(
            to_boxed_vartime(&(p_big % q_big), q.prec).expect("fits"),
            &q.params_p,
        );
        let pp_big = p_big * p_big;
        let qq_big = q_big * q_big;
        let qq_inv_pp_big = (&qq_big % &pp_big)
            .modinv(&pp_big)
            .expect("q^2 invertible mod p^2");
        let qq_inv_pp = BoxedMontyForm::new(
            to_boxed_vartime(&qq_inv_pp_big, 2 * p.prec).expect("fits"),
            &p.params_pp,
        );
        let lambda_big = (p_big - 1u32).lcm(&(q_big - 1u32));
        let mu_big = (&lambda_big % &n_big)
            .modinv(&n_big)
            .expect("gcd(n, phi) = 1");
        let prec_n = pk.inner.prec_n;
        let lambda = to_boxed_vartime(&lambda_big, prec_n).expect("fits");
        let mu = BoxedMontyForm::new(
            to_boxed_vartime(&mu_big, prec_n).expect("fits"),
            &pk.inner.params_n,
        );
        let (n_inv_2k, _) = pk.inner.n.as_ref().invert_mod2k(prec_n);
        SecretKey {
            pk,
            p,
            q,
            q_inv_p,
            q_mod_p,
            p_mod_q,
            qq_inv_pp,
            lambda,
            mu,
            n_inv_2k,
        }
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.pk
    }

    /// The factors (p, q), for serialization. Variable time: the caller now holds the
    /// secret in a num-bigint value, which does not zeroize.
    pub fn primes_vartime(&self) -> (BigUint, BigUint) {
        (to_biguint_vartime(&self.p.p), to_biguint_vartime(&self.q.p))
    }

    /// CRT decryption: m_p = L_p(c^(p-1) mod p^2) h_p mod p, likewise for q, recombined.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when c was made under another key.
    ///
    /// # Security
    /// Constant time in the key and the plaintext.
    pub fn decrypt(&self, c: &Ciphertext) -> Result<Plaintext> {
        self.pk.check(c)?;
        Ok(self.decrypt_raw(&c.value.retrieve()))
    }

    fn decrypt_raw(&self, c: &BoxedUint) -> Plaintext {
        let m_p = self.p.half_decrypt(c);
        let m_q = self.q.half_decrypt(c);
        // m = m_q + q ((m_p - m_q) q^-1 mod p)
        // p and q have equal sizes, so m_q < q < R_p and Montgomery conversion reduces it.
        let diff = BoxedMontyForm::new(m_p, &self.p.params_p)
            - BoxedMontyForm::new(resize(&m_q, self.p.prec), &self.p.params_p);
        let t = (diff * &self.q_inv_p).retrieve();
        let prec_n = self.pk.inner.prec_n;
        let qt = resize(&self.q.p.concatenating_mul(&t), prec_n);
        Plaintext {
            value: qt.wrapping_add(resize(&m_q, prec_n)),
            key: self.pk.inner.id,
        }
    }

    /// Textbook decryption m = L(c^lambda mod n^2) * mu mod n: about four times slower than
    /// [`SecretKey::decrypt`]; a cross-check.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when c was made under another key.
    ///
    /// # Security
    /// Constant time.
    pub fn decrypt_textbook(&self, c: &Ciphertext) -> Result<Plaintext> {
        self.pk.check(c)?;
        let inner = &self.pk.inner;
        let x = c.value.pow_bounded_exp(&self.lambda, inner.bits).retrieve();
        let xm1 = x.wrapping_sub(BoxedUint::one_with_precision(inner.prec_n2));
        let l = resize(&xm1, inner.prec_n).wrapping_mul(&self.n_inv_2k);
        let m = (BoxedMontyForm::new(l, &inner.params_n) * &self.mu).retrieve();
        Ok(Plaintext {
            value: m,
            key: inner.id,
        })
    }

    /// Key-owner encryption by CRT: g^m s_p mod p^2 and g^m s_q mod q^2 with half-length
    /// exponents, recombined modulo n^2. The result has the distribution of a public-key
    /// encryption (a uniform n-th residue times g^m), at about a quarter of the cost.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when m was made for another key.
    ///
    /// # Security
    /// Constant time in m, r and the key.
    pub fn encrypt<R: CryptoRng + ?Sized>(&self, m: &Plaintext, rng: &mut R) -> Result<Ciphertext> {
        self.pk.check_plaintext(m)?;
        let r = Nonce::random(&self.pk, rng);
        Ok(self.encrypt_crt(m, &r))
    }

    /// Key-owner encryption with caller-supplied randomness (see [`SecretKey::encrypt`]).
    /// The ciphertext differs from `PublicKey::encrypt_with_nonce` with the same r, but has
    /// the same distribution.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when m or r was made for another key.
    ///
    /// # Security
    /// Constant time in m, r and the key.
    pub fn encrypt_with_nonce(&self, m: &Plaintext, r: &Nonce) -> Result<Ciphertext> {
        self.pk.check_plaintext(m)?;
        self.pk.check_nonce(r)?;
        Ok(self.encrypt_crt(m, r))
    }

    /// The CRT encryption itself (key checked by the callers).
    pub(crate) fn encrypt_crt(&self, m: &Plaintext, r: &Nonce) -> Ciphertext {
        let c_p = self.p.half_encrypt(&m.value, &self.q_mod_p, &r.value);
        let c_q = self.q.half_encrypt(&m.value, &self.p_mod_q, &r.value);
        // c = c_q + q^2 ((c_p - c_q) (q^2)^-1 mod p^2)   (mod n^2)
        // c_q < q^2 < R_{p^2} (equal sizes): Montgomery conversion reduces it mod p^2.
        let wide_p = self.p.pp.bits_precision();
        let diff = BoxedMontyForm::new(c_p, &self.p.params_pp)
            - BoxedMontyForm::new(resize(&c_q, wide_p), &self.p.params_pp);
        let t = (diff * &self.qq_inv_pp).retrieve();
        let prec_n2 = self.pk.inner.prec_n2;
        let c =
            resize(&self.q.pp.concatenating_mul(&t), prec_n2).wrapping_add(resize(&c_q, prec_n2));
        Ciphertext {
            value: BoxedMontyForm::new(c, &self.pk.inner.params_n2),
            key: self.pk.inner.id,
        }
    }

    #[doc(hidden)]
    /// Address and length of every secret limb buffer this key owns (p, q, p^2, q^2, p-1,
    /// q-1, the 2-adic inverses, h_p, h_q, the CRT constants, lambda and mu, and the moduli
    /// inside the Montgomery parameters), for the valgrind constant-time harness.
    pub fn secret_regions(&self) -> Vec<(usize, usize)> {
        fn reg(x: &BoxedUint) -> (usize, usize) {
            let w = x.as_words();
            (w.as_ptr() as usize, core::mem::size_of_val(w))
        }
        let mut v = Vec::new();
        for part in [&self.p, &self.q] {
            for x in [&part.p, &part.pp, &part.pm1, &part.p_inv_2k] {
                v.push(reg(x));
            }
            v.push(reg(part.hp.as_montgomery()));
            v.push(reg(part.r_p.as_montgomery()));
            v.push(reg(part.r_pp.as_montgomery()));
            v.push(reg(part.params_p.modulus().as_ref()));
            v.push(reg(part.params_pp.modulus().as_ref()));
        }
        for x in [
            &self.q_inv_p,
            &self.q_mod_p,
            &self.p_mod_q,
            &self.qq_inv_pp,
            &self.mu,
        ] {
            v.push(reg(x.as_montgomery()));
        }
        v.push(reg(&self.lambda));
        v
    }
}

/// The checks `SecretKey::from_primes` makes (also used by key generation's tests).
pub(crate) fn validate_factors(p: &BigUint, q: &BigUint) -> Result<()> {
    let bad = |m: &str| Err(Error::InvalidKey(m.to_string()));
    if p == q {
        return bad("p = q");
    }
    let (bp, bq) = (p.bits(), q.bits());
    if bp != bq {
        return bad(&format!("p and q have unequal sizes ({bp} and {bq} bits)"));
    }
    let n = p * q;
    let nbits = u32::try_from(n.bits()).unwrap_or(u32::MAX);
    if nbits < super::MIN_MODULUS_BITS {
        return bad(&format!(
            "n has {nbits} bits; at least {} are required",
            super::MIN_MODULUS_BITS
        ));
    }
    if nbits > super::MAX_MODULUS_BITS {
        return bad(&format!(
            "n has {nbits} bits; at most {} are supported",
            super::MAX_MODULUS_BITS
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
        if !super::keygen::is_prime_checked(x) {
            return bad(&format!("{name} is not prime"));
        }
    }
    let phi = (p - 1u32) * (q - 1u32);
    if !n.gcd(&phi).is_one() {
        return bad("gcd(n, (p-1)(q-1)) != 1");
    }
    Ok(())
}
