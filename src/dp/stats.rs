//! Private statistics built on the mechanisms: count, sum and mean with clipping bounds,
//! histogram, quantile, report-noisy-max, and randomized response for local DP.
//!
//! Neighbouring data sets differ by adding or removing one person's record.
//!
//! ```
//! let mut rng = shroud::rng::seeded(7);
//! let ages = [34.0, 51.0, 67.0, 45.0, 72.0];
//! let (mean, cost) = shroud::dp::stats::mean(&mut rng, &ages, 18.0, 90.0, 1.0).unwrap();
//! assert!((18.0..=90.0).contains(&mean));
//! assert_eq!(cost, shroud::dp::mechanism::PrivacyCost::Pure { epsilon: 1.0 });
//! ```

use rand_core::CryptoRng;

use super::DpError;
use super::mechanism::PrivacyCost;
use super::release::{self, Release};
use super::sample::{bernoulli, discrete_laplace, uniform_below};

fn check_eps(epsilon: f64) -> Result<f64, DpError> {
    if epsilon.is_finite() && epsilon > 0.0 {
        Ok(epsilon)
    } else {
        Err(DpError::InvalidParameter(format!(
            "epsilon must be positive and finite, got {epsilon}"
        )))
    }
}

fn check_bounds(lower: f64, upper: f64) -> Result<(), DpError> {
    if lower.is_finite() && upper.is_finite() && lower <= upper {
        Ok(())
    } else {
        Err(DpError::InvalidParameter(format!(
            "clipping bounds must be finite with lower <= upper, got [{lower}, {upper}]"
        )))
    }
}

/// Noisy count (sensitivity 1), discrete Laplace.
///
/// # Errors
/// [`DpError::InvalidParameter`] for a bad epsilon.
///
/// # Privacy
/// epsilon-DP.
pub fn count<R: CryptoRng + ?Sized>(
    rng: &mut R,
    n: u64,
    epsilon: f64,
) -> Result<(i128, PrivacyCost), DpError> {
    let n = i64::try_from(n).map_err(|_| DpError::InvalidParameter("count too large".into()))?;
    release::discrete_laplace_int(rng, n, 1, check_eps(epsilon)?)
}

/// A clipped sum computed exactly (Casacuberta et al., CCS 2022): every value is clipped to
/// [lower, upper] and rounded to an integer multiple of the release grid, and the integers
/// are summed with overflow checks. One record changes `units` by exactly its own rounded
/// value, so by at most `sensitivity_units`, whatever the order or the number of records
/// (a left-to-right f64 sum can move by 2000 times its grid step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClippedSum {
    /// The sum, in grid units.
    pub units: i128,
    /// The grid step g (a power of two): the sum is `units * granularity`.
    pub granularity: f64,
    /// What adding or removing one record can change `units` by:
    /// max(|round(lower / g)|, |round(upper / g)|).
    pub sensitivity_units: u64,
}

/// Largest |bound / g| accepted: the sum of 2^64 such values still fits an i128.
const MAX_UNITS: f64 = 4_611_686_018_427_387_904.0; // 2^62

