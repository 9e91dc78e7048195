//! Running secure aggregation over the network: the server and each client on the
//! authenticated channel layer ([`crate::net`]), one connection per client.
//!
//! A client's id is the name its pinned key has in the server's peers file (`client-17`
//! is client 17); the server is pinned as `server`. With
//! [`Security::InsecurePlaintext`] (loopback tests only) a client announces its name in
//! a first frame and is taken at its word.
//!
//! The server accepts up to n clients (each accept waits at most the round timeout), sends
//! each the session's [`Hello`], then runs the four rounds. In every round it talks to all
//! live clients at once, one thread each, and every receive has the round timeout: a client
//! that is silent, disconnects, or sends anything malformed or refused is a dropout, and
//! the others go on.

use std::collections::BTreeMap;
use std::net::TcpListener;

use rand_core::CryptoRng;

use super::error::SecAggError;
use super::graph::GraphKind;
use super::msgs::Message;
use super::params::Params;
use super::server::{Aggregate, Server};
use super::{Client, ClientId};
use crate::net::{self, ChannelOptions, NetError, Security, Transport};

const HELLO_MAGIC: &[u8; 8] = b"SHRDSAG1";
const HELLO_LEN: usize = 8 + 32 + 4 * 5 + 1;
/// Longest frame before the session is known (hello, name announcement, abort).
const SMALL_FRAME: usize = 2048;

/// The name a client's key is pinned under.
pub fn client_name(id: ClientId) -> String {
    format!("client-{id}")
}

/// The id in a pinned name `client-<id>` (canonical decimal only).
pub fn parse_client_name(name: &str) -> Option<ClientId> {
    let digits = name.strip_prefix("client-")?;
    let id: ClientId = digits.parse().ok()?;
    (id.to_string() == digits).then_some(id)
}

/// The session's public parameters, as the server announces them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Session identifier (and graph seed).
    pub session_id: [u8; 32],
    /// Number of clients.
    pub n: u32,
    /// Vector length.
    pub dim: u32,
    /// Inputs are below 2^input_bits.
    pub input_bits: u32,
    /// Graph kind (after any fallback to the complete graph).
    pub kind: GraphKind,
    /// Degree.
    pub degree: u32,
    /// Threshold.
    pub threshold: u32,
}

impl Hello {
    /// The hello for `params`.
    pub fn of(params: &Params) -> Self {
        let g = params.graph();
        Hello {
            session_id: *params.session_id(),
            n: params.n(),
            dim: params.dim() as u32,
            input_bits: params.input_bits(),
            kind: if g.is_complete() {
                GraphKind::Complete
            } else {
                GraphKind::Harary
            },
            degree: g.degree(),
            threshold: params.threshold() as u32,
        }
    }

    /// Its encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = HELLO_MAGIC.to_vec();
        out.extend_from_slice(&self.session_id);
        for v in [
            self.n,
            self.dim,
            self.input_bits,
            self.degree,
            self.threshold,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(match self.kind {
            GraphKind::Complete => 1,
            GraphKind::Harary => 2,
        });
        out
    }

    /// Decodes and checks a hello: the parameters must pass [`Params::custom`].
    ///
    /// # Errors
    /// [`SecAggError::Malformed`] for a frame that does not parse;
    /// [`SecAggError::InsecureParams`] for parameters this client refuses.
    pub fn decode(frame: &[u8]) -> Result<Params, SecAggError> {
        if frame.len() != HELLO_LEN || &frame[..8] != HELLO_MAGIC {
            return Err(SecAggError::Malformed(
                "the server's hello is not a secure-aggregation hello".into(),
            ));
        }
        let mut session_id = [0u8; 32];
        session_id.copy_from_slice(&frame[8..40]);
        let u = |i: usize| {
            let o = 40 + 4 * i;
            u32::from_le_bytes([frame[o], frame[o + 1], frame[o + 2], frame[o + 3]])
        };
        let kind = match frame[60] {
            1 => GraphKind::Complete,
            2 => GraphKind::Harary,
            k => return Err(SecAggError::Malformed(format!("unknown graph kind {k}"))),
        };
        Params::custom(u(0), u(1), u(2), kind, u(3), u(4), session_id)
    }
}

