//! `shroud mpc stats`: joint statistics over rows held by several parties; `shroud mpc infer`:
//! secret-shared inference of a linear or logistic model.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use shroud::mpc::stats::{JointStats, joint_stats};
use shroud::mpc::{FractionalBits, Mesh, NoRandomness, Party};
use shroud::net::ChannelOptions;

use crate::Failure;
use crate::channel::ChannelArgs;

#[derive(Subcommand)]
pub enum MpcCommand {
    /// Joint count, mean, variance and covariance of numeric CSV columns whose rows are
    /// split among parties; only those results are revealed.
    Stats(StatsArgs),
    /// Secret-shared inference: a client (party 0, --rows) and a model owner (party 1,
    /// --model) compute w.x + b (and the sigmoid) on additive shares; only the client
    /// sees the result.
    #[cfg(feature = "serve")]
    Infer(InferArgs),
}

#[cfg(feature = "serve")]
#[derive(Args)]
pub struct InferArgs {
    /// 0 (the client, with --rows) or 1 (the model owner, with --model).
    #[arg(long, requires = "parties")]
    party: Option<usize>,
    /// Both parties' HOST:PORT, client first (each listens on its own).
    #[arg(long, value_delimiter = ',', conflicts_with = "local")]
    parties: Option<Vec<String>>,
    /// Run both parties in this process (needs --model and --rows).
    #[arg(long)]
    local: bool,
    /// The model (owner): sklearn-linear-v1 JSON or the model.json of `shroud train`.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The records (client): a JSON array of rows in the model's feature order.
    #[arg(long)]
    rows: Option<PathBuf>,
    /// Fractional bits of the fixed point.
    #[arg(long, default_value_t = 16)]
    frac_bits: u32,
    /// Bits of the owner's fresh Paillier key for the offline phase (client: the minimum
    /// it accepts).
    #[arg(long, default_value_t = 2048)]
    key_bits: u32,
    /// Most records the owner scores for one client session.
    #[arg(long, default_value_t = 4096)]
    max_records: usize,
    /// Network timeout in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Session label; both parties must use the same one.
    #[arg(long, default_value = "shroud-mpc-infer")]
    session: String,
    #[command(flatten)]
    channel: ChannelArgs,
}

#[derive(Args)]
pub struct StatsArgs {
    /// This party's index (0-based) in --parties.
    #[arg(long, requires = "parties", requires = "input")]
    party: Option<usize>,
    /// Every party's HOST:PORT, in index order (this party listens on its own).
    #[arg(long, value_delimiter = ',', conflicts_with = "local")]
    parties: Option<Vec<String>>,
    /// This party's CSV (header row; the chosen columns numeric).
    #[arg(long, conflicts_with = "local")]
    input: Option<PathBuf>,
    /// Run every party in this process, one CSV each.
    #[arg(long, value_delimiter = ',')]
    local: Option<Vec<PathBuf>>,
    /// Columns to analyse, comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    columns: Vec<String>,
    /// Fractional bits of the fixed-point sums.
    #[arg(long, default_value_t = 16)]
    frac_bits: u32,
    /// Network timeout in seconds (connecting, and each message).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Session label; every party must use the same one.
    #[arg(long, default_value = "shroud-mpc-stats")]
    session: String,
    #[command(flatten)]
    channel: ChannelArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: MpcCommand) -> Result<(), Failure> {
    match cmd {
        MpcCommand::Stats(a) => stats(a),
        #[cfg(feature = "serve")]
        MpcCommand::Infer(a) => infer(a),
    }
}

