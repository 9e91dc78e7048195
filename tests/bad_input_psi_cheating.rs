//! PSI against a peer that does not follow the protocol: each side is written out by hand
//! from the public building blocks (the OPRF, the pads, Paillier) so that it can send what
//! an honest implementation never would, and each test checks what it learns.

mod common;

use curve25519_dalek::ristretto::RistrettoPoint;
use num_bigint::{BigInt, BigUint};
use shroud::net::{MemoryTransport, NetError, Transport};
use shroud::paillier::{Ciphertext, ModulusProof, Plaintext, PublicKey, SecretKey};
use shroud::psi::msgs::{
    ClientRequest, EncodedSet, PROTOCOL_VERSION, ServerHello, ServerResponse, SumReply, SumRequest,
};
use shroud::psi::oprf::{Blind, OprfKey, decode_element};
use shroud::psi::server::{MODULUS_CONTEXT, raw_tag_bytes, sum_bits};
use shroud::psi::{
    self, Client, ClientConfig, ClientStep, Message, Mode, PsiError, Server, ServerAwaitSum,
    ServerConfig, ServerNext, SetFormat, output_for, pad, session_dst,
};

fn key() -> SecretKey {
    let (p, q) = common::key(1024).primes_vartime();
    SecretKey::from_primes(&p, &q).unwrap()
}

fn ids(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}{i}").into_bytes())
        .collect()
}

const LABEL: &[u8] = b"shroud-psi";

/// A cheating server: runs the OPRF honestly (so the client finds its matches) but
/// encrypts whatever plaintexts it likes and adds no offset. Returns the client's next
/// step.
fn cheating_server(
    mode: Mode,
    elements: &[Vec<u8>],
    plaintexts: &[BigUint],
    client: Client,
    sk: &SecretKey,
    seed: u64,
) -> ClientStep {
    cheating_server_with(mode, elements, plaintexts, None, client, sk, seed).unwrap()
}

/// As [`cheating_server`]; if `spoil` names an element, its padded bytes are those of
/// the invalid ciphertext 0.
fn cheating_server_with(
    mode: Mode,
    elements: &[Vec<u8>],
    plaintexts: &[BigUint],
    spoil: Option<usize>,
    client: Client,
    sk: &SecretKey,
    seed: u64,
) -> Result<ClientStep, PsiError> {
    let mut rng = shroud::rng::seeded(seed);
    let pk = sk.public_key();
    let oprf = OprfKey::random(&mut rng);
    let session_id = [9u8; 16];
    let hello = ServerHello {
        version: PROTOCOL_VERSION,
        mode,
        session_id,
        public_key: oprf.public_key().compress().to_bytes(),
        label: LABEL.to_vec(),
        server_count: elements.len() as u64,
        threshold: 0,
        format: SetFormat::Raw,
        reveal_sum: false,
        paillier_n: Some(pk.n().to_bytes_be()),
        paillier_proof: Some(ModulusProof::prove(sk, MODULUS_CONTEXT).to_bytes(pk)),
    };
    let (req, c) = client.start(hello, &mut rng)?;
    let evaluated: Vec<[u8; 32]> = req
        .blinded
        .iter()
        .enumerate()
        .map(|(i, b)| {
            oprf.blind_evaluate(&decode_element(b, i).unwrap())
                .compress()
                .to_bytes()
        })
        .collect();
    let dst = session_dst(mode, &session_id, LABEL);
    let outputs: Vec<[u8; 64]> = elements
        .iter()
        .map(|y| {
            let e = oprf
                .evaluate_element(y, &dst)
                .unwrap()
                .compress()
                .to_bytes();
            output_for(mode, y, &e)
        })
        .collect();
    let tb = raw_tag_bytes(elements.len() as u64, req.blinded.len() as u64);
    let mut order: Vec<usize> = (0..elements.len()).collect();
    order.sort_by(|&a, &b| outputs[a][..tb].cmp(&outputs[b][..tb]));
    let mut tags = Vec::new();
    let mut values = Vec::new();
    for &j in &order {
        tags.extend_from_slice(&outputs[j][..tb]);
        let mut c = if spoil == Some(j) {
            vec![0u8; pk.ciphertext_bytes()]
        } else {
            let m = Plaintext::from_biguint(pk, &plaintexts[j]).unwrap();
            pk.encrypt(&m, &mut rng).unwrap().to_bytes_be()
        };
        pad(&outputs[j], &mut c);
        values.push(c);
    }
    let resp = ServerResponse {
        evaluated,
        set: EncodedSet::Raw {
            tag_bytes: tb as u8,
            tags,
        },
        values,
    };
    c.finish(resp, &mut rng)
}

