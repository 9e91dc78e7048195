//! Correlated randomness (the offline phase) from a trusted dealer, compressed with PRG
//! seeds.
//!
//! For a [`Request`] the dealer draws the secret material (Beaver triples, matrix triples,
//! square pairs, truncation pairs) and gives parties 1..n-1 a 32-byte seed each: their
//! shares are the ChaCha20 stream of that seed. Party 0 alone receives correction words:
//! its shares, chosen so that all shares add up to the material. A party turns what it got
//! into [`Material`], a [`TripleSource`] that hands each piece out once, by value.
//!
//! Every deal is bound to a [`SessionId`]: the session is mixed into the derivation of
//! each seed's stream, so a seed (or a dealer whose randomness repeats) from one session
//! yields unrelated material in another, and material cannot be replayed across sessions.
//!
//! # Trust
//! The dealer knows every piece of material; it must not collude with any party and must
//! follow the protocol (it is trusted for correctness and privacy). It never sees inputs.

use std::collections::VecDeque;

use rand_core::{CryptoRng, Rng, SeedableRng};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::MpcError;
use super::triples::{BeaverTriples, MatrixTriple, SquarePairs, TripleSource, TruncPairs};

/// What to prepare, in the order it will be consumed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Elementwise Beaver triples.
    pub triples: usize,
    /// Square pairs (a, a^2).
    pub squares: usize,
    /// Matrix triples (U, V, UV) of shapes m x k and k x n, consumed in this order.
    pub matrix: Vec<(usize, usize, usize)>,
    /// Truncation pairs: total count, and the shift in bits.
    pub trunc: Vec<(usize, u32)>,
}

/// Largest request, in words per party.
pub const MAX_WORDS: usize = 1 << 31;

impl Request {
    /// Number of u64 words each party holds for this request.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] when the count overflows (every product and sum is
    /// checked: the shapes may come from a peer or a configuration file).
    pub fn words(&self) -> Result<usize, MpcError> {
        let overflow = || MpcError::InvalidInput("request size overflows".into());
        let mut total = self.triples.checked_mul(3).ok_or_else(overflow)?;
        total = self
            .squares
            .checked_mul(2)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(overflow)?;
        for &(m, k, n) in &self.matrix {
            total = m
                .checked_mul(k)
                .and_then(|a| k.checked_mul(n).and_then(|b| a.checked_add(b)))
                .and_then(|ab| m.checked_mul(n).and_then(|c| ab.checked_add(c)))
                .and_then(|w| total.checked_add(w))
                .ok_or_else(overflow)?;
        }
        for &(c, _) in &self.trunc {
            total = c
                .checked_mul(3)
                .and_then(|w| total.checked_add(w))
                .ok_or_else(overflow)?;
        }
        Ok(total)
    }

    fn check(&self) -> Result<usize, MpcError> {
        if self.trunc.iter().any(|&(_, b)| !(1..=62).contains(&b)) {
            return Err(MpcError::InvalidInput(
                "truncation shifts must be 1..=62 bits".into(),
            ));
        }
        let words = self.words()?;
        if words > MAX_WORDS {
            return Err(MpcError::InvalidInput(
                "request over 2^31 words: split it".into(),
            ));
        }
        Ok(words)
    }
}

/// The identifier of one computation, public and agreed by the dealer and every party
/// (for example drawn by the dealer and sent with the material, or taken from the
/// channel's handshake). It is mixed into every seed's stream.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; 32]);

impl SessionId {
    /// A fresh random session identifier.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut s = [0u8; 32];
        rng.fill_bytes(&mut s);
        SessionId(s)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SessionId(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// A party's 32-byte seed (secret, single use).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Seed(pub [u8; 32]);

impl core::fmt::Debug for Seed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

/// Party 0's correction words (secret).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Corrections(pub Vec<u64>);

impl core::fmt::Debug for Corrections {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Corrections({} words, <redacted>)", self.0.len())
    }
}

/// What the dealer hands out for one request.
#[derive(Debug)]
pub struct Dealt {
    /// The session the material is bound to.
    pub session: SessionId,
    /// Party 0's shares.
    pub corrections: Corrections,
    /// Seeds of parties 1..n-1, in order.
    pub seeds: Vec<Seed>,
}

/// Expands a seed into `words` pseudorandom words for `session` (ChaCha20 keyed by
/// SHA-256 of a domain tag, the session and the seed).
pub fn expand(seed: &Seed, session: &SessionId, words: usize) -> Vec<u64> {
    let mut key: [u8; 32] = Sha256::new()
        .chain_update(b"shroud-mpc-dealer-v2")
        .chain_update(session.0)
        .chain_update(seed.0)
        .finalize()
        .into();
    let mut rng = chacha20::ChaCha20Rng::from_seed(key);
    key.zeroize();
    (0..words).map(|_| rng.next_u64()).collect()
}

/// The trusted dealer.
#[derive(Debug)]
pub struct Dealer {
    parties: usize,
}

impl Dealer {
    /// A dealer for `parties` >= 2 parties.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] for fewer than 2 parties.
    pub fn new(parties: usize) -> Result<Self, MpcError> {
        if parties < 2 {
            return Err(MpcError::InvalidInput(
                "the dealer needs at least 2 parties".into(),
            ));
        }
        Ok(Self { parties })
    }