/// Reads the chosen columns of a CSV with a header row.
pub fn read_rows(path: &Path, columns: &[String]) -> Result<Vec<Vec<f64>>, Failure> {
    let file =
        std::fs::File::open(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(std::io::BufReader::new(file));
    let headers = rdr
        .headers()
        .map_err(|e| Failure(format!("{}: cannot read the header: {e}", path.display())))?
        .clone();
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            headers.iter().position(|h| h.trim() == c).ok_or_else(|| {
                Failure(format!(
                    "{}: no column {c:?} (columns: {})",
                    path.display(),
                    headers.iter().collect::<Vec<_>>().join(", ")
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for (r, rec) in rdr.records().enumerate() {
        let line = r + 2;
        let rec = rec.map_err(|e| Failure(format!("{}: line {line}: {e}", path.display())))?;
        let row = idx
            .iter()
            .zip(columns)
            .map(|(&i, c)| {
                let raw = rec.get(i).unwrap_or("").trim();
                match raw.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    _ => Err(Failure(format!(
                        "{}: line {line}: column {c:?} holds {raw:?}, not a finite number",
                        path.display()
                    ))),
                }
            })
            .collect::<Result<Vec<f64>, _>>()?;
        rows.push(row);
    }
    Ok(rows)
}

/// Runs every party in this process over in-memory channels.
pub fn run_local(
    all_rows: Vec<Vec<Vec<f64>>>,
    columns: &[String],
    frac: FractionalBits,
) -> Result<JointStats, Failure> {
    let n = all_rows.len();
    if n < 2 {
        return Err(Failure("--local needs at least two CSV files".into()));
    }
    let handles: Vec<_> = Mesh::memory(n)
        .into_iter()
        .zip(all_rows)
        .map(|(mesh, rows)| {
            let columns = columns.to_vec();
            std::thread::spawn(move || {
                let mut p = Party::new(mesh, NoRandomness, frac);
                joint_stats(&mut p, &columns, &rows, &mut shroud::rng::os_rng())
            })
        })
        .collect();
    let mut result = None;
    for h in handles {
        let r = h
            .join()
            .map_err(|_| Failure("a party thread panicked".into()))??;
        result = Some(r);
    }
    result.ok_or_else(|| Failure("no parties".into()))
}

fn stats(a: StatsArgs) -> Result<(), Failure> {
    let frac = FractionalBits::new(a.frac_bits)?;
    let mut seen = std::collections::HashSet::new();
    if let Some(c) = a.columns.iter().find(|c| !seen.insert(c.as_str())) {
        return Err(Failure(format!("column {c:?} is listed twice")));
    }
    let result = match (&a.local, a.party, &a.parties, &a.input) {
        (Some(files), None, None, None) => {
            let rows = files
                .iter()
                .map(|f| read_rows(f, &a.columns))
                .collect::<Result<Vec<_>, _>>()?;
            run_local(rows, &a.columns, frac)?
        }
        (None, Some(me), Some(addrs), Some(input)) => {
            if me >= addrs.len() {
                return Err(Failure(format!(
                    "--party {me} but only {} addresses in --parties",
                    addrs.len()
                )));
            }
            let rows = read_rows(input, &a.columns)?;
            let security = a.channel.security()?;
            let opts = ChannelOptions::new("mpc stats", a.session.as_bytes())
                .with_timeout(Duration::from_secs(a.timeout));
            let mesh = Mesh::tcp(me, addrs, &security, &opts)?;
            let mut p = Party::new(mesh, NoRandomness, frac);
            joint_stats(&mut p, &a.columns, &rows, &mut shroud::rng::os_rng())?
        }
        _ => {
            return Err(Failure(
                "give either --local A.csv,B.csv,... or --party I --parties HOST:PORT,... --input FILE".into(),
            ));
        }
    };
    print_stats(&result, a.json);
    Ok(())
}

pub fn stats_json(s: &JointStats) -> Value {
    let per = |v: &[f64]| -> Value {
        let mut m = Map::new();
        for (c, x) in s.columns.iter().zip(v) {
            m.insert(c.clone(), json!(x));
        }
        Value::Object(m)
    };
    json!({
        "count": s.count,
        "mean": per(&s.mean),
        "variance": per(&s.variance),
        "covariance": s.covariance,
    })
}

fn print_stats(s: &JointStats, as_json: bool) {
    if as_json {
        println!("{}", stats_json(s));
        return;
    }
    println!("rows: {}", s.count);
    println!("{:<16} {:>14} {:>14}", "column", "mean", "variance");
    for (i, c) in s.columns.iter().enumerate() {
        println!("{c:<16} {:>14.6} {:>14.6}", s.mean[i], s.variance[i]);
    }
    println!("covariance (sample, n - 1):");
    for row in &s.covariance {
        println!(
            "  {}",
            row.iter()
                .map(|x| format!("{x:>14.6}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}

#[cfg(feature = "serve")]
fn read_infer_rows(path: &Path) -> Result<Vec<Vec<f64>>, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Failure(format!(
            "{}: rows must be a JSON array of arrays of numbers: {e}",
            path.display()
        ))
    })
}

#[cfg(feature = "serve")]
fn owner_key(bits: u32) -> Result<shroud::paillier::SecretKey, Failure> {
    let opts = shroud::paillier::KeygenOptions {
        bits,
        ..Default::default()
    };
    Ok(shroud::paillier::generate_keypair(
        opts,
        &mut shroud::rng::os_rng(),
        &|_| {},
    )?)
}

#[cfg(feature = "serve")]
fn print_scores(s: &shroud::mpc::infer::Scores, st: &shroud::mpc::infer::SessionStats) {
    println!(
        "{}",
        json!({
            "logits": s.logits,
            "probabilities": s.probabilities,
            "bytes_sent_by_client": st.bytes_sent,
            "offline_seconds": st.offline.as_secs_f64(),
            "online_seconds": st.online.as_secs_f64(),
        })
    );
}

#[cfg(feature = "serve")]
fn infer(a: InferArgs) -> Result<(), Failure> {
    use shroud::mpc::infer;
    let frac = FractionalBits::new(a.frac_bits)?;
    if a.local {
        let (Some(model), Some(rows)) = (&a.model, &a.rows) else {
            return Err(Failure("--local needs --model and --rows".into()));
        };
        let model = shroud::serve::LinearModel::load(model)?;
        let rows = read_infer_rows(rows)?;
        let weights = model.mpc_weights(frac)?;
        let sk = owner_key(a.key_bits)?;
        let mut meshes = Mesh::memory(2);
        let owner_mesh = meshes.pop().ok_or_else(|| Failure("no mesh".into()))?;
        let client_mesh = meshes.pop().ok_or_else(|| Failure("no mesh".into()))?;
        let max = a.max_records;
        let owner = std::thread::spawn(move || {
            infer::owner(
                owner_mesh,
                &weights,
                &sk,
                frac,
                max,
                &mut shroud::rng::os_rng(),
            )
        });
        let (scores, stats) = infer::client(
            client_mesh,
            &rows,
            frac,
            a.key_bits,
            &mut shroud::rng::os_rng(),
        )?;
        owner
            .join()
            .map_err(|_| Failure("the owner thread panicked".into()))??;
        print_scores(&scores, &stats);
        return Ok(());
    }
    let (Some(me), Some(addrs)) = (a.party, &a.parties) else {
        return Err(Failure(
            "give --local, or --party 0|1 --parties CLIENT:PORT,OWNER:PORT".into(),
        ));
    };
    if addrs.len() != 2 || me > 1 {
        return Err(Failure(
            "secret-shared inference has two parties: --party 0 (client) or 1 (owner), two addresses"
                .into(),
        ));
    }
    let security = a.channel.security()?;
    let opts = ChannelOptions::new("mpc infer", a.session.as_bytes())
        .with_timeout(Duration::from_secs(a.timeout));
    match me {
        0 => {
            let rows = read_infer_rows(
                a.rows
                    .as_ref()
                    .ok_or_else(|| Failure("the client (party 0) needs --rows".into()))?,
            )?;
            let mesh = Mesh::tcp(0, addrs, &security, &opts)?;
            let (scores, stats) =
                infer::client(mesh, &rows, frac, a.key_bits, &mut shroud::rng::os_rng())?;
            print_scores(&scores, &stats);
        }
        _ => {
            let model = shroud::serve::LinearModel::load(
                a.model
                    .as_ref()
                    .ok_or_else(|| Failure("the model owner (party 1) needs --model".into()))?,
            )?;
            let weights = model.mpc_weights(frac)?;
            let sk = owner_key(a.key_bits)?;
            let mesh = Mesh::tcp(1, addrs, &security, &opts)?;
            let (records, stats) = infer::owner(
                mesh,
                &weights,
                &sk,
                frac,
                a.max_records,
                &mut shroud::rng::os_rng(),
            )?;
            eprintln!(
                "shroud: scored {records} records for the client (sent {} bytes); it alone saw the results",
                stats.bytes_sent
            );
        }
    }
    Ok(())
}