fn sum_client(elements: Vec<Vec<u8>>) -> Client {
    let mut cfg = ClientConfig::new(Mode::Sum);
    cfg.min_paillier_bits = 1024;
    Client::new(cfg, elements).unwrap()
}

/// The server's attack from the audit: value j is 2^(140+j), so the bits of the masked
/// sum it decrypts above bit 140 would name the client's matches if the mask were only a
/// little wider than an honest sum (as it was: 40 bits).
#[test]
fn a_server_with_crafted_values_cannot_read_the_intersection() {
    let sk = key();
    let server_elements = ids("p", 24);
    let crafted: Vec<BigUint> = (0..24).map(|j| BigUint::from(1u8) << (140 + j)).collect();
    for k in [0usize, 5, 23] {
        // The client holds p{k} and two elements the server does not have.
        let mut mine = ids("q", 2);
        mine.push(format!("p{k}").into_bytes());
        // Sum mode: the server decrypts the client's one ciphertext.
        let ClientStep::SendSum(req, _) = cheating_server(
            Mode::Sum,
            &server_elements,
            &crafted,
            sum_client(mine.clone()),
            &sk,
            k as u64,
        ) else {
            panic!("sum mode must send a sum")
        };
        assert_eq!(req.count, 1);
        let view = sk
            .decrypt(
                &sk.public_key()
                    .ciphertext_from_bytes_be(&req.ciphertext)
                    .unwrap(),
            )
            .unwrap()
            .to_biguint_vartime();
        let window = (&view >> 140u32) & BigUint::from(0xFF_FFFFu32);
        assert_ne!(
            window,
            BigUint::from(1u32 << k),
            "sum mode: the server read the match"
        );
        assert!(
            view.bits() > 900,
            "the server's view must be a full-size residue"
        );
        // Shares mode: the server decrypts one ciphertext per match.
        let mut cfg = ClientConfig::new(Mode::Shares);
        cfg.min_paillier_bits = 1024;
        let client = Client::new(cfg, mine).unwrap();
        let ClientStep::SendShares(req, out) = cheating_server(
            Mode::Shares,
            &server_elements,
            &crafted,
            client,
            &sk,
            100 + k as u64,
        ) else {
            panic!("shares mode must send shares")
        };
        assert_eq!(out.intersection_size, 1);
        for c in &req.ciphertexts {
            let view = sk
                .decrypt(&sk.public_key().ciphertext_from_bytes_be(c).unwrap())
                .unwrap()
                .to_biguint_vartime();
            let window = (&view >> 140u32) & BigUint::from(0xFF_FFFFu32);
            assert_ne!(
                window,
                BigUint::from(1u32 << k),
                "shares mode: the server read the match"
            );
        }
    }
}

