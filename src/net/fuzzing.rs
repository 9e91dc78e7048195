//! Entry points for the fuzz targets in `fuzz/` (and their corpus replay in
//! `tests/fuzz_corpus.rs`): the parts of the channel that read a peer's bytes, without
//! sockets. Not part of the supported API.

use super::identity::{Fingerprint, Identity, Peers};
use super::secure::Assembler;

const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_SHA256";

/// Splits `data` into records the way they travel: a 2-byte big-endian length, then
/// that many bytes (shorter at the end of the input).
fn records(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (len, rest) = data.split_first_chunk::<2>()?;
        let n = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (r, tail) = rest.split_at(n);
        data = tail;
        Some(r)
    })
}

/// A Noise responder with a fixed identity reads the first and third handshake messages
/// from `data`, answers the second, and checks the initiator's key against its pins.
pub fn handshake_responder(data: &[u8]) {
    let id = Identity::from_seed_for_fuzzing([7; 32]);
    let mut peers = Peers::default();
    let _ = peers.insert("client", Fingerprint::of(&[9; 32]));
    let Ok(params) = NOISE_PARAMS.parse() else {
        return;
    };
    let Ok(mut hs) = snow::Builder::with_resolver(params, Box::new(super::wiping::WipingResolver))
        .local_private_key(id.secret_bytes())
        .and_then(|b| b.prologue(b"shroud channel v1\0\x04fuzz\x00"))
        .map(|b| b.fixed_ephemeral_key_for_testing_only(&[5; 32]))
        .and_then(snow::Builder::build_responder)
    else {
        return;
    };
    let mut out = vec![0u8; 65535];
    let mut payload = vec![0u8; 65535];
    let mut msgs = records(data);
    let Some(m1) = msgs.next() else { return };
    if hs.read_message(m1, &mut payload).is_err() {
        return;
    }
    if hs.write_message(&[], &mut out).is_err() {
        return;
    }
    let Some(m3) = msgs.next() else { return };
    if hs.read_message(m3, &mut payload).is_err() {
        return;
    }
    if let Some(k) = hs
        .get_remote_static()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
    {
        let _ = peers.name_of(&Fingerprint::of(&k));
    }
}

/// Decrypted record plaintexts, as a hostile but authenticated peer may choose them, are
/// assembled into frames under a 1 MiB limit; every frame that comes out has exactly the
/// length its first record announced.
pub fn frame_records(data: &[u8]) {
    let mut frame = Assembler::new(1 << 20);
    for r in records(data) {
        match frame.push(r) {
            Ok(Some(f)) => {
                assert!(f.len() <= 1 << 20, "a frame over the limit came out");
                frame = Assembler::new(1 << 20);
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}
