//! Participant-level DP with the distributed discrete Gaussian (Kairouz, Liu and Steinke,
//! ICML 2021): each participant bounds its update, rounds it to integers, and adds its
//! share of discrete Gaussian noise before secure aggregation, so that the sum carries
//! the noise the guarantee needs and nobody, the coordinator included, sees an update
//! without it.
//!
//! # Mechanism
//! A participant bounds its update x to L2 norm S, scales it by gamma, rounds each
//! coordinate stochastically to an integer (unbiased), adds N_Z(0, v) per coordinate
//! (exact sampler, [`crate::dp::sample::discrete_gaussian`]) and offsets by
//! B = 2^(bits - 1) so the input is non-negative. The coordinator subtracts count * B
//! from the secure sum and divides by gamma and the count: the unweighted mean (weights
//! by data size would make one participant's influence depend on its size).
//!
//! # Accounting
//! Neighbouring runs differ in one participant's whole contribution, replaced by any
//! other (removal is replacement by a participant sending zeros: the number of
//! participants in a sum is public, and each adds its noise share). One integer vector
//! has L2 norm at most gamma S + sqrt(d) (rounding moves each coordinate by less than 1),
//! so the difference has L2 norm at most Delta2 = 2 (gamma S + sqrt(d)) and L1 norm at
//! most sqrt(d) Delta2. If at least N participants' noise is in the sum (the
//! secure-aggregation threshold is at least N, so no sum completes with fewer), Proposition
//! 14 of Kairouz et al. gives, at every Renyi order alpha,
//! D_alpha <= alpha rho with
//! rho = min( (Delta2^2 / (N v) + 2 Delta1 tau / sqrt(N v) + tau^2 d) / 2,
//! (Delta2 / sqrt(N v) + tau sqrt(d))^2 / 2 ),
//! tau = 10 sum_{k=1}^{N-1} exp(-2 pi^2 v k / (k + 1)) <= 10 (N - 1) exp(-pi^2 v) (the
//! bound used): rho-zCDP. Rounds compose by
//! adding rho (a participant is charged only for the rounds it joins; sampling's
//! amplification is not claimed, which over-counts, never under-counts), and
//! (epsilon, delta) comes from rho + 2 sqrt(rho ln(1/delta)). N is the number of
//! participants guaranteed to finish a round: ceil((1 - tolerated dropout) m). A
//! corrupted participant that adds no noise is not covered: the guarantee assumes the
//! participants follow the protocol.

use rand_core::CryptoRng;

use super::error::FlError;
use super::robust::clip_norm;
use crate::dp::sample::discrete_gaussian;

/// Participant-level DP settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParticipantLevelDp {
    /// Target epsilon for a participant that joins every round.
    pub epsilon: f64,
    /// delta.
    pub delta: f64,
    /// L2 bound S on each update.
    pub clip: f64,
    /// Participants guaranteed to finish each round (their noise is counted).
    pub min_survivors: u32,
}

/// The calibrated mechanism.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DdgPlan {
    /// Settings.
    pub dp: ParticipantLevelDp,
    /// Scale to the integer grid.
    pub gamma: f64,
    /// Variance of each participant's discrete Gaussian noise, in grid units.
    pub variance: u64,
    /// zCDP rho of one round.
    pub rho_per_round: f64,
    /// Input width for secure aggregation (values in [0, 2^bits)).
    pub bits: u32,
    /// Model dimension.
    pub dim: usize,
}

fn rho_of(delta2: f64, d: usize, n: u32, v: f64) -> f64 {
    let tau = 10.0
        * (1..n)
            .map(|k| {
                (-2.0 * std::f64::consts::PI.powi(2) * v * f64::from(k) / f64::from(k + 1)).exp()
            })
            .sum::<f64>();
    let nv = f64::from(n) * v;
    let d = d as f64;
    let delta1 = d.sqrt() * delta2;
    let a = (delta2 * delta2 / nv + 2.0 * delta1 * tau / nv.sqrt() + tau * tau * d) / 2.0;
    let b = (delta2 / nv.sqrt() + tau * d.sqrt()).powi(2) / 2.0;
    a.min(b)
}

