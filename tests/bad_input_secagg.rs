//! Secure aggregation under crafted input: every message malformed or tampered with, as a
//! cheating server or client would send it. Each is refused with a precise error, nothing
//! panics, decoders refuse oversized lists and vectors before allocating, one bad client
//! does not stop the others' sum, and an honest client refuses to reveal both shares of
//! one peer.

use shroud::net::{MemoryTransport, NetError, Transport};
use shroud::secagg::msgs::{
    AdvertiseKeys, ForwardedShares, KeyList, MaskedInput, RevealedShare, UnmaskRequest,
    UnmaskShares,
};
use shroud::secagg::{
    Client, ClientAwaitKeys, ClientAwaitShares, ClientAwaitUnmask, ClientId, GraphKind, Message,
    Params, SecAggError, Server, ServerAwaitMasked, ServerAwaitShares, ServerAwaitUnmask,
};

const N: u32 = 6;
const DIM: u32 = 8;

fn params() -> Params {
    Params::custom(N, DIM, 16, GraphKind::Complete, N - 1, 4, [3u8; 32]).unwrap()
}

fn input(u: ClientId) -> Vec<u64> {
    (0..u64::from(DIM))
        .map(|j| 1000 * u64::from(u) + j)
        .collect()
}

fn rng() -> shroud::rng::OsRng {
    shroud::rng::os_rng()
}

/// Everyone advertises; returns the clients' states, the key lists and the next server.
fn round1(p: &Params) -> (Vec<ClientAwaitKeys>, Vec<KeyList>, ServerAwaitShares) {
    let mut s = Server::new(p);
    let mut cs = Vec::new();
    for u in 0..p.n() {
        let (m, c) = Client::new(p, u, input(u)).unwrap().advertise(&mut rng());
        s.receive(u, m).unwrap();
        cs.push(c);
    }
    let (out, s) = s.finish().unwrap();
    (cs, out.into_iter().map(|(_, l)| l).collect(), s)
}

fn round2(
    p: &Params,
) -> (
    Vec<ClientAwaitShares>,
    Vec<ForwardedShares>,
    ServerAwaitMasked,
) {
    let (cs, lists, mut s) = round1(p);
    let mut next = Vec::new();
    for (u, (c, l)) in cs.into_iter().zip(lists).enumerate() {
        let (m, c) = c.share_keys(l, &mut rng()).unwrap();
        s.receive(u as ClientId, m).unwrap();
        next.push(c);
    }
    let (out, s) = s.finish().unwrap();
    (next, out.into_iter().map(|(_, f)| f).collect(), s)
}

/// After round 3: the clients still in, the server's requests, the server.
type AfterRound3 = (
    Vec<(ClientId, ClientAwaitUnmask)>,
    Vec<(ClientId, UnmaskRequest)>,
    ServerAwaitUnmask,
);

/// Clients in `drop` send no masked input.
fn round3(p: &Params, drop: &[ClientId]) -> AfterRound3 {
    let (cs, fwd, mut s) = round2(p);
    let mut next = Vec::new();
    for (u, (c, f)) in cs.into_iter().zip(fwd).enumerate() {
        let u = u as ClientId;
        if drop.contains(&u) {
            continue;
        }
        let (m, c) = c.masked_input(f).unwrap();
        s.receive(u, m).unwrap();
        next.push((u, c));
    }
    let (out, s) = s.finish().unwrap();
    (next, out, s)
}

fn plain_sum(clients: &[ClientId]) -> Vec<u64> {
    (0..DIM as usize)
        .map(|j| clients.iter().map(|&u| input(u)[j]).sum())
        .collect()
}

