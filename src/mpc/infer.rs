//! Secret-shared inference (`shroud mpc infer`): a client and a model owner compute
//! w.x + b (and, for a logistic model, the engine's sigmoid) on additive shares over Z_2^64;
//! the client alone opens the result.
//!
//! Party 0 is the client (features x), party 1 the model owner (weights w, intercept b);
//! over TCP the index comes from the authenticated identity ([`super::Mesh::tcp`]).
//!
//! 1. **Header** (public): the client announces the number of records, the owner the number
//!    of features and the output kind; each side checks them against its own.
//! 2. **Offline**: Beaver triples without a dealer ([`super::paillier_offline`]): the
//!    model owner holds a fresh Paillier key; the client only computes on its ciphertexts
//!    (it holds no key). records x d triples for the products, 5 per record for the sigmoid.
//! 3. **Online**: the client shares x, the owner shares w and b; the shares of w and b are
//!    repeated locally for every record. One round of Beaver products, local sums, SecureML's
//!    local truncation by f bits ([`super::Party::truncate_local`]), plus b. For a logistic
//!    model, the odd degree-9 polynomial of [`super::Party::sigmoid`] in t = z / 8 (a local
//!    truncation by 3 bits), its five products in five rounds.
//! 4. **Output**: the owner sends its shares of the scores to the client
//!    ([`super::Party::reveal_to`]); the owner learns nothing.
//!
//! # Example
//! Both parties in memory (a 1024-bit key only to keep the example fast):
//! ```
//! use shroud::mpc::{FractionalBits, Mesh, infer};
//! use shroud::paillier::{KeygenOptions, generate_keypair};
//!
//! let frac = FractionalBits::default();
//! let weights = infer::Weights::new(&[0.5, -2.0], 1.25, false, frac)?;
//! let opts = KeygenOptions { bits: 1024, insecure_allow_1024: true, ..Default::default() };
//! let sk = generate_keypair(opts, &mut shroud::rng::os_rng(), &|_| {})?;
//! let mut meshes = Mesh::memory(2);
//! let (owner_mesh, client_mesh) = (meshes.pop().unwrap(), meshes.pop().unwrap());
//! let owner = std::thread::spawn(move || {
//!     infer::owner(owner_mesh, &weights, &sk, frac, 10, &mut shroud::rng::os_rng())
//! });
//! let rows = vec![vec![4.0, 1.0]];
//! let (scores, _) = infer::client(client_mesh, &rows, frac, 1024, &mut shroud::rng::os_rng())?;
//! owner.join().unwrap()?;
//! assert!((scores.logits[0] - (1.25 + 2.0 - 2.0)).abs() < 1e-3);
//! assert!(scores.probabilities.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Accuracy
//! x and w are rounded to f fractional bits (error 2^-(f+1) each), so the score is within
//! (sum |x_i| + sum |w_i| + 1) 2^-(f+1) + 2^-f + d 2^-2f of w.x + b. Local truncation is
//! off by at most one unit in the last place, and fails (a result off by about 2^(64-f))
//! with probability about 2^(l + 1 - 64) per truncated value whose magnitude at 2f
//! fractional bits is below 2^l: 2^-27 for |w.x + b| < 16 at f = 16. The sigmoid adds at most
//! 0.0095 on [-8, 8] and diverges outside (see [`super::Party::sigmoid`]); the client gets the
//! logit too.
//!
//! # Security
//! Semi-honest: both parties follow the protocol. The owner sees only uniformly random shares
//! and masked values; the client sees the same plus the output: the scores (logits) and, for
//! a logistic model, the probabilities; d and the output kind are public. Neither learns which
//! ciphertexts or shares the other holds. A client that deviates can make its own output wrong
//! but can learn no more than its chosen inputs' scores, the same extraction risk as the
//! Paillier service (d + 1 scores give a linear model); there is no query budget here.

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::MpcError;
use super::fixed::FractionalBits;
use super::party::{Mesh, Party};
use super::share::Shared;
use super::triples::TripleSource;
use crate::paillier::SecretKey;

/// Most records in one session (bounds the triples the owner makes for a client).
pub const MAX_RECORDS: usize = 1 << 16;
/// Most features.
pub const MAX_FEATURES: usize = 4096;

