//! Secure aggregation for federated learning: a server learns the **sum** of many
//! clients' vectors and nothing else about any one of them, even when clients drop out
//! mid-protocol. SecAgg (Bonawitz et al., CCS 2017) on the complete graph, SecAgg+ (Bell
//! et al., CCS 2020) on a random k-regular Harary graph.
//!
//! # Protocol
//! Client u holds x_u, dim values below 2^input_bits; arithmetic is modulo 2^b with
//! b = input_bits + ceil(log2 n), so the sum of n inputs never wraps ([`Params`]).
//! 1. **Advertise keys**: u draws two X25519 key pairs, one to agree share-encryption keys
//!    (c_u) and one to agree pairwise mask seeds (s_u; its secret is the image of a random
//!    field element m_u). The server sends each client its neighbours' public keys.
//! 2. **Share keys**: u draws the self-mask seed b_u and splits b_u and m_u t-of-(k + 1)
//!    with Shamir over a prime field (`shamir`) among its holders (its neighbours and
//!    itself); each neighbour's pair of shares is sealed with ChaCha20-Poly1305 under
//!    HKDF-SHA256 of the X25519 agreement of the c keys, bound to the session, both ids and
//!    both keys. The server forwards the sealed shares.
//! 3. **Masked input**: u sends y_u = x_u + PRG(b_u) + sum over its neighbours v that
//!    shared of +/- PRG(s_uv) mod 2^b (+ if u < v), where PRG is ChaCha20 keyed by HKDF
//!    output, domain-separated by session, round and pair (`prg`).
//! 4. **Unmasking**: the server asks each survivor for its shares of the surviving
//!    neighbours' b_v and of the dropped neighbours' m_v. An honest client refuses to
//!    reveal both for one peer ([`SecAggError::UnmaskRefused`]). The server reconstructs,
//!    removes the self masks of the survivors and the pairwise masks between dropped
//!    clients and survivors, and obtains the sum of the survivors' inputs.
//!
//! Every party is a sans-IO state machine ([`Client`], [`Server`]): each round consumes
//! the state of the one before. [`run_local`] drives all parties in one process.
//!
//! # Threat model
//! - Semi-honest server and clients: the server may collude with up to a fraction gamma
//!   of the clients ([`Tolerance`]); it learns the sum over the survivors and the set of
//!   survivors (who dropped when), and nothing else, as long as fewer than t holders of
//!   any honest client are corrupted and the honest survivors' graph is connected; the
//!   complete graph guarantees both, SecAgg+ up to the probabilities of [`params`].
//! - A client that drops out is not in the sum; up to a fraction delta may drop out at any
//!   round. More dropouts abort the session ([`SecAggError::TooManyDropouts`]); nothing is
//!   revealed then.
//! - A server that lies about who dropped could ask different clients for different
//!   shares: an honest client refuses a request that lists one peer as both survivor and
//!   dropped, and t > (k + 1) / 2 keeps two disjoint sets of holders from each reaching t.
//!   The optional consistency-check round ([`consistency`]: clients sign the survivor list
//!   with Ed25519 keys known to each other) catches a server that shows different clients
//!   different lists; it is in the library's state machines, not yet in [`run_local`] or
//!   the networked driver.
//! - One misbehaving client cannot stop the others: the server rejects its message and
//!   treats it as dropped. A client that sends a wrong masked input makes the sum wrong
//!   (no input validation is in scope).
//!
//! # Example
//! ```
//! use shroud::secagg::{GraphKind, Params, Tolerance, run_local};
//! use std::collections::BTreeMap;
//!
//! let tol = Tolerance::new(0.2, 0.1)?;
//! let params = Params::derive(5, 3, 16, GraphKind::Complete, tol, [7u8; 32])?;
//! let inputs = vec![vec![1, 2, 3], vec![10, 20, 30], vec![100, 200, 300], vec![5, 5, 5], vec![0, 0, 1]];
//! // Client 3 vanishes after sending its shares (before its masked input).
//! let drops = BTreeMap::from([(3, 2)]);
//! let (agg, _) = run_local(&params, inputs, &drops, &mut shroud::rng::os_rng())?;
//! assert_eq!(agg.sum, vec![111, 222, 334]);
//! assert_eq!(agg.survivors, vec![0, 1, 2, 4]);
//! # Ok::<(), shroud::secagg::SecAggError>(())
//! ```

