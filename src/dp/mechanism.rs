//! Mechanisms with their privacy maps: given the sensitivity, each says what it costs.
//!
//! Noise always comes from the exact integer samplers in [`super::sample`]; real-valued
//! releases go through a power-of-two grid ([`super::release`]), so no floating-point noise
//! ever carries a guarantee (Mironov 2012).

use super::DpError;
use super::pld::{exp_times_tail, q_norm};

/// What a release costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PrivacyCost {
    /// Pure epsilon-DP.
    Pure {
        /// epsilon
        epsilon: f64,
    },
    /// Approximate (epsilon, delta)-DP.
    Approx {
        /// epsilon
        epsilon: f64,
        /// delta
        delta: f64,
    },
    /// rho-zero-concentrated DP.
    Zcdp {
        /// rho
        rho: f64,
    },
}

impl PrivacyCost {
    /// As (epsilon, delta): pure costs have delta 0; zCDP converts at `delta` with
    /// epsilon = rho + 2 sqrt(rho ln(1/delta)) (Bun and Steinke 2016, proposition 1.3),
    /// rounded up.
    ///
    /// # Errors
    /// [`DpError::InvalidParameter`] for a NaN, negative or infinite epsilon or rho, a delta
    /// outside [0, 1], or (for zCDP) `delta_for_zcdp` outside (0, 1).
    pub fn to_approx(self, delta_for_zcdp: f64) -> Result<(f64, f64), DpError> {
        match self {
            PrivacyCost::Pure { epsilon } => Ok((non_negative(epsilon, "epsilon")?, 0.0)),
            PrivacyCost::Approx { epsilon, delta } => Ok((
                non_negative(epsilon, "epsilon")?,
                unit_interval(delta, "delta")?,
            )),
            PrivacyCost::Zcdp { rho } => {
                let rho = non_negative(rho, "rho")?;
                let d = probability(delta_for_zcdp, "delta")?;
                let e = rho + 2.0 * (rho * -d.ln()).sqrt();
                Ok((round_up(e), d))
            }
        }
    }
}

/// x nudged up past the float error of a few operations (accounting rounds toward more loss).
fn round_up(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        (x * (1.0 + 8.0 * f64::EPSILON)).next_up()
    }
}

/// a + b rounded up: exact when the float sum is exact, one step up otherwise (TwoSum).
fn add_up(a: f64, b: f64) -> f64 {
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    if err > 0.0 { s.next_up() } else { s }
}

/// A noise mechanism with its parameters; [`Mechanism::privacy_map`] says what a release
/// of a query with a given sensitivity costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mechanism {
    /// Laplace noise of this scale (on a grid; L1 sensitivity).
    Laplace {
        /// scale b
        scale: f64,
    },
    /// Discrete Laplace noise of this scale (integers; L1 sensitivity).
    DiscreteLaplace {
        /// scale b
        scale: f64,
    },
    /// Gaussian noise (on a grid; L2 sensitivity).
    Gaussian {
        /// standard deviation
        sigma: f64,
    },
    /// Discrete Gaussian noise (integers; L2 sensitivity).
    DiscreteGaussian {
        /// sigma of the discrete Gaussian
        sigma: f64,
    },
    /// k-ary randomized response (local DP; sensitivity is irrelevant).
    RandomizedResponse {
        /// epsilon it was built with
        epsilon: f64,
        /// number of possible answers (2 for binary randomized response)
        k: u64,
    },
}

