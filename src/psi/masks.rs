//! Masks and offsets of the sum and shares modes: arithmetic in Z_n on secret values,
//! constant time (crypto-bigint's modular add, sub and multiply).

use crypto_bigint::{BoxedUint, CtLt, NonZero, RandomMod};
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

/// 2^bits r for r uniform in [0, floor(n / 2^bits) - 1): the client's mask in server-sum
/// mode. For any honest sum s < 2^bits, s + 2^bits r stays below n (no wrap), so its low
/// `bits` bits are s; whatever s is (a cheating server's plaintexts), the bits above are
/// uniform but for where the addition wraps mod n. `bits` is at most 128 and n has at least
/// 1024 bits.
pub(crate) fn multiple_of_pow2<R: CryptoRng + ?Sized>(
    pk: &PublicKey,
    bits: u32,
    rng: &mut R,
) -> Plaintext {
    let n = pk.inner.n.as_ref();
    let one = BoxedUint::one_with_precision(n.bits_precision());
    let bound = n.shr(bits).wrapping_sub(&one);
    // n >= 2^1023 (MIN_MODULUS_BITS) and bits <= 128, so the bound is at least 2^894.
    let bound = NonZero::new(bound)
        .into_option()
        .unwrap_or_else(|| NonZero::new(one).expect("1 is not zero"));
    let r = BoxedUint::random_mod_vartime(rng, &bound);
    Plaintext {
        value: r.shl(bits),
        key: pk.inner.id,
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
