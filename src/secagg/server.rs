//! The server's side. Each round collects the clients' messages one by one
//! (`receive`, which rejects a bad message and its sender alone) and is then closed by a
//! method that consumes the state and returns the next round's messages.
//!
//! [`Server::new`] -> [`ServerAwaitKeys`] -> [`ServerAwaitShares`] ->
//! [`ServerAwaitMasked`] -> [`ServerAwaitUnmask`] -> [`Aggregate`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use curve25519_dalek::edwards::EdwardsBasepointTable;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::BasepointTable;
use x25519_dalek::PublicKey;
use zeroize::Zeroizing;

use super::ClientId;
use super::client::mask_key_of;
use super::error::SecAggError;
use super::msgs::{
    AdvertiseKeys, EncryptedShares, ForwardedShares, KeyList, MaskedInput, PeerKeys, SealedShare,
    UnmaskRequest, UnmaskShares,
};
use super::params::Params;
use super::prg;
use super::shamir::{self, SecretScalar};

/// The result: the sum of the survivors' inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// Sum over `survivors` of their inputs (no wrap: the modulus covers n inputs).
    pub sum: Vec<u64>,
    /// Clients whose inputs are in the sum, ascending.
    pub survivors: Vec<ClientId>,
    /// All other clients, ascending.
    pub dropped: Vec<ClientId>,
}

/// The server role.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// A server for session `params`, waiting for the clients' keys.
    #[allow(clippy::new_ret_no_self)] // the first state is the server
    pub fn new(params: &Params) -> ServerAwaitKeys {
        ServerAwaitKeys {
            params: params.clone(),
            keys: BTreeMap::new(),
        }
    }
}

/// Dropped neighbours from which a survivor's key gets a fixed-base table.
const TABLE_MIN_USES: usize = 32;

fn known(params: &Params, from: ClientId) -> Result<(), SecAggError> {
    if from >= params.n() {
        return Err(SecAggError::PeerMisbehaved(format!(
            "client id {from} is not below n = {}",
            params.n()
        )));
    }
    Ok(())
}

fn duplicate(from: ClientId, round: &str) -> SecAggError {
    SecAggError::PeerMisbehaved(format!(
        "client {from} sent its {round} twice (replayed or duplicated)"
    ))
}

fn small_order(pk: &[u8; 32]) -> bool {
    // A key of small order would make the agreement with it non-contributory.
    MontgomeryPoint(*pk)
        .to_edwards(0)
        .is_none_or(|p| p.is_small_order())
}

/// Removes, until none is left, every client with fewer than t holders in `alive`.
/// Returns the first client removed and its live holders then, if any.
fn prune(params: &Params, alive: &mut BTreeSet<ClientId>) -> Option<(ClientId, usize)> {
    let t = params.threshold();
    let g = params.graph();
    let live = |u: ClientId, alive: &BTreeSet<ClientId>| {
        if g.is_complete() {
            alive.len()
        } else {
            g.holders(u).iter().filter(|v| alive.contains(v)).count()
        }
    };
    let mut first = None;
    loop {
        let weak: Vec<(ClientId, usize)> = alive
            .iter()
            .map(|&u| (u, live(u, alive)))
            .filter(|&(_, l)| l < t)
            .collect();
        if weak.is_empty() {
            return first;
        }
        first = first.or(weak.first().copied());
        for (u, _) in weak {
            alive.remove(&u);
        }
    }
}

fn all_pruned(round: u8, first: Option<(ClientId, usize)>, t: usize) -> SecAggError {
    let (client, alive) = first.unwrap_or((0, 0));
    SecAggError::TooManyDropouts {
        round,
        client,
        alive,
        needed: t,
    }
}

fn neighbours_in(params: &Params, u: ClientId, set: &BTreeSet<ClientId>) -> Vec<ClientId> {
    if params.graph().is_complete() {
        set.iter().copied().filter(|&v| v != u).collect()
    } else {
        params
            .graph()
            .neighbours(u)
            .into_iter()
            .filter(|v| set.contains(v))
            .collect()
    }
}