/// A cheating sum-mode client against an honest server holding `values`: it blinds each
/// of its elements separately (to undo the server's shuffle by trial), and unpads the
/// ciphertexts of its matches. Returns them in its own order, with the server's last
/// state.
fn cheating_client_matches(
    values: &[u64],
    seed: u64,
) -> (Vec<Ciphertext>, PublicKey, ServerAwaitSum) {
    let mut rng = shroud::rng::seeded(seed);
    let server_elements = ids("s", values.len());
    let mut cfg = ServerConfig::new(Mode::Sum);
    cfg.format = SetFormat::Raw;
    let server = Server::new(
        cfg,
        server_elements.clone(),
        Some(values.to_vec()),
        Some(key()),
        &mut rng,
    )
    .unwrap();
    let (hello, s) = server.start(&mut rng);
    let pk = PublicKey::from_modulus(&BigUint::from_bytes_be(hello.paillier_n.as_ref().unwrap()))
        .unwrap();
    let dst = session_dst(Mode::Sum, &hello.session_id, LABEL);
    // The client holds the first three server elements.
    let mine = &server_elements[..3];
    let blind_bytes: Vec<[u8; 32]> = (1..=3u8).map(|i| [i; 32].map(|b| b & 0x0f)).collect();
    let blind = |i: usize| Blind::from_bytes(blind_bytes[i]).unwrap();
    let blinded: Vec<[u8; 32]> = mine
        .iter()
        .enumerate()
        .map(|(i, x)| blind(i).blind(x, &dst).unwrap().compress().to_bytes())
        .collect();
    let (resp, next) = s.respond(ClientRequest { blinded }, &mut rng).unwrap();
    let ServerNext::AwaitSum(wait) = next else {
        panic!("sum mode")
    };
    let EncodedSet::Raw { tag_bytes, tags } = &resp.set else {
        panic!("raw format")
    };
    let tb = *tag_bytes as usize;
    let evaluated: Vec<RistrettoPoint> = resp
        .evaluated
        .iter()
        .enumerate()
        .map(|(i, e)| decode_element(e, i).unwrap())
        .collect();
    let mut matched = Vec::new();
    for i in 0..mine.len() {
        // Element i's evaluation is the one whose unblinding lands in the server's set.
        let found = evaluated.iter().find_map(|z| {
            let out = blind(i).finalize(b"shroud-psi-unordered", z);
            tags.chunks_exact(tb)
                .position(|t| t == &out[..tb])
                .map(|pos| (pos, out))
        });
        let (pos, out) = found.expect("every element of the client is on the server");
        let mut c = resp.values[pos].clone();
        pad(&out, &mut c);
        matched.push(pk.ciphertext_from_bytes_be(&c).unwrap());
    }
    (matched, pk, wait)
}

fn low(reply: &SumReply) -> u128 {
    u128::from_be_bytes(reply.masked_sum.as_slice().try_into().unwrap())
}

