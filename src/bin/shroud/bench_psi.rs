//! `shroud bench psi`: both PSI roles in one process on N x N elements (half shared),
//! timing each phase of the real protocol and counting the bytes of the real messages.

use std::time::Instant;

use clap::Args;
use serde_json::json;
use shroud::paillier::{KeygenOptions, generate_keypair};
use shroud::psi::{
    self, ClientConfig, ClientStep, Message, Mode, ServerConfig, ServerNext, SetFormat,
};

use crate::Failure;
use crate::psi::{FormatArg, ModeArg};

#[derive(Args)]
pub struct PsiArgs {
    /// Elements on each side (half of them shared).
    #[arg(long, default_value_t = 100_000)]
    size: usize,
    /// Worker threads (rayon) for both roles.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Protocol mode.
    #[arg(long, value_enum, default_value = "intersection")]
    mode: ModeArg,
    /// How the server's set is sent.
    #[arg(long, value_enum, default_value = "compressed")]
    format: FormatArg,
    /// Paillier key size for sum and shares modes.
    #[arg(long, default_value_t = 3072)]
    paillier_bits: u32,
    /// Sum, shares and server-sum modes: the server encrypts its values with DJN short
    /// exponents instead of key-owner CRT encryption.
    #[arg(long)]
    djn: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Encodes, counts (with the 4-byte frame header) and decodes a message, as a transport
/// would.
fn wire(msg: Message, bytes: &mut u64) -> Result<Message, Failure> {
    let enc = msg.encode();
    *bytes += enc.len() as u64 + 4;
    Ok(Message::decode(&enc)?)
}

pub fn run(a: PsiArgs) -> Result<(), Failure> {
    if a.size == 0 || a.threads == 0 {
        return Err(Failure("--size and --threads must be positive".into()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()
        .map_err(|e| Failure(format!("cannot start {} threads: {e}", a.threads)))?;
    pool.install(|| bench(&a))
}

/// Microseconds per ristretto255 variable-base scalar multiplication right now: this
/// shared machine's speed drifts, so every report carries its own yardstick.
fn calibrate_mul_us() -> f64 {
    use curve25519_dalek::ristretto::RistrettoPoint;
    let mut rng = shroud::rng::chacha_from_os();
    let k = shroud::psi::oprf::random_scalar(&mut rng);
    let mut p = RistrettoPoint::mul_base(&shroud::psi::oprf::random_scalar(&mut rng));
    let runs = 2000;
    let t = Instant::now();
    for _ in 0..runs {
        p *= k;
    }
    std::hint::black_box(p);
    t.elapsed().as_secs_f64() * 1e6 / runs as f64
}

fn bench(a: &PsiArgs) -> Result<(), Failure> {
    let mode: Mode = a.mode.into();
    let mul_us = calibrate_mul_us();
    let n = a.size;
    let shared = n / 2;
    // Server: s-0..s-(n-shared), shared: x-0..; client: c-.. plus the shared ones.
    let server_set: Vec<Vec<u8>> = (0..shared)
        .map(|i| format!("patient-{i:09}").into_bytes())
        .chain((0..n - shared).map(|i| format!("server-only-{i:09}").into_bytes()))
        .collect();
    let client_set: Vec<Vec<u8>> = (0..shared)
        .map(|i| format!("patient-{i:09}").into_bytes())
        .chain((0..n - shared).map(|i| format!("client-only-{i:09}").into_bytes()))
        .collect();
    let values: Vec<u64> = (0..n as u64).map(|i| i % 1000).collect();
    let expected_sum: u128 = values[..shared].iter().map(|&v| v as u128).sum();
    let mut rng = shroud::rng::chacha_from_os();
    let needs_key = matches!(mode, Mode::Sum | Mode::Shares | Mode::ServerSum);
    let mut keygen_s = 0.0;
    let sk = if needs_key {
        let t = Instant::now();
        let sk = generate_keypair(
            KeygenOptions {
                bits: a.paillier_bits,
                ..KeygenOptions::default()
            },
            &mut rng,
            &|_| {},
        )?;
        keygen_s = t.elapsed().as_secs_f64();
        Some(sk)
    } else {
        None
    };
    let mut config = ServerConfig::new(mode);
    config.djn = a.djn;
    config.format = match a.format {
        FormatArg::Raw => SetFormat::Raw,
        FormatArg::Compressed => SetFormat::Compressed,
    };
    let mut cconfig = ClientConfig::new(mode);
    cconfig.min_paillier_bits = a.paillier_bits;

    let mut c2s = 0u64;
    let mut s2c = 0u64;
    let total = Instant::now();
    let t = Instant::now();
    let server = psi::Server::new(
        config,
        server_set,
        needs_key.then(|| values.clone()),
        sk,
        &mut rng,
    )?;
    let server_setup = t.elapsed().as_secs_f64();
    let client = psi::Client::new(cconfig, client_set)?;

    let (hello, server) = server.start(&mut rng);
    let Message::ServerHello(hello) = wire(Message::ServerHello(hello), &mut s2c)? else {
        return Err(Failure("hello did not round-trip".into()));
    };
    let t = Instant::now();
    let (req, client) = client.start(hello, &mut rng)?;
    let client_blind = t.elapsed().as_secs_f64();
    let Message::ClientRequest(req) = wire(Message::ClientRequest(req), &mut c2s)? else {
        return Err(Failure("request did not round-trip".into()));
    };
    let t = Instant::now();
    let (resp, next) = server.respond(req, &mut rng)?;
    let server_eval = t.elapsed().as_secs_f64();
    let Message::ServerResponse(resp) = wire(Message::ServerResponse(resp), &mut s2c)? else {
        return Err(Failure("response did not round-trip".into()));
    };
    let t = Instant::now();
    let step = client.finish(resp, &mut rng)?;
    let client_finish = t.elapsed().as_secs_f64();
    let mut final_round = 0.0;
    let (size, sum) = match (step, next) {
        (ClientStep::Done(out), ServerNext::Done(_)) => (out.intersection_size, None),
        (ClientStep::SendSum(req, cstate), ServerNext::AwaitSum(sstate)) => {
            let t = Instant::now();
            let Message::SumRequest(req) = wire(Message::SumRequest(req), &mut c2s)? else {
                return Err(Failure("sum request did not round-trip".into()));
            };
            let (reply, _) = sstate.finish(req)?;
            let Message::SumReply(reply) = wire(Message::SumReply(reply), &mut s2c)? else {
                return Err(Failure("sum reply did not round-trip".into()));
            };
            let out = cstate.finish(reply)?;
            final_round = t.elapsed().as_secs_f64();
            (out.intersection_size, out.intersection_sum)
        }
        (ClientStep::SendSumToServer(req, out), ServerNext::AwaitServerSum(sstate)) => {
            let t = Instant::now();
            let Message::SumRequest(req) = wire(Message::SumRequest(req), &mut c2s)? else {
                return Err(Failure("sum request did not round-trip".into()));
            };
            let (_, sout) = sstate.finish(req)?;
            final_round = t.elapsed().as_secs_f64();
            (out.intersection_size, sout.intersection_sum)
        }
        (ClientStep::SendShares(req, out), ServerNext::AwaitShares(sstate)) => {
            let t = Instant::now();
            let Message::SharesRequest(req) = wire(Message::SharesRequest(req), &mut c2s)? else {
                return Err(Failure("shares request did not round-trip".into()));
            };
            let sout = sstate.finish(req)?;
            final_round = t.elapsed().as_secs_f64();
            // Check the shares reconstruct.
            let ss = sout.shares.unwrap_or_default();
            let cs = out.shares.clone().unwrap_or_default();
            let ok = ss.len() == cs.len()
                && ss
                    .iter()
                    .zip(&cs)
                    .map(|(a, b)| a.wrapping_add(*b) as u128)
                    .sum::<u128>()
                    == expected_sum;
            if !ok {
                return Err(Failure(
                    "shares do not reconstruct the expected values".into(),
                ));
            }
            (out.intersection_size, None)
        }
        _ => return Err(Failure("roles disagree on the mode".into())),
    };
    let total_s = total.elapsed().as_secs_f64();
    if size != shared {
        return Err(Failure(format!(
            "intersection size {size}, expected {shared}"
        )));
    }
    if let Some(s) = sum
        && s != expected_sum
    {
        return Err(Failure(format!(
            "intersection sum {s}, expected {expected_sum}"
        )));
    }
    let fmt = match a.format {
        FormatArg::Raw => "raw",
        FormatArg::Compressed => "compressed",
    };
    if a.json {
        println!(
            "{}",
            json!({
                "mode": mode.to_string(),
                "format": fmt,
                "size": n,
                "threads": a.threads,
                "intersection_size": size,
                "paillier_bits": needs_key.then_some(a.paillier_bits),
                "paillier_keygen_s": needs_key.then_some(keygen_s),
                "server_setup_s": server_setup,
                "client_blind_s": client_blind,
                "server_evaluate_s": server_eval,
                "client_finalize_s": client_finish,
                "final_round_s": final_round,
                "total_s": total_s,
                "bytes_client_to_server": c2s,
                "bytes_server_to_client": s2c,
                "calibration_mul_us": mul_us,
            })
        );
    } else {
        println!(
            "PSI {mode} ({fmt} set), {n} x {n} elements, {shared} shared, {} thread(s)",
            a.threads
        );
        if needs_key {
            println!(
                "  Paillier key generation ({} bits, not in total) {keygen_s:>9.3} s",
                a.paillier_bits
            );
            println!("  server setup: encrypt values              {server_setup:>9.3} s");
        }
        println!("  client: hash and blind                    {client_blind:>9.3} s");
        println!("  server: evaluate + own set                {server_eval:>9.3} s");
        println!("  client: unblind, finalize, match          {client_finish:>9.3} s");
        if needs_key {
            println!("  final round (mask, decrypt, unmask)       {final_round:>9.3} s");
        }
        println!("  total                                     {total_s:>9.3} s");
        println!("  bytes client -> server {c2s:>12}");
        println!("  bytes server -> client {s2c:>12}");
        if let Some(s) = sum {
            println!("  intersection sum {s} (checked against the plaintext sum)");
        }
        println!("  (machine speed: one ristretto255 scalar multiplication took {mul_us:.1} us)");
    }
    Ok(())
}
