//! The online operations as sans-IO rounds: each `*_start` returns this party's share of
//! the values to open and a pending state; once the parties have opened them (see
//! [`super::party::Party::open_raw`]), `finish` consumes the state and its correlated
//! randomness and returns the result. Nothing here touches the network.

use super::error::MpcError;
use super::share::{Shared, matmul_plain};
use super::triples::{BeaverTriples, MatrixTriple, SquarePairs, TruncPairs};

fn check_open(opened: &[u64], want: usize) -> Result<(), MpcError> {
    if opened.len() != want {
        return Err(MpcError::InvalidInput(format!(
            "{} opened values, expected {want}",
            opened.len()
        )));
    }
    Ok(())
}

/// Writes this party's shares of d = x - a, then e = y - b, into `open` (cleared first).
pub(crate) fn mul_open_into(x: &[u64], y: &[u64], a: &[u64], b: &[u64], open: &mut Vec<u64>) {
    open.clear();
    open.extend(x.iter().zip(a).map(|(x, a)| x.wrapping_sub(*a)));
    open.extend(y.iter().zip(b).map(|(y, b)| y.wrapping_sub(*b)));
}

/// Appends z = c + d b + e a (+ d e at party 0) to `z`, given the opened d || e.
pub(crate) fn mul_finish_into(
    party: usize,
    opened: &[u64],
    a: &[u64],
    b: &[u64],
    c: &[u64],
    z: &mut Vec<u64>,
) {
    let n = a.len();
    let (d, e) = opened.split_at(n);
    let p0 = u64::from(party == 0);
    z.extend((0..n).map(|i| {
        c[i].wrapping_add(d[i].wrapping_mul(b[i]))
            .wrapping_add(e[i].wrapping_mul(a[i]))
            .wrapping_add(p0.wrapping_mul(d[i].wrapping_mul(e[i])))
    }));
}

/// Elementwise multiplication, waiting for d = x - a and e = y - b.
pub struct MulPending {
    party: usize,
    t: BeaverTriples,
    shape: (usize, usize),
}

/// Starts x * y with Beaver triples: opens x - a and y - b.
///
/// # Errors
/// [`MpcError::InvalidInput`] if the shapes or the number of triples differ.
pub fn mul_start(
    party: usize,
    x: &Shared,
    y: &Shared,
    t: BeaverTriples,
) -> Result<(Vec<u64>, MulPending), MpcError> {
    if x.shape() != y.shape() || t.len() != x.len() {
        return Err(MpcError::InvalidInput(format!(
            "multiplying {:?} by {:?} with {} triples",
            x.shape(),
            y.shape(),
            t.len()
        )));
    }
    let mut open = Vec::with_capacity(2 * x.len());
    open.extend(x.v.iter().zip(&t.a).map(|(x, a)| x.wrapping_sub(*a)));
    open.extend(y.v.iter().zip(&t.b).map(|(y, b)| y.wrapping_sub(*b)));
    Ok((
        open,
        MulPending {
            party,
            t,
            shape: x.shape(),
        },
    ))
}

impl MulPending {
    /// z = c + d b + e a (+ d e at party 0).
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if `opened` has the wrong length.
    pub fn finish(self, opened: &[u64]) -> Result<Shared, MpcError> {
        let n = self.t.len();
        check_open(opened, 2 * n)?;
        let mut v = Vec::with_capacity(n);
        mul_finish_into(self.party, opened, &self.t.a, &self.t.b, &self.t.c, &mut v);
        Ok(Shared {
            v,
            rows: self.shape.0,
            cols: self.shape.1,
        })
    }
}

/// Squaring, waiting for d = x - a.
pub struct SquarePending {
    party: usize,
    s: SquarePairs,
    shape: (usize, usize),
}

