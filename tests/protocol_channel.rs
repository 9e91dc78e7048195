//! The channel layer as an attacker meets it: pinned keys, a man in the middle with its
//! own key, an eavesdropper recording every byte, tampered records, trickling and lying
//! peers. Each party is a thread; the network is loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shroud::mpc::{FractionalBits, Mesh, NoRandomness, Party};
use shroud::net::{
    ChannelOptions, Identity, NetError, Peers, Security, Transport, accept, connect,
};

fn id(seed: u64) -> Identity {
    Identity::generate(&mut shroud::rng::seeded(seed))
}

fn peers(entries: &[(&str, &Identity)]) -> Peers {
    let mut p = Peers::default();
    for (name, id) in entries {
        p.insert(name, id.fingerprint()).unwrap();
    }
    p
}

fn opts(timeout_ms: u64) -> ChannelOptions {
    ChannelOptions::new("test", b"session").with_timeout(Duration::from_millis(timeout_ms))
}

fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    (l, a)
}

type Serve = std::thread::JoinHandle<Result<(Box<dyn Transport + Send>, String), NetError>>;

/// A server thread with `server_id` that pins `pins` and accepts `allow`.
fn serve(l: TcpListener, server_id: Identity, pins: Peers, allow: &'static str) -> Serve {
    std::thread::spawn(move || {
        accept(&l, &Security::pinned(server_id, pins), &opts(2000), |n| {
            n == allow
        })
    })
}

#[test]
fn pinned_peers_talk_and_frames_of_any_size_arrive_whole() {
    let (s, c) = (id(1), id(2));
    let pins = peers(&[("server", &s), ("client", &c)]);
    let (l, addr) = listener();
    let server = serve(l, s, pins.clone(), "client");
    let mut t = connect(&addr, &Security::pinned(c, pins), &opts(5000), "server").unwrap();
    let (mut st, who) = server.join().unwrap().unwrap();
    assert_eq!(who, "client");
    // Empty, one record, exactly at record boundaries, many records; both directions at
    // once (exchange) with 8 MB each, which would deadlock without a writer thread.
    for len in [0usize, 1, 65515, 65516, 65519, 65520, 200_000] {
        let msg: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        t.send(&msg).unwrap();
        assert_eq!(st.recv().unwrap(), msg, "length {len}");
    }
    let big_a = vec![0xA5u8; 8 << 20];
    let big_b = vec![0x5Au8; 8 << 20];
    let h = std::thread::spawn(move || st.exchange(&big_b).map(|m| (m, st)));
    assert_eq!(t.exchange(&big_a).unwrap(), vec![0x5Au8; 8 << 20]);
    let (got, _st) = h.join().unwrap().unwrap();
    assert_eq!(got, big_a);
}

#[test]
fn a_server_with_another_key_is_refused_before_the_client_reveals_itself() {
    let (s, c, impostor) = (id(1), id(2), id(3));
    let client_pins = peers(&[("server", &s), ("client", &c)]);
    // The impostor pins the client (it would like to talk to it) but has its own key.
    let (l, addr) = listener();
    let server = serve(l, impostor, peers(&[("client", &c)]), "client");
    let err = connect(
        &addr,
        &Security::pinned(c, client_pins),
        &opts(3000),
        "server",
    )
    .err()
    .unwrap();
    assert!(matches!(err, NetError::UnknownPeer(_)), "{err}");
    assert!(err.to_string().contains("not pinned"), "{err}");
    // The impostor never learns who the client is: the client hung up before message 3.
    let server_err = server.join().unwrap().err().unwrap();
    assert!(
        matches!(server_err, NetError::Closed | NetError::Handshake(_)),
        "{server_err}"
    );
}

