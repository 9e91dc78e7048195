//! Membership inference: the loss-threshold attack (Yeom et al. 2018) and the likelihood
//! ratio attack with shadow models ([`lira`], Carlini et al. 2022), reported as Carlini et
//! al. ask (AUC and TPR at low FPR), next to the ceiling that the model's (epsilon, delta)
//! guarantee implies.
//!
//! For an (epsilon, delta)-DP training run, every membership test has
//! TPR <= e^epsilon FPR + delta and, by the same guarantee applied to the complement,
//! TPR <= 1 - e^-epsilon (1 - delta - FPR) (Kairouz, Oh, Viswanath 2015). An attack above
//! the ceiling means the privacy claim is wrong: [`MiaReport::above_bound`] flags it. The
//! empirical TPR and FPR are estimates (an FPR of 0 on 200 non-members is not a true FPR of
//! 0); the flag compares the TPR's lower confidence bound with the ceiling at the FPR's
//! upper bound, so that sampling noise alone does not raise it.
//!
//! ```
//! use shroud::train::mia::dp_tpr_ceiling;
//! assert!((dp_tpr_ceiling(1.0, 1e-5, 0.01) - (1f64.exp() * 0.01 + 1e-5)).abs() < 1e-12);
//! assert_eq!(dp_tpr_ceiling(50.0, 1e-5, 0.5), 1.0);
//! ```

use super::TrainError;
use super::dpsgd::feature_matrix;
use super::eval::roc_auc;
use super::model_file::Model;
use crate::data::Dataset;

pub mod lira;

/// The FPRs at which TPR is reported.
pub const FPRS: [f64; 2] = [0.001, 0.01];

/// The largest TPR an (epsilon, delta)-DP mechanism allows at this FPR.
pub fn dp_tpr_ceiling(epsilon: f64, delta: f64, fpr: f64) -> f64 {
    let a = epsilon.exp() * fpr + delta;
    let b = 1.0 - (-epsilon).exp() * (1.0 - delta - fpr);
    a.min(b).clamp(0.0, 1.0)
}

/// The attack's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct MiaReport {
    /// ROC AUC of the score -loss, members against non-members.
    pub auc: f64,
    /// (target FPR, achieved FPR, TPR) at each of [`FPRS`].
    pub tpr_at_fpr: Vec<(f64, f64, f64)>,
    /// The DP ceiling on TPR at each target FPR, for the model's whole guarantee
    /// ([`Model::guarantee`]; None for a model trained without DP).
    pub bound_tpr_at_fpr: Option<Vec<f64>>,
    /// True when some TPR exceeds its ceiling beyond sampling error, a bug: the TPR's lower
    /// confidence bound is above the ceiling at the FPR's upper bound (Wilson intervals,
    /// z = 3.29 each).
    pub above_bound: bool,
    /// The ROC curve, (FPR, TPR) points from (0, 0) to (1, 1), for plotting.
    pub roc: Vec<(f64, f64)>,
    /// Members and non-members attacked.
    pub n: (usize, usize),
}

/// The z of the one-sided confidence bounds behind [`MiaReport::above_bound`].
const Z: f64 = 3.29;

/// Wilson score interval of a proportion p observed on n trials.
fn wilson(p: f64, n: f64, z: f64) -> (f64, f64) {
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let d = 1.0 + z2 / n;
    (
        ((centre - half) / d).max(0.0),
        ((centre + half) / d).min(1.0),
    )
}

/// TPR of the test "score > t" where t is the smallest threshold whose FPR is at most
/// `fpr` (ties at t are not flagged); returns (achieved FPR, TPR).
fn tpr_at(members: &[f64], nonmembers_desc: &[f64], fpr: f64) -> (f64, f64) {
    let n = nonmembers_desc.len();
    let k = (fpr * n as f64).floor() as usize;
    if k >= n {
        return (1.0, 1.0);
    }
    let t = nonmembers_desc[k];
    let fp = nonmembers_desc.iter().filter(|&&s| s > t).count();
    let tp = members.iter().filter(|&&s| s > t).count();
    (fp as f64 / n as f64, tp as f64 / members.len() as f64)
}

