//! Opening channels: who this party is, which peers it pins, and the two ways to connect.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use super::identity::{Identity, Peers};
use super::secure::{SecureTransport, handshake};
use super::{DEFAULT_MAX_FRAME, DEFAULT_TIMEOUT, NetError, TcpTransport, Transport, deadline};

/// How a party's connections are protected.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Security {
    /// Noise channels: this party's identity, and the peers it accepts, by name.
    Pinned {
        /// This party's long-term key.
        identity: Arc<Identity>,
        /// The fingerprints of the peers it talks to.
        peers: Peers,
    },
    /// Plaintext TCP, peers unauthenticated. Anyone on the path reads every share and can
    /// impersonate any party: for loopback tests only.
    InsecurePlaintext,
}

impl Security {
    /// Noise channels with `identity`, accepting only the `peers` pinned.
    pub fn pinned(identity: Identity, peers: Peers) -> Self {
        Self::Pinned {
            identity: Arc::new(identity),
            peers,
        }
    }

    /// Plaintext TCP (see [`Security::InsecurePlaintext`]).
    pub fn insecure_plaintext() -> Self {
        Self::InsecurePlaintext
    }

    /// Whether connections are authenticated and encrypted.
    pub fn is_secure(&self) -> bool {
        matches!(self, Self::Pinned { .. })
    }
}

/// What a connection is for: the protocol and the session label (bound into the Noise
/// prologue, so both ends must agree on them), the time allowed per message and the
/// initial frame limit.
#[derive(Clone, Debug)]
pub struct ChannelOptions {
    /// Protocol name, such as `psi` or `mpc`.
    pub protocol: String,
    /// Application session label, at most 255 bytes.
    pub session: Vec<u8>,
    /// Time allowed for connecting, for the handshake, and for each message.
    pub timeout: Duration,
    /// Longest frame accepted until the protocol sets its own limit.
    pub max_frame: usize,
}

impl ChannelOptions {
    /// Options with the default timeout and frame limit.
    pub fn new(protocol: &str, session: &[u8]) -> Self {
        Self {
            protocol: protocol.to_string(),
            session: session.to_vec(),
            timeout: DEFAULT_TIMEOUT,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }

    /// The same options with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn prologue(&self) -> Result<Vec<u8>, NetError> {
        let mut p = b"shroud channel v1\0".to_vec();
        for part in [self.protocol.as_bytes(), &self.session] {
            let len = u8::try_from(part.len()).map_err(|_| {
                NetError::Config("protocol names and session labels are at most 255 bytes".into())
            })?;
            p.push(len);
            p.extend_from_slice(part);
        }
        Ok(p)
    }
}

fn pinned_as(
    peers: &Peers,
    expect: &str,
) -> impl FnOnce(&super::Fingerprint) -> Result<String, NetError> {
    let want = peers.get(expect).copied();
    let known = peers.name_of_owned();
    let expect = expect.to_string();
    move |fp| match (want, known(fp)) {
        (Some(w), _) if w == *fp => Ok(expect),
        (None, _) => Err(NetError::Config(format!(
            "no key is pinned for peer {expect:?}"
        ))),
        (_, Some(other)) => Err(NetError::UnknownPeer(format!(
            "expected {expect:?}, but the key presented is pinned for {other:?}"
        ))),
        (_, None) => Err(NetError::UnknownPeer(format!(
            "expected {expect:?}, but the peer's key {fp} is not pinned"
        ))),
    }
}