#[test]
fn a_client_the_server_does_not_pin_is_refused_and_told_so() {
    let (s, c, stranger) = (id(1), id(2), id(4));
    let (l, addr) = listener();
    let server = serve(l, s, peers(&[("client", &c)]), "client");
    let stranger_pins = peers(&[("server", &id(1))]);
    let err = connect(
        &addr,
        &Security::pinned(stranger, stranger_pins),
        &opts(3000),
        "server",
    )
    .err()
    .unwrap();
    assert!(matches!(err, NetError::UnknownPeer(_)), "{err}");
    let server_err = server.join().unwrap().err().unwrap();
    assert!(
        matches!(&server_err, NetError::UnknownPeer(m) if m.contains("unpinned key")),
        "{server_err}"
    );
    // A pinned peer under a name the server does not accept here is refused too.
    let (s, c) = (id(1), id(2));
    let (l, addr) = listener();
    let server = serve(
        l,
        s,
        peers(&[("client", &c), ("auditor", &id(5))]),
        "auditor",
    );
    let _ = connect(
        &addr,
        &Security::pinned(c, peers(&[("server", &id(1))])),
        &opts(3000),
        "server",
    );
    let server_err = server.join().unwrap().err().unwrap();
    assert!(
        server_err.to_string().contains("not allowed"),
        "{server_err}"
    );
}

#[test]
fn another_protocol_or_session_cannot_use_the_channel() {
    let (s, c) = (id(1), id(2));
    let pins = peers(&[("server", &s), ("client", &c)]);
    let (l, addr) = listener();
    let server = serve(l, s, pins.clone(), "client");
    let other =
        ChannelOptions::new("test", b"another session").with_timeout(Duration::from_secs(3));
    let err = connect(&addr, &Security::pinned(c, pins), &other, "server")
        .err()
        .unwrap();
    assert!(matches!(err, NetError::Handshake(_)), "{err}");
    assert!(server.join().unwrap().is_err());
}

/// A TCP relay between a client and `target` that records what passes and may rewrite one
/// byte (counted over client-to-server traffic).
struct Relay {
    addr: String,
    seen: Arc<Mutex<Vec<u8>>>,
}

fn relay(target: String, flip_at: Option<usize>) -> Relay {
    let (l, addr) = listener();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        let Ok((client, _)) = l.accept() else { return };
        // The target may still be starting (a busy machine): retry for a while.
        let start = Instant::now();
        let server = loop {
            match TcpStream::connect(&target) {
                Ok(s) => break s,
                Err(_) if start.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(_) => return,
            }
        };
        let pump = |mut from: TcpStream,
                    mut to: TcpStream,
                    flip: Option<usize>,
                    seen: Arc<Mutex<Vec<u8>>>| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut total = 0usize;
                loop {
                    let n = match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if let Some(k) = flip
                        && (total..total + n).contains(&k)
                    {
                        buf[k - total] ^= 1;
                    }
                    total += n;
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(std::net::Shutdown::Both);
            })
        };
        let a = pump(
            client.try_clone().unwrap(),
            server.try_clone().unwrap(),
            flip_at,
            seen2.clone(),
        );
        let b = pump(server, client, None, seen2);
        let _ = (a.join(), b.join());
    });
    Relay { addr, seen }
}

