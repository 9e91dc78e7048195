#!/usr/bin/env bash
# Interop in both directions with python-paillier's own CLI (pheutil, phe 1.5.0):
# shroud's keys, ciphertexts and homomorphic results are read by pheutil, and pheutil's by
# shroud. Needs `pip install phe==1.5.0 click gmpy2`; .ci/run installs them.
set -euo pipefail
SHROUD=${SHROUD:-target/release/shroud}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
check() { # label got want
  python3 - "$1" "$2" "$3" <<'PY'
import sys
label, got, want = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
assert abs(got - want) <= 1e-9 * max(1, abs(want)), f"{label}: got {got}, want {want}"
print(f"ok  {label}: {got}")
PY
}

# shroud key, shroud ciphertexts -> pheutil decrypts
"$SHROUD" keygen --bits 2048 --out "$d/sk.json"
"$SHROUD" pubkey "$d/sk.json" > "$d/pk.json"
"$SHROUD" encrypt "$d/pk.json" 3.25 > "$d/a.json"
"$SHROUD" encrypt "$d/pk.json" -- -1.5 > "$d/b.json"
"$SHROUD" add "$d/pk.json" "$d/a.json" "$d/b.json" > "$d/s.json"
"$SHROUD" multiply "$d/pk.json" "$d/a.json" -- -2 > "$d/m.json"
check "pheutil decrypts shroud encrypt" "$(pheutil decrypt "$d/sk.json" "$d/a.json")" 3.25
check "pheutil decrypts shroud add" "$(pheutil decrypt "$d/sk.json" "$d/s.json")" 1.75
check "pheutil decrypts shroud multiply" "$(pheutil decrypt "$d/sk.json" "$d/m.json")" -6.5
pheutil extract "$d/sk.json" "$d/pk_phe.json"
cmp <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["n"])' "$d/pk_phe.json") \
    <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["n"])' "$d/pk.json")
echo "ok  pheutil extracts the same public key from a shroud key"

# pheutil key, pheutil ciphertexts -> shroud decrypts and computes
pheutil genpkey --keysize 2048 "$d/psk.json"
pheutil extract "$d/psk.json" "$d/ppk.json"
pheutil encrypt "$d/ppk.json" 10.5 --output "$d/pa.json"
pheutil encrypt --output "$d/pb.json" "$d/ppk.json" -- -0.25
check "shroud decrypts pheutil encrypt" "$("$SHROUD" decrypt "$d/psk.json" "$d/pa.json")" 10.5
"$SHROUD" add "$d/ppk.json" "$d/pa.json" "$d/pb.json" > "$d/ps.json"
check "pheutil decrypts shroud add of pheutil ciphertexts" "$(pheutil decrypt "$d/psk.json" "$d/ps.json")" 10.25
pheutil addenc "$d/ppk.json" "$d/pa.json" "$d/pb.json" --output "$d/pbs.json"
check "shroud decrypts pheutil addenc" "$("$SHROUD" decrypt "$d/psk.json" "$d/pbs.json")" 10.25
echo "interop with pheutil: all checks passed"
