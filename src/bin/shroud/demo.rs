//! `shroud demo`: encrypted heart-disease risk scoring.
//!
//! A hospital encrypts one patient's six features under its own key; a model owner computes
//! the risk score w.x + b on the ciphertexts, keeping its weights secret; the hospital
//! decrypts. Every step is timed and the result is printed next to the plaintext score.

use std::time::Instant;

use shroud::encoding::FixedScale;
use shroud::paillier::{KeygenOptions, Plaintext, generate_keypair};

use crate::Failure;

const FEATURES: [(&str, f64); 6] = [
    ("age (years)", 61.0),
    ("cholesterol (mg/dL)", 233.0),
    ("systolic blood pressure (mmHg)", 145.0),
    ("heart rate (bpm)", 150.0),
    ("weekly exercise (hours)", 2.5),
    ("BMI (kg/m^2)", 27.4),
];
/// The model owner's secret logistic-regression weights (synthetic) and bias.
const WEIGHTS: [f64; 6] = [0.0412, 0.0061, 0.0187, -0.0153, -0.2231, 0.0524];
const BIAS: f64 = -4.2871;
const FRAC_BITS: u32 = 24;

fn ms(t: Instant) -> String {
    format!("{:>9.2} ms", t.elapsed().as_secs_f64() * 1e3)
}

pub fn run() -> Result<(), Failure> {
    #[cfg(feature = "train")]
    crate::demo_story::run()?;
    let mut rng = shroud::rng::os_rng();
    let scale = FixedScale::new(FRAC_BITS)?;
    println!(
        "shroud demo: encrypted risk scoring (Paillier, {}-bit key)\n",
        shroud::paillier::DEFAULT_BITS
    );

    println!("[hospital] generates its Paillier key pair");
    let t = Instant::now();
    let sk = generate_keypair(KeygenOptions::default(), &mut rng, &|_| {})?;
    let pk = sk.public_key();
    println!(
        "           done                                        {}",
        ms(t)
    );

    println!("[hospital] encrypts the patient's features (fixed point, 2^-24 resolution)");
    let t = Instant::now();
    let mut encrypted = Vec::new();
    for (name, x) in FEATURES {
        encrypted.push(sk.encrypt(&scale.encode_plaintext(pk, x)?, &mut rng)?);
        println!("           {name:<32} = {x:>7}");
    }
    println!(
        "           6 ciphertexts of {} bytes each               {}",
        pk.ciphertext_bytes(),
        ms(t)
    );

    println!("[model owner] computes w.x + b on the ciphertexts; weights stay secret");
    let t = Instant::now();
    let w: Vec<i64> = WEIGHTS
        .iter()
        .map(|w| scale.encode_i64(*w))
        .collect::<Result<_, _>>()?;
    let dot = pk.dot_i64(&encrypted, &w)?;
    // The bias carries 2f fractional bits, like each product w_i x_i.
    let bias = Plaintext::from_i64(pk, FixedScale::new(2 * FRAC_BITS)?.encode_i64(BIAS)?);
    let score = pk.add_plaintext(&dot, &bias)?;
    let score = pk.rerandomize(&score, &mut rng)?;
    println!(
        "           constant-time dot product, bias added, rerandomized {}",
        ms(t)
    );

    println!("[hospital] decrypts the score");
    let t = Instant::now();
    let got = scale.decode_plaintext(pk, &sk.decrypt(&score)?, 2)?;
    println!(
        "           done                                        {}",
        ms(t)
    );

    let plain: f64 = FEATURES
        .iter()
        .zip(WEIGHTS)
        .map(|((_, x), w)| x * w)
        .sum::<f64>()
        + BIAS;
    let risk = |s: f64| 1.0 / (1.0 + (-s).exp());
    println!();
    println!("score (decrypted)   {got:>12.6}   risk {:.4}", risk(got));
    println!(
        "score (plaintext)   {plain:>12.6}   risk {:.4}",
        risk(plain)
    );
    // Rounding each x_i and w_i to 2^-(f+1), the bias to 2^-(2f+1): the error bound.
    let half_ulp = 2f64.powi(-(FRAC_BITS as i32) - 1);
    let bound = FEATURES
        .iter()
        .zip(WEIGHTS)
        .map(|((_, x), w)| x.abs() + w.abs() + half_ulp)
        .sum::<f64>()
        * half_ulp
        + 2f64.powi(-2 * FRAC_BITS as i32 - 1);
    println!(
        "difference          {:>12.2e}   (fixed-point rounding; bound {bound:.2e})",
        (got - plain).abs()
    );
    if (got - plain).abs() > bound {
        return Err(Failure(format!(
            "encrypted score {got} differs from plaintext {plain}"
        )));
    }
    privacy_of_federated_training()
}

