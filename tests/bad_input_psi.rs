//! Hostile peers and broken transports: every bad message gets a precise error, never a
//! panic or a hang.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use shroud::net::MemoryTransport;
use shroud::net::{NetError, TcpTransport, Transport};
use shroud::paillier::Plaintext;
use shroud::paillier::SecretKey;
use shroud::psi::msgs::{
    ClientRequest, EncodedSet, ServerHello, ServerResponse, SharesRequest, SumReply, SumRequest,
};
use shroud::psi::{
    self, Client, ClientAwaitResponse, ClientConfig, ClientStep, Message, Mode, PsiError, Server,
    ServerConfig, ServerNext, SetFormat,
};

fn owned_key() -> SecretKey {
    let (p, q) = common::key(1024).primes_vartime();
    SecretKey::from_primes(&p, &q).unwrap()
}

fn ids(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}{i}").into_bytes())
        .collect()
}

fn server(mode: Mode, format: SetFormat) -> Server {
    let mut cfg = ServerConfig::new(mode);
    cfg.format = format;
    let (values, key) = if matches!(mode, Mode::Sum | Mode::Shares | Mode::ServerSum) {
        (Some(vec![7; 20]), Some(owned_key()))
    } else {
        (None, None)
    };
    Server::new(cfg, ids("e", 20), values, key, &mut shroud::rng::seeded(1)).unwrap()
}

fn client(mode: Mode) -> Client {
    let mut cfg = ClientConfig::new(mode);
    cfg.min_paillier_bits = 1024;
    Client::new(cfg, ids("e", 10)).unwrap()
}

/// Runs to the point where the client holds the server's response.
fn to_response(mode: Mode, format: SetFormat) -> (ClientAwaitResponse, ServerResponse, ServerNext) {
    let mut rng = shroud::rng::seeded(2);
    let (hello, s) = server(mode, format).start(&mut rng);
    let (req, c) = client(mode).start(hello, &mut rng).unwrap();
    let (resp, next) = s.respond(req, &mut rng).unwrap();
    (c, resp, next)
}

#[test]
fn server_rejects_invalid_blinded_points() {
    let mut rng = shroud::rng::seeded(3);
    let (_, s) = server(Mode::Intersection, SetFormat::Raw).start(&mut rng);
    let mut blinded = vec![[0u8; 32]; 3];
    blinded[0] = curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED.to_bytes();
    blinded[2] = curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED.to_bytes();
    // blinded[1] is the identity.
    match s.respond(ClientRequest { blinded }, &mut rng) {
        Err(PsiError::InvalidPoint { index: 1, reason }) => assert!(reason.contains("identity")),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("identity accepted"),
    }
    let (_, s) = server(Mode::Intersection, SetFormat::Raw).start(&mut rng);
    let mut bad = [0xffu8; 32];
    bad[31] = 0x7f; // >= p: non-canonical
    match s.respond(ClientRequest { blinded: vec![bad] }, &mut rng) {
        Err(PsiError::InvalidPoint { index: 0, reason }) => assert!(reason.contains("canonical")),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("non-canonical point accepted"),
    }
}

