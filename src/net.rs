//! Transports for sans-IO protocols: length-prefixed frames over TCP, and an in-memory pair
//! for tests and benchmarks.
//!
//! Protocol state machines (see [`crate::psi`]) never touch a socket; a driver moves their
//! messages through a [`Transport`]. A frame is a 4-byte big-endian length followed by that
//! many bytes. Reads and writes time out, and a frame longer than the receiver's limit is
//! refused before any of it is buffered, so a hostile peer can neither stall a party forever
//! nor make it allocate without bound.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use thiserror::Error;

/// Default limit on one inbound frame (1 GiB).
pub const DEFAULT_MAX_FRAME: usize = 1 << 30;
/// Default read/write timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Transport failures.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetError {
    /// The peer closed the connection (or the in-memory peer was dropped).
    #[error("connection closed by peer")]
    Closed,
    /// The peer sent nothing for longer than the timeout.
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
    /// The connection handshake failed (wrong party index, wrong protocol).
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// Any other I/O error.
    #[error("i/o error: {0}")]
    Io(String),
}

/// A bidirectional, message-oriented channel to one peer.
pub trait Transport {
    /// Sends one message.
    ///
    /// # Errors
    /// [`NetError`] if the peer is gone or the write times out.
    fn send(&mut self, msg: &[u8]) -> Result<(), NetError>;
    /// Receives one message.
    ///
    /// # Errors
    /// [`NetError`] if the peer is gone, the read times out or the frame is too large.
    fn recv(&mut self) -> Result<Vec<u8>, NetError>;
    /// Sends one message and receives one, without deadlocking when both sides send large
    /// messages at once (the TCP transport writes from a second thread).
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
    /// Total bytes sent so far (payload plus framing).
    fn bytes_sent(&self) -> u64;
    /// Total bytes received so far (payload plus framing).
    fn bytes_received(&self) -> u64;
}

/// One end of an in-memory channel pair.
#[derive(Debug)]
pub struct MemoryTransport {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    timeout: Duration,
    sent: u64,
    received: u64,
}

impl MemoryTransport {
    /// Two connected ends.
    pub fn pair() -> (Self, Self) {
        let (a_tx, b_rx) = mpsc::channel();
        let (b_tx, a_rx) = mpsc::channel();
        let mk = |tx, rx| MemoryTransport {
            tx,
            rx,
            timeout: DEFAULT_TIMEOUT,
            sent: 0,
            received: 0,
        };
        (mk(a_tx, a_rx), mk(b_tx, b_rx))
    }

    /// Sets how long `recv` waits.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Transport for MemoryTransport {
    fn send(&mut self, msg: &[u8]) -> Result<(), NetError> {
        self.sent += msg.len() as u64 + 4;
        self.tx.send(msg.to_vec()).map_err(|_| NetError::Closed)
    }

    fn exchange_owned(&mut self, msg: Vec<u8>) -> Result<Vec<u8>, NetError> {
        self.sent += msg.len() as u64 + 4;
        self.tx.send(msg).map_err(|_| NetError::Closed)?;
        self.recv()
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        // Spin briefly before sleeping: parties in one process answer each other within
        // microseconds, and a sleeping thread can take a millisecond to wake up.
        let spin_until = std::time::Instant::now() + Duration::from_micros(200);
        loop {
            match self.rx.try_recv() {
                Ok(m) => {
                    self.received += m.len() as u64 + 4;
                    return Ok(m);
                }
                Err(mpsc::TryRecvError::Disconnected) => return Err(NetError::Closed),
                Err(mpsc::TryRecvError::Empty) if std::time::Instant::now() < spin_until => {
                    std::hint::spin_loop();
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let m = self.rx.recv_timeout(self.timeout).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => NetError::Timeout(self.timeout),
            mpsc::RecvTimeoutError::Disconnected => NetError::Closed,
        })?;
        self.received += m.len() as u64 + 4;
        Ok(m)
    }

    fn bytes_sent(&self) -> u64 {
        self.sent
    }

    fn bytes_received(&self) -> u64 {
        self.received
    }
}

/// Length-prefixed frames over a TCP stream, with timeouts and a frame-size limit.
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
    max_frame: usize,
    timeout: Duration,
    sent: u64,
    received: u64,
}

fn io_err(e: std::io::Error, timeout: Duration) -> NetError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => NetError::Timeout(timeout),
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe => NetError::Closed,
        _ => NetError::Io(e.to_string()),
    }
}

