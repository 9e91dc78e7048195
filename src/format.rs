//! Wire formats: python-paillier compatible JSON and shroud's compact binary format.
//!
//! Every decoder treats its input as hostile: lengths are bounded before any work is done,
//! every field is checked, and every failure is an [`crate::Error`], never a panic.

mod b64ct;
pub mod binary;
pub mod jwk;
pub mod phe_json;

/// Longest JSON document the decoders accept (a 8192-bit private key is about 4 KiB).
pub const MAX_JSON_BYTES: usize = 64 * 1024;
