//! `shroud bench paillier`: medians of the real operations, one thread.

use std::time::Instant;

use clap::{Args, Subcommand};
use rand_core::Rng;
use serde_json::json;
use shroud::paillier::{DjnEncryptor, KeygenOptions, Plaintext, RandomnessPool, generate_keypair};

use crate::Failure;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Paillier: key generation, encryption modes, decryption, homomorphic operations.
    Paillier(PaillierArgs),
    /// Differential privacy: RDP and PLD epsilons, discrete Gaussian sampling, calibration.
    Dp(DpArgs),
    /// Private set intersection: both roles on N x N elements, phases, bytes each way.
    Psi(crate::bench_psi::PsiArgs),
    /// Secret sharing: online Beaver multiplications, shared matmul, dealer throughput.
    Mpc(crate::bench_mpc::MpcArgs),
    /// DP-SGD throughput: logistic regression and an MLP 64-32 on 20 features, batch 256.
    #[cfg(feature = "train")]
    Train(crate::bench_train::TrainBenchArgs),
    /// Secure aggregation: server and clients in one process, time and bytes per client.
    Secagg(crate::bench_secagg::SecAggArgs),
    /// Federated learning: time per round, secure and plaintext; --utility for accuracy
    /// and membership inference on the built-in hospitals.
    #[cfg(feature = "train")]
    Fl(crate::bench_fl::FlBenchArgs),
    /// The inference service on loopback: records per second (batches, packing, one core
    /// and all), latency under concurrent clients, optionally python-paillier's server.
    #[cfg(feature = "serve")]
    Serve(crate::bench_serve::ServeBenchArgs),
    /// Secret-shared inference (`mpc infer`) of the same model: latency and bytes per
    /// session, offline phase included.
    #[cfg(feature = "serve")]
    MpcInfer(crate::bench_mpc_infer::MpcInferBenchArgs),
}

#[derive(Args)]
pub struct DpArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn dp(a: DpArgs) -> Result<(), Failure> {
    use shroud::dp::calibrate::{Accountant, calibrate_noise_multiplier, dpsgd_epsilon};
    use shroud::dp::sample::discrete_gaussian;
    use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};
    let (q, sigma, steps, delta) = (
        SamplingRate::new(0.01)?,
        NoiseMultiplier::new(1.1)?,
        10_000u64,
        Delta::new(1e-5)?,
    );
    let mut rdp_eps = 0.0;
    let rdp_ms = time_ms(2.0, || {
        rdp_eps = dpsgd_epsilon(Accountant::Rdp, q, sigma, steps, delta).map_or(f64::NAN, |r| r.0);
    });
    let mut pld_eps = 0.0;
    let pld_ms = time_ms(3.0, || {
        pld_eps = dpsgd_epsilon(Accountant::Pld, q, sigma, steps, delta).map_or(f64::NAN, |r| r.0);
    });
    let mut rng = shroud::rng::chacha_from_os();
    let mut per_s = |n: u64, d: u64| -> f64 {
        let count = 2_000_000u64;
        let t = Instant::now();
        let mut acc = 0i128;
        for _ in 0..count {
            acc = acc.wrapping_add(discrete_gaussian(&mut rng, n, d).unwrap_or(0));
        }
        std::hint::black_box(acc);
        count as f64 / t.elapsed().as_secs_f64()
    };
    let dg10 = per_s(100, 1);
    let dg1e6 = per_s(1_000_000_000_000, 1);
    let mut cal = 0.0;
    let calibrate_rdp_ms = time_ms(2.0, || {
        cal = calibrate_noise_multiplier(Accountant::Rdp, q, steps, delta, 1.0)
            .map_or(f64::NAN, |r| r.0.get());
    });
    let t = Instant::now();
    let cal_pld = calibrate_noise_multiplier(Accountant::Pld, q, steps, delta, 1.0)
        .map_or(f64::NAN, |r| r.0.get());
    let calibrate_pld_ms = t.elapsed().as_secs_f64() * 1e3;
    let row = json!({
        "setting": {"sampling_rate": 0.01, "noise_multiplier": 1.1, "steps": steps, "delta": 1e-5},
        "rdp_epsilon": rdp_eps,
        "rdp_epsilon_ms": rdp_ms,
        "pld_epsilon": pld_eps,
        "pld_epsilon_ms": pld_ms,
        "discrete_gaussian_sigma10_per_s": dg10,
        "discrete_gaussian_sigma1e6_per_s": dg1e6,
        "calibrate_rdp_ms": calibrate_rdp_ms,
        "calibrate_rdp_noise_multiplier_for_eps1": cal,
        "calibrate_pld_ms": calibrate_pld_ms,
        "calibrate_pld_noise_multiplier_for_eps1": cal_pld,
    });
    if a.json {
        println!("{row}");
    } else {
        println!(
            "DP-SGD q = 0.01, sigma = 1.1, 10000 steps, delta = 1e-5 (medians; PLD may use both cores)"
        );
        println!("RDP epsilon            {rdp_eps:.6}   {rdp_ms:>10.3} ms");
        println!("PLD epsilon            {pld_eps:.6}   {pld_ms:>10.3} ms");
        println!("discrete Gaussian sigma = 10    {:>12.0} samples/s", dg10);
        println!("discrete Gaussian sigma = 1e6   {:>12.0} samples/s", dg1e6);
        println!("calibrate to eps 1 (RDP)  sigma {cal:.6}   {calibrate_rdp_ms:>10.3} ms");
        println!("calibrate to eps 1 (PLD)  sigma {cal_pld:.6}   {calibrate_pld_ms:>10.3} ms");
    }
    Ok(())
}

