//! Training against oracles: per-example gradients against finite differences, clipping
//! against its bound, logistic regression against Newton's method, the privacy record
//! against the DP layer's accountant.

use ndarray::{Array2, ArrayView2};
use proptest::prelude::*;
use shroud::data::Dataset;
use shroud::dp::calibrate::{Accountant, dpsgd_epsilon};
use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};
use shroud::train::dpsgd::{
    ClipNorm, DpSgd, TrainConfig, clipped_gradient_sum, clipped_per_example_gradients, train,
};
use shroud::train::network::{Activation, Architecture, Network};
use shroud::train::optim::OptimizerConfig;

/// A reproducible data set: n rows, d features in about [-2, 2], k classes.
fn data(n: usize, d: usize, k: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
    use rand_core::Rng;
    let mut rng = shroud::rng::seeded(seed);
    let mut u = || (rng.next_u64() >> 11) as f64 * 2f64.powi(-53);
    let x = Array2::from_shape_simple_fn((n, d), || 4.0 * u() - 2.0);
    let y = (0..n)
        .map(|i| {
            // a noisy linear rule so that the classes overlap
            let s: f64 = x
                .row(i)
                .iter()
                .enumerate()
                .map(|(j, v)| v * (j as f64 - 0.7))
                .sum();
            ((s + 2.0 * u() - 1.0).abs() * k as f64 / 3.0) as usize % k
        })
        .collect();
    (x, y)
}

fn finite_difference_check(arch: Architecture, k: usize, seed: u64) {
    let (x, y) = data(6, 4, k, seed);
    let mut net = Network::new(&arch, 4, k, seed).unwrap();
    // move the linear models off their zero init
    let p0: Vec<f64> = net
        .params()
        .iter()
        .enumerate()
        .map(|(i, v)| v + 0.1 * ((i * 7 + seed as usize) % 11) as f64 - 0.5)
        .collect();
    net.set_params(&p0).unwrap();
    let (g, losses) = net.per_example_gradients(x.view(), &y).unwrap();
    let base = net.losses(x.view(), &y).unwrap();
    assert!(losses.iter().zip(&base).all(|(a, b)| (a - b).abs() < 1e-12));
    let h = 1e-6;
    for j in 0..p0.len() {
        let mut p = p0.clone();
        p[j] += h;
        net.set_params(&p).unwrap();
        let up = net.losses(x.view(), &y).unwrap();
        p[j] -= 2.0 * h;
        net.set_params(&p).unwrap();
        let down = net.losses(x.view(), &y).unwrap();
        for i in 0..x.nrows() {
            let fd = (up[i] - down[i]) / (2.0 * h);
            assert!(
                (fd - g[[i, j]]).abs() < 1e-6 * (1.0 + fd.abs()),
                "{arch:?} example {i} param {j}: analytic {} vs finite difference {fd}",
                g[[i, j]]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn logistic_gradients_match_finite_differences(seed in 0u64..1000) {
        finite_difference_check(Architecture::Logistic, 2, seed);
    }

    #[test]
    fn softmax_gradients_match_finite_differences(seed in 0u64..1000) {
        finite_difference_check(Architecture::Softmax, 3, seed);
    }

    #[test]
    fn mlp_tanh_gradients_match_finite_differences(seed in 0u64..1000) {
        let arch = Architecture::Mlp { hidden: vec![5, 3], activation: Activation::Tanh };
        finite_difference_check(arch, 3, seed);
    }

    #[test]
    fn mlp_relu_gradients_match_finite_differences(seed in 0u64..1000) {
        let arch = Architecture::Mlp { hidden: vec![6], activation: Activation::Relu };
        finite_difference_check(arch, 2, seed);
    }

    #[test]
    fn every_clipped_gradient_is_within_the_bound(seed in 0u64..1000, c in 0.01f64..5.0) {
        let arch = Architecture::Mlp { hidden: vec![8], activation: Activation::Tanh };
        let (x, y) = data(40, 5, 3, seed);
        let net = Network::new(&arch, 5, 3, seed).unwrap();
        let clip = ClipNorm::new(c).unwrap();
        let g = clipped_per_example_gradients(&net, x.view(), &y, clip).unwrap();
        for row in g.rows() {
            prop_assert!(row.dot(&row).sqrt() <= c);
        }
        // the fast path (norms from |h|^2 |delta|^2, sums as matrix products) agrees
        let fast = clipped_gradient_sum(&net, x.view(), &y, clip).unwrap();
        let slow = g.sum_axis(ndarray::Axis(0));
        for (a, b) in fast.iter().zip(&slow) {
            prop_assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()));
        }
    }
}

/// Newton's method on the L2-regularized mean logistic loss (bias regularized too, as the
/// optimizer's weight decay does): the oracle.
#[allow(clippy::needless_range_loop)] // textbook linear algebra reads best with indices
fn newton(x: ArrayView2<f64>, y: &[usize], lambda: f64) -> Vec<f64> {
    let (n, d) = x.dim();
    let p = d + 1;
    let mut w = vec![0.0; p];
    for _ in 0..50 {
        let mut g = vec![0.0; p];
        let mut h = vec![vec![0.0; p]; p];
        for i in 0..n {
            let mut xi: Vec<f64> = x.row(i).to_vec();
            xi.push(1.0);
            let z: f64 = xi.iter().zip(&w).map(|(a, b)| a * b).sum();
            let s = 1.0 / (1.0 + (-z).exp());
            for a in 0..p {
                g[a] += (s - y[i] as f64) * xi[a] / n as f64;
                for b in 0..p {
                    h[a][b] += s * (1.0 - s) * xi[a] * xi[b] / n as f64;
                }
            }
        }
        for a in 0..p {
            g[a] += lambda * w[a];
            h[a][a] += lambda;
        }
        // solve h step = g by Gaussian elimination with partial pivoting
        let mut m: Vec<Vec<f64>> = h
            .iter()
            .zip(&g)
            .map(|(r, gi)| {
                let mut r = r.clone();
                r.push(*gi);
                r
            })
            .collect();
        for c in 0..p {
            let piv = (c..p)
                .max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))
                .unwrap();
            m.swap(c, piv);
            for r in 0..p {
                if r != c {
                    let f = m[r][c] / m[c][c];
                    for k in c..=p {
                        m[r][k] -= f * m[c][k];
                    }
                }
            }
        }
        for a in 0..p {
            w[a] -= m[a][p] / m[a][a];
        }
    }
    w
}