/// The privacy a patient gives up in a small federated DP-SGD run.
fn privacy_of_federated_training() -> Result<(), Failure> {
    use shroud::dp::calibrate::{Accountant, dpsgd_epsilon};
    use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};
    let (patients, batch) = ([84u32, 71, 90], 12u32);
    let (sigma, epochs, rounds, delta) = (2.5, 4u32, 2u32, 1e-5);
    println!(
        "\nPrivacy of federated DP-SGD over three hospitals ({} patients)",
        patients.iter().sum::<u32>()
    );
    println!(
        "noise multiplier {sigma}, expected batch {batch}, {epochs} local epochs x {rounds} rounds, delta {delta}"
    );
    println!(
        "{:<12}{:>8}{:>8}{:>14}{:>14}{:>16}",
        "hospital", "q", "steps", "RDP epsilon", "PLD epsilon", "crude formula"
    );
    for (i, n) in patients.iter().enumerate() {
        let q = f64::from(batch) / f64::from(*n);
        let steps = u64::from(epochs * rounds) * u64::from(n.div_ceil(batch));
        let args = (
            SamplingRate::new(q)?,
            NoiseMultiplier::new(sigma)?,
            steps,
            Delta::new(delta)?,
        );
        let (eps, _) = dpsgd_epsilon(Accountant::Rdp, args.0, args.1, args.2, args.3)?;
        let (pld, _) = dpsgd_epsilon(Accountant::Pld, args.0, args.1, args.2, args.3)?;
        let t = steps as f64;
        let crude =
            q * (t * 2.0 * (1.25 / delta).ln()).sqrt() / sigma + t * q * q / (sigma * sigma);
        println!(
            "{:<12}{q:>8.3}{steps:>8}{eps:>14.3}{pld:>14.3}{crude:>16.3}",
            format!("#{} ({n})", i + 1)
        );
    }
    println!(
        "RDP and PLD epsilons are proven upper bounds (Poisson subsampling; PLD is the tighter,"
    );
    println!(
        "with pessimistic connect-the-dots discretization). The crude formula is an asymptotic"
    );
    println!(
        "heuristic with its constants dropped: it is not a guarantee, so only the RDP and PLD"
    );
    println!("figures are sound. Here it happens to overstate; elsewhere it understates:");
    let (q, s, t) = (256.0 / 60_000.0, 0.7, 10_547u64);
    let args = (
        SamplingRate::new(q)?,
        NoiseMultiplier::new(s)?,
        t,
        Delta::new(delta)?,
    );
    let (rdp, _) = dpsgd_epsilon(Accountant::Rdp, args.0, args.1, args.2, args.3)?;
    let tf = t as f64;
    let crude = q * (tf * 2.0 * (1.25 / delta).ln()).sqrt() / s + tf * q * q / (s * s);
    println!("for MNIST DP-SGD with q = 256/60000, sigma = 0.7, {t} steps it gives {crude:.2},");
    println!("while the sound RDP bound is {rdp:.2}.");
    shared_patients()
}

