//! The Noise primitives the channel hands to snow, in versions that wipe their keys.
//!
//! snow 0.10 has no `zeroize` feature: its default X25519 and ChaChaPoly objects keep the
//! static key, the ephemeral key and the cipher keys in plain arrays that are freed without
//! being wiped. snow takes its primitives from a resolver, so the channel gives it this one:
//! X25519 on curve25519-dalek with the private key in [`Zeroizing`], ChaCha20-Poly1305 with
//! its key in [`Zeroizing`] (the per-record cipher object of the `chacha20poly1305` crate
//! wipes its own copy), and SHA-256 whose HMAC and HKDF wipe their padded keys and
//! intermediate outputs. The randomness comes from snow's default (the OS).
//!
//! What stays in snow and cannot be wiped from outside: the chaining key and handshake hash
//! of its symmetric state (freed at the end of the handshake), and SHA-256's internal
//! block buffer (sha2 0.10 has no zeroize support).

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use curve25519_dalek::montgomery::MontgomeryPoint;
use sha2::Digest;
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use zeroize::{Zeroize, Zeroizing};

const KEY: usize = 32;
const TAG: usize = 16;
const BLOCK: usize = 64;
const HASH: usize = 32;

/// Resolves the channel's suite (25519, ChaChaPoly, SHA256) to wiping implementations.
#[derive(Default)]
pub(crate) struct WipingResolver;

impl CryptoResolver for WipingResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        DefaultResolver.resolve_rng()
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        match choice {
            DHChoice::Curve25519 => Some(Box::<X25519>::default()),
            _ => None,
        }
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        match choice {
            HashChoice::SHA256 => Some(Box::<Sha256>::default()),
            _ => None,
        }
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        match choice {
            CipherChoice::ChaChaPoly => Some(Box::<ChaChaPoly>::default()),
            _ => None,
        }
    }
}

/// X25519 with a private key wiped on drop.
#[derive(Default)]
struct X25519 {
    private: Zeroizing<[u8; KEY]>,
    public: [u8; KEY],
}

impl X25519 {
    fn derive_public(&mut self) {
        self.public = MontgomeryPoint::mul_base_clamped(*self.private).to_bytes();
    }
}

impl Dh for X25519 {
    fn name(&self) -> &'static str {
        "25519"
    }

    fn pub_len(&self) -> usize {
        KEY
    }

    fn priv_len(&self) -> usize {
        KEY
    }

    fn set(&mut self, privkey: &[u8]) {
        // snow passes exactly priv_len bytes.
        let n = privkey.len().min(KEY);
        self.private.zeroize();
        self.private[..n].copy_from_slice(&privkey[..n]);
        self.derive_public();
    }

    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        rng.try_fill_bytes(self.private.as_mut())?;
        self.derive_public();
        Ok(())
    }

    fn pubkey(&self) -> &[u8] {
        &self.public
    }

    fn privkey(&self) -> &[u8] {
        self.private.as_ref()
    }

    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        let peer: [u8; KEY] = pubkey
            .get(..KEY)
            .and_then(|p| p.try_into().ok())
            .ok_or(snow::Error::Dh)?;
        let shared = Zeroizing::new(MontgomeryPoint(peer).mul_clamped(*self.private).to_bytes());
        let n = out.len().min(KEY);
        out[..n].copy_from_slice(&shared[..n]);
        Ok(())
    }
}

/// ChaCha20-Poly1305 as Noise uses it (nonce: 4 zero bytes, then the counter little-endian),
/// with its key wiped on drop.
#[derive(Default)]
struct ChaChaPoly {
    key: Zeroizing<[u8; KEY]>,
}

fn nonce_bytes(nonce: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&nonce.to_le_bytes());
    n
}

impl Cipher for ChaChaPoly {
    fn name(&self) -> &'static str {
        "ChaChaPoly"
    }

    fn set(&mut self, key: &[u8; KEY]) {
        self.key.copy_from_slice(key);
    }

    fn encrypt(&self, nonce: u64, authtext: &[u8], plaintext: &[u8], out: &mut [u8]) -> usize {
        let len = plaintext.len();
        out[..len].copy_from_slice(plaintext);
        // Encryption with a 12-byte nonce fails only for messages over 256 GiB; Noise's are
        // at most 65535 bytes.
        let tag = ChaCha20Poly1305::new(self.key.as_ref().into())
            .encrypt_in_place_detached(&nonce_bytes(nonce).into(), authtext, &mut out[..len])
            .unwrap_or_default();
        out[len..len + TAG].copy_from_slice(&tag);
        len + TAG
    }

    fn decrypt(
        &self,
        nonce: u64,
        authtext: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, snow::Error> {
        let len = ciphertext
            .len()
            .checked_sub(TAG)
            .ok_or(snow::Error::Decrypt)?;
        out[..len].copy_from_slice(&ciphertext[..len]);
        let result = ChaCha20Poly1305::new(self.key.as_ref().into()).decrypt_in_place_detached(
            &nonce_bytes(nonce).into(),
            authtext,
            &mut out[..len],
            ciphertext[len..].into(),
        );
        if result.is_err() {
            // Leave no unauthenticated plaintext behind.
            out[..len].zeroize();
            return Err(snow::Error::Decrypt);
        }
        Ok(len)
    }
}