impl Mechanism {
    /// The privacy map: what a release of a query with this sensitivity costs. Gaussian
    /// mechanisms report (epsilon, delta) when `delta` is given (the exact curve of Balle and
    /// Wang, inverted with epsilon rounded up), rho-zCDP otherwise. Randomized response
    /// reports the loss of the probabilities it really uses (rounded to multiples of 2^-32).
    ///
    /// # Errors
    /// [`DpError::InvalidParameter`] for a NaN, non-positive or infinite sensitivity or
    /// parameter, or a delta outside (0, 1); [`DpError::Unsupported`] when the Gaussian curve
    /// cannot be evaluated or randomized response's rounded probabilities leak more than its
    /// epsilon; [`DpError::Unbounded`] when no finite epsilon meets `delta`.
    pub fn privacy_map(
        &self,
        sensitivity: f64,
        delta: Option<f64>,
    ) -> Result<PrivacyCost, DpError> {
        let s = positive(sensitivity, "sensitivity")?;
        let delta = delta.map(|d| probability(d, "delta")).transpose()?;
        Ok(match *self {
            Mechanism::Laplace { scale } | Mechanism::DiscreteLaplace { scale } => {
                PrivacyCost::Pure {
                    epsilon: s / positive(scale, "scale")?,
                }
            }
            Mechanism::RandomizedResponse { epsilon, k } => PrivacyCost::Pure {
                epsilon: super::stats::randomized_response_loss(k, epsilon)?,
            },
            Mechanism::DiscreteGaussian { sigma } => gaussian_zcdp(s, positive(sigma, "sigma")?),
            Mechanism::Gaussian { sigma } => {
                let sigma = positive(sigma, "sigma")?;
                match delta {
                    None => gaussian_zcdp(s, sigma),
                    Some(d) => PrivacyCost::Approx {
                        epsilon: gaussian_epsilon(s, sigma, d)?,
                        delta: d,
                    },
                }
            }
        })
    }
}

/// The smallest epsilon (rounded up, to 1e-12 relative) with gaussian_delta <= d.
fn gaussian_epsilon(s: f64, sigma: f64, d: f64) -> Result<f64, DpError> {
    let delta_at = |e: f64| gaussian_delta_checked(s, sigma, e);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while delta_at(hi)? > d {
        hi *= 2.0;
        if !hi.is_finite() {
            return Err(DpError::Unbounded(format!(
                "no finite epsilon reaches delta {d} at sigma {sigma}"
            )));
        }
    }
    if delta_at(0.0)? <= d {
        return Ok(0.0);
    }
    while hi - lo > 1e-12 * hi {
        let mid = 0.5 * (lo + hi);
        if delta_at(mid)? <= d {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

fn positive(x: f64, what: &str) -> Result<f64, DpError> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(DpError::InvalidParameter(format!(
            "{what} must be positive and finite, got {x}"
        )))
    }
}

fn non_negative(x: f64, what: &str) -> Result<f64, DpError> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(DpError::InvalidParameter(format!(
            "{what} must be finite and >= 0, got {x}"
        )))
    }
}

fn unit_interval(x: f64, what: &str) -> Result<f64, DpError> {
    if x.is_finite() && (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(DpError::InvalidParameter(format!(
            "{what} must lie in [0, 1], got {x}"
        )))
    }
}

fn probability(x: f64, what: &str) -> Result<f64, DpError> {
    if x.is_finite() && x > 0.0 && x < 1.0 {
        Ok(x)
    } else {
        Err(DpError::InvalidParameter(format!(
            "{what} must lie in (0, 1), got {x}"
        )))
    }
}

/// Laplace mechanism: scale b for L1 sensitivity s costs epsilon = s / b.
///
/// # Errors
/// [`DpError::InvalidParameter`] for non-positive inputs.
pub fn laplace_scale(sensitivity: f64, epsilon: f64) -> Result<f64, DpError> {
    Ok(positive(sensitivity, "sensitivity")? / positive(epsilon, "epsilon")?)
}

/// The classic Gaussian calibration (Dwork and Roth, theorem A.1), valid for epsilon < 1:
/// sigma = s sqrt(2 ln(1.25 / delta)) / epsilon.
///
/// # Errors
/// [`DpError::InvalidParameter`] outside its domain (epsilon >= 1 included).
pub fn gaussian_sigma_classic(sensitivity: f64, epsilon: f64, delta: f64) -> Result<f64, DpError> {
    let (s, e, d) = (
        positive(sensitivity, "sensitivity")?,
        positive(epsilon, "epsilon")?,
        probability(delta, "delta")?,
    );
    if e >= 1.0 {
        return Err(DpError::InvalidParameter(
            "the classic Gaussian calibration needs epsilon < 1; use the analytic one".into(),
        ));
    }
    Ok(s * (2.0 * (1.25 / d).ln()).sqrt() / e)
}

