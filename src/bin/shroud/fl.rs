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
use shroud::fl::ddg::{DdgPlan, ParticipantLevelDp};
use shroud::fl::driver as fl_driver;
use shroud::fl::local::{Attack, LocalRun, accuracy_on, run_local};
use shroud::fl::msgs::{DpSettings, LocalSettings, ParticipantDpSettings, Setup};
use shroud::fl::participant::{LedgerAccount, Participant, RecordLevelDp, RecordLevelPlan};
use shroud::fl::robust::RobustRule;
use shroud::fl::secure::SecureConfig;
use shroud::net::ChannelOptions;
use shroud::secagg::GraphKind;
use shroud::train::dpsgd::{ClipNorm, PrivacyRecord, TrainConfig};
use shroud::train::model_file::Model;
use shroud::train::network::{Architecture, Network};
use std::time::Duration;

use crate::Failure;
use crate::channel::ChannelArgs;
use crate::dp::Accountant;

#[derive(Subcommand)]
pub enum FlCommand {
    /// Run the coordinator and every participant in this process.
    Local(Box<LocalArgs>),
    /// Run the coordinator: participants connect to it.
    Serve(Box<ServeArgs>),
    /// Take part as one participant.
    Join(Box<JoinArgs>),
}

#[derive(Args)]
pub struct RunArgs {
    /// Rounds.
    #[arg(long, default_value_t = 10)]
    rounds: u32,
    /// logreg, softmax, or mlp:W1,W2[:relu|tanh].
    #[arg(long, default_value = "logreg")]
    model: String,
    /// Secure aggregation (the default; the coordinator sees only the sum).
    #[arg(long, conflicts_with_all = ["plain", "robust"])]
    secure: bool,
    /// Plaintext FedAvg instead of secure aggregation.
    #[arg(long, conflicts_with = "robust")]
    plain: bool,
    /// A robust rule over plaintext updates: median, trimmed-mean:F, krum:F or
    /// multi-krum:F:M.
    #[arg(long)]
    robust: Option<String>,
    /// Bound on each update's L2 norm (norm bounding; the range of secure mode).
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
    /// Differential privacy: `record` (DP-SGD at each participant) or `participant`
    /// (each participant adds its share of discrete Gaussian noise inside the secure sum;
    /// protects a participant's whole contribution).
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
    #[command(flatten)]
    run: RunArgs,
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
    /// Each participant takes part in a round it is selected for with this probability
    /// (otherwise it declines, training and charging nothing).
    #[arg(long, default_value_t = 1.0)]
    availability: f64,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: String,
    /// Participants to wait for (named client-0 .. client-{N-1} in the peers file).
    #[arg(long)]
    participants: u32,
    /// The label column.
    #[arg(long)]
    label: String,
    /// The coordinator's validation set (public data): features are standardized with
    /// its statistics, and accuracy is reported on it after every round.
    #[arg(long)]
    validation: PathBuf,
    /// Checkpoint file: written after every round; a restarted coordinator resumes from
    /// it.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Run identifier (participants keep their state per run; a resumed run keeps it).
    #[arg(long, default_value = "shroud-fl")]
    run_id: String,
    /// Seconds allowed for each message, local training included.
    #[arg(long, default_value_t = 120)]
    round_timeout: u64,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    channel: ChannelArgs,
}