    /// Draws the material for `request` in `session` and compresses it into seeds and
    /// corrections. Use a fresh session for every deal.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] for a shift outside 1..=62, a request whose size
    /// overflows or exceeds [`MAX_WORDS`].
    pub fn deal<R: CryptoRng + ?Sized>(
        &self,
        session: &SessionId,
        request: &Request,
        rng: &mut R,
    ) -> Result<Dealt, MpcError> {
        let words = request.check()?;
        let mut seeds = Vec::with_capacity(self.parties - 1);
        let mut sum = vec![0u64; words];
        for _ in 1..self.parties {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            let seed = Seed(s);
            s.zeroize();
            let mut stream = expand(&seed, session, words);
            for (a, b) in sum.iter_mut().zip(&stream) {
                *a = a.wrapping_add(*b);
            }
            stream.zeroize();
            seeds.push(seed);
        }
        let mut truth = material(request, words, rng);
        let corrections: Vec<u64> = truth
            .iter()
            .zip(&sum)
            .map(|(t, s)| t.wrapping_sub(*s))
            .collect();
        truth.zeroize();
        sum.zeroize();
        Ok(Dealt {
            session: *session,
            corrections: Corrections(corrections),
            seeds,
        })
    }
}

/// The secret material itself, flat, in the request's layout.
fn material<R: CryptoRng + ?Sized>(req: &Request, words: usize, rng: &mut R) -> Vec<u64> {
    let mut out = Vec::with_capacity(words);
    let t = req.triples;
    let a: Vec<u64> = (0..t).map(|_| rng.next_u64()).collect();
    let b: Vec<u64> = (0..t).map(|_| rng.next_u64()).collect();
    let c: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x.wrapping_mul(*y)).collect();
    out.extend(a);
    out.extend(b);
    out.extend(c);
    let a: Vec<u64> = (0..req.squares).map(|_| rng.next_u64()).collect();
    let a2: Vec<u64> = a.iter().map(|x| x.wrapping_mul(*x)).collect();
    out.extend(a);
    out.extend(a2);
    for &(m, k, n) in &req.matrix {
        let u: Vec<u64> = (0..m * k).map(|_| rng.next_u64()).collect();
        let v: Vec<u64> = (0..k * n).map(|_| rng.next_u64()).collect();
        let w = super::share::matmul_plain(&u, &v, m, k, n);
        out.extend(u);
        out.extend(v);
        out.extend(w);
    }
    for &(count, bits) in &req.trunc {
        let r: Vec<u64> = (0..count).map(|_| rng.next_u64()).collect();
        let msb: Vec<u64> = r.iter().map(|x| x >> 63).collect();
        let high: Vec<u64> = r.iter().map(|x| (x & (u64::MAX >> 1)) >> bits).collect();
        out.extend(r);
        out.extend(msb);
        out.extend(high);
    }
    out
}

/// Queued truncation pairs: shift, r, r's top bit, r's high part.
type TruncQueue = (u32, Vec<u64>, Vec<u64>, Vec<u64>);

/// One party's correlated randomness for a request, handed out in order, once.
///
/// The flat words are split into per-kind queues when the material is built (the offline
/// phase), so taking a whole batch online moves it without copying.
pub struct Material {
    request: Request,
    session: Option<SessionId>,
    ta: Vec<u64>,
    tb: Vec<u64>,
    tc: Vec<u64>,
    sa: Vec<u64>,
    sa2: Vec<u64>,
    mats: VecDeque<MatrixTriple>,
    truncs: VecDeque<TruncQueue>,
}

impl Drop for Material {
    fn drop(&mut self) {
        self.ta.zeroize();
        self.tb.zeroize();
        self.tc.zeroize();
        self.sa.zeroize();
        self.sa2.zeroize();
        for (_, r, m, h) in &mut self.truncs {
            r.zeroize();
            m.zeroize();
            h.zeroize();
        }
    }
}

impl core::fmt::Debug for Material {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Material({:?}, <redacted>)", self.request)
    }
}

/// Takes `count` items off the end of `v` (copies only what it takes; moves the whole
/// vector when it takes everything). Every party takes in the same order, so the pieces
/// stay aligned.
fn take_front(v: &mut Vec<u64>, count: usize) -> Vec<u64> {
    if count == v.len() {
        return core::mem::take(v);
    }
    v.split_off(v.len() - count)
}