/// delta of the Gaussian mechanism with noise sigma and L2 sensitivity s at epsilon (exact
/// curve of Balle and Wang 2018, theorem 8): Phi(a - b) - e^epsilon Phi(-a - b) with
/// a = s / (2 sigma), b = epsilon sigma / s.
///
/// The product e^epsilon Phi(-a - b) is taken in log space (the PLD accountant's helper), so
/// it neither overflows past epsilon 709.8 nor underflows, and the float error of each term
/// (1e-13 relative for erfc; 4 ulps per unit of exponent in log space) is rounded toward
/// more delta. NaN inputs give NaN, never 0: callers treat NaN as a refusal.
pub fn gaussian_delta(sensitivity: f64, sigma: f64, epsilon: f64) -> f64 {
    let a = sensitivity / (2.0 * sigma);
    let b = epsilon * sigma / sensitivity;
    let z = a + b;
    let plus = q_norm(b - a);
    let minus = exp_times_tail(epsilon, z);
    let err_minus = 1e-13 + 4.0 * f64::EPSILON * (epsilon.abs() + 0.5 * z * z);
    let d = plus * (1.0 + 1e-13) - minus * (1.0 - err_minus).max(0.0);
    if d.is_nan() {
        f64::NAN
    } else {
        d.clamp(0.0, 1.0)
    }
}

/// [`gaussian_delta`] with NaN turned into a refusal.
fn gaussian_delta_checked(sensitivity: f64, sigma: f64, epsilon: f64) -> Result<f64, DpError> {
    let d = gaussian_delta(sensitivity, sigma, epsilon);
    if d.is_nan() {
        Err(DpError::Unsupported(format!(
            "the Gaussian privacy curve is not computable at sensitivity {sensitivity}, \
             sigma {sigma}, epsilon {epsilon}"
        )))
    } else {
        Ok(d)
    }
}

