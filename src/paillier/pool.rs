//! Precomputed encryption randomness: r^n mod n^2 computed ahead of time, in parallel, so
//! that an online encryption costs two multiplications modulo n.

use rand_core::{CryptoRng, SeedableRng};
use rayon::prelude::*;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crypto_bigint::BoxedUint;
use crypto_bigint::modular::BoxedMontyForm;

use super::{Ciphertext, Nonce, Plaintext, PublicKey};
use crate::error::{Error, Result};

#[derive(Zeroize, ZeroizeOnDrop)]
struct Item {
    /// r^n in Montgomery form mod n^2.
    rn_mont: BoxedUint,
    /// rn_mont mod n.
    x: BoxedUint,
}

/// A pool of precomputed r^n values for one public key.
///
/// Each value is used once: [`RandomnessPool::encrypt`] removes it.
///
/// ```
/// use rand_core::SeedableRng;
/// use shroud::paillier::{generate_keypair, KeygenOptions, Plaintext, RandomnessPool};
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(3);
/// let sk = generate_keypair(KeygenOptions { bits: 2048, ..Default::default() }, &mut rng, &|_| {}).unwrap();
/// let pk = sk.public_key();
/// let mut pool = RandomnessPool::new(pk);
/// pool.fill(4, &mut rng);
/// let c = pool.encrypt(&Plaintext::from_i64(pk, -5)).unwrap();
/// assert_eq!(sk.decrypt(&c).unwrap().to_i64_vartime(pk).unwrap(), -5);
/// assert_eq!(pool.len(), 3);
/// ```
///
/// # Security
/// The stored values are as secret as the randomness they came from; they zeroize on drop.
pub struct RandomnessPool {
    pk: PublicKey,
    items: Vec<Item>,
}

impl core::fmt::Debug for RandomnessPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "RandomnessPool({} values, key {:?})",
            self.items.len(),
            self.pk.id()
        )
    }
}

impl RandomnessPool {
    /// An empty pool for `pk`.
    pub fn new(pk: &PublicKey) -> Self {
        RandomnessPool {
            pk: pk.clone(),
            items: Vec::new(),
        }
    }

    /// Values left.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when no value is left.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Computes `count` more values on all cores. Each worker gets its own ChaCha20 stream
    /// seeded from `rng`.
    ///
    /// # Security
    /// The seeds live in one buffer that is wiped when the values are made, and every
    /// ChaCha20 state is wiped on drop (the crate's `zeroize` feature).
    pub fn fill<R: CryptoRng + ?Sized>(&mut self, count: usize, rng: &mut R) {
        let mut seeds = Zeroizing::new(vec![[0u8; 32]; count]);
        for s in seeds.iter_mut() {
            rng.fill_bytes(s);
        }
        let pk = &self.pk;
        let fresh: Vec<Item> = seeds
            .par_iter()
            .map(|seed| {
                let mut s = *seed;
                let mut child = chacha20::ChaCha20Rng::from_seed(s);
                s.zeroize();
                let mut rn = pk.nth_power(&Nonce::random(pk, &mut child));
                let rn_mont = rn.as_montgomery().clone();
                rn.zeroize();
                let x = rn_mont.rem(&pk.inner.n);
                Item { rn_mont, x }
            })
            .collect();
        self.items.extend(fresh);
    }

    #[doc(hidden)]
    /// Address and length of every stored secret, for the valgrind constant-time harness.
    pub fn secret_regions(&self) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for it in &self.items {
            for x in [&it.rn_mont, &it.x] {
                let w = x.as_words();
                v.push((w.as_ptr() as usize, core::mem::size_of_val(w)));
            }
        }
        v
    }

    /// Encrypts m with the next precomputed value (removed from the pool).
    ///
    /// # Errors
    /// [`Error::PoolEmpty`] when no value is left, [`Error::KeyMismatch`] when m was made
    /// for another key.
    ///
    /// # Security
    /// Constant time in m.
    pub fn encrypt(&mut self, m: &Plaintext) -> Result<Ciphertext> {
        self.pk.check_plaintext(m)?;
        let item = self.items.pop().ok_or(Error::PoolEmpty)?;
        let c = self.pk.absorb_plaintext(&item.rn_mont, &item.x, &m.value);
        Ok(Ciphertext {
            value: BoxedMontyForm::from_montgomery(c, &self.pk.inner.params_n2),
            key: self.pk.id(),
        })
    }
}
