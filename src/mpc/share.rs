//! Additive secret shares over Z_2^64 (wrapping u64): one party's share of a vector or a
//! row-major matrix, stored contiguously.
//!
//! x = x_0 + x_1 + ... + x_{n-1} mod 2^64. Adding shares, subtracting them and multiplying
//! by a public constant are local; adding a public constant is done by party 0 alone.

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::MpcError;

/// One party's share of a vector or matrix (secret: not `Clone`, zeroized on drop).
#[derive(Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Shared {
    pub(crate) v: Vec<u64>,
    #[zeroize(skip)]
    pub(crate) rows: usize,
    #[zeroize(skip)]
    pub(crate) cols: usize,
}

impl core::fmt::Debug for Shared {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Shared({}x{}, <redacted>)", self.rows, self.cols)
    }
}

fn same_shape(a: &Shared, b: &Shared) -> Result<(), MpcError> {
    if a.rows != b.rows || a.cols != b.cols {
        return Err(MpcError::InvalidInput(format!(
            "shapes differ: {}x{} and {}x{}",
            a.rows, a.cols, b.rows, b.cols
        )));
    }
    Ok(())
}

impl Shared {
    /// A share of a column vector.
    pub fn from_vec(v: Vec<u64>) -> Self {
        let rows = v.len();
        Self { v, rows, cols: 1 }
    }

    /// A share of a rows x cols matrix (row-major).
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if the length is not rows * cols.
    pub fn from_matrix(v: Vec<u64>, rows: usize, cols: usize) -> Result<Self, MpcError> {
        if rows.checked_mul(cols) != Some(v.len()) {
            return Err(MpcError::InvalidInput(format!(
                "{} values for a {rows}x{cols} matrix",
                v.len()
            )));
        }
        Ok(Self { v, rows, cols })
    }

    /// A share of all zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            v: vec![0; rows * cols],
            rows,
            cols,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The raw share values. A single share is uniformly random and says nothing on its
    /// own; handle it as a secret all the same.
    pub fn as_slice(&self) -> &[u64] {
        &self.v
    }

    /// An independent copy (explicit, since shares are secrets).
    pub fn duplicate(&self) -> Self {
        Self {
            v: self.v.clone(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// x + y.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if the shapes differ.
    pub fn add(&self, other: &Shared) -> Result<Shared, MpcError> {
        same_shape(self, other)?;
        let v = self
            .v
            .iter()
            .zip(&other.v)
            .map(|(a, b)| a.wrapping_add(*b))
            .collect();
        Ok(Shared {
            v,
            rows: self.rows,
            cols: self.cols,
        })
    }

    /// x - y.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if the shapes differ.
    pub fn sub(&self, other: &Shared) -> Result<Shared, MpcError> {
        same_shape(self, other)?;
        let v = self
            .v
            .iter()
            .zip(&other.v)
            .map(|(a, b)| a.wrapping_sub(*b))
            .collect();
        Ok(Shared {
            v,
            rows: self.rows,
            cols: self.cols,
        })
    }

    /// k x for a public k (mod 2^64; for fixed point, truncate afterwards).
    pub fn mul_public(&self, k: u64) -> Shared {
        let v = self.v.iter().map(|a| a.wrapping_mul(k)).collect();
        Shared {
            v,
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// x + c for public c (one value per element): party 0 adds it, the others keep their
    /// share.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if `c` has the wrong length.
    pub fn add_public(&self, party: usize, c: &[u64]) -> Result<Shared, MpcError> {
        if c.len() != self.v.len() {
            return Err(MpcError::InvalidInput(format!(
                "{} constants for {} shares",
                c.len(),
                self.v.len()
            )));
        }
        let v = if party == 0 {
            self.v
                .iter()
                .zip(c)
                .map(|(a, b)| a.wrapping_add(*b))
                .collect()
        } else {
            self.v.clone()
        };
        Ok(Shared {
            v,
            rows: self.rows,
            cols: self.cols,
        })
    }

    /// Sum of all elements (a 1-element share).
    pub fn sum(&self) -> Shared {
        Shared::from_vec(vec![self.v.iter().fold(0u64, |s, a| s.wrapping_add(*a))])
    }
}

/// Splits `secret` into `n` additive shares (the dealer's or an input owner's view).
///
/// # Errors
/// [`MpcError::InvalidInput`] if n < 2.
pub fn share<R: CryptoRng + ?Sized>(
    secret: &[u64],
    n: usize,
    rng: &mut R,
) -> Result<Vec<Shared>, MpcError> {
    if n < 2 {
        return Err(MpcError::InvalidInput(format!(
            "{n} parties: sharing needs at least 2"
        )));
    }
    let mut shares: Vec<Vec<u64>> = (1..n)
        .map(|_| (0..secret.len()).map(|_| rng.next_u64()).collect())
        .collect();
    let first: Vec<u64> = secret
        .iter()
        .enumerate()
        .map(|(j, s)| shares.iter().fold(*s, |acc, sh| acc.wrapping_sub(sh[j])))
        .collect();
    shares.insert(0, first);
    Ok(shares.into_iter().map(Shared::from_vec).collect())
}

/// Adds up shares (what the parties do when they open a value).
///
/// # Errors
/// [`MpcError::InvalidInput`] if there are no shares or their lengths differ.
pub fn reconstruct(shares: &[&[u64]]) -> Result<Vec<u64>, MpcError> {
    let first = shares
        .first()
        .ok_or_else(|| MpcError::InvalidInput("no shares".into()))?;
    if shares.iter().any(|s| s.len() != first.len()) {
        return Err(MpcError::InvalidInput("shares of different lengths".into()));
    }
    let mut out = first.to_vec();
    for s in &shares[1..] {
        for (o, x) in out.iter_mut().zip(s.iter()) {
            *o = o.wrapping_add(*x);
        }
    }
    Ok(out)
}

/// Plaintext matrix product mod 2^64 (row-major, i-k-j order): the kernel both the
/// shared and the plaintext matmul use.
pub fn matmul_plain(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
    let mut c = vec![0u64; m * n];
    for i in 0..m {
        let row = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let aip = a[i * k + p];
            let brow = &b[p * n..(p + 1) * n];
            for (cj, bj) in row.iter_mut().zip(brow) {
                *cj = cj.wrapping_add(aip.wrapping_mul(*bj));
            }
        }
    }
    c
}
