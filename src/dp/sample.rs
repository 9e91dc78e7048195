//! Exact samplers over integers and rationals (Canonne, Kamath, Steinke 2020, "The
//! Discrete Gaussian for Differential Privacy"), driven by a CSPRNG: no floating point
//! touches the randomness.
//!
//! Rationals are given as numerator / denominator in u64; intermediate products use u128,
//! and a draw whose products would overflow 128 bits continues in arbitrary-precision
//! integers (num-bigint): exact for every parameter, and no draw ever fails once the
//! parameters have been accepted (the audit found 15 of 100 discrete Gaussian draws failing
//! at sigma^2 near 2^53 before, which a caller retrying would have turned into a
//! conditioned, non-Gaussian distribution).
//!
//! ```
//! use shroud::dp::sample::discrete_gaussian;
//! let mut rng = shroud::rng::seeded(1);
//! let x = discrete_gaussian(&mut rng, 100, 1).unwrap(); // sigma^2 = 100
//! assert!(x.abs() < 200);
//! ```

use num_bigint::BigUint;
use num_traits::{One, Zero};
use rand_core::CryptoRng;

use super::DpError;

/// Uniform big integer in [0, m), m > 0, by rejection.
fn uniform_below_big<R: CryptoRng + ?Sized>(rng: &mut R, m: &BigUint) -> BigUint {
    let bits = (m - 1u32).bits();
    if bits == 0 {
        return BigUint::zero();
    }
    let words = bits.div_ceil(64);
    loop {
        let mut x = BigUint::zero();
        for _ in 0..words {
            x = (x << 64u32) | BigUint::from(rng.next_u64());
        }
        x >>= words * 64 - bits;
        if &x < m {
            return x;
        }
    }
}

/// Bernoulli(exp(-n/d)) for 0 <= n/d <= 1 (CKS20 algorithm 1), in big integers, continuing
/// a run of [`bernoulli_exp_unit`] at its k-th trial.
fn bernoulli_exp_unit_big<R: CryptoRng + ?Sized>(
    rng: &mut R,
    n: &BigUint,
    d: &BigUint,
    mut k: BigUint,
) -> bool {
    loop {
        let dk = d * &k;
        if uniform_below_big(rng, &dk) >= *n {
            return k.bit(0);
        }
        k += 1u32;
    }
}

/// Bernoulli(exp(-n/d)) for n >= 0, d > 0, in big integers.
fn bernoulli_exp_big<R: CryptoRng + ?Sized>(
    rng: &mut R,
    n: &BigUint,
    d: &BigUint,
) -> Result<bool, DpError> {
    let whole = n / d;
    let mut i = BigUint::zero();
    let mut bits = Bits::new(&mut *rng);
    while i < whole {
        if !bernoulli_exp_unit(&mut bits, 1, 1) {
            return Ok(false);
        }
        i += 1u32;
    }
    Ok(bernoulli_exp_unit_big(
        bits.rng,
        &(n % d),
        d,
        BigUint::one(),
    ))
}

/// Uniform integer in [0, m), m > 0, by rejection (no modulo bias).
pub fn uniform_below<R: CryptoRng + ?Sized>(rng: &mut R, m: u128) -> u128 {
    debug_assert!(m > 0);
    if m <= 1 {
        return 0;
    }
    let bits = 128 - (m - 1).leading_zeros();
    if bits <= 64 {
        // one 64-bit draw per try suffices
        let mask = u64::MAX >> (64 - bits);
        loop {
            let x = u128::from(rng.next_u64() & mask);
            if x < m {
                return x;
            }
        }
    }
    loop {
        let raw = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        let x = if bits == 128 {
            raw
        } else {
            raw & ((1u128 << bits) - 1)
        };
        if x < m {
            return x;
        }
    }
}

fn bad(msg: &str) -> DpError {
    DpError::InvalidParameter(msg.to_string())
}

/// The CSPRNG read one bit at a time (64 bits per draw): the samplers below consume about
/// two bits per Bernoulli trial instead of a 64- or 128-bit draw. Bits left in the buffer
/// when it is dropped are discarded, which biases nothing.
struct Bits<'a, R: ?Sized> {
    rng: &'a mut R,
    buf: u64,
    left: u32,
}

impl<'a, R: CryptoRng + ?Sized> Bits<'a, R> {
    fn new(rng: &'a mut R) -> Self {
        Bits {
            rng,
            buf: 0,
            left: 0,
        }
    }

    fn bit(&mut self) -> bool {
        if self.left == 0 {
            self.buf = self.rng.next_u64();
            self.left = 64;
        }
        let b = self.buf & 1 == 1;
        self.buf >>= 1;
        self.left -= 1;
        b
    }

