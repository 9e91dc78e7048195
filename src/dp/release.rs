//! Real-valued releases that resist the floating-point attack (Mironov 2012): the value is
//! rounded to a power-of-two grid g, integer noise from an exact sampler is added in grid
//! units, and the result is scaled back. The rounding moves a value by at most g/2, so the
//! noise is calibrated to sensitivity + g; its scale is rounded up to a rational, so the
//! true cost never exceeds the stated one. g is about 2^-20 of the noise scale.

use rand_core::CryptoRng;

use super::mechanism::{PrivacyCost, gaussian_sigma_analytic, laplace_scale};
use super::sample::{discrete_gaussian, discrete_gaussians, discrete_laplace};
use super::{DpError, NoiseMultiplier};

/// A noisy value with what it cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Release {
    /// The released value: a multiple of `granularity`.
    pub value: f64,
    /// The grid step g (a power of two).
    pub granularity: f64,
    /// The privacy cost of this release.
    pub cost: PrivacyCost,
}

const GRID_BITS: i32 = 20;

fn pow2_below(x: f64) -> f64 {
    2f64.powi(x.log2().floor() as i32)
}

/// ceil(x * 2^bits) as an integer numerator over 2^bits, nudged up against float error.
fn rational_up(x: f64, bits: u32) -> Result<(u64, u64), DpError> {
    let scaled = (x * 2f64.powi(bits as i32) * (1.0 + 1e-12)).ceil();
    if !(scaled.is_finite() && scaled >= 1.0 && scaled < 2f64.powi(63)) {
        return Err(DpError::InvalidParameter(
            "noise scale out of the supported range".into(),
        ));
    }
    Ok((scaled as u64, 1u64 << bits))
}

fn to_grid(value: f64, g: f64) -> Result<i128, DpError> {
    if !value.is_finite() {
        return Err(DpError::InvalidParameter(format!(
            "cannot release a non-finite value ({value})"
        )));
    }
    let k = (value / g).round();
    if k.abs() > 2f64.powi(100) {
        return Err(DpError::InvalidParameter(
            "value too large for the noise grid".into(),
        ));
    }
    Ok(k as i128)
}

/// The grid of a Laplace release: the largest power of two not above the noise scale
/// sensitivity / epsilon, times 2^-20.
///
/// # Errors
/// [`DpError::InvalidParameter`] for non-positive parameters or a grid outside the normal
/// doubles.
pub(crate) fn laplace_grid(sensitivity: f64, epsilon: f64) -> Result<f64, DpError> {
    let g = pow2_below(laplace_scale(sensitivity, epsilon)?) * 2f64.powi(-GRID_BITS);
    if g.is_normal() {
        Ok(g)
    } else {
        Err(DpError::InvalidParameter(
            "noise scale out of the supported range".into(),
        ))
    }
}

/// Laplace release of an exact integer number of grid units whose sensitivity, in grid
/// units, is the integer `sensitivity_units`: discrete Laplace noise of scale
/// sensitivity_units / epsilon (rounded up to a rational), no rounding left to charge.
pub(crate) fn laplace_units<R: CryptoRng + ?Sized>(
    rng: &mut R,
    units: i128,
    sensitivity_units: u64,
    epsilon: f64,
    granularity: f64,
) -> Result<Release, DpError> {
    if sensitivity_units == 0 {
        return Err(DpError::InvalidParameter(
            "sensitivity must be positive".into(),
        ));
    }
    // the conversion to f64 errs by 2^-53 relative at most, covered by rational_up's nudge
    let scale = laplace_scale(sensitivity_units as f64, epsilon)?;
    let (num, den) = rational_up(scale, 20)?;
    let z = discrete_laplace(rng, num, den)?;
    let k = units
        .checked_add(z)
        .ok_or_else(|| DpError::InvalidParameter("released value overflows".into()))?;
    Ok(Release {
        value: k as f64 * granularity,
        granularity,
        cost: PrivacyCost::Pure { epsilon },
    })
}

