//! The inference service end to end, in process: a server on 127.0.0.1:0 and shroud's
//! client, compared with the plaintext score computed from the model file.
#![cfg(feature = "serve")]

mod common;

use rand_core::SeedableRng;
use serde_json::{Value, json};
use shroud::paillier::SecretKey;
use shroud::serve::client::{
    ScoreClient, decrypt_answer, encrypt_rows, http_request, request_body,
};
use shroud::serve::server::Handle;
use shroud::serve::{LinearModel, ServeConfig};

const COEF: [f64; 5] = [0.8, -1.25, 0.031, 2.5, -0.004];
const MEAN: [f64; 5] = [50.0, 1.5, 120.0, 0.2, 3000.0];
const SCALE: [f64; 5] = [12.0, 0.5, 30.0, 0.1, 900.0];
const INTERCEPT: f64 = -0.375;

fn model_json() -> String {
    json!({
        "format": "sklearn-linear-v1", "kind": "logistic",
        "features": ["age", "creatinine", "systolic", "ratio", "steps"],
        "coef": [COEF], "intercept": [INTERCEPT],
        "scaler": {"mean": MEAN, "scale": SCALE},
    })
    .to_string()
}

fn plain(x: &[f64]) -> f64 {
    INTERCEPT
        + x.iter()
            .zip(COEF.iter().zip(MEAN.iter().zip(&SCALE)))
            .map(|(x, (c, (m, s)))| c * (x - m) / s)
            .sum::<f64>()
}

/// Fixed-point bound: each weight and the intercept are within 16^-11 / 2 of their value.
fn close(got: f64, want: f64, x: &[f64]) -> bool {
    let bound = 16f64.powi(-11) * (1.0 + x.iter().map(|v| v.abs()).sum::<f64>()) + 1e-12;
    (got - want).abs() <= bound + 1e-12 * want.abs()
}

fn rows(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let t = i as f64;
            vec![
                30.0 + t,
                0.7 + 0.13 * t,
                95.5 + 3.0 * t,
                -0.05 * t,
                1234.5678 * (t + 1.0),
            ]
        })
        .collect()
}

fn start(cfg: ServeConfig) -> Handle {
    let model = LinearModel::from_json(&model_json()).unwrap();
    Handle::start(model, cfg, "127.0.0.1:0".parse().unwrap()).unwrap()
}

fn cfg_1024() -> ServeConfig {
    ServeConfig {
        min_key_bits: 1024,
        workers: 2,
        ..ServeConfig::default()
    }
}

fn check_scores(got: &[f64], rows: &[Vec<f64>]) {
    assert_eq!(got.len(), rows.len());
    for (g, x) in got.iter().zip(rows) {
        let want = plain(x);
        assert!(close(*g, want, x), "got {g}, want {want}");
    }
}

#[test]
fn single_records_and_batches_match_the_plaintext_score() {
    let server = start(cfg_1024());
    let client = ScoreClient::new(server.addr().to_string());
    let mut rng = shroud::rng::seeded(1);
    let sk = common::key(1024);
    let rs = rows(9);
    // one record per request, as {"values": ..}
    for r in &rs[..2] {
        let enc = encrypt_rows(sk.public_key(), std::slice::from_ref(r), &mut rng).unwrap();
        let mut body = request_body(sk.public_key(), &enc, false);
        let values = body["rows"][0].clone();
        let obj = body.as_object_mut().unwrap();
        obj.remove("rows");
        obj.insert("values".into(), values);
        let answer = client.post(body.to_string().as_bytes()).unwrap();
        assert!(answer["values"].as_array().unwrap().len() == 1);
        check_scores(
            &decrypt_answer(sk, &answer, 1).unwrap(),
            std::slice::from_ref(r),
        );
    }
    // a batch
    check_scores(&client.score(sk, &rs, false, &mut rng).unwrap(), &rs);
    server.shutdown().unwrap();
}