/// The analytic Gaussian calibration (Balle and Wang 2018): the smallest sigma (to 1e-12
/// relative, rounded up) with gaussian_delta(s, sigma, epsilon) <= delta. Any epsilon > 0,
/// far beyond 709.8 included.
///
/// # Errors
/// [`DpError::InvalidParameter`] outside the domain; [`DpError::Unsupported`] when the
/// privacy curve cannot be evaluated or the sigma would fall below 1e-300 of the sensitivity.
pub fn gaussian_sigma_analytic(sensitivity: f64, epsilon: f64, delta: f64) -> Result<f64, DpError> {
    let (s, e, d) = (
        positive(sensitivity, "sensitivity")?,
        positive(epsilon, "epsilon")?,
        probability(delta, "delta")?,
    );
    let delta_at = |sigma: f64| gaussian_delta_checked(s, sigma, e);
    let mut hi = s;
    while delta_at(hi)? > d {
        hi *= 2.0;
        if !hi.is_finite() {
            return Err(DpError::Unsupported(format!(
                "no finite sigma reaches delta {d} at epsilon {e}"
            )));
        }
    }
    let mut lo = hi / 2.0;
    while delta_at(lo)? <= d {
        if lo < s * 1e-300 {
            return Err(DpError::Unsupported(format!(
                "sigma would fall below 1e-300 of the sensitivity at epsilon {e}"
            )));
        }
        hi = lo;
        lo /= 2.0;
    }
    while (hi - lo) / hi > 1e-12 {
        let mid = 0.5 * (lo + hi);
        if delta_at(mid)? <= d {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// Gaussian noise sigma for L2 sensitivity s is rho-zCDP with rho = s^2 / (2 sigma^2); the
/// discrete Gaussian has the same guarantee (Canonne, Kamath, Steinke 2020).
pub fn gaussian_zcdp(sensitivity: f64, sigma: f64) -> PrivacyCost {
    PrivacyCost::Zcdp {
        rho: sensitivity * sensitivity / (2.0 * sigma * sigma),
    }
}

/// sigma giving rho-zCDP for L2 sensitivity s.
///
/// # Errors
/// [`DpError::InvalidParameter`] for non-positive inputs.
pub fn gaussian_sigma_zcdp(sensitivity: f64, rho: f64) -> Result<f64, DpError> {
    Ok(positive(sensitivity, "sensitivity")? / (2.0 * positive(rho, "rho")?).sqrt())
}

/// Basic composition of (epsilon_i, delta_i): the sums, rounded up (delta capped at 1).
///
/// # Errors
/// [`DpError::InvalidParameter`] for a NaN, negative or infinite epsilon, or a delta outside
/// [0, 1].
pub fn compose_basic(costs: &[(f64, f64)]) -> Result<(f64, f64), DpError> {
    let (mut e, mut d) = (0.0, 0.0);
    for &(ei, di) in costs {
        e = add_up(e, non_negative(ei, "epsilon")?);
        d = add_up(d, unit_interval(di, "delta")?);
    }
    if !e.is_finite() {
        return Err(DpError::InvalidParameter(
            "the composed epsilon overflows".into(),
        ));
    }
    Ok((e, d.min(1.0)))
}

/// Advanced composition (Dwork, Rothblum, Vadhan 2010) of k runs of an epsilon-DP
/// mechanism: (sqrt(2k ln(1/delta')) epsilon + k epsilon (e^epsilon - 1), delta'). Returns
/// the better of this and basic composition.
///
/// # Errors
/// [`DpError::InvalidParameter`] for bad epsilon or delta'.
pub fn compose_advanced(epsilon: f64, k: u64, delta_prime: f64) -> Result<(f64, f64), DpError> {
    let e = positive(epsilon, "epsilon")?;
    let d = probability(delta_prime, "delta'")?;
    let kf = k as f64;
    let adv = (2.0 * kf * (1.0 / d).ln()).sqrt() * e + kf * e * e.exp_m1();
    Ok(if adv < kf * e {
        (adv, d)
    } else {
        (kf * e, 0.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_gaussian_is_tight_and_beats_classic() {
        let (s, e, d) = (1.0, 0.5, 1e-5);
        let a = gaussian_sigma_analytic(s, e, d).unwrap();
        let c = gaussian_sigma_classic(s, e, d).unwrap();
        assert!(a < c, "{a} vs {c}");
        assert!(gaussian_delta(s, a, e) <= d);
        assert!(gaussian_delta(s, a * (1.0 - 1e-6), e) > d);
        // large epsilon works too
        let big = gaussian_sigma_analytic(1.0, 5.0, 1e-6).unwrap();
        assert!(gaussian_delta(1.0, big, 5.0) <= 1e-6);
        assert!(gaussian_sigma_classic(1.0, 1.5, 1e-5).is_err());
    }

    #[test]
    fn privacy_maps() {
        assert_eq!(
            Mechanism::Laplace { scale: 2.0 }
                .privacy_map(1.0, None)
                .unwrap(),
            PrivacyCost::Pure { epsilon: 0.5 }
        );
        let sigma = gaussian_sigma_analytic(1.0, 0.5, 1e-5).unwrap();
        match (Mechanism::Gaussian { sigma })
            .privacy_map(1.0, Some(1e-5))
            .unwrap()
        {
            PrivacyCost::Approx { epsilon, delta } => {
                assert!((epsilon - 0.5).abs() < 1e-6 && delta == 1e-5, "{epsilon}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Mechanism::DiscreteGaussian { sigma: 2.0 }
                .privacy_map(1.0, None)
                .unwrap(),
            PrivacyCost::Zcdp { rho: 0.125 }
        );
        assert!(
            Mechanism::Laplace { scale: 1.0 }
                .privacy_map(0.0, None)
                .is_err()
        );
    }

    #[test]
    fn compositions() {
        assert_eq!(
            compose_basic(&[(0.5, 1e-6), (0.25, 0.0)]).unwrap(),
            (0.75, 1e-6)
        );
        // an inexact sum rounds up, never down
        let (e, _) = compose_basic(&[(1.0, 0.0), (1e-17, 0.0)]).unwrap();
        assert!(
            e > 1.0,
            "1 + 1e-17 rounds to nearest as 1.0, but must round up: {e}"
        );
        let (e, d) = compose_advanced(0.01, 10_000, 1e-6).unwrap();
        assert!(e < 100.0 * 0.5 && d == 1e-6, "{e}");
        let (e, d) = compose_advanced(1.0, 2, 1e-6).unwrap();
        assert_eq!((e, d), (2.0, 0.0));
        let (e, _) = gaussian_zcdp(1.0, 2.0).to_approx(1e-5).unwrap();
        assert!((e - (0.125 + 2.0 * (0.125 * 1e5f64.ln()).sqrt())).abs() < 1e-12);
    }
}
