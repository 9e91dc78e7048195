//! The Noise channel: `Noise_XX_25519_ChaChaPoly_SHA256` over TCP, with pinned static keys.
//!
//! Handshake messages and records travel as a 2-byte big-endian length and that many
//! bytes (Noise's own limit is 65535 bytes a message). An application frame is one or
//! more records: the first record's plaintext starts with the frame's 4-byte length, the
//! rest carry the remaining bytes. A record that fails authentication ends the channel.

use std::net::TcpStream;
use std::time::Duration;

use super::deadline::{Deadline, read_body, write_while_reading};
use super::identity::{Fingerprint, Identity};
use super::{NetError, Transport};

const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_SHA256";
const MAX_RECORD: usize = 65535;
const TAG: usize = 16;
const MAX_PLAIN: usize = MAX_RECORD - TAG;

/// A mutually authenticated, encrypted channel to one peer whose static key was checked
/// against the pinned fingerprints. Made by [`super::connect`] and [`super::accept`].
pub struct SecureTransport {
    stream: TcpStream,
    noise: snow::TransportState,
    peer: String,
    peer_fingerprint: Fingerprint,
    handshake_hash: [u8; 32],
    max_frame: usize,
    timeout: Duration,
    sent: u64,
    received: u64,
    broken: bool,
    record: Vec<u8>,
    plain: Vec<u8>,
}

impl Drop for SecureTransport {
    fn drop(&mut self) {
        // The last records' plaintext (protocol messages: shares, masked values).
        zeroize::Zeroize::zeroize(&mut self.plain);
    }
}

impl core::fmt::Debug for SecureTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "SecureTransport(peer {:?}, {})",
            self.peer, self.peer_fingerprint
        )
    }
}

fn noise_err(e: snow::Error) -> NetError {
    NetError::Handshake(format!(
        "{e}: the peer runs another protocol or session label, or the bytes were tampered with"
    ))
}

fn send_record(d: &Deadline, stream: &mut TcpStream, record: &[u8]) -> Result<(), NetError> {
    // Records never exceed MAX_RECORD, so the length fits in two bytes.
    let len = u16::try_from(record.len()).map_err(|_| NetError::Io("oversized record".into()))?;
    d.write_all(stream, &len.to_be_bytes())?;
    d.write_all(stream, record)
}

fn recv_record(d: &Deadline, stream: &mut TcpStream) -> Result<Vec<u8>, NetError> {
    let mut len = [0u8; 2];
    d.read_exact(stream, &mut len)?;
    read_body(d, stream, usize::from(u16::from_be_bytes(len)))
}

/// Runs the XX handshake on `stream`. `check` maps the peer's authenticated fingerprint
/// to its name, or refuses it; the initiator checks the responder before revealing its
/// own identity, and the responder confirms with a first record only once it has
/// accepted the initiator.
pub(crate) fn handshake(
    mut stream: TcpStream,
    initiator: bool,
    identity: &Identity,
    prologue: &[u8],
    timeout: Duration,
    max_frame: usize,
    check: impl FnOnce(&Fingerprint) -> Result<String, NetError>,
) -> Result<SecureTransport, NetError> {
    let d = Deadline::after(timeout);
    let params = NOISE_PARAMS.parse().map_err(noise_err)?;
    let builder = snow::Builder::with_resolver(params, Box::new(super::wiping::WipingResolver))
        .local_private_key(identity.secret_bytes())
        .and_then(|b| b.prologue(prologue))
        .map_err(noise_err)?;
    let mut hs = if initiator {
        builder.build_initiator()
    } else {
        builder.build_responder()
    }
    .map_err(noise_err)?;
    let mut buf = vec![0u8; MAX_RECORD];
    let mut payload = vec![0u8; MAX_RECORD];
    let remote = |hs: &snow::HandshakeState| -> Result<Fingerprint, NetError> {
        let key: [u8; 32] = hs
            .get_remote_static()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| NetError::Handshake("the peer sent no static key".into()))?;
        Ok(Fingerprint::of(&key))
    };
    let (peer, fingerprint) = if initiator {
        let n = hs.write_message(&[], &mut buf).map_err(noise_err)?;
        send_record(&d, &mut stream, &buf[..n])?;
        let m = recv_record(&d, &mut stream)?;
        hs.read_message(&m, &mut payload).map_err(noise_err)?;
        let fp = remote(&hs)?;
        // Refuse an unpinned responder before sending our identity.
        let peer = check(&fp)?;
        let n = hs.write_message(&[], &mut buf).map_err(noise_err)?;
        send_record(&d, &mut stream, &buf[..n])?;
        (peer, fp)
    } else {
        let m = recv_record(&d, &mut stream)?;
        hs.read_message(&m, &mut payload).map_err(noise_err)?;
        let n = hs.write_message(&[], &mut buf).map_err(noise_err)?;
        send_record(&d, &mut stream, &buf[..n])?;
        let m = recv_record(&d, &mut stream)?;
        hs.read_message(&m, &mut payload).map_err(noise_err)?;
        let fp = remote(&hs)?;
        (check(&fp)?, fp)
    };
    let handshake_hash: [u8; 32] = hs
        .get_handshake_hash()
        .try_into()
        .map_err(|_| NetError::Handshake("unexpected handshake hash length".into()))?;
    let noise = hs.into_transport_mode().map_err(noise_err)?;
    let mut t = SecureTransport {
        stream,
        noise,
        peer,
        peer_fingerprint: fingerprint,
        handshake_hash,
        max_frame,
        timeout,
        sent: 0,
        received: 0,
        broken: false,
        record: buf,
        plain: payload,
    };
    // The responder's confirmation: the initiator learns here, not at its first protocol
    // message, whether the responder accepted its identity.
    const CONFIRM: &[u8] = b"shroud channel ready";
    if initiator {
        let m = t.recv().map_err(|e| match e {
            NetError::Closed => NetError::UnknownPeer(
                "the peer closed the connection after the handshake: it does not pin this identity"
                    .into(),
            ),
            e => e,
        })?;
        if m != CONFIRM {
            return Err(NetError::Handshake(
                "the peer did not confirm the channel".into(),
            ));
        }
    } else {
        t.send(CONFIRM)?;
    }
    Ok(t)
}