fn encodings(p: &Params) -> Vec<Vec<u8>> {
    let (cs, fwd, mut s) = round2(p);
    let mut frames = Vec::new();
    let mut it = cs.into_iter().zip(fwd);
    let (c, f) = it.next().unwrap();
    frames.push(Message::ForwardedShares(f.clone()).encode(p));
    let (y, c) = c.masked_input(f).unwrap();
    frames.push(Message::MaskedInput(y.clone()).encode(p));
    s.receive(0, y).unwrap();
    for (u, (c, f)) in it.enumerate() {
        let (y, _) = c.masked_input(f).unwrap();
        s.receive(u as ClientId + 1, y).unwrap();
    }
    let (reqs, _) = s.finish().unwrap();
    let req = reqs[0].1.clone();
    frames.push(Message::UnmaskRequest(req.clone()).encode(p));
    frames.push(Message::UnmaskShares(c.unmask(req.clone()).unwrap()).encode(p));
    let (cs, lists, _) = round1(p);
    frames.push(Message::KeyList(lists[0].clone()).encode(p));
    let (m, _) = cs
        .into_iter()
        .next()
        .unwrap()
        .share_keys(lists[0].clone(), &mut rng())
        .unwrap();
    frames.push(Message::EncryptedShares(m).encode(p));
    let (m, _) = Client::new(p, 0, input(0)).unwrap().advertise(&mut rng());
    frames.push(Message::AdvertiseKeys(m).encode(p));
    use shroud::secagg::msgs::{SignedBy, SignedUnmaskRequest, SurvivorList, SurvivorSignature};
    frames.push(
        Message::SurvivorList(SurvivorList {
            survivors: vec![0, 1, 2],
        })
        .encode(p),
    );
    frames.push(Message::SurvivorSignature(SurvivorSignature { signature: [3; 64] }).encode(p));
    frames.push(
        Message::SignedUnmaskRequest(SignedUnmaskRequest {
            request: req,
            signatures: vec![SignedBy {
                id: 1,
                signature: [4; 64],
            }],
        })
        .encode(p),
    );
    frames
}

#[test]
fn every_message_truncated_extended_or_relabelled_is_malformed() {
    let p = params();
    for frame in encodings(&p) {
        let kind = frame[0];
        assert!(Message::decode(&frame, &p).is_ok(), "kind {kind}");
        for cut in 0..frame.len() {
            assert!(
                matches!(
                    Message::decode(&frame[..cut], &p),
                    Err(SecAggError::Malformed(_))
                ),
                "kind {kind} cut at {cut}"
            );
        }
        let mut long = frame.clone();
        long.push(0);
        assert!(matches!(
            Message::decode(&long, &p),
            Err(SecAggError::Malformed(_))
        ));
        let mut v = frame.clone();
        v[1] = 9;
        assert!(matches!(
            Message::decode(&v, &p),
            Err(SecAggError::Malformed(_))
        ));
        let mut other = frame.clone();
        other[5] ^= 1;
        assert!(matches!(
            Message::decode(&other, &p),
            Err(SecAggError::SessionMismatch)
        ));
        let mut k = frame.clone();
        k[0] = 42;
        assert!(matches!(
            Message::decode(&k, &p),
            Err(SecAggError::Malformed(_))
        ));
    }
}

#[test]
fn oversized_lists_and_vectors_are_refused_before_allocation() {
    let p = params();
    let header = |kind: u8| {
        let mut f = vec![kind, 1];
        f.extend_from_slice(p.session_id());
        f
    };
    // A list count of 2^32 - 1 in a 40-byte frame, and one entry past the degree.
    for kind in [2u8, 3, 4, 6, 7, 8, 10] {
        let mut f = header(kind);
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        match Message::decode(&f, &p) {
            Err(SecAggError::Malformed(m)) => assert!(m.contains("over the session"), "{m}"),
            other => panic!("kind {kind}: {other:?}"),
        }
        let mut f = header(kind);
        f.extend_from_slice(&(N + 1).to_le_bytes());
        f.resize(f.len() + 100 * (N as usize + 1), 0);
        assert!(matches!(
            Message::decode(&f, &p),
            Err(SecAggError::Malformed(_))
        ));
    }
    // A masked vector one value too long or too short, or with a value over 2^b.
    let wb = p.wire_bytes();
    for len in [DIM as usize - 1, DIM as usize + 1, 1 << 20] {
        let mut f = header(5);
        f.resize(f.len() + len * wb, 0);
        assert!(matches!(
            Message::decode(&f, &p),
            Err(SecAggError::Malformed(_))
        ));
    }
    let mut f = header(5);
    f.resize(f.len() + DIM as usize * wb, 0xff);
    assert!(
        !p.modulus_bits().is_multiple_of(8),
        "the top byte must have spare bits"
    );
    assert!(matches!(
        Message::decode(&f, &p),
        Err(SecAggError::Malformed(_))
    ));
    // The transport limit set from the session refuses a bigger frame unread.
    let (mut a, mut b) = MemoryTransport::pair();
    b.set_max_frame(Message::max_len(&p));
    a.send(&vec![0u8; Message::max_len(&p) + 1]).unwrap();
    assert!(matches!(b.recv(), Err(NetError::FrameTooLarge { .. })));
    // An abort reason over the limit.
    let mut f = header(0xff);
    f.resize(f.len() + 5000, b'a');
    assert!(matches!(
        Message::decode(&f, &p),
        Err(SecAggError::Malformed(_))
    ));
}

