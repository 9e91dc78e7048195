#!/usr/bin/env bash
# DP-SGD examples per second, shroud against Opacus, one thread each, run one after the
# other in the same invocation on the same workload (see benches/opacus_train.py).
#   bash benches/train_vs_opacus.sh [EXAMPLES] [EPOCHS]
# Needs a release build of shroud (cargo build --release) and `pip install torch opacus`.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-25600}"
e="${2:-2}"
shroud="${SHROUD:-target/release/shroud}"
s=$("$shroud" bench train --json --seeds 0 --examples "$n" --epochs "$e")
o=$(OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python3 benches/opacus_train.py --json --examples "$n" --epochs "$e")
python3 - "$s" "$o" <<'PY'
import json, sys
s = {r["model"]: r for r in json.loads(sys.argv[1])["train"]}
o = {r["model"]: r for r in json.loads(sys.argv[2])["opacus"]}
print(f"{'model':<12} {'shroud DP-SGD ex/s':>20} {'Opacus DP-SGD ex/s':>20} {'ratio':>8}")
for m in s:
    a, b = s[m]["dp_sgd_examples_per_s"], o[m]["dp_sgd_examples_per_s"]
    print(f"{m:<12} {a:>20.0f} {b:>20.0f} {a / b:>7.1f}x")
print(f"(torch {next(iter(o.values()))['torch']}, one thread each)")
PY
