//! Poisson sampling: each example joins each batch independently with probability q, so
//! batch sizes vary (Binomial(n, q)). This is the sampling that the Poisson-subsampled
//! Gaussian accountants assume; fixed-size shuffled batches are never used under them.
//!
//! q is rounded down to a multiple of 2^-53 and every draw is an exact Bernoulli from the
//! DP layer's sampler, so the probability used never exceeds the one accounted.
//!
//! ```
//! use shroud::dp::SamplingRate;
//! use shroud::train::sampler::PoissonSampler;
//! let s = PoissonSampler::new(1000, SamplingRate::new(0.1).unwrap());
//! let batch = s.sample(&mut shroud::rng::seeded(1)).unwrap();
//! assert!(batch.len() > 50 && batch.len() < 150);
//! ```

use rand_core::CryptoRng;

use crate::dp::sample::bernoulli;
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
        let den = 1u128 << DEN_BITS;
        let mut out = Vec::new();
        for i in 0..self.n {
            if bernoulli(rng, self.num, den)? {
                out.push(i);
            }
        }
        Ok(out)
    }
}
