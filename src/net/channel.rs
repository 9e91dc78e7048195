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

/// Accepts one connection on `listener`. With [`Security::Pinned`], the peer must
/// authenticate with a pinned key whose name `allow` accepts; the name is returned. With
/// [`Security::InsecurePlaintext`] the name is `"unauthenticated"`.
///
/// # Errors
/// [`NetError::Timeout`] if nobody connects in time; [`NetError::UnknownPeer`] if the
/// peer's key is not pinned or its name is not allowed; [`NetError::Handshake`] if the
/// peer runs another protocol or session or the handshake bytes are malformed.
pub fn accept(
    listener: &TcpListener,
    security: &Security,
    opts: &ChannelOptions,
    allow: impl FnOnce(&str) -> bool,
) -> Result<(Box<dyn Transport + Send>, String), NetError> {
    match security {
        Security::InsecurePlaintext => Ok((
            Box::new(TcpTransport::accept(
                listener,
                opts.timeout,
                opts.max_frame,
            )?),
            "unauthenticated".to_string(),
        )),
        Security::Pinned { identity, peers } => {
            let stream = deadline::accept(listener, opts.timeout)?;
            let t = accept_stream(stream, identity, peers, opts, allow)?;
            let name = t.peer().to_string();
            Ok((Box::new(t), name))
        }
    }
}

/// The responder's side of the handshake on an accepted stream.
pub(crate) fn accept_stream(
    stream: std::net::TcpStream,
    identity: &Identity,
    peers: &Peers,
    opts: &ChannelOptions,
    allow: impl FnOnce(&str) -> bool,
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