#[test]
fn non_private_logistic_regression_reaches_the_newton_optimum() {
    let (x, y) = data(300, 3, 2, 42);
    let lambda = 0.01;
    let oracle = newton(x.view(), &y, lambda);
    let names = (0..3).map(|j| format!("f{j}")).collect();
    let labels: Vec<f64> = y.iter().map(|&c| c as f64).collect();
    let ds = Dataset::new(names, "y", x.iter().copied().collect(), &labels).unwrap();
    let mut net = Network::new(&Architecture::Logistic, 3, 2, 0).unwrap();
    // q = 1: every example in every batch, so SGD is full-batch gradient descent
    let mut cfg = TrainConfig::new(3000, SamplingRate::new(1.0).unwrap(), 1.0);
    cfg.optimizer = OptimizerConfig {
        weight_decay: lambda,
        ..OptimizerConfig::sgd(1.0)
    };
    cfg.optimizer.rule = shroud::train::optim::Rule::Sgd { momentum: 0.5 };
    let report = train(&mut net, &ds, &cfg, None, &mut shroud::rng::seeded(1)).unwrap();
    assert_eq!(report.steps, 3000);
    assert!(report.privacy.is_none());
    let got = net.params();
    for (a, b) in got.iter().zip(&oracle) {
        assert!((a - b).abs() < 1e-6, "trained {got:?}, Newton {oracle:?}");
    }
    assert!(
        oracle.iter().any(|v| v.abs() > 0.1),
        "a non-trivial optimum: {oracle:?}"
    );
}

#[test]
fn the_reported_epsilon_is_the_accountants_for_the_steps_taken() {
    let (x, y) = data(400, 3, 2, 9);
    let names = (0..3).map(|j| format!("f{j}")).collect();
    let labels: Vec<f64> = y.iter().map(|&c| c as f64).collect();
    let ds = Dataset::new(names, "y", x.iter().copied().collect(), &labels).unwrap();
    let q = SamplingRate::new(0.05).unwrap();
    let sigma = NoiseMultiplier::new(1.3).unwrap();
    let delta = Delta::new(1e-5).unwrap();
    for accountant in [Accountant::Rdp, Accountant::Pld] {
        let dp = DpSgd {
            clip: ClipNorm::new(1.0).unwrap(),
            sigma,
            delta,
            accountant,
        };
        let mut net = Network::new(&Architecture::Logistic, 3, 2, 0).unwrap();
        let cfg = TrainConfig::new(3, q, 0.5);
        let r = train(&mut net, &ds, &cfg, Some(&dp), &mut shroud::rng::seeded(5)).unwrap();
        let p = r.privacy.unwrap();
        assert_eq!(p.steps, 60);
        let (expected, _) = dpsgd_epsilon(accountant, q, sigma, 60, delta).unwrap();
        assert_eq!(p.epsilon, expected);
        assert_eq!(p.accountant, accountant.name());
        assert_eq!(
            (p.noise_multiplier, p.sampling_rate, p.delta),
            (1.3, 0.05, 1e-5)
        );
    }
}

