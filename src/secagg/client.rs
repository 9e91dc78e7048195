//! The client's side: four rounds, each consuming the state of the one before.
//!
//! [`Client::advertise`] -> [`ClientAwaitKeys::share_keys`] ->
//! [`ClientAwaitShares::masked_input`] -> [`ClientAwaitUnmask::unmask`].

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use rand_core::CryptoRng;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ClientId;
use super::error::SecAggError;
use super::msgs::{
    AdvertiseKeys, EncryptedShares, ForwardedShares, KeyList, MaskedInput, PeerKeys, RevealedShare,
    SEALED_LEN, SealedShare, UnmaskRequest, UnmaskShares,
};
use super::params::Params;
use super::prg;
use super::shamir::{self, SecretScalar};

/// A client's private input vector: not `Clone`, redacted `Debug`, zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct SecretVec(Vec<u64>);

fn secret_key<R: CryptoRng + ?Sized>(rng: &mut R) -> StaticSecret {
    let mut b = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(b.as_mut());
    StaticSecret::from(*b)
}

/// The X25519 mask key a shared scalar stands for (the server derives it the same way
/// from the reconstructed scalar).
pub(crate) fn mask_key_of(scalar: &SecretScalar, session: &[u8; 32]) -> StaticSecret {
    let bytes = Zeroizing::new(scalar.0.to_bytes());
    StaticSecret::from(*prg::mask_secret(&bytes, session))
}

fn strictly_ascending(ids: impl Iterator<Item = ClientId>) -> bool {
    let mut last = None;
    for i in ids {
        if last.is_some_and(|l| l >= i) {
            return false;
        }
        last = Some(i);
    }
    true
}

fn aad(session: &[u8; 32], from: ClientId, to: ClientId) -> [u8; 40] {
    let mut a = [0u8; 40];
    a[..32].copy_from_slice(session);
    a[32..36].copy_from_slice(&from.to_le_bytes());
    a[36..].copy_from_slice(&to.to_le_bytes());
    a
}

/// A client before the session starts.
pub struct Client {
    params: Params,
    id: ClientId,
    input: SecretVec,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Client({}, <input redacted>)", self.id)
    }
}

impl Client {
    /// Client `id` of session `params`, with its input (dim values below
    /// 2^input_bits).
    ///
    /// # Errors
    /// [`SecAggError::InvalidInput`] for an id out of range, an input of the wrong length
    /// or a value over the bound.
    pub fn new(params: &Params, id: ClientId, input: Vec<u64>) -> Result<Self, SecAggError> {
        let input = SecretVec(input);
        params.check_client(id)?;
        if input.0.len() != params.dim() {
            return Err(SecAggError::InvalidInput(format!(
                "an input of {} values, the session's dimension is {}",
                input.0.len(),
                params.dim()
            )));
        }
        let bound = params.input_bits();
        if input.0.iter().any(|&v| bound < 64 && v >> bound != 0) {
            return Err(SecAggError::InvalidInput(format!(
                "an input value is not below 2^{bound}"
            )));
        }
        Ok(Client {
            params: params.clone(),
            id,
            input,
        })
    }

    /// This client's id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Round 1: draws the two X25519 key pairs and advertises the public keys.
    ///
    /// # Security
    /// The secret keys never leave the state; the mask key is the image of a random field
    /// element, which is what gets secret-shared.
    pub fn advertise<R: CryptoRng + ?Sized>(self, rng: &mut R) -> (AdvertiseKeys, ClientAwaitKeys) {
        let enc_sk = secret_key(rng);
        let mask_scalar = SecretScalar::random(rng);
        let mask_sk = mask_key_of(&mask_scalar, self.params.session_id());
        let enc_pk = PublicKey::from(&enc_sk).to_bytes();
        let mask_pk = PublicKey::from(&mask_sk).to_bytes();
        let Client { params, id, input } = self;
        (
            AdvertiseKeys { enc_pk, mask_pk },
            ClientAwaitKeys {
                params,
                id,
                input,
                enc_sk,
                enc_pk,
                mask_scalar,
                mask_sk,
                mask_pk,
            },
        )
    }
}

/// After advertising: waiting for the neighbours' keys.
pub struct ClientAwaitKeys {
    params: Params,
    id: ClientId,
    input: SecretVec,
    enc_sk: StaticSecret,
    enc_pk: [u8; 32],
    mask_scalar: SecretScalar,
    mask_sk: StaticSecret,
    mask_pk: [u8; 32],
}

