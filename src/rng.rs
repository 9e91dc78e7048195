//! Randomness: the operating system's CSPRNG by default, seeded ChaCha20 for tests.

/// The OS CSPRNG (getrandom). Panics only if the operating system cannot provide
/// randomness at all, in which case no key could be generated safely anyway.
pub type OsRng = rand_core::UnwrapErr<getrandom::SysRng>;

/// A handle to the OS CSPRNG.
pub fn os_rng() -> OsRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// A reproducible ChaCha20 generator for tests and benchmarks (never for real keys).
pub fn seeded(seed: u64) -> chacha20::ChaCha20Rng {
    use rand_core::SeedableRng;
    chacha20::ChaCha20Rng::seed_from_u64(seed)
}

/// A ChaCha20 CSPRNG keyed from the OS: for hot loops (noise sampling), where one
/// system call per draw would dominate.
pub fn chacha_from_os() -> chacha20::ChaCha20Rng {
    use rand_core::{Rng, SeedableRng};
    let mut seed = [0u8; 32];
    os_rng().fill_bytes(&mut seed);
    let rng = chacha20::ChaCha20Rng::from_seed(seed);
    zeroize::Zeroize::zeroize(&mut seed);
    rng
}
