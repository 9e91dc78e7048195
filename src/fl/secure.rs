//! Secure aggregation of model updates: the coordinator learns only the weighted sum.
//!
//! Each participant bounds its update to L2 norm S (so every coordinate lies in [-S, S]),
//! multiplies it by its weight s = min(records / max_records, 1) and appends s S, then
//! quantizes every coordinate to `bits` bits with stochastic rounding
//! ([`crate::secagg::Quantizer`]). Secure aggregation sums the vectors of the
//! participants that finish; the coordinator dequantizes and divides the weighted sum by
//! the summed weight, so weighting by data size happens inside the sum.
//!
//! Quantization is unbiased, and each participant's rounding moves a coordinate by less
//! than one step 2S / (2^bits - 1): the mean differs from the plaintext FedAvg mean of the
//! same (bounded) updates by at most m steps / sum(s) per coordinate for m participants,
//! [`quantization_bound`].

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use super::error::FlError;
use crate::secagg::{self, ClientId, GraphKind, Params, Quantizer, Tolerance};

/// Settings of secure aggregation in a federated run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SecureConfig {
    /// Bits per quantized coordinate (the sum of m needs bits + ceil(log2 m) <= 64).
    pub bits: u32,
    /// The neighbour graph.
    pub graph: GraphKind,
    /// Fraction of a round's participants that may drop out of the aggregation.
    pub dropout: f64,
    /// L2 bound S on every update (norm bounding is required: quantization needs a range).
    pub update_clip: f64,
}

/// What a secure round produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SecureMean {
    /// The weighted mean of the included updates.
    pub mean: Vec<f64>,
    /// The participants whose updates are in it.
    pub included: Vec<u32>,
    /// The participants that dropped out of the aggregation.
    pub dropped: Vec<u32>,
}

/// The largest difference per coordinate between the secure mean and the plaintext
/// weighted mean of the same bounded updates, for `m` participants of summed weight
/// `weight_sum` (weights as scaled in the module doc).
pub fn quantization_bound(cfg: &SecureConfig, m: usize, weight_sum: f64) -> f64 {
    let step = 2.0 * cfg.update_clip / ((1u64 << cfg.bits) - 1) as f64;
    // The numerator and the denominator both carry rounding; bound the first and the
    // effect of the second on a mean of magnitude at most S.
    let m = m as f64;
    let num = m * step;
    let den = m * step / cfg.update_clip;
    (num + cfg.update_clip * den) / (weight_sum - den).max(f64::MIN_POSITIVE)
}

/// Sums `updates` (participant, update, records) with secure aggregation run in this
/// process, every message through its wire encoding; `drops` says which participant
/// (by position in `updates`) vanishes after which secure-aggregation round (as in
/// [`secagg::run_local`]). `max_records` is the public weight normalization.
///
/// # Errors
/// [`FlError::InvalidConfig`] for bad settings or updates of different lengths;
/// [`FlError::SecAgg`] when too many drop out.
///
/// # Security
/// The coordinator's view is the secure-aggregation server's: the sum over the
/// participants that finished, and who dropped.
pub fn secure_weighted_mean<R: CryptoRng + ?Sized>(
    updates: &[(u32, Vec<f64>, f64)],
    cfg: &SecureConfig,
    max_records: f64,
    drops: &BTreeMap<ClientId, u8>,
    session: [u8; 32],
    rng: &mut R,
) -> Result<SecureMean, FlError> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !positive(cfg.update_clip) || !positive(max_records) {
        return Err(FlError::InvalidConfig(
            "secure aggregation needs a positive update bound S and record normalization".into(),
        ));
    }
    let dim = updates.first().map_or(0, |u| u.1.len());
    if updates.iter().any(|u| u.1.len() != dim) || dim == 0 {
        return Err(FlError::InvalidConfig(
            "updates of different or zero lengths".into(),
        ));
    }
    let mut inputs = Vec::with_capacity(updates.len());
    for (_, delta, records) in updates {
        inputs.push(quantize_update(delta, *records, max_records, cfg, rng)?);
    }
    let n = u32::try_from(updates.len())
        .map_err(|_| FlError::InvalidConfig("too many participants".into()))?;
    let params = session_params(n, dim, cfg, session)?;
    let (agg, _) = secagg::run_local(&params, inputs, drops, rng)?;
    let mean = mean_from_sum(&agg.sum, agg.survivors.len(), cfg)?;
    let name = |c: &ClientId| updates[*c as usize].0;
    Ok(SecureMean {
        mean,
        included: agg.survivors.iter().map(name).collect(),
        dropped: agg.dropped.iter().map(name).collect(),
    })
}

