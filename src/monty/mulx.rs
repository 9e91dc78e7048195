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

/// One limb at byte offset `$o`: t[o] += lo(x v[o]) on the carry flag and += the pending
/// high word `{h}` on the overflow flag; this limb's high word goes to `{g}`.
macro_rules! even {
    ($o:literal) => {
        concat!(
            "mov {a}, [{tp} + ",
            $o,
            "]\n",
            "mulx {g}, {lo}, [{vp} + ",
            $o,
            "]\n",
            "adcx {a}, {lo}\n",
            "adox {a}, {h}\n",
            "mov [{tp} + ",
            $o,
            "], {a}\n"
        )
    };
}

/// As [`even!`] with the roles of `{g}` and `{h}` swapped.
macro_rules! odd {
    ($o:literal) => {
        concat!(
            "mov {a}, [{tp} + ",
            $o,
            "]\n",
            "mulx {h}, {lo}, [{vp} + ",
            $o,
            "]\n",
            "adcx {a}, {lo}\n",
            "adox {a}, {g}\n",
            "mov [{tp} + ",
            $o,
            "], {a}\n"
        )
    };
}

/// `t += x v + carry` for a short slice (1 to 7 limbs, one step per limb), returning the
/// carry-out word, which the last step left in register `$out` (`"g"` after an odd number
/// of steps, `"h"` after an even one).
macro_rules! tail {
    ($t:expr, $v:expr, $x:expr, $carry:expr, $out:literal; $($step:expr),+) => {{
        let tp = $t.as_mut_ptr();
        let vp = $v.as_ptr();
        let mut h: u64 = $carry;
        let mut g: u64 = 0;
        // SAFETY: as for the main loop: the steps touch t[0..k] and v[0..k] for k =
        // `t.len()` = `v.len()` (the match arm is chosen by that length), the slices do not
        // overlap, every written register is declared, and the pending word plus both flags
        // fits in 64 bits, so the final fold cannot carry out.
        unsafe {
            asm!(
                "xor {z:e}, {z:e}",
                $($step,)+
                concat!("adcx {", $out, "}, {z}"),
                concat!("adox {", $out, "}, {z}"),
                tp = in(reg) tp,
                vp = in(reg) vp,
                h = inout(reg) h,
                g = inout(reg) g,
                in("rdx") $x,
                a = out(reg) _,
                lo = out(reg) _,
                z = out(reg) _,
                options(nostack),
            );
        }
        // A constant choice of register (the step count is public).
        if $out == "g" { g } else { h }
    }};
}

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
                    even!("0"),
                    odd!("8"),
                    even!("16"),
                    odd!("24"),
                    even!("32"),
                    odd!("40"),
                    even!("48"),
                    odd!("56"),
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
        let (t, v) = (&mut t[done..], &v[done..]);
        // The last `len % 8` limbs, unrolled for each count (a public length).
        match t.len() {
            0 => carry,
            1 => tail!(t, v, x, carry, "g"; even!("0")),
            2 => tail!(t, v, x, carry, "h"; even!("0"), odd!("8")),
            3 => tail!(t, v, x, carry, "g"; even!("0"), odd!("8"), even!("16")),
            4 => tail!(t, v, x, carry, "h"; even!("0"), odd!("8"), even!("16"), odd!("24")),
            5 => {
                tail!(t, v, x, carry, "g"; even!("0"), odd!("8"), even!("16"), odd!("24"), even!("32"))
            }
            6 => {
                tail!(t, v, x, carry, "h"; even!("0"), odd!("8"), even!("16"), odd!("24"), even!("32"), odd!("40"))
            }
            7 => {
                tail!(t, v, x, carry, "g"; even!("0"), odd!("8"), even!("16"), odd!("24"), even!("32"), odd!("40"), even!("48"))
            }
            _ => addmul_carry(t, v, x, carry),
        }
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