/// The client's attack from the audit, and its variants: the server answers with at most
/// L = 64 + log2(count + 1) bits, offset by a secret that only cancels when the
/// coefficients sum to the count claimed.
#[test]
fn a_client_cannot_use_the_server_as_a_decryption_oracle() {
    let values = [1111u64, 2222, 3333, 4444];
    // 1. Packing: sum_j 2^(70 j) E(v_j) would carry every value in one decryption.
    let (cts, pk, wait) = cheating_client_matches(&values, 1);
    let mut packed = cts[0].clone();
    for (j, c) in cts.iter().enumerate().skip(1) {
        let scaled = pk
            .mul_scalar_vartime(c, &(BigInt::from(1u8) << (70 * j)))
            .unwrap();
        packed = pk.add(&packed, &scaled).unwrap();
    }
    let (reply, _) = wait
        .finish(SumRequest {
            count: 3,
            ciphertext: packed.to_bytes_be(),
        })
        .unwrap();
    // Without the offset, the low L bits of the packed value would be v_0 = 1111.
    let honest_low = 1111u128;
    assert_ne!(
        low(&reply),
        honest_low,
        "the offset must spoil a packed combination"
    );
    assert!(low(&reply) < 1 << sum_bits(3), "the reply is L bits");
    // 2. Packing with coefficients that sum to the count: the offset cancels, but only the
    // low L bits come back, which hold count * v_0 and nothing of v_1 or v_2.
    let balanced = |values: &[u64], seed| {
        let (cts, pk, wait) = cheating_client_matches(values, seed);
        let big: Vec<BigInt> = (1..3).map(|j| BigInt::from(1u8) << (70 * j)).collect();
        let c0 = BigInt::from(3u8) - big.iter().sum::<BigInt>();
        let mut acc = pk.mul_scalar_vartime(&cts[0], &c0).unwrap();
        for (j, k) in big.iter().enumerate() {
            acc = pk
                .add(&acc, &pk.mul_scalar_vartime(&cts[j + 1], k).unwrap())
                .unwrap();
        }
        let (reply, _) = wait
            .finish(SumRequest {
                count: 3,
                ciphertext: acc.to_bytes_be(),
            })
            .unwrap();
        low(&reply)
    };
    let a = balanced(&values, 2);
    let b = balanced(&[1111, 9999, 7777, 4444], 3);
    assert_eq!(a, 3 * 1111, "the combination's low L bits: three times v_0");
    assert_eq!(a, b, "nothing of v_1 or v_2 reaches the client");
    // 3. A ciphertext from elsewhere under the same key (a reused --key): its decryption
    // comes back offset by a secret, so it tells the client nothing.
    let (_, pk, wait) = cheating_client_matches(&values, 4);
    let secret = 0x1234_5678_9abc_def0u64;
    let foreign = pk.encrypt(
        &Plaintext::from_u64(&pk, secret),
        &mut shroud::rng::seeded(5),
    );
    let (reply, _) = wait
        .finish(SumRequest {
            count: 1,
            ciphertext: foreign.unwrap().to_bytes_be(),
        })
        .unwrap();
    assert_ne!(low(&reply), u128::from(secret));
    // 4. An honest client gets the right sum from the same server.
    let mut rng = shroud::rng::seeded(6);
    let server = Server::new(
        ServerConfig::new(Mode::Sum),
        ids("s", 4),
        Some(values.to_vec()),
        Some(key()),
        &mut rng,
    )
    .unwrap();
    let (mut a, mut b) = shroud::net::MemoryTransport::pair();
    let h =
        std::thread::spawn(move || psi::run_server(&mut a, server, &mut shroud::rng::seeded(7)));
    let out = psi::run_client(&mut b, sum_client(ids("s", 3)), &mut rng).unwrap();
    h.join().unwrap().unwrap();
    assert_eq!(out.intersection_sum, Some(1111 + 2222 + 3333));
}

/// Below the threshold, the server is told only that: not how many matched.
#[test]
fn the_threshold_refusal_does_not_tell_the_server_the_count() {
    let mut rng = shroud::rng::seeded(8);
    let mut cfg = ServerConfig::new(Mode::Sum);
    cfg.threshold = 5;
    let server = Server::new(cfg, ids("s", 10), Some(vec![1; 10]), Some(key()), &mut rng).unwrap();
    let (mut a, mut b) = shroud::net::MemoryTransport::pair();
    let h =
        std::thread::spawn(move || psi::run_server(&mut a, server, &mut shroud::rng::seeded(9)));
    let client_err = psi::run_client(&mut b, sum_client(ids("s", 3)), &mut rng).unwrap_err();
    assert!(client_err.to_string().contains("3 matches"), "{client_err}");
    let server_err = h.join().unwrap().unwrap_err();
    let text = server_err.to_string();
    assert!(matches!(server_err, PsiError::PeerAborted(_)), "{text}");
    assert!(text.contains("below the threshold"), "{text}");
    assert!(
        !text.chars().any(|c| c.is_ascii_digit()),
        "the count leaked: {text}"
    );
}