/// The exact clipped sum of `values` on the grid that [`sum`] releases on at `epsilon`.
///
/// # Errors
/// [`DpError::InvalidParameter`] for bad bounds or epsilon, a NaN value, bounds that are both
/// 0, or bounds too large or too small for the grid.
pub fn clipped_sum(
    values: &[f64],
    lower: f64,
    upper: f64,
    epsilon: f64,
) -> Result<ClippedSum, DpError> {
    check_bounds(lower, upper)?;
    let e = check_eps(epsilon)?;
    if values.iter().any(|v| v.is_nan()) {
        return Err(DpError::InvalidParameter("values contain NaN".into()));
    }
    let sens = lower.abs().max(upper.abs());
    if sens == 0.0 {
        return Err(DpError::InvalidParameter(
            "clipping bounds [0, 0] make every sum 0: nothing to release".into(),
        ));
    }
    let g = release::laplace_grid(sens, e)?;
    let to_units = |x: f64| -> Result<i64, DpError> {
        // g is a power of two, so x / g is exact unless it underflows (then it rounds to 0)
        let u = (x / g).round();
        if u.abs() < MAX_UNITS {
            Ok(u as i64)
        } else {
            Err(DpError::InvalidParameter(format!(
                "clipping bound {x} is too large for the release grid {g} at epsilon {e}"
            )))
        }
    };
    let (lo, hi) = (to_units(lower)?, to_units(upper)?);
    let sensitivity_units = lo.unsigned_abs().max(hi.unsigned_abs());
    if sensitivity_units == 0 {
        return Err(DpError::InvalidParameter(
            "clipping bounds round to 0 on the release grid".into(),
        ));
    }
    let mut units: i128 = 0;
    for v in values {
        // clamp, division by a positive power of two and rounding are all monotone, so each
        // record's units lie in [lo, hi]
        let u = to_units(v.clamp(lower, upper))?;
        units = units
            .checked_add(i128::from(u))
            .ok_or_else(|| DpError::InvalidParameter("clipped sum overflows".into()))?;
    }
    Ok(ClippedSum {
        units,
        granularity: g,
        sensitivity_units,
    })
}

/// Noisy sum of values clipped to [lower, upper], computed exactly on the release grid
/// ([`clipped_sum`]) and released with discrete Laplace noise in grid units.
///
/// # Errors
/// As [`clipped_sum`].
///
/// # Privacy
/// epsilon-DP under adding or removing one record: the sensitivity charged is the exact
/// integer one of [`ClippedSum::sensitivity_units`], with no floating-point rounding left.
pub fn sum<R: CryptoRng + ?Sized>(
    rng: &mut R,
    values: &[f64],
    lower: f64,
    upper: f64,
    epsilon: f64,
) -> Result<Release, DpError> {
    let c = clipped_sum(values, lower, upper, epsilon)?;
    release::laplace_units(rng, c.units, c.sensitivity_units, epsilon, c.granularity)
}

/// Noisy mean: half the budget on the clipped sum, half on the count; the ratio is clamped
/// to [lower, upper] (post-processing).
///
/// # Errors
/// As [`sum`].
///
/// # Privacy
/// epsilon-DP.
pub fn mean<R: CryptoRng + ?Sized>(
    rng: &mut R,
    values: &[f64],
    lower: f64,
    upper: f64,
    epsilon: f64,
) -> Result<(f64, PrivacyCost), DpError> {
    let e = check_eps(epsilon)?;
    let s = sum(rng, values, lower, upper, e / 2.0)?;
    let (c, _) = count(rng, values.len() as u64, e / 2.0)?;
    let m = if c >= 1 {
        s.value / c as f64
    } else {
        (lower + upper) / 2.0
    };
    Ok((m.clamp(lower, upper), PrivacyCost::Pure { epsilon: e }))
}

/// Noisy histogram: every bin count plus discrete Laplace noise of scale 1/epsilon (one
/// person changes one bin by one).
///
/// # Errors
/// [`DpError::InvalidParameter`] for a bad epsilon or a count beyond i64.
///
/// # Privacy
/// epsilon-DP.
pub fn histogram<R: CryptoRng + ?Sized>(
    rng: &mut R,
    counts: &[u64],
    epsilon: f64,
) -> Result<(Vec<i128>, PrivacyCost), DpError> {
    let e = check_eps(epsilon)?;
    let mut out = Vec::with_capacity(counts.len());
    for c in counts {
        out.push(count(rng, *c, e)?.0);
    }
    Ok((out, PrivacyCost::Pure { epsilon: e }))
}

