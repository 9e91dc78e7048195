//! Pieces of correlated randomness, each one party's share, each used once.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::MpcError;

/// Where a party gets its correlated randomness: a dealer's [`super::dealer::Material`] or
/// the two-party Paillier offline phase.
pub trait TripleSource {
    /// `count` elementwise Beaver triples.
    ///
    /// # Errors
    /// [`MpcError::Exhausted`] if fewer are left.
    fn triples(&mut self, count: usize) -> Result<BeaverTriples, MpcError>;
    /// `count` square pairs.
    ///
    /// # Errors
    /// [`MpcError::Exhausted`] if fewer are left.
    fn squares(&mut self, count: usize) -> Result<SquarePairs, MpcError>;
    /// The next matrix triple, which must have this shape.
    ///
    /// # Errors
    /// [`MpcError::Exhausted`] or [`MpcError::InvalidInput`] for another shape.
    fn matrix_triple(&mut self, m: usize, k: usize, n: usize) -> Result<MatrixTriple, MpcError>;
    /// `count` truncation pairs for a shift of `bits`.
    ///
    /// # Errors
    /// [`MpcError::Exhausted`] if fewer are left.
    fn trunc_pairs(&mut self, count: usize, bits: u32) -> Result<TruncPairs, MpcError>;
}

macro_rules! secret_debug {
    ($t:ty, $name:literal) => {
        impl core::fmt::Debug for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!($name, "(<redacted>)"))
            }
        }
    };
}

/// Shares of Beaver triples (a, b, c = ab), elementwise.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct BeaverTriples {
    pub(crate) a: Vec<u64>,
    pub(crate) b: Vec<u64>,
    pub(crate) c: Vec<u64>,
}
secret_debug!(BeaverTriples, "BeaverTriples");

impl BeaverTriples {
    pub(crate) fn new(a: Vec<u64>, b: Vec<u64>, c: Vec<u64>) -> Self {
        Self { a, b, c }
    }

    /// Number of triples.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }
}

/// Shares of square pairs (a, a^2).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SquarePairs {
    pub(crate) a: Vec<u64>,
    pub(crate) a2: Vec<u64>,
}
secret_debug!(SquarePairs, "SquarePairs");

impl SquarePairs {
    pub(crate) fn new(a: Vec<u64>, a2: Vec<u64>) -> Self {
        Self { a, a2 }
    }
}

/// Shares of a matrix triple (U: m x k, V: k x n, W = UV).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MatrixTriple {
    pub(crate) u: Vec<u64>,
    pub(crate) v: Vec<u64>,
    pub(crate) w: Vec<u64>,
    #[zeroize(skip)]
    pub(crate) shape: (usize, usize, usize),
}
secret_debug!(MatrixTriple, "MatrixTriple");

impl MatrixTriple {
    pub(crate) fn new(
        u: Vec<u64>,
        v: Vec<u64>,
        w: Vec<u64>,
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<Self, MpcError> {
        if u.len() != m * k || v.len() != k * n || w.len() != m * n {
            return Err(MpcError::InvalidInput(
                "matrix triple of the wrong size".into(),
            ));
        }
        Ok(Self {
            u,
            v,
            w,
            shape: (m, k, n),
        })
    }
}

/// Shares of truncation pairs for a shift of `bits`: r uniform in Z_2^64, its top bit
/// r_msb, and r_high = (r mod 2^63) >> bits.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TruncPairs {
    pub(crate) r: Vec<u64>,
    pub(crate) msb: Vec<u64>,
    pub(crate) high: Vec<u64>,
    #[zeroize(skip)]
    pub(crate) bits: u32,
}
secret_debug!(TruncPairs, "TruncPairs");

impl TruncPairs {
    pub(crate) fn new(r: Vec<u64>, msb: Vec<u64>, high: Vec<u64>, bits: u32) -> Self {
        Self { r, msb, high, bits }
    }
}
