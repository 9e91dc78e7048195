//! Montgomery multiplication and squaring for a fixed limb count `N` (with `W = 2N`), built
//! on one row primitive (`t += x * v`), which a backend supplies.
//!
//! Product scanning is separated from reduction: the full `2N`-limb product (or square)
//! first, then `N` reduction rows. Every loop bound is a constant of the instantiation, so
//! the compiler unrolls the portable rows and drops the bounds checks.
//!
//! # Security
//! Constant time: no branch and no address depends on an operand or on the modulus; the
//! final subtraction is a masked select.

/// `t[..] += x * v[..]` over `v.len()` limbs, returning the carry-out word.
///
/// Lengths are public; callers pass `t.len() == v.len()`.
pub(crate) trait Rows {
    /// The row operation.
    fn addmul(t: &mut [u64], v: &[u64], x: u64) -> u64;
}

/// The portable backend: 64x64 -> 128-bit products in safe Rust.
pub(crate) struct Portable;

#[inline(always)]
fn mac(t: u64, a: u64, b: u64, c: u64) -> (u64, u64) {
    // t + a b + c < 2^128: (2^64-1) + (2^64-1)^2 + (2^64-1) = 2^128 - 1.
    let r = u128::from(t) + u128::from(a) * u128::from(b) + u128::from(c);
    (r as u64, (r >> 64) as u64)
}

/// `t += x * v + carry`, returning the carry-out word (portable; also the tail of the
/// assembly backend).
#[inline(always)]
pub(crate) fn addmul_carry(t: &mut [u64], v: &[u64], x: u64, mut carry: u64) -> u64 {
    for (ti, &vi) in t.iter_mut().zip(v) {
        let (lo, hi) = mac(*ti, x, vi, carry);
        *ti = lo;
        carry = hi;
    }
    carry
}

impl Rows for Portable {
    #[inline(always)]
    fn addmul(t: &mut [u64], v: &[u64], x: u64) -> u64 {
        addmul_carry(t, v, x, 0)
    }
}

/// All ones when `a == b`, else zero. Constant time.
#[inline(always)]
pub(crate) fn eq_mask(a: u64, b: u64) -> u64 {
    let x = a ^ b;
    // (x | -x) has its top bit set exactly when x != 0.
    let nonzero = (x | x.wrapping_neg()) >> 63;
    core::hint::black_box(nonzero).wrapping_sub(1)
}

/// Montgomery reduction of the `2N`-limb `t < m R`: returns `t R^-1 mod m`, fully reduced.
/// `t` is overwritten (the caller wipes it).
#[inline(always)]
fn redc<const N: usize, const W: usize, K: Rows>(
    t: &mut [u64; W],
    m: &[u64; N],
    minv: u64,
    out: &mut [u64; N],
) {
    let mut extra = 0u64;
    for i in 0..N {
        let u = t[i].wrapping_mul(minv);
        let c = K::addmul(&mut t[i..i + N], m, u);
        let (s, o1) = t[i + N].overflowing_add(c);
        let (s, o2) = s.overflowing_add(extra);
        t[i + N] = s;
        extra = u64::from(o1 | o2);
    }
    // The value is extra * R + t[N..2N] < 2m: subtract m once when it is at least m.
    let mut borrow = 0u64;
    for j in 0..N {
        let (d, b1) = t[N + j].overflowing_sub(m[j]);
        let (d, b2) = d.overflowing_sub(borrow);
        out[j] = d;
        borrow = u64::from(b1 | b2);
    }
    // Keep the difference when it did not go negative or the top carry was set. The
    // mask passes through `black_box` so that the optimiser cannot see it is all-or-
    // nothing and turn the select into a branch (it did, at 48 limbs, before: caught by
    // the valgrind harness).
    let keep = core::hint::black_box((extra | (borrow ^ 1)).wrapping_neg());
    for j in 0..N {
        out[j] = (out[j] & keep) | (t[N + j] & !keep);
    }
}

/// `a b R^-1 mod m` for `a, b < m` (`R = 2^(64 N)`, `minv = -m^-1 mod 2^64`).
#[inline(always)]
pub(crate) fn mont_mul<const N: usize, const W: usize, K: Rows>(
    a: &[u64; N],
    b: &[u64; N],
    m: &[u64; N],
    minv: u64,
    out: &mut [u64; N],
) {
    let mut t = [0u64; W];
    for i in 0..N {
        t[i + N] = K::addmul(&mut t[i..i + N], b, a[i]);
    }
    redc::<N, W, K>(&mut t, m, minv, out);
    zeroize::Zeroize::zeroize(&mut t);
}

/// `a^2 R^-1 mod m` for `a < m`: the off-diagonal products once, doubled, plus the
/// diagonal, then the reduction (about three quarters of a multiplication's work).
#[inline(always)]
pub(crate) fn mont_sqr<const N: usize, const W: usize, K: Rows>(
    a: &[u64; N],
    m: &[u64; N],
    minv: u64,
    out: &mut [u64; N],
) {
    let mut t = [0u64; W];
    // Row i adds a_i a_j (j > i) at position i + j; its carry lands on t[i + N], which no
    // earlier row has written.
    for i in 0..N - 1 {
        t[i + N] = K::addmul(&mut t[2 * i + 1..i + N], &a[i + 1..], a[i]);
    }
    // t = 2 t + sum a_i^2 2^(128 i), in one pass; a^2 < 2^(128 N), so nothing spills.
    let mut shift_in = 0u64;
    let mut carry = 0u64;
    for i in 0..N {
        let sq = u128::from(a[i]) * u128::from(a[i]);
        let lo = (t[2 * i] << 1) | shift_in;
        shift_in = t[2 * i] >> 63;
        let hi = (t[2 * i + 1] << 1) | shift_in;
        shift_in = t[2 * i + 1] >> 63;
        let s = u128::from(lo) + u128::from(sq as u64) + u128::from(carry);
        t[2 * i] = s as u64;
        let s2 = u128::from(hi) + (sq >> 64) + (s >> 64);
        t[2 * i + 1] = s2 as u64;
        carry = (s2 >> 64) as u64;
    }
    redc::<N, W, K>(&mut t, m, minv, out);
    zeroize::Zeroize::zeroize(&mut t);
}

/// `-m^-1 mod 2^64` for odd `m0`, by Newton's iteration (each step doubles the correct
/// low bits: 1, 2, 4, ..., 64). Constant time.
pub(crate) fn neg_inv(m0: u64) -> u64 {
    let mut inv = 1u64;
    for _ in 0..6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(m0.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}
