//! Standardization statistics released with differential privacy.
//!
//! Every feature is clipped to bounds the user states, mapped onto [-1, 1] by them
//! (y = (x - c) / r with c the bounds' centre and r their half-width), and the vector
//! (n, sum y_1, .., sum y_d, sum y_1^2, .., sum y_d^2) is released once through
//! [`crate::dp::release::gaussian_vector`]: adding or removing one row moves it by a vector
//! of L2 norm at most sqrt(1 + 2d), and the noise multiplier is the analytic Gaussian
//! calibration (Balle and Wang 2018) for the (epsilon, delta) asked. Means and standard
//! deviations are post-processing of the release; a standard deviation is kept in
//! [r / 1000, r] and a mean inside the bounds.

use rand_core::CryptoRng;

use super::{Scaler, ScalerSource};
use crate::data::{DataError, Dataset};
use crate::dp::mechanism::gaussian_sigma_analytic;
use crate::dp::release::gaussian_vector;
use crate::dp::{DpError, NoiseMultiplier};

impl Scaler {
    /// Means and standard deviations of `data` clipped to `bounds`, released with
    /// (epsilon, delta)-differential privacy.
    ///
    /// # Errors
    /// [`DataError::Shape`] when `bounds` does not give one (lo, hi) per feature,
    /// [`DataError::InvalidParameter`] for bad bounds or privacy parameters (nothing is
    /// drawn then).
    ///
    /// # Privacy
    /// (epsilon, delta)-DP with respect to adding or removing one row (the Gaussian
    /// mechanism, its rounding charged to the sensitivity). A model trained on the scaled
    /// data with DP-SGD at (epsilon', delta') is (epsilon + epsilon', delta + delta')-DP by
    /// basic composition: charge both.
    pub fn dp_standardize<R: CryptoRng + ?Sized>(
        data: &Dataset,
        bounds: &[(f64, f64)],
        epsilon: f64,
        delta: f64,
        rng: &mut R,
    ) -> Result<Self, DataError> {
        let d = data.n_features();
        if bounds.len() != d {
            return Err(DataError::Shape(format!(
                "{} bounds for {d} features",
                bounds.len()
            )));
        }
        let by_bounds = Scaler::from_bounds(bounds)?;
        let dp = |e: DpError| DataError::InvalidParameter(e.to_string());
        let sigma = gaussian_sigma_analytic(1.0, epsilon, delta).map_err(dp)?;
        let sigma = NoiseMultiplier::new(sigma).map_err(dp)?;
        let (c, r) = (&by_bounds.shift, &by_bounds.scale);
        let mut stats = vec![0.0; 1 + 2 * d];
        stats[0] = data.len() as f64;
        for i in 0..data.len() {
            for (j, x) in data.row(i).iter().enumerate() {
                let y = ((x - c[j]) / r[j]).clamp(-1.0, 1.0);
                stats[1 + j] += y;
                stats[1 + d + j] += y * y;
            }
        }
        let sensitivity = ((1 + 2 * d) as f64).sqrt();
        let noisy = gaussian_vector(rng, &stats, sensitivity, sigma).map_err(dp)?;
        let v = noisy.values;
        let n = v[0].max(1.0);
        let mut shift = Vec::with_capacity(d);
        let mut scale = Vec::with_capacity(d);
        for j in 0..d {
            let m = (v[1 + j] / n).clamp(-1.0, 1.0);
            let var = (v[1 + d + j] / n - m * m).max(0.0);
            shift.push(c[j] + r[j] * m);
            scale.push(r[j] * var.sqrt().clamp(1e-3, 1.0));
        }
        Ok(Scaler {
            source: ScalerSource::DpStandardized { epsilon, delta },
            shift,
            scale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::hospitals::{HospitalConfig, generate};

    #[test]
    fn dp_statistics_approach_the_exact_ones_on_many_rows() {
        let h = generate(&HospitalConfig::new(20_000, 1, 5).unwrap());
        let data = &h.hospitals[0];
        let exact = Scaler::standardize(data);
        let bounds = [
            (20.0, 90.0),
            (120.0, 350.0),
            (90.0, 200.0),
            (50.0, 120.0),
            (0.0, 20.0),
            (16.0, 45.0),
        ];
        let mut rng = crate::rng::seeded(9);
        let s = Scaler::dp_standardize(data, &bounds[..data.n_features()], 1.0, 1e-6, &mut rng)
            .unwrap();
        assert_eq!(
            s.source,
            ScalerSource::DpStandardized {
                epsilon: 1.0,
                delta: 1e-6
            }
        );
        for (j, &(lo, hi)) in bounds.iter().enumerate().take(data.n_features()) {
            // noise of sd about 5 sqrt(13) on sums over 20 000 rows: well under 1 %
            assert!(
                (s.shift[j] - exact.shift[j]).abs() < 0.01 * (hi - lo),
                "mean {j}"
            );
            assert!(
                (s.scale[j] - exact.scale[j]).abs() < 0.05 * (hi - lo),
                "sd {j}"
            );
        }
    }

    #[test]
    fn bad_inputs_are_refused_before_any_draw() {
        let h = generate(&HospitalConfig::new(200, 1, 5).unwrap());
        let mut rng = crate::rng::seeded(9);
        let d = &h.hospitals[0];
        assert!(Scaler::dp_standardize(d, &[(0.0, 1.0)], 1.0, 1e-6, &mut rng).is_err());
        let b = vec![(0.0, 1.0); d.n_features()];
        assert!(Scaler::dp_standardize(d, &b, -1.0, 1e-6, &mut rng).is_err());
        assert!(Scaler::dp_standardize(d, &b, 1.0, 0.0, &mut rng).is_err());
    }
}
