//! shroud's own Montgomery arithmetic for the sizes Paillier uses, behind the one interface
//! every secret exponentiation goes through.
//!
//! crypto-bigint stays the representation ([`BoxedMontyForm`], same radix R = 2^(64 N)) and
//! does everything else; this module takes over the exponentiations, where nearly all the
//! time goes:
//! - kernels specialised by const generics to the limb counts of 1024- to 4096-bit keys
//!   (p, p^2, n, n^2: 8, 12, 16, 24, 32, 48, 64, 96 and 128 limbs), with a dedicated
//!   squaring; other sizes fall back to crypto-bigint;
//! - a fixed window of 5 bits with a table read that touches every entry;
//! - two backends for the one row primitive (`t += x v`): portable safe Rust, and on
//!   x86-64 CPUs with BMI2 and ADX, MULX with ADCX/ADOX carry chains (`mulx.rs`, the
//!   crate's only `unsafe` module), chosen at run time.
//!
//! Setting the environment variable `SHROUD_ARITH=portable` forces the portable backend
//! (CI runs the whole test suite a second time that way, so neither path can rot);
//! `SHROUD_ARITH=mulx` runs the MULX kernel where CPUID hides ADX (valgrind does: the
//! constant-time harness uses it).
//!
//! # Security
//! Constant time in the bases, the exponents and the modulus (which is secret for p and
//! p^2): no branch or address depends on them; exponent lengths are public. Temporaries
//! and tables are wiped. Checked under valgrind (`tests/ct/`) on both backends.

use std::sync::OnceLock;

use crypto_bigint::BoxedUint;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use zeroize::{Zeroize, Zeroizing};

mod exp;
mod kernel;
#[cfg(target_arch = "x86_64")]
mod mulx;

use exp::Mod;
use kernel::Portable;
#[cfg(target_arch = "x86_64")]
use mulx::Mulx;

/// Which row kernel the Montgomery arithmetic runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// Safe Rust with 128-bit products; every CPU.
    Portable,
    /// x86-64 MULX with ADCX/ADOX dual carry chains (BMI2 and ADX).
    Mulx,
}

impl Backend {
    /// The backend's name as the benchmarks print it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::Mulx => "mulx-adx",
        }
    }

    /// Whether this CPU can run the backend.
    pub fn available(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Mulx => mulx::available(),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Mulx => false,
        }
    }
}

/// The backend in use: the fastest available, unless `SHROUD_ARITH=portable` is set.
/// Decided once per process.
pub fn backend() -> Backend {
    static CHOSEN: OnceLock<Backend> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let forced = std::env::var("SHROUD_ARITH").is_ok_and(|v| v == "portable");
        if !forced && Backend::Mulx.available() {
            Backend::Mulx
        } else {
            Backend::Portable
        }
    })
}

/// Runs `$f::<N, 2N>($args..)` for the limb counts with specialised kernels, as
/// `Some(result)`, or `None` for any other size.
macro_rules! by_size {
    ($limbs:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $limbs {
            8 => Some($f::<8, 16>($($arg),*)),
            12 => Some($f::<12, 24>($($arg),*)),
            16 => Some($f::<16, 32>($($arg),*)),
            24 => Some($f::<24, 48>($($arg),*)),
            32 => Some($f::<32, 64>($($arg),*)),
            48 => Some($f::<48, 96>($($arg),*)),
            64 => Some($f::<64, 128>($($arg),*)),
            96 => Some($f::<96, 192>($($arg),*)),
            128 => Some($f::<128, 256>($($arg),*)),
            _ => None,
        }
    };
}

/// Runs `$body` with `$K` bound to the kernel type of `$backend`.
macro_rules! with_kernel {
    ($backend:expr, $K:ident => $body:expr) => {
        match $backend {
            #[cfg(target_arch = "x86_64")]
            Backend::Mulx => {
                type $K = Mulx;
                $body
            }
            _ => {
                type $K = Portable;
                $body
            }
        }
    };
}

/// The modulus words, R mod m and -m^-1 mod 2^64 of a parameter set, as `N`-limb arrays.
struct Constants<'a, const N: usize> {
    m: &'a [u64; N],
    one: &'a [u64; N],
    minv: u64,
}

