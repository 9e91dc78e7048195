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
