//! The engine end to end: the authenticated (SPDZ2k-style) mode with tampering injected at
//! every message, TCP meshes (handshake checks, malformed frames, dropped connections) and
//! `shroud mpc stats` as separate OS processes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use shroud::mpc::spdz::{AuthCorrections, AuthMaterial, AuthParty, AuthRequest, deal};
use shroud::mpc::{FractionalBits, Mesh, MpcError, NoRandomness, Party, Seed, SessionId};
use shroud::net::{ChannelOptions, Identity, NetError, Peers, Security, Transport};

/// Party `i`'s channel set-up among `n` parties with seeded identities, every party pinned
/// under its index.
fn pinned_party(i: usize, n: usize) -> (Security, ChannelOptions) {
    let ids: Vec<Identity> = (0..n)
        .map(|j| Identity::generate(&mut shroud::rng::seeded(1000 + j as u64)))
        .collect();
    let mut peers = Peers::default();
    for (j, id) in ids.iter().enumerate() {
        peers.insert(&j.to_string(), id.fingerprint()).unwrap();
    }
    let me = ids.into_iter().nth(i).unwrap();
    let opts = ChannelOptions::new("mpc", b"test").with_timeout(Duration::from_secs(20));
    (Security::pinned(me, peers), opts)
}

/// A transport that adds 1 to the last byte of the `target`-th frame it sends.
struct Tamper {
    inner: Box<dyn Transport + Send>,
    target: usize,
    sent: Arc<AtomicUsize>,
}

impl Tamper {
    fn alter(&self, msg: &[u8]) -> Vec<u8> {
        let k = self.sent.fetch_add(1, Ordering::SeqCst);
        let mut m = msg.to_vec();
        if k == self.target
            && let Some(b) = m.last_mut()
        {
            *b = b.wrapping_add(1);
        }
        m
    }
}

impl Transport for Tamper {
    fn send(&mut self, msg: &[u8]) -> Result<(), NetError> {
        let m = self.alter(msg);
        self.inner.send(&m)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        self.inner.recv()
    }
    fn exchange(&mut self, msg: &[u8]) -> Result<Vec<u8>, NetError> {
        let m = self.alter(msg);
        self.inner.exchange(&m)
    }
    fn set_max_frame(&mut self, max: usize) {
        self.inner.set_max_frame(max);
    }
    fn bytes_sent(&self) -> u64 {
        self.inner.bytes_sent()
    }
    fn bytes_received(&self) -> u64 {
        self.inner.bytes_received()
    }
}

fn auth_request() -> AuthRequest {
    AuthRequest {
        triples: 3,
        inputs: vec![(0, 3), (2, 3)],
        outputs: 3,
    }
}

/// Honest material for three parties in `session`.
fn auth_material(session: &SessionId) -> Vec<AuthMaterial> {
    let req = auth_request();
    let dealt = deal(3, session, &req, &mut shroud::rng::seeded(1)).unwrap();
    let mut mats =
        vec![AuthMaterial::from_corrections(req.clone(), session, dealt.corrections).unwrap()];
    for (i, s) in dealt.seeds.iter().enumerate() {
        mats.push(AuthMaterial::from_seed(req.clone(), session, i + 1, s).unwrap());
    }
    mats
}

/// Three parties: 0 and 2 input vectors, they are multiplied and revealed. Party 1 cheats
/// on its link to party 0 at frame `tamper` (None: honest). Returns each party's result.
fn authenticated(tamper: Option<usize>) -> Vec<Result<Vec<u64>, MpcError>> {
    authenticated_with(auth_material(&SessionId([1; 32])), tamper)
}

