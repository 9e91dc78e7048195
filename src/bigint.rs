//! Conversions between crypto-bigint's constant-time `BoxedUint` and num-bigint's `BigUint`
//! (used for public, variable-time work: parsing, printing, interop, test oracles).

use crypto_bigint::BoxedUint;
use num_bigint::BigUint;

/// Round a bit length up to whole 64-bit limbs.
pub(crate) fn limb_precision(bits: u32) -> u32 {
    bits.div_ceil(64).max(1) * 64
}

/// `BigUint` -> `BoxedUint` with exactly `precision` bits.
///
/// Variable time in the value's length: use only on public values or at a trust boundary
/// where the length is public. Returns `None` if the value does not fit.
pub(crate) fn to_boxed_vartime(x: &BigUint, precision: u32) -> Option<BoxedUint> {
    if x.bits() > u64::from(precision) {
        return None;
    }
    let mut bytes = x.to_bytes_be();
    let width = (precision / 8) as usize;
    let mut padded = vec![0u8; width - bytes.len()];
    padded.append(&mut bytes);
    BoxedUint::from_be_slice(&padded, precision).ok()
}

/// `BoxedUint` -> `BigUint`. Variable time: public values only (or a decrypted result handed
/// to the caller, whose later use is theirs to judge).
pub(crate) fn to_biguint_vartime(x: &BoxedUint) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes())
}

/// Resize to `precision` bits: zero-extends, or truncates to the low limbs (callers
/// guarantee the value fits, or want the value mod 2^precision). Constant time.
pub(crate) fn resize(x: &BoxedUint, precision: u32) -> BoxedUint {
    crypto_bigint::Resize::resize_unchecked(x, precision)
}

/// Splits a `CtOption` into its value (crypto-bigint's placeholder when none) and its
/// flag, without a branch and without leaving an unwiped copy behind. Constant time.
pub(crate) fn ct_take<T>(opt: crypto_bigint::CtOption<T>) -> (T, crypto_bigint::Choice) {
    let ok = opt.is_some();
    let mut slot = None;
    let _ = opt.map(|v| slot = Some(v));
    // `CtOption::map` applies its function unconditionally, so the slot is filled.
    (slot.expect("CtOption::map applies its function"), ok)
}
