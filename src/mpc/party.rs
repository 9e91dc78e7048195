//! A party of the secret-sharing engine: the driver that moves the sans-IO rounds of
//! [`super::ops`] over a [`Mesh`] of transports to every other party.

use std::net::TcpListener;

use rand_core::CryptoRng;

use super::error::MpcError;
use super::fixed::FractionalBits;
use super::ops;
use super::share::{Shared, share};
use super::triples::TripleSource;
use crate::net::{
    self, ChannelOptions, MemoryTransport, NetError, Security, TcpTransport, Transport,
};
use crate::util::printable;

/// Connections from one party to every other.
pub struct Mesh {
    me: usize,
    links: Vec<Option<Box<dyn Transport + Send>>>,
}

impl core::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Mesh(party {} of {})", self.me, self.links.len())
    }
}

const HANDSHAKE: &[u8; 8] = b"SHRDMPC1";

/// Elements per opening in elementwise operations.
pub const CHUNK: usize = 1 << 15;

impl Mesh {
    /// `n` parties connected in memory (for tests, benchmarks and `--local`).
    pub fn memory(n: usize) -> Vec<Mesh> {
        let mut links: Vec<Vec<Option<Box<dyn Transport + Send>>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        #[allow(clippy::needless_range_loop)] // i and j index two rows at once
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = MemoryTransport::pair();
                links[i][j] = Some(Box::new(a));
                links[j][i] = Some(Box::new(b));
            }
        }
        links
            .into_iter()
            .enumerate()
            .map(|(me, links)| Mesh { me, links })
            .collect()
    }

    /// Party `me` of `addrs.len()` joins over the network: it listens on `addrs[me]`,
    /// connects to every lower-numbered party and accepts the higher-numbered ones.
    ///
    /// With [`Security::Pinned`] (the default of the CLI) every link is a Noise channel and
    /// a peer's index is the name its authenticated key is pinned under in the peers file
    /// (`0`, `1`, ...): a peer with an unpinned key, with the key of another index, or
    /// connecting twice is refused before any share is sent. `opts` names the protocol and
    /// the session, which every party must agree on. If this party's own fingerprint is
    /// pinned, it must be pinned under `me`.
    ///
    /// With [`Security::InsecurePlaintext`] each connection starts with a plaintext hello
    /// naming both indices and n, taken on the peer's word (loopback tests only).
    ///
    /// # Errors
    /// [`MpcError::Net`] on a timeout, a refused or failed handshake, or an address that
    /// cannot be bound or resolved.
    pub fn tcp(
        me: usize,
        addrs: &[String],
        security: &Security,
        opts: &ChannelOptions,
    ) -> Result<Mesh, MpcError> {
        let n = addrs.len();
        if n < 2 || me >= n {
            return Err(MpcError::InvalidInput(format!(
                "party {me} of {n}: need at least 2 parties and an index below n"
            )));
        }
        if let Security::Pinned { identity, peers } = security {
            match peers.name_of(&identity.fingerprint()) {
                Some(name) if name != me.to_string() => {
                    return Err(NetError::Config(format!(
                        "this identity is pinned as party {name:?} in the peers file, but runs as party {me}"
                    ))
                    .into());
                }
                _ => {}
            }
        }
        let listener = TcpListener::bind(&addrs[me])
            .map_err(|e| NetError::Io(format!("cannot listen on {}: {e}", addrs[me])))?;
        let mut links: Vec<Option<Box<dyn Transport + Send>>> = (0..n).map(|_| None).collect();
        for (j, addr) in addrs.iter().enumerate().take(me) {
            let t = match security {
                Security::Pinned { .. } => net::connect(addr, security, opts, &j.to_string())?,
                Security::InsecurePlaintext => plaintext_hello(addr, me, j, n, opts)?,
            };
            links[j] = Some(t);
        }
        match security {
            Security::Pinned { .. } => {
                // Only the canonical form ("1", not "01" or "+1") names index 1; the
                // handshakes run concurrently and a name taken twice is refused.
                let allowed = |name: &str| {
                    name.parse::<usize>()
                        .is_ok_and(|j| j.to_string() == name && j > me && j < n)
                };
                let mut refused = None;
                let got = net::accept_peers(&listener, security, opts, n - me - 1, allowed, |e| {
                    refused = Some(e.to_string())
                })?;
                for (t, name) in got {
                    let j = name
                        .parse::<usize>()
                        .map_err(|_| NetError::UnknownPeer(name))?;
                    links[j] = Some(t);
                }
                let missing: Vec<String> = (me + 1..n)
                    .filter(|&j| links[j].is_none())
                    .map(|j| j.to_string())
                    .collect();
                if !missing.is_empty() {
                    let why = refused.map_or(String::new(), |r| format!(" (last refusal: {r})"));
                    return Err(NetError::Handshake(format!(
                        "parties {} did not connect within {:?}{why}",
                        missing.join(", "),
                        opts.timeout
                    ))
                    .into());
                }
            }
            Security::InsecurePlaintext => {
                for _ in me + 1..n {
                    let (j, t) = plaintext_welcome(&listener, me, n, &links, opts)?;
                    links[j] = Some(t);
                }
            }
        }
        Ok(Mesh { me, links })
    }

    /// This party's index.
    pub fn me(&self) -> usize {
        self.me
    }

    /// Number of parties.
    pub fn parties(&self) -> usize {
        self.links.len()
    }

    /// Sends `msg` to every other party and returns what each sent (own slot: empty).
    /// Frames from peers may be as long as the channel's limit (64 MiB by default).
    ///
    /// # Errors
    /// The first transport failure.
    pub fn exchange_all(&mut self, msg: Vec<u8>) -> Result<Vec<Vec<u8>>, MpcError> {
        self.exchange_all_limited(msg, crate::net::DEFAULT_MAX_FRAME)
    }

    /// As [`Mesh::exchange_all`], refusing any peer frame over `max_in` bytes before
    /// reading it: what a round that knows its sizes uses (an opening expects exactly the
    /// length it sends).
    ///
    /// # Errors
    /// The first transport failure; [`NetError::FrameTooLarge`] for a frame over `max_in`.
    pub fn exchange_all_limited(
        &mut self,
        msg: Vec<u8>,
        max_in: usize,
    ) -> Result<Vec<Vec<u8>>, MpcError> {
        for t in self.links.iter_mut().flatten() {
            t.set_max_frame(max_in);
        }
        let me = self.me;
        let peers = self.links.iter().filter(|l| l.is_some()).count();
        let mut copies: Vec<Option<Vec<u8>>> = (0..peers).map(|_| None).collect();
        // Each link gets its own copy; the last one takes the original.
        let mut original = Some(msg);
        for (i, c) in copies.iter_mut().enumerate() {
            *c = if i + 1 == peers {
                original.take()
            } else {
                original.clone()
            };
        }
        let own = original.unwrap_or_default();
        let mut copies = copies.into_iter();
        let results: Vec<Result<Vec<u8>, NetError>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .links
                .iter_mut()
                .map(|l| {
                    l.as_mut().map(|t| {
                        let m = copies.next().flatten().unwrap_or_default();
                        if peers == 1 {
                            // One peer: no thread needed.
                            Err(t.exchange_owned(m))
                        } else {
                            Ok(s.spawn(move || t.exchange_owned(m)))
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h {
                    Some(Ok(h)) => h
                        .join()
                        .unwrap_or_else(|_| Err(NetError::Io("exchange thread panicked".into()))),
                    Some(Err(r)) => r,
                    None => Ok(Vec::new()),
                })
                .collect()
        });
        let mut out: Vec<Vec<u8>> = results.into_iter().collect::<Result<_, _>>()?;
        out[me] = own;
        Ok(out)
    }

    fn link(&mut self, j: usize) -> Result<&mut (dyn Transport + Send), MpcError> {
        match self.links.get_mut(j) {
            Some(Some(t)) => Ok(t.as_mut()),
            _ => Err(MpcError::InvalidInput(format!("no link to party {j}"))),
        }
    }

    /// Replaces every link (for tests that play a cheating party, e.g. by altering one
    /// message in transit).
    pub fn map_links(
        mut self,
        mut f: impl FnMut(usize, Box<dyn Transport + Send>) -> Box<dyn Transport + Send>,
    ) -> Mesh {
        for (j, l) in self.links.iter_mut().enumerate() {
            if let Some(t) = l.take() {
                *l = Some(f(j, t));
            }
        }
        self
    }

    /// Bytes sent to all peers so far.
    pub fn bytes_sent(&self) -> u64 {
        self.links.iter().flatten().map(|t| t.bytes_sent()).sum()
    }
}

/// The insecure mode's hello, sent by the connecting party: protocol tag, its own index,
/// the index it expects, n.
fn plaintext_hello(
    addr: &str,
    me: usize,
    j: usize,
    n: usize,
    opts: &ChannelOptions,
) -> Result<Box<dyn Transport + Send>, MpcError> {
    let mut t = TcpTransport::connect(addr, opts.timeout, opts.max_frame)?;
    let mut hello = HANDSHAKE.to_vec();
    for x in [me as u32, j as u32, n as u32] {
        hello.extend_from_slice(&x.to_be_bytes());
    }
    t.send(&hello)?;
    let ack = t.recv()?;
    if ack != b"ok" {
        return Err(NetError::Handshake(format!(
            "party {j} at {addr} refused: {}",
            printable(&String::from_utf8_lossy(&ack), 200)
        ))
        .into());
    }
    Ok(Box::new(t))
}

/// The insecure mode's answer to a hello: checks the indices the peer announces.
fn plaintext_welcome(
    listener: &TcpListener,
    me: usize,
    n: usize,
    links: &[Option<Box<dyn Transport + Send>>],
    opts: &ChannelOptions,
) -> Result<(usize, Box<dyn Transport + Send>), MpcError> {
    let mut t = TcpTransport::accept(listener, opts.timeout, 64)?;
    let hello = t.recv()?;
    let field = |i: usize| -> usize {
        let b: [u8; 4] = hello[8 + 4 * i..12 + 4 * i]
            .try_into()
            .expect("length checked before any field is read");
        u32::from_be_bytes(b) as usize
    };
    let problem = if hello.len() != 20 || &hello[..8] != HANDSHAKE {
        Some("not a shroud mpc handshake".to_string())
    } else if field(1) != me || field(2) != n {
        Some(format!(
            "peer expects party {} of {}, this is party {me} of {n}",
            field(1),
            field(2)
        ))
    } else if field(0) <= me || field(0) >= n {
        Some(format!(
            "peer claims index {}, expected one of {}..{n}",
            field(0),
            me + 1
        ))
    } else if links[field(0)].is_some() {
        Some(format!("party {} connected twice", field(0)))
    } else {
        None
    };
    if let Some(p) = problem {
        let _ = t.send(p.as_bytes());
        return Err(NetError::Handshake(p).into());
    }
    t.send(b"ok")?;
    // After the hello the frame limit goes back to the session's.
    t.set_max_frame(opts.max_frame);
    Ok((field(0), Box::new(t)))
}

/// An opening's frame: the operation number, the count, then `count` little-endian values
/// of `width` bytes each (8 in the plain mode, 16 in the authenticated one).
pub(crate) fn frame_with(
    tag: u64,
    count: usize,
    width: usize,
    mut write: impl FnMut(&mut [u8]),
) -> Vec<u8> {
    let mut out = vec![0u8; 12 + width * count];
    out[..8].copy_from_slice(&tag.to_be_bytes());
    out[8..12].copy_from_slice(&(count as u32).to_be_bytes());
    write(&mut out[12..]);
    out
}

fn encode_values(tag: u64, values: &[u64]) -> Vec<u8> {
    frame_with(tag, values.len(), 8, |body| {
        for (chunk, v) in body.chunks_exact_mut(8).zip(values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
    })
}

/// Checks an opening's header (operation number, count, length for values of `width`
/// bytes) and returns its value bytes.
pub(crate) fn check_frame(
    party: usize,
    tag: u64,
    want: usize,
    width: usize,
    frame: &[u8],
) -> Result<&[u8], MpcError> {
    if frame.len() < 12 {
        return Err(MpcError::Malformed {
            party,
            reason: "frame shorter than its header".into(),
        });
    }
    let got_tag = u64::from_be_bytes(frame[..8].try_into().expect("8 bytes"));
    if got_tag != tag {
        return Err(MpcError::PeerMisbehaved(format!(
            "party {party} sent a message for operation {got_tag} during operation {tag} (replayed or out of order: correlated randomness is used once)"
        )));
    }
    let count = u32::from_be_bytes(frame[8..12].try_into().expect("4 bytes")) as usize;
    if count != want || frame.len() != 12 + width * want {
        return Err(MpcError::Malformed {
            party,
            reason: format!("{count} values in {} bytes, expected {want}", frame.len()),
        });
    }
    Ok(&frame[12..])
}

fn decode_values(party: usize, tag: u64, want: usize, frame: &[u8]) -> Result<Vec<u64>, MpcError> {
    Ok(check_frame(party, tag, want, 8, frame)?
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// One party of an n-party computation over Z_2^64, semi-honest (see
/// [`super::spdz`] for the authenticated mode).
pub struct Party<S: TripleSource> {
    mesh: Mesh,
    source: S,
    op: u64,
    frac: FractionalBits,
}

impl<S: TripleSource> core::fmt::Debug for Party<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Party({} of {}, op {})",
            self.mesh.me,
            self.mesh.parties(),
            self.op
        )
    }
}

impl<S: TripleSource> Party<S> {
    /// A party over `mesh`, drawing correlated randomness from `source`.
    pub fn new(mesh: Mesh, source: S, frac: FractionalBits) -> Self {
        Self {
            mesh,
            source,
            op: 0,
            frac,
        }
    }

    /// This party's index.
    pub fn index(&self) -> usize {
        self.mesh.me
    }

    /// Number of parties.
    pub fn parties(&self) -> usize {
        self.mesh.parties()
    }

    /// Fractional bits of the fixed-point encoding.
    pub fn frac(&self) -> FractionalBits {
        self.frac
    }

    /// Bytes this party has sent.
    pub fn bytes_sent(&self) -> u64 {
        self.mesh.bytes_sent()
    }

    /// Opens values: every party sends its shares to every other and adds them up.
    ///
    /// # Errors
    /// [`MpcError::PeerMisbehaved`] for a message about another operation,
    /// [`MpcError::Malformed`] for a wrong length, [`MpcError::Net`] on transport failure.
    pub fn open_raw(&mut self, mine: &[u64]) -> Result<Vec<u64>, MpcError> {
        let mut out = Vec::with_capacity(mine.len());
        self.open_into(mine, &mut out)?;
        Ok(out)
    }

    /// [`Party::open_raw`] into a caller's buffer (cleared first).
    fn open_into(&mut self, mine: &[u64], out: &mut Vec<u64>) -> Result<(), MpcError> {
        let tag = self.op;
        self.op += 1;
        let frame = encode_values(tag, mine);
        let len = frame.len();
        let frames = self.mesh.exchange_all_limited(frame, len)?;
        out.clear();
        out.extend_from_slice(mine);
        for (j, f) in frames.iter().enumerate() {
            if j == self.mesh.me {
                continue;
            }
            let bytes = check_frame(j, tag, mine.len(), 8, f)?;
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                *o = o.wrapping_add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
            }
        }
        Ok(())
    }

    /// Checks that every party passes the same `context` (the computation's description,
    /// e.g. column names), so parties configured differently stop with a clear error.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] naming the first party that disagrees.
    pub fn agree(&mut self, context: &[u8]) -> Result<(), MpcError> {
        let tag = self.op;
        self.op += 1;
        let mut msg = tag.to_be_bytes().to_vec();
        msg.extend_from_slice(context);
        let frames = self.mesh.exchange_all(msg.clone())?;
        for (j, f) in frames.iter().enumerate() {
            if j != self.mesh.me && f != &msg {
                return Err(MpcError::InvalidInput(format!(
                    "party {j} is running another computation: {:?}, this party {:?}",
                    String::from_utf8_lossy(f.get(8..).unwrap_or_default()),
                    String::from_utf8_lossy(context)
                )));
            }
        }
        Ok(())
    }

    /// Reveals a shared value to every party.
    ///
    /// # Errors
    /// As [`Party::open_raw`].
    pub fn reveal(&mut self, x: &Shared) -> Result<Vec<u64>, MpcError> {
        self.open_raw(&x.v)
    }

    /// Opens a shared value to `receiver` alone: every other party sends it its shares
    /// (`Some` at the receiver, `None` elsewhere).
    ///
    /// # Errors
    /// As [`Party::open_raw`]; [`MpcError::InvalidInput`] for a receiver that is no party.
    pub fn reveal_to(&mut self, receiver: usize, x: &Shared) -> Result<Option<Vec<u64>>, MpcError> {
        let me = self.mesh.me;
        let tag = self.op;
        self.op += 1;
        if receiver >= self.parties() {
            return Err(MpcError::InvalidInput(format!("no party {receiver}")));
        }
        if me != receiver {
            self.mesh.link(receiver)?.send(&encode_values(tag, &x.v))?;
            return Ok(None);
        }
        let mut out = x.v.clone();
        for j in 0..self.parties() {
            if j == me {
                continue;
            }
            let frame = self.mesh.link(j)?.recv()?;
            for (o, v) in out.iter_mut().zip(decode_values(j, tag, x.len(), &frame)?) {
                *o = o.wrapping_add(v);
            }
        }
        Ok(Some(out))
    }

    /// Secret-shares `owner`'s values (`Some` at the owner, `None` elsewhere; `len` must
    /// agree): the owner sends each party a random share.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if this party is the owner and has no values (or is not
    /// and has some); transport and message errors as [`Party::open_raw`].
    pub fn input<R: CryptoRng + ?Sized>(
        &mut self,
        owner: usize,
        values: Option<&[u64]>,
        len: usize,
        rng: &mut R,
    ) -> Result<Shared, MpcError> {
        let me = self.mesh.me;
        let tag = self.op;
        self.op += 1;
        if owner >= self.parties() {
            return Err(MpcError::InvalidInput(format!("no party {owner}")));
        }
        match (owner == me, values) {
            (true, Some(v)) => {
                if v.len() != len {
                    return Err(MpcError::InvalidInput(format!(
                        "{} values, {len} announced",
                        v.len()
                    )));
                }
                let mut shares = share(v, self.parties(), rng)?;
                for (j, s) in shares.iter().enumerate() {
                    if j != me {
                        self.mesh.link(j)?.send(&encode_values(tag, &s.v))?;
                    }
                }
                Ok(shares.swap_remove(me))
            }
            (false, None) => {
                let frame = self.mesh.link(owner)?.recv()?;
                Ok(Shared::from_vec(decode_values(owner, tag, len, &frame)?))
            }
            _ => Err(MpcError::InvalidInput(
                "only the owner passes values to input".into(),
            )),
        }
    }

    /// x * y elementwise (Beaver triples).
    ///
    /// # Errors
    /// Shape mismatch, exhausted triples, or as [`Party::open_raw`].
    pub fn mul(&mut self, x: &Shared, y: &Shared) -> Result<Shared, MpcError> {
        if x.shape() != y.shape() {
            return Err(MpcError::InvalidInput(format!(
                "multiplying {:?} by {:?}",
                x.shape(),
                y.shape()
            )));
        }
        // The whole batch of triples at once (moved, not copied), then chunk by chunk
        // through two reused buffers: the round of `ops::mul_start` / `MulPending::finish`
        // on slices.
        let t = self.source.triples(x.len())?;
        let n = x.len();
        let mut z = Vec::with_capacity(n);
        let mut open = Vec::with_capacity(2 * CHUNK.min(n));
        let mut opened = Vec::with_capacity(2 * CHUNK.min(n));
        let mut start = 0;
        while start < n {
            let r = start..(start + CHUNK).min(n);
            ops::mul_open_into(
                &x.v[r.clone()],
                &y.v[r.clone()],
                &t.a[r.clone()],
                &t.b[r.clone()],
                &mut open,
            );
            self.open_into(&open, &mut opened)?;
            ops::mul_finish_into(
                self.mesh.me,
                &opened,
                &t.a[r.clone()],
                &t.b[r.clone()],
                &t.c[r.clone()],
                &mut z,
            );
            start = r.end;
        }
        Ok(Shared {
            v: z,
            rows: x.rows,
            cols: x.cols,
        })
    }

    /// Runs an elementwise operation in chunks of [`CHUNK`] elements (one opening each), so
    /// that large vectors flow through small, reused buffers instead of fresh memory.
    fn chunked(
        &mut self,
        x: &Shared,
        mut f: impl FnMut(&mut Self, core::ops::Range<usize>) -> Result<Shared, MpcError>,
    ) -> Result<Shared, MpcError> {
        let n = x.len();
        let mut v = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            v.extend_from_slice(f(self, start..end)?.as_slice());
            start = end;
        }
        Ok(Shared {
            v,
            rows: x.rows,
            cols: x.cols,
        })
    }

    /// x^2 elementwise (square pairs).
    ///
    /// # Errors
    /// As [`Party::mul`].
    pub fn square(&mut self, x: &Shared) -> Result<Shared, MpcError> {
        self.chunked(x, |p, r| {
            let s = p.source.squares(r.len())?;
            let xs = Shared::from_vec(x.v[r].to_vec());
            let (open, pending) = ops::square_start(p.mesh.me, &xs, s)?;
            let opened = p.open_raw(&open)?;
            pending.finish(&opened)
        })
    }

    /// X Y for shared matrices (matrix triple).
    ///
    /// # Errors
    /// As [`Party::mul`].
    pub fn matmul(&mut self, x: &Shared, y: &Shared) -> Result<Shared, MpcError> {
        let (m, k) = x.shape();
        let n = y.shape().1;
        let t = self.source.matrix_triple(m, k, n)?;
        let (open, pending) = ops::matmul_start(self.mesh.me, x, y, t)?;
        let opened = self.open_raw(&open)?;
        pending.finish(&opened)
    }

    /// Dealer-assisted truncation by `bits` (|x| < 2^62).
    ///
    /// # Errors
    /// As [`Party::mul`].
    pub fn truncate(&mut self, x: &Shared, bits: u32) -> Result<Shared, MpcError> {
        self.chunked(x, |p, r| {
            let t = p.source.trunc_pairs(r.len(), bits)?;
            let xs = Shared::from_vec(x.v[r].to_vec());
            let (open, pending) = ops::trunc_start(p.mesh.me, &xs, t)?;
            let opened = p.open_raw(&open)?;
            pending.finish(&opened)
        })
    }

    /// Fixed-point product: multiply, then truncate by f.
    ///
    /// # Errors
    /// As [`Party::mul`].
    pub fn mul_fixed(&mut self, x: &Shared, y: &Shared) -> Result<Shared, MpcError> {
        let z = self.mul(x, y)?;
        self.truncate(&z, self.frac.get())
    }

    /// Fixed-point matrix product.
    ///
    /// # Errors
    /// As [`Party::mul`].
    pub fn matmul_fixed(&mut self, x: &Shared, y: &Shared) -> Result<Shared, MpcError> {
        let z = self.matmul(x, y)?;
        self.truncate(&z, self.frac.get())
    }

    /// Public fixed-point constant times a shared fixed-point value.
    ///
    /// # Errors
    /// [`MpcError::Encoding`] if `k` does not encode; as [`Party::truncate`].
    pub fn mul_public_fixed(&mut self, x: &Shared, k: f64) -> Result<Shared, MpcError> {
        let k = self.frac.encode(k)?;
        self.truncate(&x.mul_public(k), self.frac.get())
    }

    /// The logistic function, by an odd degree-9 polynomial in t = x / 8 fitted (minimax)
    /// on [-8, 8]: 0.5 + 1.8731 t - 6.1571 t^3 + 12.8954 t^5 - 12.9406 t^7 + 4.8376 t^9.
    ///
    /// # Accuracy
    /// At most 0.0088 from the true sigmoid on [-8, 8] in exact arithmetic, plus the
    /// fixed-point rounding (about 2^-12 with f = 16; `tests/prop_mpc.rs` measures at most
    /// 0.0095 in total). Outside [-8, 8] the polynomial diverges: clip inputs first.
    /// Costs 5 multiplications and 10 truncations (5 rounds of each).
    ///
    /// # Errors
    /// As [`Party::mul`]; [`sigmoid_request`] says what correlated randomness it uses.
    pub fn sigmoid(&mut self, x: &Shared) -> Result<Shared, MpcError> {
        const C: [f64; 5] = [
            1.873_145_850_957_742_8,
            -6.157_096_281_036_651,
            12.895_423_685_370_886,
            -12.940_622_359_031_38,
            4.837_576_725_750_273,
        ];
        let t = self.mul_public_fixed(x, 0.125)?;
        let t2 = self.square(&t)?;
        let t2 = self.truncate(&t2, self.frac.get())?;
        let t3 = self.mul_fixed(&t2, &t)?;
        let t5 = self.mul_fixed(&t3, &t2)?;
        let t7 = self.mul_fixed(&t5, &t2)?;
        let t9 = self.mul_fixed(&t7, &t2)?;
        let f = self.frac;
        let mut acc = Shared::zeros(x.rows, x.cols);
        for (c, p) in C.iter().zip([&t, &t3, &t5, &t7, &t9]) {
            acc = acc.add(&p.mul_public(f.encode(*c)?))?;
        }
        let acc = self.truncate(&acc, f.get())?;
        let half = vec![f.encode(0.5)?; x.len()];
        acc.add_public(self.mesh.me, &half)
    }

    /// SecureML's local truncation (two parties only; see [`ops::trunc_local`]).
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] with more than two parties.
    pub fn truncate_local(&self, x: &Shared, bits: u32) -> Result<Shared, MpcError> {
        ops::trunc_local(self.mesh.me, self.parties(), x, bits)
    }
}

/// Correlated randomness that [`Party::sigmoid`] uses for `count` values: 1 square pair,
/// 4 triples and 7 truncations of f bits per value.
pub fn sigmoid_request(count: usize, frac: FractionalBits) -> super::dealer::Request {
    super::dealer::Request {
        triples: 4 * count,
        squares: count,
        matrix: vec![],
        trunc: vec![(7 * count, frac.get())],
    }
}
