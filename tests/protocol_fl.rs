//! Federated learning driven end to end in one process: FedAvg against a hand-computed
//! average, secure against plaintext aggregation, robust rules against cheating
//! participants, budgets that refuse mid-run, dropouts.

use std::collections::BTreeMap;

use shroud::data::Dataset;
use shroud::data::hospitals::{HospitalConfig, generate};
use shroud::data::scaler::Scaler;
use shroud::dp::budget::Ledger;
use shroud::dp::calibrate::{Accountant, dpsgd_epsilon};
use shroud::dp::{Delta, SamplingRate};
use shroud::fl::FlError;
use shroud::fl::coordinator::{Aggregation, Coordinator, Selection, ServerConfig};
use shroud::fl::local::{Attack, LocalRun, accuracy_on, run_local};
use shroud::fl::participant::{LedgerAccount, Participant, RecordLevelDp, RecordLevelPlan};
use shroud::fl::robust::{RobustRule, weighted_mean};
use shroud::fl::secure::{SecureConfig, quantization_bound};
use shroud::secagg::GraphKind;
use shroud::train::dpsgd::{ClipNorm, TrainConfig, train};
use shroud::train::network::{Architecture, Network};

struct World {
    parts: Vec<Dataset>,
    test: Dataset,
}

fn world(hospitals: usize, seed: u64) -> World {
    let h = generate(&HospitalConfig::new(300 * hospitals, hospitals, seed).unwrap());
    let scaler = Scaler::standardize(&h.holdout);
    World {
        parts: h
            .hospitals
            .iter()
            .map(|d| scaler.apply(d).unwrap())
            .collect(),
        test: scaler.apply(&h.holdout).unwrap(),
    }
}

fn participants(w: &World) -> Vec<Participant> {
    w.parts
        .iter()
        .enumerate()
        .map(|(i, d)| Participant::new(i as u32, d.clone(), None))
        .collect()
}

fn config(rounds: u32, aggregation: Aggregation, update_clip: Option<f64>) -> ServerConfig {
    ServerConfig {
        rounds,
        server_lr: 1.0,
        server_momentum: 0.0,
        selection: Selection::All,
        aggregation,
        update_clip,
        seed: 5,
    }
}

fn local() -> TrainConfig {
    TrainConfig::new(1, SamplingRate::new(0.2).unwrap(), 0.5)
}

fn net(w: &World) -> Network {
    Network::new(&Architecture::Logistic, w.test.n_features(), 2, 3).unwrap()
}

fn run(
    w: &World,
    cfg: ServerConfig,
    attacks: Vec<Attack>,
    seed: u64,
) -> (Coordinator, shroud::fl::local::FlReport) {
    let mut coord = Coordinator::new(cfg, net(w)).unwrap();
    let mut parts = participants(w);
    let r = LocalRun {
        local: local(),
        dp: None,
        participant_dp: None,
        attacks,
        drops: BTreeMap::new(),
        validation: Some(&w.test),
    };
    let report = run_local(&mut coord, &mut parts, &r, &mut shroud::rng::seeded(seed)).unwrap();
    (coord, report)
}

#[test]
fn fedavg_equals_the_average_computed_by_hand() {
    let w = world(3, 1);
    let (coord, _) = run(&w, config(1, Aggregation::Plain, None), vec![], 9);
    // By hand: each hospital trains from the initial model with the same random stream,
    // in the same order; the new model is the initial one plus the size-weighted mean.
    let init = net(&w);
    let mut rng = shroud::rng::seeded(9);
    let mut deltas = Vec::new();
    let mut sizes = Vec::new();
    for d in &w.parts {
        let mut m = init.clone();
        train(&mut m, d, &local(), None, &mut rng).unwrap();
        deltas.push(
            m.params()
                .iter()
                .zip(init.params())
                .map(|(a, b)| a - b)
                .collect(),
        );
        sizes.push(d.len() as f64);
    }
    let mean = weighted_mean(&deltas, &sizes);
    let want: Vec<f64> = init
        .params()
        .iter()
        .zip(&mean)
        .map(|(p, m)| p + m)
        .collect();
    let got = coord.global().params();
    assert_eq!(got.len(), want.len());
    for (g, e) in got.iter().zip(&want) {
        assert!((g - e).abs() < 1e-12, "{g} vs {e}");
    }
    // The weighted mean itself, on numbers: (1*1 + 3*5) / 4 = 4.
    assert_eq!(
        weighted_mean(&[vec![1.0], vec![5.0]], &[1.0, 3.0]),
        vec![4.0]
    );
}

