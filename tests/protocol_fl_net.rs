//! Federated learning over authenticated TCP: coordinator and participants in threads
//! (pinned keys), a participant killed mid-round, a coordinator killed and resumed
//! without double charging, and separate OS processes through the CLI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use shroud::data::Dataset;
use shroud::data::hospitals::{HospitalConfig, generate};
use shroud::data::scaler::Scaler;
use shroud::dp::budget::Ledger;
use shroud::fl::coordinator::{Aggregation, Coordinator, Selection, ServerConfig};
use shroud::fl::driver::{JoinReport, ServeReport, join, serve};
use shroud::fl::msgs::{self, DpSettings, FromParticipant, LocalSettings, Setup, ToParticipant};
use shroud::fl::participant::LedgerAccount;
use shroud::fl::secure::SecureConfig;
use shroud::net::{ChannelOptions, Identity, Peers, Security, connect};
use shroud::secagg::GraphKind;
use shroud::secagg::driver::client_name;
use shroud::train::network::{Architecture, Network};

struct World {
    raw: Vec<Dataset>,
    holdout: Dataset,
    scaler: Scaler,
}

fn world(seed: u64) -> World {
    let h = generate(&HospitalConfig::new(900, 3, seed).unwrap());
    let scaler = Scaler::standardize(&h.holdout);
    World {
        raw: h.hospitals,
        holdout: h.holdout,
        scaler,
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shroud-flnet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const S: f64 = 4.0;

fn cfg(rounds: u32) -> ServerConfig {
    ServerConfig {
        rounds,
        server_lr: 1.0,
        server_momentum: 0.0,
        selection: Selection::All,
        aggregation: Aggregation::Secure(SecureConfig {
            bits: 20,
            graph: GraphKind::Complete,
            dropout: 0.34,
            update_clip: S,
        }),
        update_clip: Some(S),
        seed: 1,
    }
}

fn setup(w: &World, rounds: u32, dp: Option<DpSettings>) -> Setup {
    Setup {
        run_id: "test-run".into(),
        rounds,
        architecture: Architecture::Logistic,
        feature_names: w.holdout.feature_names().to_vec(),
        classes: w.holdout.classes().to_vec(),
        scaler: w.scaler.clone(),
        local: LocalSettings {
            epochs: 1,
            sampling_rate: 0.2,
            lr: 0.5,
        },
        dp,
        update_clip: Some(S),
        secure_bits: Some(20),
        participant_dp: None,
    }
}

fn opts() -> ChannelOptions {
    ChannelOptions::new("fl", b"test-run").with_timeout(Duration::from_secs(20))
}

struct Pins {
    server: Security,
    parts: Vec<Security>,
}

fn pins(n: u32) -> Pins {
    let mut rng = shroud::rng::seeded(7);
    let server_id = Identity::generate(&mut rng);
    let ids: Vec<Identity> = (0..n).map(|_| Identity::generate(&mut rng)).collect();
    let mut p = Peers::default();
    p.insert("server", server_id.fingerprint()).unwrap();
    for (i, id) in ids.iter().enumerate() {
        p.insert(&client_name(i as u32), id.fingerprint()).unwrap();
    }
    Pins {
        server: Security::pinned(server_id, p.clone()),
        parts: ids
            .into_iter()
            .map(|id| Security::pinned(id, p.clone()))
            .collect(),
    }
}

type Joined = Vec<std::thread::JoinHandle<Result<JoinReport, String>>>;

/// Starts the coordinator for `rounds` rounds (resuming from `checkpoint` if it exists)
/// and the honest participants `ids`, each with its ledger account and state file.
fn start(
    w: &World,
    rounds: u32,
    setup_rounds: u32,
    ids: &[u32],
    dp: Option<DpSettings>,
    dir: Option<&Path>,
) -> (
    std::thread::JoinHandle<(ServeReport, Vec<f64>)>,
    Joined,
    String,
) {
    let p = pins(3);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let st = setup(w, setup_rounds, dp);
    let val = w.scaler.apply(&w.holdout).unwrap();
    let checkpoint = dir.map(|d| d.join("checkpoint.json"));
    let server_sec = p.server;
    let server = std::thread::spawn(move || {
        let net = Network::new(&Architecture::Logistic, val.n_features(), 2, 1).unwrap();
        let mut coord = Coordinator::new(cfg(rounds), net).unwrap();
        let r = serve(
            &listener,
            &server_sec,
            &opts(),
            3,
            &mut coord,
            &st,
            Some(&val),
            checkpoint.as_deref(),
            &mut shroud::rng::os_rng(),
        )
        .unwrap();
        (r, coord.global().params())
    });
    let mut handles = Vec::new();
    for (i, sec) in p.parts.into_iter().enumerate() {
        let i = i as u32;
        if !ids.contains(&i) {
            continue;
        }
        let data = w.raw[i as usize].clone();
        let addr = addr.clone();
        let dir = dir.map(Path::to_path_buf);
        handles.push(std::thread::spawn(move || {
            let account = dir.as_ref().map(|d| LedgerAccount {
                ledger: Ledger::open(&d.join("ledger.json")).unwrap(),
                dataset: format!("h{i}"),
                principal: "fl".into(),
            });
            let state = dir.as_ref().map(|d| d.join(format!("state-{i}.json")));
            join(
                &addr,
                &sec,
                &opts(),
                i,
                &data,
                account,
                state.as_deref(),
                None,
                &mut shroud::rng::os_rng(),
            )
            .map_err(|e| e.to_string())
        }));
    }
    (server, handles, addr)
}

#[test]
fn three_hospitals_over_pinned_channels_learn_with_secure_aggregation() {
    let w = world(1);
    let (server, parts, _) = start(&w, 3, 3, &[0, 1, 2], None, None);
    let (report, params) = server.join().unwrap();
    assert_eq!(report.rounds.len(), 3);
    for r in &report.rounds {
        assert_eq!(r.included, vec![0, 1, 2], "{:?}", report.events);
    }
    assert!(report.rounds[2].validation_accuracy.unwrap() > 0.7);
    for h in parts {
        let j = h.join().unwrap().unwrap();
        assert_eq!(j.params, params);
        assert_eq!(j.rounds_joined, 3);
    }
}

/// Participant 2 is an impostor process that connects with its pinned key, says hello,
/// and dies when asked to train: it is a dropout, the other two finish every round.
#[test]
fn a_participant_killed_mid_round_is_a_dropout() {
    let w = world(2);
    let p = pins(3);
    let (server, parts, addr) = start(&w, 2, 2, &[0, 1], None, None);
    let sec = p.parts.into_iter().nth(2).unwrap();
    let mut t = connect(&addr, &sec, &opts(), "server").unwrap();
    t.set_max_frame(1 << 20);
    let m: ToParticipant = msgs::decode(&t.recv().unwrap()).unwrap();
    assert!(matches!(m, ToParticipant::Setup(_)));
    t.send(&msgs::encode(&FromParticipant::Hello { records: 300 }))
        .unwrap();
    let m: ToParticipant = msgs::decode(&t.recv().unwrap()).unwrap();
    assert!(matches!(m, ToParticipant::Train { round: 1, .. }));
    drop(t); // killed
    let (report, _) = server.join().unwrap();
    assert_eq!(report.rounds[0].included, vec![0, 1]);
    assert_eq!(report.rounds[0].dropped, vec![2]);
    assert_eq!(report.rounds[1].selected, vec![0, 1]);
    let events = report.events.join("\n");
    assert!(events.contains("participant 2 dropped"), "{events}");
    for h in parts {
        assert_eq!(h.join().unwrap().unwrap().rounds_joined, 2);
    }
}

/// Record-level DP with ledgers, a run of 3 rounds. The coordinator stops after round 2
/// (run A) and a restarted one resumes and does round 3 (run B; the participants charge
/// for it). It then "crashes" before checkpointing round 3: run C resumes from the
/// round-2 checkpoint and asks for round 3 again. The participants' inputs were summed
/// once already, so they decline: no retraining, no second charge, and no second sum of
/// the same inputs (which, without some participant, would reveal the others').
#[test]
fn a_resumed_coordinator_neither_loses_nor_double_charges_budget() {
    let w = world(3);
    let dir = tmpdir("resume");
    let ledger = Ledger::create(&dir.join("ledger.json")).unwrap();
    for i in 0..3 {
        ledger
            .add_account(&format!("h{i}"), "fl", 10.0, 1e-5)
            .unwrap();
    }
    let dp = DpSettings {
        epsilon: 3.0,
        delta: 1e-5,
        clip: 1.0,
        accountant: "rdp".into(),
    };
    let run = |rounds: u32| {
        let (server, parts, _) = start(&w, rounds, 3, &[0, 1, 2], Some(dp.clone()), Some(&dir));
        let (report, params) = server.join().unwrap();
        let joined: Vec<JoinReport> = parts
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        (report, params, joined)
    };
    let (a, params_a, _) = run(2);
    assert_eq!(a.rounds.len(), 2);
    let after_two = std::fs::read(dir.join("checkpoint.json")).unwrap();
    let (b, params_b, joined_b) = run(3);
    assert_eq!(b.rounds.len(), 3, "{:?}", b.events);
    assert!(b.events.iter().any(|e| e.contains("resumed after round 2")));
    // Crash before round 3's checkpoint: put the round-2 checkpoint back.
    std::fs::write(dir.join("checkpoint.json"), &after_two).unwrap();
    let (c, params_c, joined_c) = run(3);
    assert_eq!(c.rounds.len(), 3);
    let last = &c.rounds[2];
    assert!(last.included.is_empty(), "{last:?}");
    assert_eq!(last.declined.len(), 3);
    assert!(last.declined[0].1.contains("already summed"), "{last:?}");
    // Round 3 of run C changed nothing: the model is run A's, and run B's differs.
    assert_eq!(params_c, params_a);
    assert_ne!(params_b, params_a);
    // The participants' epsilon after round 3 is the accountant's for the steps taken
    // (checked against dpsgd_epsilon in protocol_fl.rs); here: equal in runs B and C.
    for (jb, jc) in joined_b.iter().zip(&joined_c) {
        assert_eq!(jb.rounds_joined, 3);
        assert_eq!(jc.rounds_joined, 3);
        assert_eq!(jb.epsilon, jc.epsilon);
    }
    // Resuming the same run with other settings (here 4 rounds) is refused by the
    // participants: it would change what their past rounds cost.
    let (server, parts, _) = start(&w, 4, 4, &[0, 1, 2], Some(dp.clone()), Some(&dir));
    for h in parts {
        let e = h.join().unwrap().unwrap_err();
        assert!(e.contains("other settings"), "{e}");
    }
    let _ = server.join();
    let fresh = Ledger::open(&dir.join("ledger.json")).unwrap();
    for (i, j) in joined_c.iter().enumerate() {
        let (rem, _) = fresh.remaining(&format!("h{i}"), "fl").unwrap();
        let spent = 10.0 - rem;
        // Charged exactly the epsilon of its steps (to the ledger's upward rounding).
        assert!(
            (spent - j.epsilon).abs() < 1e-5,
            "h{i}: spent {spent}, epsilon {}",
            j.epsilon
        );
    }
}

#[test]
fn a_participant_refuses_a_run_that_asks_too_much() {
    let w = world(4);
    let p = pins(3);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let st = setup(
        &w,
        2,
        Some(DpSettings {
            epsilon: 50.0,
            delta: 1e-5,
            clip: 1.0,
            accountant: "rdp".into(),
        }),
    );
    let server_sec = p.server;
    let server = std::thread::spawn(move || {
        let mut t =
            shroud::secagg::driver::accept_clients(&listener, &server_sec, &opts(), 1, &mut vec![]);
        let (_, mut c) = t.pop_first().unwrap();
        c.send(&msgs::encode(&ToParticipant::Setup(Box::new(st))))
            .unwrap();
        c.recv().is_err() // the participant hangs up
    });
    let sec = p.parts.into_iter().next().unwrap();
    let e = join(
        &addr,
        &sec,
        &opts(),
        0,
        &w.raw[0],
        None,
        None,
        Some(8.0),
        &mut shroud::rng::os_rng(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("epsilon 50"), "{e}");
    assert!(server.join().unwrap());
}

/// Separate OS processes over loopback: `shroud fl serve` and three `shroud fl join`.
#[test]
fn separate_processes_through_the_cli() {
    let dir = tmpdir("cli");
    let bin = env!("CARGO_BIN_EXE_shroud");
    let st = std::process::Command::new(bin)
        .args([
            "data",
            "hospitals",
            "--patients",
            "900",
            "--hospitals",
            "3",
            "--seed",
            "5",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(st.status.success());
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let server = std::process::Command::new(bin)
        .args([
            "fl",
            "serve",
            "--listen",
            &addr,
            "--participants",
            "3",
            "--label",
            "high_risk",
        ])
        .arg("--validation")
        .arg(dir.join("holdout.csv"))
        .args([
            "--rounds",
            "2",
            "--insecure-plaintext",
            "--json",
            "--round-timeout",
            "30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut parts = Vec::new();
    for i in 0..3 {
        parts.push(
            std::process::Command::new(bin)
                .args([
                    "fl",
                    "join",
                    "--connect",
                    &addr,
                    "--id",
                    &i.to_string(),
                    "--label",
                    "high_risk",
                ])
                .arg("--data")
                .arg(dir.join(format!("hospital_{}.csv", i + 1)))
                .args(["--insecure-plaintext", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    let out = server.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rounds"], 2);
    assert_eq!(v["log"][1]["included"], serde_json::json!([0, 1, 2]));
    for p in parts {
        let o = p.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["rounds_joined"], 2);
    }
}
