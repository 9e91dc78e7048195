//! Poisson sampling: each example joins each batch independently with probability q, so
//! batch sizes vary (Binomial(n, q)). This is the sampling that the Poisson-subsampled
//! Gaussian accountants assume; fixed-size shuffled batches are never used under them.
//!
//! q is rounded down to a multiple of 2^-53 and every draw is an exact Bernoulli of that
//! rate (a uniform 53-bit integer compared with q 2^53, its bits drawn lazily), so the
//! probability used never exceeds the one accounted.
//!
//! ```
//! use shroud::dp::SamplingRate;
//! use shroud::train::sampler::PoissonSampler;
//! let s = PoissonSampler::new(1000, SamplingRate::new(0.1).unwrap());
//! let batch = s.sample(&mut shroud::rng::seeded(1)).unwrap();
//! assert!(batch.len() > 50 && batch.len() < 150);
//! ```

use rand_core::CryptoRng;

use crate::dp::{DpError, SamplingRate};

const DEN_BITS: u32 = 53;

/// A Poisson sampler over the indices 0..n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoissonSampler {
    n: usize,
    num: u128,
}

impl PoissonSampler {
    /// A sampler of rate q (rounded down to a multiple of 2^-53) over `n` examples.
    pub fn new(n: usize, q: SamplingRate) -> Self {
        // q in [0, 1]: the product lies in [0, 2^53], exact after floor
        let num = (q.get() * 2f64.powi(DEN_BITS as i32)).floor() as u128;
        PoissonSampler { n, num }
    }

    /// The rate actually used (<= the rate given).
    pub fn rate(&self) -> f64 {
        self.num as f64 * 2f64.powi(-(DEN_BITS as i32))
    }

    /// One batch: the indices that joined, ascending.
    ///
    /// # Errors
    /// Never for a sampler built by [`PoissonSampler::new`] (the DP layer's Bernoulli
    /// sampler refuses only a zero denominator or a numerator above it).
    pub fn sample<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<Vec<usize>, DpError> {
        // Example i joins when a uniform u in [0, 2^53) is below num. u is drawn lazily, as
        // its top 16 bits a and its low 37 bits b: u < num exactly when a < num_hi, or
        // a = num_hi and b < num_lo. So one 64-bit draw decides four examples, and the low
        // bits are drawn only on a tie (probability 2^-16): the same exact Bernoulli as
        // `crate::dp::sample::bernoulli(rng, num, 2^53)` with an eighth of the random bytes.
        const LOW: u32 = DEN_BITS - 16;
        let hi = (self.num >> LOW) as u64;
        let lo = (self.num & ((1u128 << LOW) - 1)) as u64;
        let mut out = Vec::with_capacity((self.rate() * self.n as f64 * 1.2) as usize + 16);
        let (mut buf, mut left) = (0u64, 0u32);
        for i in 0..self.n {
            if left == 0 {
                buf = rng.next_u64();
                left = 4;
            }
            let a = buf & 0xffff;
            buf >>= 16;
            left -= 1;
            if a < hi || (a == hi && (rng.next_u64() >> (64 - LOW)) < lo) {
                out.push(i);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_zero_and_one_are_exact() {
        let mut rng = crate::rng::seeded(3);
        let all = PoissonSampler::new(1000, SamplingRate::new(1.0).unwrap());
        assert_eq!(all.sample(&mut rng).unwrap(), (0..1000).collect::<Vec<_>>());
        let none = PoissonSampler::new(1000, SamplingRate::new(0.0).unwrap());
        assert!(none.sample(&mut rng).unwrap().is_empty());
    }

    #[test]
    fn a_rate_just_above_a_16_bit_step_takes_the_tie_path() {
        // q = 2^-16 + 2^-53: num_hi = 1, num_lo = 1; a = 1 (a tie) happens 1 in 2^16
        let q = 2f64.powi(-16) + 2f64.powi(-53);
        let s = PoissonSampler::new(1 << 20, SamplingRate::new(q).unwrap());
        let k = s.sample(&mut crate::rng::seeded(4)).unwrap().len();
        // Binomial(2^20, 2^-16): mean 16, sd 4
        assert!((1..=40).contains(&k), "{k}");
    }
}
