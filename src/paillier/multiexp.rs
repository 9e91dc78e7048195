//! Constant-time fixed-window multi-exponentiation: prod_i b_i^(e_i) sharing the squarings.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Choice, CtAssign};

pub(crate) const WINDOW: u32 = 4;
pub(crate) const TABLE: usize = 1 << WINDOW;

pub(crate) fn nibble(e: &BoxedUint, window: u32) -> u64 {
    let pos = window * WINDOW;
    let (limb, shift) = ((pos / 64) as usize, pos % 64);
    // Public position, secret value: indexing by the position leaks nothing.
    e.as_words()
        .get(limb)
        .map_or(0, |w| (w >> shift) & (TABLE as u64 - 1))
}

/// prod_i bases[i]^(exps[i]) for exponents below 2^bound_bits.
///
/// # Security
/// Constant time in the exponents (the window digits select table entries by a full
/// constant-time scan); `bound_bits` and the number of terms are public.
pub(crate) fn multi_exp(
    bases: &[BoxedMontyForm],
    exps: &[BoxedUint],
    bound_bits: u32,
    params: &BoxedMontyParams,
) -> BoxedMontyForm {
    debug_assert_eq!(bases.len(), exps.len());
    let one = BoxedMontyForm::one(params);
    let tables: Vec<Vec<BoxedMontyForm>> = bases
        .iter()
        .map(|b| {
            let mut t = Vec::with_capacity(TABLE);
            t.push(one.clone());
            t.push(b.clone());
            for j in 2..TABLE {
                let next = &t[j - 1] * b;
                t.push(next);
            }
            t
        })
        .collect();
    let windows = bound_bits.div_ceil(WINDOW);
    let mut acc = one.clone();
    for w in (0..windows).rev() {
        if w + 1 != windows {
            for _ in 0..WINDOW {
                acc = acc.square();
            }
        }
        for (table, e) in tables.iter().zip(exps) {
            let d = nibble(e, w);
            let mut sel = table[0].clone();
            for (j, entry) in table.iter().enumerate().skip(1) {
                sel.ct_assign(entry, Choice::from_u64_eq(d, j as u64));
            }
            acc = &acc * &sel;
        }
    }
    acc
}