/// Starts x^2 with a square pair (one opening instead of a triple's two).
///
/// # Errors
/// [`MpcError::InvalidInput`] if the number of pairs differs from the length.
pub fn square_start(
    party: usize,
    x: &Shared,
    s: SquarePairs,
) -> Result<(Vec<u64>, SquarePending), MpcError> {
    if s.a.len() != x.len() {
        return Err(MpcError::InvalidInput(format!(
            "{} square pairs for {} values",
            s.a.len(),
            x.len()
        )));
    }
    let open =
        x.v.iter()
            .zip(&s.a)
            .map(|(x, a)| x.wrapping_sub(*a))
            .collect();
    Ok((
        open,
        SquarePending {
            party,
            s,
            shape: x.shape(),
        },
    ))
}

impl SquarePending {
    /// x^2 = a^2 + 2 d a + d^2 (the last term at party 0).
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if `opened` has the wrong length.
    pub fn finish(self, opened: &[u64]) -> Result<Shared, MpcError> {
        check_open(opened, self.s.a.len())?;
        let p0 = u64::from(self.party == 0);
        let v = opened
            .iter()
            .zip(self.s.a.iter().zip(&self.s.a2))
            .map(|(d, (a, a2))| {
                a2.wrapping_add(d.wrapping_mul(a.wrapping_mul(2)))
                    .wrapping_add(p0.wrapping_mul(d.wrapping_mul(*d)))
            })
            .collect();
        Ok(Shared {
            v,
            rows: self.shape.0,
            cols: self.shape.1,
        })
    }
}

/// Matrix product, waiting for E = X - U and F = Y - V.
pub struct MatMulPending {
    party: usize,
    t: MatrixTriple,
}

/// Starts X Y (m x k times k x n) with a matrix triple: opens m k + k n values instead of
/// the m k n of elementwise triples.
///
/// # Errors
/// [`MpcError::InvalidInput`] if the shapes do not chain or do not match the triple.
pub fn matmul_start(
    party: usize,
    x: &Shared,
    y: &Shared,
    t: MatrixTriple,
) -> Result<(Vec<u64>, MatMulPending), MpcError> {
    let (m, k) = x.shape();
    let (k2, n) = y.shape();
    if k != k2 || t.shape != (m, k, n) {
        return Err(MpcError::InvalidInput(format!(
            "cannot multiply {m}x{k} by {k2}x{n} with a {:?} triple",
            t.shape
        )));
    }
    let mut open = Vec::with_capacity(m * k + k * n);
    open.extend(x.v.iter().zip(&t.u).map(|(x, u)| x.wrapping_sub(*u)));
    open.extend(y.v.iter().zip(&t.v).map(|(y, v)| y.wrapping_sub(*v)));
    Ok((open, MatMulPending { party, t }))
}

impl MatMulPending {
    /// Z = W + E V + U F (+ E F at party 0), computed as E (V + F) + U F at party 0.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if `opened` has the wrong length.
    pub fn finish(self, opened: &[u64]) -> Result<Shared, MpcError> {
        let (m, k, n) = self.t.shape;
        check_open(opened, m * k + k * n)?;
        let (e, f) = opened.split_at(m * k);
        let right: Vec<u64> = if self.party == 0 {
            self.t
                .v
                .iter()
                .zip(f)
                .map(|(v, f)| v.wrapping_add(*f))
                .collect()
        } else {
            self.t.v.clone()
        };
        let ev = matmul_plain(e, &right, m, k, n);
        let uf = matmul_plain(&self.t.u, f, m, k, n);
        let v = (0..m * n)
            .map(|i| self.t.w[i].wrapping_add(ev[i]).wrapping_add(uf[i]))
            .collect();
        Ok(Shared {
            v,
            rows: m,
            cols: n,
        })
    }
}

/// Dealer-assisted truncation, waiting for c = x + 2^62 + r.
pub struct TruncPending {
    party: usize,
    p: TruncPairs,
    shape: (usize, usize),
}