#[test]
fn early_stopping_keeps_the_best_epoch_and_accounts_the_steps_taken() {
    use shroud::data::hospitals::{HospitalConfig, generate};
    use shroud::data::scaler::Scaler;
    use shroud::train::dpsgd::train_validated;
    let h = generate(&HospitalConfig::new(2000, 1, 12).unwrap());
    let s = Scaler::standardize(&h.hospitals[0]);
    let (tr, val) = (
        s.apply(&h.hospitals[0]).unwrap(),
        s.apply(&h.holdout).unwrap(),
    );
    let q = SamplingRate::new(0.05).unwrap();
    let dp = DpSgd {
        clip: ClipNorm::new(1.0).unwrap(),
        sigma: NoiseMultiplier::new(0.8).unwrap(),
        delta: Delta::new(1e-5).unwrap(),
        accountant: Accountant::Rdp,
    };
    let mut cfg = TrainConfig::new(40, q, 0.5);
    cfg.patience = Some(2);
    let mut net = Network::new(&Architecture::Logistic, 6, 2, 0).unwrap();
    let r = train_validated(
        &mut net,
        &tr,
        Some(&val),
        &cfg,
        Some(&dp),
        &mut shroud::rng::seeded(3),
    )
    .unwrap();
    let epochs_run = r.validation_losses.len();
    assert!(epochs_run < 40, "stopped early: {epochs_run} epochs");
    assert_eq!(r.steps, epochs_run as u64 * 20);
    let p = r.privacy.unwrap();
    let (e, _) = dpsgd_epsilon(Accountant::Rdp, q, dp.sigma, r.steps, dp.delta).unwrap();
    assert_eq!(p.epsilon, e);
    // the kept parameters are the best epoch's
    let x = shroud::train::dpsgd::feature_matrix(&val);
    let kept = net.losses(x.view(), val.labels()).unwrap().mean().unwrap();
    let best = r
        .validation_losses
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert!((kept - best).abs() < 1e-12, "{kept} vs {best}");
}

/// Trains `arch` on a fixed data set with the same seeds in `precision`, with DP-SGD
/// when `sigma` is given; the parameters and the training accuracy.
fn run_in(
    arch: &Architecture,
    precision: shroud::train::network::Precision,
    sigma: Option<f64>,
) -> (Vec<f64>, f64) {
    let (x, y) = data(400, 5, 2, 9);
    let names = (0..5).map(|j| format!("f{j}")).collect();
    let labels: Vec<f64> = y.iter().map(|&c| c as f64).collect();
    let ds = Dataset::new(names, "y", x.iter().copied().collect(), &labels).unwrap();
    let mut net = Network::new(arch, 5, 2, 3).unwrap();
    let mut cfg = TrainConfig::new(5, SamplingRate::new(0.25).unwrap(), 0.05);
    cfg.precision = precision;
    let dp = sigma.map(|s| DpSgd {
        clip: ClipNorm::new(1.0).unwrap(),
        sigma: NoiseMultiplier::new(s).unwrap(),
        delta: Delta::new(1e-5).unwrap(),
        accountant: Accountant::Rdp,
    });
    train(
        &mut net,
        &ds,
        &cfg,
        dp.as_ref(),
        &mut shroud::rng::seeded(4),
    )
    .unwrap();
    let pred = net.predict(x.view()).unwrap();
    let acc = shroud::train::eval::accuracy(&pred, &y);
    (net.params(), acc)
}

#[test]
fn f32_training_matches_f64_within_tolerance() {
    use shroud::train::network::Precision;
    let mlp = Architecture::Mlp {
        hidden: vec![16, 8],
        activation: Activation::Tanh,
    };
    for arch in [Architecture::Logistic, mlp] {
        for sigma in [None, Some(0.8)] {
            let (p64, a64) = run_in(&arch, Precision::F64, sigma);
            let (p32, a32) = run_in(&arch, Precision::F32, sigma);
            // same seeds: same batches and noise; only the rounding of the passes differs
            let scale = p64.iter().fold(0f64, |m, v| m.max(v.abs()));
            let worst = p64
                .iter()
                .zip(&p32)
                .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                worst <= 1e-3 * scale.max(1.0),
                "{} sigma {sigma:?}: f32 differs by {worst} (scale {scale})",
                arch.name()
            );
            assert!((a64 - a32).abs() <= 0.01, "accuracy {a64} vs {a32}");
            assert!(p64 != p32, "the f32 path ran in f32");
        }
    }
}