/// The reviewer's attack: a modulus with gcd(n, phi(n)) != 1 (n = p q with q | p - 1, or
/// n = q^2 p) passes every check on n alone and lets the server read which ciphertexts the
/// client summed, with decryptions that still come out right. The client now demands the
/// modulus proof and refuses such a key before sending anything.
#[test]
fn a_server_with_a_crafted_modulus_is_refused() {
    let v = common::vector("psi_crafted_paillier_moduli.json");
    let sk = key();
    let honest_proof = ModulusProof::prove(&sk, MODULUS_CONTEXT).to_bytes(sk.public_key());
    for case in ["p_q_with_q_dividing_p_minus_1", "q_squared_p"] {
        let n = BigUint::parse_bytes(v[case]["n"].as_str().unwrap().as_bytes(), 16).unwrap();
        // n alone looks fine.
        let pk = PublicKey::from_modulus(&n).expect("the crafted modulus passes the checks on n");
        let width = pk.n().bits().div_ceil(8) as usize;
        // The best a forger has: roots of some other key, or nothing useful.
        for proof in [
            vec![0u8; width * shroud::paillier::MODULUS_PROOF_ROUNDS],
            honest_proof.clone(),
        ] {
            let hello = ServerHello {
                version: PROTOCOL_VERSION,
                mode: Mode::Sum,
                session_id: [3; 16],
                public_key: OprfKey::random(&mut shroud::rng::seeded(4))
                    .public_key()
                    .compress()
                    .to_bytes(),
                label: LABEL.to_vec(),
                server_count: 4,
                threshold: 0,
                format: SetFormat::Raw,
                reveal_sum: false,
                paillier_n: Some(n.to_bytes_be()),
                paillier_proof: Some(proof),
            };
            let mut cfg = ClientConfig::new(Mode::Sum);
            cfg.min_paillier_bits = 1024;
            let e = Client::new(cfg, ids("x", 3))
                .unwrap()
                .start(hello, &mut shroud::rng::seeded(5))
                .err()
                .unwrap_or_else(|| panic!("{case}: crafted modulus accepted"));
            assert!(matches!(e, PsiError::PeerMisbehaved(_)), "{case}: {e}");
            assert!(e.to_string().contains("not proven sound"), "{case}: {e}");
        }
    }
}

/// The review's selective-failure attack: the server spoils the ciphertext of one element
/// (it knows that element's pad). If the client refused a spoiled value it holds, the
/// server would learn that it holds it. The client goes on the same way whether the
/// spoiled element is one of its matches or not.
#[test]
fn a_spoiled_value_does_not_tell_the_server_whether_it_matched() {
    let sk = key();
    let server_elements = ids("p", 8);
    let values: Vec<BigUint> = (0..8u32).map(|j| BigUint::from(100 + j)).collect();
    // Spoil element 2's ciphertext: a zero plaintext ciphertext is not in Z*_{n^2}.
    let spoiled = |mode: Mode, mine: Vec<Vec<u8>>| {
        let mut cfg = ClientConfig::new(mode);
        cfg.min_paillier_bits = 1024;
        let client = Client::new(cfg, mine).unwrap();
        cheating_server_with(mode, &server_elements, &values, Some(2), client, &sk, 77)
    };
    for mode in [Mode::Sum, Mode::Shares] {
        // The client holds p2 (spoiled) in one run and not in the other.
        let holds = spoiled(mode, vec![b"p2".to_vec(), b"p5".to_vec()]);
        let lacks = spoiled(mode, vec![b"p3".to_vec(), b"p5".to_vec()]);
        for (what, step) in [("holds", holds), ("lacks", lacks)] {
            match (mode, step) {
                (Mode::Sum, Ok(ClientStep::SendSum(req, _))) => assert_eq!(req.count, 2),
                (Mode::Shares, Ok(ClientStep::SendShares(req, _))) => {
                    assert_eq!(req.ciphertexts.len(), 2)
                }
                (_, Ok(_)) => panic!("{mode} {what}: unexpected step"),
                (_, Err(e)) => panic!("{mode} {what}: the client stopped: {e}"),
            }
        }
    }
}

// ---- Server-sum mode: Private Join and Compute's roles ----

/// What a cheating server-sum client gets back after its request, and how the server ended.
struct Outcome {
    /// The frame the server sent after the client's sum request, if any.
    reply: Option<Message>,
    server: Result<psi::ServerOutput, PsiError>,
}