/// Two hospitals: how many patients they share, and the sum of one hospital's recorded
/// visits over the shared patients, without either list leaving its hospital.
fn shared_patients() -> Result<(), Failure> {
    use rand_core::Rng;
    use shroud::psi::{self, ClientConfig, Mode, ServerConfig};
    println!();
    println!("== Private set intersection: shared patients between two hospitals ==");
    // Synthetic medical record numbers: 240 at St. Mary's (with visit counts), 180 at
    // Northgate, 70 of them the same people.
    let mut rng = shroud::rng::seeded(2026);
    let mrn = |i: u32| format!("MRN-{:07}", 1_000_000 + i * 7919 % 999_983);
    let stmary: Vec<Vec<u8>> = (0..240).map(|i| mrn(i).into_bytes()).collect();
    let visits: Vec<u64> = (0..240).map(|_| 1 + rng.next_u64() % 12).collect();
    let northgate: Vec<Vec<u8>> = (170..240)
        .chain(1000..1110)
        .map(|i| mrn(i).into_bytes())
        .collect();
    let plain_count = northgate.iter().filter(|x| stmary.contains(x)).count();
    let plain_sum: u64 = stmary
        .iter()
        .zip(&visits)
        .filter(|(x, _)| northgate.contains(x))
        .map(|(_, v)| v)
        .sum();
    println!(
        "St. Mary's (server): {} patients with visit counts; Northgate (client): {} patients",
        stmary.len(),
        northgate.len()
    );
    let t = Instant::now();
    let key = generate_keypair(
        KeygenOptions {
            bits: 2048,
            ..KeygenOptions::default()
        },
        &mut shroud::rng::os_rng(),
        &|_| {},
    )?;
    println!(
        "[St. Mary's] generates a 2048-bit Paillier key                           {}",
        ms(t)
    );
    let t = Instant::now();
    let mut config = ServerConfig::new(Mode::Sum);
    config.threshold = 10;
    let server = psi::Server::new(
        config,
        stmary,
        Some(visits),
        Some(key),
        &mut shroud::rng::os_rng(),
    )?;
    let client = psi::Client::new(ClientConfig::new(Mode::Sum), northgate)?;
    let (out, _) = crate::psi::run_local(server, client)?;
    println!(
        "[both] encrypt visits, OPRF on ristretto255, sum, masked decryption      {}",
        ms(t)
    );
    let sum = out.intersection_sum.unwrap_or(0);
    println!();
    println!("                     private      plaintext");
    println!(
        "shared patients   {:>10}     {:>10}",
        out.intersection_size, plain_count
    );
    println!("their visits      {:>10}     {:>10}", sum, plain_sum);
    println!("Northgate learns these two numbers only (no names, no single visit count);");
    println!("St. Mary's learns the shared count and refuses sums over fewer than 10 patients.");
    if out.intersection_size != plain_count || sum != u128::from(plain_sum) {
        return Err(Failure(
            "private set intersection disagrees with the plaintext".into(),
        ));
    }
    joint_statistics()
}

