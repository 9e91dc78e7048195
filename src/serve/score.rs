//! The encrypted dot product, exponent alignment and packing: the service's arithmetic,
//! without any I/O.
//!
//! ## Exponents
//! A python-paillier ciphertext E(m) with exponent e stands for m 16^e, and the exponents
//! of one record's features differ (python-paillier picks each float's exponent from its
//! magnitude). With e_ref = min(0, e_1, .., e_d) and s_i = e_i - e_ref, the service computes
//!
//! E(S) = prod_i E(m_i)^(W_i 16^s_i) * (1 + n)^(B 16^(-e_ref)),   S = sum_i W_i m_i 16^s_i + B 16^(-e_ref)
//!
//! where W_i and B are the weights and intercept at [`WEIGHT_EXPONENT`]. Then
//! S 16^(WEIGHT_EXPONENT + e_ref) = w.x + b, so the answer carries the exponent
//! WEIGHT_EXPONENT + e_ref, and python-paillier's `EncryptedNumber(pk, c, exponent)` decrypts
//! it to the score. The shifts cost extra windows of the multi-exponentiation, not extra
//! exponentiations; they are capped at [`MAX_SHIFT_NIBBLES`].
//!
//! ## Packing
//! With packing, every row of the batch is aligned to the batch's e_ref, and up to k
//! scores go into one ciphertext: slot j holds S_j + 2^(B-1) at bit offset j B, where the
//! slot width B = V + 2 holds the bound |S| < 2^V, one bit for the sign offset and one
//! guard bit, and k = floor((bits(n) - 3) / B) keeps the packed value below 2^(bits(n) - 3),
//! itself below python-paillier's max_int = floor(n / 3) - 1. V = 62 + 4 max(s_max, -e_ref) + mantissa_bits + ceil(log2(d + 1)) + 1 depends only
//! on public quantities (the 62-bit weight bound, the exponents, the client's declared bound
//! on its mantissas), never on the weights. The client decrypts once per pack (raw), cuts
//! the slots and subtracts 2^(B-1). A client whose mantissas exceed its declared bound
//! garbles only its own scores.

use std::sync::atomic::{AtomicBool, Ordering};

use num_bigint::BigUint;
use num_traits::One;
use rayon::prelude::*;

use super::ServeError;
use super::model::{LinearModel, WEIGHT_EXPONENT};
use super::noise::NoiseConfig;
use crate::paillier::{Ciphertext, EncryptedNumber, MAX_SHIFT_NIBBLES, Plaintext, PublicKey};

/// Default bound, in bits, on the magnitude of the clients' mantissas when packing
/// (python-paillier's floats encoded without `precision` have at most 57).
pub const DEFAULT_MANTISSA_BITS: u32 = 64;
/// Largest mantissa bound a client may declare.
pub const MAX_MANTISSA_BITS: u32 = 512;

/// Packed scores: several per ciphertext.
pub struct Packed {
    /// Width of a slot in bits.
    pub slot_bits: u32,
    /// Slots in every ciphertext but possibly the last.
    pub slots: usize,
    /// Number of scores packed.
    pub rows: usize,
    /// The base-16 exponent of every score.
    pub exponent: i32,
    /// The packed ciphertexts, rerandomized.
    pub ciphertexts: Vec<Ciphertext>,
}

/// The result of scoring a request.
pub enum Scored {
    /// One rerandomized encrypted score per row.
    Rows(Vec<EncryptedNumber>),
    /// Packed scores.
    Packed(Packed),
}

fn shifts_of(exps: impl Iterator<Item = i32>, e_ref: i32) -> Result<Vec<u32>, ServeError> {
    exps.map(|e| {
        u32::try_from(i64::from(e) - i64::from(e_ref))
            .ok()
            .filter(|s| *s <= MAX_SHIFT_NIBBLES)
            .ok_or_else(|| spread_error(e, e_ref))
    })
    .collect()
}

fn spread_error(e: i32, e_ref: i32) -> ServeError {
    ServeError::Exponent(format!(
        "exponents {e} and {e_ref} are more than {MAX_SHIFT_NIBBLES} base-16 digits apart \
         (encode the features with a common precision)"
    ))
}

/// min(0, exponents): the reference exponent the row is aligned to.
fn row_ref(row: &[EncryptedNumber]) -> i32 {
    row.iter().map(|x| x.exponent).min().unwrap_or(0).min(0)
}

/// E(S) with S = sum_i W_i m_i 16^(e_i - e_ref) + B 16^(-e_ref), not rerandomized.
fn dot_row(
    pk: &PublicKey,
    model: &LinearModel,
    row: &[EncryptedNumber],
    e_ref: i32,
) -> Result<Ciphertext, ServeError> {
    let shifts = shifts_of(row.iter().map(|x| x.exponent), e_ref)?;
    let b_shift = u32::try_from(-i64::from(e_ref))
        .ok()
        .filter(|s| *s <= MAX_SHIFT_NIBBLES)
        .ok_or_else(|| spread_error(0, e_ref))?;
    let cs: Vec<Ciphertext> = row.iter().map(|x| x.ciphertext.clone()).collect();
    let internal = |e: crate::Error| ServeError::Internal(e.to_string());
    let dot = pk
        .dot_i64_shifted(&cs, &model.weights.w, &shifts)
        .map_err(internal)?;
    let b = Plaintext::from_i64_shifted(pk, model.weights.b, b_shift).map_err(internal)?;
    pk.add_plaintext(&dot, &b).map_err(internal)
}

