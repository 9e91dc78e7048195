//! Two-party Beaver triples with no dealer, on shroud's Paillier (the SecureML / Gilboa
//! style offline phase).
//!
//! Party A holds a Paillier key. For c = (a_A + a_B)(b_A + b_B):
//! 1. A sends E(a_A\[i\]) and E(b_A\[i\]) for every triple (key-owner CRT encryption, on all
//!    cores).
//! 2. B computes, per triple, E(a_A b_B + b_A a_B) by a two-term multi-exponentiation with
//!    its 64-bit shares as exponents, packs [`slots`]-many (12 for 2048 bits) of them into one ciphertext
//!    (slot k shifted by k * [`SLOT_BITS`] bits, by Horner's rule with public squarings),
//!    adds a packed mask rho with rho_k uniform in [0, 2^169), rerandomizes and returns it.
//! 3. A decrypts one ciphertext per packed group and takes each slot mod 2^64 as its share of
//!    the cross term; B's share is -rho_k mod 2^64.
//!
//! Each cross term is below 2^129, so a 169-bit mask hides it to within statistical distance
//! 2^-40, and the 170-bit slots never carry into each other. With a 2048-bit key 12 slots fit
//! (12 * 170 = 2040 < 2047). Security is against semi-honest parties: B learns only
//! ciphertexts, A only masked sums.

use num_bigint::{BigInt, BigUint};
use rand_core::CryptoRng;
use rayon::prelude::*;

use super::dealer::Material;
use super::error::MpcError;
use super::party::Mesh;
use crate::paillier::{Ciphertext, Plaintext, PublicKey, SecretKey};

/// Bits per packed slot: 129 bits of cross term, a 40-bit statistical margin, one guard bit.
pub const SLOT_BITS: u32 = 170;
/// Statistical security of the masks, in bits.
pub const STAT_BITS: u32 = 40;

/// Slots per ciphertext for a key of `bits` bits.
pub fn slots(bits: u32) -> usize {
    ((bits - 2) / SLOT_BITS) as usize
}

fn random_u64s<R: CryptoRng + ?Sized>(n: usize, rng: &mut R) -> Vec<u64> {
    (0..n).map(|_| rng.next_u64()).collect()
}

fn random_bits<R: CryptoRng + ?Sized>(bits: u32, rng: &mut R) -> BigUint {
    let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
    rng.fill_bytes(&mut bytes);
    let extra = bytes.len() as u32 * 8 - bits;
    bytes[0] &= 0xff >> extra;
    BigUint::from_bytes_be(&bytes)
}

fn frames_of(cts: &[Ciphertext]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(cts.len() as u32).to_be_bytes());
    for c in cts {
        let b = c.to_bytes_be();
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(&b);
    }
    out
}

fn parse_cts(
    pk: &PublicKey,
    party: usize,
    f: &[u8],
    want: usize,
) -> Result<Vec<Ciphertext>, MpcError> {
    let bad = |r: &str| MpcError::Malformed {
        party,
        reason: r.to_string(),
    };
    if f.len() < 4 {
        return Err(bad("truncated ciphertext list"));
    }
    let n = u32::from_be_bytes(f[..4].try_into().expect("4 bytes")) as usize;
    if n != want {
        return Err(bad(&format!("{n} ciphertexts, expected {want}")));
    }
    let mut at = 4;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = f
            .get(at..at + 4)
            .ok_or_else(|| bad("truncated ciphertext list"))?;
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let b = f
            .get(at + 4..at + 4 + len)
            .ok_or_else(|| bad("truncated ciphertext"))?;
        out.push(pk.ciphertext_from_bytes_be(b)?);
        at += 4 + len;
    }
    if at != f.len() {
        return Err(bad("trailing bytes after the ciphertexts"));
    }
    Ok(out)
}

/// Party A (the key holder): produces `count` triples with party B over `mesh` (two
/// parties; A is whichever index holds the key).
///
/// # Errors
/// [`MpcError::InvalidInput`] for a key under 1024 bits or a mesh of more than two parties;
/// B's malformed or invalid ciphertexts; transport errors.
pub fn triples_key_holder<R: CryptoRng + ?Sized>(
    mesh: &mut Mesh,
    sk: &SecretKey,
    count: usize,
    rng: &mut R,
) -> Result<Material, MpcError> {
    let pk = sk.public_key();
    let k = slots(pk.bits());
    if mesh.parties() != 2 || k == 0 {
        return Err(MpcError::InvalidInput(
            "two parties and a key of at least 1024 bits".into(),
        ));
    }
    let peer = 1 - mesh.me();
    let a = random_u64s(count, rng);
    let b = random_u64s(count, rng);
    let plain: Vec<Plaintext> = a
        .iter()
        .chain(&b)
        .map(|&v| Plaintext::from_u64(pk, v))
        .collect();
    let cts = sk.encrypt_batch(&plain, rng)?;
    let mut msg = pk.n().to_bytes_be();
    msg.splice(0..0, (msg.len() as u32).to_be_bytes());
    msg.extend_from_slice(&frames_of(&cts));
    mesh.exchange_all(msg)?;
    let frames = mesh.exchange_all(Vec::new())?;
    let packed = parse_cts(pk, peer, &frames[peer], count.div_ceil(k))?;
    let sums = sk.decrypt_batch(&packed)?;
    let mask64 = (BigUint::from(1u8) << 64u32) - 1u8;
    let slot_mask = (BigUint::from(1u8) << SLOT_BITS) - 1u8;
    let mut c = Vec::with_capacity(count);
    for (g, s) in sums.iter().enumerate() {
        let mut v = s.to_biguint_vartime();
        for slot in 0..k {
            let i = g * k + slot;
            if i >= count {
                break;
            }
            let cross = (&v & &slot_mask) & &mask64;
            let cross = u64::try_from(&cross).expect("masked to 64 bits");
            c.push(a[i].wrapping_mul(b[i]).wrapping_add(cross));
            v >>= SLOT_BITS;
        }
    }
    Material::from_beaver(a, b, c)
}