/// The model owner's weights in fixed point at f fractional bits.
///
/// # Security
/// Secret: no `Clone`, no printing `Debug`, zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Weights {
    w: Vec<u64>,
    b: u64,
    #[zeroize(skip)]
    logistic: bool,
}

impl core::fmt::Debug for Weights {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Weights")
            .field("features", &self.w.len())
            .field("logistic", &self.logistic)
            .finish_non_exhaustive()
    }
}

impl Weights {
    /// Weights and intercept as reals, encoded at `frac`.
    ///
    /// # Errors
    /// [`MpcError::Encoding`] for a value that does not encode, [`MpcError::InvalidInput`]
    /// for no or too many weights.
    pub fn new(w: &[f64], b: f64, logistic: bool, frac: FractionalBits) -> Result<Self, MpcError> {
        if w.is_empty() || w.len() > MAX_FEATURES {
            return Err(MpcError::InvalidInput(format!(
                "1 to {MAX_FEATURES} weights"
            )));
        }
        Ok(Weights {
            w: frac.encode_all(w)?,
            b: frac.encode(b)?,
            logistic,
        })
    }

    /// Weights already in fixed point at `from_bits` fractional bits (two's complement
    /// i64), rounded to `frac` (from the inference service's model, `from_bits` = 44).
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] when `frac` exceeds `from_bits` or there are no weights.
    pub fn from_fixed(
        w: &[i64],
        b: i64,
        from_bits: u32,
        logistic: bool,
        frac: FractionalBits,
    ) -> Result<Self, MpcError> {
        let f = frac.get();
        if f > from_bits || from_bits > 62 || w.is_empty() || w.len() > MAX_FEATURES {
            return Err(MpcError::InvalidInput(
                "weights with at least as many fractional bits as the session's".into(),
            ));
        }
        let shift = from_bits - f;
        // Round to nearest: add half a unit, shift arithmetically. |v| < 2^62: no overflow.
        let round = |v: i64| -> u64 {
            if shift == 0 {
                v as u64
            } else {
                ((v + (1i64 << (shift - 1))) >> shift) as u64
            }
        };
        Ok(Weights {
            w: w.iter().map(|v| round(*v)).collect(),
            b: round(b),
            logistic,
        })
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.w.len()
    }
}

/// What the client opens.
#[derive(Debug, Clone)]
pub struct Scores {
    /// w.x + b per record.
    pub logits: Vec<f64>,
    /// The engine's sigmoid of each logit, for a logistic model.
    pub probabilities: Option<Vec<f64>>,
}

/// What a session cost one party.
#[derive(Debug, Clone, Copy)]
pub struct SessionStats {
    /// Bytes this party sent (both phases).
    pub bytes_sent: u64,
    /// Bytes it sent in the offline phase (header and triples).
    pub offline_bytes: u64,
    /// Time from the start to the end of the offline phase.
    pub offline: std::time::Duration,
    /// Time of the online phase (sharing, products, sigmoid, opening).
    pub online: std::time::Duration,
}

/// Correlated randomness of a session: triples only (truncation is local).
pub fn triples_needed(records: usize, features: usize, logistic: bool) -> usize {
    records * features + if logistic { 5 * records } else { 0 }
}

fn header_check(mesh: &mut Mesh, mine: Vec<u8>) -> Result<Vec<u8>, MpcError> {
    if mesh.parties() != 2 {
        return Err(MpcError::InvalidInput(
            "secret-shared inference is between two parties".into(),
        ));
    }
    let peer = 1 - mesh.me();
    let frames = mesh.exchange_all(mine)?;
    Ok(frames[peer].clone())
}

