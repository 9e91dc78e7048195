//! Utility metrics on a holdout: accuracy, balanced accuracy and ROC AUC.
//!
//! ```
//! use shroud::train::eval::roc_auc;
//! assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
//! ```

use ndarray::ArrayView2;

/// Fraction of predictions equal to the labels (0 for no rows).
pub fn accuracy(pred: &[usize], y: &[usize]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

/// Mean over the classes present in `y` of each class's recall.
pub fn balanced_accuracy(pred: &[usize], y: &[usize], n_classes: usize) -> f64 {
    let mut hit = vec![0usize; n_classes];
    let mut tot = vec![0usize; n_classes];
    for (p, t) in pred.iter().zip(y) {
        if *t < n_classes {
            tot[*t] += 1;
            hit[*t] += usize::from(p == t);
        }
    }
    let present: Vec<f64> = hit
        .iter()
        .zip(&tot)
        .filter(|(_, t)| **t > 0)
        .map(|(h, t)| *h as f64 / *t as f64)
        .collect();
    if present.is_empty() {
        0.0
    } else {
        present.iter().sum::<f64>() / present.len() as f64
    }
}

/// ROC AUC of scores for positives against negatives (Mann-Whitney, ties count 1/2); None
/// when either class is absent.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut n_pos) = (0.0, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        // ranks i+1 ..= j+1 share their mean
        let mean_rank = (i + j + 2) as f64 / 2.0;
        for &k in &idx[i..=j] {
            if positive[k] {
                rank_sum += mean_rank;
                n_pos += 1;
            }
        }
        i = j + 1;
    }
    let n_neg = scores.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// ROC AUC of class probabilities: of class 1 for two classes, the mean one-vs-rest AUC
/// over the classes present otherwise.
pub fn auc_from_proba(proba: ArrayView2<f64>, y: &[usize]) -> Option<f64> {
    let k = proba.ncols();
    let classes: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
    let aucs: Vec<f64> = classes
        .iter()
        .filter_map(|&c| {
            let s: Vec<f64> = proba.column(c).to_vec();
            let pos: Vec<bool> = y.iter().map(|&t| t == c).collect();
            roc_auc(&s, &pos)
        })
        .collect();
    if aucs.is_empty() {
        None
    } else {
        Some(aucs.iter().sum::<f64>() / aucs.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_small_cases() {
        assert_eq!(accuracy(&[0, 1, 1], &[0, 1, 0]), 2.0 / 3.0);
        assert_eq!(balanced_accuracy(&[0, 0, 0, 1], &[0, 0, 0, 1], 2), 1.0);
        assert_eq!(balanced_accuracy(&[0, 0, 0, 0], &[0, 0, 0, 1], 2), 0.5);
        assert_eq!(roc_auc(&[1.0, 1.0], &[true, false]), Some(0.5));
        assert_eq!(roc_auc(&[0.0, 1.0], &[false, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.0, 1.0], &[true, true]), None);
    }
}
