//! Statistical tests of DP-SGD's randomness, with fixed seeds so that they cannot flake:
//! Poisson batch sizes (chi-square against Binomial(n, q)) and the noise added to the
//! clipped sum (Kolmogorov-Smirnov against N(0, (sigma C)^2)), each at alpha = 1e-6.

use shroud::dp::release::gaussian_vector;
use shroud::dp::{NoiseMultiplier, SamplingRate};
use shroud::train::sampler::PoissonSampler;

/// Upper 1e-6 quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty).
fn chi2_critical(df: f64) -> f64 {
    let z = 4.753; // standard normal upper 1e-6 quantile
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

fn ln_binom_pmf(n: u64, k: u64, q: f64) -> f64 {
    let lf = |m: u64| (1..=m).map(|i| (i as f64).ln()).sum::<f64>();
    lf(n) - lf(k) - lf(n - k) + k as f64 * q.ln() + (n - k) as f64 * (1.0 - q).ln()
}

#[test]
fn poisson_batch_sizes_follow_the_binomial() {
    let (n, q, draws) = (200usize, 0.1, 5000usize);
    let sampler = PoissonSampler::new(n, SamplingRate::new(q).unwrap());
    let mut rng = shroud::rng::seeded(2024);
    let mut counts = vec![0usize; n + 1];
    let mut joined = vec![0usize; n];
    for _ in 0..draws {
        let b = sampler.sample(&mut rng).unwrap();
        counts[b.len()] += 1;
        for i in b {
            joined[i] += 1;
        }
    }
    // bins with expected count >= 5, tails pooled into the end bins
    let expected: Vec<f64> = (0..=n as u64)
        .map(|k| draws as f64 * ln_binom_pmf(n as u64, k, q).exp())
        .collect();
    let (mut lo, mut hi) = (0, n);
    while expected[..=lo].iter().sum::<f64>() < 5.0 {
        lo += 1;
    }
    while expected[hi..].iter().sum::<f64>() < 5.0 {
        hi -= 1;
    }
    let mut bins: Vec<(f64, f64)> = vec![(
        counts[..=lo].iter().sum::<usize>() as f64,
        expected[..=lo].iter().sum(),
    )];
    for k in lo + 1..hi {
        bins.push((counts[k] as f64, expected[k]));
    }
    bins.push((
        counts[hi..].iter().sum::<usize>() as f64,
        expected[hi..].iter().sum(),
    ));
    let chi2: f64 = bins.iter().map(|(o, e)| (o - e) * (o - e) / e).sum();
    let df = (bins.len() - 1) as f64;
    assert!(chi2 < chi2_critical(df), "chi2 {chi2} with {df} df");
    assert!(bins.len() > 10, "batch sizes vary: {} bins", bins.len());
    // every example joins about q of the batches: Binomial(5000, 0.1), sd about 21
    for (i, &j) in joined.iter().enumerate() {
        assert!(
            (j as f64 - 500.0).abs() < 6.0 * 21.2,
            "example {i} joined {j} times"
        );
    }
}

#[test]
fn dp_sgd_noise_is_gaussian_with_sd_sigma_c() {
    let (sigma, clip, n) = (1.1, 0.5, 20_000usize);
    let sum = vec![0.0; n]; // the clipped sum of an empty batch: noise alone
    let r = gaussian_vector(
        &mut shroud::rng::seeded(77),
        &sum,
        clip,
        NoiseMultiplier::new(sigma).unwrap(),
    )
    .unwrap();
    let sd = r.noise_std;
    // the rounding is charged: sd = sigma (C + g sqrt(n)), here 0.2 % above sigma C
    let charged = sigma * (clip + r.granularity * (n as f64).sqrt());
    assert!(
        sd >= charged && sd < charged * 1.000_001,
        "{sd} vs {charged}"
    );
    let mut v = r.values.clone();
    v.sort_by(f64::total_cmp);
    let cdf = |x: f64| 0.5 * libm::erfc(-x / (sd * std::f64::consts::SQRT_2));
    let d = v
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n as f64)
                .abs()
                .max(((i + 1) as f64 / n as f64 - f).abs())
        })
        .fold(0.0, f64::max);
    // KS critical value at alpha = 1e-6: sqrt(ln(2 / alpha) / 2) / sqrt(n)
    let crit = ((2.0f64 / 1e-6).ln() / 2.0).sqrt() / (n as f64).sqrt();
    assert!(d < crit, "KS statistic {d} >= {crit}");
}
