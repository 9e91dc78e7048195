//! `shroud fl local`: federated learning with every party in this process.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use shroud::data::Dataset;
use shroud::data::scaler::Scaler;
use shroud::dp::budget::Ledger;
use shroud::dp::{Delta, SamplingRate};
use shroud::fl::coordinator::{Aggregation, Coordinator, Selection, ServerConfig};
use shroud::fl::local::{Attack, LocalRun, accuracy_on, run_local};
use shroud::fl::participant::{LedgerAccount, Participant, RecordLevelDp, RecordLevelPlan};
use shroud::fl::robust::RobustRule;
use shroud::fl::secure::SecureConfig;
use shroud::secagg::GraphKind;
use shroud::train::dpsgd::{ClipNorm, PrivacyRecord, TrainConfig};
use shroud::train::model_file::Model;
use shroud::train::network::{Architecture, Network};

use crate::Failure;
use crate::dp::Accountant;

#[derive(Subcommand)]
pub enum FlCommand {
    /// Run the coordinator and every participant in this process.
    Local(Box<LocalArgs>),
}

#[derive(Args)]
pub struct LocalArgs {
    /// One CSV per participant, comma-separated (participant i is the i-th file).
    #[arg(long, value_delimiter = ',', required = true)]
    data: Vec<PathBuf>,
    /// The label column.
    #[arg(long)]
    label: String,
    /// The coordinator's test set (public data): features are standardized with its
    /// statistics, and accuracy is reported on it after every round.
    #[arg(long)]
    test: PathBuf,
    /// Rounds.
    #[arg(long, default_value_t = 10)]
    rounds: u32,
    /// logreg, softmax, or mlp:W1,W2[:relu|tanh].
    #[arg(long, default_value = "logreg")]
    model: String,
    /// Plaintext FedAvg instead of secure aggregation.
    #[arg(long, conflicts_with = "robust")]
    plain: bool,
    /// A robust rule over plaintext updates: median, trimmed-mean:F, krum:F or
    /// multi-krum:F:M.
    #[arg(long)]
    robust: Option<String>,
    /// Bound on each update's L2 norm (norm bounding; required range for secure mode).
    #[arg(long, default_value_t = 5.0)]
    update_clip: f64,
    /// Bits per quantized coordinate in secure mode.
    #[arg(long, default_value_t = 20)]
    bits: u32,
    /// Dropout fraction secure aggregation tolerates per round.
    #[arg(long, default_value_t = 0.34)]
    tolerate_dropout: f64,
    /// Secure-aggregation graph: complete or harary.
    #[arg(long, default_value = "complete")]
    graph: String,
    /// Differential privacy: `record` (DP-SGD at each participant).
    #[arg(long, requires = "epsilon")]
    dp: Option<String>,
    /// Target epsilon per participant for the whole run.
    #[arg(long, requires = "dp")]
    epsilon: Option<f64>,
    /// Delta.
    #[arg(long, default_value_t = 1e-5)]
    delta: f64,
    /// Per-example clipping norm of DP-SGD.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Accountant.
    #[arg(long, value_enum, default_value = "rdp")]
    accountant: Accountant,
    /// Local epochs per round.
    #[arg(long, default_value_t = 1)]
    local_epochs: u32,
    /// Poisson sampling rate of local training.
    #[arg(long, default_value_t = 0.1)]
    sampling_rate: f64,
    /// Local learning rate.
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    /// Server learning rate.
    #[arg(long, default_value_t = 1.0)]
    server_lr: f64,
    /// Server momentum (FedAvgM when positive).
    #[arg(long, default_value_t = 0.0)]
    server_momentum: f64,
    /// Fraction of participants selected per round (default all).
    #[arg(long)]
    fraction: Option<f64>,
    /// Fewest participants selected per round.
    #[arg(long, default_value_t = 1)]
    min_participants: usize,
    /// Select with probability proportional to data size.
    #[arg(long, requires = "fraction")]
    weighted: bool,
    /// ROUND:ID[:STAGE]: participant ID drops out in ROUND (in secure mode after
    /// secure-aggregation stage 1-3, default 2: after sharing keys).
    #[arg(long)]
    drop: Vec<String>,
    /// sign-flip:ID or scale:ID:K: participant ID cheats.
    #[arg(long)]
    attack: Vec<String>,
    /// Budget ledger: participant i charges the account (its data file's stem,
    /// --principal) before each round it joins.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// The principal in the ledger.
    #[arg(long, default_value = "fl")]
    principal: String,
    /// Seed of the initialization and the selection.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the model.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: FlCommand) -> Result<(), Failure> {
    match cmd {
        FlCommand::Local(a) => local(*a),
    }
}

