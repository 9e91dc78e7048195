//! Declassification points for the constant-time harness (BoringSSL's
//! `CONSTTIME_DECLASSIFY` idea).
//!
//! A few results computed from secrets are public by design: whether a drawn nonce was
//! rejected (the rejected candidate is discarded), whether a loaded key passed its
//! integrity checks, the modulus n = p q. The library passes each such value through
//! `declassify` before it branches on it. Normally that is a no-op; the valgrind
//! harness (`tests/ct/`) installs a hook that tells memcheck the bytes are public, so that
//! every *other* branch on a secret is still reported.

use std::sync::OnceLock;

use crypto_bigint::{BoxedUint, Choice};

static HOOK: OnceLock<fn(&mut [u8])> = OnceLock::new();

/// Installs the declassification hook (once per process; later calls are ignored).
/// For the constant-time harness only.
pub fn set_declassify_hook(hook: fn(&mut [u8])) {
    let _ = HOOK.set(hook);
}

/// Declassifies a choice and returns it as a bool (the caller may then branch on it).
pub(crate) fn declassify(c: Choice) -> bool {
    let mut b = [c.to_u8()];
    if let Some(hook) = HOOK.get() {
        // The hook takes `&mut`, so the byte is read back from memory afterwards.
        hook(&mut b);
    }
    b[0] == 1
}

/// Declassifies the limbs of a value that is public by design (e.g. n = p q).
pub(crate) fn declassify_uint(x: &mut BoxedUint) {
    if let Some(hook) = HOOK.get() {
        for w in x.as_mut_words() {
            let mut bytes = w.to_ne_bytes();
            hook(&mut bytes);
            *w = u64::from_ne_bytes(bytes);
        }
    }
}
