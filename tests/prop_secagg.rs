//! Secure aggregation against the plaintext oracle: for random n (2..60), dimensions,
//! input widths, both graphs, thresholds and drop schedules at every round, the server's
//! sum equals the plain sum of the inputs of the clients it reports as included, exactly
//! when enough clients remain (an independent simulation of who is still in); otherwise the
//! session aborts with `TooManyDropouts`. On the complete graph, dropping one client more
//! than the threshold allows at any round aborts cleanly.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use shroud::secagg::{ClientId, GraphKind, Params, SecAggError, run_local};

/// Who is still in after each round, as the protocol defines it: clients with fewer than
/// t live holders are dropped at rounds 1 and 2; at round 3 and 4 every client of round 2
/// needs t live holders. Returns the included clients, or None for an abort.
fn oracle(p: &Params, drops: &BTreeMap<ClientId, u8>) -> Option<BTreeSet<ClientId>> {
    let g = p.graph();
    let t = p.threshold();
    let stays = |u: ClientId, r: u8| drops.get(&u).is_none_or(|&d| d >= r);
    let live = |u: ClientId, set: &BTreeSet<ClientId>| {
        g.holders(u).iter().filter(|v| set.contains(v)).count()
    };
    let prune = |mut set: BTreeSet<ClientId>| loop {
        let weak: Vec<ClientId> = set.iter().copied().filter(|&u| live(u, &set) < t).collect();
        if weak.is_empty() {
            return set;
        }
        for u in weak {
            set.remove(&u);
        }
    };
    let u1 = prune((0..p.n()).filter(|&u| stays(u, 1)).collect());
    if u1.is_empty() {
        return None;
    }
    let u2 = prune(u1.iter().copied().filter(|&u| stays(u, 2)).collect());
    if u2.is_empty() {
        return None;
    }
    let u3: BTreeSet<ClientId> = u2.iter().copied().filter(|&u| stays(u, 3)).collect();
    if u2.iter().any(|&u| live(u, &u3) < t) {
        return None;
    }
    let u4: BTreeSet<ClientId> = u3.iter().copied().filter(|&u| stays(u, 4)).collect();
    if u2.iter().any(|&u| live(u, &u4) < t) {
        return None;
    }
    Some(u3)
}

fn ceil_log2(n: u32) -> u32 {
    32 - (n - 1).leading_zeros()
}

#[derive(Debug, Clone)]
struct Case {
    n: u32,
    dim: u32,
    input_bits: u32,
    harary: bool,
    degree_pick: u32,
    t_pick: u32,
    drops: Vec<(u32, u8)>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        2u32..60,
        1u32..24,
        any::<bool>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_flat_map(|(n, dim, harary, degree_pick, t_pick, seed)| {
            let max_bits = 64 - ceil_log2(n);
            (
                Just((n, dim, harary, degree_pick, t_pick, seed)),
                1u32..=max_bits,
                proptest::collection::vec((0..n, 0u8..4), 0..(n as usize / 5 + 2)),
            )
        })
        .prop_map(
            |((n, dim, harary, degree_pick, t_pick, seed), input_bits, drops)| Case {
                n,
                dim,
                input_bits,
                harary,
                degree_pick,
                t_pick,
                drops,
                seed,
            },
        )
}

fn params_for(c: &Case) -> Params {
    let mut session = [0u8; 32];
    session[..8].copy_from_slice(&c.seed.to_le_bytes());
    // Harary needs an even degree 2 <= k < n - 1; otherwise use the complete graph.
    let harary = c.harary && c.n >= 4;
    let (kind, k) = if harary {
        let choices = (c.n - 2) / 2; // k in {2, 4, .., 2 * choices} and 2 * choices < n - 1
        (GraphKind::Harary, 2 + 2 * (c.degree_pick % choices))
    } else {
        (GraphKind::Complete, c.n - 1)
    };
    let holders = k + 1;
    let t_min = holders / 2 + 1;
    let t = t_min + c.t_pick % (holders - t_min + 1);
    Params::custom(c.n, c.dim, c.input_bits, kind, k, t, session).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sum_is_the_plain_sum_of_the_included_clients(c in case()) {
        let p = params_for(&c);
        let mut rng = shroud::rng::seeded(c.seed);
        let bound = c.input_bits;
        let inputs: Vec<Vec<u64>> = (0..c.n)
            .map(|_| {
                (0..c.dim)
                    .map(|_| rand_core::Rng::next_u64(&mut rng) >> (64 - bound))
                    .collect()
            })
            .collect();
        let drops: BTreeMap<ClientId, u8> = c.drops.iter().copied().collect();
        let expect = oracle(&p, &drops);
        match (run_local(&p, inputs.clone(), &drops, &mut rng), expect) {
            (Ok((agg, _)), Some(included)) => {
                let included: Vec<ClientId> = included.into_iter().collect();
                prop_assert_eq!(&agg.survivors, &included);
                let mut plain = vec![0u64; c.dim as usize];
                for &u in &included {
                    for (s, x) in plain.iter_mut().zip(&inputs[u as usize]) {
                        *s += *x; // no wrap: the modulus covers n inputs
                    }
                }
                prop_assert_eq!(agg.sum, plain);
                prop_assert_eq!(agg.dropped.len() + agg.survivors.len(), c.n as usize);
            }
            (Err(SecAggError::TooManyDropouts { alive, needed, .. }), None) => {
                prop_assert!(alive < needed);
            }
            (got, want) => prop_assert!(false, "run {:?}, oracle {:?}", got.map(|r| r.0), want),
        }
    }
}