#[test]
fn client_refuses_crafted_key_lists() {
    let p = Params::custom(20, 4, 16, GraphKind::Harary, 4, 3, [5u8; 32]).unwrap();
    let fresh = || {
        let mut s = Server::new(&p);
        let mut cs = Vec::new();
        for u in 0..20 {
            let (m, c) = Client::new(&p, u, vec![1; 4])
                .unwrap()
                .advertise(&mut rng());
            s.receive(u, m).unwrap();
            cs.push(c);
        }
        let (out, _) = s.finish().unwrap();
        (cs, out)
    };
    let misbehaved = |r: Result<_, SecAggError>, what: &str| match r {
        Err(SecAggError::PeerMisbehaved(_)) => {}
        Err(e) => panic!("{what}: {e}"),
        Ok(_) => panic!("{what}: accepted"),
    };
    let non_neighbour = (0..20)
        .find(|&v| v != 0 && !p.graph().is_neighbour(0, v))
        .unwrap();

    let (mut cs, out) = fresh();
    let mut l = out[0].1.clone();
    l.keys[0].id = non_neighbour;
    l.keys.sort_by_key(|k| k.id);
    misbehaved(
        cs.remove(0).share_keys(l, &mut rng()).map(|_| ()),
        "non-neighbour",
    );

    let (mut cs, out) = fresh();
    let mut l = out[0].1.clone();
    l.keys.swap(0, 1);
    misbehaved(
        cs.remove(0).share_keys(l, &mut rng()).map(|_| ()),
        "unsorted",
    );

    let (mut cs, out) = fresh();
    let mut l = out[0].1.clone();
    l.keys[1] = l.keys[0].clone();
    misbehaved(
        cs.remove(0).share_keys(l, &mut rng()).map(|_| ()),
        "repeated",
    );

    let (mut cs, out) = fresh();
    let mut l = out[0].1.clone();
    l.keys[0].enc_pk = [0u8; 32];
    misbehaved(
        cs.remove(0).share_keys(l, &mut rng()).map(|_| ()),
        "small-order key",
    );

    // The client's own key reflected back as a neighbour's.
    let (m, c) = Client::new(&p, 0, vec![1; 4])
        .unwrap()
        .advertise(&mut rng());
    let (_, out) = fresh();
    let mut l = out[0].1.clone();
    l.keys[0].mask_pk = m.mask_pk;
    misbehaved(c.share_keys(l, &mut rng()).map(|_| ()), "reflected key");

    // Too few neighbours left for the threshold.
    let (mut cs, out) = fresh();
    let mut l = out[0].1.clone();
    l.keys.truncate(1);
    match cs.remove(0).share_keys(l, &mut rng()) {
        Err(SecAggError::TooManyDropouts {
            round: 1,
            alive: 2,
            needed: 3,
            ..
        }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn client_refuses_crafted_forwarded_shares() {
    let p = params();
    let (mut cs, fwd, _) = round2(&p);
    let mut f = fwd[0].clone();
    f.shares.swap(0, 1);
    assert!(matches!(
        cs.remove(0).masked_input(f),
        Err(SecAggError::PeerMisbehaved(_))
    ));
    let (mut cs, fwd, _) = round2(&p);
    let mut f = fwd[0].clone();
    f.shares[0].peer = 0; // itself: not a neighbour that advertised
    f.shares.sort_by_key(|s| s.peer);
    assert!(matches!(
        cs.remove(0).masked_input(f),
        Err(SecAggError::PeerMisbehaved(_))
    ));
    let (mut cs, fwd, _) = round2(&p);
    let mut f = fwd[0].clone();
    f.shares.truncate(2);
    assert!(matches!(
        cs.remove(0).masked_input(f),
        Err(SecAggError::TooManyDropouts { round: 2, .. })
    ));
}

#[test]
fn server_asking_for_both_shares_of_one_peer_is_refused() {
    let p = params();
    // Client 5 sent its masked input; the server pretends it dropped and also asks for its
    // self-mask share.
    let (mut cs, reqs, _) = round3(&p, &[]);
    let (u, c) = cs.remove(0);
    let mut req = reqs[0].1.clone();
    assert_eq!(u, 0);
    req.dropped = vec![5];
    match c.unmask(req) {
        Err(e @ SecAggError::UnmaskRefused { peer: 5 }) => {
            assert!(e.to_string().contains("both"), "{e}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // Listed as dropped itself, or a neighbour left out of both lists.
    let (mut cs, reqs, _) = round3(&p, &[]);
    let (_, c) = cs.remove(0);
    let mut req = reqs[0].1.clone();
    req.survivors.retain(|&v| v != 0);
    req.dropped = vec![0];
    assert!(matches!(c.unmask(req), Err(SecAggError::PeerMisbehaved(_))));
    let (mut cs, reqs, _) = round3(&p, &[]);
    let (_, c) = cs.remove(0);
    let mut req = reqs[0].1.clone();
    req.survivors.pop();
    assert!(matches!(c.unmask(req), Err(SecAggError::PeerMisbehaved(_))));
}

#[test]
fn tampered_sealed_share_is_reported_and_the_sum_survives() {
    let p = params();
    let (cs, mut fwd, mut s) = round2(&p);
    fwd[0].shares[0].ct[10] ^= 1; // the share client 1 sealed for client 0
    let mut next = Vec::new();
    for (u, (c, f)) in cs.into_iter().zip(fwd).enumerate() {
        let (m, c) = c.masked_input(f).unwrap();
        s.receive(u as ClientId, m).unwrap();
        next.push(c);
    }
    let (reqs, mut s) = s.finish().unwrap();
    for (c, (u, req)) in next.into_iter().zip(reqs) {
        let out = c.unmask(req).unwrap();
        if u == 0 {
            assert_eq!(out.unreadable, vec![1]);
        }
        s.receive(u, out).unwrap();
    }
    let agg = s.finish().unwrap();
    assert_eq!(agg.sum, plain_sum(&[0, 1, 2, 3, 4, 5]));
}

#[test]
fn server_rejects_bad_client_messages_and_still_sums_the_others() {
    let p = params();
    let mut s = Server::new(&p);
    let mut cs = Vec::new();
    for u in 0..N {
        let (m, c) = Client::new(&p, u, input(u)).unwrap().advertise(&mut rng());
        s.receive(u, m.clone()).unwrap();
        assert!(matches!(
            s.receive(u, m.clone()),
            Err(SecAggError::PeerMisbehaved(_))
        ));
        assert!(matches!(
            s.receive(N + 3, m),
            Err(SecAggError::PeerMisbehaved(_))
        ));
        cs.push(c);
    }
    let bad = AdvertiseKeys {
        enc_pk: [0u8; 32],
        mask_pk: [1u8; 32],
    };
    let mut s2 = Server::new(&p);
    assert!(matches!(
        s2.receive(0, bad),
        Err(SecAggError::PeerMisbehaved(_))
    ));

    let (lists, mut s) = s.finish().unwrap();
    let mut next = Vec::new();
    for (c, (u, l)) in cs.into_iter().zip(lists) {
        let (m, c) = c.share_keys(l, &mut rng()).unwrap();
        let mut wrong = m.clone();
        wrong.shares.pop();
        assert!(matches!(
            s.receive(u, wrong),
            Err(SecAggError::PeerMisbehaved(_))
        ));
        let mut wrong = m.clone();
        wrong.shares.reverse();
        assert!(matches!(
            s.receive(u, wrong),
            Err(SecAggError::PeerMisbehaved(_))
        ));
        s.receive(u, m.clone()).unwrap();
        assert!(matches!(
            s.receive(u, m),
            Err(SecAggError::PeerMisbehaved(_))
        ));
        next.push(c);
    }
    let (fwd, mut s) = s.finish().unwrap();
    let mut next2 = Vec::new();
    for (c, (u, f)) in next.into_iter().zip(fwd) {
        let (m, c) = c.masked_input(f).unwrap();
        assert!(matches!(
            s.receive(u, MaskedInput { y: vec![0; 3] }),
            Err(SecAggError::Malformed(_))
        ));
        s.receive(u, m.clone()).unwrap();
        assert!(matches!(
            s.receive(u, m),
            Err(SecAggError::PeerMisbehaved(_))
        ));
        next2.push((u, c));
    }
    let (reqs, mut s) = s.finish().unwrap();
    for ((u, c), (_, req)) in next2.into_iter().zip(reqs) {
        let out = c.unmask(req).unwrap();
        if u == 2 {
            // Client 2 answers with a share it was not asked for (a mask-key share of a
            // survivor), then with a non-canonical share: both refused, and its shares
            // are left out.
            let mut wrong = out.clone();
            wrong.mask_key.push(RevealedShare {
                peer: 3,
                share: [1u8; 32],
            });
            assert!(matches!(
                s.receive(u, wrong),
                Err(SecAggError::PeerMisbehaved(_))
            ));
            let mut wrong = out;
            wrong.self_mask[0].share = [0xffu8; 32];
            assert!(matches!(
                s.receive(u, wrong),
                Err(SecAggError::Malformed(_))
            ));
            continue;
        }
        s.receive(u, out.clone()).unwrap();
        assert!(matches!(
            s.receive(u, out),
            Err(SecAggError::PeerMisbehaved(_))
        ));
    }
    let agg = s.finish().unwrap();
    assert_eq!(agg.sum, plain_sum(&[0, 1, 2, 3, 4, 5]));
}

#[test]
fn a_lying_share_holder_is_caught_at_reconstruction() {
    let p = params();
    let (cs, reqs, mut s) = round3(&p, &[5]);
    for ((u, c), (_, req)) in cs.into_iter().zip(reqs) {
        let mut out: UnmaskShares = c.unmask(req).unwrap();
        if u == 0 {
            assert_eq!(out.mask_key.len(), 1);
            out.mask_key[0].share = [7u8; 32]; // canonical, but not its share
        }
        s.receive(u, out).unwrap();
    }
    assert!(matches!(
        s.finish(),
        Err(SecAggError::ReconstructionFailed(5))
    ));
}

#[test]
fn masked_inputs_reveal_nothing_checkable() {
    let p = params();
    let masked = || {
        let (cs, fwd, _) = round2(&p);
        let (c, f) = cs.into_iter().zip(fwd).next().unwrap();
        c.masked_input(f).unwrap().0.y
    };
    let (a, b) = (masked(), masked());
    assert_ne!(
        a, b,
        "two runs with the same input must mask it differently"
    );
    assert_ne!(a, input(0));
    assert!(a.iter().zip(&b).filter(|(x, y)| x == y).count() <= 1);
    assert!(a.iter().all(|&v| v <= p.mask()));
}

#[test]
fn wrong_input_shapes_are_refused_by_the_caller_side() {
    let p = params();
    assert!(matches!(
        Client::new(&p, 0, vec![0; DIM as usize + 1]),
        Err(SecAggError::InvalidInput(_))
    ));
    assert!(matches!(
        Client::new(&p, 0, vec![1 << 16; DIM as usize]),
        Err(SecAggError::InvalidInput(_))
    ));
    assert!(matches!(
        Client::new(&p, N, input(0)),
        Err(SecAggError::InvalidInput(_))
    ));
    let req = UnmaskRequest {
        survivors: vec![],
        dropped: vec![],
    };
    assert!(Message::decode(&Message::UnmaskRequest(req).encode(&p), &p).is_ok());
}

/// The consistency check: every survivor signs the survivor list; a client reveals
/// shares only when t of its holders signed the list it was given.
mod consistency {
    use super::*;
    use ed25519_dalek::{SigningKey, VerifyingKey};
    use shroud::secagg::msgs::{SignedUnmaskRequest, SurvivorList};

    fn keys() -> (Vec<SigningKey>, Vec<VerifyingKey>) {
        let sk: Vec<SigningKey> = (0..N as u8)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let vk = sk.iter().map(SigningKey::verifying_key).collect();
        (sk, vk)
    }

    type Masked = (
        Vec<ClientAwaitUnmask>,
        shroud::secagg::ServerAwaitSignatures,
        Vec<SurvivorList>,
    );

    /// Clients after their masked input, and the server's signature round.
    fn masked() -> Masked {
        masked_with(&params())
    }

    fn masked_with(p: &Params) -> Masked {
        let (cs, fwd, mut s) = round2(p);
        let mut next = Vec::new();
        for (u, (c, f)) in cs.into_iter().zip(fwd).enumerate() {
            let (m, c) = c.masked_input(f).unwrap();
            s.receive(u as ClientId, m).unwrap();
            next.push(c);
        }
        let (lists, s) = s.finish_checked().unwrap();
        (next, s, lists.into_iter().map(|(_, l)| l).collect())
    }

    #[test]
    fn honest_server_passes_the_check() {
        let (sk, vk) = keys();
        let (cs, mut s, lists) = masked();
        let mut checked = Vec::new();
        for (u, (c, l)) in cs.into_iter().zip(lists).enumerate() {
            let (sig, c) = c.sign_survivors(l, &sk[u], vk.clone()).unwrap();
            s.receive(u as ClientId, sig).unwrap();
            checked.push(c);
        }
        let (reqs, mut s) = s.finish();
        for (c, (u, req)) in checked.into_iter().zip(reqs) {
            let frame = Message::SignedUnmaskRequest(req).encode(&params());
            let Message::SignedUnmaskRequest(req) = Message::decode(&frame, &params()).unwrap()
            else {
                panic!("kind")
            };
            s.receive(u, c.unmask(req).unwrap()).unwrap();
        }
        assert_eq!(s.finish().unwrap().sum, plain_sum(&[0, 1, 2, 3, 4, 5]));
    }

    /// The server tells clients 0-3 that client 5 dropped (to collect shares of its mask
    /// key) and clients 4 and 5 that it survived (to collect shares of b_5). Clients 0-3
    /// sign the first list and reach t = 4 signatures, but 4 and 5 see only 2 on theirs
    /// and refuse: the server never holds both secrets of client 5.
    #[test]
    fn a_server_lying_about_who_dropped_is_caught() {
        let (sk, vk) = keys();
        let (cs, mut s, lists) = masked();
        let honest = lists[0].survivors.clone();
        let lie: Vec<ClientId> = honest.iter().copied().filter(|&u| u != 5).collect();
        let mut checked = Vec::new();
        for (u, c) in cs.into_iter().enumerate() {
            let list = SurvivorList {
                survivors: if u < 4 { lie.clone() } else { honest.clone() },
            };
            let (sig, c) = c.sign_survivors(list, &sk[u], vk.clone()).unwrap();
            s.receive(u as ClientId, sig).unwrap();
            checked.push(c);
        }
        let (reqs, _) = s.finish();
        for (c, (u, req)) in checked.into_iter().zip(reqs) {
            let mut req: SignedUnmaskRequest = req;
            if u < 4 {
                // Consistent with the lie: 5 asked for as dropped.
                req.request.survivors.retain(|&v| v != 5);
                req.request.dropped = vec![5];
                assert!(
                    c.unmask(req).is_ok(),
                    "client {u} saw t signatures on its list"
                );
            } else {
                match c.unmask(req) {
                    Err(SecAggError::PeerMisbehaved(m)) => {
                        assert!(m.contains("only 2 of"), "{m}")
                    }
                    other => panic!("client {u}: {:?}", other.map(|_| ())),
                }
            }
        }
    }

    #[test]
    fn forged_or_mismatched_signatures_do_not_count() {
        let (sk, vk) = keys();
        let (cs, mut s, lists) = masked();
        let mut checked = Vec::new();
        for (u, (c, l)) in cs.into_iter().zip(lists).enumerate() {
            let (sig, c) = c.sign_survivors(l, &sk[u], vk.clone()).unwrap();
            s.receive(u as ClientId, sig.clone()).unwrap();
            assert!(s.receive(u as ClientId, sig).is_err());
            checked.push(c);
        }
        let (reqs, _) = s.finish();
        let (c, (_, mut req)) = checked.into_iter().zip(reqs).next().unwrap();
        // Three signatures corrupted, one duplicated: 3 valid distinct signers < t = 4.
        for s in &mut req.signatures[..3] {
            s.signature[0] ^= 1;
        }
        req.signatures.push(req.signatures[4].clone());
        assert!(matches!(c.unmask(req), Err(SecAggError::PeerMisbehaved(_))));
        // A list leaving out the signer itself is refused before signing.
        let (cs, _, lists) = masked();
        let mut l = lists[0].clone();
        l.survivors.retain(|&u| u != 0);
        let c = cs.into_iter().next().unwrap();
        assert!(matches!(
            c.sign_survivors(l, &sk[0], vk),
            Err(SecAggError::PeerMisbehaved(_))
        ));
    }

    /// A lying server with two corrupted clients (0 and 1), who sign both survivor lists.
    /// It tells clients 0-3 that client 5 dropped and clients 0, 1, 4, 5 that it survived.
    /// With t = 4 (above half of the 6 holders, all that [`Params::custom`] checks) each
    /// list gathers 4 signatures and honest clients on both sides reveal: the server gets
    /// both of client 5's secrets. Parameters derived against a lying server with this
    /// much corruption have t = 5, and the same attack is refused on both sides; derived
    /// for an honest-but-curious server, they are refused by the check itself.
    #[test]
    fn corrupted_holders_signing_both_lists_need_the_lying_server_threshold() {
        use ed25519_dalek::Signer;
        use shroud::secagg::consistency::signed_payload;
        use shroud::secagg::msgs::SignedBy;
        use shroud::secagg::{Tolerance, msgs::UnmaskRequest};

        let (sk, vk) = keys();
        let attack = |p: &Params| -> Vec<bool> {
            let (cs, _, lists) = masked_with(p);
            let honest = lists[0].survivors.clone();
            let lie: Vec<ClientId> = honest.iter().copied().filter(|&u| u != 5).collect();
            let sign = |u: usize, l: &[ClientId]| SignedBy {
                id: u as ClientId,
                signature: sk[u].sign(&signed_payload(p, l)).to_bytes(),
            };
            // Signers per list: the corrupted clients sign both.
            let on_lie: Vec<SignedBy> = [0, 1, 2, 3].iter().map(|&u| sign(u, &lie)).collect();
            let on_truth: Vec<SignedBy> = [0, 1, 4, 5].iter().map(|&u| sign(u, &honest)).collect();
            let mut revealed = Vec::new();
            for (u, c) in cs.into_iter().enumerate() {
                let told_lie = u < 4;
                let list = SurvivorList {
                    survivors: if told_lie {
                        lie.clone()
                    } else {
                        honest.clone()
                    },
                };
                let (_, c) = c.sign_survivors(list, &sk[u], vk.clone()).unwrap();
                let req = SignedUnmaskRequest {
                    request: UnmaskRequest {
                        survivors: if told_lie {
                            lie.clone()
                        } else {
                            honest.clone()
                        },
                        dropped: if told_lie { vec![5] } else { vec![] },
                    },
                    signatures: if told_lie {
                        on_lie.clone()
                    } else {
                        on_truth.clone()
                    },
                };
                // The honest clients: 2, 3 (told the lie) and 4 (told the truth).
                let ok = c.unmask(req).is_ok();
                if (2..=4).contains(&u) {
                    revealed.push(ok);
                }
            }
            revealed
        };
        // t = 4: every honest client reveals, on both lists.
        assert_eq!(attack(&params()), vec![true, true, true]);
        // Derived against a lying server, 2 of 6 corrupted: t = 5, nobody reveals.
        let tol = Tolerance::new(0.0, 0.34).unwrap();
        let lying = Params::derive(
            N,
            DIM,
            16,
            GraphKind::Complete,
            tol.with_lying_server(),
            [3u8; 32],
        )
        .unwrap();
        assert_eq!(lying.threshold(), 5);
        assert_eq!(attack(&lying), vec![false, false, false]);
        // Derived for an honest-but-curious server: the check refuses to run on them.
        let curious = Params::derive(N, DIM, 16, GraphKind::Complete, tol, [3u8; 32]).unwrap();
        assert_eq!(curious.threshold(), 4);
        let (cs, _, lists) = masked_with(&curious);
        let c = cs.into_iter().next().unwrap();
        assert!(matches!(
            c.sign_survivors(lists[0].clone(), &sk[0], vk),
            Err(SecAggError::InsecureParams(m)) if m.contains("lying server")
        ));
    }
}
