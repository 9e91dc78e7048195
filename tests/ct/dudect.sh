#!/usr/bin/env bash
# Short DudeCT run for CI: 2 000 fixed-vs-random measurements per operation. An operation
# whose |t| reaches 4.5 is measured once more (a real leak persists, a burst of machine
# noise does not) and fails if it does again; the variable-time control must be caught.
set -euo pipefail
cd "$(dirname "$0")/../.."
export SHROUD_DUDECT_N="${SHROUD_DUDECT_N:-2000}"
run() { SHROUD_DUDECT_FILTER="$1" cargo bench --quiet --bench dudect 2>/dev/null | grep -E '^bench .* max t' ; }
t_of() { sed -E 's/.*max t = ([-+0-9.]+).*/\1/' | tr -d '+-'; }
over() { awk -v t="$1" 'BEGIN { exit !(t >= 4.5) }'; }
status=0
for op in decrypt encrypt_key_owner mul_secret_scalar; do
  line=$(run "$op"); echo "$line"
  if over "$(echo "$line" | t_of)"; then
    line=$(run "$op"); echo "again: $line"
    if over "$(echo "$line" | t_of)"; then echo "FAIL: $op depends on its secret"; status=1; fi
  fi
done
line=$(run control); echo "$line"
if ! over "$(echo "$line" | t_of)"; then echo "FAIL: the variable-time control was not caught"; status=1; fi
exit $status