/// Round 1: collecting the clients' public keys.
#[derive(Debug)]
pub struct ServerAwaitKeys {
    params: Params,
    keys: BTreeMap<ClientId, AdvertiseKeys>,
}

impl ServerAwaitKeys {
    /// Takes client `from`'s keys (`from` is its authenticated identity).
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] for an unknown client, a second message, or a key
    /// of small order; the client is then left out.
    pub fn receive(&mut self, from: ClientId, msg: AdvertiseKeys) -> Result<(), SecAggError> {
        known(&self.params, from)?;
        if self.keys.contains_key(&from) {
            return Err(duplicate(from, "keys"));
        }
        if small_order(&msg.enc_pk) || small_order(&msg.mask_pk) || msg.enc_pk == msg.mask_pk {
            return Err(SecAggError::PeerMisbehaved(format!(
                "client {from} advertised a key of small order or two equal keys"
            )));
        }
        self.keys.insert(from, msg);
        Ok(())
    }

    /// Closes round 1: each remaining client gets the keys of its neighbours that
    /// advertised. Clients that could not reach t share holders are left out.
    ///
    /// # Errors
    /// [`SecAggError::TooManyDropouts`] if no client can go on.
    pub fn finish(self) -> Result<(Vec<(ClientId, KeyList)>, ServerAwaitShares), SecAggError> {
        let mut alive: BTreeSet<ClientId> = self.keys.keys().copied().collect();
        let first = prune(&self.params, &mut alive);
        if alive.is_empty() {
            return Err(all_pruned(1, first, self.params.threshold()));
        }
        let mut keys = self.keys;
        keys.retain(|u, _| alive.contains(u));
        let out = alive
            .iter()
            .map(|&u| {
                let list = neighbours_in(&self.params, u, &alive)
                    .into_iter()
                    .map(|v| PeerKeys {
                        id: v,
                        enc_pk: keys[&v].enc_pk,
                        mask_pk: keys[&v].mask_pk,
                    })
                    .collect();
                (u, KeyList { keys: list })
            })
            .collect();
        Ok((
            out,
            ServerAwaitShares {
                params: self.params,
                u1: alive,
                keys,
                sealed: BTreeMap::new(),
            },
        ))
    }
}

/// Round 2: collecting the sealed shares.
#[derive(Debug)]
pub struct ServerAwaitShares {
    params: Params,
    u1: BTreeSet<ClientId>,
    keys: BTreeMap<ClientId, AdvertiseKeys>,
    sealed: BTreeMap<ClientId, Vec<SealedShare>>,
}

impl ServerAwaitShares {
    /// Takes client `from`'s sealed shares.
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] if `from` is not in the round, sent twice, or did
    /// not seal exactly one share pair for each neighbour it was given.
    pub fn receive(&mut self, from: ClientId, msg: EncryptedShares) -> Result<(), SecAggError> {
        if !self.u1.contains(&from) {
            return Err(SecAggError::PeerMisbehaved(format!(
                "client {from} is not in the key-sharing round"
            )));
        }
        if self.sealed.contains_key(&from) {
            return Err(duplicate(from, "shares"));
        }
        let want = neighbours_in(&self.params, from, &self.u1);
        if want.len() != msg.shares.len() || want.iter().zip(&msg.shares).any(|(a, s)| *a != s.peer)
        {
            return Err(SecAggError::PeerMisbehaved(format!(
                "client {from} did not seal one share pair for each of its {} neighbours, in order",
                want.len()
            )));
        }
        self.sealed.insert(from, msg.shares);
        Ok(())
    }

    /// Closes round 2: each remaining client gets the shares sealed for it by its
    /// neighbours that shared.
    ///
    /// # Errors
    /// [`SecAggError::TooManyDropouts`] if no client can go on.
    pub fn finish(
        self,
    ) -> Result<(Vec<(ClientId, ForwardedShares)>, ServerAwaitMasked), SecAggError> {
        let mut alive: BTreeSet<ClientId> = self.sealed.keys().copied().collect();
        let first = prune(&self.params, &mut alive);
        if alive.is_empty() {
            return Err(all_pruned(2, first, self.params.threshold()));
        }
        let mut inbox: BTreeMap<ClientId, Vec<SealedShare>> =
            alive.iter().map(|&u| (u, Vec::new())).collect();
        for (&from, shares) in &self.sealed {
            if !alive.contains(&from) {
                continue;
            }
            for s in shares {
                if let Some(b) = inbox.get_mut(&s.peer) {
                    b.push(SealedShare {
                        peer: from,
                        ct: s.ct,
                    });
                }
            }
        }
        let out = inbox
            .into_iter()
            .map(|(u, shares)| (u, ForwardedShares { shares }))
            .collect();
        let mut keys = self.keys;
        keys.retain(|u, _| alive.contains(u));
        Ok((
            out,
            ServerAwaitMasked {
                sum: vec![0; self.params.dim()],
                params: self.params,
                u2: alive,
                keys,
                u3: BTreeSet::new(),
            },
        ))
    }
}