/// Connects to `addr` and, with [`Security::Pinned`], authenticates the peer as the one
/// pinned under `expect`. The returned transport has the peer's authenticated name.
///
/// # Errors
/// [`NetError::Timeout`] if nobody answers in time; [`NetError::UnknownPeer`] if the
/// peer's key is not the one pinned under `expect` (nothing of this party's identity or
/// protocol is sent then), or the peer does not pin this party;
/// [`NetError::Handshake`] if the peer runs another protocol or session;
/// [`NetError::Config`] if no key is pinned under `expect`.
pub fn connect(
    addr: &str,
    security: &Security,
    opts: &ChannelOptions,
    expect: &str,
) -> Result<Box<dyn Transport + Send>, NetError> {
    match security {
        Security::InsecurePlaintext => Ok(Box::new(TcpTransport::connect(
            addr,
            opts.timeout,
            opts.max_frame,
        )?)),
        Security::Pinned { identity, peers } => {
            if peers.get(expect).is_none() {
                return Err(NetError::Config(format!(
                    "no key is pinned for peer {expect:?}"
                )));
            }
            let stream = deadline::connect(addr, opts.timeout)?;
            let t = handshake(
                stream,
                true,
                identity,
                &opts.prologue()?,
                opts.timeout,
                opts.max_frame,
                pinned_as(peers, expect),
            )?;
            Ok(Box::new(t))
        }
    }
}

/// An accepted peer: its channel and the name its key is pinned under.
pub type Accepted = (Box<dyn Transport + Send>, String);

/// Most handshakes in progress at once while accepting.
const MAX_PENDING_HANDSHAKES: usize = 64;

/// Accepts one peer on `listener`. With [`Security::Pinned`], the peer must authenticate
/// with a pinned key whose name `allow` accepts; the name is returned. Connections that
/// fail (a port scan, a stranger, a peer that stalls) do not end the wait: handshakes run
/// concurrently (up to 64 at once), each within `opts.timeout`, and the first peer that
/// authenticates is taken, until `opts.timeout` has passed with none. With
/// [`Security::InsecurePlaintext`] the first connection is taken and the name is
/// `"unauthenticated"`.
///
/// # Errors
/// [`NetError::Timeout`] if no acceptable peer authenticated in time (or the last
/// handshake failure, such as [`NetError::UnknownPeer`] for a key that is not pinned or a
/// name that is not allowed, or [`NetError::Handshake`] for another protocol or session).
pub fn accept(
    listener: &TcpListener,
    security: &Security,
    opts: &ChannelOptions,
    allow: impl Fn(&str) -> bool + Sync,
) -> Result<(Box<dyn Transport + Send>, String), NetError> {
    let mut got = accept_peers(listener, security, opts, 1, allow, |_| {})?;
    got.pop().ok_or(NetError::Timeout(opts.timeout))
}

/// As [`accept`], for up to `count` distinct peers (a party of a mesh accepting every
/// higher-numbered party, a server accepting its clients): handshakes run concurrently,
/// a name already taken is refused, and the call returns once `count` peers have
/// authenticated, or when `opts.timeout` has passed with the peers that did (the caller
/// decides whether fewer will do). Each connection refused on the way (not pinned, not
/// allowed, a name twice, a failed or stalled handshake) is passed to `on_refused`.
///
/// # Errors
/// As [`accept`], if no acceptable peer authenticated in time.
pub fn accept_peers(
    listener: &TcpListener,
    security: &Security,
    opts: &ChannelOptions,
    count: usize,
    allow: impl Fn(&str) -> bool + Sync,
    on_refused: impl FnMut(&NetError),
) -> Result<Vec<Accepted>, NetError> {
    match security {
        Security::InsecurePlaintext => (0..count)
            .map(|_| {
                let t = TcpTransport::accept(listener, opts.timeout, opts.max_frame)?;
                Ok((
                    Box::new(t) as Box<dyn Transport + Send>,
                    "unauthenticated".to_string(),
                ))
            })
            .collect(),
        Security::Pinned { identity, peers } => Ok(accept_pinned(
            listener, identity, peers, opts, count, &allow, on_refused,
        )?
        .into_iter()
        .map(|t| {
            let name = t.peer().to_string();
            (Box::new(t) as Box<dyn Transport + Send>, name)
        })
        .collect()),
    }
}