#[test]
fn client_rejects_bad_hellos() {
    let mut rng = shroud::rng::seeded(4);
    let (hello, _) = server(Mode::Intersection, SetFormat::Raw).start(&mut rng);
    let cases: Vec<(ServerHello, &str)> = vec![
        (
            ServerHello {
                version: 9,
                ..hello.clone()
            },
            "version",
        ),
        (
            ServerHello {
                mode: Mode::Cardinality,
                ..hello.clone()
            },
            "mode",
        ),
        (
            ServerHello {
                label: b"other".to_vec(),
                ..hello.clone()
            },
            "label",
        ),
        (
            ServerHello {
                public_key: [0; 32],
                ..hello.clone()
            },
            "public key",
        ),
        (
            ServerHello {
                paillier_n: Some(vec![1, 2, 3]),
                ..hello.clone()
            },
            "Paillier",
        ),
    ];
    for (h, what) in cases {
        let e = client(Mode::Intersection)
            .start(h, &mut rng)
            .err()
            .unwrap_or_else(|| panic!("{what} accepted"));
        assert!(e.to_string().contains(what), "{what}: {e}");
    }
    // Sum mode: a missing key and a key below the client's minimum.
    let (hello, _) = server(Mode::Sum, SetFormat::Raw).start(&mut rng);
    let e = client(Mode::Sum)
        .start(
            ServerHello {
                paillier_n: None,
                ..hello.clone()
            },
            &mut rng,
        )
        .err()
        .unwrap();
    assert!(matches!(e, PsiError::Malformed(_)), "{e}");
    let strict = Client::new(ClientConfig::new(Mode::Sum), ids("e", 3)).unwrap();
    let e = strict.start(hello.clone(), &mut rng).err().unwrap();
    assert!(e.to_string().contains("accepts 2048 to 4096"), "{e}");
    // A key without its modulus proof, or with a damaged one, is refused.
    for proof in [
        None,
        Some(vec![1u8; 7]),
        hello.paillier_proof.clone().map(|mut p| {
            p[5] ^= 1;
            p
        }),
    ] {
        let e = client(Mode::Sum)
            .start(
                ServerHello {
                    paillier_proof: proof,
                    ..hello.clone()
                },
                &mut rng,
            )
            .err()
            .unwrap();
        assert!(e.to_string().contains("not proven sound"), "{e}");
    }
}

#[test]
fn client_rejects_bad_responses() {
    let mut rng = shroud::rng::seeded(5);
    type Tamper = fn(&mut ServerResponse);
    let cases: Vec<(Mode, SetFormat, Tamper, &str)> = vec![
        (
            Mode::Intersection,
            SetFormat::Raw,
            |r| {
                r.evaluated.pop();
            },
            "evaluated elements",
        ),
        (
            Mode::Intersection,
            SetFormat::Raw,
            |r| r.evaluated[4] = [0; 32],
            "position 4",
        ),
        (
            Mode::Intersection,
            SetFormat::Raw,
            |r| r.evaluated[0][31] ^= 0x80,
            "position 0",
        ),
        (
            Mode::Intersection,
            SetFormat::Raw,
            |r| {
                if let EncodedSet::Raw { tags, .. } = &mut r.set {
                    tags.pop();
                }
            },
            "raw set",
        ),
        (
            Mode::Intersection,
            SetFormat::Compressed,
            |r| {
                if let EncodedSet::Compressed { data, .. } = &mut r.set {
                    data.truncate(data.len() / 2);
                }
            },
            "compressed set",
        ),
        (
            Mode::Intersection,
            SetFormat::Compressed,
            |r| {
                if let EncodedSet::Compressed { p, .. } = &mut r.set {
                    *p = 8;
                }
            },
            "to keep false matches under 2^-30",
        ),
        (
            // Tags narrower than 30 + log2(N M) bits: 20 x 10 elements need 5 bytes.
            Mode::Intersection,
            SetFormat::Raw,
            |r| {
                if let EncodedSet::Raw { tag_bytes, tags } = &mut r.set {
                    *tags = tags
                        .chunks_exact(*tag_bytes as usize)
                        .flat_map(|t| t[..4].to_vec())
                        .collect();
                    *tag_bytes = 4;
                }
            },
            "need 5 to keep false matches under 2^-30",
        ),
        (
            Mode::Intersection,
            SetFormat::Raw,
            |r| r.values = vec![vec![1; 8]],
            "unexpected encrypted values",
        ),
        (
            Mode::Sum,
            SetFormat::Raw,
            |r| {
                r.values.pop();
            },
            "encrypted values",
        ),
    ];
    for (mode, format, tamper, what) in cases {
        let (c, mut resp, _) = to_response(mode, format);
        tamper(&mut resp);
        let e = c
            .finish(resp, &mut rng)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(e.to_string().contains(what), "{what}: {e}");
    }
}