impl Material {
    /// Party 0's material for `session`, from the dealer's correction words.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if the corrections do not fit the request.
    pub fn from_corrections(
        request: Request,
        session: &SessionId,
        corrections: Corrections,
    ) -> Result<Self, MpcError> {
        let words = request.check()?;
        if corrections.0.len() != words {
            return Err(MpcError::InvalidInput(format!(
                "{} correction words for a request of {words}",
                corrections.0.len(),
            )));
        }
        let mut m = Self::new(request, &corrections.0)?;
        m.session = Some(*session);
        Ok(m)
    }

    /// The material of parties 1..n-1 for `session`, expanded from their seed.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] for an invalid request.
    pub fn from_seed(request: Request, session: &SessionId, seed: &Seed) -> Result<Self, MpcError> {
        let count = request.check()?;
        let mut words = expand(seed, session, count);
        let m = Self::new(request, &words);
        words.zeroize();
        let mut m = m?;
        m.session = Some(*session);
        Ok(m)
    }

    /// The session this material was dealt for (`None` for material from the two-party
    /// Paillier offline phase, which is made inside one session). Parties can compare it
    /// with [`super::Party::agree`] before they start.
    pub fn session(&self) -> Option<SessionId> {
        self.session
    }

    /// Material holding only Beaver triples (from the two-party Paillier offline phase).
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if the three vectors differ in length.
    pub fn from_beaver(a: Vec<u64>, b: Vec<u64>, c: Vec<u64>) -> Result<Self, MpcError> {
        if a.len() != b.len() || b.len() != c.len() {
            return Err(MpcError::InvalidInput(
                "triple vectors of different lengths".into(),
            ));
        }
        let mut words = a;
        let n = words.len();
        words.extend(b);
        words.extend(c);
        let req = Request {
            triples: n,
            ..Request::default()
        };
        let m = Self::new(req, &words);
        words.zeroize();
        m
    }

    fn new(request: Request, words: &[u64]) -> Result<Self, MpcError> {
        let mut at = 0;
        let mut next = |len: usize| {
            let v = words[at..at + len].to_vec();
            at += len;
            v
        };
        let t = request.triples;
        let (ta, tb, tc) = (next(t), next(t), next(t));
        let (sa, sa2) = (next(request.squares), next(request.squares));
        let mut mats = VecDeque::new();
        for &(m, k, n) in &request.matrix {
            let (u, v, w) = (next(m * k), next(k * n), next(m * n));
            mats.push_back(MatrixTriple::new(u, v, w, m, k, n)?);
        }
        let mut truncs = VecDeque::new();
        for &(c, bits) in &request.trunc {
            truncs.push_back((bits, next(c), next(c), next(c)));
        }
        Ok(Self {
            request,
            session: None,
            ta,
            tb,
            tc,
            sa,
            sa2,
            mats,
            truncs,
        })
    }
}

impl TripleSource for Material {
    fn triples(&mut self, count: usize) -> Result<BeaverTriples, MpcError> {
        if count > self.ta.len() {
            return Err(MpcError::Exhausted(format!(
                "{count} triples wanted, {} left",
                self.ta.len()
            )));
        }
        Ok(BeaverTriples::new(
            take_front(&mut self.ta, count),
            take_front(&mut self.tb, count),
            take_front(&mut self.tc, count),
        ))
    }

    fn squares(&mut self, count: usize) -> Result<SquarePairs, MpcError> {
        if count > self.sa.len() {
            return Err(MpcError::Exhausted(format!(
                "{count} square pairs wanted, {} left",
                self.sa.len()
            )));
        }
        Ok(SquarePairs::new(
            take_front(&mut self.sa, count),
            take_front(&mut self.sa2, count),
        ))
    }

    fn matrix_triple(&mut self, m: usize, k: usize, n: usize) -> Result<MatrixTriple, MpcError> {
        let Some(next) = self.mats.front() else {
            return Err(MpcError::Exhausted("no matrix triples left".into()));
        };
        if next.shape != (m, k, n) {
            return Err(MpcError::InvalidInput(format!(
                "next matrix triple is {:?}, the product needs ({m}, {k}, {n})",
                next.shape
            )));
        }
        self.mats
            .pop_front()
            .ok_or_else(|| MpcError::Exhausted("no matrix triples left".into()))
    }

    fn trunc_pairs(&mut self, count: usize, bits: u32) -> Result<TruncPairs, MpcError> {
        while self.truncs.front().is_some_and(|t| t.1.is_empty()) {
            self.truncs.pop_front();
        }
        let Some((b, r, msb, high)) = self.truncs.front_mut() else {
            return Err(MpcError::Exhausted("no truncation pairs left".into()));
        };
        if *b != bits {
            return Err(MpcError::InvalidInput(format!(
                "next truncation pairs shift {b} bits, not {bits}"
            )));
        }
        if count > r.len() {
            return Err(MpcError::Exhausted(format!(
                "{count} truncation pairs wanted, {} left",
                r.len()
            )));
        }
        Ok(TruncPairs::new(
            take_front(r, count),
            take_front(msb, count),
            take_front(high, count),
            bits,
        ))
    }
}