/// What a networked server run ended with.
#[derive(Debug)]
pub struct ServeReport {
    /// The sum and who is in it.
    pub aggregate: Aggregate,
    /// Clients dropped along the way and why (timeouts, disconnects, refused messages).
    pub events: Vec<String>,
}

/// Accepts up to `params.n()` clients on `listener` and runs the session.
///
/// # Errors
/// [`SecAggError::TooManyDropouts`] if too few clients connect or stay; the server's
/// other errors ([`SecAggError::ReconstructionFailed`]). Problems with single clients
/// are not errors: they become dropouts listed in the report.
pub fn serve(
    listener: &TcpListener,
    security: &Security,
    opts: &ChannelOptions,
    params: &Params,
) -> Result<ServeReport, SecAggError> {
    let mut events = Vec::new();
    let mut conns = accept_clients(listener, security, opts, params.n(), &mut events);
    for t in conns.values_mut() {
        t.set_max_frame(Message::max_len(params));
    }
    let aggregate = run_server(&mut conns, params, &mut events)?;
    Ok(ServeReport { aggregate, events })
}

/// An accepted client connection.
pub type Conn = Box<dyn Transport + Send>;

/// Accepts up to `n` clients named `client-0` .. `client-{n-1}` on `listener` (pinned
/// names when `security` is secure, announced names in plaintext), each accept bounded by
/// the channel options' timeout. What went wrong with single connections goes to `events`.
pub fn accept_clients(
    listener: &TcpListener,
    security: &Security,
    opts: &ChannelOptions,
    n: u32,
    events: &mut Vec<String>,
) -> BTreeMap<ClientId, Conn> {
    let mut conns: BTreeMap<ClientId, Conn> = BTreeMap::new();
    if security.is_secure() {
        // Every client's handshake at once; the names are distinct and pinned.
        let allowed = |name: &str| parse_client_name(name).is_some_and(|id| id < n);
        let refused = |e: &NetError| events.push(format!("refused a connection: {e}"));
        match net::accept_peers(listener, security, opts, n as usize, allowed, refused) {
            Ok(list) => {
                for (t, name) in list {
                    if let Some(id) = parse_client_name(&name).filter(|&id| id < n) {
                        conns.insert(id, t);
                    }
                }
            }
            Err(e) => events.push(format!("no client connected: {e}")),
        }
        if (conns.len() as u32) < n {
            events.push(format!(
                "stopped waiting after {} of {n} clients connected",
                conns.len()
            ));
        }
    }
    while !security.is_secure() && (conns.len() as u32) < n {
        let accepted = net::accept(listener, security, opts, |name| {
            parse_client_name(name).is_some_and(|id| id < n)
        });
        let (mut t, name) = match accepted {
            Ok(x) => x,
            Err(NetError::Timeout(_)) => {
                events.push(format!(
                    "stopped waiting after {} of {n} clients connected",
                    conns.len()
                ));
                break;
            }
            Err(e) => {
                events.push(format!("refused a connection: {e}"));
                continue;
            }
        };
        let name = if security.is_secure() {
            name
        } else {
            t.set_max_frame(SMALL_FRAME);
            match t.recv() {
                Ok(f) => String::from_utf8_lossy(&f).into_owned(),
                Err(e) => {
                    events.push(format!("an unauthenticated client failed: {e}"));
                    continue;
                }
            }
        };
        match parse_client_name(&name).filter(|&id| id < n) {
            Some(id) if !conns.contains_key(&id) => {
                conns.insert(id, t);
            }
            _ => events.push(format!("refused {name:?}: unknown or already connected")),
        }
    }
    conns
}