impl ZeroizeOnDrop for ClientAwaitKeys {}

impl core::fmt::Debug for ClientAwaitKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ClientAwaitKeys({}, <secrets redacted>)", self.id)
    }
}

impl ClientAwaitKeys {
    /// Round 2: checks the neighbours' keys, draws the self-mask seed b_u, splits b_u and
    /// the mask key t-of-(holders) and seals each neighbour's pair of shares to it.
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] for a non-neighbour, an unsorted or repeated entry,
    /// a key equal to this client's own or of small order;
    /// [`SecAggError::TooManyDropouts`] if fewer than t holders (this client included)
    /// are left.
    ///
    /// # Security
    /// Shares are sealed with ChaCha20-Poly1305 under HKDF-SHA256 of the X25519 agreement,
    /// bound to the session, both ids and both public keys; each key seals one message.
    pub fn share_keys<R: CryptoRng + ?Sized>(
        self,
        list: KeyList,
        rng: &mut R,
    ) -> Result<(EncryptedShares, ClientAwaitShares), SecAggError> {
        let g = self.params.graph();
        if !strictly_ascending(list.keys.iter().map(|k| k.id)) {
            return Err(SecAggError::PeerMisbehaved(
                "the key list is not strictly ascending".into(),
            ));
        }
        if let Some(k) = list.keys.iter().find(|k| !g.is_neighbour(self.id, k.id)) {
            return Err(SecAggError::PeerMisbehaved(format!(
                "the key list names client {}, not a neighbour",
                k.id
            )));
        }
        let t = self.params.threshold();
        if list.keys.len() + 1 < t {
            return Err(SecAggError::TooManyDropouts {
                round: 1,
                client: self.id,
                alive: list.keys.len() + 1,
                needed: t,
            });
        }
        let session = *self.params.session_id();
        let mut keys = Vec::with_capacity(list.keys.len());
        let mut agreed = Vec::with_capacity(list.keys.len());
        for k in &list.keys {
            if k.enc_pk == self.enc_pk || k.mask_pk == self.mask_pk {
                return Err(SecAggError::PeerMisbehaved(format!(
                    "client {} advertised this client's own key",
                    k.id
                )));
            }
            let shared = self.enc_sk.diffie_hellman(&PublicKey::from(k.enc_pk));
            if !shared.was_contributory() {
                return Err(SecAggError::PeerMisbehaved(format!(
                    "client {}'s encryption key has small order",
                    k.id
                )));
            }
            agreed.push(Zeroizing::new(*shared.as_bytes()));
            keys.push(prg::share_key(
                shared.as_bytes(),
                &session,
                self.id,
                k.id,
                &self.enc_pk,
                &k.enc_pk,
            ));
        }
        let b = SecretScalar::random(rng);
        let mut holders: Vec<ClientId> = list.keys.iter().map(|k| k.id).collect();
        let me = holders.partition_point(|&v| v < self.id);
        holders.insert(me, self.id);
        let mut b_shares = shamir::split(&b.0, t, &holders, rng);
        let s_shares = shamir::split(&self.mask_scalar.0, t, &holders, rng);
        let self_b_share = b_shares.remove(me);
        let mut shares = Vec::with_capacity(list.keys.len());
        let others = holders.iter().enumerate().filter(|&(i, _)| i != me);
        for ((k, key), (i, _)) in list.keys.iter().zip(&keys).zip(others) {
            let bi = if i < me { i } else { i - 1 };
            let mut buf = Zeroizing::new([0u8; SEALED_LEN]);
            buf[..4].copy_from_slice(&self.id.to_le_bytes());
            buf[4..8].copy_from_slice(&k.id.to_le_bytes());
            buf[8..40].copy_from_slice(b_shares[bi].0.as_bytes());
            buf[40..72].copy_from_slice(s_shares[i].0.as_bytes());
            let cipher = ChaCha20Poly1305::new(key.as_ref().into());
            // The plaintext is 72 bytes, far below the AEAD's limit: sealing cannot fail.
            let tag = cipher
                .encrypt_in_place_detached(
                    &Nonce::default(),
                    &aad(&session, self.id, k.id),
                    &mut buf[..72],
                )
                .expect("72 bytes are within ChaCha20-Poly1305's limit");
            buf[72..].copy_from_slice(&tag);
            shares.push(SealedShare {
                peer: k.id,
                ct: *buf,
            });
        }
        let ClientAwaitKeys {
            params,
            id,
            input,
            enc_pk,
            mask_sk,
            ..
        } = self;
        Ok((
            EncryptedShares { shares },
            ClientAwaitShares {
                params,
                id,
                input,
                enc_pk,
                mask_sk,
                b,
                self_b_share,
                peers: list.keys.into_iter().zip(agreed).collect(),
            },
        ))
    }
}

