//! Known answers from Google's dp_accounting 0.6.0 (vectors/dp_accounting_public.json):
//! RDP epsilons must match to 1e-6 relative.

use shroud::dp::rdp::{RdpAccountant, default_orders};
use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};

fn vectors() -> serde_json::Value {
    let path = format!(
        "{}/vectors/dp_accounting_public.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn default_orders_are_dp_accountings() {
    let o = default_orders();
    assert_eq!(o.len(), 99 + 53 + 4);
    assert_eq!(
        (o[0], o[98], o[99], o[151], o[155]),
        (1.1, 10.9, 11.0, 63.0, 1024.0)
    );
}

#[test]
fn rdp_epsilons_match_dp_accounting() {
    let v = vectors();
    assert!(v["source"].as_str().unwrap().contains("dp_accounting"));
    for c in v["cases"].as_array().unwrap() {
        let mut acc = RdpAccountant::new();
        acc.compose_poisson_subsampled_gaussian(
            SamplingRate::new(c["sampling_rate"].as_f64().unwrap()).unwrap(),
            NoiseMultiplier::new(c["noise_multiplier"].as_f64().unwrap()).unwrap(),
            c["steps"].as_u64().unwrap(),
        );
        let (eps, _) = acc
            .epsilon(Delta::new(c["delta"].as_f64().unwrap()).unwrap())
            .unwrap();
        let want = c["epsilon_rdp"].as_f64().unwrap();
        let rel = (eps - want).abs() / want;
        assert!(
            rel < 1e-6,
            "{}: {eps} vs dp_accounting {want} (rel {rel:e})",
            c["name"]
        );
    }
}

#[test]
fn calibration_never_exceeds_the_target() {
    use shroud::dp::calibrate::{Accountant, calibrate_noise_multiplier, dpsgd_epsilon};
    let calibrate_noise_multiplier =
        |q, t, d, e| calibrate_noise_multiplier(Accountant::Rdp, q, t, d, e);
    let dpsgd_epsilon =
        |q, s, t, d| dpsgd_epsilon(Accountant::Rdp, q, s, t, d).map(|(e, _)| (e, ()));
    let q = SamplingRate::new(0.01).unwrap();
    let delta = Delta::new(1e-5).unwrap();
    for target in [0.5, 1.0354900660362436, 2.0, 8.0] {
        let (sigma, eps) = calibrate_noise_multiplier(q, 10_000, delta, target).unwrap();
        assert!(eps <= target, "eps {eps} > target {target}");
        let (again, _) = dpsgd_epsilon(q, sigma, 10_000, delta).unwrap();
        assert_eq!(again, eps);
        // smallest: 1e-5 less noise exceeds the target
        let less = NoiseMultiplier::new(sigma.get() * (1.0 - 1e-5)).unwrap();
        assert!(dpsgd_epsilon(q, less, 10_000, delta).unwrap().0 > target);
    }
    // Abadi et al.: sigma = 4 gives 1.0355, so calibrating to that epsilon gives about 4.
    let (sigma, _) = calibrate_noise_multiplier(q, 10_000, delta, 1.0354900660362436).unwrap();
    assert!((sigma.get() - 4.0).abs() < 1e-4, "{}", sigma.get());
    assert!(calibrate_noise_multiplier(q, 10, delta, -1.0).is_err());
    assert!(calibrate_noise_multiplier(q, 10, delta, f64::NAN).is_err());
}

#[test]
fn invalid_parameters_are_refused() {
    for q in [-0.1, 1.1, f64::NAN] {
        assert!(SamplingRate::new(q).is_err());
    }
    for s in [0.0, -1.0, f64::INFINITY] {
        assert!(NoiseMultiplier::new(s).is_err());
    }
    for d in [0.0, 1.0, -1e-5, f64::NAN] {
        assert!(Delta::new(d).is_err());
    }
    assert!(RdpAccountant::with_orders(vec![]).is_err());
    assert!(RdpAccountant::with_orders(vec![0.5]).is_err());
    let _ = default_orders();
}

#[test]
fn pld_epsilons_match_dp_accounting() {
    use shroud::dp::pld::PldAccountant;
    let v = vectors();
    for c in v["cases"].as_array().unwrap() {
        let mut acc = PldAccountant::new();
        acc.compose_poisson_subsampled_gaussian(
            SamplingRate::new(c["sampling_rate"].as_f64().unwrap()).unwrap(),
            NoiseMultiplier::new(c["noise_multiplier"].as_f64().unwrap()).unwrap(),
            c["steps"].as_u64().unwrap(),
        )
        .unwrap();
        let eps = acc
            .epsilon(Delta::new(c["delta"].as_f64().unwrap()).unwrap())
            .unwrap();
        let want = c["epsilon_pld"].as_f64().unwrap();
        let rel = (eps - want) / want;
        eprintln!("{}: {eps} vs dp_accounting {want} (rel {rel:e})", c["name"]);
        assert!(
            rel.abs() < 1e-3,
            "{}: {eps} vs dp_accounting {want} (rel {rel:e})",
            c["name"]
        );
    }
}

#[test]
fn pld_calibration_never_exceeds_the_target() {
    use shroud::dp::calibrate::{Accountant, calibrate_noise_multiplier, dpsgd_epsilon};
    let q = SamplingRate::new(0.01).unwrap();
    let delta = Delta::new(1e-5).unwrap();
    let target = 0.9469993068930963; // dp_accounting's PLD epsilon for sigma = 4
    let (sigma, eps) =
        calibrate_noise_multiplier(Accountant::Pld, q, 10_000, delta, target).unwrap();
    assert!(eps <= target);
    assert!((sigma.get() - 4.0).abs() < 2e-3, "{}", sigma.get());
    let (again, order) = dpsgd_epsilon(Accountant::Pld, q, sigma, 10_000, delta).unwrap();
    assert_eq!(again, eps);
    assert!(order.is_none());
}

#[test]
fn pld_of_gaussian_and_laplace_is_sound_and_tight() {
    use shroud::dp::mechanism::{gaussian_delta, gaussian_sigma_analytic};
    use shroud::dp::pld::PldAccountant;
    let delta = Delta::new(1e-5).unwrap();
    // 25 Gaussians with sigma 5 are one Gaussian with sigma 1: exact epsilon known.
    let mut acc = PldAccountant::new();
    acc.compose_gaussian(NoiseMultiplier::new(5.0).unwrap(), 25)
        .unwrap();
    let eps = acc.epsilon(delta).unwrap();
    let exact_sigma = gaussian_sigma_analytic(1.0, eps, 1e-5).unwrap();
    assert!(
        gaussian_delta(1.0, 1.0, eps) <= 1e-5 * (1.0 + 1e-6),
        "PLD epsilon must be sound"
    );
    assert!((exact_sigma - 1.0).abs() < 2e-3, "tight: {exact_sigma}");
    // One Laplace of scale 1: delta(eps) = 1 - exp((eps - 1)/2)  =>  eps = 1 + 2 ln(1 - delta)
    let mut acc = PldAccountant::new();
    acc.compose_laplace(1.0, 1).unwrap();
    let eps = acc.epsilon(delta).unwrap();
    let exact = 1.0 + 2.0 * (1.0f64 - 1e-5).ln();
    assert!(
        eps >= exact - 1e-9 && eps - exact < 2e-4,
        "{eps} vs {exact}"
    );
    // Laplace then Gaussian compose (different mechanisms)
    acc.compose_gaussian(NoiseMultiplier::new(3.0).unwrap(), 1)
        .unwrap();
    assert!(acc.epsilon(delta).unwrap() > eps);
}

#[test]
fn extreme_parameters_are_refused_or_sound_never_silently_small() {
    use shroud::dp::pld::PldAccountant;
    let delta = Delta::new(1e-5).unwrap();
    // sigma = 0.01: a sampled record moves the privacy loss by about 5000, with probability
    // q = 0.5 > delta, so any sound epsilon is in the thousands.
    let mut acc = PldAccountant::new();
    match acc.compose_poisson_subsampled_gaussian(
        SamplingRate::new(0.5).unwrap(),
        NoiseMultiplier::new(0.01).unwrap(),
        10,
    ) {
        Err(_) => {}
        Ok(()) => match acc.epsilon(delta) {
            Err(_) => {}
            Ok(eps) => assert!(eps > 1000.0, "unsound epsilon {eps}"),
        },
    }
    // a single Gaussian with sigma = 0.03: epsilon is above 1 / (2 sigma^2) = 555
    let mut acc = PldAccountant::new();
    match acc.compose_gaussian(NoiseMultiplier::new(0.03).unwrap(), 1) {
        Err(_) => {}
        Ok(()) => match acc.epsilon(delta) {
            Err(_) => {}
            Ok(eps) => assert!(eps > 500.0 && eps.is_finite(), "unsound epsilon {eps}"),
        },
    }
}

#[test]
fn epsilons_beyond_exp_overflow_are_computed_not_zeroed() {
    use shroud::dp::pld::PldAccountant;
    // ten Laplace mechanisms of scale 0.01 (epsilon 100 each) compose to pure epsilon 1000,
    // far beyond e^709; the PLD epsilon must be about 1000, never 0 or NaN.
    let mut acc = PldAccountant::new();
    acc.compose_laplace(0.01, 10).unwrap();
    let eps = acc.epsilon(Delta::new(1e-5).unwrap()).unwrap();
    assert!(eps > 990.0 && eps <= 1000.0 + 1e-6, "{eps}");
}
