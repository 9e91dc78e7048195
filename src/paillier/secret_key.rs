//! The Paillier secret key: CRT decryption and key-owner encryption, in constant time.
//! Building a key from its factors is in `load.rs`.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Choice, ConcatenatingMul, Odd};
use num_bigint::BigUint;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{Ciphertext, Nonce, Plaintext, PublicKey};
use crate::bigint::{ct_take, resize, to_biguint_vartime};
use crate::error::Result;

/// Precomputed constants for one prime factor (p or q), wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
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
    /// The constants for prime p (with the other prime q, of the same precision), all
    /// derived with crypto-bigint's constant-time operations: Montgomery parameters,
    /// 2-adic inverse, safegcd inversion. The choice is false when p is even or
    /// (p-1) q is not invertible mod p (then the values are placeholders to discard).
    ///
    /// # Security
    /// Constant time in p and q, except for one branch inside crypto-bigint's
    /// `BoxedMontyParams::new` on whether R mod p = p - 1 (true for no prime p of the sizes
    /// we accept; the valgrind harness suppresses that one report by name).
    pub(crate) fn new(p: &BoxedUint, q: &BoxedUint, bits: u32) -> (Self, Choice) {
        let prec = p.bits_precision();
        // For an even p the placeholder 1 is used (and the key refused).
        let (p_odd, mut ok) = ct_take(Odd::new(p.clone()));
        let p = p_odd.as_ref().clone();
        let pp = p.concatenating_mul(&p);
        // p^2 is odd when p is.
        let (pp_odd, _) = ct_take(Odd::new(pp.clone()));
        let params_p = BoxedMontyParams::new(p_odd);
        let params_pp = BoxedMontyParams::new(pp_odd);
        let pm1 = p.wrapping_sub(BoxedUint::one_with_precision(prec));
        let (p_inv_2k, _) = p.invert_mod2k(prec);
        // g^(p-1) mod p^2 with g = n + 1 is 1 + (p-1) n mod p^2, so L_p of it is
        // ((p-1) n / p) mod p = (p-1) q mod p = -q mod p; h_p is its inverse.
        let mut qf = BoxedMontyForm::new(q.clone(), &params_p);
        let mut lp = qf.neg();
        qf.zeroize();
        let (hp, inverted) = ct_take(lp.invert());
        lp.zeroize();
        ok = ok.and(inverted);
        let part = PrimePart {
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
        };
        (part, ok)
    }

    /// m_p = L_p(c^(p-1) mod p^2) * h_p mod p. Constant time; intermediates are wiped.
    fn half_decrypt(&self, c: &BoxedUint) -> BoxedUint {
        let mut cf = reduce(c, &self.params_pp, &self.r_pp);
        let mut xf = crate::monty::pow(&cf, &self.pm1, self.bits);
        cf.zeroize();
        let x = Zeroizing::new(xf.retrieve());
        xf.zeroize();
        // x = 1 + L p with L < p: the exact quotient is (x - 1) * p^-1 mod 2^prec.
        let xm1 = Zeroizing::new(x.wrapping_sub(BoxedUint::one_with_precision(x.bits_precision())));
        let l = resize(&xm1, self.prec).wrapping_mul(&self.p_inv_2k);
        let mut lf = BoxedMontyForm::new(l, &self.params_p) * &self.hp;
        let m = lf.retrieve();
        lf.zeroize();
        m
    }

    /// A uniform n-th residue modulo p^2 and g^m mod p^2, multiplied. Constant time;
    /// intermediates are wiped.
    ///
    /// The n-th residues modulo p^2 form the subgroup of order p - 1; u -> u^p maps
    /// Z*_p onto it uniformly, so (u mod p)^p has the distribution of r^n mod p^2.
    fn half_encrypt(&self, m: &BoxedUint, q_mod_p: &BoxedMontyForm, r: &BoxedUint) -> BoxedUint {
        let wide = self.pp.bits_precision();
        // g^m = 1 + m n = 1 + p (m q mod p)  (mod p^2)
        let mut m_p = reduce(m, &self.params_p, &self.r_p);
        let mut mq = m_p.clone() * q_mod_p;
        m_p.zeroize();
        let a = Zeroizing::new(mq.retrieve());
        mq.zeroize();
        let gm = self
            .p
            .concatenating_mul(&*a)
            .wrapping_add(BoxedUint::one_with_precision(wide));
        // u = r mod p, then lifted to p^2's precision (u < p < p^2).
        let mut uf = reduce(r, &self.params_p, &self.r_p);
        let u = resize(&Zeroizing::new(uf.retrieve()), wide);
        uf.zeroize();
        let mut uf = BoxedMontyForm::new(u, &self.params_pp);
        let mut s = crate::monty::pow(&uf, &self.p, self.bits);
        uf.zeroize();
        let mut gmf = BoxedMontyForm::new(gm, &self.params_pp);
        let mut c = gmf.clone() * &s;
        gmf.zeroize();
        s.zeroize();
        let out = c.retrieve();
        c.zeroize();
        out
    }
}

