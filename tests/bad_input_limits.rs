//! Resource limits against a hostile peer, one protocol at a time: a peer that announces
//! a huge frame (the allocation bomb) and a peer that trickles bytes (slowloris). Each
//! honest party runs as its own process (`shroud psi serve | query`, `shroud mpc stats`)
//! under an address-space cap, and its peak resident memory is read from /proc while it
//! runs: it must refuse with a clear error, within its timeout, without growing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shroud::psi::Mode;
use shroud::psi::msgs::{Message, PROTOCOL_VERSION, ServerHello, SetFormat};

/// Address-space cap for the honest party (its normal peak is tens of MiB).
const CAP: u64 = 512 << 20;
/// Peak resident memory allowed.
const MAX_RSS_KIB: u64 = 128 * 1024;

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_shroud")
}

fn port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("shroud-limits-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts the shroud CLI under `prlimit --as` when the machine has it.
fn spawn(args: &[&str]) -> Child {
    let capped = Command::new("prlimit").arg("--version").output().is_ok();
    let mut cmd = if capped {
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={CAP}")).arg("--").arg(exe());
        c
    } else {
        Command::new(exe())
    };
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the child, polling its peak RSS; returns (stderr, peak KiB, elapsed).
fn watch(mut child: Child, start: Instant) -> (String, u64, Duration) {
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            let hwm = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert_eq!(
                status.code(),
                Some(2),
                "expected a clean refusal, got {status}: {err}"
            );
            return (err, peak, start.elapsed());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the party never gave up"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn connect(addr: &str) -> TcpStream {
    let start = Instant::now();
    loop {
        if let Ok(s) = TcpStream::connect(addr) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nobody listens on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// A frame that announces 1 GiB of one-byte items, and sends all of it unless the peer
/// hangs up first (a party that buffered it would pass the address-space cap).
fn bomb(s: &mut TcpStream, kind: u8) {
    let mut head = ((1u32 << 30) - 1).to_be_bytes().to_vec();
    head.push(kind);
    head.extend_from_slice(&((1u32 << 30) - 20).to_be_bytes());
    head.extend_from_slice(&1u32.to_be_bytes());
    let _ = s.write_all(&head);
    let chunk = vec![7u8; 1 << 16];
    for _ in 0..(1 << 14) {
        if s.write_all(&chunk).is_err() {
            break;
        }
    }
}

/// Writes `head` and then more bytes, one every 100 ms, for up to 10 s or until the peer
/// hangs up: a peer that is never idle for a whole read timeout, and never done.
fn trickle(s: &mut TcpStream, head: &[u8]) {
    for b in head.iter().copied().chain(std::iter::repeat_n(1u8, 100)) {
        if s.write_all(&[b]).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn psi_server(d: &std::path::Path, addr: &str) -> Child {
    let input = d.join("set.txt");
    std::fs::write(&input, "ann\nbob\n").unwrap();
    spawn(&[
        "psi",
        "serve",
        "--listen",
        addr,
        "--input",
        input.to_str().unwrap(),
        "--mode",
        "intersection",
        "--insecure-plaintext",
        "--timeout",
        "2",
    ])
}

#[test]
fn psi_server_refuses_an_allocation_bomb() {
    let d = dir("psi-bomb");
    let addr = port();
    let start = Instant::now();
    let child = psi_server(&d, &addr);
    let mut s = connect(&addr);
    let hello = read_frame(&mut s);
    assert!(matches!(
        Message::decode(&hello),
        Ok(Message::ServerHello(_))
    ));
    let t = std::thread::spawn(move || bomb(&mut s, 2));
    let (err, peak, _) = watch(child, start);
    let _ = t.join();
    assert!(err.contains("over the limit of 33554496"), "{err}");
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
}

#[test]
fn psi_server_drops_a_trickling_client() {
    let d = dir("psi-slow");
    let addr = port();
    let start = Instant::now();
    let child = psi_server(&d, &addr);
    let mut s = connect(&addr);
    let _ = read_frame(&mut s);
    let t = std::thread::spawn(move || trickle(&mut s, &[0, 0, 0, 69, 2, 0, 0, 0, 2]));
    let connected = Instant::now();
    let (err, peak, _) = watch(child, start);
    let _ = t.join();
    assert!(err.contains("timed out after 2s"), "{err}");
    // One deadline for the whole message: 2 s, however the bytes trickle.
    assert!(
        connected.elapsed() < Duration::from_secs(10),
        "{:?}",
        connected.elapsed()
    );
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
}

/// A fake server for `psi query`: a plausible hello, then `then`.
fn psi_client_against(then: fn(&mut TcpStream), name: &str) -> (String, u64, Duration) {
    let d = dir(name);
    let input = d.join("set.txt");
    std::fs::write(&input, "ann\nbob\n").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let start = Instant::now();
    let child = spawn(&[
        "psi",
        "query",
        "--connect",
        &addr,
        "--input",
        input.to_str().unwrap(),
        "--mode",
        "intersection",
        "--insecure-plaintext",
        "--timeout",
        "2",
    ]);
    let (mut s, _) = listener.accept().unwrap();
    let oprf = shroud::psi::oprf::OprfKey::random(&mut shroud::rng::seeded(1));
    let hello = Message::ServerHello(ServerHello {
        version: PROTOCOL_VERSION,
        mode: Mode::Intersection,
        session_id: [1; 16],
        public_key: oprf.public_key().compress().to_bytes(),
        label: b"shroud-psi".to_vec(),
        server_count: 2,
        threshold: 0,
        format: SetFormat::Raw,
        reveal_sum: false,
        paillier_n: None,
        paillier_proof: None,
    })
    .encode();
    s.write_all(&(hello.len() as u32).to_be_bytes()).unwrap();
    s.write_all(&hello).unwrap();
    let _request = read_frame(&mut s);
    let t = std::thread::spawn(move || then(&mut s));
    let r = watch(child, start);
    let _ = t.join();
    r
}

#[test]
fn psi_client_refuses_an_allocation_bomb() {
    // Two server elements against two client elements: the response needs about 200
    // bytes, so a 1 GiB announcement is refused before any of it is read.
    let (err, peak, _) = psi_client_against(|s| bomb(s, 3), "psi-client-bomb");
    assert!(
        err.contains("peer sent a frame of 1073741823 bytes"),
        "{err}"
    );
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
}

#[test]
fn psi_client_drops_a_trickling_server() {
    let (err, peak, elapsed) = psi_client_against(
        |s| trickle(s, &[0, 0, 0, 99, 3, 0, 0, 0, 2]),
        "psi-client-slow",
    );
    assert!(err.contains("timed out after 2s"), "{err}");
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
}

/// `mpc stats` as party 0 of 2, with the test playing party 1 in the insecure mode
/// (whose plaintext hello the test can write by hand).
fn mpc_against(then: fn(&mut TcpStream), name: &str) -> (String, u64, Duration) {
    let d = dir(name);
    let input = d.join("rows.csv");
    std::fs::write(&input, "age\n40\n50\n").unwrap();
    let (a0, a1) = (port(), port());
    let parties = format!("{a0},{a1}");
    let start = Instant::now();
    let child = spawn(&[
        "mpc",
        "stats",
        "--party",
        "0",
        "--parties",
        &parties,
        "--input",
        input.to_str().unwrap(),
        "--columns",
        "age",
        "--insecure-plaintext",
        "--timeout",
        "2",
    ]);
    let mut s = connect(&a0);
    let mut hello = b"SHRDMPC1".to_vec();
    for x in [1u32, 0, 2] {
        hello.extend_from_slice(&x.to_be_bytes());
    }
    s.write_all(&(hello.len() as u32).to_be_bytes()).unwrap();
    s.write_all(&hello).unwrap();
    assert_eq!(read_frame(&mut s), b"ok");
    let t = std::thread::spawn(move || then(&mut s));
    let r = watch(child, start);
    let _ = t.join();
    r
}

#[test]
fn mpc_party_refuses_an_allocation_bomb() {
    let (err, peak, _) = mpc_against(|s| bomb(s, 0), "mpc-bomb");
    assert!(
        err.contains("peer sent a frame of 1073741823 bytes"),
        "{err}"
    );
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
}

#[test]
fn mpc_party_drops_a_trickling_peer() {
    let (err, peak, elapsed) = mpc_against(|s| trickle(s, &[0, 0, 0, 28, 0, 0, 0, 0]), "mpc-slow");
    assert!(err.contains("timed out after 2s"), "{err}");
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
}
