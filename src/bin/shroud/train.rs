//! `shroud train` and `shroud evaluate`: parse, call the training layer, print.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;
use shroud::data::Dataset;
use shroud::data::scaler::Scaler;
use shroud::dp::budget::Ledger;
use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};
use shroud::train::dpsgd::{ClipNorm, DpSgd, TrainConfig, feature_matrix, train_observed};
use shroud::train::eval::accuracy;
use shroud::train::mia::lira::{LiraConfig, lira_attack};
use shroud::train::mia::{FPRS, MiaReport, loss_threshold_attack};
use shroud::train::model_file::Model;
use shroud::train::network::{Architecture, Network, Precision};
use shroud::train::optim::{OptimizerConfig, Rule};
use shroud::train::private::{
    Charge, EpsilonTarget, RunOptions, train_with_epsilon, train_with_noise_multiplier,
};

use crate::Failure;
use crate::dp::Accountant;

#[derive(Clone, Copy, ValueEnum)]
pub enum OptimizerName {
    /// SGD with momentum (--momentum).
    Sgd,
    /// Adam.
    Adam,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Training data: CSV with a header.
    #[arg(long)]
    data: PathBuf,
    /// The label column.
    #[arg(long)]
    label: String,
    /// Feature columns, comma-separated (default: every column but the label).
    #[arg(long, value_delimiter = ',')]
    features: Option<Vec<String>>,
    /// logreg, softmax, or mlp:W1,W2[:relu|tanh].
    #[arg(long, default_value = "logreg")]
    model: String,
    /// Target epsilon: calibrates the noise multiplier (needs --delta).
    #[arg(long)]
    epsilon: Option<f64>,
    /// Delta of the privacy guarantee.
    #[arg(long)]
    delta: Option<f64>,
    /// Noise multiplier sigma, instead of --epsilon (needs --delta).
    #[arg(long)]
    noise_multiplier: Option<f64>,
    /// Per-example L2 clipping norm C.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Poisson sampling rate q (default: an expected batch of 256, or 1 for small data).
    #[arg(long)]
    sampling_rate: Option<f64>,
    /// Epochs: the run takes ceil(epochs / q) steps.
    #[arg(long, default_value_t = 10)]
    epochs: u32,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptimizerName,
    /// Momentum of SGD.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Multiply the learning rate by this after every epoch (1 = constant).
    #[arg(long, default_value_t = 1.0)]
    lr_decay: f64,
    /// Validation data that is NOT private (same columns): its loss is printed per epoch
    /// and drives --patience. Choosing by private data would leak it.
    #[arg(long)]
    validation: Option<PathBuf>,
    /// Early stopping: stop after this many epochs without a lower validation loss, keep
    /// the best epoch (needs --validation).
    #[arg(long, requires = "validation")]
    patience: Option<u32>,
    /// Accountant.
    #[arg(long, value_enum, default_value = "rdp")]
    accountant: Accountant,
    /// Arithmetic of the forward and backward passes: f32 or f64 (clipping, noise and the
    /// weights stay f64).
    #[arg(long, default_value = "f64")]
    precision: String,
    /// Seed of the initialization (the sampling and the noise always come from the OS).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Scale features to [-1, 1] by bounds lo:hi per feature, comma-separated, instead of
    /// standardizing with the private data's statistics.
    #[arg(long, value_delimiter = ',')]
    bounds: Option<Vec<String>>,
    /// Standardize with means and standard deviations released with this epsilon (needs
    /// --bounds to clip to, and --scaler-delta); charged to the ledger before training, and
    /// added to the model's guarantee.
    #[arg(long, requires_all = ["bounds", "scaler_delta"])]
    scaler_epsilon: Option<f64>,
    /// delta of the DP scaler statistics.
    #[arg(long, requires = "scaler_epsilon")]
    scaler_delta: Option<f64>,
    /// Budget ledger to charge before training.
    #[arg(long, requires = "principal")]
    ledger: Option<PathBuf>,
    /// The principal (account) in the ledger.
    #[arg(long, requires = "ledger")]
    principal: Option<String>,
    /// The data set's name in the ledger (default: the data file's stem).
    #[arg(long)]
    dataset: Option<String>,
    /// Where to write the model.
    #[arg(long)]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// Labelled data: CSV with a header and the model's feature columns.
    #[arg(long)]
    data: PathBuf,
    /// The label column.
    #[arg(long)]
    label: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn parse_bounds(list: &[String]) -> Result<Scaler, Failure> {
    let pairs = list
        .iter()
        .map(|s| {
            let (lo, hi) = s
                .split_once(':')
                .ok_or_else(|| Failure(format!("bound {s:?}: expected lo:hi")))?;
            let p = |v: &str| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| Failure(format!("bound {s:?}: {v:?} is not a number")))
            };
            Ok((p(lo)?, p(hi)?))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok(Scaler::from_bounds(&pairs)?)
}

pub fn train_cmd(a: TrainArgs) -> Result<(), Failure> {
    // refuse an unwritable destination before any budget is charged
    let dir = a
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !dir.is_dir() {
        return Err(Failure(format!(
            "--out {}: the directory {} does not exist",
            a.out.display(),
            dir.display()
        )));
    }
    let raw = Dataset::from_csv_path(&a.data, &a.label, a.features.as_deref())?;
    let ledger = a.ledger.as_deref().map(Ledger::open).transpose()?;
    let dataset = a.dataset.clone().unwrap_or_else(|| {
        a.data
            .file_stem()
            .map_or_else(|| "data".into(), |s| s.to_string_lossy().into_owned())
    });
    let scaler = match &a.bounds {
        Some(b) => {
            let s = parse_bounds(b)?;
            if s.shift.len() != raw.n_features() {
                return Err(Failure(format!(
                    "--bounds gives {} features, the data has {}",
                    s.shift.len(),
                    raw.n_features()
                )));
            }
            match (a.scaler_epsilon, a.scaler_delta) {
                (Some(e), Some(d)) => {
                    if a.epsilon.is_none() && a.noise_multiplier.is_none() {
                        return Err(Failure(
                            "--scaler-epsilon is for a private run: give --epsilon or --noise-multiplier"
                                .into(),
                        ));
                    }
                    if let (Some(l), Some(p)) = (&ledger, &a.principal) {
                        l.spend(&dataset, p, e, d)?;
                    }
                    let pairs: Vec<(f64, f64)> = s
                        .shift
                        .iter()
                        .zip(&s.scale)
                        .map(|(c, r)| (c - r, c + r))
                        .collect();
                    Scaler::dp_standardize(&raw, &pairs, e, d, &mut shroud::rng::chacha_from_os())?
                }
                _ => s,
            }
        }
        None => Scaler::standardize(&raw),
    };
    let data = scaler.apply(&raw)?;
    let arch = Architecture::parse(&a.model)?;
    let mut net = Network::new(&arch, data.n_features(), data.n_classes(), a.seed)?;
    let q = a
        .sampling_rate
        .unwrap_or_else(|| (256.0 / data.len() as f64).min(1.0));
    let mut cfg = TrainConfig::new(a.epochs, SamplingRate::new(q)?, a.lr);
    cfg.optimizer = match a.optimizer {
        OptimizerName::Sgd => OptimizerConfig {
            rule: Rule::Sgd {
                momentum: a.momentum,
            },
            ..OptimizerConfig::sgd(a.lr)
        },
        OptimizerName::Adam => OptimizerConfig::adam(a.lr),
    };
    cfg.optimizer.weight_decay = a.weight_decay;
    cfg.optimizer.lr_decay = a.lr_decay;
    cfg.patience = a.patience;
    cfg.precision = Precision::parse(&a.precision)?;
    let validation = match &a.validation {
        Some(p) => {
            let v = Dataset::from_csv_path(p, &a.label, Some(raw.feature_names()))?;
            if v.classes() != raw.classes() {
                return Err(Failure(format!(
                    "{}: the validation labels {:?} are not the training labels {:?}",
                    p.display(),
                    v.classes(),
                    raw.classes()
                )));
            }
            Some(scaler.apply(&v)?)
        }
        None => None,
    };
    let charge = match (&ledger, &a.principal) {
        (Some(l), Some(p)) => Some(Charge {
            ledger: l,
            dataset: &dataset,
            principal: p,
        }),
        _ => None,
    };
    // a progress bar on stderr when it is a terminal and the output is for a person
    let bar = (!a.json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} training [{bar:40}] {pos}/{len} steps, {elapsed} (eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    });
    let hook = |done: u64, total: u64| {
        if let Some(b) = &bar {
            if b.length() != Some(total) {
                b.set_length(total);
            }
            b.set_position(done);
        }
    };
    let progress: Option<&(dyn Fn(u64, u64) + Sync)> = bar.as_ref().map(|_| &hook as _);
    let opts = RunOptions {
        validation: validation.as_ref(),
        charge,
        progress,
    };
    let accountant = a.accountant.lib();
    let mut rng = shroud::rng::chacha_from_os();
    let report = match (a.epsilon, a.noise_multiplier) {
        (Some(_), Some(_)) => {
            return Err(Failure(
                "give --epsilon or --noise-multiplier, not both".into(),
            ));
        }
        (Some(eps), None) => {
            let delta = Delta::new(
                a.delta
                    .ok_or_else(|| Failure("--epsilon needs --delta".into()))?,
            )?;
            let target = EpsilonTarget::new(eps, delta, accountant)?;
            let clip = ClipNorm::new(a.clip)?;
            train_with_epsilon(&mut net, &data, &cfg, clip, &target, opts, &mut rng)?
        }
        (None, Some(sigma)) => {
            let delta = Delta::new(
                a.delta
                    .ok_or_else(|| Failure("--noise-multiplier needs --delta".into()))?,
            )?;
            let dp = DpSgd {
                clip: ClipNorm::new(a.clip)?,
                sigma: NoiseMultiplier::new(sigma)?,
                delta,
                accountant,
            };
            train_with_noise_multiplier(&mut net, &data, &cfg, &dp, opts, &mut rng)?
        }
        (None, None) => {
            if charge.is_some() {
                return Err(Failure(
                    "--ledger needs a private run: give --epsilon or --noise-multiplier".into(),
                ));
            }
            train_observed(
                &mut net,
                &data,
                validation.as_ref(),
                &cfg,
                None,
                &mut rng,
                progress,
            )?
        }
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let x = feature_matrix(&data);
    let train_accuracy = accuracy(&net.predict(x.view())?, data.labels());
    let model = Model {
        network: net,
        feature_names: raw.feature_names().to_vec(),
        label: a.label.clone(),
        classes: raw.classes().to_vec(),
        scaler,
        privacy: report.privacy.clone(),
    };
    std::fs::write(&a.out, model.to_json()?)
        .map_err(|e| Failure(format!("{}: {e}", a.out.display())))?;
    let p = report.privacy.as_ref();
    if a.json {
        let out = json!({
            "private": p.is_some(),
            "epsilon": p.map(|p| p.epsilon),
            "delta": p.map(|p| p.delta),
            "noise_multiplier": p.map(|p| p.noise_multiplier),
            "sampling_rate": q,
            "precision": a.precision,
            "steps": report.steps,
            "accountant": p.map(|p| p.accountant.clone()),
            "clip": p.map(|p| p.clip),
            "scaler_epsilon": a.scaler_epsilon,
            "scaler_delta": a.scaler_delta,
            "train_accuracy": train_accuracy,
            "epoch_losses": report.epoch_losses,
            "validation_losses": report.validation_losses,
            "model": a.out.display().to_string(),
        });
        println!("{out}");
    } else {
        match p {
            Some(p) => println!(
                "trained {} with DP-SGD: ({:.4}, {:e})-DP ({} accountant), sigma {:.4}, q {}, {} steps, clip {}",
                a.model,
                p.epsilon,
                p.delta,
                p.accountant,
                p.noise_multiplier,
                q,
                report.steps,
                p.clip
            ),
            None => println!(
                "trained {} WITHOUT differential privacy (no --epsilon or --noise-multiplier): {} steps at q {}",
                a.model, report.steps, q
            ),
        }
        println!(
            "train accuracy {train_accuracy:.4} (computed on the training data, not private); model written to {}",
            a.out.display()
        );
    }
    Ok(())
}

pub fn evaluate_cmd(a: EvaluateArgs) -> Result<(), Failure> {
    let model = Model::load(&a.model)?;
    let data = Dataset::from_csv_path(&a.data, &a.label, Some(&model.feature_names))?;
    let e = model.evaluate(&data)?;
    if a.json {
        println!(
            "{}",
            json!({
                "accuracy": e.accuracy,
                "balanced_accuracy": e.balanced_accuracy,
                "auc": e.auc,
                "n": e.n,
            })
        );
    } else {
        println!(
            "accuracy {:.4}, balanced accuracy {:.4}, AUC {}, on {} rows",
            e.accuracy,
            e.balanced_accuracy,
            e.auc
                .map_or_else(|| "n/a (one class)".into(), |v| format!("{v:.4}")),
            e.n
        );
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum AttackCommand {
    /// Membership inference against a model (loss threshold, or LiRA with --shadow), with
    /// the ceiling that the model's (epsilon, delta) allows.
    Mia(MiaArgs),
}

#[derive(Args)]
pub struct MiaArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// Rows the model was trained on.
    #[arg(long)]
    members: PathBuf,
    /// Rows from the same population that it never saw.
    #[arg(long)]
    nonmembers: PathBuf,
    /// The label column.
    #[arg(long)]
    label: String,
    /// Shadow models (even) for the LiRA attack, trained on halves of members and
    /// non-members together; 0 runs the loss-threshold attack alone.
    #[arg(long, default_value_t = 0)]
    shadow: u32,
    /// Shadows' epochs when the model has no privacy record (a DP model's record gives them).
    #[arg(long, default_value_t = 10)]
    shadow_epochs: u32,
    /// Shadows' learning rate (SGD, momentum 0.9).
    #[arg(long, default_value_t = 0.1)]
    shadow_lr: f64,
    /// Seed of the shadows (the attacker's randomness).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn report_json(name: &str, r: &MiaReport) -> serde_json::Value {
    let key = |f: f64| f.to_string();
    let tpr: serde_json::Map<String, serde_json::Value> = r
        .tpr_at_fpr
        .iter()
        .map(|(f, _, t)| (key(*f), json!(t)))
        .collect();
    let bound = r.bound_tpr_at_fpr.as_ref().map(|b| {
        FPRS.iter()
            .zip(b)
            .map(|(f, v)| (key(*f), json!(v)))
            .collect::<serde_json::Map<_, _>>()
    });
    json!({
        "attack": name,
        "auc": r.auc,
        "tpr_at_fpr": tpr,
        "bound_tpr_at_fpr": bound,
        "above_bound": r.above_bound,
    })
}

fn print_report(name: &str, r: &MiaReport) {
    println!(
        "{name} attack: AUC {:.4} on {} members, {} non-members",
        r.auc, r.n.0, r.n.1
    );
    for (i, (f, af, t)) in r.tpr_at_fpr.iter().enumerate() {
        let b = r
            .bound_tpr_at_fpr
            .as_ref()
            .map_or_else(|| "none (not private)".into(), |b| format!("{:.4}", b[i]));
        println!("  TPR {t:.4} at FPR {f} (achieved {af:.4}); DP ceiling {b}");
    }
}

pub fn attack_cmd(cmd: AttackCommand) -> Result<(), Failure> {
    let AttackCommand::Mia(a) = cmd;
    let model = Model::load(&a.model)?;
    let members = Dataset::from_csv_path(&a.members, &a.label, Some(&model.feature_names))?;
    let nonmembers = Dataset::from_csv_path(&a.nonmembers, &a.label, Some(&model.feature_names))?;
    let loss = loss_threshold_attack(&model, &members, &nonmembers)?;
    let lira = if a.shadow > 0 {
        let cfg = LiraConfig::from_model(
            &model,
            a.shadow,
            members.len() + nonmembers.len(),
            a.shadow_epochs,
            a.shadow_lr,
            a.seed,
        )?;
        Some(lira_attack(&model, &members, &nonmembers, &cfg)?)
    } else {
        None
    };
    // the attack asked for is the top level; the loss attack sits beside LiRA for comparison
    let (main_name, main) = match &lira {
        Some(l) => ("lira", l),
        None => ("loss_threshold", &loss),
    };
    if a.json {
        let mut out = report_json(main_name, main);
        if let Some(o) = out.as_object_mut() {
            o.insert(
                "epsilon".into(),
                json!(model.privacy.as_ref().map(|p| p.epsilon)),
            );
            o.insert(
                "delta".into(),
                json!(model.privacy.as_ref().map(|p| p.delta)),
            );
            o.insert("n_members".into(), json!(main.n.0));
            o.insert("n_nonmembers".into(), json!(main.n.1));
            if lira.is_some() {
                o.insert("shadows".into(), json!(a.shadow));
                o.insert(
                    "loss_threshold".into(),
                    report_json("loss_threshold", &loss),
                );
            }
        }
        println!("{out}");
    } else {
        print_report("loss-threshold", &loss);
        if let Some(l) = &lira {
            print_report(&format!("LiRA ({} shadows)", a.shadow), l);
        }
    }
    let above: Vec<&str> = [("loss_threshold", &loss)]
        .into_iter()
        .chain(lira.as_ref().map(|l| ("lira", l)))
        .filter(|(_, r)| r.above_bound)
        .map(|(n, _)| n)
        .collect();
    if !above.is_empty() {
        return Err(Failure(format!(
            "BUG: the {} attack beats the ceiling that the model's (epsilon, delta) allows; \
             the privacy record is wrong",
            above.join(" and ")
        )));
    }
    Ok(())
}
