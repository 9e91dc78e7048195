#!/usr/bin/env bash
# Constant-time check: shroud's secret-dependent operations under valgrind memcheck with
# the secrets marked undefined must produce no error, and two deliberately variable-time
# controls must be caught. Run from the repository root; .ci/run calls it.
#
# Covered (src/main.rs): the Montgomery kernels (both backends, 1024- to 8192-bit moduli),
# key loading from JWK and binary with p and q secret from the
# first byte, CRT and textbook decryption, key-owner and standard encryption with given
# and internally drawn nonces, rerandomization, scalar and plaintext multiplication, dot
# products with secret i64 and plaintext weights, pooled encryption, DJN setup and
# encryption; for the 2048-bit interop key and fresh 3072- and 4096-bit keys. Positive
# checks make sure every declared secret region is marked and carries the secret's taint.
# The one suppression (ct.supp) is explained there.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --quiet
bin=target/release/shroud-ct
log=$(mktemp)
keys=$(mktemp -d)
trap 'rm -rf "$log" "$keys"' EXIT
vg=(valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes --suppressions=ct.supp --log-file="$log")

# Fresh keys, made natively (prime search is variable time by design, and slow under
# valgrind); only loading and using them is checked.
for bits in 3072 4096; do
  "$bin" keygen "$bits" > "$keys/k$bits.json"
done

# Twice: on the MULX/ADX Montgomery kernel (valgrind runs ADCX/ADOX but hides ADX from
# CPUID, so SHROUD_ARITH=mulx waives that bit) and on the portable kernel. Each run also
# checks both kernels directly at 1024- to 8192-bit moduli.
arches=(portable)
if grep -qw adx /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo; then
  arches=(mulx portable)
fi
for arch in "${arches[@]}"; do
  if SHROUD_ARITH=$arch "${vg[@]}" "$bin" check "$keys/k3072.json" "$keys/k4096.json" 2>"$keys/out"; then
    grep -q "Montgomery backend in use: ${arch/mulx/mulx-adx}" "$keys/out" || { cat "$keys/out"; echo "ct: FAILED: backend $arch did not run"; exit 1; }
    echo "ct: shroud's secret-dependent operations (2048, 3072, 4096 bits, $arch kernel): no secret-dependent branch or index ($(grep -o 'suppressed: [0-9]* from [0-9]*' "$log" | tail -1) by ct.supp)"
  else
    cat "$keys/out" "$log"
    echo "ct: FAILED ($arch kernel): memcheck found secret-dependent control flow or memory access, or a positive check failed (log above)"
    exit 1
  fi
done

for control in negative-modpow negative-branch; do
  if "${vg[@]}" "$bin" "$control"; then
    cat "$log"
    echo "ct: FAILED: the harness did not catch the leak in control '$control'"
    exit 1
  fi
  case $control in
    negative-modpow) want='power::modpow' ;;
    negative-branch) want='negative_branch' ;;
  esac
  if ! grep -q "$want" "$log"; then
    cat "$log"
    echo "ct: FAILED: control '$control' reported errors, but not in $want"
    exit 1
  fi
  echo "ct: control '$control' caught as expected ($(grep -c 'depends on uninitialised' "$log") reports)"
done
