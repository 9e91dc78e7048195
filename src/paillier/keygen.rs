//! Key generation: random primes of exactly half the modulus length with the top two bits
//! set, Baillie-PSW plus FIPS 186-5 Miller-Rabin rounds, and the structural checks.

use crypto_bigint::BoxedUint;
use crypto_primes::fips::{FipsOptions, is_prime as fips_is_prime};
use crypto_primes::hazmat::{
    SetBits, SieveFactory, SmallFactorsSieveFactory, minimum_mr_iterations,
};
use crypto_primes::{Flavor, is_prime as bpsw_is_prime};
use num_bigint::BigUint;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::SecretKey;
use crate::bigint::{limb_precision, to_boxed_vartime};
use crate::error::{Error, Result};

/// Key sizes shroud generates. 3072 bits is the default (NIST SP 800-57: 128-bit security).
pub const SUPPORTED_BITS: [u32; 3] = [2048, 3072, 4096];
/// The default modulus size.
pub const DEFAULT_BITS: u32 = 3072;

/// Options for [`generate_keypair`].
#[derive(Clone, Copy, Debug)]
pub struct KeygenOptions {
    /// Modulus size in bits: 2048, 3072 or 4096 (1024 only with `insecure_allow_1024`).
    pub bits: u32,
    /// Use safe primes p = 2p' + 1 (for zero-knowledge proofs later); much slower.
    pub safe_primes: bool,
    /// Allow 1024-bit keys. INSECURE: for tests and interop with old vectors only.
    pub insecure_allow_1024: bool,
}

impl Default for KeygenOptions {
    fn default() -> Self {
        KeygenOptions {
            bits: DEFAULT_BITS,
            safe_primes: false,
            insecure_allow_1024: false,
        }
    }
}

/// Progress of key generation, for a spinner on slow keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeygenProgress {
    /// One more prime candidate survived sieving and is being tested.
    Candidate,
    /// A prime was found (first p, then q).
    PrimeFound,
    /// A (p, q) pair failed a structural check and is being redrawn.
    Retry,
}

/// Miller-Rabin rounds for a prime of `bits` bits: the smallest count for which the
/// Damgard-Landrock-Pomerance bound (the method of FIPS 186-5 appendix C.1) gives an error
/// below 2^-128 on random candidates; at least 2.
pub fn mr_rounds(bits: u32) -> usize {
    minimum_mr_iterations(bits, 128).unwrap_or(64).max(2)
}

/// Baillie-PSW plus FIPS Miller-Rabin rounds with random bases (OS randomness).
/// Variable time in x: for explicit verification only (never on an ordinary key load).
pub(crate) fn is_prime_checked_vartime(x: &BigUint) -> bool {
    let bits = u32::try_from(x.bits()).unwrap_or(u32::MAX);
    if !(2..=crate::paillier::MAX_MODULUS_BITS).contains(&bits) {
        return false;
    }
    let Some(b) = to_boxed_vartime(x, limb_precision(bits)) else {
        return false;
    };
    let b = Zeroizing::new(b);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    bpsw_is_prime(Flavor::Any, &*b)
        && fips_is_prime(
            &mut rng,
            Flavor::Any,
            &*b,
            FipsOptions::with_mr_iterations(mr_rounds(bits)),
        )
}

/// A random prime of `bits` bits with its top two bits set, tested in variable time
/// (sieve, Baillie-PSW, Miller-Rabin): the timing relates to the candidates, and every
/// rejected candidate is wiped here. (crypto-primes' sieve keeps its own starting point
/// and residues, which it does not wipe; that state is freed when the search ends.)
fn random_prime_vartime<R: CryptoRng + ?Sized>(
    rng: &mut R,
    bits: u32,
    safe: bool,
    progress: &dyn Fn(KeygenProgress),
) -> Result<Zeroizing<BoxedUint>> {
    let flavor = if safe { Flavor::Safe } else { Flavor::Any };
    let mut factory = SmallFactorsSieveFactory::<BoxedUint>::new(flavor, bits, SetBits::TwoMsb)
        .map_err(|e| Error::InvalidKey(format!("prime sieve: {e}")))?;
    let rounds = FipsOptions::with_mr_iterations(mr_rounds(bits));
    let search = |e| Error::InvalidKey(format!("prime search: {e}"));
    // The loop of crypto-primes' `sieve_and_find`, with each candidate owned here so a
    // rejected one can be wiped (the same draws from `rng`, so seeded keys are unchanged).
    let mut sieve = factory
        .make_sieve(rng, None)
        .map_err(search)?
        .ok_or_else(|| Error::InvalidKey("prime search exhausted".into()))?;
    loop {
        for cand in sieve.by_ref() {
            let cand = Zeroizing::new(cand);
            progress(KeygenProgress::Candidate);
            if bpsw_is_prime(flavor, &*cand) && fips_is_prime(rng, flavor, &*cand, rounds) {
                progress(KeygenProgress::PrimeFound);
                return Ok(cand);
            }
        }
        sieve = factory
            .make_sieve(rng, Some(&sieve))
            .map_err(search)?
            .ok_or_else(|| Error::InvalidKey("prime search exhausted".into()))?;
    }
}

