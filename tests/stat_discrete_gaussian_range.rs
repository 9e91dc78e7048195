//! The discrete Gaussian past sigma^2 = 2^40 (issue 15, point 4): no draw fails once the
//! parameters are accepted, parameters beyond the samplers' rationals are refused before any
//! randomness is drawn, and the big-integer path keeps the distribution (moment tests with
//! fixed seeds).

use rand_core::Rng;
use shroud::dp::mechanism::PrivacyCost;
use shroud::dp::release;
use shroud::dp::sample::discrete_gaussian;

#[test]
fn discrete_gaussian_never_fails_after_drawing() {
    // sensitivity 1.9e7 at (1, 1e-5): sigma^2 about 2^53; 14 of 100 draws used to fail.
    let mut rng = shroud::rng::seeded(154);
    for _ in 0..100 {
        let (v, cost) = release::discrete_gaussian_int(&mut rng, 0, 19_000_000, 1.0, 1e-5).unwrap();
        assert!(v.unsigned_abs() < 1u128 << 40);
        match cost {
            PrivacyCost::Zcdp { rho } => assert!(rho > 0.0 && rho < 0.1, "{rho}"),
            other => panic!("{other:?}"),
        }
    }
    // beyond the rational range: refused up front, no randomness drawn
    let mut rng = shroud::rng::seeded(155);
    let fresh = shroud::rng::seeded(155).next_u64();
    assert!(release::discrete_gaussian_int(&mut rng, 0, 1_000_000_000, 1.0, 1e-5).is_err());
    assert_eq!(rng.next_u64(), fresh);
}

#[test]
fn discrete_gaussian_in_big_integers_keeps_its_distribution() {
    // sigma^2 = 2^64 - 1 (n = u64::MAX, d = 1): the acceptance test's denominator
    // 2 n d t^2 is about 2^129, so every draw's test runs in big integers
    let mut rng = shroud::rng::seeded(156);
    let n = 20_000;
    let sigma2 = u64::MAX as f64;
    let xs: Vec<f64> = (0..n)
        .map(|_| discrete_gaussian(&mut rng, u64::MAX, 1).unwrap() as f64)
        .collect();
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| x * x).sum::<f64>() / n as f64;
    assert!(mean.abs() < 5.0 * (sigma2 / n as f64).sqrt(), "mean {mean}");
    // the variance estimate has relative sd sqrt(2 / n) = 1%
    assert!(
        (var / sigma2 - 1.0).abs() < 0.05,
        "variance ratio {}",
        var / sigma2
    );
    // and a fraction within one sigma of 0.6827 (binomial sd 0.0033)
    let within = xs.iter().filter(|x| x.abs() <= sigma2.sqrt()).count() as f64 / n as f64;
    assert!((within - 0.6827).abs() < 0.02, "{within}");
}