#[test]
fn sum_and_shares_final_rounds_reject_lies() {
    let mut rng = shroud::rng::seeded(6);
    // Server side: bad ciphertext, impossible count.
    let (c, resp, next) = to_response(Mode::Sum, SetFormat::Compressed);
    let ServerNext::AwaitSum(s) = next else {
        panic!()
    };
    let e = s
        .finish(SumRequest {
            count: 3,
            ciphertext: vec![0; 4],
        })
        .err()
        .unwrap();
    assert!(matches!(e, PsiError::Paillier(_)), "{e}");
    let (_, _, next) = to_response(Mode::Sum, SetFormat::Compressed);
    let ServerNext::AwaitSum(s) = next else {
        panic!()
    };
    let e = s
        .finish(SumRequest {
            count: 11,
            ciphertext: vec![1],
        })
        .err()
        .unwrap();
    assert!(e.to_string().contains("at most 10"), "{e}");
    // Client side: a masked sum that the mask cannot have produced.
    let ClientStep::SendSum(_, wait) = c.finish(resp, &mut rng).unwrap() else {
        panic!()
    };
    let e = wait.finish(SumReply { masked_sum: vec![] }).err().unwrap();
    assert!(e.to_string().contains("out of range"), "{e}");
    // Shares: more ciphertexts than possible matches.
    let (_, _, next) = to_response(Mode::Shares, SetFormat::Raw);
    let ServerNext::AwaitShares(s) = next else {
        panic!()
    };
    let e = s
        .finish(SharesRequest {
            ciphertexts: vec![vec![1; 4]; 11],
        })
        .err()
        .unwrap();
    assert!(e.to_string().contains("at most 10"), "{e}");
}

proptest! {
    /// No byte string makes the decoder panic.
    #[test]
    fn decoding_arbitrary_frames_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), kind in 0u8..8) {
        let mut b = bytes;
        if !b.is_empty() { b[0] = if kind == 7 { 0xff } else { kind }; }
        let _ = Message::decode(&b);
    }
}

fn pair() -> (TcpTransport, std::net::TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let raw = std::net::TcpStream::connect(addr).unwrap();
    let t = TcpTransport::accept(&l, Duration::from_secs(5), 1 << 20).unwrap();
    (t, raw)
}