/// Round 3: collecting the masked inputs (added up as they arrive).
#[derive(Debug)]
pub struct ServerAwaitMasked {
    params: Params,
    u2: BTreeSet<ClientId>,
    keys: BTreeMap<ClientId, AdvertiseKeys>,
    u3: BTreeSet<ClientId>,
    sum: Vec<u64>,
}

impl ServerAwaitMasked {
    /// Takes client `from`'s masked input.
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] if `from` is not in the round or sent twice;
    /// [`SecAggError::Malformed`] for a vector of the wrong length.
    pub fn receive(&mut self, from: ClientId, msg: MaskedInput) -> Result<(), SecAggError> {
        if !self.u2.contains(&from) {
            return Err(SecAggError::PeerMisbehaved(format!(
                "client {from} is not in the masked-input round"
            )));
        }
        if self.u3.contains(&from) {
            return Err(duplicate(from, "masked input"));
        }
        if msg.y.len() != self.sum.len() {
            return Err(SecAggError::Malformed(format!(
                "a masked input of {} values, the session's is {}",
                msg.y.len(),
                self.sum.len()
            )));
        }
        for (s, y) in self.sum.iter_mut().zip(&msg.y) {
            *s = s.wrapping_add(*y);
        }
        self.u3.insert(from);
        Ok(())
    }

    /// Closes round 3: each client that sent its masked input is asked for the shares
    /// the server needs from it.
    ///
    /// # Errors
    /// [`SecAggError::TooManyDropouts`] if some client of the round has fewer than t
    /// holders left among the survivors: its secrets could not be recovered.
    pub fn finish(
        self,
    ) -> Result<(Vec<(ClientId, UnmaskRequest)>, ServerAwaitUnmask), SecAggError> {
        let t = self.params.threshold();
        for &u in &self.u2 {
            let alive = self
                .params
                .graph()
                .holders(u)
                .iter()
                .filter(|v| self.u3.contains(v))
                .count();
            if alive < t {
                return Err(SecAggError::TooManyDropouts {
                    round: 3,
                    client: u,
                    alive,
                    needed: t,
                });
            }
        }
        let out = self
            .u3
            .iter()
            .map(|&v| {
                let mut survivors = Vec::new();
                let mut dropped = Vec::new();
                for u in neighbours_in(&self.params, v, &self.u2) {
                    if self.u3.contains(&u) {
                        survivors.push(u);
                    } else {
                        dropped.push(u);
                    }
                }
                let i = survivors.partition_point(|&u| u < v);
                survivors.insert(i, v);
                (v, UnmaskRequest { survivors, dropped })
            })
            .collect();
        Ok((
            out,
            ServerAwaitUnmask {
                params: self.params,
                u2: self.u2,
                u3: self.u3,
                keys: self.keys,
                sum: self.sum,
                answered: BTreeSet::new(),
                b_shares: HashMap::new(),
                s_shares: HashMap::new(),
            },
        ))
    }
}

