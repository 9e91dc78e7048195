//! Batch encryption and decryption on all cores (rayon).

use rand_core::{CryptoRng, SeedableRng};
use rayon::prelude::*;
use zeroize::Zeroize;

use super::{Ciphertext, Plaintext, PublicKey, SecretKey};
use crate::error::Result;

fn seeds<R: CryptoRng + ?Sized>(rng: &mut R, count: usize) -> Vec<[u8; 32]> {
    (0..count)
        .map(|_| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            s
        })
        .collect()
}

impl PublicKey {
    /// Encrypts every plaintext, in parallel. Each item draws its randomness from its own
    /// ChaCha20 stream seeded from `rng`.
    pub fn encrypt_batch<R: CryptoRng + ?Sized>(
        &self,
        ms: &[Plaintext],
        rng: &mut R,
    ) -> Vec<Ciphertext> {
        let seeds = seeds(rng, ms.len());
        ms.par_iter()
            .zip(seeds)
            .map(|(m, mut seed)| {
                let mut child = chacha20::ChaCha20Rng::from_seed(seed);
                seed.zeroize();
                self.encrypt(m, &mut child)
            })
            .collect()
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
    pub fn encrypt_batch<R: CryptoRng + ?Sized>(
        &self,
        ms: &[Plaintext],
        rng: &mut R,
    ) -> Vec<Ciphertext> {
        let seeds = seeds(rng, ms.len());
        ms.par_iter()
            .zip(seeds)
            .map(|(m, mut seed)| {
                let mut child = chacha20::ChaCha20Rng::from_seed(seed);
                seed.zeroize();
                self.encrypt(m, &mut child)
            })
            .collect()
    }
}