#[test]
fn a_2048_bit_key_is_served_under_the_default_minimum() {
    let server = start(ServeConfig {
        workers: 2,
        ..ServeConfig::default()
    });
    let client = ScoreClient::new(server.addr().to_string());
    let mut rng = shroud::rng::seeded(2);
    let rs = rows(3);
    check_scores(
        &client
            .score(common::key(2048), &rs, false, &mut rng)
            .unwrap(),
        &rs,
    );
    check_scores(
        &client
            .score(common::key(2048), &rs, true, &mut rng)
            .unwrap(),
        &rs,
    );
}

#[test]
fn packed_batches_round_trip_with_fewer_ciphertexts() {
    let server = start(cfg_1024());
    let client = ScoreClient::new(server.addr().to_string());
    let mut rng = shroud::rng::seeded(3);
    let sk: &SecretKey = common::key(1024);
    let rs = rows(13);
    let enc = encrypt_rows(sk.public_key(), &rs, &mut rng).unwrap();
    let body = request_body(sk.public_key(), &enc, true);
    let answer = client.post(body.to_string().as_bytes()).unwrap();
    let p = &answer["packed"];
    let slots = p["slots"].as_u64().unwrap() as usize;
    assert!(slots >= 2, "{p}");
    assert_eq!(
        p["ciphertexts"].as_array().unwrap().len(),
        13usize.div_ceil(slots)
    );
    check_scores(&decrypt_answer(sk, &answer, 13).unwrap(), &rs);
}

#[test]
fn python_paillier_key_forms_are_accepted() {
    let server = start(cfg_1024());
    let client = ScoreClient::new(server.addr().to_string());
    let mut rng = shroud::rng::seeded(4);
    let sk = common::key(1024);
    let pk = sk.public_key();
    let rs = rows(2);
    let enc = encrypt_rows(pk, &rs, &mut rng).unwrap();
    let pairs: Vec<Vec<String>> = enc
        .iter()
        .map(|r| {
            r.iter()
                .map(|x| format!("[\"{}\", {}]", x.ciphertext.to_biguint(), x.exponent))
                .collect()
        })
        .collect();
    let rows_text = format!(
        "[{}]",
        pairs
            .iter()
            .map(|r| format!("[{}]", r.join(",")))
            .collect::<Vec<_>>()
            .join(",")
    );
    // n and g as bare JSON integers (what json.dumps writes for Python ints)
    let body = format!(
        "{{\"public_key\": {{\"g\": {}, \"n\": {}}}, \"rows\": {rows_text}}}",
        pk.n() + 1u32,
        pk.n()
    );
    check_scores(
        &decrypt_answer(sk, &client.post(body.as_bytes()).unwrap(), 2).unwrap(),
        &rs,
    );
    // the JWK public key
    let jwk = shroud::format::jwk::public_key_to_jwk(pk, "client");
    let body = format!("{{\"public_key\": {jwk}, \"rows\": {rows_text}}}");
    check_scores(
        &decrypt_answer(sk, &client.post(body.as_bytes()).unwrap(), 2).unwrap(),
        &rs,
    );
}

#[test]
fn metadata_is_public_and_never_holds_weights() {
    let server = start(cfg_1024());
    let meta = ScoreClient::new(server.addr().to_string()).model().unwrap();
    assert_eq!(meta["kind"], "logistic");
    assert_eq!(meta["n_features"], 5);
    assert_eq!(meta["features"][1], "creatinine");
    assert_eq!(meta["min_key_bits"], 1024);
    let text = meta.to_string();
    for w in ["0.8", "1.25", "0.031", "2.5", "0.375", "0.004"] {
        assert!(!text.contains(w), "metadata mentions {w}: {text}");
    }
    let (status, body) = http_request(
        &server.addr().to_string(),
        "GET",
        "/healthz",
        None,
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["status"],
        "ok"
    );
}