/// A cheating client in server-sum mode, over a transport against `run_server` (the code a
/// real server runs): it blinds each of its elements apart (undoing the shuffle), unpads the
/// ciphertexts of its matches (it holds `s0`, `s1`, `s2`), then sends whatever `craft` makes
/// of them, claiming `count` matches. Returns every frame it received after that.
fn server_sum_attack(
    values: &[u64],
    reveal: bool,
    count: u64,
    craft: impl Fn(&[Ciphertext], &PublicKey) -> Ciphertext,
    seed: u64,
) -> Outcome {
    let mut rng = shroud::rng::seeded(seed);
    let server_elements = ids("s", values.len());
    let mut cfg = ServerConfig::new(Mode::ServerSum);
    cfg.format = SetFormat::Raw;
    cfg.reveal_sum = reveal;
    let server = Server::new(
        cfg,
        server_elements.clone(),
        Some(values.to_vec()),
        Some(key()),
        &mut rng,
    )
    .unwrap();
    let (mut a, mut t) = MemoryTransport::pair();
    let h = std::thread::spawn(move || {
        psi::run_server(&mut a, server, &mut shroud::rng::seeded(seed + 1))
    });
    let Message::ServerHello(hello) = Message::decode(&t.recv().unwrap()).unwrap() else {
        panic!("hello")
    };
    assert_eq!(hello.reveal_sum, reveal);
    let pk = PublicKey::from_modulus(&BigUint::from_bytes_be(hello.paillier_n.as_ref().unwrap()))
        .unwrap();
    let dst = session_dst(Mode::ServerSum, &hello.session_id, LABEL);
    let mine = &server_elements[..3];
    let blind = |i: usize| Blind::from_bytes([i as u8 + 1; 32].map(|b| b & 0x0f)).unwrap();
    let blinded: Vec<[u8; 32]> = mine
        .iter()
        .enumerate()
        .map(|(i, x)| blind(i).blind(x, &dst).unwrap().compress().to_bytes())
        .collect();
    t.send(&Message::ClientRequest(ClientRequest { blinded }).encode())
        .unwrap();
    let Message::ServerResponse(resp) = Message::decode(&t.recv().unwrap()).unwrap() else {
        panic!("response")
    };
    let EncodedSet::Raw { tag_bytes, tags } = &resp.set else {
        panic!("raw format")
    };
    let tb = *tag_bytes as usize;
    let mut matched = Vec::new();
    for i in 0..mine.len() {
        let (pos, out) = resp
            .evaluated
            .iter()
            .enumerate()
            .find_map(|(k, e)| {
                let out = blind(i).finalize(b"shroud-psi-unordered", &decode_element(e, k).ok()?);
                tags.chunks_exact(tb)
                    .position(|t| t == &out[..tb])
                    .map(|pos| (pos, out))
            })
            .expect("every element of the client is on the server");
        let mut c = resp.values[pos].clone();
        pad(&out, &mut c);
        matched.push(pk.ciphertext_from_bytes_be(&c).unwrap());
    }
    let request = SumRequest {
        count,
        ciphertext: craft(&matched, &pk).to_bytes_be(),
    };
    t.send(&Message::SumRequest(request).encode()).unwrap();
    let reply = match t.recv() {
        Ok(frame) => Some(Message::decode(&frame).unwrap()),
        Err(NetError::Closed) => None,
        Err(e) => panic!("{e}"),
    };
    // Nothing else follows.
    assert!(matches!(t.recv(), Err(NetError::Closed)));
    Outcome {
        reply,
        server: h.join().unwrap(),
    }
}

/// sum_j 2^(70 j) E(v_j): the audit's packing attack.
fn packed(cts: &[Ciphertext], pk: &PublicKey) -> Ciphertext {
    let mut acc = cts[0].clone();
    for (j, c) in cts.iter().enumerate().skip(1) {
        let k = BigInt::from(1u8) << (70 * j);
        acc = pk
            .add(&acc, &pk.mul_scalar_vartime(c, &k).unwrap())
            .unwrap();
    }
    acc
}

