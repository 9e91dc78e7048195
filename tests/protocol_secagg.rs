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
