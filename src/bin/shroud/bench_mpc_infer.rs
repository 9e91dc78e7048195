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
            let mut bytes = (0u64, 0u64);
            for _ in 0..a.runs.max(1) {
                let weights = model.mpc_weights(frac)?;
                let mut meshes = Mesh::memory(2);
                let owner_mesh = meshes.pop().ok_or_else(|| Failure("no mesh".into()))?;
                let client_mesh = meshes.pop().ok_or_else(|| Failure("no mesh".into()))?;
                let t0 = Instant::now();
                let (client_bytes, owner_bytes) = std::thread::scope(|s| {
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
                times.push(t0.elapsed().as_secs_f64() * 1e3);
                bytes = (client_bytes, owner_bytes);
            }
            times.sort_by(f64::total_cmp);
            let ms = times[times.len() / 2];
            results.push(json!({"bits": bits, "features": d, "records": records,
                "ms_per_session": ms, "records_per_s": records as f64 / (ms / 1e3),
                "client_bytes": bytes.0, "owner_bytes": bytes.1,
                "bytes_per_record": (bytes.0 + bytes.1) as f64 / records as f64}));
        }
    }
    if a.json {
        println!("{}", Value::Array(results));
        return Ok(());
    }
    println!(
        "{d}-feature logistic model, secret-shared (logit and sigmoid), in-memory mesh, Paillier triples included, key generation excluded"
    );
    println!("bits  records  ms/session  records/s  client bytes  owner bytes  bytes/record");
    for r in &results {
        println!(
            "{:>4}  {:>7}  {:>10.1}  {:>9.1}  {:>12}  {:>11}  {:>12.0}",
            r["bits"].to_string(),
            r["records"].to_string(),
            r["ms_per_session"].as_f64().unwrap_or(0.0),
            r["records_per_s"].as_f64().unwrap_or(0.0),
            r["client_bytes"].to_string(),
            r["owner_bytes"].to_string(),
            r["bytes_per_record"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(())
}