/// Reassembles one frame from the plaintexts of consecutive records: the first starts
/// with the frame's 4-byte length, the others continue it; no record may be empty after
/// the first or run past the announced length.
pub(crate) struct Assembler {
    max_frame: usize,
    total: Option<usize>,
    buf: Vec<u8>,
}

impl Assembler {
    pub(crate) fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            total: None,
            buf: Vec::new(),
        }
    }

    /// Takes one record's plaintext; returns the frame once it is complete.
    pub(crate) fn push(&mut self, plain: &[u8]) -> Result<Option<Vec<u8>>, NetError> {
        let total = match self.total {
            Some(t) => {
                if plain.is_empty() || self.buf.len() + plain.len() > t {
                    return Err(NetError::BadRecord);
                }
                self.buf.extend_from_slice(plain);
                t
            }
            None => {
                let Some((head, body)) = plain.split_first_chunk::<4>() else {
                    return Err(NetError::BadRecord);
                };
                let t = u32::from_be_bytes(*head) as usize;
                if t > self.max_frame {
                    return Err(NetError::FrameTooLarge {
                        len: t,
                        max: self.max_frame,
                    });
                }
                if body.len() > t {
                    return Err(NetError::BadRecord);
                }
                // Grow with what arrives, not with what the peer announces.
                self.buf = Vec::with_capacity(t.min(1 << 20));
                self.buf.extend_from_slice(body);
                self.total = Some(t);
                t
            }
        };
        Ok((self.buf.len() == total).then(|| std::mem::take(&mut self.buf)))
    }
}

impl SecureTransport {
    /// The name the peer's key is pinned under (a party index or a role).
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The peer's authenticated fingerprint.
    pub fn peer_fingerprint(&self) -> Fingerprint {
        self.peer_fingerprint
    }

    /// The Noise handshake hash: unique to this connection and known to both ends only,
    /// so protocols can bind their transcripts to it.
    pub fn handshake_hash(&self) -> [u8; 32] {
        self.handshake_hash
    }

    fn seal(&mut self, msg: &[u8]) -> Result<Vec<u8>, NetError> {
        if self.broken {
            return Err(NetError::Broken);
        }
        let total = u32::try_from(msg.len()).map_err(|_| NetError::FrameTooLarge {
            len: msg.len(),
            max: u32::MAX as usize,
        })?;
        let records = (msg.len() + 4).div_ceil(MAX_PLAIN).max(1);
        let mut out = Vec::with_capacity(msg.len() + 4 + records * (TAG + 2));
        let first = msg.len().min(MAX_PLAIN - 4);
        let mut head = Vec::with_capacity(first + 4);
        head.extend_from_slice(&total.to_be_bytes());
        head.extend_from_slice(&msg[..first]);
        let chunks = std::iter::once(head.as_slice()).chain(msg[first..].chunks(MAX_PLAIN));
        for chunk in chunks {
            let n = self
                .noise
                .write_message(chunk, &mut self.record)
                .map_err(|e| NetError::Io(format!("encryption failed: {e}")))?;
            // n <= MAX_RECORD (checked by snow), so it fits in two bytes.
            out.extend_from_slice(&(n as u16).to_be_bytes());
            out.extend_from_slice(&self.record[..n]);
        }
        Ok(out)
    }

    /// Reads and decrypts one record into `self.plain`, returning its length.
    fn open(&mut self, d: &Deadline) -> Result<usize, NetError> {
        let m = recv_record(d, &mut self.stream)?;
        self.received += m.len() as u64 + 2;
        match self.noise.read_message(&m, &mut self.plain) {
            Ok(n) => Ok(n),
            Err(_) => {
                self.broken = true;
                Err(NetError::BadRecord)
            }
        }
    }
}

impl Transport for SecureTransport {
    fn send(&mut self, msg: &[u8]) -> Result<(), NetError> {
        let bytes = self.seal(msg)?;
        Deadline::after(self.timeout).write_all(&mut self.stream, &bytes)?;
        self.sent += bytes.len() as u64;
        Ok(())
    }

    fn exchange(&mut self, msg: &[u8]) -> Result<Vec<u8>, NetError> {
        let bytes = self.seal(msg)?;
        let writer = self
            .stream
            .try_clone()
            .map_err(|e| NetError::Io(e.to_string()))?;
        let r = write_while_reading(writer, &bytes, self.timeout, || self.recv())?;
        self.sent += bytes.len() as u64;
        Ok(r)
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        if self.broken {
            return Err(NetError::Broken);
        }
        let d = Deadline::after(self.timeout);
        let mut frame = Assembler::new(self.max_frame);
        loop {
            let n = match self.open(&d) {
                Ok(n) => n,
                Err(e) => {
                    // Part of a record may have been read: out of step for good.
                    self.broken = true;
                    return Err(e);
                }
            };
            match frame.push(&self.plain[..n]) {
                Ok(Some(done)) => return Ok(done),
                Ok(None) => {}
                Err(e) => {
                    // A record that breaks the framing, or a frame over the limit whose
                    // rest is still in the stream: nothing after it can be read as a
                    // frame, so the channel is done.
                    self.broken = true;
                    return Err(e);
                }
            }
        }
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