/// Complete graph, n = 10, t = 6: at every round, 4 dropouts leave exactly t clients and
/// the sum is right; a fifth aborts with the count of survivors and the threshold.
#[test]
fn one_dropout_past_the_threshold_aborts_cleanly() {
    let p = Params::custom(10, 5, 16, GraphKind::Complete, 9, 6, [1u8; 32]).unwrap();
    let inputs: Vec<Vec<u64>> = (0..10u64).map(|u| vec![u, 2 * u, 3, 0, 65535]).collect();
    for round in 0u8..4 {
        let drops: BTreeMap<ClientId, u8> = (0..4).map(|u| (u, round)).collect();
        let (agg, _) = run_local(&p, inputs.clone(), &drops, &mut shroud::rng::os_rng()).unwrap();
        let included: Vec<ClientId> = if round == 3 {
            (0..10).collect()
        } else {
            (4..10).collect()
        };
        assert_eq!(agg.survivors, included, "round {round}");
        let want: Vec<u64> = (0..5)
            .map(|j| included.iter().map(|&u| inputs[u as usize][j]).sum())
            .collect();
        assert_eq!(agg.sum, want, "round {round}");

        let drops: BTreeMap<ClientId, u8> = (0..5).map(|u| (u, round)).collect();
        match run_local(&p, inputs.clone(), &drops, &mut shroud::rng::os_rng()) {
            Err(SecAggError::TooManyDropouts {
                round: r,
                alive,
                needed,
                ..
            }) => {
                assert_eq!((alive, needed), (5, 6), "round {round}");
                assert_eq!(r, round + 1, "round {round}");
            }
            other => panic!(
                "round {round}: expected an abort, got {:?}",
                other.map(|r| r.0)
            ),
        }
    }
}

/// Derived SecAgg+ parameters (not only custom ones) sum correctly with dropouts.
#[test]
fn derived_harary_session_sums_with_dropouts() {
    let tol = shroud::secagg::Tolerance::new(0.1, 0.1).unwrap();
    let p = Params::derive(300, 4, 12, GraphKind::Harary, tol, [9u8; 32]).unwrap();
    assert!(!p.graph().is_complete());
    let inputs: Vec<Vec<u64>> = (0..300u64).map(|u| vec![u, 1, 4095, u % 7]).collect();
    let drops: BTreeMap<ClientId, u8> = (0..30).map(|u| (u * 10, (u % 4) as u8)).collect();
    let (agg, _) = run_local(&p, inputs.clone(), &drops, &mut shroud::rng::os_rng()).unwrap();
    let want: Vec<u64> = (0..4)
        .map(|j| agg.survivors.iter().map(|&u| inputs[u as usize][j]).sum())
        .collect();
    assert_eq!(agg.sum, want);
    // Dropped at round 3 (after the masked input) are still included.
    let expected: usize = 300 - drops.values().filter(|&&r| r < 3).count();
    assert_eq!(agg.survivors.len(), expected);
}

/// Many dropouts per survivor: the server's fixed-base-table key agreement (used from 32
/// dropped neighbours on) gives the same masks as the clients' Montgomery ladder.
#[test]
fn many_dropped_neighbours_per_survivor() {
    let n = 80u32;
    let p = Params::custom(n, 6, 20, GraphKind::Complete, n - 1, 41, [4u8; 32]).unwrap();
    let inputs: Vec<Vec<u64>> = (0..u64::from(n))
        .map(|u| {
            (0..6)
                .map(|j| (u * 7919 + j * 104_729) % (1 << 20))
                .collect()
        })
        .collect();
    let drops: BTreeMap<ClientId, u8> = (0..35).map(|u| (u * 2, 2)).collect();
    let (agg, _) = run_local(&p, inputs.clone(), &drops, &mut shroud::rng::os_rng()).unwrap();
    assert_eq!(agg.survivors.len(), 45);
    let want: Vec<u64> = (0..6)
        .map(|j| agg.survivors.iter().map(|&u| inputs[u as usize][j]).sum())
        .collect();
    assert_eq!(agg.sum, want);
}
