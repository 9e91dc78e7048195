//! DP output noise, added under encryption, against model extraction.
//!
//! ## What is protected, and the neighbouring relation
//! The noise protects the **weights** from the client, not the client's data (that is
//! protected by encryption). Two models are neighbours when their weight vectors, intercept
//! included, differ by at most `resolution` in L1 norm (in particular: one weight moved by
//! `resolution`). For a record whose features satisfy |x_i| <= B_i (the bounds the model owner
//! declares, `--feature-bounds`), the score of neighbouring models differs by at most
//!
//! Delta = (resolution + (d + 1) 2^-44) * max(1, max_i B_i)
//!
//! (|sum_i (w_i - w'_i) x_i + (b - b')| <= ||(w, b) - (w', b')||_1 max(1, max_i |x_i|); the
//! 2^-44 terms cover the rounding of the served weights to their fixed point). Each noisy
//! score is then epsilon-DP in the weights, and k scores cost k epsilon (basic composition),
//! charged to the client's privacy budget in the query ledger. A client whose total budget is
//! E cannot tell a model from one with any weight moved by `resolution` with more than
//! E-DP confidence.
//!
//! ## What it assumes
//! The service cannot clip encrypted features, so the guarantee holds only for records inside
//! the declared bounds. A client that sends a feature of 10^6 B_i amplifies that weight's
//! signal 10^6 times against the same noise: the noise then protects the weights against
//! honest-but-curious clients (who use the bounds) and gives **nothing** against a client that
//! deliberately sends out-of-range values. Sending out-of-range values never hurts the
//! client's own privacy (its features stay encrypted); it only defeats the model owner's
//! protection. Against such a client the record budget (`--query-budget`, keyed by API
//! token) is the defence that holds.
//!
//! ## How the noise is drawn (exactly, on the score's own grid)
//! The decrypted score is an integer S times the unit u = 16^(-11 + e_ref) (about 2^-100 for
//! python-paillier floats near 1), and every digit of it down to u is exact: noise on any
//! coarser grid would leave the low digits, which carry the weights' low bits, untouched.
//! So the noise N is drawn in units of u: with Delta_u = Delta / u and G = 2^g the power of two
//! at least 2^-21 Delta_u (g >= 0),
//!
//! N = G L + U - G/2,  L ~ discrete Laplace of scale b = k / epsilon (rounded up to a
//! rational), k = floor(Delta_u / G) + 1,  U uniform in [0, G),
//!
//! both from exact samplers ([`crate::dp::sample::discrete_laplace`], uniform bits) on a
//! CSPRNG. Given S, Y = S + N has P(Y = y) = P(L = l) / G with l = floor((y - S + G/2) / G),
//! and for |S - S'| <= Delta_u the two l differ by at most k, so the ratio of probabilities is
//! at most exp(k / b) <= exp(epsilon): epsilon-DP. The rounding costs a factor of at most
//! 1 + 2^-20 in noise over Delta / epsilon. N is encrypted as a plaintext, added to the
//! encrypted score, and the sum rerandomized: the client decrypts only S + N.
//!
//! ## Tail
//! |N| u <= (|L| + 1) G u, and P(|L| >= t b) <= 2 exp(-t), so
//! P(|noise| > (t + 1) (Delta / epsilon) (1 + 2^-19) + 2 G u) <= 2 exp(-t).

use num_bigint::{BigInt, BigUint};
use rand_core::CryptoRng;

use super::ServeError;
use super::model::WEIGHT_EXPONENT;

/// Bits of Delta_u kept above the grid G: the rounding costs at most 2^-20 of the noise.
const GRID_BITS: u64 = 21;
/// Denominator of the rational noise scale.
const SCALE_DEN_BITS: u32 = 20;

/// The noise's parameters: per-record epsilon, per-client budget, sensitivity.
#[derive(Clone, Debug)]
pub struct NoiseConfig {
    /// Epsilon charged per scored record.
    pub epsilon: f64,
    /// Total epsilon each client may spend.
    pub epsilon_budget: f64,
    /// Delta: how far the score of neighbouring models may move on an in-bounds record.
    pub sensitivity: f64,
}