#[derive(Args)]
pub struct PaillierArgs {
    /// Key sizes, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![2048u32, 3072, 4096])]
    bits: Vec<u32>,
    /// Key generations per size (median reported); default 11 / 7 / 5 for 2048 / 3072 / 4096.
    #[arg(long)]
    keygen_runs: Option<usize>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    /// Also time python-paillier (phe 1.5.0 + gmpy2, `benches/phe_paillier.py`) on the same
    /// operations in the same run, and print shroud's ratios to it.
    #[arg(long)]
    with_phe: bool,
}

pub fn run(cmd: BenchCommand) -> Result<(), Failure> {
    match cmd {
        BenchCommand::Paillier(a) => paillier(a),
        BenchCommand::Dp(a) => dp(a),
        BenchCommand::Psi(a) => crate::bench_psi::run(a),
        BenchCommand::Mpc(a) => crate::bench_mpc::run(a),
        #[cfg(feature = "train")]
        BenchCommand::Train(a) => crate::bench_train::run(a),
        BenchCommand::Secagg(a) => crate::bench_secagg::run(a),
        #[cfg(feature = "train")]
        BenchCommand::Fl(a) => crate::bench_fl::run(a),
        #[cfg(feature = "serve")]
        BenchCommand::Serve(a) => crate::bench_serve::run(a),
        #[cfg(feature = "serve")]
        BenchCommand::MpcInfer(a) => crate::bench_mpc_infer::run(a),
    }
}

pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Median wall time in ms of `f`, over at least 11 runs and about `budget_s` seconds.
pub(crate) fn time_ms(budget_s: f64, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    let first = t.elapsed().as_secs_f64();
    let runs = ((budget_s / first.max(1e-7)) as usize).clamp(11, 2001);
    let samples = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    median(samples)
}

