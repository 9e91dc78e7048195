//! The consistency-check round (Bonawitz et al. 2017, round 3 of the malicious-server
//! protocol), for a server that may lie about who dropped.
//!
//! Between the masked inputs and the unmasking, the server sends every survivor the list
//! of survivors; each signs it with its Ed25519 key, the verifying keys of all clients
//! being known to every client beforehand (a roster distributed out of band). The server
//! returns the signatures with the unmasking request, and a client reveals shares only if
//! at least t of its share holders signed **the same list** and the request agrees with
//! it. A server that tells some clients that u dropped (to collect u's mask-key shares)
//! and others that u survived (to collect shares of b_u) needs t signatures on each of
//! two different lists from holders of u: with t > (k + 1) / 2 and honest clients signing
//! one list each, it cannot get both, and the clients given the minority list refuse.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::ClientId;
use super::client::ClientAwaitUnmask;
use super::error::SecAggError;
use super::msgs::{
    SignedBy, SignedUnmaskRequest, SurvivorList, SurvivorSignature, UnmaskRequest, UnmaskShares,
};
use super::params::Params;
use super::server::{ServerAwaitMasked, ServerAwaitUnmask};
use std::collections::BTreeMap;

/// The bytes a client signs: a domain label, the session and the survivor list.
pub fn signed_payload(params: &Params, survivors: &[ClientId]) -> Vec<u8> {
    let mut m = b"shroud-secagg-v1 survivors".to_vec();
    m.extend_from_slice(params.session_id());
    m.extend_from_slice(&(survivors.len() as u32).to_le_bytes());
    for s in survivors {
        m.extend_from_slice(&s.to_le_bytes());
    }
    m
}

impl ClientAwaitUnmask {
    /// Consistency check, first half: signs the survivor list the server announced.
    /// `roster[v]` is client v's verifying key.
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] if the list is unsorted, has an unknown id, or
    /// leaves out this client (which sent its masked input);
    /// [`SecAggError::InvalidInput`] if the roster does not have n keys;
    /// [`SecAggError::InsecureParams`] if the session's parameters were derived for an
    /// honest-but-curious server (derive them with [`super::Tolerance::with_lying_server`]:
    /// otherwise corrupted share holders, who sign both lists, can give a lying server the
    /// t signatures it needs on each).
    ///
    /// # Security
    /// The signature commits this client to one list for the session: it will check the
    /// unmasking request against it.
    pub fn sign_survivors(
        self,
        list: SurvivorList,
        key: &SigningKey,
        roster: Vec<VerifyingKey>,
    ) -> Result<(SurvivorSignature, ClientAwaitChecked), SecAggError> {
        if roster.len() != self.params.n() as usize {
            return Err(SecAggError::InvalidInput(format!(
                "a roster of {} keys for {} clients",
                roster.len(),
                self.params.n()
            )));
        }
        if self.params.lying_server() == Some(false) {
            return Err(SecAggError::InsecureParams(
                "the consistency check needs parameters derived against a lying server \
                 (Tolerance::with_lying_server): this session's threshold does not stop \
                 corrupted holders from signing two survivor lists"
                    .into(),
            ));
        }
        let sorted = list.survivors.windows(2).all(|w| w[0] < w[1]);
        if !sorted
            || list.survivors.last().is_some_and(|&u| u >= self.params.n())
            || list.survivors.binary_search(&self.id).is_err()
        {
            return Err(SecAggError::PeerMisbehaved(
                "the survivor list is unsorted, names unknown clients or leaves out this client"
                    .into(),
            ));
        }
        let sig = key.sign(&signed_payload(&self.params, &list.survivors));
        Ok((
            SurvivorSignature {
                signature: sig.to_bytes(),
            },
            ClientAwaitChecked {
                inner: self,
                survivors: list.survivors,
                roster,
            },
        ))
    }
}

/// After signing the survivor list: waiting for the signatures and the unmasking request.
#[derive(Debug)]
pub struct ClientAwaitChecked {
    inner: ClientAwaitUnmask,
    survivors: Vec<ClientId>,
    roster: Vec<VerifyingKey>,
}

