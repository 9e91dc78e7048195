//! The Gaussian privacy curve far beyond e^709 (issue 15, point 1), against bounds from the
//! tail of the privacy loss computed here with erfc: the privacy map, the analytic
//! calibration and the release.

use proptest::prelude::*;
use shroud::dp::mechanism::{Mechanism, PrivacyCost, gaussian_sigma_analytic};
use shroud::dp::release;

/// Upper tail of the standard normal.
fn q(x: f64) -> f64 {
    0.5 * libm::erfc(x / std::f64::consts::SQRT_2)
}

/// Q^-1(p) for 0 < p < 1/2, by bisection.
fn q_inv(p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if q(mid) > p { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// Oracle bounds for the Gaussian mechanism with L2 sensitivity 1. Its privacy loss is
/// N(mu, 2 mu) with mu = 1 / (2 sigma^2), and delta(eps) = E[(1 - e^(eps - L))_+], so
///   0.5 P[L >= eps + ln 2] <= delta(eps) <= P[L > eps].
/// Any epsilon claimed at `delta` must be at least the lower end returned here, and the
/// tightest one is at most the upper end.
fn gaussian_epsilon_bounds(sigma: f64, delta: f64) -> (f64, f64) {
    let mu = 1.0 / (2.0 * sigma * sigma);
    let sd = 1.0 / sigma;
    (
        mu + sd * q_inv(2.0 * delta) - std::f64::consts::LN_2,
        mu + sd * q_inv(delta),
    )
}

/// The necessary condition of a sound calibration at (eps, delta): 0.5 P[L >= eps + ln 2]
/// must not exceed delta.
fn calibration_is_possible(sigma: f64, eps: f64, delta: f64) -> bool {
    let mu = 1.0 / (2.0 * sigma * sigma);
    let sd = 1.0 / sigma;
    0.5 * q((eps + std::f64::consts::LN_2 - mu) / sd) <= delta
}

fn map_epsilon(sigma: f64, delta: f64) -> f64 {
    match (Mechanism::Gaussian { sigma })
        .privacy_map(1.0, Some(delta))
        .unwrap()
    {
        PrivacyCost::Approx { epsilon, delta: d } => {
            assert_eq!(d, delta);
            epsilon
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gaussian_privacy_map_is_sound_beyond_exp_overflow() {
    // sigma 0.02: the true epsilon at 1e-5 is about 1462; it was reported as 709.78.
    for sigma in [0.03, 0.02, 0.01, 1e-3] {
        let eps = map_epsilon(sigma, 1e-5);
        let (lo, hi) = gaussian_epsilon_bounds(sigma, 1e-5);
        assert!(
            eps >= lo,
            "sigma {sigma}: epsilon {eps} below the oracle's {lo}"
        );
        assert!(
            eps <= hi * (1.0 + 1e-9),
            "sigma {sigma}: epsilon {eps} above {hi}"
        );
        if sigma <= 0.02 {
            assert!(eps > 709.8, "sigma {sigma}: {eps}");
        }
    }
    let eps = map_epsilon(0.02, 1e-5);
    assert!((eps - 1462.0).abs() < 2.0, "{eps}");
}

#[test]
fn analytic_calibration_is_sound_beyond_exp_overflow() {
    for eps in [709.0, 709.8, 710.0, 1e3, 1e4, 1e6] {
        let sigma = gaussian_sigma_analytic(1.0, eps, 1e-5).unwrap();
        // it was about 1e-300 (no noise at all) from 709.8 on
        assert!(
            calibration_is_possible(sigma, eps, 1e-5),
            "epsilon {eps}: sigma {sigma} cannot give delta 1e-5"
        );
        // and not wastefully large: 10% less noise is already too little
        assert!(
            !calibration_is_possible(sigma * 0.9, eps, 1e-5) || sigma < 1e-3,
            "{eps}: {sigma}"
        );
        // the privacy map of the calibrated sigma gives back epsilon
        let back = map_epsilon(sigma, 1e-5);
        assert!(back <= eps * (1.0 + 1e-9), "{eps}: {back}");
        assert!(back >= eps * (1.0 - 1e-6), "{eps}: {back}");
    }
}

#[test]
fn gaussian_release_beyond_exp_overflow_adds_real_noise() {
    let mut rng = shroud::rng::seeded(151);
    for eps in [710.0, 1e3, 1e6] {
        let sigma = gaussian_sigma_analytic(1.0, eps, 1e-5).unwrap();
        let noise: Vec<f64> = (0..2000)
            .map(|_| {
                release::gaussian(&mut rng, 3e-290, 1.0, eps, 1e-5)
                    .unwrap()
                    .value
            })
            .collect();
        let sd = (noise.iter().map(|x| x * x).sum::<f64>() / noise.len() as f64).sqrt();
        assert!(
            (sd / sigma - 1.0).abs() < 0.1,
            "epsilon {eps}: noise sd {sd} vs sigma {sigma}"
        );
        assert!(sigma > 1e-4, "epsilon {eps}: sigma {sigma}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn gaussian_map_within_oracle_bounds(log_sigma in -3.0f64..1.0, log_delta in -12.0f64..-2.0) {
        let (sigma, delta) = (10f64.powf(log_sigma), 10f64.powf(log_delta));
        let eps = map_epsilon(sigma, delta);
        let (lo, hi) = gaussian_epsilon_bounds(sigma, delta);
        prop_assert!(eps >= lo.max(0.0), "sigma {} delta {}: {} < {}", sigma, delta, eps, lo);
        prop_assert!(eps <= hi.max(0.0) * (1.0 + 1e-9) + 1e-12, "{} > {}", eps, hi);
    }

    #[test]
    fn analytic_calibration_meets_the_oracle(log_eps in -2.0f64..6.0, log_delta in -12.0f64..-2.0) {
        let (eps, delta) = (10f64.powf(log_eps), 10f64.powf(log_delta));
        let sigma = gaussian_sigma_analytic(1.0, eps, delta).unwrap();
        prop_assert!(calibration_is_possible(sigma, eps, delta), "eps {} delta {}: sigma {}", eps, delta, sigma);
    }
}
