//! The privacy maps, compositions and conversions refuse NaN, negative and infinite inputs
//! like every other entry point of the DP layer, instead of passing them on as costs.

use shroud::dp::DpError;
use shroud::dp::mechanism::{Mechanism, PrivacyCost, compose_basic, gaussian_delta};
use shroud::dp::stats;

const BAD: [f64; 4] = [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY];

fn invalid<T: std::fmt::Debug>(r: Result<T, DpError>, what: &str) {
    assert!(
        matches!(r, Err(DpError::InvalidParameter(_))),
        "{what}: expected InvalidParameter, got {r:?}"
    );
}

#[test]
fn randomized_response_maps_validate_their_inputs() {
    for eps in BAD.into_iter().chain([0.0]) {
        let m = Mechanism::RandomizedResponse { epsilon: eps, k: 4 };
        invalid(
            m.privacy_map(1.0, None),
            &format!("randomized response eps {eps}"),
        );
        invalid(
            stats::randomized_response_loss(4, eps),
            &format!("loss eps {eps}"),
        );
    }
    for k in [0, 1] {
        let m = Mechanism::RandomizedResponse { epsilon: 1.0, k };
        invalid(m.privacy_map(1.0, None), &format!("k {k}"));
    }
    let mut rng = shroud::rng::seeded(1);
    invalid(stats::randomized_response_k(&mut rng, 0, 1, 1.0), "k 1");
    invalid(
        stats::randomized_response(&mut rng, true, -1.0),
        "binary eps -1",
    );
    // a delta given to any map must be a probability
    for d in [f64::NAN, 0.0, 1.0, -1e-5, 2.0] {
        invalid(
            (Mechanism::Laplace { scale: 1.0 }).privacy_map(1.0, Some(d)),
            &format!("delta {d}"),
        );
        invalid(
            (Mechanism::RandomizedResponse { epsilon: 1.0, k: 2 }).privacy_map(1.0, Some(d)),
            &format!("delta {d}"),
        );
    }
    for s in BAD {
        invalid(
            (Mechanism::Gaussian { sigma: s }).privacy_map(1.0, Some(1e-5)),
            &format!("sigma {s}"),
        );
        invalid(
            (Mechanism::Gaussian { sigma: 1.0 }).privacy_map(s, Some(1e-5)),
            &format!("sensitivity {s}"),
        );
    }
    // the raw curve gives NaN (never 0) for NaN inputs
    assert!(gaussian_delta(1.0, f64::NAN, 1.0).is_nan());
    assert!(gaussian_delta(1.0, 1.0, f64::NAN).is_nan());
}

#[test]
fn basic_composition_validates_its_inputs() {
    for e in BAD {
        invalid(
            compose_basic(&[(0.5, 0.0), (e, 0.0)]),
            &format!("epsilon {e}"),
        );
    }
    for d in [f64::NAN, -1e-9, 1.5, f64::INFINITY] {
        invalid(compose_basic(&[(0.5, d)]), &format!("delta {d}"));
    }
    invalid(
        compose_basic(&[(f64::MAX, 0.0), (f64::MAX, 0.0)]),
        "overflow",
    );
    assert_eq!(compose_basic(&[]).unwrap(), (0.0, 0.0));
    assert_eq!(
        compose_basic(&[(1.0, 0.6), (1.0, 0.6)]).unwrap(),
        (2.0, 1.0)
    );
}

#[test]
fn conversion_to_epsilon_delta_validates_its_inputs() {
    for x in BAD {
        invalid(
            PrivacyCost::Pure { epsilon: x }.to_approx(1e-5),
            &format!("pure {x}"),
        );
        invalid(
            PrivacyCost::Approx {
                epsilon: x,
                delta: 1e-5,
            }
            .to_approx(1e-5),
            &format!("approx eps {x}"),
        );
        invalid(
            PrivacyCost::Approx {
                epsilon: 1.0,
                delta: x,
            }
            .to_approx(1e-5),
            &format!("approx delta {x}"),
        );
        invalid(
            PrivacyCost::Zcdp { rho: x }.to_approx(1e-5),
            &format!("rho {x}"),
        );
    }
    for d in [f64::NAN, 0.0, 1.0, -1.0, f64::INFINITY] {
        invalid(
            PrivacyCost::Zcdp { rho: 0.1 }.to_approx(d),
            &format!("zcdp at delta {d}"),
        );
    }
    // valid costs convert; pure ones ignore the delta meant for zCDP
    assert_eq!(
        PrivacyCost::Pure { epsilon: 1.0 }
            .to_approx(f64::NAN)
            .unwrap(),
        (1.0, 0.0)
    );
    let (e, d) = PrivacyCost::Zcdp { rho: 0.5 }.to_approx(1e-5).unwrap();
    assert!(e >= 0.5 + 2.0 * (0.5 * 1e5f64.ln()).sqrt() && d == 1e-5);
}