/// After sharing keys: waiting for the shares addressed to this client.
pub struct ClientAwaitShares {
    params: Params,
    id: ClientId,
    input: SecretVec,
    enc_pk: [u8; 32],
    mask_sk: StaticSecret,
    b: SecretScalar,
    self_b_share: SecretScalar,
    /// Neighbours that advertised, with the X25519 agreement of the encryption keys.
    peers: Vec<(PeerKeys, Zeroizing<[u8; 32]>)>,
}

impl ZeroizeOnDrop for ClientAwaitShares {}

impl core::fmt::Debug for ClientAwaitShares {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ClientAwaitShares({}, <secrets redacted>)", self.id)
    }
}

impl ClientAwaitShares {
    /// Round 3: stores the sealed shares of the neighbours that shared keys and sends
    /// y_u = x_u + PRG(b_u) + sum over those neighbours v of +/- PRG(s_uv) mod 2^b
    /// (+ if u < v).
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] for a sender that is not a neighbour that
    /// advertised, unsorted or repeated senders, a mask key of small order;
    /// [`SecAggError::TooManyDropouts`] if fewer than t holders are left.
    ///
    /// # Security
    /// The masks are ChaCha20 keystreams under HKDF keys (see the `prg` module); the input
    /// and keystream buffers are zeroized.
    pub fn masked_input(
        self,
        fwd: ForwardedShares,
    ) -> Result<(MaskedInput, ClientAwaitUnmask), SecAggError> {
        if !strictly_ascending(fwd.shares.iter().map(|s| s.peer)) {
            return Err(SecAggError::PeerMisbehaved(
                "the forwarded shares are not strictly ascending by sender".into(),
            ));
        }
        let mut received = Vec::with_capacity(fwd.shares.len());
        for s in fwd.shares {
            let Ok(i) = self.peers.binary_search_by_key(&s.peer, |(k, _)| k.id) else {
                return Err(SecAggError::PeerMisbehaved(format!(
                    "shares forwarded from client {}, which is not a neighbour that advertised keys",
                    s.peer
                )));
            };
            let (k, agreed) = &self.peers[i];
            received.push((k.clone(), agreed.clone(), s.ct));
        }
        let t = self.params.threshold();
        if received.len() + 1 < t {
            return Err(SecAggError::TooManyDropouts {
                round: 2,
                client: self.id,
                alive: received.len() + 1,
                needed: t,
            });
        }
        let session = *self.params.session_id();
        let wide = self.params.modulus_bits() > 32;
        let seed = Zeroizing::new(self.b.0.to_bytes());
        let mut masks = Vec::with_capacity(received.len() + 1);
        masks.push((prg::self_key(&seed, &session), false));
        for (k, _, _) in &received {
            let shared = self.mask_sk.diffie_hellman(&PublicKey::from(k.mask_pk));
            if !shared.was_contributory() {
                return Err(SecAggError::PeerMisbehaved(format!(
                    "client {}'s mask key has small order",
                    k.id
                )));
            }
            let key = prg::pair_key(shared.as_bytes(), &session, self.id, k.id);
            masks.push((key, self.id > k.id));
        }
        let mut y = self.input.0.clone();
        prg::apply_masks(&mut y, &masks, wide);
        let m = self.params.mask();
        for v in &mut y {
            *v &= m;
        }
        let ClientAwaitShares {
            params,
            id,
            enc_pk,
            self_b_share,
            ..
        } = self;
        Ok((
            MaskedInput { y },
            ClientAwaitUnmask {
                params,
                id,
                enc_pk,
                self_b_share,
                received,
            },
        ))
    }
}

/// After sending the masked input: waiting for the unmasking request.
pub struct ClientAwaitUnmask {
    pub(super) params: Params,
    pub(super) id: ClientId,
    enc_pk: [u8; 32],
    self_b_share: SecretScalar,
    /// Neighbours that shared: keys, the agreement of the encryption keys, the sealed
    /// shares.
    pub(super) received: Vec<(PeerKeys, Zeroizing<[u8; 32]>, [u8; SEALED_LEN])>,
}

impl ZeroizeOnDrop for ClientAwaitUnmask {}

