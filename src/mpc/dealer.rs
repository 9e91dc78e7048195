//! Correlated randomness (the offline phase) from a trusted dealer, compressed with PRG
//! seeds.
//!
//! For a [`Request`] the dealer draws the secret material (Beaver triples, matrix triples,
//! square pairs, truncation pairs) and gives parties 1..n-1 a 32-byte seed each: their
//! shares are the ChaCha20 stream of that seed. Party 0 alone receives correction words:
//! its shares, chosen so that all shares add up to the material. A party turns what it got
//! into [`Material`], a [`TripleSource`] that hands each piece out once, by value.
//!
//! # Trust
//! The dealer knows every piece of material; it must not collude with any party and must
//! follow the protocol (it is trusted for correctness and privacy). It never sees inputs.

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

impl Request {
    /// Number of u64 words each party holds for this request.
    pub fn words(&self) -> usize {
        3 * self.triples
            + 2 * self.squares
            + self
                .matrix
                .iter()
                .map(|&(m, k, n)| m * k + k * n + m * n)
                .sum::<usize>()
            + self.trunc.iter().map(|&(c, _)| 3 * c).sum::<usize>()
    }

    fn check(&self) -> Result<(), MpcError> {
        if self.trunc.iter().any(|&(_, b)| !(1..=62).contains(&b)) {
            return Err(MpcError::InvalidInput(
                "truncation shifts must be 1..=62 bits".into(),
            ));
        }
        if self.words() > 1 << 31 {
            return Err(MpcError::InvalidInput(
                "request over 2^31 words: split it".into(),
            ));
        }
        Ok(())
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
    /// Party 0's shares.
    pub corrections: Corrections,
    /// Seeds of parties 1..n-1, in order.
    pub seeds: Vec<Seed>,
}

/// Expands a seed into `words` pseudorandom words (ChaCha20 keyed by SHA-256 of a domain
/// tag and the seed).
pub fn expand(seed: &Seed, words: usize) -> Vec<u64> {
    let mut key: [u8; 32] = Sha256::new()
        .chain_update(b"shroud-mpc-dealer-v1")
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

    /// Draws the material for `request` and compresses it into seeds and corrections.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] for a shift outside 1..=62 or an oversized request.
    pub fn deal<R: CryptoRng + ?Sized>(
        &self,
        request: &Request,
        rng: &mut R,
    ) -> Result<Dealt, MpcError> {
        request.check()?;
        let words = request.words();
        let mut seeds = Vec::with_capacity(self.parties - 1);
        let mut sum = vec![0u64; words];
        for _ in 1..self.parties {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            let seed = Seed(s);
            s.zeroize();
            let mut stream = expand(&seed, words);
            for (a, b) in sum.iter_mut().zip(&stream) {
                *a = a.wrapping_add(*b);
            }
            stream.zeroize();
            seeds.push(seed);
        }
        let mut truth = material(request, rng);
        let corrections: Vec<u64> = truth
            .iter()
            .zip(&sum)
            .map(|(t, s)| t.wrapping_sub(*s))
            .collect();
        truth.zeroize();
        sum.zeroize();
        Ok(Dealt {
            corrections: Corrections(corrections),
            seeds,
        })
    }
}

/// The secret material itself, flat, in the request's layout.
fn material<R: CryptoRng + ?Sized>(req: &Request, rng: &mut R) -> Vec<u64> {
    let mut out = Vec::with_capacity(req.words());
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

/// One party's correlated randomness for a request, handed out in order, once.
pub struct Material {
    words: Vec<u64>,
    request: Request,
    triple: usize,
    square: usize,
    matrix: usize,
    trunc: usize,
    trunc_used: usize,
}

impl Drop for Material {
    fn drop(&mut self) {
        self.words.zeroize();
    }
}

impl core::fmt::Debug for Material {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Material({:?}, <redacted>)", self.request)
    }
}

impl Material {
    /// Party 0's material, from the dealer's correction words.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if the corrections do not fit the request.
    pub fn from_corrections(request: Request, corrections: Corrections) -> Result<Self, MpcError> {
        request.check()?;
        if corrections.0.len() != request.words() {
            return Err(MpcError::InvalidInput(format!(
                "{} correction words for a request of {}",
                corrections.0.len(),
                request.words()
            )));
        }
        let mut c = corrections;
        Ok(Self::new(request, core::mem::take(&mut c.0)))
    }

