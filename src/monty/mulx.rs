//! The x86-64 row kernel for CPUs with BMI2 and ADX: MULX with two independent carry chains
//! (ADCX on the carry flag for the low halves, ADOX on the overflow flag for the high
//! halves), which LLVM does not emit on its own.
//!
//! This is the crate's only `unsafe` code. It is reached only after
//! `is_x86_feature_detected!("bmi2")` and `("adx")` both held (see `super::backend`), it
//! is differential-tested against the portable twin and num-bigint, fuzzed against the
//! portable twin (`fuzz/fuzz_targets/monty.rs`), and runs under the same valgrind
//! constant-time check (`tests/ct/`) as everything else.
//!
//! # Security
//! No branch and no address depends on the operands: the loop count and the pointers are
//! derived from the (public) lengths only.
#![allow(unsafe_code)]

use core::arch::asm;

use super::kernel::{Rows, addmul_carry};

/// The MULX/ADCX/ADOX backend. Construct only after the CPU features were detected.
pub(crate) struct Mulx;

/// Limbs per trip through the assembly loop.
const CHUNK: usize = 8;

impl Rows for Mulx {
    #[inline(always)]
    fn addmul(t: &mut [u64], v: &[u64], x: u64) -> u64 {
        // Public lengths: a mismatch is a bug in the caller, never data-dependent.
        assert_eq!(t.len(), v.len());
        let chunks = t.len() / CHUNK;
        let mut carry = 0u64;
        if chunks > 0 {
            let mut tp = t.as_mut_ptr();
            let mut vp = v.as_ptr();
            let mut n = chunks;
            // SAFETY:
            // - CPU features: `Mulx` is only used when `backend()` saw BMI2 and ADX at run time.
            // - Memory: the loop reads `v[0..8*chunks]` and reads and writes `t[0..8*chunks]`;
            //   both slices have at least `8 * chunks` elements (asserted equal lengths above,
            //   `chunks = len / 8`), `t` is borrowed mutably and `v` shared, so they do not
            //   overlap; every access is an aligned u64 within them.
            // - Registers and flags: every register written is declared as an output or
            //   clobber; flags are not preserved (no `preserves_flags`); no stack use.
            // - Arithmetic: at every chunk boundary the pending high word plus the two flags
            //   fits in 64 bits (t + x v + c < 2^(64 (k + 1)) over the first k limbs), so the
            //   final ADCX/ADOX into it cannot carry out and both flags are clear again.
            unsafe {
                asm!(
                    "2:",
                    "xor {z:e}, {z:e}",
                    "mov {a}, [{tp}]",
                    "mulx {g}, {lo}, [{vp}]",
                    "adcx {a}, {lo}",
                    "adox {a}, {h}",
                    "mov [{tp}], {a}",
                    "mov {a}, [{tp} + 8]",
                    "mulx {h}, {lo}, [{vp} + 8]",
                    "adcx {a}, {lo}",
                    "adox {a}, {g}",
                    "mov [{tp} + 8], {a}",
                    "mov {a}, [{tp} + 16]",
                    "mulx {g}, {lo}, [{vp} + 16]",
                    "adcx {a}, {lo}",
                    "adox {a}, {h}",
                    "mov [{tp} + 16], {a}",
                    "mov {a}, [{tp} + 24]",
                    "mulx {h}, {lo}, [{vp} + 24]",
                    "adcx {a}, {lo}",
                    "adox {a}, {g}",
                    "mov [{tp} + 24], {a}",
                    "mov {a}, [{tp} + 32]",
                    "mulx {g}, {lo}, [{vp} + 32]",
                    "adcx {a}, {lo}",
                    "adox {a}, {h}",
                    "mov [{tp} + 32], {a}",
                    "mov {a}, [{tp} + 40]",
                    "mulx {h}, {lo}, [{vp} + 40]",
                    "adcx {a}, {lo}",
                    "adox {a}, {g}",
                    "mov [{tp} + 40], {a}",
                    "mov {a}, [{tp} + 48]",
                    "mulx {g}, {lo}, [{vp} + 48]",
                    "adcx {a}, {lo}",
                    "adox {a}, {h}",
                    "mov [{tp} + 48], {a}",
                    "mov {a}, [{tp} + 56]",
                    "mulx {h}, {lo}, [{vp} + 56]",
                    "adcx {a}, {lo}",
                    "adox {a}, {g}",
                    "mov [{tp} + 56], {a}",
                    // Fold both chains into the pending high word.
                    "adcx {h}, {z}",
                    "adox {h}, {z}",
                    "lea {tp}, [{tp} + 64]",
                    "lea {vp}, [{vp} + 64]",
                    "dec {n}",
                    "jnz 2b",
                    tp = inout(reg) tp,
                    vp = inout(reg) vp,
                    n = inout(reg) n,
                    h = inout(reg) carry,
                    in("rdx") x,
                    a = out(reg) _,
                    g = out(reg) _,
                    lo = out(reg) _,
                    z = out(reg) _,
                    options(nostack),
                );
            }
            let _ = (tp, vp, n);
        }
        let done = chunks * CHUNK;
        addmul_carry(&mut t[done..], &v[done..], x, carry)
    }
}

/// Whether this CPU has what [`Mulx`] needs: BMI2 and ADX as CPUID reports them.
///
/// `SHROUD_ARITH=mulx` waives the ADX bit (never BMI2) for one purpose: valgrind executes
/// ADCX/ADOX but hides ADX from the CPUID it presents (valgrind bug 494162), and the
/// constant-time harness must run this kernel under it. On a CPU without ADX the override
/// makes the process die on an illegal instruction; it cannot make it compute wrongly.
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("bmi2")
        && (std::arch::is_x86_feature_detected!("adx")
            || std::env::var("SHROUD_ARITH").is_ok_and(|v| v == "mulx"))
}
