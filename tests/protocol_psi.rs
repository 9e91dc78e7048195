//! PSI end to end: every mode against the plaintext computation, over the in-memory
//! transport, TCP on loopback, and as two separate OS processes.

mod common;

use std::collections::HashSet;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::scalar::Scalar;
use proptest::prelude::*;
use shroud::net::MemoryTransport;
use shroud::paillier::SecretKey;
use shroud::psi::input::dedup;
use shroud::psi::msgs::ClientRequest;
use shroud::psi::{
    self, Client, ClientConfig, ClientOutput, Mode, Server, ServerConfig, ServerOutput, SetFormat,
};

fn owned_key() -> SecretKey {
    let (p, q) = common::key(1024).primes_vartime();
    SecretKey::from_primes(&p, &q).unwrap()
}

fn ids(prefix: &str, range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range.map(|i| format!("{prefix}{i}").into_bytes()).collect()
}

type Outputs = (
    Result<ClientOutput, psi::PsiError>,
    Result<ServerOutput, psi::PsiError>,
);

/// Runs both roles over the in-memory transport.
fn run(
    mode: Mode,
    format: SetFormat,
    server_set: Vec<Vec<u8>>,
    values: Option<Vec<u64>>,
    client_set: Vec<Vec<u8>>,
    threshold: u64,
    seed: u64,
) -> Outputs {
    run_revealing(
        mode, format, server_set, values, client_set, threshold, false, seed,
    )
}

/// As [`run`], with the server-sum server revealing the sum or not.
#[allow(clippy::too_many_arguments)]
fn run_revealing(
    mode: Mode,
    format: SetFormat,
    server_set: Vec<Vec<u8>>,
    values: Option<Vec<u64>>,
    client_set: Vec<Vec<u8>>,
    threshold: u64,
    reveal: bool,
    seed: u64,
) -> Outputs {
    let mut config = ServerConfig::new(mode);
    config.format = format;
    config.threshold = threshold;
    config.reveal_sum = reveal;
    let needs = matches!(mode, Mode::Sum | Mode::Shares | Mode::ServerSum);
    let key = needs.then(owned_key);
    let mut rng = shroud::rng::seeded(seed);
    let server = Server::new(config, server_set, values, key, &mut rng).unwrap();
    let mut cconfig = ClientConfig::new(mode);
    cconfig.min_paillier_bits = 1024;
    let client = Client::new(cconfig, client_set).unwrap();
    let (mut a, mut b) = MemoryTransport::pair();
    let h = std::thread::spawn(move || {
        psi::run_server(&mut a, server, &mut shroud::rng::seeded(seed + 1))
    });
    let c = psi::run_client(&mut b, client, &mut shroud::rng::seeded(seed + 2));
    drop(b);
    (c, h.join().unwrap())
}

/// The plaintext answer: client elements (in client order) that the server holds.
fn expected(server: &[Vec<u8>], client: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let s: HashSet<&Vec<u8>> = server.iter().collect();
    client.iter().filter(|x| s.contains(x)).cloned().collect()
}

