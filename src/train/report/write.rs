//! Writing a sweep: three plots (PNG and SVG) and the summary (JSON and markdown).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Sweep, SweepPoint};
use crate::train::TrainError;
use crate::train::mia::FPRS;
use crate::train::plot::{Curve, ErrorSeries, accuracy_vs_epsilon, loss_per_epoch, roc_log_log};

fn io(path: &Path, e: &std::io::Error) -> TrainError {
    TrainError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn name(p: &SweepPoint) -> String {
    match p.epsilon {
        Some(e) => format!("epsilon {e}, {} epochs", p.epochs),
        None => format!("not private, {} epochs", p.epochs),
    }
}

fn markdown(s: &Sweep) -> String {
    let mut m = String::new();
    // writing to a String cannot fail
    let _ = writeln!(
        m,
        "# Privacy-utility report\n\n{} on {} training rows, {} holdout rows; Poisson rate {:.5}, \
         delta {:e}; mean and 95 % CI (Student t) of holdout accuracy over {} seeds.\n",
        s.model, s.n_train, s.n_holdout, s.sampling_rate, s.delta, s.seeds
    );
    let _ = writeln!(
        m,
        "| epsilon | epochs | sigma | accuracy | 95 % CI | vs. not private | loss-attack AUC | TPR at FPR {} | TPR at FPR {} |",
        FPRS[0], FPRS[1]
    );
    let _ = writeln!(m, "|---|---|---|---|---|---|---|---|---|");
    for p in s.baselines.iter().chain(&s.points) {
        let base = s
            .baselines
            .iter()
            .find(|b| b.epochs == p.epochs)
            .map_or(f64::NAN, |b| b.accuracy_mean);
        let tpr = |i: usize| p.mia_tpr_at_fpr.get(i).map_or(f64::NAN, |v| *v);
        let _ = writeln!(
            m,
            "| {} | {} | {} | {:.4} | ±{:.4} | {:+.2} points | {:.3} | {:.4} | {:.4} |",
            p.epsilon
                .map_or_else(|| "∞ (not private)".into(), |e| e.to_string()),
            p.epochs,
            p.noise_multiplier
                .map_or_else(|| "-".into(), |v| format!("{v:.3}")),
            p.accuracy_mean,
            p.ci95,
            100.0 * (p.accuracy_mean - base),
            p.mia_auc,
            tpr(0),
            tpr(1),
        );
    }
    let _ = writeln!(
        m,
        "\nThe features were standardized with the training part's mean and standard \
         deviation, which are not protected; the accuracies and attack results are computed \
         on the data without noise: this report is for the data owner, not for release."
    );
    m
}

/// Writes the plots (`accuracy_vs_epsilon`, `mia_roc`, `training_loss`, each `.png` and
/// `.svg`) and `summary.json` and `summary.md` into `dir` (which must exist); returns the
/// files written.
///
/// # Errors
/// [`TrainError::Plot`] or [`TrainError::Io`] when a file cannot be written.
pub fn write_report(s: &Sweep, dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let epochs: Vec<u32> = s.baselines.iter().map(|b| b.epochs).collect();
    let series: Vec<ErrorSeries> = epochs
        .iter()
        .map(|&e| {
            let pts: Vec<&SweepPoint> = s.points.iter().filter(|p| p.epochs == e).collect();
            ErrorSeries {
                name: format!("DP-SGD, {e} epochs"),
                points: pts
                    .iter()
                    .filter_map(|p| p.epsilon.map(|x| (x, p.accuracy_mean, p.ci95)))
                    .collect(),
                labels: pts
                    .iter()
                    .map(|p| {
                        p.noise_multiplier
                            .map_or_else(String::new, |v| format!("  σ={v:.2}"))
                    })
                    .collect(),
            }
        })
        .collect();
    let first = epochs.first().copied().unwrap_or(0);
    let baseline = s.baselines.first().map(|b| (b.accuracy_mean, b.ci95));
    let mut files = accuracy_vs_epsilon(&dir.join("accuracy_vs_epsilon"), &series, baseline)?;
    let shown: Vec<&SweepPoint> = s
        .baselines
        .iter()
        .take(1)
        .chain(s.points.iter().filter(|p| p.epochs == first))
        .collect();
    let rocs: Vec<Curve> = shown
        .iter()
        .map(|p| Curve {
            name: format!("{} (AUC {:.3})", name(p), p.mia_auc),
            points: p.roc.clone(),
        })
        .collect();
    let ceilings: Vec<(String, f64, f64)> = shown
        .iter()
        .filter_map(|p| {
            p.epsilon_spent
                .map(|e| (format!("ceiling at epsilon {e:.2}"), e, s.delta))
        })
        .collect();
    files.extend(roc_log_log(&dir.join("mia_roc"), &rocs, &ceilings)?);
    let losses: Vec<Curve> = shown
        .iter()
        .map(|p| Curve {
            name: name(p),
            points: p
                .epoch_losses
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64 + 1.0, *l))
                .collect(),
        })
        .collect();
    files.extend(loss_per_epoch(&dir.join("training_loss"), &losses)?);
    let json_path = dir.join("summary.json");
    let json = serde_json::to_string_pretty(s).map_err(|e| TrainError::Plot(e.to_string()))?;
    std::fs::write(&json_path, json).map_err(|e| io(&json_path, &e))?;
    let md_path = dir.join("summary.md");
    std::fs::write(&md_path, markdown(s)).map_err(|e| io(&md_path, &e))?;
    files.push(json_path);
    files.push(md_path);
    Ok(files)
}