fn parse_drops(list: &[String]) -> Result<BTreeMap<(u32, u32), u8>, Failure> {
    let mut out = BTreeMap::new();
    for d in list {
        let parts: Vec<&str> = d.split(':').collect();
        let bad = || {
            Failure(format!(
                "--drop {d}: expected ROUND:ID or ROUND:ID:STAGE (1-3)"
            ))
        };
        let (r, id, stage) = match parts.as_slice() {
            [r, id] => (r, id, "2"),
            [r, id, s] => (r, id, *s),
            _ => return Err(bad()),
        };
        let stage: u8 = stage.parse().map_err(|_| bad())?;
        if !(1..=3).contains(&stage) {
            return Err(bad());
        }
        out.insert(
            (
                r.parse().map_err(|_| bad())?,
                id.parse().map_err(|_| bad())?,
            ),
            stage,
        );
    }
    Ok(out)
}

fn local(a: LocalArgs) -> Result<(), Failure> {
    let raw_test = Dataset::from_csv_path(&a.test, &a.label, None)?;
    let scaler = Scaler::standardize(&raw_test);
    let test = scaler.apply(&raw_test)?;
    let ledger = a.ledger.clone();
    let mut parts = Vec::new();
    for (i, path) in a.data.iter().enumerate() {
        let raw = Dataset::from_csv_path(path, &a.label, Some(raw_test.feature_names()))?;
        if raw.classes() != raw_test.classes() {
            return Err(Failure(format!(
                "{}: labels {:?}, the test set has {:?}",
                path.display(),
                raw.classes(),
                raw_test.classes()
            )));
        }
        let account = match &ledger {
            Some(l) => Some(LedgerAccount {
                ledger: Ledger::open(l)?,
                dataset: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| format!("participant-{i}")),
                principal: a.principal.clone(),
            }),
            None => None,
        };
        parts.push(Participant::new(i as u32, scaler.apply(&raw)?, account));
    }
    let n = parts.len();
    for at in &a.attack {
        let at = Attack::parse(at)?;
        let (Attack::SignFlip(id) | Attack::Scale(id, _)) = at;
        if id as usize >= n {
            return Err(Failure(format!("--attack: there is no participant {id}")));
        }
    }
    let graph = match a.graph.as_str() {
        "complete" => GraphKind::Complete,
        "harary" => GraphKind::Harary,
        g => return Err(Failure(format!("--graph {g}: expected complete or harary"))),
    };
    let aggregation = match (&a.robust, a.plain) {
        (Some(r), _) => Aggregation::Robust(RobustRule::parse(r)?),
        (None, true) => Aggregation::Plain,
        (None, false) => Aggregation::Secure(SecureConfig {
            bits: a.bits,
            graph,
            dropout: a.tolerate_dropout,
            update_clip: a.update_clip,
        }),
    };
    let selection = match (a.fraction, a.weighted) {
        (None, _) => Selection::All,
        (Some(f), false) => Selection::Fraction {
            fraction: f,
            min: a.min_participants,
        },
        (Some(f), true) => Selection::WeightedBySize {
            fraction: f,
            min: a.min_participants,
        },
    };
    let cfg = ServerConfig {
        rounds: a.rounds,
        server_lr: a.server_lr,
        server_momentum: a.server_momentum,
        selection,
        aggregation,
        update_clip: Some(a.update_clip),
        seed: a.seed,
    };
    let local = TrainConfig::new(a.local_epochs, SamplingRate::new(a.sampling_rate)?, a.lr);
    let dp = match a.dp.as_deref() {
        None => None,
        Some("record") => {
            let dp = RecordLevelDp {
                epsilon: a.epsilon.unwrap_or(f64::NAN),
                delta: Delta::new(a.delta)?,
                clip: ClipNorm::new(a.clip)?,
                accountant: a.accountant.lib(),
            };
            Some(RecordLevelPlan::calibrate(dp, &local, a.rounds)?)
        }
        Some(other) => {
            return Err(Failure(format!(
                "--dp {other}: only `record` (DP-SGD at each participant) is available; \
                 participant-level DP is not built yet"
            )));
        }
    };
    if a.ledger.is_some() && dp.is_none() {
        return Err(Failure("--ledger needs --dp record --epsilon E".into()));
    }
    let arch = Architecture::parse(&a.model)?;
    let net = Network::new(&arch, test.n_features(), test.n_classes(), a.seed)?;
    let mut coord = Coordinator::new(cfg, net)?;
    let run = LocalRun {
        local,
        dp,
        attacks: a
            .attack
            .iter()
            .map(|s| Attack::parse(s))
            .collect::<Result<_, _>>()?,
        drops: parse_drops(&a.drop)?,
        validation: Some(&test),
    };
    let mut rng = shroud::rng::os_rng();
    let report = run_local(&mut coord, &mut parts, &run, &mut rng)?;
    let test_accuracy = accuracy_on(coord.global(), &test)?;
    if let Some(out) = &a.out {
        let privacy = dp.map(|plan| {
            let worst = report.epsilon.iter().map(|e| e.1).fold(0.0, f64::max);
            let joined = parts.iter().map(|p| p.rounds_joined()).max().unwrap_or(0);
            PrivacyRecord {
                epsilon: worst,
                delta: plan.dp.delta.get(),
                noise_multiplier: plan.sigma.get(),
                sampling_rate: a.sampling_rate,
                steps: plan.steps_per_round * u64::from(joined),
                accountant: format!(
                    "{} (per participant, the largest)",
                    plan.dp.accountant.name()
                ),
                clip: a.clip,
            }
        });
        let model = Model {
            network: coord.global().clone(),
            feature_names: raw_test.feature_names().to_vec(),
            label: a.label.clone(),
            classes: raw_test.classes().to_vec(),
            scaler,
            privacy,
        };
        std::fs::write(out, model.to_json()?)
            .map_err(|e| Failure(format!("{}: {e}", out.display())))?;
    }
    let eps: serde_json::Map<String, serde_json::Value> = report
        .epsilon
        .iter()
        .map(|(id, e)| (id.to_string(), json!(e)))
        .collect();
    if a.json {
        println!(
            "{}",
            json!({
                "rounds": report.rounds.len(),
                "test_accuracy": test_accuracy,
                "epsilon": eps,
                "noise_multiplier": dp.map(|p| p.sigma.get()),
                "log": report.rounds,
            })
        );
    } else {
        for r in &report.rounds {
            println!(
                "round {:>3}: {} included, {} declined, {} dropped; test accuracy {:.4}",
                r.round,
                r.included.len(),
                r.declined.len(),
                r.dropped.len(),
                r.validation_accuracy.unwrap_or(f64::NAN)
            );
            for (id, why) in &r.declined {
                println!("           participant {id} declined: {why}");
            }
        }
        println!(
            "test accuracy {test_accuracy:.4} after {} rounds",
            report.rounds.len()
        );
        for (id, e) in &report.epsilon {
            if dp.is_some() {
                println!("participant {id}: epsilon {e:.4} (delta {})", a.delta);
            }
        }
    }
    Ok(())
}