/// Laplace release: pure epsilon-DP for L1 sensitivity `sensitivity`.
///
/// # Errors
/// [`DpError::InvalidParameter`] for NaN, infinities or non-positive parameters.
///
/// # Privacy
/// epsilon-DP (the rounding is charged to the sensitivity).
pub fn laplace<R: CryptoRng + ?Sized>(
    rng: &mut R,
    value: f64,
    sensitivity: f64,
    epsilon: f64,
) -> Result<Release, DpError> {
    let g = laplace_grid(sensitivity, epsilon)?;
    let (num, den) = rational_up((sensitivity + g) / (epsilon * g), 20)?;
    let k = to_grid(value, g)?;
    let z = discrete_laplace(rng, num, den)?;
    Ok(Release {
        value: (k + z) as f64 * g,
        granularity: g,
        cost: PrivacyCost::Pure { epsilon },
    })
}

/// Gaussian release with the analytic calibration: (epsilon, delta)-DP for L2 sensitivity,
/// any epsilon (the calibration works in log space far beyond e^709).
///
/// # Errors
/// [`DpError::InvalidParameter`] for NaN, infinities or parameters out of range;
/// [`DpError::Unsupported`] when the privacy curve cannot be evaluated. Every check is made
/// before any noise is drawn.
///
/// # Privacy
/// (epsilon, delta)-DP (the rounding is charged to the sensitivity).
pub fn gaussian<R: CryptoRng + ?Sized>(
    rng: &mut R,
    value: f64,
    sensitivity: f64,
    epsilon: f64,
    delta: f64,
) -> Result<Release, DpError> {
    let sigma0 = gaussian_sigma_analytic(sensitivity, epsilon, delta)?;
    let g = pow2_below(sigma0) * 2f64.powi(-GRID_BITS);
    let sigma = gaussian_sigma_analytic(sensitivity + g, epsilon, delta)?;
    let s = sigma / g;
    let (num, den) = rational_up(s * s, 10)?;
    let k = to_grid(value, g)?;
    let z = discrete_gaussian(rng, num, den)?;
    Ok(Release {
        value: (k + z) as f64 * g,
        granularity: g,
        cost: PrivacyCost::Approx { epsilon, delta },
    })
}

/// Discrete Laplace on an integer: pure epsilon-DP for integer sensitivity.
///
/// # Errors
/// [`DpError::InvalidParameter`] for non-positive parameters.
///
/// # Privacy
/// epsilon-DP.
pub fn discrete_laplace_int<R: CryptoRng + ?Sized>(
    rng: &mut R,
    value: i64,
    sensitivity: u64,
    epsilon: f64,
) -> Result<(i128, PrivacyCost), DpError> {
    let b = laplace_scale(sensitivity as f64, epsilon)?;
    let (num, den) = rational_up(b, 20)?;
    Ok((
        i128::from(value) + discrete_laplace(rng, num, den)?,
        PrivacyCost::Pure { epsilon },
    ))
}

/// Discrete Gaussian on an integer, calibrated through zCDP: rho such that
/// rho + 2 sqrt(rho ln(1/delta)) = epsilon, sigma = s / sqrt(2 rho).
///
/// # Errors
/// [`DpError::InvalidParameter`] for parameters out of range, among them a sigma^2 that is
/// not below 2^53 (the sampler's rational n / 2^10 must fit 63 bits). Refused before any
/// noise is drawn; within the range the sampler never fails.
///
/// # Privacy
/// rho-zCDP, hence (epsilon, delta)-DP.
pub fn discrete_gaussian_int<R: CryptoRng + ?Sized>(
    rng: &mut R,
    value: i64,
    sensitivity: u64,
    epsilon: f64,
    delta: f64,
) -> Result<(i128, PrivacyCost), DpError> {
    if !(epsilon.is_finite() && epsilon > 0.0 && delta > 0.0 && delta < 1.0) || sensitivity == 0 {
        return Err(DpError::InvalidParameter(
            "need epsilon > 0, 0 < delta < 1, sensitivity > 0".into(),
        ));
    }
    // solve sqrt(rho) = -sqrt(L) + sqrt(L + epsilon), L = ln(1/delta)
    let l = (1.0 / delta).ln();
    let r = (l + epsilon).sqrt() - l.sqrt();
    let rho = r * r * (1.0 - 1e-12);
    let sigma = sensitivity as f64 / (2.0 * rho).sqrt();
    let (num, den) = rational_up(sigma * sigma, 10)?;
    Ok((
        i128::from(value) + discrete_gaussian(rng, num, den)?,
        PrivacyCost::Zcdp { rho },
    ))
}

