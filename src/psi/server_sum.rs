//! Server-sum mode's last round: Private Join and Compute's roles.
//!
//! The server holds the values and the Paillier key; the client only adds up the
//! ciphertexts of its matches under that key and sends the result back. The server decrypts
//! and learns the sum; the client learns nothing from that decryption, because nothing
//! derived from it comes back unless the server chose to reveal the sum
//! ([`super::ServerConfig::reveal_sum`]).
//!
//! - The client sends E(s + 2^L r), L = [`super::server::sum_bits`]`(c)`, r uniform in
//!   [0, n / 2^L - 1), made from a fresh encryption of the mask, so it is a fresh-looking
//!   ciphertext. For an honest sum s < 2^L the server reads s from the low L bits; whatever
//!   plaintexts a cheating server encrypted, it sees their sum mod 2^L and, above that, a
//!   uniform number but for one bit (whether the masked sum wrapped mod n).
//! - No secret offset u as in sum mode: a spoiled value counted as 0 would leave -u in the
//!   sum for the server to see, and the offset's job there (keeping the client from having
//!   other combinations decrypted for it) is done here by sending nothing back; with
//!   reveal, it would only narrow a cheater's combinations to those whose coefficients sum
//!   to the count, which still include c v_j.
//! - A matched value that is not a valid ciphertext counts as 0 (the server chose it, so it
//!   is as if it had the value 0): refusing it, or replacing it by a random encryption as
//!   the other modes do, would show the server whether the client holds that element.
//! - Without reveal, the server answers nothing, not even an abort: whether the decrypted
//!   sum passed the server's range check would be one bit about what a cheating client chose
//!   to have decrypted.
//! - With reveal, the server sends the low L bits back if they lie in [c min v, c max v]
//!   (its own smallest and largest values) and aborts otherwise.
//!
//! # Example
//! ```
//! use shroud::net::MemoryTransport;
//! use shroud::paillier::{KeygenOptions, generate_keypair};
//! use shroud::psi::{self, ClientConfig, Mode, ServerConfig};
//!
//! let mut rng = shroud::rng::os_rng();
//! let ids = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
//! let sk = generate_keypair(KeygenOptions { bits: 2048, ..Default::default() }, &mut rng, &|_| {})?;
//! let server = psi::Server::new(
//!     ServerConfig::new(Mode::ServerSum),
//!     ids(&["alice", "bob", "carol"]),
//!     Some(vec![3, 4, 5]),
//!     Some(sk),
//!     &mut rng,
//! )?;
//! let (mut a, mut b) = MemoryTransport::pair();
//! let handle = std::thread::spawn(move || psi::run_server(&mut a, server, &mut shroud::rng::os_rng()));
//! let client = psi::Client::new(ClientConfig::new(Mode::ServerSum), ids(&["bob", "carol", "dave"]))?;
//! let out = psi::run_client(&mut b, client, &mut rng)?;
//! let server_out = handle.join().unwrap()?;
//! assert_eq!((out.intersection_size, out.intersection_sum), (2, None));
//! assert_eq!(server_out.intersection_sum, Some(9));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand_core::CryptoRng;
use rayon::prelude::*;
use zeroize::Zeroize;

use super::error::PsiError;
use super::msgs::{SumReply, SumRequest};
use super::server::sum_bits;
use super::{ClientOutput, ServerOutput, pad};
use crate::paillier::{Ciphertext, PublicKey, SecretKey};

/// The server in server-sum mode, waiting for the client's encrypted sum.
pub struct ServerAwaitServerSum {
    pub(super) sk: SecretKey,
    pub(super) threshold: u64,
    pub(super) max_count: u64,
    pub(super) reveal: bool,
    /// The smallest and largest of the server's values.
    pub(super) range: (u64, u64),
}

impl Drop for ServerAwaitServerSum {
    fn drop(&mut self) {
        self.range.0.zeroize();
        self.range.1.zeroize();
    }
}

impl ServerAwaitServerSum {
    /// The most bytes the client's sum request can take.
    pub fn max_request_bytes(&self) -> usize {
        64 + self.sk.public_key().ciphertext_bytes()
    }

    /// Whether this server sends the sum back ([`super::ServerConfig::reveal_sum`]).
    pub fn reveals(&self) -> bool {
        self.reveal
    }

