//! The channel layer under every networked protocol: mutually authenticated, encrypted
//! connections between parties whose long-term keys are pinned, plus an in-memory pair for
//! tests and benchmarks.
//!
//! Protocol state machines (see [`crate::psi`] and [`crate::mpc`]) never touch a socket; a
//! driver moves their messages through a [`Transport`].
//!
//! - [`SecureTransport`] (the default over a network) runs the Noise protocol
//!   `Noise_XX_25519_ChaChaPoly_SHA256`. Each party has a long-term X25519 [`Identity`]
//!   and a [`Peers`] file that pins the [`Fingerprint`] of every peer it will talk to, by
//!   party index or role. A peer whose key is not pinned is refused during the handshake,
//!   before any protocol byte is sent; the party index or role of a peer is the name its
//!   authenticated key is pinned under, never what it announces. The handshake's prologue
//!   binds the protocol and the session label, so a connection made for one protocol or
//!   session cannot be used for another.
//! - [`TcpTransport`] is plaintext framing, kept for loopback tests behind the CLI's
//!   `--insecure-plaintext`.
//! - [`MemoryTransport`] connects parties in one process.
//!
//! Every receive has **one deadline for the whole message** (the length prefix included),
//! so a peer that trickles one byte per interval cannot hold a party past its timeout, and
//! a frame longer than the receiver's limit ([`Transport::set_max_frame`]) is refused
//! before any of it is buffered.
//!
//! ```
//! use shroud::net::{Identity, Peers, Security, accept, connect};
//!
//! let mut rng = shroud::rng::seeded(7);
//! let server = Identity::generate(&mut rng);
//! let client = Identity::generate(&mut rng);
//! let mut pins = Peers::default();
//! pins.insert("server", server.fingerprint())?;
//! pins.insert("client", client.fingerprint())?;
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?.to_string();
//! let server_side = Security::pinned(server, pins.clone());
//! let handle = std::thread::spawn(move || -> Result<Vec<u8>, shroud::net::NetError> {
//!     let opts = shroud::net::ChannelOptions::new("example", b"session 1");
//!     let (mut t, who) = accept(&listener, &server_side, &opts, |name| name == "client")?;
//!     assert_eq!(who, "client");
//!     t.recv()
//! });
//! let opts = shroud::net::ChannelOptions::new("example", b"session 1");
//! let mut t = connect(&addr, &Security::pinned(client, pins), &opts, "server")?;
//! t.send(b"hello")?;
//! assert_eq!(handle.join().unwrap()?, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use thiserror::Error;

mod channel;
mod deadline;
#[doc(hidden)]
pub mod fuzzing;
mod identity;
mod memory;
mod secure;
mod tcp;
mod wiping;

pub use channel::{ChannelOptions, Security, accept, accept_peers, connect};
pub use identity::{Fingerprint, Identity, Peers};
pub use memory::MemoryTransport;
pub use secure::SecureTransport;
pub use tcp::TcpTransport;

/// Default limit on one inbound frame (64 MiB). Protocols lower it to what the session
/// needs once they know the announced sizes ([`Transport::set_max_frame`]).
pub const DEFAULT_MAX_FRAME: usize = 64 << 20;
/// Default time allowed for one whole message (and for connecting).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Transport failures.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetError {
    /// The peer closed the connection (or the in-memory peer was dropped).
    #[error("connection closed by peer")]
    Closed,
    /// The peer did not complete a message within the timeout.
    #[error("timed out after {0:?} waiting for the peer")]
    Timeout(Duration),
    /// The peer announced a frame longer than this side accepts.
    #[error("peer sent a frame of {len} bytes, over the limit of {max}")]
    FrameTooLarge {
        /// Announced length.
        len: usize,
        /// This side's limit.
        max: usize,
    },
    /// The connection handshake failed (wrong protocol or session, bad handshake bytes).
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The peer authenticated with a key that is not pinned for the expected party.
    #[error("peer refused: {0}")]
    UnknownPeer(String),
    /// A record failed authentication: the bytes were tampered with or corrupted in
    /// transit. The connection cannot be used any more.
    #[error("a record from the peer failed authentication (tampered or corrupted)")]
    BadRecord,
    /// An earlier receive failed part-way (a refused, cut, late or tampered frame), so the
    /// connection is no longer at a frame boundary and is not used again.
    #[error("the connection was given up after an earlier error")]
    Broken,
    /// An identity or peers file is missing, unreadable or malformed.
    #[error("{0}")]
    Config(String),
    /// Any other I/O error.
    #[error("i/o error: {0}")]
    Io(String),
}

/// A bidirectional, message-oriented channel to one peer.
pub trait Transport {
    /// Sends one message.
    ///
    /// # Errors
    /// [`NetError`] if the peer is gone or the write does not finish within the timeout.
    fn send(&mut self, msg: &[u8]) -> Result<(), NetError>;
    /// Receives one message.
    ///
    /// # Errors
    /// [`NetError`] if the peer is gone, the message does not arrive whole within the
    /// timeout, it fails authentication, or the frame is over the limit.
    fn recv(&mut self) -> Result<Vec<u8>, NetError>;
    /// Sends one message and receives one, without deadlocking when both sides send large
    /// messages at once (the TCP transports write from a second thread).
    ///
    /// # Errors
    /// As [`Transport::send`] and [`Transport::recv`].
    fn exchange(&mut self, msg: &[u8]) -> Result<Vec<u8>, NetError> {
        self.send(msg)?;
        self.recv()
    }
    /// As [`Transport::exchange`], taking ownership of the message (the in-memory
    /// transport then moves it instead of copying it).
    ///
    /// # Errors
    /// As [`Transport::exchange`].
    fn exchange_owned(&mut self, msg: Vec<u8>) -> Result<Vec<u8>, NetError> {
        self.exchange(&msg)
    }
    /// Sets the longest frame the next receives accept. Protocols call this with what the
    /// session needs (computed from sizes both sides agreed on), so a hostile peer cannot
    /// make a party buffer more.
    fn set_max_frame(&mut self, max: usize);
    /// Total bytes sent so far (payload plus framing).
    fn bytes_sent(&self) -> u64;
    /// Total bytes received so far (payload plus framing).
    fn bytes_received(&self) -> u64;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&mut self, msg: &[u8]) -> Result<(), NetError> {
        (**self).send(msg)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        (**self).recv()
    }
    fn exchange(&mut self, msg: &[u8]) -> Result<Vec<u8>, NetError> {
        (**self).exchange(msg)
    }
    fn exchange_owned(&mut self, msg: Vec<u8>) -> Result<Vec<u8>, NetError> {
        (**self).exchange_owned(msg)
    }
    fn set_max_frame(&mut self, max: usize) {
        (**self).set_max_frame(max);
    }
    fn bytes_sent(&self) -> u64 {
        (**self).bytes_sent()
    }
    fn bytes_received(&self) -> u64 {
        (**self).bytes_received()
    }
}
