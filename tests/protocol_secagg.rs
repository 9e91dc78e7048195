//! Secure aggregation with separate OS processes over authenticated channels: a server
//! and one `shroud secagg join` process per client, pinned by identity. One client is
//! killed (SIGKILL) while the server waits for its masked input, one exits abruptly right
//! after advertising its keys, and a process with an identity nobody pinned is refused;
//! the server still prints the sum of the others.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_shroud")
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shroud-secagg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn identity(dir: &Path, name: &str) -> String {
    let out = Command::new(exe())
        .args(["identity", "new", "--out"])
        .arg(dir.join(name))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn join(dir: &Path, addr: &str, who: &str, input: &Path, extra: &[&str]) -> Child {
    Command::new(exe())
        .args([
            "secagg",
            "join",
            "--connect",
            addr,
            "--timeout",
            "20",
            "--input",
        ])
        .arg(input)
        .arg("--identity")
        .arg(dir.join(who))
        .arg("--peers")
        .arg(dir.join("peers.txt"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn separate_processes_with_a_killed_client_and_an_impostor() {
    let dir = tmpdir("procs");
    let n = 6u32;
    let mut peers = format!("server {}\n", identity(&dir, "server"));
    for i in 0..n {
        peers.push_str(&format!(
            "client-{i} {}\n",
            identity(&dir, &format!("c{i}"))
        ));
    }
    identity(&dir, "impostor");
    std::fs::write(dir.join("peers.txt"), &peers).unwrap();
    let inputs: Vec<Vec<u64>> = (0..n as u64).map(|i| vec![i, 10 * i, 1000 + i]).collect();
    for (i, v) in inputs.iter().enumerate() {
        let line: Vec<String> = v.iter().map(u64::to_string).collect();
        std::fs::write(dir.join(format!("x{i}.csv")), line.join(",")).unwrap();
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let server = Command::new(exe())
        .args([
            "secagg",
            "serve",
            "--listen",
            &addr,
            "--clients",
            &n.to_string(),
        ])
        .args(["--dim", "3", "--round-timeout", "4", "--json", "--identity"])
        .arg(dir.join("server"))
        .arg("--peers")
        .arg(dir.join("peers.txt"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The impostor's key is not pinned: refused during the handshake.
    let impostor = join(&dir, &addr, "impostor", &dir.join("x0.csv"), &["--id", "0"]);
    let mut clients = Vec::new();
    for i in 0..n {
        let extra: &[&str] = match i {
            2 => &["--vanish-after", "1"], // exits abruptly after advertising keys
            4 => &["--stall-after", "2"],  // shares keys, then goes silent: killed below
            _ => &[],
        };
        clients.push(join(
            &dir,
            &addr,
            &format!("c{i}"),
            &dir.join(format!("x{i}.csv")),
            extra,
        ));
    }
    // Client 4 has sent its shares and is silent; kill it while the server waits for its
    // masked input.
    std::thread::sleep(Duration::from_secs(2));
    clients[4].kill().unwrap();
    let out = server.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let included = [0usize, 1, 3, 5];
    let want: Vec<u64> = (0..3)
        .map(|j| included.iter().map(|&i| inputs[i][j]).sum())
        .collect();
    assert_eq!(v["sum"], serde_json::json!(want), "{err}");
    assert_eq!(v["survivors"], serde_json::json!(included));
    assert_eq!(v["dropped"], serde_json::json!([2, 4]));
    assert!(err.contains("refused"), "{err}");
    let imp = impostor.wait_with_output().unwrap();
    assert!(!imp.status.success());
    for (i, c) in clients.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        if included.contains(&i) {
            assert!(
                o.status.success(),
                "client {i}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        } else {
            assert!(!o.status.success(), "client {i} should have died");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn local_mode_prints_the_sum_and_refuses_too_many_dropouts() {
    let dir = tmpdir("local");
    let csv = dir.join("in.csv");
    std::fs::write(&csv, "w1,w2\n1,2\n30,40\n500,600\n7,8\n").unwrap();
    let run = |extra: &[&str]| {
        Command::new(exe())
            .args(["secagg", "local", "--json", "--inputs"])
            .arg(&csv)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--drop", "2:1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sum"], serde_json::json!([508, 610]));
    assert_eq!(v["survivors"], serde_json::json!([0, 2, 3]));
    assert_eq!(v["dropped"], serde_json::json!([1]));
    // Dropped after the masked input: still in the sum.
    let out = run(&["--drop", "3:1", "--graph", "harary"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sum"], serde_json::json!([538, 650]));
    let out = run(&["--drop", "1:1", "--drop", "2:2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("too many dropouts") && err.contains("needed"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Over authenticated TCP in one process: a client that sends garbage and one that
/// replays its first message are dropped with clear reasons, and the others' sum is
/// unaffected.
#[test]
fn garbage_and_replayed_messages_drop_only_their_sender() {
    use shroud::net::{ChannelOptions, Identity, Peers, Security, Transport, connect};
    use shroud::secagg::driver::{Hello, client_name, join, serve};
    use shroud::secagg::{Client, GraphKind, Message, Params, Tolerance};

    let mut rng = shroud::rng::seeded(11);
    let n = 5u32;
    let server_id = Identity::generate(&mut rng);
    let ids: Vec<Identity> = (0..n).map(|_| Identity::generate(&mut rng)).collect();
    let mut pins = Peers::default();
    pins.insert("server", server_id.fingerprint()).unwrap();
    for (i, id) in ids.iter().enumerate() {
        pins.insert(&client_name(i as u32), id.fingerprint())
            .unwrap();
    }
    let tol = Tolerance::new(0.4, 0.0).unwrap();
    let params = Params::derive(n, 4, 16, GraphKind::Complete, tol, [8u8; 32]).unwrap();
    assert_eq!(params.threshold(), 3);
    let opts = ChannelOptions::new("secagg", b"test").with_timeout(Duration::from_secs(3));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server_sec = Security::pinned(server_id, pins.clone());
    let (o, p) = (opts.clone(), params.clone());
    let server = std::thread::spawn(move || serve(&listener, &server_sec, &o, &p));
    let mut handles = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let sec = Security::pinned(id, pins.clone());
        let (addr, opts) = (addr.clone(), opts.clone());
        handles.push(std::thread::spawn(move || -> Result<(), String> {
            let i = i as u32;
            let input = vec![u64::from(i) + 1; 4];
            if i < 3 {
                return join(
                    &addr,
                    &sec,
                    &opts,
                    i,
                    input,
                    &mut shroud::rng::os_rng(),
                    |_| {},
                )
                .map_err(|e| e.to_string());
            }
            let mut t = connect(&addr, &sec, &opts, "server").map_err(|e| e.to_string())?;
            let params = Hello::decode(&t.recv().map_err(|e| e.to_string())?).unwrap();
            if i == 3 {
                t.send(b"\x01\x01garbage").unwrap();
            } else {
                let (m, _) = Client::new(&params, i, input)
                    .unwrap()
                    .advertise(&mut shroud::rng::os_rng());
                let frame = Message::AdvertiseKeys(m).encode(&params);
                t.send(&frame).unwrap();
                let _key_list = t.recv().unwrap();
                t.send(&frame).unwrap(); // replayed instead of the shares
            }
            // The server ends this client's session with an abort.
            match t.recv() {
                Ok(f) => Err(Message::abort_reason(&f).unwrap_or_default()),
                Err(e) => Err(e.to_string()),
            }
        }));
    }
    let report = server.join().unwrap().unwrap();
    assert_eq!(report.aggregate.survivors, vec![0, 1, 2]);
    assert_eq!(report.aggregate.sum, vec![6; 4]);
    let events = report.events.join("\n");
    assert!(events.contains("client 3 dropped: malformed"), "{events}");
    assert!(
        events.contains(
            "client 4 dropped: unexpected message: expected EncryptedShares, got AdvertiseKeys"
        ),
        "{events}"
    );
    for (i, h) in handles.into_iter().enumerate() {
        let r = h.join().unwrap();
        if i < 3 {
            r.unwrap();
        } else {
            let reason = r.unwrap_err();
            assert!(reason.contains("dropped"), "client {i}: {reason}");
        }
    }
}
