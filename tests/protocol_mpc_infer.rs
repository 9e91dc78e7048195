//! Secret-shared inference (`mpc infer`): the client and the model owner driven end to end,
//! in memory and over TCP on loopback, compared with the plaintext score.
#![cfg(feature = "serve")]

mod common;

use serde_json::json;
use shroud::mpc::{FractionalBits, Mesh, MpcError, infer};
use shroud::serve::LinearModel;

const COEF: [f64; 5] = [0.8, -1.25, 0.031, 2.5, -0.004];
const MEAN: [f64; 5] = [50.0, 1.5, 120.0, 0.2, 3000.0];
const SCALE: [f64; 5] = [12.0, 0.5, 30.0, 0.1, 900.0];
const INTERCEPT: f64 = -0.375;

fn model(kind: &str) -> LinearModel {
    LinearModel::from_json(
        &json!({
            "format": "sklearn-linear-v1", "kind": kind,
            "features": ["age", "creatinine", "systolic", "ratio", "steps"],
            "coef": COEF, "intercept": INTERCEPT,
            "scaler": {"mean": MEAN, "scale": SCALE},
        })
        .to_string(),
    )
    .unwrap()
}

fn plain(x: &[f64]) -> f64 {
    INTERCEPT
        + x.iter()
            .zip(COEF.iter().zip(MEAN.iter().zip(&SCALE)))
            .map(|(x, (c, (m, s)))| c * (x - m) / s)
            .sum::<f64>()
}

/// The module's bound: (sum |x_i| + sum |w_i| + 1) 2^-(f+1) + 2^-f + d 2^-2f, with w the
/// folded weights.
fn bound(x: &[f64], f: u32) -> f64 {
    let sw: f64 = COEF.iter().zip(&SCALE).map(|(c, s)| (c / s).abs()).sum();
    let sx: f64 = x.iter().map(|v| v.abs()).sum();
    let u = 2f64.powi(-(f as i32));
    (sx + sw + 1.0) * u / 2.0 + u + 5.0 * u * u + 1e-9
}

fn rows(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let t = i as f64;
            vec![
                30.0 + 4.0 * t,
                0.7 + 0.13 * t,
                95.5 + 3.0 * t,
                0.15 - 0.05 * t,
                1234.5678 * (t + 1.0),
            ]
        })
        .collect()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn run_memory(kind: &str, rs: &[Vec<f64>], f: u32) -> (infer::Scores, u64, u64) {
    let frac = FractionalBits::new(f).unwrap();
    let weights = model(kind).mpc_weights(frac).unwrap();
    let mut meshes = Mesh::memory(2);
    let owner_mesh = meshes.pop().unwrap();
    let client_mesh = meshes.pop().unwrap();
    let sk = common::key(1024);
    std::thread::scope(|s| {
        let owner = s.spawn(|| {
            infer::owner(
                owner_mesh,
                &weights,
                sk,
                frac,
                100,
                &mut shroud::rng::seeded(1),
            )
        });
        let (scores, cb) =
            infer::client(client_mesh, rs, frac, 1024, &mut shroud::rng::seeded(2)).unwrap();
        let (records, ob) = owner.join().unwrap().unwrap();
        assert_eq!(records, rs.len());
        assert!(cb.offline_bytes <= cb.bytes_sent && ob.offline_bytes <= ob.bytes_sent);
        (scores, cb.bytes_sent, ob.bytes_sent)
    })
}

#[test]
fn secret_shared_logistic_inference_matches_the_plaintext_score() {
    let rs = rows(7);
    let f = 20;
    let (scores, client_bytes, owner_bytes) = run_memory("logistic", &rs, f);
    assert_eq!(scores.logits.len(), 7);
    let probs = scores.probabilities.as_ref().expect("a logistic model");
    for ((got, p), x) in scores.logits.iter().zip(probs).zip(&rs) {
        let want = plain(x);
        assert!(
            (got - want).abs() <= bound(x, f),
            "logit {got} vs {want} (bound {})",
            bound(x, f)
        );
        if want.abs() <= 8.0 {
            assert!(
                (p - sigmoid(want)).abs() < 0.0095 + 1e-3,
                "p {p} vs {}",
                sigmoid(want)
            );
        }
    }
    assert!(
        rs.iter().any(|x| plain(x).abs() <= 8.0),
        "the sigmoid was exercised"
    );
    assert!(client_bytes > 0 && owner_bytes > 0);
}

#[test]
fn secret_shared_linear_inference_opens_only_the_score() {
    let rs = rows(3);
    let (scores, _, _) = run_memory("linear", &rs, 16);
    assert!(scores.probabilities.is_none());
    for (got, x) in scores.logits.iter().zip(&rs) {
        assert!(
            (got - plain(x)).abs() <= bound(x, 16),
            "{got} vs {}",
            plain(x)
        );
    }
}

#[test]
fn secret_shared_inference_runs_over_tcp() {
    let ports: Vec<String> = (0..2)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        })
        .collect();
    let frac = FractionalBits::new(20).unwrap();
    let weights = model("logistic").mpc_weights(frac).unwrap();
    let security = shroud::net::Security::insecure_plaintext();
    let opts = shroud::net::ChannelOptions::new("mpc infer", b"test")
        .with_timeout(std::time::Duration::from_secs(60));
    let rs = rows(2);
    let got = std::thread::scope(|s| {
        let owner = s.spawn(|| {
            let mesh = Mesh::tcp(1, &ports, &security, &opts).unwrap();
            infer::owner(
                mesh,
                &weights,
                common::key(1024),
                frac,
                10,
                &mut shroud::rng::seeded(3),
            )
        });
        let mesh = Mesh::tcp(0, &ports, &security, &opts).unwrap();
        let r = infer::client(mesh, &rs, frac, 1024, &mut shroud::rng::seeded(4)).unwrap();
        owner.join().unwrap().unwrap();
        r.0
    });
    for (g, x) in got.logits.iter().zip(&rs) {
        assert!((g - plain(x)).abs() <= bound(x, 20), "{g} vs {}", plain(x));
    }
}

#[test]
fn mismatched_sessions_are_refused() {
    // the client has 4 features, the model 5; and an owner that serves at most 1 record
    let frac = FractionalBits::default();
    let weights = model("linear").mpc_weights(frac).unwrap();
    for (rs, max) in [(vec![vec![1.0; 4]], 10usize), (rows(2), 1)] {
        let mut meshes = Mesh::memory(2);
        let owner_mesh = meshes.pop().unwrap();
        let client_mesh = meshes.pop().unwrap();
        let (c, o) = std::thread::scope(|s| {
            let owner = s.spawn(|| {
                infer::owner(
                    owner_mesh,
                    &weights,
                    common::key(1024),
                    frac,
                    max,
                    &mut shroud::rng::seeded(5),
                )
            });
            let c = infer::client(client_mesh, &rs, frac, 1024, &mut shroud::rng::seeded(6));
            (c, owner.join().unwrap())
        });
        assert!(c.is_err() && o.is_err());
        assert!(
            matches!(c, Err(MpcError::InvalidInput(_)) | Err(MpcError::Net(_)))
                || matches!(o, Err(MpcError::InvalidInput(_))),
            "{c:?} {o:?}"
        );
    }
}
