//! Mechanisms: releases land on their power-of-two grid, their noise has the calibrated
//! scale (moment tests with fixed seeds, tight enough to catch a 10% error), randomized
//! response has the right frequencies (chi-square at alpha = 1e-6), and bad parameters are
//! errors.

use shroud::dp::mechanism::{PrivacyCost, gaussian_sigma_analytic};
use shroud::dp::release;
use shroud::dp::stats;

const N: usize = 60_000;

fn variance(xs: &[f64]) -> f64 {
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64
}

#[test]
fn releases_land_on_a_power_of_two_grid() {
    let mut rng = shroud::rng::seeded(21);
    for value in [0.1, -3.3, 1e10, 123.456, 0.0, -1e-300] {
        for r in [
            release::laplace(&mut rng, value, 1.0, 0.5).unwrap(),
            release::gaussian(&mut rng, value, 2.0, 1.0, 1e-6).unwrap(),
        ] {
            let g = r.granularity;
            assert_eq!(g.log2().fract(), 0.0, "granularity {g} is a power of two");
            assert_eq!((r.value / g).fract(), 0.0, "{} is on the grid {g}", r.value);
        }
    }
}

#[test]
fn laplace_release_has_the_calibrated_scale() {
    let mut rng = shroud::rng::seeded(22);
    let (sens, eps) = (3.0, 0.7);
    let noise: Vec<f64> = (0..N)
        .map(|_| release::laplace(&mut rng, 10.0, sens, eps).unwrap().value - 10.0)
        .collect();
    let b = sens / eps;
    let v = variance(&noise);
    let want = 2.0 * b * b;
    assert!((v / want - 1.0).abs() < 0.06, "variance {v} vs {want}");
    let r = release::laplace(&mut rng, 10.0, sens, eps).unwrap();
    assert_eq!(r.cost, PrivacyCost::Pure { epsilon: eps });
}

#[test]
fn gaussian_release_has_the_calibrated_scale() {
    let mut rng = shroud::rng::seeded(23);
    let (sens, eps, delta) = (2.0, 0.8, 1e-6);
    let noise: Vec<f64> = (0..N)
        .map(|_| {
            release::gaussian(&mut rng, -5.0, sens, eps, delta)
                .unwrap()
                .value
                + 5.0
        })
        .collect();
    let sigma = gaussian_sigma_analytic(sens, eps, delta).unwrap();
    let v = variance(&noise);
    assert!(
        (v / (sigma * sigma) - 1.0).abs() < 0.04,
        "variance {v} vs {}",
        sigma * sigma
    );
    let m = noise.iter().sum::<f64>() / N as f64;
    assert!(m.abs() < 6.0 * sigma / (N as f64).sqrt(), "mean {m}");
}

#[test]
fn integer_releases() {
    let mut rng = shroud::rng::seeded(24);
    let xs: Vec<f64> = (0..N)
        .map(|_| {
            release::discrete_laplace_int(&mut rng, 100, 2, 1.0)
                .unwrap()
                .0 as f64
                - 100.0
        })
        .collect();
    // discrete Laplace with scale b = 2: variance 2 e^(-1/b) / (1 - e^(-1/b))^2
    let t = (-0.5f64).exp();
    let want = 2.0 * t / ((1.0 - t) * (1.0 - t));
    assert!(
        (variance(&xs) / want - 1.0).abs() < 0.06,
        "{} vs {want}",
        variance(&xs)
    );
    let (v, cost) = release::discrete_gaussian_int(&mut rng, 7, 1, 1.0, 1e-5).unwrap();
    assert!((v - 7).abs() < 100);
    let (e, d) = cost.to_approx(1e-5).unwrap();
    assert!(e <= 1.0 && d == 1e-5, "{e}");
}

#[test]
fn randomized_response_frequencies() {
    let mut rng = shroud::rng::seeded(25);
    let eps: f64 = 1.2;
    let p = eps.exp() / (1.0 + eps.exp());
    let truths = (0..N)
        .filter(|_| stats::randomized_response(&mut rng, true, eps).unwrap().0)
        .count() as f64;
    let expected = p * N as f64;
    let chi2 = (truths - expected).powi(2) / expected
        + (truths - expected).powi(2) / (N as f64 - expected);
    assert!(chi2 < 23.9, "chi2 {chi2}"); // chi-square(1) upper 1e-6 quantile
    // k-ary: truth 2 of k = 5
    let k = 5u64;
    let pk = eps.exp() / (eps.exp() + (k - 1) as f64);
    let mut counts = [0f64; 5];
    for _ in 0..N {
        counts[stats::randomized_response_k(&mut rng, 2, k, eps).unwrap().0 as usize] += 1.0;
    }
    let chi2: f64 = (0..5)
        .map(|i| {
            let e = if i == 2 { pk } else { (1.0 - pk) / 4.0 } * N as f64;
            (counts[i] - e).powi(2) / e
        })
        .sum();
    assert!(chi2 < 33.4, "chi2 {chi2}"); // chi-square(4) upper 1e-6 quantile
}

#[test]
fn statistics() {
    let mut rng = shroud::rng::seeded(26);
    let values: Vec<f64> = (1..=1000).map(f64::from).collect();
    let (mean, _) = stats::mean(&mut rng, &values, 0.0, 1000.0, 2.0).unwrap();
    assert!((mean - 500.5).abs() < 20.0, "{mean}");
    let s = stats::sum(&mut rng, &[5.0, 500.0, -7.0], 0.0, 10.0, 1.0).unwrap();
    assert!((s.value - 15.0).abs() < 300.0);
    let (h, _) = stats::histogram(&mut rng, &[10, 0, 1000], 1.0).unwrap();
    assert!((h[2] - 1000).abs() < 50);
    let (i, _) = stats::report_noisy_max(&mut rng, &[0, 3, 100, 2], 1, 1.0).unwrap();
    assert_eq!(i, 2);
    let cands: Vec<f64> = (0..=1000).map(f64::from).collect();
    let (med, _) = stats::quantile(&mut rng, &values, 0.5, &cands, 1.0).unwrap();
    assert!((med - 500.0).abs() < 25.0, "{med}");
}

#[test]
fn bad_parameters_are_errors() {
    let mut rng = shroud::rng::seeded(27);
    assert!(release::laplace(&mut rng, f64::NAN, 1.0, 1.0).is_err());
    assert!(release::laplace(&mut rng, f64::INFINITY, 1.0, 1.0).is_err());
    assert!(release::laplace(&mut rng, 1.0, 0.0, 1.0).is_err());
    assert!(release::laplace(&mut rng, 1.0, 1.0, -1.0).is_err());
    assert!(release::gaussian(&mut rng, 1.0, 1.0, 1.0, 0.0).is_err());
    assert!(release::gaussian(&mut rng, 1.0, 1.0, 1.0, 1.0).is_err());
    assert!(stats::sum(&mut rng, &[1.0], 5.0, 1.0, 1.0).is_err());
    assert!(stats::sum(&mut rng, &[f64::NAN], 0.0, 1.0, 1.0).is_err());
    assert!(stats::mean(&mut rng, &[1.0], 0.0, f64::INFINITY, 1.0).is_err());
    assert!(stats::report_noisy_max(&mut rng, &[], 1, 1.0).is_err());
    assert!(stats::quantile(&mut rng, &[1.0], 1.5, &[1.0], 1.0).is_err());
    assert!(stats::randomized_response_k(&mut rng, 5, 5, 1.0).is_err());
    assert!(stats::randomized_response(&mut rng, true, f64::NAN).is_err());
}
