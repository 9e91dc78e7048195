//! Randomized response with rounded probabilities (issue 15, point 3): the loss of the
//! probabilities really used is charged, and parameters where it exceeds the request are
//! refused before any randomness is drawn.

use rand_core::Rng;
use shroud::dp::DpError;
use shroud::dp::mechanism::{Mechanism, PrivacyCost};
use shroud::dp::stats;

#[test]
fn randomized_response_refuses_rounded_probabilities_that_leak() {
    // k = 2^33, eps = 0.1: P(truth) rounds to 0, the loss is infinite; it used to run and
    // claim 0.1 (the truth was never reported).
    let k = 1u64 << 33;
    let mut rng = shroud::rng::seeded(153);
    let fresh = shroud::rng::seeded(153).next_u64();
    match stats::randomized_response_k(&mut rng, 0, k, 0.1) {
        Err(DpError::Unsupported(m)) => assert!(m.contains("inf"), "{m}"),
        other => panic!("k = 2^33 at epsilon 0.1 must be refused, got {other:?}"),
    }
    assert_eq!(
        rng.next_u64(),
        fresh,
        "refused before drawing any randomness"
    );
    assert!(stats::randomized_response_loss(k, 0.1).is_err());
    assert!(
        (Mechanism::RandomizedResponse { epsilon: 0.1, k })
            .privacy_map(1.0, None)
            .is_err()
    );
    // binary randomized response at a tiny epsilon: P rounds just below 1/2, so the loss
    // ln((2^31 + 1) / (2^31 - 1)) = 9.3e-10 exceeds epsilon 1e-12
    assert!(matches!(
        stats::randomized_response(&mut rng, true, 1e-12),
        Err(DpError::Unsupported(_))
    ));
    // every accepted (k, eps) costs at most eps, and close to it when k is small
    for shift in [1u32, 2, 8, 16, 30, 31, 32, 33, 40, 63] {
        let k = 1u64 << shift;
        for eps in [1e-9, 1e-3, 0.1, 1.0, 5.0, 30.0] {
            match stats::randomized_response_loss(k, eps) {
                Ok(loss) => {
                    assert!(loss <= eps && loss > 0.0, "k 2^{shift} eps {eps}: {loss}");
                    let (_, cost) = stats::randomized_response_k(&mut rng, 0, k, eps).unwrap();
                    assert_eq!(cost, PrivacyCost::Pure { epsilon: loss });
                }
                Err(DpError::Unsupported(_)) => {
                    assert!(shift >= 31 || eps < 1e-8, "k 2^{shift} eps {eps}")
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    let loss = stats::randomized_response_loss(5, 1.2).unwrap();
    assert!(loss <= 1.2 && loss > 1.2 - 1e-8, "{loss}");
    // k = 2^32 at eps 1: P = 2 / 2^32 < 1/k is accepted with its true loss, about ln 2
    let loss = stats::randomized_response_loss(1 << 32, 1.0).unwrap();
    assert!((loss - 2f64.ln()).abs() < 1e-6, "{loss}");
}
