//! Key derivation (HKDF-SHA256) and the mask generator (ChaCha20).
//!
//! Every key is derived with the session identifier as the HKDF salt and an `info` string
//! that names its purpose, the protocol round and the parties, so no key (and so no
//! keystream) is ever used for two things:
//! - share encryption: `shroud-secagg-v1 share` || sender || recipient || both encryption
//!   public keys, from the X25519 agreement of the two encryption keys;
//! - pairwise masks: `shroud-secagg-v1 pair mask` || round || min(u, v) || max(u, v),
//!   from the X25519 agreement of the two mask keys (both sides derive the same key);
//! - self masks: `shroud-secagg-v1 self mask` || round, from the self-mask seed b_u;
//! - the X25519 mask secret key: `shroud-secagg-v1 mask key`, from the shared scalar.
//!
//! The mask of a key is the ChaCha20 keystream (RFC 8439: 96-bit nonce 0, block counter
//! from 0; the crate's AVX2 backend, 4 blocks at a time) read as
//! little-endian 32-bit words when the modulus is at most 2^32, 64-bit words otherwise;
//! reduced modulo 2^b they are uniform.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::ClientId;

/// The protocol round whose masks the keys derive (the masked-input round).
pub(crate) const MASK_ROUND: u8 = 3;

/// A 32-byte derived key, zeroized on drop.
pub(crate) type Key = Zeroizing<[u8; 32]>;

pub(crate) fn derive(ikm: &[u8], session: &[u8; 32], info: &[&[u8]]) -> Key {
    let hk = Hkdf::<Sha256>::new(Some(session), ikm);
    let mut okm = Zeroizing::new([0u8; 32]);
    let info: Vec<u8> = info.concat();
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so expand cannot fail.
    hk.expand(&info, okm.as_mut())
        .expect("32 bytes is within HKDF-SHA256's output limit");
    okm
}

/// The key that encrypts the shares `from` sends to `to`.
pub(crate) fn share_key(
    shared: &[u8; 32],
    session: &[u8; 32],
    from: ClientId,
    to: ClientId,
    from_pk: &[u8; 32],
    to_pk: &[u8; 32],
) -> Key {
    derive(
        shared,
        session,
        &[
            b"shroud-secagg-v1 share",
            &from.to_le_bytes(),
            &to.to_le_bytes(),
            from_pk,
            to_pk,
        ],
    )
}

/// The key of the pairwise mask between u and v.
pub(crate) fn pair_key(shared: &[u8; 32], session: &[u8; 32], u: ClientId, v: ClientId) -> Key {
    let (lo, hi) = (u.min(v), u.max(v));
    derive(
        shared,
        session,
        &[
            b"shroud-secagg-v1 pair mask",
            &[MASK_ROUND],
            &lo.to_le_bytes(),
            &hi.to_le_bytes(),
        ],
    )
}

/// The key of a client's self mask, from its seed b_u.
pub(crate) fn self_key(seed: &[u8; 32], session: &[u8; 32]) -> Key {
    derive(
        seed,
        session,
        &[b"shroud-secagg-v1 self mask", &[MASK_ROUND]],
    )
}

/// The X25519 mask secret key's bytes, from the shared scalar.
pub(crate) fn mask_secret(scalar: &[u8; 32], session: &[u8; 32]) -> Key {
    derive(scalar, session, &[b"shroud-secagg-v1 mask key"])
}

/// Values per pass when many masks go onto one vector: the slice of the vector (16 KiB)
/// and one keystream block (8 KiB) stay in the L1 cache while every mask is added.
const MULTI_CHUNK: usize = 2048;

/// Adds the masks of all `keys` (subtracting those marked `true`) to `acc`, modulo 2^64,
/// a slice of the vector at a time, so the vector is read from memory once rather than
/// once per mask; the caller reduces modulo 2^b at the end. `wide` selects 64-bit words
/// (moduli over 2^32).
///
/// # Security
/// Constant time in the keys and the masks. The keystream buffer is zeroized afterwards
/// and the ChaCha20 states when dropped.
pub(crate) fn apply_masks(acc: &mut [u64], keys: &[(Key, bool)], wide: bool) {
    let mut ciphers: Vec<(ChaCha20, bool)> = keys
        .iter()
        .map(|(k, neg)| {
            let key: &[u8; 32] = k;
            (ChaCha20::new(key.into(), &[0u8; 12].into()), *neg)
        })
        .collect();
    let mut buf = [0u8; MULTI_CHUNK * 8];
    let wb = if wide { 8 } else { 4 };
    for chunk in acc.chunks_mut(MULTI_CHUNK) {
        let bytes = &mut buf[..chunk.len() * wb];
        for (cipher, negate) in &mut ciphers {
            // The longest vector (2^27 values of 8 bytes) is far below the 256 GiB a
            // ChaCha20 (RFC 8439) key and nonce can produce, so this cannot run out.
            cipher.write_keystream(bytes);
            match (wide, *negate) {
                (false, false) => add32(chunk, bytes),
                (false, true) => sub32(chunk, bytes),
                (true, false) => add64(chunk, bytes),
                (true, true) => sub64(chunk, bytes),
            }
        }
    }
    buf.zeroize();
}

fn word32(b: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn word64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn add32(acc: &mut [u64], bytes: &[u8]) {
    for (a, w) in acc.iter_mut().zip(bytes.chunks_exact(4)) {
        *a = a.wrapping_add(word32(w));
    }
}

fn sub32(acc: &mut [u64], bytes: &[u8]) {
    for (a, w) in acc.iter_mut().zip(bytes.chunks_exact(4)) {
        *a = a.wrapping_sub(word32(w));
    }
}

fn add64(acc: &mut [u64], bytes: &[u8]) {
    for (a, w) in acc.iter_mut().zip(bytes.chunks_exact(8)) {
        *a = a.wrapping_add(word64(w));
    }
}

fn sub64(acc: &mut [u64], bytes: &[u8]) {
    for (a, w) in acc.iter_mut().zip(bytes.chunks_exact(8)) {
        *a = a.wrapping_sub(word64(w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cancel_and_depend_on_everything() {
        let s = [7u8; 32];
        let k = pair_key(&[1u8; 32], &s, 3, 9);
        assert_eq!(*k, *pair_key(&[1u8; 32], &s, 9, 3));
        assert_ne!(*k, *pair_key(&[1u8; 32], &s, 3, 8));
        assert_ne!(*k, *pair_key(&[1u8; 32], &[8u8; 32], 3, 9));
        assert_ne!(
            *share_key(&[1u8; 32], &s, 3, 9, &[0; 32], &[1; 32]),
            *share_key(&[1u8; 32], &s, 9, 3, &[1; 32], &[0; 32])
        );
        let k2 = pair_key(&[2u8; 32], &s, 3, 9);
        for wide in [false, true] {
            // One mask at a time or both at once: the same; adding and subtracting cancel.
            let mut a = vec![1u64; 5000];
            let mut b = a.clone();
            apply_masks(&mut a, &[(k.clone(), false)], wide);
            apply_masks(&mut a, &[(k2.clone(), true)], wide);
            apply_masks(&mut b, &[(k.clone(), false), (k2.clone(), true)], wide);
            assert_eq!(a, b);
            assert!(a.iter().filter(|&&x| x == 1).count() < 3);
            apply_masks(&mut a, &[(k.clone(), true), (k2.clone(), false)], wide);
            assert!(a.iter().all(|&x| x == 1));
        }
    }
}