fn authenticated_with(
    mats: Vec<AuthMaterial>,
    tamper: Option<usize>,
) -> Vec<Result<Vec<u64>, MpcError>> {
    let x = [3u64, 5, u64::MAX];
    let y = [7u64, 11, 2];
    let counter = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = Mesh::memory(3)
        .into_iter()
        .zip(mats)
        .enumerate()
        .map(|(i, (mesh, mat))| {
            let mesh = match (i, tamper) {
                (1, Some(t)) => {
                    let counter = counter.clone();
                    mesh.map_links(move |j, inner| {
                        if j == 0 {
                            Box::new(Tamper {
                                inner,
                                target: t,
                                sent: counter.clone(),
                            })
                        } else {
                            inner
                        }
                    })
                }
                _ => mesh,
            };
            std::thread::spawn(move || {
                let mut p = AuthParty::new(mesh, mat)?;
                let me = p.index();
                let a = p.input(0, (me == 0).then_some(&x[..]), 3)?;
                let b = p.input(2, (me == 2).then_some(&y[..]), 3)?;
                let z = p.mul(&a, &b)?;
                let z = z.add(&a)?;
                p.reveal(&z)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn authenticated_mode_computes_correctly() {
    let want: Vec<u64> = vec![
        3 * 7 + 3,
        5 * 11 + 5,
        u64::MAX.wrapping_mul(2).wrapping_add(u64::MAX),
    ];
    for r in authenticated(None) {
        assert_eq!(r.unwrap(), want);
    }
}

#[test]
fn authenticated_material_replayed_from_another_session_aborts() {
    // Parties 1 and 2 get the seeds the dealer sent in session A, replayed into session B
    // (party 0 holds B's corrections). The session is part of every seed's stream, so the
    // MAC key shares and masks no longer fit: the MAC check aborts, nobody gets an output.
    let (sa, sb) = (SessionId([0xa; 32]), SessionId([0xb; 32]));
    let req = auth_request();
    let a = deal(3, &sa, &req, &mut shroud::rng::seeded(11)).unwrap();
    let b = deal(3, &sb, &req, &mut shroud::rng::seeded(12)).unwrap();
    let mut mats = vec![AuthMaterial::from_corrections(req.clone(), &sb, b.corrections).unwrap()];
    for (i, s) in a.seeds.iter().enumerate() {
        mats.push(AuthMaterial::from_seed(req.clone(), &sb, i + 1, &Seed(s.0)).unwrap());
    }
    assert!(mats.iter().all(|m| m.session() == sb));
    for (i, r) in authenticated_with(mats, None).into_iter().enumerate() {
        assert!(
            matches!(&r, Err(MpcError::PeerMisbehaved(why)) if why.contains("MAC check")),
            "party {i}: {r:?}"
        );
    }
}

#[test]
fn authenticated_material_index_and_owners_are_checked() {
    let session = SessionId([3; 32]);
    let req = auth_request();
    let dealt = deal(3, &session, &req, &mut shroud::rng::seeded(1)).unwrap();
    // Party 0's material comes from corrections: a seed for index 0 is refused.
    assert!(matches!(
        AuthMaterial::from_seed(req.clone(), &session, 0, &dealt.seeds[0]),
        Err(MpcError::InvalidInput(_))
    ));
    // Material dealt to party 1, used by party 2 of the mesh.
    let mut meshes = Mesh::memory(3);
    let m2 = meshes.pop().unwrap();
    let mat1 = AuthMaterial::from_seed(req.clone(), &session, 1, &dealt.seeds[0]).unwrap();
    assert_eq!(mat1.party(), 1);
    assert!(matches!(
        AuthParty::new(m2, mat1),
        Err(MpcError::InvalidInput(m)) if m.contains("dealt to party 1")
    ));
    // A crafted request naming an input owner outside the mesh (party 7 of 3), built
    // from corrections of the right length: refused before any indexing by owner.
    let crafted = AuthRequest {
        triples: 0,
        inputs: vec![(7, 2)],
        outputs: 0,
    };
    let mat =
        AuthMaterial::from_corrections(crafted.clone(), &session, AuthCorrections(vec![0; 5]))
            .unwrap();
    let m0 = Mesh::memory(3).into_iter().next().unwrap();
    assert!(matches!(
        AuthParty::new(m0, mat),
        Err(MpcError::InvalidInput(m)) if m.contains("party 7")
    ));
    // Counts that overflow the size arithmetic: an error, no allocation, no panic.
    for huge in [
        AuthRequest {
            triples: usize::MAX / 6 + 1,
            ..AuthRequest::default()
        },
        AuthRequest {
            inputs: vec![(1, usize::MAX / 2 + 1)],
            ..AuthRequest::default()
        },
        AuthRequest {
            inputs: vec![(1, usize::MAX / 4), (1, usize::MAX / 4), (1, 8)],
            ..AuthRequest::default()
        },
        AuthRequest {
            outputs: usize::MAX,
            ..AuthRequest::default()
        },
    ] {
        assert!(matches!(
            AuthMaterial::from_seed(huge.clone(), &session, 1, &dealt.seeds[0]),
            Err(MpcError::InvalidInput(_))
        ));
        assert!(matches!(
            AuthMaterial::from_corrections(huge.clone(), &session, AuthCorrections(vec![])),
            Err(MpcError::InvalidInput(_))
        ));
        assert!(deal(3, &session, &huge, &mut shroud::rng::seeded(1)).is_err());
    }
    // An input call for an owner the material does not expect is an error, not a panic.
    let mut mats = auth_material(&session);
    let mat0 = mats.remove(0);
    let mesh0 = Mesh::memory(3).into_iter().next().unwrap();
    let mut p = AuthParty::new(mesh0, mat0).unwrap();
    assert!(matches!(
        p.input(9, None, 3),
        Err(MpcError::InvalidInput(_))
    ));
}

#[test]
fn tampering_at_every_message_aborts_with_peer_misbehaved() {
    // Party 1 sends 9 frames to party 0: its (empty) input frames, the multiplication
    // opening, and the commit / reveal messages of three coin tosses and checks. Altering
    // any one of them must make party 0 abort with a named check.
    let mut caught = 0;
    for target in 0..9 {
        let results = authenticated(Some(target));
        let r0 = &results[0];
        match r0 {
            Err(MpcError::PeerMisbehaved(why)) => {
                caught += 1;
                assert!(
                    why.contains("MAC check")
                        || why.contains("commitment")
                        || why.contains("operation"),
                    "frame {target}: {why}"
                );
            }
            Err(MpcError::Malformed { .. }) => caught += 1,
            other => {
                // Input frames of a non-owner are empty: altering them changes nothing.
                assert!(
                    target < 2,
                    "frame {target}: party 0 accepted a tampered run: {other:?}"
                );
            }
        }
    }
    assert!(caught >= 7, "only {caught} of 9 tamperings caught");
}

#[test]
fn tcp_mesh_runs_and_checks_indices() {
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let addrs = addrs.clone();
            std::thread::spawn(move || -> Result<Vec<f64>, MpcError> {
                let (security, opts) = pinned_party(i, 3);
                let mesh = Mesh::tcp(i, &addrs, &security, &opts)?;
                let mut p = Party::new(mesh, NoRandomness, FractionalBits::default());
                let rows = vec![vec![i as f64, 10.0 * i as f64], vec![1.0 + i as f64, 3.0]];
                let s = shroud::mpc::stats::joint_stats(
                    &mut p,
                    &["a".into(), "b".into()],
                    &rows,
                    &mut shroud::rng::os_rng(),
                )?;
                Ok(s.mean)
            })
        })
        .collect();
    for h in handles {
        let mean = h.join().unwrap().unwrap();
        assert!(
            (mean[0] - 1.5).abs() < 1e-9 && (mean[1] - 6.5).abs() < 1e-9,
            "{mean:?}"
        );
    }
    // In the insecure mode, a peer that claims the wrong index is refused during the
    // plaintext hello.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addrs = vec![format!("127.0.0.1:{port}"), "127.0.0.1:1".to_string()];
    let a2 = addrs.clone();
    let server = std::thread::spawn(move || {
        let opts = ChannelOptions::new("mpc", b"test").with_timeout(Duration::from_secs(10));
        Mesh::tcp(0, &a2, &Security::insecure_plaintext(), &opts)
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut t =
        shroud::net::TcpTransport::connect(&addrs[0], Duration::from_secs(5), 1 << 20).unwrap();
    let mut hello = b"SHRDMPC1".to_vec();
    for x in [5u32, 0, 2] {
        hello.extend_from_slice(&x.to_be_bytes());
    }
    t.send(&hello).unwrap();
    let err = server.join().unwrap().unwrap_err();
    assert!(err.to_string().contains("claims index 5"), "{err}");
}

#[test]
fn malformed_frames_and_dropped_peers_are_clear_errors() {
    let mut meshes = Mesh::memory(2);
    let m1 = meshes.pop().unwrap();
    let m0 = meshes.pop().unwrap();
    // Party 1 sends garbage instead of an opening.
    let h = std::thread::spawn(move || {
        let mut m1 = m1;
        m1.exchange_all(vec![1, 2, 3]).map(|_| ())
    });
    let mut p0 = Party::new(m0, NoRandomness, FractionalBits::default());
    let err = p0.open_raw(&[1, 2]).unwrap_err();
    assert!(matches!(err, MpcError::Malformed { party: 1, .. }), "{err}");
    h.join().unwrap().unwrap();
    // A replayed opening (the same operation number twice) is misbehaviour.
    let mut meshes = Mesh::memory(2);
    let m1 = meshes.pop().unwrap();
    let m0 = meshes.pop().unwrap();
    let h = std::thread::spawn(move || {
        let mut m1 = m1;
        let mut frame = 0u64.to_be_bytes().to_vec();
        frame.extend_from_slice(&1u32.to_be_bytes());
        frame.extend_from_slice(&9u64.to_le_bytes());
        m1.exchange_all(frame.clone()).unwrap();
        m1.exchange_all(frame).unwrap();
    });
    let mut p0 = Party::new(m0, NoRandomness, FractionalBits::default());
    assert_eq!(p0.open_raw(&[1]).unwrap(), vec![10]);
    let err = p0.open_raw(&[1]).unwrap_err();
    assert!(
        matches!(&err, MpcError::PeerMisbehaved(w) if w.contains("operation 0 during operation 1")),
        "{err}"
    );
    h.join().unwrap();
    // Party 1 has gone: the next opening fails with a closed connection, not a hang.
    let err = p0.open_raw(&[1]).unwrap_err();
    assert!(matches!(err, MpcError::Net(NetError::Closed)), "{err}");
}

#[test]
fn stats_as_separate_processes() {
    let dir = std::env::temp_dir().join(format!("shroud-mpc-proc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        ("h0.csv", "age,bp\n61,145\n45,130\n70,160\n"),
        ("h1.csv", "bp,age,other\n118,38,x\n135,52,y\n"),
        ("h2.csv", "age,bp\n66,128\n59,141\n33,122\n"),
    ];
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let parties = ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let exe = env!("CARGO_BIN_EXE_shroud");
    // Each party makes its identity; the peers file pins all three by index.
    let mut peers = String::new();
    for i in 0..3 {
        let out = std::process::Command::new(exe)
            .args(["identity", "new", "--out"])
            .arg(dir.join(format!("id{i}")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        peers.push_str(&format!("{i} {}", String::from_utf8_lossy(&out.stdout)));
    }
    std::fs::write(dir.join("peers.txt"), peers).unwrap();
    // All three run at once (each waits for the others).
    let procs: Vec<_> = (0..3)
        .map(|i| {
            std::process::Command::new(exe)
                .args([
                    "mpc",
                    "stats",
                    "--party",
                    &i.to_string(),
                    "--parties",
                    &parties,
                    "--input",
                ])
                .arg(dir.join(files[i].0))
                .arg("--identity")
                .arg(dir.join(format!("id{i}")))
                .arg("--peers")
                .arg(dir.join("peers.txt"))
                .args(["--columns", "age,bp", "--json", "--timeout", "60"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for p in procs {
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["count"], 8);
        assert!((v["mean"]["age"].as_f64().unwrap() - 53.0).abs() < 1e-9);
        assert!((v["mean"]["bp"].as_f64().unwrap() - 134.875).abs() < 1e-9);
        assert!((v["covariance"][0][1].as_f64().unwrap() - 143.571_428_571_428_58).abs() < 1e-6);
    }
    std::fs::remove_dir_all(&dir).ok();
}