impl TcpTransport {
    /// Wraps a connected stream.
    ///
    /// # Errors
    /// [`NetError::Io`] if the socket options cannot be set.
    pub fn new(stream: TcpStream, timeout: Duration, max_frame: usize) -> Result<Self, NetError> {
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| NetError::Io(e.to_string()))?;
        Ok(Self {
            stream,
            max_frame,
            timeout,
            sent: 0,
            received: 0,
        })
    }

    /// The underlying stream.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// Connects to `addr`, retrying until `timeout` passes (the peer may still be starting).
    ///
    /// # Errors
    /// [`NetError::Timeout`] if no connection succeeds in time; [`NetError::Io`] if the
    /// address does not resolve.
    pub fn connect(addr: &str, timeout: Duration, max_frame: usize) -> Result<Self, NetError> {
        let addrs: Vec<_> = addr
            .to_socket_addrs()
            .map_err(|e| NetError::Io(format!("cannot resolve {addr}: {e}")))?
            .collect();
        let start = std::time::Instant::now();
        loop {
            for a in &addrs {
                if let Ok(s) = TcpStream::connect_timeout(a, Duration::from_secs(5).min(timeout)) {
                    return Self::new(s, timeout, max_frame);
                }
            }
            if start.elapsed() >= timeout {
                return Err(NetError::Timeout(timeout));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Accepts one connection on `listener`, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`NetError::Timeout`] if nobody connects in time.
    pub fn accept(
        listener: &TcpListener,
        timeout: Duration,
        max_frame: usize,
    ) -> Result<Self, NetError> {
        listener
            .set_nonblocking(true)
            .map_err(|e| NetError::Io(e.to_string()))?;
        let start = std::time::Instant::now();
        loop {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false)
                        .map_err(|e| NetError::Io(e.to_string()))?;
                    return Self::new(s, timeout, max_frame);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if start.elapsed() >= timeout {
                        return Err(NetError::Timeout(timeout));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(NetError::Io(e.to_string())),
            }
        }
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, msg: &[u8]) -> Result<(), NetError> {
        let len = u32::try_from(msg.len()).map_err(|_| NetError::FrameTooLarge {
            len: msg.len(),
            max: u32::MAX as usize,
        })?;
        self.stream
            .write_all(&len.to_be_bytes())
            .and_then(|()| self.stream.write_all(msg))
            .and_then(|()| self.stream.flush())
            .map_err(|e| io_err(e, self.timeout))?;
        self.sent += msg.len() as u64 + 4;
        Ok(())
    }

    fn exchange(&mut self, msg: &[u8]) -> Result<Vec<u8>, NetError> {
        let len = u32::try_from(msg.len()).map_err(|_| NetError::FrameTooLarge {
            len: msg.len(),
            max: u32::MAX as usize,
        })?;
        let mut writer = self
            .stream
            .try_clone()
            .map_err(|e| NetError::Io(e.to_string()))?;
        let timeout = self.timeout;
        let (sent, received) = std::thread::scope(|s| {
            let w = s.spawn(move || {
                writer
                    .write_all(&len.to_be_bytes())
                    .and_then(|()| writer.write_all(msg))
                    .and_then(|()| writer.flush())
                    .map_err(|e| io_err(e, timeout))
            });
            let r = self.recv();
            let sent = w
                .join()
                .unwrap_or_else(|_| Err(NetError::Io("writer thread panicked".into())));
            (sent, r)
        });
        sent?;
        self.sent += msg.len() as u64 + 4;
        received
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        // One deadline for the whole frame, so a peer that trickles bytes cannot hold us
        // past the timeout either.
        let start = std::time::Instant::now();
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .map_err(|e| io_err(e, self.timeout))?;
        let len = u32::from_be_bytes(len) as usize;
        if len > self.max_frame {
            return Err(NetError::FrameTooLarge {
                len,
                max: self.max_frame,
            });
        }
        // Read in chunks so a peer that announces a large frame and stops does not make us
        // allocate it all up front.
        let mut buf = Vec::with_capacity(len.min(1 << 20));
        let mut chunk = vec![0u8; 1 << 16];
        while buf.len() < len {
            let want = (len - buf.len()).min(chunk.len());
            let got = self
                .stream
                .read(&mut chunk[..want])
                .map_err(|e| io_err(e, self.timeout))?;
            if got == 0 {
                return Err(NetError::Closed);
            }
            if start.elapsed() > self.timeout {
                return Err(NetError::Timeout(self.timeout));
            }
            buf.extend_from_slice(&chunk[..got]);
        }
        self.received += len as u64 + 4;
        Ok(buf)
    }

    fn bytes_sent(&self) -> u64 {
        self.sent
    }

    fn bytes_received(&self) -> u64 {
        self.received
    }
}
