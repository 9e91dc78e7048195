//! Masks and offsets of the sum and shares modes: arithmetic in Z_n on secret values,
//! constant time (crypto-bigint's modular add, sub and multiply).

use crypto_bigint::{BoxedUint, CtLt, RandomMod};
use rand_core::CryptoRng;

use crate::paillier::{Plaintext, PublicKey};

/// A uniform element of Z_n (a server's per-session offset u).
pub(crate) fn uniform<R: CryptoRng + ?Sized>(pk: &PublicKey, rng: &mut R) -> Plaintext {
    Plaintext {
        value: BoxedUint::random_mod_vartime(rng, &pk.inner.n),
        key: pk.inner.id,
    }
}

/// A uniform element of [0, n - 2^bits): a mask r such that v + r never wraps mod n for
/// any honest v < 2^bits, while v + r mod n is within 2^bits / n of uniform for every v,
/// honest or not. Rejection happens with probability 2^bits / n; the loop reveals only
/// that a rejected candidate was high.
pub(crate) fn uniform_below_top<R: CryptoRng + ?Sized>(
    pk: &PublicKey,
    bits: u32,
    rng: &mut R,
) -> Plaintext {
    let n = pk.inner.n.as_ref();
    let mut top = BoxedUint::one_with_precision(n.bits_precision()).shl(bits);
    top = n.wrapping_sub(&top);
    loop {
        let r = BoxedUint::random_mod_vartime(rng, &pk.inner.n);
        if bool::from(r.ct_lt(&top)) {
            return Plaintext {
                value: r,
                key: pk.inner.id,
            };
        }
    }
}

/// (a - k b) mod n.
pub(crate) fn sub_multiple(pk: &PublicKey, a: &Plaintext, k: u64, b: &Plaintext) -> Plaintext {
    let k = Plaintext::from_u64(pk, k);
    let kb = k.value.mul_mod(&b.value, &pk.inner.n);
    Plaintext {
        value: a.value.sub_mod(&kb, &pk.inner.n),
        key: pk.inner.id,
    }
}

/// The low `bits` (at most 128) bits of a plaintext.
pub(crate) fn low_bits(p: &Plaintext, bits: u32) -> u128 {
    let w = p.value.as_words();
    let lo = u128::from(w[0]) | (w.get(1).map_or(0, |&x| u128::from(x)) << 64);
    if bits >= 128 {
        lo
    } else {
        lo & ((1u128 << bits) - 1)
    }
}