/// Report-noisy-max: the index of the largest integer score after adding discrete Laplace
/// noise of scale 2 * sensitivity / epsilon to each (ties to the lowest index).
///
/// # Errors
/// [`DpError::InvalidParameter`] for no scores, sensitivity 0 or a bad epsilon.
///
/// # Privacy
/// epsilon-DP.
pub fn report_noisy_max<R: CryptoRng + ?Sized>(
    rng: &mut R,
    scores: &[i64],
    sensitivity: u64,
    epsilon: f64,
) -> Result<(usize, PrivacyCost), DpError> {
    let e = check_eps(epsilon)?;
    if scores.is_empty() || sensitivity == 0 {
        return Err(DpError::InvalidParameter(
            "need at least one score and sensitivity > 0".into(),
        ));
    }
    let scale = 2.0 * sensitivity as f64 / e;
    let den = 1u64 << 20;
    let num = (scale * den as f64 * (1.0 + 1e-12)).ceil();
    if !(num.is_finite() && num < 2f64.powi(63)) {
        return Err(DpError::InvalidParameter("noise scale out of range".into()));
    }
    let mut best = (i128::MIN, 0usize);
    for (i, s) in scores.iter().enumerate() {
        let v = i128::from(*s) + discrete_laplace(rng, num as u64, den)?;
        if v > best.0 {
            best = (v, i);
        }
    }
    Ok((best.1, PrivacyCost::Pure { epsilon: e }))
}

/// A quantile chosen among `candidates` by report-noisy-max with utility
/// -|#{x < c} - q n| (sensitivity 1).
///
/// # Errors
/// [`DpError::InvalidParameter`] for q outside [0, 1], no candidates, NaN, or a bad epsilon.
///
/// # Privacy
/// epsilon-DP.
pub fn quantile<R: CryptoRng + ?Sized>(
    rng: &mut R,
    values: &[f64],
    q: f64,
    candidates: &[f64],
    epsilon: f64,
) -> Result<(f64, PrivacyCost), DpError> {
    if !(0.0..=1.0).contains(&q)
        || candidates.is_empty()
        || values.iter().chain(candidates).any(|v| v.is_nan())
    {
        return Err(DpError::InvalidParameter(
            "need q in [0, 1], candidates, and no NaN".into(),
        ));
    }
    let target = q * values.len() as f64;
    let scores: Vec<i64> = candidates
        .iter()
        .map(|c| {
            let below = values.iter().filter(|v| *v < c).count() as f64;
            -((below - target).abs().round() as i64)
        })
        .collect();
    let (i, cost) = report_noisy_max(rng, &scores, 1, epsilon)?;
    Ok((candidates[i], cost))
}

const RR_BITS: u32 = 32;

/// Numerator over 2^32 of P(report the truth) = e^eps / (e^eps + k - 1), rounded down
/// (the float error of p is below 1e-12 relative, so the result never exceeds the exact p).
fn truth_numerator(k: u64, epsilon: f64) -> Result<u64, DpError> {
    let e = check_eps(epsilon)?;
    let p = 1.0 / (1.0 + (k - 1) as f64 * (-e).exp());
    Ok(((p * 2f64.powi(RR_BITS as i32)) * (1.0 - 1e-12)).floor() as u64)
}