/// The remaining point, closed: in server-sum mode the server decrypts what the
/// client sends and tells it nothing, so the packing attack, a single value, a balanced
/// combination or a foreign ciphertext all teach a cheating client nothing. Not one byte
/// comes back, whether the server's range check passed or not.
#[test]
fn a_cheating_client_learns_nothing_from_a_server_sum_session() {
    let values = [1111u64, 2222, 3333, 4444];
    // 1. The packing attack: the server sees a sum out of range and keeps it to itself.
    let o = server_sum_attack(&values, false, 3, packed, 10);
    assert!(o.reply.is_none(), "the client got {:?}", o.reply);
    assert!(
        matches!(o.server, Err(PsiError::PeerMisbehaved(_))),
        "{:?}",
        o.server
    );
    // 2. One value, claimed as one match (the attack that still works in sum mode): in
    // range, so the server accepts it; the client still receives nothing.
    let o = server_sum_attack(&values, false, 1, |c, _| c[1].clone(), 11);
    assert!(o.reply.is_none());
    assert_eq!(o.server.unwrap().intersection_sum, Some(2222));
    // 3. A combination with coefficients summing to the count (3 v_0).
    let o = server_sum_attack(&values, false, 3, |c, pk| pk.mul_i64(&c[0], 3).unwrap(), 12);
    assert!(o.reply.is_none());
    // 4. A ciphertext from elsewhere under the key.
    let o = server_sum_attack(
        &values,
        false,
        1,
        |_, pk| {
            pk.encrypt(
                &Plaintext::from_u64(pk, 0xdead_beef),
                &mut shroud::rng::seeded(1),
            )
            .unwrap()
        },
        13,
    );
    assert!(o.reply.is_none());
    assert!(matches!(o.server, Err(PsiError::PeerMisbehaved(_))));
    // 5. Honest roles: the server learns the sum, the client the count only.
    let mut rng = shroud::rng::seeded(14);
    let server = Server::new(
        ServerConfig::new(Mode::ServerSum),
        ids("s", 4),
        Some(values.to_vec()),
        Some(key()),
        &mut rng,
    )
    .unwrap();
    let (mut a, mut b) = MemoryTransport::pair();
    let h =
        std::thread::spawn(move || psi::run_server(&mut a, server, &mut shroud::rng::seeded(15)));
    let mut cfg = ClientConfig::new(Mode::ServerSum);
    cfg.min_paillier_bits = 1024;
    let client = Client::new(cfg, ids("s", 3)).unwrap();
    let out = psi::run_client(&mut b, client, &mut rng).unwrap();
    let sout = h.join().unwrap().unwrap();
    assert_eq!((out.intersection_size, out.intersection_sum), (3, None));
    assert_eq!(sout.intersection_sum, Some(1111 + 2222 + 3333));
    assert_eq!(sout.intersection_size, Some(3));
}

/// With --reveal-sum the server sends back what it decrypted when it lies in
/// [c min v, c max v]. The packing attack and a foreign ciphertext are refused (the client
/// learns that one bit); what remains is the residual leakage the documentation states: one
/// combination of the values of its matched elements that lands in range, e.g. c v_0 (so
/// v_0), the same as in sum mode.
#[test]
fn with_reveal_a_cheating_client_learns_at_most_one_combination_in_range() {
    let values = [1111u64, 2222, 3333, 4444];
    let o = server_sum_attack(&values, true, 3, packed, 20);
    assert!(
        matches!(&o.reply, Some(Message::Abort(t)) if t.contains("not what 3")),
        "{:?}",
        o.reply
    );
    assert!(o.server.is_err());
    let o = server_sum_attack(
        &values,
        true,
        1,
        |_, pk| {
            pk.encrypt(
                &Plaintext::from_u64(pk, 99_999),
                &mut shroud::rng::seeded(1),
            )
            .unwrap()
        },
        21,
    );
    assert!(matches!(o.reply, Some(Message::Abort(_))));
    // The residual: 3 v_0 is within [3 * 1111, 3 * 4444], so it is revealed.
    let o = server_sum_attack(&values, true, 3, |c, pk| pk.mul_i64(&c[0], 3).unwrap(), 22);
    let Some(Message::SumReply(r)) = o.reply else {
        panic!("{:?}", o.reply)
    };
    assert_eq!(low(&r), 3 * 1111, "the documented residual leakage");
    // An honest client with reveal gets the sum, as does the server.
    let o = server_sum_attack(
        &values,
        true,
        3,
        |c, pk| pk.add(&pk.add(&c[0], &c[1]).unwrap(), &c[2]).unwrap(),
        23,
    );
    let Some(Message::SumReply(r)) = o.reply else {
        panic!("{:?}", o.reply)
    };
    assert_eq!(low(&r), 6666);
    assert_eq!(o.server.unwrap().intersection_sum, Some(6666));
}

