//! Fixed-window exponentiation (window 5; 4 for short exponents), multi-exponentiation
//! and fixed-base combs on the limb-count-specialised kernels.
//!
//! # Security
//! Constant time in the exponents, the bases and the modulus: the window positions and
//! counts are public (they depend only on the public exponent bound); each window's digit
//! selects its table entry by reading every entry under a mask.

use zeroize::{Zeroize, Zeroizing};

use super::kernel::{Rows, eq_mask, mont_mul, mont_sqr};

/// Window width in bits.
pub(crate) const WINDOW: u32 = 5;
/// Entries per table.
pub(crate) const TABLE: usize = 1 << WINDOW;

/// The modulus and its constants for one limb count.
pub(crate) struct Mod<'a, const N: usize> {
    pub(crate) m: &'a [u64; N],
    pub(crate) minv: u64,
    /// R mod m: the Montgomery form of 1.
    pub(crate) one: &'a [u64; N],
}

/// The digit of width `min(window, bits - pos)` at bit `pos` of `e` (little-endian limbs;
/// limbs past the end read as zero). Public position, secret value.
#[inline(always)]
pub(crate) fn digit(e: &[u64], pos: u32, bits: u32, window: u32) -> u64 {
    let width = window.min(bits - pos);
    let (limb, shift) = ((pos / 64) as usize, pos % 64);
    let lo = e.get(limb).copied().unwrap_or(0) >> shift;
    let hi = if shift + width > 64 {
        e.get(limb + 1).copied().unwrap_or(0) << (64 - shift)
    } else {
        0
    };
    (lo | hi) & ((1u64 << width) - 1)
}

/// `out = table[d]` for a table of `N`-limb entries stored flat, reading every entry.
/// Constant time in `d`.
#[inline(always)]
pub(crate) fn select<const N: usize>(table: &[u64], d: u64, out: &mut [u64; N]) {
    *out = [0u64; N];
    for (j, entry) in table.chunks_exact(N).enumerate() {
        let mask = eq_mask(j as u64, d);
        for k in 0..N {
            out[k] |= entry[k] & mask;
        }
    }
}

/// `[1, b, b^2, .., b^(size-1)]` in Montgomery form, wiped on drop.
fn powers<const N: usize, const W: usize, K: Rows>(
    b: &[u64; N],
    size: usize,
    md: &Mod<'_, N>,
) -> Zeroizing<Vec<[u64; N]>> {
    let mut t = Zeroizing::new(vec![[0u64; N]; size]);
    t[0] = *md.one;
    t[1] = *b;
    for j in 2..size {
        let mut next = [0u64; N];
        if j % 2 == 0 {
            mont_sqr::<N, W, K>(&t[j / 2], md.m, md.minv, &mut next);
        } else {
            mont_mul::<N, W, K>(&t[j - 1], b, md.m, md.minv, &mut next);
        }
        t[j] = next;
        next.zeroize();
    }
    t
}

/// `b^e` (Montgomery form in and out) for `e < 2^bits`.
pub(crate) fn pow<const N: usize, const W: usize, K: Rows>(
    b: &[u64; N],
    e: &[u64],
    bits: u32,
    md: &Mod<'_, N>,
    out: &mut [u64; N],
) {
    multi_pow::<N, W, K>(core::slice::from_ref(b), &[e], bits, md, out);
}

/// The window width for `terms` exponents of `bits` bits that costs the fewest products:
/// each term's table takes 2^w - 2 products and its windows bits / w more, against the
/// squarings every width shares. Five for long exponents; four for short ones (a
/// 64-bit scalar, the weights of a dot product). Depends only on public sizes.
pub(crate) fn window_for(bits: u32, terms: usize) -> u32 {
    let cost = |w: u32| terms as u64 * ((1u64 << w) - 2 + u64::from(bits.div_ceil(w)));
    if cost(4) < cost(WINDOW) { 4 } else { WINDOW }
}

/// `prod_i b_i^(e_i)` (Montgomery form) for exponents below `2^bits`, sharing the
/// squarings.
pub(crate) fn multi_pow<const N: usize, const W: usize, K: Rows>(
    bases: &[[u64; N]],
    exps: &[&[u64]],
    bits: u32,
    md: &Mod<'_, N>,
    out: &mut [u64; N],
) {
    debug_assert_eq!(bases.len(), exps.len());
    let window = window_for(bits, bases.len());
    let tables: Vec<Zeroizing<Vec<[u64; N]>>> = bases
        .iter()
        .map(|b| powers::<N, W, K>(b, 1 << window, md))
        .collect();
    let windows = bits.div_ceil(window);
    let mut acc = Zeroizing::new(*md.one);
    let mut sel = Zeroizing::new([0u64; N]);
    let mut tmp = Zeroizing::new([0u64; N]);
    for w in (0..windows).rev() {
        if w + 1 != windows {
            for _ in 0..window {
                mont_sqr::<N, W, K>(&acc, md.m, md.minv, &mut tmp);
                core::mem::swap(&mut *acc, &mut *tmp);
            }
        }
        for (table, e) in tables.iter().zip(exps) {
            let mut d = digit(e, w * window, bits, window);
            select(table.as_flattened(), d, &mut sel);
            d.zeroize();
            mont_mul::<N, W, K>(&acc, &sel, md.m, md.minv, &mut tmp);
            core::mem::swap(&mut *acc, &mut *tmp);
        }
    }
    *out = *acc;
}

/// A fixed-base comb of `b` for exponents below `2^bits`, stored flat: row i holds
/// `b^(d 32^i)` for d < 32, so `b^e` costs one table read and one multiplication per 5
/// exponent bits and no squaring.
pub(crate) fn comb_build<const N: usize, const W: usize, K: Rows>(
    b: &[u64; N],
    bits: u32,
    md: &Mod<'_, N>,
) -> Zeroizing<Vec<u64>> {
    let windows = bits.div_ceil(WINDOW) as usize;
    let mut rows = Zeroizing::new(Vec::with_capacity(windows * TABLE * N));
    let mut base = Zeroizing::new(*b);
    for _ in 0..windows {
        let row = powers::<N, W, K>(&base, TABLE, md);
        // next base = base^32 = (base^16)^2
        mont_sqr::<N, W, K>(&row[TABLE / 2], md.m, md.minv, &mut base);
        for entry in row.iter() {
            rows.extend_from_slice(entry);
        }
    }
    rows
}

/// `b^e` from `comb_build`'s rows, for `e < 2^bits`.
pub(crate) fn comb_pow<const N: usize, const W: usize, K: Rows>(
    rows: &[u64],
    bits: u32,
    e: &[u64],
    md: &Mod<'_, N>,
    out: &mut [u64; N],
) {
    let windows = bits.div_ceil(WINDOW) as usize;
    debug_assert_eq!(rows.len(), windows * TABLE * N);
    let mut acc = Zeroizing::new(*md.one);
    let mut sel = Zeroizing::new([0u64; N]);
    let mut tmp = Zeroizing::new([0u64; N]);
    for (w, row) in rows.chunks_exact(TABLE * N).enumerate() {
        let mut d = digit(e, w as u32 * WINDOW, bits, WINDOW);
        select(row, d, &mut sel);
        d.zeroize();
        mont_mul::<N, W, K>(&acc, &sel, md.m, md.minv, &mut tmp);
        core::mem::swap(&mut *acc, &mut *tmp);
    }
    *out = *acc;
}