#[test]
fn secure_and_plaintext_aggregation_agree_up_to_quantization() {
    let w = world(3, 2);
    let s = 4.0;
    let secure = SecureConfig {
        bits: 16,
        graph: GraphKind::Complete,
        dropout: 0.34,
        update_clip: s,
    };
    let (plain, _) = run(&w, config(1, Aggregation::Plain, Some(s)), vec![], 11);
    let (sec, report) = run(
        &w,
        config(1, Aggregation::Secure(secure), Some(s)),
        vec![],
        11,
    );
    assert_eq!(report.rounds[0].included, vec![0, 1, 2]);
    // Weights as the secure sum scales them: records / largest.
    let max = w.parts.iter().map(Dataset::len).max().unwrap() as f64;
    let weight_sum: f64 = w.parts.iter().map(|d| d.len() as f64 / max).sum();
    let bound = quantization_bound(&secure, 3, weight_sum);
    let mut worst = 0.0f64;
    for (a, b) in plain.global().params().iter().zip(sec.global().params()) {
        worst = worst.max((a - b).abs());
    }
    assert!(worst <= bound, "{worst} > {bound}");
    assert!(worst > 0.0, "quantization should perturb something");
    // The bound is small: 3 participants, 16 bits, S = 4.
    assert!(bound < 1e-3, "{bound}");
}

#[test]
fn a_participant_dropping_out_of_secure_aggregation_is_survived() {
    let w = world(3, 3);
    let secure = SecureConfig {
        bits: 16,
        graph: GraphKind::Complete,
        dropout: 0.34,
        update_clip: 4.0,
    };
    let mut coord =
        Coordinator::new(config(2, Aggregation::Secure(secure), Some(4.0)), net(&w)).unwrap();
    let mut parts = participants(&w);
    let mut drops = BTreeMap::new();
    drops.insert((1, 2), 2u8); // participant 2 vanishes after sharing keys in round 1
    let r = LocalRun {
        local: local(),
        dp: None,
        participant_dp: None,
        attacks: vec![],
        drops,
        validation: Some(&w.test),
    };
    let report = run_local(&mut coord, &mut parts, &r, &mut shroud::rng::seeded(4)).unwrap();
    assert_eq!(report.rounds[0].included, vec![0, 1]);
    assert_eq!(report.rounds[0].dropped, vec![2]);
    assert_eq!(report.rounds[1].included, vec![0, 1, 2]);
    // Two of three dropping is more than the tolerated third: the round fails cleanly.
    let mut coord =
        Coordinator::new(config(1, Aggregation::Secure(secure), Some(4.0)), net(&w)).unwrap();
    let mut drops = BTreeMap::new();
    drops.insert((1, 1), 2u8);
    drops.insert((1, 2), 2u8);
    let r = LocalRun { drops, ..r };
    assert!(matches!(
        run_local(
            &mut coord,
            &mut participants(&w),
            &r,
            &mut shroud::rng::seeded(4)
        ),
        Err(FlError::SecAgg(_))
    ));
}

