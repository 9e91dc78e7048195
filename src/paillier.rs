//! Paillier encryption: constant-time key-holder operations, homomorphic arithmetic,
//! precomputed randomness, batch operations.
//!
//! ```
//! use rand_core::SeedableRng;
//! use shroud::paillier::{generate_keypair, KeygenOptions, Plaintext};
//!
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
//! let opts = KeygenOptions { bits: 2048, ..Default::default() };
//! let sk = generate_keypair(opts, &mut rng, &|_| {}).unwrap();
//! let pk = sk.public_key();
//! let a = pk.encrypt(&Plaintext::from_i64(pk, 20), &mut rng).unwrap();
//! let b = pk.encrypt(&Plaintext::from_i64(pk, 22), &mut rng).unwrap();
//! let sum = pk.add(&a, &b).unwrap();
//! let tripled = pk.mul_i64(&sum, 3).unwrap();
//! assert_eq!(sk.decrypt(&tripled).unwrap().to_i64_vartime(pk).unwrap(), 126);
//! ```

mod batch;
mod ciphertext;
mod djn;
mod dot;
mod encrypted_number;
mod keygen;
mod load;
mod modulus_proof;
mod multiexp;
mod ops;
mod plaintext;
mod pool;
mod public_key;
mod secret_key;

pub use ciphertext::Ciphertext;
pub use djn::{DjnEncryptor, DjnExponent};
pub use dot::MAX_SHIFT_NIBBLES;
pub use encrypted_number::EncryptedNumber;
pub use keygen::{
    DEFAULT_BITS, KeygenOptions, KeygenProgress, SUPPORTED_BITS, generate_keypair, mr_rounds,
};
pub use load::LoadOptions;
pub use modulus_proof::{ModulusProof, ROUNDS as MODULUS_PROOF_ROUNDS};
pub use plaintext::{Nonce, Plaintext};
pub use pool::RandomnessPool;
pub use public_key::{KeyId, MAX_MODULUS_BITS, MIN_MODULUS_BITS, PublicKey};
pub use secret_key::SecretKey;
