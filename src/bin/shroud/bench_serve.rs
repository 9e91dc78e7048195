//! `shroud bench serve`: the inference service on loopback, driven by concurrent clients;
//! optionally the hand-written python-paillier server (benches/phe_server.py) side by side.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use shroud::paillier::{KeygenOptions, SecretKey, generate_keypair};
use shroud::serve::client::{
    ScoreClient, decrypt_answer, encrypt_rows, http_request, request_body,
};
use shroud::serve::server::Handle;
use shroud::serve::{LinearModel, ServeConfig};

use crate::Failure;

#[derive(Args)]
pub struct ServeBenchArgs {
    /// Key sizes, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![2048u32])]
    bits: Vec<u32>,
    /// Features of the model.
    #[arg(long, default_value_t = 20)]
    features: usize,
    /// Batch sizes for the records-per-second rows, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 64])]
    batches: Vec<usize>,
    /// Concurrency levels for the latency rows (single records), comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 8])]
    concurrency: Vec<usize>,
    /// Records scored per measurement (rounded up to whole requests).
    #[arg(long, default_value_t = 128)]
    records: usize,
    /// Also start benches/phe_server.py (python3 with phe 1.5.0 and gmpy2) and drive it.
    #[arg(long)]
    with_phe: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn model_json(d: usize) -> String {
    let coef: Vec<f64> = (0..d).map(|i| ((i as f64) * 0.37).sin() * 1.5).collect();
    let mean: Vec<f64> = (0..d).map(|i| 10.0 + i as f64).collect();
    let scale: Vec<f64> = (0..d).map(|i| 1.0 + 0.1 * i as f64).collect();
    let names: Vec<String> = (0..d).map(|i| format!("f{i}")).collect();
    json!({"format": "sklearn-linear-v1", "kind": "logistic", "features": names,
           "coef": coef, "intercept": -0.5, "scaler": {"mean": mean, "scale": scale}})
    .to_string()
}

pub fn rows(n: usize, d: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|r| {
            (0..d)
                .map(|i| 10.0 + ((r * d + i) as f64 * 0.731).sin() * 5.0)
                .collect()
        })
        .collect()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Sends `requests` bodies from `conc` threads; returns (seconds, per-request ms sorted).
fn drive(addr: &str, bodies: &[String], conc: usize) -> Result<(f64, Vec<f64>), Failure> {
    let raw: Vec<Vec<u8>> = bodies.iter().map(|b| b.as_bytes().to_vec()).collect();
    drive_as(addr, &raw, "application/json", conc)
}

/// [`drive`] with bodies of any content type.
fn drive_as(
    addr: &str,
    bodies: &[Vec<u8>],
    content_type: &str,
    conc: usize,
) -> Result<(f64, Vec<f64>), Failure> {
    let mut client = ScoreClient::new(addr);
    client.timeout = Duration::from_secs(600);
    let client = &client;
    let start = Instant::now();
    let lat = std::thread::scope(|s| {
        let handles: Vec<_> = (0..conc)
            .map(|t| {
                s.spawn(move || -> Result<Vec<f64>, String> {
                    let mut out = Vec::new();
                    for body in bodies.iter().skip(t).step_by(conc) {
                        let t0 = Instant::now();
                        let (status, answer) = client
                            .send("POST", "/v1/score", Some((body, content_type)))
                            .map_err(|e| e.to_string())?;
                        if status != 200 {
                            return Err(format!(
                                "status {status}: {}",
                                String::from_utf8_lossy(&answer)
                            ));
                        }
                        out.push(t0.elapsed().as_secs_f64() * 1e3);
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| "client thread panicked".to_string())??,
            );
        }
        Ok::<_, String>(all)
    })
    .map_err(Failure)?;
    let secs = start.elapsed().as_secs_f64();
    let mut lat = lat;
    lat.sort_by(f64::total_cmp);
    Ok((secs, lat))
}

struct Phe {
    child: std::process::Child,
    addr: String,
}

impl Drop for Phe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_phe(model_path: &std::path::Path) -> Result<Phe, Failure> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/phe_server.py");
    let child = std::process::Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(model_path)
        .spawn()
        .map_err(|e| Failure(format!("python3 {script}: {e}")))?;
    let phe = Phe {
        child,
        addr: format!("127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(&phe.addr).is_ok() {
            return Ok(phe);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(Failure(
        "the phe server did not start (needs phe 1.5.0 and gmpy2)".into(),
    ))
}

fn key(bits: u32) -> Result<SecretKey, Failure> {
    let opts = KeygenOptions {
        bits,
        ..Default::default()
    };
    Ok(generate_keypair(
        opts,
        &mut shroud::rng::seeded(u64::from(bits)),
        &|_| {},
    )?)
}

pub fn run(a: ServeBenchArgs) -> Result<(), Failure> {
    let d = a.features;
    let text = model_json(d);
    let dir = std::env::temp_dir().join(format!("shroud-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let model_path = dir.join("model.json");
    std::fs::write(&model_path, &text)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results = Vec::new();
    for &bits in &a.bits {
        let sk = key(bits)?;
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(9);
        let max_batch = a.batches.iter().copied().max().unwrap_or(1).max(1);
        let plain = rows(a.records.max(max_batch), d);
        let enc = encrypt_rows(pk, &plain, &mut rng)?;
        // correctness once, on a throwaway server
        {
            let h = Handle::start(
                LinearModel::from_json(&text)?,
                ServeConfig::default(),
                "127.0.0.1:0".parse()?,
            )?;
            let got =
                ScoreClient::new(h.addr().to_string()).score(&sk, &plain[..2], true, &mut rng)?;
            if got.len() != 2 {
                return Err(Failure(
                    "the service answered the wrong number of scores".into(),
                ));
            }
        }
        let bodies = |batch: usize, pack: bool| -> Vec<String> {
            let n = a.records.div_ceil(batch).max(1);
            (0..n)
                .map(|i| {
                    let lo = (i * batch) % (enc.len() - batch + 1);
                    request_body(pk, &enc[lo..lo + batch], pack).to_string()
                })
                .collect()
        };
        for workers in [1usize, cores] {
            let cfg = ServeConfig {
                workers,
                max_batch: max_batch.max(256),
                max_body: 64 << 20,
                ..ServeConfig::default()
            };
            let h = Handle::start(LinearModel::from_json(&text)?, cfg, "127.0.0.1:0".parse()?)?;
            let addr = h.addr().to_string();
            for &batch in &a.batches {
                for pack in [false, true] {
                    if pack && batch < 2 {
                        continue;
                    }
                    let b = bodies(batch, pack);
                    let (secs, lat) = drive(&addr, &b, 1)?;
                    let recs = b.len() * batch;
                    results.push(json!({"server": "shroud", "bits": bits, "workers": workers,
                        "batch": batch, "packed": pack, "concurrency": 1, "requests": b.len(),
                        "records_per_s": recs as f64 / secs, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)}));
                }
            }
            if workers == cores {
                // The binary content type beside JSON: same records, bytes on the wire.
                for &batch in &a.batches {
                    let n = a.records.div_ceil(batch).max(1);
                    let json_bodies = bodies(batch, false);
                    let bin: Vec<Vec<u8>> = (0..n)
                        .map(|i| {
                            let lo = (i * batch) % (enc.len() - batch + 1);
                            shroud::serve::binary::encode_request(pk, &enc[lo..lo + batch], None)
                        })
                        .collect::<Result<_, _>>()?;
                    let (secs, lat) =
                        drive_as(&addr, &bin, shroud::serve::binary::CONTENT_TYPE, 1)?;
                    results.push(json!({"server": "shroud", "wire": "binary", "bits": bits, "workers": workers,
                        "batch": batch, "packed": false, "concurrency": 1, "requests": bin.len(),
                        "records_per_s": (bin.len() * batch) as f64 / secs, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99),
                        "request_bytes_per_record": bin[0].len() as f64 / batch as f64,
                        "json_request_bytes_per_record": json_bodies[0].len() as f64 / batch as f64}));
                }
                for &conc in &a.concurrency {
                    let b = bodies(1, false);
                    let (secs, lat) = drive(&addr, &b, conc)?;
                    results.push(json!({"server": "shroud", "bits": bits, "workers": workers,
                        "batch": 1, "packed": false, "concurrency": conc, "requests": b.len(),
                        "records_per_s": b.len() as f64 / secs, "requests_per_s": b.len() as f64 / secs,
                        "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)}));
                }
            }
            h.shutdown()?;
        }
        if a.with_phe {
            let phe = start_phe(&model_path)?;
            // the phe server's answer decrypts to the same score
            let one = request_body(pk, &enc[..1], false).to_string();
            let (status, answer) = http_request(
                &phe.addr,
                "POST",
                "/v1/score",
                Some(one.as_bytes()),
                Duration::from_secs(600),
            )?;
            let v: Value = serde_json::from_slice(&answer).map_err(|e| Failure(e.to_string()))?;
            if status != 200 || decrypt_answer(&sk, &v, 1).is_err() {
                return Err(Failure(format!("the phe server answered {status}")));
            }
            for &batch in &a.batches {
                let b = bodies(batch, false);
                let (secs, lat) = drive(&phe.addr, &b, 1)?;
                results.push(json!({"server": "phe", "bits": bits, "workers": 1,
                    "batch": batch, "packed": false, "concurrency": 1, "requests": b.len(),
                    "records_per_s": (b.len() * batch) as f64 / secs, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)}));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if a.json {
        println!("{}", Value::Array(results));
        return Ok(());
    }
    println!(
        "{d}-feature logistic model, loopback HTTP, client encryption excluded; {cores} cores"
    );
    println!(
        "server  wire    bits  workers  batch  packed  conc  requests  records/s  p50 ms  p99 ms"
    );
    for r in &results {
        println!(
            "{:<7} {:<6}  {:>4}  {:>7}  {:>5}  {:>6}  {:>4}  {:>8}  {:>9.1}  {:>6.1}  {:>6.1}",
            r["server"].as_str().unwrap_or(""),
            r["wire"].as_str().unwrap_or("json"),
            r["bits"].to_string(),
            r["workers"].to_string(),
            r["batch"].to_string(),
            if r["packed"] == true { "yes" } else { "no" },
            r["concurrency"].to_string(),
            r["requests"].to_string(),
            r["records_per_s"].as_f64().unwrap_or(0.0),
            r["p50_ms"].as_f64().unwrap_or(0.0),
            r["p99_ms"].as_f64().unwrap_or(0.0),
        );
    }
    for r in results.iter().filter(|r| r["wire"] == "binary") {
        println!(
            "request bytes per record, batch {}: binary {:.0}, JSON {:.0}",
            r["batch"],
            r["request_bytes_per_record"].as_f64().unwrap_or(0.0),
            r["json_request_bytes_per_record"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(())
}