/// Party B: produces `count` triples with the key holder over `mesh`.
///
/// # Errors
/// [`MpcError::InvalidInput`] if the key holder's key is under `min_bits`; its malformed or
/// invalid ciphertexts; transport errors.
pub fn triples_helper<R: CryptoRng + ?Sized>(
    mesh: &mut Mesh,
    count: usize,
    min_bits: u32,
    rng: &mut R,
) -> Result<Material, MpcError> {
    if mesh.parties() != 2 {
        return Err(MpcError::InvalidInput(
            "the Paillier offline phase is for two parties".into(),
        ));
    }
    let peer = 1 - mesh.me();
    let frames = mesh.exchange_all(Vec::new())?;
    let f = &frames[peer];
    let bad = |r: &str| MpcError::Malformed {
        party: peer,
        reason: r.to_string(),
    };
    let nlen = f.get(..4).ok_or_else(|| bad("truncated key"))?;
    let nlen = u32::from_be_bytes(nlen.try_into().expect("4 bytes")) as usize;
    let n = f.get(4..4 + nlen).ok_or_else(|| bad("truncated key"))?;
    let pk = PublicKey::from_modulus(&BigUint::from_bytes_be(n))?;
    if pk.bits() < min_bits {
        return Err(MpcError::InvalidInput(format!(
            "the key holder's key has {} bits, under {min_bits}",
            pk.bits()
        )));
    }
    let k = slots(pk.bits());
    let cts = parse_cts(&pk, peer, &f[4 + nlen..], 2 * count)?;
    let (ea, eb) = cts.split_at(count);
    let a = random_u64s(count, rng);
    let b = random_u64s(count, rng);
    let groups = count.div_ceil(k);
    let masks: Vec<Vec<BigUint>> = (0..groups)
        .map(|g| {
            (0..k.min(count - g * k))
                .map(|_| random_bits(SLOT_BITS - 1, rng))
                .collect()
        })
        .collect();
    // Wiped on drop, like the ChaCha20 states made from them.
    let mut seeds = zeroize::Zeroizing::new(vec![[0u8; 32]; groups]);
    for s in seeds.iter_mut() {
        rng.fill_bytes(s);
    }
    let shift = BigInt::from(1u8) << SLOT_BITS;
    let packed: Vec<Ciphertext> = (0..groups)
        .into_par_iter()
        .map(|g| -> Result<Ciphertext, MpcError> {
            let lo = g * k;
            let hi = (lo + k).min(count);
            // Horner from the top slot down: P = P^(2^w) * E(a_A b_B + b_A a_B).
            let mut p: Option<Ciphertext> = None;
            for i in (lo..hi).rev() {
                let term = pk.dot_plaintexts(
                    &[ea[i].clone(), eb[i].clone()],
                    &[
                        Plaintext::from_u64(&pk, b[i]),
                        Plaintext::from_u64(&pk, a[i]),
                    ],
                    Some(65),
                )?;
                p = Some(match p {
                    None => term,
                    Some(prev) => pk.add(&pk.mul_scalar_vartime(&prev, &shift)?, &term)?,
                });
            }
            let p = p.ok_or_else(|| MpcError::InvalidInput("empty group".into()))?;
            let mut rho = BigUint::from(0u8);
            for m in masks[g].iter().rev() {
                rho = (rho << SLOT_BITS) + m;
            }
            let masked = pk.add_plaintext(&p, &Plaintext::from_biguint(&pk, &rho)?)?;
            let mut child = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seeds[g]);
            Ok(pk.rerandomize(&masked, &mut child)?)
        })
        .collect::<Result<_, _>>()?;
    mesh.exchange_all(frames_of(&packed))?;
    let low = |m: &BigUint| -> u64 {
        let digits = m.to_u64_digits();
        digits.first().copied().unwrap_or(0)
    };
    let c: Vec<u64> = (0..count)
        .map(|i| {
            let rho = low(&masks[i / k][i % k]);
            a[i].wrapping_mul(b[i]).wrapping_sub(rho)
        })
        .collect();
    Material::from_beaver(a, b, c)
}