#[test]
fn edge_cases_every_mode_and_format() {
    let a = ids("a", 0..50);
    let b = ids("b", 0..40);
    let mixed: Vec<Vec<u8>> = ids("a", 20..50)
        .into_iter()
        .chain(ids("b", 0..10))
        .collect();
    type Case = (&'static str, Vec<Vec<u8>>, Vec<Vec<u8>>);
    let cases: Vec<Case> = vec![
        ("empty client", a.clone(), vec![]),
        ("empty server", vec![], a.clone()),
        ("both empty", vec![], vec![]),
        ("disjoint", a.clone(), b.clone()),
        ("identical", a.clone(), a.clone()),
        ("overlap", a.clone(), mixed),
    ];
    for (name, server, client) in cases {
        let want = expected(&server, &client);
        let values: Vec<u64> = (0..server.len() as u64)
            .map(|i| i * 1_000_003 + u64::MAX / 3)
            .collect();
        let value_of = |x: &Vec<u8>| values[server.iter().position(|y| y == x).unwrap()];
        let want_sum: u128 = want.iter().map(|x| value_of(x) as u128).sum();
        for format in [SetFormat::Raw, SetFormat::Compressed] {
            for (mode, reveal) in [
                (Mode::Intersection, false),
                (Mode::Cardinality, false),
                (Mode::Sum, false),
                (Mode::Shares, false),
                (Mode::ServerSum, false),
                (Mode::ServerSum, true),
            ] {
                let v = matches!(mode, Mode::Sum | Mode::Shares | Mode::ServerSum)
                    .then(|| values.clone());
                let (c, s) = run_revealing(
                    mode,
                    format,
                    server.clone(),
                    v,
                    client.clone(),
                    0,
                    reveal,
                    9,
                );
                let c = c.unwrap_or_else(|e| panic!("{name} {mode} {format:?}: {e}"));
                let s = s.unwrap();
                assert_eq!(c.intersection_size, want.len(), "{name} {mode} {format:?}");
                match mode {
                    Mode::Intersection => assert_eq!(c.intersection.as_ref().unwrap(), &want),
                    Mode::Cardinality => {
                        assert!(c.intersection.is_none() && c.intersection_sum.is_none())
                    }
                    Mode::Sum => {
                        assert_eq!(c.intersection_sum, Some(want_sum), "{name}");
                        assert!(c.intersection.is_none());
                        assert_eq!(s.intersection_size, Some(want.len()));
                    }
                    Mode::ServerSum => {
                        // The server learns the sum; the client only if it is revealed.
                        assert_eq!(s.intersection_sum, Some(want_sum), "{name}");
                        assert_eq!(s.intersection_size, Some(want.len()));
                        let client_sum = reveal.then_some(want_sum);
                        assert_eq!(c.intersection_sum, client_sum, "{name} {reveal}");
                        assert!(c.intersection.is_none() && c.shares.is_none());
                    }
                    Mode::Shares => {
                        assert_eq!(c.intersection.as_ref().unwrap(), &want);
                        let cs = c.shares.unwrap();
                        let ss = s.shares.unwrap();
                        assert_eq!(cs.len(), want.len());
                        for ((x, a), b) in want.iter().zip(&cs).zip(&ss) {
                            assert_eq!(a.wrapping_add(*b), value_of(x), "{name}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn duplicates_are_deduplicated_before_the_protocol() {
    let raw: Vec<(Vec<u8>, Option<u64>)> = ["x", "y", "x", "z", "y"]
        .iter()
        .map(|s| (s.as_bytes().to_vec(), None))
        .collect();
    let set = dedup(raw).unwrap();
    assert_eq!(set.duplicates, 2);
    let (c, _) = run(
        Mode::Intersection,
        SetFormat::Raw,
        set.elements.clone(),
        None,
        vec![b"y".to_vec(), b"q".to_vec()],
        0,
        1,
    );
    assert_eq!(c.unwrap().intersection.unwrap(), vec![b"y".to_vec()]);
    // The library refuses repeats rather than guessing.
    let err = Client::new(
        ClientConfig::new(Mode::Intersection),
        vec![b"a".to_vec(), b"a".to_vec()],
    )
    .unwrap_err();
    assert!(err.to_string().contains("repeats"), "{err}");
}

#[test]
fn large_sets_up_to_100k() {
    // 100k server elements against 2k client elements, half of them shared.
    let server = ids("patient-", 0..100_000);
    let client: Vec<Vec<u8>> = ids("patient-", 99_000..100_000)
        .into_iter()
        .chain(ids("other-", 0..1000))
        .collect();
    for format in [SetFormat::Compressed, SetFormat::Raw] {
        let (c, _) = run(
            Mode::Intersection,
            format,
            server.clone(),
            None,
            client.clone(),
            0,
            3,
        );
        let c = c.unwrap();
        assert_eq!(c.intersection_size, 1000);
        assert_eq!(c.intersection.unwrap(), ids("patient-", 99_000..100_000));
    }
}

#[test]
fn sum_threshold_refusal_reaches_both_sides() {
    let server = ids("a", 0..10);
    let client = ids("a", 0..3);
    let (c, s) = run(
        Mode::Sum,
        SetFormat::Compressed,
        server.clone(),
        Some(vec![5; 10]),
        client.clone(),
        4,
        5,
    );
    match c {
        Err(psi::PsiError::ThresholdNotMet {
            matches: 3,
            threshold: 4,
        }) => {}
        other => panic!("client: {other:?}"),
    }
    assert!(
        matches!(s, Err(psi::PsiError::PeerAborted(_))),
        "server: {s:?}"
    );
    // At the threshold it goes through.
    let (c, _) = run(
        Mode::Sum,
        SetFormat::Compressed,
        server,
        Some(vec![5; 10]),
        client,
        3,
        5,
    );
    assert_eq!(c.unwrap().intersection_sum, Some(15));
}

#[test]
fn cardinality_messages_reveal_no_elements_and_are_shuffled() {
    // Craft the client's request as multiples of the base point, iG: the server's answer
    // must be exactly {i pkS}, in an order that is not the request's.
    let server = Server::new(
        ServerConfig::new(Mode::Cardinality),
        ids("s", 0..10),
        None,
        None,
        &mut shroud::rng::seeded(1),
    )
    .unwrap();
    let (hello, state) = server.start(&mut shroud::rng::seeded(2));
    let pk = CompressedRistretto(hello.public_key).decompress().unwrap();
    let m = 200u64;
    let blinded: Vec<[u8; 32]> = (1..=m)
        .map(|i| {
            (RISTRETTO_BASEPOINT_POINT * Scalar::from(i))
                .compress()
                .to_bytes()
        })
        .collect();
    let (resp, _) = state
        .respond(ClientRequest { blinded }, &mut shroud::rng::seeded(3))
        .unwrap();
    let expect: Vec<[u8; 32]> = (1..=m)
        .map(|i| (pk * Scalar::from(i)).compress().to_bytes())
        .collect();
    assert_ne!(
        resp.evaluated, expect,
        "cardinality answers must be shuffled"
    );
    let mut got = resp.evaluated.clone();
    let mut want = expect.clone();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "the answers are a permutation of the evaluations"
    );

    // In a real run no message carries an element, and the client learns only the count.
    let server_set = ids("secret-patient-", 0..30);
    let client_set = ids("secret-patient-", 20..40);
    let cfg = ServerConfig::new(Mode::Cardinality);
    let server = Server::new(
        cfg,
        server_set.clone(),
        None,
        None,
        &mut shroud::rng::seeded(4),
    )
    .unwrap();
    let client = Client::new(ClientConfig::new(Mode::Cardinality), client_set.clone()).unwrap();
    let mut rng = shroud::rng::seeded(5);
    let (hello, sstate) = server.start(&mut rng);
    let (req, cstate) = client.start(hello.clone(), &mut rng).unwrap();
    let (resp, _) = sstate.respond(req.clone(), &mut rng).unwrap();
    let wire: Vec<Vec<u8>> = vec![
        psi::Message::ServerHello(hello).encode(),
        psi::Message::ClientRequest(req).encode(),
        psi::Message::ServerResponse(resp.clone()).encode(),
    ];
    for e in server_set.iter().chain(&client_set) {
        for w in &wire {
            assert!(
                !w.windows(e.len()).any(|win| win == e.as_slice()),
                "an element appears on the wire"
            );
        }
    }
    let psi::ClientStep::Done(out) = cstate.finish(resp, &mut rng).unwrap() else {
        panic!("cardinality ends after the response")
    };
    assert_eq!(out.intersection_size, 10);
    assert!(out.intersection.is_none() && out.shares.is_none() && out.intersection_sum.is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random sets (with repeats removed) against the plaintext intersection and sum.
    #[test]
    fn random_sets_match_plaintext(
        server in proptest::collection::vec(0u16..300, 0..80),
        client in proptest::collection::vec(0u16..300, 0..80),
        compressed in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let to_set = |v: &[u16]| dedup(v.iter().map(|x| (format!("id{x}").into_bytes(), None)).collect()).unwrap().elements;
        let s = to_set(&server);
        let c = to_set(&client);
        let format = if compressed { SetFormat::Compressed } else { SetFormat::Raw };
        let want = expected(&s, &c);
        let (out, _) = run(Mode::Intersection, format, s.clone(), None, c.clone(), 0, seed);
        prop_assert_eq!(out.unwrap().intersection.unwrap(), want.clone());
        let values: Vec<u64> = (0..s.len() as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect();
        let want_sum: u128 = want.iter().map(|x| values[s.iter().position(|y| y == x).unwrap()] as u128).sum();
        let (out, _) = run(Mode::Sum, format, s.clone(), Some(values.clone()), c.clone(), 0, seed);
        prop_assert_eq!(out.unwrap().intersection_sum, Some(want_sum));
        let (out, sout) = run_revealing(Mode::ServerSum, format, s, Some(values), c, 0, seed % 2 == 0, seed);
        let (out, sout) = (out.unwrap(), sout.unwrap());
        prop_assert_eq!(sout.intersection_sum, Some(want_sum));
        prop_assert_eq!(out.intersection_size, want.len());
        prop_assert_eq!(out.intersection_sum, (seed % 2 == 0).then_some(want_sum));
    }
}

#[test]
fn separate_processes_over_loopback() {
    let dir = std::env::temp_dir().join(format!("shroud-psi-proc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = env!("CARGO_BIN_EXE_shroud");
    // The server and the client each make an identity and pin the other's.
    let mut peers = String::new();
    for role in ["server", "client"] {
        let out = std::process::Command::new(exe)
            .args(["identity", "new", "--out"])
            .arg(dir.join(role))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        peers.push_str(&format!("{role} {}", String::from_utf8_lossy(&out.stdout)));
    }
    let peers_file = dir.join("peers.txt");
    std::fs::write(&peers_file, peers).unwrap();
    let channel = |role: &str| {
        vec![
            "--identity".to_string(),
            dir.join(role).display().to_string(),
            "--peers".to_string(),
            peers_file.display().to_string(),
        ]
    };
    let server_csv = dir.join("server.csv");
    let client_txt = dir.join("client.txt");
    std::fs::write(&server_csv, "id,visits\nAnn,3\nbob,4\ncarol,5\n").unwrap();
    std::fs::write(&client_txt, " ann\nBob\ndave\n").unwrap();
    for (mode, extra, want) in [
        (
            "intersection",
            vec![],
            serde_json::json!({"intersection_size": 2, "intersection": ["ann", "bob"]}),
        ),
        (
            "cardinality",
            vec![],
            serde_json::json!({"intersection_size": 2}),
        ),
        (
            "sum",
            vec!["--values-column", "visits", "--key-bits", "2048"],
            serde_json::json!({"intersection_size": 2, "intersection_sum": 7}),
        ),
        (
            "server-sum",
            vec!["--values-column", "visits", "--key-bits", "2048"],
            serde_json::json!({"intersection_size": 2}),
        ),
        (
            "server-sum",
            vec![
                "--values-column",
                "visits",
                "--key-bits",
                "2048",
                "--reveal-sum",
            ],
            serde_json::json!({"intersection_size": 2, "intersection_sum": 7}),
        ),
    ] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let server = std::process::Command::new(exe)
            .args([
                "psi",
                "serve",
                "--listen",
                &addr,
                "--input",
                server_csv.to_str().unwrap(),
                "--mode",
                mode,
                "--trim",
                "--lowercase",
                "--timeout",
                "60",
                "--json",
            ])
            .args(&extra)
            .args(channel("server"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "psi",
                "query",
                "--connect",
                &addr,
                "--input",
                client_txt.to_str().unwrap(),
                "--mode",
                mode,
                "--trim",
                "--lowercase",
                "--json",
                "--timeout",
                "60",
            ])
            .args(channel("client"))
            .output()
            .unwrap();
        let server = server.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            server.status.success(),
            "server failed in {mode}: {}",
            String::from_utf8_lossy(&server.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got, want, "{mode}");
        let sgot: serde_json::Value = serde_json::from_slice(&server.stdout).unwrap();
        match mode {
            // The key holder learns the sum; in sum mode the server gets only the count.
            "server-sum" => assert_eq!(sgot["intersection_sum"], 7, "{mode}"),
            _ => assert!(sgot.get("intersection_sum").is_none(), "{mode}: {sgot}"),
        }
        if matches!(mode, "sum" | "server-sum") {
            assert_eq!(sgot["intersection_size"], 2, "{mode}");
        }
        let stderr = String::from_utf8_lossy(&server.stderr);
        assert_eq!(
            stderr.contains("--mode server-sum keeps the sum"),
            mode == "sum",
            "{mode}: {stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The server's values under DJN short exponents (`ServerConfig::djn`) give the same sums
/// as key-owner CRT encryption, in the client-sum and the server-sum modes.
#[test]
fn djn_encrypted_values_give_the_same_sums() {
    let server = ids("p", 0..40);
    let client: Vec<Vec<u8>> = ids("p", 10..25).into_iter().chain(ids("q", 0..5)).collect();
    let values: Vec<u64> = (0..40).map(|i| 1_000 + 37 * i).collect();
    let want: u64 = values[10..25].iter().sum();
    for (mode, reveal) in [(Mode::Sum, false), (Mode::ServerSum, true)] {
        let mut config = ServerConfig::new(mode);
        config.djn = true;
        config.reveal_sum = reveal;
        let mut rng = shroud::rng::seeded(41);
        let srv = Server::new(
            config,
            server.clone(),
            Some(values.clone()),
            Some(owned_key()),
            &mut rng,
        )
        .unwrap();
        let mut cconfig = ClientConfig::new(mode);
        cconfig.min_paillier_bits = 1024;
        let cli = Client::new(cconfig, client.clone()).unwrap();
        let (mut a, mut b) = MemoryTransport::pair();
        let h =
            std::thread::spawn(move || psi::run_server(&mut a, srv, &mut shroud::rng::seeded(42)));
        let c = psi::run_client(&mut b, cli, &mut shroud::rng::seeded(43)).unwrap();
        drop(b);
        let s = h.join().unwrap().unwrap();
        assert_eq!(c.intersection_sum, Some(u128::from(want)), "{mode}: client");
        if mode == Mode::ServerSum {
            assert_eq!(s.intersection_sum, Some(u128::from(want)), "{mode}: server");
        }
    }
}