/// Generates a key pair.
///
/// p and q are random primes of exactly bits/2 bits with their top two bits set (so n has
/// exactly `bits` bits), p != q, |p - q| > 2^(bits/2 - 100), gcd(n, (p-1)(q-1)) = 1.
///
/// # Errors
/// [`Error::UnsupportedKeySize`] for sizes other than 2048, 3072, 4096 (or 1024 with the
/// insecure option).
///
/// # Security
/// The randomness comes from `rng` (inject a seeded ChaCha for reproducible tests; use the
/// OS RNG otherwise). Candidates are tested in variable time, as every prime generator
/// does (hence no `_vartime` suffix on this one entry point): the timing relates to
/// candidates, and every rejected candidate, every rejected (p, q) pair and every
/// temporary is wiped. The accepted p and q never pass through num-bigint: the key is
/// built by the same constant-time derivation as a key load.
pub fn generate_keypair<R: CryptoRng + ?Sized>(
    opts: KeygenOptions,
    rng: &mut R,
    progress: &dyn Fn(KeygenProgress),
) -> Result<SecretKey> {
    let ok = SUPPORTED_BITS.contains(&opts.bits) || (opts.bits == 1024 && opts.insecure_allow_1024);
    if !ok {
        return Err(Error::UnsupportedKeySize(opts.bits));
    }
    let half = opts.bits / 2;
    loop {
        let p = random_prime_vartime(rng, half, opts.safe_primes, progress)?;
        let q = random_prime_vartime(rng, half, opts.safe_primes, progress)?;
        // The structural checks (p != q, distance, gcd, exact length) are those of a key
        // load; primality was established above. A refused pair is wiped on drop.
        if let Ok(sk) = SecretKey::from_factors(&p, &q, None) {
            return Ok(sk);
        }
        progress(KeygenProgress::Retry);
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::validate_factors_vartime;
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn generated_key_meets_every_rule() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
        let opts = KeygenOptions {
            bits: 2048,
            ..Default::default()
        };
        let sk = generate_keypair(opts, &mut rng, &|_| {}).unwrap();
        let (p, q) = sk.primes_vartime();
        assert_eq!(sk.public_key().bits(), 2048);
        assert_eq!(p.bits(), 1024);
        assert_eq!(q.bits(), 1024);
        // top two bits set
        assert_eq!(&p >> 1022u32, BigUint::from(3u32));
        assert_eq!(&q >> 1022u32, BigUint::from(3u32));
        validate_factors_vartime(&p, &q).unwrap();
    }

    #[test]
    fn unsupported_sizes_are_refused() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
        for bits in [512, 1024, 2047, 8192] {
            let opts = KeygenOptions {
                bits,
                ..Default::default()
            };
            assert_eq!(
                generate_keypair(opts, &mut rng, &|_| {}).unwrap_err(),
                Error::UnsupportedKeySize(bits)
            );
        }
    }

    #[test]
    fn safe_prime_keys() {
        use crypto_primes::{Flavor, is_prime};
        let opts = KeygenOptions {
            bits: 1024,
            safe_primes: true,
            insecure_allow_1024: true,
        };
        let sk =
            generate_keypair(opts, &mut chacha20::ChaCha20Rng::seed_from_u64(5), &|_| {}).unwrap();
        for p in [sk.primes_vartime().0, sk.primes_vartime().1] {
            let half: BigUint = (&p - 1u32) >> 1u32;
            let b = crate::bigint::to_boxed_vartime(&half, 512).unwrap();
            assert!(is_prime(Flavor::Any, &b), "(p-1)/2 must be prime");
        }
    }

    #[test]
    fn seeded_generation_is_reproducible() {
        let opts = KeygenOptions {
            bits: 1024,
            insecure_allow_1024: true,
            ..Default::default()
        };
        let a =
            generate_keypair(opts, &mut chacha20::ChaCha20Rng::seed_from_u64(1), &|_| {}).unwrap();
        let b =
            generate_keypair(opts, &mut chacha20::ChaCha20Rng::seed_from_u64(1), &|_| {}).unwrap();
        assert_eq!(a.primes_vartime(), b.primes_vartime());
    }
}