impl core::fmt::Debug for ClientAwaitUnmask {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ClientAwaitUnmask({}, <secrets redacted>)", self.id)
    }
}

impl ClientAwaitUnmask {
    /// Round 4: reveals, for each surviving neighbour (and itself), its share of the
    /// self-mask seed, and for each neighbour that dropped after sharing keys, its share
    /// of the mask key. This ends the client's part.
    ///
    /// # Errors
    /// [`SecAggError::UnmaskRefused`] if one client is listed both as survivor and as
    /// dropped; [`SecAggError::PeerMisbehaved`] if this client is listed as dropped, or
    /// the lists are unsorted or do not split exactly the neighbours whose shares this
    /// client received; [`SecAggError::TooManyDropouts`] if fewer than t survivors.
    ///
    /// # Security
    /// An honest client never reveals both shares of one peer: the state is consumed, so a
    /// second request cannot be answered, and a request asking for both is refused whole.
    pub fn unmask(self, req: UnmaskRequest) -> Result<UnmaskShares, SecAggError> {
        if let Some(&peer) = req
            .survivors
            .iter()
            .find(|s| req.dropped.binary_search(s).is_ok())
        {
            return Err(SecAggError::UnmaskRefused { peer });
        }
        if !strictly_ascending(req.survivors.iter().copied())
            || !strictly_ascending(req.dropped.iter().copied())
        {
            return Err(SecAggError::PeerMisbehaved(
                "the unmasking lists are not strictly ascending".into(),
            ));
        }
        if req.dropped.contains(&self.id) || !req.survivors.contains(&self.id) {
            return Err(SecAggError::PeerMisbehaved(
                "the server does not list this client, which sent its masked input, as a survivor"
                    .into(),
            ));
        }
        let mut asked: Vec<ClientId> = req
            .survivors
            .iter()
            .chain(&req.dropped)
            .copied()
            .filter(|&v| v != self.id)
            .collect();
        asked.sort_unstable();
        if asked.len() != self.received.len()
            || asked
                .iter()
                .zip(&self.received)
                .any(|(a, (k, _, _))| *a != k.id)
        {
            return Err(SecAggError::PeerMisbehaved(
                "the unmasking lists do not split the neighbours whose shares this client holds"
                    .into(),
            ));
        }
        let t = self.params.threshold();
        if req.survivors.len() < t {
            return Err(SecAggError::TooManyDropouts {
                round: 3,
                client: self.id,
                alive: req.survivors.len(),
                needed: t,
            });
        }
        let session = *self.params.session_id();
        let mut out = UnmaskShares {
            self_mask: Vec::with_capacity(req.survivors.len()),
            mask_key: Vec::with_capacity(req.dropped.len()),
            unreadable: Vec::new(),
        };
        for (k, agreed, ct) in &self.received {
            let survived = req.survivors.binary_search(&k.id).is_ok();
            match self.open(k, agreed, ct, &session) {
                Some(pt) => {
                    let (range, list) = if survived {
                        (8..40, &mut out.self_mask)
                    } else {
                        (40..72, &mut out.mask_key)
                    };
                    let mut share = [0u8; 32];
                    share.copy_from_slice(&pt[range]);
                    list.push(RevealedShare { peer: k.id, share });
                }
                None => out.unreadable.push(k.id),
            }
        }
        let i = out.self_mask.partition_point(|s| s.peer < self.id);
        out.self_mask.insert(
            i,
            RevealedShare {
                peer: self.id,
                share: self.self_b_share.0.to_bytes(),
            },
        );
        Ok(out)
    }

    /// Opens the pair of shares `k` sealed for this client; `None` if it fails
    /// authentication or names other parties.
    fn open(
        &self,
        k: &PeerKeys,
        agreed: &[u8; 32],
        ct: &[u8; SEALED_LEN],
        session: &[u8; 32],
    ) -> Option<Zeroizing<[u8; SEALED_LEN]>> {
        let key = prg::share_key(agreed, session, k.id, self.id, &k.enc_pk, &self.enc_pk);
        let cipher = ChaCha20Poly1305::new(key.as_ref().into());
        let mut buf = Zeroizing::new(*ct);
        let tag = *Tag::from_slice(&ct[72..]);
        cipher
            .decrypt_in_place_detached(
                &Nonce::default(),
                &aad(session, k.id, self.id),
                &mut buf[..72],
                &tag,
            )
            .ok()?;
        let ok = buf[..4] == k.id.to_le_bytes() && buf[4..8] == self.id.to_le_bytes();
        ok.then_some(buf)
    }
}
