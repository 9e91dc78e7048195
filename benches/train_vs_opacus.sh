#!/usr/bin/env bash
# DP-SGD examples per second, shroud against Opacus, one thread each, on the same workload
# (see benches/opacus_train.py), alternating ROUNDS times in one invocation; the table gives
# each tool's best round (the machine this was written on is shared, so a slow round says
# more about the neighbours than about the code) and every round's figure.
#   [PRECISION=f32] bash benches/train_vs_opacus.sh [EXAMPLES] [EPOCHS] [ROUNDS]
# (PRECISION: shroud's forward and backward passes; Opacus runs torch's default float32)
# Needs a release build of shroud (cargo build --release) and `pip install torch opacus`.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-25600}"
e="${2:-2}"
rounds="${3:-3}"
shroud="${SHROUD:-target/release/shroud}"
runs=()
for _ in $(seq "$rounds"); do
  runs+=("$("$shroud" bench train --json --seeds 0 --examples "$n" --epochs "$e" \
    --precision "${PRECISION:-f64}")")
  runs+=("$(OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python3 benches/opacus_train.py --json \
    --examples "$n" --epochs "$e" 2>/dev/null)")
done
python3 - "${runs[@]}" <<'PY'
import json, sys
best, every, torch = {}, {}, "?"
for raw in sys.argv[1:]:
    doc = json.loads(raw)
    tool = "shroud" if "train" in doc else "opacus"
    for r in doc.get("train") or doc["opacus"]:
        torch = r.get("torch", torch)
        v = r["dp_sgd_examples_per_s"]
        every.setdefault((tool, r["model"]), []).append(v)
        best[(tool, r["model"])] = max(v, best.get((tool, r["model"]), 0))
print(f"{'model':<12} {'shroud DP-SGD ex/s':>20} {'Opacus DP-SGD ex/s':>20} {'ratio':>8}")
for m in ["logreg", "mlp:64,32"]:
    a, b = best[("shroud", m)], best[("opacus", m)]
    print(f"{m:<12} {a:>20.0f} {b:>20.0f} {a / b:>7.1f}x")
for (tool, m), vs in sorted(every.items()):
    print(f"  {tool:<7} {m:<10} every round: " + ", ".join(f"{v:.0f}" for v in vs))
print(f"(best of {len(sys.argv[1:]) // 2} rounds each; torch {torch}, one thread each)")
PY
