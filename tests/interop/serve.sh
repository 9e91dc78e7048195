#!/usr/bin/env bash
# python-paillier clients against `shroud serve-model`: phe 1.5.0 encrypts, posts with
# urllib, decrypts and compares with the plaintext score (2048- and 3072-bit keys, single
# records, batches, packing, a refused small key). Needs `pip install phe==1.5.0 gmpy2`.
set -euo pipefail
SHROUD=${SHROUD:-target/release/shroud}
d=$(mktemp -d)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$d"; }
trap cleanup EXIT
cat > "$d/model.json" <<'JSON'
{"format": "sklearn-linear-v1", "kind": "logistic",
 "features": ["age", "creatinine", "systolic", "ratio", "steps"],
 "coef": [[0.8, -1.25, 0.031, 2.5, -0.004]], "intercept": [-0.375],
 "scaler": {"mean": [50.0, 1.5, 120.0, 0.2, 3000.0], "scale": [12.0, 0.5, 30.0, 0.1, 900.0]}}
JSON
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SHROUD" serve-model --model "$d/model.json" --listen "127.0.0.1:$port" --max-batch 64 2> "$d/server.log" &
pid=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then break; fi
  sleep 0.1
done
python3 "$(dirname "$0")/phe_serve.py" "http://127.0.0.1:$port" "$d/model.json"
if grep -Eq '[0-9]{300}' "$d/server.log"; then
  echo "FAIL: the server log holds a long number (a ciphertext?)"; exit 1
fi
echo "ok  the server log holds no ciphertexts"

# shroud's own client: the binary content type; then HTTPS (a CA and a certificate for
# 127.0.0.1 made here with openssl) with a required API token; then `mpc infer --local`.
"$SHROUD" keygen --bits 2048 --out "$d/sk.json" 2>/dev/null
echo '[[40, 1.1, 130, 0.3, 4000], [61, 2.0, 150, 0.1, 1500]]' > "$d/rows.json"
check() { # check FILE KEY TOLERANCE: the scores in FILE's KEY match the plaintext model
  python3 - "$d/model.json" "$d/rows.json" "$1" "$2" "$3" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); rows = json.load(open(sys.argv[2]))
got = json.load(open(sys.argv[3]))[sys.argv[4]]; tol = float(sys.argv[5])
c, b = m["coef"][0], m["intercept"][0]; mu, sc = m["scaler"]["mean"], m["scaler"]["scale"]
for g, x in zip(got, rows):
    want = b + sum(ci * (xi - mi) / si for ci, xi, mi, si in zip(c, x, mu, sc))
    assert abs(g - want) <= tol, (g, want)
assert len(got) == len(rows)
PY
}
"$SHROUD" score --server "127.0.0.1:$port" --key "$d/sk.json" --rows "$d/rows.json" --binary > "$d/bin.json"
check "$d/bin.json" scores 1e-9
echo "ok  shroud score --binary"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
if command -v openssl >/dev/null 2>&1; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
    -out "$d/ca.pem" -days 1 -subj /CN=shroud-ci-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/leaf.key" \
    -out "$d/leaf.csr" -subj /CN=127.0.0.1 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$d/leaf.ext"
  openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/leaf.pem" -days 1 -extfile "$d/leaf.ext" 2>/dev/null
  token=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  printf 'ci %s\n' "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" > "$d/tokens.txt"
  printf %s "$token" > "$d/token.txt"
  "$SHROUD" serve-model --model "$d/model.json" --listen "127.0.0.1:$port" \
    --tls-cert "$d/leaf.pem" --tls-key "$d/leaf.key" --api-tokens "$d/tokens.txt" --require-token \
    --query-budget 3 --budget-file "$d/ledger.json" 2> "$d/tls.log" &
  pid=$!
  for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then break; fi
    sleep 0.1
  done
  "$SHROUD" score --server "127.0.0.1:$port" --key "$d/sk.json" --rows "$d/rows.json" \
    --ca-cert "$d/ca.pem" --token-file "$d/token.txt" > "$d/tls.json"
  check "$d/tls.json" scores 1e-9
  if "$SHROUD" score --server "127.0.0.1:$port" --key "$d/sk.json" --rows "$d/rows.json" \
    --ca-cert "$d/ca.pem" 2>/dev/null; then
    echo "FAIL: a request without the API token was served"; exit 1
  fi
  if "$SHROUD" score --server "127.0.0.1:$port" --key "$d/sk.json" --rows "$d/rows.json" \
    --ca-cert "$d/ca.pem" --token-file "$d/token.txt" 2>/dev/null; then
    echo "FAIL: the token's query budget (3 records) was overdrawn"; exit 1
  fi
  echo "ok  HTTPS (rustls) with a required API token and its budget"
else
  echo "skip  HTTPS from the command line (no openssl; tests/protocol_serve.rs covers it)"
fi
"$SHROUD" mpc infer --local --model "$d/model.json" --rows "$d/rows.json" --frac-bits 20 > "$d/mpc.json"
check "$d/mpc.json" logits 0.01
echo "ok  shroud mpc infer --local"