/// Runs the server's side of a session with already connected clients (`conns` keyed by
/// client id, frame limits set to at least [`Message::max_len`]): sends each the
/// [`Hello`], then the four rounds. Clients that fail are removed from `conns` and
/// reported in `events`.
///
/// # Errors
/// As [`serve`].
pub fn run_server(
    conns: &mut BTreeMap<ClientId, Conn>,
    params: &Params,
    events: &mut Vec<String>,
) -> Result<Aggregate, SecAggError> {
    let n = params.n();
    conns.retain(|&u, _| u < n);
    let hello = Hello::of(params).encode();
    let out: Vec<(ClientId, Vec<u8>)> = conns.keys().map(|&u| (u, hello.clone())).collect();

    let mut server = Server::new(params);
    for (u, r) in exchange_all(conns, out, params, events) {
        if let Err(e) = r.and_then(|m| match m {
            Message::AdvertiseKeys(m) => server.receive(u, m),
            m => Err(unexpected("AdvertiseKeys", &m)),
        }) {
            drop_client(conns, u, e, params, events);
        }
    }
    let (lists, mut server) = server.finish()?;
    let out = encode_all(
        params,
        lists.into_iter().map(|(u, m)| (u, Message::KeyList(m))),
    );
    for (u, r) in exchange_all(conns, out, params, events) {
        if let Err(e) = r.and_then(|m| match m {
            Message::EncryptedShares(m) => server.receive(u, m),
            m => Err(unexpected("EncryptedShares", &m)),
        }) {
            drop_client(conns, u, e, params, events);
        }
    }
    let (fwd, mut server) = server.finish()?;
    let out = encode_all(
        params,
        fwd.into_iter()
            .map(|(u, m)| (u, Message::ForwardedShares(m))),
    );
    for (u, r) in exchange_all(conns, out, params, events) {
        if let Err(e) = r.and_then(|m| match m {
            Message::MaskedInput(m) => server.receive(u, m),
            m => Err(unexpected("MaskedInput", &m)),
        }) {
            drop_client(conns, u, e, params, events);
        }
    }
    let (reqs, mut server) = server.finish()?;
    let out = encode_all(
        params,
        reqs.into_iter()
            .map(|(u, m)| (u, Message::UnmaskRequest(m))),
    );
    for (u, r) in exchange_all(conns, out, params, events) {
        if let Err(e) = r.and_then(|m| match m {
            Message::UnmaskShares(m) => server.receive(u, m),
            m => Err(unexpected("UnmaskShares", &m)),
        }) {
            drop_client(conns, u, e, params, events);
        }
    }
    server.finish()
}

fn unexpected(expected: &'static str, m: &Message) -> SecAggError {
    match m {
        Message::Abort(r) => SecAggError::PeerAborted(r.clone()),
        m => SecAggError::UnexpectedMessage {
            expected,
            got: m.name().into(),
        },
    }
}

fn drop_client(
    conns: &mut BTreeMap<ClientId, Conn>,
    u: ClientId,
    e: SecAggError,
    params: &Params,
    events: &mut Vec<String>,
) {
    events.push(format!("client {u} dropped: {e}"));
    if let Some(mut t) = conns.remove(&u) {
        let _ = t.send(&Message::Abort(format!("dropped: {e}")).encode(params));
    }
}

fn encode_all(
    params: &Params,
    msgs: impl Iterator<Item = (ClientId, Message)>,
) -> Vec<(ClientId, Vec<u8>)> {
    msgs.map(|(u, m)| (u, m.encode(params))).collect()
}

