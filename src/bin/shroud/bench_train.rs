//! `shroud bench train`: DP-SGD throughput (examples per second) for logistic regression
//! and an MLP 64-32 on 20 features, expected batch 256, one thread.

use std::time::Instant;

use clap::Args;
use rand_core::Rng;
use serde_json::json;
use shroud::data::Dataset;
use shroud::dp::calibrate::Accountant;
use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};
use shroud::train::dpsgd::{ClipNorm, DpSgd, TrainConfig, train};
use shroud::train::network::{Architecture, Network};

use crate::Failure;

#[derive(Args)]
pub struct TrainBenchArgs {
    /// Examples in the synthetic data set (expected batch 256 at q = 256 / n).
    #[arg(long, default_value_t = 25_600)]
    examples: usize,
    /// Epochs per measurement.
    #[arg(long, default_value_t = 2)]
    epochs: u32,
    /// Seeds of the accuracy sweep on the built-in hospitals (0 skips it).
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Arithmetic of the forward and backward passes: f64 or f32 (clipping, noise and
    /// weights stay f64).
    #[arg(long, default_value = "f64")]
    precision: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Holdout accuracy of logistic regression on the built-in hospitals (6000 patients, one
/// hospital, 10 epochs, expected batch 256) at each epsilon (None: not private), as mean
/// and 95 % confidence half-width (Student t) over `seeds` seeds.
fn accuracy_sweep(seeds: u64) -> Result<Vec<(Option<f64>, f64, f64)>, Failure> {
    use shroud::data::hospitals::{HospitalConfig, generate};
    use shroud::data::scaler::Scaler;
    use shroud::train::private::{EpsilonTarget, RunOptions, train_with_epsilon};
    let mut out = Vec::new();
    for eps in [None, Some(1.0), Some(3.0), Some(8.0)] {
        let mut accs = Vec::new();
        for seed in 0..seeds {
            let h = generate(&HospitalConfig::new(6000, 1, seed)?);
            let scaler = Scaler::standardize(&h.hospitals[0]);
            let train_set = scaler.apply(&h.hospitals[0])?;
            let mut net = Network::new(&Architecture::Logistic, 6, 2, seed)?;
            let mut cfg = TrainConfig::new(10, SamplingRate::new(256.0 / 6000.0)?, 0.1);
            cfg.optimizer.rule = shroud::train::optim::Rule::Sgd { momentum: 0.9 };
            let mut rng = shroud::rng::chacha_from_os();
            match eps {
                None => {
                    train(&mut net, &train_set, &cfg, None, &mut rng)?;
                }
                Some(e) => {
                    let target = EpsilonTarget::new(e, Delta::new(1e-5)?, Accountant::Rdp)?;
                    let clip = ClipNorm::new(1.0)?;
                    train_with_epsilon(
                        &mut net,
                        &train_set,
                        &cfg,
                        clip,
                        &target,
                        RunOptions::default(),
                        &mut rng,
                    )?;
                }
            }
            let model = shroud::train::model_file::Model {
                network: net,
                feature_names: h.holdout.feature_names().to_vec(),
                label: "high_risk".into(),
                classes: vec![0.0, 1.0],
                scaler,
                privacy: None,
            };
            accs.push(model.evaluate(&h.holdout)?.accuracy);
        }
        let (mean, half) = shroud::train::report::mean_ci95(&accs);
        out.push((eps, mean, half));
    }
    Ok(out)
}

fn synthetic(n: usize, d: usize) -> Result<Dataset, Failure> {
    let mut rng = shroud::rng::seeded(7);
    let mut u = || (rng.next_u64() >> 11) as f64 * 2f64.powi(-53) * 2.0 - 1.0;
    let x: Vec<f64> = (0..n * d).map(|_| u()).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let s: f64 = x[i * d..(i + 1) * d].iter().step_by(2).sum();
            f64::from(u8::from(s + 0.5 * u() > 0.0))
        })
        .collect();
    let names = (0..d).map(|j| format!("x{j}")).collect();
    Ok(Dataset::new(names, "y", x, &y)?)
}

/// Examples processed per second (the sampled batches' total size over the wall time).
fn throughput(
    arch: &Architecture,
    data: &Dataset,
    cfg: &TrainConfig,
    dp: Option<&DpSgd>,
) -> Result<f64, Failure> {
    let mut net = Network::new(arch, data.n_features(), 2, 0)?;
    let mut rng = shroud::rng::chacha_from_os();
    let t = Instant::now();
    let r = train(&mut net, data, cfg, dp, &mut rng)?;
    let s = t.elapsed().as_secs_f64();
    let examples = r.steps as f64 * cfg.sampling_rate.get() * data.len() as f64;
    Ok(examples / s)
}

pub fn run(a: TrainBenchArgs) -> Result<(), Failure> {
    if a.examples < 256 || a.epochs == 0 || a.seeds == 1 {
        return Err(Failure(
            "need at least 256 examples, 1 epoch, and 0 or at least 2 seeds".into(),
        ));
    }
    // one thread: the loop is sequential and ndarray/matrixmultiply are built without threads
    let data = synthetic(a.examples, 20)?;
    let q = SamplingRate::new(256.0 / a.examples as f64)?;
    let mut cfg = TrainConfig::new(a.epochs, q, 0.1);
    cfg.optimizer = shroud::train::optim::OptimizerConfig::sgd(0.1);
    cfg.precision = shroud::train::network::Precision::parse(&a.precision)?;
    let dp = DpSgd {
        clip: ClipNorm::new(1.0)?,
        sigma: NoiseMultiplier::new(1.0)?,
        delta: Delta::new(1e-5)?,
        accountant: Accountant::Rdp,
    };
    let models = [
        ("logreg", Architecture::Logistic),
        ("mlp:64,32", Architecture::parse("mlp:64,32")?),
    ];
    let mut rows = Vec::new();
    for (name, arch) in &models {
        let private = throughput(arch, &data, &cfg, Some(&dp))?;
        let plain = throughput(arch, &data, &cfg, None)?;
        rows.push((*name, private, plain));
    }
    let sweep = if a.seeds >= 2 {
        accuracy_sweep(a.seeds)?
    } else {
        Vec::new()
    };
    if a.json {
        let acc: Vec<_> = sweep
            .iter()
            .map(|(e, m, h)| json!({"epsilon": e, "delta": e.map(|_| 1e-5), "accuracy_mean": m, "ci95": h, "seeds": a.seeds}))
            .collect();
        let v: Vec<_> = rows
            .iter()
            .map(|(m, p, n)| {
                json!({"model": m, "dp_sgd_examples_per_s": p, "sgd_examples_per_s": n,
                       "features": 20, "expected_batch": 256, "threads": 1,
                       "precision": a.precision})
            })
            .collect();
        println!("{}", json!({ "train": v, "hospitals_accuracy": acc }));
    } else {
        println!(
            "DP-SGD on {} examples x 20 features, expected batch 256, {} epochs, one thread, {}",
            a.examples, a.epochs, a.precision
        );
        println!("{:<12} {:>18} {:>18}", "model", "DP-SGD ex/s", "SGD ex/s");
        for (m, p, n) in rows {
            println!("{m:<12} {p:>18.0} {n:>18.0}");
        }
        if !sweep.is_empty() {
            println!(
                "holdout accuracy, logistic regression on the built-in hospitals (6000 patients, \
                 10 epochs, delta 1e-5), mean +- 95 % CI over {} seeds",
                a.seeds
            );
            for (e, m, h) in &sweep {
                let label = e.map_or_else(|| "not private".into(), |e| format!("epsilon {e}"));
                println!("{label:<12} {m:.4} +- {h:.4}");
            }
        }
    }
    Ok(())
}