fn paillier(a: PaillierArgs) -> Result<(), Failure> {
    let mut rows = Vec::new();
    let mut rng = shroud::rng::os_rng();
    for &bits in &a.bits {
        if !shroud::paillier::SUPPORTED_BITS.contains(&bits) {
            return Err(Failure(format!(
                "unsupported key size {bits}: use 2048, 3072 or 4096"
            )));
        }
        if !a.json {
            eprintln!("benchmarking {bits}-bit keys ...");
        }
        let opts = KeygenOptions {
            bits,
            ..Default::default()
        };
        let runs = a.keygen_runs.unwrap_or(match bits {
            2048 => 11,
            3072 => 7,
            _ => 5,
        });
        let mut kg = Vec::new();
        let mut sk = None;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let k = generate_keypair(opts, &mut rng, &|_| {})?;
            kg.push(t.elapsed().as_secs_f64() * 1e3);
            sk = Some(k);
        }
        let sk = sk.ok_or_else(|| Failure("no key generated".into()))?;
        let pk = sk.public_key();
        let m = Plaintext::from_u64(pk, rng.next_u64());
        let encrypt_ms = time_ms(1.0, || {
            std::hint::black_box(pk.encrypt(&m, &mut rng).ok());
        });
        let encrypt_owner_ms = time_ms(1.0, || {
            std::hint::black_box(sk.encrypt(&m, &mut rng).ok());
        });
        // Pooled: fill (off-line, all cores) then time only the on-line encryption.
        let mut pool = RandomnessPool::new(pk);
        pool.fill(201, &mut rng);
        let mut pooled = Vec::new();
        while !pool.is_empty() {
            let t = Instant::now();
            let c = pool.encrypt(&m)?;
            pooled.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(c);
        }
        let encrypt_pooled_ms = median(pooled);
        let djn = DjnEncryptor::new(pk, &mut rng);
        let encrypt_djn_ms = time_ms(1.0, || {
            std::hint::black_box(djn.encrypt(&m, &mut rng).ok());
        });
        let c1 = pk.encrypt(&m, &mut rng)?;
        let c2 = pk.encrypt(&m, &mut rng)?;
        let decrypt_ms = time_ms(1.0, || {
            std::hint::black_box(sk.decrypt(&c1).ok());
        });
        let decrypt_2t_ms = time_ms(1.0, || {
            std::hint::black_box(sk.decrypt_parallel(&c1).ok());
        });
        let add_ms = time_ms(0.5, || {
            std::hint::black_box(pk.add(&c1, &c2).ok());
        });
        let k = rng.next_u64() as i64;
        let mul_scalar64_ms = time_ms(1.0, || {
            std::hint::black_box(pk.mul_i64(&c1, k).ok());
        });
        let cts: Vec<_> = (0..16)
            .map(|i| pk.encrypt(&Plaintext::from_u64(pk, i), &mut rng))
            .collect::<Result<_, _>>()?;
        let ws: Vec<i64> = (0..16).map(|_| rng.next_u64() as i64).collect();
        let dot16_ms = time_ms(1.0, || {
            std::hint::black_box(pk.dot_i64(&cts, &ws).ok());
        });
        let dot16_separate_ms = time_ms(1.0, || {
            let mut acc = pk.mul_i64(&cts[0], ws[0]).ok();
            for (c, w) in cts.iter().zip(&ws).skip(1) {
                let t = pk.mul_i64(c, *w).ok();
                acc = acc.and_then(|a| t.and_then(|t| pk.add(&a, &t).ok()));
            }
            std::hint::black_box(acc);
        });
        rows.push(json!({
            "bits": bits,
            "keygen_ms": median(kg),
            "keygen_runs": runs,
            "encrypt_ms": encrypt_ms,
            "encrypt_owner_ms": encrypt_owner_ms,
            "encrypt_pooled_ms": encrypt_pooled_ms,
            "encrypt_djn_ms": encrypt_djn_ms,
            "decrypt_ms": decrypt_ms,
            "decrypt_2threads_ms": decrypt_2t_ms,
            "add_ms": add_ms,
            "mul_scalar64_ms": mul_scalar64_ms,
            "dot16_ms": dot16_ms,
            "dot16_separate_ms": dot16_separate_ms,
        }));
    }
    // Each key size's moduli (n or p^2, and n^2), each measured once.
    let mut moduli: Vec<u32> = a.bits.iter().flat_map(|&b| [b, 2 * b]).collect();
    moduli.sort_unstable();
    moduli.dedup();
    let kernels: Vec<_> = moduli
        .iter()
        .map(|&m| crate::bench_anchor::kernel_row(m))
        .collect();
    // The exponentiations of CRT decryption (a bits/2-bit exponent mod p^2) and of
    // encryption (bits mod n^2), for each key size.
    let anchors = moduli
        .iter()
        .map(|&m| crate::bench_anchor::anchor_row(m / 2, m))
        .collect::<Result<Vec<_>, _>>()?;
    let phe = if a.with_phe {
        crate::bench_anchor::phe_rows(&a.bits)?
    } else {
        Vec::new()
    };
    if a.json {
        println!(
            "{}",
            json!({
                "backend": shroud::monty::backend().name(),
                "clock_ghz": crate::bench_anchor::clock_ghz(),
                "operations": rows,
                "montgomery_products": kernels,
                "anchor_openssl": anchors,
                "phe": phe,
            })
        );
        return Ok(());
    }
    let cols = [
        ("keygen", "keygen_ms"),
        ("encrypt", "encrypt_ms"),
        ("encrypt (owner, CRT)", "encrypt_owner_ms"),
        ("encrypt (pool, online)", "encrypt_pooled_ms"),
        ("encrypt (DJN short exp.)", "encrypt_djn_ms"),
        ("decrypt (CRT)", "decrypt_ms"),
        ("  (halves on 2 threads)", "decrypt_2threads_ms"),
        ("add", "add_ms"),
        ("multiply by 64-bit scalar", "mul_scalar64_ms"),
        ("dot product, 16 x 64-bit", "dot16_ms"),
        ("  (16 separate multiplies)", "dot16_separate_ms"),
    ];
    print!("{:<28}", "median, ms, one thread");
    for r in &rows {
        print!("{:>14}", format!("{} bits", r["bits"]));
    }
    println!();
    for (label, key) in cols {
        print!("{label:<28}");
        for r in &rows {
            let v = r[key].as_f64().unwrap_or(f64::NAN);
            print!(
                "{:>14}",
                if v < 0.1 {
                    format!("{v:.4}")
                } else {
                    format!("{v:.2}")
                }
            );
        }
        println!();
    }
    print_reference(&rows, &kernels, &anchors, &phe);
    Ok(())
}

