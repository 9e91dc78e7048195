//! `shroud report privacy-utility`: sweep epsilon, draw the plots, write the summary.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use shroud::data::Dataset;
use shroud::dp::Delta;
use shroud::train::dpsgd::ClipNorm;
use shroud::train::network::Architecture;
use shroud::train::report::{SweepConfig, sweep, write_report};

use crate::Failure;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Holdout accuracy against epsilon (mean and 95 % CI over seeds) next to the
    /// non-private model, the loss-threshold attack's ROC, the training loss; PNG + SVG
    /// plots and summary.json / summary.md in --out.
    PrivacyUtility(PrivacyUtilityArgs),
}

#[derive(Args)]
pub struct PrivacyUtilityArgs {
    /// Data: CSV with a header (split into training rows and a holdout).
    #[arg(long)]
    data: PathBuf,
    /// The label column.
    #[arg(long)]
    label: String,
    /// Feature columns, comma-separated (default: every column but the label).
    #[arg(long, value_delimiter = ',')]
    features: Option<Vec<String>>,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// logreg, softmax, or mlp:W1,W2[:relu|tanh].
    #[arg(long, default_value = "logreg")]
    model: String,
    /// Target epsilons.
    #[arg(long, value_delimiter = ',', default_value = "1,3,8")]
    epsilons: Vec<f64>,
    /// Epoch counts, one curve each (a longer run needs a larger sigma for the same epsilon).
    #[arg(long, value_delimiter = ',', default_value = "10")]
    epochs: Vec<u32>,
    /// Seeds per setting.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// delta.
    #[arg(long, default_value_t = 1e-5)]
    delta: f64,
    /// Clipping norm.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Poisson sampling rate (default: an expected batch of 256).
    #[arg(long)]
    sampling_rate: Option<f64>,
    /// Learning rate (SGD, momentum 0.9).
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Fraction of rows held out.
    #[arg(long, default_value_t = 0.25)]
    holdout: f64,
}

pub fn run(cmd: ReportCommand) -> Result<(), Failure> {
    let ReportCommand::PrivacyUtility(a) = cmd;
    let data = Dataset::from_csv_path(&a.data, &a.label, a.features.as_deref())?;
    let cfg = SweepConfig {
        arch: Architecture::parse(&a.model)?,
        epsilons: a.epsilons.clone(),
        epochs: a.epochs.clone(),
        seeds: a.seeds,
        delta: Delta::new(a.delta)?,
        clip: ClipNorm::new(a.clip)?,
        sampling_rate: a.sampling_rate,
        lr: a.lr,
        holdout_fraction: a.holdout,
        split_seed: 0,
    };
    std::fs::create_dir_all(&a.out).map_err(|e| Failure(format!("{}: {e}", a.out.display())))?;
    let s = sweep(&data, &cfg)?;
    let files = write_report(&s, &a.out)?;
    for p in s.baselines.iter().chain(&s.points) {
        println!(
            "{:<24} accuracy {:.4} ± {:.4} (95 % CI, {} seeds){}",
            p.epsilon.map_or_else(
                || format!("not private, {} ep", p.epochs),
                |e| format!("epsilon {e}, {} ep", p.epochs)
            ),
            p.accuracy_mean,
            p.ci95,
            s.seeds,
            p.noise_multiplier
                .map_or_else(String::new, |v| format!(", sigma {v:.3}"))
        );
    }
    for f in files {
        println!("wrote {}", f.display());
    }
    if s.points.iter().any(|p| p.mia_above_bound) {
        return Err(Failure(
            "BUG: a membership attack beats the ceiling of its model's (epsilon, delta)".into(),
        ));
    }
    Ok(())
}
