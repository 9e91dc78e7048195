//! The secret-sharing engine against plaintext arithmetic, with 2, 3 and 5 parties.

use proptest::prelude::*;
use shroud::mpc::party::sigmoid_request;
use shroud::mpc::{
    Dealer, FractionalBits, Material, Mesh, MpcError, Party, Request, SessionId, Shared,
    TripleSource,
};

/// Runs `f` as every party (one thread each) with dealer material for `req`.
fn run<T: Send + 'static>(
    n: usize,
    req: Request,
    seed: u64,
    f: impl Fn(&mut Party<Material>, &mut chacha20::ChaCha20Rng) -> Result<T, MpcError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Vec<T> {
    let session = SessionId([seed as u8; 32]);
    let dealt = Dealer::new(n)
        .unwrap()
        .deal(&session, &req, &mut shroud::rng::seeded(seed))
        .unwrap();
    let mut material =
        vec![Material::from_corrections(req.clone(), &session, dealt.corrections).unwrap()];
    for s in &dealt.seeds {
        material.push(Material::from_seed(req.clone(), &session, s).unwrap());
    }
    let handles: Vec<_> = Mesh::memory(n)
        .into_iter()
        .zip(material)
        .enumerate()
        .map(|(i, (mesh, m))| {
            let f = f.clone();
            std::thread::spawn(move || {
                let mut p = Party::new(mesh, m, FractionalBits::default());
                f(&mut p, &mut shroud::rng::seeded(seed + 100 + i as u64))
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect()
}

fn inputs(
    p: &mut Party<Material>,
    rng: &mut chacha20::ChaCha20Rng,
    x: &[u64],
    y: &[u64],
) -> Result<(Shared, Shared), MpcError> {
    let me = p.index();
    let last = p.parties() - 1;
    let a = p.input(0, (me == 0).then_some(x), x.len(), rng)?;
    let b = p.input(last, (me == last).then_some(y), y.len(), rng)?;
    Ok((a, b))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn ring_operations_match_plaintext(
        n in prop::sample::select(vec![2usize, 3, 5]),
        x in prop::collection::vec(any::<u64>(), 1..40),
        k in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let y: Vec<u64> = x.iter().map(|v| v.rotate_left(17) ^ 0x5555).collect();
        let len = x.len();
        let req = Request { triples: len, squares: len, ..Request::default() };
        let (x2, y2) = (x.clone(), y.clone());
        let outs = run(n, req, seed, move |p, rng| {
            let (a, b) = inputs(p, rng, &x2, &y2)?;
            let sum = p.reveal(&a.add(&b)?)?;
            let diff = p.reveal(&a.sub(&b)?)?;
            let scaled = p.reveal(&a.mul_public(k))?;
            let plus = p.reveal(&a.add_public(p.index(), &y2)?)?;
            let prod = p.mul(&a, &b)?;
            let prod = p.reveal(&prod)?;
            let sq = p.square(&a)?;
            let sq = p.reveal(&sq)?;
            Ok((sum, diff, scaled, plus, prod, sq))
        });
        for (sum, diff, scaled, plus, prod, sq) in outs {
            for i in 0..len {
                prop_assert_eq!(sum[i], x[i].wrapping_add(y[i]));
                prop_assert_eq!(diff[i], x[i].wrapping_sub(y[i]));
                prop_assert_eq!(scaled[i], x[i].wrapping_mul(k));
                prop_assert_eq!(plus[i], x[i].wrapping_add(y[i]));
                prop_assert_eq!(prod[i], x[i].wrapping_mul(y[i]));
                prop_assert_eq!(sq[i], x[i].wrapping_mul(x[i]));
            }
        }
    }

    #[test]
    fn matrix_products_match_plaintext(
        n in prop::sample::select(vec![2usize, 3, 5]),
        (m, k, c) in (1usize..6, 1usize..6, 1usize..6),
        seed in any::<u64>(),
    ) {
        let mut rng = shroud::rng::seeded(seed);
        let x: Vec<u64> = (0..m * k).map(|_| rand_core::Rng::next_u64(&mut rng)).collect();
        let y: Vec<u64> = (0..k * c).map(|_| rand_core::Rng::next_u64(&mut rng)).collect();
        let want = shroud::mpc::share::matmul_plain(&x, &y, m, k, c);
        let req = Request { matrix: vec![(m, k, c)], ..Request::default() };
        let outs = run(n, req, seed, move |p, rng| {
            let (a, b) = inputs(p, rng, &x, &y)?;
            let a = Shared::from_matrix(a.as_slice().to_vec(), m, k)?;
            let b = Shared::from_matrix(b.as_slice().to_vec(), k, c)?;
            let z = p.matmul(&a, &b)?;
            p.reveal(&z)
        });
        for o in outs {
            prop_assert_eq!(&o, &want);
        }
    }

    #[test]
    fn fixed_point_products_are_within_one_ulp(
        n in prop::sample::select(vec![2usize, 3, 5]),
        xs in prop::collection::vec(-1000.0f64..1000.0, 1..30),
        seed in any::<u64>(),
    ) {
        let f = FractionalBits::default();
        let ys: Vec<f64> = xs.iter().map(|v| 37.5 - v / 3.0).collect();
        let ex: Vec<u64> = f.encode_all(&xs).unwrap();
        let ey: Vec<u64> = f.encode_all(&ys).unwrap();
        let len = xs.len();
        let req = Request { triples: len, trunc: vec![(len, f.get())], ..Request::default() };
        let outs = run(n, req, seed, move |p, rng| {
            let (a, b) = inputs(p, rng, &ex, &ey)?;
            let z = p.mul_fixed(&a, &b)?;
            p.reveal(&z)
        });
        let ulp = 2f64.powi(-(f.get() as i32));
        for o in outs {
            for i in 0..len {
                // Exact product of the encodings, then at most one unit of truncation.
                let exact = f.decode(f.encode(xs[i]).unwrap()) * f.decode(f.encode(ys[i]).unwrap());
                let got = f.decode(o[i]);
                prop_assert!((got - exact).abs() <= ulp * 1.0001, "{} * {}: {} vs {}", xs[i], ys[i], got, exact);
            }
        }
    }
}

#[test]
fn truncation_error_distribution() {
    // 20 000 random values of magnitude up to 2^61: the dealer-assisted truncation is always
    // floor or floor + 1 (never a large error) and rounds up with probability equal to the
    // discarded fraction (unbiased); the local truncation fails at its stated rate.
    let count = 20_000;
    let bits = 16;
    let mut rng = shroud::rng::seeded(99);
    let xs: Vec<u64> = (0..count)
        .map(|i| {
            let v = (rand_core::Rng::next_u64(&mut rng) >> 3) as i64; // < 2^61
            (if i % 2 == 0 { v } else { -v }) as u64
        })
        .collect();
    let req = Request {
        trunc: vec![(count, bits)],
        ..Request::default()
    };
    let xs2 = xs.clone();
    let outs = run(2, req, 7, move |p, rng| {
        let x = p.input(0, (p.index() == 0).then_some(&xs2[..]), xs2.len(), rng)?;
        let t = p.truncate(&x, bits)?;
        let l = p.truncate_local(&x, bits)?;
        Ok((p.reveal(&t)?, p.reveal(&l)?))
    });
    let (t, l) = &outs[0];
    let mut ups = 0.0;
    let mut expected_ups = 0.0;
    let mut local_failures = 0;
    for i in 0..count {
        let x = xs[i] as i64;
        let floor = x >> bits;
        let d = (t[i] as i64) - floor;
        assert!(
            d == 0 || d == 1,
            "value {x}: truncated to {} (floor {floor})",
            t[i] as i64
        );
        ups += d as f64;
        expected_ups += (x & ((1 << bits) - 1)) as f64 / (1u64 << bits) as f64;
        let dl = (l[i] as i64).wrapping_sub(floor);
        if !(dl == 0 || dl == 1) {
            local_failures += 1;
        }
    }
    // Unbiased: the number of round-ups is within 5 sigma of its expectation.
    let sigma = (count as f64 * 0.25).sqrt();
    assert!(
        (ups - expected_ups).abs() < 5.0 * sigma,
        "{ups} round-ups, expected {expected_ups}"
    );
    // Local truncation of values below 2^61 fails with probability <= 2^(61 + 1 - 64) = 1/4.
    assert!(
        local_failures as f64 <= 0.25 * count as f64 * 1.1,
        "{local_failures} local failures"
    );
    assert!(
        local_failures > 0,
        "at this magnitude the local truncation's failures must show"
    );
}

#[test]
fn local_truncation_is_accurate_for_small_values() {
    // |x| < 2^40: failure probability 2^-23 per value; 20 000 values should see none.
    let count = 20_000;
    let mut rng = shroud::rng::seeded(5);
    let xs: Vec<u64> = (0..count)
        .map(|_| ((rand_core::Rng::next_u64(&mut rng) >> 24) as i64 - (1 << 39)) as u64)
        .collect();
    let xs2 = xs.clone();
    let outs = run(2, Request::default(), 8, move |p, rng| {
        let x = p.input(1, (p.index() == 1).then_some(&xs2[..]), xs2.len(), rng)?;
        let l = p.truncate_local(&x, 16)?;
        p.reveal(&l)
    });
    for (x, l) in xs.iter().zip(&outs[0]) {
        let d = (*l as i64) - ((*x as i64) >> 16);
        assert!(d == 0 || d == 1);
    }
}

#[test]
fn sigmoid_accuracy_on_minus_8_to_8() {
    let f = FractionalBits::default();
    let xs: Vec<f64> = (0..=1600).map(|i| -8.0 + i as f64 / 100.0).collect();
    let enc = f.encode_all(&xs).unwrap();
    let len = xs.len();
    let outs = run(3, sigmoid_request(len, f), 11, move |p, rng| {
        let x = p.input(2, (p.index() == 2).then_some(&enc[..]), len, rng)?;
        let s = p.sigmoid(&x)?;
        p.reveal(&s)
    });
    let worst = xs
        .iter()
        .zip(&outs[0])
        .map(|(x, s)| (f.decode(*s) - 1.0 / (1.0 + (-x).exp())).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 0.0095, "sigmoid error {worst}");
    assert!(
        worst >= 0.008,
        "the polynomial's own error must show: {worst}"
    );
}

#[test]
fn dealer_compresses_with_seeds_and_hands_out_each_piece_once() {
    // (That the pieces are correct is checked by every product above.)
    let req = Request {
        triples: 5,
        squares: 3,
        matrix: vec![(2, 3, 4)],
        trunc: vec![(4, 16)],
    };
    let session = SessionId([1; 32]);
    let dealt = Dealer::new(3)
        .unwrap()
        .deal(&session, &req, &mut shroud::rng::seeded(1))
        .unwrap();
    assert_eq!(dealt.seeds.len(), 2, "n - 1 parties get a 32-byte seed");
    assert_eq!(
        dealt.corrections.0.len(),
        req.words().unwrap(),
        "one party gets correction words"
    );
    let mut ms =
        vec![Material::from_corrections(req.clone(), &session, dealt.corrections).unwrap()];
    for s in &dealt.seeds {
        ms.push(Material::from_seed(req.clone(), &session, s).unwrap());
    }
    for m in &mut ms {
        assert_eq!(m.triples(5).unwrap().len(), 5);
        assert!(
            matches!(m.triples(1), Err(MpcError::Exhausted(_))),
            "triples are handed out once"
        );
        assert!(
            m.matrix_triple(3, 3, 3).is_err(),
            "a matrix triple of another shape is refused"
        );
        assert!(
            m.trunc_pairs(4, 8).is_err(),
            "truncation pairs for another shift are refused"
        );
    }
}

#[test]
fn material_mismatch_is_detected() {
    let req = Request {
        triples: 4,
        ..Request::default()
    };
    let session = SessionId([1; 32]);
    let dealt = Dealer::new(2)
        .unwrap()
        .deal(&session, &req, &mut shroud::rng::seeded(1))
        .unwrap();
    let other = Request {
        triples: 5,
        ..Request::default()
    };
    assert!(Material::from_corrections(other, &session, dealt.corrections).is_err());
}

#[test]
fn dealer_size_arithmetic_is_checked() {
    // Shapes whose word count overflows usize: a clear error, never a wrapped size (a
    // tiny allocation indexed as a huge one) or an overflow panic.
    let session = SessionId([2; 32]);
    let bad = [
        Request {
            matrix: vec![(usize::MAX, 2, 1)],
            ..Request::default()
        },
        Request {
            matrix: vec![(1 << 32, 1 << 32, 1)],
            ..Request::default()
        },
        Request {
            triples: usize::MAX / 2,
            ..Request::default()
        },
        Request {
            triples: 1,
            trunc: vec![(usize::MAX / 3 + 1, 8)],
            ..Request::default()
        },
        Request {
            squares: usize::MAX / 2 + 1,
            ..Request::default()
        },
    ];
    for req in bad {
        let invalid = |r: Result<(), MpcError>, what: &str| {
            assert!(
                matches!(&r, Err(MpcError::InvalidInput(m)) if m.contains("overflow")),
                "{what} for {req:?}: {r:?}"
            );
        };
        invalid(req.words().map(|_| ()), "words");
        invalid(
            Dealer::new(2)
                .unwrap()
                .deal(&session, &req, &mut shroud::rng::seeded(1))
                .map(|_| ()),
            "deal",
        );
        invalid(
            Material::from_seed(req.clone(), &session, &shroud::mpc::Seed([0; 32])).map(|_| ()),
            "from_seed",
        );
        invalid(
            Material::from_corrections(req.clone(), &session, shroud::mpc::Corrections(vec![]))
                .map(|_| ()),
            "from_corrections",
        );
    }
    // Large but representable: refused by the size limit, not by overflow.
    let big = Request {
        matrix: vec![(1 << 20, 1 << 20, 1)],
        ..Request::default()
    };
    assert!(matches!(big.words(), Ok(w) if w > 1 << 31));
    assert!(
        Dealer::new(2)
            .unwrap()
            .deal(&session, &big, &mut shroud::rng::seeded(1))
            .is_err()
    );
}

/// Three parties multiply x by y with the given material; returns party 0's output.
fn multiply_with(ms: Vec<Material>, x: Vec<u64>, y: Vec<u64>) -> Vec<u64> {
    let len = x.len();
    let handles: Vec<_> = Mesh::memory(3)
        .into_iter()
        .zip(ms)
        .map(|(mesh, m)| {
            let (x, y) = (x.clone(), y.clone());
            std::thread::spawn(move || {
                let mut p = Party::new(mesh, m, FractionalBits::default());
                let me = p.index();
                let rng = &mut shroud::rng::seeded(40 + me as u64);
                let a = p.input(0, (me == 0).then_some(&x[..]), len, rng)?;
                let b = p.input(1, (me == 1).then_some(&y[..]), len, rng)?;
                let z = p.mul(&a, &b)?;
                p.reveal(&z)
            })
        })
        .collect();
    let out: Vec<Vec<u64>> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    out[0].clone()
}

#[test]
fn dealer_material_is_bound_to_its_session() {
    let req = Request {
        triples: 16,
        ..Request::default()
    };
    let (sa, sb) = (SessionId([0xa; 32]), SessionId([0xb; 32]));
    let dealer = Dealer::new(3).unwrap();
    // Honest: the material of one session multiplies correctly.
    let a = dealer.deal(&sa, &req, &mut shroud::rng::seeded(5)).unwrap();
    assert_eq!(a.session, sa);
    let seeds_a: Vec<[u8; 32]> = a.seeds.iter().map(|s| s.0).collect();
    let mut ms = vec![Material::from_corrections(req.clone(), &sa, a.corrections).unwrap()];
    for s in &a.seeds {
        ms.push(Material::from_seed(req.clone(), &sa, s).unwrap());
    }
    assert!(ms.iter().all(|m| m.session() == Some(sa)));
    let x: Vec<u64> = (1..=16).map(|i| i * 0x1234_5678_9abc).collect();
    let y: Vec<u64> = (1..=16).map(|i| u64::MAX - i * 977).collect();
    let want: Vec<u64> = x.iter().zip(&y).map(|(a, b)| a.wrapping_mul(*b)).collect();
    assert_eq!(multiply_with(ms, x.clone(), y.clone()), want);
    // Replay: session A's seeds played into session B (party 0 holds B's corrections).
    // The streams differ, so the pieces no longer form triples.
    let b = dealer.deal(&sb, &req, &mut shroud::rng::seeded(6)).unwrap();
    let mut ms = vec![Material::from_corrections(req.clone(), &sb, b.corrections).unwrap()];
    for s in &seeds_a {
        ms.push(Material::from_seed(req.clone(), &sb, &shroud::mpc::Seed(*s)).unwrap());
    }
    let got = multiply_with(ms, x, y);
    let wrong = got.iter().zip(&want).filter(|(g, w)| g != w).count();
    assert_eq!(wrong, 16, "replayed seeds must not yield valid triples");
    // A dealer whose randomness repeats (same RNG state) in two sessions still gives
    // unrelated seed streams: the session is part of the derivation.
    let a2 = dealer.deal(&sa, &req, &mut shroud::rng::seeded(7)).unwrap();
    let b2 = dealer.deal(&sb, &req, &mut shroud::rng::seeded(7)).unwrap();
    assert_eq!(
        a2.seeds[0].0, b2.seeds[0].0,
        "same RNG state, same seed bytes"
    );
    let words = req.words().unwrap();
    let ea = shroud::mpc::dealer::expand(&a2.seeds[0], &sa, words);
    let eb = shroud::mpc::dealer::expand(&b2.seeds[0], &sb, words);
    assert!(ea.iter().zip(&eb).all(|(x, y)| x != y));
    assert_ne!(a2.corrections.0, b2.corrections.0);
}

mod common;

#[test]
fn paillier_offline_triples_multiply_correctly() {
    use shroud::mpc::paillier_offline::{triples_helper, triples_key_holder};
    let count = 40; // several packed groups of 6 slots (1024-bit test key), one partial
    let x: Vec<u64> = (0..count as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    let y: Vec<u64> = (0..count as u64).map(|i| u64::MAX - i * 977).collect();
    let mut meshes = Mesh::memory(2);
    let mut m1 = meshes.pop().unwrap();
    let mut m0 = meshes.pop().unwrap();
    let (x1, y1) = (x.clone(), y.clone());
    let h = std::thread::spawn(move || {
        let mat = triples_helper(&mut m1, count, 1024, &mut shroud::rng::seeded(2)).unwrap();
        let mut p = Party::new(m1, mat, FractionalBits::default());
        let rng = &mut shroud::rng::seeded(3);
        let a = p.input(0, None, count, rng).unwrap();
        let b = p.input(1, Some(&y1), count, rng).unwrap();
        let z = p.mul(&a, &b).unwrap();
        let _ = x1;
        p.reveal(&z).unwrap()
    });
    let sk = common::key(1024);
    let mat = triples_key_holder(&mut m0, sk, count, &mut shroud::rng::seeded(1)).unwrap();
    let mut p = Party::new(m0, mat, FractionalBits::default());
    let rng = &mut shroud::rng::seeded(4);
    let a = p.input(0, Some(&x), count, rng).unwrap();
    let b = p.input(1, None, count, rng).unwrap();
    let z = p.mul(&a, &b).unwrap();
    let got = p.reveal(&z).unwrap();
    assert_eq!(h.join().unwrap(), got);
    for i in 0..count {
        assert_eq!(got[i], x[i].wrapping_mul(y[i]), "triple {i}");
    }
}