/// epsilon of rho-zCDP at delta (Bun and Steinke 2016, rounded up).
pub fn zcdp_epsilon(rho: f64, delta: f64) -> f64 {
    let e = rho + 2.0 * (rho * -delta.ln()).sqrt();
    (e * (1.0 + 8.0 * f64::EPSILON)).next_up()
}

impl DdgPlan {
    /// Calibrates the noise so that `rounds` rounds cost at most `dp.epsilon` for a model
    /// of `dim` parameters.
    ///
    /// # Errors
    /// [`FlError::InvalidConfig`] for settings out of range or a model too large for
    /// 64-bit sums.
    ///
    /// # Privacy
    /// See the module doc: rho-zCDP per round, composed over the rounds joined.
    pub fn calibrate(dp: ParticipantLevelDp, dim: usize, rounds: u32) -> Result<Self, FlError> {
        let bad = |m: String| Err(FlError::InvalidConfig(m));
        let ok = dp.epsilon.is_finite() && dp.epsilon > 0.0 && dp.delta > 0.0 && dp.delta < 1.0;
        if !ok {
            return bad(format!(
                "participant-level epsilon {} and delta {}",
                dp.epsilon, dp.delta
            ));
        }
        if !(dp.clip.is_finite() && dp.clip > 0.0)
            || dp.min_survivors == 0
            || dim == 0
            || rounds == 0
        {
            return bad(
                "participant-level DP needs S > 0, at least one survivor, a model and rounds"
                    .into(),
            );
        }
        // The grid: rounding may add sqrt(d) to the norm; make it 1 % of gamma S.
        let gamma = 100.0 * (dim as f64).sqrt() / dp.clip;
        // Replace-one: two participants' vectors, each of norm gamma S + sqrt(d).
        let delta2 = 2.0 * (gamma * dp.clip + (dim as f64).sqrt());
        // rho for the whole run from the target: epsilon = rho + 2 sqrt(rho L).
        let l = -dp.delta.ln();
        let rho_run = ((l + dp.epsilon).sqrt() - l.sqrt()).powi(2);
        let rho_round = rho_run / f64::from(rounds);
        let n = dp.min_survivors;
        let mut v = (delta2 * delta2 / (2.0 * rho_round * f64::from(n)))
            .ceil()
            .max(1.0);
        while rho_of(delta2, dim, n, v) > rho_round
            || zcdp_epsilon(rho_of(delta2, dim, n, v) * f64::from(rounds), dp.delta) > dp.epsilon
        {
            v = (v * 1.001).ceil();
            if v > 2f64.powi(53) {
                return bad("no noise level meets the target".into());
            }
        }
        // Each input: |rounded| <= gamma S + 1 per coordinate, noise within 12 sigma
        // except with probability below 2^-100 per draw; the sum of the participants
        // must fit too (secure aggregation adds ceil(log2 m) bits itself).
        let reach = gamma * dp.clip + 1.0 + 12.0 * v.sqrt();
        let bits = (2.0 * reach).log2().ceil() as u32 + 1;
        if bits > 48 {
            return bad(format!(
                "a model of {dim} parameters needs {bits}-bit inputs"
            ));
        }
        if v > 2f64.powi(53) {
            return bad("no noise level below 2^53 meets the target".into());
        }
        // v is an integer below 2^53: exact as u64 and as f64.
        let variance = v as u64;
        Ok(DdgPlan {
            dp,
            gamma,
            variance,
            rho_per_round: rho_of(delta2, dim, n, variance as f64),
            bits,
            dim,
        })
    }

    /// The epsilon of `rounds` rounds joined.
    pub fn epsilon(&self, rounds: u32) -> f64 {
        if rounds == 0 {
            return 0.0;
        }
        zcdp_epsilon(self.rho_per_round * f64::from(rounds), self.dp.delta)
    }

    fn offset(&self) -> i128 {
        1i128 << (self.bits - 1)
    }

