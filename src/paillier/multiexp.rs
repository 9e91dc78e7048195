//! Constant-time fixed-window multi-exponentiation: prod_i b_i^(e_i) sharing the squarings,
//! on the crate's Montgomery kernels (`crate::monty`).

use crypto_bigint::BoxedUint;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};

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
    crate::monty::multi_exp(bases, exps, bound_bits, params)
}
