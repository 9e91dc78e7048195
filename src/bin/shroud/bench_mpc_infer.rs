//! `shroud bench mpc-infer`: secret-shared inference (`shroud mpc infer`) of the same
//! 20-feature logistic model as `bench serve`, client and owner in one process over the
//! in-memory mesh: latency per session and bytes each way, offline phase included.

use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};
use shroud::mpc::{FractionalBits, Mesh, infer};
use shroud::paillier::{KeygenOptions, generate_keypair};
use shroud::serve::LinearModel;

use crate::Failure;

#[derive(Args)]
pub struct MpcInferBenchArgs {
    /// Bits of the owner's Paillier key (the offline phase's triples).
    #[arg(long, value_delimiter = ',', default_values_t = vec![2048u32])]
    bits: Vec<u32>,
    /// Features of the model.
    #[arg(long, default_value_t = 20)]
    features: usize,
    /// Records per session, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 64])]
    records: Vec<usize>,
    /// Sessions per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: MpcInferBenchArgs) -> Result<(), Failure> {
    let d = a.features;
    let model = LinearModel::from_json(&crate::bench_serve::model_json(d))?;
    let frac = FractionalBits::default();
    let mut results = Vec::new();
    for &bits in &a.bits {
        let opts = KeygenOptions {
            bits,
            ..Default::default()
        };
        // One key for every session: key generation is the owner's, done ahead of time.
        let sk = generate_keypair(opts, &mut shroud::rng::seeded(u64::from(bits)), &|_| {})?;
        for &records in &a.records {
            let rows = crate::bench_serve::rows(records, d);
            let mut times = Vec::new();
            let mut last = None;
            for _ in 0..a.runs.max(1) {
                let weights = model.mpc_weights(frac)?;
                let mut meshes = Mesh::memory(2);
                let owner_mesh = meshes.pop().ok_or_else(|| Failure("no mesh".into()))?;
                let client_mesh = meshes.pop().ok_or_else(|| Failure("no mesh".into()))?;
                let t0 = Instant::now();
                let (cs, os) = std::thread::scope(|s| {
                    let owner = s.spawn(|| {
                        infer::owner(
                            owner_mesh,
                            &weights,
                            &sk,
                            frac,
                            records,
                            &mut shroud::rng::os_rng(),
                        )
                    });
                    let c =
                        infer::client(client_mesh, &rows, frac, 1024, &mut shroud::rng::os_rng());
                    let o = owner
                        .join()
                        .map_err(|_| Failure("owner thread panicked".into()))?;
                    let (_, cb) = c?;
                    let (_, ob) = o?;
                    Ok::<_, Failure>((cb, ob))
                })?;
                let total = t0.elapsed().as_secs_f64() * 1e3;
                times.push((total, cs.online.as_secs_f64() * 1e3));
                last = Some((cs, os));
            }
            times.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (ms, online_ms) = times[times.len() / 2];
            let (cs, os) = last.ok_or_else(|| Failure("no run".into()))?;
            let bytes = cs.bytes_sent + os.bytes_sent;
            let online_bytes = bytes - cs.offline_bytes - os.offline_bytes;
            results.push(json!({"bits": bits, "features": d, "records": records,
                "ms_per_session": ms, "online_ms": online_ms, "records_per_s": records as f64 / (ms / 1e3),
                "client_bytes": cs.bytes_sent, "owner_bytes": os.bytes_sent,
                "online_bytes": online_bytes,
                "bytes_per_record": bytes as f64 / records as f64}));
        }
    }
    if a.json {
        println!("{}", Value::Array(results));
        return Ok(());
    }
    println!(
        "{d}-feature logistic model, secret-shared (logit and sigmoid), in-memory mesh, Paillier triples included, key generation excluded"
    );
    println!(
        "bits  records  ms/session  online ms  records/s  client bytes  owner bytes  online bytes  bytes/record"
    );
    for r in &results {
        println!(
            "{:>4}  {:>7}  {:>10.1}  {:>9.1}  {:>9.1}  {:>12}  {:>11}  {:>12}  {:>12.0}",
            r["bits"].to_string(),
            r["records"].to_string(),
            r["ms_per_session"].as_f64().unwrap_or(0.0),
            r["online_ms"].as_f64().unwrap_or(0.0),
            r["records_per_s"].as_f64().unwrap_or(0.0),
            r["client_bytes"].to_string(),
            r["owner_bytes"].to_string(),
            r["online_bytes"].to_string(),
            r["bytes_per_record"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(())
}