/// The privacy loss of k-ary randomized response as implemented: with the truth reported
/// with probability P = n / 2^32 (rounded down) and each other answer with
/// (1 - P) / (k - 1), the loss is |ln(P (k - 1) / (1 - P))|, rounded up. When P >= 1/k this
/// is at most epsilon; when rounding pushed P below 1/k (k near 2^32 e^epsilon or beyond,
/// or epsilon below about 2^-31) the other answers are likelier than the truth and the loss
/// can exceed epsilon, or be infinite when P = 0.
///
/// # Errors
/// [`DpError::InvalidParameter`] for k < 2 or a bad epsilon; [`DpError::Unsupported`] when
/// the loss of the rounded probabilities exceeds epsilon.
pub fn randomized_response_loss(k: u64, epsilon: f64) -> Result<f64, DpError> {
    if k < 2 {
        return Err(DpError::InvalidParameter(format!(
            "randomized response needs k >= 2, got {k}"
        )));
    }
    let n = truth_numerator(k, epsilon)?;
    let refuse = |loss: f64| {
        DpError::Unsupported(format!(
            "k-ary randomized response with k = {k} at epsilon {epsilon}: the truth \
             probability rounded to a multiple of 2^-{RR_BITS} gives a privacy loss of {loss}; \
             use fewer answers (k below about 2^32 e^epsilon) or a larger epsilon"
        ))
    };
    if n == 0 {
        return Err(refuse(f64::INFINITY));
    }
    // ratio P / P_other = n (k - 1) / (2^32 - n), exact in integers
    let a = u128::from(n) * u128::from(k - 1);
    let b = (1u128 << RR_BITS) - u128::from(n);
    // ln of an integer below 2^97: the conversion and ln err by a few ulps of ln (< 1e-13)
    let loss = ((a as f64).ln() - (b as f64).ln()).abs() + 1e-12;
    if a >= b {
        // P <= exact p, so the ratio is at most e^epsilon: epsilon is a sound bound too
        Ok(loss.min(epsilon))
    } else if loss <= epsilon {
        Ok(loss)
    } else {
        Err(refuse(loss))
    }
}

/// Binary randomized response (local DP): the truth with probability e^eps / (1 + e^eps),
/// rounded down to a multiple of 2^-32.
///
/// # Errors
/// As [`randomized_response_loss`] with k = 2 (checked before any randomness is drawn).
///
/// # Privacy
/// epsilon-local-DP; the cost returned is the loss of the rounded probabilities, at most
/// epsilon.
pub fn randomized_response<R: CryptoRng + ?Sized>(
    rng: &mut R,
    truth: bool,
    epsilon: f64,
) -> Result<(bool, PrivacyCost), DpError> {
    let loss = randomized_response_loss(2, epsilon)?;
    let p = truth_numerator(2, epsilon)?;
    let keep = bernoulli(rng, u128::from(p), 1 << RR_BITS)?;
    Ok((
        if keep { truth } else { !truth },
        PrivacyCost::Pure { epsilon: loss },
    ))
}

/// k-ary randomized response: the truth with probability e^eps / (e^eps + k - 1) (rounded
/// down to a multiple of 2^-32), otherwise one of the other k - 1 values uniformly.
///
/// # Errors
/// [`DpError::InvalidParameter`] for k < 2, truth >= k or a bad epsilon;
/// [`DpError::Unsupported`] when the rounded probabilities would leak more than epsilon
/// (see [`randomized_response_loss`]). Both are checked before any randomness is drawn.
///
/// # Privacy
/// epsilon-local-DP; the cost returned is the loss of the rounded probabilities, at most
/// epsilon. The work done does not depend on whether the truth is reported.
pub fn randomized_response_k<R: CryptoRng + ?Sized>(
    rng: &mut R,
    truth: u64,
    k: u64,
    epsilon: f64,
) -> Result<(u64, PrivacyCost), DpError> {
    if k < 2 || truth >= k {
        return Err(DpError::InvalidParameter(
            "need k >= 2 and truth < k".into(),
        ));
    }
    let cost = PrivacyCost::Pure {
        epsilon: randomized_response_loss(k, epsilon)?,
    };
    let p = truth_numerator(k, epsilon)?;
    // The other answer is drawn whether or not it is used, so the running time does not say
    // whether the answer is the truth (both samplers' time is independent of their output).
    let other = uniform_below(rng, u128::from(k - 1)) as u64;
    let other = if other >= truth { other + 1 } else { other };
    let keep = bernoulli(rng, u128::from(p), 1 << RR_BITS)?;
    Ok((if keep { truth } else { other }, cost))
}