impl<'a, const N: usize> Constants<'a, N> {
    fn of(params: &'a BoxedMontyParams) -> Self {
        let m: &[u64; N] = params
            .modulus()
            .as_ref()
            .as_words()
            .try_into()
            .expect("by_size! matched the modulus's limb count");
        let one: &[u64; N] = params
            .as_ref()
            .one()
            .as_words()
            .try_into()
            .expect("R mod m has the modulus's precision");
        Constants {
            m,
            one,
            minv: kernel::neg_inv(m[0]),
        }
    }

    fn md(&self) -> Mod<'_, N> {
        Mod {
            m: self.m,
            minv: self.minv,
            one: self.one,
        }
    }
}

fn words<const N: usize>(x: &BoxedMontyForm) -> &[u64; N] {
    x.as_montgomery()
        .as_words()
        .try_into()
        .expect("a Montgomery form has its modulus's precision")
}

/// Wraps `N` limbs (wiped here) as a Montgomery form under `params`.
fn form<const N: usize>(mut out: [u64; N], params: &BoxedMontyParams) -> BoxedMontyForm {
    let mut r = BoxedUint::zero_with_precision(params.bits_precision());
    r.as_mut_words().copy_from_slice(&out);
    out.zeroize();
    BoxedMontyForm::from_montgomery(r, params)
}

fn limbs(params: &BoxedMontyParams) -> usize {
    params.modulus().as_ref().as_words().len()
}

/// `base^exp` using the low `bits` bits of `exp` (crypto-bigint's `pow_bounded_exp`).
///
/// # Security
/// Constant time in the base, the exponent and the modulus; `bits` is public.
pub(crate) fn pow(base: &BoxedMontyForm, exp: &BoxedUint, bits: u32) -> BoxedMontyForm {
    let params = base.params();
    by_size!(limbs(params), pow_sized(base, exp, bits))
        .unwrap_or_else(|| base.pow_bounded_exp(exp, bits))
}

fn pow_sized<const N: usize, const W: usize>(
    base: &BoxedMontyForm,
    exp: &BoxedUint,
    bits: u32,
) -> BoxedMontyForm {
    let params = base.params();
    let c = Constants::<N>::of(params);
    let mut out = [0u64; N];
    with_kernel!(backend(), K => exp::pow::<N, W, K>(words(base), exp.as_words(), bits, &c.md(), &mut out));
    form(out, params)
}

/// `prod_i bases[i]^(exps[i])` for exponents below `2^bits`, sharing the squarings.
///
/// # Security
/// Constant time in the bases, the exponents and the modulus; `bits` and the number of
/// terms are public.
pub(crate) fn multi_exp(
    bases: &[BoxedMontyForm],
    exps: &[BoxedUint],
    bits: u32,
    params: &BoxedMontyParams,
) -> BoxedMontyForm {
    by_size!(limbs(params), multi_exp_sized(bases, exps, bits, params))
        .unwrap_or_else(|| multi_exp_fallback(bases, exps, bits, params))
}

fn multi_exp_sized<const N: usize, const W: usize>(
    bases: &[BoxedMontyForm],
    exps: &[BoxedUint],
    bits: u32,
    params: &BoxedMontyParams,
) -> BoxedMontyForm {
    let c = Constants::<N>::of(params);
    let b: Zeroizing<Vec<[u64; N]>> = Zeroizing::new(bases.iter().map(|x| *words(x)).collect());
    let e: Vec<&[u64]> = exps.iter().map(|x| x.as_words()).collect();
    let mut out = [0u64; N];
    with_kernel!(backend(), K => exp::multi_pow::<N, W, K>(&b, &e, bits, &c.md(), &mut out));
    form(out, params)
}

fn multi_exp_fallback(
    bases: &[BoxedMontyForm],
    exps: &[BoxedUint],
    bits: u32,
    params: &BoxedMontyParams,
) -> BoxedMontyForm {
    let mut acc = BoxedMontyForm::one(params);
    for (b, e) in bases.iter().zip(exps) {
        let mut t = b.pow_bounded_exp(e, bits);
        acc = &acc * &t;
        t.zeroize();
    }
    acc
}

/// A fixed-base comb table (see [`FixedBase::new`]), wiped on drop.
pub(crate) struct FixedBase {
    rows: Zeroizing<Vec<u64>>,
    bits: u32,
    params: BoxedMontyParams,
    /// crypto-bigint's path for sizes without specialised kernels: the base itself.
    fallback: Option<BoxedMontyForm>,
}