/// A noisy vector with what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorRelease {
    /// The released coordinates: multiples of `granularity`.
    pub values: Vec<f64>,
    /// The grid step g (a power of two).
    pub granularity: f64,
    /// The standard deviation of the noise actually added to each coordinate (at least
    /// sigma times the sensitivity: the rounding is charged to it).
    pub noise_std: f64,
    /// The privacy cost of this release alone (zCDP, rho = 1 / (2 sigma^2)); accountants
    /// of subsampled releases use the noise multiplier instead.
    pub cost: PrivacyCost,
}

/// Grid bits of a vector release: g is about 2^-16 of the noise standard deviation, which
/// keeps the discrete Gaussian's sigma^2 near 2^32 grid units (its fast u128 path).
const VECTOR_GRID_BITS: i32 = 16;

/// The Gaussian mechanism on a vector with a given noise multiplier, as DP-SGD uses it:
/// each coordinate is rounded to a power-of-two grid g and gets independent discrete
/// Gaussian noise in grid units. Rounding every coordinate moves a vector by at most
/// g sqrt(d) / 2 in L2 norm, so two neighbouring vectors stay within
/// `l2_sensitivity` + g sqrt(d) of each other after rounding; the noise standard deviation
/// is sigma times that (its square rounded up to a rational), so the release is at least as
/// private as the Gaussian mechanism with noise multiplier sigma on the unrounded vector.
///
/// # Errors
/// [`DpError::InvalidParameter`] for an empty vector, a NaN or infinite coordinate, a
/// non-positive or non-finite sensitivity, or a noise scale outside the supported range;
/// every check is made before any noise is drawn.
///
/// # Privacy
/// The noise is the discrete Gaussian (Canonne, Kamath, Steinke 2020), whose privacy for an
/// integer-valued query of L2 sensitivity Delta is at least that of the continuous Gaussian
/// with the same sigma in zCDP (rho = Delta^2 / (2 sigma^2), their analysis of the
/// multivariate discrete Gaussian). The RDP and PLD accountants of [`super::calibrate`]
/// treat a Poisson-subsampled release as the continuous subsampled Gaussian with
/// multiplier sigma, as Opacus and TensorFlow Privacy do for their (floating-point) noise;
/// a proof that the discrete noise is dominated there too is not written down here.
///
/// ```
/// use shroud::dp::NoiseMultiplier;
/// use shroud::dp::release::gaussian_vector;
/// let mut rng = shroud::rng::seeded(3);
/// let r = gaussian_vector(&mut rng, &[1.0, -2.5, 0.0], 1.0, NoiseMultiplier::new(2.0).unwrap())
///     .unwrap();
/// assert_eq!(r.values.len(), 3);
/// assert!(r.noise_std >= 2.0);
/// assert!(r.values.iter().all(|v| (v / r.granularity).fract() == 0.0));
/// ```
pub fn gaussian_vector<R: CryptoRng + ?Sized>(
    rng: &mut R,
    values: &[f64],
    l2_sensitivity: f64,
    sigma: NoiseMultiplier,
) -> Result<VectorRelease, DpError> {
    if values.is_empty() {
        return Err(DpError::InvalidParameter(
            "cannot release an empty vector".into(),
        ));
    }
    if !(l2_sensitivity.is_finite() && l2_sensitivity > 0.0) {
        return Err(DpError::InvalidParameter(format!(
            "sensitivity must be positive and finite, got {l2_sensitivity}"
        )));
    }
    let std0 = sigma.get() * l2_sensitivity;
    let g = pow2_below(std0) * 2f64.powi(-VECTOR_GRID_BITS);
    if !(std0.is_finite() && g.is_normal()) {
        return Err(DpError::InvalidParameter(
            "noise scale out of the supported range".into(),
        ));
    }
    // rounding error of each coordinate <= g/2, so the rounded sensitivity is at most
    // l2 + g sqrt(d); nudged up against the float error of this expression
    let sens = (l2_sensitivity + g * (values.len() as f64).sqrt()) * (1.0 + 1e-12);
    let s = sigma.get() * sens / g;
    let (num, den) = rational_up(s * s, 10)?;
    let units = values
        .iter()
        .map(|&v| to_grid(v, g))
        .collect::<Result<Vec<i128>, _>>()?;
    let noise = discrete_gaussians(rng, num, den, units.len())?;
    let mut out = Vec::with_capacity(units.len());
    for (k, z) in units.into_iter().zip(noise) {
        let k = k
            .checked_add(z)
            .ok_or_else(|| DpError::InvalidParameter("released value overflows".into()))?;
        out.push(k as f64 * g);
    }
    Ok(VectorRelease {
        values: out,
        granularity: g,
        noise_std: (num as f64 / den as f64).sqrt() * g,
        cost: PrivacyCost::Zcdp {
            rho: 1.0 / (2.0 * sigma.get() * sigma.get()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_noise_has_the_charged_standard_deviation_on_the_grid() {
        let mut rng = crate::rng::seeded(11);
        let sigma = NoiseMultiplier::new(1.5).unwrap();
        let x = vec![0.25; 4000];
        let r = gaussian_vector(&mut rng, &x, 2.0, sigma).unwrap();
        assert_eq!(r.granularity, 2f64.powi(-15)); // 2^1 * 2^-16
        // std = 1.5 * (2 + g sqrt(4000)) rounded up: within 0.2 % of 3
        assert!(
            r.noise_std >= 3.0 && r.noise_std < 3.0 * 1.002,
            "{}",
            r.noise_std
        );
        let n = x.len() as f64;
        let noise: Vec<f64> = r.values.iter().map(|v| v - 0.25).collect();
        let mean = noise.iter().sum::<f64>() / n;
        let var = noise.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / (n - 1.0);
        // mean ~ N(0, 9/4000): |mean| < 5 sd; variance within 5 sd (sd ~ 9 sqrt(2/4000))
        assert!(mean.abs() < 5.0 * 3.0 / n.sqrt(), "{mean}");
        assert!((var - 9.0).abs() < 5.0 * 9.0 * (2.0 / n).sqrt(), "{var}");
        assert!(r.values.iter().all(|v| (v / r.granularity).fract() == 0.0));
        assert_eq!(r.cost, PrivacyCost::Zcdp { rho: 1.0 / 4.5 });
    }

    #[test]
    fn vector_release_refuses_before_drawing() {
        let sigma = NoiseMultiplier::new(1.0).unwrap();
        let mut rng = crate::rng::seeded(1);
        let mut probe = crate::rng::seeded(1);
        assert!(gaussian_vector(&mut rng, &[1.0, f64::NAN], 1.0, sigma).is_err());
        assert!(gaussian_vector(&mut rng, &[], 1.0, sigma).is_err());
        assert!(gaussian_vector(&mut rng, &[1.0], 0.0, sigma).is_err());
        assert!(gaussian_vector(&mut rng, &[1.0], f64::INFINITY, sigma).is_err());
        use rand_core::Rng;
        assert_eq!(rng.next_u64(), probe.next_u64(), "no randomness consumed");
    }
}