/// Five age-sliced (non-IID) hospitals. One participant scaling its update by -40
/// wrecks FedAvg; every robust rule holds. With a sign-flipper as well (two of five),
/// Krum and multi-Krum still hold, while the coordinate-wise median and trimmed mean are
/// pulled below the base rate: the honest updates of different age groups disagree
/// coordinate by coordinate, so two aligned attackers move every coordinate's middle
/// value (README, federated learning).
#[test]
fn robust_rules_hold_against_a_sign_flipper_and_a_scaler_while_fedavg_does_not() {
    let w = world(5, 4);
    let rounds = 6;
    let acc = |agg: Aggregation, attacks: &[Attack]| {
        let (c, _) = run(&w, config(rounds, agg, None), attacks.to_vec(), 21);
        accuracy_on(c.global(), &w.test).unwrap()
    };
    let clean = acc(Aggregation::Plain, &[]);
    let rules = [
        RobustRule::Median,
        RobustRule::TrimmedMean { fraction: 0.4 },
        RobustRule::Krum { f: 2 },
        RobustRule::MultiKrum { f: 2, m: 3 },
    ];
    let scaler = [Attack::Scale(1, -40.0)];
    let fedavg = acc(Aggregation::Plain, &scaler);
    assert!(
        fedavg < clean - 0.15,
        "FedAvg under attack {fedavg} vs clean {clean}"
    );
    for rule in rules {
        let a = acc(Aggregation::Robust(rule), &scaler);
        assert!(a > clean - 0.03, "{rule:?}: {a} vs clean {clean}");
    }
    let both = [Attack::SignFlip(0), Attack::Scale(1, -40.0)];
    let fedavg = acc(Aggregation::Plain, &both);
    assert!(
        fedavg < clean - 0.15,
        "FedAvg under attack {fedavg} vs clean {clean}"
    );
    for rule in &rules[2..] {
        let a = acc(Aggregation::Robust(*rule), &both);
        assert!(a > clean - 0.03, "{rule:?}: {a} vs clean {clean}");
    }
    let median = acc(Aggregation::Robust(RobustRule::Median), &both);
    assert!(
        median < clean - 0.1,
        "the README says the median is pulled: {median}"
    );
}

#[test]
fn record_level_budgets_are_charged_per_round_and_a_short_one_declines() {
    let w = world(3, 5);
    let dir = std::env::temp_dir().join(format!("shroud-fl-ledger-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ledger.json");
    let ledger = Ledger::create(&path).unwrap();
    let rounds = 4;
    let dp = RecordLevelDp {
        epsilon: 4.0,
        delta: Delta::new(1e-5).unwrap(),
        clip: ClipNorm::new(1.0).unwrap(),
        accountant: Accountant::Rdp,
    };
    let plan = RecordLevelPlan::calibrate(dp, &local(), rounds).unwrap();
    let eps_after = |r: u64| {
        dpsgd_epsilon(
            Accountant::Rdp,
            local().sampling_rate,
            plan.sigma,
            r * plan.steps_per_round,
            dp.delta,
        )
        .unwrap()
        .0
    };
    // Hospital 0 can pay for two rounds only; the others for all four.
    let two = eps_after(2) + 1e-6;
    for i in 0..3 {
        let budget = if i == 0 { two } else { 4.0 };
        ledger
            .add_account(&format!("h{i}"), "fl", budget, 1e-5)
            .unwrap();
    }
    let mut parts: Vec<Participant> = w
        .parts
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let account = LedgerAccount {
                ledger: Ledger::open(&path).unwrap(),
                dataset: format!("h{i}"),
                principal: "fl".into(),
            };
            Participant::new(i as u32, d.clone(), Some(account))
        })
        .collect();
    let secure = SecureConfig {
        bits: 20,
        graph: GraphKind::Complete,
        dropout: 0.34,
        update_clip: 4.0,
    };
    let mut coord = Coordinator::new(
        config(rounds, Aggregation::Secure(secure), Some(4.0)),
        net(&w),
    )
    .unwrap();
    let r = LocalRun {
        local: local(),
        dp: Some(plan),
        participant_dp: None,
        attacks: vec![],
        drops: BTreeMap::new(),
        validation: Some(&w.test),
    };
    let report = run_local(&mut coord, &mut parts, &r, &mut shroud::rng::seeded(8)).unwrap();
    assert_eq!(report.rounds.len(), rounds as usize);
    for round in &report.rounds[2..] {
        assert_eq!(round.included, vec![1, 2], "round {}", round.round);
        assert_eq!(round.declined.len(), 1);
        assert!(
            round.declined[0].1.contains("budget"),
            "{}",
            round.declined[0].1
        );
    }
    // Epsilons compose over the rounds joined, never above the target, and the ledger
    // was charged exactly that (to its 1e-6 rounding upward).
    assert_eq!(parts[0].rounds_joined(), 2);
    assert!((report.epsilon[0].1 - eps_after(2)).abs() < 1e-12);
    assert!((report.epsilon[1].1 - eps_after(4)).abs() < 1e-12);
    assert!(report.epsilon[1].1 <= 4.0);
    let fresh = Ledger::open(&path).unwrap();
    let (rem0, _) = fresh.remaining("h0", "fl").unwrap();
    assert!((0.0..1e-5).contains(&rem0), "{rem0}");
    let (rem1, d1) = fresh.remaining("h1", "fl").unwrap();
    assert!((4.0 - rem1 - eps_after(4)).abs() < 1e-5, "{rem1}");
    assert!(d1.abs() < 1e-12, "delta charged once: {d1}");
}

