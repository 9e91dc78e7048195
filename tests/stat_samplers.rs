//! Statistical tests of the exact samplers: chi-square goodness of fit at alpha = 1e-6 with
//! fixed seeds (so they cannot flake), and a power check that the same test rejects the
//! distribution with a 10% wrong scale.

use shroud::dp::sample::{
    bernoulli, bernoulli_exp, discrete_gaussian, discrete_gaussians, discrete_laplace,
    geometric_exp,
};

const N: usize = 200_000;

/// Upper 1e-6 quantile of chi-square with k degrees of freedom (Wilson-Hilferty).
fn critical(k: usize) -> f64 {
    let k = k as f64;
    let z = 4.753_424_3; // standard normal upper 1e-6 quantile
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// Chi-square statistic of integer samples against pmf over [lo, hi], tails merged into the
/// end bins; returns (statistic, degrees of freedom).
fn chi2(samples: &[i128], pmf: &dyn Fn(i128) -> f64, lo: i128, hi: i128) -> (f64, usize) {
    let total: f64 = (lo - 200..=hi + 200).map(pmf).sum();
    let mut bins = Vec::new();
    for k in lo..=hi {
        let p = pmf(k) / total;
        let p = if k == lo {
            p + (lo - 200..lo).map(pmf).sum::<f64>() / total
        } else if k == hi {
            p + (hi + 1..=hi + 200).map(pmf).sum::<f64>() / total
        } else {
            p
        };
        let observed = samples.iter().filter(|x| {
            if k == lo {
                **x <= lo
            } else if k == hi {
                **x >= hi
            } else {
                **x == k
            }
        });
        bins.push((observed.count() as f64, p * samples.len() as f64));
    }
    assert!(
        bins.iter().all(|(_, e)| *e >= 5.0),
        "expected counts too small; narrow [lo, hi]"
    );
    let stat = bins.iter().map(|(o, e)| (o - e) * (o - e) / e).sum();
    (stat, bins.len() - 1)
}

fn fits(
    name: &str,
    samples: &[i128],
    pmf: &dyn Fn(i128) -> f64,
    wrong: &dyn Fn(i128) -> f64,
    lo: i128,
    hi: i128,
) {
    let (stat, df) = chi2(samples, pmf, lo, hi);
    assert!(
        stat < critical(df),
        "{name}: chi2 {stat:.1} > critical {:.1} (df {df})",
        critical(df)
    );
    let (bad, _) = chi2(samples, wrong, lo, hi);
    assert!(
        bad > critical(df),
        "{name}: the test cannot tell a 10% wrong scale ({bad:.1})"
    );
}

fn bools(f: impl FnMut() -> bool) -> Vec<i128> {
    let mut f = f;
    (0..N).map(|_| i128::from(f())).collect()
}

#[test]
fn bernoulli_rational() {
    let mut rng = shroud::rng::seeded(11);
    let s = bools(|| bernoulli(&mut rng, 1, 3).unwrap());
    let p = |k: i128| match k {
        1 => 1.0 / 3.0,
        0 => 2.0 / 3.0,
        _ => 0.0,
    };
    let w = |k: i128| match k {
        1 => 1.1 / 3.0,
        0 => 1.0 - 1.1 / 3.0,
        _ => 0.0,
    };
    fits("Bernoulli(1/3)", &s, &p, &w, 0, 1);
}

#[test]
fn bernoulli_exp_small_and_large() {
    for (n, d, seed) in [(3u128, 10u128, 12u64), (5, 2, 13)] {
        let x = n as f64 / d as f64;
        let mut rng = shroud::rng::seeded(seed);
        let s = bools(|| bernoulli_exp(&mut rng, n, d).unwrap());
        let p = move |k: i128| match k {
            1 => (-x).exp(),
            0 => 1.0 - (-x).exp(),
            _ => 0.0,
        };
        let w = move |k: i128| match k {
            1 => (-x * 1.1).exp(),
            0 => 1.0 - (-x * 1.1).exp(),
            _ => 0.0,
        };
        fits("Bernoulli(exp(-x))", &s, &p, &w, 0, 1);
    }
}

#[test]
fn geometric() {
    let mut rng = shroud::rng::seeded(14);
    let s: Vec<i128> = (0..N)
        .map(|_| geometric_exp(&mut rng, 1, 2).unwrap() as i128)
        .collect();
    let p = |k: i128| {
        if k < 0 {
            0.0
        } else {
            (-(k as f64) / 2.0).exp()
        }
    };
    let w = |k: i128| {
        if k < 0 {
            0.0
        } else {
            (-(k as f64) / 2.2).exp()
        }
    };
    fits("geometric(1/2)", &s, &p, &w, 0, 15);
}

#[test]
fn discrete_laplace_scale_3_5() {
    let mut rng = shroud::rng::seeded(15);
    let s: Vec<i128> = (0..N)
        .map(|_| discrete_laplace(&mut rng, 7, 2).unwrap())
        .collect();
    let p = |k: i128| (-(k.abs() as f64) / 3.5).exp();
    let w = |k: i128| (-(k.abs() as f64) / 3.85).exp();
    fits("discrete Laplace(3.5)", &s, &p, &w, -30, 30);
}

#[test]
fn discrete_gaussian_sigma2_10_and_2_25() {
    for (n, d, lim, seed) in [(10u64, 1u64, 10i128, 16u64), (9, 4, 6, 17)] {
        let v = n as f64 / d as f64;
        let mut rng = shroud::rng::seeded(seed);
        let s: Vec<i128> = (0..N)
            .map(|_| discrete_gaussian(&mut rng, n, d).unwrap())
            .collect();
        let p = move |k: i128| (-((k * k) as f64) / (2.0 * v)).exp();
        let w = move |k: i128| (-((k * k) as f64) / (2.0 * v * 1.21)).exp();
        fits("discrete Gaussian", &s, &p, &w, -lim, lim);
        let mean = s.iter().sum::<i128>() as f64 / N as f64;
        assert!(mean.abs() < 6.0 * (v / N as f64).sqrt(), "mean {mean}");
    }
}

#[test]
fn discrete_gaussians_in_one_call_share_nothing_but_the_bit_buffer() {
    // the batched form that DP-SGD's noise uses: one call of N draws, then the same fit
    for (n, d, lim, seed) in [(10u64, 1u64, 10i128, 18u64), (9, 4, 6, 19)] {
        let v = n as f64 / d as f64;
        let s = discrete_gaussians(&mut shroud::rng::seeded(seed), n, d, N).unwrap();
        assert_eq!(s.len(), N);
        let p = move |k: i128| (-((k * k) as f64) / (2.0 * v)).exp();
        let w = move |k: i128| (-((k * k) as f64) / (2.0 * v * 1.21)).exp();
        fits("discrete Gaussian, batched", &s, &p, &w, -lim, lim);
        // neighbours are independent: the lag-1 correlation is within noise
        let c: f64 = s.windows(2).map(|w| (w[0] * w[1]) as f64).sum::<f64>() / (N as f64 * v);
        assert!(c.abs() < 6.0 / (N as f64).sqrt(), "lag-1 correlation {c}");
    }
}

#[test]
fn bad_parameters_are_errors() {
    let mut rng = shroud::rng::seeded(1);
    assert!(bernoulli(&mut rng, 2, 1).is_err());
    assert!(bernoulli(&mut rng, 0, 0).is_err());
    assert!(bernoulli_exp(&mut rng, 1, 0).is_err());
    assert!(geometric_exp(&mut rng, 0, 1).is_err());
    assert!(discrete_laplace(&mut rng, 0, 1).is_err());
    assert!(discrete_gaussian(&mut rng, 0, 1).is_err());
    assert!(discrete_gaussian(&mut rng, 1, 0).is_err());
}