/// Starts the truncation of x by `p.bits` bits (x signed, |x| < 2^62).
///
/// The method (the TruncAPr idea of Escudero et al., eprint 2020/338, over Z_2^64): shift x
/// to x' = x + 2^62 in [0, 2^63), open c = x' + r for a uniform r, and correct the
/// wrap-around with the shared top bit of r. The result is floor(x / 2^m) or that plus one
/// (probabilistic rounding, unbiased), never a large error, and c reveals nothing since r
/// is uniform.
///
/// # Errors
/// [`MpcError::InvalidInput`] if the number of pairs differs from the length.
pub fn trunc_start(
    party: usize,
    x: &Shared,
    p: TruncPairs,
) -> Result<(Vec<u64>, TruncPending), MpcError> {
    if p.r.len() != x.len() {
        return Err(MpcError::InvalidInput(format!(
            "{} truncation pairs for {} values",
            p.r.len(),
            x.len()
        )));
    }
    let shift = if party == 0 { 1u64 << 62 } else { 0 };
    let open =
        x.v.iter()
            .zip(&p.r)
            .map(|(x, r)| x.wrapping_add(*r).wrapping_add(shift))
            .collect();
    Ok((
        open,
        TruncPending {
            party,
            p,
            shape: x.shape(),
        },
    ))
}

impl TruncPending {
    /// y = (c mod 2^63) >> m + w 2^(63-m) - r_high - 2^(62-m), w = c_msb xor r_msb.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if `opened` has the wrong length.
    pub fn finish(self, opened: &[u64]) -> Result<Shared, MpcError> {
        check_open(opened, self.p.r.len())?;
        let m = self.p.bits;
        let p0 = self.party == 0;
        let v = opened
            .iter()
            .zip(self.p.msb.iter().zip(&self.p.high))
            .map(|(c, (r_msb, r_high))| {
                let c_msb = c >> 63;
                let c_low = c & (u64::MAX >> 1);
                // w = c_msb + r_msb - 2 c_msb r_msb, shared: r_msb (1 - 2 c_msb) + [p0] c_msb.
                let mut w = r_msb.wrapping_mul(1u64.wrapping_sub(2 * c_msb));
                let mut y = 0u64.wrapping_sub(*r_high);
                if p0 {
                    w = w.wrapping_add(c_msb);
                    y = y.wrapping_add(c_low >> m).wrapping_sub(1u64 << (62 - m));
                }
                y.wrapping_add(w.wrapping_mul(1u64 << (63 - m)))
            })
            .collect();
        Ok(Shared {
            v,
            rows: self.shape.0,
            cols: self.shape.1,
        })
    }
}

/// SecureML's local truncation for two parties (no communication, no correlated
/// randomness): party 0 shifts its share arithmetically, party 1 shifts the negation of
/// its share and negates back.
///
/// # Errors
/// [`MpcError::InvalidInput`] unless exactly two parties take part (`parties == 2`).
///
/// # Accuracy
/// For |x| < 2^l the result is floor(x / 2^m) or one more, except with probability at most
/// 2^(l + 1 - 64) over the sharing, when it is off by about 2^(64-m) (a wrapped share).
/// With f = 16 and |x| < 2^40 (products of reals up to 2^4) that is 2^-23 per value: too
/// often for long computations, which should use the dealer-assisted truncation.
pub fn trunc_local(
    party: usize,
    parties: usize,
    x: &Shared,
    bits: u32,
) -> Result<Shared, MpcError> {
    if parties != 2 || party > 1 || bits == 0 || bits > 62 {
        return Err(MpcError::InvalidInput(
            "local truncation is for two parties and shifts of 1..=62 bits".into(),
        ));
    }
    let v =
        x.v.iter()
            .map(|s| {
                if party == 0 {
                    ((*s as i64) >> bits) as u64
                } else {
                    (((s.wrapping_neg() as i64) >> bits) as u64).wrapping_neg()
                }
            })
            .collect();
    Ok(Shared {
        v,
        rows: x.rows,
        cols: x.cols,
    })
}