impl Drop for FixedBase {
    fn drop(&mut self) {
        if let Some(b) = self.fallback.as_mut() {
            b.zeroize();
        }
    }
}

impl FixedBase {
    /// The table of `base^(d 32^i)` for d < 32 and every 5-bit window of a `bits`-bit
    /// exponent: `bits / 5` rows of 32 entries.
    pub(crate) fn new(base: &BoxedMontyForm, bits: u32) -> Self {
        let params = base.params().clone();
        match by_size!(limbs(&params), comb_sized(base, bits)) {
            Some(rows) => FixedBase {
                rows,
                bits,
                params,
                fallback: None,
            },
            None => FixedBase {
                rows: Zeroizing::new(Vec::new()),
                bits,
                params,
                fallback: Some(base.clone()),
            },
        }
    }

    /// `base^e` for the low `bits` bits of `e`: one table read and one multiplication
    /// per window, no squaring.
    ///
    /// # Security
    /// Constant time in `e` and the base.
    pub(crate) fn pow(&self, e: &BoxedUint) -> BoxedMontyForm {
        match &self.fallback {
            Some(b) => b.pow_bounded_exp(e, self.bits),
            None => by_size!(limbs(&self.params), comb_pow_sized(self, e))
                .expect("the comb was built for a specialised size"),
        }
    }
}

fn comb_sized<const N: usize, const W: usize>(
    base: &BoxedMontyForm,
    bits: u32,
) -> Zeroizing<Vec<u64>> {
    let c = Constants::<N>::of(base.params());
    with_kernel!(backend(), K => exp::comb_build::<N, W, K>(words(base), bits, &c.md()))
}

fn comb_pow_sized<const N: usize, const W: usize>(fb: &FixedBase, e: &BoxedUint) -> BoxedMontyForm {
    let c = Constants::<N>::of(&fb.params);
    let mut out = [0u64; N];
    with_kernel!(backend(), K => exp::comb_pow::<N, W, K>(&fb.rows, fb.bits, e.as_words(), &c.md(), &mut out));
    form(out, &fb.params)
}

/// Raw-limb entry points for the differential tests, the fuzz target and the benchmark
/// (not part of the API). Operands are little-endian `u64` limbs of the modulus's length.
#[doc(hidden)]
pub mod raw {
    use super::*;

    /// Public checks only (lengths, the backend): nothing here reads the operands or the
    /// modulus, which the constant-time harness marks secret.
    fn check(backend: Backend, m: &[u64], xs: &[&[u64]]) -> bool {
        backend.available() && xs.iter().all(|x| x.len() == m.len())
    }

    /// `a b R^-1 mod m` for an odd `m` and `a, b < m`, on `backend`; `None` when the size
    /// has no specialised kernel, the lengths differ or the backend is unavailable. An even
    /// `m` gives a meaningless result (not checked: `m` may be secret).
    pub fn mont_mul(backend: Backend, a: &[u64], b: &[u64], m: &[u64]) -> Option<Vec<u64>> {
        if !check(backend, m, &[a, b]) {
            return None;
        }
        fn go<const N: usize, const W: usize>(
            backend: Backend,
            a: &[u64],
            b: &[u64],
            m: &[u64],
        ) -> Vec<u64> {
            let (a, b, m): (&[u64; N], &[u64; N], &[u64; N]) = (
                a.try_into().unwrap(),
                b.try_into().unwrap(),
                m.try_into().unwrap(),
            );
            let mut out = [0u64; N];
            with_kernel!(backend, K => kernel::mont_mul::<N, W, K>(a, b, m, kernel::neg_inv(m[0]), &mut out));
            out.to_vec()
        }
        by_size!(m.len(), go(backend, a, b, m))
    }

    /// `a^2 R^-1 mod m` for `a < m` (see [`mont_mul`]).
    pub fn mont_sqr(backend: Backend, a: &[u64], m: &[u64]) -> Option<Vec<u64>> {
        if !check(backend, m, &[a]) {
            return None;
        }
        fn go<const N: usize, const W: usize>(backend: Backend, a: &[u64], m: &[u64]) -> Vec<u64> {
            let (a, m): (&[u64; N], &[u64; N]) = (a.try_into().unwrap(), m.try_into().unwrap());
            let mut out = [0u64; N];
            with_kernel!(backend, K => kernel::mont_sqr::<N, W, K>(a, m, kernel::neg_inv(m[0]), &mut out));
            out.to_vec()
        }
        by_size!(m.len(), go(backend, a, m))
    }

