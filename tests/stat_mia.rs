//! Membership inference against models we train: LiRA with shadow models does at least as
//! well as the loss-threshold attack on an overfit model trained without DP, and on a model
//! trained with a small epsilon both attacks stay under the ceiling that (epsilon, delta)
//! implies. Fixed seeds, small sizes.

#![cfg(feature = "train")]

use shroud::data::Dataset;
use shroud::data::hospitals::{HospitalConfig, generate};
use shroud::data::scaler::Scaler;
use shroud::dp::calibrate::Accountant;
use shroud::dp::{Delta, SamplingRate};
use shroud::train::dpsgd::{ClipNorm, TrainConfig, train};
use shroud::train::mia::lira::{LiraConfig, lira_attack};
use shroud::train::mia::loss_threshold_attack;
use shroud::train::model_file::Model;
use shroud::train::network::{Architecture, Network};
use shroud::train::optim::Rule;
use shroud::train::private::{EpsilonTarget, RunOptions, train_with_epsilon};

/// The first `n` rows of `d`.
fn head(d: &Dataset, n: usize) -> Dataset {
    let k = d.n_features();
    let labels: Vec<f64> = d.labels()[..n].iter().map(|&i| d.classes()[i]).collect();
    Dataset::new(
        d.feature_names().to_vec(),
        d.label_name(),
        d.features()[..n * k].to_vec(),
        &labels,
    )
    .unwrap()
}

/// Members (one hospital of `n` patients) and as many non-members from the holdout.
fn population(n: usize, seed: u64) -> (Dataset, Dataset) {
    let h = generate(&HospitalConfig::new(n, 1, seed).unwrap());
    let members = h.hospitals[0].clone();
    let nonmembers = head(&h.holdout, members.len());
    (members, nonmembers)
}

fn recipe(epochs: u32, q: f64, lr: f64) -> TrainConfig {
    let mut cfg = TrainConfig::new(epochs, SamplingRate::new(q).unwrap(), lr);
    cfg.optimizer.rule = Rule::Sgd { momentum: 0.9 };
    cfg
}

#[test]
fn lira_matches_or_beats_the_loss_attack_on_an_overfit_model() {
    let (members, nonmembers) = population(160, 11);
    let scaler = Scaler::standardize(&members);
    let arch = Architecture::parse("mlp:64,32").unwrap();
    let mut net = Network::new(&arch, 6, 2, 1).unwrap();
    let cfg = recipe(150, 0.25, 0.05);
    let data = scaler.apply(&members).unwrap();
    train(&mut net, &data, &cfg, None, &mut shroud::rng::seeded(3)).unwrap();
    let model = Model {
        network: net,
        feature_names: members.feature_names().to_vec(),
        label: members.label_name().into(),
        classes: members.classes().to_vec(),
        scaler,
        privacy: None,
    };
    let loss = loss_threshold_attack(&model, &members, &nonmembers).unwrap();
    let lira_cfg = LiraConfig {
        shadows: 16,
        train: cfg,
        dp: None,
        seed: 5,
    };
    let lira = lira_attack(&model, &members, &nonmembers, &lira_cfg).unwrap();
    eprintln!(
        "loss AUC {:.3} TPR {:?}; LiRA AUC {:.3} TPR {:?}",
        loss.auc, loss.tpr_at_fpr, lira.auc, lira.tpr_at_fpr
    );
    // the model memorized: both attacks see it
    assert!(loss.auc > 0.6, "loss AUC {}", loss.auc);
    assert!(lira.auc >= loss.auc - 0.01, "{} < {}", lira.auc, loss.auc);
    // at low FPR, where LiRA's per-example calibration matters
    assert!(lira.tpr_at_fpr[1].2 >= loss.tpr_at_fpr[1].2);
    assert!(loss.bound_tpr_at_fpr.is_none() && !loss.above_bound && !lira.above_bound);
}

#[test]
fn both_attacks_stay_under_the_ceiling_at_small_epsilon() {
    let (members, nonmembers) = population(400, 12);
    let scaler = Scaler::standardize(&members);
    let mut net = Network::new(&Architecture::Logistic, 6, 2, 1).unwrap();
    let cfg = recipe(5, 0.1, 0.1);
    let target = EpsilonTarget::new(1.0, Delta::new(1e-5).unwrap(), Accountant::Rdp).unwrap();
    let data = scaler.apply(&members).unwrap();
    let report = train_with_epsilon(
        &mut net,
        &data,
        &cfg,
        ClipNorm::new(1.0).unwrap(),
        &target,
        RunOptions::default(),
        &mut shroud::rng::seeded(4),
    )
    .unwrap();
    let model = Model {
        network: net,
        feature_names: members.feature_names().to_vec(),
        label: members.label_name().into(),
        classes: members.classes().to_vec(),
        scaler,
        privacy: report.privacy,
    };
    let loss = loss_threshold_attack(&model, &members, &nonmembers).unwrap();
    let lira_cfg =
        LiraConfig::from_model(&model, 8, members.len() + nonmembers.len(), 5, 0.1, 6).unwrap();
    assert!(lira_cfg.dp.is_some());
    let lira = lira_attack(&model, &members, &nonmembers, &lira_cfg).unwrap();
    eprintln!(
        "DP: loss AUC {:.3} TPR {:?}; LiRA AUC {:.3} TPR {:?}; bound {:?}",
        loss.auc, loss.tpr_at_fpr, lira.auc, lira.tpr_at_fpr, loss.bound_tpr_at_fpr
    );
    for r in [&loss, &lira] {
        let bound = r.bound_tpr_at_fpr.as_ref().unwrap();
        assert!(!r.above_bound);
        // epsilon 1 bounds the AUC too: (e^eps + ... ) far from memorization
        assert!(r.auc < 0.75, "AUC {}", r.auc);
        for ((_, achieved, tpr), b) in r.tpr_at_fpr.iter().zip(bound) {
            assert!(achieved <= &0.01 && *b < 0.05);
            // 400 members: three standard errors of a TPR near the bound is under 0.04
            assert!(*tpr <= b + 0.04, "TPR {tpr} over the ceiling {b}");
        }
    }
}
