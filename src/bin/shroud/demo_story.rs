//! `shroud demo`, first part: three hospitals find their shared patients without
//! showing their lists, drop the duplicates, and train a risk model together with
//! record-level DP over secure aggregation while one of them drops out of a round; each
//! hospital's ledger shows its spend, and the model is compared with a non-private one
//! and with one hospital alone.

use std::collections::BTreeMap;
use std::time::Instant;

use shroud::data::Dataset;
use shroud::data::hospitals::{HospitalConfig, generate};
use shroud::data::scaler::Scaler;
use shroud::dp::budget::Ledger;
use shroud::dp::calibrate::Accountant;
use shroud::dp::{Delta, SamplingRate};
use shroud::fl::coordinator::{Aggregation, Coordinator, Selection, ServerConfig};
use shroud::fl::local::{LocalRun, accuracy_on, run_local};
use shroud::fl::participant::{LedgerAccount, Participant, RecordLevelDp, RecordLevelPlan};
use shroud::fl::secure::SecureConfig;
use shroud::psi::{self, ClientConfig, Mode};
use shroud::secagg::GraphKind;
use shroud::train::dpsgd::{ClipNorm, TrainConfig};
use shroud::train::network::{Architecture, Network};

use crate::Failure;

const NAMES: [&str; 3] = ["Riverside", "St. Mary's", "Northgate"];

fn mrn(hospital: usize, i: usize) -> Vec<u8> {
    format!("MRN-{hospital}-{i:05}").into_bytes()
}

/// Rows `keep` of `d`.
fn select(d: &Dataset, keep: &[usize]) -> Result<Dataset, Failure> {
    let rows: Vec<f64> = keep.iter().flat_map(|&i| d.row(i).to_vec()).collect();
    let labels: Vec<f64> = keep.iter().map(|&i| d.classes()[d.labels()[i]]).collect();
    Ok(Dataset::new(
        d.feature_names().to_vec(),
        d.label_name(),
        rows,
        &labels,
    )?)
}