fn roc_curve(members: &[f64], nonmembers: &[f64]) -> Vec<(f64, f64)> {
    let mut all: Vec<(f64, bool)> = members
        .iter()
        .map(|&s| (s, true))
        .chain(nonmembers.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (p, n) = (members.len() as f64, nonmembers.len() as f64);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = vec![(0.0, 0.0)];
    let mut i = 0;
    while i < all.len() {
        let s = all[i].0;
        while i < all.len() && all[i].0 == s {
            if all[i].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        out.push((fp / n, tp / p));
    }
    out
}

/// The scores "-loss" of the rows of `d` under `model` (its features, scaled by its
/// scaler), and the class indices.
pub(crate) fn model_losses(model: &Model, d: &Dataset) -> Result<Vec<f64>, TrainError> {
    if d.feature_names() != model.feature_names.as_slice() {
        return Err(TrainError::Shape("features differ from the model's".into()));
    }
    let y = model.class_indices(d)?;
    let x = feature_matrix(&model.scaler.apply(d)?);
    Ok(model.network.losses(x.view(), &y)?.to_vec())
}

/// Runs the loss-threshold attack on a model: members are training rows, non-members rows
/// it never saw (from the same population).
///
/// # Errors
/// [`TrainError::Shape`] when the data does not fit the model;
/// [`TrainError::InvalidParameter`] when either set is empty.
pub fn loss_threshold_attack(
    model: &Model,
    members: &Dataset,
    nonmembers: &Dataset,
) -> Result<MiaReport, TrainError> {
    let neg = |v: Vec<f64>| v.into_iter().map(|l| -l).collect::<Vec<_>>();
    let m = neg(model_losses(model, members)?);
    let nm = neg(model_losses(model, nonmembers)?);
    report_from_scores(model, &m, &nm)
}

/// The report for any membership score (higher means "member"): AUC, TPR at [`FPRS`], the
/// ROC curve, and the model's DP ceiling with the flag.
///
/// # Errors
/// [`TrainError::InvalidParameter`] when either set is empty or a score is NaN.
pub fn report_from_scores(
    model: &Model,
    members: &[f64],
    nonmembers: &[f64],
) -> Result<MiaReport, TrainError> {
    let m = members.to_vec();
    let mut nm = nonmembers.to_vec();
    if m.is_empty() || nm.is_empty() {
        return Err(TrainError::InvalidParameter(
            "need members and non-members".into(),
        ));
    }
    if m.iter().chain(&nm).any(|s| s.is_nan()) {
        return Err(TrainError::InvalidParameter(
            "a membership score is NaN".into(),
        ));
    }
    let roc = roc_curve(&m, &nm);
    let all: Vec<f64> = m.iter().chain(&nm).copied().collect();
    let is_member: Vec<bool> = (0..all.len()).map(|i| i < m.len()).collect();
    // both sets are non-empty, so the AUC exists
    let auc = roc_auc(&all, &is_member).unwrap_or(0.5);
    nm.sort_by(|a, b| b.total_cmp(a));
    let tpr_at_fpr: Vec<(f64, f64, f64)> = FPRS
        .iter()
        .map(|&f| {
            let (af, t) = tpr_at(&m, &nm, f);
            (f, af, t)
        })
        .collect();
    let guarantee = model.guarantee();
    let bound = guarantee.map(|(e, d)| {
        FPRS.iter()
            .map(|&f| dp_tpr_ceiling(e, d, f))
            .collect::<Vec<_>>()
    });
    let (n_m, n_nm) = (m.len() as f64, nm.len() as f64);
    let above_bound = guarantee.is_some_and(|(eps, delta)| {
        tpr_at_fpr.iter().any(|&(_, achieved, tpr)| {
            // both rates are estimates: beat the ceiling at the FPR's upper confidence
            // bound with the TPR's lower bound (Wilson, z = 3.29 each, 99.95 % one-sided)
            let (tpr_lo, _) = wilson(tpr, n_m, Z);
            let (_, fpr_hi) = wilson(achieved, n_nm, Z);
            tpr_lo > dp_tpr_ceiling(eps, delta, fpr_hi)
        })
    });
    Ok(MiaReport {
        auc,
        tpr_at_fpr,
        bound_tpr_at_fpr: bound,
        above_bound,
        roc,
        n: (m.len(), nm.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpr_at_fpr_counts_strictly_above_the_threshold() {
        let nm = [0.9, 0.5, 0.4, 0.1]; // descending
        assert_eq!(tpr_at(&[1.0, 0.95, 0.2], &nm, 0.25), (0.25, 2.0 / 3.0));
        assert_eq!(tpr_at(&[1.0, 0.95, 0.2], &nm, 0.0), (0.0, 2.0 / 3.0));
        assert_eq!(tpr_at(&[0.3], &nm, 1.0), (1.0, 1.0));
    }

    #[test]
    fn the_ceiling_is_monotone_and_tight_at_zero_epsilon() {
        assert!((dp_tpr_ceiling(0.0, 0.0, 0.3) - 0.3).abs() < 1e-15);
        let mut last = 0.0;
        for i in 0..=100 {
            let c = dp_tpr_ceiling(2.0, 1e-5, f64::from(i) / 100.0);
            assert!(c >= last);
            last = c;
        }
        assert_eq!(last, 1.0);
    }

    #[test]
    fn wilson_bounds_cover_the_estimate() {
        let (lo, hi) = wilson(0.0, 200.0, Z);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.04 && hi < 0.06, "{hi}");
        let (lo, hi) = wilson(0.5, 100.0, Z);
        assert!(lo < 0.5 && hi > 0.5 && (0.5 - lo - (hi - 0.5)).abs() < 1e-12);
    }

    #[test]
    fn roc_runs_from_origin_to_one() {
        let r = roc_curve(&[0.9, 0.3], &[0.5, 0.1]);
        assert_eq!(r.first(), Some(&(0.0, 0.0)));
        assert_eq!(r.last(), Some(&(1.0, 1.0)));
    }
}