/// The key holder cheats: values 2^(140 + j) + w_j. It decrypts the client's sum and must
/// learn no more than the sum of the w_j of the matches (what the mode gives it for values
/// w_j): the crafted high bits never show which element matched, whichever it was.
#[test]
fn a_cheating_key_holder_learns_only_the_low_bits_of_the_sum() {
    let sk = key();
    let server_elements = ids("p", 24);
    let w: Vec<u64> = (0..24).map(|j| 1000 + j).collect();
    let crafted: Vec<BigUint> = (0..24)
        .map(|j| (BigUint::from(1u8) << (140 + j)) + w[j])
        .collect();
    for k in [0usize, 5, 23] {
        let mut mine = ids("q", 2);
        mine.push(format!("p{k}").into_bytes());
        mine.push(b"p7".to_vec());
        let mut cfg = ClientConfig::new(Mode::ServerSum);
        cfg.min_paillier_bits = 1024;
        let client = Client::new(cfg, mine).unwrap();
        let step = cheating_server(
            Mode::ServerSum,
            &server_elements,
            &crafted,
            client,
            &sk,
            30 + k as u64,
        );
        let ClientStep::SendSumToServer(req, out) = step else {
            panic!("server-sum without reveal ends with the client's request")
        };
        assert_eq!((req.count, out.intersection_size), (2, 2));
        let view = sk
            .decrypt(
                &sk.public_key()
                    .ciphertext_from_bytes_be(&req.ciphertext)
                    .unwrap(),
            )
            .unwrap()
            .to_biguint_vartime();
        let bits = sum_bits(req.count);
        let low_bits = &view & ((BigUint::from(1u8) << bits) - 1u8);
        assert_eq!(
            low_bits,
            BigUint::from(w[k] + w[7]),
            "the low L bits are the sum of the honest parts"
        );
        let window = (&view >> 140u32) & BigUint::from(0xFF_FFFFu32);
        assert_ne!(
            window,
            BigUint::from((1u32 << k) | (1 << 7)),
            "the server read the matches"
        );
        assert!(view.bits() > 900, "a full-size residue above the sum");
    }
}

/// Selective failure against server-sum: a spoiled ciphertext counts as 0 whether or not
/// the client holds its element, exactly as if the server's value were 0: the client does
/// not stop, and the server's decryption is the honest sum for that value.
#[test]
fn a_spoiled_value_counts_as_zero_in_server_sum_mode() {
    let sk = key();
    let server_elements = ids("p", 8);
    let values: Vec<BigUint> = (0..8u32).map(|j| BigUint::from(100 + j)).collect();
    for (mine, want) in [
        (vec![b"p2".to_vec(), b"p5".to_vec()], 105u32),
        (vec![b"p3".to_vec(), b"p5".to_vec()], 103 + 105),
    ] {
        let mut cfg = ClientConfig::new(Mode::ServerSum);
        cfg.min_paillier_bits = 1024;
        let client = Client::new(cfg, mine).unwrap();
        let step = cheating_server_with(
            Mode::ServerSum,
            &server_elements,
            &values,
            Some(2),
            client,
            &sk,
            40,
        )
        .unwrap();
        let ClientStep::SendSumToServer(req, _) = step else {
            panic!("server-sum step")
        };
        assert_eq!(req.count, 2);
        let view = sk
            .decrypt(
                &sk.public_key()
                    .ciphertext_from_bytes_be(&req.ciphertext)
                    .unwrap(),
            )
            .unwrap()
            .to_biguint_vartime();
        let low_bits = &view & ((BigUint::from(1u8) << sum_bits(2)) - 1u8);
        assert_eq!(low_bits, BigUint::from(want));
    }
}