/// Runs handshakes on incoming connections concurrently and keeps the first `count` that
/// authenticate distinct allowed peers; connections still in a handshake are then cut.
fn accept_pinned(
    listener: &TcpListener,
    identity: &Identity,
    peers: &Peers,
    opts: &ChannelOptions,
    count: usize,
    allow: &(dyn Fn(&str) -> bool + Sync),
    mut on_refused: impl FnMut(&NetError),
) -> Result<Vec<SecureTransport>, NetError> {
    use std::sync::mpsc;
    use std::time::Instant;
    listener
        .set_nonblocking(true)
        .map_err(|e| NetError::Io(e.to_string()))?;
    let until = Instant::now() + opts.timeout;
    let (tx, rx) = mpsc::channel::<(usize, Result<SecureTransport, NetError>)>();
    std::thread::scope(|scope| {
        let mut in_flight: Vec<std::net::TcpStream> = Vec::new();
        let mut kept: Vec<(usize, SecureTransport)> = Vec::new();
        let mut running = 0usize;
        let mut last_err = None;
        // Cuts every connection except those kept.
        let cut_rest = |streams: &[std::net::TcpStream], kept: &[(usize, SecureTransport)]| {
            for (i, s) in streams.iter().enumerate() {
                if !kept.iter().any(|(k, _)| *k == i) {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            }
        };
        loop {
            while let Ok((i, r)) = rx.try_recv() {
                running -= 1;
                match r {
                    Ok(t) if kept.iter().any(|(_, k)| k.peer() == t.peer()) => {
                        let e =
                            NetError::UnknownPeer(format!("peer {:?} connected twice", t.peer()));
                        on_refused(&e);
                        last_err = Some(e);
                        let _ = in_flight[i].shutdown(std::net::Shutdown::Both);
                    }
                    Ok(t) => kept.push((i, t)),
                    Err(e) => {
                        on_refused(&e);
                        last_err = Some(e);
                    }
                }
            }
            if kept.len() == count {
                cut_rest(&in_flight, &kept);
                return Ok(kept.into_iter().map(|(_, t)| t).collect());
            }
            let now = Instant::now();
            if now >= until {
                // Time is up: the peers that made it, or why none did.
                cut_rest(&in_flight, &kept);
                if kept.is_empty() {
                    return Err(last_err.unwrap_or(NetError::Timeout(opts.timeout)));
                }
                return Ok(kept.into_iter().map(|(_, t)| t).collect());
            }
            match listener.accept() {
                Ok((stream, _)) if running < MAX_PENDING_HANDSHAKES => {
                    stream
                        .set_nonblocking(false)
                        .and_then(|()| stream.set_nodelay(true))
                        .map_err(|e| NetError::Io(e.to_string()))?;
                    let i = in_flight.len();
                    in_flight.push(
                        stream
                            .try_clone()
                            .map_err(|e| NetError::Io(e.to_string()))?,
                    );
                    let tx = tx.clone();
                    // Each handshake gets what is left of the overall wait.
                    let mut o = opts.clone();
                    o.timeout = until - now;
                    running += 1;
                    scope.spawn(move || {
                        let _ = tx.send((i, accept_stream(stream, identity, peers, &o, allow)));
                    });
                }
                // Too many handshakes at once: this one is dropped.
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => {
                    cut_rest(&in_flight, &[]);
                    return Err(NetError::Io(e.to_string()));
                }
            }
        }
    })
}

/// The responder's side of the handshake on an accepted stream.
pub(crate) fn accept_stream(
    stream: std::net::TcpStream,
    identity: &Identity,
    peers: &Peers,
    opts: &ChannelOptions,
    allow: &(dyn Fn(&str) -> bool + Sync),
) -> Result<SecureTransport, NetError> {
    let known = peers.name_of_owned();
    handshake(
        stream,
        false,
        identity,
        &opts.prologue()?,
        opts.timeout,
        opts.max_frame,
        move |fp| match known(fp) {
            Some(name) if allow(&name) => Ok(name),
            Some(name) => Err(NetError::UnknownPeer(format!(
                "peer {name:?} authenticated but is not allowed here"
            ))),
            None => Err(NetError::UnknownPeer(format!(
                "a peer with the unpinned key {fp} was refused"
            ))),
        },
    )
}