/// The client's side (party 0): shares `rows` (each of the model's length), runs the
/// protocol over `mesh` and opens the scores.
///
/// # Errors
/// [`MpcError::InvalidInput`] for no, too many or ragged rows, or a model of another
/// length; [`MpcError::Malformed`] for a malformed header; the engine's and transport's.
///
/// # Security
/// The client's features leave it only as uniformly random shares (see the module).
pub fn client<R: CryptoRng + ?Sized>(
    mut mesh: Mesh,
    rows: &[Vec<f64>],
    frac: FractionalBits,
    min_key_bits: u32,
    rng: &mut R,
) -> Result<(Scores, SessionStats), MpcError> {
    let t0 = std::time::Instant::now();
    let records = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    if records == 0 || records > MAX_RECORDS || rows.iter().any(|r| r.len() != d) {
        return Err(MpcError::InvalidInput(format!(
            "1 to {MAX_RECORDS} rows of equal length"
        )));
    }
    let mut hdr = b"shroud-mpc-infer-v1/client".to_vec();
    hdr.extend_from_slice(&(records as u32).to_be_bytes());
    hdr.extend_from_slice(&frac.get().to_be_bytes());
    let theirs = header_check(&mut mesh, hdr)?;
    let bad = |r: &str| MpcError::Malformed {
        party: 1,
        reason: r.into(),
    };
    let body = theirs
        .strip_prefix(b"shroud-mpc-infer-v1/owner".as_slice())
        .filter(|b| b.len() == 9)
        .ok_or_else(|| bad("not a model owner's header"))?;
    let features = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) as usize;
    let owner_frac = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    let logistic = match body[8] {
        0 => false,
        1 => true,
        _ => return Err(bad("unknown output kind")),
    };
    if features != d || owner_frac != frac.get() {
        return Err(MpcError::InvalidInput(format!(
            "the model owner serves {features} features at {owner_frac} fractional bits; \
             this client has {d} at {}",
            frac.get()
        )));
    }
    let material = super::paillier_offline::triples_helper(
        &mut mesh,
        triples_needed(records, d, logistic),
        min_key_bits,
        rng,
    )?;
    let offline_bytes = mesh.bytes_sent();
    let offline = t0.elapsed();
    let mut p = Party::new(mesh, material, frac);
    let x = zeroize::Zeroizing::new(rows.iter().flatten().copied().collect::<Vec<f64>>());
    let xv = zeroize::Zeroizing::new(frac.encode_all(&x)?);
    let out = online(&mut p, Some(xv.as_slice()), None, records, d, logistic, rng)?;
    let stats = SessionStats {
        bytes_sent: p.bytes_sent(),
        offline_bytes,
        offline,
        online: t0.elapsed() - offline,
    };
    let out = out.ok_or_else(|| MpcError::InvalidInput("the client opens nothing".into()))?;
    Ok((out, stats))
}

/// The model owner's side (party 1): answers one client session over `mesh` with a fresh
/// Paillier key `sk` for the offline phase; returns the records scored and what it cost.
///
/// # Errors
/// [`MpcError::InvalidInput`] when the client announces more than `max_records` records;
/// [`MpcError::Malformed`] for a malformed header; the engine's and transport's.
///
/// # Security
/// The weights leave the owner only as uniformly random shares; the owner learns the number
/// of records and nothing else.
pub fn owner<R: CryptoRng + ?Sized>(
    mut mesh: Mesh,
    weights: &Weights,
    sk: &SecretKey,
    frac: FractionalBits,
    max_records: usize,
    rng: &mut R,
) -> Result<(usize, SessionStats), MpcError> {
    let t0 = std::time::Instant::now();
    let d = weights.features();
    let mut hdr = b"shroud-mpc-infer-v1/owner".to_vec();
    hdr.extend_from_slice(&(d as u32).to_be_bytes());
    hdr.extend_from_slice(&frac.get().to_be_bytes());
    hdr.push(u8::from(weights.logistic));
    let theirs = header_check(&mut mesh, hdr)?;
    let bad = |r: &str| MpcError::Malformed {
        party: 0,
        reason: r.into(),
    };
    let body = theirs
        .strip_prefix(b"shroud-mpc-infer-v1/client".as_slice())
        .filter(|b| b.len() == 8)
        .ok_or_else(|| bad("not a client's header"))?;
    let records = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) as usize;
    let client_frac = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    if records == 0 || records > max_records.min(MAX_RECORDS) {
        return Err(MpcError::InvalidInput(format!(
            "the client announces {records} records; this owner serves 1 to {}",
            max_records.min(MAX_RECORDS)
        )));
    }
    if client_frac != frac.get() {
        return Err(MpcError::InvalidInput(format!(
            "the client uses {client_frac} fractional bits, this owner {}",
            frac.get()
        )));
    }
    let material = super::paillier_offline::triples_key_holder(
        &mut mesh,
        sk,
        triples_needed(records, d, weights.logistic),
        rng,
    )?;
    let offline_bytes = mesh.bytes_sent();
    let offline = t0.elapsed();
    let mut p = Party::new(mesh, material, frac);
    online(
        &mut p,
        None,
        Some(weights),
        records,
        d,
        weights.logistic,
        rng,
    )?;
    Ok((
        records,
        SessionStats {
            bytes_sent: p.bytes_sent(),
            offline_bytes,
            offline,
            online: t0.elapsed() - offline,
        },
    ))
}