/// Three hospitals: joint mean and variance of age and systolic blood pressure, from
/// secret shares, next to the plaintext figures.
fn joint_statistics() -> Result<(), Failure> {
    use rand_core::Rng;
    println!();
    println!("== Secret sharing: joint statistics of three hospitals ==");
    let mut rng = shroud::rng::seeded(7);
    let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut normal = move || {
        let (u, v) = (uniform().max(1e-300), uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    };
    // Synthetic patients: (age, systolic BP); the hospitals serve different populations.
    let hospitals: Vec<(&str, usize, f64)> = vec![
        ("St. Mary's", 420, 58.0),
        ("Northgate", 310, 47.0),
        ("Riverside", 530, 63.0),
    ];
    let mut all = Vec::new();
    for (_, n, mean_age) in &hospitals {
        let rows: Vec<Vec<f64>> = (0..*n)
            .map(|_| {
                let age = (mean_age + 11.0 * normal()).clamp(18.0, 99.0).round();
                let bp = (92.0 + 0.62 * age + 13.0 * normal()).round();
                vec![age, bp]
            })
            .collect();
        all.push(rows);
    }
    for ((name, n, _), rows) in hospitals.iter().zip(&all) {
        let m = rows.iter().map(|r| r[0]).sum::<f64>() / *n as f64;
        println!("{name:<11} holds {n} patients (its own mean age {m:.1} stays private)");
    }
    let columns = vec!["age".to_string(), "systolic_bp".to_string()];
    let t = Instant::now();
    let joint = crate::mpc::run_local(
        all.clone(),
        &columns,
        shroud::mpc::FractionalBits::default(),
    )?;
    println!(
        "[all three] share their sums, add the shares, open only the totals   {}",
        ms(t)
    );
    let flat: Vec<&Vec<f64>> = all.iter().flatten().collect();
    let n = flat.len() as f64;
    println!();
    println!("                          secret-shared      plaintext");
    println!(
        "patients                  {:>13}  {:>13}",
        joint.count,
        flat.len()
    );
    for (c, name) in ["age", "systolic BP"].iter().enumerate() {
        let mean = flat.iter().map(|r| r[c]).sum::<f64>() / n;
        let var = flat.iter().map(|r| (r[c] - mean).powi(2)).sum::<f64>() / (n - 1.0);
        println!("mean {name:<20} {:>13.4}  {mean:>13.4}", joint.mean[c]);
        println!(
            "variance {name:<16} {:>13.4}  {var:>13.4}",
            joint.variance[c]
        );
        if (joint.mean[c] - mean).abs() > 1e-3 || (joint.variance[c] - var).abs() > 1e-2 {
            return Err(Failure(
                "joint statistics disagree with the plaintext".into(),
            ));
        }
    }
    println!("Each hospital learns these totals and nothing about the others' patients.");
    federated_update_sum()
}

/// Three hospitals' model updates summed by a server that sees only the sum, with one
/// hospital dropping out mid-protocol.
fn federated_update_sum() -> Result<(), Failure> {
    use shroud::secagg::{GraphKind, Params, Quantizer, Tolerance, run_local};
    println!();
    println!("== Secure aggregation: three hospitals' model updates, one drops out ==");
    let updates: [[f64; 4]; 3] = [
        [0.12, -0.40, 0.05, 0.31],
        [-0.07, 0.22, 0.18, -0.09],
        [0.30, 0.11, -0.26, 0.02],
    ];
    let names = ["St. Mary's", "Northgate", "Riverside"];
    let q = Quantizer::new(1.0, 16)?;
    let mut rng = shroud::rng::os_rng();
    let mut session = [0u8; 32];
    rand_core::Rng::fill_bytes(&mut rng, &mut session);
    let params = Params::derive(
        3,
        4,
        q.bits(),
        GraphKind::Complete,
        Tolerance::new(0.34, 0.0)?,
        session,
    )?;
    let inputs = updates
        .iter()
        .map(|u| q.quantize(u, &mut rng))
        .collect::<Result<Vec<_>, _>>()?;
    // Riverside vanishes after sending its encrypted key shares, before its masked update.
    let drops = std::collections::BTreeMap::from([(2, 2)]);
    let t = Instant::now();
    let (agg, _) = run_local(&params, inputs, &drops, &mut rng)?;
    println!(
        "[all] advertise keys, share them (t = {} of 3), mask and send updates; {} drops out   {}",
        params.threshold(),
        names[2],
        ms(t)
    );
    let sum = q.dequantize_sum(&agg.sum, agg.survivors.len());
    let step = 2.0 / 65535.0;
    println!();
    println!("coordinate      securely summed      plaintext (St. Mary's + Northgate)");
    for (i, s) in sum.iter().enumerate() {
        let plain = updates[0][i] + updates[1][i];
        println!("{i:>10}      {s:>15.5}      {plain:>15.5}");
        if (s - plain).abs() > 2.0 * step {
            return Err(Failure(
                "the secure sum disagrees with the plaintext".into(),
            ));
        }
    }
    println!(
        "The server learns this sum over {} and that {} dropped, nothing about one update.",
        agg.survivors
            .iter()
            .map(|&u| names[u as usize])
            .collect::<Vec<_>>()
            .join(" and "),
        names[2]
    );
    Ok(())
}
