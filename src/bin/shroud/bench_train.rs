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
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
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
    if a.examples < 256 || a.epochs == 0 {
        return Err(Failure("need at least 256 examples and 1 epoch".into()));
    }
    // one thread: the loop is sequential and ndarray/matrixmultiply are built without threads
    let data = synthetic(a.examples, 20)?;
    let q = SamplingRate::new(256.0 / a.examples as f64)?;
    let mut cfg = TrainConfig::new(a.epochs, q, 0.1);
    cfg.optimizer = shroud::train::optim::OptimizerConfig::sgd(0.1);
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
    if a.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(m, p, n)| {
                json!({"model": m, "dp_sgd_examples_per_s": p, "sgd_examples_per_s": n,
                       "features": 20, "expected_batch": 256, "threads": 1})
            })
            .collect();
        println!("{}", json!({ "train": v }));
    } else {
        println!(
            "DP-SGD on {} examples x 20 features, expected batch 256, {} epochs, one thread",
            a.examples, a.epochs
        );
        println!("{:<12} {:>18} {:>18}", "model", "DP-SGD ex/s", "SGD ex/s");
        for (m, p, n) in rows {
            println!("{m:<12} {p:>18.0} {n:>18.0}");
        }
    }
    Ok(())
}