fn rerandomize(pk: &PublicKey, c: &Ciphertext) -> Result<Ciphertext, ServeError> {
    let mut rng = crate::rng::chacha_from_os();
    pk.rerandomize(c, &mut rng)
        .map_err(|e| ServeError::Internal(e.to_string()))
}

fn check_cancel(cancel: &AtomicBool) -> Result<(), ServeError> {
    if cancel.load(Ordering::Relaxed) {
        return Err(ServeError::Internal("cancelled".into()));
    }
    Ok(())
}

/// The slot width for a batch aligned to `e_ref` with largest shift `s_max`.
fn slot_bits(d: usize, s_max: u32, e_ref: i32, mantissa_bits: u32) -> u32 {
    let log_d = usize::BITS - d.leading_zeros(); // ceil(log2(d + 1)) or more
    let shift = s_max.max(u32::try_from(-i64::from(e_ref)).unwrap_or(MAX_SHIFT_NIBBLES));
    62 + 4 * shift + mantissa_bits + log_d + 1 + 2
}

/// Scores every row (validated ciphertexts under `pk`, each of the model's length), on the
/// current rayon pool, one row per task. `pack` is the client's mantissa bound when it asked
/// for packing. `noise` adds DP noise under encryption to every score (not with packing).
/// `cancel` stops the work between rows (request timeouts).
///
/// # Errors
/// [`ServeError::Exponent`] when exponents spread too far, [`ServeError::Packing`] when
/// the slots would not fit the key, [`ServeError::Internal`] when cancelled.
///
/// # Security
/// Constant time in the weights (see [`PublicKey::dot_i64_shifted`]); every answer is
/// rerandomized with fresh r^n, so that it reveals only the score to the key holder.
pub fn score_rows(
    pk: &PublicKey,
    model: &LinearModel,
    rows: &[Vec<EncryptedNumber>],
    pack: Option<u32>,
    noise: Option<&NoiseConfig>,
    cancel: &AtomicBool,
) -> Result<Scored, ServeError> {
    if noise.is_some() && pack.is_some() {
        return Err(ServeError::Packing(
            "DP noise does not fit packed slots: send the batch unpacked".into(),
        ));
    }
    let Some(mantissa_bits) = pack else {
        let out = rows
            .par_iter()
            .map(|row| {
                check_cancel(cancel)?;
                let e_ref = row_ref(row);
                let mut c = dot_row(pk, model, row, e_ref)?;
                if let Some(cfg) = noise {
                    // Added before the rerandomization below: the client sees only the sum.
                    let n = cfg.draw(e_ref, &mut crate::rng::chacha_from_os())?;
                    let internal = |e: crate::Error| ServeError::Internal(e.to_string());
                    let n = Plaintext::from_bigint(pk, &n).map_err(internal)?;
                    c = pk.add_plaintext(&c, &n).map_err(internal)?;
                }
                Ok(EncryptedNumber {
                    ciphertext: rerandomize(pk, &c)?,
                    exponent: WEIGHT_EXPONENT + e_ref,
                })
            })
            .collect::<Result<Vec<_>, ServeError>>()?;
        return Ok(Scored::Rows(out));
    };
    let e_ref = rows.iter().map(|r| row_ref(r)).min().unwrap_or(0);
    let mut s_max = 0;
    for r in rows {
        s_max = s_max.max(
            shifts_of(r.iter().map(|x| x.exponent), e_ref)?
                .into_iter()
                .max()
                .unwrap_or(0),
        );
    }
    let slot = slot_bits(model.n_features(), s_max, e_ref, mantissa_bits);
    // bits(n) >= 1024 (PublicKey::from_modulus): no underflow.
    let slots = usize::try_from((pk.bits() - 3) / slot).unwrap_or(0);
    if slots < 2 {
        return Err(ServeError::Packing(format!(
            "slots of {slot} bits do not fit twice in a {}-bit key: use a larger key, a smaller \
             mantissa_bits or no packing",
            pk.bits()
        )));
    }
    let scores = rows
        .par_iter()
        .map(|row| {
            check_cancel(cancel)?;
            dot_row(pk, model, row, e_ref)
        })
        .collect::<Result<Vec<_>, ServeError>>()?;
    let ciphertexts = scores
        .par_chunks(slots)
        .map(|chunk| {
            check_cancel(cancel)?;
            let internal = |e: crate::Error| ServeError::Internal(e.to_string());
            let packed = pk.pack(chunk, slot).map_err(internal)?;
            // The offsets 2^(slot-1) of every slot: public.
            let one = BigUint::one();
            let mut offset = BigUint::ZERO;
            for j in 0..chunk.len() {
                offset += &one << (u64::from(slot) * j as u64 + u64::from(slot) - 1);
            }
            let offset = Plaintext::from_biguint(pk, &offset).map_err(internal)?;
            rerandomize(pk, &pk.add_plaintext(&packed, &offset).map_err(internal)?)
        })
        .collect::<Result<Vec<_>, ServeError>>()?;
    Ok(Scored::Packed(Packed {
        slot_bits: slot,
        slots,
        rows: rows.len(),
        exponent: WEIGHT_EXPONENT + e_ref,
        ciphertexts,
    }))
}

/// Cuts a decrypted pack into its signed slot values (the client's side of packing).
pub fn unpack(m: &BigUint, slot_bits: u32, count: usize) -> Vec<num_bigint::BigInt> {
    let mask = (BigUint::one() << slot_bits) - 1u32;
    let offset = num_bigint::BigInt::from(BigUint::one() << (slot_bits - 1));
    (0..count)
        .map(|j| {
            let v = (m >> (u64::from(slot_bits) * j as u64)) & &mask;
            num_bigint::BigInt::from(v) - &offset
        })
        .collect()
}