    /// `b^e` in Montgomery form (`b` and the result are Montgomery forms, `one` is R mod m)
    /// for the low `bits` bits of `e` (see [`mont_mul`]).
    pub fn pow(
        backend: Backend,
        b: &[u64],
        e: &[u64],
        bits: u32,
        m: &[u64],
        one: &[u64],
    ) -> Option<Vec<u64>> {
        if !check(backend, m, &[b, one]) {
            return None;
        }
        fn go<const N: usize, const W: usize>(
            backend: Backend,
            b: &[u64],
            e: &[u64],
            bits: u32,
            m: &[u64],
            one: &[u64],
        ) -> Vec<u64> {
            let (b, m, one): (&[u64; N], &[u64; N], &[u64; N]) = (
                b.try_into().unwrap(),
                m.try_into().unwrap(),
                one.try_into().unwrap(),
            );
            let md = Mod {
                m,
                minv: kernel::neg_inv(m[0]),
                one,
            };
            let mut out = [0u64; N];
            with_kernel!(backend, K => exp::pow::<N, W, K>(b, e, bits, &md, &mut out));
            out.to_vec()
        }
        by_size!(m.len(), go(backend, b, e, bits, m, one))
    }
}

#[cfg(test)]
mod tests {
    //! Differential tests: both backends against num-bigint (an independent oracle) and
    //! crypto-bigint, on random and edge-case operands, at every specialised size.
    use super::raw;
    use super::*;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    const SIZES: [usize; 9] = [8, 12, 16, 24, 32, 48, 64, 96, 128];

    fn backends() -> Vec<Backend> {
        [Backend::Portable, Backend::Mulx]
            .into_iter()
            .filter(|b| b.available())
            .collect()
    }

    fn big(w: &[u64]) -> BigUint {
        BigUint::from_slice(
            &w.iter()
                .flat_map(|x| [*x as u32, (*x >> 32) as u32])
                .collect::<Vec<_>>(),
        )
    }

    fn limbs_of(x: &BigUint, n: usize) -> Vec<u64> {
        let mut v = x.to_u64_digits();
        v.resize(n, 0);
        v
    }

    /// An odd modulus of exactly `n` limbs from a seed, with its shape chosen by `kind`:
    /// random, all ones (2^(64n) - 1), top bit only plus one, or long runs of ones.
    fn modulus(n: usize, seed: &[u64], kind: u8) -> Vec<u64> {
        let mut m: Vec<u64> = (0..n)
            .map(|i| seed[i % seed.len()].rotate_left(i as u32))
            .collect();
        match kind % 4 {
            0 => {}
            1 => m.iter_mut().for_each(|w| *w = u64::MAX),
            2 => {
                m.iter_mut().for_each(|w| *w = 0);
                m[0] = 1;
            }
            _ => m.iter_mut().step_by(2).for_each(|w| *w = u64::MAX),
        }
        m[0] |= 1;
        m[n - 1] |= 1 << 63;
        m
    }

    /// An operand below m from a seed, shaped by `kind`: 0, 1, m - 1, random mod m, or a
    /// value with long carry chains (m - 2^k).
    fn operand(m: &BigUint, n: usize, seed: &[u64], kind: u8) -> BigUint {
        let r = big(&(0..n)
            .map(|i| seed[(i * 7 + 3) % seed.len()] ^ (i as u64))
            .collect::<Vec<_>>())
            % m;
        match kind % 5 {
            0 => BigUint::ZERO,
            1 => BigUint::from(1u8),
            2 => m - 1u8,
            3 => r,
            _ => m - (BigUint::from(1u8) << (r.bits() % 64)) % m,
        }
    }