#[test]
fn selection_is_seeded_and_weighted_selection_favours_large_participants() {
    let w = world(3, 6);
    let mut cfg = config(1, Aggregation::Plain, None);
    let registered: Vec<(u32, usize)> = (0..20)
        .map(|i| (i, if i < 10 { 10 } else { 1000 }))
        .collect();
    cfg.selection = Selection::Fraction {
        fraction: 0.25,
        min: 2,
    };
    let c = Coordinator::new(cfg, net(&w)).unwrap();
    let a = c.select(&registered);
    assert_eq!(a.len(), 5);
    assert_eq!(a, c.select(&registered));
    cfg.selection = Selection::WeightedBySize {
        fraction: 0.25,
        min: 2,
    };
    let c = Coordinator::new(cfg, net(&w)).unwrap();
    let b = c.select(&registered);
    assert_eq!(b.len(), 5);
    // Each small participant has weight 10 of 10100 in all: the chance that any of them
    // is drawn among 5 is below 5 * 100 / 10100 = 5 %; this seed draws none.
    assert!(b.iter().all(|&i| i >= 10), "{b:?}");
    cfg.selection = Selection::Fraction {
        fraction: 0.01,
        min: 3,
    };
    let c = Coordinator::new(cfg, net(&w)).unwrap();
    assert_eq!(c.select(&registered).len(), 3);
}

#[test]
fn bad_settings_and_updates_are_refused() {
    let w = world(3, 7);
    let mut cfg = config(0, Aggregation::Plain, None);
    assert!(matches!(
        Coordinator::new(cfg, net(&w)),
        Err(FlError::InvalidConfig(_))
    ));
    cfg.rounds = 1;
    cfg.server_momentum = 1.0;
    assert!(matches!(
        Coordinator::new(cfg, net(&w)),
        Err(FlError::InvalidConfig(_))
    ));
    cfg.server_momentum = 0.0;
    cfg.update_clip = Some(f64::NAN);
    assert!(Coordinator::new(cfg, net(&w)).is_err());
    let secure = SecureConfig {
        bits: 16,
        graph: GraphKind::Complete,
        dropout: 0.3,
        update_clip: 1.0,
    };
    cfg.update_clip = None;
    cfg.aggregation = Aggregation::Secure(secure);
    assert!(
        Coordinator::new(cfg, net(&w)).is_err(),
        "secure needs its bound"
    );
    let c = Coordinator::new(config(1, Aggregation::Plain, None), net(&w)).unwrap();
    let d = net(&w).n_params();
    assert!(matches!(
        c.aggregate_plain(&[(4, vec![f64::NAN; d], 1.0)]),
        Err(FlError::BadUpdate { participant: 4, .. })
    ));
    assert!(matches!(
        c.aggregate_plain(&[(4, vec![0.0; d + 1], 1.0)]),
        Err(FlError::BadUpdate { .. })
    ));
    let k = Coordinator::new(
        config(1, Aggregation::Robust(RobustRule::Krum { f: 1 }), None),
        net(&w),
    )
    .unwrap();
    assert!(matches!(
        k.aggregate_plain(&[(0, vec![0.0; d], 1.0), (1, vec![0.0; d], 1.0)]),
        Err(FlError::TooFewParticipants {
            round: 1,
            joined: 2,
            needed: 4
        })
    ));
    for bad in ["sign-flip", "scale:1", "scale:1:inf", "flip:1"] {
        assert!(Attack::parse(bad).is_err(), "{bad}");
    }
}

