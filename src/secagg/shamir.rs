//! Shamir t-of-m secret sharing over the prime field of curve25519-dalek's `Scalar`
//! (integers modulo l = 2^252 + 27742317777372353535851937790883648493).
//!
//! Client u's share for holder v is the random degree t - 1 polynomial at x = v + 1. The
//! field arithmetic is curve25519-dalek's, constant time; we do not take a Shamir crate
//! (vsss-rs 6 would bring the `elliptic-curve`/`ff` stacks, SHA-3 and a second
//! crypto-bigint for ~80 lines over a field this crate already depends on).

use curve25519_dalek::scalar::Scalar;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::ClientId;

/// A secret field element (a secret or one share of it): not `Clone`, redacted `Debug`,
/// zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct SecretScalar(pub(crate) Scalar);

impl core::fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretScalar(<redacted>)")
    }
}

impl SecretScalar {
    /// A uniformly random element.
    pub(crate) fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        let s = Scalar::from_bytes_mod_order_wide(&wide);
        wide.zeroize();
        SecretScalar(s)
    }
}

fn x_of(id: ClientId) -> Scalar {
    Scalar::from(u64::from(id) + 1)
}

/// Shares of `secret` for `holders` (distinct ids), any `t` of which reconstruct it.
///
/// # Security
/// Constant time in the secret and the coefficients; the coefficients are zeroized.
pub(crate) fn split<R: CryptoRng + ?Sized>(
    secret: &Scalar,
    t: usize,
    holders: &[ClientId],
    rng: &mut R,
) -> Vec<SecretScalar> {
    let mut coeffs: Vec<SecretScalar> = Vec::with_capacity(t);
    coeffs.push(SecretScalar(*secret));
    for _ in 1..t {
        coeffs.push(SecretScalar::random(rng));
    }
    holders
        .iter()
        .map(|&id| {
            let x = x_of(id);
            let mut acc = Scalar::ZERO;
            for c in coeffs.iter().rev() {
                acc = acc * x + c.0;
            }
            SecretScalar(acc)
        })
        .collect()
}

/// The Lagrange coefficients at 0 for the (distinct) holders `ids`.
pub(crate) fn lagrange_at_zero(ids: &[ClientId]) -> Vec<Scalar> {
    let xs: Vec<Scalar> = ids.iter().map(|&i| x_of(i)).collect();
    let mut dens: Vec<Scalar> = xs
        .iter()
        .enumerate()
        .map(|(i, xi)| {
            xs.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .fold(Scalar::ONE, |acc, (_, xj)| acc * (xj - xi))
        })
        .collect();
    // Distinct ids give distinct nonzero x, so no denominator is zero.
    Scalar::batch_invert(&mut dens);
    // Numerators: the product of the other x, from prefix and suffix products.
    let mut prefix = Vec::with_capacity(xs.len() + 1);
    prefix.push(Scalar::ONE);
    for x in &xs {
        prefix.push(prefix[prefix.len() - 1] * x);
    }
    let mut out = vec![Scalar::ZERO; xs.len()];
    let mut suffix = Scalar::ONE;
    for i in (0..xs.len()).rev() {
        out[i] = prefix[i] * suffix * dens[i];
        suffix *= xs[i];
    }
    out
}

/// The secret from shares and the matching Lagrange coefficients.
pub(crate) fn combine(coeffs: &[Scalar], shares: &[&Scalar]) -> SecretScalar {
    SecretScalar(
        coeffs
            .iter()
            .zip(shares)
            .fold(Scalar::ZERO, |acc, (c, s)| acc + c * *s),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_t_shares_reconstruct_and_fewer_do_not() {
        let mut rng = crate::rng::seeded(1);
        let secret = SecretScalar::random(&mut rng);
        let holders: Vec<ClientId> = vec![0, 3, 4, 9, 12, 13, 20];
        let shares = split(&secret.0, 4, &holders, &mut rng);
        for pick in [[0usize, 1, 2, 3], [3, 4, 5, 6], [0, 2, 4, 6]] {
            let ids: Vec<ClientId> = pick.iter().map(|&i| holders[i]).collect();
            let sh: Vec<&Scalar> = pick.iter().map(|&i| &shares[i].0).collect();
            assert_eq!(combine(&lagrange_at_zero(&ids), &sh).0, secret.0);
        }
        let ids = [holders[0], holders[1], holders[2]];
        let sh = [&shares[0].0, &shares[1].0, &shares[2].0];
        assert_ne!(combine(&lagrange_at_zero(&ids), &sh).0, secret.0);
    }
}
