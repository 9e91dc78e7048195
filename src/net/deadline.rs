//! Reads and writes bounded by one deadline for a whole message, not by a timeout per
//! system call: a peer that moves one byte per interval runs out of time all the same.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::NetError;

/// Maps an I/O error to a [`NetError`].
pub(crate) fn io_err(e: &std::io::Error, timeout: Duration) -> NetError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => NetError::Timeout(timeout),
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => NetError::Closed,
        _ => NetError::Io(e.to_string()),
    }
}

/// A point in time by which a message must be complete.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// Time left, or a timeout error once there is none.
    fn remaining(&self) -> Result<Duration, NetError> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(NetError::Timeout(self.timeout))
        } else {
            Ok(left)
        }
    }

    /// Fills `buf` from `stream`, or fails when the deadline passes.
    pub(crate) fn read_exact(
        &self,
        stream: &mut TcpStream,
        buf: &mut [u8],
    ) -> Result<(), NetError> {
        let mut done = 0;
        while done < buf.len() {
            stream
                .set_read_timeout(Some(self.remaining()?))
                .map_err(|e| NetError::Io(e.to_string()))?;
            match stream.read(&mut buf[done..]) {
                Ok(0) => return Err(NetError::Closed),
                Ok(k) => done += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(&e, self.timeout)),
            }
        }
        Ok(())
    }

    /// Writes all of `buf` to `stream`, or fails when the deadline passes.
    pub(crate) fn write_all(&self, stream: &mut TcpStream, buf: &[u8]) -> Result<(), NetError> {
        let mut done = 0;
        while done < buf.len() {
            stream
                .set_write_timeout(Some(self.remaining()?))
                .map_err(|e| NetError::Io(e.to_string()))?;
            match stream.write(&buf[done..]) {
                Ok(0) => return Err(NetError::Closed),
                Ok(k) => done += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(&e, self.timeout)),
            }
        }
        Ok(())
    }
}

/// Reads a frame body of `len` bytes in chunks, so a peer that announces a large frame
/// and stops does not make the reader allocate it all up front.
pub(crate) fn read_body(
    d: &Deadline,
    stream: &mut TcpStream,
    len: usize,
) -> Result<Vec<u8>, NetError> {
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    let mut chunk = [0u8; 1 << 14];
    while buf.len() < len {
        let want = (len - buf.len()).min(chunk.len());
        d.read_exact(stream, &mut chunk[..want])?;
        buf.extend_from_slice(&chunk[..want]);
    }
    Ok(buf)
}

/// Connects to `addr`, retrying until `timeout` passes (the peer may still be starting).
pub(crate) fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, NetError> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| NetError::Io(format!("cannot resolve {addr}: {e}")))?
        .collect();
    let start = Instant::now();
    loop {
        for a in &addrs {
            if let Ok(s) = TcpStream::connect_timeout(a, Duration::from_secs(5).min(timeout)) {
                s.set_nodelay(true)
                    .map_err(|e| NetError::Io(e.to_string()))?;
                return Ok(s);
            }
        }
        if start.elapsed() >= timeout {
            return Err(NetError::Timeout(timeout));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Accepts one connection on `listener`, waiting at most `timeout`.
pub(crate) fn accept(
    listener: &std::net::TcpListener,
    timeout: Duration,
) -> Result<TcpStream, NetError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| NetError::Io(e.to_string()))?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)
                    .and_then(|()| s.set_nodelay(true))
                    .map_err(|e| NetError::Io(e.to_string()))?;
                return Ok(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if start.elapsed() >= timeout {
                    return Err(NetError::Timeout(timeout));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(NetError::Io(e.to_string())),
        }
    }
}

/// Runs `write` on a second thread while `read` runs on this one, so two parties that
/// both send a large message before reading cannot deadlock on full socket buffers.
/// `writer` is a clone of the stream being read.
pub(crate) fn write_while_reading<T>(
    mut writer: TcpStream,
    bytes: &[u8],
    timeout: Duration,
    read: impl FnOnce() -> Result<T, NetError>,
) -> Result<T, NetError> {
    std::thread::scope(|s| {
        let w = s.spawn(move || Deadline::after(timeout).write_all(&mut writer, bytes));
        let r = read();
        let sent = w
            .join()
            .unwrap_or_else(|_| Err(NetError::Io("writer thread panicked".into())));
        sent?;
        r
    })
}
