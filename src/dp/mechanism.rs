//! Mechanisms with their privacy maps: given the sensitivity, each says what it costs.
//!
//! Noise always comes from the exact integer samplers in [`super::sample`]; real-valued
//! releases go through a power-of-two grid ([`super::release`]), so no floating-point noise
//! ever carries a guarantee (Mironov 2012).

use super::DpError;

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
    /// epsilon = rho + 2 sqrt(rho ln(1/delta)) (Bun and Steinke 2016, proposition 1.3).
    pub fn to_approx(self, delta_for_zcdp: f64) -> (f64, f64) {
        match self {
            PrivacyCost::Pure { epsilon } => (epsilon, 0.0),
            PrivacyCost::Approx { epsilon, delta } => (epsilon, delta),
            PrivacyCost::Zcdp { rho } => (
                rho + 2.0 * (rho * (1.0 / delta_for_zcdp).ln()).sqrt(),
                delta_for_zcdp,
            ),
        }
    }
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
    },
}

impl Mechanism {
    /// The privacy map: what a release of a query with this sensitivity costs. Gaussian
    /// mechanisms report (epsilon, delta) when `delta` is given (the exact curve of Balle and
    /// Wang, inverted with epsilon rounded up), rho-zCDP otherwise.
    ///
    /// # Errors
    /// [`DpError::InvalidParameter`] for a non-positive sensitivity or bad delta.
    pub fn privacy_map(
        &self,
        sensitivity: f64,
        delta: Option<f64>,
    ) -> Result<PrivacyCost, DpError> {
        let s = positive(sensitivity, "sensitivity")?;
        Ok(match *self {
            Mechanism::Laplace { scale } | Mechanism::DiscreteLaplace { scale } => {
                PrivacyCost::Pure {
                    epsilon: s / positive(scale, "scale")?,
                }
            }
            Mechanism::RandomizedResponse { epsilon } => PrivacyCost::Pure { epsilon },
            Mechanism::DiscreteGaussian { sigma } => gaussian_zcdp(s, positive(sigma, "sigma")?),
            Mechanism::Gaussian { sigma } => {
                let sigma = positive(sigma, "sigma")?;
                match delta {
                    None => gaussian_zcdp(s, sigma),
                    Some(d) => {
                        let d = probability(d, "delta")?;
                        // smallest epsilon with delta(epsilon) <= d, by bisection, rounded up
                        let (mut lo, mut hi) = (0.0f64, 1.0f64);
                        while gaussian_delta(s, sigma, hi) > d {
                            hi *= 2.0;
                        }
                        if gaussian_delta(s, sigma, 0.0) <= d {
                            hi = 0.0;
                        }
                        while hi - lo > 1e-12 * hi.max(1e-300) {
                            let mid = 0.5 * (lo + hi);
                            if gaussian_delta(s, sigma, mid) <= d {
                                hi = mid;
                            } else {
                                lo = mid;
                            }
                        }
                        PrivacyCost::Approx {
                            epsilon: hi,
                            delta: d,
                        }
                    }
                }
            }
        })
    }
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

/// delta of the Gaussian mechanism with noise sigma and L2 sensitivity s at epsilon (exact:
/// Balle and Wang 2018, theorem 8).
pub fn gaussian_delta(sensitivity: f64, sigma: f64, epsilon: f64) -> f64 {
    let a = sensitivity / (2.0 * sigma);
    let b = epsilon * sigma / sensitivity;
    let phi = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
    (phi(a - b) - epsilon.exp() * phi(-a - b)).max(0.0)
}

/// The analytic Gaussian calibration (Balle and Wang 2018): the smallest sigma (to 1e-9
/// relative, rounded up) with gaussian_delta(s, sigma, epsilon) <= delta. Any epsilon > 0.
///
/// # Errors
/// [`DpError::InvalidParameter`] outside the domain.
pub fn gaussian_sigma_analytic(sensitivity: f64, epsilon: f64, delta: f64) -> Result<f64, DpError> {
    let (s, e, d) = (
        positive(sensitivity, "sensitivity")?,
        positive(epsilon, "epsilon")?,
        probability(delta, "delta")?,
    );
    let mut hi = s;
    while gaussian_delta(s, hi, e) > d {
        hi *= 2.0;
    }
    let mut lo = hi / 2.0;
    while lo > 1e-300 && gaussian_delta(s, lo, e) <= d {
        hi = lo;
        lo /= 2.0;
    }
    while (hi - lo) / hi > 1e-12 {
        let mid = 0.5 * (lo + hi);
        if gaussian_delta(s, mid, e) <= d {
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

/// Basic composition of (epsilon_i, delta_i): sums.
pub fn compose_basic(costs: &[(f64, f64)]) -> (f64, f64) {
    costs
        .iter()
        .fold((0.0, 0.0), |(e, d), (ei, di)| (e + ei, d + di))
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
        assert_eq!(compose_basic(&[(0.5, 1e-6), (0.25, 0.0)]), (0.75, 1e-6));
        let (e, d) = compose_advanced(0.01, 10_000, 1e-6).unwrap();
        assert!(e < 100.0 * 0.5 && d == 1e-6, "{e}");
        let (e, d) = compose_advanced(1.0, 2, 1e-6).unwrap();
        assert_eq!((e, d), (2.0, 0.0));
        let (e, _) = gaussian_zcdp(1.0, 2.0).to_approx(1e-5);
        assert!((e - (0.125 + 2.0 * (0.125 * 1e5f64.ln()).sqrt())).abs() < 1e-12);
    }
}