/// Repeats a shared vector `times` times (a share of each copy is a copy of the share).
fn repeat(x: &Shared, times: usize) -> Shared {
    let v: Vec<u64> = (0..times)
        .flat_map(|_| x.as_slice().iter().copied())
        .collect();
    Shared::from_vec(v)
}

#[allow(clippy::too_many_arguments)]
fn online<S: TripleSource, R: CryptoRng + ?Sized>(
    p: &mut Party<S>,
    x: Option<&[u64]>,
    weights: Option<&Weights>,
    records: usize,
    d: usize,
    logistic: bool,
    rng: &mut R,
) -> Result<Option<Scores>, MpcError> {
    let f = p.frac();
    let xs = p.input(0, x, records * d, rng)?;
    let ws = p.input(1, weights.map(|w| w.w.as_slice()), d, rng)?;
    let bs = p.input(1, weights.map(|w| core::slice::from_ref(&w.b)), 1, rng)?;
    let prod = p.mul(&xs, &repeat(&ws, records))?;
    // Row sums at 2f fractional bits, then one local truncation per record.
    let sums: Vec<u64> = prod
        .as_slice()
        .chunks_exact(d)
        .map(|r| r.iter().fold(0u64, |a, v| a.wrapping_add(*v)))
        .collect();
    let z = p.truncate_local(&Shared::from_vec(sums), f.get())?;
    let z = z.add(&repeat(&bs, records))?;
    let prob = if logistic {
        Some(sigmoid_two_party(p, &z)?)
    } else {
        None
    };
    let logits = p.reveal_to(0, &z)?;
    let probs = match &prob {
        Some(s) => p.reveal_to(0, s)?,
        None => None,
    };
    Ok(logits.map(|l| Scores {
        logits: f.decode_all(&l),
        probabilities: probs.map(|v| f.decode_all(&v)),
    }))
}

/// [`Party::sigmoid`]'s polynomial with Beaver products and local truncations only (what
/// the dealer-free two-party offline phase provides): 5 products.
fn sigmoid_two_party<S: TripleSource>(p: &mut Party<S>, x: &Shared) -> Result<Shared, MpcError> {
    const C: [f64; 5] = [
        1.873_145_850_957_742_8,
        -6.157_096_281_036_651,
        12.895_423_685_370_886,
        -12.940_622_359_031_38,
        4.837_576_725_750_273,
    ];
    let f = p.frac();
    let bits = f.get();
    let mul = |p: &mut Party<S>, a: &Shared, b: &Shared| -> Result<Shared, MpcError> {
        let z = p.mul(a, b)?;
        p.truncate_local(&z, bits)
    };
    let t = p.truncate_local(x, 3)?; // x / 8
    let t2 = mul(p, &t, &t)?;
    let t3 = mul(p, &t2, &t)?;
    let t5 = mul(p, &t3, &t2)?;
    let t7 = mul(p, &t5, &t2)?;
    let t9 = mul(p, &t7, &t2)?;
    let mut acc = Shared::zeros(x.shape().0, x.shape().1);
    for (c, q) in C.iter().zip([&t, &t3, &t5, &t7, &t9]) {
        acc = acc.add(&q.mul_public(f.encode(*c)?))?;
    }
    let acc = p.truncate_local(&acc, bits)?;
    let half = vec![f.encode(0.5)?; x.len()];
    acc.add_public(p.index(), &half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_weights_round_to_the_session_precision() {
        let f = FractionalBits::new(16).unwrap();
        let w = Weights::from_fixed(&[3 << 43, -(5 << 42), 1], 1 << 44, 44, true, f).unwrap();
        assert_eq!(f.decode_all(&w.w), vec![1.5, -1.25, 0.0]);
        assert_eq!(f.decode(w.b), 1.0);
    }
}