    /// Bernoulli(n / d) for 0 <= n <= d, d > 0, by comparing uniform random bits with the
    /// binary expansion of n / d, most significant first, until they differ: exact, two
    /// bits expected, no rejection. The expansion's next bit comes from r -> 2r mod d,
    /// which stays in u128 while d <= 2^127; larger d falls back to [`uniform_below`].
    fn bernoulli(&mut self, n: u128, d: u128) -> bool {
        if n == 0 {
            return false;
        }
        if n >= d {
            return true;
        }
        if d > 1u128 << 127 {
            return uniform_below(self.rng, d) < n;
        }
        let mut r = n; // the expansion still to compare is r / d, with r < d
        loop {
            r <<= 1;
            let p = r >= d;
            if p {
                r -= d;
            }
            // the uniform's bit u against the expansion's bit p: at the first difference
            // U < n/d exactly when p = 1 (and u = 0)
            if self.bit() != p {
                return p;
            }
            if r == 0 {
                // n/d ended; U is above it with probability 1
                return false;
            }
        }
    }
}

/// Bernoulli(n / d) for 0 <= n <= d, d > 0.
///
/// # Errors
/// [`DpError::InvalidParameter`] unless 0 <= n <= d and d > 0.
pub fn bernoulli<R: CryptoRng + ?Sized>(rng: &mut R, n: u128, d: u128) -> Result<bool, DpError> {
    if d == 0 || n > d {
        return Err(bad("Bernoulli needs 0 <= n <= d, d > 0"));
    }
    Ok(uniform_below(rng, d) < n)
}

/// Bernoulli(exp(-n / d)) for n >= 0, d > 0 (CKS20 algorithm 1).
///
/// # Errors
/// [`DpError::InvalidParameter`] for d = 0 (products beyond 128 bits continue in big
/// integers, never an error).
pub fn bernoulli_exp<R: CryptoRng + ?Sized>(
    rng: &mut R,
    n: u128,
    d: u128,
) -> Result<bool, DpError> {
    bernoulli_exp_bits(&mut Bits::new(rng), n, d)
}

fn bernoulli_exp_bits<R: CryptoRng + ?Sized>(
    bits: &mut Bits<'_, R>,
    n: u128,
    d: u128,
) -> Result<bool, DpError> {
    if d == 0 {
        return Err(bad("Bernoulli(exp(-n/d)) needs d > 0"));
    }
    if n < d {
        // no whole part: skip the 128-bit division
        return Ok(bernoulli_exp_unit(bits, n, d));
    }
    // exp(-x) = exp(-1)^floor(x) * exp(-(x - floor(x)))
    let whole = if d == 1 { n } else { n / d };
    for _ in 0..whole {
        if !bernoulli_exp_unit(bits, 1, 1) {
            return Ok(false);
        }
    }
    Ok(bernoulli_exp_unit(bits, n - whole * d, d))
}

/// Bernoulli(exp(-n/d)) for 0 <= n/d <= 1.
fn bernoulli_exp_unit<R: CryptoRng + ?Sized>(bits: &mut Bits<'_, R>, n: u128, d: u128) -> bool {
    let mut k: u128 = 1;
    loop {
        let Some(dk) = d.checked_mul(k) else {
            // d k no longer fits: the same run goes on in big integers
            let (n, d) = (BigUint::from(n), BigUint::from(d));
            return bernoulli_exp_unit_big(bits.rng, &n, &d, BigUint::from(k));
        };
        if !bits.bernoulli(n, dk) {
            return k % 2 == 1;
        }
        k += 1;
    }
}

/// Geometric: the number of successes of Bernoulli(exp(-n/d)) before the first failure,
/// P(k) = (1 - e^-x) e^(-x k) with x = n/d > 0.
///
/// # Errors
/// [`DpError::InvalidParameter`] for n = 0 or d = 0.
pub fn geometric_exp<R: CryptoRng + ?Sized>(
    rng: &mut R,
    n: u128,
    d: u128,
) -> Result<u128, DpError> {
    if n == 0 || d == 0 {
        return Err(bad("geometric needs n/d > 0"));
    }
    let mut k = 0u128;
    while bernoulli_exp(rng, n, d)? {
        k += 1;
    }
    Ok(k)
}

/// Discrete Laplace with scale b = num/den: P(y) proportional to exp(-|y| / b), for
/// num, den > 0 (CKS20 algorithm 2 with t = num, s = den).
///
/// # Errors
/// [`DpError::InvalidParameter`] for num = 0 or den = 0.
pub fn discrete_laplace<R: CryptoRng + ?Sized>(
    rng: &mut R,
    num: u64,
    den: u64,
) -> Result<i128, DpError> {
    discrete_laplace_bits(&mut Bits::new(rng), num, den)
}