/// The Montgomery form of R mod m, where R = 2^precision is the Montgomery radix.
fn radix_form(params: &BoxedMontyParams) -> BoxedMontyForm {
    BoxedMontyForm::new(BoxedMontyForm::one(params).as_montgomery().clone(), params)
}

/// x mod m in Montgomery form, for x below R^2, without dividing by the (secret) modulus:
/// x = hi R + lo, so [x] = [hi] [R] + [lo]. Constant time.
pub(crate) fn reduce(
    x: &BoxedUint,
    params: &BoxedMontyParams,
    r_form: &BoxedMontyForm,
) -> BoxedMontyForm {
    let k = params.bits_precision();
    let wide = Zeroizing::new(resize(x, 2 * k));
    let lo = resize(&wide, k);
    // The shift amount is public.
    let hi = resize(&Zeroizing::new(wide.wrapping_shr_vartime(k)), k);
    let mut hf = BoxedMontyForm::new(hi, params) * r_form;
    let mut lf = BoxedMontyForm::new(lo, params);
    let out = hf.clone() + &lf;
    hf.zeroize();
    lf.zeroize();
    out
}

/// A Paillier secret key: the factors p and q with every constant CRT decryption needs
/// (h_p, h_q, q^-1 mod p, (q^2)^-1 mod p^2), and phi = (p-1)(q-1) with mu = phi^-1 mod n
/// for the textbook cross-check.
///
/// # Security
/// - Not `Clone` and not `Copy`; its `Debug` is redacted.
/// - Every operation on it is constant time (crypto-bigint Montgomery arithmetic with
///   public exponent lengths), and so is building it from its factors (see
///   [`SecretKey::from_be_bytes`]); checked under valgrind in CI (`tests/ct/`).
/// - Zeroized on drop, with one exception we cannot reach: crypto-bigint 0.7's
///   `BoxedMontyParams` (the Montgomery constants for p, q, p^2 and q^2, held behind an
///   `Arc`) implements no `Zeroize`, so those copies of the moduli are freed unwiped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    #[zeroize(skip)]
    pub(crate) pk: PublicKey,
    pub(crate) p: PrimePart,
    pub(crate) q: PrimePart,
    /// q^-1 mod p (Montgomery form mod p), for the plaintext CRT.
    pub(crate) q_inv_p: BoxedMontyForm,
    /// q mod p (Montgomery form mod p) and p mod q, for g^m in key-owner encryption.
    pub(crate) q_mod_p: BoxedMontyForm,
    pub(crate) p_mod_q: BoxedMontyForm,
    /// (q^2)^-1 mod p^2 (Montgomery form mod p^2), for the ciphertext CRT.
    pub(crate) qq_inv_pp: BoxedMontyForm,
    /// phi = (p-1)(q-1) and mu = phi^-1 mod n (textbook decryption: any multiple of
    /// lambda works, and phi = n - p - q + 1 needs no gcd or division to derive).
    pub(crate) phi: BoxedUint,
    pub(crate) mu: BoxedMontyForm,
    pub(crate) n_inv_2k: BoxedUint,
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
    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.pk
    }

    /// The factors (p, q), for serialization. Variable time: the caller now holds the
    /// secret in a num-bigint value, which does not zeroize.
    pub fn primes_vartime(&self) -> (BigUint, BigUint) {
        (to_biguint_vartime(&self.p.p), to_biguint_vartime(&self.q.p))
    }

    /// The factors (p, q) as fixed-width big-endian bytes (each prime's limb precision),
    /// wiped on drop. Constant time.
    pub fn primes_be_bytes(&self) -> (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>) {
        (
            Zeroizing::new(self.p.p.to_be_bytes().into_vec()),
            Zeroizing::new(self.q.p.to_be_bytes().into_vec()),
        )
    }

    /// CRT decryption: m_p = L_p(c^(p-1) mod p^2) h_p mod p, likewise for q, recombined.
    ///
    /// # Errors
    /// [`crate::Error::KeyMismatch`] when c was made under another key.
    ///
    /// # Security
    /// Constant time in the key and the plaintext.
    pub fn decrypt(&self, c: &Ciphertext) -> Result<Plaintext> {
        self.pk.check(c)?;
        Ok(self.decrypt_raw(&c.value.retrieve()))
    }

    /// CRT decryption with the halves mod p^2 and mod q^2 on two threads (rayon's pool):
    /// the same work as [`SecretKey::decrypt`], about half the latency on an idle
    /// machine with two free cores.
    ///
    /// # Errors
    /// [`crate::Error::KeyMismatch`] when c was made under another key.
    ///
    /// # Security
    /// Constant time in the key and the plaintext (each half is).
    pub fn decrypt_parallel(&self, c: &Ciphertext) -> Result<Plaintext> {
        self.pk.check(c)?;
        let c = c.value.retrieve();
        let (m_p, m_q) = rayon::join(|| self.p.half_decrypt(&c), || self.q.half_decrypt(&c));
        Ok(self.recombine(m_p, Zeroizing::new(m_q)))
    }

    fn decrypt_raw(&self, c: &BoxedUint) -> Plaintext {
        let m_p = self.p.half_decrypt(c);
        let m_q = Zeroizing::new(self.q.half_decrypt(c));
        self.recombine(m_p, m_q)
    }

    /// m from m_p = m mod p and m_q = m mod q (Garner).
    fn recombine(&self, m_p: BoxedUint, m_q: Zeroizing<BoxedUint>) -> Plaintext {
        // m = m_q + q ((m_p - m_q) q^-1 mod p)
        // p and q have equal sizes, so m_q < q < R_p and Montgomery conversion reduces it.
        let mut mpf = BoxedMontyForm::new(m_p, &self.p.params_p);
        let mut mqf = BoxedMontyForm::new(resize(&m_q, self.p.prec), &self.p.params_p);
        let mut diff = mpf.clone() - &mqf;
        mpf.zeroize();
        mqf.zeroize();
        let mut tf = diff.clone() * &self.q_inv_p;
        diff.zeroize();
        let t = Zeroizing::new(tf.retrieve());
        tf.zeroize();
        let prec_n = self.pk.inner.prec_n;
        let qt = Zeroizing::new(resize(
            &Zeroizing::new(self.q.p.concatenating_mul(&*t)),
            prec_n,
        ));
        Plaintext {
            value: qt.wrapping_add(&*Zeroizing::new(resize(&m_q, prec_n))),
            key: self.pk.inner.id,
        }
    }

    /// Textbook decryption m = L(c^phi mod n^2) * mu mod n: about four times slower than
    /// [`SecretKey::decrypt`]; a cross-check.
    ///
    /// # Errors
    /// [`crate::Error::KeyMismatch`] when c was made under another key.
    ///
    /// # Security
    /// Constant time.
    pub fn decrypt_textbook(&self, c: &Ciphertext) -> Result<Plaintext> {
        self.pk.check(c)?;
        let inner = &self.pk.inner;
        let mut xf = crate::monty::pow(&c.value, &self.phi, inner.bits);
        let x = Zeroizing::new(xf.retrieve());
        xf.zeroize();
        let xm1 = Zeroizing::new(x.wrapping_sub(BoxedUint::one_with_precision(inner.prec_n2)));
        let l = resize(&xm1, inner.prec_n).wrapping_mul(&self.n_inv_2k);
        let mut mf = BoxedMontyForm::new(l, &inner.params_n) * &self.mu;
        let m = mf.retrieve();
        mf.zeroize();
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
    /// [`crate::Error::KeyMismatch`] when m was made for another key.
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
    /// [`crate::Error::KeyMismatch`] when m or r was made for another key.
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
        let c_q = Zeroizing::new(self.q.half_encrypt(&m.value, &self.p_mod_q, &r.value));
        // c = c_q + q^2 ((c_p - c_q) (q^2)^-1 mod p^2)   (mod n^2)
        // c_q < q^2 < R_{p^2} (equal sizes): Montgomery conversion reduces it mod p^2.
        let wide_p = self.p.pp.bits_precision();
        let mut cpf = BoxedMontyForm::new(c_p, &self.p.params_pp);
        let mut cqf = BoxedMontyForm::new(resize(&c_q, wide_p), &self.p.params_pp);
        let mut diff = cpf.clone() - &cqf;
        cpf.zeroize();
        cqf.zeroize();
        let mut tf = diff.clone() * &self.qq_inv_pp;
        diff.zeroize();
        let t = Zeroizing::new(tf.retrieve());
        tf.zeroize();
        let prec_n2 = self.pk.inner.prec_n2;
        let qqt = Zeroizing::new(self.q.pp.concatenating_mul(&*t));
        let cq_wide = Zeroizing::new(resize(&c_q, prec_n2));
        let c = Zeroizing::new(resize(&qqt, prec_n2)).wrapping_add(&*cq_wide);
        Ciphertext {
            value: BoxedMontyForm::new(c, &self.pk.inner.params_n2),
            key: self.pk.inner.id,
        }
    }

    #[doc(hidden)]
    /// Address and length of every secret limb buffer this key owns (p, q, p^2, q^2, p-1,
    /// q-1, the 2-adic inverses, h_p, h_q, the Montgomery radixes, the CRT constants, phi
    /// and mu, and the modulus, R and R^2 inside each Montgomery parameter set), for the
    /// valgrind constant-time harness.
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
            for params in [&part.params_p, &part.params_pp] {
                let mp = params.as_ref();
                v.push(reg(params.modulus().as_ref()));
                v.push(reg(mp.one()));
                v.push(reg(mp.r2()));
            }
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
        v.push(reg(&self.phi));
        v
    }
}