/// Two parties open 64 distinctive values each over a mesh whose one link goes through a
/// recording relay; returns what the relay saw.
fn open_through_relay(security: impl Fn(usize) -> Security) -> (Vec<u8>, Vec<u64>) {
    let (l0, a0) = listener();
    drop(l0);
    let (l1, a1) = listener();
    drop(l1);
    let r = relay(a0.clone(), None);
    let values: Vec<u64> = (0..64u64)
        .map(|i| 0x5EC2_E7A1_0000_0000 | (i * 0x1_0001))
        .collect();
    let handles: Vec<_> = (0..2)
        .map(|i| {
            // Party 1 reaches party 0 through the relay.
            let addrs = if i == 0 {
                vec![a0.clone(), a1.clone()]
            } else {
                vec![r.addr.clone(), a1.clone()]
            };
            let sec = security(i);
            let values = values.clone();
            std::thread::spawn(move || {
                let mesh = Mesh::tcp(i, &addrs, &sec, &opts(10_000)).unwrap();
                let mut p = Party::new(mesh, NoRandomness, FractionalBits::default());
                let mine: Vec<u64> = values
                    .iter()
                    .map(|v| v.wrapping_mul(i as u64 + 1))
                    .collect();
                p.open_raw(&mine).unwrap()
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let seen = r.seen.lock().unwrap().clone();
    let mut shares = values.clone();
    shares.extend(values.iter().map(|v| v.wrapping_mul(2)));
    (seen, shares)
}

fn contains_any(hay: &[u8], values: &[u64]) -> usize {
    values
        .iter()
        .filter(|v| {
            let (le, be) = (v.to_le_bytes(), v.to_be_bytes());
            hay.windows(8).any(|w| w == le || w == be)
        })
        .count()
}

#[test]
fn an_eavesdropper_sees_no_share() {
    let ids: Vec<Identity> = (0..2).map(|i| id(10 + i)).collect();
    let pins = peers(&[("0", &ids[0]), ("1", &ids[1])]);
    let (seen, shares) = open_through_relay(|i| Security::pinned(id(10 + i as u64), pins.clone()));
    assert!(
        seen.len() > 128 * 8,
        "the relay saw only {} bytes",
        seen.len()
    );
    assert_eq!(
        contains_any(&seen, &shares),
        0,
        "a share crossed the wire in the clear"
    );
    // The control: the same run in plaintext shows every share to the relay, so the check
    // above would have caught a leak.
    let (seen, shares) = open_through_relay(|_| Security::insecure_plaintext());
    assert_eq!(contains_any(&seen, &shares), shares.len());
}

#[test]
fn a_tampered_record_ends_the_channel() {
    let (s, c) = (id(1), id(2));
    let pins = peers(&[("server", &s), ("client", &c)]);
    let (l, addr) = listener();
    let server = serve(l, s, pins.clone(), "client");
    // Handshake messages 1 and 3 from the client are 34 and 66 bytes with their length
    // prefixes; flip a bit well inside the first application record after them.
    let r = relay(addr, Some(34 + 66 + 40));
    let mut t = connect(&r.addr, &Security::pinned(c, pins), &opts(3000), "server").unwrap();
    let (mut st, _) = server.join().unwrap().unwrap();
    t.send(&[7u8; 100]).unwrap();
    assert!(matches!(st.recv(), Err(NetError::BadRecord)));
    // The channel stays closed: no later record is accepted.
    assert!(matches!(st.recv(), Err(NetError::Broken)));
}

/// A peer that connects and then writes one byte every `gap`.
fn trickle(addr: String, bytes: Vec<u8>, gap: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(mut s) = TcpStream::connect(addr) else {
            return;
        };
        for b in bytes {
            if s.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(gap);
        }
    })
}

#[test]
fn a_trickling_peer_cannot_stall_a_handshake_or_a_frame() {
    // Handshake: the Noise responder must give up within its timeout even though a byte
    // arrives every 100 ms (a per-read timeout would wait forever).
    let (l, addr) = listener();
    let _t = trickle(
        addr,
        vec![0, 32].into_iter().chain([1u8; 200]).collect(),
        Duration::from_millis(100),
    );
    let start = Instant::now();
    let err = accept(
        &l,
        &Security::pinned(id(1), Peers::default()),
        &opts(1000),
        |_| true,
    )
    .err()
    .unwrap();
    assert!(matches!(err, NetError::Timeout(_)), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    // Plaintext frames: the length prefix itself arrives a byte at a time.
    let (l, addr) = listener();
    let _t = trickle(
        addr,
        vec![0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
        Duration::from_millis(150),
    );
    let mut t = accept(&l, &Security::insecure_plaintext(), &opts(600), |_| true)
        .unwrap()
        .0;
    let start = Instant::now();
    assert!(matches!(t.recv(), Err(NetError::Timeout(_))));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn frames_over_the_limit_are_refused_before_buffering() {
    let (s, c) = (id(1), id(2));
    let pins = peers(&[("server", &s), ("client", &c)]);
    let (l, addr) = listener();
    let server = serve(l, s, pins.clone(), "client");
    let mut t = connect(&addr, &Security::pinned(c, pins), &opts(3000), "server").unwrap();
    let (mut st, _) = server.join().unwrap().unwrap();
    st.set_max_frame(1000);
    t.send(&[1u8; 1001]).unwrap();
    assert!(matches!(
        st.recv(),
        Err(NetError::FrameTooLarge {
            len: 1001,
            max: 1000
        })
    ));
    // The rest of the refused frame is still in the stream: the channel is given up
    // rather than read out of step.
    t.send(b"next").unwrap();
    assert!(matches!(st.recv(), Err(NetError::Broken)));
}

#[test]
fn a_slow_reader_cannot_stall_a_send() {
    // The peer reads one byte every 100 ms: a 16 MiB frame must fail to send within the
    // deadline instead of blocking for days (a per-write timeout would never fire).
    let (l, addr) = listener();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0u8; 1];
        for _ in 0..20 {
            if s.read(&mut b).unwrap_or(0) == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut t = connect(&addr, &Security::insecure_plaintext(), &opts(800), "peer").unwrap();
    let start = Instant::now();
    let err = t.send(&vec![0u8; 16 << 20]).unwrap_err();
    assert!(matches!(err, NetError::Timeout(_)), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    drop(t);
    reader.join().unwrap();
}

#[test]
fn strangers_and_stalled_connections_do_not_lock_out_the_real_peer() {
    let (s, c, stranger) = (id(1), id(2), id(6));
    let pins = peers(&[("server", &s), ("client", &c)]);
    let (l, addr) = listener();
    let server = serve(l, s, pins.clone(), "client");
    // A port scanner that connects and says nothing, and a stranger with an unpinned key.
    let _silent = TcpStream::connect(&addr).unwrap();
    let stranger_pins = peers(&[("server", &id(1))]);
    assert!(
        connect(
            &addr,
            &Security::pinned(stranger, stranger_pins),
            &opts(1500),
            "server"
        )
        .is_err()
    );
    // The pinned client still gets in, well before the silent connection's deadline.
    let start = Instant::now();
    let mut t = connect(&addr, &Security::pinned(c, pins), &opts(1500), "server").unwrap();
    let (mut st, who) = server.join().unwrap().unwrap();
    assert_eq!(who, "client");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    t.send(b"in").unwrap();
    assert_eq!(st.recv().unwrap(), b"in");
}

#[test]
fn a_mesh_refuses_a_party_twice_and_a_lower_index() {
    let ids: Vec<Identity> = (0..3).map(|i| id(20 + i)).collect();
    let pins = peers(&[("0", &ids[0]), ("1", &ids[1]), ("2", &ids[2])]);
    let (l0, a0) = listener();
    drop(l0);
    let addrs = vec![a0.clone(), "127.0.0.1:9".into(), "127.0.0.1:9".into()];
    let p0 = Security::pinned(id(20), pins.clone());
    let party0 = std::thread::spawn(move || Mesh::tcp(0, &addrs, &p0, &opts(2500)));
    // Party 1's key twice (say, a stolen key replayed), and party 0's own key as a peer.
    let as1 = Security::pinned(id(21), pins.clone());
    let first = connect(&a0, &as1, &opts(2000), "0").unwrap();
    let second = connect(&a0, &as1, &opts(2000), "0");
    let as0 = Security::pinned(id(20), pins);
    assert!(
        connect(&a0, &as0, &opts(2000), "0").is_err(),
        "a lower index was let in"
    );
    let err = party0.join().unwrap().unwrap_err().to_string();
    // Party 1 counted once, party 0's key not at all: party 2 is still missing.
    assert!(err.contains("parties 2 did not connect"), "{err}");
    drop((first, second));
}
