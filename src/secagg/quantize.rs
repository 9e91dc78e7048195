//! Quantization shared with the training layer: real-valued model updates to the integers
//! secure aggregation sums, and the sum back to reals.
//!
//! Each coordinate is clipped to [-c, c], mapped affinely onto [0, L] with L =
//! 2^bits - 1, and rounded stochastically (up with probability equal to the fractional
//! part, from a CSPRNG), so the quantized value is an unbiased estimate of the clipped one.
//! A session with `input_bits = bits` then sums n of them without wrapping
//! ([`super::Params`] picks the modulus), and [`Quantizer::dequantize_sum`] maps the sum
//! of m included clients back: sum * 2c / L - m c.

use rand_core::CryptoRng;

use super::error::SecAggError;

/// Clipping bound and resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantizer {
    clip: f64,
    bits: u32,
}

impl Quantizer {
    /// Coordinates clipped to [-clip, clip], quantized to `bits` bits (1 to 48).
    ///
    /// # Errors
    /// [`SecAggError::InvalidInput`] for a clip that is not finite and positive, or bits
    /// out of range.
    pub fn new(clip: f64, bits: u32) -> Result<Self, SecAggError> {
        if !(clip.is_finite() && clip > 0.0 && (1..=48).contains(&bits)) {
            return Err(SecAggError::InvalidInput(format!(
                "quantizer: clip {clip} must be finite and positive, bits {bits} in 1..=48"
            )));
        }
        Ok(Quantizer { clip, bits })
    }

    /// The input width to give [`super::Params`].
    pub fn bits(&self) -> u32 {
        self.bits
    }

    fn levels(&self) -> f64 {
        ((1u64 << self.bits) - 1) as f64
    }

    /// Quantizes one update.
    ///
    /// # Errors
    /// [`SecAggError::InvalidInput`] for a NaN coordinate (infinities are clipped).
    ///
    /// # Security
    /// The rounding draws come from `rng` (use a CSPRNG); the time taken does not depend
    /// on the values beyond float operations on normal numbers.
    pub fn quantize<R: CryptoRng + ?Sized>(
        &self,
        x: &[f64],
        rng: &mut R,
    ) -> Result<Vec<u64>, SecAggError> {
        let l = self.levels();
        x.iter()
            .map(|&v| {
                if v.is_nan() {
                    return Err(SecAggError::InvalidInput("a coordinate is NaN".into()));
                }
                let scaled = (v.clamp(-self.clip, self.clip) + self.clip) / (2.0 * self.clip) * l;
                let floor = scaled.floor();
                let frac = scaled - floor;
                // Up with probability frac: a uniform 53-bit draw below frac * 2^53.
                let draw = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let q = floor as u64 + u64::from(draw < frac);
                Ok(q.min(l as u64))
            })
            .collect()
    }

    /// The real-valued sum from the aggregate of `count` clients' quantized updates.
    pub fn dequantize_sum(&self, sum: &[u64], count: usize) -> Vec<f64> {
        let step = 2.0 * self.clip / self.levels();
        sum.iter()
            .map(|&s| s as f64 * step - count as f64 * self.clip)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_unbiased_and_within_one_step() {
        let q = Quantizer::new(1.0, 16).unwrap();
        let mut rng = crate::rng::seeded(4);
        let x = [0.25, -0.75, 3.0, -1.0, 1e-9];
        let step = 2.0 / 65535.0;
        let mut acc = [0.0f64; 5];
        let runs = 2000;
        for _ in 0..runs {
            let v = q.quantize(&x, &mut rng).unwrap();
            let back = q.dequantize_sum(&v, 1);
            for (i, b) in back.iter().enumerate() {
                let clipped = x[i].clamp(-1.0, 1.0);
                assert!((b - clipped).abs() <= step + 1e-12);
                acc[i] += b;
            }
        }
        for i in 0..5 {
            let clipped = x[i].clamp(-1.0, 1.0);
            // Mean of 2000 draws within 5 standard errors of a Bernoulli step.
            assert!(
                (acc[i] / runs as f64 - clipped).abs() < 5.0 * step / (runs as f64).sqrt() + 1e-12
            );
        }
        assert!(q.quantize(&[f64::NAN], &mut rng).is_err());
        assert!(Quantizer::new(0.0, 8).is_err() && Quantizer::new(1.0, 60).is_err());
        // Sums of several clients dequantize to the sum of the clipped values.
        let a = q.quantize(&[0.5, -0.5], &mut rng).unwrap();
        let b = q.quantize(&[0.25, 1.0], &mut rng).unwrap();
        let s: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let back = q.dequantize_sum(&s, 2);
        assert!((back[0] - 0.75).abs() <= 2.0 * step && (back[1] - 0.5).abs() <= 2.0 * step);
    }
}
