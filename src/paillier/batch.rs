//! Batch encryption and decryption on all cores (rayon).

use rand_core::{CryptoRng, SeedableRng};
use rayon::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use super::{Ciphertext, Nonce, Plaintext, PublicKey, SecretKey};
use crate::error::Result;

/// Runs `encrypt` on every plaintext in parallel, each with its own ChaCha20 stream seeded
/// from `rng` (seeds drawn in order, so a seeded `rng` gives reproducible output).
fn par_encrypt<R, F>(ms: &[Plaintext], rng: &mut R, encrypt: F) -> Vec<Ciphertext>
where
    R: CryptoRng + ?Sized,
    F: Fn(&Plaintext, &mut chacha20::ChaCha20Rng) -> Ciphertext + Sync,
{
    // One buffer of seeds, wiped on drop (not only the per-item copies); each ChaCha20
    // state is wiped on drop too (the crate's `zeroize` feature).
    let mut seeds = Zeroizing::new(vec![[0u8; 32]; ms.len()]);
    for s in seeds.iter_mut() {
        rng.fill_bytes(s);
    }
    ms.par_iter()
        .zip(seeds.par_iter())
        .map(|(m, seed)| {
            let mut s = *seed;
            let mut child = chacha20::ChaCha20Rng::from_seed(s);
            s.zeroize();
            encrypt(m, &mut child)
        })
        .collect()
}

impl PublicKey {
    /// Encrypts every plaintext, in parallel. Each item draws its randomness from its own
    /// ChaCha20 stream seeded from `rng`.
    ///
    /// # Errors
    /// [`crate::Error::KeyMismatch`] when a plaintext was made for another key.
    pub fn encrypt_batch<R: CryptoRng + ?Sized>(
        &self,
        ms: &[Plaintext],
        rng: &mut R,
    ) -> Result<Vec<Ciphertext>> {
        for m in ms {
            self.check_plaintext(m)?;
        }
        Ok(par_encrypt(ms, rng, |m, r| {
            self.encrypt_with_nonce_unchecked(m, &Nonce::random(self, r))
        }))
    }
}

impl SecretKey {
    /// Decrypts every ciphertext, in parallel.
    ///
    /// # Errors
    /// [`crate::Error::KeyMismatch`] if any ciphertext is under another key.
    pub fn decrypt_batch(&self, cs: &[Ciphertext]) -> Result<Vec<Plaintext>> {
        cs.par_iter().map(|c| self.decrypt(c)).collect()
    }

    /// Key-owner (CRT) encryption of every plaintext, in parallel.
    ///
    /// # Errors
    /// [`crate::Error::KeyMismatch`] when a plaintext was made for another key (nothing is
    /// encrypted then).
    pub fn encrypt_batch<R: CryptoRng + ?Sized>(
        &self,
        ms: &[Plaintext],
        rng: &mut R,
    ) -> Result<Vec<Ciphertext>> {
        let pk = self.public_key();
        for m in ms {
            pk.check_plaintext(m)?;
        }
        Ok(par_encrypt(ms, rng, |m, r| {
            self.encrypt_crt(m, &Nonce::random(pk, r))
        }))
    }
}