#[derive(Args)]
pub struct JoinArgs {
    /// The coordinator's address.
    #[arg(long)]
    connect: String,
    /// This participant's index (its name client-ID in the coordinator's peers file).
    #[arg(long)]
    id: u32,
    /// This participant's records: CSV with a header.
    #[arg(long)]
    data: PathBuf,
    /// The label column.
    #[arg(long)]
    label: String,
    /// Budget ledger to charge before each round it trains in.
    #[arg(long, requires = "principal")]
    ledger: Option<PathBuf>,
    /// The principal (account) in the ledger.
    #[arg(long, requires = "ledger")]
    principal: Option<String>,
    /// The data set's name in the ledger (default: the data file's stem).
    #[arg(long)]
    dataset: Option<String>,
    /// State file (spending and the last answer), so that a restarted coordinator's
    /// repeated round is neither retrained nor charged twice.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Refuse a run whose target epsilon is above this.
    #[arg(long)]
    max_epsilon: Option<f64>,
    /// The run identifier the coordinator was started with (bound into the channel).
    #[arg(long, default_value = "shroud-fl")]
    run_id: String,
    /// Seconds allowed for each message.
    #[arg(long, default_value_t = 600)]
    round_timeout: u64,
    #[command(flatten)]
    channel: ChannelArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: FlCommand) -> Result<(), Failure> {
    match cmd {
        FlCommand::Local(a) => local(*a),
        FlCommand::Serve(a) => serve(*a),
        FlCommand::Join(a) => join(*a),
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

type Built = (ServerConfig, TrainConfig, Option<RecordLevelPlan>, Network);

/// The coordinator's settings, local training, DP plan and initial model from the
/// options, for data shaped like `test`.
fn build(r: &RunArgs, test: &Dataset) -> Result<Built, Failure> {
    let graph = match r.graph.as_str() {
        "complete" => GraphKind::Complete,
        "harary" => GraphKind::Harary,
        g => return Err(Failure(format!("--graph {g}: expected complete or harary"))),
    };
    // --secure only spells out the default; clap refuses it with --plain or --robust.
    debug_assert!(!r.secure || (!r.plain && r.robust.is_none()));
    let aggregation = match (&r.robust, r.plain) {
        (Some(r), _) => Aggregation::Robust(RobustRule::parse(r)?),
        (None, true) => Aggregation::Plain,
        (None, false) => Aggregation::Secure(SecureConfig {
            bits: r.bits,
            graph,
            dropout: r.tolerate_dropout,
            update_clip: r.update_clip,
        }),
    };
    let selection = match (r.fraction, r.weighted) {
        (None, _) => Selection::All,
        (Some(f), false) => Selection::Fraction {
            fraction: f,
            min: r.min_participants,
        },
        (Some(f), true) => Selection::WeightedBySize {
            fraction: f,
            min: r.min_participants,
        },
    };
    let cfg = ServerConfig {
        rounds: r.rounds,
        server_lr: r.server_lr,
        server_momentum: r.server_momentum,
        selection,
        aggregation,
        update_clip: Some(r.update_clip),
        seed: r.seed,
    };
    let local = TrainConfig::new(r.local_epochs, SamplingRate::new(r.sampling_rate)?, r.lr);
    let dp = match r.dp.as_deref() {
        None => None,
        Some("record") => {
            let dp = RecordLevelDp {
                epsilon: r.epsilon.unwrap_or(f64::NAN),
                delta: Delta::new(r.delta)?,
                clip: ClipNorm::new(r.clip)?,
                accountant: r.accountant.lib(),
            };
            Some(RecordLevelPlan::calibrate(dp, &local, r.rounds)?)
        }
        // participant-level DP is planned by the caller, once the model size is known
        Some("participant") => None,
        Some(other) => {
            return Err(Failure(format!(
                "--dp {other}: expected `record` (DP-SGD at each participant) or \
                 `participant` (distributed discrete Gaussian in the secure sum)"
            )));
        }
    };
    let arch = Architecture::parse(&r.model)?;
    let net = Network::new(&arch, test.n_features(), test.n_classes(), r.seed)?;
    Ok((cfg, local, dp, net))
}

/// The participant-level DP plan for `n` participants and `dim` parameters, if asked.
fn participant_plan(
    r: &RunArgs,
    cfg: &ServerConfig,
    n: usize,
    dim: usize,
) -> Result<Option<DdgPlan>, Failure> {
    if r.dp.as_deref() != Some("participant") {
        return Ok(None);
    }
    let Aggregation::Secure(s) = cfg.aggregation else {
        return Err(Failure(
            "--dp participant adds its noise inside secure aggregation: drop --plain/--robust"
                .into(),
        ));
    };
    // Participants in a round: all, or the fraction selected (at least the minimum).
    let per_round = match r.fraction {
        Some(f) => ((f * n as f64).ceil() as usize)
            .max(r.min_participants)
            .min(n),
        None => n,
    };
    let survivors = ((1.0 - s.dropout) * per_round as f64).ceil().max(1.0) as u32;
    let dp = ParticipantLevelDp {
        epsilon: r.epsilon.unwrap_or(f64::NAN),
        delta: r.delta,
        clip: s.update_clip,
        min_survivors: survivors,
    };
    Ok(Some(DdgPlan::calibrate(dp, dim, r.rounds)?))
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
        parts.push(
            Participant::new(i as u32, scaler.apply(&raw)?, account)
                .with_availability(a.availability),
        );
    }
    let n = parts.len();
    for at in &a.attack {
        let at = Attack::parse(at)?;
        let (Attack::SignFlip(id) | Attack::Scale(id, _)) = at;
        if id as usize >= n {
            return Err(Failure(format!("--attack: there is no participant {id}")));
        }
    }
    if a.ledger.is_some() && a.run.dp.is_none() {
        return Err(Failure("--ledger needs --dp record --epsilon E".into()));
    }
    let (cfg, local, dp, net) = build(&a.run, &test)?;
    let participant_dp = participant_plan(&a.run, &cfg, n, net.n_params())?;
    if let Some(plan) = participant_dp {
        parts = parts
            .into_iter()
            .map(|p| p.with_participant_level(plan))
            .collect();
    }
    let mut coord = Coordinator::new(cfg, net)?;
    let run = LocalRun {
        local,
        dp,
        participant_dp,
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
    if let Some(out) = &a.run.out {
        let privacy = dp.map(|plan| {
            let worst = report.epsilon.iter().map(|e| e.1).fold(0.0, f64::max);
            let joined = parts.iter().map(|p| p.rounds_joined()).max().unwrap_or(0);
            PrivacyRecord {
                epsilon: worst,
                delta: plan.dp.delta.get(),
                noise_multiplier: plan.sigma.get(),
                sampling_rate: a.run.sampling_rate,
                steps: plan.steps_per_round * u64::from(joined),
                accountant: format!(
                    "{} (per participant, the largest)",
                    plan.dp.accountant.name()
                ),
                clip: a.run.clip,
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
    if a.run.json {
        println!(
            "{}",
            json!({
                "rounds": report.rounds.len(),
                "test_accuracy": test_accuracy,
                "epsilon": eps,
                "noise_multiplier": dp.map(|p| p.sigma.get()),
                "dp": a.run.dp,
                "participant_noise_variance": participant_dp.map(|p| p.variance),
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
            if dp.is_some() || participant_dp.is_some() {
                println!("participant {id}: epsilon {e:.4} (delta {})", a.run.delta);
            }
        }
    }
    Ok(())
}

fn write_model(
    out: &std::path::Path,
    net: Network,
    raw: &Dataset,
    label: &str,
    scaler: Scaler,
    privacy: Option<PrivacyRecord>,
) -> Result<(), Failure> {
    let model = Model {
        network: net,
        feature_names: raw.feature_names().to_vec(),
        label: label.to_string(),
        classes: raw.classes().to_vec(),
        scaler,
        privacy,
    };
    std::fs::write(out, model.to_json()?).map_err(|e| Failure(format!("{}: {e}", out.display())))
}

fn serve(a: ServeArgs) -> Result<(), Failure> {
    let raw_val = Dataset::from_csv_path(&a.validation, &a.label, None)?;
    let scaler = Scaler::standardize(&raw_val);
    let val = scaler.apply(&raw_val)?;
    let (cfg, local, dp, net) = build(&a.run, &val)?;
    let setup = Setup {
        run_id: a.run_id.clone(),
        rounds: cfg.rounds,
        architecture: net.architecture().clone(),
        feature_names: raw_val.feature_names().to_vec(),
        classes: raw_val.classes().to_vec(),
        scaler: scaler.clone(),
        local: LocalSettings {
            epochs: local.epochs,
            sampling_rate: local.sampling_rate.get(),
            lr: a.run.lr,
        },
        dp: dp.map(|p| DpSettings {
            epsilon: p.dp.epsilon,
            delta: p.dp.delta.get(),
            clip: p.dp.clip.get(),
            accountant: p.dp.accountant.name().to_string(),
        }),
        update_clip: cfg.update_clip,
        secure_bits: match cfg.aggregation {
            Aggregation::Secure(s) => Some(s.bits),
            _ => None,
        },
        participant_dp: participant_plan(&a.run, &cfg, a.participants as usize, net.n_params())?
            .map(|p| ParticipantDpSettings {
                epsilon: p.dp.epsilon,
                delta: p.dp.delta,
                min_survivors: p.dp.min_survivors,
            }),
    };
    let mut coord = Coordinator::new(cfg, net)?;
    let security = a.channel.security()?;
    let opts = ChannelOptions::new("fl", a.run_id.as_bytes())
        .with_timeout(Duration::from_secs(a.round_timeout));
    let listener = std::net::TcpListener::bind(&a.listen)
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", a.listen)))?;
    eprintln!(
        "shroud: federated coordinator on {} for {} participants, {} rounds",
        a.listen, a.participants, a.run.rounds
    );
    let mut rng = shroud::rng::os_rng();
    let report = fl_driver::serve(
        &listener,
        &security,
        &opts,
        a.participants,
        &mut coord,
        &setup,
        Some(&val),
        a.checkpoint.as_deref(),
        &mut rng,
    )?;
    for e in &report.events {
        eprintln!("shroud: {e}");
    }
    let acc = accuracy_on(coord.global(), &val)?;
    if let Some(out) = &a.run.out {
        write_model(
            out,
            coord.global().clone(),
            &raw_val,
            &a.label,
            scaler,
            None,
        )?;
    }
    if a.run.json {
        println!(
            "{}",
            json!({"rounds": report.rounds.len(), "validation_accuracy": acc, "log": report.rounds, "events": report.events})
        );
    } else {
        for r in &report.rounds {
            println!(
                "round {:>3}: {} included, {} declined, {} dropped; validation accuracy {:.4}",
                r.round,
                r.included.len(),
                r.declined.len(),
                r.dropped.len(),
                r.validation_accuracy.unwrap_or(f64::NAN)
            );
        }
        println!(
            "validation accuracy {acc:.4} after {} rounds",
            report.rounds.len()
        );
    }
    Ok(())
}

fn join(a: JoinArgs) -> Result<(), Failure> {
    let raw = Dataset::from_csv_path(&a.data, &a.label, None)?;
    let account = match (&a.ledger, &a.principal) {
        (Some(l), Some(p)) => Some(LedgerAccount {
            ledger: Ledger::open(l)?,
            dataset: a.dataset.clone().unwrap_or_else(|| {
                a.data
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
            principal: p.clone(),
        }),
        _ => None,
    };
    let security = a.channel.security()?;
    // The session label is checked in the handshake: it is the coordinator's run id,
    // which the participant learns from the setup; the channel binds the protocol only.
    let opts =
        ChannelOptions::new("fl", b"shroud-fl").with_timeout(Duration::from_secs(a.round_timeout));
    let mut rng = shroud::rng::os_rng();
    let r = fl_driver::join(
        &a.connect,
        &security,
        &opts,
        a.id,
        &raw,
        account,
        a.state.as_deref(),
        a.max_epsilon,
        &mut rng,
    )?;
    if a.json {
        println!(
            "{}",
            json!({"rounds_joined": r.rounds_joined, "epsilon": r.epsilon, "parameters": r.params.len()})
        );
    } else {
        println!(
            "participant {}: trained in {} rounds, epsilon {:.4}",
            a.id, r.rounds_joined, r.epsilon
        );
    }
    Ok(())
}