/// Participant-level DP: ten participants add their shares of discrete Gaussian noise in
/// the secure sum. Each is charged per round joined from its own ledger; one whose budget
/// covers two rounds declines after them and the run goes on. Plaintext modes refuse.
#[test]
fn participant_level_dp_charges_per_round_and_needs_secure_aggregation() {
    use shroud::fl::ddg::{DdgPlan, ParticipantLevelDp};
    let h = generate(&HospitalConfig::new(2000, 10, 9).unwrap());
    let scaler = Scaler::standardize(&h.holdout);
    let test = scaler.apply(&h.holdout).unwrap();
    let rounds = 4;
    let secure = SecureConfig {
        bits: 20,
        graph: GraphKind::Complete,
        dropout: 0.2,
        update_clip: 1.0,
    };
    let dim = Network::new(&Architecture::Logistic, test.n_features(), 2, 3)
        .unwrap()
        .n_params();
    let plan = DdgPlan::calibrate(
        ParticipantLevelDp {
            epsilon: 8.0,
            delta: 1e-5,
            clip: 1.0,
            min_survivors: 8,
        },
        dim,
        rounds,
    )
    .unwrap();
    assert!(plan.epsilon(rounds) <= 8.0);
    let dir = std::env::temp_dir().join(format!("shroud-fl-ddg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ledger.json");
    let ledger = Ledger::create(&path).unwrap();
    for i in 0..10 {
        let budget = if i == 0 { plan.epsilon(2) + 1e-6 } else { 8.0 };
        ledger
            .add_account(&format!("h{i}"), "fl", budget, 1e-5)
            .unwrap();
    }
    let mut parts: Vec<Participant> = h
        .hospitals
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let account = LedgerAccount {
                ledger: Ledger::open(&path).unwrap(),
                dataset: format!("h{i}"),
                principal: "fl".into(),
            };
            Participant::new(i as u32, scaler.apply(d).unwrap(), Some(account))
                .with_participant_level(plan)
        })
        .collect();
    let mut run = LocalRun {
        local: local(),
        dp: None,
        participant_dp: Some(plan),
        attacks: vec![],
        drops: BTreeMap::new(),
        validation: Some(&test),
    };
    let cfg = config(rounds, Aggregation::Secure(secure), Some(1.0));
    let mut coord = Coordinator::new(cfg, net_for(&test)).unwrap();
    let report = run_local(&mut coord, &mut parts, &run, &mut shroud::rng::seeded(6)).unwrap();
    assert_eq!(report.rounds[0].included.len(), 10);
    for r in &report.rounds[2..] {
        assert_eq!(r.included.len(), 9);
        assert_eq!(r.declined[0].0, 0);
    }
    assert_eq!(report.epsilon[0].1, plan.epsilon(2));
    assert_eq!(report.epsilon[5].1, plan.epsilon(rounds));
    let fresh = Ledger::open(&path).unwrap();
    let (rem, _) = fresh.remaining("h5", "fl").unwrap();
    assert!((8.0 - rem - plan.epsilon(rounds)).abs() < 1e-5);
    // Noise was added: the model differs from the same run without it.
    run.participant_dp = None;
    let mut plain_parts: Vec<Participant> = h
        .hospitals
        .iter()
        .enumerate()
        .map(|(i, d)| Participant::new(i as u32, scaler.apply(d).unwrap(), None))
        .collect();
    let mut c2 = Coordinator::new(cfg, net_for(&test)).unwrap();
    run_local(&mut c2, &mut plain_parts, &run, &mut shroud::rng::seeded(6)).unwrap();
    assert_ne!(c2.global().params(), coord.global().params());
    // Participant-level DP outside secure aggregation is refused.
    run.participant_dp = Some(plan);
    let mut c3 =
        Coordinator::new(config(1, Aggregation::Plain, Some(1.0)), net_for(&test)).unwrap();
    assert!(matches!(
        run_local(&mut c3, &mut plain_parts, &run, &mut shroud::rng::seeded(6)),
        Err(FlError::InvalidConfig(_))
    ));
}

