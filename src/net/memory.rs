//! An in-memory channel pair: parties in one process, for tests, benchmarks and `--local`.

use std::sync::mpsc;
use std::time::Duration;

use super::{DEFAULT_MAX_FRAME, DEFAULT_TIMEOUT, NetError, Transport};

/// One end of an in-memory channel pair.
#[derive(Debug)]
pub struct MemoryTransport {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    timeout: Duration,
    max_frame: usize,
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
            max_frame: DEFAULT_MAX_FRAME,
            sent: 0,
            received: 0,
        };
        (mk(a_tx, a_rx), mk(b_tx, b_rx))
    }

    /// Applies the frame limit as the TCP transports do, so tests in memory see the same
    /// refusals as parties on a network.
    fn admit(&mut self, m: Vec<u8>) -> Result<Vec<u8>, NetError> {
        if m.len() > self.max_frame {
            return Err(NetError::FrameTooLarge {
                len: m.len(),
                max: self.max_frame,
            });
        }
        self.received += m.len() as u64 + 4;
        Ok(m)
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
                Ok(m) => return self.admit(m),
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
        self.admit(m)
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