    /// The material of parties 1..n-1, expanded from their seed.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] for an invalid request.
    pub fn from_seed(request: Request, seed: &Seed) -> Result<Self, MpcError> {
        request.check()?;
        let words = expand(seed, request.words());
        Ok(Self::new(request, words))
    }

    fn new(request: Request, words: Vec<u64>) -> Self {
        Self {
            words,
            request,
            triple: 0,
            square: 0,
            matrix: 0,
            trunc: 0,
            trunc_used: 0,
        }
    }

    fn slice(&self, start: usize, len: usize) -> Vec<u64> {
        self.words[start..start + len].to_vec()
    }
}

impl TripleSource for Material {
    fn triples(&mut self, count: usize) -> Result<BeaverTriples, MpcError> {
        let t = self.request.triples;
        if self.triple + count > t {
            return Err(MpcError::Exhausted(format!(
                "{count} triples wanted, {} left of {t}",
                t - self.triple
            )));
        }
        let s = self.triple;
        self.triple += count;
        Ok(BeaverTriples::new(
            self.slice(s, count),
            self.slice(t + s, count),
            self.slice(2 * t + s, count),
        ))
    }

    fn squares(&mut self, count: usize) -> Result<SquarePairs, MpcError> {
        let q = self.request.squares;
        if self.square + count > q {
            return Err(MpcError::Exhausted(format!(
                "{count} square pairs wanted, {} left",
                q - self.square
            )));
        }
        let base = 3 * self.request.triples;
        let s = self.square;
        self.square += count;
        Ok(SquarePairs::new(
            self.slice(base + s, count),
            self.slice(base + q + s, count),
        ))
    }

    fn matrix_triple(&mut self, m: usize, k: usize, n: usize) -> Result<MatrixTriple, MpcError> {
        let Some(&shape) = self.request.matrix.get(self.matrix) else {
            return Err(MpcError::Exhausted("no matrix triples left".into()));
        };
        if shape != (m, k, n) {
            return Err(MpcError::InvalidInput(format!(
                "next matrix triple is {shape:?}, the product needs ({m}, {k}, {n})"
            )));
        }
        let mut base = 3 * self.request.triples + 2 * self.request.squares;
        for &(a, b, c) in &self.request.matrix[..self.matrix] {
            base += a * b + b * c + a * c;
        }
        self.matrix += 1;
        let u = self.slice(base, m * k);
        let v = self.slice(base + m * k, k * n);
        let w = self.slice(base + m * k + k * n, m * n);
        MatrixTriple::new(u, v, w, m, k, n)
    }

    fn trunc_pairs(&mut self, count: usize, bits: u32) -> Result<TruncPairs, MpcError> {
        loop {
            let Some(&(total, b)) = self.request.trunc.get(self.trunc) else {
                return Err(MpcError::Exhausted("no truncation pairs left".into()));
            };
            if self.trunc_used == total {
                self.trunc += 1;
                self.trunc_used = 0;
                continue;
            }
            if b != bits {
                return Err(MpcError::InvalidInput(format!(
                    "next truncation pairs shift {b} bits, not {bits}"
                )));
            }
            if self.trunc_used + count > total {
                return Err(MpcError::Exhausted(format!(
                    "{count} truncation pairs wanted, {} left",
                    total - self.trunc_used
                )));
            }
            let mut base = 3 * self.request.triples
                + 2 * self.request.squares
                + self
                    .request
                    .matrix
                    .iter()
                    .map(|&(m, k, n)| m * k + k * n + m * n)
                    .sum::<usize>();
            for &(c, _) in &self.request.trunc[..self.trunc] {
                base += 3 * c;
            }
            let s = self.trunc_used;
            self.trunc_used += count;
            return Ok(TruncPairs::new(
                self.slice(base + s, count),
                self.slice(base + total + s, count),
                self.slice(base + 2 * total + s, count),
                bits,
            ));
        }
    }
}