pub mod client;
pub mod consistency;
pub mod driver;
pub mod error;
pub mod graph;
pub mod msgs;
pub mod params;
pub(crate) mod prg;
pub mod quantize;
pub mod server;
pub(crate) mod shamir;

use std::collections::BTreeMap;
use std::time::Instant;

use rand_core::CryptoRng;

pub use client::{Client, ClientAwaitKeys, ClientAwaitShares, ClientAwaitUnmask};
pub use consistency::{ClientAwaitChecked, ServerAwaitSignatures};
pub use error::SecAggError;
pub use graph::{Graph, GraphKind};
pub use msgs::Message;
pub use params::{FailureBounds, Params, Tolerance};
pub use quantize::Quantizer;
pub use server::{
    Aggregate, Server, ServerAwaitKeys, ServerAwaitMasked, ServerAwaitShares, ServerAwaitUnmask,
};

/// A client's index in the session, 0..n: over a network, the name its authenticated key
/// is pinned under (`client-17` is client 17), never what it announces.
pub type ClientId = u32;

/// What a local run measured.
#[derive(Debug, Clone, Default)]
pub struct LocalStats {
    /// Time each client spent in its rounds (encoding and decoding included), nanoseconds.
    pub client_ns: Vec<u128>,
    /// Time the server spent, nanoseconds.
    pub server_ns: u128,
    /// CPU time the server's thread spent (Linux, from /proc/thread-self/schedstat;
    /// `None` elsewhere), nanoseconds: on a shared machine, wall time also counts the
    /// time other processes held the core.
    pub server_cpu_ns: Option<u128>,
    /// Bytes each client sent (with a 4-byte frame header a message).
    pub bytes_client_to_server: Vec<u64>,
    /// Bytes the server sent each client.
    pub bytes_server_to_client: Vec<u64>,
}

/// Encodes a message, counts it as a transport would, and decodes it again.
fn wire(msg: Message, params: &Params, count: &mut u64) -> Result<Message, SecAggError> {
    let enc = msg.encode(params);
    *count += enc.len() as u64 + 4;
    Message::decode(&enc, params)
}

macro_rules! expect {
    ($m:expr, $v:ident) => {
        match $m {
            Message::$v(x) => x,
            other => {
                return Err(SecAggError::UnexpectedMessage {
                    expected: stringify!($v),
                    got: other.name().into(),
                });
            }
        }
    };
}