fn bad(m: impl Into<String>) -> ServeError {
    ServeError::Model(format!("DP noise: {}", m.into()))
}

impl NoiseConfig {
    /// Per-record `epsilon`, per-client `epsilon_budget`, neighbouring models `resolution`
    /// apart in L1, and feature bounds |x_i| <= `bounds[i]`.
    ///
    /// # Errors
    /// [`ServeError::Model`] (a start-up error) for a non-finite or non-positive number, an
    /// epsilon below 2^-20, or a budget below one record's epsilon.
    pub fn new(
        epsilon: f64,
        epsilon_budget: f64,
        resolution: f64,
        bounds: &[f64],
    ) -> Result<Self, ServeError> {
        let pos = |x: f64| x.is_finite() && x > 0.0;
        if !pos(epsilon) || epsilon < 2f64.powi(-(SCALE_DEN_BITS as i32)) || epsilon > 1e6 {
            return Err(bad("epsilon must lie in [2^-20, 10^6]"));
        }
        if !pos(epsilon_budget) || epsilon_budget < epsilon {
            return Err(bad(
                "the privacy budget must be at least one record's epsilon",
            ));
        }
        if !pos(resolution) || bounds.iter().any(|b| !pos(*b)) {
            return Err(bad(
                "the weight resolution and every feature bound must be positive and finite",
            ));
        }
        let max_b = bounds.iter().copied().fold(1.0f64, f64::max);
        // The served weights are the real ones rounded to 2^-44: neighbours at distance r may
        // be served at up to r + (d + 1) 2^-44 in L1.
        let rounding = (bounds.len() as f64 + 1.0) * 2f64.powi(4 * WEIGHT_EXPONENT);
        let sensitivity = (resolution + rounding) * max_b;
        if !sensitivity.is_finite() || sensitivity > 1e30 {
            return Err(bad("the sensitivity resolution * max bound is too large"));
        }
        Ok(NoiseConfig {
            epsilon,
            epsilon_budget,
            sensitivity,
        })
    }

    /// Reads the feature bounds from JSON, `{"feature name": bound, ..}` with every feature
    /// of the model, and builds the configuration.
    ///
    /// # Errors
    /// As [`NoiseConfig::new`]; a missing, unknown or non-numeric feature.
    pub fn from_bounds_json(
        text: &str,
        features: &[String],
        epsilon: f64,
        epsilon_budget: f64,
        resolution: f64,
    ) -> Result<Self, ServeError> {
        let map: std::collections::BTreeMap<String, f64> =
            serde_json::from_str(text).map_err(|e| {
                bad(format!(
                    "feature bounds must be {{\"name\": bound, ..}}: {e}"
                ))
            })?;
        if let Some(k) = map.keys().find(|k| !features.contains(k)) {
            return Err(bad(format!(
                "feature bounds name {k:?}, not a feature of the model"
            )));
        }
        let bounds = features
            .iter()
            .map(|f| {
                map.get(f)
                    .copied()
                    .ok_or_else(|| bad(format!("no bound for feature {f:?}")))
            })
            .collect::<Result<Vec<f64>, _>>()?;
        Self::new(epsilon, epsilon_budget, resolution, &bounds)
    }

    /// Epsilon of a request of `records` records.
    ///
    /// # Errors
    /// [`ServeError::Internal`] if it overflows (cannot for a batch limit below 2^40).
    pub fn epsilon_for(&self, records: u64) -> Result<f64, ServeError> {
        let e = self.epsilon * records as f64;
        if e.is_finite() {
            Ok(e)
        } else {
            Err(ServeError::Internal("epsilon overflows".into()))
        }
    }

    /// The Laplace scale Delta / epsilon, in score units (the noise is at most 1 + 2^-19 times
    /// wider).
    pub fn scale(&self) -> f64 {
        self.sensitivity / self.epsilon
    }