/// A participant's input to the secure sum: its update (already bounded to L2 norm S)
/// times s = min(records / max_records, 1), then s S, quantized.
///
/// # Errors
/// [`FlError::InvalidConfig`] for bad settings or a NaN coordinate.
pub fn quantize_update<R: CryptoRng + ?Sized>(
    delta: &[f64],
    records: f64,
    max_records: f64,
    cfg: &SecureConfig,
    rng: &mut R,
) -> Result<Vec<u64>, FlError> {
    let q = Quantizer::new(cfg.update_clip, cfg.bits)?;
    let s = if max_records > 0.0 {
        (records / max_records).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut v: Vec<f64> = delta.iter().map(|x| s * x).collect();
    v.push(s * cfg.update_clip);
    Ok(q.quantize(&v, rng)?)
}

/// The secure-aggregation parameters for `m` participants and `dim` model parameters.
///
/// # Errors
/// [`FlError::SecAgg`] when the session cannot be secure (for example too few
/// participants for the tolerated dropout).
pub fn session_params(
    m: u32,
    dim: usize,
    cfg: &SecureConfig,
    session: [u8; 32],
) -> Result<Params, FlError> {
    let tol = Tolerance::new(cfg.dropout, 0.0)?;
    Ok(Params::derive(
        m,
        dim as u32 + 1,
        cfg.bits,
        cfg.graph,
        tol,
        session,
    )?)
}

/// The weighted mean from the secure sum of `count` participants' inputs.
///
/// # Errors
/// [`FlError::InvalidConfig`] when the summed weight is not positive.
pub fn mean_from_sum(sum: &[u64], count: usize, cfg: &SecureConfig) -> Result<Vec<f64>, FlError> {
    let q = Quantizer::new(cfg.update_clip, cfg.bits)?;
    let real = q.dequantize_sum(sum, count);
    let Some((&w, rest)) = real.split_last() else {
        return Err(FlError::InvalidConfig("an empty sum".into()));
    };
    let weight = w / cfg.update_clip;
    if weight <= 0.0 {
        return Err(FlError::InvalidConfig(
            "the included participants have no weight".into(),
        ));
    }
    Ok(rest.iter().map(|x| x / weight).collect())
}

/// As [`secure_weighted_mean`] under participant-level DP: every participant's input is
/// its update with its share of discrete Gaussian noise ([`super::ddg`]); the result is
/// the unweighted noisy mean over the participants that finish.
///
/// # Errors
/// As [`secure_weighted_mean`]; [`FlError::BadUpdate`] from the encoding.
///
/// # Privacy
/// [`super::ddg::DdgPlan`]'s guarantee, if at least its `min_survivors` finish.
pub fn secure_ddg_mean<R: CryptoRng + ?Sized>(
    updates: &[(u32, Vec<f64>, f64)],
    plan: &super::ddg::DdgPlan,
    cfg: &SecureConfig,
    drops: &BTreeMap<ClientId, u8>,
    session: [u8; 32],
    rng: &mut R,
) -> Result<SecureMean, FlError> {
    let mut inputs = Vec::with_capacity(updates.len());
    for (_, delta, _) in updates {
        inputs.push(plan.encode(delta, rng)?);
    }
    let n = u32::try_from(updates.len())
        .map_err(|_| FlError::InvalidConfig("too many participants".into()))?;
    let tol = Tolerance::new(cfg.dropout, 0.0)?;
    let params = Params::derive(n, plan.dim as u32, plan.bits, cfg.graph, tol, session)?;
    let (agg, _) = secagg::run_local(&params, inputs, drops, rng)?;
    let name = |c: &ClientId| updates[*c as usize].0;
    Ok(SecureMean {
        mean: plan.decode(&agg.sum, agg.survivors.len()),
        included: agg.survivors.iter().map(name).collect(),
        dropped: agg.dropped.iter().map(name).collect(),
    })
}