#[test]
fn query_budgets_refuse_and_persist_across_restarts() {
    let dir = std::env::temp_dir().join(format!("shroud-serve-budget-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ledger.json");
    let cfg = ServeConfig {
        query_budget: Some(3),
        budget_file: Some(file.clone()),
        ..cfg_1024()
    };
    let mut rng = shroud::rng::seeded(5);
    let sk = common::key(1024);
    let rs = rows(2);
    let server = start(cfg.clone());
    let client = ScoreClient::new(server.addr().to_string());
    client.score(sk, &rs, false, &mut rng).unwrap();
    match client.score(sk, &rs, false, &mut rng) {
        Err(shroud::serve::client::ClientError::Refused { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (429, "budget_exceeded"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A request that fails after the charge (exponents too far apart to align) is refunded.
    let mut enc = encrypt_rows(sk.public_key(), &rs[..1], &mut rng).unwrap();
    enc[0][0].exponent = -100;
    let body = request_body(sk.public_key(), &enc, false).to_string();
    match client.post(body.as_bytes()) {
        Err(shroud::serve::client::ClientError::Refused { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (422, "exponent"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    server.shutdown().unwrap();
    // After a restart: one record left, then none.
    let server = start(cfg);
    let client = ScoreClient::new(server.addr().to_string());
    check_scores(
        &client.score(sk, &rs[..1], false, &mut rng).unwrap(),
        &rs[..1],
    );
    assert!(client.score(sk, &rs[..1], false, &mut rng).is_err());
    // Another client (key) has its own budget.
    let other = &rows(1);
    let k2 = shroud::paillier::generate_keypair(
        shroud::paillier::KeygenOptions {
            bits: 1024,
            insecure_allow_1024: true,
            ..Default::default()
        },
        &mut chacha20::ChaCha20Rng::seed_from_u64(77),
        &|_| {},
    )
    .unwrap();
    check_scores(&client.score(&k2, other, false, &mut rng).unwrap(), other);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "train")]
#[test]
fn the_training_layer_model_file_is_served() {
    let text = json!({
        "format": "shroud-model", "version": 1, "model": {"kind": "logistic"},
        "n_features": 2, "feature_names": ["a", "b"], "label": "y", "classes": [0.0, 1.0],
        "scaler": {"source": "standardized", "shift": [1.0, -2.0], "scale": [2.0, 0.5]},
        "layers": [{"w": [[0.5], [-1.5]], "b": [0.25]}], "privacy": null,
    })
    .to_string();
    let model = LinearModel::from_json(&text).unwrap();
    let server = Handle::start(model, cfg_1024(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let client = ScoreClient::new(server.addr().to_string());
    let mut rng = shroud::rng::seeded(6);
    let x = vec![vec![3.0, 1.0]];
    let got = client
        .score(common::key(1024), &x, false, &mut rng)
        .unwrap();
    let want = 0.25 + 0.5 * (3.0 - 1.0) / 2.0 - 1.5 * (1.0 + 2.0) / 0.5;
    assert!((got[0] - want).abs() < 1e-9, "{} vs {want}", got[0]);
}

/// A test CA and a leaf certificate for 127.0.0.1 and localhost, made here with rcgen (no
/// key is committed): (CA PEM, leaf chain PEM, leaf key PEM).
fn test_pki() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "shroud test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}

#[test]
fn https_with_rustls_scores_and_plain_http_or_an_unknown_ca_fails() {
    let (ca, cert, key) = test_pki();
    let cfg = ServeConfig {
        tls: Some(shroud::serve::tls::server_config(cert.as_bytes(), key.as_bytes()).unwrap()),
        ..cfg_1024()
    };
    let server = start(cfg);
    let addr = server.addr().to_string();
    let trust = shroud::serve::tls::client_config(ca.as_bytes()).unwrap();
    let client = ScoreClient::new(addr.clone()).with_tls(trust.clone());
    let mut rng = shroud::rng::seeded(7);
    let rs = rows(3);
    check_scores(
        &client
            .score(common::key(1024), &rs, false, &mut rng)
            .unwrap(),
        &rs,
    );
    check_scores(
        &client
            .with_binary(true)
            .score(common::key(1024), &rs, true, &mut rng)
            .unwrap(),
        &rs,
    );
    assert_eq!(
        ScoreClient::new(addr.clone())
            .with_tls(trust)
            .model()
            .unwrap()["n_features"],
        5
    );
    // Plain HTTP against the TLS listener: no HTTP answer.
    let plain = http_request(
        &addr,
        "GET",
        "/healthz",
        None,
        std::time::Duration::from_secs(10),
    );
    assert!(plain.is_err(), "{plain:?}");
    // A client trusting another CA refuses the server's certificate.
    let (other_ca, _, _) = test_pki();
    let stranger = ScoreClient::new(addr)
        .with_tls(shroud::serve::tls::client_config(other_ca.as_bytes()).unwrap());
    assert!(matches!(
        stranger.score(common::key(1024), &rs[..1], false, &mut rng),
        Err(shroud::serve::client::ClientError::Io(_))
    ));
    server.shutdown().unwrap();
}

#[test]
fn the_binary_content_type_matches_json_and_is_smaller() {
    let server = start(cfg_1024());
    let addr = server.addr().to_string();
    let mut rng = shroud::rng::seeded(8);
    let sk = common::key(1024);
    let rs = rows(6);
    let client = ScoreClient::new(addr.clone()).with_binary(true);
    check_scores(&client.score(sk, &rs, false, &mut rng).unwrap(), &rs);
    check_scores(&client.score(sk, &rs, true, &mut rng).unwrap(), &rs);
    let enc = encrypt_rows(sk.public_key(), &rs, &mut rng).unwrap();
    let bin = shroud::serve::binary::encode_request(sk.public_key(), &enc, None).unwrap();
    let json = request_body(sk.public_key(), &enc, false).to_string();
    assert!(
        (bin.len() as f64) < 0.6 * json.len() as f64,
        "{} vs {}",
        bin.len(),
        json.len()
    );
    let answer = client.post_binary(&bin).unwrap();
    let scored = shroud::serve::binary::decode_answer(sk.public_key(), &answer, 6).unwrap();
    check_scores(
        &shroud::serve::client::decrypt_scored(sk, &scored, 6).unwrap(),
        &rs,
    );
}

fn token_file(dir: &std::path::Path) -> std::path::PathBuf {
    use shroud::serve::tokens::hash_token;
    let f = dir.join("tokens.txt");
    std::fs::write(
        &f,
        format!(
            "# name  sha256(token)\nhospital-a {}\nhospital-b {}\n",
            hash_token("token-of-a-0123456789abcdef"),
            hash_token("token-of-b-0123456789abcdef")
        ),
    )
    .unwrap();
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(!text.contains("token-of-a"), "the file holds hashes only");
    f
}

fn refused(r: Result<Vec<f64>, shroud::serve::client::ClientError>) -> (u16, String) {
    match r {
        Err(shroud::serve::client::ClientError::Refused { status, code, .. }) => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn token_budgets_refuse_and_persist_across_restarts() {
    let dir = std::env::temp_dir().join(format!("shroud-serve-tokens-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = shroud::serve::tokens::ApiTokens::load(&token_file(&dir)).unwrap();
    let cfg = ServeConfig {
        query_budget: Some(3),
        budget_file: Some(dir.join("ledger.json")),
        api_tokens: Some(std::sync::Arc::new(tokens)),
        ..cfg_1024()
    };
    let mut rng = shroud::rng::seeded(9);
    let k1 = common::key(1024);
    let k2 = common::other_key();
    let rs = rows(2);
    let server = start(cfg.clone());
    let addr = server.addr().to_string();
    let a = ScoreClient::new(addr.clone()).with_token("token-of-a-0123456789abcdef");
    check_scores(&a.score(k1, &rs, false, &mut rng).unwrap(), &rs);
    // The budget is the token's: another key does not get a fresh one.
    assert_eq!(
        refused(a.score(k2, &rs, false, &mut rng)),
        (429, "budget_exceeded".into())
    );
    // Another token has its own budget; so does a request without a token (its key's).
    let b = ScoreClient::new(addr.clone()).with_token("token-of-b-0123456789abcdef");
    check_scores(&b.score(k1, &rs, false, &mut rng).unwrap(), &rs);
    let anonymous = ScoreClient::new(addr.clone());
    check_scores(&anonymous.score(k1, &rs, false, &mut rng).unwrap(), &rs);
    // An unknown token is refused, and charged nothing.
    let stranger = ScoreClient::new(addr).with_token("not-a-token");
    assert_eq!(
        refused(stranger.score(k1, &rs, false, &mut rng)),
        (401, "unauthorized".into())
    );
    server.shutdown().unwrap();
    let ledger = std::fs::read_to_string(dir.join("ledger.json")).unwrap();
    assert!(ledger.contains("token:hospital-a"), "{ledger}");
    assert!(!ledger.contains("token-of-a"), "{ledger}");
    // After a restart, with tokens required: one record left for a, none without a token.
    let server = start(ServeConfig {
        require_token: true,
        ..cfg
    });
    let addr = server.addr().to_string();
    let a = ScoreClient::new(addr.clone()).with_token("token-of-a-0123456789abcdef");
    check_scores(&a.score(k2, &rs[..1], false, &mut rng).unwrap(), &rs[..1]);
    assert_eq!(
        refused(a.score(k2, &rs[..1], false, &mut rng)),
        (429, "budget_exceeded".into())
    );
    assert_eq!(
        refused(ScoreClient::new(addr).score(k1, &rs[..1], false, &mut rng)),
        (401, "unauthorized".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dp_noise_is_added_under_encryption_within_its_tail_and_charged() {
    use shroud::serve::noise::NoiseConfig;
    let dir = std::env::temp_dir().join(format!("shroud-serve-noise-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // epsilon 1 per record, 6 per client; neighbours 10^-3 apart; |x_i| <= 5000.
    let noise = NoiseConfig::new(1.0, 6.0, 1e-3, &[100.0, 10.0, 300.0, 1.0, 5000.0]).unwrap();
    assert!((noise.sensitivity - 5.0).abs() < 1e-8);
    let scale = noise.scale();
    let cfg = ServeConfig {
        budget_file: Some(dir.join("ledger.json")),
        noise: Some(noise),
        ..cfg_1024()
    };
    let server = start(cfg.clone());
    let client = ScoreClient::new(server.addr().to_string());
    let mut rng = shroud::rng::seeded(10);
    let sk = common::key(1024);
    let rs = rows(5);
    let got = client.score(sk, &rs, false, &mut rng).unwrap();
    // P(|noise| > (t + 1) scale (1 + 2^-19) + 2 G u) <= 2 e^-t; t = 40.
    let tail = 41.0 * scale * (1.0 + 2f64.powi(-19)) + 1e-4;
    let mut differ = 0;
    for (g, x) in got.iter().zip(&rs) {
        let exact = plain(x);
        assert!(
            (g - exact).abs() <= tail,
            "noise {} beyond {tail}",
            g - exact
        );
        if !close(*g, exact, x) {
            differ += 1;
        }
    }
    assert_eq!(differ, 5, "every noisy score differs from the exact one");
    // 5 of 6 epsilon spent: a request of 2 records is refused, one of 1 passes, then none.
    assert_eq!(
        refused(client.score(sk, &rs[..2], false, &mut rng)),
        (429, "privacy_budget_exceeded".into())
    );
    server.shutdown().unwrap();
    let server = start(cfg);
    let client = ScoreClient::new(server.addr().to_string());
    client.score(sk, &rs[..1], false, &mut rng).unwrap();
    assert_eq!(
        refused(client.score(sk, &rs[..1], false, &mut rng)),
        (429, "privacy_budget_exceeded".into())
    );
    // Packing is refused with noise.
    assert_eq!(
        refused(client.score(common::other_key(), &rs, true, &mut rng)),
        (422, "packing".into())
    );
    let ledger = std::fs::read_to_string(dir.join("ledger.json")).unwrap();
    assert!(ledger.contains("epsilon_nano_used"), "{ledger}");
    let _ = std::fs::remove_dir_all(&dir);
}
