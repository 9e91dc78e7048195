//! `shroud mpc stats`: joint statistics over rows held by several parties.

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
