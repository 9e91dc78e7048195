//! Replays the fuzz corpora (fuzz/corpus/<target>/*) through the same functions the fuzz
//! targets call, so every input the fuzzer kept stays a regression test.

include!("../fuzz/fuzz_targets/common.rs");

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            f(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "empty corpus for {target}");
}

#[test]
fn jwk_public() {
    replay("jwk_public", fuzz_common::jwk_public);
}

#[test]
fn jwk_private() {
    replay("jwk_private", fuzz_common::jwk_private);
}

#[test]
fn phe_ciphertext() {
    replay("phe_ciphertext", fuzz_common::phe_ciphertext);
}

#[test]
fn binary_keys() {
    replay("binary_keys", fuzz_common::binary_keys);
}

#[test]
fn binary_ciphertexts() {
    replay("binary_ciphertexts", fuzz_common::binary_ciphertexts);
}

#[test]
fn round_trip() {
    replay("round_trip", fuzz_common::round_trip);
}

#[test]
fn psi_message() {
    replay("psi_message", fuzz_common::psi_message);
}

#[test]
fn psi_server_sum() {
    replay("psi_server_sum", fuzz_common::psi_server_sum);
}

#[test]
fn psi_gcs() {
    replay("psi_gcs", fuzz_common::psi_gcs);
}

#[test]
fn channel_handshake() {
    replay("channel_handshake", fuzz_common::channel_handshake);
}

#[test]
fn channel_frames() {
    replay("channel_frames", fuzz_common::channel_frames);
}

#[test]
fn secagg_message() {
    replay("secagg_message", fuzz_common::secagg_message);
}

#[test]
fn fl_message() {
    replay("fl_message", fuzz_common::fl_message);
}

#[test]
fn serve_request() {
    replay("serve_request", fuzz_common::serve_request);
}

#[test]
fn monty() {
    replay("monty", fuzz_common::monty);
}