/// Round 4: collecting the revealed shares.
pub struct ServerAwaitUnmask {
    params: Params,
    u2: BTreeSet<ClientId>,
    u3: BTreeSet<ClientId>,
    keys: BTreeMap<ClientId, AdvertiseKeys>,
    sum: Vec<u64>,
    answered: BTreeSet<ClientId>,
    b_shares: HashMap<ClientId, Vec<(ClientId, SecretScalar)>>,
    s_shares: HashMap<ClientId, Vec<(ClientId, SecretScalar)>>,
}

impl core::fmt::Debug for ServerAwaitUnmask {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "ServerAwaitUnmask({} answered, <shares redacted>)",
            self.answered.len()
        )
    }
}

fn parse_share(from: ClientId, bytes: &[u8; 32]) -> Result<SecretScalar, SecAggError> {
    Option::<Scalar>::from(Scalar::from_canonical_bytes(*bytes))
        .map(SecretScalar)
        .ok_or_else(|| SecAggError::Malformed(format!("client {from} sent a non-canonical share")))
}

impl ServerAwaitUnmask {
    /// Takes client `from`'s revealed shares: only shares the server asked it for.
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] if `from` is not in the round, answered twice, or
    /// sent a share it was not asked for (or twice); [`SecAggError::Malformed`] for a
    /// non-canonical share. The client's shares are then all ignored.
    pub fn receive(&mut self, from: ClientId, msg: UnmaskShares) -> Result<(), SecAggError> {
        if !self.u3.contains(&from) {
            return Err(SecAggError::PeerMisbehaved(format!(
                "client {from} is not in the unmasking round"
            )));
        }
        if self.answered.contains(&from) {
            return Err(duplicate(from, "shares for unmasking"));
        }
        let g = self.params.graph();
        let ascending =
            |l: &[super::msgs::RevealedShare]| l.windows(2).all(|w| w[0].peer < w[1].peer);
        if !ascending(&msg.self_mask) || !ascending(&msg.mask_key) {
            return Err(SecAggError::PeerMisbehaved(format!(
                "client {from}'s shares are not strictly ascending"
            )));
        }
        let mut b = Vec::with_capacity(msg.self_mask.len());
        for s in &msg.self_mask {
            if !(s.peer == from || g.is_neighbour(from, s.peer) && self.u3.contains(&s.peer)) {
                return Err(SecAggError::PeerMisbehaved(format!(
                    "client {from} sent a self-mask share of client {}, which it was not asked for",
                    s.peer
                )));
            }
            b.push((s.peer, parse_share(from, &s.share)?));
        }
        let mut sk = Vec::with_capacity(msg.mask_key.len());
        for s in &msg.mask_key {
            let dropped = self.u2.contains(&s.peer) && !self.u3.contains(&s.peer);
            if !(g.is_neighbour(from, s.peer) && dropped) {
                return Err(SecAggError::PeerMisbehaved(format!(
                    "client {from} sent a mask-key share of client {}, which it was not asked for",
                    s.peer
                )));
            }
            sk.push((s.peer, parse_share(from, &s.share)?));
        }
        for (peer, share) in b {
            self.b_shares.entry(peer).or_default().push((from, share));
        }
        for (peer, share) in sk {
            self.s_shares.entry(peer).or_default().push((from, share));
        }
        self.answered.insert(from);
        Ok(())
    }

    /// Closes the session: reconstructs the survivors' self-mask seeds and the dropped
    /// clients' mask keys from t shares each, removes their masks and returns the sum.
    ///
    /// # Errors
    /// [`SecAggError::TooManyDropouts`] if some secret has fewer than t shares;
    /// [`SecAggError::ReconstructionFailed`] if a mask key's shares do not give the key
    /// the client advertised.
    pub fn finish(mut self) -> Result<Aggregate, SecAggError> {
        let t = self.params.threshold();
        let session = *self.params.session_id();
        let wide = self.params.modulus_bits() > 32;
        let mut lagrange: HashMap<Vec<ClientId>, Vec<Scalar>> = HashMap::new();
        let mut reconstruct = |u: ClientId,
                               shares: Option<&mut Vec<(ClientId, SecretScalar)>>|
         -> Result<SecretScalar, SecAggError> {
            let have: &[(ClientId, SecretScalar)] = match shares {
                Some(s) => {
                    s.sort_unstable_by_key(|(h, _)| *h);
                    s
                }
                None => &[],
            };
            if have.len() < t {
                return Err(SecAggError::TooManyDropouts {
                    round: 4,
                    client: u,
                    alive: have.len(),
                    needed: t,
                });
            }
            let ids: Vec<ClientId> = have[..t].iter().map(|(h, _)| *h).collect();
            let coeffs = lagrange
                .entry(ids)
                .or_insert_with_key(|ids| shamir::lagrange_at_zero(ids));
            let sh: Vec<&Scalar> = have[..t].iter().map(|(_, s)| &s.0).collect();
            Ok(shamir::combine(coeffs, &sh))
        };
        let mut sum = std::mem::take(&mut self.sum);
        let mut masks: Vec<(prg::Key, bool)> = Vec::new();
        // Survivors: their self masks.
        for &u in &self.u3 {
            let b = reconstruct(u, self.b_shares.get_mut(&u))?;
            let seed = Zeroizing::new(b.0.to_bytes());
            masks.push((prg::self_key(&seed, &session), true));
        }
        // Dropped after sharing keys: their mask keys, checked against what they advertised.
        let mut dropped_keys: BTreeMap<ClientId, Zeroizing<[u8; 32]>> = BTreeMap::new();
        for &u in self.u2.difference(&self.u3) {
            let m = reconstruct(u, self.s_shares.get_mut(&u))?;
            let sk = mask_key_of(&m, &session);
            if PublicKey::from(&sk).to_bytes() != self.keys[&u].mask_pk {
                return Err(SecAggError::ReconstructionFailed(u));
            }
            dropped_keys.insert(u, Zeroizing::new(sk.to_bytes()));
        }
        // Their pairwise masks with the survivors. When a survivor has many dropped
        // neighbours, X25519 with its key is a constant-time fixed-base multiplication by
        // a table of that key (built once, about 18 ladders' worth; each use is a third of
        // a ladder); it gives the same u-coordinate as the Montgomery ladder, the keys
        // having been checked to be curve points in round 1.
        let dropped: BTreeSet<ClientId> = dropped_keys.keys().copied().collect();
        for &v in &self.u3 {
            let mine = neighbours_in(&self.params, v, &dropped);
            if mine.is_empty() {
                continue;
            }
            let pk = self.keys[&v].mask_pk;
            let table = if mine.len() >= TABLE_MIN_USES {
                let Some(point) = MontgomeryPoint(pk).to_edwards(0) else {
                    return Err(SecAggError::PeerMisbehaved(format!(
                        "client {v}'s mask key is not a curve point"
                    )));
                };
                Some(EdwardsBasepointTable::create(&point))
            } else {
                None
            };
            for u in mine {
                let sk = &dropped_keys[&u];
                let shared = Zeroizing::new(match &table {
                    Some(t) => t.mul_base_clamped(**sk).to_montgomery().to_bytes(),
                    None => x25519_dalek::x25519(**sk, pk),
                });
                // v added its mask with sign + if v < u: take it away.
                masks.push((prg::pair_key(&shared, &session, u, v), v < u));
            }
        }
        prg::apply_masks(&mut sum, &masks, wide);
        let m = self.params.mask();
        for s in &mut sum {
            *s &= m;
        }
        let survivors: Vec<ClientId> = self.u3.iter().copied().collect();
        let dropped = (0..self.params.n())
            .filter(|u| !self.u3.contains(u))
            .collect();
        Ok(Aggregate {
            sum,
            survivors,
            dropped,
        })
    }
}