pub fn run() -> Result<(), Failure> {
    let t0 = Instant::now();
    println!("== Three hospitals train a heart-risk model together ==");
    let h = generate(&HospitalConfig::new(3000, 3, 42)?);
    // Patients 0..150 of St. Mary's were also treated at Riverside, 0..100 of Northgate
    // at St. Mary's: the same people, under the same record number, in two lists.
    let mut ids: Vec<Vec<Vec<u8>>> = (0..3)
        .map(|k| (0..h.hospitals[k].len()).map(|i| mrn(k, i)).collect())
        .collect();
    let mut data = h.hospitals.clone();
    for (from, to, n) in [(1usize, 0usize, 150usize), (2, 1, 100)] {
        let keep: Vec<usize> = (0..data[to].len()).chain(0..n).collect();
        let mut joined = select(&data[to], &keep[..data[to].len()])?;
        let copies = select(&h.hospitals[from], &(0..n).collect::<Vec<_>>())?;
        let mut x = joined.features().to_vec();
        x.extend_from_slice(copies.features());
        let mut y: Vec<f64> = joined
            .labels()
            .iter()
            .map(|&c| joined.classes()[c])
            .collect();
        y.extend(copies.labels().iter().map(|&c| copies.classes()[c]));
        joined = Dataset::new(joined.feature_names().to_vec(), joined.label_name(), x, &y)?;
        data[to] = joined;
        let dup: Vec<Vec<u8>> = (0..n).map(|i| mrn(from, i)).collect();
        ids[to].extend(dup);
    }
    for k in 0..3 {
        println!("{:<12} {:>5} patients", NAMES[k], data[k].len());
    }
    println!();
    println!("[PSI] each hospital learns which of its patients the next one also has");
    println!("      (OPRF on ristretto255; neither list leaves its hospital), and drops them:");
    for (server, client) in [(1usize, 0usize), (2, 1)] {
        let t = Instant::now();
        let s = psi::Server::new(
            psi::ServerConfig::new(Mode::Intersection),
            ids[server].clone(),
            None,
            None,
            &mut shroud::rng::os_rng(),
        )?;
        let c = psi::Client::new(ClientConfig::new(Mode::Intersection), ids[client].clone())?;
        let (out, _) = crate::psi::run_local(s, c)?;
        let shared = out.intersection.unwrap_or_default();
        let keep: Vec<usize> = (0..ids[client].len())
            .filter(|&i| !shared.contains(&ids[client][i]))
            .collect();
        data[client] = select(&data[client], &keep)?;
        ids[client] = keep.iter().map(|&i| ids[client][i].clone()).collect();
        println!(
            "      {:<12} shares {:>4} patients with {:<12} -> keeps {:>5}     {:>6.0} ms",
            NAMES[client],
            shared.len(),
            NAMES[server],
            data[client].len(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    // The coordinator's public reference data fixes the scaling for everyone.
    let scaler = Scaler::standardize(&h.holdout);
    let test = scaler.apply(&h.holdout)?;
    let scaled: Vec<Dataset> = data
        .iter()
        .map(|d| scaler.apply(d))
        .collect::<Result<_, _>>()?;
    let dir = std::env::temp_dir().join(format!("shroud-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    let ledger_path = dir.join("ledgers.json");
    let _ = std::fs::remove_file(&ledger_path);
    let ledger = Ledger::create(&ledger_path)?;
    for name in NAMES {
        ledger.add_account(name, "federated", 4.0, 1e-5)?;
    }
    let rounds = 8;
    let local = TrainConfig::new(1, SamplingRate::new(0.05)?, 0.5);
    let plan = RecordLevelPlan::calibrate(
        RecordLevelDp {
            epsilon: 3.0,
            delta: Delta::new(1e-5)?,
            clip: ClipNorm::new(1.0)?,
            accountant: Accountant::Rdp,
        },
        &local,
        rounds,
    )?;
    let secure = Aggregation::Secure(SecureConfig {
        bits: 20,
        graph: GraphKind::Complete,
        dropout: 0.34,
        update_clip: 5.0,
    });
    let server = |aggregation| ServerConfig {
        rounds,
        server_lr: 1.0,
        server_momentum: 0.0,
        selection: Selection::All,
        aggregation,
        update_clip: Some(5.0),
        seed: 7,
    };
    let net = || Network::new(&Architecture::Logistic, test.n_features(), 2, 7);
    println!();
    println!(
        "[FL] {rounds} rounds of FedAvg, record-level DP-SGD at each hospital (epsilon 3 for the run,"
    );
    println!(
        "     delta 1e-5, sigma {:.3}), updates summed by secure aggregation; Northgate drops",
        plan.sigma.get()
    );
    println!("     out of round 4 after sharing its keys");
    let mut parts: Vec<Participant> = scaled
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Ok(Participant::new(
                i as u32,
                d.clone(),
                Some(LedgerAccount {
                    ledger: Ledger::open(&ledger_path)?,
                    dataset: NAMES[i].into(),
                    principal: "federated".into(),
                }),
            ))
        })
        .collect::<Result<_, Failure>>()?;
    let mut drops = BTreeMap::new();
    drops.insert((4, 2), 2u8);
    let run = LocalRun {
        local,
        dp: Some(plan),
        participant_dp: None,
        attacks: vec![],
        drops,
        validation: Some(&test),
    };
    let t = Instant::now();
    let mut coord = Coordinator::new(server(secure), net()?)?;
    let report = run_local(&mut coord, &mut parts, &run, &mut shroud::rng::os_rng())?;
    for r in &report.rounds {
        let who: Vec<&str> = r.included.iter().map(|&i| NAMES[i as usize]).collect();
        let dropped: Vec<&str> = r.dropped.iter().map(|&i| NAMES[i as usize]).collect();
        println!(
            "     round {}: summed {:<36} {}accuracy {:.4}",
            r.round,
            who.join(", "),
            if dropped.is_empty() {
                String::new()
            } else {
                format!("(dropped: {}) ", dropped.join(", "))
            },
            r.validation_accuracy.unwrap_or(f64::NAN)
        );
    }
    println!("     {:.1} s", t.elapsed().as_secs_f64());
    let fed = accuracy_on(coord.global(), &test)?;
    println!();
    println!(
        "[ledgers] each hospital's own budget (epsilon 4, delta 1e-5), charged before each round:"
    );
    let fresh = Ledger::open(&ledger_path)?;
    for (i, name) in NAMES.iter().enumerate() {
        let (rem, _) = fresh.remaining(name, "federated")?;
        println!(
            "     {:<12} trained in {} rounds, spent epsilon {:.3} (accountant: {:.3}), {:.3} left",
            name,
            parts[i].rounds_joined(),
            4.0 - rem,
            report.epsilon[i].1,
            rem
        );
    }

    println!("     (Northgate trained in round 4 too: its update was lost, its spend was not)");

    // The same federation without DP, and St. Mary's alone.
    let mut plain_parts: Vec<Participant> = scaled
        .iter()
        .enumerate()
        .map(|(i, d)| Participant::new(i as u32, d.clone(), None))
        .collect();
    let plain_run = LocalRun {
        dp: None,
        drops: BTreeMap::new(),
        ..run.clone()
    };
    let mut c = Coordinator::new(server(secure), net()?)?;
    run_local(
        &mut c,
        &mut plain_parts,
        &plain_run,
        &mut shroud::rng::os_rng(),
    )?;
    let nonprivate = accuracy_on(c.global(), &test)?;
    let mut alone = vec![Participant::new(1, scaled[1].clone(), None)];
    let mut c = Coordinator::new(server(Aggregation::Plain), net()?)?;
    run_local(&mut c, &mut alone, &plain_run, &mut shroud::rng::os_rng())?;
    let one = accuracy_on(c.global(), &test)?;
    println!();
    println!(
        "holdout accuracy ({} patients none of the hospitals has):",
        test.len()
    );
    println!("     federated, record-level DP (epsilon 3)   {fed:.4}");
    println!("     federated, not private                   {nonprivate:.4}");
    println!("     St. Mary's alone, not private            {one:.4}");
    println!(
        "     (base rate: {:.4})",
        1.0 - test.labels().iter().sum::<usize>() as f64 / test.len() as f64
    );
    #[cfg(feature = "plots")]
    plots(&PlotInputs {
        scaled: &scaled,
        raw_holdout: &h.holdout,
        raw_hospitals: &data,
        test: &test,
        scaler: &scaler,
        local,
        rounds,
        nonprivate,
        dp_model: coord.global(),
    })?;
    println!("the story took {:.1} s", t0.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    Ok(())
}

#[cfg(feature = "plots")]
struct PlotInputs<'a> {
    scaled: &'a [Dataset],
    raw_holdout: &'a Dataset,
    raw_hospitals: &'a [Dataset],
    test: &'a Dataset,
    scaler: &'a Scaler,
    local: TrainConfig,
    rounds: u32,
    nonprivate: f64,
    dp_model: &'a Network,
}

/// The federation at epsilon 1, 3 and 8 against the non-private one, and the
/// loss-threshold attack on the epsilon-3 model, drawn into `shroud-demo/`.
#[cfg(feature = "plots")]
fn plots(p: &PlotInputs<'_>) -> Result<(), Failure> {
    use shroud::train::mia::loss_threshold_attack;
    use shroud::train::model_file::Model;
    use shroud::train::plot::{Curve, ErrorSeries, accuracy_vs_epsilon, roc_log_log};
    let out = std::path::Path::new("shroud-demo");
    std::fs::create_dir_all(out).map_err(|e| Failure(format!("{}: {e}", out.display())))?;
    let mut points = Vec::new();
    for eps in [1.0, 3.0, 8.0] {
        let plan = RecordLevelPlan::calibrate(
            RecordLevelDp {
                epsilon: eps,
                delta: Delta::new(1e-5)?,
                clip: ClipNorm::new(1.0)?,
                accountant: Accountant::Rdp,
            },
            &p.local,
            p.rounds,
        )?;
        let mut parts: Vec<Participant> = p
            .scaled
            .iter()
            .enumerate()
            .map(|(i, d)| Participant::new(i as u32, d.clone(), None))
            .collect();
        let run = LocalRun {
            local: p.local,
            dp: Some(plan),
            participant_dp: None,
            attacks: vec![],
            drops: BTreeMap::new(),
            validation: None,
        };
        let cfg = ServerConfig {
            rounds: p.rounds,
            server_lr: 1.0,
            server_momentum: 0.0,
            selection: Selection::All,
            aggregation: Aggregation::Plain,
            update_clip: Some(5.0),
            seed: 7,
        };
        let mut c = Coordinator::new(
            cfg,
            Network::new(&Architecture::Logistic, p.test.n_features(), 2, 7)?,
        )?;
        run_local(&mut c, &mut parts, &run, &mut shroud::rng::os_rng())?;
        points.push((eps, accuracy_on(c.global(), p.test)?, 0.0));
    }
    let series = [ErrorSeries {
        name: "federated, record-level DP (one run each)".into(),
        points,
        labels: vec![],
    }];
    let mut files = accuracy_vs_epsilon(
        &out.join("accuracy_vs_epsilon"),
        &series,
        Some((p.nonprivate, 0.0)),
    )?;
    // The attack: training records of the three hospitals against as many holdout rows.
    let model = Model {
        network: p.dp_model.clone(),
        feature_names: p.raw_holdout.feature_names().to_vec(),
        label: p.raw_holdout.label_name().to_string(),
        classes: p.raw_holdout.classes().to_vec(),
        scaler: p.scaler.clone(),
        privacy: None,
    };
    let per = p.raw_holdout.len() / 3;
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for d in p.raw_hospitals {
        let part = select(d, &(0..per.min(d.len())).collect::<Vec<_>>())?;
        rows.extend_from_slice(part.features());
        labels.extend(part.labels().iter().map(|&c| part.classes()[c]));
    }
    let members = Dataset::new(
        p.raw_holdout.feature_names().to_vec(),
        p.raw_holdout.label_name(),
        rows,
        &labels,
    )?;
    let nonmembers = select(
        p.raw_holdout,
        &(0..members.len().min(p.raw_holdout.len())).collect::<Vec<_>>(),
    )?;
    let report = loss_threshold_attack(&model, &members, &nonmembers)?;
    files.extend(roc_log_log(
        &out.join("mia_roc"),
        &[Curve {
            name: format!(
                "loss threshold, federated epsilon 3 (AUC {:.3})",
                report.auc
            ),
            points: report.roc.clone(),
        }],
        &[("epsilon 3".into(), 3.0, 1e-5)],
    )?);
    println!();
    println!(
        "[plots] accuracy against epsilon and the attack's ROC (AUC {:.3}, ceiling drawn):",
        report.auc
    );
    for f in files {
        println!("     {}", f.display());
    }
    Ok(())
}
