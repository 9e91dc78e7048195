//! DP-SGD accounting with either accountant, and noise calibration that never returns a
//! noise multiplier whose epsilon exceeds the target (unlike Opacus issue #346).

use super::pld::PldAccountant;
use super::rdp::RdpAccountant;
use super::{Delta, DpError, NoiseMultiplier, SamplingRate};

/// Which accountant to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accountant {
    /// Renyi DP (fast; looser).
    Rdp,
    /// Privacy loss distributions (tighter).
    Pld,
}

impl Accountant {
    /// "rdp" or "pld".
    pub fn name(self) -> &'static str {
        match self {
            Accountant::Rdp => "rdp",
            Accountant::Pld => "pld",
        }
    }
}

/// Epsilon of `steps` Poisson-subsampled Gaussian steps, and (for RDP) the optimal order.
///
/// # Errors
/// [`DpError::Unbounded`] when no finite epsilon exists; [`DpError::InvalidParameter`].
pub fn dpsgd_epsilon(
    accountant: Accountant,
    q: SamplingRate,
    sigma: NoiseMultiplier,
    steps: u64,
    delta: Delta,
) -> Result<(f64, Option<f64>), DpError> {
    match accountant {
        Accountant::Rdp => {
            let mut acc = RdpAccountant::new();
            acc.compose_poisson_subsampled_gaussian(q, sigma, steps);
            let (e, order) = acc.epsilon(delta)?;
            Ok((e, Some(order)))
        }
        Accountant::Pld => {
            let mut acc = PldAccountant::new();
            acc.compose_poisson_subsampled_gaussian(q, sigma, steps)?;
            Ok((acc.epsilon(delta)?, None))
        }
    }
}

/// The smallest noise multiplier (to a relative tolerance of 1e-6 for RDP, 1e-4 for PLD)
/// whose epsilon does not exceed `target`. Bisection keeps an upper end that always meets
/// the target, and returns that end with its epsilon: never a multiplier above the target.
///
/// # Errors
/// [`DpError::InvalidParameter`] for a non-positive target; [`DpError::Unbounded`] when even
/// a noise multiplier of 1000 does not reach it.
pub fn calibrate_noise_multiplier(
    accountant: Accountant,
    q: SamplingRate,
    steps: u64,
    delta: Delta,
    target: f64,
) -> Result<(NoiseMultiplier, f64), DpError> {
    if !(target.is_finite() && target > 0.0) {
        return Err(DpError::InvalidParameter(format!(
            "target epsilon must be positive, got {target}"
        )));
    }
    let eps = |s: f64| -> f64 {
        NoiseMultiplier::new(s)
            .ok()
            .and_then(|sig| dpsgd_epsilon(accountant, q, sig, steps, delta).ok())
            .map_or(f64::INFINITY, |(e, _)| e)
    };
    let tol = match accountant {
        Accountant::Rdp => 1e-6,
        Accountant::Pld => 1e-4,
    };
    let mut hi = 1.0;
    let mut e_hi = eps(hi);
    while e_hi > target {
        hi *= 2.0;
        if hi > 1000.0 {
            return Err(DpError::Unbounded(format!(
                "no noise multiplier up to 1000 reaches epsilon {target}"
            )));
        }
        e_hi = eps(hi);
    }
    let mut lo = hi / 2.0;
    while lo > 1e-2 && eps(lo) <= target {
        hi = lo;
        lo /= 2.0;
    }
    e_hi = eps(hi);
    while (hi - lo) / hi > tol {
        let mid = 0.5 * (lo + hi);
        let e = eps(mid);
        if e <= target {
            hi = mid;
            e_hi = e;
        } else {
            lo = mid;
        }
    }
    if e_hi > target {
        return Err(DpError::Unbounded(
            "calibration failed to meet the target".into(),
        ));
    }
    Ok((NoiseMultiplier::new(hi)?, e_hi))
}