fn net_for(test: &Dataset) -> Network {
    Network::new(&Architecture::Logistic, test.n_features(), 2, 3).unwrap()
}

/// A participant available half the time declines some rounds (training and charging
/// nothing), and the rounds go on without it.
#[test]
fn an_intermittently_available_participant_declines_rounds() {
    let w = world(3, 12);
    let mut parts = participants(&w);
    parts[2] = Participant::new(2, w.parts[2].clone(), None).with_availability(0.5);
    let mut coord = Coordinator::new(config(12, Aggregation::Plain, None), net(&w)).unwrap();
    let r = LocalRun {
        local: local(),
        dp: None,
        participant_dp: None,
        attacks: vec![],
        drops: BTreeMap::new(),
        validation: Some(&w.test),
    };
    let report = run_local(&mut coord, &mut parts, &r, &mut shroud::rng::seeded(3)).unwrap();
    let declined: Vec<u32> = report
        .rounds
        .iter()
        .filter(|r| {
            r.declined
                .iter()
                .any(|d| d.0 == 2 && d.1.contains("not available"))
        })
        .map(|r| r.round)
        .collect();
    // Twelve fair coins: P[all the same] = 2^-11; the seed is fixed.
    assert!(!declined.is_empty() && declined.len() < 12, "{declined:?}");
    assert_eq!(parts[2].rounds_joined() as usize, 12 - declined.len());
    for r in &report.rounds {
        assert_eq!(r.included.contains(&2), !declined.contains(&r.round));
    }
}

/// Secure mode never "sums" a single update (that would reveal it): when only one
/// participant is left in a round, the round is skipped and the run goes on.
#[test]
fn a_secure_round_with_one_update_is_skipped_not_revealed() {
    let w = world(2, 13);
    let secure = SecureConfig {
        bits: 16,
        graph: GraphKind::Complete,
        dropout: 0.0,
        update_clip: 4.0,
    };
    let mut parts = participants(&w);
    parts[1] = Participant::new(1, w.parts[1].clone(), None).with_availability(0.0);
    let mut coord =
        Coordinator::new(config(2, Aggregation::Secure(secure), Some(4.0)), net(&w)).unwrap();
    let before = coord.global().params();
    let r = LocalRun {
        local: local(),
        dp: None,
        participant_dp: None,
        attacks: vec![],
        drops: BTreeMap::new(),
        validation: Some(&w.test),
    };
    let report = run_local(&mut coord, &mut parts, &r, &mut shroud::rng::seeded(5)).unwrap();
    for round in &report.rounds {
        assert!(round.included.is_empty(), "{round:?}");
        assert_eq!(round.dropped, vec![0]);
        assert_eq!(round.declined.len(), 1);
    }
    assert_eq!(coord.global().params(), before);
}