#[test]
fn tcp_frames_oversized_truncated_silent_and_garbage() {
    // Oversized: refused from the header alone.
    let (mut t, mut raw) = pair();
    raw.write_all(&(2u32 << 20).to_be_bytes()).unwrap();
    assert!(
        matches!(t.recv(), Err(NetError::FrameTooLarge { len, max }) if len == 2 << 20 && max == 1 << 20)
    );
    // Truncated: the peer closes mid-frame.
    let (mut t, mut raw) = pair();
    raw.write_all(&100u32.to_be_bytes()).unwrap();
    raw.write_all(&[1; 10]).unwrap();
    drop(raw);
    assert!(matches!(t.recv(), Err(NetError::Closed)));
    // Silent: a clear timeout, on time.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let raw = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let mut t = TcpTransport::accept(&l, Duration::from_millis(300), 1 << 20).unwrap();
    let start = Instant::now();
    assert!(matches!(t.recv(), Err(NetError::Timeout(_))));
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(raw);
    // A dropped connection during a session: the client gets a clear error.
    let (mut t, raw) = pair();
    drop(raw);
    let e = psi::run_client(
        &mut t,
        client(Mode::Intersection),
        &mut shroud::rng::seeded(7),
    )
    .unwrap_err();
    assert!(matches!(e, PsiError::Net(NetError::Closed)), "{e}");
    // Garbage and a wrong message kind.
    let (mut t, mut raw) = pair();
    raw.write_all(&3u32.to_be_bytes()).unwrap();
    raw.write_all(&[42, 0, 0]).unwrap();
    let e = psi::run_client(
        &mut t,
        client(Mode::Intersection),
        &mut shroud::rng::seeded(7),
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown message kind 42"), "{e}");
    let (mut t, mut raw) = pair();
    let frame = Message::SumReply(SumReply {
        masked_sum: vec![1],
    })
    .encode();
    raw.write_all(&(frame.len() as u32).to_be_bytes()).unwrap();
    raw.write_all(&frame).unwrap();
    let e = psi::run_client(
        &mut t,
        client(Mode::Intersection),
        &mut shroud::rng::seeded(7),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            PsiError::UnexpectedMessage {
                expected: "ServerHello",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_peer_abort_is_reported_with_its_reason() {
    let (mut t, mut raw) = pair();
    // Control characters (a terminal escape, a newline) never reach the user's terminal.
    let frame = Message::Abort("maintenance\x1b[2J\nfake prompt$ ".into()).encode();
    raw.write_all(&(frame.len() as u32).to_be_bytes()).unwrap();
    raw.write_all(&frame).unwrap();
    let e = psi::run_client(
        &mut t,
        client(Mode::Intersection),
        &mut shroud::rng::seeded(8),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("maintenance?[2J?fake prompt$"),
        "{e}"
    );
    assert!(!e.to_string().chars().any(char::is_control), "{e}");
}

#[test]
fn server_input_errors_are_clear() {
    let mut rng = shroud::rng::seeded(9);
    let e = Server::new(
        ServerConfig::new(Mode::Sum),
        ids("e", 3),
        None,
        None,
        &mut rng,
    )
    .unwrap_err();
    assert!(e.to_string().contains("needs a value per element"), "{e}");
    let e = Server::new(
        ServerConfig::new(Mode::Sum),
        ids("e", 3),
        Some(vec![1, 2]),
        Some(owned_key()),
        &mut rng,
    )
    .unwrap_err();
    assert!(e.to_string().contains("2 values for 3 elements"), "{e}");
    let e = Server::new(
        ServerConfig::new(Mode::Intersection),
        ids("e", 3),
        Some(vec![1, 2, 3]),
        None,
        &mut rng,
    )
    .unwrap_err();
    assert!(e.to_string().contains("only used in sum"), "{e}");
    let e = Server::new(
        ServerConfig::new(Mode::Intersection),
        vec![vec![0; 70_000]],
        None,
        None,
        &mut rng,
    )
    .unwrap_err();
    assert!(e.to_string().contains("over 65535 bytes"), "{e}");
    let mut cfg = ServerConfig::new(Mode::Intersection);
    cfg.threshold = 3;
    let e = Server::new(cfg, ids("e", 3), None, None, &mut rng).unwrap_err();
    assert!(e.to_string().contains("threshold"), "{e}");
}

#[test]
fn server_sum_hellos_and_configs_are_checked() {
    let mut rng = shroud::rng::seeded(10);
    // The reveal flag is a boolean byte.
    let (hello, _) = server(Mode::ServerSum, SetFormat::Raw).start(&mut rng);
    let mut frame = Message::ServerHello(hello.clone()).encode();
    // kind, version, mode, session id, public key, label, counts, format, then the flag.
    let at = 1 + 2 + 1 + 16 + 32 + 4 + hello.label.len() + 8 + 8 + 1;
    assert_eq!(frame[at], 0);
    frame[at] = 2;
    let e = Message::decode(&frame).unwrap_err();
    assert!(e.to_string().contains("bad reveal flag 2"), "{e}");
    // Server-sum needs the server's key, proven sound.
    let e = client(Mode::ServerSum)
        .start(
            ServerHello {
                paillier_n: None,
                ..hello.clone()
            },
            &mut rng,
        )
        .err()
        .unwrap();
    assert!(matches!(e, PsiError::Malformed(_)), "{e}");
    let e = client(Mode::ServerSum)
        .start(
            ServerHello {
                paillier_proof: Some(vec![1; 9]),
                ..hello.clone()
            },
            &mut rng,
        )
        .err()
        .unwrap();
    assert!(e.to_string().contains("not proven sound"), "{e}");
    // A reveal flag outside server-sum mode.
    let (hello, _) = server(Mode::Sum, SetFormat::Raw).start(&mut rng);
    let e = client(Mode::Sum)
        .start(
            ServerHello {
                reveal_sum: true,
                ..hello
            },
            &mut rng,
        )
        .err()
        .unwrap();
    assert!(e.to_string().contains("reveals the sum in sum mode"), "{e}");
    // The server's own settings.
    let mut cfg = ServerConfig::new(Mode::Sum);
    cfg.reveal_sum = true;
    let e = Server::new(
        cfg,
        ids("e", 3),
        Some(vec![1; 3]),
        Some(owned_key()),
        &mut rng,
    )
    .unwrap_err();
    assert!(e.to_string().contains("server-sum mode only"), "{e}");
    let e = Server::new(
        ServerConfig::new(Mode::ServerSum),
        ids("e", 3),
        None,
        None,
        &mut rng,
    )
    .unwrap_err();
    assert!(e.to_string().contains("needs a value per element"), "{e}");
}

/// Server-sum's last round: each lie the client can tell gets its own error, and none of
/// them reaches the client (no reveal) or only as an abort (reveal).
#[test]
fn server_sum_final_round_rejects_lies() {
    let pk = owned_key().public_key().clone();
    let enc = |m: u64| {
        pk.encrypt(&Plaintext::from_u64(&pk, m), &mut shroud::rng::seeded(m))
            .unwrap()
            .to_bytes_be()
    };
    let await_sum = || {
        let (_, _, next) = to_response(Mode::ServerSum, SetFormat::Raw);
        let ServerNext::AwaitServerSum(s) = next else {
            panic!("server-sum")
        };
        assert!(!s.reveals());
        s
    };
    // More matches than possible (10 client elements).
    let e = await_sum()
        .finish(SumRequest {
            count: 11,
            ciphertext: enc(77),
        })
        .err()
        .unwrap();
    assert!(e.to_string().contains("at most 10"), "{e}");
    // Not a ciphertext of the key.
    for bad in [
        vec![0u8; 4],
        vec![0u8; pk.ciphertext_bytes()],
        vec![0xff; 300],
    ] {
        let e = await_sum()
            .finish(SumRequest {
                count: 3,
                ciphertext: bad,
            })
            .err()
            .unwrap();
        assert!(matches!(e, PsiError::Paillier(_)), "{e}");
    }
    // Every server value is 7: three matches add up to 21 and nothing else.
    for wrong in [20, 22, 0, u64::MAX] {
        let e = await_sum()
            .finish(SumRequest {
                count: 3,
                ciphertext: enc(wrong),
            })
            .err()
            .unwrap();
        assert!(matches!(e, PsiError::PeerMisbehaved(_)), "{wrong}: {e}");
    }
    let (reply, out) = await_sum()
        .finish(SumRequest {
            count: 3,
            ciphertext: enc(21),
        })
        .unwrap();
    assert!(reply.is_none());
    assert_eq!(
        (out.intersection_size, out.intersection_sum),
        (Some(3), Some(21))
    );
    // Below the threshold.
    let mut cfg = ServerConfig::new(Mode::ServerSum);
    cfg.threshold = 5;
    let mut rng = shroud::rng::seeded(11);
    let s = Server::new(
        cfg,
        ids("e", 20),
        Some(vec![7; 20]),
        Some(owned_key()),
        &mut rng,
    )
    .unwrap();
    let (hello, s) = s.start(&mut rng);
    let (req, _) = client(Mode::ServerSum).start(hello, &mut rng).unwrap();
    let (_, next) = s.respond(req, &mut rng).unwrap();
    let ServerNext::AwaitServerSum(s) = next else {
        panic!()
    };
    let e = s
        .finish(SumRequest {
            count: 4,
            ciphertext: enc(28),
        })
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            PsiError::ThresholdNotMet {
                matches: 4,
                threshold: 5
            }
        ),
        "{e}"
    );
    // The client, when the server reveals: a reply of the wrong width, or a sum larger than
    // its count of 64-bit values can make.
    let mut cfg = ServerConfig::new(Mode::ServerSum);
    cfg.reveal_sum = true;
    for (bytes, what) in [
        (vec![0u8; 15], "width"),
        (
            (u128::from(u64::MAX) * 10 + 1).to_be_bytes().to_vec(),
            "size",
        ),
    ] {
        let mut rng = shroud::rng::seeded(12);
        let s = Server::new(
            cfg.clone(),
            ids("e", 20),
            Some(vec![7; 20]),
            Some(owned_key()),
            &mut rng,
        )
        .unwrap();
        let (hello, s) = s.start(&mut rng);
        let (req, c) = client(Mode::ServerSum).start(hello, &mut rng).unwrap();
        let (resp, _) = s.respond(req, &mut rng).unwrap();
        let ClientStep::SendSumAwaitRelease(_, wait) = c.finish(resp, &mut rng).unwrap() else {
            panic!("reveal")
        };
        let e = wait.finish(SumReply { masked_sum: bytes }).unwrap_err();
        assert!(matches!(e, PsiError::Malformed(_)), "{what}: {e}");
    }
}

/// Over a transport: a server-sum server that does not reveal sends no abort after a bad
/// sum (the range check's outcome stays with it); one that reveals aborts with the reason.
#[test]
fn a_server_sum_server_answers_a_bad_sum_only_when_it_reveals() {
    for reveal in [false, true] {
        let mut cfg = ServerConfig::new(Mode::ServerSum);
        cfg.reveal_sum = reveal;
        let mut rng = shroud::rng::seeded(13);
        let server = Server::new(
            cfg,
            ids("e", 20),
            Some(vec![7; 20]),
            Some(owned_key()),
            &mut rng,
        )
        .unwrap();
        let (mut a, mut b) = MemoryTransport::pair();
        let h = std::thread::spawn(move || {
            psi::run_server(&mut a, server, &mut shroud::rng::seeded(14))
        });
        let Message::ServerHello(hello) = Message::decode(&b.recv().unwrap()).unwrap() else {
            panic!()
        };
        let (req, c) = client(Mode::ServerSum).start(hello, &mut rng).unwrap();
        b.send(&Message::ClientRequest(req).encode()).unwrap();
        let Message::ServerResponse(resp) = Message::decode(&b.recv().unwrap()).unwrap() else {
            panic!()
        };
        let req = match c.finish(resp, &mut rng).unwrap() {
            ClientStep::SendSumToServer(req, _) | ClientStep::SendSumAwaitRelease(req, _) => req,
            _ => panic!("server-sum"),
        };
        // An honest request with one more unit in it.
        let pk = owned_key().public_key().clone();
        let one = pk.encrypt(&Plaintext::from_u64(&pk, 1), &mut rng).unwrap();
        let c = pk.ciphertext_from_bytes_be(&req.ciphertext).unwrap();
        let bad = SumRequest {
            count: req.count,
            ciphertext: pk.add(&c, &one).unwrap().to_bytes_be(),
        };
        b.send(&Message::SumRequest(bad).encode()).unwrap();
        let after = b.recv();
        let server = h.join().unwrap();
        assert!(
            matches!(server, Err(PsiError::PeerMisbehaved(_))),
            "{server:?}"
        );
        match (reveal, after) {
            (false, Err(NetError::Closed)) => {}
            (true, Ok(frame)) => {
                assert!(matches!(
                    Message::decode(&frame).unwrap(),
                    Message::Abort(_)
                ))
            }
            (r, other) => panic!("reveal {r}: {other:?}"),
        }
    }
}
