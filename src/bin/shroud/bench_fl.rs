//! `shroud bench fl`: federated rounds in one process (the coordinator, the participants
//! and, in secure mode, secure aggregation through its wire encoding), timed per round;
//! with `--utility`, accuracy and membership inference on the built-in hospitals over
//! several seeds.

use std::time::Instant;

use clap::Args;
use serde_json::json;
use shroud::data::Dataset;
use shroud::data::hospitals::{HospitalConfig, generate};
use shroud::data::scaler::Scaler;
use shroud::dp::calibrate::Accountant;
use shroud::dp::{Delta, SamplingRate};
use shroud::fl::coordinator::{Aggregation, Coordinator, Selection, ServerConfig};
use shroud::fl::ddg::{DdgPlan, ParticipantLevelDp};
use shroud::fl::local::{LocalRun, accuracy_on, run_local};
use shroud::fl::participant::{Participant, RecordLevelDp, RecordLevelPlan};
use shroud::fl::secure::SecureConfig;
use shroud::secagg::GraphKind;
use shroud::train::dpsgd::{ClipNorm, TrainConfig};
use shroud::train::mia::loss_threshold_attack;
use shroud::train::model_file::Model;
use shroud::train::network::{Architecture, Network};

use crate::Failure;

#[derive(Args)]
pub struct FlBenchArgs {
    /// Rounds timed per configuration.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Also measure accuracy (mean and 95 % interval over --seeds) and membership
    /// inference on the built-in hospitals.
    #[arg(long)]
    utility: bool,
    /// Seeds for --utility.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

const S: f64 = 5.0;

fn secure() -> Aggregation {
    Aggregation::Secure(SecureConfig {
        bits: 20,
        graph: GraphKind::Complete,
        dropout: 0.1,
        update_clip: S,
    })
}

fn server(rounds: u32, aggregation: Aggregation, seed: u64) -> ServerConfig {
    ServerConfig {
        rounds,
        server_lr: 1.0,
        server_momentum: 0.0,
        selection: Selection::All,
        aggregation,
        update_clip: Some(S),
        seed,
    }
}

struct Setting {
    name: &'static str,
    parts: Vec<Dataset>,
    test: Dataset,
    arch: Architecture,
}

fn setting(
    name: &'static str,
    patients: usize,
    hospitals: usize,
    arch: &str,
) -> Result<Setting, Failure> {
    let h = generate(&HospitalConfig::new(patients, hospitals, 1)?);
    let scaler = Scaler::standardize(&h.holdout);
    Ok(Setting {
        name,
        parts: h
            .hospitals
            .iter()
            .map(|d| scaler.apply(d))
            .collect::<Result<_, _>>()?,
        test: scaler.apply(&h.holdout)?,
        arch: Architecture::parse(arch)?,
    })
}

/// Seconds per round.
fn time_rounds(s: &Setting, aggregation: Aggregation, rounds: u32) -> Result<f64, Failure> {
    let net = Network::new(&s.arch, s.test.n_features(), 2, 1)?;
    let mut coord = Coordinator::new(server(rounds, aggregation, 1), net)?;
    let mut parts: Vec<Participant> = s
        .parts
        .iter()
        .enumerate()
        .map(|(i, d)| Participant::new(i as u32, d.clone(), None))
        .collect();
    let run = LocalRun {
        local: TrainConfig::new(1, SamplingRate::new(0.2)?, 0.1),
        dp: None,
        participant_dp: None,
        attacks: vec![],
        drops: Default::default(),
        validation: None,
    };
    let t = Instant::now();
    run_local(&mut coord, &mut parts, &run, &mut shroud::rng::os_rng())?;
    Ok(t.elapsed().as_secs_f64() / f64::from(rounds))
}

fn mean_ci(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (m, f64::NAN);
    }
    let sd = (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt();
    // Student t quantiles at 97.5 % for 1..=9 degrees of freedom, 1.96 beyond.
    let t = [12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26]
        .get(xs.len() - 2)
        .copied()
        .unwrap_or(1.96);
    (m, t * sd / n.sqrt())
}

/// The first `n` rows of `d`.
fn take(d: &Dataset, n: usize) -> Result<Dataset, Failure> {
    let rows: Vec<f64> = (0..n).flat_map(|i| d.row(i).to_vec()).collect();
    let labels: Vec<f64> = d.labels()[..n].iter().map(|&c| d.classes()[c]).collect();
    Ok(Dataset::new(
        d.feature_names().to_vec(),
        d.label_name(),
        rows,
        &labels,
    )?)
}

struct Utility {
    label: String,
    accuracy: Vec<f64>,
    mia_auc: Vec<f64>,
}

fn utility(seeds: u64) -> Result<Vec<Utility>, Failure> {
    let rounds = 10;
    let local = TrainConfig::new(1, SamplingRate::new(0.05)?, 0.5);
    let mut out: Vec<Utility> = Vec::new();
    // (label, record-level epsilon, participant-level epsilon, one hospital alone)
    let configs: Vec<(String, Option<f64>, Option<f64>, bool)> = vec![
        (
            "non-private FedAvg (secure aggregation)".into(),
            None,
            None,
            false,
        ),
        ("record-level DP, epsilon 1".into(), Some(1.0), None, false),
        ("record-level DP, epsilon 3".into(), Some(3.0), None, false),
        ("record-level DP, epsilon 8".into(), Some(8.0), None, false),
        (
            "participant-level DP, epsilon 8".into(),
            None,
            Some(8.0),
            false,
        ),
        (
            "one hospital alone (hospital 2, non-private)".into(),
            None,
            None,
            true,
        ),
    ];
    for (label, eps, part_eps, alone) in configs {
        let mut u = Utility {
            label,
            accuracy: vec![],
            mia_auc: vec![],
        };
        for seed in 0..seeds {
            let h = generate(&HospitalConfig::new(3000, 3, 100 + seed)?);
            let scaler = Scaler::standardize(&h.holdout);
            let test = scaler.apply(&h.holdout)?;
            let chosen: Vec<usize> = if alone { vec![1] } else { vec![0, 1, 2] };
            let dim = Network::new(&Architecture::Logistic, test.n_features(), 2, seed)?.n_params();
            let ddg = match part_eps {
                // All three must finish for their noise to count: no dropout tolerated.
                Some(e) => Some(DdgPlan::calibrate(
                    ParticipantLevelDp {
                        epsilon: e,
                        delta: 1e-5,
                        clip: S,
                        min_survivors: 3,
                    },
                    dim,
                    rounds,
                )?),
                None => None,
            };
            let mut parts: Vec<Participant> = chosen
                .iter()
                .map(|&i| {
                    let p = Participant::new(i as u32, scaler.apply(&h.hospitals[i])?, None);
                    Ok(match ddg {
                        Some(plan) => p.with_participant_level(plan),
                        None => p,
                    })
                })
                .collect::<Result<_, Failure>>()?;
            let dp = match eps {
                Some(e) => Some(RecordLevelPlan::calibrate(
                    RecordLevelDp {
                        epsilon: e,
                        delta: Delta::new(1e-5)?,
                        clip: ClipNorm::new(1.0)?,
                        accountant: Accountant::Rdp,
                    },
                    &local,
                    rounds,
                )?),
                None => None,
            };
            let net = Network::new(&Architecture::Logistic, test.n_features(), 2, seed)?;
            let agg = if alone { Aggregation::Plain } else { secure() };
            let mut coord = Coordinator::new(server(rounds, agg, seed), net)?;
            let run = LocalRun {
                local,
                dp,
                participant_dp: ddg,
                attacks: vec![],
                drops: Default::default(),
                validation: None,
            };
            run_local(&mut coord, &mut parts, &run, &mut shroud::rng::os_rng())?;
            u.accuracy.push(accuracy_on(coord.global(), &test)?);
            // Loss-threshold attack: training records of every hospital (the same mix as
            // the population) against as many holdout rows. Not for one hospital alone:
            // its records are a slice of the population and the holdout is not.
            if alone {
                continue;
            }
            let model = Model {
                network: coord.global().clone(),
                feature_names: h.holdout.feature_names().to_vec(),
                label: h.holdout.label_name().to_string(),
                classes: h.holdout.classes().to_vec(),
                scaler: scaler.clone(),
                privacy: None,
            };
            let per = h
                .hospitals
                .iter()
                .map(Dataset::len)
                .min()
                .unwrap_or(0)
                .min(h.holdout.len() / 3);
            let mut rows = Vec::new();
            let mut labels = Vec::new();
            for hd in &h.hospitals {
                let part = take(hd, per)?;
                rows.extend_from_slice(part.features());
                labels.extend(part.labels().iter().map(|&c| part.classes()[c]));
            }
            let members = Dataset::new(
                h.holdout.feature_names().to_vec(),
                h.holdout.label_name(),
                rows,
                &labels,
            )?;
            let nonmembers = take(&h.holdout, members.len())?;
            u.mia_auc
                .push(loss_threshold_attack(&model, &members, &nonmembers)?.auc);
        }
        out.push(u);
    }
    Ok(out)
}

pub fn run(a: FlBenchArgs) -> Result<(), Failure> {
    let settings = [
        setting(
            "3 hospitals, logistic regression (7 parameters)",
            3000,
            3,
            "logreg",
        )?,
        setting(
            "100 participants, MLP 128-64 (9 282 parameters)",
            5000,
            100,
            "mlp:128,64",
        )?,
    ];
    let mut rows = Vec::new();
    for s in &settings {
        let plain = time_rounds(s, Aggregation::Plain, a.rounds)?;
        let sec = time_rounds(s, secure(), a.rounds)?;
        rows.push((s.name, s.parts.len(), plain, sec));
    }
    let util = if a.utility {
        Some(utility(a.seeds)?)
    } else {
        None
    };
    if a.json {
        let timing: Vec<_> = rows
            .iter()
            .map(|r| json!({"setting": r.0, "participants": r.1, "plain_s_per_round": r.2, "secure_s_per_round": r.3}))
            .collect();
        let util: Option<Vec<_>> = util.as_ref().map(|u| {
            u.iter()
                .map(|u| {
                    let (am, aci) = mean_ci(&u.accuracy);
                    let (mm, mci) = if u.mia_auc.is_empty() { (f64::NAN, f64::NAN) } else { mean_ci(&u.mia_auc) };
                    json!({"setting": u.label, "accuracy": am, "accuracy_ci95": aci, "mia_auc": mm, "mia_auc_ci95": mci, "seeds": u.accuracy.len()})
                })
                .collect()
        });
        println!("{}", json!({"timing": timing, "utility": util}));
    } else {
        println!(
            "{:<52} {:>14} {:>14}",
            "setting (one process, one thread)", "plaintext", "secure"
        );
        for r in &rows {
            println!("{:<52} {:>12.3} s {:>12.3} s", r.0, r.2, r.3);
        }
        if let Some(u) = util {
            println!();
            println!(
                "{:<48} {:>18} {:>18}",
                "built-in hospitals, 10 rounds", "test accuracy", "MIA AUC"
            );
            for u in &u {
                let (am, aci) = mean_ci(&u.accuracy);
                let (mm, mci) = if u.mia_auc.is_empty() {
                    (f64::NAN, f64::NAN)
                } else {
                    mean_ci(&u.mia_auc)
                };
                println!(
                    "{:<48} {:>10.4} ± {:.4} {:>10.4} ± {:.4}",
                    u.label, am, aci, mm, mci
                );
            }
        }
    }
    Ok(())
}