/// Runs the server and all clients in this process, every message going through the
/// wire encoding. `drops` maps a client to the round after which it vanishes: 0 never
/// joins, 1 after advertising keys, 2 after sharing keys, 3 after sending its masked input.
/// A client whose own checks fail (for instance too few neighbours left) stops as if it
/// had dropped.
///
/// # Errors
/// [`SecAggError::InvalidInput`] if `inputs` has not n vectors of the right shape; the
/// server's errors, such as [`SecAggError::TooManyDropouts`].
pub fn run_local<R: CryptoRng + ?Sized>(
    params: &Params,
    inputs: Vec<Vec<u64>>,
    drops: &BTreeMap<ClientId, u8>,
    rng: &mut R,
) -> Result<(Aggregate, LocalStats), SecAggError> {
    let n = params.n() as usize;
    if inputs.len() != n {
        return Err(SecAggError::InvalidInput(format!(
            "{} inputs for {n} clients",
            inputs.len()
        )));
    }
    let mut st = LocalStats {
        client_ns: vec![0; n],
        server_ns: 0,
        server_cpu_ns: thread_cpu_ns().map(|_| 0),
        bytes_client_to_server: vec![0; n],
        bytes_server_to_client: vec![0; n],
    };
    let stays = |u: ClientId, round: u8| drops.get(&u).is_none_or(|&r| r >= round);
    let mut clients = Vec::with_capacity(n);
    for (u, x) in inputs.into_iter().enumerate() {
        clients.push(Client::new(params, u as ClientId, x)?);
    }

    // Round 1.
    let mut server = Server::new(params);
    let mut r1 = BTreeMap::new();
    for c in clients {
        let u = c_id(&c);
        if !stays(u, 1) {
            continue;
        }
        let t0 = Instant::now();
        let (msg, next) = c.advertise(rng);
        let m = wire(
            Message::AdvertiseKeys(msg),
            params,
            &mut st.bytes_client_to_server[u as usize],
        )?;
        st.client_ns[u as usize] += t0.elapsed().as_nanos();
        let t0 = Clock::start();
        let _rejected = server.receive(u, expect!(m, AdvertiseKeys));
        t0.stop(&mut st);
        r1.insert(u, next);
    }
    let t0 = Clock::start();
    let (out, mut server) = server.finish()?;
    t0.stop(&mut st);

    // Round 2.
    let mut r2 = BTreeMap::new();
    for (u, list) in out {
        let Some(c) = r1.remove(&u) else { continue };
        let m = wire(
            Message::KeyList(list),
            params,
            &mut st.bytes_server_to_client[u as usize],
        )?;
        if !stays(u, 2) {
            continue;
        }
        let t0 = Instant::now();
        let Ok((msg, next)) = c.share_keys(expect!(m, KeyList), rng) else {
            continue;
        };
        let m = wire(
            Message::EncryptedShares(msg),
            params,
            &mut st.bytes_client_to_server[u as usize],
        )?;
        st.client_ns[u as usize] += t0.elapsed().as_nanos();
        let t0 = Clock::start();
        let _rejected = server.receive(u, expect!(m, EncryptedShares));
        t0.stop(&mut st);
        r2.insert(u, next);
    }
    let t0 = Clock::start();
    let (out, mut server) = server.finish()?;
    t0.stop(&mut st);

    // Round 3.
    let mut r3 = BTreeMap::new();
    for (u, fwd) in out {
        let Some(c) = r2.remove(&u) else { continue };
        let m = wire(
            Message::ForwardedShares(fwd),
            params,
            &mut st.bytes_server_to_client[u as usize],
        )?;
        if !stays(u, 3) {
            continue;
        }
        let t0 = Instant::now();
        let Ok((msg, next)) = c.masked_input(expect!(m, ForwardedShares)) else {
            continue;
        };
        let m = wire(
            Message::MaskedInput(msg),
            params,
            &mut st.bytes_client_to_server[u as usize],
        )?;
        st.client_ns[u as usize] += t0.elapsed().as_nanos();
        let t0 = Clock::start();
        let _rejected = server.receive(u, expect!(m, MaskedInput));
        t0.stop(&mut st);
        r3.insert(u, next);
    }
    let t0 = Clock::start();
    let (out, mut server) = server.finish()?;
    t0.stop(&mut st);

    // Round 4.
    for (u, req) in out {
        let Some(c) = r3.remove(&u) else { continue };
        let m = wire(
            Message::UnmaskRequest(req),
            params,
            &mut st.bytes_server_to_client[u as usize],
        )?;
        if !stays(u, 4) {
            continue;
        }
        let t0 = Instant::now();
        let Ok(msg) = c.unmask(expect!(m, UnmaskRequest)) else {
            continue;
        };
        let m = wire(
            Message::UnmaskShares(msg),
            params,
            &mut st.bytes_client_to_server[u as usize],
        )?;
        st.client_ns[u as usize] += t0.elapsed().as_nanos();
        let t0 = Clock::start();
        let _rejected = server.receive(u, expect!(m, UnmaskShares));
        t0.stop(&mut st);
    }
    let t0 = Clock::start();
    let agg = server.finish()?;
    t0.stop(&mut st);
    Ok((agg, st))
}

fn c_id(c: &Client) -> ClientId {
    c.id()
}

/// Wall and thread CPU time of one stretch of server work.
struct Clock {
    wall: Instant,
    cpu: Option<u128>,
}

impl Clock {
    fn start() -> Self {
        Clock {
            wall: Instant::now(),
            cpu: thread_cpu_ns(),
        }
    }

    fn stop(self, st: &mut LocalStats) {
        st.server_ns += self.wall.elapsed().as_nanos();
        if let (Some(total), Some(a), Some(b)) = (&mut st.server_cpu_ns, self.cpu, thread_cpu_ns())
        {
            *total += b.saturating_sub(a);
        }
    }
}

/// This thread's CPU time in nanoseconds, where Linux reports it.
fn thread_cpu_ns() -> Option<u128> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