fn discrete_laplace_bits<R: CryptoRng + ?Sized>(
    bits: &mut Bits<'_, R>,
    num: u64,
    den: u64,
) -> Result<i128, DpError> {
    if num == 0 || den == 0 {
        return Err(bad("discrete Laplace needs a positive scale num/den"));
    }
    let (t, s) = (u128::from(num), u128::from(den));
    loop {
        let u = uniform_below(bits.rng, t);
        if !bernoulli_exp_bits(bits, u, t)? {
            continue;
        }
        let mut v = 0u128;
        while bernoulli_exp_bits(bits, 1, 1)? {
            v += 1;
        }
        // X = U + t V is geometric: P(X = x) proportional to exp(-x / t). The checks below
        // cannot fail: t, u < 2^64 and v counts loop iterations (< 2^63 in any real run).
        let x = t
            .checked_mul(v)
            .and_then(|tv| tv.checked_add(u))
            .ok_or_else(|| bad("discrete Laplace overflow"))?;
        let y = if s == 1 { x } else { x / s };
        let b = bits.bit();
        if b && y == 0 {
            continue;
        }
        let y = i128::try_from(y).map_err(|_| bad("discrete Laplace overflow"))?;
        return Ok(if b { -y } else { y });
    }
}

/// Discrete Gaussian N_Z(0, sigma^2) with sigma^2 = n / d (CKS20 algorithm 3).
///
/// Every n, d >= 1 is supported exactly: up to sigma^2 of about 2^40 every draw stays in
/// u128 arithmetic; beyond, the draws whose products exceed 128 bits continue in big
/// integers (slower, and so in running time that depends more on the noise; see the
/// README's timing note).
///
/// # Errors
/// [`DpError::InvalidParameter`] for n = 0 or d = 0, before any randomness is drawn; a
/// draw never fails.
pub fn discrete_gaussian<R: CryptoRng + ?Sized>(
    rng: &mut R,
    n: u64,
    d: u64,
) -> Result<i128, DpError> {
    Gaussian::new(n, d)?.draw(&mut Bits::new(rng))
}

/// `count` independent draws of [`discrete_gaussian`] with sigma^2 = n / d, sharing the
/// set-up (t, the acceptance test's denominator) and one bit buffer.
///
/// # Errors
/// As [`discrete_gaussian`], before any randomness is drawn.
pub fn discrete_gaussians<R: CryptoRng + ?Sized>(
    rng: &mut R,
    n: u64,
    d: u64,
    count: usize,
) -> Result<Vec<i128>, DpError> {
    let g = Gaussian::new(n, d)?;
    let mut bits = Bits::new(rng);
    (0..count).map(|_| g.draw(&mut bits)).collect()
}

/// The set-up of CKS20 algorithm 3 for sigma^2 = n / d.
struct Gaussian {
    n: u128,
    d: u128,
    /// floor(sigma) + 1
    t: u128,
    /// The acceptance test's denominator 2 n d t^2, when it fits in 128 bits.
    den: Option<u128>,
}

impl Gaussian {
    fn new(n: u64, d: u64) -> Result<Self, DpError> {
        if n == 0 || d == 0 {
            return Err(bad("discrete Gaussian needs sigma^2 = n/d > 0"));
        }
        let sigma2 = u128::from(n) / u128::from(d);
        let t = isqrt(sigma2) + 1;
        u64::try_from(t).map_err(|_| bad("sigma too large"))?;
        let (n, d) = (u128::from(n), u128::from(d));
        let den = n
            .checked_mul(d)
            .and_then(|v| v.checked_mul(t))
            .and_then(|v| v.checked_mul(t))
            .and_then(|v| v.checked_mul(2));
        Ok(Gaussian { n, d, t, den })
    }

    fn draw<R: CryptoRng + ?Sized>(&self, bits: &mut Bits<'_, R>) -> Result<i128, DpError> {
        let Gaussian { n, d, t, den } = *self;
        // t < 2^64, checked in new
        let t64 = t as u64;
        loop {
            let y = discrete_laplace_bits(bits, t64, 1)?;
            let ay = y.unsigned_abs();
            // accept with probability exp(-(|y| - sigma^2/t)^2 / (2 sigma^2))
            //   = exp(-(|y| t d - n)^2 / (2 n d t^2))
            let small = ay
                .checked_mul(t)
                .and_then(|v| v.checked_mul(d))
                .and_then(|a| {
                    let diff = a.abs_diff(n);
                    diff.checked_mul(diff)
                })
                .zip(den);
            let accept = match small {
                Some((num, den)) => bernoulli_exp_bits(bits, num, den)?,
                None => {
                    // the same test in big integers: exact, never an error
                    let (ay, t, n, d) = (
                        BigUint::from(ay),
                        BigUint::from(t),
                        BigUint::from(n),
                        BigUint::from(d),
                    );
                    let a = &ay * &t * &d;
                    let diff = if a >= n { &a - &n } else { &n - &a };
                    let den = &n * &d * &t * &t * 2u32;
                    bernoulli_exp_big(bits.rng, &(&diff * &diff), &den)?
                }
            };
            if accept {
                return Ok(y);
            }
        }
    }
}

fn isqrt(x: u128) -> u128 {
    if x < 2 {
        return x;
    }
    let mut r = (x as f64).sqrt() as u128;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}