/// Sends each client its message and receives and decodes its answer, all at once (one
/// thread per client, each receive bounded by the transport's timeout). Clients with no
/// message this round are disconnected; clients whose exchange fails are removed.
fn exchange_all(
    conns: &mut BTreeMap<ClientId, Conn>,
    out: Vec<(ClientId, Vec<u8>)>,
    params: &Params,
    events: &mut Vec<String>,
) -> Vec<(ClientId, Result<Message, SecAggError>)> {
    let mut out: BTreeMap<ClientId, Vec<u8>> = out.into_iter().collect();
    let excluded: Vec<ClientId> = conns
        .keys()
        .copied()
        .filter(|u| !out.contains_key(u))
        .collect();
    for u in excluded {
        events.push(format!("client {u} left out: too few live neighbours"));
        if let Some(mut t) = conns.remove(&u) {
            let _ =
                t.send(&Message::Abort("left out: too few live neighbours".into()).encode(params));
        }
    }
    let raw: Vec<(ClientId, Result<Vec<u8>, NetError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .iter_mut()
            .filter_map(|(&u, t)| {
                let msg = out.remove(&u)?;
                Some(s.spawn(move || (u, t.exchange_owned(msg))))
            })
            .collect();
        // A thread that panicked (it cannot: exchange returns errors) is skipped.
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut got = Vec::with_capacity(raw.len());
    for (u, r) in raw {
        match r {
            Ok(frame) => got.push((u, Message::decode(&frame, params))),
            Err(e) => {
                events.push(format!("client {u} dropped: {e}"));
                conns.remove(&u);
            }
        }
    }
    got
}

/// Runs client `id` with `input` against the server at `addr`. `after_round` is called
/// after each of the client's messages is sent, with the round number (1..=4).
///
/// # Errors
/// [`SecAggError::Net`] if the server is unreachable, refuses this client or goes silent;
/// [`SecAggError::PeerAborted`] if it ends the session; the client's own checks
/// ([`SecAggError::InsecureParams`] for a hello this client refuses,
/// [`SecAggError::InvalidInput`] for an input that does not fit the session,
/// [`SecAggError::UnmaskRefused`], ...).
pub fn join<R: CryptoRng + ?Sized>(
    addr: &str,
    security: &Security,
    opts: &ChannelOptions,
    id: ClientId,
    input: Vec<u64>,
    rng: &mut R,
    after_round: impl FnMut(u8),
) -> Result<(), SecAggError> {
    let mut t = net::connect(addr, security, opts, "server")?;
    if !security.is_secure() {
        t.send(client_name(id).as_bytes())?;
    }
    run_client(&mut t, id, input, rng, after_round)
}

/// Runs client `id`'s side of a session on an open connection to the server: waits for
/// the [`Hello`], checks it, then the four rounds.
///
/// # Errors
/// As [`join`].
pub fn run_client<R: CryptoRng + ?Sized>(
    t: &mut Conn,
    id: ClientId,
    input: Vec<u64>,
    rng: &mut R,
    after_round: impl FnMut(u8),
) -> Result<(), SecAggError> {
    run_client_checked(t, id, input, rng, after_round, |_| Ok(()))
}

/// As [`run_client`], with `check` run on the session's parameters before this client
/// sends anything (for example that the threshold is high enough for the noise it adds).
///
/// # Errors
/// As [`join`], and `check`'s error (the client then aborts the session).
pub fn run_client_checked<R: CryptoRng + ?Sized>(
    t: &mut Conn,
    id: ClientId,
    input: Vec<u64>,
    rng: &mut R,
    mut after_round: impl FnMut(u8),
    check: impl FnOnce(&Params) -> Result<(), SecAggError>,
) -> Result<(), SecAggError> {
    t.set_max_frame(SMALL_FRAME);
    let frame = t.recv()?;
    let params = match Hello::decode(&frame) {
        Ok(p) => p,
        Err(e) => {
            // Perhaps an abort: the server refused this client.
            return Err(match Message::abort_reason(&frame) {
                Some(r) => SecAggError::PeerAborted(r),
                None => e,
            });
        }
    };
    if let Err(e) = check(&params) {
        let _ = t.send(&Message::Abort(e.to_string()).encode(&params));
        return Err(e);
    }
    t.set_max_frame(Message::max_len(&params));
    let recv = |t: &mut Conn, expected: &'static str| -> Result<Message, SecAggError> {
        let m = Message::decode(&t.recv()?, &params)?;
        if m.name() == expected {
            Ok(m)
        } else {
            Err(unexpected(expected, &m))
        }
    };
    let (m, c) = Client::new(&params, id, input)?.advertise(rng);
    t.send(&Message::AdvertiseKeys(m).encode(&params))?;
    after_round(1);
    let Message::KeyList(list) = recv(t, "KeyList")? else {
        unreachable!("recv checks the kind")
    };
    let (m, c) = c.share_keys(list, rng)?;
    t.send(&Message::EncryptedShares(m).encode(&params))?;
    after_round(2);
    let Message::ForwardedShares(fwd) = recv(t, "ForwardedShares")? else {
        unreachable!("recv checks the kind")
    };
    let (m, c) = c.masked_input(fwd)?;
    t.send(&Message::MaskedInput(m).encode(&params))?;
    after_round(3);
    let Message::UnmaskRequest(req) = recv(t, "UnmaskRequest")? else {
        unreachable!("recv checks the kind")
    };
    let shares = c.unmask(req);
    let shares = match shares {
        Ok(s) => s,
        Err(e) => {
            let _ = t.send(&Message::Abort(e.to_string()).encode(&params));
            return Err(e);
        }
    };
    t.send(&Message::UnmaskShares(shares).encode(&params))?;
    after_round(4);
    Ok(())
}
