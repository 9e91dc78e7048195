//! Ciphertexts: elements of Z*_{n^2}, kept in Montgomery form and tagged with their key.

use crypto_bigint::modular::BoxedMontyForm;
use num_bigint::BigUint;

use super::KeyId;
use crate::bigint::to_biguint_vartime;

/// A Paillier ciphertext under one key.
///
/// Held in Montgomery form so that a homomorphic addition is one Montgomery multiplication.
/// Values are validated (0 < c < n^2, gcd(c, n) = 1) whenever they cross a trust boundary;
/// see [`super::PublicKey::ciphertext_from_biguint`].
#[derive(Clone)]
pub struct Ciphertext {
    pub(crate) value: BoxedMontyForm,
    pub(crate) key: KeyId,
}

impl Ciphertext {
    /// The ciphertext as an integer in (0, n^2). Variable time (num-bigint), without the
    /// suffix because ciphertexts are public.
    pub fn to_biguint(&self) -> BigUint {
        to_biguint_vartime(&self.value.retrieve())
    }

    /// Fixed-width big-endian bytes (the key's ciphertext width).
    pub fn to_bytes_be(&self) -> Vec<u8> {
        self.value.retrieve().to_be_bytes().into_vec()
    }

    /// The identifier of the key this ciphertext was made under.
    pub fn key_id(&self) -> KeyId {
        self.key
    }
}

impl PartialEq for Ciphertext {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value.as_montgomery() == other.value.as_montgomery()
    }
}
impl Eq for Ciphertext {}

impl core::fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let hex: String = self
            .to_bytes_be()
            .iter()
            .skip_while(|b| **b == 0)
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        write!(f, "Ciphertext({hex}.., key {:?})", self.key)
    }
}