    /// A participant's noisy input to the secure sum.
    ///
    /// # Errors
    /// [`FlError::BadUpdate`] for a wrong length, a non-finite value, or noise beyond the
    /// input range (probability below 2^-100 per coordinate; nothing is sent).
    ///
    /// # Privacy
    /// The noise is the participant's share; the guarantee needs at least
    /// `min_survivors` shares in the sum.
    pub fn encode<R: CryptoRng + ?Sized>(
        &self,
        update: &[f64],
        rng: &mut R,
    ) -> Result<Vec<u64>, FlError> {
        let bad = |reason: String| FlError::BadUpdate {
            participant: u32::MAX,
            reason,
        };
        if update.len() != self.dim || update.iter().any(|x| !x.is_finite()) {
            return Err(bad(
                "an update of the wrong length or with a non-finite value".into(),
            ));
        }
        let mut x = update.to_vec();
        clip_norm(&mut x, self.dp.clip);
        let b = self.offset();
        x.iter()
            .map(|&v| {
                let s = v * self.gamma;
                let f = s.floor();
                let draw = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let z = f as i128 + i128::from(draw < s - f);
                let noisy = z + discrete_gaussian(rng, self.variance, 1)?;
                let shifted = noisy + b;
                if !(0..2 * b).contains(&shifted) {
                    return Err(bad("noise beyond the input range".into()));
                }
                Ok(shifted as u64)
            })
            .collect()
    }

    /// The noisy mean from the secure sum of `count` participants' inputs.
    pub fn decode(&self, sum: &[u64], count: usize) -> Vec<f64> {
        let off = self.offset() * count as i128;
        sum.iter()
            .map(|&s| (i128::from(s) - off) as f64 / self.gamma / count.max(1) as f64)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_meets_the_target_and_decoding_is_unbiased() {
        let dp = ParticipantLevelDp {
            epsilon: 3.0,
            delta: 1e-5,
            clip: 1.0,
            min_survivors: 8,
        };
        let p = DdgPlan::calibrate(dp, 7, 10).unwrap();
        assert!(
            p.epsilon(10) <= 3.0 && p.epsilon(10) > 2.9,
            "{}",
            p.epsilon(10)
        );
        assert!(p.epsilon(3) < p.epsilon(10));
        // Against the continuous Gaussian with the summed variance: tau is negligible.
        let delta2 = 2.0 * (p.gamma + 7f64.sqrt());
        let gauss = delta2 * delta2 / (2.0 * 8.0 * p.variance as f64);
        assert!((p.rho_per_round - gauss).abs() <= 1e-12 * gauss);
        // Ten participants' noisy inputs decode to the mean within the noise.
        let mut rng = crate::rng::seeded(3);
        let x = [0.5, -0.25, 0.1, 0.0, 0.3, -0.6, 0.2];
        let mut sum = vec![0u64; 7];
        for _ in 0..10 {
            let e = p.encode(&x, &mut rng).unwrap();
            for (s, v) in sum.iter_mut().zip(e) {
                *s += v;
            }
        }
        let mean = p.decode(&sum, 10);
        let sd = (10.0 * p.variance as f64).sqrt() / p.gamma / 10.0;
        for (m, want) in mean.iter().zip(x) {
            assert!((m - want).abs() < 6.0 * sd + 1e-9, "{m} vs {want}, sd {sd}");
        }
        assert!(DdgPlan::calibrate(ParticipantLevelDp { epsilon: 0.0, ..dp }, 7, 10).is_err());
    }

    #[test]
    fn the_summed_noise_has_the_planned_variance() {
        // 10 participants with zero updates: the decoded mean is pure noise with variance
        // 10 v / (gamma 10)^2 per coordinate; 4 000 coordinates, fixed seed.
        let dp = ParticipantLevelDp {
            epsilon: 1.0,
            delta: 1e-5,
            clip: 1.0,
            min_survivors: 10,
        };
        let p = DdgPlan::calibrate(dp, 4000, 5).unwrap();
        let mut rng = crate::rng::seeded(17);
        let zero = vec![0.0; 4000];
        let mut sum = vec![0u64; 4000];
        for _ in 0..10 {
            for (s, v) in sum.iter_mut().zip(p.encode(&zero, &mut rng).unwrap()) {
                *s += v;
            }
        }
        let mean = p.decode(&sum, 10);
        let want = 10.0 * p.variance as f64 / (p.gamma * 10.0).powi(2);
        let got = mean.iter().map(|x| x * x).sum::<f64>() / mean.len() as f64;
        // The sample variance of 4 000 normals is within 10 % except with probability
        // about 1e-5; the seed is fixed.
        assert!(
            (got / want - 1.0).abs() < 0.1,
            "variance {got}, planned {want}"
        );
    }
}
