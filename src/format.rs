//! Wire formats: python-paillier compatible JSON and shroud's compact binary format.
//!
//! Every decoder treats its input as hostile: lengths are bounded before any work is done,
//! every field is checked, and every failure is an [`crate::Error`], never a panic.
//!
//! Public keys and ciphertexts are public data and are parsed in variable time (num-bigint,
//! the `base64` crate, serde_json), without `_vartime` suffixes. Secret keys are different:
//! their p and q go from the input bytes to constant-time code (a constant-time base64url
//! decoder for JWK, the raw bytes for the binary format) and are checked in constant time
//! (`SecretKey::from_be_bytes`); see each decoder's `# Security` section.

mod b64ct;
pub mod binary;
pub mod jwk;
pub mod phe_json;

/// Longest JSON document the decoders accept (a 8192-bit private key is about 4 KiB).
pub const MAX_JSON_BYTES: usize = 64 * 1024;