    fn r_of(n: usize) -> BigUint {
        BigUint::from(1u8) << (64 * n)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn mul_and_sqr_match_num_bigint(
            size in 0usize..SIZES.len(),
            seed in prop::collection::vec(any::<u64>(), 8),
            mk in any::<u8>(), ak in any::<u8>(), bk in any::<u8>(),
        ) {
            let n = SIZES[size];
            let mw = modulus(n, &seed, mk);
            let m = big(&mw);
            let a = operand(&m, n, &seed, ak);
            let b = operand(&m, n, &seed[1..], bk);
            let rinv = r_of(n).modinv(&m).expect("m is odd");
            let want_mul = limbs_of(&(&a * &b * &rinv % &m), n);
            let want_sqr = limbs_of(&(&a * &a * &rinv % &m), n);
            for be in backends() {
                let got = raw::mont_mul(be, &limbs_of(&a, n), &limbs_of(&b, n), &mw).unwrap();
                prop_assert_eq!(&got, &want_mul, "mul, {:?}, {} limbs", be, n);
                let got = raw::mont_sqr(be, &limbs_of(&a, n), &mw).unwrap();
                prop_assert_eq!(&got, &want_sqr, "sqr, {:?}, {} limbs", be, n);
            }
        }

        #[test]
        fn pow_matches_num_bigint(
            size in 0usize..5,
            seed in prop::collection::vec(any::<u64>(), 8),
            mk in any::<u8>(), bk in any::<u8>(),
            bits in 1u32..700,
        ) {
            let n = SIZES[size];
            let mw = modulus(n, &seed, mk);
            let m = big(&mw);
            let b = operand(&m, n, &seed, bk);
            let e = big(&seed[2..]) % (BigUint::from(1u8) << bits);
            let r = r_of(n) % &m;
            let bm = limbs_of(&(&b * &r % &m), n);
            let want = limbs_of(&(b.modpow(&e, &m) * &r % &m), n);
            for be in backends() {
                let got = raw::pow(be, &bm, &e.to_u64_digits(), bits, &mw, &limbs_of(&r, n)).unwrap();
                prop_assert_eq!(&got, &want, "pow, {:?}, {} limbs, {} bits", be, n, bits);
            }
        }
    }

    /// The public entry points (pow, multi-exponentiation, fixed-base comb) agree with
    /// crypto-bigint on real Paillier-sized moduli.
    #[test]
    fn forms_match_crypto_bigint() {
        use crypto_bigint::Odd;
        use rand_core::{Rng, SeedableRng};
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
        for bits in [1024u32, 2048, 4096, 4160] {
            let mut m = BoxedUint::zero_with_precision(bits);
            for w in m.as_mut_words() {
                *w = rng.next_u64();
            }
            m.as_mut_words()[0] |= 1;
            let params = BoxedMontyParams::new(Odd::new(m.clone()).unwrap());
            let rand_form = |rng: &mut chacha20::ChaCha20Rng| {
                let mut x = BoxedUint::zero_with_precision(bits);
                for w in x.as_mut_words() {
                    *w = rng.next_u64();
                }
                BoxedMontyForm::new(x, &params)
            };
            let rand_exp = |rng: &mut chacha20::ChaCha20Rng, eb: u32| {
                let mut x = BoxedUint::zero_with_precision(crate::bigint::limb_precision(eb));
                for w in x.as_mut_words() {
                    *w = rng.next_u64();
                }
                x
            };
            let b = rand_form(&mut rng);
            let e = rand_exp(&mut rng, 517);
            assert_eq!(
                pow(&b, &e, 517),
                b.pow_bounded_exp(&e, 517),
                "pow at {bits}"
            );
            let bases: Vec<_> = (0..3).map(|_| rand_form(&mut rng)).collect();
            let exps: Vec<_> = (0..3).map(|_| rand_exp(&mut rng, 64)).collect();
            let want = bases
                .iter()
                .zip(&exps)
                .fold(BoxedMontyForm::one(&params), |acc, (b, e)| {
                    acc * b.pow_bounded_exp(e, 64)
                });
            assert_eq!(
                multi_exp(&bases, &exps, 64, &params),
                want,
                "multi_exp at {bits}"
            );
            let comb = FixedBase::new(&b, 256);
            let e = rand_exp(&mut rng, 256);
            assert_eq!(comb.pow(&e), b.pow_bounded_exp(&e, 256), "comb at {bits}");
        }
    }

    #[test]
    fn sizes_without_kernels_are_refused_by_raw() {
        let m = vec![u64::MAX; 10];
        assert!(raw::mont_mul(Backend::Portable, &m, &m, &m).is_none());
        let short = vec![1u64; 7];
        assert!(raw::mont_sqr(Backend::Portable, &short, &m[..8]).is_none());
    }
}