/// SHA-256 whose HMAC and HKDF wipe their temporaries.
#[derive(Default)]
struct Sha256(sha2::Sha256);

impl Hash for Sha256 {
    fn name(&self) -> &'static str {
        "SHA256"
    }

    fn block_len(&self) -> usize {
        BLOCK
    }

    fn hash_len(&self) -> usize {
        HASH
    }

    fn reset(&mut self) {
        self.0 = sha2::Sha256::new();
    }

    fn input(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn result(&mut self, out: &mut [u8]) {
        let digest = Zeroizing::new(<[u8; HASH]>::from(self.0.finalize_reset()));
        let n = out.len().min(HASH);
        out[..n].copy_from_slice(&digest[..n]);
    }

    fn hmac(&mut self, key: &[u8], data: &[u8], out: &mut [u8]) {
        let mut ipad = Zeroizing::new([0x36u8; BLOCK]);
        let mut opad = Zeroizing::new([0x5cu8; BLOCK]);
        for (i, k) in key.iter().take(BLOCK).enumerate() {
            ipad[i] ^= k;
            opad[i] ^= k;
        }
        let mut inner = Zeroizing::new([0u8; HASH]);
        self.reset();
        self.input(ipad.as_ref());
        self.input(data);
        self.result(inner.as_mut());
        self.reset();
        self.input(opad.as_ref());
        self.input(inner.as_ref());
        self.result(out);
        self.reset();
    }

    fn hkdf(
        &mut self,
        chaining_key: &[u8],
        input_key_material: &[u8],
        outputs: usize,
        out1: &mut [u8],
        out2: &mut [u8],
        out3: &mut [u8],
    ) {
        let mut temp_key = Zeroizing::new([0u8; HASH]);
        self.hmac(chaining_key, input_key_material, temp_key.as_mut());
        self.hmac(temp_key.as_ref(), &[1], out1);
        if outputs == 1 {
            return;
        }
        let mut input = Zeroizing::new([0u8; HASH + 1]);
        input[..HASH].copy_from_slice(&out1[..HASH]);
        input[HASH] = 2;
        self.hmac(temp_key.as_ref(), input.as_ref(), out2);
        if outputs == 2 {
            return;
        }
        input[..HASH].copy_from_slice(&out2[..HASH]);
        input[HASH] = 3;
        self.hmac(temp_key.as_ref(), input.as_ref(), out3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &str = "Noise_XX_25519_ChaChaPoly_SHA256";

    fn builder(wiping: bool, key: &[u8; 32]) -> snow::Builder<'_> {
        let params = PARAMS.parse().unwrap();
        let b = if wiping {
            snow::Builder::with_resolver(params, Box::new(WipingResolver))
        } else {
            snow::Builder::new(params)
        };
        b.local_private_key(key).unwrap().prologue(b"test").unwrap()
    }

    /// A full XX handshake and a few records between the wiping primitives and snow's own,
    /// in both roles: byte for byte the same protocol.
    #[test]
    fn interoperates_with_snows_default_primitives() {
        for (init_wipes, resp_wipes) in [(true, false), (false, true), (true, true)] {
            let (ki, kr) = ([1u8; 32], [2u8; 32]);
            let mut i = builder(init_wipes, &ki).build_initiator().unwrap();
            let mut r = builder(resp_wipes, &kr).build_responder().unwrap();
            let (mut buf, mut out) = (vec![0u8; 65535], vec![0u8; 65535]);
            let n = i.write_message(b"one", &mut buf).unwrap();
            assert_eq!(r.read_message(&buf[..n], &mut out).unwrap(), 3);
            let n = r.write_message(b"two", &mut buf).unwrap();
            assert_eq!(i.read_message(&buf[..n], &mut out).unwrap(), 3);
            let n = i.write_message(b"three", &mut buf).unwrap();
            assert_eq!(r.read_message(&buf[..n], &mut out).unwrap(), 5);
            assert_eq!(i.get_handshake_hash(), r.get_handshake_hash());
            let mut i = i.into_transport_mode().unwrap();
            let mut r = r.into_transport_mode().unwrap();
            for k in 0..3u8 {
                let msg = vec![k; 1000];
                let n = i.write_message(&msg, &mut buf).unwrap();
                let m = r.read_message(&buf[..n], &mut out).unwrap();
                assert_eq!(&out[..m], &msg[..]);
                // A flipped bit is refused and leaves nothing in the output.
                let n = r.write_message(&msg, &mut buf).unwrap();
                buf[3] ^= 1;
                assert!(i.read_message(&buf[..n], &mut out).is_err());
            }
        }
    }

    #[test]
    fn hkdf_matches_the_hkdf_crate() {
        let mut h = Sha256::default();
        let (mut o1, mut o2, mut o3) = ([0u8; 32], [0u8; 32], [0u8; 32]);
        h.hkdf(&[7; 32], b"ikm", 3, &mut o1, &mut o2, &mut o3);
        let mut okm = [0u8; 96];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(&[7; 32]), b"ikm")
            .expand(&[], &mut okm)
            .unwrap();
        assert_eq!([o1, o2, o3].concat(), okm.to_vec());
    }
}