    /// Draws the noise for a score whose unit is 16^(WEIGHT_EXPONENT + e_ref), in those units.
    ///
    /// # Errors
    /// [`ServeError::Internal`] if the sampler refuses its parameters (cannot for a
    /// configuration built by [`NoiseConfig::new`]).
    ///
    /// # Privacy
    /// epsilon-DP for scores of neighbouring models on in-bounds records (see the module).
    /// The sampler's running time depends on |L| (see the README's timing note).
    pub fn draw<R: CryptoRng + ?Sized>(
        &self,
        e_ref: i32,
        rng: &mut R,
    ) -> Result<BigInt, ServeError> {
        let internal = |m: String| ServeError::Internal(format!("DP noise: {m}"));
        // Delta = m 2^q exactly, m < 2^53.
        let (m, q) = decompose(self.sensitivity);
        // Delta_u = m 2^shift with shift = q - 4 (WEIGHT_EXPONENT + e_ref).
        let shift = i64::from(q) - 4 * (i64::from(WEIGHT_EXPONENT) + i64::from(e_ref));
        let bits = 64 - u64::from(m.leading_zeros()) as i64 + shift; // bit length of Delta_u
        let g = (bits - GRID_BITS as i64).max(0);
        // k = floor(Delta_u / 2^g) + 1 <= 2^21 + 1.
        let k: u128 = if g >= shift {
            let s = (g - shift).min(127) as u32;
            (u128::from(m) >> s) + 1
        } else {
            // g < shift means bitlen(m) < 21, and then m 2^(shift - g) < 2^21.
            (u128::from(m) << (shift - g) as u32) + 1
        };
        let den = (self.epsilon * f64::from(1u32 << SCALE_DEN_BITS)).floor() as u64;
        let num = u64::try_from(k << SCALE_DEN_BITS).map_err(|_| internal("scale".into()))?;
        if den == 0 {
            return Err(internal("epsilon below 2^-20".into()));
        }
        let l = crate::dp::sample::discrete_laplace(rng, num, den)
            .map_err(|e| internal(e.to_string()))?;
        let g = g as u64;
        let mut noise = BigInt::from(l) << g;
        if g > 0 {
            let mut bytes = vec![0u8; g.div_ceil(8) as usize];
            rng.fill_bytes(&mut bytes);
            let extra = bytes.len() as u64 * 8 - g;
            bytes[0] &= 0xffu8 >> extra;
            noise += BigInt::from(BigUint::from_bytes_be(&bytes));
            noise -= BigInt::from(1u8) << (g - 1);
        }
        Ok(noise)
    }
}

/// x = m 2^q with m an integer below 2^53, for a positive finite x.
fn decompose(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompose_is_exact() {
        for x in [1.0, 0.1, 3.5e-7, 1234.5678, 1e30] {
            let (m, q) = decompose(x);
            assert_eq!(m as f64 * 2f64.powi(q), x);
        }
    }

    #[test]
    fn noise_has_the_stated_scale_on_the_fine_grid() {
        let cfg = NoiseConfig::new(0.5, 10.0, 0.01, &[100.0, 3.0]).unwrap();
        assert!((cfg.sensitivity - 1.0).abs() < 1e-10);
        let mut rng = crate::rng::seeded(9);
        let e_ref = -14;
        let unit = 16f64.powi(WEIGHT_EXPONENT + e_ref);
        let draws: Vec<f64> = (0..2000)
            .map(|_| {
                let n = cfg.draw(e_ref, &mut rng).unwrap();
                num_traits::ToPrimitive::to_f64(&n).unwrap() * unit
            })
            .collect();
        let mean_abs = draws.iter().map(|x| x.abs()).sum::<f64>() / draws.len() as f64;
        // E|Laplace(b)| = b = 2.
        assert!((mean_abs - 2.0).abs() < 0.2, "{mean_abs}");
        assert!(draws.iter().all(|x| x.abs() < 2.0 * 40.0));
        // the low digits are not all zero: the noise lives on the fine grid
        let n = cfg.draw(e_ref, &mut rng).unwrap();
        assert_ne!(n.clone() % BigInt::from(1u64 << 40), BigInt::from(0));
    }
}