fn print_reference(
    rows: &[serde_json::Value],
    kernels: &[serde_json::Value],
    anchors: &[serde_json::Value],
    phe: &[serde_json::Value],
) {
    let ghz = crate::bench_anchor::clock_ghz();
    println!(
        "\nMontgomery product (backend in use: {}; cycles at the {} clock)",
        shroud::monty::backend().name(),
        ghz.map_or("unknown".into(), |g| format!("{g:.2} GHz"))
    );
    for k in kernels {
        for be in ["portable", "mulx-adx"] {
            if let Some(v) = k.get(be) {
                let f = |key: &str| v[key].as_f64().unwrap_or(f64::NAN);
                println!(
                    "  {:>5}-bit modulus, {:<9} mul {:>7.0} ns ({:>6.0} cycles)   sqr {:>7.0} ns ({:>6.0} cycles)",
                    k["modulus_bits"],
                    be,
                    f("mul_ns"),
                    f("mul_cycles"),
                    f("sqr_ns"),
                    f("sqr_cycles"),
                );
            }
        }
    }
    println!(
        "\nAnchor: the same constant-time exponentiation through OpenSSL's BN_mod_exp_mont_consttime{}",
        if crate::bench_anchor::HAVE_OPENSSL {
            ""
        } else {
            " (not linked: build with --features anchor)"
        }
    );
    for r in anchors {
        let f = |key: &str| r[key].as_f64().unwrap_or(f64::NAN);
        println!(
            "  {:>4}-bit exponent mod {:>4}-bit: shroud {:>8.3} ms   OpenSSL {:>8.3} ms   ratio {:>5.2}   per product: shroud {:>5.0} ns, OpenSSL {:>5.0} ns ({:.0} cycles)",
            r["exp_bits"],
            r["mod_bits"],
            f("shroud_ms"),
            f("openssl_ms"),
            f("ratio"),
            f("shroud_product_ns"),
            f("openssl_product_ns"),
            f("openssl_product_cycles"),
        );
    }
    if phe.is_empty() {
        return;
    }
    println!(
        "\npython-paillier {} ({}), same run: ms, and shroud / phe",
        phe[0]["phe"], phe[0]["backend"]
    );
    for p in phe {
        let Some(r) = rows.iter().find(|r| r["bits"] == p["bits"]) else {
            continue;
        };
        for (label, ours, theirs) in [
            ("encrypt", "encrypt_ms", "encrypt_ms"),
            ("decrypt", "decrypt_ms", "decrypt_ms"),
            (
                "multiply by 64-bit scalar",
                "mul_scalar64_ms",
                "mul_scalar64_ms",
            ),
        ] {
            let (o, t) = (
                r[ours].as_f64().unwrap_or(f64::NAN),
                p[theirs].as_f64().unwrap_or(f64::NAN),
            );
            println!(
                "  {:>4} bits {label:<26} phe {t:>8.3}   shroud {o:>8.3}   ratio {:>5.2}",
                p["bits"],
                o / t
            );
        }
    }
}
