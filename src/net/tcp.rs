//! Plaintext length-prefixed frames over TCP. Anyone on the path reads and rewrites every
//! byte, and a peer's claims are taken on its word: use it only for loopback tests
//! (`--insecure-plaintext`); parties on a network use [`super::SecureTransport`].

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use super::deadline::{self, Deadline, read_body, write_while_reading};
use super::{NetError, Transport};

/// Length-prefixed frames (4-byte big-endian length, then the bytes) over a TCP stream,
/// with one deadline per message and a frame-size limit. **Not encrypted, not
/// authenticated.**
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
    /// Set once a frame was refused or cut: the stream is no longer at a frame boundary.
    broken: bool,
    max_frame: usize,
    timeout: Duration,
    sent: u64,
    received: u64,
}

fn header(msg: &[u8]) -> Result<[u8; 4], NetError> {
    u32::try_from(msg.len())
        .map(u32::to_be_bytes)
        .map_err(|_| NetError::FrameTooLarge {
            len: msg.len(),
            max: u32::MAX as usize,
        })
}

impl TcpTransport {
    /// Wraps a connected stream.
    ///
    /// # Errors
    /// [`NetError::Io`] if the socket options cannot be set.
    pub fn new(stream: TcpStream, timeout: Duration, max_frame: usize) -> Result<Self, NetError> {
        stream
            .set_nodelay(true)
            .map_err(|e| NetError::Io(e.to_string()))?;
        Ok(Self {
            stream,
            broken: false,
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
        Self::new(deadline::connect(addr, timeout)?, timeout, max_frame)
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
        Self::new(deadline::accept(listener, timeout)?, timeout, max_frame)
    }

    fn framed(msg: &[u8]) -> Result<Vec<u8>, NetError> {
        let mut out = Vec::with_capacity(msg.len() + 4);
        out.extend_from_slice(&header(msg)?);
        out.extend_from_slice(msg);
        Ok(out)
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, msg: &[u8]) -> Result<(), NetError> {
        let d = Deadline::after(self.timeout);
        d.write_all(&mut self.stream, &header(msg)?)?;
        d.write_all(&mut self.stream, msg)?;
        self.sent += msg.len() as u64 + 4;
        Ok(())
    }

    fn exchange(&mut self, msg: &[u8]) -> Result<Vec<u8>, NetError> {
        let bytes = Self::framed(msg)?;
        let stream = self
            .stream
            .try_clone()
            .map_err(|e| NetError::Io(e.to_string()))?;
        let r = write_while_reading(stream, &bytes, self.timeout, || self.recv())?;
        self.sent += bytes.len() as u64;
        Ok(r)
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        if self.broken {
            return Err(NetError::Broken);
        }
        // One deadline for the length prefix and the body together.
        let d = Deadline::after(self.timeout);
        let mut len = [0u8; 4];
        self.broken = true;
        d.read_exact(&mut self.stream, &mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > self.max_frame {
            return Err(NetError::FrameTooLarge {
                len,
                max: self.max_frame,
            });
        }
        let buf = read_body(&d, &mut self.stream, len)?;
        self.broken = false;
        self.received += len as u64 + 4;
        Ok(buf)
    }

    fn set_max_frame(&mut self, max: usize) {
        self.max_frame = max;
    }

    fn bytes_sent(&self) -> u64 {
        self.sent
    }

    fn bytes_received(&self) -> u64 {
        self.received
    }
}
