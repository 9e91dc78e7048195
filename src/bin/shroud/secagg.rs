//! `shroud secagg serve | join | local`: secure aggregation over the network, or all
//! parties in one process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use rand_core::Rng;
use serde_json::json;
use shroud::net::{ChannelOptions, Security};
use shroud::secagg::driver::{self, parse_client_name};
use shroud::secagg::{Aggregate, ClientId, GraphKind, Params, Tolerance, run_local};

use crate::Failure;
use crate::channel::ChannelArgs;

#[derive(Subcommand)]
pub enum SecAggCommand {
    /// Run the server: accept N clients, print the sum of the survivors' vectors.
    Serve(ServeArgs),
    /// Run one client: contribute the vector in FILE.
    Join(JoinArgs),
    /// All parties in one process: one client per CSV row.
    Local(LocalArgs),
}

#[derive(Args, Clone)]
pub struct Tolerances {
    /// Fraction of clients that may drop out.
    #[arg(long, default_value_t = 0.3)]
    dropout: f64,
    /// Fraction of clients that may collude with the server.
    #[arg(long, default_value_t = 0.1)]
    corrupt: f64,
    /// Neighbour graph: complete (SecAgg) or harary (SecAgg+).
    #[arg(long, default_value = "complete")]
    graph: GraphKind,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: String,
    /// Number of clients (named client-0 .. client-(N-1) in the peers file).
    #[arg(long)]
    clients: u32,
    /// Vector length.
    #[arg(long)]
    dim: u32,
    /// Bits of each input value (values are integers in [0, 2^B)).
    #[arg(long, default_value_t = 16)]
    input_bits: u32,
    /// Shamir threshold (default: derived from the tolerances; must exceed half the holders).
    #[arg(long)]
    threshold: Option<u32>,
    #[command(flatten)]
    tol: Tolerances,
    /// Seconds allowed for each client's message in each round (and for each connection).
    #[arg(long, default_value_t = 30)]
    round_timeout: u64,
    /// Session label; clients must use the same one.
    #[arg(long, default_value = "shroud-secagg")]
    label: String,
    #[command(flatten)]
    channel: ChannelArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct JoinArgs {
    /// Server address.
    #[arg(long)]
    connect: String,
    /// The vector: one CSV line or a JSON array of integers.
    #[arg(long)]
    input: PathBuf,
    /// This client's id (default: the name its identity is pinned under, client-I).
    #[arg(long)]
    id: Option<ClientId>,
    /// Seconds allowed for connecting and for each server message.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Session label.
    #[arg(long, default_value = "shroud-secagg")]
    label: String,
    #[command(flatten)]
    channel: ChannelArgs,
    /// Testing: exit abruptly right after sending round R's message.
    #[arg(long, hide = true)]
    vanish_after: Option<u8>,
    /// Testing: stop answering (sleep) after sending round R's message.
    #[arg(long, hide = true)]
    stall_after: Option<u8>,
}

#[derive(Args)]
pub struct LocalArgs {
    /// CSV with a header row; row i is client i's vector (non-negative integers).
    #[arg(long)]
    inputs: PathBuf,
    /// ROUND:ID,ID,..: those clients vanish after round ROUND (0 = never join,
    /// 1 = after advertising keys, 2 = after sharing keys, 3 = after sending the masked input).
    #[arg(long)]
    drop: Vec<String>,
    #[command(flatten)]
    tol: Tolerances,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: SecAggCommand) -> Result<(), Failure> {
    match cmd {
        SecAggCommand::Serve(a) => serve(a),
        SecAggCommand::Join(a) => join(a),
        SecAggCommand::Local(a) => local(a),
    }
}

fn session_id() -> [u8; 32] {
    let mut s = [0u8; 32];
    shroud::rng::os_rng().fill_bytes(&mut s);
    s
}

fn print_aggregate(agg: &Aggregate, json_out: bool) {
    if json_out {
        println!(
            "{}",
            json!({"sum": agg.sum, "survivors": agg.survivors, "dropped": agg.dropped})
        );
    } else {
        println!(
            "sum over {} clients: {}",
            agg.survivors.len(),
            agg.sum
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        println!("dropped: {:?}", agg.dropped);
    }
}

fn serve(a: ServeArgs) -> Result<(), Failure> {
    let tol = Tolerance::new(a.tol.dropout, a.tol.corrupt)?;
    let sid = session_id();
    let mut params = Params::derive(a.clients, a.dim, a.input_bits, a.tol.graph, tol, sid)?;
    if let Some(t) = a.threshold {
        let kind = if params.graph().is_complete() {
            GraphKind::Complete
        } else {
            GraphKind::Harary
        };
        let k = params.graph().degree();
        params = Params::custom(a.clients, a.dim, a.input_bits, kind, k, t, sid)?;
    }
    let security = a.channel.security()?;
    let opts = ChannelOptions::new("secagg", a.label.as_bytes())
        .with_timeout(Duration::from_secs(a.round_timeout));
    let listener = std::net::TcpListener::bind(&a.listen)
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", a.listen)))?;
    eprintln!(
        "shroud: secagg server on {} for {} clients (graph {}, k = {}, t = {})",
        a.listen,
        a.clients,
        if params.graph().is_complete() {
            "complete"
        } else {
            "harary"
        },
        params.graph().degree(),
        params.threshold()
    );
    let report = driver::serve(&listener, &security, &opts, &params)?;
    for e in &report.events {
        eprintln!("shroud: {e}");
    }
    print_aggregate(&report.aggregate, a.json);
    Ok(())
}

fn read_vector(path: &Path) -> Result<Vec<u64>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let t = text.trim();
    let bad = |e: &dyn std::fmt::Display| {
        Failure(format!(
            "{}: expected one CSV line or a JSON array of non-negative integers ({e})",
            path.display()
        ))
    };
    if t.starts_with('[') {
        serde_json::from_str::<Vec<u64>>(t).map_err(|e| bad(&e))
    } else {
        t.split(',')
            .map(|v| v.trim().parse::<u64>().map_err(|e| bad(&e)))
            .collect()
    }
}

fn join(a: JoinArgs) -> Result<(), Failure> {
    let input = read_vector(&a.input)?;
    let security = a.channel.security()?;
    let id = match (a.id, &security) {
        (Some(id), _) => id,
        (None, Security::Pinned { identity, peers }) => peers
            .name_of(&identity.fingerprint())
            .and_then(parse_client_name)
            .ok_or_else(|| {
                Failure("give --id, or pin this identity as client-I in the peers file".into())
            })?,
        (None, _) => return Err(Failure("give --id with --insecure-plaintext".into())),
    };
    let opts = ChannelOptions::new("secagg", a.label.as_bytes())
        .with_timeout(Duration::from_secs(a.timeout));
    let (vanish, stall) = (a.vanish_after, a.stall_after);
    driver::join(
        &a.connect,
        &security,
        &opts,
        id,
        input,
        &mut shroud::rng::os_rng(),
        |round| {
            if vanish == Some(round) {
                std::process::abort();
            }
            if stall == Some(round) {
                std::thread::sleep(Duration::from_secs(3600));
            }
        },
    )?;
    eprintln!("shroud: client {id}: contribution sent and unmasking shares revealed");
    Ok(())
}

fn parse_drops(specs: &[String], n: u32) -> Result<BTreeMap<ClientId, u8>, Failure> {
    let mut drops = BTreeMap::new();
    for spec in specs {
        let bad = || {
            Failure(format!(
                "--drop {spec:?}: expected ROUND:ID,ID,.. with ROUND 0 to 3"
            ))
        };
        let (round, ids) = spec.split_once(':').ok_or_else(bad)?;
        let round: u8 = round.trim().parse().map_err(|_| bad())?;
        if round > 3 {
            return Err(bad());
        }
        for id in ids.split(',') {
            let id: ClientId = id.trim().parse().map_err(|_| bad())?;
            if id >= n {
                return Err(Failure(format!(
                    "--drop: client {id} does not exist ({n} clients)"
                )));
            }
            drops.insert(id, round);
        }
    }
    Ok(drops)
}

fn local(a: LocalArgs) -> Result<(), Failure> {
    let mut rdr = csv::Reader::from_path(&a.inputs)
        .map_err(|e| Failure(format!("cannot read {}: {e}", a.inputs.display())))?;
    let mut inputs: Vec<Vec<u64>> = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| Failure(format!("{}: {e}", a.inputs.display())))?;
        let row = rec
            .iter()
            .map(|v| v.trim().parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|e| {
                Failure(format!(
                    "{}: row {} is not non-negative integers: {e}",
                    a.inputs.display(),
                    i + 1
                ))
            })?;
        inputs.push(row);
    }
    let n = u32::try_from(inputs.len()).map_err(|_| Failure("too many rows".into()))?;
    let dim = inputs.first().map_or(0, Vec::len);
    if inputs.iter().any(|r| r.len() != dim) {
        return Err(Failure(
            "every row must have as many values as the header".into(),
        ));
    }
    let max = inputs.iter().flatten().copied().max().unwrap_or(0);
    let input_bits = (64 - max.leading_zeros()).max(1);
    let tol = Tolerance::new(a.tol.dropout, a.tol.corrupt)?;
    let params = Params::derive(n, dim as u32, input_bits, a.tol.graph, tol, session_id())?;
    let drops = parse_drops(&a.drop, n)?;
    let (agg, _) = run_local(&params, inputs, &drops, &mut shroud::rng::os_rng())?;
    print_aggregate(&agg, a.json);
    Ok(())
}
