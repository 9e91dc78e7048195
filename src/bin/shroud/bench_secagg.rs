//! `shroud bench secagg`: the server and every client of a secure-aggregation session in
//! one process (one thread), through the real message encoding; a fraction of the clients
//! drops out after sharing keys, the case that costs the server most (it must recompute
//! their pairwise masks with every surviving neighbour).

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Args;
use rand_core::Rng;
use serde_json::json;
use shroud::secagg::{ClientId, GraphKind, Params, Tolerance, run_local};

use crate::Failure;

#[derive(Args)]
pub struct SecAggArgs {
    /// Number of clients.
    #[arg(long, default_value_t = 500)]
    clients: u32,
    /// Vector length.
    #[arg(long, default_value_t = 100_000)]
    dim: u32,
    /// Fraction of clients that drop out after sharing keys (also the tolerated rate).
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Tolerated fraction of clients colluding with the server.
    #[arg(long, default_value_t = 0.1)]
    corrupt: f64,
    /// Bits of each input value.
    #[arg(long, default_value_t = 16)]
    input_bits: u32,
    /// Neighbour graph: complete (SecAgg) or harary (SecAgg+).
    #[arg(long, default_value = "complete")]
    graph: GraphKind,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: SecAggArgs) -> Result<(), Failure> {
    let tol = Tolerance::new(a.dropout, a.corrupt)?;
    let mut rng = shroud::rng::chacha_from_os();
    let mut session = [0u8; 32];
    rng.fill_bytes(&mut session);
    let params = Params::derive(a.clients, a.dim, a.input_bits, a.graph, tol, session)?;
    let n = a.clients;
    let dropped = (a.dropout * f64::from(n)).floor() as u32;
    // Spread the dropouts over the id range.
    let drops: BTreeMap<ClientId, u8> = (0..dropped)
        .map(|i| {
            (
                (u64::from(i) * u64::from(n) / u64::from(dropped)) as ClientId,
                2,
            )
        })
        .collect();
    let inputs: Vec<Vec<u64>> = (0..n)
        .map(|_| {
            (0..a.dim)
                .map(|_| rng.next_u64() >> (64 - a.input_bits))
                .collect()
        })
        .collect();
    let mut want = vec![0u64; a.dim as usize];
    for (u, x) in inputs.iter().enumerate() {
        if !drops.contains_key(&(u as ClientId)) {
            for (w, v) in want.iter_mut().zip(x) {
                *w += v;
            }
        }
    }
    let wall = Instant::now();
    let (agg, st) = run_local(&params, inputs, &drops, &mut rng)?;
    let wall_s = wall.elapsed().as_secs_f64();
    if agg.sum != want {
        return Err(Failure("the aggregate differs from the plain sum".into()));
    }
    let surv = &agg.survivors;
    let mean = |f: &dyn Fn(usize) -> f64| {
        surv.iter().map(|&u| f(u as usize)).sum::<f64>() / surv.len() as f64
    };
    let client_ms = mean(&|u| st.client_ns[u] as f64 / 1e6);
    let client_max_ms = surv
        .iter()
        .map(|&u| st.client_ns[u as usize] as f64 / 1e6)
        .fold(0.0, f64::max);
    let server_ms = st.server_ns as f64 / 1e6;
    let server_cpu_ms = st.server_cpu_ns.map(|ns| ns as f64 / 1e6);
    let c2s = mean(&|u| st.bytes_client_to_server[u] as f64);
    let s2c = mean(&|u| st.bytes_server_to_client[u] as f64);
    let graph = if params.graph().is_complete() {
        "complete".to_string()
    } else {
        "harary".to_string()
    };
    if a.json {
        println!(
            "{}",
            json!({
                "clients": n,
                "dim": a.dim,
                "dropout": a.dropout,
                "corrupt": a.corrupt,
                "graph": graph,
                "degree": params.graph().degree(),
                "threshold": params.threshold(),
                "modulus_bits": params.modulus_bits(),
                "survivors": surv.len(),
                "client_ms": client_ms,
                "client_max_ms": client_max_ms,
                "server_ms": server_ms,
                "server_cpu_ms": server_cpu_ms,
                "bytes_client_to_server": c2s.round() as u64,
                "bytes_server_to_client": s2c.round() as u64,
                "wall_s": wall_s,
            })
        );
    } else {
        println!(
            "secagg: {n} clients x {} values, {} dropped after sharing keys, graph {graph} (k = {}, t = {}), modulus 2^{}",
            a.dim,
            dropped,
            params.graph().degree(),
            params.threshold(),
            params.modulus_bits()
        );
        println!("  client (mean over survivors): {client_ms:.1} ms (max {client_max_ms:.1} ms)");
        match server_cpu_ms {
            Some(c) => {
                println!("  server:                       {server_ms:.1} ms ({c:.1} ms on the CPU)")
            }
            None => println!("  server:                       {server_ms:.1} ms"),
        }
        println!(
            "  bytes per client: {:.0} up, {:.0} down; wall time {wall_s:.1} s; sum checked",
            c2s, s2c
        );
    }
    Ok(())
}
