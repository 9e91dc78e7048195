//! The data owner's flow driven end to end through the CLI: generate hospitals, train with
//! and without DP (charging a ledger), evaluate; and the CLI's refusals (bad CSV, short
//! budget) as one line on stderr with exit code 2 and no model written.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn shroud(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shroud"))
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shroud-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn hospitals_train_evaluate_with_and_without_dp() {
    let d = tmpdir("flow");
    let ds = d.to_str().unwrap();
    let out = shroud(&[
        "data",
        "hospitals",
        "--patients",
        "1500",
        "--hospitals",
        "1",
        "--seed",
        "4",
        "--out",
        ds,
    ]);
    assert!(out.status.success());
    let train_csv = format!("{ds}/hospital_1.csv");
    let holdout = format!("{ds}/holdout.csv");
    let m0 = format!("{ds}/plain.json");
    let j = ok_json(&shroud(&[
        "train",
        "--data",
        &train_csv,
        "--label",
        "high_risk",
        "--epochs",
        "5",
        "--out",
        &m0,
        "--json",
    ]));
    assert_eq!(j["private"], false);
    assert!(j["epsilon"].is_null());
    assert!(j["train_accuracy"].as_f64().unwrap() > 0.7);
    let plain = shroud(&[
        "train",
        "--data",
        &train_csv,
        "--label",
        "high_risk",
        "--epochs",
        "1",
        "--out",
        &m0,
    ]);
    assert!(String::from_utf8_lossy(&plain.stdout).contains("WITHOUT differential privacy"));

    let ledger = format!("{ds}/ledger.json");
    let l = shroud::dp::budget::Ledger::create(std::path::Path::new(&ledger)).unwrap();
    l.add_account("hospital_1", "me", 2.5, 1e-4).unwrap();
    let m1 = format!("{ds}/private.json");
    let j = ok_json(&shroud(&[
        "train",
        "--data",
        &train_csv,
        "--label",
        "high_risk",
        "--epsilon",
        "2",
        "--delta",
        "1e-5",
        "--epochs",
        "5",
        "--sampling-rate",
        "0.1",
        "--ledger",
        &ledger,
        "--principal",
        "me",
        "--out",
        &m1,
        "--json",
    ]));
    for k in [
        "epsilon",
        "delta",
        "noise_multiplier",
        "sampling_rate",
        "steps",
        "train_accuracy",
    ] {
        assert!(j[k].is_number(), "{k} in {j}");
    }
    let eps = j["epsilon"].as_f64().unwrap();
    assert!(eps <= 2.0 && eps > 1.9, "{eps}");
    assert_eq!(j["steps"], 50);
    let rem = shroud::dp::budget::Ledger::open(std::path::Path::new(&ledger))
        .unwrap()
        .remaining("hospital_1", "me")
        .unwrap();
    assert!((rem.0 - (2.5 - eps)).abs() < 2e-9, "{rem:?}");

    // a second run does not fit in what is left: refused, no model written
    let m2 = format!("{ds}/refused.json");
    let err = refused(&shroud(&[
        "train",
        "--data",
        &train_csv,
        "--label",
        "high_risk",
        "--epsilon",
        "2",
        "--delta",
        "1e-5",
        "--epochs",
        "5",
        "--sampling-rate",
        "0.1",
        "--ledger",
        &ledger,
        "--principal",
        "me",
        "--out",
        &m2,
    ]));
    assert!(err.contains("budget exceeded"), "{err}");
    assert!(!std::path::Path::new(&m2).exists());

    let e = ok_json(&shroud(&[
        "evaluate",
        "--model",
        &m1,
        "--data",
        &holdout,
        "--label",
        "high_risk",
        "--json",
    ]));
    assert_eq!(e["n"], 2000);
    assert!(e["accuracy"].as_f64().unwrap() > 0.65, "{e}");
    assert!(e["auc"].as_f64().unwrap() > 0.6, "{e}");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&m1).unwrap()).unwrap();
    assert_eq!(model["model"]["kind"], "logistic");
    assert_eq!(model["privacy"]["accountant"], "rdp");
    assert_eq!(model["feature_names"][0], "age");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_csv_is_refused_with_its_line() {
    let d = tmpdir("bad");
    let f = d.join("bad.csv");
    std::fs::write(&f, "a,y\n1,0\n2,1\nNaN,0\n").unwrap();
    let out_model = d.join("m.json");
    let err = refused(&shroud(&[
        "train",
        "--data",
        f.to_str().unwrap(),
        "--label",
        "y",
        "--out",
        out_model.to_str().unwrap(),
    ]));
    assert!(err.contains("line 4"), "{err}");
    let err = refused(&shroud(&[
        "train",
        "--data",
        f.to_str().unwrap(),
        "--label",
        "nope",
        "--out",
        out_model.to_str().unwrap(),
    ]));
    assert!(err.contains("no column \"nope\""), "{err}");
    assert!(!out_model.exists());
    let err = refused(&shroud(&[
        "train",
        "--data",
        f.to_str().unwrap(),
        "--label",
        "y",
        "--out",
        "/nonexistent-dir/m.json",
    ]));
    assert!(err.contains("does not exist"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn user_bounds_replace_the_private_statistics() {
    let d = tmpdir("bounds");
    let f = d.join("d.csv");
    std::fs::write(
        &f,
        "a,b,y
1,10,0
2,20,1
3,30,1
0,5,0
",
    )
    .unwrap();
    let m = d.join("m.json");
    let (fs, ms) = (f.to_str().unwrap(), m.to_str().unwrap());
    ok_json(&shroud(&[
        "train", "--data", fs, "--label", "y", "--bounds", "0:4,0:40", "--epochs", "2", "--out",
        ms, "--json",
    ]));
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    assert_eq!(model["scaler"]["source"], "bounds");
    assert_eq!(model["scaler"]["shift"], serde_json::json!([2.0, 20.0]));
    assert_eq!(model["scaler"]["scale"], serde_json::json!([2.0, 20.0]));
    let err = refused(&shroud(&[
        "train", "--data", fs, "--label", "y", "--bounds", "0:4", "--out", ms,
    ]));
    assert!(err.contains("--bounds gives 1 features"), "{err}");
    let err = refused(&shroud(&[
        "train", "--data", fs, "--label", "y", "--bounds", "4:0,0:1", "--out", ms,
    ]));
    assert!(err.contains("lo < hi"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn membership_inference_reports_the_dp_ceiling() {
    let d = tmpdir("mia");
    let ds = d.to_str().unwrap();
    // one hospital: members and the holdout come from the same population
    let out = shroud(&[
        "data",
        "hospitals",
        "--patients",
        "2000",
        "--hospitals",
        "1",
        "--seed",
        "8",
        "--out",
        ds,
    ]);
    assert!(out.status.success());
    let members = format!("{ds}/hospital_1.csv");
    let holdout = format!("{ds}/holdout.csv");
    let m = format!("{ds}/dp.json");
    ok_json(&shroud(&[
        "train",
        "--data",
        &members,
        "--label",
        "high_risk",
        "--model",
        "mlp:16",
        "--epsilon",
        "1",
        "--delta",
        "1e-5",
        "--epochs",
        "5",
        "--sampling-rate",
        "0.05",
        "--out",
        &m,
        "--json",
    ]));
    let j = ok_json(&shroud(&[
        "attack",
        "mia",
        "--model",
        &m,
        "--members",
        &members,
        "--nonmembers",
        &holdout,
        "--label",
        "high_risk",
        "--json",
    ]));
    assert_eq!(j["above_bound"], false, "{j}");
    let auc = j["auc"].as_f64().unwrap();
    // epsilon 1 allows AUC well below 0.75; the model barely memorizes
    assert!((0.4..0.6).contains(&auc), "{j}");
    for f in ["0.001", "0.01"] {
        let t = j["tpr_at_fpr"][f].as_f64().unwrap();
        let b = j["bound_tpr_at_fpr"][f].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&t) && b > 0.0, "{j}");
    }
    let b = j["bound_tpr_at_fpr"]["0.01"].as_f64().unwrap();
    assert!((b - (1f64.exp() * 0.01 + 1e-5)).abs() < 1e-3, "{b}");
    let err = refused(&shroud(&[
        "attack",
        "mia",
        "--model",
        &m,
        "--members",
        &members,
        "--nonmembers",
        &holdout,
        "--label",
        "high_risk",
        "--shadow",
        "3",
    ]));
    assert!(err.contains("even number"), "{err}");
    let j = ok_json(&shroud(&[
        "attack",
        "mia",
        "--model",
        &m,
        "--members",
        &members,
        "--nonmembers",
        &holdout,
        "--label",
        "high_risk",
        "--shadow",
        "4",
        "--json",
    ]));
    assert_eq!(j["attack"], "lira", "{j}");
    assert_eq!(j["shadows"], 4, "{j}");
    assert_eq!(j["above_bound"], false, "{j}");
    assert_eq!(j["loss_threshold"]["above_bound"], false, "{j}");
    assert!(j["loss_threshold"]["auc"].is_f64(), "{j}");
    for f in ["0.001", "0.01"] {
        let t = j["tpr_at_fpr"][f].as_f64().unwrap();
        let b = j["bound_tpr_at_fpr"][f].as_f64().unwrap();
        assert!(t <= b + 0.03, "LiRA TPR {t} at FPR {f}, ceiling {b}: {j}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn dp_scaler_statistics_are_charged_and_join_the_guarantee() {
    let d = tmpdir("dpscaler");
    let ds = d.to_str().unwrap();
    let out = shroud(&[
        "data",
        "hospitals",
        "--patients",
        "1500",
        "--hospitals",
        "1",
        "--seed",
        "6",
        "--out",
        ds,
    ]);
    assert!(out.status.success());
    let ledger = format!("{ds}/ledger.json");
    let budget = |args: &[&str]| {
        let mut all = vec!["dp", "budget", "--ledger", &ledger];
        all.extend_from_slice(args);
        shroud(&all)
    };
    assert!(budget(&["create"]).status.success());
    let add = [
        "add",
        "--dataset",
        "hospital_1",
        "--principal",
        "p",
        "--epsilon",
        "3",
        "--delta",
        "1e-4",
    ];
    assert!(budget(&add).status.success());
    let train_csv = format!("{ds}/hospital_1.csv");
    let m = format!("{ds}/m.json");
    let j = ok_json(&shroud(&[
        "train",
        "--data",
        &train_csv,
        "--label",
        "high_risk",
        "--bounds",
        "20:90,120:350,90:200,50:120,0:20,16:45",
        "--scaler-epsilon",
        "0.5",
        "--scaler-delta",
        "1e-6",
        "--epsilon",
        "1",
        "--delta",
        "1e-5",
        "--epochs",
        "3",
        "--ledger",
        &ledger,
        "--principal",
        "p",
        "--out",
        &m,
        "--json",
    ]));
    assert_eq!(j["scaler_epsilon"], 0.5, "{j}");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    let src = &model["scaler"]["source"]["dp_standardized"];
    assert_eq!(src["epsilon"], 0.5, "{model}");
    // the ledger paid both releases
    let shown: Value = serde_json::from_slice(&budget(&["show", "--json"]).stdout).unwrap();
    let eps_train = j["epsilon"].as_f64().unwrap();
    assert!(eps_train <= 1.0);
    let spent = shown[0]["spent"]["epsilon"].as_f64().unwrap();
    // requests round up to 1e-9 each
    assert!((spent - (0.5 + eps_train)).abs() < 1e-8, "{shown}");
    let spent_delta = shown[0]["spent"]["delta"].as_f64().unwrap();
    assert!((spent_delta - (1e-6 + 1e-5)).abs() < 1e-12, "{shown}");
    // the attack's ceiling is that of the composed guarantee
    let a = ok_json(&shroud(&[
        "attack",
        "mia",
        "--model",
        &m,
        "--members",
        &train_csv,
        "--nonmembers",
        &format!("{ds}/holdout.csv"),
        "--label",
        "high_risk",
        "--json",
    ]));
    let b = a["bound_tpr_at_fpr"]["0.01"].as_f64().unwrap();
    let want = (0.5 + eps_train).exp() * 0.01 + 1e-5 + 1e-6;
    assert!((b - want).abs() < 1e-9, "{b} vs {want}");
    std::fs::remove_dir_all(&d).unwrap();
}