impl ClientAwaitChecked {
    /// Consistency check, second half, then unmasking: reveals the shares only if at least
    /// t of this client's share holders (itself included) signed the list it signed, and
    /// the request asks exactly for what that list implies.
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] if fewer than t holders' valid signatures on this
    /// client's list came back (the server showed different clients different lists), or
    /// the request disagrees with the list; then as [`ClientAwaitUnmask::unmask`].
    ///
    /// # Security
    /// Signatures are checked with `verify_strict` against the roster; one per signer.
    pub fn unmask(self, signed: SignedUnmaskRequest) -> Result<UnmaskShares, SecAggError> {
        let SignedUnmaskRequest {
            request: req,
            signatures,
        } = signed;
        let params = &self.inner.params;
        let me = self.inner.id;
        let payload = signed_payload(params, &self.survivors);
        let g = params.graph();
        let mut signers: Vec<ClientId> = signatures
            .iter()
            .filter(|s| s.id == me || g.is_neighbour(me, s.id))
            .filter(|s| {
                self.roster.get(s.id as usize).is_some_and(|vk| {
                    vk.verify_strict(&payload, &Signature::from_bytes(&s.signature))
                        .is_ok()
                })
            })
            .map(|s| s.id)
            .collect();
        signers.sort_unstable();
        signers.dedup();
        let t = params.threshold();
        if signers.len() < t {
            return Err(SecAggError::PeerMisbehaved(format!(
                "only {} of this client's share holders signed the survivor list it was given, \
                 {t} are needed: the server shows different clients different lists",
                signers.len()
            )));
        }
        // The request must follow from the list: survivors are the listed holders, the
        // dropped are the neighbours that shared keys and are not listed.
        let listed = |u: &ClientId| self.survivors.binary_search(u).is_ok();
        let survivors: Vec<ClientId> = self
            .survivors
            .iter()
            .copied()
            .filter(|&u| u == me || g.is_neighbour(me, u))
            .collect();
        let dropped: Vec<ClientId> = self
            .inner
            .received
            .iter()
            .map(|(k, _, _)| k.id)
            .filter(|u| !listed(u))
            .collect();
        if req.survivors != survivors || req.dropped != dropped {
            return Err(SecAggError::PeerMisbehaved(
                "the unmasking request disagrees with the survivor list this client signed".into(),
            ));
        }
        self.inner.unmask(req)
    }
}

impl ServerAwaitMasked {
    /// Closes round 3 with the consistency check: every client that sent its masked input
    /// gets the survivor list to sign.
    ///
    /// # Errors
    /// As [`ServerAwaitMasked::finish`].
    pub fn finish_checked(
        self,
    ) -> Result<(Vec<(ClientId, SurvivorList)>, ServerAwaitSignatures), SecAggError> {
        let (reqs, next) = self.finish()?;
        let survivors: Vec<ClientId> = reqs.iter().map(|(u, _)| *u).collect();
        let out = survivors
            .iter()
            .map(|&u| {
                (
                    u,
                    SurvivorList {
                        survivors: survivors.clone(),
                    },
                )
            })
            .collect();
        Ok((
            out,
            ServerAwaitSignatures {
                reqs: reqs.into_iter().collect(),
                sigs: BTreeMap::new(),
                next,
            },
        ))
    }
}

/// Consistency check: collecting the survivors' signatures.
#[derive(Debug)]
pub struct ServerAwaitSignatures {
    reqs: BTreeMap<ClientId, UnmaskRequest>,
    sigs: BTreeMap<ClientId, [u8; 64]>,
    next: ServerAwaitUnmask,
}

impl ServerAwaitSignatures {
    /// Takes client `from`'s signature (checked by the clients, not here).
    ///
    /// # Errors
    /// [`SecAggError::PeerMisbehaved`] if `from` is not a survivor or signed twice.
    pub fn receive(&mut self, from: ClientId, msg: SurvivorSignature) -> Result<(), SecAggError> {
        if !self.reqs.contains_key(&from) || self.sigs.contains_key(&from) {
            return Err(SecAggError::PeerMisbehaved(format!(
                "client {from} is not asked to sign, or signed twice"
            )));
        }
        self.sigs.insert(from, msg.signature);
        Ok(())
    }

    /// Sends each signer its unmasking request with all the signatures; clients that did
    /// not sign are not asked for shares.
    pub fn finish(self) -> (Vec<(ClientId, SignedUnmaskRequest)>, ServerAwaitUnmask) {
        let signatures: Vec<SignedBy> = self
            .sigs
            .iter()
            .map(|(&id, s)| SignedBy { id, signature: *s })
            .collect();
        let out = self
            .reqs
            .into_iter()
            .filter(|(u, _)| self.sigs.contains_key(u))
            .map(|(u, request)| {
                (
                    u,
                    SignedUnmaskRequest {
                        request,
                        signatures: signatures.clone(),
                    },
                )
            })
            .collect();
        (out, self.next)
    }
}