    /// Round 3 (server-sum mode): checks the claimed count, decrypts the client's sum and
    /// keeps its low L = 64 + ceil(log2(count + 1)) bits, which must lie between count times
    /// the smallest and count times the largest of the server's values. Returns the reply to
    /// send if the server reveals the sum.
    ///
    /// # Errors
    /// [`PsiError::Malformed`] if the client claims more matches than possible;
    /// [`PsiError::ThresholdNotMet`] below the threshold; [`PsiError::Paillier`] if the
    /// ciphertext is not in Z*_{n^2}; [`PsiError::PeerMisbehaved`] if the sum is out of
    /// range (the client did not add up its matches).
    ///
    /// # Security
    /// When [`Self::reveals`] is false, send the client nothing after this round, not even
    /// an abort on error ([`super::run_server`] does not): the outcome of the range check
    /// is a bit about a plaintext the client may have chosen. When it is true, a cheating
    /// client learns one linear combination of the values of its matched elements (see the
    /// module documentation of [`crate::psi`]).
    pub fn finish(self, request: SumRequest) -> Result<(Option<SumReply>, ServerOutput), PsiError> {
        finish(
            &self.sk,
            self.threshold,
            self.max_count,
            self.reveal,
            self.range,
            request,
        )
    }
}

/// [`ServerAwaitServerSum::finish`] on borrowed parts (the fuzz target's entry point too).
pub(super) fn finish(
    sk: &SecretKey,
    threshold: u64,
    max_count: u64,
    reveal: bool,
    range: (u64, u64),
    request: SumRequest,
) -> Result<(Option<SumReply>, ServerOutput), PsiError> {
    if request.count > max_count {
        return Err(PsiError::Malformed(format!(
            "client claims {} matches, at most {max_count} are possible",
            request.count
        )));
    }
    if request.count < threshold {
        return Err(PsiError::ThresholdNotMet {
            matches: request.count as usize,
            threshold: threshold as usize,
        });
    }
    let pk = sk.public_key();
    let c = pk.ciphertext_from_bytes_be(&request.ciphertext)?;
    let d = sk.decrypt(&c)?;
    let mut sum = super::masks::low_bits(&d, sum_bits(request.count));
    drop(d);
    let count = u128::from(request.count);
    let (lo, hi) = (count * u128::from(range.0), count * u128::from(range.1));
    if sum < lo || sum > hi {
        sum.zeroize();
        return Err(PsiError::PeerMisbehaved(format!(
            "the client's sum is not what {count} of the server's values can add up to"
        )));
    }
    let reply = reveal.then(|| SumReply {
        masked_sum: sum.to_be_bytes().to_vec(),
    });
    Ok((
        reply,
        ServerOutput {
            intersection_size: Some(request.count as usize),
            intersection_sum: Some(sum),
            shares: None,
        },
    ))
}

/// The client in server-sum mode when the server reveals the sum: waits for it.
#[derive(Debug)]
pub struct ClientAwaitRelease {
    pub(super) count: usize,
}

impl ClientAwaitRelease {
    /// Round 3 (server-sum mode with reveal): reads the sum the server sends back.
    ///
    /// # Errors
    /// [`PsiError::Malformed`] if the reply is not 16 bytes or the sum is larger than
    /// `count` 64-bit values can add up to.
    pub fn finish(self, reply: SumReply) -> Result<ClientOutput, PsiError> {
        let bad = || PsiError::Malformed("server's revealed sum is out of range".into());
        let got: [u8; 16] = reply.masked_sum.as_slice().try_into().map_err(|_| bad())?;
        let sum = u128::from_be_bytes(got);
        if sum > u128::from(u64::MAX) * self.count as u128 {
            return Err(bad());
        }
        Ok(ClientOutput {
            intersection_size: self.count,
            intersection: None,
            intersection_sum: Some(sum),
            shares: None,
        })
    }
}

/// The client's sum request: E(sum of its matched values + 2^L r), from a fresh encryption
/// of the mask. A matched value whose unpadded bytes are not a ciphertext counts as 0.
pub(super) fn client_sum<R: CryptoRng + ?Sized>(
    pk: &PublicKey,
    values: &[Vec<u8>],
    outputs: &[[u8; 64]],
    matches: &[(usize, usize)],
    rng: &mut R,
) -> Result<SumRequest, PsiError> {
    let cts: Vec<Ciphertext> = matches
        .par_iter()
        .filter_map(|&(i, j)| {
            let mut c = values[j].clone();
            if c.len() != pk.ciphertext_bytes() {
                return None;
            }
            pad(&outputs[i], &mut c);
            pk.ciphertext_from_bytes_be(&c).ok()
        })
        .collect();
    let count = matches.len() as u64;
    let mask = super::masks::multiple_of_pow2(pk, sum_bits(count), rng);
    let mut sum = pk.encrypt(&mask, rng)?;
    drop(mask);
    for c in &cts {
        sum = pk.add(&sum, c)?;
    }
    Ok(SumRequest {
        count,
        ciphertext: sum.to_bytes_be(),
    })
}
